"""Order lists through the Session: an entry with its take-profit and stop-loss as one OTOCO list.

:meth:`OrderLists.bracket` places the entry with its exits (OTOCO); :meth:`OrderLists.protect`
puts the two exits on a holding already there (OCO).

Binance places the three orders as one unit (``POST /api/v3/orderList/otoco``): the entry works at
once; the take-profit (LIMIT_MAKER) and the stop-loss (STOP_LOSS, or STOP_LOSS_LIMIT with
``stop_limit``) wait as ``PENDING_NEW`` until the entry is fully filled, then the first of them to
start working expires the other. ccxt has no unified method for order lists, so the Session
calls its implicit Binance methods (``privatePostOrderListOtoco``, ``privateGetOrderList``,
``privateDeleteOrderList``) through the same request path as every order (budget, error map,
request log, journal).

What the kit adds around the exchange:

- **One intent.** The guard checks the list as one order whose notional is the entry's plus the
  larger exit's (only one exit can fill): per-order and daily caps see the whole list. The
  journal gets one ``intent`` under the list's client id (``contingency``, ``legs``: each
  order's own client id), then one ``ack`` per order under its own client id (with
  ``list_client_id``), so fills, cancels and the kill switch (which cancels ``tk-`` orders)
  work per order.
- **Exits sized after the fee.** Binance charges a buy's fee in the base asset, so a 1 BTC entry
  leaves 0.999 BTC: an exit of 1 BTC would be refused when it is placed (the pending orders
  expire with reason ``REJECTED``). By default the exits sell ``amount`` less the larger of the
  market's fee rates, rounded down to the step.
- **Lost replies.** A list whose reply was lost is looked up by its list client id
  (``GET /api/v3/orderList?origClientOrderId=``), never sent again; until its signed request
  can no longer arrive "not found" is not final (:meth:`OrderLists.resolve_list`). ``order()``
  with a list's client id answers with the list, so ``kit reconcile`` resolves a list too.

Examples
--------
>>> s = kit.Session("localnet", stage="testnet")                                   # doctest: +SKIP
>>> b = s.bracket("BTC/USDT", "buy", "0.001", price="59000", take_profit="62000",
...               stop_loss="57000")                                                # doctest: +SKIP
>>> b["status"], [o["status"] for o in b["orders"]]                                 # doctest: +SKIP
('EXECUTING', ['open', 'PENDING_NEW', 'PENDING_NEW'])
>>> s.cancel_list("BTC/USDT", list_client_id=b["clientOrderId"])["status"]        # doctest: +SKIP
'ALL_DONE'
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from typing import Any

from kit.engine.order import OrderSpec, parse_decimal
from kit.errors import KitError, OrderRejected, OrderUnknown, StageError
from kit.session.base import now_ms
from kit.session.orders import validate
from kit.session.trading import Trading

_LIST_PATH = "/api/v3/orderList"


def _num(d: Decimal) -> str:
    """A Decimal as Binance reads it (plain notation, no exponent)."""
    return format(d.normalize(), "f")


class OrderLists(Trading):
    """The Session's order lists (see the module docstring)."""

    def bracket(
        self,
        symbol: str,
        side: str,
        amount: Any,
        *,
        price: Any,
        take_profit: Any,
        stop_loss: Any,
        stop_limit: Any = None,
        exit_amount: Any = None,
        post_only: bool = False,
    ) -> dict[str, Any]:
        """Place a limit entry with its take-profit and stop-loss as one OTOCO list.

        ``side`` is the entry's; the exits take the other side. For a buy, ``take_profit`` must be
        above ``price`` and ``stop_loss`` below it (a sell: the other way round). ``stop_limit``
        makes the stop a STOP_LOSS_LIMIT at that limit price; ``exit_amount`` defaults to
        ``amount`` less the fee (see the module docstring). ``post_only`` sends the entry as
        LIMIT_MAKER.

        Returns ``{"id", "clientOrderId", "contingency", "status", "orders", "info"}``: ``orders``
        are ccxt's unified orders (entry, take-profit, stop-loss), ``status`` Binance's
        ``listOrderStatus``. Raises what :meth:`place` raises before sending (nothing is sent
        then), and :class:`~kit.errors.OrderUnknown` if the outcome could not be established.
        """
        self._check_kill_switch()
        if not self.stage.allows_orders:
            raise StageError(f"orders are not allowed in the {self.stage.value} stage", symbol=str(symbol))
        entry = OrderSpec.parse(symbol, side, amount, price=price, post_only=post_only)
        if entry.price is None:
            hint = "No request was sent. Give price=... (Binance's working order is a limit)."
            raise OrderRejected("a bracket's entry needs a limit price", symbol=str(symbol), hint=hint)
        market = self._ex.markets.get(symbol) or {}
        buy = entry.side.value == "buy"
        exit_side = "sell" if buy else "buy"
        tp_px = parse_decimal(take_profit, "take_profit", symbol=symbol)
        sl_px = parse_decimal(stop_loss, "stop_loss", symbol=symbol)
        if not ((tp_px > entry.price > sl_px) if buy else (tp_px < entry.price < sl_px)):
            where = "above" if buy else "below"
            raise OrderRejected(
                f"a {entry.side.value} bracket needs take_profit {where} the entry price and stop_loss on the "
                f"other side (entry {entry.price}, take_profit {tp_px}, stop_loss {sl_px})",
                symbol=symbol,
                hint="No request was sent. Binance refuses other prices: 'The relationship of the prices for the "
                "orders is not correct.'",
            )
        qty = self._exit_amount(entry, market, exit_amount)
        tp, sl = _exits(symbol, exit_side, qty, tp_px, sl_px, stop_limit)
        last = self._last_price.get(symbol)
        for spec in (entry, tp, sl):
            validate(spec, self._ex.markets.get(symbol), self.features(), last_price=last,
                     fat_finger_pct=self.fat_finger_pct if spec is entry else None)  # fmt: skip
        self._check_counts(entry)
        self._refuse_if_degraded(symbol)
        exits = max(qty * tp_px, qty * (sl.price or sl_px))
        notional = entry.base_amount * entry.price + exits  # the whole list: the entry and the exit that can fill
        self._guard_order(entry, notional, record=True)
        self._check_clock(remeasure=True)
        self._check_funds(entry, entry.price, dry=False)
        list_cid, cids = self._next_client_id(), [self._next_client_id() for _ in range(3)]
        params = self._otoco_params(market, entry, tp, sl, list_cid, cids)
        legs = {"entry": cids[0], "take_profit": cids[1], "stop_loss": cids[2]}
        self._journal_intent(entry, list_cid, notional, params, contingency="OTOCO", legs=legs,
                             exit_amount=qty, take_profit=tp_px, stop_loss=sl_px, stop_limit=sl.price)  # fmt: skip
        return self._send_list("otoco", params, list_cid, symbol, legs)

    def _send_list(self, kind: str, params: dict[str, Any], list_cid: str, symbol: str,
                   legs: dict[str, str]) -> dict[str, Any]:  # fmt: skip
        """Send a journaled list (``oco``/``otoco``); a lost reply is resolved by its list client id."""
        ex = self._ex
        send = ex.privatePostOrderListOtoco if kind == "otoco" else ex.privatePostOrderListOco
        try:
            raw = self._call("create_order_list", "POST", f"{_LIST_PATH}/{kind}", lambda: send(params), read=False,
                             symbol=symbol)  # fmt: skip
        except OrderUnknown as exc:
            self._j("unknown", symbol=symbol, client_id=list_cid, reason=f"{exc.__class__.__name__}: {exc}"[:300])
            return self.resolve_list(list_cid, symbol=symbol, error=exc)
        except KitError as exc:
            self._j("resolved", symbol=symbol, client_id=list_cid, status="rejected", how=exc.__class__.__name__,
                    message=str(exc)[:300])  # fmt: skip
            raise
        return self._ack_list(raw, list_cid, symbol, legs)

    def protect(self, symbol: str, side: str, amount: Any, *, take_profit: Any, stop_loss: Any,
                stop_limit: Any = None) -> dict[str, Any]:  # fmt: skip
        """Exit a position already held with a take-profit and a stop-loss as one OCO list.

        ``side`` is the exits' side (``"sell"`` closes a long holding). The take-profit is a
        LIMIT_MAKER, the stop a STOP_LOSS (or STOP_LOSS_LIMIT at ``stop_limit``); the first to start
        working expires the other. Binance's price rule is checked before sending: for a sell,
        take_profit above the last price and stop_loss below it (a buy: the other way round).
        Checked, journaled and resolved like :meth:`bracket` (notional: the larger exit).

        >>> s.protect("BTC/USDT", "sell", "0.001", take_profit="64000", stop_loss="58000")   # doctest: +SKIP
        """
        self._check_kill_switch()
        if not self.stage.allows_orders:
            raise StageError(f"orders are not allowed in the {self.stage.value} stage", symbol=str(symbol))
        tp_px = parse_decimal(take_profit, "take_profit", symbol=symbol)
        sl_px = parse_decimal(stop_loss, "stop_loss", symbol=symbol)
        tp, sl = _exits(symbol, side, amount, tp_px, sl_px, stop_limit)
        last = self._last_price.get(symbol)
        if last is None:
            last = Decimal(str(self.ticker(symbol)["last"]))
        sell = tp.side.value == "sell"
        if not ((tp_px > last > sl_px) if sell else (tp_px < last < sl_px)):
            where = "above" if sell else "below"
            raise OrderRejected(
                f"a {tp.side.value} OCO needs take_profit {where} the last price and stop_loss on the other side "
                f"(last {last}, take_profit {tp_px}, stop_loss {sl_px})",
                symbol=symbol,
                hint="No request was sent. Binance refuses other prices: 'The relationship of the prices for the "
                "orders is not correct.'",
            )
        for spec in (tp, sl):
            validate(spec, self._ex.markets.get(symbol), self.features(), last_price=last, fat_finger_pct=None)
        self._check_counts(tp)
        self._refuse_if_degraded(symbol)
        notional = max(tp.base_amount * tp_px, sl.base_amount * (sl.price or sl_px))
        self._guard_order(tp, notional, record=True)
        self._check_clock(remeasure=True)
        self._check_funds(tp, tp_px, dry=False)
        list_cid, cids = self._next_client_id(), [self._next_client_id() for _ in range(2)]
        market = self._ex.markets.get(symbol) or {}
        at = ("above", "below") if sell else ("below", "above")
        p: dict[str, Any] = {
            "symbol": market.get("id") or symbol.replace("/", ""),
            "listClientOrderId": list_cid,
            "side": tp.side.value.upper(),
            "quantity": _num(tp.base_amount),
            f"{at[0]}Type": "LIMIT_MAKER",
            f"{at[0]}ClientOrderId": cids[0],
            f"{at[0]}Price": _num(tp_px),
            f"{at[1]}ClientOrderId": cids[1],
            f"{at[1]}StopPrice": _num(sl_px),
        }
        if sl.price is not None:
            p.update({f"{at[1]}Type": "STOP_LOSS_LIMIT", f"{at[1]}Price": _num(sl.price), f"{at[1]}TimeInForce": "GTC"})
        else:
            p[f"{at[1]}Type"] = "STOP_LOSS"
        legs = {"take_profit": cids[0], "stop_loss": cids[1]}
        self._journal_intent(tp, list_cid, notional, p, contingency="OCO", legs=legs, take_profit=tp_px,
                             stop_loss=sl_px, stop_limit=sl.price)  # fmt: skip
        return self._send_list("oco", p, list_cid, symbol, legs)

    def _exit_amount(self, entry: OrderSpec, market: dict[str, Any], given: Any) -> Decimal:
        if given is not None:
            return parse_decimal(given, "exit_amount", symbol=entry.symbol)
        if entry.side.value != "buy":
            return entry.base_amount  # a sell's fee is taken in the quote asset: the whole amount can be bought back
        rate = max(Decimal(str(market.get("maker") or "0.001")), Decimal(str(market.get("taker") or "0.001")))
        step = Decimal(str((market.get("precision") or {}).get("amount") or "0.00000001"))
        return (entry.base_amount * (1 - rate) / step).to_integral_value(rounding=ROUND_DOWN) * step

    @staticmethod
    def _otoco_params(market: dict[str, Any], entry: OrderSpec, tp: OrderSpec, sl: OrderSpec, list_cid: str,
                      cids: list[str]) -> dict[str, Any]:  # fmt: skip
        """Binance's OTOCO parameters; the pending pair's above/below order depends on the exits' side."""
        assert entry.price is not None and tp.price is not None and sl.trigger_price is not None
        p: dict[str, Any] = {
            "symbol": market.get("id") or entry.symbol.replace("/", ""),
            "listClientOrderId": list_cid,
            "workingType": "LIMIT_MAKER" if entry.post_only else "LIMIT",
            "workingSide": entry.side.value.upper(),
            "workingClientOrderId": cids[0],
            "workingPrice": _num(entry.price),
            "workingQuantity": _num(entry.base_amount),
            "pendingSide": tp.side.value.upper(),
            "pendingQuantity": _num(tp.base_amount),
        }
        if not entry.post_only:
            p["workingTimeInForce"] = "GTC"
        tp_at, sl_at = ("pendingAbove", "pendingBelow") if tp.side.value == "sell" else ("pendingBelow", "pendingAbove")
        p.update({f"{tp_at}Type": "LIMIT_MAKER", f"{tp_at}ClientOrderId": cids[1], f"{tp_at}Price": _num(tp.price)})
        p.update({f"{sl_at}ClientOrderId": cids[2], f"{sl_at}StopPrice": _num(sl.trigger_price)})
        if sl.price is not None:
            p.update({f"{sl_at}Type": "STOP_LOSS_LIMIT", f"{sl_at}Price": _num(sl.price), f"{sl_at}TimeInForce": "GTC"})
        else:
            p[f"{sl_at}Type"] = "STOP_LOSS"
        return p

    # -- acknowledgement and lost replies ---------------------------------------------------------
    def _ack_list(self, raw: dict[str, Any], list_cid: str, symbol: str, legs: dict[str, str]) -> dict[str, Any]:
        """Journal the list's ``ack`` and one per order (its own client id), record fills; the list as a dict."""
        market = self._ex.markets.get(symbol)
        reports = raw.get("orderReports") or []
        orders = [self._ex.parse_order(r, market) for r in reports]
        self._j("ack", symbol=symbol, client_id=list_cid, order_id=f"list-{raw.get('orderListId')}", status="list",
                list_id=raw.get("orderListId"), list_status=raw.get("listOrderStatus"), legs=legs)  # fmt: skip
        for o in orders:
            cid = str(o.get("clientOrderId") or "")
            if o.get("id") is not None:
                self._client_ids[str(o["id"])] = cid
            self._j("ack", symbol=symbol, client_id=cid, order_id=str(o.get("id")), status=str(o.get("status")),
                    filled=o.get("filled"), average=o.get("average"), side=o.get("side"), type=o.get("type"),
                    amount=o.get("amount"), price=o.get("price"), list_client_id=list_cid,
                    list_id=raw.get("orderListId"))  # fmt: skip
            for t in o.get("trades") or []:
                self._record_trade({**t, "order": t.get("order") or o.get("id"), "symbol": symbol,
                                    "side": t.get("side") or o.get("side")}, client_id=cid)  # fmt: skip
        self._forget_balances()
        return {
            "id": raw.get("orderListId"),
            "clientOrderId": raw.get("listClientOrderId") or list_cid,
            "contingency": raw.get("contingencyType"),
            "status": raw.get("listOrderStatus"),
            "orders": orders,
            "info": raw,
        }

    def order_list(self, symbol: str, *, list_client_id: str | None = None, list_id: Any = None) -> dict[str, Any]:
        """One order list, with each of its orders read now (ccxt's unified orders) and journaled.

        Raises :class:`~kit.errors.OrderUnknown` if the exchange has no such list.
        """
        if list_client_id is None and list_id is None:
            raise OrderRejected("give list_client_id or list_id", symbol=symbol, hint="No request was sent.")
        ex = self._ex
        q = {"orderListId": list_id} if list_id is not None else {"origClientOrderId": list_client_id}
        raw = dict(self._call("fetch_order_list", "GET", _LIST_PATH, lambda: ex.privateGetOrderList(q), params=q,
                              symbol=symbol))  # fmt: skip
        reports = []
        for o in raw.get("orders") or []:
            got = self.order(symbol, order_id=str(o["orderId"]))
            reports.append(got.get("info") or {})
            cid = str(o.get("clientOrderId") or "")
            self._j("order", symbol=symbol, client_id=cid, order_id=str(o["orderId"]), status=str(got.get("status")),
                    filled=got.get("filled"), how="read with its order list")  # fmt: skip
        return {**raw, "orderReports": reports}

    def resolve_list(self, list_client_id: str, *, symbol: str, error: BaseException | None = None,
                     wait: bool = True) -> dict[str, Any]:  # fmt: skip
        """Establish what happened to a list whose reply was lost, by its list client id; never resends.

        As :meth:`resolve` for one order: "not found" is final only once the list's signed request
        can no longer arrive; then it is journaled as not placed and :class:`~kit.errors.OrderUnknown`
        says it is safe to place it again.
        """
        intents = self.journal.events(kinds=["intent"], venue=self.venue, client_id=list_client_id)
        legs = dict(intents[-1].payload.get("legs") or {}) if intents else {}
        raw = self._look_up_within_window(
            list_client_id, symbol=symbol, error=error, wait=wait, noun="order list", key="list client id",
            window="the list's window", lookup=lambda: self.order_list(symbol, list_client_id=list_client_id),
        )  # fmt: skip
        self._j("resolved", symbol=symbol, client_id=list_client_id, order_id=f"list-{raw.get('orderListId')}",
                status="list", how="lookup by list client id")  # fmt: skip
        return self._ack_list(raw, list_client_id, symbol, legs)

    def _is_list(self, client_id: str) -> bool:
        intents = self.journal.events(kinds=["intent"], venue=self.venue, client_id=client_id)
        return bool(intents) and bool(intents[-1].payload.get("contingency"))

    def order(self, symbol: str, *, order_id: str | None = None, client_id: str | None = None) -> dict[str, Any]:
        """One order by exchange id or client order id; a list's client id gives the list (``status`` "list")."""
        if client_id and order_id is None and self._is_list(client_id):
            raw = self.order_list(symbol, list_client_id=client_id)
            return {"id": f"list-{raw.get('orderListId')}", "clientOrderId": client_id, "status": "list",
                    "filled": None, "average": None, "info": raw}  # fmt: skip
        return super().order(symbol, order_id=order_id, client_id=client_id)

    def resolve(self, client_id: str, *, symbol: str, error: BaseException | None = None,
                wait: bool = True) -> dict[str, Any]:  # fmt: skip
        """As :meth:`Trading.resolve`; a list's client id is resolved as a list (:meth:`resolve_list`)."""
        if self._is_list(client_id):
            return self.resolve_list(client_id, symbol=symbol, error=error, wait=wait)
        return super().resolve(client_id, symbol=symbol, error=error, wait=wait)

    # -- cancel -------------------------------------------------------------------------------------
    def cancel_list(self, symbol: str, *, list_client_id: str | None = None, list_id: Any = None) -> dict[str, Any]:
        """Cancel an order list (every open order of it), journaled per order under its own client id.

        Canceling one order of a list with :meth:`cancel` cancels the whole list too (Binance).
        Refused before any request in ``read_only``; caps and the kill switch never block a cancel.
        """
        self.guard.check_cancel(symbol=symbol, now_ms=now_ms())
        if list_client_id is None and list_id is None:
            raise OrderRejected("give list_client_id or list_id of the list to cancel", symbol=symbol,
                                hint="No request was sent. session.open_lists() shows them.")  # fmt: skip
        self._check_clock(remeasure=True)
        market = self._ex.markets.get(symbol) or {}
        q: dict[str, Any] = {"symbol": market.get("id") or symbol.replace("/", "")}
        q.update({"orderListId": list_id} if list_id is not None else {"listClientOrderId": list_client_id})
        known = list_client_id or ""
        self._j("cancel_intent", symbol=symbol, client_id=known, order_id=f"list-{list_id}" if list_id else "")
        ex = self._ex
        raw = dict(self._call("cancel_order_list", "DELETE", _LIST_PATH, lambda: ex.privateDeleteOrderList(q),
                              read=False, symbol=symbol))  # fmt: skip
        self._forget_balances()
        cid = known or str(raw.get("listClientOrderId") or "")
        self._j("cancel_ack", symbol=symbol, client_id=cid, order_id=f"list-{raw.get('orderListId')}",
                status="canceled", list_status=raw.get("listOrderStatus"))  # fmt: skip
        for r in raw.get("orderReports") or []:
            self._j("cancel_ack", symbol=symbol, client_id=str(r.get("origClientOrderId") or ""),
                    order_id=str(r.get("orderId")), status=str(r.get("status") or "").lower(),
                    list_client_id=cid)  # fmt: skip
        return {"id": raw.get("orderListId"), "clientOrderId": cid, "status": raw.get("listOrderStatus"), "info": raw}

    def cancel(self, symbol: str, *, order_id: str | None = None, client_id: str | None = None) -> dict[str, Any]:
        """As :meth:`Trading.cancel`; an order of a list cancels its list, so the list's orders are read too.

        Their states are journaled (they would otherwise stay open in the journal until a reconcile).
        """
        result = super().cancel(symbol, order_id=order_id, client_id=client_id)
        raw = result.get("info")
        info: dict[str, Any] = raw if isinstance(raw, dict) else {}
        list_id = info.get("orderListId")
        if isinstance(list_id, int) and list_id >= 0:
            try:
                self.order_list(symbol, list_id=list_id)
            except KitError as exc:  # the cancel itself succeeded; the journal catches up at the next reconcile
                self.warnings.append(f"could not read order list {list_id} after the cancel: {exc}")
        return result

    def open_lists(self) -> list[dict[str, Any]]:
        """The open order lists on the exchange (Binance's ``openOrderList``, as it answers)."""
        ex = self._ex
        return list(self._call("fetch_open_order_lists", "GET", "/api/v3/openOrderList",
                               lambda: ex.privateGetOpenOrderList()))  # fmt: skip


def _exits(
    symbol: str, side: Any, amount: Any, take_profit: Decimal, stop_loss: Decimal, stop_limit: Any
) -> tuple[OrderSpec, OrderSpec]:
    """An OCO's two exits as order descriptions (the take-profit, then the stop).

    A post-only limit at ``take_profit``, and a stop at ``stop_loss``: STOP_LOSS, or STOP_LOSS_LIMIT
    at ``stop_limit`` when one is given.
    """
    tp = OrderSpec.parse(symbol, side, amount, price=take_profit, post_only=True)
    sl_kw: dict[str, Any] = {"type": "stop_market", "trigger_price": stop_loss}
    if stop_limit is not None:
        sl_kw = {"type": "stop_limit", "trigger_price": stop_loss, "price": stop_limit}
    return tp, OrderSpec.parse(symbol, side, amount, **sl_kw)
