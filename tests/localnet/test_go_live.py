"""A stepped demo localnet that goes live: the market moves by itself and resting orders fill (#17.4).

Notebook 03 runs on the demo localnet, a replay of seeded candles on a stepped clock, so every run
shows the same numbers; but then, in JupyterLab, "resting orders never fill while the user
watches". ``Market.live()`` (``POST /_localnet/clock/live``) lets the replay continue with a seeded
synthetic path from its last price, on a running clock. Through real ccxt: before, stepping the
clock prints nothing; after, prints arrive with nobody stepping, and a resting buy under the
price fills at its own limit.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from kit.cli.demo import Market, localnet_env, start_localnet
from kit.localnet.ccxt_client import connect

pytestmark = pytest.mark.slow  # waits for a market that runs in (accelerated) real time

SYMBOL = "BTC/USDT"


HOUR_MS = 3_600_000


@pytest.fixture
def demo_net(tmp_path: Path) -> Iterator[Any]:
    # An hour back: the demo's clock starts on the hour, so a net started "now" and stepped 6 minutes was
    # ahead of the wall clock in the first 6 minutes of every hour, and live() rightly kept it (never back):
    # the bracket below then failed at hh:00-hh:06 only (a clean-clone run at 05:00:23: went 05:06:00.000)
    server = start_localnet(state_dir=tmp_path / "localnet", now_ms=int(time.time() * 1000) - HOUR_MS)
    try:
        yield server
    finally:
        server.stop()


def _last_id(ex: Any) -> int:
    return int(ex.fetch_trades(SYMBOL, limit=1)[-1]["id"])


def test_a_live_market_moves_by_itself_and_fills_a_resting_order(demo_net: Any) -> None:
    net = demo_net
    env = localnet_env(net)
    ex = connect(net.url, env["KIT_LOCALNET_API_KEY"], env["KIT_LOCALNET_API_SECRET"])
    ex.load_markets()
    market = Market(net.url)
    before = _last_id(ex)
    market.step(5 * 60_000)  # stepped and replayed: moving the clock prints nothing
    assert _last_id(ex) == before
    assert market.state()["clock"] == "stepped"

    # A buy under the price and a sell over it: the live path is seeded by the minute it starts at (the
    # wall clock), so which way it goes depends on when the test runs (CI once saw it rise for the whole
    # two simulated hours, and a lone buy never filled); one of the two fills whichever way it moves.
    ticker = ex.fetch_ticker(SYMBOL)
    bid, ask = Decimal(str(ticker["bid"])), Decimal(str(ticker["ask"]))
    assert ex.fetch_balance()["BTC"]["free"] >= 0.001  # the demo account holds some to sell
    limits = {"buy": bid - Decimal("5"), "sell": ask + Decimal("5")}
    ids = {side: ex.create_order(SYMBOL, "limit", side, 0.001, float(px))["id"] for side, px in limits.items()}
    market.step(60_000)  # both rest: the market stands still
    assert all(ex.fetch_order(i, SYMBOL)["status"] == "open" for i in ids.values()) and _last_id(ex) == before

    # the clock is brought up to the wall clock at the call: bracketed by the wall clock read around it
    # (a fixed "within 1 s of now" after the call failed whenever the round trip took longer, e.g. under load)
    before_ms = int(time.time() * 1000)
    went = market.live(speed=120.0)  # two simulated minutes per second, so the test waits seconds
    after_ms = int(time.time() * 1000)
    assert market.state()["clock"] == "speed" and before_ms <= went <= after_ms
    deadline = time.monotonic() + 20
    while _last_id(ex) == before and time.monotonic() < deadline:
        time.sleep(0.2)  # nobody steps the clock or prints a trade here
    assert _last_id(ex) > before, "no print arrived after going live"

    deadline = time.monotonic() + 60
    filled: dict[str, Any] = {}
    while time.monotonic() < deadline and not filled:
        for side, oid in ids.items():
            order = ex.fetch_order(oid, SYMBOL)
            if order["status"] == "closed":
                filled[side] = order
        time.sleep(0.5)
    assert filled, f"neither resting order filled (buy at {limits['buy']}, sell at {limits['sell']})"
    for side, order in filled.items():
        fills = ex.fetch_my_trades(SYMBOL, params={"orderId": order["id"]})
        assert fills and all(Decimal(str(f["price"])) == limits[side] for f in fills)  # paid its own price
        assert all(f["takerOrMaker"] == "maker" for f in fills)


def test_a_clock_stepped_past_the_wall_clock_goes_live_where_it_is(tmp_path: Path) -> None:
    """live() never moves the clock back: a market stepped into the future runs on from there."""
    ahead = int(time.time() * 1000) + 2 * HOUR_MS
    net = start_localnet(state_dir=tmp_path / "localnet", now_ms=ahead, history=False)
    try:
        market = Market(net.url)
        market.step(60_000)
        at = market.state()["now_ms"]
        assert at == ahead - ahead % HOUR_MS + 60_000
        went = market.live(speed=1.0)
        assert went == at and market.state()["clock"] == "realtime"
        assert market.state()["now_ms"] >= at  # and runs forward from there
    finally:
        net.stop()
