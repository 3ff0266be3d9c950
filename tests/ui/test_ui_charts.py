"""kit.views.charts: figures with the expected traces, from real localnet candles and journaled fills."""

from __future__ import annotations

import doctest
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

import kit.views.charts
import kit.views.ui._html
import kit.views.ui.status
from kit.errors import DataError
from kit.views.charts import candles, coverage, equity, fills_frame


def test_candles_with_volume_and_fill_markers(session: Any) -> None:
    df = session.candles("BTC/USDT", "1m", limit=60)
    session.place("BTC/USDT", "buy", "0.002")
    session.place("BTC/USDT", "sell", "0.001")
    session.place("BTC/USDT", "buy", "0.001")
    fills = session.journal.frame("fill")
    fig = candles(df, fills=fills, title="BTC/USDT 1m")
    assert isinstance(fig, go.Figure)
    assert [t.type for t in fig.data] == ["candlestick", "bar", "scatter", "scatter"]
    price, vol, buys, sells = fig.data
    assert len(price.x) == len(df) == len(vol.y)
    assert buys.name == "buy fills" and buys.marker.symbol == "triangle-up" and len(buys.x) == 2
    assert sells.name == "sell fills" and sells.marker.symbol == "triangle-down" and len(sells.x) == 1
    assert sells.y[0] == pytest.approx(float(fills[fills["side"] == "sell"]["price"].iloc[0]))
    assert fig.layout.title.text == "BTC/USDT 1m" and fig.layout.xaxis.rangeslider.visible is False
    assert fig.layout.yaxis2.title.text == "volume"
    html = fig.to_html(include_plotlyjs=False, full_html=False)  # usable in an HTML report
    assert "Plotly.newPlot" in html
    # The same fills from the exchange's trades frame give the same markers.
    same = candles(df, fills=session.trades("BTC/USDT"))
    assert [len(t.x) for t in same.data[2:]] == [2, 1]


def test_candles_without_fills_or_volume() -> None:
    idx = pd.date_range("2024-01-01", periods=5, freq="1h", tz="UTC")
    df = pd.DataFrame({"open": [1.0] * 5, "high": [2.0] * 5, "low": [0.5] * 5, "close": [1.5] * 5}, index=idx)
    fig = candles(df)
    assert [t.type for t in fig.data] == ["candlestick"]
    with pytest.raises(DataError, match="missing"):
        candles(df.drop(columns=["low"]))


def test_fills_frame_accepts_the_kits_shapes(session: Any) -> None:
    session.place("ETH/USDT", "buy", "0.01")
    journal_fills = session.journal.fills(venue=session.venue)
    a = fills_frame(journal_fills)
    b = fills_frame(session.journal.frame("fill"))
    c = fills_frame(session.trades("ETH/USDT"))
    for frame in (a, b, c):
        assert list(frame.columns) == ["side", "price", "amount"]
        assert isinstance(frame.index, pd.DatetimeIndex) and str(frame.index.tz) == "UTC"
        assert frame["side"].tolist() == ["buy"] and frame["amount"].tolist() == [0.01]
    assert fills_frame(None).empty


def test_equity_with_drawdown() -> None:
    idx = pd.date_range("2024-01-01", periods=6, freq="1D", tz="UTC")
    s = pd.Series([100, 120, 90, 95, 130, 117], index=idx, name="equity")
    fig = equity(s)
    assert [t.type for t in fig.data] == ["scatter", "scatter"]
    assert list(fig.data[0].y) == [100, 120, 90, 95, 130, 117]
    assert np.allclose(fig.data[1].y, [0, 0, -25, (95 / 120 - 1) * 100, 0, -10])
    assert fig.data[1].fill == "tozeroy"
    only = equity(s.to_frame(), drawdown=False)
    assert [t.type for t in only.data] == ["scatter"]


def test_coverage_timeline_one_trace_per_status() -> None:
    t = pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"], utc=True)
    frame = pd.DataFrame({
        "start": t[:4], "end": t[1:], "status": ["stored", "missing", "stored", "failed"],
        "candles": [1440, 0, 1440, 0], "note": ["", "", "", "HTTP 503"],
    })  # fmt: skip
    fig = coverage(frame, title="BTC/USDT 1m")
    assert [(tr.type, tr.name, tr.orientation) for tr in fig.data] == [
        ("bar", "stored", "h"), ("bar", "failed", "h"), ("bar", "missing", "h"),
    ]  # fmt: skip
    stored = fig.data[0]
    assert (
        list(stored.x) == [86_400_000.0, 86_400_000.0]
        and stored.marker.color == kit.views.charts.COVERAGE_COLORS["stored"]
    )
    assert fig.layout.xaxis.type == "date"
    labelled = coverage(frame.assign(symbol="BTC/USDT"))
    assert set(labelled.data[0].y) == {"BTC/USDT"}
    with pytest.raises(DataError):
        coverage(frame.drop(columns=["status"]))


@pytest.mark.parametrize("module", [kit.views.charts, kit.views.ui._html, kit.views.ui.status])
def test_doctests(module: Any) -> None:
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
