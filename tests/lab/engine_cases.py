"""Hypothesis strategies shared by the engine's equivalence tests (kernel and lane against the engine path)."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import strategies as st

from kit.engine import FillModel, Market

TICKS = [D("0.01"), D("0.5"), D("0.001")]
STEPS = [D("0.001"), D("1"), D("0.0001")]


@st.composite
def fill_models(draw: st.DrawFn) -> FillModel:
    """The conservative fill model with random trade-through, slippage, participation and impact."""
    return FillModel(
        trade_through_ticks=draw(st.integers(0, 2)), slippage_ticks=draw(st.integers(0, 2)),
        participation=D(draw(st.sampled_from(["0.1", "0.25", "1"]))), impact=D(draw(st.sampled_from(["0", "0.5"]))),
    )  # fmt: skip


@st.composite
def markets(draw: st.DrawFn, *, min_notionals: tuple[str, ...] = ("0", "1", "20"), bounds: bool = False) -> Market:
    """A market "X/Q" with random tick, step, minimums and fees; ``bounds`` adds max qty/notional and min price."""
    tick, step = draw(st.sampled_from(TICKS)), draw(st.sampled_from(STEPS))
    extra: dict[str, Any] = {}
    if bounds:
        extra = {
            "max_qty": draw(st.sampled_from([None, step * 300])),
            "market_max_qty": draw(st.sampled_from([None, step * 250])),
            "max_notional": draw(st.sampled_from([None, D("500")])),
            "min_price": draw(st.sampled_from([D(0), tick * 150])),
            "apply_min_notional_to_market": draw(st.booleans()),
        }
    return Market(
        "X/Q", "X", "Q", tick_size=tick, step_size=step,
        min_qty=step * draw(st.integers(1, 3)),
        min_notional=D(draw(st.sampled_from(list(min_notionals)))),
        maker_fee=D(draw(st.sampled_from(["0", "0.001", "0.0002"]))),
        taker_fee=D(draw(st.sampled_from(["0", "0.001", "0.00075"]))),
        fee_precision=D(draw(st.sampled_from(["0.00000001", "0.01"]))),
        **extra,
    )  # fmt: skip


@st.composite
def synthetic(draw: st.DrawFn, tick: D, step: D) -> pd.DataFrame:
    """5 to 60 one-minute candles on the tick and step grid, with gaps at the open and zero volumes."""
    n = draw(st.integers(5, 60))
    moves = draw(st.lists(st.integers(-6, 6), min_size=n, max_size=n))
    spans = draw(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=n, max_size=n))
    vols = draw(st.lists(st.integers(0, 400), min_size=n, max_size=n))
    gaps = draw(st.lists(st.integers(-3, 3), min_size=n, max_size=n))
    px, rows = 200, []
    for mv, (up, dn), v, g in zip(moves, spans, vols, gaps, strict=True):
        o = max(20, px + g)  # the open may gap from the last close
        c = max(20, o + mv)
        rows.append((o, max(o, c) + up, max(1, min(o, c) - dn), c, v))
        px = c
    arr = np.array(rows, dtype="float64")
    t = float(tick)
    return pd.DataFrame({"open": arr[:, 0] * t, "high": arr[:, 1] * t, "low": arr[:, 2] * t,
                         "close": arr[:, 3] * t, "volume": arr[:, 4] * float(step)},
                        index=pd.date_range("2024-01-01", periods=n, freq="1min", tz="UTC"))  # fmt: skip
