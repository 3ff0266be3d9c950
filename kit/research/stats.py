"""Round trips from a replay's fills, and the statistics of a backtest (definitions in docs/research.md).

Pure functions over frames: no I/O. The statistics carry backtesting.py's names and definitions
(``Return (Ann.) [%]``, ``Sharpe Ratio``, ``SQN`` ...), so a backtesting.py user reads them as
they are used to, plus what the kit's fills add: fees and slippage paid.

>>> import pandas as pd
>>> idx = pd.date_range("2024-01-01", periods=4, freq="1D", tz="UTC")
>>> candles = pd.DataFrame({"open": [10.0, 11, 12, 11], "high": [11.0, 12, 13, 12], "low": [9.0, 10, 11, 10],
...                         "close": [11.0, 12, 11, 12], "volume": [1.0] * 4}, index=idx)
>>> equity = pd.Series([100.0, 110, 105, 115], index=idx)
>>> s = compute(candles, equity, trades_table([]))
>>> round(s["Return [%]"], 6), round(s["Max. Drawdown [%]"], 6), s["# Trades"]
(15.0, -4.545455, 0)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["TRADE_COLUMNS", "RoundTrip", "bar_of", "compute", "drawdown_episodes", "round_trips", "trades_table"]

#: Columns of :attr:`kit.research.Result.trades`, in order.
TRADE_COLUMNS = (
    "entry_time", "exit_time", "entry_price", "exit_price", "size", "pnl", "return", "duration",
    "fees", "slippage", "entry_bar", "exit_bar",
)  # fmt: skip


@dataclass
class RoundTrip:
    """One round trip: from a flat position to a position and back to flat."""

    entry_bar: int
    exit_bar: int = -1
    bought: float = 0.0  # base bought (gross of fees taken in the base)
    cost: float = 0.0  # quote paid for it
    sold: float = 0.0  # base sold
    proceeds: float = 0.0  # quote received, net of fees taken in the quote
    bought_quote: float = 0.0  # quote value of the buys at their prices (gross of fees)
    sold_quote: float = 0.0  # quote value of the sells at their prices (gross of fees)
    fees: float = 0.0  # every fee of the trip, in quote (a base fee valued at its fill price)
    slippage: float = 0.0  # taker fills against the open of their candle, in quote
    held_before: float = 0.0  # base held when it opened (fee dust below one tradable lot)
    held_after: float = 0.0  # base left when it closed


def round_trips(fills: pd.DataFrame, candles: pd.DataFrame, *, base: str, flat_below: float) -> list[RoundTrip]:
    """Group fills into round trips: a trip opens when the position reaches ``flat_below``, closes below it.

    ``fills`` is a replay's fills table (:attr:`kit.engine.replay.Result.fills`); the position is
    net of fees taken in the base asset, so a position left below ``flat_below`` (fee dust, which no
    order can sell) counts as flat, as it does for the replay's signals. A trip still open at the
    end is not returned (backtesting.py leaves open trades out of its statistics too).

    >>> idx = pd.date_range("2024-01-01", periods=3, freq="1min", tz="UTC")
    >>> c = pd.DataFrame({"open": [10.0, 10.0, 12.0]}, index=idx)
    >>> f = pd.DataFrame({"side": ["buy", "sell"], "price": [10.1, 11.9], "quantity": [1.0, 0.999],
    ...                   "quote": [10.1, 11.8881], "fee": [0.001, 0.0118881], "fee_asset": ["X", "Y"],
    ...                   "liquidity": ["taker", "taker"]}, index=idx[1:] + pd.Timedelta("30s"))
    >>> trips = round_trips(f, c, base="X", flat_below=0.001)
    >>> [(t.entry_bar, t.exit_bar, round(t.proceeds - t.cost, 6)) for t in trips]
    [(1, 2, 1.776212)]
    """
    if not len(fills):
        return []
    bars = bar_of(fills.index, candles.index)
    opens = candles["open"].to_numpy(dtype="float64")
    trips: list[RoundTrip] = []
    held = 0.0
    trip: RoundTrip | None = None
    buys = (fills["side"].astype(str).to_numpy() == "buy").tolist()
    in_base = (fills["fee_asset"].astype(str).to_numpy() == base).tolist()
    takers = (fills["liquidity"].astype(str).to_numpy() == "taker").tolist()
    nums = [fills[c].to_numpy(dtype="float64").tolist() for c in ("price", "quantity", "quote", "fee")]
    cols = zip(bars.tolist(), buys, *nums, in_base, takers, strict=True)
    for bar, buy, price, qty, quote, fee, fee_is_base, taker in cols:
        if trip is None:
            trip = RoundTrip(entry_bar=bar, held_before=held)
        fee_base = fee if fee_is_base else 0.0
        fee_quote = 0.0 if fee_is_base else fee
        trip.fees += fee_quote + fee_base * price
        if taker:
            trip.slippage += (price - opens[bar]) * qty if buy else (opens[bar] - price) * qty
        if buy:
            trip.bought += qty
            trip.bought_quote += quote
            trip.cost += quote + fee_quote
            held += qty - fee_base
        else:
            trip.sold += qty
            trip.sold_quote += quote
            trip.proceeds += quote - fee_quote
            held -= qty + fee_base
            if held < flat_below:
                trip.exit_bar, trip.held_after = bar, held
                trips.append(trip)
                trip = None
    return trips


def bar_of(times: Any, index: Any) -> np.ndarray:
    """The candle (position in ``index``) that each time in ``times`` falls in."""
    ts = pd.DatetimeIndex(index).as_unit("ms").asi8
    return np.asarray(np.searchsorted(ts, pd.DatetimeIndex(times).as_unit("ms").asi8, side="right") - 1)


def trades_table(trips: Sequence[RoundTrip], candles: pd.DataFrame | None = None) -> pd.DataFrame:
    """Round trips as the :attr:`Result.trades` frame (one row per trip, :data:`TRADE_COLUMNS`).

    ``entry_price`` and ``exit_price`` are the average prices the fills got (before fees); ``pnl`` is
    the quote received minus the quote paid, fees included, with the change in fee dust held valued
    at the exit price; ``return`` is ``pnl / cost`` (a fraction); times are the open times of the
    entry and exit candles, as backtesting.py's ``EntryTime`` and ``ExitTime``.
    """
    if not trips or candles is None:
        frame = pd.DataFrame({c: pd.Series(dtype="float64") for c in TRADE_COLUMNS})
        for c in ("entry_time", "exit_time"):
            frame[c] = pd.Series(dtype="datetime64[ms, UTC]")
        frame["duration"] = pd.Series(dtype="timedelta64[ms]")
        frame[["entry_bar", "exit_bar"]] = frame[["entry_bar", "exit_bar"]].astype("int64")
        return frame
    idx = candles.index
    entry_bar = np.array([t.entry_bar for t in trips], dtype="int64")
    exit_bar = np.array([t.exit_bar for t in trips], dtype="int64")
    bought = np.array([t.bought for t in trips])
    cost = np.array([t.cost for t in trips])
    proceeds = np.array([t.proceeds for t in trips])
    bought_quote = np.array([t.bought_quote for t in trips])
    exit_price = np.array([_vwap(t.sold_quote, t.sold) for t in trips])
    dust = np.array([t.held_after - t.held_before for t in trips])
    pnl = proceeds - cost + dust * exit_price
    frame = pd.DataFrame({
        "entry_time": idx[entry_bar], "exit_time": idx[exit_bar],
        "entry_price": np.divide(bought_quote, bought, out=np.zeros_like(cost), where=bought > 0),
        "exit_price": exit_price, "size": bought, "pnl": pnl,
        "return": np.divide(pnl, cost, out=np.zeros_like(pnl), where=cost > 0),
        "duration": idx[exit_bar] - idx[entry_bar],
        "fees": [t.fees for t in trips], "slippage": [t.slippage for t in trips],
        "entry_bar": entry_bar, "exit_bar": exit_bar,
    })  # fmt: skip
    return frame


def _vwap(quote: float, base: float) -> float:
    return quote / base if base > 0 else 0.0


def drawdown_episodes(dd: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Duration and depth of every drawdown episode, at the bar where each ends.

    ``dd`` is the drawdown (``1 - equity / running peak``, >= 0). An episode runs from the last bar
    at a peak (``dd == 0``) to the next one, or to the last bar; its duration is the time between
    those bars and its depth the largest ``dd`` in it. Both series are indexed like ``dd`` and NaN
    except at the bar where an episode ends (backtesting.py's ``compute_drawdown_duration_peaks``).

    >>> idx = pd.date_range("2024-01-01", periods=6, freq="1D")
    >>> dur, depth = drawdown_episodes(pd.Series([0, 0.1, 0.2, 0, 0.05, 0.0], index=idx))
    >>> dur.dropna().tolist(), depth.dropna().tolist()
    ([Timedelta('3 days 00:00:00'), Timedelta('2 days 00:00:00')], [0.2, 0.05])
    """
    values = dd.to_numpy(dtype="float64")
    n = len(values)
    marks = np.unique(np.r_[np.flatnonzero(values == 0), n - 1]) if n else np.array([], dtype="int64")
    durations = np.full(n, np.timedelta64("NaT", "ns"))
    depths = np.full(n, np.nan)
    starts, ends = marks[:-1], marks[1:]
    gaps = ends > starts + 1
    if not gaps.any():  # no episode ends after a peak: only a last bar below one can be in drawdown
        return pd.Series(durations, index=dd.index), dd.replace(0, np.nan).astype("float64")
    starts, ends = starts[gaps], ends[gaps]
    times = pd.DatetimeIndex(dd.index)
    durations[ends] = (times[ends] - times[starts]).to_numpy()
    depths[ends] = [values[s : e + 1].max() for s, e in zip(starts.tolist(), ends.tolist(), strict=True)]
    return pd.Series(durations, index=dd.index), pd.Series(depths, index=dd.index)


def _period(index: pd.DatetimeIndex) -> pd.Timedelta:
    """The candles' spacing: the median step of the last 100 (backtesting.py's rule)."""
    return pd.Series(index[-100:]).diff().dropna().median()


def _geometric_mean(returns: pd.Series) -> float:
    growth = returns.fillna(0).to_numpy(dtype="float64") + 1
    if np.any(growth <= 0):
        return 0.0
    return float(np.exp(np.log(growth).sum() / (len(growth) or np.nan)) - 1)


def _ceil(value: Any, period: pd.Timedelta) -> Any:
    if not isinstance(value, pd.Timedelta):
        return value
    return value.ceil(getattr(period, "resolution_string", None) or period.resolution)


def compute(candles: pd.DataFrame, equity: pd.Series, trades: pd.DataFrame, *, risk_free_rate: float = 0.0,
            fees: float | None = None, slippage: float | None = None) -> pd.Series:  # fmt: skip
    """The statistics of a backtest: backtesting.py's set, plus fees and slippage paid.

    Parameters
    ----------
    candles
        The candles replayed (UTC index; ``close`` is used for buy and hold and beta).
    equity
        Equity at each candle's close, in quote.
    trades
        Round trips (:func:`trades_table`).
    risk_free_rate
        Annual risk-free rate as a fraction, for Sharpe, Sortino and alpha.
    fees, slippage
        Totals in quote (default: the sums over ``trades``).

    Returns
    -------
    pandas.Series
        One value per statistic, named as backtesting.py names it (definitions: docs/research.md).
    """
    if not -1 < risk_free_rate < 1:
        raise ValueError(f"risk_free_rate is an annual fraction in (-1, 1), got {risk_free_rate}")
    with np.errstate(divide="ignore", invalid="ignore"):  # a ratio without data is NaN (or inf), as in backtesting.py
        return _compute(candles, equity, trades, risk_free_rate, fees, slippage)


def _compute(candles: pd.DataFrame, equity: pd.Series, trades: pd.DataFrame, risk_free_rate: float,
             fees: float | None, slippage: float | None) -> pd.Series:  # fmt: skip
    index = pd.DatetimeIndex(candles.index)
    eq = equity.to_numpy(dtype="float64")
    close = candles["close"].to_numpy(dtype="float64")
    n = len(eq)
    dd = 1 - eq / np.maximum.accumulate(eq)
    dd_duration, dd_depth = drawdown_episodes(pd.Series(dd, index=index))
    period = _period(index)
    pnl, ret, durations = trades["pnl"], trades["return"], trades["duration"]
    s: dict[str, Any] = {}
    s["Start"], s["End"] = index[0], index[-1]
    s["Duration"] = s["End"] - s["Start"]
    held = np.zeros(n, dtype="int64")
    for a, b in zip(trades["entry_bar"].tolist(), trades["exit_bar"].tolist(), strict=True):
        held[a : b + 1] = 1
    s["Exposure Time [%]"] = held.mean() * 100
    s["Equity Final [$]"] = eq[-1]
    s["Equity Peak [$]"] = eq.max()
    s["Fees [$]"] = float(trades["fees"].sum()) if fees is None else fees
    s["Slippage [$]"] = float(trades["slippage"].sum()) if slippage is None else slippage
    s["Return [%]"] = (eq[-1] - eq[0]) / eq[0] * 100
    s["Buy & Hold Return [%]"] = (close[-1] - close[0]) / close[0] * 100
    days = period.days
    per_year = {7: 52, 31: 12, 365: 1}.get(days)
    if per_year is None:
        weekends = index.day_of_week.to_series().between(5, 6).mean() > 2 / 7 * 0.6
        per_year = 365 if weekends else 252
    rule = {7: "W", 31: "ME", 365: "YE"}.get(days, "D")
    day_returns = equity.resample(rule).last().dropna().pct_change().dropna()
    g = _geometric_mean(day_returns)
    annual = (1 + g) ** per_year - 1
    s["Return (Ann.) [%]"] = annual * 100
    var = day_returns.var(ddof=int(bool(day_returns.shape)))
    s["Volatility (Ann.) [%]"] = np.sqrt((var + (1 + g) ** 2) ** per_year - (1 + g) ** (2 * per_year)) * 100
    years = (s["Duration"].days + s["Duration"].seconds / 86400) / 365.25
    s["CAGR [%]"] = ((eq[-1] / eq[0]) ** (1 / years) - 1) * 100 if years else np.nan
    s["Sharpe Ratio"] = (s["Return (Ann.) [%]"] - risk_free_rate * 100) / (s["Volatility (Ann.) [%]"] or np.nan)
    with np.errstate(divide="ignore"):
        downside = np.sqrt(np.mean(day_returns.clip(-np.inf, 0) ** 2)) * np.sqrt(per_year)
        s["Sortino Ratio"] = (annual - risk_free_rate) / downside
    max_dd = -np.nan_to_num(dd.max())
    s["Calmar Ratio"] = annual / (-max_dd or np.nan)
    with np.errstate(divide="ignore"):
        eq_log = np.log(eq[1:] / eq[:-1])
    mkt_log = np.log(close[1:] / close[:-1])
    beta = np.nan
    if len(eq_log) > 1:
        cov = np.cov(eq_log, mkt_log)
        beta = cov[0, 1] / cov[1, 1]
    s["Alpha [%]"] = s["Return [%]"] - risk_free_rate * 100 - beta * (s["Buy & Hold Return [%]"] - risk_free_rate * 100)
    s["Beta"] = beta
    s["Max. Drawdown [%]"] = max_dd * 100
    s["Avg. Drawdown [%]"] = -dd_depth.mean() * 100
    s["Max. Drawdown Duration"] = _ceil(dd_duration.max(), period)
    s["Avg. Drawdown Duration"] = _ceil(dd_duration.mean(), period)
    s["# Trades"] = n_trades = len(trades)
    win_rate = np.nan if not n_trades else (pnl > 0).mean()
    s["Win Rate [%]"] = win_rate * 100
    s["Best Trade [%]"] = ret.max() * 100
    s["Worst Trade [%]"] = ret.min() * 100
    s["Avg. Trade [%]"] = _geometric_mean(ret) * 100
    s["Max. Trade Duration"] = _ceil(durations.max(), period)
    s["Avg. Trade Duration"] = _ceil(durations.mean(), period)
    s["Profit Factor"] = ret[ret > 0].sum() / (abs(ret[ret < 0].sum()) or np.nan)
    s["Expectancy [%]"] = ret.mean() * 100
    s["SQN"] = np.sqrt(n_trades) * pnl.mean() / (pnl.std() or np.nan)
    s["Kelly Criterion"] = win_rate - (1 - win_rate) / (pnl[pnl > 0].mean() / -pnl[pnl < 0].mean())
    return pd.Series({k: v.item() if isinstance(v, np.generic) else v for k, v in s.items()}, dtype=object,
                     name="stats")  # fmt: skip
