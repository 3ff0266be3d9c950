"""Plotly figures of research results: one linked backtest figure, a parameter heatmap, walk-forward.

Pure functions of frames (no kit imports beyond errors): :mod:`kit.research` hands them a
result's candles, equity and round trips. With :mod:`kit.views.charts`, the kit's plotly modules.

>>> import pandas as pd
>>> grid = pd.DataFrame({"fast": [5, 5, 10, 10], "slow": [20, 40, 20, 40], "Sharpe Ratio": [1.0, 2, 3, 4]})
>>> fig = heatmap(grid, "fast", "slow", "Sharpe Ratio")
>>> fig.data[0].type, list(fig.data[0].x), list(fig.data[0].y)
('heatmap', [5, 10], [20, 40])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from kit.errors import ConfigError
from kit.views.charts import title_and_legend

__all__ = ["backtest_figure", "heatmap", "html_page", "walk_forward_figure"]

UP, DOWN = "#26a69a", "#ef5350"
WIN, LOSS = "#2e7d32", "#c62828"
#: Above this many candles the candle panel shows coarser buckets (a browser draws ~5,000 boxes smoothly).
MAX_CANDLES = 5_000


def _coarse(candles: pd.DataFrame, most: int) -> pd.DataFrame:
    """OHLCV merged into at most ``most`` buckets of whole candles (first open, max high, min low, ...)."""
    n = len(candles)
    if n <= most:
        return candles
    k = -(-n // most)
    group = np.arange(n) // k
    out = candles.groupby(group).agg({"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"})
    out.index = candles.index[::k][: len(out)]
    return out


def backtest_figure(candles: pd.DataFrame, equity: pd.Series, trades: pd.DataFrame, fills: pd.DataFrame | None = None,
                    *, title: str | None = None, height: int = 900) -> go.Figure:  # fmt: skip
    """Candles with trades, equity against buy and hold, drawdown, per-trade P&L and volume, on one time axis.

    Parameters
    ----------
    candles
        UTC-indexed open, high, low, close, volume.
    equity
        Equity at each close (quote).
    trades
        Round trips (:attr:`kit.research.Result.trades`): a line from entry to exit each, green
        when it made money, red when it lost; markers at entry and exit.
    fills
        Unused for now; the round trips carry the prices (kept for the signature's stability).
    title, height
        Figure title and height in pixels.

    Returns
    -------
    plotly.graph_objects.Figure
        Five rows sharing the x axis: zooming one zooms all.
    """
    fig = make_subplots(rows=5, cols=1, shared_xaxes=True, vertical_spacing=0.02,
                        row_heights=[0.42, 0.2, 0.12, 0.14, 0.12],
                        subplot_titles=("price and trades", "equity vs buy and hold", "drawdown %",
                                        "trade P&L", "volume"))  # fmt: skip
    shown = _coarse(candles, MAX_CANDLES)
    fig.add_trace(go.Candlestick(x=shown.index, open=shown["open"], high=shown["high"], low=shown["low"],
                                 close=shown["close"], name="price", increasing_line_color=UP,
                                 decreasing_line_color=DOWN, showlegend=False), row=1, col=1)  # fmt: skip
    if len(trades):
        win = trades["pnl"].to_numpy() > 0
        for mask, color, name in ((win, WIN, "winning trades"), (~win, LOSS, "losing trades")):
            t = trades[mask]
            if t.empty:
                continue
            xs: list[object] = []
            ys: list[float | None] = []
            for a, b, pa, pb in zip(t["entry_time"], t["exit_time"], t["entry_price"], t["exit_price"], strict=True):
                xs += [a, b, None]
                ys += [float(pa), float(pb), None]
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line={"color": color, "width": 2, "dash": "dot"},
                                     name=name, hoverinfo="skip"), row=1, col=1)  # fmt: skip
        cols = (trades["size"], trades["pnl"], trades["return"], trades["fees"])
        text = [
            f"size {s:g}<br>P&L {p:.6g} ({100 * r:.3f} %)<br>fees {f:.6g}" for s, p, r, f in zip(*cols, strict=True)
        ]
        fig.add_trace(go.Scatter(x=trades["entry_time"], y=trades["entry_price"], mode="markers", name="entry",
                                 marker={"symbol": "triangle-up", "size": 10, "color": WIN}, text=text,
                                 hovertemplate="entry %{y}<br>%{text}<extra></extra>"), row=1, col=1)  # fmt: skip
        fig.add_trace(go.Scatter(x=trades["exit_time"], y=trades["exit_price"], mode="markers", name="exit",
                                 marker={"symbol": "triangle-down", "size": 10, "color": LOSS}, text=text,
                                 hovertemplate="exit %{y}<br>%{text}<extra></extra>"), row=1, col=1)  # fmt: skip
    eq = equity.astype("float64")
    close = candles["close"].astype("float64")
    hold = eq.iloc[0] * close / close.iloc[0] if len(eq) else eq
    step = max(1, len(eq) // (4 * MAX_CANDLES))
    fig.add_trace(go.Scatter(x=eq.index[::step], y=eq.to_numpy()[::step], mode="lines", name="equity",
                             line={"color": "#1f77b4"}), row=2, col=1)  # fmt: skip
    fig.add_trace(go.Scatter(x=hold.index[::step], y=hold.to_numpy()[::step], mode="lines", name="buy and hold",
                             line={"color": "#7f7f7f", "dash": "dash"}), row=2, col=1)  # fmt: skip
    dd = (eq / eq.cummax() - 1) * 100
    fig.add_trace(go.Scatter(x=dd.index[::step], y=dd.to_numpy()[::step], mode="lines", fill="tozeroy",
                             name="drawdown %", line={"color": LOSS}, showlegend=False), row=3, col=1)  # fmt: skip
    if len(trades):
        fig.add_trace(go.Bar(x=trades["exit_time"], y=trades["pnl"], name="trade P&L", showlegend=False,
                             marker_color=np.where(trades["pnl"] > 0, WIN, LOSS)), row=4, col=1)  # fmt: skip
    colors = np.where(shown["close"] >= shown["open"], UP, DOWN)
    fig.add_trace(go.Bar(x=shown.index, y=shown["volume"], name="volume", marker_color=colors, opacity=0.6,
                         showlegend=False), row=5, col=1)  # fmt: skip
    fig.update_layout(height=height, template="plotly_white", xaxis_rangeslider_visible=False,
                      hovermode="x", **title_and_legend(title, left=60))  # fmt: skip
    fig.update_xaxes(showspikes=True, spikemode="across", spikesnap="cursor", spikethickness=1)
    return fig


def heatmap(results: pd.DataFrame, x: str, y: str, value: str, *, agg: Any = "max", title: str | None = None,
            height: int = 460) -> go.Figure:  # fmt: skip
    """A heatmap of ``value`` over two parameters (other parameters reduced by ``agg``, as backtesting.py's).

    Parameters
    ----------
    results
        One row per combination: parameter columns and statistic columns (a sweep's ``results``).
    x, y
        The two parameter columns.
    value
        The statistic shown as colour.
    agg
        How rows with the same ``(x, y)`` combine (``"max"``, ``"mean"``...).
    """
    for col in (x, y, value):
        if col not in results.columns:
            raise ConfigError(f"no column {col!r} in the results",
                              hint=f"Columns: {', '.join(map(str, results.columns))}.")  # fmt: skip
    table = results.pivot_table(index=y, columns=x, values=value, aggfunc=agg).sort_index().sort_index(axis=1)
    z = table.to_numpy(dtype="float64")
    fig = go.Figure(go.Heatmap(z=np.round(z, 6), x=list(table.columns), y=list(table.index), colorscale="Viridis",
                               colorbar={"title": value}, hovertemplate=f"{x} %{{x}}<br>{y} %{{y}}<br>{value} "
                               "%{z}<extra></extra>"))  # fmt: skip
    fig.update_layout(title=title or f"{value} by {x} and {y}", height=height, template="plotly_white",
                      xaxis_title=x, yaxis_title=y, margin={"l": 60, "r": 20, "t": 50, "b": 40})  # fmt: skip
    return fig


def walk_forward_figure(table: pd.DataFrame, stat: str, *, title: str | None = None, height: int = 380) -> go.Figure:
    """In-sample against out-of-sample ``stat`` per walk-forward window: the gap is the overfitting.

    ``table`` has one row per window with ``test_start`` and the columns ``in_sample`` and
    ``out_of_sample`` (:func:`kit.research.walk_forward`).
    """
    # One format for every window (a start at midnight is not shortened to its date): the labels read alike
    # whatever hour the data starts at.
    x = [f"{pd.Timestamp(t):%Y-%m-%d %H:%M}" for t in table["test_start"]]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=x, y=table["in_sample"], name=f"in-sample {stat}", marker_color="#1f77b4"))
    fig.add_trace(go.Bar(x=x, y=table["out_of_sample"], name=f"out-of-sample {stat}", marker_color="#ff7f0e"))
    fig.update_layout(barmode="group", height=height, template="plotly_white",
                      xaxis_title="out-of-sample window (start, UTC)", yaxis_title=stat,
                      **title_and_legend(title or f"Walk-forward: {stat}, best in-sample parameters on the next window",
                                         left=60, bottom=40))  # fmt: skip
    return fig


def html_page(title: str, parts: list[tuple[str, go.Figure | pd.DataFrame | pd.Series | str]]) -> str:
    """One self-contained HTML page (plotly.js embedded once, no network): headings, figures and tables.

    >>> page = html_page("t", [("A table", pd.Series({"x": 1.5})), ("Note", "plain text")])
    >>> "<h2>A table</h2>" in page and "1.5" in page and "plotly" not in page
    True
    """
    import html

    body: list[str] = []
    js_done = False
    for heading, part in parts:
        body.append(f"<h2>{html.escape(heading)}</h2>")
        if isinstance(part, go.Figure):
            body.append(part.to_html(full_html=False, include_plotlyjs=not js_done))
            js_done = True
        elif isinstance(part, pd.Series | pd.DataFrame):
            frame = part.to_frame() if isinstance(part, pd.Series) else part
            body.append(frame.to_html(border=0, classes="table", na_rep="-", float_format=lambda v: f"{v:.6g}"))
        else:
            body.append(f"<p>{html.escape(str(part))}</p>")
    style = ("body{font-family:system-ui,sans-serif;margin:2em;max-width:1400px}"
             "table{border-collapse:collapse;font-size:13px}td,th{padding:2px 10px;text-align:right}"
             "tr:nth-child(even){background:#f5f5f5}")  # fmt: skip
    head = f"<meta charset='utf-8'><title>{html.escape(title)}</title><style>{style}</style>"
    return f"<!DOCTYPE html><html><head>{head}</head><body><h1>{html.escape(title)}</h1>{''.join(body)}</body></html>"
