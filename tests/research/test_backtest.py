"""kit.research.backtest: the strategy's signals and its next() give the same trades; bad input fails early."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from research_helpers import MARKET, PARAMS, real_candles

from kit.errors import ConfigError, DataError
from kit.research import Data, backtest, run
from kit.strategy.examples import SmaCross


class SmaCrossNext(SmaCross):
    """The same strategy without its vectorised signals: the per-candle path."""

    signals = None  # type: ignore[assignment]


def test_signals_path_and_next_path_make_the_same_trades() -> None:
    candles = real_candles().iloc[:1500]
    fast = run(SmaCross, candles, MARKET, {"fast": 12, "slow": 48, **PARAMS}, cash="10")
    slow = run(SmaCrossNext, candles, MARKET, {"fast": 12, "slow": 48, **PARAMS}, cash="10")
    assert len(fast.trades) >= 10
    pd.testing.assert_frame_equal(fast.trades, slow.trades)
    pd.testing.assert_series_equal(fast.equity, slow.equity)
    assert fast.stats.drop("Sharpe Ratio").equals(slow.stats.drop("Sharpe Ratio"))


def test_backtest_reads_the_store_and_returns_stats_trades_and_one_linked_figure(stored: Data) -> None:
    r = backtest(SmaCross, data=stored, fast=12, slow=48, cash="10", **PARAMS)
    assert r.params["fast"] == 12 and r.strategy == "SmaCross"
    assert len(r.candles) == 5760 and len(r.trades) == int(r.stats["# Trades"]) > 20
    assert list(r.trades.columns[:8]) == [
        "entry_time", "exit_time", "entry_price", "exit_price", "size", "pnl", "return", "duration",
    ]  # fmt: skip
    assert (r.trades["exit_time"] >= r.trades["entry_time"]).all() and (r.trades["fees"] > 0).all()
    assert r.stats["Equity Final [$]"] == pytest.approx(float(r.equity.iloc[-1]))
    assert {"Sharpe Ratio", "Sortino Ratio", "Calmar Ratio", "SQN", "Profit Factor", "Fees [$]",
            "Slippage [$]", "Buy & Hold Return [%]", "Avg. Drawdown Duration"} <= set(r.stats.index)  # fmt: skip
    assert "SmaCross" in repr(r)


@pytest.mark.slow  # plotly builds five subplots in about 0.6 s: over the guard on a busy machine
def test_plot_is_one_figure_on_one_time_axis() -> None:
    r = run(SmaCross, real_candles().iloc[:800], MARKET, {"fast": 12, "slow": 48, **PARAMS}, cash="10")
    fig = r.plot()
    axes = {t.xaxis for t in fig.data}
    assert axes == {"x", "x2", "x3", "x4", "x5"}  # candles, equity, drawdown, trade P&L, volume
    assert {fig.layout[f"xaxis{i}"].matches for i in ("", 2, 3, 4)} == {"x5"}  # one linked time axis
    assert {t.name for t in fig.data} >= {"equity", "buy and hold", "entry", "exit", "trade P&L", "volume"}
    assert fig.layout.title.text == "ETH/BTC · SmaCross"


def test_strategy_by_name_and_bad_input_fail_before_reading(stored: Data, tmp_path: Path) -> None:
    r = backtest("kit.strategy.examples:SmaCross", data=stored, fast=5, slow=20, cash="10", **PARAMS)
    assert r.stats["# Trades"] > 0
    with pytest.raises(ConfigError, match="unknown parameter 'fats'"):
        backtest(SmaCross, data=stored, fats=5)
    with pytest.raises(ConfigError, match="not of the form"):
        backtest("SmaCross", data=stored)
    with pytest.raises(ConfigError, match="needs a symbol"):
        backtest(SmaCross)
    with pytest.raises(ConfigError, match="not a Strategy"):
        backtest(42, data=stored)  # type: ignore[arg-type]
    empty = Data(str(tmp_path), "test", "ETH/BTC", "5m", stored.start_ms, stored.end_ms, MARKET)
    with pytest.raises(DataError, match="no stored 5m candles"):
        backtest(SmaCross, data=empty)


def test_sma_rolling_means_are_cached_per_window_and_miss_when_the_candles_change() -> None:
    """A sweep's worker takes each window's rolling mean once; the cached array equals pandas' and is read-only."""
    import numpy as np

    from kit.strategy import examples

    candles = real_candles().iloc[:3000].copy()
    close = candles["close"].to_numpy(dtype="float64").copy()
    first = examples.rolling_mean(close, 30)
    assert examples.rolling_mean(close, 30) is first  # the same window again: the cached array
    np.testing.assert_array_equal(first, pd.Series(close).rolling(30).mean().to_numpy())
    assert not first.flags.writeable
    assert examples.rolling_mean(close, 31) is not first
    close[-1] *= 2  # the same array edited in place: its digest changes, the cache misses
    again = examples.rolling_mean(close, 30)
    assert again is not first and again[-1] != first[-1]
    examples._MEANS.clear()
    cold = SmaCross(fast=5, slow=30).signals(candles)
    warm = SmaCross(fast=5, slow=30).signals(candles)  # both windows from the cache now
    assert len(examples._MEANS) >= 2 and cold[0].sum() > 10
    np.testing.assert_array_equal(cold[0], warm[0])
    np.testing.assert_array_equal(cold[1], warm[1])
