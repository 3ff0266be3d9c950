"""The signals fast path (kit.engine.kernel) against the engine path: identical fills, orders, balances."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal as D

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lab.engine_cases import fill_models, markets

from kit.engine import FillModel, Market, jit, kernel, replay
from kit.engine.frames import to_tick
from kit.engine.types import Side


@st.composite
def scenarios(draw: st.DrawFn) -> tuple:
    market, fm = draw(markets()), draw(fill_models())
    tick, step = market.tick_size, market.step_size
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
    assert fast.balances == slow.balances  # zero balances too: an asset the engine never booked is absent
    pd.testing.assert_series_equal(fast.equity, slow.equity)


# -- the compiled kernel (kit.engine.jit) against the Python kernel ---------------------------------


def _both_kernels(sc: tuple) -> tuple[replay.Result, replay.Result, int]:
    """The same scenario through the compiled kernel and through the Python kernel (numba hidden)."""
    market, fm, candles, entries, exits, size, cash, order, offset = sc
    kw = dict(cash=cash, entries=entries, exits=exits, size=size, order=order, limit_offset=offset, fill_model=fm)
    calls = []
    real = jit.simulate

    def spy(*a: object, **k: object) -> object:
        out = real(*a, **k)  # type: ignore[arg-type]
        calls.append(out is not None)
        return out

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(jit, "simulate", spy)
        compiled = replay.run(candles, market, **kw)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(jit, "available", lambda: False)
        python = replay.run(candles, market, **kw)
    return compiled, python, sum(calls)


@settings(max_examples=10, deadline=None)  # 500 more in the slow test above (compiled vs engine)
@given(scenarios())
def test_compiled_kernel_equals_python_kernel(sc: tuple) -> None:
    compiled, python, ran = _both_kernels(sc)
    assert ran == 1  # the compiled kernel took it (these amounts fit int64)
    pd.testing.assert_frame_equal(compiled.fills, python.fills)
    pd.testing.assert_frame_equal(compiled.orders, python.orders)
    assert compiled.balances == python.balances
    pd.testing.assert_series_equal(compiled.equity, python.equity, check_exact=True)


def test_amounts_past_int64_take_the_python_kernel_with_the_same_fills() -> None:
    """Cash of 10**12 in units of 10**-30 does not fit int64: the Python kernel runs, still exact."""
    market = Market("X/Q", "X", "Q", tick_size=D("0.01"), step_size=D("0.001"), fee_precision=D("1E-30"),
                    maker_fee=D("0.001"), taker_fee=D("0.001"))  # fmt: skip
    n = 40
    px = 100 + np.sin(np.arange(n)) * 3
    candles = pd.DataFrame({"open": px, "high": px + 1, "low": px - 1, "close": px + 0.5, "volume": 50.0},
                           index=pd.date_range("2024-01-01", periods=n, freq="1min", tz="UTC"))  # fmt: skip
    entries, exits = np.arange(n) % 10 == 1, np.arange(n) % 10 == 6
    sc = (market, FillModel(), candles.round(2), entries, exits, D("1"), D("1000000000000"), "limit", "0.001")
    compiled, python, ran = _both_kernels(sc)
    assert ran == 0 and len(python.fills) > 0
    slow = replay.run(candles.round(2), market, cash=D("1000000000000"), entries=entries, exits=exits, size="1",
                      order="limit", limit_offset="0.001", path="engine")  # fmt: skip
    pd.testing.assert_frame_equal(compiled.fills, slow.fills)
    assert compiled.balances == slow.balances


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.floats(0.0001, 1e7, allow_nan=False), min_size=1, max_size=20),
    st.sampled_from([D("0.01"), D("0.5"), D("0.001"), D("0.00000001"), D("1"), D("0.3")]),
)
def test_limit_ticks_equal_to_tick(values: list[float], tick: D) -> None:
    x = np.array(values)
    for side in (Side.BUY, Side.SELL):
        want = [int(to_tick(v, tick, side) / tick) for v in values]
        assert kernel.limit_ticks(x, tick, side).tolist() == want


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 50), st.lists(st.tuples(st.integers(0, 49), st.floats(-5, 5), st.floats(-500, 500)), max_size=30))
def test_equity_one_pass_equals_bincount_cumsum(n: int, fills: list[tuple[int, float, float]]) -> None:
    rows = sorted((i % n, p, c) for i, p, c in fills)
    idx = np.array([r[0] for r in rows], dtype=np.int64)
    dp, dc = np.array([r[1] for r in rows]), np.array([r[2] for r in rows])
    close = np.linspace(90.0, 110.0, n)
    want = 1000.0 + np.cumsum(np.bincount(idx, weights=dc, minlength=n)) + np.cumsum(
        np.bincount(idx, weights=dp, minlength=n)) * close  # fmt: skip
    assert jit.equity(n, 1000.0, close, idx, dp, dc).tolist() == want.tolist()


@pytest.mark.slow  # a fresh interpreter importing pandas: 1-2 s on a busy machine
def test_importing_the_replay_does_not_import_numba() -> None:
    code = "import sys, kit, kit.engine.replay; assert 'numba' not in sys.modules, 'numba imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_frame_edited_in_place_is_converted_again() -> None:
    """The candle set's integer units are reused only while the floats are unchanged (digest checked)."""
    market = Market("X/Q", "X", "Q", tick_size=D("0.01"), step_size=D("0.001"))
    n = 30
    px = 100 + np.cos(np.arange(n)) * 2
    candles = pd.DataFrame({"open": px, "high": px + 1, "low": px - 1, "close": px + 0.5, "volume": 50.0},
                           index=pd.date_range("2024-01-01", periods=n, freq="1min", tz="UTC")).round(2)  # fmt: skip
    kw = dict(cash="10000", entries=np.arange(n) % 6 == 1, exits=np.arange(n) % 6 == 4, size="1")
    first = replay.run(candles, market, **kw)
    assert replay.run(candles, market, **kw).fills.equals(first.fills)  # served from the cache
    candles.iloc[2:, :4] += 5.0  # in place: same object, same index, same memory
    again = replay.run(candles, market, **kw)
    fresh = replay.run(candles.copy(), market, **kw)
    pd.testing.assert_frame_equal(again.fills, fresh.fills)
    assert not again.fills.equals(first.fills)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 5000), st.integers(0, 6000), st.integers(-5, 105), st.booleans(), st.integers(0, 2**31))
def test_first_reach_by_blocks_equals_the_plain_scan(n: int, start: int, level: int, above: bool, seed: int) -> None:
    arr = np.random.default_rng(seed).integers(0, 100, n).astype(np.int64)
    blk = jit.blocks(arr, above=above)
    assert jit.first_reach(arr, blk, start, level, above=above) == kernel.first_index(arr, start, level, above=above)
