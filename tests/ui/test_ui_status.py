"""The status bar: everything from Session.status(), coloured."""

from __future__ import annotations

from typing import Any

import pytest
from ui_helpers import wait_for

from kit.views.ui import StatusBar, status_html
from kit.views.ui._html import GREEN, ORANGE, RED


def test_status_bar_shows_stage_clock_budget_kill_switch_health(session: Any) -> None:
    bar = StatusBar(session, live=False)
    html = bar.html.value
    assert "localnet · testnet" in html and "#1565c0" in html  # testnet is blue
    st = session.status()
    budget = st["budget"]
    assert f"weight {budget['used']}/{budget['limit']} per min" in html
    assert f"clock {st['clock_offset_ms']:+d} ms" in html
    assert "kill switch off" in html and "healthy" in html
    assert "1 warning" in html  # the localnet key has no IP allowlist
    assert "kt-statusbar" in bar._dom_classes

    session.kill_switch.engage("drawdown alarm")
    session.degraded = "3 failed requests in a row (ExchangeUnavailable); new orders paused"
    try:
        bar.refresh()
        html = bar.html.value
        assert "KILL SWITCH: drawdown alarm" in html and "DEGRADED: 3 failed requests" in html
        assert html.count(RED) >= 2
    finally:
        session.kill_switch.reset()
        session.degraded = None
    bar.refresh()
    assert "kill switch off" in bar.html.value
    bar.close()


def test_status_bar_refreshes_while_displayed(session: Any) -> None:
    bar = StatusBar(session, interval_s=0.05)
    bar._repr_mimebundle_()
    assert bar._refresher.running
    session.kill_switch.engage("from another process")
    try:
        wait_for(lambda: "KILL SWITCH" in bar.html.value, timeout=5)
        assert "KILL SWITCH: from another process" in bar.html.value
    finally:
        session.kill_switch.reset()
        bar.close()
    assert not bar._refresher.running


@pytest.mark.parametrize(
    ("used", "color"),
    [(100, GREEN), (3000, ORANGE), (5000, RED)],
)
def test_budget_colors(used: int, color: str) -> None:
    html = status_html({"venue": "x", "stage": "live_small", "clock_offset_ms": 5,
                        "budget": {"used": used, "limit": 6000}})  # fmt: skip
    chip = html.split('class="kt-budget"')[1].split("</span>")[0]
    assert color in chip


@pytest.mark.parametrize(("offset", "color"), [(3, GREEN), (-400, ORANGE), (2500, RED)])
def test_clock_colors(offset: int, color: str) -> None:
    html = status_html({"venue": "x", "stage": "live", "clock_offset_ms": offset, "clock_rtt_ms": 9})
    chip = html.split('class="kt-clock"')[1].split("</span>")[0]
    assert color in chip and f"clock {offset:+d} ms (rtt 9 ms)" in chip


def test_missing_fields_render_neutral() -> None:
    html = status_html({"stage": "read_only"})
    assert "clock: not measured" in html and "rate budget: n/a" in html and "kill switch off" in html
