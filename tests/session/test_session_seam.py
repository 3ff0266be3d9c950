"""The public request seam (``session.api``, :class:`kit.session.base.ExchangeApi`), through real ccxt and localnet."""

from __future__ import annotations

import pytest
from lab.lab import Lab

from kit.errors import ConfigError, ExchangeUnavailable, OrderUnknown
from kit.ops.degrade import attach
from kit.session.streams import watch
from kit.transport.backoff import Backoff


def _unreachable(s: object) -> None:
    ex = s._ex  # type: ignore[attr-defined]  # the test breaks the wire; the code under test never does
    ex.urls["api"] = {k: "http://127.0.0.1:9/api/v3" for k in ex.urls["api"]}  # nothing listens on port 9


def test_a_call_goes_through_the_budget_and_the_request_log(lab: Lab) -> None:
    s = lab.session(weight_window_s=3600)
    assert s.budget is not None
    used, logged, served = s.budget.status()["used"], len(lab.kit_log()), lab.server_count()
    ms = s.api.call("fetch_time", lambda ex: ex.fetch_time(), method="GET", path="/api/v3/time", write=False)
    assert isinstance(ms, int) and ms > 0
    assert s.budget.status()["used"] == used + 1  # GET /api/v3/time weighs 1 (Binance rest-api.md)
    row = lab.kit_log()[-1]
    assert (row["method"], row["url"], row["status"], row["weight"]) == ("GET", "/api/v3/time", 200, 1)
    assert len(lab.kit_log()) == logged + 1 and lab.server_count() == served + 1


def test_an_explicit_weight_is_what_the_budget_is_charged(lab: Lab) -> None:
    s = lab.session(weight_window_s=3600)
    assert s.budget is not None
    used = s.budget.status()["used"]
    s.api.call("fetch_time", lambda ex: ex.fetch_time(), method="GET", path="/api/v3/time", write=False, weight=7)
    assert s.budget.status()["used"] == used + 7
    assert lab.kit_log()[-1]["weight"] == 7


def test_the_write_flag_not_the_name_decides_what_a_lost_request_is(lab: Lab) -> None:
    s = lab.session(backoff=Backoff(base_s=0.01, cap_s=0.01, max_tries=3))
    _unreachable(s)
    before = len(lab.kit_log())
    # named like an order, but a read: the exchange is unavailable, and a read is retried
    with lab.raises(ExchangeUnavailable):
        s.api.call("create_order_preview", lambda ex: ex.fetch_time(), method="GET", path="/api/v3/time", write=False)
    assert len(lab.kit_log()) == before + 3
    assert s.degraded is not None  # a read that failed after every retry pauses orders
    # named like a read, but a write: its outcome is unknown, and it is sent once
    with lab.raises(OrderUnknown):
        s.api.call("fetch_time", lambda ex: ex.fetch_time(), method="GET", path="/api/v3/time", write=True)
    assert len(lab.kit_log()) == before + 4


def test_a_read_without_retry_is_sent_once_and_leaves_the_degraded_flag(lab: Lab) -> None:
    s = lab.session(backoff=Backoff(base_s=0.01, cap_s=0.01, max_tries=3))
    _unreachable(s)
    before = len(lab.kit_log())
    with lab.raises(ExchangeUnavailable):
        s.api.call(
            "fetch_time", lambda ex: ex.fetch_time(), method="GET", path="/api/v3/time", write=False, retry=False
        )
    assert len(lab.kit_log()) == before + 1
    assert s.degraded is None


@pytest.mark.parametrize("kw", [{"write": True, "retry": True}, {"write": "no"}, {"write": 1}])
def test_bad_flags_are_refused_before_anything_is_sent(lab: Lab, kw: dict[str, object]) -> None:
    s = lab.session()
    served, logged = lab.server_count(), len(lab.kit_log())
    with lab.raises(ConfigError) as info:
        s.api.call("cancel_order", lambda ex: ex.fetch_time(), method="DELETE", path="/api/v3/order", **kw)  # type: ignore[arg-type]
    assert info.value.hint
    assert lab.server_count() == served and len(lab.kit_log()) == logged


def test_journal_and_client_facts_without_a_request(lab: Lab) -> None:
    s = lab.session()
    served = lab.server_count()
    assert "BTC/USDT" in s.api.markets and s.api.exchange_id == "binance"
    assert s.api.timeframes()["1m"] == 60_000
    assert s.api.features.get("spot")
    eid = s.api.journal("note", symbol="BTC/USDT", text="seam")
    ev = [e for e in s.journal.events(kinds=["note"]) if e.seq == eid]
    assert ev and (ev[0].venue, ev[0].account, ev[0].stage) == (s.venue, s.account, s.stage.value)
    assert lab.server_count() == served


def test_helpers_are_made_once_and_the_streams_stop_when_the_session_closes(lab: Lab) -> None:
    s = lab.session()
    probe = attach(s, check_s=0.05)
    assert attach(s) is probe and s.api.helper_named("health_probe") is probe
    streams = watch(s)
    assert watch(s) is streams and s.api.helper_named("streams") is streams
    assert streams._tasks  # the three watch loops run on the Session's loop
    s.close()
    assert streams._stopped and not streams._tasks
    assert not s.api.running
    assert probe._thread is not None
    probe._thread.join(2)
    assert not probe._thread.is_alive()  # it ends by itself once the Session is closed
