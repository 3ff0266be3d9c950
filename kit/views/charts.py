"""Plotly figures for notebooks and HTML reports; the only module of the kit that imports plotly.

Every function returns a :class:`plotly.graph_objects.Figure` that shows inline in JupyterLab and
can be written into a report (``fig.to_html(include_plotlyjs=...)`` is the report writer's choice).
Inputs follow the kit's conventions: candles indexed by UTC open time with columns open, high,
low, close, volume; money may be Decimal (converted to float for plotting only).

>>> import pandas as pd
>>> idx = pd.date_range("2024-01-01", periods=3, freq="1min", tz="UTC")
>>> df = pd.DataFrame({"open": [1, 2, 3], "high": [2, 3, 4], "low": [0.5, 1, 2], "close": [2, 3, 3.5],
...                    "volume": [10, 12, 8]}, index=idx)
>>> [t.type for t in candles(df).data]
['candlestick', 'bar']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from kit.errors import DataError

__all__ = ["COVERAGE_COLORS", "candles", "coverage", "equity", "fills_frame"]

UP, DOWN = "#26a69a", "#ef5350"
BUY, SELL = "#2e7d32", "#c62828"
#: Colours of the store's coverage statuses (:meth:`kit.store.Store.coverage`).
COVERAGE_COLORS = {"stored": "#2ca02c", "empty": "#7f7f7f", "failed": "#d62728", "missing": "#ff7f0e"}
_OTHER_COLORS = ["#1f77b4", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]
_CANDLE_COLUMNS = ("open", "high", "low", "close")


def _floats(values: Any) -> np.ndarray:
    """Numbers (Decimal, str, int, float, None) as a float array; None becomes NaN."""
    out = [float(v) if v is not None and not (isinstance(v, float) and np.isnan(v)) else np.nan for v in values]
    return np.asarray(out, dtype="float64")


def _utc_index(values: Any) -> pd.DatetimeIndex:
    index = pd.DatetimeIndex(values)
    return index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")


def fills_frame(fills: Any) -> pd.DataFrame:
    """Fills in any of the kit's shapes as one frame: UTC ``time`` index; side, price, amount (floats).

    Accepts a journal fill frame (``journal.frame("fill")``), :meth:`Session.trades`, a blotter's
    ``fills``, a list of :class:`kit.journal.state.Fill` or of ccxt trade dicts.

    >>> fills_frame([{"timestamp": 1704067200000, "side": "buy", "price": "42000.5", "amount": "0.01"}])
                                side    price  amount
    time
    2024-01-01 00:00:00+00:00   buy  42000.5    0.01
    """
    if fills is None:
        return pd.DataFrame(columns=["side", "price", "amount"], index=pd.DatetimeIndex([], tz="UTC", name="time"))
    if isinstance(fills, pd.DataFrame):
        frame = fills
        if isinstance(frame.index, pd.DatetimeIndex):
            times = _utc_index(frame.index)
        elif "time" in frame.columns:
            times = _utc_index(frame["time"])
        elif "ts_ms" in frame.columns or "timestamp" in frame.columns:
            col = "ts_ms" if "ts_ms" in frame.columns else "timestamp"
            times = _utc_index(pd.to_datetime(frame[col].astype("int64"), unit="ms", utc=True))
        else:
            raise DataError("fills need a DatetimeIndex or a time / ts_ms / timestamp column",
                            hint="Pass journal.frame('fill'), session.trades(symbol) or a list of fills.")  # fmt: skip
        sides, prices, amounts = list(frame["side"]), list(frame["price"]), list(frame["amount"])
    else:
        rows: list[Mapping[str, Any]] = []
        for f in fills if isinstance(fills, Iterable) else []:
            rows.append(f if isinstance(f, Mapping) else vars(f))
        ts = [r.get("ts_ms", r.get("timestamp")) for r in rows]
        times = _utc_index(pd.to_datetime(pd.Series(ts, dtype="int64"), unit="ms", utc=True))
        sides = [r.get("side") for r in rows]
        prices = [r.get("price") for r in rows]
        amounts = [r.get("amount") for r in rows]
    out = pd.DataFrame(
        {"side": [str(s).lower() for s in sides], "price": _floats(prices), "amount": _floats(amounts)},
        index=pd.DatetimeIndex(times, name="time"),
    )
    return out


def candles(
    df: pd.DataFrame, *, fills: Any = None, title: str | None = None, volume: bool = True, height: int = 560
) -> go.Figure:
    """Candlestick chart with a volume subplot and buy/sell fill markers.

    Parameters
    ----------
    df
        Candles: UTC DatetimeIndex (open time); columns open, high, low, close and (for the volume
        subplot) volume.
    fills
        Optional fills to mark (anything :func:`fills_frame` accepts): buys as green up-triangles
        under the price, sells as red down-triangles.
    title
        Figure title.
    volume
        Add the volume subplot (when the frame has a volume column).
    height
        Figure height in pixels.

    Returns
    -------
    plotly.graph_objects.Figure
        Traces: ``candlestick``, then ``bar`` (volume), then one ``scatter`` per side with fills.
    """
    missing = [c for c in _CANDLE_COLUMNS if c not in df.columns]
    if missing:
        raise DataError(f"candles need columns open, high, low, close; missing {missing}",
                        hint="Use a frame from kit.store or session.candles().")  # fmt: skip
    with_volume = volume and "volume" in df.columns
    rows = 2 if with_volume else 1
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.03,
                        row_heights=[0.75, 0.25] if with_volume else [1.0])  # fmt: skip
    x = _utc_index(df.index) if len(df) else df.index
    o, h, lo, c = (_floats(df[col]) for col in _CANDLE_COLUMNS)
    fig.add_trace(
        go.Candlestick(
            x=x,
            open=o,
            high=h,
            low=lo,
            close=c,
            name="price",
            increasing_line_color=UP,
            decreasing_line_color=DOWN,
            showlegend=False,
        ),  # fmt: skip
        row=1,
        col=1,
    )
    if with_volume:
        colors = np.where(c >= o, UP, DOWN)
        fig.add_trace(go.Bar(x=x, y=_floats(df["volume"]), name="volume", marker_color=colors, opacity=0.6,
                             showlegend=False), row=2, col=1)  # fmt: skip
        fig.update_yaxes(title_text="volume", row=2, col=1)
    f = fills_frame(fills)
    for side, symbol, color in (("buy", "triangle-up", BUY), ("sell", "triangle-down", SELL)):
        part = f[f["side"] == side]
        if part.empty:
            continue
        text = [f"{side} {a:g} @ {p:g}" for a, p in zip(part["amount"], part["price"], strict=True)]
        fig.add_trace(
            go.Scatter(x=part.index, y=part["price"], mode="markers", name=f"{side} fills", text=text,
                       hovertemplate="%{text}<br>%{x}<extra></extra>",
                       marker={"symbol": symbol, "size": 11, "color": color, "line": {"width": 1, "color": "white"}}),
            row=1,
            col=1,
        )  # fmt: skip
    fig.update_layout(height=height, template="plotly_white", xaxis_rangeslider_visible=False,
                      hovermode="x unified", **title_and_legend(title, left=50))  # fmt: skip
    fig.update_yaxes(title_text="price", row=1, col=1)
    return fig


def title_and_legend(title: str | None, *, left: int, bottom: int = 30) -> dict[str, Any]:
    """Layout keys that keep a title and a horizontal legend apart (#17.7: the title was drawn over it).

    The title sits at the top left of the figure, the legend on its own line just above the plot,
    right-aligned, and the top margin holds both.

    >>> sorted(title_and_legend("BTC/USDT 1m", left=50))
    ['legend', 'margin', 'title']
    >>> title_and_legend("BTC/USDT 1m", left=50)["margin"]["t"], title_and_legend(None, left=50)["margin"]["t"]
    (84, 40)
    """
    keys: dict[str, Any] = {
        "margin": {"l": left, "r": 20, "t": 84 if title else 40, "b": bottom},
        "legend": {"orientation": "h", "x": 1, "xanchor": "right", "y": 1.01, "yanchor": "bottom"},
    }
    if title:
        keys["title"] = {"text": title, "x": 0, "xref": "container", "xanchor": "left", "y": 1,
                         "yref": "container", "yanchor": "top", "pad": {"t": 12, "l": 12}}  # fmt: skip
    return keys


def equity(
    series: pd.Series | pd.DataFrame, *, drawdown: bool = True, title: str | None = None, height: int = 480
) -> go.Figure:
    """Equity curve, with a drawdown subplot (percent below the running peak).

    Parameters
    ----------
    series
        Equity over time (a Series, or a frame with an ``equity`` column), indexed by time.
    drawdown
        Add the drawdown subplot.
    title, height
        Figure title and height in pixels.

    Returns
    -------
    plotly.graph_objects.Figure
        Traces: ``scatter`` (equity), then ``scatter`` (drawdown, filled to zero) when asked.

    Examples
    --------
    >>> s = pd.Series([100, 110, 99, 120], index=pd.date_range("2024-01-01", periods=4, tz="UTC"))
    >>> fig = equity(s)
    >>> [round(float(v), 1) for v in fig.data[1].y]
    [0.0, 0.0, -10.0, 0.0]
    """
    if isinstance(series, pd.DataFrame):
        if "equity" not in series.columns:
            raise DataError("equity() needs a Series or a frame with an 'equity' column")
        series = series["equity"]
    values = _floats(series.to_numpy())
    x = series.index
    rows = 2 if drawdown else 1
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.04,
                        row_heights=[0.7, 0.3] if drawdown else [1.0])  # fmt: skip
    fig.add_trace(go.Scatter(x=x, y=values, mode="lines", name=str(series.name or "equity"),
                             line={"color": "#1565c0", "width": 2}), row=1, col=1)  # fmt: skip
    if drawdown:
        peak = np.fmax.accumulate(np.where(np.isnan(values), -np.inf, values))
        with np.errstate(divide="ignore", invalid="ignore"):
            dd = np.where(peak > 0, (values / peak - 1.0) * 100.0, 0.0)
        dd = np.where(np.isfinite(dd), dd, np.nan)
        fig.add_trace(go.Scatter(x=x, y=dd, mode="lines", name="drawdown %", fill="tozeroy",
                                 line={"color": "#c62828", "width": 1}), row=2, col=1)  # fmt: skip
        fig.update_yaxes(title_text="drawdown %", row=2, col=1)
    fig.update_layout(title=title, height=height, template="plotly_white", showlegend=False,
                      margin={"l": 50, "r": 20, "t": 50 if title else 20, "b": 30})  # fmt: skip
    fig.update_yaxes(title_text="equity", row=1, col=1)
    return fig


def coverage(frame: pd.DataFrame, *, title: str | None = None, lane: str | None = None) -> go.Figure:
    """Timeline of what is known about a series: one horizontal bar per ``[start, end)`` interval.

    Parameters
    ----------
    frame
        Columns ``start``, ``end``, ``status`` (e.g. :meth:`kit.store.Store.coverage`: stored,
        empty, failed, missing); optional ``note`` and ``candles`` show on hover.
    title
        Figure title.
    lane
        Column naming each row of the timeline (e.g. ``symbol``); default ``label`` or ``symbol``
        when present, else one lane per status.

    Returns
    -------
    plotly.graph_objects.Figure
        One horizontal ``bar`` trace per status, coloured as :data:`COVERAGE_COLORS`.

    Examples
    --------
    >>> cov = pd.DataFrame({"start": pd.to_datetime(["2024-01-01", "2024-01-02"], utc=True),
    ...                     "end": pd.to_datetime(["2024-01-02", "2024-01-03"], utc=True),
    ...                     "status": ["stored", "missing"]})
    >>> [(t.type, t.name) for t in coverage(cov).data]
    [('bar', 'stored'), ('bar', 'missing')]
    """
    missing = [c for c in ("start", "end", "status") if c not in frame.columns]
    if missing:
        raise DataError(f"coverage() needs columns start, end, status; missing {missing}",
                        hint="Use kit.store's coverage(symbol, timeframe).")  # fmt: skip
    lane = lane or next((c for c in ("label", "symbol") if c in frame.columns), "status")
    start = _utc_index(frame["start"])
    end = _utc_index(frame["end"])
    fig = go.Figure()
    statuses = list(dict.fromkeys(str(s) for s in frame["status"]))
    known = [s for s in COVERAGE_COLORS if s in statuses]
    order = known + [s for s in statuses if s not in COVERAGE_COLORS]
    extra = iter(_OTHER_COLORS * (len(order) // len(_OTHER_COLORS) + 1))
    for status in order:
        mask = np.asarray([str(s) == status for s in frame["status"]])
        sub = frame[mask]
        s0, s1 = start[mask], end[mask]
        duration_ms = (s1 - s0) / pd.Timedelta(milliseconds=1)
        notes = [str(n) for n in sub["note"]] if "note" in sub.columns else [""] * len(sub)
        counts = [str(n) for n in sub["candles"]] if "candles" in sub.columns else [""] * len(sub)
        custom = np.stack([[t.isoformat() for t in s0], [t.isoformat() for t in s1], counts, notes], axis=-1) \
            if len(sub) else None  # fmt: skip
        fig.add_trace(go.Bar(
            base=list(s0), x=list(duration_ms), y=[str(v) for v in sub[lane]], orientation="h", name=status,
            marker_color=COVERAGE_COLORS.get(status) or next(extra), customdata=custom,
            hovertemplate=f"<b>{status}</b><br>%{{customdata[0]}} to %{{customdata[1]}}"
                          "<br>candles %{customdata[2]}<br>%{customdata[3]}<extra></extra>",
        ))  # fmt: skip
    fig.update_layout(barmode="overlay", template="plotly_white", height=160 + 40 * len(set(frame[lane])),
                      **title_and_legend(title, left=80))  # fmt: skip
    fig.update_xaxes(type="date")
    fig.update_yaxes(title=None, autorange="reversed")
    return fig
