"""Example strategies: the SMA crossover of notebook 02, ready for replay and ``kit run``.

>>> SmaCross().params
{'fast': 12, 'size': Decimal('0.001'), 'slow': 48}
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd

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

        Each window's mean is taken as ``next()`` takes it (``closes[-n:].mean()``), so both paths see
        the same comparisons and place the same orders (``tests/research/test_backtest.py``).
        """
        c = candles["close"].to_numpy(dtype="float64")
        n = len(c)
        fast, slow = np.full(n, np.nan), np.full(n, np.nan)
        if n >= self.slow:
            fast[self.fast - 1 :] = np.lib.stride_tricks.sliding_window_view(c, self.fast).mean(axis=1)
            slow[self.slow - 1 :] = np.lib.stride_tricks.sliding_window_view(c, self.slow).mean(axis=1)
        return fast > slow, fast < slow
