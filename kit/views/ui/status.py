"""The status bar: a Session's stage, clock offset, rate budget, kill switch and health, coloured.

Everything comes from :meth:`kit.session.Session.status`, which sends no request, so the bar
can refresh every couple of seconds for free (a daemon thread started when it is displayed,
stopped by :meth:`StatusBar.close`).

>>> from kit.session import Session              # doctest: +SKIP
>>> from kit.views.ui import StatusBar                 # doctest: +SKIP
>>> StatusBar(Session("localnet"))               # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from kit.safety.killswitch import kit_home
from kit.views.ui._html import BLUE, GREEN, GREY, ORANGE, RED, chip, esc
from kit.views.ui._live import Refresher, meter

if TYPE_CHECKING:
    from kit.session.core import Session

__all__ = ["StatusBar", "status_html"]

log = logging.getLogger("kit.views.ui")

STAGE_COLORS = {"read_only": GREY, "testnet": BLUE, "live_small": ORANGE, "live": RED}


def status_html(status: dict[str, Any], *, clock_warn_ms: int = 250) -> str:
    """Render a :meth:`Session.status` dict as coloured chips (also usable in static HTML reports).

    >>> html = status_html({"venue": "localnet", "stage": "testnet", "clock_offset_ms": 3,
    ...                     "budget": {"used": 30, "limit": 6000}, "kill_switch": None, "degraded": None})
    >>> "testnet" in html and "30/6000" in html
    True
    >>> "REHEARSAL (offline" in status_html({"venue": "rehearsal", "stage": "live_small"})
    True
    >>> "caps: per order 20 USD" in status_html({"stage": "live_small", "caps": "per order 20 USD, per day 100 USD"})
    True
    >>> "run sma: failed" in status_html({"runs": [{"name": "sma", "state": "failed", "orders_sent": 3}]})
    True
    >>> "widgets 1.5 % of it" in status_html({"budget": {"used": 300, "limit": 6000}, "widgets_weight": 90})
    True
    """
    stage = str(status.get("stage") or "?")
    venue = str(status.get("venue", "?"))
    if venue == "rehearsal" or venue.startswith("rehearsal-"):  # an offline rehearsal: never mistaken for real money
        venue = f"REHEARSAL (offline localnet, no real money): {venue}"
    parts = [chip(f"{venue} · {stage}", STAGE_COLORS.get(stage, GREY), cls="kt-stage")]

    offset = status.get("clock_offset_ms")
    if offset is None:
        parts.append(chip("clock: not measured", GREY, cls="kt-clock"))
    else:
        rtt = status.get("clock_rtt_ms")
        color = GREEN if abs(offset) < min(100, clock_warn_ms) else ORANGE if abs(offset) < 1000 else RED
        text = f"clock {int(offset):+d} ms" + (f" (rtt {rtt} ms)" if rtt is not None else "")
        parts.append(chip(text, color, cls="kt-clock"))

    budget = status.get("budget") or {}
    used, limit = budget.get("used"), budget.get("limit")
    if used is None or not limit:
        parts.append(chip("rate budget: n/a", GREY, cls="kt-budget"))
    else:
        share = used / limit
        banned = budget.get("banned_until_ms") or budget.get("blocked_until_ms")
        color = RED if banned or share >= 0.8 else ORANGE if share >= 0.5 else GREEN
        parts.append(chip(f"weight {used}/{limit} per min", color, cls="kt-budget",
                          title="request weight used in the current minute / the exchange's limit"))  # fmt: skip
    widgets = status.get("widgets_weight")
    if widgets is not None and limit:  # what the widgets' own refreshes cost (#17.5: idle under 5 %)
        share = float(widgets) / float(limit)
        tip = f"request weight the widgets spent in the last minute: {widgets} of {limit}"
        parts.append(chip(f"widgets {share * 100:.1f} % of it", GREEN if share < 0.05 else ORANGE, cls="kt-widgets",
                          title=tip))  # fmt: skip

    caps = status.get("caps")
    if caps:  # every money cap names its currency ("per order 20 USD, ...")
        parts.append(chip(f"caps: {caps}", GREY, cls="kt-caps", title="the guard's caps, in their reference currency"))

    kill = status.get("kill_switch")
    action = status.get("kill_action")  # what this Session's watcher did about it ("3 kit orders cancelled ...")
    text = f"KILL SWITCH: {kill}" + (f" · {action}" if action else "") if kill else "kill switch off"
    parts.append(chip(text, RED if kill else GREEN, cls="kt-kill"))

    degraded = status.get("degraded")
    parts.append(chip(f"DEGRADED: {degraded}" if degraded else "healthy", RED if degraded else GREEN,
                      cls="kt-degraded"))  # fmt: skip

    for run in status.get("runs") or []:  # strategies running forward (kit.run heartbeats)
        state = str(run.get("state"))
        color = RED if state in ("failed", "killed") or run.get("stale") else (
            ORANGE if state == "degraded" else GREEN if state == "running" else GREY)  # fmt: skip
        label = f"run {run.get('name', '?')}: {'STALE ' if run.get('stale') else ''}{state}"
        label += f" · {run.get('orders_sent', 0)} orders"
        parts.append(chip(label, color, cls="kt-run", title=str(run.get("reason") or run.get("error") or "")))

    warnings = list(status.get("warnings") or [])
    if warnings:
        parts.append(chip(f"{len(warnings)} warning{'s' if len(warnings) > 1 else ''}", ORANGE, cls="kt-warnings",
                          title="\n".join(warnings)))  # fmt: skip
    return f'<div class="kt-status-chips">{"".join(parts)}</div>'


def _runs(venue: Any, stale_after_s: float = 180.0) -> list[dict[str, Any]]:
    """Heartbeats of the runs on ``venue`` (``$KIT_HOME/runs/*.json``, written by :mod:`kit.run`); no request."""
    out = []
    for p in sorted((kit_home() / "runs").glob("*.json")):
        try:
            hb = json.loads(p.read_text())
        except (OSError, ValueError):
            continue
        if hb.get("venue") == venue:
            age = time.time() - hb.get("updated_ms", 0) / 1000
            hb["stale"] = hb.get("state") in ("running", "degraded") and age > stale_after_s
            out.append(hb)
    return out


class StatusBar(w.VBox):
    """Stage, clock offset, rate budget, kill switch and degradation of a Session, coloured.

    Parameters
    ----------
    session
        The Session to watch.
    interval_s
        Refresh period while displayed.
    live
        Refresh on a daemon thread while displayed; with ``False`` call :meth:`refresh` yourself.
    show_warnings
        Also list the Session's warnings (key age, IP allowlist, clock) under the chips.

    Notes
    -----
    CSS classes: ``kt-statusbar`` (root), and inside its HTML ``kt-stage``, ``kt-clock``, ``kt-budget``, ``kt-widgets``
    (the share of the budget the widgets spent in the last minute),
    ``kt-kill``, ``kt-degraded``, ``kt-run`` (one per strategy run on this venue), ``kt-warnings``.
    """

    def __init__(
        self, session: Session, *, interval_s: float = 2.0, live: bool = True, show_warnings: bool = False
    ) -> None:
        self.session = session
        self.live = live
        self.show_warnings = show_warnings
        self.last_status: dict[str, Any] = {}
        self.html = w.HTML()
        self.html.add_class("kt-status-html")
        self._refresher = Refresher(self.refresh, interval_s, name="kit-statusbar")
        super().__init__(children=[self.html])
        self.add_class("kt-statusbar")
        self.refresh()

    def refresh(self) -> None:
        """Read :meth:`Session.status` (no request) and redraw."""
        try:
            st = self.session.status()
        except Exception as exc:  # the bar must keep showing something
            log.exception("status bar refresh failed")
            self.html.value = chip(f"status unavailable: {type(exc).__name__}: {exc}", RED, cls="kt-error")
            return
        st["runs"] = _runs(st.get("venue"))
        st["widgets_weight"] = meter(self.session).per_minute()
        self.last_status = st
        text = status_html(st)
        if self.show_warnings and st.get("warnings"):
            items = "".join(f"<li>{esc(x)}</li>" for x in st["warnings"])
            text += f'<ul style="margin:2px 0;font-size:12px;color:{ORANGE}">{items}</ul>'
        if text != self.html.value:
            self.html.value = text

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        if self.live:
            self.start()
        return super()._repr_mimebundle_(**kwargs)

    def start(self) -> None:
        """Start refreshing on a daemon thread (idempotent)."""
        self._refresher.start()

    def stop(self) -> None:
        """Stop refreshing."""
        self._refresher.stop()

    def close(self) -> None:
        """Stop refreshing and close the widget."""
        if hasattr(self, "_refresher"):
            self.stop()
        super().close()
