"""kit.views.report: papermill runs, HTML without code, failures that name their cell, secrets refused."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from harness import HERE

from kit.errors import ConfigError, ReportFailed
from kit.journal.journal import Journal
from kit.views.report import Activity, Check, checklist, notebook_parameters, period, run_report, to_html

FIXTURES = HERE / "fixtures"


@pytest.mark.slow  # starts a Jupyter kernel
def test_report_writes_executed_notebook_and_html_without_code(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    result = run_report(FIXTURES / "report_ok.ipynb", tmp_path, {"title": "weekly", "rows": 4})
    # The kernel talks over Unix sockets: no "Kernel is running over TCP without encryption" (#17.8).
    assert "without encryption" not in capfd.readouterr().err
    assert result.ipynb == tmp_path / "report_ok.ipynb" and result.html == tmp_path / "report_ok.html"
    nb = nbformat.read(result.ipynb, as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and 'title = "weekly"' in injected[0].source
    page = result.html.read_text(encoding="utf-8")
    assert "report weekly" in page  # the printed output
    for source in ("import pandas", "rows = 3", "go.Figure(", "refuse_secret_params("):  # no code cells
        assert source not in page
    assert 'id="kit-figure-1"' in page and "Plotly.newPlot" in page  # the figure, rendered
    assert re.search(r"plotly\.js v\d", page)  # plotly.js inline: the file works offline
    assert not re.search(r'<script[^>]+src="https?://', page)  # no script fetched from a CDN when viewed


@pytest.mark.slow  # starts a Jupyter kernel
def test_html_can_share_plotlyjs_from_the_directory(tmp_path: Path) -> None:
    result = run_report(FIXTURES / "report_ok.ipynb", tmp_path, plotlyjs="directory", name="shared")
    page = result.html.read_text(encoding="utf-8")
    assert '<script src="plotly.min.js"></script>' in page
    assert (tmp_path / "plotly.min.js").stat().st_size > 1_000_000
    with pytest.raises(ConfigError):
        to_html(result.ipynb, tmp_path / "x.html", plotlyjs="nowhere")


@pytest.mark.slow  # starts a Jupyter kernel
def test_failing_cell_raises_report_failed_and_keeps_the_partial_notebook(tmp_path: Path) -> None:
    with pytest.raises(ReportFailed) as info:
        run_report(FIXTURES / "report_broken.ipynb", tmp_path, {"column": "other"})
    err = info.value
    assert err.ename == "KeyError"
    kept = tmp_path / "report_broken.ipynb"
    assert str(kept) in str(err) and "KeyError" in str(err) and '{"present": 1}[column]' in str(err)
    nb = nbformat.read(kept, as_version=4)
    failing = nb.cells[err.cell_index]
    assert failing.source == '{"present": 1}[column]'
    assert [o["ename"] for o in failing.outputs if o["output_type"] == "error"] == ["KeyError"]
    ran = [c for c in nb.cells if c.cell_type == "code" and c.source == 'print("before the failure")'][0]
    assert ran.outputs[0]["text"] == "before the failure\n"  # what ran before the failure is kept
    assert not (tmp_path / "report_broken.html").exists()


@pytest.mark.parametrize(
    "params",
    [
        {"api_key": "abc"},
        {"exchange": "binance", "nested": {"secret": "x"}},
        {"note": "A" * 40},  # shaped like a key, whatever its name
    ],
)
def test_secret_parameters_are_refused_before_anything_runs(tmp_path: Path, params: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match="looks like a credential"):
        run_report(FIXTURES / "report_ok.ipynb", tmp_path, params)
    assert list(tmp_path.iterdir()) == []  # no kernel started, nothing written


@pytest.mark.slow  # starts a Jupyter kernel
def test_a_notebook_refuses_a_secret_that_bypasses_the_runner(tmp_path: Path) -> None:
    """The notebook's own check (the cell after the parameters) stops papermill run directly."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    with pytest.raises(PapermillExecutionError) as info:
        papermill.execute_notebook(str(FIXTURES / "report_ok.ipynb"), str(tmp_path / "out.ipynb"),
                                   parameters={"token": "t0ps3cret"}, progress_bar=False)  # fmt: skip
    assert info.value.ename == "ConfigError" and "looks like a credential" in info.value.evalue
    assert "t0ps3cret" not in info.value.evalue


def test_missing_notebook_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        run_report(tmp_path / "nope.ipynb", tmp_path)


def test_notebook_parameters_keep_plain_data_only() -> None:
    import json

    ns = {"symbol": "BTC/USDT", "n": 3, "flag": True, "items": [1], "_hidden": 1, "In": ["x"], "Out": {},
          "json": json, "f": print, "get_ipython": print}  # fmt: skip
    assert notebook_parameters(ns) == {"symbol": "BTC/USDT", "n": 3, "flag": True, "items": [1]}


@pytest.mark.parametrize(
    ("since", "until", "expected"),
    [
        ("", "", ("2024-06-02T09:30:00+00:00", "2024-06-03T09:30:00+00:00")),
        ("yesterday", "today", ("2024-06-02T00:00:00+00:00", "2024-06-03T00:00:00+00:00")),
        ("-12h", "2024-06-03T12:00", ("2024-06-03T00:00:00+00:00", "2024-06-03T12:00:00+00:00")),
        ("2024-06-01", "-1h", ("2024-06-01T00:00:00+00:00", "2024-06-03T08:30:00+00:00")),
        ("-90min", "now", ("2024-06-03T08:00:00+00:00", "2024-06-03T09:30:00+00:00")),
        ("2024-06-03T10:00+02:00", "", ("2024-06-03T08:00:00+00:00", "2024-06-03T09:30:00+00:00")),
    ],
)
def test_period(since: str, until: str, expected: tuple[str, str]) -> None:
    start, end = period(since, until, now="2024-06-03T09:30")
    assert (start.isoformat(), end.isoformat()) == expected


@pytest.mark.parametrize(("since", "until"), [("today", "yesterday"), ("soon", ""), ("-3y", "")])
def test_bad_periods_are_config_errors(since: str, until: str) -> None:
    with pytest.raises(ConfigError):
        period(since, until, now="2024-06-03T09:30")


def test_checklist_marks_and_fixes() -> None:
    html = checklist([Check("clock", True, "offset 3 ms"), Check("kill switch", False, "engaged", "rm the file"),
                      {"name": "IP allowlist", "ok": None, "detail": "none", "fix": "restrict it"}],
                     title="t").data  # fmt: skip
    assert "1 passed, 1 failed, 1 warning." in html  # one warning, not "1 warnings" (#17.6)
    assert "Fix: rm the file" in html and "Fix: restrict it" in html
    assert html.count("&#10004;") == 1 and html.count("&#10008;") == 1


def _journal(tmp_path: Path) -> Journal:
    j = Journal(tmp_path / "journal.sqlite")
    t = 1_717_400_000_000
    j.append("balance", venue="localnet", ts_ms=t, balances={"USDT": {"free": "1000", "used": "0", "total": "1000"}})
    j.append("intent", venue="localnet", stage="testnet", symbol="BTC/USDT", client_id="c1", side="buy",
             type="limit", amount=Decimal("0.02"), price=Decimal("100"), ts_ms=t + 1)  # fmt: skip
    j.append("ack", venue="localnet", stage="testnet", symbol="BTC/USDT", client_id="c1", order_id="7",
             status="open", ts_ms=t + 2)  # fmt: skip
    for i, (side, px) in enumerate([("buy", "100"), ("sell", "110")]):
        j.record_fill(venue="localnet", account="default", stage="testnet", symbol="BTC/USDT", client_id="c1",
                      order_id="7", trade_id=str(i), side=side, price=px, amount="0.01",
                      fee_cost="0.00001" if side == "buy" else "0.0011",
                      fee_currency="BTC" if side == "buy" else "USDT", ts_ms=t + 10 + i)  # fmt: skip
    j.append("guard", venue="localnet", stage="testnet", symbol="BTC/USDT", decision="refuse",
             rule="max_order_notional", detail="order notional over the per-order cap", ts_ms=t + 20)  # fmt: skip
    j.append("killswitch", venue="localnet", stage="testnet", engaged=True, reason="stop", ts_ms=t + 21)
    j.append("error", venue="localnet", stage="testnet", op="fetch_ticker", error_class="ExchangeUnavailable",
             message="503", ts_ms=t + 22)  # fmt: skip
    j.append("clock", venue="localnet", offset_ms=400, rtt_ms=3, ts_ms=t + 23)
    return j


def test_activity_tables(tmp_path: Path) -> None:
    j = _journal(tmp_path)
    a = Activity(j, *period("2024-06-03", "2024-06-04"))
    prices = {"BTC/USDT": Decimal("120")}
    orders = a.orders()
    assert orders[["status", "filled"]].values.tolist() == [["closed", 0.02]]  # filled from the journal's fills
    assert a.fills()["cost"].tolist() == [1.0, 1.1]
    pnl = a.pnl(prices).loc["BTC/USDT"]
    # sold 1.1 - bought 1.0 - fees (0.00001 BTC at the fill price 100 = 0.001, plus 0.0011) + 0 net x 120
    assert pnl["pnl"] == pytest.approx(0.0979) and pnl["net"] == 0.0
    fees = a.fees(prices)
    assert fees.loc["BTC", "in USDT"] == pytest.approx(0.0012) and fees.loc["USDT", "paid"] == pytest.approx(0.0011)
    value = a.account_value(prices)
    assert value.loc["USDT", "amount"] == pytest.approx(1000 - 1.0 + 1.1 - 0.0011)
    assert a.has_balance_snapshot()
    assert a.account_value(prices, balances={"BTC": "1"}).loc["BTC", "value (USDT)"] == 120.0
    trips = a.guard_trips()
    assert trips["rule"].tolist() == ["max_order_notional", "kill switch"]
    assert a.failures()["error"].tolist() == ["ExchangeUnavailable"]
    health = {c.name: c.ok for c in a.health()}
    assert health == {"Clock": False, "Rate limits": True, "Failed requests": True, "Guard trips": False}
    empty = Activity(j, *period("2024-01-01", "2024-01-02"))
    assert empty.orders().empty and empty.fills().empty and empty.guard_trips().empty and empty.clock().empty


def test_activity_reads_the_request_log(tmp_path: Path) -> None:
    from kit.transport.logs import RequestLog

    log = RequestLog(tmp_path / "logs")
    log.write("GET", "/api/v3/ticker/24hr?symbol=BTCUSDT", 200, weight=2, latency_ms=5.0)
    log.write("GET", "/api/v3/klines", 429, weight=2, latency_ms=1.0, error="RateLimited")
    a = Activity(Journal(tmp_path / "journal.sqlite"), *period("-1h", ""))
    req = a.requests()
    assert req["path"].tolist() == ["/api/v3/ticker/24hr", "/api/v3/klines"]
    rate = next(c for c in a.health() if c.name == "Rate limits")
    assert rate.ok is False and "1 answered 429/418" in rate.detail
    assert isinstance(req.index, pd.DatetimeIndex)


def test_fixture_notebooks_are_clean() -> None:
    for path in FIXTURES.glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), path
        assert any("parameters" in c.metadata.get("tags", []) for c in nb.cells), path
