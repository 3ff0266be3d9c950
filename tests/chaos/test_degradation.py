"""Degradation end to end: an outage (maintenance on localnet) pauses orders, reads back off, the user
is told (log, status(), one alert), and the Session resumes by itself when the exchange is back."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest
from lab.lab import Lab

from kit.errors import ExchangeUnavailable
from kit.ops.alerts import AlertConfig, Alerter, AlertWatcher, StatusChannel
from kit.ops.degrade import HealthProbe, attach
from kit.transport.backoff import Backoff

pytestmark = pytest.mark.chaos
SYM = "BTC/USDT"


def _requests(lab: Lab) -> list[dict[str, Any]]:
    path = lab.tmp / "ln" / "requests.log"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _until(cond: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_outage_pauses_orders_keeps_reads_on_backoff_tells_the_user_and_resumes_by_itself(
    lab: Lab, caplog: pytest.LogCaptureFixture
) -> None:
    s = lab.session(backoff=Backoff(base_s=0.05, cap_s=0.2, max_tries=3))
    status = StatusChannel()
    alerter = Alerter(AlertConfig(after_s=0.5), channels=[status], journal=s.journal, venue=s.venue)
    probe = HealthProbe(s, backoff=Backoff(base_s=0.1, cap_s=0.3, max_tries=10**6)).start()
    watcher = AlertWatcher(s, alerter, interval_s=0.05).start()
    try:
        with caplog.at_level(logging.WARNING, logger="kit.ops.degrade"):
            lab.net.set_faults(maintenance=True)
            before = len(_requests(lab))
            with pytest.raises(ExchangeUnavailable):
                s.ticker(SYM)
            tickers = [r for r in _requests(lab)[before:] if r["path"] == "/api/v3/ticker/24hr"]
            assert [r["status"] for r in tickers] == [503, 503, 503]  # retried with backoff, then given up
            assert "new orders paused" in (s.status()["degraded"] or "")

            orders_before = sum(r["path"] == "/api/v3/order" for r in _requests(lab))
            intents_before = len(s.journal.events(kinds=["intent"]))
            with pytest.raises(ExchangeUnavailable, match="degraded"):
                s.place(SYM, "buy", "0.001", price="50000")
            assert sum(r["path"] == "/api/v3/order" for r in _requests(lab)) == orders_before  # nothing sent
            assert len(s.journal.events(kinds=["intent"])) == intents_before

            _until(lambda: status.firing)
            assert [a.kind for a in status.firing] == ["exchange_down"]
            _until(lambda: probe.status()["probes"] >= 2)
            assert probe.status()["degraded_for_s"] > 0 and probe.status()["last_error"]
            assert "probing" in caplog.text

            lab.net.set_faults(maintenance=False)  # no user read from here on: the probe must notice
            _until(lambda: s.degraded is None)
            _until(lambda: len(status.messages) == 2)
            assert "reachable again" in caplog.text
        assert [(a.kind, a.state) for a in status.messages] == [
            ("exchange_down", "firing"),
            ("exchange_down", "resolved"),
        ]
        order = s.place(SYM, "buy", "0.001", price="50000")
        assert order["status"] == "open"
        stages = [(e.get("from_stage"), e.get("to_stage")) for e in s.journal.events(kinds=["stage"])]
        assert ("testnet", "degraded") in stages and ("degraded", "testnet") in stages
        assert probe.status()["outages"] == 1 and probe.status()["recoveries"] == 1
    finally:
        watcher.stop()
        probe.stop()


def test_attach_reuses_one_probe_and_it_stops_with_the_session(lab: Lab) -> None:
    s = lab.session()
    p1 = attach(s)
    assert attach(s) is p1
    assert p1.step() is None  # healthy: nothing to do
    s.close()
    assert p1._thread is not None
    p1._thread.join(3)
    assert not p1._thread.is_alive()


def test_a_probe_failure_backs_off(lab: Lab) -> None:
    s = lab.session(backoff=Backoff(base_s=0.01, cap_s=0.02, max_tries=2))
    lab.net.set_faults(maintenance=True)
    with pytest.raises(ExchangeUnavailable):
        s.ticker(SYM)
    probe = HealthProbe(s, backoff=Backoff(base_s=10, cap_s=10, max_tries=10**6))
    t = time.monotonic()
    probe.step(now=t)  # first sight of the outage: schedules the first probe
    assert probe.step(now=t + 100) is False  # probe fails
    assert probe.step(now=t + 100.001) is None  # not due again yet
    lab.net.set_faults(maintenance=False)
    assert probe.step(now=t + 200) is True and s.degraded is None
