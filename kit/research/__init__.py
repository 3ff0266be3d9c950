"""Research on stored candles: backtest a strategy, optimise its parameters, sweep on Dask.

A few lines, as a backtesting.py user expects (docs/research.md):

>>> from kit.research import backtest, load, optimize                                  # doctest: +SKIP
>>> data = load("BTC/USDT", "5m", since="-2d")                                         # doctest: +SKIP
>>> r = backtest("kit.strategy.examples:SmaCross", data=data, fast=12, slow=48)        # doctest: +SKIP
>>> r.stats; r.trades; r.plot()                                                        # doctest: +SKIP
>>> o = optimize("kit.strategy.examples:SmaCross", data, fast=range(5, 30, 5),
...              slow=range(20, 80, 10), maximize="Sharpe Ratio", workers=2)            # doctest: +SKIP
>>> o.best; o.heatmap("fast", "slow")                                                  # doctest: +SKIP

The strategy is the same :class:`kit.strategy.Strategy` that runs forward under :mod:`kit.run`.
"""

from __future__ import annotations

from kit.research.core import Result, backtest, run
from kit.research.data import Data, load
from kit.research.optimize import Optimization, WalkForward, grid, optimize, walk_forward
from kit.research.sweep import INLINE, cluster, sweep

__all__ = [
    "INLINE",
    "Data",
    "Optimization",
    "Result",
    "WalkForward",
    "backtest",
    "cluster",
    "grid",
    "load",
    "optimize",
    "run",
    "sweep",
    "walk_forward",
]
