"""The research statistics against backtesting.py's own ``compute_stats`` on the same trades and equity.

Both are handed identical inputs (the kit's round trips, equity curve and candles from a real
replay on real candles), so every statistic whose definition agrees must agree to 1e-9; the
only differences are the ones docs/research.md lists (``Fees [$]`` and ``Slippage [$]`` are the
kit's additions; backtesting.py's ``Commissions [$]`` appears only for its own Trade objects).
Skips when backtesting.py (the ``bench`` extra) or the shared candle data is absent.
"""

from __future__ import annotations

import math
import os
import warnings
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kit.engine import Market
from kit.research import run
from kit.research.stats import compute, drawdown_episodes, round_trips, trades_table
from kit.strategy.examples import SmaCross

DATA = Path(os.environ.get("KIT_SHARED_DATA") or Path(__file__).parents[2].parent / "shared" / "data")
D = Decimal
KIT_ONLY = {"Fees [$]", "Slippage [$]"}


def _real(name: str) -> pd.DataFrame:
    path = DATA / f"{name}.feather"
    if not path.exists():
        pytest.skip(f"real candle data is missing ({path})")
    return pd.read_feather(path).set_index("date")


def _reference(candles: pd.DataFrame, equity: pd.Series, trades: pd.DataFrame) -> pd.Series:
    stats_mod = pytest.importorskip("backtesting._stats")
    frame = pd.DataFrame({
        "Size": trades["size"], "EntryBar": trades["entry_bar"], "ExitBar": trades["exit_bar"],
        "EntryPrice": trades["entry_price"], "ExitPrice": trades["exit_price"], "SL": np.nan, "TP": np.nan,
        "PnL": trades["pnl"], "ReturnPct": trades["return"], "EntryTime": trades["entry_time"],
        "ExitTime": trades["exit_time"], "Duration": trades["duration"], "Tag": None,
    })  # fmt: skip
    ohlc = candles.rename(columns=str.capitalize)
    with warnings.catch_warnings():  # backtesting.py 0.6.6 reads DatetimeIndex.dayofweek (deprecated in pandas 3.1)
        warnings.simplefilter("ignore")
        return stats_mod.compute_stats(frame, equity.to_numpy(), ohlc, None, 0)


def _assert_same(ours: pd.Series, ref: pd.Series, *, differ: frozenset[str] = frozenset()) -> list[str]:
    compared = []
    for key, theirs in ref.items():
        if str(key).startswith("_") or key in differ:
            continue
        assert key in ours.index, f"backtesting.py has {key!r}, the kit does not"
        mine = ours[key]
        if mine is pd.NaT or theirs is pd.NaT:
            assert mine is theirs, (key, mine, theirs)
        elif isinstance(theirs, pd.Timedelta | pd.Timestamp) or isinstance(mine, pd.Timedelta | pd.Timestamp):
            assert mine == theirs or (pd.isna(mine) and pd.isna(theirs)), (key, mine, theirs)
        elif isinstance(theirs, float) and math.isnan(theirs):
            assert isinstance(mine, float) and math.isnan(mine), (key, mine)
        else:
            assert math.isclose(float(mine), float(theirs), rel_tol=1e-9, abs_tol=1e-9), (key, mine, theirs)
        compared.append(str(key))
    assert set(ours.index) - set(compared) == KIT_ONLY | differ
    return compared


@pytest.mark.parametrize(
    ("name", "market", "params"),
    [
        pytest.param("UNITTEST_BTC-1m",
                     Market("UNITTEST/BTC", "UNITTEST", "BTC", tick_size=D("0.00000001"), step_size=D("0.01")),
                     {"fast": 10, "slow": 30, "size": "1"}),
        ("ETH_BTC-5m", Market("ETH/BTC", "ETH", "BTC", tick_size=D("0.000001"), step_size=D("0.001")),
         {"fast": 12, "slow": 48, "size": "0.5"}),
    ],
)  # fmt: skip
@pytest.mark.slow  # importing backtesting.py (bokeh) takes seconds on a busy machine; the 1m case 1.2 s
def test_stats_equal_backtesting_py_on_the_same_trades(name: str, market: Market, params: dict[str, str]) -> None:
    candles = _real(name)
    r = run(SmaCross, candles, market, params, cash="10")
    assert len(r.trades) > 20  # a real test: many round trips, wins and losses
    assert (r.trades["pnl"] > 0).any() and (r.trades["pnl"] < 0).any()
    compared = _assert_same(r.stats, _reference(candles, r.equity, r.trades))
    assert {"Sharpe Ratio", "Sortino Ratio", "Calmar Ratio", "SQN", "Avg. Drawdown Duration"} <= set(compared)
    assert r.stats["Fees [$]"] > 0 and r.stats["Slippage [$]"] > 0


@pytest.mark.slow  # imports backtesting.py
def test_no_trades_and_a_last_bar_drawdown_agree_with_backtesting_py_but_for_its_float_durations() -> None:
    idx = pd.date_range("2024-01-01", periods=72, freq="1h", tz="UTC")
    candles = pd.DataFrame({"open": 1.0, "high": 1.0, "low": 1.0, "close": np.linspace(1, 2, 72), "volume": 1.0},
                           index=idx)  # fmt: skip
    equity = pd.Series(100.0, index=idx)
    equity.iloc[-1] = 90.0  # in drawdown only at the last bar: no drawdown episode has ended
    ours = compute(candles, equity, trades_table([]))
    durations = frozenset({"Max. Drawdown Duration", "Avg. Drawdown Duration"})
    ref = _reference(candles, equity, trades_table([]))
    _assert_same(ours, ref, differ=durations)
    # docs/research.md: backtesting.py puts the drawdown fraction (0.1) where a duration belongs; the kit says NaT
    assert ref["Max. Drawdown Duration"] == pytest.approx(0.1) and pd.isna(ours["Max. Drawdown Duration"])
    assert ours["Avg. Drawdown [%]"] == pytest.approx(-10.0) and ours["# Trades"] == 0


def test_round_trips_net_the_base_fee_and_value_the_dust() -> None:
    idx = pd.date_range("2024-01-01", periods=4, freq="1min", tz="UTC")
    candles = pd.DataFrame({"open": [10.0, 10.0, 12.0, 12.0]}, index=idx)
    fills = pd.DataFrame(
        {"side": ["buy", "sell"], "price": [10.1, 11.9], "quantity": [1.0, 0.999], "quote": [10.1, 11.8881],
         "fee": [0.001, 0.0118881], "fee_asset": ["X", "Y"], "liquidity": ["taker", "taker"]},
        index=idx[1:3] + pd.Timedelta("10s"),
    )  # fmt: skip
    trips = round_trips(fills, candles, base="X", flat_below=0.001)
    t = trades_table(trips, candles).iloc[0]
    assert (t.entry_bar, t.exit_bar) == (1, 2)
    assert t.fees == pytest.approx(0.001 * 10.1 + 0.0118881)
    assert t.slippage == pytest.approx(0.1 * 1.0 + 0.1 * 0.999)
    assert t.pnl == pytest.approx(11.8881 - 0.0118881 - 10.1)
    assert t["return"] == pytest.approx(t.pnl / 10.1)
    assert (t.entry_price, t.exit_price) == pytest.approx((10.1, 11.9))  # what the fills got, before fees
    # a trip that never closes is not a round trip
    assert round_trips(fills.iloc[:1], candles, base="X", flat_below=0.001) == []


def test_drawdown_episodes_end_at_recovery_or_at_the_last_bar() -> None:
    idx = pd.date_range("2024-01-01", periods=7, freq="1D")
    dur, depth = drawdown_episodes(pd.Series([0, 0.1, 0.3, 0, 0, 0.2, 0.1], index=idx))
    assert dur.dropna().tolist() == [pd.Timedelta("3D"), pd.Timedelta("2D")]
    assert depth.dropna().tolist() == [0.3, 0.2]


def test_bad_risk_free_rate_is_refused() -> None:
    idx = pd.date_range("2024-01-01", periods=3, freq="1D", tz="UTC")
    c = pd.DataFrame({"close": [1.0, 2, 3]}, index=idx)
    with pytest.raises(ValueError, match="annual fraction"):
        compute(c, pd.Series([1.0, 1, 1], index=idx), trades_table([]), risk_free_rate=5)


def _episodes_by_loop(dd: np.ndarray) -> list[tuple[int, int, float]]:
    """Drawdown episodes the plain way (a loop over the bars): (first bar, last bar, depth)."""
    out, start = [], None
    for i, v in enumerate(dd.tolist()):
        if v == 0:
            if start is not None and i > start + 1:
                out.append((start, i, max(dd[start : i + 1])))
            start = i
    if start is not None and len(dd) - 1 > start + 1:
        out.append((start, len(dd) - 1, max(dd[start:])))
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vectorised_drawdown_episodes_equal_a_loop_over_the_bars(seed: int) -> None:
    """The reduceat episodes against a bar-by-bar loop, on equity that is flat, at new peaks and in drawdown."""
    rng = np.random.default_rng(seed)
    steps = rng.choice([-1.0, 0.0, 0.0, 1.0], size=3000) * rng.random(3000)
    equity = 100 + np.cumsum(steps)
    dd = 1 - equity / np.maximum.accumulate(equity)
    idx = pd.date_range("2024-01-01", periods=len(dd), freq="1min", tz="UTC")
    dur, depth = drawdown_episodes(pd.Series(dd, index=idx))
    expected = _episodes_by_loop(dd)
    assert len(expected) > 20
    ends = np.flatnonzero(depth.notna().to_numpy())
    assert ends.tolist() == [e for _, e, _ in expected]
    assert depth.dropna().tolist() == [d for _, _, d in expected]
    assert dur.dropna().tolist() == [idx[e] - idx[s] for s, e, _ in expected]


def _daily_reference(candles: pd.DataFrame, equity: pd.Series) -> pd.Series:
    """The statistics built from calendar-day returns, the pandas way (resample, as backtesting.py does)."""
    days = equity.resample("D").last().dropna().pct_change().dropna()
    g = float(np.exp(np.log(1 + days).sum() / len(days)) - 1)
    annual = (1 + g) ** 365 - 1
    vol = np.sqrt((days.var(ddof=1) + (1 + g) ** 2) ** 365 - (1 + g) ** 730)
    downside = np.sqrt(np.mean(days.clip(-np.inf, 0) ** 2)) * np.sqrt(365)
    return pd.Series({"Return (Ann.) [%]": annual * 100, "Volatility (Ann.) [%]": vol * 100,
                      "Sharpe Ratio": annual / vol, "Sortino Ratio": annual / downside})  # fmt: skip


@pytest.mark.parametrize("tz", ["UTC", "Europe/Berlin"])
def test_daily_returns_by_day_buckets_equal_pandas_resample_with_missing_days(tz: str) -> None:
    """Integer UTC day buckets (no resample) give the resampled returns, also when whole days have no candle.

    A non-UTC index keeps pandas' resample (its days are local days): both are checked against the
    same pandas reference.
    """
    rng = np.random.default_rng(5)
    idx = pd.date_range("2024-03-20", periods=20 * 24 * 12, freq="5min", tz="UTC")
    keep = ~((idx >= "2024-03-25") & (idx < "2024-03-27 13:00"))  # two and a half days without candles
    idx = idx[keep].tz_convert(tz)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.002, len(idx))))
    candles = pd.DataFrame({"open": close, "high": close, "low": close, "close": close, "volume": 1.0}, index=idx)
    equity = pd.Series(1000 + np.cumsum(rng.normal(0, 1, len(idx))), index=idx)
    ours = compute(candles, equity, trades_table([]))
    ref = _daily_reference(candles, equity)
    for key, value in ref.items():
        assert math.isclose(ours[key], value, rel_tol=1e-12), (key, ours[key], value)


def test_beta_over_the_moving_candles_equals_np_cov() -> None:
    """Beta from the candles where the equity moves (market returns cached) equals ``np.cov`` over every candle."""
    rng = np.random.default_rng(9)
    n = 5000
    idx = pd.date_range("2024-01-01", periods=n, freq="1min", tz="UTC")
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
    held = (np.arange(n) // 400) % 2 == 1  # in the market one block in two: the equity is flat in between
    equity = 1000 + np.cumsum(np.where(held, np.diff(close, prepend=close[0]), 0.0))
    candles = pd.DataFrame({"open": close, "high": close, "low": close, "close": close, "volume": 1.0}, index=idx)
    e, m = np.log(equity[1:] / equity[:-1]), np.log(close[1:] / close[:-1])
    cov = np.cov(e, m)
    for _ in range(2):  # the second call takes the cached market returns
        s = compute(candles, pd.Series(equity, index=idx), trades_table([]))
        assert math.isclose(s["Beta"], cov[0, 1] / cov[1, 1], rel_tol=1e-9)
    candles.loc[idx[-1], "close"] *= 1.5  # the same frame edited in place: the cache must miss
    close2 = candles["close"].to_numpy()
    m2 = np.log(close2[1:] / close2[:-1])
    s = compute(candles, pd.Series(equity, index=idx), trades_table([]))
    cov2 = np.cov(e, m2)
    assert math.isclose(s["Beta"], cov2[0, 1] / cov2[1, 1], rel_tol=1e-9)


def _trips_by_loop(fills: pd.DataFrame, opens: np.ndarray, bars: np.ndarray, base: str, least: float) -> list[dict]:
    """Round trips fill by fill, the plain way: the oracle of the vectorised grouping."""
    out: list[dict] = []
    held, trip = 0.0, None
    for k, (side, price, qty, quote, fee, asset, liq) in enumerate(zip(
            fills["side"].astype(str), fills["price"], fills["quantity"], fills["quote"], fills["fee"],
            fills["fee_asset"].astype(str), fills["liquidity"].astype(str), strict=True)):  # fmt: skip
        if trip is None:
            trip = {"entry_bar": bars[k], "bought": 0.0, "cost": 0.0, "sold": 0.0, "proceeds": 0.0, "bq": 0.0,
                    "sq": 0.0, "fees": 0.0, "slippage": 0.0, "before": held}  # fmt: skip
        fb, fq = (fee, 0.0) if asset == base else (0.0, fee)
        trip["fees"] += fq + fb * price
        if liq == "taker":
            trip["slippage"] += (price - opens[bars[k]]) * qty if side == "buy" else (opens[bars[k]] - price) * qty
        if side == "buy":
            trip["bought"] += qty
            trip["bq"] += quote
            trip["cost"] += quote + fq
            held += qty - fb
        else:
            trip["sold"] += qty
            trip["sq"] += quote
            trip["proceeds"] += quote - fq
            held -= qty + fb
            if held < least:
                out.append({**trip, "exit_bar": bars[k], "after": held})
                trip = None
    return out


@pytest.mark.parametrize("params", [{"fast": 3, "slow": 12, "size": "40"}, {"fast": 12, "slow": 48, "size": "0.5"}])
def test_vectorised_round_trips_equal_a_fill_by_fill_loop_with_partial_fills(params: dict[str, str]) -> None:
    """The cumsum / bincount grouping gives the loop's floats exactly, with multi-fill entries and exits.

    A 40-ETH entry on 5m ETH/BTC candles outruns the volume cap, so trips are made of several fills.
    """
    from kit.engine import replay
    from kit.research.stats import bar_of, trades_from_fills

    candles = _real("ETH_BTC-5m").iloc[:1200]
    market = Market("ETH/BTC", "ETH", "BTC", tick_size=D("0.000001"), step_size=D("0.001"))
    entries, exits = SmaCross(fast=params["fast"], slow=params["slow"]).signals(candles)
    fills = replay.run(candles, market, cash="1000", entries=entries, exits=exits, size=params["size"]).fills
    bars = bar_of(fills.index, candles.index)
    ref = _trips_by_loop(fills, candles["open"].to_numpy(), bars, "ETH", 0.001)
    ours = trades_from_fills(fills, candles, base="ETH", flat_below=0.001)
    assert len(ours) == len(ref) > 10
    if params["size"] == "40":
        assert len(fills) > 2 * len(ours) + 10  # partial fills: more than two fills per trip
    assert ours["entry_bar"].tolist() == [t["entry_bar"] for t in ref]
    assert ours["exit_bar"].tolist() == [t["exit_bar"] for t in ref]
    assert ours["size"].tolist() == [t["bought"] for t in ref]
    assert ours["fees"].tolist() == [t["fees"] for t in ref]
    assert ours["slippage"].tolist() == [t["slippage"] for t in ref]
    exit_price = [t["sq"] / t["sold"] for t in ref]
    assert ours["exit_price"].tolist() == exit_price
    pnl = [t["proceeds"] - t["cost"] + (t["after"] - t["before"]) * p for t, p in zip(ref, exit_price, strict=True)]
    assert ours["pnl"].tolist() == pnl
