"""Order lists on localnet: placing, canceling and querying them, and the ``listStatus`` event.

The routes: ``POST /api/v3/orderList/{oco,oto,otoco,opo,opoco}``, ``DELETE``/``GET /api/v3/orderList``,
``GET /api/v3/allOrderList`` and ``GET /api/v3/openOrderList``.

Binance's REST API page ("Order lists", "Query Order list", "Query all Order lists", "Query Open
Order lists") and user-data-stream page ("ListStatus") are the contract; the list semantics are
the engine's (:mod:`kit.engine.lists`). Each order of a list is decoded by the same code as
``POST /api/v3/order`` (:func:`kit.localnet.wire.decode_order`) from its prefixed parameters
(``aboveType``, ``abovePrice``, ... -> ``type``, ``price``, ...), so every single-order rule
(mandatory and unread parameters, filters) holds for each order, and messages name the
prefixed parameter. Then the list's own rules:

- OCO: ``aboveType`` in STOP_LOSS(_LIMIT), LIMIT_MAKER, TAKE_PROFIT(_LIMIT); ``belowType`` the
  same (Binance's parameter table leaves LIMIT_MAKER out of ``belowType`` but its
  mandatory-parameter table and the buy OCO's price rule need it) else -1158; one limit-type
  order and one stop loss: two limit-type orders -1168, a sell's limit-type order below -1166
  (its take profit -1199, its stop loss above -1197), a buy's above -1165 (-1198, -1196); prices
  on the wrong sides of the last price -2010 "The relationship of the prices for the orders is
  not correct.".
- OTO/OTOCO: ``workingType`` LIMIT or LIMIT_MAKER; a pending MARKET order by ``quoteOrderQty`` is
  refused. OTOCO's response says ``contingencyType`` "OTO", as Binance's does.
- OPO/OPOCO (``faqs/opo.md``): the parameters of OTO/OTOCO without ``pendingQuantity``; the
  working order is a buy (else -1222 "Working order in an OPO list must be a bid.") and the
  pending ones sells (-1223 "Pending orders in an OPO list must be asks."). Their reports show
  no ``origQty`` until the working order has filled and sized them (Binance's examples).
  ``contingencyType`` "OTO" too.
- Weights 1 (placing, canceling), 4 (``orderList``), 20 (``allOrderList``), 6
  (``openOrderList``); the unfilled-order count grows by 2 (OCO, OTO, OPO) or 3 (OTOCO, OPOCO).
- The placement response shows the working order's state after the request and the pending
  orders as ``PENDING_NEW`` even when the working order filled at once (Binance's note).

>>> LIST_ROUTES[("POST", "/api/v3/orderList/otoco")][1]
'spot_trading'
>>> leg_params({"symbol": "BTCUSDT", "aboveType": "LIMIT_MAKER", "abovePrice": "1"}, "above", side="SELL",
...            quantity="2")
{'symbol': 'BTCUSDT', 'side': 'SELL', 'quantity': '2', 'type': 'LIMIT_MAKER', 'price': '1'}
"""

from __future__ import annotations

import dataclasses
import re
import secrets
from typing import Any

from kit.localnet import wire
from kit.localnet.wire import VenueError, error, mandatory, parse_int, read_symbol

#: Leg fields, as ``POST /api/v3/order`` names them, that a list order carries under a prefix.
_LEG_FIELDS = ("Type", "ClientOrderId", "Price", "StopPrice", "TrailingDelta", "TimeInForce", "IcebergQty",
               "Quantity", "Side", "StrategyId", "StrategyType")  # fmt: skip
_ORDER_NAME = {"Type": "type", "ClientOrderId": "newClientOrderId", "Price": "price", "StopPrice": "stopPrice",
               "TrailingDelta": "trailingDelta", "TimeInForce": "timeInForce", "IcebergQty": "icebergQty",
               "Quantity": "quantity", "Side": "side", "StrategyId": "strategyId",
               "StrategyType": "strategyType"}  # fmt: skip
_COMMON = {"symbol", "listClientOrderId", "newOrderRespType", "selfTradePreventionMode", "recvWindow", "timestamp",
           "signature"}  # fmt: skip
_OCO_TYPES = {"STOP_LOSS_LIMIT", "STOP_LOSS", "LIMIT_MAKER", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"}
_LIMITISH = {"LIMIT_MAKER", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"}
_PREFIXES = {
    "oco": ("above", "below"),
    "oto": ("working", "pending"),
    "otoco": ("working", "pendingAbove", "pendingBelow"),
    "opo": ("working", "pending"),
    "opoco": ("working", "pendingAbove", "pendingBelow"),
}
_LIST_ID = re.compile(r"^[a-zA-Z0-9-_.]{1,36}$")


def leg_params(params: dict[str, str], prefix: str, **fixed: str | None) -> dict[str, str]:
    """The ``POST /api/v3/order`` parameters of one list order (``prefix`` + field, plus ``fixed``)."""
    out = {"symbol": params.get("symbol", "")}
    out.update({k: v for k, v in fixed.items() if v is not None})
    for f in _LEG_FIELDS:
        v = params.get(prefix + f)
        if v is not None and v != "":
            out[_ORDER_NAME[f]] = v
    return out


def _allowed(kind: str) -> set[str]:
    names = set(_COMMON)
    for p in _PREFIXES[kind]:
        names |= {p + f for f in _LEG_FIELDS}
    if kind == "oco":
        names |= {"side", "quantity"}
        names -= {"aboveSide", "belowSide", "aboveQuantity", "belowQuantity"}
    elif kind in ("otoco", "opoco"):
        names |= {"pendingSide", "pendingQuantity"}
        names -= {"pendingAboveSide", "pendingBelowSide", "pendingAboveQuantity", "pendingBelowQuantity"}
    if kind in ("opo", "opoco"):
        names.discard("pendingQuantity")  # the working order's fill sizes the pending orders
    return names


def _decode_leg(venue: Any, leg: dict[str, str], prefix: str) -> wire.DecodedOrder:
    """Decode one order like ``POST order``; error messages name the prefixed parameter."""
    try:
        return wire.decode_order(leg, venue.symbols)
    except VenueError as exc:
        msg = exc.msg
        for f, name in _ORDER_NAME.items():
            msg = msg.replace(f"'{name}'", f"'{prefix}{f}'")
        raise VenueError(exc.code, msg, exc.status) from None


def _oco_types(side: str, above: str, below: str) -> None:
    """Binance's placement rules for an OCO pair's types (codes from errors.md)."""
    if above not in _OCO_TYPES or below not in _OCO_TYPES:
        raise error(-1158, "Order type not supported in OCO.")
    lim_above, lim_below = above in _LIMITISH, below in _LIMITISH
    if lim_above and lim_below:
        raise error(-1168, "At least one OCO order must be contingent.")
    if not lim_above and not lim_below:
        raise error(-1158, "Order type not supported in OCO.")
    if side == "SELL" and lim_below:
        if below == "LIMIT_MAKER":
            raise error(-1166, "A limit order in a sell OCO must be above.")
        raise error(-1199, "A take profit order in a sell OCO must be above.")
    if side == "BUY" and lim_above:
        if above == "LIMIT_MAKER":
            raise error(-1165, "A limit order in a buy OCO must be below.")
        raise error(-1198, "A take profit order in a buy OCO must be below.")


def _opo_sides(kind: str, working: str, pending: str) -> None:
    """An OPO's working order buys and its pending orders sell (errors.md -1222, -1223)."""
    if kind not in ("opo", "opoco"):
        return
    if working != "BUY":
        raise error(-1222, "Working order in an OPO list must be a bid.")
    if pending != "SELL":
        raise error(-1223, "Pending orders in an OPO list must be asks.")


def decode_list(venue: Any, kind: str, params: dict[str, str]) -> tuple[str, Any, list[dict[str, Any]], str]:
    """Validate a list placement; returns (symbol id, engine OrderListRequest, metas, response type)."""
    from kit.engine.types import Contingency, OrderListRequest

    sid, _ = read_symbol(params, venue.symbols, _allowed(kind))
    list_cid = params.get("listClientOrderId") or None
    if list_cid is not None and not _LIST_ID.match(list_cid):
        raise error(-1100, "Illegal characters found in parameter 'listClientOrderId'; legal range is "
                    "'^[a-zA-Z0-9-_.]{1,36}$'.")  # fmt: skip
    resp = params.get("newOrderRespType") or "RESULT"
    if resp not in ("ACK", "RESULT", "FULL"):
        raise error(
            -1100, "Illegal characters found in parameter 'newOrderRespType'; legal range is 'ACK, RESULT, FULL'."
        )
    stp = params.get("selfTradePreventionMode")
    prefixes = _PREFIXES[kind]
    legs: list[tuple[str, dict[str, str]]] = []
    if kind == "oco":
        for name in ("side", "quantity", "aboveType", "belowType"):
            if not params.get(name):
                raise mandatory(name)
        _oco_types(params["side"], params["aboveType"], params["belowType"])
        for p in prefixes:
            legs.append((p, leg_params(params, p, side=params["side"], quantity=params["quantity"])))
    else:
        for name in ("workingType", "workingSide", "workingPrice", "workingQuantity"):
            if not params.get(name):
                raise mandatory(name)
        if params["workingType"] not in ("LIMIT", "LIMIT_MAKER"):
            raise error(-1116, "Invalid orderType.")
        legs.append(("working", leg_params(params, "working")))
        pays = kind in ("opo", "opoco")
        # an OPO's pending orders are decoded with the working quantity standing in for theirs
        qty_name = "workingQuantity" if pays else "pendingQuantity"
        if kind in ("oto", "opo"):
            for name in ("pendingType", "pendingSide", qty_name):
                if not params.get(name):
                    raise mandatory(name)
            _opo_sides(kind, params["workingSide"], params["pendingSide"])
            legs.append(("pending", leg_params(params, "pending", quantity=params[qty_name] if pays else None)))
        else:
            for name in ("pendingSide", qty_name, "pendingAboveType", "pendingBelowType"):
                if not params.get(name):
                    raise mandatory(name)
            _opo_sides(kind, params["workingSide"], params["pendingSide"])
            _oco_types(params["pendingSide"], params["pendingAboveType"], params["pendingBelowType"])
            for p in prefixes[1:]:
                fixed = {"side": params["pendingSide"], "quantity": params[qty_name]}
                legs.append((p, leg_params(params, p, **fixed)))
    decoded = []
    for p, leg in legs:
        if stp:
            leg["selfTradePreventionMode"] = stp
        decoded.append(_decode_leg(venue, leg, p))
    if kind == "oto" and decoded[1].request.quote_quantity is not None:
        raise error(-1106, "Parameter 'pendingQuoteOrderQty' sent when not required.")
    contingency = Contingency(kind.upper())
    reqs = [d.request for d in decoded]
    if contingency.pays:
        reqs[1:] = [dataclasses.replace(r, quantity=None) for r in reqs[1:]]
    req = OrderListRequest(contingency, tuple(reqs), list_cid or secrets.token_hex(11))
    return sid, req, [d.meta for d in decoded], resp


# ---------------------------------------------------------------------- venue operations
def place_list(venue: Any, account: str, sid: str, lst: Any, metas: list[dict[str, Any]]) -> tuple[Any, list[Any]]:
    """Submit ``lst`` through the venue's command log; returns (OrderList, placement-time Orders)."""
    from kit.engine import EventKind
    from kit.engine.filters import counts
    from kit.engine.lists import leg_order
    from kit.localnet.wire_rows import request_to_json

    info = venue.symbols[sid]
    opens = venue.engine.open_orders(account, info.symbol)

    for r in lst.orders[:1] if lst.contingency.value != "OCO" else lst.orders:
        refusal = counts(info.market, r, open_orders=len(opens) + len(lst.orders) - 1,
                         open_algo_orders=sum(1 for o in opens if o.request.type.is_conditional),
                         open_iceberg_orders=sum(1 for o in opens if o.request.iceberg_qty is not None))  # fmt: skip
        if refusal is not None:
            raise wire.reject_error(refusal)
    now = venue._now()
    payload = {
        "account": account,
        "symbol": info.symbol,
        "contingency": lst.contingency.value,
        "client_id": lst.client_id,
        "orders": [request_to_json(r) for r in lst.orders],
    }
    events = venue.run_command("submit_list", now, payload, consume=True)
    if not events or events[0].kind is EventKind.REJECTED:
        venue.store.commit()
        raise list_reject(events[0]) if events else RuntimeError("engine returned no events")
    accepted = [e.order for e in events if e.kind is EventKind.ACCEPTED and e.order is not None][: len(lst.orders)]
    metas = [metas[i] for i in leg_order(lst)]  # the engine lists a pair's stop loss first, as Binance
    for order, meta in zip(accepted, metas, strict=True):
        m = {**meta, "workingTime": now if order.status.value == "new" else -1, **venue._expiry_meta(order.id)}
        venue.order_meta[order.id] = m
        venue.store.save_order_meta(order.id, m)
    venue.store.commit()
    ol = next(e.order_list for e in events if e.order_list is not None)
    return venue.engine.get_list(account, list_id=ol.id), accepted


def list_reject(ev: Any) -> VenueError:
    """Binance's error for a refused list (the engine's refusals that are list-only, else as orders)."""
    from kit.engine import RejectCode

    if ev.code is RejectCode.LIST_PRICES:
        return error(-2010, ev.reason)
    if ev.code is RejectCode.INVALID and "OCO" in ev.reason:
        return error(-1158, "Order type not supported in OCO.")
    return wire.reject_error(ev)


def execute(engine: Any, kind: str, ts: int, p: dict[str, Any]) -> list[Any]:
    """Run one logged list command on ``engine`` (``submit_list``, ``cancel_list``)."""
    from kit.engine.types import Contingency, OrderListRequest
    from kit.localnet.wire_rows import request_from_json

    if kind == "submit_list":
        reqs = tuple(request_from_json(r) for r in p["orders"])
        return engine.submit_list(p["account"], OrderListRequest(Contingency(p["contingency"]), reqs, p["client_id"]),
                                  ts_ms=ts)  # fmt: skip
    return engine.cancel_list(p["account"], list_id=p["list_id"], ts_ms=ts)


# ---------------------------------------------------------------------- encode
def list_body(venue: Any, ol: Any, sid: str, *, reports: list[dict[str, Any]] | None = None,
              transact_ms: int | None = None) -> dict[str, Any]:  # fmt: skip
    """An order list as Binance answers it (``orders``, and ``orderReports`` when given)."""
    done = ol.status.value == "ALL_DONE"
    body: dict[str, Any] = {
        "orderListId": ol.id,
        "contingencyType": "OCO" if ol.contingency.value == "OCO" else "OTO",
        "listStatusType": "ALL_DONE" if done else "EXEC_STARTED",
        "listOrderStatus": "ALL_DONE" if done else "EXECUTING",
        "listClientOrderId": ol.client_id,
        "transactionTime": transact_ms if transact_ms is not None else ol.updated_ms,
        "symbol": sid,
        "orders": [
            {"symbol": sid, "orderId": i, "clientOrderId": _client_id(venue, ol.account, i)} for i in ol.order_ids
        ],
    }
    if reports is not None:
        body["orderReports"] = reports
    return body


def _client_id(venue: Any, account: str, oid: int) -> str:
    o = venue.engine.get_order(account, order_id=oid)
    return o.client_id if o is not None else ""


def list_status_event(venue: Any, ol: Any, ts_ms: int) -> dict[str, Any]:
    """The ``listStatus`` user-data event of a list's status change."""
    sid = venue.by_unified[ol.symbol].id
    body = list_body(venue, ol, sid)
    return {
        "e": "listStatus",
        "E": ts_ms,
        "s": sid,
        "g": ol.id,
        "c": body["contingencyType"],
        "l": body["listStatusType"],
        "L": body["listOrderStatus"],
        "r": "NONE",
        "C": ol.client_id,
        "T": ts_ms,
        "O": [{"s": o["symbol"], "i": o["orderId"], "c": o["clientOrderId"]} for o in body["orders"]],
    }


# ---------------------------------------------------------------------- handlers
def _account(ctx: Any) -> str:
    assert ctx.key is not None
    return str(ctx.key.account)


def _place(kind: str) -> Any:
    def handler(venue: Any, params: dict[str, str], ctx: Any) -> Any:
        sid, lst, metas, resp = decode_list(venue, kind, params)
        acct = _account(ctx)
        now = venue.clock.now_ms()
        verdict = venue.limiter.check_order(acct, now)
        ctx.headers.update(verdict.headers)
        if verdict.status != 200:
            raise VenueError(verdict.code, verdict.msg, verdict.status, verdict.headers)
        ol, placed = place_list(venue, acct, sid, lst, metas)
        ctx.headers.update(venue.limiter.count_order(acct, now, len(placed)))
        if venue.faults.should_drop_ack():
            ctx.drop_response = True
        reports = []
        for order in placed:
            latest = venue.engine.get_order(acct, order_id=order.id)
            shown = order if order.status.value == "pending_new" or latest is None else latest
            fills = [f for f in venue.engine.fills(acct, shown.request.symbol) if f.order_id == order.id]
            report = wire.order_response(shown, fills, venue.order_meta.get(order.id, {}), sid, resp, now)
            if shown.request.quantity is None:  # an OPO's pending order: sized when the working order fills
                report.pop("origQty", None)
            reports.append(report)
        return list_body(venue, ol, sid, reports=reports, transact_ms=now)

    handler.__name__ = f"new_{kind}"
    handler.__doc__ = f"POST /api/v3/orderList/{kind}."
    return handler


def cancel_list(venue: Any, params: dict[str, str], ctx: Any) -> Any:
    """DELETE /api/v3/orderList."""
    from kit.engine import EventKind

    sid = params.get("symbol") or ""
    if not sid:
        raise mandatory("symbol")
    if sid not in venue.symbols:
        raise error(-1121, "Invalid symbol.")
    lid, cid = parse_int(params, "orderListId"), params.get("listClientOrderId") or None
    if lid is None and cid is None:
        raise error(-1102, "Param 'listClientOrderId' or 'orderListId' must be sent, but both were empty/null!")
    acct = _account(ctx)
    now = venue._now()
    ol = venue.engine.get_list(acct, list_id=lid, client_id=cid)
    if ol is None or ol.symbol != venue.symbols[sid].symbol:
        raise error(-2011, "Unknown order list sent.")
    open_ids = [i for i in ol.order_ids if (o := venue.engine.get_order(acct, order_id=i)) and o.status.is_open]
    if not open_ids:
        raise error(-2011, "Unknown order list sent.")
    events = venue.run_command("cancel_list", now, {"account": acct, "symbol": ol.symbol, "list_id": ol.id})
    venue.store.commit()
    if not events or events[0].kind is EventKind.REJECTED:
        raise error(-2011, "Unknown order list sent.")
    reports = []
    for i in ol.order_ids:
        o = venue.engine.get_order(acct, order_id=i)
        if o is not None:
            reports.append(wire.cancel_response(o, venue.order_meta.get(i, {}), sid, params.get("newClientOrderId"),
                                                now))  # fmt: skip
    return list_body(venue, venue.engine.get_list(acct, list_id=ol.id), sid, reports=reports, transact_ms=now)


def get_list(venue: Any, params: dict[str, str], ctx: Any) -> Any:
    """GET /api/v3/orderList (``orderListId`` or ``origClientOrderId``)."""
    lid, cid = parse_int(params, "orderListId"), params.get("origClientOrderId") or None
    if lid is None and cid is None:
        raise error(-1102, "Param 'origClientOrderId' or 'orderListId' must be sent, but both were empty/null!")
    ol = venue.engine.get_list(_account(ctx), list_id=lid, client_id=cid)
    if ol is None:
        raise error(-2013, "Order list does not exist.")
    return list_body(venue, ol, venue.by_unified[ol.symbol].id)


def all_lists(venue: Any, params: dict[str, str], ctx: Any) -> Any:
    """GET /api/v3/allOrderList (``fromId``, or ``startTime``/``endTime`` within 24 hours; ``limit``)."""
    from_id, start, end = parse_int(params, "fromId"), parse_int(params, "startTime"), parse_int(params, "endTime")
    if from_id is not None and (start is not None or end is not None):
        raise error(-1106, "Parameter 'startTime' sent when not required.")
    if start is not None and end is not None and end - start > 24 * 3_600_000:
        raise error(-1127, "More than 24 hours between startTime and endTime.")
    limit = parse_int(params, "limit", default=500) or 500
    lists = venue.engine.order_lists(_account(ctx))
    lists = [ol for ol in lists if from_id is None or ol.id >= from_id]
    lists = [ol for ol in lists if (start is None or ol.created_ms >= start) and (end is None or ol.created_ms <= end)]
    lists = lists[: min(limit, 1000)] if (from_id is not None or start is not None) else lists[-min(limit, 1000) :]
    return [list_body(venue, ol, venue.by_unified[ol.symbol].id) for ol in lists]


def open_lists(venue: Any, params: dict[str, str], ctx: Any) -> Any:
    """GET /api/v3/openOrderList."""
    lists = venue.engine.order_lists(_account(ctx), open_only=True)
    return [list_body(venue, ol, venue.by_unified[ol.symbol].id) for ol in lists]


#: Routes registered into :data:`kit.localnet.routes.ROUTES`.
LIST_ROUTES: dict[tuple[str, str], tuple[Any, str | None]] = {
    ("POST", "/api/v3/orderList/oco"): (_place("oco"), "spot_trading"),
    ("POST", "/api/v3/orderList/oto"): (_place("oto"), "spot_trading"),
    ("POST", "/api/v3/orderList/otoco"): (_place("otoco"), "spot_trading"),
    ("POST", "/api/v3/orderList/opo"): (_place("opo"), "spot_trading"),
    ("POST", "/api/v3/orderList/opoco"): (_place("opoco"), "spot_trading"),
    ("DELETE", "/api/v3/orderList"): (cancel_list, "spot_trading"),
    ("GET", "/api/v3/orderList"): (get_list, "reading"),
    ("GET", "/api/v3/allOrderList"): (all_lists, "reading"),
    ("GET", "/api/v3/openOrderList"): (open_lists, "reading"),
}

#: Request weights (rest-api.md).
LIST_WEIGHTS: dict[tuple[str, str], int] = {
    ("POST", "/api/v3/orderList/oco"): 1,
    ("POST", "/api/v3/orderList/oto"): 1,
    ("POST", "/api/v3/orderList/otoco"): 1,
    ("POST", "/api/v3/orderList/opo"): 1,
    ("POST", "/api/v3/orderList/opoco"): 1,
    ("DELETE", "/api/v3/orderList"): 1,
    ("GET", "/api/v3/orderList"): 4,
    ("GET", "/api/v3/allOrderList"): 20,
    ("GET", "/api/v3/openOrderList"): 6,
}
