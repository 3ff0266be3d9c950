"""A run's state in the status bar and the daily report (through real ccxt on a stepped localnet)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from lab.lab import Lab

from kit.run import Runner
from kit.strategy import load_strategy
from kit.views.report import Activity
from kit.views.ui.status import StatusBar

Flip = load_strategy(f"{Path(__file__).resolve().parent / 'strategies.py'}:Flip")


def test_status_bar_and_daily_report_show_the_run(lab: Lab) -> None:
    s = lab.session()
    r = Runner(s, Flip, ["BTC/USDT"], name="flipper", poll_s=0.05, schedule="poll")
    r.prepare()
    lab.net.step(60_000)
    assert r.poll_once() == 1
    bar = StatusBar(s, live=False)
    runs = bar.last_status["runs"]
    assert [(x["name"], x["state"], x["orders_sent"]) for x in runs] == [("flipper", "running", 1)]
    assert "run flipper: running · 1 orders" in bar.html.value
    r.stop()
    bar.refresh()
    assert "run flipper: stopped" in bar.html.value
    now = pd.Timestamp.now(tz="UTC")
    act = Activity(s.journal, now - pd.Timedelta(days=1), now + pd.Timedelta(days=1), venue=s.venue)
    table = act.runs()
    assert table.loc["flipper", "state"] == "stopped" and table.loc["flipper", "sent"] == 1
    checks = act.run_checks()
    assert [(c.name, c.ok) for c in checks] == [("Strategy run", True)]
    s.journal.append("run", venue=s.venue, account=s.account, run="flipper", state="failed", reason="boom")
    act = Activity(s.journal, now - pd.Timedelta(days=1), now + pd.Timedelta(days=1), venue=s.venue)
    assert [c.ok for c in act.run_checks()] == [False] and "flipper: failed (boom)" in act.run_checks()[0].detail


def test_run_view_shows_state_positions_equity_and_decisions(lab: Lab) -> None:
    from kit.views.ui.runview import RunView

    s = lab.session()
    r = Runner(s, Flip, ["BTC/USDT"], name="viewed", poll_s=0.05, schedule="poll")
    r.prepare()
    for _ in range(3):
        lab.net.step(60_000)
        assert r.poll_once() == 1
    view = RunView(r, live=False)
    html = view.html.value
    assert "run viewed: running" in html and "3 candles · 3 decisions · 3 orders" in html
    assert "kt-run-decisions" in html and html.count("<td>buy</td>") == 2 and html.count("<td>sell</td>") == 1
    assert r.status()["positions"]["BTC/USDT"] == str(r.broker.position("BTC/USDT")) != "0"
    fig = view.figure()
    assert [t.name for t in fig.data] == ["close", "buy", "sell"] and len(fig.data[1].x) == 2
    r.stop()
    view.refresh()
    assert "run viewed: stopped" in view.html.value
