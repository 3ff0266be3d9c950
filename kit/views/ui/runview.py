"""A live view of a strategy run (:mod:`kit.run`): state, positions, equity, last decisions, a chart.

It reads the run's handle only through its public methods (``status()``, ``decisions()``,
``fills()``, ``candles()``), refreshing on a daemon thread while displayed, so it works for any
object that has them (and ``kit.views`` imports nothing from ``kit.run``).

>>> from kit.run import start                                   # doctest: +SKIP
>>> run = start(session, SmaCross(fast=5), ["BTC/USDT"])         # doctest: +SKIP
>>> RunView(run)                                                # doctest: +SKIP
>>> equity_quote(run.fills(), {"BTC/USDT": 60000.0}, {"BTC/USDT": "USDT"})   # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import ipywidgets as w
import pandas as pd

from kit.views.ui._html import GREEN, GREY, ORANGE, RED, chip, esc
from kit.views.ui._live import Refresher

__all__ = ["RunView", "equity_quote", "run_html"]

log = logging.getLogger("kit.views.ui")
_STATE_COLORS = {"running": GREEN, "degraded": ORANGE, "failed": RED, "killed": RED}


def equity_quote(fills: pd.DataFrame, last: Mapping[str, float], quotes: Mapping[str, str]) -> dict[str, float]:
    """Per symbol, what the run made in quote: cash flows of its fills (fees included) plus the position at ``last``.

    >>> f = pd.DataFrame({"symbol": ["BTC/USDT"] * 2, "side": ["buy", "sell"], "price": [100, 110],
    ...                   "amount": [1, 1], "fee_cost": [0.001, 0.11], "fee_currency": ["BTC", "USDT"]})
    >>> equity_quote(f, {"BTC/USDT": 110.0}, {"BTC/USDT": "USDT"})   # -100 + 110 - 0.11 - 0.001 BTC at 110
    {'BTC/USDT': 9.78}
    """
    out: dict[str, float] = {}
    for sym, g in fills.groupby("symbol") if len(fills) else []:
        px = float(last.get(str(sym), float("nan")))
        base, quote = str(sym).split("/")[0], quotes.get(str(sym), str(sym).split("/")[-1])
        sign = g["side"].map({"buy": 1.0, "sell": -1.0}).astype(float)
        amount, price = g["amount"].astype(float), g["price"].astype(float)
        fee = g["fee_cost"].astype(float)
        fee_q = fee.where(g["fee_currency"] == quote, 0.0) + fee.where(g["fee_currency"] == base, 0.0) * px
        pos = float((sign * amount).sum())
        out[str(sym)] = round(float((-sign * amount * price).sum() - fee_q.sum()) + pos * px, 8)
    return out


def run_html(status: Mapping[str, Any], decisions: pd.DataFrame, equity: Mapping[str, float], *, last: int = 8) -> str:
    """Chips (state, counts, latency), a positions/equity table and the last decisions, as HTML.

    >>> "run sma" in run_html({"name": "sma", "state": "running", "positions": {"BTC/USDT": "0.001"}},
    ...                       pd.DataFrame(), {"BTC/USDT": 1.5})
    True
    """
    state = str(status.get("state"))
    parts = [chip(f"run {status.get('name', '?')}: {state}", _STATE_COLORS.get(state, GREY), cls="kt-run"),
             chip(f"{status.get('candles', 0)} candles · {status.get('decisions', 0)} decisions · "
                  f"{status.get('orders_sent', 0)} orders", GREY, cls="kt-run-counts")]  # fmt: skip
    if status.get("latency_p50_ms") is not None:
        parts.append(chip(f"close to order p50 {status['latency_p50_ms']} ms", GREY, cls="kt-run-latency"))
    if status.get("reason"):
        parts.append(chip(str(status["reason"])[:160], RED if state in ("failed", "killed") else GREY))
    rows = "".join(
        f"<tr><td>{esc(sym)}</td><td>{esc(pos)}</td><td>{esc(status.get('last_close', {}).get(sym, ''))}</td>"
        f"<td>{equity.get(sym, 0.0):.4f}</td></tr>"
        for sym, pos in (status.get("positions") or {}).items()
    )
    table = ("<table class='kt-run-positions'><tr><th>symbol</th><th>position</th><th>last close</th>"
             f"<th>made (quote)</th></tr>{rows}</table>")  # fmt: skip
    dec = ""
    if len(decisions):
        cols = [c for c in ("symbol", "action", "size", "limit", "close", "status") if c in decisions.columns]
        dec = decisions[cols].tail(last).to_html(classes="kt-run-decisions", border=0)
    return f'<div class="kt-status-chips">{"".join(parts)}</div>{table}{dec}'


class RunView(w.VBox):
    """State, positions, equity and last decisions of a run, refreshed while displayed; ``figure()`` charts it.

    Parameters
    ----------
    run
        A :class:`kit.run.Runner` (or anything with ``status()``, ``decisions()``, ``fills()``, ``candles()``).
    interval_s
        Refresh period while displayed.
    live
        Refresh on a daemon thread while displayed; with ``False`` call :meth:`refresh` yourself.
    """

    def __init__(self, run: Any, *, interval_s: float = 2.0, live: bool = True) -> None:
        self.run = run
        self.live = live
        self.html = w.HTML()
        self._refresher = Refresher(self.refresh, interval_s, name="kit-runview")
        super().__init__(children=[self.html])
        self.add_class("kt-runview")
        self.refresh()

    def refresh(self) -> None:
        """Read the run's status, decisions and fills (journal reads, no exchange request) and redraw."""
        try:
            st = self.run.status()
            quotes = {s: s.split("/")[-1] for s in st.get("symbols", [])}
            eq = equity_quote(self.run.fills(), st.get("last_close") or {}, quotes)
            text = run_html(st, self.run.decisions(), eq)
        except Exception as exc:  # the view must keep showing something
            log.exception("run view refresh failed")
            text = chip(f"run view unavailable: {type(exc).__name__}: {exc}", RED, cls="kt-error")
        if text != self.html.value:
            self.html.value = text

    def figure(self, symbol: str | None = None) -> Any:
        """Closes the strategy saw on ``symbol`` (default: the first) with its decisions marked (plotly)."""
        import plotly.graph_objects as go

        sym = symbol or self.run.status()["symbols"][0]
        c = self.run.candles(sym)
        fig = go.Figure(go.Scatter(x=c.index, y=c["close"], mode="lines", name="close"))
        d = self.run.decisions()
        if len(d):
            d = d[d["symbol"] == sym]
            when = pd.to_datetime(d["candle_ms"].astype("int64"), unit="ms", utc=True)
            for action, color in (("buy", "green"), ("sell", "red")):
                m = d["action"] == action
                fig.add_scatter(x=when[m], y=d.loc[m, "close"].astype(float), mode="markers", name=action,
                                marker={"color": color, "size": 9})  # fmt: skip
        fig.update_layout(title=f"{sym}: {self.run.status()['name']}", template="plotly_white", height=300)
        return fig

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        if self.live:
            self._refresher.start()
        return super()._repr_mimebundle_(**kwargs)

    def close(self) -> None:
        """Stop refreshing and close the widget."""
        self._refresher.stop()
        super().close()
