"""Degradation: retries with backoff, then ExchangeUnavailable; orders paused until a read succeeds."""

from __future__ import annotations

import random

from lab.lab import Lab

from kit.errors import ExchangeUnavailable, OrderUnknown
from kit.journal.journal import Journal
from kit.transport.backoff import Backoff


def _fast_backoff() -> Backoff:
    return Backoff(base_s=0.01, cap_s=0.05, max_tries=4, rng=random.Random(1))


def test_maintenance_degrades_the_session_and_a_good_read_resumes_it(lab: Lab) -> None:
    s = lab.session(backoff=_fast_backoff())
    assert s.degraded is None
    lab.net.set_faults(maintenance=True)
    n = lab.server_count()
    with lab.raises(ExchangeUnavailable, match="fetch_ticker failed") as info:
        s.ticker("BTC/USDT")
    assert info.value.retryable
    tries = lab.server_log()[n:]
    assert [(r["path"], r["status"]) for r in tries] == [("/api/v3/ticker/24hr", 503)] * 4  # retried, then raised
    assert s.degraded is not None and "fetch_ticker" in s.degraded
    assert s.status()["degraded"] == s.degraded

    n = lab.server_count()
    with lab.raises(ExchangeUnavailable, match="session degraded") as refused:
        s.place("BTC/USDT", "buy", "0.001", price="50000")
    assert "No request was sent" in str(refused.value) and "resumes" in str(refused.value)
    assert lab.server_count() == n
    with Journal(lab.journal_path) as j:
        assert not j.events(kinds=["intent"])
        stage_rows = [e.payload["to_stage"] for e in j.events(kinds=["stage"])]
        assert stage_rows[-1] == "degraded"

    lab.net.set_faults(maintenance=False)
    assert s.ticker("BTC/USDT")["last"] > 0
    assert s.degraded is None
    assert s.place("BTC/USDT", "buy", "0.001", price="50000")["status"] == "open"
    with Journal(lab.journal_path) as j:
        stage_rows = [e.payload for e in j.events(kinds=["stage"])]
        assert stage_rows[-1]["from_stage"] == "degraded" and stage_rows[-1]["to_stage"] == "testnet"


def test_an_order_during_an_outage_is_never_resent(lab: Lab) -> None:
    s = lab.session(backoff=_fast_backoff())
    lab.net.set_faults(error_rate=1.0)  # every request answers 503 from now on
    n = lab.server_count()
    with lab.raises(OrderUnknown, match="could not be looked up"):
        s.place("BTC/USDT", "buy", "0.001", price="50000")
    posts = [r for r in lab.server_log()[n:] if r["method"] == "POST"]
    assert len(posts) == 1  # the create is sent once; only the lookup by client id is retried
    lab.net.set_faults(error_rate=0.0)
    with Journal(lab.journal_path) as j:
        assert [e.kind for e in j.events(kinds=["intent", "unknown", "resolved"])] == ["intent", "unknown"]
