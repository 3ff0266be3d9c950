"""Example strategies: the SMA crossover of notebook 02, ready for replay and ``kit run``.

>>> SmaCross().params
{'fast': 12, 'size': Decimal('0.001'), 'slow': 48}
"""

from __future__ import annotations

from decimal import Decimal

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
