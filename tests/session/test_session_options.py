"""Session options a careful user sets: recvWindow; balance snapshots timed on the exchange's clock."""

from __future__ import annotations

from decimal import Decimal

from lab.lab import Lab

from kit.errors import ConfigError
from kit.journal.journal import Journal


def test_recv_window_is_sent_with_signed_requests(lab: Lab) -> None:
    s = lab.session(recv_window_ms=5000)
    n = len(lab.server_log())
    s.balances()
    signed = [r for r in lab.server_log()[n:] if r["path"] == "/api/v3/account"]
    assert signed and "recvWindow=5000" in signed[-1]["params"]


def test_recv_window_out_of_range_is_refused_before_any_request(lab: Lab) -> None:
    n = lab.server_count()
    with lab.raises(ConfigError, match="recv_window_ms=90000"):
        lab.session(recv_window_ms=90_000)
    assert lab.server_count() == n


def test_balance_snapshot_is_timed_at_the_exchanges_last_balance_change(lab: Lab) -> None:
    s = lab.session()
    s.place("BTC/USDT", "buy", "0.001")  # a balance change, at exchange time
    s.balances()
    update = int(lab.client().fetch_balance()["info"]["updateTime"])
    with Journal(lab.journal_path) as j:
        snap = j.events(kinds=["balance"])[-1]
        assert snap.ts_ms == update and snap.payload["source"] == "balances"
        s.trades("BTC/USDT")
        # the fill is at or before the snapshot: counted once, in the snapshot
        state = j.state_at(2**62)
    total = Decimal(str(lab.client().fetch_balance()["total"]["BTC"]))
    assert state.balances["BTC"] == total
