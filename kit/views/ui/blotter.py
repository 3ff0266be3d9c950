"""The blotter: open orders (each with a new-price box, an amend and a cancel button) and recent fills, kept live.

Open orders come from the exchange (:meth:`Session.open_orders`); fills come from the journal,
after :meth:`Session.trades` has journaled any new ones (positions come from fills, never from
orders). Live updates use the Session's private streams (:func:`kit.session.streams.watch`) when
the kit has them: an order or fill event wakes the refresh, and a slow poll (``stream_poll_s``)
stays as a safety net. Without streams (or while they are unhealthy) it polls every
``interval_s`` seconds. The refresh runs on a daemon thread that starts when the widget is
displayed (or :meth:`Blotter.start` is called) and stops on :meth:`Blotter.close`.

>>> from kit.session import Session              # doctest: +SKIP
>>> from kit.views.ui import Blotter                   # doctest: +SKIP
>>> Blotter(Session("localnet"))                 # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as w
import pandas as pd

from kit.errors import KitError
from kit.views.ui._html import GREEN, GREY, RED, colored, esc, num
from kit.views.ui._live import IDLE_SHARE, Refresher, meter

if TYPE_CHECKING:
    from kit.session.core import Session

__all__ = ["Blotter"]

log = logging.getLogger("kit.views.ui")

_ORDER_HEADERS = ["time (UTC)", "symbol", "side", "type", "price", "trigger", "amount", "filled", "status", "list",
                  "new price", "", ""]  # fmt: skip
_FILL_HEADERS = ["time (UTC)", "symbol", "side", "price", "amount", "fee", "order"]
_CELL = "padding:2px 8px;font-size:12px;white-space:nowrap"


def _streams_watch() -> Callable[..., Any] | None:
    """``kit.session.streams.watch`` if this kit has private streams, else None."""
    try:
        module = importlib.import_module("kit.session.streams")
    except ImportError:
        return None
    watch = getattr(module, "watch", None)
    return watch if callable(watch) else None


def _time(ts: Any) -> str:
    if ts is None or (isinstance(ts, float) and ts != ts):
        return "-"
    try:
        stamp = pd.Timestamp(ts, unit="ms", tz="UTC") if isinstance(ts, int | float) else pd.Timestamp(ts)
    except (ValueError, TypeError):
        return esc(ts)
    if pd.isna(stamp):
        return "-"
    return stamp.strftime("%m-%d %H:%M:%S")


def _side(side: Any) -> str:
    s = str(side or "")
    return colored(s.upper(), GREEN if s == "buy" else RED if s == "sell" else GREY)


class Blotter(w.VBox):
    """Open orders and fills of a Session, with amend and cancel controls per open order, kept live.

    Parameters
    ----------
    session
        The Session to show.
    symbols
        Symbols to show; ``None`` shows every symbol (open orders are then fetched without a
        symbol, which costs more request weight on Binance).
    interval_s
        Poll period without (healthy) streams.
    stream_poll_s
        Poll period while the private streams are healthy (a safety net; events refresh at once).
    max_fills
        How many recent fills to list.
    live
        Start live updates when displayed. With ``False``, call :meth:`refresh` yourself.
    use_streams
        Subscribe to the Session's private streams when the kit has them.
    idle_share
        Polling never spends more than this share of the exchange's request-weight budget: the
        poll period grows with the weight of one refresh (``openOrders`` without a symbol weighs
        80 on Binance, with one 6; each ``myTrades`` 20). ``None``: poll every ``interval_s``
        whatever it costs. The weight spent shows in the status bar (#17.5).

    Attributes
    ----------
    orders : pandas.DataFrame
        The open orders as last fetched (:meth:`Session.open_orders`).
    fills : pandas.DataFrame
        The recent fills as last read from the journal (newest first).
    mode : str
        ``"stream"``, ``"poll"`` or ``"off"``.

    Notes
    -----
    The ``list`` column names the order list (``Session.bracket``) an order belongs to, by its list
    client id; the orders of one list are shown together.

    CSS classes: ``kt-blotter`` (root), ``kt-orders``, ``kt-order-row``, ``kt-order-list`` (the list
    column's cells), ``kt-cancel`` (each
    cancel button, plus ``kt-cancel-<order id>``), ``kt-amend`` / ``kt-amend-<order id>`` (each amend
    button) with its new-price box ``kt-amend-price-<order id>``, ``kt-fills``, ``kt-blotter-status``,
    ``kt-blotter-message``, ``kt-refresh``.
    """

    def __init__(
        self,
        session: Session,
        symbols: list[str] | None = None,
        *,
        interval_s: float = 2.0,
        stream_poll_s: float = 30.0,
        max_fills: int = 20,
        live: bool = True,
        use_streams: bool = True,
        idle_share: float | None = IDLE_SHARE,
    ) -> None:
        self.session = session
        self.idle_share = idle_share
        self.last_weight = 0
        self.symbols = list(symbols) if symbols is not None else None
        self.interval_s = interval_s
        self.stream_poll_s = stream_poll_s
        self.max_fills = max_fills
        self.live = live
        self.use_streams = use_streams
        self.mode = "off"
        self.orders = pd.DataFrame()
        self.fills = pd.DataFrame()
        self.refreshes = 0
        self._lock = threading.RLock()
        self._streams: Any = None
        self._order_sig: tuple[Any, ...] | None = None
        self._open_syms: set[str] = set()
        self._last_refresh_ms: int | None = None
        self._refresher = Refresher(self.refresh, self._interval, name="kit-blotter")
        self._changed: list[Callable[[str, str, dict[str, Any] | None], None]] = []
        self._refreshed: list[Callable[[pd.DataFrame], None]] = []

        self.header = w.HTML(f"<b>Blotter</b> &middot; {esc(session.venue)} ({esc(session.stage.value)})")
        self.status_line = w.HTML()
        self.status_line.add_class("kt-blotter-status")
        self.refresh_button = w.Button(description="", icon="refresh", tooltip="Refresh now",
                                       layout=w.Layout(width="36px"))  # fmt: skip
        self.refresh_button.add_class("kt-refresh")
        self.refresh_button.on_click(lambda _: self.refresh())
        self.message = w.HTML()
        self.message.add_class("kt-blotter-message")
        self.orders_box = w.GridBox(layout=w.Layout(grid_template_columns=f"repeat({len(_ORDER_HEADERS)}, auto)",
                                                    justify_content="flex-start", align_items="center"))  # fmt: skip
        self.orders_box.add_class("kt-orders")
        self.fills_html = w.HTML()
        self.fills_html.add_class("kt-fills")
        super().__init__(
            children=[
                w.HBox([self.header, self.refresh_button, self.status_line], layout=w.Layout(align_items="center")),
                self.message,
                w.HTML("<b>Open orders</b>"),
                self.orders_box,
                w.HTML("<b>Fills</b>"),
                self.fills_html,
            ],
            layout=w.Layout(border="1px solid #ddd", padding="6px"),
        )
        self.add_class("kt-blotter")
        self._render_orders(pd.DataFrame())
        self._render_fills(pd.DataFrame())

    # -- live updates --------------------------------------------------------------------------
    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        if self.live:
            self.start()
        return super()._repr_mimebundle_(**kwargs)

    def start(self) -> None:
        """Start live updates: subscribe to the private streams if available, and the refresh thread."""
        if self._refresher.running:
            return
        watch = _streams_watch() if self.use_streams else None
        if watch is not None and self._streams is None:
            try:
                self._streams = watch(self.session, self._on_event, symbols=self.symbols)
            except Exception as exc:  # no streams: polling still works
                log.warning("blotter: private streams unavailable (%s); polling", exc)
                self._streams = None
        self.mode = "stream" if self._streams is not None else "poll"
        self._refresher.start()
        self._refresher.poke()

    def stop(self) -> None:
        """Stop live updates (unsubscribe from the streams, stop the thread); the widget stays."""
        streams, self._streams = self._streams, None
        if streams is not None:
            unsubscribe = getattr(streams, "unsubscribe", None)
            if callable(unsubscribe):
                unsubscribe(self._on_event)
            else:
                callbacks = getattr(streams, "callbacks", [])
                if self._on_event in callbacks:
                    callbacks.remove(self._on_event)
        self._refresher.stop()
        self.mode = "off"

    def close(self) -> None:
        """Stop live updates and close the widget and its children."""
        if hasattr(self, "_refresher"):
            self.stop()
        box = getattr(self, "orders_box", None)
        for child in list(box.children) if box is not None else []:
            child.close()
        super().close()

    @property
    def poll_s(self) -> float:
        """Seconds between refreshes: ``interval_s``, or longer when a refresh weighs more than the budget allows."""
        return self._interval()

    def _interval(self) -> float:
        healthy = bool(getattr(self._streams, "healthy", False))
        base = self.stream_poll_s if healthy else self.interval_s
        if self.idle_share is None or not self.last_weight:
            return base
        limit = (self.session.status().get("budget") or {}).get("limit")  # no request
        if not limit:
            return base
        per_s = self.idle_share * float(limit) / 60.0  # the weight per second the widgets may spend
        return max(base, self.last_weight / per_s)

    def _weight(self, path: str, params: dict[str, Any]) -> int:
        from kit.transport.limits import endpoint_weight

        return int(endpoint_weight(self.session.api.exchange_id, "GET", path, params))

    def _on_event(self, kind: str, _data: Any) -> None:
        # Runs on the streams' threads (possibly the Session's event loop): never call the Session here.
        if kind in ("order", "trade", "status"):
            self._refresher.poke()

    # -- refresh -------------------------------------------------------------------------------
    def refresh(self, *, raise_errors: bool = False) -> bool:
        """Fetch open orders, journal new fills, and redraw; returns False (message shown) on a KitError.

        With ``raise_errors`` the :class:`~kit.errors.KitError` is raised instead.
        """
        try:
            self._refresh()
        except KitError as exc:
            if raise_errors:
                raise
            self.message.value = colored(f"refresh failed: {exc}", RED, cls="kt-error")
            return False
        if "refresh failed" in self.message.value:
            self.message.value = ""
        for cb in list(self._refreshed):
            try:
                cb(self.orders)
            except Exception:
                log.exception("blotter on_refresh callback failed")
        return True

    def _refresh(self) -> None:
        with self._lock:
            started_ms = int(time.time() * 1000)
            s = self.session
            if self.symbols is None:
                orders = s.open_orders()
                weight = self._weight("/api/v3/openOrders", {})
            else:
                frames = [s.open_orders(sym) for sym in self.symbols]
                orders = pd.concat([f for f in frames if len(f)]) if any(len(f) for f in frames) else frames[0]
                weight = sum(self._weight("/api/v3/openOrders", {"symbol": sym}) for sym in self.symbols)
            open_now = {str(x) for x in orders["symbol"]} if len(orders) else set()
            streaming = bool(getattr(self._streams, "healthy", False))
            if not streaming:
                # Fills of resting orders arrive later: ask the exchange for symbols that had open orders
                # (or new intents) since the last refresh; immediate fills were journaled by place().
                for sym in sorted(self._trade_symbols(open_now)):
                    s.trades(sym, since=self._since_ms(sym))
                    weight += self._weight("/api/v3/myTrades", {"symbol": sym})
            self.last_weight = weight
            meter(s).add(weight)
            self._open_syms = open_now
            self._last_refresh_ms = started_ms
            self.orders = orders
            self.fills = self._journal_fills()
            self._render_orders(orders)
            self._render_fills(self.fills)
            self.refreshes += 1
            mode = "stream" if streaming else ("polling" if self._refresher.running else "manual")
            self.status_line.value = colored(
                f"{mode} · updated {pd.Timestamp(started_ms, unit='ms', tz='UTC').strftime('%H:%M:%S')} UTC", GREY
            )

    def _trade_symbols(self, open_now: set[str]) -> set[str]:
        syms = set(self._open_syms) | open_now
        if self._last_refresh_ms is not None:
            j = self.session.journal
            since = self._last_refresh_ms - 5_000
            syms |= {e.symbol for e in j.events(since_ms=since, kinds=["intent"], venue=self.session.venue) if e.symbol}
        if self.symbols is not None:
            syms &= set(self.symbols)
        return syms

    def _since_ms(self, symbol: str) -> int | None:
        fills = self.session.journal.fills(venue=self.session.venue, symbol=symbol)
        return max((f.ts_ms for f in fills), default=None)

    def _journal_fills(self) -> pd.DataFrame:
        s = self.session
        fills = [f for f in s.journal.fills(venue=s.venue, account=s.account)
                 if self.symbols is None or f.symbol in self.symbols]  # fmt: skip
        rows = [
            {
                "time": pd.Timestamp(f.ts_ms, unit="ms", tz="UTC"),
                "symbol": f.symbol,
                "side": f.side,
                "price": f.price,
                "amount": f.amount,
                "fee_cost": f.fee_cost,
                "fee_currency": f.fee_currency,
                "order_id": f.order_id,
                "trade_id": f.trade_id,
            }  # fmt: skip
            for f in fills[-self.max_fills :][::-1]
        ]
        frame = pd.DataFrame(rows, columns=["time", "symbol", "side", "price", "amount", "fee_cost", "fee_currency",
                                            "order_id", "trade_id"])  # fmt: skip
        return frame.set_index("time")

    def on_change(self, callback: Callable[[str, str, dict[str, Any] | None], None]) -> None:
        """Call ``callback(kind, order_id, result)`` after an amend (``"amended"``) or cancel (``"canceled"``) here.

        :func:`kit.views.ui.link` uses it to keep an order ticket's line true.
        """
        self._changed.append(callback)

    def on_refresh(self, callback: Callable[[pd.DataFrame], None]) -> None:
        """Call ``callback(open_orders)`` after each successful refresh (:func:`kit.views.ui.link` uses it)."""
        self._refreshed.append(callback)

    def _notify(self, kind: str, order_id: str, result: dict[str, Any] | None) -> None:
        for cb in list(self._changed):
            try:
                cb(kind, order_id, result)
            except Exception:
                log.exception("blotter on_change callback failed")

    # -- cancel --------------------------------------------------------------------------------
    def cancel(self, symbol: str, order_id: str) -> dict[str, Any] | None:
        """Cancel one open order through the Session, show the outcome, refresh; returns ccxt's answer."""
        try:
            result = self.session.cancel(symbol, order_id=order_id)
        except KitError as exc:
            self.message.value = colored(f"cancel {order_id} failed: {exc}", RED, cls="kt-error")
            return None
        self.message.value = colored(f"order {order_id} {result.get('status') or 'cancel sent'}", GREEN, cls="kt-ok")
        self._notify("canceled", str(order_id), result)
        self.refresh()
        return result

    # -- amend ---------------------------------------------------------------------------------
    def amend(self, symbol: str, order_id: str, *, price: Any = None, amount: Any = None) -> dict[str, Any] | None:
        """Move an open order to a new ``price`` (and/or a new total ``amount``) through the Session.

        The exchange's cancel-replace (:meth:`Session.amend <kit.session.trading.Trading.amend>`): the
        order gets a new id. Shows the outcome (or the error, which says what to do) and refreshes;
        returns ccxt's order of the replacement, or ``None`` when it was refused.

        >>> blotter.amend("BTC/USDT", "42", price="59950")     # doctest: +SKIP
        """
        try:
            result = self.session.amend(symbol, order_id=order_id, price=price or None, amount=amount or None)
        except KitError as exc:
            self.message.value = colored(f"amend {order_id} failed: {exc}", RED, cls="kt-error")
            return None
        self.message.value = colored(
            f"order {order_id} replaced by {result.get('id')} at {num(result.get('price'))}", GREEN, cls="kt-ok"
        )
        self._notify("amended", str(order_id), result)
        self.refresh()
        return result

    # -- rendering -----------------------------------------------------------------------------
    def _lists(self) -> dict[str, str]:
        """Client id of each order placed in a list (Session.bracket) -> its list's client id, from the journal."""
        s = self.session
        return {e.client_id: str(e.payload["list_client_id"]) for e in s.journal.events(kinds=["ack"], venue=s.venue)
                if e.client_id and e.payload.get("list_client_id")}  # fmt: skip

    def _render_orders(self, orders: pd.DataFrame) -> None:
        rows: list[tuple[Any, ...]] = []
        lists = self._lists() if len(orders) else {}
        for ts, o in orders.iterrows():
            rows.append((
                _time(ts), str(o.get("symbol")), str(o.get("side")), str(o.get("type")), num(o.get("price")),
                num(o.get("triggerPrice")), num(o.get("amount")), num(o.get("filled")), str(o.get("status")),
                lists.get(str(o.get("clientOrderId")), ""), str(o.get("id")),
            ))  # fmt: skip
        first: dict[str, int] = {}  # the orders of one list are shown together, where the list's first order is
        for i, row in enumerate(rows):
            first.setdefault(row[9] or f"#{i}", i)
        rows = [r for _, r in sorted(enumerate(rows), key=lambda ir: (first[ir[1][9] or f"#{ir[0]}"], ir[0]))]
        sig = tuple(rows)
        if sig == self._order_sig:
            return
        self._order_sig = sig
        old = list(self.orders_box.children)
        cells: list[w.Widget] = [w.HTML(f'<span style="{_CELL};color:{GREY}">{esc(h)}</span>') for h in _ORDER_HEADERS]
        if not rows:
            cells.append(w.HTML(f'<span style="{_CELL};color:{GREY}" class="kt-no-orders">no open orders</span>'))
            cells += [w.HTML("") for _ in _ORDER_HEADERS[1:]]
        for row in rows:
            when, sym, side, kind, price, trig, amount, filled, status, lst, oid = row
            for value in (when, sym):
                cells.append(w.HTML(f'<span style="{_CELL}">{esc(value)}</span>'))
            cells.append(w.HTML(f'<span style="{_CELL}">{_side(side)}</span>'))
            for value in (kind, price, trig, amount, filled, status):
                cells.append(w.HTML(f'<span style="{_CELL}">{esc(value)}</span>'))
            tip = f' title="order list {esc(lst)}: canceling one of its orders cancels the list"' if lst else ""
            list_cell = w.HTML(f'<span style="{_CELL}"{tip}>{esc(lst)}</span>')
            list_cell.add_class("kt-order-list")
            cells.append(list_cell)
            new_price = w.Text(placeholder=price, layout=w.Layout(width="110px", height="24px"))
            new_price.add_class(f"kt-amend-price-{oid}")
            move = w.Button(description="Amend", tooltip=f"Move order {oid} to the new price (cancel-replace)",
                            layout=w.Layout(width="auto", min_width="72px", height="24px"))  # fmt: skip
            move.add_class("kt-amend")
            move.add_class(f"kt-amend-{oid}")
            move.on_click(lambda _b, sym=sym, oid=oid, box=new_price: self.amend(sym, oid, price=box.value.strip()))
            button = w.Button(description="Cancel", button_style="warning", tooltip=f"Cancel order {oid}",
                              layout=w.Layout(width="auto", min_width="72px", height="24px"))  # fmt: skip
            button.add_class("kt-cancel")
            button.add_class(f"kt-cancel-{oid}")
            button.on_click(lambda _b, sym=sym, oid=oid: self.cancel(sym, oid))
            cells += [new_price, move, button]
        for cell in cells[: len(_ORDER_HEADERS)]:
            cell.add_class("kt-order-head")
        for i, cell in enumerate(cells[len(_ORDER_HEADERS) :]):
            cell.add_class("kt-order-row")
            cell.add_class(f"kt-order-row-{i // len(_ORDER_HEADERS)}")
        self.orders_box.children = cells
        for child in old:
            child.close()

    def _render_fills(self, fills: pd.DataFrame) -> None:
        head = "".join(f'<th style="{_CELL};text-align:left;color:{GREY}">{esc(h)}</th>' for h in _FILL_HEADERS)
        body = []
        for ts, f in fills.iterrows():
            fee = f"{num(f['fee_cost'])} {esc(f['fee_currency'])}".strip()
            cells = [esc(_time(ts)), esc(f["symbol"]), _side(f["side"]), num(f["price"]), num(f["amount"]), fee,
                     esc(f["order_id"])]  # fmt: skip
            body.append('<tr class="kt-fill">' + "".join(f'<td style="{_CELL}">{c}</td>' for c in cells) + "</tr>")
        if not body:
            body.append(f'<tr><td colspan="{len(_FILL_HEADERS)}" style="{_CELL};color:{GREY}">no fills yet</td></tr>')
        self.fills_html.value = (
            f'<table class="kt-fills-table" style="border-collapse:collapse"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>"
        )
