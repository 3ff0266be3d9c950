"""Backtest a strategy on stored candles in a few lines: statistics, round trips and one linked figure.

The strategy is the one interface that also runs forward (:class:`kit.strategy.Strategy`); the
replay is :func:`kit.engine.replay.run`, with its conservative fills, fees and exact balances.
A strategy class that also has a vectorised ``signals(candles) -> (entries, exits)`` method (as
:class:`kit.strategy.examples.SmaCross` has) takes the replay's signals fast path, with the same
fills as its ``next()`` would get; any other takes the per-candle path.

>>> from kit.research import backtest                                                    # doctest: +SKIP
>>> r = backtest("kit.strategy.examples:SmaCross", symbol="BTC/USDT", timeframe="5m",
...              since="-2d", fast=12, slow=48)                                          # doctest: +SKIP
>>> r.stats["Sharpe Ratio"], len(r.trades)                                               # doctest: +SKIP
>>> r.plot()                                                                             # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from kit.engine import replay
from kit.engine.fillmodel import FillModel
from kit.engine.types import Market
from kit.errors import ConfigError
from kit.research.data import Data, load
from kit.research.stats import bar_of, compute, is_label, trades_from_fills
from kit.strategy import Strategy, load_strategy

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["Result", "backtest", "resolve", "run"]


@dataclass
class Result:
    """What :func:`backtest` returns.

    Attributes
    ----------
    stats
        backtesting.py's statistics plus ``Fees [$]`` and ``Slippage [$]`` (docs/research.md).
    trades
        Round trips: entry and exit time and price, size, pnl, return, duration, fees, slippage.
    equity
        Equity (quote) at each candle's close.
    candles
        The candles replayed.
    fills, orders
        The replay's fills and orders.
    strategy, params
        The strategy's name and the parameters it ran with.
    market
        The market's rules the replay used.
    """

    stats: pd.Series
    trades: pd.DataFrame
    equity: pd.Series
    candles: pd.DataFrame
    fills: pd.DataFrame
    orders: pd.DataFrame
    strategy: str
    params: dict[str, Any]
    market: Market = field(repr=False)

    def __repr__(self) -> str:
        s = self.stats
        return (f"Result({self.strategy}: {s['# Trades']} trades, return {s['Return [%]']:.3f} %, "
                f"Sharpe {s['Sharpe Ratio']:.3f}, max drawdown {s['Max. Drawdown [%]']:.3f} %)")  # fmt: skip

    @property
    def drawdown(self) -> pd.Series:
        """Drawdown at each close, as a fraction (``equity / running peak - 1``, <= 0)."""
        return self.equity / self.equity.cummax() - 1

    def plot(self, *, title: str | None = None) -> go.Figure:
        """One linked figure: candles with trades, equity against buy and hold, drawdown, trade P&L, volume."""
        from kit.views.research import backtest_figure

        name = title or f"{self.market.symbol} · {self.strategy}"
        return backtest_figure(self.candles, self.equity, self.trades, self.fills, title=name)


def resolve(strategy: type[Strategy] | Strategy | str) -> type[Strategy]:
    """The strategy class from a class, an instance or ``"module:Name"`` / ``"file.py:Name"``."""
    if isinstance(strategy, str):
        return load_strategy(strategy)
    if isinstance(strategy, Strategy):
        return type(strategy)
    if isinstance(strategy, type) and issubclass(strategy, Strategy):
        return strategy
    raise ConfigError(f"{strategy!r} is not a Strategy",
                      hint="Pass a kit.strategy.Strategy subclass or 'module:ClassName'.")  # fmt: skip


def run(strategy: type[Strategy] | Strategy | str, candles: pd.DataFrame, market: Market,
        params: Mapping[str, Any] | None = None, *, cash: Decimal | str | int = "10000",
        fill_model: FillModel | None = None, risk_free_rate: float = 0.0) -> Result:  # fmt: skip
    """Backtest on candles in hand (what :func:`backtest` does once it has read them).

    >>> from decimal import Decimal
    >>> from kit.strategy.examples import SmaCross
    >>> idx = pd.date_range("2024-01-01", periods=400, freq="1h", tz="UTC")
    >>> close = 100 + 10 * np.sin(np.arange(400) / 20)
    >>> c = pd.DataFrame({"open": close, "high": close + 1, "low": close - 1, "close": close,
    ...                   "volume": 1000.0}, index=idx)
    >>> m = Market("BTC/USDT", "BTC", "USDT", tick_size=Decimal("0.01"), step_size=Decimal("0.001"))
    >>> r = run(SmaCross, c, m, {"fast": 5, "slow": 20, "size": "1"})
    >>> int(r.stats["# Trades"]), list(r.trades.columns[:4])
    (3, ['entry_time', 'exit_time', 'entry_price', 'exit_price'])
    """
    cls = resolve(strategy)
    inst = cls(**dict(params or {}))
    signals = getattr(inst, "signals", None)
    if callable(signals):
        entries, exits = signals(candles)
        size = getattr(inst, "size", None)
        if size is None:
            raise ConfigError(f"{cls.__name__} has signals() but no size parameter",
                              hint="Give the strategy a `size` parameter (base amount per entry).")  # fmt: skip
        rep = replay.run(candles, market, cash=cash, entries=entries, exits=exits, size=Decimal(str(size)),
                         fill_model=fill_model)  # fmt: skip
    else:
        rep = replay.run(candles, market, cash=cash, strategy=inst, fill_model=fill_model)
    bars = bar_of(rep.fills.index, candles.index)
    trades = trades_from_fills(rep.fills, candles, base=market.base, flat_below=float(market.step_size), bars=bars)
    fees = float(rep.stats["fees"])
    slippage = _slippage(rep.fills, candles, bars)
    stats = compute(candles, rep.equity, trades, risk_free_rate=risk_free_rate, fees=fees, slippage=slippage)
    return Result(stats, trades, rep.equity, candles, rep.fills, rep.orders, cls.__name__, inst.params, market)


def _slippage(fills: pd.DataFrame, candles: pd.DataFrame, bars: np.ndarray) -> float:
    """Quote paid against the open of each taker fill's candle (``bars``; market orders; limits pay none)."""
    if not len(fills):
        return 0.0
    opens = candles["open"].to_numpy(dtype="float64")[bars]
    sign = np.where(is_label(fills["side"], "buy"), 1.0, -1.0)
    taker = is_label(fills["liquidity"], "taker")
    paid = sign * (fills["price"].to_numpy() - opens) * fills["quantity"].to_numpy()
    return float(paid[taker].sum())


def backtest(strategy: type[Strategy] | Strategy | str, *, symbol: str | None = None, timeframe: str | None = None,
             since: Any = "", until: Any = "", exchange: str = "localnet", store: str | Path = "data",
             cash: Decimal | str | int = "10000", data: Data | None = None, fill_model: FillModel | None = None,
             risk_free_rate: float = 0.0, now: Any = None, params: Mapping[str, Any] | None = None,
             **kwargs: Any) -> Result:  # fmt: skip
    """Backtest ``strategy`` on stored candles of ``symbol``; parameters as keywords.

    Parameters
    ----------
    strategy
        A :class:`kit.strategy.Strategy` subclass (or instance, or ``"module:Name"``).
    symbol, timeframe, since, until
        What to replay (``timeframe`` defaults to the strategy's); times as :func:`load` reads them.
    exchange, store, now
        Where the candles and the market's rules come from (:func:`load`).
    cash
        Starting quote balance.
    data
        Instead of symbol/timeframe/period: a :class:`Data` from :func:`load`.
    fill_model
        The engine's fill model (conservative by default).
    risk_free_rate
        Annual, as a fraction (Sharpe, Sortino, alpha).
    params, **kwargs
        Strategy parameters (``fast=10``); unknown names raise a ConfigError.

    Returns
    -------
    Result
    """
    cls = resolve(strategy)
    merged = {**dict(params or {}), **kwargs}
    cls(**merged)  # unknown or mistyped parameters fail here, before any request
    if data is None:
        if not symbol:
            raise ConfigError(
                "backtest needs a symbol", hint="Pass symbol='BTC/USDT' (or data=kit.research.load(...))."
            )
        data = load(symbol, timeframe or cls.timeframe, since, until, exchange=exchange, store=store, now=now)
    return run(cls, data.candles(), data.need_market(), merged, cash=cash, fill_model=fill_model,
               risk_free_rate=risk_free_rate)  # fmt: skip
