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

__all__ = [
    "TRADE_COLUMNS", "RoundTrip", "bar_of", "compute", "drawdown_episodes", "is_label", "round_trips",
    "trades_from_fills", "trades_table",
]  # fmt: skip

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


def round_trips(fills: pd.DataFrame, candles: pd.DataFrame, *, base: str, flat_below: float,
                bars: np.ndarray | None = None) -> list[RoundTrip]:  # fmt: skip
    """Group fills into round trips: a trip opens when the position reaches ``flat_below``, closes below it.

    ``fills`` is a replay's fills table (:attr:`kit.engine.replay.Result.fills`); the position is
    net of fees taken in the base asset, so a position left below ``flat_below`` (fee dust, which no
    order can sell) counts as flat, as it does for the replay's signals. A trip still open at the
    end is not returned (backtesting.py leaves open trades out of its statistics too). ``bars``:
    each fill's candle when the caller has them already (:func:`bar_of`).

    >>> idx = pd.date_range("2024-01-01", periods=3, freq="1min", tz="UTC")
    >>> c = pd.DataFrame({"open": [10.0, 10.0, 12.0]}, index=idx)
    >>> f = pd.DataFrame({"side": ["buy", "sell"], "price": [10.1, 11.9], "quantity": [1.0, 0.999],
    ...                   "quote": [10.1, 11.8881], "fee": [0.001, 0.0118881], "fee_asset": ["X", "Y"],
    ...                   "liquidity": ["taker", "taker"]}, index=idx[1:] + pd.Timedelta("30s"))
    >>> trips = round_trips(f, c, base="X", flat_below=0.001)
    >>> [(t.entry_bar, t.exit_bar, round(t.proceeds - t.cost, 6)) for t in trips]
    [(1, 2, 1.776212)]
    """
    cols = _trip_columns(fills, candles, base=base, flat_below=flat_below, bars=bars)
    lists = {k: v.tolist() for k, v in cols.items()}
    return [RoundTrip(**{k: lists[k][i] for k in lists}) for i in range(len(cols["entry_bar"]))]


def trades_from_fills(fills: pd.DataFrame, candles: pd.DataFrame, *, base: str, flat_below: float,
                      bars: np.ndarray | None = None) -> pd.DataFrame:  # fmt: skip
    """``trades_table(round_trips(...), candles)`` straight from the arrays, without a RoundTrip per trip.

    >>> idx = pd.date_range("2024-01-01", periods=3, freq="1min", tz="UTC")
    >>> c = pd.DataFrame({"open": [10.0, 10.0, 12.0]}, index=idx)
    >>> f = pd.DataFrame({"side": ["buy", "sell"], "price": [10.1, 11.9], "quantity": [1.0, 0.999],
    ...                   "quote": [10.1, 11.8881], "fee": [0.001, 0.0118881], "fee_asset": ["X", "Y"],
    ...                   "liquidity": ["taker", "taker"]}, index=idx[1:] + pd.Timedelta("30s"))
    >>> trades_from_fills(f, c, base="X", flat_below=0.001)[["entry_bar", "exit_bar", "size"]].values.tolist()
    [[1.0, 2.0, 1.0]]
    """
    return _trades_frame(_trip_columns(fills, candles, base=base, flat_below=flat_below, bars=bars), candles)


#: Fields of :class:`RoundTrip`, in order: the columns :func:`_trip_columns` returns.
_TRIP_FIELDS = ("entry_bar", "exit_bar", "bought", "cost", "sold", "proceeds", "bought_quote", "sold_quote", "fees",
                "slippage", "held_before", "held_after")  # fmt: skip


def _trip_columns(fills: pd.DataFrame, candles: pd.DataFrame, *, base: str, flat_below: float,
                  bars: np.ndarray | None) -> dict[str, np.ndarray]:  # fmt: skip
    """Every closed round trip's :class:`RoundTrip` fields as arrays (one element per trip), without a loop.

    The position after each fill is a running sum (``np.cumsum`` adds in order, as a loop would: the
    same floats); a sell that leaves it below ``flat_below`` closes a trip; each fill belongs to the
    trip of the closes before it, and the trip sums are ``np.bincount`` sums in fill order. Fills
    after the last close (a trip still open) are left out.
    """
    empty = {k: np.zeros(0, dtype="int64" if k.endswith("_bar") else "float64") for k in _TRIP_FIELDS}
    if not len(fills):
        return empty
    bars = bar_of(fills.index, candles.index) if bars is None else np.asarray(bars)
    buy = is_label(fills["side"], "buy")
    in_base = is_label(fills["fee_asset"], base)
    taker = is_label(fills["liquidity"], "taker")
    price, qty, quote, fee = (fills[c].to_numpy(dtype="float64") for c in ("price", "quantity", "quote", "fee"))
    fee_base = np.where(in_base, fee, 0.0)
    fee_quote = np.where(in_base, 0.0, fee)
    held = np.cumsum(np.where(buy, qty - fee_base, -(qty + fee_base)))
    closes = ~buy & (held < flat_below)
    ends = np.flatnonzero(closes)
    n = len(ends)
    if not n:
        return empty
    trip: np.ndarray = np.cumsum(closes, dtype="int64") - closes.astype("int64")  # closes before each fill
    keep = slice(0, int(ends[-1]) + 1)  # the fills of closed trips
    tk: np.ndarray = trip[keep]

    def total(w: np.ndarray) -> np.ndarray:
        return np.bincount(tk, weights=w[keep], minlength=n)

    opens = candles["open"].to_numpy(dtype="float64")[bars]
    slip = np.where(taker, np.where(buy, (price - opens) * qty, (opens - price) * qty), 0.0)
    starts = np.r_[0, ends[:-1] + 1]
    return {
        "entry_bar": bars[starts].astype("int64"), "exit_bar": bars[ends].astype("int64"),
        "bought": total(np.where(buy, qty, 0.0)), "cost": total(np.where(buy, quote + fee_quote, 0.0)),
        "sold": total(np.where(buy, 0.0, qty)), "proceeds": total(np.where(buy, 0.0, quote - fee_quote)),
        "bought_quote": total(np.where(buy, quote, 0.0)), "sold_quote": total(np.where(buy, 0.0, quote)),
        "fees": total(fee_quote + fee_base * price), "slippage": total(slip),
        "held_before": np.r_[0.0, held[ends[:-1]]], "held_after": held[ends],
    }  # fmt: skip


def is_label(column: pd.Series, label: str) -> np.ndarray:
    """``column == label`` as booleans: on a categorical column, one comparison of its codes (no strings built).

    >>> is_label(pd.Series(pd.Categorical(["buy", "sell", "buy"])), "buy").tolist()
    [True, False, True]
    """
    return np.asarray((column == label).to_numpy(dtype=bool))


def bar_of(times: Any, index: Any) -> np.ndarray:
    """The candle (position in ``index``) that each time in ``times`` falls in.

    Compared in the candles' own time unit when ``times`` has it (a replay's fills have), so the
    candles' index is not converted.

    >>> idx = pd.date_range("2024-01-01", periods=3, freq="1min", tz="UTC")
    >>> bar_of(idx[1:] + pd.Timedelta("30s"), idx).tolist()
    [1, 2]
    """
    candles = pd.DatetimeIndex(index)
    at = pd.DatetimeIndex(times)
    if at.unit != candles.unit:
        candles, at = candles.as_unit("ns"), at.as_unit("ns")
    return np.asarray(np.searchsorted(candles.asi8, at.asi8, side="right") - 1)


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
    return _trades_frame({k: np.array([getattr(t, k) for t in trips]) for k in _TRIP_FIELDS}, candles)


def _trades_frame(cols: dict[str, np.ndarray], candles: pd.DataFrame) -> pd.DataFrame:
    """The trades frame from :func:`_trip_columns`' arrays (or a list of trips made into arrays)."""
    if not len(cols["entry_bar"]):
        return trades_table([])
    idx = candles.index
    entry_bar, exit_bar = cols["entry_bar"].astype("int64"), cols["exit_bar"].astype("int64")
    bought, cost, sold = cols["bought"], cols["cost"], cols["sold"]
    exit_price = np.divide(cols["sold_quote"], sold, out=np.zeros_like(sold), where=sold > 0)
    pnl = cols["proceeds"] - cost + (cols["held_after"] - cols["held_before"]) * exit_price
    return pd.DataFrame({
        "entry_time": idx[entry_bar], "exit_time": idx[exit_bar],
        "entry_price": np.divide(cols["bought_quote"], bought, out=np.zeros_like(cost), where=bought > 0),
        "exit_price": exit_price, "size": bought, "pnl": pnl,
        "return": np.divide(pnl, cost, out=np.zeros_like(pnl), where=cost > 0),
        "duration": idx[exit_bar] - idx[entry_bar],
        "fees": cols["fees"], "slippage": cols["slippage"],
        "entry_bar": entry_bar, "exit_bar": exit_bar,
    })  # fmt: skip


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
    durations = np.full(n, np.timedelta64("NaT", "ns"))
    depths = np.full(n, np.nan)
    ep = _episodes(values, pd.DatetimeIndex(dd.index).as_unit("ns").asi8)
    if ep is None:  # no episode ends after a peak: only a last bar below one can be in drawdown
        return pd.Series(durations, index=dd.index), dd.replace(0, np.nan).astype("float64")
    ends, lengths, deepest = ep
    durations[ends] = lengths.astype("timedelta64[ns]")
    depths[ends] = deepest
    return pd.Series(durations, index=dd.index), pd.Series(depths, index=dd.index)


def _episodes(values: np.ndarray, ns: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The drawdown episodes of ``values`` (drawdown per bar) at times ``ns`` (int64 ns), vectorised.

    ``(ends, durations in ns, depths)``, one entry per episode, or None when no episode ends after
    a peak. Marks are the bars at a peak (``== 0``) and the last bar; an episode is a pair of
    consecutive marks with bars between them; its depth is the largest value from its first mark to
    its last, taken with one ``np.maximum.reduceat`` over all marks (no loop over episodes).
    """
    n = len(values)
    if n == 0:
        return None
    marks = np.flatnonzero(values == 0)
    if not len(marks) or marks[-1] != n - 1:
        marks = np.append(marks, n - 1)
    starts, ends = marks[:-1], marks[1:]
    gaps = ends > starts + 1
    if not gaps.any():
        return None
    # reduceat over [starts[k], starts[k + 1]) = [starts[k], ends[k]); the last segment runs to the end
    deepest = np.maximum(np.maximum.reduceat(values, starts), values[ends])
    starts, ends = starts[gaps], ends[gaps]
    return ends, ns[ends] - ns[starts], deepest[gaps]


def _period(index: pd.DatetimeIndex) -> pd.Timedelta:
    """The candles' spacing: the median step of the last 100 (backtesting.py's rule)."""
    return pd.Series(index[-100:]).diff().dropna().median()


def _geometric_mean(returns: Any) -> float:
    values = np.asarray(returns, dtype="float64")
    growth = np.where(np.isnan(values), 0.0, values) + 1
    if np.any(growth <= 0):
        return 0.0
    return float(np.exp(np.log(growth).sum() / (len(growth) or np.nan)) - 1)


def _period_returns(day: np.ndarray | None, equity: pd.Series, eq: np.ndarray, rule: str) -> np.ndarray:
    """Returns between the last equity of each calendar period (``rule``), as ``resample(rule).last()`` makes them.

    With ``day`` (each bar's UTC day number, for daily periods) the last bar of a day is where the day
    number changes, so no resampled frame is built; days without candles drop out, as ``.dropna()``
    drops them after pandas' resample. Weeks, months, years, other time zones and an equity with
    gaps (NaN) go through pandas.
    """
    if day is not None and len(eq) and not np.isnan(eq).any():
        ends = eq[np.append(np.flatnonzero(np.diff(day)), len(eq) - 1)]
        r = ends[1:] / ends[:-1] - 1
        return r[~np.isnan(r)]
    by = equity.resample(rule).last().dropna().pct_change().dropna()
    return by.to_numpy(dtype="float64")


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
    times = index.asi8  # in the index's own unit
    per_day = int(np.timedelta64(1, "D") // np.timedelta64(1, index.unit))
    eq = equity.to_numpy(dtype="float64")
    close = candles["close"].to_numpy(dtype="float64")
    n = len(eq)
    dd = 1 - eq / np.maximum.accumulate(eq)
    period = _period(index)
    pnl, ret, durations = trades["pnl"], trades["return"], trades["duration"]
    s: dict[str, Any] = {}
    s["Start"], s["End"] = index[0], index[-1]
    s["Duration"] = s["End"] - s["Start"]
    # bars inside a round trip (entry bar to exit bar inclusive): +1 at each entry, -1 after each exit
    marks = np.zeros(n + 1, dtype="int64")
    np.add.at(marks, trades["entry_bar"].to_numpy(dtype="int64"), 1)
    np.add.at(marks, trades["exit_bar"].to_numpy(dtype="int64") + 1, -1)
    s["Exposure Time [%]"] = (np.cumsum(marks[:n]) > 0).mean() * 100
    s["Equity Final [$]"] = eq[-1]
    s["Equity Peak [$]"] = eq.max()
    s["Fees [$]"] = float(trades["fees"].sum()) if fees is None else fees
    s["Slippage [$]"] = float(trades["slippage"].sum()) if slippage is None else slippage
    s["Return [%]"] = (eq[-1] - eq[0]) / eq[0] * 100
    s["Buy & Hold Return [%]"] = (close[-1] - close[0]) / close[0] * 100
    days = period.days
    utc = index.tz is None or str(index.tz) == "UTC"
    per_year = {7: 52, 31: 12, 365: 1}.get(days)
    if per_year is None:
        # 1970-01-01 was a Thursday (weekday 3): weekdays by integer days where the clock is UTC
        weekday = (times // per_day + 3) % 7 if utc else index.day_of_week
        per_year = 365 if (weekday >= 5).mean() > 2 / 7 * 0.6 else 252
    rule = {7: "W", 31: "ME", 365: "YE"}.get(days, "D")
    day_returns = _period_returns(times // per_day if utc and rule == "D" else None, equity, eq, rule)
    g = _geometric_mean(day_returns)
    annual = (1 + g) ** per_year - 1
    s["Return (Ann.) [%]"] = annual * 100
    var = day_returns.var(ddof=1) if len(day_returns) > 1 else np.nan
    s["Volatility (Ann.) [%]"] = np.sqrt((var + (1 + g) ** 2) ** per_year - (1 + g) ** (2 * per_year)) * 100
    years = (s["Duration"].days + s["Duration"].seconds / 86400) / 365.25
    s["CAGR [%]"] = ((eq[-1] / eq[0]) ** (1 / years) - 1) * 100 if years else np.nan
    s["Sharpe Ratio"] = (s["Return (Ann.) [%]"] - risk_free_rate * 100) / (s["Volatility (Ann.) [%]"] or np.nan)
    downside_sq = np.mean(np.minimum(day_returns, 0) ** 2) if len(day_returns) else np.nan
    s["Sortino Ratio"] = (annual - risk_free_rate) / (np.sqrt(downside_sq) * np.sqrt(per_year))
    max_dd = -np.nan_to_num(dd.max())
    s["Calmar Ratio"] = annual / (-max_dd or np.nan)
    s["Alpha [%]"], s["Beta"] = _alpha_beta(eq, close, s["Return [%]"], s["Buy & Hold Return [%]"], risk_free_rate)
    s["Max. Drawdown [%]"] = max_dd * 100
    ep = _episodes(dd, times)
    if ep is None:  # no episode has ended: the drawdown at the last bar, if any, is the only one
        below = dd[(dd != 0) & ~np.isnan(dd)]
        s["Avg. Drawdown [%]"] = -below.mean() * 100 if len(below) else np.nan
        s["Max. Drawdown Duration"] = s["Avg. Drawdown Duration"] = pd.NaT
    else:
        ends, lengths, deepest = ep
        lengths = lengths * int(np.timedelta64(1, index.unit) // np.timedelta64(1, "ns"))  # in ns
        s["Avg. Drawdown [%]"] = -deepest[~np.isnan(deepest)].mean() * 100
        s["Max. Drawdown Duration"] = _ceil(pd.Timedelta(int(lengths.max()), "ns"), period)
        # the mean as pandas takes it over the bar-indexed series in ns (a float64 sum, zeros between episodes)
        spread = np.zeros(n, dtype="int64")
        spread[ends] = lengths
        mean_ns = np.int64(spread.sum(dtype="float64") / len(lengths))
        s["Avg. Drawdown Duration"] = _ceil(pd.Timedelta(int(mean_ns), "ns"), period)
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


def _alpha_beta(eq: np.ndarray, close: np.ndarray, ret_pct: float, bh_pct: float, rf: float) -> tuple[float, float]:
    """Beta of the per-candle log returns of equity against the market's, and the alpha it leaves.

    ``beta = cov(e, m) / var(m)`` (both ddof 1, as ``np.cov``). A flat strategy's equity does not
    move, so ``e`` is zero on most candles: ``sum((e - mean e) x (m - mean m))`` is taken as
    ``sum(e x mc) - mean(e) x sum(mc)`` over the candles where ``e`` is not zero (``mc`` the
    centred market returns), which is the same sum without a pass over the flat candles.
    """
    beta = np.nan
    if len(eq) > 2:
        moved = np.flatnonzero(eq[1:] != eq[:-1])
        e = np.log(eq[1:][moved] / eq[:-1][moved])
        mc, mc_sum, mc_sq = _market_returns(close)
        e_mean = e.sum() / len(mc)
        beta = float((np.dot(e, mc[moved]) - e_mean * mc_sum) / mc_sq)
    return ret_pct - rf * 100 - beta * (bh_pct - rf * 100), beta


#: Centred log returns of the last few close arrays, by (memory address, length): a sweep replays the
#: same candles many times. Each entry holds its array, so the address cannot be reused while cached,
#: and a digest of the values (:func:`kit.engine.jit.fingerprint`), so an array edited in place misses.
_MARKET: dict[tuple[int, int], tuple[np.ndarray, int, tuple[np.ndarray, float, float]]] = {}


def _market_returns(close: np.ndarray) -> tuple[np.ndarray, float, float]:
    """``mc = log(close[1:] / close[:-1])`` minus its mean, its sum and ``sum(mc**2)``, once per close array."""
    from kit.engine import jit

    close = np.ascontiguousarray(close, dtype="float64")
    digest = jit.fingerprint(close)
    key = (close.__array_interface__["data"][0], len(close))
    hit = _MARKET.get(key)
    if digest is not None and hit is not None and hit[1] == digest:
        return hit[2]
    m = np.log(close[1:] / close[:-1])
    mc = m - m.mean()
    out = (mc, float(mc.sum()), float(np.dot(mc, mc)))
    if digest is not None:
        while len(_MARKET) >= 4:
            _MARKET.pop(next(iter(_MARKET)))
        _MARKET[key] = (close, digest, out)
    return out
