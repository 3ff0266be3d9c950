"""replay.run contract (/tmp/engine-api.md, "replay"): signals vs callback, frames, equity, determinism."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from kit.engine import FillModel, Market, replay

D = Decimal
M = Market("BTC/USDT", "BTC", "USDT", tick_size=D("0.01"), step_size=D("0.001"))


def _candles(n: int = 400, seed: int = 7, volume: float = 1000.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 10000 + np.cumsum(rng.integers(-300, 301, n))  # in ticks (100.00 +- ...)
    open_ = np.concatenate([[close[0]], close[:-1]])
    high = np.maximum(open_, close) + rng.integers(0, 50, n)
    low = np.minimum(open_, close) - rng.integers(0, 50, n)
    idx = pd.date_range("2024-01-01", periods=n, freq="1min", tz="UTC")
    df = pd.DataFrame(
        {"open": open_ / 100, "high": high / 100, "low": low / 100, "close": close / 100, "volume": volume}, index=idx
    )
    return df.round(2)


def _sma_signals(df: pd.DataFrame, fast: int = 5, slow: int = 20) -> tuple[np.ndarray, np.ndarray]:
    f, s = df.close.rolling(fast).mean(), df.close.rolling(slow).mean()
    above = (f > s).to_numpy()
    prev = np.concatenate([[False], above[:-1]])
    return above & ~prev, ~above & prev


def _dec(x: object) -> Decimal:
    return x if isinstance(x, Decimal) else Decimal(repr(float(x)))


def _strategy(entries: np.ndarray, exits: np.ndarray, size: str):
    def strat(ctx) -> None:
        i = ctx.i
        if exits[i]:
            if ctx.open_orders:
                ctx.cancel_all()
            if ctx.position > 0:
                ctx.sell(ctx.position)
        elif entries[i] and ctx.position <= 0 and not ctx.open_orders:
            ctx.buy(D(size))

    return strat


def _fill_tuples(res) -> list[tuple]:
    f = res.fills
    return [(ts, side, _dec(p), _dec(q)) for ts, side, p, q in zip(f.index, f.side, f.price, f.quantity, strict=True)]


def test_signals_and_callback_give_the_same_fills() -> None:
    df = _candles()
    ent, ext = _sma_signals(df)
    a = replay.run(df, M, cash="100000", entries=ent, exits=ext, size="1")
    b = replay.run(df, M, cash="100000", strategy=_strategy(ent, ext, "1"), size="1")
    assert len(a.fills) > 10
    assert _fill_tuples(a) == _fill_tuples(b)
    assert a.balances == b.balances


def test_result_frames_have_documented_columns_and_utc_index() -> None:
    df = _candles()
    ent, ext = _sma_signals(df)
    res = replay.run(df, M, cash="100000", entries=ent, exits=ext, size="1")
    assert {"order_id", "side", "price", "quantity", "fee", "liquidity"} <= set(res.fills.columns)
    assert isinstance(res.fills.index, pd.DatetimeIndex) and str(res.fills.index.tz) == "UTC"
    assert isinstance(res.equity, pd.Series)
    assert res.equity.index.equals(df.index)
    assert len(res.orders) >= 1 and "status" in res.orders.columns
    for key in ("trades", "fills", "fees", "final_equity", "return_pct"):
        assert key in res.stats, f"stats lacks documented key {key!r}: {sorted(res.stats)}"


@pytest.mark.parametrize("order", ["market", "limit"])
def test_equity_is_cash_plus_position_times_close(order: str) -> None:
    df = _candles()
    ent, ext = _sma_signals(df)
    cash0 = D("100000")
    res = replay.run(df, M, cash=cash0, entries=ent, exits=ext, size="1", order=order)
    assert len(res.fills) > 4
    bar_ts = df.index.as_unit("ms").asi8
    fill_ts = res.fills.index.as_unit("ms").asi8
    cash, pos = np.zeros(len(df)), np.zeros(len(df))
    c, p = cash0, D(0)
    j = 0
    rows = list(zip(fill_ts, res.fills.side, res.fills.price, res.fills.quantity, res.fills.fee, strict=True))
    for i, t in enumerate(bar_ts):
        while j < len(rows) and rows[j][0] < t + 60_000:
            _, side, price, qty, fee = rows[j]
            price, qty, fee = _dec(price), _dec(qty), _dec(fee)
            if side in ("buy", "BUY") or getattr(side, "value", side) == "buy":
                c -= price * qty
                p += qty - fee
            else:
                c += price * qty - fee
                p -= qty
            j += 1
        cash[i], pos[i] = float(c), float(p)
    expected = cash + pos * df.close.to_numpy()
    np.testing.assert_allclose(res.equity.to_numpy(), expected, rtol=1e-9, atol=1e-6)
    # and the exact end state agrees with the fills
    assert sum(res.balances.get("USDT", (D(0), D(0)))) == c
    assert sum(res.balances.get("BTC", (D(0), D(0)))) == p


def test_replay_is_deterministic() -> None:
    df = _candles(volume=3.0)  # thin candles: partial fills
    ent, ext = _sma_signals(df)
    for order in ("market", "limit"):
        a = replay.run(df, M, cash="100000", entries=ent, exits=ext, size="1", order=order)
        b = replay.run(df, M, cash="100000", entries=ent, exits=ext, size="1", order=order)
        pd.testing.assert_frame_equal(a.fills, b.fills)
        pd.testing.assert_frame_equal(a.orders, b.orders)
        pd.testing.assert_series_equal(a.equity, b.equity)
        assert a.balances == b.balances and a.stats == b.stats


@pytest.mark.parametrize("order", ["market", "limit"])
@pytest.mark.parametrize("volume", [1000.0, 3.0])
def test_fast_path_and_engine_path_agree(order: str, volume: float) -> None:
    df = _candles(volume=volume)
    ent, ext = _sma_signals(df)
    a = replay.run(df, M, cash="100000", entries=ent, exits=ext, size="1", order=order)
    b = replay.run(df, M, cash="100000", entries=ent, exits=ext, size="1", order=order, path="engine")
    pd.testing.assert_frame_equal(a.fills, b.fills)
    assert a.balances == b.balances


def test_orders_placed_at_close_work_from_next_bar() -> None:
    df = _candles()
    ent = np.zeros(len(df), bool)
    ent[10] = True
    res = replay.run(df, M, cash="100000", entries=ent, size="1")
    assert len(res.fills) == 1
    assert res.fills.index[0] == df.index[11]  # market: at the next bar's open
    assert D(str(df.low.iloc[11])) <= _dec(res.fills.price.iloc[0]) <= D(str(df.high.iloc[11]))


def test_fill_model_is_used() -> None:
    df = _candles()
    ent, ext = _sma_signals(df)
    a = replay.run(df, M, cash="100000", entries=ent, exits=ext, size="1")
    b = replay.run(
        df, M, cash="100000", entries=ent, exits=ext, size="1", fill_model=FillModel(slippage_ticks=20, impact=D(0))
    )
    assert a.stats["final_equity"] != b.stats["final_equity"]
