"""No secret in what a failed request leaves behind: verbose tracebacks of mapped ccxt errors (#12.6)."""

from __future__ import annotations

import traceback

from lab.lab import Lab

from kit.errors import AuthError, OrderUnknown
from kit.redact import encoded_forms


def _verbose(exc: BaseException) -> str:
    """What a verbose traceback printer (locals of every frame, chained errors too) shows."""
    return "".join(traceback.TracebackException.from_exception(exc, capture_locals=True).format())


def _leaks(text: str, values: list[str]) -> list[str]:
    return [f"{v[:4]}... as {f[:6]}..." for v in values for f in encoded_forms(v) if f in text]


def test_a_mapped_refusal_keeps_no_request_headers_in_its_frames(lab: Lab) -> None:
    s = lab.session()
    with lab.raises(OrderUnknown) as info:
        s.order("BTC/USDT", order_id="999999999")  # a signed read the exchange refuses (-2013)
    text = _verbose(info.value)
    assert "fetch_order" in text  # the traceback is still there, with locals
    assert _leaks(text, lab.secrets()) == []


WRONG = "Wr0ngSecretValue" * 4


def _connect_with_a_wrong_secret(lab: Lab) -> AuthError:
    """The frames of this traceback hold no secret of the test's own (its locals are printed too)."""
    lab.monkeypatch.setenv("KIT_LOCALNET_API_SECRET", WRONG)
    with lab.raises(AuthError) as info:
        lab.session()  # the first signed request is refused: the key went out in its headers
    return info.value


def test_a_rejected_key_keeps_no_key_in_the_traceback(lab: Lab) -> None:
    text = _verbose(_connect_with_a_wrong_secret(lab))
    assert "preflight" in text
    assert _leaks(text, [WRONG, *lab.secrets()]) == []
