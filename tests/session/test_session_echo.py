"""#12.6: an argument that is or looks like a credential is never repeated in a message.

Each case passes a secret where an ordinary argument goes (through real ccxt against localnet
when a request could follow) and requires a KitError with a hint whose text, repr and
traceback hold no form of it (the lab scans every caught error at the end as well), and no
request sent for it.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

import pytest
from lab.lab import Lab

from kit.errors import KitError
from kit.redact import encoded_forms, looks_like_secret

PEM = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIKxoT7Wv0Zn4y2Qe9Lm1Xc8Rt5\n-----END PRIVATE KEY-----"
SHORT = "Ab3dE5gH7jK9mN1pQ"  # a 17-character random key


def _key(lab: Lab) -> str:
    return lab.net.credentials("trader")[0]


def _secrets(lab: Lab) -> dict[str, str]:
    return {"api key": _key(lab), "api secret": lab.net.credentials("trader")[1], "short key": SHORT, "pem": PEM}


def _session_on(lab: Lab, exchange: str) -> Any:
    from kit.session import Session

    s = Session(exchange, journal=lab.journal_path, dotenv=None)
    lab.sessions.append(s)
    return s


CASES: dict[str, Callable[[Lab, str], Any]] = {
    "Session(exchange)": _session_on,
    "Session(stage=)": lambda lab, v: lab.session(stage=v),
    "Session(account=)": lambda lab, v: lab.session(account=v),
    "place(symbol=)": lambda lab, v: lab.sessions[0].place(v, "buy", "0.001", price="50000"),
    "place(amount=)": lambda lab, v: lab.sessions[0].place("BTC/USDT", "buy", v, price="50000"),
    "place(price=)": lambda lab, v: lab.sessions[0].place("BTC/USDT", "buy", "0.001", price=v),
    "check(side=)": lambda lab, v: lab.sessions[0].check("BTC/USDT", v, "0.001", price="50000"),
    "amend(client_id=)": lambda lab, v: lab.sessions[0].amend("BTC/USDT", client_id=v, price="50000"),
    "cancel(client_id=)": lambda lab, v: lab.sessions[0].cancel("BTC/USDT", client_id=v),
    "order(client_id=)": lambda lab, v: lab.sessions[0].order("BTC/USDT", client_id=v),
    "ticker(symbol)": lambda lab, v: lab.sessions[0].ticker(v),
    "trades(symbol)": lambda lab, v: lab.sessions[0].trades(v),
    "cancel_all(symbol)": lambda lab, v: lab.sessions[0].cancel_all(v),
}


@pytest.mark.parametrize("kind", ["api key", "short key", "pem"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_a_secret_argument_is_never_echoed(lab: Lab, case: str, kind: str) -> None:
    if not case.startswith("Session("):
        lab.session()
    value = _secrets(lab)[kind]
    assert looks_like_secret(value)
    served = lab.server_count()
    with lab.raises(KitError) as info:
        CASES[case](lab, value)
    err = info.value
    assert err.hint
    text = str(err) + repr(err) + "".join(traceback.format_exception(err))
    assert [f for f in encoded_forms(value) if f in text] == []
    # Refused before anything was sent: always for a live key or a PEM block; a value that only has a
    # key's shape is still used as an id (orders placed elsewhere have random-looking client ids).
    if kind != "short key" or case not in ("cancel(client_id=)", "order(client_id=)"):
        assert lab.server_count() == served
