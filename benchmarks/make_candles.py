"""Deterministic synthetic year of 1-minute candles for the benchmarks.

A geometric random walk whose log-volatility follows a slow AR(1) process (volatility
clustering, fat-tailed returns) plus an intraday activity cycle; prices sit on a 0.01 tick,
volume is positive, follows volatility and has random bursts. OHLC is consistent:
``low <= min(open, close)`` and ``high >= max(open, close)``; each open is the previous close.

Run as a script to cache the year to ``benchmarks/out/candles-1m.parquet``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path(__file__).resolve().parent / "out"
CANDLES = OUT / "candles-1m.parquet"
TICK = 0.01
START = "2024-01-01"
ROWS = 525_600  # 365 days of minutes


def _ar1(shocks: np.ndarray, phi: float) -> np.ndarray:
    """x[t] = phi * x[t-1] + shocks[t], in blocks (exact, vectorised within a block)."""
    out = np.empty_like(shocks)
    block = 512
    powers = phi ** np.arange(1, block + 1)
    prev = 0.0
    for start in range(0, len(shocks), block):
        s = shocks[start : start + block]
        n = len(s)
        p = powers[:n]
        # x[k] = phi^(k+1) * prev + sum_{j<=k} phi^(k-j) s[j]
        x = np.cumsum(s / p) * p + p * prev
        out[start : start + n] = x
        prev = x[-1]
    return out


def make_year(seed: int = 7, rows: int = ROWS) -> pd.DataFrame:
    """A year (by default) of 1-minute BTC-like candles, fully determined by ``seed``."""
    rng = np.random.default_rng(seed)
    minute = np.arange(rows)

    # log-volatility: slow AR(1) (half-life ~ 12 h) + faster AR(1) (~ 30 min) + intraday cycle
    slow = _ar1(rng.normal(0.0, 0.022, rows), 0.999)  # stationary sd ~ 0.5
    fast = _ar1(rng.normal(0.0, 0.09, rows), 0.977)  # stationary sd ~ 0.42
    cycle = 0.25 * np.sin(2 * np.pi * (minute % 1440) / 1440 - 1.2)
    log_vol = slow + fast + cycle
    mult = np.exp(log_vol)
    mult /= np.sqrt(np.mean(mult**2))  # unit mean variance: the annualised vol stays ~60 %
    base_sigma = 0.60 / np.sqrt(ROWS)
    sigma = base_sigma * mult

    # fat tails: Student-t(5) scaled to unit variance; log-price is a martingale (no drift)
    z = rng.standard_t(5, rows) / np.sqrt(5.0 / 3.0)
    log_ret = sigma * z
    close_raw = 42_000.0 * np.exp(np.cumsum(log_ret))
    close = np.maximum(np.round(close_raw / TICK), 1) * TICK
    open_ = np.empty(rows)
    open_[0] = np.round(42_000.0 / TICK) * TICK
    open_[1:] = close[:-1]

    # intrabar excursions beyond the body, scaled by the bar's volatility
    body_hi = np.maximum(open_, close)
    body_lo = np.minimum(open_, close)
    up = np.abs(rng.normal(0.0, 1.0, rows)) * sigma * 0.6
    down = np.abs(rng.normal(0.0, 1.0, rows)) * sigma * 0.6
    high = np.maximum(np.ceil(body_hi * (1 + up) / TICK) * TICK, body_hi)
    low = np.minimum(np.floor(body_lo * (1 - down) / TICK) * TICK, body_lo)
    low = np.maximum(low, TICK)
    # snap to the tick grid exactly (float noise from the multiplications above)
    open_, high, low, close = (np.round(a, 2) for a in (open_, high, low, close))

    # volume (base units): log-normal, rises with volatility and the size of the move, plus bursts
    move = np.abs(np.log(close / open_)) / sigma
    volume = np.exp(rng.normal(np.log(6.0), 0.6, rows)) * (sigma / base_sigma) ** 0.8 * (1 + 0.5 * move)
    bursts = rng.random(rows) < 0.004
    volume[bursts] *= rng.uniform(4.0, 25.0, bursts.sum())
    volume = np.round(np.maximum(volume, 0.001), 5)

    index = pd.date_range(START, periods=rows, freq="1min", tz="UTC", name="time")
    df = pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume},
        index=index,
        dtype="float64",
    )
    return df


def check(df: pd.DataFrame) -> None:
    """Raise if the candles are malformed."""
    assert df.index.tz is not None and df.index.is_monotonic_increasing
    assert (df["low"] <= df[["open", "close"]].min(axis=1)).all()
    assert (df["high"] >= df[["open", "close"]].max(axis=1)).all()
    assert (df["low"] > 0).all() and (df["volume"] > 0).all()
    for col in ("open", "high", "low", "close"):
        cents = df[col].to_numpy() / TICK
        assert np.allclose(cents, np.round(cents), atol=1e-6), col


def load(seed: int = 7, rows: int = ROWS) -> pd.DataFrame:
    """The cached year if present (default seed/rows only), else generate (and cache) it."""
    default = seed == 7 and rows == ROWS
    if default and CANDLES.exists():
        return pd.read_parquet(CANDLES)
    df = make_year(seed, rows)
    if default:
        OUT.mkdir(parents=True, exist_ok=True)
        df.to_parquet(CANDLES)
    return df


def main() -> int:
    t0 = time.perf_counter()
    df = make_year()
    check(df)
    OUT.mkdir(parents=True, exist_ok=True)
    df.to_parquet(CANDLES)
    ret = np.log(df["close"]).diff().dropna()
    print(
        f"wrote {CANDLES} ({len(df):,} rows, {time.perf_counter() - t0:.2f}s): "
        f"close {df['close'].iloc[0]:.2f} -> {df['close'].iloc[-1]:.2f}, "
        f"min {df['low'].min():.2f}, max {df['high'].max():.2f}, "
        f"annual vol {ret.std() * np.sqrt(len(df)):.0%}, kurtosis {ret.kurt():.1f}, "
        f"|ret| autocorr(lag 60) {ret.abs().autocorr(60):.2f}, median volume {df['volume'].median():.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
