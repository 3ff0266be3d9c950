"""#12: every output of a localnet session with known keys, scanned for those keys in every encoding.

The scan (``tests/lab/secretscan.py``) looks for each key and secret in every form
:data:`kit.redact.ENCODINGS` lists (raw, URL-encoded, base64, hex, JSON-escaped; a PEM key also by
its body lines), in every file the lab's folder holds at the end: the journal, the kit's and the
localnet's request logs, a log file at DEBUG, reports. The lab runs the same scan (plus the
``repr`` of every Session and the text of every exception caught) when each lab test ends.
"""

from __future__ import annotations

import base64
import gzip
import logging
import traceback
from decimal import Decimal as D
from pathlib import Path

import pytest
from lab.lab import Lab
from lab.secretscan import fingerprint, needles, scan_for_secrets, secrets_in_keys_files

from kit.errors import InsufficientFunds, OrderUnknown
from kit.redact import ENCODINGS

SECRET = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
PEM = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIKxoT7Wv0Zn4y2aQ9nN1pQ2rS3tUvWx\n-----END PRIVATE KEY-----\n"


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_the_scan_finds_a_secret_in_each_encoding_the_redactor_knows(tmp_path: Path, encoding: str) -> None:
    for i, form in enumerate(ENCODINGS[encoding](SECRET + "+/ x")):
        (tmp_path / f"out{i}.txt").write_text(f"log line ... {form} ...")
    hits = scan_for_secrets([tmp_path], [SECRET + "+/ x"])
    assert len(hits) == len(ENCODINGS[encoding](SECRET + "+/ x"))
    assert all(SECRET not in hit and fingerprint(SECRET + "+/ x") in hit for hit in hits)  # never shown


def test_the_scan_reads_gzip_and_pem_bodies_and_skips_the_key_stores(tmp_path: Path) -> None:
    (tmp_path / "requests.jsonl.1.gz").write_bytes(gzip.compress(base64.b64encode(SECRET.encode())))
    (tmp_path / "notebook.ipynb").write_text('"text": "MC4CAQAwBQYDK2VwBCIEIKxoT7Wv0Zn4y2aQ9nN1pQ2rS3tUvWx"')
    (tmp_path / "keys.env").write_text(f"export KIT_LOCALNET_API_SECRET={SECRET}\n")
    (tmp_path / "clean.txt").write_text("signature=*** apiKey=***")
    hits = scan_for_secrets([tmp_path], [SECRET, PEM])
    assert sorted(h.split("/")[-1] for h in hits) == [
        f"notebook.ipynb: pem-body form of secret {fingerprint(PEM)}",
        f"requests.jsonl.1.gz: base64 form of secret {fingerprint(SECRET)}",
    ]
    assert secrets_in_keys_files(tmp_path) == [SECRET]
    assert "pem-body" in needles(PEM).values()


@pytest.mark.slow  # ccxt's DEBUG log of every request and response: about 2 s
def test_a_trading_session_leaves_no_key_anywhere(lab: Lab) -> None:
    """Reads, orders, a cancel, refusals, a DEBUG log file: no key or secret in any form.

    A rejected key is test_session_redaction.py's case.
    """
    log_file = lab.tmp / "debug.log"
    handler = logging.FileHandler(log_file)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        s = lab.session()
        s.balances()
        last = D(str(s.ticker("BTC/USDT")["last"]))
        resting = s.place("BTC/USDT", "buy", "0.001", price=str((last * D("0.95")).quantize(D("0.01"))))
        s.place("BTC/USDT", "sell", "0.001")
        s.cancel("BTC/USDT", order_id=resting["id"])
        s.trades("BTC/USDT")
        with lab.raises(InsufficientFunds):
            s.check("BTC/USDT", "sell", "100", price=str(last))
        with lab.raises(OrderUnknown):
            s.order("BTC/USDT", order_id="999999999")
        for exc in lab.caught:
            logging.getLogger("kit.test").error("caught: %s", "".join(traceback.format_exception(exc)))
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()
    written = {p.name for p in lab.written_files()}
    assert "debug.log" in written and "j.sqlite" in written and "requests.log" in written
    assert any(name.startswith("requests.jsonl") for name in written)
    assert lab.secrets() and scan_for_secrets(lab.written_files(), lab.secrets()) == []
    assert log_file.stat().st_size > 0


@pytest.mark.slow  # starts a Jupyter kernel for the report
def test_the_daily_report_of_a_trading_session_holds_no_key(lab: Lab) -> None:
    from click.testing import CliRunner

    from kit.cli.report import report

    s = lab.session(journal=lab.home / "journal.sqlite")
    s.place("BTC/USDT", "sell", "0.001")
    s.trades("BTC/USDT")
    s.close()
    out = lab.tmp / "reports"
    result = CliRunner().invoke(report, ["daily", "--since", "-1d", "--until", "now", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "daily.html").is_file() and (out / "daily.ipynb").is_file()
    assert scan_for_secrets([out, lab.home], lab.secrets()) == []  # the lab scans all of tmp again at its end
