"""The runner unchanged on the paper stage (simulated fills on localnet's public market, no order to its accounts).

The paper venue's candles run on the wall clock, so this waits for real candle closes (up to about
two minutes): marked slow.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from lab.lab import Lab

from kit.run import Runner
from kit.strategy import load_strategy

pytestmark = pytest.mark.slow


@pytest.fixture()
def lab_config() -> dict[str, Any]:
    """The upstream localnet on the wall clock (its market moves by itself), as the paper venue's is."""
    return {"history_minutes": 240, "stepped": False}


Flip = load_strategy(f"{Path(__file__).resolve().parent / 'strategies.py'}:Flip")


def test_the_same_strategy_runs_on_paper_and_journals_paper_fills(lab: Lab) -> None:
    s = lab.session(stage="paper")
    before = lab.client().fetch_orders("BTC/USDT")  # the upstream exchange's own orders
    r = Runner(s, Flip, ["BTC/USDT"], name="paper-flip", poll_s=0.5, fast_poll_s=0.05).start()
    try:
        end = time.monotonic() + 150
        while time.monotonic() < end and r.status()["orders_sent"] < 2 and r.state in ("starting", "running"):
            time.sleep(0.5)
    finally:
        r.stop()
    assert r.status()["orders_sent"] >= 2, r.status()
    dec = r.decisions()
    assert dec["action"].tolist()[:2] == ["buy", "sell"] and set(dec["status"][:2]) == {"closed"}
    fills = r.fills()
    assert len(fills) >= 2 and set(fills["stage"]) == {"paper"}
    assert lab.client().fetch_orders("BTC/USDT") == before  # nothing reached the exchange's accounts
    lat = [x for x in dec["latency_ms"] if x == x and x is not None]
    assert lat and max(lat) < 60_000  # real time: each order went out within its candle
