"""Secrets never written: request logs (kit and localnet), journal bytes, reprs, exception texts.

Every test of this folder ends with the same scan (``Lab.leaks``); this one drives the paths most
likely to carry a key into text (signed requests, auth failures, lost acks, 5xx bodies) and checks
the scan looked at real, non-empty files.
"""

from __future__ import annotations

import logging

import pytest
from lab.lab import Lab

from kit.errors import AuthError, KitError, OrderRejected


def test_no_key_or_secret_in_any_log_journal_repr_or_error(lab: Lab, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    s = lab.session()
    s.balances()
    s.place("BTC/USDT", "buy", "0.001", price="50000")
    s.place("BTC/USDT", "buy", "0.001")
    s.trades("BTC/USDT")
    lab.net.set_faults(drop_ack_rate=1.0)
    s.place("BTC/USDT", "buy", "0.001", price="49000")
    lab.net.set_faults(drop_ack_rate=0.0)
    with lab.raises(OrderRejected):
        s.cancel("BTC/USDT", order_id="999999")  # the exchange refuses: its error text comes back
    with lab.raises(KitError):
        s.place("BTC/USDT", "sell", "1000", price="50000")  # insufficient balance, refused by the exchange
    s.cancel_all()
    lab.monkeypatch.setenv("KIT_LOCALNET_API_SECRET", "0" * 64)
    with lab.raises(AuthError):
        lab.session()  # signature rejected: the failing signed request is in the error text
    s.close()

    files = lab.written_files()
    names = {p.name for p in files}
    assert {"requests.jsonl", "requests.log", "j.sqlite"} <= names
    assert all(p.stat().st_size > 0 for p in files if p.name in ("requests.jsonl", "requests.log", "j.sqlite"))
    assert len(lab.caught) == 3
    assert lab.leaks() == []
    secrets = lab.secrets() + ["0" * 64]
    assert not [r for r in caplog.records for v in secrets if v in r.getMessage()]
    assert any(r.get("status") == -1 for r in lab.server_log())  # the dropped ack really happened
