"""Real browser (#17.7): a chart's title is never drawn over its legend.

Each figure is written as a self-contained HTML page (plotly.js inline, nothing fetched), opened in
Debian's chromium, and the rendered title (``.gtitle``) and legend (``.legend``) boxes are measured:
they must not intersect and both must lie inside the figure. The same measurement over the layout
the charts had before (plotly's default title place, legend at the top left above the plot) finds
the overlap the user saw, so the check can fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from kit.views import charts
from kit.views.research import walk_forward_figure
from tests.browser.conftest import CHROMIUM_ARGS, require_chromium

pytestmark = pytest.mark.browser

Box = dict[str, float]


def _candles() -> tuple[pd.DataFrame, pd.DataFrame]:
    idx = pd.date_range("2026-12-04", periods=90, freq="1min", tz="UTC")
    close = 60_000 + np.cumsum(np.sin(np.arange(90) / 7) * 20)
    df = pd.DataFrame({"open": close - 5, "high": close + 15, "low": close - 15, "close": close, "volume": 1.0},
                      index=idx)  # fmt: skip
    fills = pd.DataFrame({"side": ["buy", "sell"], "price": [close[10], close[60]], "amount": [0.01, 0.01]},
                         index=[idx[10], idx[60]])  # fmt: skip
    return df, fills


def _boxes(page: Any, fig: go.Figure, path: Path) -> tuple[Box, Box, Box]:
    path.write_text(fig.to_html(include_plotlyjs=True, full_html=True), encoding="utf-8")
    page.goto(path.as_uri())
    page.wait_for_selector(".gtitle")
    page.wait_for_selector(".legend")
    title, legend = page.locator(".gtitle").bounding_box(), page.locator(".legend").bounding_box()
    figure = page.locator(".main-svg").first.bounding_box()
    assert title and legend and figure, "the figure rendered without a title or a legend"
    return title, legend, figure


def _overlap(a: Box, b: Box) -> bool:
    return not (a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
                or a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"])  # fmt: skip


def _inside(a: Box, outer: Box) -> bool:
    left, top = a["x"] >= outer["x"] - 1, a["y"] >= outer["y"] - 1
    right = a["x"] + a["width"] <= outer["x"] + outer["width"] + 1
    bottom = a["y"] + a["height"] <= outer["y"] + outer["height"] + 1
    return left and top and right and bottom


@pytest.fixture(scope="module")
def page() -> Iterator[Any]:
    chromium = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        pg = browser.new_page(viewport={"width": 1100, "height": 800})
        outside: list[str] = []
        pg.on("request", lambda r: outside.append(r.url) if not r.url.startswith(("file:", "data:")) else None)
        try:
            yield pg
        finally:
            browser.close()
        assert outside == [], f"a chart page fetched from outside: {outside[:3]}"


def _figures() -> dict[str, go.Figure]:
    df, fills = _candles()
    table = pd.DataFrame({"test_start": pd.date_range("2026-11-01", periods=4, freq="7D", tz="UTC"),
                          "in_sample": [1.2, 0.8, 1.5, 0.9], "out_of_sample": [0.4, -0.2, 0.6, 0.1]})  # fmt: skip
    return {
        "candles": charts.candles(df, fills=fills, title="BTC/USDT 1m with our fills, as in notebook 03"),
        "walk_forward": walk_forward_figure(table, stat="Sharpe Ratio"),
    }


@pytest.mark.parametrize("name", ["candles", "walk_forward"])
def test_title_and_legend_do_not_overlap(page: Any, tmp_path: Path, name: str) -> None:
    title, legend, figure = _boxes(page, _figures()[name], tmp_path / f"{name}.html")
    assert not _overlap(title, legend), f"{name}: title {title} is drawn over the legend {legend}"
    assert _inside(title, figure) and _inside(legend, figure), f"{name}: title or legend cut off: {title} {legend}"


def test_the_measurement_finds_the_old_overlap(page: Any, tmp_path: Path) -> None:
    fig = _figures()["candles"]
    fig.update_layout(title={"text": fig.layout.title.text, "x": None, "xanchor": None, "xref": None, "y": None,
                             "yref": None, "yanchor": None, "pad": None},
                      margin={"t": 50}, legend={"orientation": "h", "y": 1.02, "x": 0, "xanchor": "left",
                                                 "yanchor": "bottom"})  # fmt: skip
    title, legend, _ = _boxes(page, fig, tmp_path / "old.html")
    assert _overlap(title, legend), "the old layout (title over the legend) is no longer detected"
