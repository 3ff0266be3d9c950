"""``kit backtest`` and ``kit optimize`` against a localnet through real ccxt, and ``load()``'s market rules."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from lab.lab import Lab, open_lab

from kit.cli.main import cli
from kit.research import load


@pytest.fixture()
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Lab:
    with open_lab(tmp_path, monkeypatch, history_minutes=12 * 60) as lab:
        yield lab  # type: ignore[misc]


@pytest.mark.slow  # about 2.5 s: a Session connects and pages candles in
def test_load_builds_the_market_from_the_exchanges_filters_and_fills_the_store(lab: Lab, tmp_path: Path) -> None:
    now = lab.net.step(0)  # the stepped market clock, ms
    data = load("BTC/USDT", "5m", "-6h", "", store=tmp_path / "data", now=now)
    m = lab.session().market("BTC/USDT")
    assert data.market is not None
    assert data.market.tick_size == Decimal(str(m["precision"]["price"]))
    assert data.market.step_size == Decimal(str(m["precision"]["amount"]))
    assert data.market.taker_fee == Decimal(str(m["taker"]))
    candles = data.candles()  # read back from the store's partitions, offline
    assert len(candles) == 72 and candles.index[-1] - candles.index[0] == pd.Timedelta("355min")
    assert list((tmp_path / "data" / "candles").rglob("*.parquet"))


@pytest.mark.slow  # about 4 s: two commands, each reads candles through a Session
def test_backtest_and_optimize_commands_write_html_reports(lab: Lab, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "bt.html"
    args = ["--symbol", "BTC/USDT", "--timeframe", "5m", "--since", "-10h", "--store", str(tmp_path / "data")]
    r = runner.invoke(cli, ["backtest", "kit.strategy.examples:SmaCross", *args, "--param", "fast=6",
                            "--param", "slow=24", "--param", "size=0.01", "--out", str(out)])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "trades, return" in r.output and out.exists()
    page = out.read_text()
    assert "Sharpe Ratio" in page and "Round trips" in page and "plotly" in page
    out2 = tmp_path / "opt.html"
    r = runner.invoke(cli, ["optimize", "kit.strategy.examples:SmaCross", *args, "--param", "size=0.01",
                            "--grid", "fast=4,6", "--grid", "slow=12:24:12", "--scheduler", "inline",
                            "--maximize", "Return [%]", "--out", str(out2)])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "Optimization(4 combinations, 4 ok, 0 failed" in r.output
    assert "Heatmap" in out2.read_text()


def test_bad_input_is_refused_before_any_request(tmp_path: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(cli, ["backtest", "kit.strategy.examples:SmaCross", "--symbol", "BTC/USDT", "--param", "fats=1"])
    assert r.exit_code == 2 and "unknown parameter 'fats'" in r.output
    r = runner.invoke(cli, ["optimize", "kit.strategy.examples:SmaCross", "--symbol", "BTC/USDT",
                            "--grid", "fast=9:3"])  # fmt: skip
    assert r.exit_code == 2 and "not a range" in r.output
    r = runner.invoke(cli, ["optimize", "kit.strategy.examples:SmaCross", "--symbol", "BTC/USDT", "--grid", "fast=3",
                            "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"])  # fmt: skip
    assert r.exit_code == 2 and "not both" in r.output
