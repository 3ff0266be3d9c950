"""Shared strategy logic for the benchmarks: an SMA(20) / SMA(50) crossover.

Everything is computed once, vectorised, and handed to every library, so trade counts differ
only by execution semantics (fill rules, order handling), never by signal arithmetic.

Signal at bar ``i`` (decided at that bar's close):

* entry: ``fast[i] > slow[i]`` and ``fast[i-1] <= slow[i-1]`` (fast crosses above slow)
* exit:  ``fast[i] < slow[i]`` and ``fast[i-1] >= slow[i-1]`` (fast crosses below slow)

Bars where either SMA is not yet defined never signal.

Order logic every library implements the same way (at bar ``i``'s close, orders work from
bar ``i + 1``):

* exit signal: cancel a working (unfilled) entry; if long and no exit is working yet, sell the
  whole position (market, or limit at ``close * (1 + offset)``); an earlier unfilled exit keeps
  working at its price;
* entry signal, flat and nothing working: buy ``SIZE`` (market, or limit at
  ``close * (1 - offset)``).

This is what ``kit.engine.replay.run(entries=, exits=)`` does. Limit prices are rounded to the
0.01 tick in the passive direction (buys down, sells up); ``buy_limit`` / ``sell_limit`` give the
same prices as kit's ``Decimal(repr(close * 0.999))`` floored to the tick (checked on all
525,600 closes of the benchmark year).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

FAST = 20
SLOW = 50
SIZE = 0.01  # base units per entry
CASH = 1_000_000.0
COMMISSION = 0.001
LIMIT_OFFSET = 0.001
TICK = 0.01


def sma(values: np.ndarray, window: int) -> np.ndarray:
    """Simple moving average; NaN for the first ``window - 1`` values."""
    values = np.asarray(values, dtype="float64")
    out = np.full(values.shape, np.nan)
    if len(values) >= window:
        c = np.cumsum(np.insert(values, 0, 0.0))
        out[window - 1 :] = (c[window:] - c[:-window]) / window
    return out


@dataclass(frozen=True)
class Signals:
    """SMA arrays and boolean entry / exit arrays, aligned with the candles."""

    fast: np.ndarray
    slow: np.ndarray
    entries: np.ndarray
    exits: np.ndarray

    @property
    def count(self) -> tuple[int, int]:
        return int(self.entries.sum()), int(self.exits.sum())


def crossover(candles: pd.DataFrame, fast: int = FAST, slow: int = SLOW) -> Signals:
    """Crossover signals of the close, computed once with numpy."""
    close = candles["close"].to_numpy(dtype="float64")
    f = sma(close, fast)
    s = sma(close, slow)
    above = f > s  # False where NaN
    below = f < s
    prev_ok = np.zeros(len(close), dtype=bool)
    prev_ok[1:] = ~np.isnan(s[:-1])
    prev_above = np.zeros(len(close), dtype=bool)
    prev_above[1:] = above[:-1]
    prev_below = np.zeros(len(close), dtype=bool)
    prev_below[1:] = below[:-1]
    entries = above & ~prev_above & prev_ok
    exits = below & ~prev_below & prev_ok
    return Signals(f, s, entries, exits)


def buy_limits(close: np.ndarray, offset: float = LIMIT_OFFSET) -> np.ndarray:
    """``buy_limit`` for an array of closes."""
    return np.round(np.floor(np.round(close * (1 - offset) / TICK, 6)) * TICK, 2)


def sell_limits(close: np.ndarray, offset: float = LIMIT_OFFSET) -> np.ndarray:
    """``sell_limit`` for an array of closes."""
    return np.round(np.ceil(np.round(close * (1 + offset) / TICK, 6)) * TICK, 2)


def buy_limit(close: float, offset: float = LIMIT_OFFSET) -> float:
    """Buy limit ``close * (1 - offset)`` rounded down to the tick."""
    return round(np.floor(round(close * (1 - offset) / TICK, 6)) * TICK, 2)


def sell_limit(close: float, offset: float = LIMIT_OFFSET) -> float:
    """Sell limit ``close * (1 + offset)`` rounded up to the tick."""
    return round(np.ceil(round(close * (1 + offset) / TICK, 6)) * TICK, 2)
