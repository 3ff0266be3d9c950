"""The order ticket: an ipywidgets form that validates as you type and places only after a confirm click.

Every change of a field runs :func:`kit.views.ui.preview.preview` (nothing is sent): the message line
shows the first problem in red (the error's own text, which says what to do), and the preview
line shows the notional and the fee estimate. "Place" turns into a "Confirm: BUY 0.001 BTC/USDT
@ ..." step; only the confirm click calls :meth:`kit.session.Session.place`, and any change to
the form while confirming cancels the confirm step.

>>> from kit.session import Session                 # doctest: +SKIP
>>> from kit.views.ui import OrderTicket                  # doctest: +SKIP
>>> OrderTicket(Session("localnet"))                # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from kit.engine.types import OrderType, TimeInForce
from kit.errors import KitError
from kit.views.ui._html import GREY, ORANGE, RED, colored, esc, num, sig
from kit.views.ui.preview import Preview, preview

if TYPE_CHECKING:
    from kit.session.core import Session

__all__ = ["OrderTicket"]

log = logging.getLogger("kit.views.ui")

_STYLE = {"description_width": "88px"}


def _text(description: str, cls: str, placeholder: str = "") -> w.Text:
    field = w.Text(description=description, placeholder=placeholder, continuous_update=True, style=_STYLE,
                   layout=w.Layout(width="250px"))  # fmt: skip
    field.add_class(cls)
    return field


def sym_text(symbol: Any) -> str:
    """A symbol for a sentence (``"ETH/BTC"``), or ``"new"`` when none is selected."""
    return str(symbol) if symbol else "new"


def _blank(value: str) -> str | None:
    value = (value or "").strip()
    return value or None


class OrderTicket(w.VBox):
    """An order form bound to a Session: validates as you type, places after a confirm click.

    Parameters
    ----------
    session
        The :class:`~kit.session.Session` orders go through (its guard, caps and journal apply).
    symbol
        The symbol selected at first; default: the first of ``symbols``.
    symbols
        The symbols offered; default: every market of the session (:meth:`Session.markets`).
    fetch_price
        Fetch a ticker (one read request) when the symbol changes, so market orders get a notional
        and fee estimate. With ``False`` only prices the Session has already seen are used.

    Attributes
    ----------
    last_preview : Preview
        The latest validation result.
    last_order : dict or None
        The ccxt order returned by the last successful placement.
    last_error : KitError or None
        The error of the last failed placement.

    Notes
    -----
    Widgets carry CSS classes for tests and styling: ``kt-ticket`` (root), ``kt-symbol``, ``kt-side``,
    ``kt-type``, ``kt-qty``, ``kt-price``, ``kt-trigger``, ``kt-trailing``, ``kt-tif``, ``kt-post-only``,
    ``kt-reduce-only``, ``kt-iceberg``, ``kt-info``, ``kt-preview``, ``kt-message``, ``kt-place``,
    ``kt-confirm``, ``kt-back``, ``kt-status``.
    """

    def __init__(
        self,
        session: Session,
        *,
        symbol: str | None = None,
        symbols: list[str] | None = None,
        fetch_price: bool = True,
    ) -> None:
        self.session = session
        self.fetch_price = fetch_price
        self.last_preview: Preview = Preview(ok=False)
        self.last_order: dict[str, Any] | None = None
        self.last_error: KitError | None = None
        self._callbacks: list[Callable[[dict[str, Any]], None]] = []
        self._pending: dict[str, Any] | None = None
        self._prices: dict[str, Decimal] = {}
        self._busy = False

        self._markets = session.markets()
        options = list(symbols) if symbols is not None else [str(s) for s in self._markets.index]
        self.symbol = w.Dropdown(options=options, value=symbol or (options[0] if options else None),
                                 description="Symbol", style=_STYLE, layout=w.Layout(width="250px"))  # fmt: skip
        self.symbol.add_class("kt-symbol")
        self.side = w.ToggleButtons(
            options=[("Buy", "buy"), ("Sell", "sell")],
            value="buy",
            tooltips=["Buy the base asset", "Sell the base asset"],
            style={"button_width": "100px"},
        )
        self.side.add_class("kt-side")
        self.type = w.Dropdown(options=[t.value for t in OrderType], value="limit", description="Type", style=_STYLE,
                               layout=w.Layout(width="250px"))  # fmt: skip
        self.type.add_class("kt-type")
        self.qty = _text("Qty", "kt-qty")
        self.price = _text("Price", "kt-price")
        self.trigger = _text("Trigger", "kt-trigger")
        self.trailing = _text("Trail (bps)", "kt-trailing", "100 bps = 1 %")
        self.tif = w.Dropdown(options=[t.value for t in TimeInForce], value="GTC", description="Time in force",
                              style=_STYLE,
                              layout=w.Layout(width="250px"))  # fmt: skip
        self.tif.add_class("kt-tif")
        self.post_only = w.Checkbox(value=False, description="Post-only", indent=False, layout=w.Layout(width="110px"))
        self.post_only.add_class("kt-post-only")
        self.reduce_only = w.Checkbox(value=False, description="Reduce-only", indent=False,
                                      layout=w.Layout(width="120px"))  # fmt: skip
        self.reduce_only.add_class("kt-reduce-only")
        self.iceberg = _text("Iceberg qty", "kt-iceberg")
        self.info = w.HTML()
        self.info.add_class("kt-info")
        self.preview_line = w.HTML()
        self.preview_line.add_class("kt-preview")
        self.message = w.HTML()
        self.message.add_class("kt-message")
        self.place_button = w.Button(description="Place", button_style="primary", icon="paper-plane",
                                     layout=w.Layout(width="auto", min_width="90px"))  # fmt: skip
        self.place_button.add_class("kt-place")
        self.confirm_button = w.Button(description="Confirm", button_style="danger",
                                       layout=w.Layout(width="auto", display="none"))  # fmt: skip
        self.confirm_button.add_class("kt-confirm")
        self.back_button = w.Button(description="Back", layout=w.Layout(width="auto", min_width="70px", display="none"))
        self.back_button.add_class("kt-back")
        self.status = w.HTML(value=colored("No order placed yet.", GREY))
        self.status.add_class("kt-status")
        self.refresh_price_button = w.Button(description="", icon="refresh", tooltip="Fetch the last price",
                                             layout=w.Layout(width="36px"))  # fmt: skip
        self.refresh_price_button.add_class("kt-refresh-price")

        title = w.HTML(f"<b>Order ticket</b> &middot; {esc(session.venue)} ({esc(session.stage.value)})")
        super().__init__(
            children=[
                title,
                w.HBox([self.symbol, self.refresh_price_button, self.side]),
                w.HBox([self.type, self.tif]),
                w.HBox([self.qty, self.price]),
                w.HBox([self.trigger, self.trailing]),
                w.HBox([self.iceberg, self.post_only, self.reduce_only]),
                self.info,
                self.preview_line,
                self.message,
                w.HBox([self.place_button, self.confirm_button, self.back_button]),
                self.status,
            ],
            layout=w.Layout(border="1px solid #ddd", padding="6px", width="560px"),
        )
        self.add_class("kt-ticket")

        for field in (self.side, self.type, self.qty, self.price, self.trigger, self.trailing, self.tif,
                      self.post_only, self.reduce_only, self.iceberg):  # fmt: skip
            field.observe(self._changed, names="value")
        self.symbol.observe(self._symbol_changed, names="value")
        self.place_button.on_click(lambda _: self.place())
        self.confirm_button.on_click(lambda _: self.confirm())
        self.back_button.on_click(lambda _: self._cancel_confirm())
        self.refresh_price_button.on_click(lambda _: self._symbol_changed(None))
        self._symbol_changed(None)

    # -- public ------------------------------------------------------------------------------
    def order_changed(self, kind: str, order_id: str, result: dict[str, Any] | None = None) -> None:
        """Tell the ticket that an order was amended or cancelled elsewhere (the blotter), so its line stays true.

        Parameters
        ----------
        kind
            ``"amended"`` (``result`` is the replacement order) or ``"canceled"``.
        order_id
            The order that changed; only the ticket's last order is followed.
        result
            ccxt's answer.
        """
        last = self.last_order
        if last is None or str(last.get("id")) != str(order_id):
            return
        if kind == "amended" and result is not None:
            self.last_order = result
            text = f"Order {order_id} replaced by {result.get('id')}: " + self._order_line(result)
            self.status.value = colored(text, "#2e7d32", cls="kt-ok")
        elif kind == "canceled":
            self.last_order = {**last, "status": "canceled"}
            self.status.value = colored(f"Order {order_id} canceled (from the blotter).", ORANGE, cls="kt-ok")

    def open_orders_seen(self, orders: Any, *, symbols: list[str] | None = None) -> None:
        """Bring the line about the last order up to date with open orders just read (a blotter's refresh).

        Still open: its filled amount now. Gone while the line said open: it filled or was cancelled.
        ``symbols``: the symbols ``orders`` covers (None: every symbol).
        """
        last = self.last_order
        if last is None or str(last.get("status")) != "open":
            return
        if symbols is not None and last.get("symbol") not in symbols:
            return
        oid = str(last.get("id"))
        rows = orders[orders["id"].astype(str) == oid] if len(orders) and "id" in orders else orders.iloc[0:0]
        if len(rows):
            row = rows.iloc[0]
            fresh = {**last, "filled": row.get("filled"), "remaining": row.get("remaining")}
            if fresh.get("filled") != last.get("filled"):
                self.last_order = fresh
                self.status.value = self._order_html(fresh)
        else:
            self.last_order = {**last, "status": "done"}
            text = f"Order {oid} is no longer open (filled or canceled): see the blotter."
            self.status.value = colored(text, GREY, cls="kt-ok")

    def on_placed(self, callback: Callable[[dict[str, Any]], None]) -> None:
        """Call ``callback(order)`` after each successful placement (e.g. a blotter's refresh)."""
        self._callbacks.append(callback)

    def order_kwargs(self) -> dict[str, Any]:
        """The form as keyword arguments of :meth:`Session.place` (fields the type does not use are left out)."""
        kind = OrderType(self.type.value)
        limit, trailing = kind.has_limit_price, kind.is_trailing
        trigger = kind.is_conditional  # a trailing stop's trigger is its optional activation price
        bps: Any = _blank(self.trailing.value) if trailing else None
        if bps is not None and bps.isdigit():
            bps = int(bps)  # anything else goes as typed: the order description refuses it with a message
        return {
            "symbol": self.symbol.value,
            "side": self.side.value,
            "amount": _blank(self.qty.value),
            "type": kind.value,
            "price": _blank(self.price.value) if limit else None,
            "trigger_price": _blank(self.trigger.value) if trigger else None,
            "trailing_bps": bps,
            "time_in_force": self.tif.value if limit else "GTC",
            "post_only": bool(self.post_only.value) and kind is OrderType.LIMIT,
            "reduce_only": bool(self.reduce_only.value),
            "iceberg_amount": _blank(self.iceberg.value) if limit else None,
        }

    def validate(self) -> Preview:
        """Run the preview for the form as it is, update the preview and message lines, return it."""
        kw = self.order_kwargs()
        if kw["amount"] is None:
            result = Preview(ok=False)
            self.last_preview = result
            self.preview_line.value = ""
            self.message.value = colored("Enter a quantity.", GREY, cls="kt-hint")
            self.place_button.disabled = True
            return result
        if self.fetch_price:  # the funds check needs a recent free balance (read at most every few seconds)
            try:
                self.session.free_balances(max_age_s=self.session.balance_max_age_s)
            except KitError as exc:
                log.debug("free balance unavailable for the preview: %s", exc)
        try:
            result = preview(self.session, last_price=self._prices.get(kw["symbol"]), **kw)
        except Exception as exc:  # a bug must show in the form, not vanish in a callback
            log.exception("order preview failed")
            result = Preview(ok=False)
            self.message.value = colored(f"preview failed: {type(exc).__name__}: {exc}", RED, cls="kt-error")
            self.place_button.disabled = True
            self.last_preview = result
            return result
        self.last_preview = result
        self.preview_line.value = self._preview_html(result)
        if result.error is not None:
            self.message.value = colored(result.message, RED, cls="kt-error")
        elif result.warnings:
            self.message.value = colored("; ".join(result.warnings), ORANGE, cls="kt-warning")
        else:
            self.message.value = ""
        self.place_button.disabled = not result.ok or self._busy
        return result

    def place(self) -> bool:
        """The "Place" click: validate, then show the confirm step. Returns True if confirming."""
        result = self.validate()
        if not result.ok:
            return False
        self._pending = self.order_kwargs()
        self.confirm_button.description = f"Confirm: {result.summary}"
        self.confirm_button.layout.display = None
        self.back_button.layout.display = None
        self.place_button.layout.display = "none"
        return True

    def confirm(self) -> dict[str, Any] | None:
        """The "Confirm" click: place the pending order through the Session; returns the order or None."""
        kw = self._pending
        if kw is None or self._busy:
            return None
        self._busy = True
        self.confirm_button.disabled = True
        self.back_button.disabled = True
        self.status.value = colored(f"Sending {self.last_preview.summary} ...", GREY)
        order: dict[str, Any] | None = None
        try:
            order = self.session.place(kw.pop("symbol"), kw.pop("side"), kw.pop("amount"), **kw)
        except KitError as exc:
            self.last_error = exc
            self.status.value = colored(f"{type(exc).__name__}: {exc}", RED, cls="kt-error")
        except Exception as exc:  # show it; the journal has the intent if one was written
            log.exception("order placement failed")
            self.last_error = None
            self.status.value = colored(f"unexpected error: {type(exc).__name__}: {exc}", RED, cls="kt-error")
        finally:
            self._busy = False
            self.confirm_button.disabled = False
            self.back_button.disabled = False
            self._cancel_confirm()
        if order is not None:
            self.last_order, self.last_error = order, None
            self.status.value = self._order_html(order)
            for cb in list(self._callbacks):
                try:
                    cb(order)
                except Exception:
                    log.exception("on_placed callback failed")
        return order

    # -- internals ---------------------------------------------------------------------------
    def _changed(self, _change: Any) -> None:
        self._cancel_confirm(validate=False)
        self._sync_enabled()
        self.validate()

    def _symbol_changed(self, change: Any) -> None:
        self._cancel_confirm(validate=False)
        if change is not None and change.get("old") != change.get("new"):
            # Another market: the old price and quantity mean nothing there (61000 BTC for ETH/BTC), and the
            # previous order's outcome is about another symbol (#17.4).
            for field in (self.qty, self.price, self.trigger, self.iceberg):
                field.value = ""
            if self.last_error is not None or self.last_order is not None:
                self.status.value = colored(f"Ready for a {sym_text(change.get('new'))} order.", GREY)
            self.last_error = None
        sym = self.symbol.value
        if sym is not None and self.fetch_price:
            try:
                last = self.session.ticker(sym).get("last")
                if last is not None:
                    self._prices[sym] = Decimal(str(last))
            except KitError as exc:
                self.message.value = colored(f"last price unavailable: {exc}", ORANGE, cls="kt-warning")
        self._sync_enabled()
        self._update_info()
        self.validate()

    def _cancel_confirm(self, *, validate: bool = True) -> None:
        was_pending = self._pending is not None
        self._pending = None
        self.confirm_button.layout.display = "none"
        self.back_button.layout.display = "none"
        self.place_button.layout.display = None
        if was_pending and validate:
            self.validate()

    def _sync_enabled(self) -> None:
        kind = OrderType(self.type.value)
        limit = kind.has_limit_price
        self.price.disabled = not limit
        self.tif.disabled = not limit or bool(self.post_only.value)
        self.trigger.disabled = not kind.is_conditional
        self.trailing.disabled = not kind.is_trailing
        self.post_only.disabled = kind is not OrderType.LIMIT
        self.iceberg.disabled = not limit

    def _update_info(self) -> None:
        sym = self.symbol.value
        if sym is None or sym not in self._markets.index:
            self.info.value = ""
            return
        m = self._markets.loc[sym]
        last = self._prices.get(sym)
        parts = [
            f"last <b>{num(last)}</b> {esc(m['quote'])}" if last is not None else "last price unknown",
            f"tick {num(m['tick'])}",
            f"step {num(m['step'])}",
            f"min qty {num(m['min_amount'])}",
            f"min notional {num(m['min_cost'])}",
        ]
        self.info.value = f'<span style="color:{GREY};font-size:12px">{" &middot; ".join(parts)}</span>'
        self.qty.placeholder = f"step {num(m['step'])}"
        self.price.placeholder = f"tick {num(m['tick'])}"

    @staticmethod
    def _preview_html(p: Preview) -> str:
        if p.intent is None:
            return ""
        quote = esc(p.quote)
        if p.notional is None:
            return colored("notional: unknown (no recent price)", GREY)
        shown = num(p.notional, 2) if p.notional >= 1 else sig(p.notional, 6)
        text = f"notional <b>{shown}</b> {quote}"
        if p.fee is not None and p.fee_rate is not None:
            rate = f"{num(p.fee_rate * 100)} %"
            if p.intent.price is not None and not p.intent.post_only and p.maker_rate != p.taker_rate:
                rate = f"maker {num((p.maker_rate or 0) * 100)} % / taker {num((p.taker_rate or 0) * 100)} %"
            text += f" &middot; fee &asymp; {sig(p.fee)} {quote} ({rate})"
        return f'<span class="kt-notional">{text}</span>'

    @staticmethod
    def _order_line(order: dict[str, Any]) -> str:
        filled, amount, avg = order.get("filled"), order.get("amount"), order.get("average")
        text = f"{order.get('status')}: {str(order.get('side', '')).upper()} {order.get('symbol')}, "
        text += f"filled {num(filled)} of {num(amount)}"
        if order.get("price") is not None and order.get("type") != "market":
            text += f", limit {num(order.get('price'))}"
        if avg:
            text += f" @ {num(avg)}"
        return text

    @classmethod
    def _order_html(cls, order: dict[str, Any]) -> str:
        status = str(order.get("status"))
        color = "#2e7d32" if status in ("closed", "open") else ORANGE
        return colored(f"Order {order.get('id')} " + cls._order_line(order), color, cls="kt-ok")
