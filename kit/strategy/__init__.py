"""One strategy interface for replay, paper, testnet, live_small and live.

A strategy is a class with parameters as class attributes and a ``next()`` method called at
every candle's close (backtesting.py's shape, freqtrade's simplicity). The same class runs in
:func:`kit.engine.replay.run` (``strategy=SmaCross``) and forward under :mod:`kit.run`; the same
candles give the same decisions in both (``tests/run/test_identity.py`` proves it through real
ccxt against localnet).

This package is pure: it imports neither the Session nor ccxt, only :mod:`kit.errors`, numpy
and pandas. Orders leave a strategy as :class:`Decision` values handed to a :class:`Broker`: the
replay's context in research, a Session in :mod:`kit.run`.

>>> from decimal import Decimal
>>> class SmaCross(Strategy):
...     fast = 3
...     slow = 5
...     size = Decimal("0.01")
...
...     def next(self) -> None:
...         c = self.closes
...         if len(c) < self.slow:
...             return
...         up = c[-self.fast:].mean() > c[-self.slow:].mean()
...         if up and self.flat:
...             self.buy(self.size)
...         elif not up and not self.flat:
...             self.close_position()
>>> SmaCross(fast=2).params
{'fast': 2, 'size': Decimal('0.01'), 'slow': 5}
"""

from __future__ import annotations

from kit.strategy.base import Broker, Decision, Strategy, decision_id
from kit.strategy.feed import Feed
from kit.strategy.load import load_strategy, parse_params

__all__ = ["Broker", "Decision", "Feed", "Strategy", "decision_id", "load_strategy", "parse_params"]
