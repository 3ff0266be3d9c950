"""#12: the notebooks' stored outputs (executed against localnets whose keys are gone) hold nothing key-shaped.

The keys those runs used no longer exist, so the outputs are judged by shape with :mod:`kit.redact`:
no credential field with a value the redactor would mask (``apiKey=...``, ``"secret": "..."``,
``X-MBX-APIKEY: ...``), no 64-character alphanumeric token (the shape of a Binance or localnet key or
HMAC secret; base64 figure data is a longer run with ``+``, ``/`` or ``=`` around it, not a token), and
no PEM private key. The one credential-named value a Session shows on purpose is its key's 8-hex-digit
fingerprint (``Session(..., key=2810b6e0)``). The demo's own outputs are scanned for its real keys
in ``test_demo_run.py``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from harness import NOTEBOOKS

from kit.redact import redact_text

#: A token of exactly 64 alphanumerics, not part of a longer base64 run.
_KEY_SHAPE = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9]{64}(?![A-Za-z0-9+/=])")
#: A plotly figure's binary-encoded array (``{"bdata": "<base64>", "dtype": "f8"}``): figure data, whose
#: base64 can by chance be exactly 64 alphanumerics (notebook 02's equity curve did).
_PLOTLY_BDATA = re.compile(r'"bdata":\s*"[A-Za-z0-9+/=]*"')
#: What a Session's repr shows of its key on purpose: the fingerprint.
_FINGERPRINT = re.compile(r"\bkey=[0-9a-f]{8}\b")


def _output_texts(nb: dict) -> list[str]:
    texts: list[str] = []
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            if "text" in out:
                texts.append("".join(out["text"]) if isinstance(out["text"], list) else str(out["text"]))
            if "traceback" in out:
                texts.append("\n".join(out["traceback"]))
            for value in (out.get("data") or {}).values():
                texts.append(
                    value
                    if isinstance(value, str)
                    else "".join(value)
                    if isinstance(value, list)
                    else json.dumps(value)
                )
    return texts


def findings(text: str) -> list[str]:
    """What in ``text`` looks like a leaked credential (empty: nothing).

    >>> findings("Session('localnet', stage='testnet', key=2810b6e0) filled 0.001 BTC")
    []
    >>> [f.split(":")[0] for f in findings("apiKey=abcdefgh " + "Ab1" * 21 + "x")]
    ['credential field', '64-character token']
    >>> findings('{"y": {"bdata": "' + "Ab1" * 21 + 'x", "dtype": "f8"}}')  # plotly's base64 arrays are data
    []
    """
    found: list[str] = []
    plain = _FINGERPRINT.sub("key=<fingerprint>", text)
    if redact_text(plain) != plain:
        line = next(a for a, b in zip(plain.splitlines(), redact_text(plain).splitlines(), strict=False) if a != b)
        found.append(f"credential field: {redact_text(line)[:120]}")
    figures_out = _PLOTLY_BDATA.sub('"bdata": ""', text)
    found += [f"64-character token: {m.group(0)[:4]}..." for m in _KEY_SHAPE.finditer(figures_out)]
    if "PRIVATE KEY-----" in text:
        found.append("PEM private key")
    return found


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.rglob("*.ipynb")), ids=lambda p: p.stem)
def test_stored_outputs_hold_nothing_key_shaped(path: Path) -> None:
    nb = json.loads(path.read_text(encoding="utf-8"))
    texts = _output_texts(nb)
    assert texts, f"{path.name} has no stored outputs to scan"
    assert [f for t in texts for f in findings(t)] == []
