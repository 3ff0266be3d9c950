"""A request that never reached the exchange (connection refused) gives its weight back."""

from __future__ import annotations

from lab.lab import Lab

from kit.errors import ExchangeUnavailable
from kit.transport.backoff import Backoff


def test_refused_connections_are_not_charged_to_the_budget(lab: Lab) -> None:
    # an hour-long budget window: the count cannot reset by itself during the test
    s = lab.session(weight_window_s=3600, backoff=Backoff(base_s=0.01, cap_s=0.01, max_tries=3))
    assert s.budget is not None
    s.ticker("BTC/USDT")
    before = s.budget.status()
    assert before["used"] > 0
    s._ex.urls["api"] = {k: "http://127.0.0.1:9/api/v3" for k in s._ex.urls["api"]}  # nothing listens on port 9
    with lab.raises(ExchangeUnavailable):
        s.ticker("BTC/USDT")  # three attempts, each refused before anything was sent
    after = s.budget.status()
    assert after["window_start_ms"] == before["window_start_ms"]
    assert after["used"] == before["used"]
