"""The callback lane (kit.engine.lane) against the engine path: the same run, order by order.

Random markets, fill models and candles (as in test_kernel.py), random callbacks placing market
and GTC limit orders of random sizes (several working at once, partial fills through the
participation budget, refusals for funds and filters, cancel_all), run on the lane
(``path="auto"``) and on the engine (``path="engine"``): the same fills, orders, balances,
equity, stats, what the callback saw at every call, and (built on demand) the same events.
"""

from __future__ import annotations

import os
import pickle
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from lab import engine_cases as cases

from kit.engine import FillModel, Market, lane, replay
from kit.engine.types import Event, OrderType, TimeInForce

# ../shared/data beside the clone (as in CI); KIT_SHARED_DATA points elsewhere (e.g. a worktree)
REAL = (
    Path(os.environ.get("KIT_SHARED_DATA") or Path(__file__).parents[2].parent / "shared" / "data")
    / "UNITTEST_BTC-1m.feather"
)

# one action of a callback: (what, size in steps, limit offset in ticks from the close)
# what: 0 nothing, 1 buy market, 2 sell market, 3 buy limit, 4 sell limit, 5 cancel_all, 6 sell the position
ACTIONS = st.tuples(st.sampled_from([0, 0, 1, 1, 2, 3, 3, 3, 4, 4, 5, 6]), st.integers(1, 400), st.integers(-8, 8))
PLANS = st.lists(st.lists(ACTIONS, min_size=1, max_size=4), min_size=1, max_size=60)
CASH = st.sampled_from(["50", "1000", "100000", "10000000"])


@st.composite
def markets(draw: st.DrawFn) -> tuple[Market, FillModel]:
    bounded = draw(cases.markets(min_notionals=("0", "0", "0.1", "20"), bounds=True))
    return bounded, draw(cases.fill_models())


def _callback(market: Market, plan: list[list[tuple[int, int, int]]], seen: list[Any], extra: Any = None) -> Any:
    """A callback doing ``plan[i]`` at candle ``i`` and recording what it saw and got back."""
    tick, step = market.tick_size, market.step_size

    def strategy(ctx: replay.Context) -> None:
        i = ctx.i
        seen.append((i, ctx.position, ctx.cash, ctx.open_orders))
        for what, size, off in plan[i % len(plan)]:
            qty = step * size
            limit = D(repr(float(ctx.close))) + off * tick
            if what == 1:
                seen.append(ctx.buy(qty))
            elif what == 2:
                seen.append(ctx.sell(qty))
            elif what == 3:
                seen.append(ctx.buy(qty, limit=limit))
            elif what == 4:
                seen.append(ctx.sell(qty, limit=limit))
            elif what == 5:
                ctx.cancel_all()
            elif what == 6:
                seen.append(ctx.sell((ctx.position // step) * step))
            seen.append((ctx.position, ctx.cash, ctx.open_orders))
        if extra is not None:
            extra(ctx, seen)

    return strategy


def _event_values(events: list[Event]) -> list[tuple[Any, ...]]:
    """Events by value (Decimal amounts compared by value: the lane's balances carry their own exponents)."""
    return [(e.kind, e.ts_ms, e.order, e.fill, e.balance_changes, e.code) for e in events]


def _both(candles: pd.DataFrame, market: Market, fm: FillModel, cash: D, plan: Any, extra: Any = None) -> tuple:
    seen_lane: list[Any] = []
    seen_eng: list[Any] = []
    fast = replay.run(candles, market, cash=cash, fill_model=fm, strategy=_callback(market, plan, seen_lane, extra))
    slow = replay.run(candles, market, cash=cash, fill_model=fm, path="engine",
                      strategy=_callback(market, plan, seen_eng, extra))  # fmt: skip
    return fast, slow, seen_lane, seen_eng


def _assert_same(fast: replay.Result, slow: replay.Result, seen_lane: list[Any], seen_eng: list[Any]) -> None:
    pd.testing.assert_frame_equal(fast.fills, slow.fills)
    pd.testing.assert_frame_equal(fast.orders, slow.orders)
    assert fast.balances == slow.balances
    pd.testing.assert_series_equal(fast.equity, slow.equity, check_exact=True)
    assert fast.stats == slow.stats
    assert seen_lane == seen_eng
    assert _event_values(fast.events) == _event_values(slow.events)


@settings(max_examples=25, deadline=None)  # 600 more in the slow test below
@given(markets(), st.data())
def test_lane_equals_engine_path(mf: tuple[Market, FillModel], data: st.DataObject) -> None:
    _lane_equals_engine_path(mf, data)


@pytest.mark.slow  # 600 random markets, candles and callbacks through both paths: about a minute
@settings(max_examples=600, deadline=None)
@given(markets(), st.data())
def test_lane_equals_engine_path_many(mf: tuple[Market, FillModel], data: st.DataObject) -> None:
    _lane_equals_engine_path(mf, data)


def _lane_equals_engine_path(mf: tuple[Market, FillModel], data: st.DataObject) -> None:
    market, fm = mf
    candles = data.draw(cases.synthetic(market.tick_size, market.step_size))
    plan = data.draw(PLANS)
    cash = D(data.draw(CASH))
    fast, slow, seen_lane, seen_eng = _both(candles, market, fm, cash, plan)
    assert callable(fast._events)  # the lane ran to the end (its events not built yet)
    _assert_same(fast, slow, seen_lane, seen_eng)
    kinds = {e.kind.value for e in slow.events}
    for what in ("rejected", "partially_filled", "filled", "canceled"):
        event(f"{what}: {what in kinds}")
    most = max((s[3] for s in seen_eng if isinstance(s, tuple) and len(s) == 4), default=0)
    event(f"several open at once: {most > 1}")


def test_a_grid_of_resting_limits_shares_each_candle_budget() -> None:
    """Many orders at once: a buy grid and a sell grid over a swinging price, fills limited by volume."""
    n = 400
    x = np.arange(n)
    px = np.round(100 + 4 * np.sin(x / 17), 2)
    vol = np.where(x % 3 == 0, 0.4, 3.0)  # a third of the candles leave less than one order's size
    candles = pd.DataFrame({"open": px, "high": px + 0.8, "low": px - 0.8, "close": np.roll(px, -1), "volume": vol},
                           index=pd.date_range("2024-01-01", periods=n, freq="1min", tz="UTC"))  # fmt: skip
    market = Market("X/Q", "X", "Q", tick_size=D("0.01"), step_size=D("0.001"))
    seen_lane: list[Any] = []
    seen_eng: list[Any] = []

    def grid(seen: list[Any]) -> Any:
        def strategy(ctx: replay.Context) -> None:
            seen.append((ctx.position, ctx.cash, ctx.open_orders))
            if ctx.i % 60 == 0:
                for k in range(1, 40):
                    seen.append(ctx.buy(D("0.05"), limit=ctx.close - 0.1 * k))
                    if ctx.position > D("0.1"):
                        seen.append(ctx.sell(D("0.05"), limit=ctx.close + 0.1 * k))
            if ctx.i % 60 == 30:
                seen.append(ctx.buy(D("0.2")))

        return strategy

    fast = replay.run(candles, market, cash="5000", strategy=grid(seen_lane))
    slow = replay.run(candles, market, cash="5000", strategy=grid(seen_eng), path="engine")
    assert (fast.orders.status == "partially_filled").any() or (fast.fills.groupby("order_id").size() > 1).any()
    assert len(fast.fills) > 100
    _assert_same(fast, slow, seen_lane, seen_eng)
    assert [repr(e) for e in fast.events] == [repr(e) for e in slow.events]  # amounts not derived from balances


@settings(max_examples=10, deadline=None)
@given(markets(), st.data())
def test_an_order_the_lane_does_not_replicate_hands_over_to_the_engine(
    mf: tuple[Market, FillModel], data: st.DataObject
) -> None:
    """A stop, an IOC or a GTD order midway: the engine takes over in the lane's state; the run is the same."""
    market, fm = mf
    candles = data.draw(cases.synthetic(market.tick_size, market.step_size))
    plan = data.draw(PLANS)
    at = data.draw(st.integers(0, len(candles) - 1))
    how = data.draw(st.sampled_from(["stop", "ioc", "gtd"]))

    def extra(ctx: replay.Context, seen: list[Any]) -> None:
        if ctx.i != at:
            return
        step, tick = market.step_size, market.tick_size
        close = D(repr(float(ctx.close)))
        if how == "stop":
            seen.append(ctx.sell(step * 2, kind=OrderType.STOP_MARKET, trigger=close - 3 * tick))
        elif how == "ioc":
            seen.append(ctx.buy(step * 3, limit=close + tick, tif=TimeInForce.IOC))
        else:
            seen.append(ctx.buy(step, limit=close - tick, tif=TimeInForce.GTD))
        seen.append((ctx.position, ctx.cash, ctx.open_orders))

    cash = D(data.draw(CASH))
    fast, slow, seen_lane, seen_eng = _both(candles, market, fm, cash, plan, extra)
    assert not callable(fast._events)  # the engine took over: its own event record
    _assert_same(fast, slow, seen_lane, seen_eng)


@pytest.mark.skipif(
    not REAL.exists(), reason=f"real candle data is missing ({REAL}); it sits beside the clone in CI only"
)
@settings(max_examples=3, deadline=None)
@given(st.integers(0, 13_000), st.integers(0, 2**31))
def test_real_candles_with_a_busy_callback(start: int, seed: int) -> None:
    """Real 1m candles (gaps, flat bars, volume spikes), a random busy callback: the same run on both paths."""
    candles = pd.read_feather(REAL).set_index("date").iloc[start : start + 600]
    market = Market("UNITTEST/BTC", "UNITTEST", "BTC", tick_size=D("0.00000001"), step_size=D("0.01"))
    rng = np.random.default_rng(seed)
    plan = [[(int(a), int(s), int(o))] for a, s, o in zip(rng.integers(0, 7, 300), rng.integers(1, 2000, 300),
                                                          rng.integers(-30, 30, 300), strict=True)]  # fmt: skip
    fast, slow, seen_lane, seen_eng = _both(candles, market, FillModel(), D("10"), plan)
    _assert_same(fast, slow, seen_lane, seen_eng)


def test_the_lane_is_not_chosen_where_it_cannot_be_exact() -> None:
    m = Market("X/Q", "X", "Q", tick_size=D("0.01"), step_size=D("0.001"))
    assert lane.supported(m, None) and lane.supported(m, FillModel(trade_through_ticks=0))
    assert not lane.supported(m, FillModel(at_touch=True))
    assert not lane.supported(Market("X/Q", "X", "Q", tick_size=D("0.01"), step_size=D("0.001"),
                                     bid_multiplier_up=D("5")), None)  # fmt: skip


def test_events_are_built_when_first_read() -> None:
    n = 50
    px = np.round(100 + np.sin(np.arange(n)), 2)
    candles = pd.DataFrame({"open": px, "high": px + 1, "low": px - 1, "close": px, "volume": 10.0},
                           index=pd.date_range("2024-01-01", periods=n, freq="1min", tz="UTC"))  # fmt: skip
    m = Market("X/Q", "X", "Q", tick_size=D("0.01"), step_size=D("0.001"))

    def buy_sell(ctx: replay.Context) -> None:
        if ctx.i % 10 == 1:
            ctx.buy("0.5")
        elif ctx.i % 10 == 6:
            ctx.sell("0.4", limit=ctx.close + 0.5)

    res = replay.run(candles, m, cash="1000", strategy=buy_sell)
    assert callable(res._events)  # nothing built yet
    eng = replay.run(candles, m, cash="1000", strategy=buy_sell, path="engine")
    assert [repr(e) for e in res.events] == [repr(e) for e in eng.events]
    assert res.events is res.events  # built once
    again = replay.run(candles, m, cash="1000", strategy=buy_sell)
    copy = pickle.loads(pickle.dumps(again))  # pickling builds them first
    assert [repr(e) for e in copy.events] == [repr(e) for e in eng.events]
    assert replay.Result(again.fills, again.orders, again.equity, again.stats, again.balances, events=[]).events == []
