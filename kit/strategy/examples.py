"""Example strategies: the SMA crossover of notebook 02, ready for replay and ``kit run``.

>>> SmaCross().params
{'fast': 12, 'size': Decimal('0.001'), 'slow': 48}
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd

from kit.errors import ConfigError
from kit.strategy.base import Strategy

__all__ = ["SmaCross"]


class SmaCross(Strategy):
    """Long when the fast simple moving average of closes is above the slow one, flat otherwise.

    Market orders of ``size`` base; the exit sells the whole position (rounded down to the step).
    """

    fast = 12
    slow = 48
    size = Decimal("0.001")

    def next(self) -> None:
        """Enter on fast > slow when flat, exit on fast < slow when long."""
        c = self.closes
        if len(c) < self.slow:
            return
        fast, slow = c[-self.fast :].mean(), c[-self.slow :].mean()
        if fast > slow and self.flat and self.open_orders == 0:
            self.buy(self.size)
        elif fast < slow and not self.flat:
            self.close_position()

    def signals(self, candles: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """The same rule over all candles at once: ``(entries, exits)`` for the replay's signals path.

        Rolling means in O(n) (pandas) keep a sweep over long windows cheap; where the two averages
        come within 1e-9 of each other (flat prices, ties) they are taken again exactly as ``next()``
        takes them (``closes[-n:].mean()``), so both paths take the same decisions bit for bit
        (``tests/research/test_backtest.py``).
        """
        if self.fast < 1 or self.slow < 1:
            raise ConfigError(f"SmaCross windows must be at least one candle, got fast={self.fast}, slow={self.slow}",
                              hint="Give fast and slow of 1 or more.")  # fmt: skip
        c = np.ascontiguousarray(candles["close"].to_numpy(dtype="float64"))
        fast, slow = rolling_mean(c, self.fast), rolling_mean(c, self.slow)
        near = np.flatnonzero(np.abs(fast - slow) <= 1e-9 * np.abs(slow))
        if len(near):
            fast, slow = fast.copy(), slow.copy()
        for i in near.tolist():
            fast[i] = c[i + 1 - self.fast : i + 1].mean()
            slow[i] = c[i + 1 - self.slow : i + 1].mean()
        return fast > slow, fast < slow


#: Rolling means of recent close arrays, by (memory address, length, window), least recently used first.
#: Each entry holds its close array (so the address is not reused while cached) and a digest of its
#: values (an array edited in place misses); about 4 MB per window for a year of minutes.
_MEANS: dict[tuple[int, int, int], tuple[np.ndarray, int | None, np.ndarray]] = {}
#: Bytes of rolling means kept per process (a 500-combination sweep of 45 windows over a year: ~190 MB).
MEANS_BUDGET = 256 * 2**20


def rolling_mean(close: np.ndarray, window: int) -> np.ndarray:
    """``pandas.Series(close).rolling(window).mean()`` as an array, cached per close array and window (read-only).

    A parameter sweep asks for the same windows of the same candles again and again: a worker
    computes each window once (``SmaCross`` over a grid of 25 fast x 20 slow windows: 45 rolling
    means instead of 1,000). The digest is :func:`kit.engine.jit.fingerprint` (None without numba:
    no caching then).

    >>> rolling_mean(np.array([1.0, 2, 3, 4]), 2).tolist()
    [nan, 1.5, 2.5, 3.5]
    """
    from kit.engine import jit

    digest = jit.fingerprint(close)
    key = (close.__array_interface__["data"][0], len(close), window)
    hit = _MEANS.pop(key, None)
    if hit is not None and digest is not None and hit[1] == digest:
        _MEANS[key] = hit  # most recently used last
        return hit[2]
    mean = pd.Series(close).rolling(window).mean().to_numpy()
    mean.flags.writeable = False
    if digest is not None and mean.nbytes <= MEANS_BUDGET:
        while _MEANS and sum(v[2].nbytes for v in _MEANS.values()) + mean.nbytes > MEANS_BUDGET:
            _MEANS.pop(next(iter(_MEANS)))
        _MEANS[key] = (close, digest, mean)
    return mean
