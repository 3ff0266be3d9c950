"""The replay's skipping against its definition: the engine fed every candle while an order is open.

The engine path of :func:`kit.engine.replay.run` sends a candle to :meth:`Engine.on_bar` only when
an open order can act on it (``_Runner._rescan``: the first candle whose range reaches the order's
price or trigger, found over block extremes). That is an optimisation, so it must give what the
engine gives when every candle goes through it: here the same runner with every open order due
on every candle (``_rescan`` patched to schedule the next one), the same callbacks, compared by
fills, orders and balances. Random markets and fill models, candles with gaps, and callbacks
placing market, limit, stop and take-profit orders (market and limit) with GTC, IOC and FOK.
"""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lab import engine_cases as cases

from kit.engine import FillModel, Market, replay
from kit.engine.types import OrderType, TimeInForce

TIFS = [TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK]
# (what, size in steps, offset in ticks from the close, time in force)
ACTIONS = st.tuples(st.integers(0, 9), st.integers(1, 300), st.integers(1, 8), st.sampled_from(TIFS))
PLANS = st.lists(st.lists(ACTIONS, min_size=1, max_size=3), min_size=1, max_size=40)


def _callback(market: Market, plan: list[list[tuple[int, int, int, TimeInForce]]], got: list[Any]) -> Any:
    tick, step = market.tick_size, market.step_size

    def strategy(ctx: replay.Context) -> None:
        close = D(repr(float(ctx.close)))
        for what, size, off, tif in plan[ctx.i % len(plan)]:
            qty, below, above = step * size, close - off * tick, close + off * tick
            if what == 1:
                got.append(ctx.buy(qty))
            elif what == 2:
                got.append(ctx.sell(qty))
            elif what == 3:  # a limit that may take on arrival (above the close) or rest
                got.append(ctx.buy(qty, limit=above if size % 2 else below, tif=tif))
            elif what == 4:
                got.append(ctx.sell(qty, limit=below if size % 2 else above, tif=tif))
            elif what == 5:
                ctx.cancel_all()
            elif what == 6:  # stop-loss sell: triggers when the price falls to it
                got.append(ctx.sell(qty, limit=below - tick, trigger=below, kind=OrderType.STOP_LIMIT, tif=tif))
            elif what == 7:  # stop-loss buy: triggers when the price rises to it
                got.append(ctx.buy(qty, limit=above + tick, trigger=above, kind=OrderType.STOP_LIMIT, tif=tif))
            elif what == 8:
                got.append(ctx.sell(qty, trigger=below, kind=OrderType.STOP_MARKET))
            elif what == 9:  # take-profit sell: triggers when the price rises to it
                got.append(ctx.sell(qty, limit=above, trigger=above, kind=OrderType.TAKE_PROFIT_LIMIT, tif=tif))

    return strategy


def _every_candle(self: Any, w: Any, start: int) -> None:
    """``_Runner._rescan`` of the reference: an open order is due on the very next candle."""
    self.hits[w.id] = start
    import heapq

    heapq.heappush(self.due, (start, w.id))
    self.heap_min = min(self.heap_min, start)


def _run(candles: pd.DataFrame, market: Market, fm: FillModel, cash: D, plan: Any) -> tuple[replay.Result, list[Any]]:
    got: list[Any] = []
    res = replay.run(candles, market, cash=cash, fill_model=fm, path="engine", strategy=_callback(market, plan, got))
    return res, got


@settings(max_examples=30, deadline=None)  # 1,000 more in the slow test below
@given(market=cases.markets(), fm=cases.fill_models(), data=st.data())
def test_skipping_candles_gives_what_every_candle_gives(market: Market, fm: FillModel, data: st.DataObject) -> None:
    _same_as_every_candle(market, fm, data)


@pytest.mark.slow  # 1,000 random markets, candles and callbacks, each run twice: about 20 s
@settings(max_examples=1000, deadline=None)
@given(market=cases.markets(), fm=cases.fill_models(), data=st.data())
def test_skipping_candles_gives_what_every_candle_gives_many(
    market: Market, fm: FillModel, data: st.DataObject
) -> None:
    _same_as_every_candle(market, fm, data)


def _same_as_every_candle(market: Market, fm: FillModel, data: st.DataObject) -> None:
    candles = data.draw(cases.synthetic(market.tick_size, market.step_size))
    plan = data.draw(PLANS)
    cash = D(data.draw(st.sampled_from(["1000", "100000"])))
    fast, got_fast = _run(candles, market, fm, cash, plan)
    skipping = replay._Runner._rescan
    replay._Runner._rescan = _every_candle  # type: ignore[method-assign]
    try:
        ref, got_ref = _run(candles, market, fm, cash, plan)
    finally:
        replay._Runner._rescan = skipping  # type: ignore[method-assign]
    assert got_fast == got_ref
    pd.testing.assert_frame_equal(fast.fills, ref.fills)
    pd.testing.assert_frame_equal(fast.orders, ref.orders)
    assert fast.balances == ref.balances
