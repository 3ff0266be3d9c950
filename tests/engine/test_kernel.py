"""The signals fast path (kit.engine.kernel) against the engine path: identical fills, orders, balances."""

from __future__ import annotations

from decimal import Decimal as D

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kit.engine import FillModel, Market, replay

TICKS = [D("0.01"), D("0.5"), D("0.001")]
STEPS = [D("0.001"), D("1"), D("0.0001")]


@st.composite
def scenarios(draw: st.DrawFn) -> tuple:
    tick, step = draw(st.sampled_from(TICKS)), draw(st.sampled_from(STEPS))
    market = Market(
        "X/Q", "X", "Q", tick_size=tick, step_size=step,
        min_qty=step * draw(st.integers(1, 3)),
        min_notional=D(draw(st.sampled_from(["0", "1", "20"]))),
        maker_fee=D(draw(st.sampled_from(["0", "0.001", "0.0002"]))),
        taker_fee=D(draw(st.sampled_from(["0", "0.001", "0.00075"]))),
        fee_precision=D(draw(st.sampled_from(["0.00000001", "0.01"]))),
    )  # fmt: skip
    fm = FillModel(
        trade_through_ticks=draw(st.integers(0, 2)), slippage_ticks=draw(st.integers(0, 2)),
        participation=D(draw(st.sampled_from(["0.1", "0.25", "1"]))), impact=D(draw(st.sampled_from(["0", "0.5"]))),
    )  # fmt: skip
    n = draw(st.integers(5, 60))
    moves = draw(st.lists(st.integers(-6, 6), min_size=n, max_size=n))
    spans = draw(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=n, max_size=n))
    vols = draw(st.lists(st.integers(0, 400), min_size=n, max_size=n))
    px, rows = 200, []
    for mv, (up, dn), v in zip(moves, spans, vols, strict=True):
        o = px
        c = max(20, px + mv)
        rows.append((o, max(o, c) + up, max(1, min(o, c) - dn), c, v))
        px = c
    arr = np.array(rows, dtype="float64")
    t = float(tick)
    candles = pd.DataFrame({"open": arr[:, 0] * t, "high": arr[:, 1] * t, "low": arr[:, 2] * t,
                            "close": arr[:, 3] * t, "volume": arr[:, 4] * float(step)},
                           index=pd.date_range("2024-01-01", periods=n, freq="1min", tz="UTC"))  # fmt: skip
    signals = draw(st.lists(st.sampled_from([0, 0, 0, 1, 2]), min_size=n, max_size=n))
    entries = np.array([s == 1 for s in signals])
    exits = np.array([s == 2 for s in signals])
    size = step * draw(st.integers(1, 40))
    cash = D(draw(st.sampled_from(["50", "1000", "100000"])))
    order = draw(st.sampled_from(["market", "limit"]))
    offset = draw(st.sampled_from(["0.001", "0", "0.01", "-0.01"]))
    return market, fm, candles, entries, exits, size, cash, order, offset


def _nonzero(b: dict) -> dict:
    return {k: v for k, v in b.items() if v[0] or v[1]}


@pytest.mark.slow  # 500 random markets through both paths: about a minute on 2 cores
@settings(max_examples=500, deadline=None)
@given(scenarios())
def test_kernel_equals_engine_path(sc: tuple) -> None:
    market, fm, candles, entries, exits, size, cash, order, offset = sc
    kw = dict(cash=cash, entries=entries, exits=exits, size=size, order=order, limit_offset=offset, fill_model=fm)
    fast = replay.run(candles, market, path="auto", **kw)
    slow = replay.run(candles, market, path="engine", **kw)
    pd.testing.assert_frame_equal(fast.fills, slow.fills)
    pd.testing.assert_frame_equal(fast.orders, slow.orders)
    assert _nonzero(fast.balances) == _nonzero(slow.balances)
    pd.testing.assert_series_equal(fast.equity, slow.equity)
