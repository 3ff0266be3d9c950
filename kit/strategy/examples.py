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
        c = candles["close"].to_numpy(dtype="float64")
        close = pd.Series(c)
        fast = close.rolling(self.fast).mean().to_numpy().copy()
        slow = close.rolling(self.slow).mean().to_numpy().copy()
        near = np.flatnonzero(np.abs(fast - slow) <= 1e-9 * np.abs(slow))
        for i in near.tolist():
            fast[i] = c[i + 1 - self.fast : i + 1].mean()
            slow[i] = c[i + 1 - self.slow : i + 1].mean()
        return fast > slow, fast < slow
