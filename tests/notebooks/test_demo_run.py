"""``kit demo`` (``make demo``) end to end: fresh localnet, notebooks 00-04 and the report, offline."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner
from harness import clean_env, environment
from lab.secretscan import scan_for_secrets, secrets_in_keys_files

from kit.cli.demo import NOTEBOOKS, Market, demo_candles, stage_gate
from kit.cli.main import cli

pytestmark = pytest.mark.slow


def test_demo_walks_every_stage_and_ends_with_the_report(tmp_path: Path) -> None:
    home = tmp_path / "user-home"  # the user's own KIT_HOME: the demo must not touch it
    out = tmp_path / "reports"
    with environment(clean_env(home)):
        result = CliRunner().invoke(cli, ["demo", "--out-dir", str(out)])
        assert "KIT_LOCALNET_URL" not in os.environ  # the demo's localnet is not left in the environment
    assert result.exit_code == 0, result.output
    assert not home.exists()
    lines = result.stdout.strip().splitlines()
    assert lines[-1] == f"Report: {out / 'daily.html'}"
    for name in NOTEBOOKS:
        assert any(line.strip().startswith(name) and line.endswith(" s") for line in lines), name
        nb = nbformat.read(out / "demo" / f"{name}.ipynb", as_version=4)
        errors = [o for c in nb.cells for o in c.get("outputs", []) if o["output_type"] == "error"]
        assert not errors, f"{name}: {errors[:1]}"
        assert (out / "demo" / f"{name}.html").is_file()
    assert (out / "demo" / "plotly.min.js").is_file()
    index = (out / "demo.html").read_text(encoding="utf-8")
    private = [p.name for p in (out / "demo.html", out / "daily.html") if p.stat().st_mode & 0o077]
    assert private == [], f"readable by others: {private}"  # 0600 like every report (#12)
    assert 'href="daily.html"' in index and 'href="demo/03_testnet_orders.html"' in index
    report = (out / "daily.html").read_text(encoding="utf-8")
    for heading in ("Account value", "Orders", "Fills, PnL and fees", "Guard trips", "Clock", "Rate limits"):
        assert heading in report
    assert "max_order_notional" in report and "kill switch" in report  # 04's refusals are in the report
    assert "refuse_secret_params(" not in report  # no code cells
    journal = out / ".kit" / "journal.sqlite"
    assert journal.is_file()  # the walk's journal lives with the demo
    # #12: every key and secret of the demo's localnets (its own and the rehearsal venue), in every form
    # kit.redact knows, is nowhere in what the demo wrote: notebooks, HTML, journal, request logs.
    secrets = secrets_in_keys_files(out)
    assert len(secrets) >= 4  # at least the demo localnet's trader key pair and the rehearsal's
    assert scan_for_secrets([out], secrets) == []


def test_demo_candles_are_the_same_on_every_run() -> None:
    a = demo_candles(now_ms=1_800_000_000_000, minutes=120)
    b = demo_candles(now_ms=1_900_000_000_000 + 17_000, minutes=120)
    for sym in a:
        assert a[sym].to_numpy().tolist() == b[sym].to_numpy().tolist()
        assert a[sym].index[-1] + (b[sym].index[-1] - a[sym].index[-1]) == b[sym].index[-1]
    assert a["BTCUSDT"]["close"].iloc[-1] == 60000.0  # the generator ends at the symbol's configured price


def test_market_refuses_anything_but_loopback() -> None:
    from kit.errors import ConfigError

    with pytest.raises(ConfigError):
        Market("https://api.binance.com")
    assert Market("http://127.0.0.1:1/").url == "http://127.0.0.1:1"


def test_stage_gate_reads_the_journal_without_writing(tmp_path: Path) -> None:
    from kit.journal.journal import Journal

    j = Journal(tmp_path / "journal.sqlite")
    ok, why = stage_gate("live_small", ["BTC/USDT"], journal=j)
    assert not ok and "0 of 3" in why
    for i in range(3):
        j.record_fill(venue="localnet", account="default", stage="testnet", symbol="BTC/USDT", client_id=f"c{i}",
                      order_id=str(i), trade_id=str(i), side="buy", price="100", amount="1", fee_cost=None,
                      fee_currency=None, ts_ms=1_800_000_000_000)  # fmt: skip
    ok, why = stage_gate("live_small", ["BTC/USDT"], journal=j, now_ms=1_800_000_001_000)
    assert ok, why
    assert len(j) == 3  # only the fills: the gate's decisions were not journaled
