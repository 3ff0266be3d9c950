"""Binance Spot JSON <-> engine types, for orders, accounts and errors. Pure: no I/O, no clock.

Decoding follows Binance's ``POST /api/v3/order`` rules (rest-api.md "New order"): which
parameters each ``type`` needs or forbids, decimal syntax, precision, client order id syntax.
Engine rejections map to Binance codes and wording (errors.md), which ccxt classifies by
message (wire spec section 7). Market-data encodings live in :mod:`kit.localnet.wire_market`.

Examples
--------
>>> from decimal import Decimal as D
>>> err = error(-1121, "Invalid symbol.")
>>> err.body()
{'code': -1121, 'msg': 'Invalid symbol.'}
>>> fmt(D("0.1"))
'0.10000000'
>>> try:
...     parse_decimal({"quantity": "1e5"}, "quantity")
... except VenueError as exc:
...     print(exc.code)
-1100
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from kit.localnet.wire_market import (  # noqa: F401  (re-exported for the venue)
    agg_trade_event,
    agg_trade_rest,
    book_ticker,
    depth_event,
    exchange_info,
    kline_event,
    mini_ticker_event,
    ticker_24h,
    ticker_event,
    trade_event,
    trade_rest,
)
from kit.localnet.wire_rows import fill_row, order_row, request_from_json, request_to_json  # noqa: F401

if TYPE_CHECKING:  # pragma: no cover
    from kit.engine import Event, Fill, Order, Refusal

EIGHT = Decimal("0.00000001")
_NUM = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
_NUM_RANGE = r"^([0-9]{1,20})(\.[0-9]{1,20})?$"
_CLIENT_ID = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
_CLIENT_ID_RANGE = r"^[\.A-Z\:/a-z0-9_-]{1,36}$"


class VenueError(Exception):
    """A Binance-style error to return: HTTP ``status`` with body ``{"code", "msg"}``."""

    def __init__(self, code: int, msg: str, status: int = 400, headers: dict[str, str] | None = None) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.status = status
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """The JSON body."""
        return {"code": self.code, "msg": self.msg}


def error(code: int, msg: str, status: int = 400) -> VenueError:
    """Build a :class:`VenueError`."""
    return VenueError(code, msg, status)


def mandatory(name: str) -> VenueError:
    """-1102 for a missing parameter."""
    return error(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def fmt(x: Decimal | None) -> str:
    """Binance decimal string: 8 decimals, ``"0.00000000"`` for None."""
    if x is None:
        return "0.00000000"
    return format(x.quantize(EIGHT) if x.as_tuple().exponent > -8 else x, "f")  # type: ignore[operator]


# ---------------------------------------------------------------------- parameters
def parse_decimal(params: dict[str, str], name: str, *, required: bool = False) -> Decimal | None:
    """A decimal parameter in Binance's syntax (no exponent, at most 8 decimals)."""
    raw = params.get(name)
    if raw is None or raw == "":
        if required:
            raise mandatory(name)
        return None
    if not _NUM.match(raw):
        raise error(-1100, f"Illegal characters found in parameter '{name}'; legal range is '{_NUM_RANGE}'.")
    value = Decimal(raw)
    if value.normalize().as_tuple().exponent < -8:  # type: ignore[operator]
        raise error(-1111, f"Parameter '{name}' has too much precision.")
    return value


def parse_int(params: dict[str, str], name: str, *, required: bool = False, default: int | None = None) -> int | None:
    """An integer parameter (ids, times, limits)."""
    raw = params.get(name)
    if raw is None or raw == "":
        if required:
            raise mandatory(name)
        return default
    if not re.fullmatch(r"-?[0-9]{1,20}", raw):
        raise error(-1100, f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'.")
    return int(raw)


# ---------------------------------------------------------------------- orders: decode
ORDER_TYPES = ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"]
_NEEDS_TIF = {"LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"}
_NEEDS_PRICE = {"LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"}
_NEEDS_STOP = {"STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"}
STP_MODES = {"NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH", "DECREMENT"}
ORDER_PARAMS = {
    "symbol",
    "side",
    "type",
    "timeInForce",
    "quantity",
    "quoteOrderQty",
    "price",
    "newClientOrderId",
    "strategyId",
    "strategyType",
    "stopPrice",
    "trailingDelta",
    "icebergQty",
    "newOrderRespType",
    "selfTradePreventionMode",
    "timestamp",
    "recvWindow",
    "signature",
    "computeCommissionRates",
}


@dataclass(frozen=True)
class DecodedOrder:
    """A decoded ``POST order``: engine request, Binance-only attributes, response type."""

    symbol_id: str
    request: Any  # OrderRequest
    meta: dict[str, Any]
    resp_type: str


def read_symbol(
    params: dict[str, str], symbols: Mapping[str, Any], allowed: frozenset[str] | set[str]
) -> tuple[str, Any]:
    """The first checks of every order placement (``order``, ``orderList/*``): ``(symbol id, symbols[id])``.

    Binance answers -1104 when a parameter the endpoint does not read was sent, -1102 without a
    symbol and -1121 for a symbol it does not list, in that order.

    >>> read_symbol({"symbol": "BTCUSDT"}, {"BTCUSDT": "info"}, {"symbol"})
    ('BTCUSDT', 'info')
    >>> read_symbol({"symbol": "BTCUSDT", "x": "1"}, {"BTCUSDT": "info"}, {"symbol"})
    Traceback (most recent call last):
    ...
    kit.localnet.wire.VenueError: Not all sent parameters were read; read '1' parameter(s) but was sent '2'.
    """
    unknown = set(params) - allowed
    if unknown:
        read = len(params) - len(unknown)
        raise error(
            -1104, f"Not all sent parameters were read; read '{read}' parameter(s) but was sent '{len(params)}'."
        )
    sid = params.get("symbol") or ""
    if not sid:
        raise mandatory("symbol")
    info = symbols.get(sid)
    if info is None:
        raise error(-1121, "Invalid symbol.")
    return sid, info


def decode_order(
    params: dict[str, str], symbols: dict[str, Any], *, allowed: frozenset[str] | set[str] = ORDER_PARAMS
) -> DecodedOrder:
    """Validate Binance order parameters and build the engine request.

    ``symbols`` maps Binance ids to objects with a ``.symbol`` (engine symbol); ``allowed`` is
    the set of parameter names the endpoint reads (others give -1104).
    """
    from kit.engine import OrderType, Side, TimeInForce
    from kit.engine.order import OrderSpec, engine_request

    sid, info = read_symbol(params, symbols, allowed)
    side_s = params.get("side") or ""
    if not side_s:
        raise mandatory("side")
    if side_s not in ("BUY", "SELL"):
        raise error(-1117, "Invalid side.")
    typ = params.get("type") or ""
    if not typ:
        raise mandatory("type")
    if typ not in ORDER_TYPES:
        raise error(-1116, "Invalid orderType.")
    tif_s = params.get("timeInForce")
    if typ in _NEEDS_TIF:
        if not tif_s:
            raise mandatory("timeInForce")
        if tif_s not in ("GTC", "IOC", "FOK"):
            raise error(-1115, "Invalid timeInForce.")
    elif tif_s:
        raise error(-1106, "Parameter 'timeInForce' sent when not required.")
    qty = parse_decimal(params, "quantity")
    quote_qty = parse_decimal(params, "quoteOrderQty")
    price = parse_decimal(params, "price")
    stop = parse_decimal(params, "stopPrice")
    iceberg = parse_decimal(params, "icebergQty")
    trailing = parse_int(params, "trailingDelta")
    if typ == "MARKET":
        if qty is None and quote_qty is None:
            raise error(-1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!")
        if qty is not None and quote_qty is not None:
            raise error(-1106, "Parameter 'quoteOrderQty' sent when not required.")
    else:
        if quote_qty is not None:
            raise error(-1106, "Parameter 'quoteOrderQty' sent when not required.")
        if qty is None:
            raise mandatory("quantity")
    if typ in _NEEDS_PRICE:
        if price is None:
            raise mandatory("price")
    elif price is not None:
        raise error(-1106, "Parameter 'price' sent when not required.")
    if typ in _NEEDS_STOP:
        if stop is None and trailing is None:
            raise error(-1102, "Param 'stopPrice' or 'trailingDelta' must be sent, but both were empty/null!")
    else:
        for name, value in (("stopPrice", stop), ("trailingDelta", trailing)):
            if value is not None:
                raise error(-1106, f"Parameter '{name}' sent when not required.")
    if iceberg is not None and (typ not in _NEEDS_PRICE or (tif_s not in (None, "GTC"))):
        raise error(-1014, "Unsupported order combination.")
    client_id = params.get("newClientOrderId")
    if client_id is not None and not _CLIENT_ID.match(client_id):
        raise error(
            -1100, f"Illegal characters found in parameter 'newClientOrderId'; legal range is '{_CLIENT_ID_RANGE}'."
        )
    resp = params.get("newOrderRespType") or ("FULL" if typ in ("MARKET", "LIMIT") else "ACK")
    if resp not in ("ACK", "RESULT", "FULL"):
        raise error(
            -1100, "Illegal characters found in parameter 'newOrderRespType'; legal range is 'ACK, RESULT, FULL'."
        )
    stp = params.get("selfTradePreventionMode") or "EXPIRE_MAKER"
    if stp not in STP_MODES:
        raise error(-1100, "Illegal characters found in parameter 'selfTradePreventionMode'.")
    limit_type = typ in _NEEDS_PRICE
    if typ in ("MARKET",):
        etype = OrderType.MARKET
    elif typ in ("LIMIT", "LIMIT_MAKER"):
        etype = OrderType.LIMIT
    elif trailing is not None and typ.startswith("TAKE_PROFIT"):
        etype = OrderType.TRAILING_TAKE_PROFIT_LIMIT if limit_type else OrderType.TRAILING_TAKE_PROFIT_MARKET
    elif trailing is not None:
        etype = OrderType.TRAILING_STOP_LIMIT if limit_type else OrderType.TRAILING_STOP_MARKET
    elif typ.startswith("STOP_LOSS"):
        etype = OrderType.STOP_LIMIT if limit_type else OrderType.STOP_MARKET
    else:
        etype = OrderType.TAKE_PROFIT_LIMIT if limit_type else OrderType.TAKE_PROFIT_MARKET
    spec = OrderSpec(  # the kit's one order description; the engine's request is derived from it
        info.symbol,
        Side.BUY if side_s == "BUY" else Side.SELL,
        qty,
        price=price,
        type=etype,
        trigger_price=stop,
        trailing_bps=trailing,
        time_in_force=TimeInForce(tif_s) if tif_s else TimeInForce.GTC,
        post_only=typ == "LIMIT_MAKER",
        iceberg_amount=iceberg,
        client_id=client_id or _new_client_id(),
        quote_amount=quote_qty,
    )
    req = engine_request(spec)
    meta = {
        "type": typ,
        "timeInForce": tif_s or "GTC",
        "stopPrice": fmt(stop) if stop is not None else None,
        "trailingDelta": trailing,
        "icebergQty": fmt(iceberg) if iceberg is not None else None,
        "origQuoteOrderQty": fmt(quote_qty or Decimal(0)),
        "stp": stp,
    }
    return DecodedOrder(sid, req, meta, resp)


def _new_client_id() -> str:
    return secrets.token_hex(11)  # 22 characters, like Binance's generated ids


def reject_error(ev: Event | Refusal) -> VenueError:
    """Binance error for an engine REJECTED event or filter refusal (wording ccxt classifies correctly)."""
    from kit.engine import RejectCode as R

    code = ev.code
    if code is R.FILTER:
        return error(-1013, f"Filter failure: {ev.filter}")
    if code is R.INSUFFICIENT_FUNDS:
        return error(-2010, "Account has insufficient balance for requested action.")
    if code is R.DUPLICATE_CLIENT_ID:
        return error(-2010, "Duplicate order sent.")
    if code is R.WOULD_TAKE:
        return error(-2010, "Order would immediately match and take.")
    if code is R.WOULD_TRIGGER:
        return error(-2010, "Stop price would trigger immediately.")
    if code is R.UNKNOWN_SYMBOL:
        return error(-1121, "Invalid symbol.")
    if code is R.UNKNOWN_ACCOUNT:
        return error(-2015, "Invalid API-key, IP, or permissions for action.", 401)
    if code is R.UNKNOWN_ORDER:
        return error(-2011, "Unknown order sent.")
    if code is R.NOT_FILLABLE:
        return error(-2010, "Order book liquidity is less than symbol minimum quantity.")
    return error(-1014, "Unsupported order combination.")


# ---------------------------------------------------------------------- orders: encode
_STATUS = {
    "pending": "NEW",
    "pending_new": "PENDING_NEW",
    "new": "NEW",
    "partially_filled": "PARTIALLY_FILLED",
    "filled": "FILLED",
    "canceled": "CANCELED",
    "expired": "EXPIRED",
    "rejected": "REJECTED",
}


def binance_type(order: Order, meta: dict[str, Any]) -> str:
    """Binance type string of an order (from its meta, else derived from the engine type)."""
    if meta.get("type"):
        return str(meta["type"])
    req = order.request
    if req.type.value == "limit":
        return "LIMIT_MAKER" if req.post_only else "LIMIT"
    names = {
        "market": "MARKET",
        "stop_market": "STOP_LOSS",
        "stop_limit": "STOP_LOSS_LIMIT",
        "take_profit_market": "TAKE_PROFIT",
        "take_profit_limit": "TAKE_PROFIT_LIMIT",
        "trailing_stop_market": "STOP_LOSS",
        "trailing_stop_limit": "STOP_LOSS_LIMIT",
        "trailing_take_profit_market": "TAKE_PROFIT",
        "trailing_take_profit_limit": "TAKE_PROFIT_LIMIT",
    }
    return names[req.type.value]


def order_body(order: Order, meta: dict[str, Any], sid: str) -> dict[str, Any]:
    """The common order fields (query / open orders / all orders)."""
    req = order.request
    qty = order.quantity if order.quantity else order.filled_qty
    body: dict[str, Any] = {
        "symbol": sid,
        "orderId": order.id,
        "orderListId": order.list_id,
        "clientOrderId": order.client_id,
        "price": fmt(order.price or Decimal(0)),
        "origQty": fmt(qty),
        "executedQty": fmt(order.filled_qty),
        "cummulativeQuoteQty": fmt(order.filled_quote),
        "status": _STATUS[order.status.value],
        "timeInForce": meta.get("timeInForce") or req.time_in_force.value,
        "type": binance_type(order, meta),
        "side": req.side.value.upper(),
        "stopPrice": meta.get("stopPrice") or fmt(Decimal(0)),
        "icebergQty": meta.get("icebergQty") or fmt(Decimal(0)),
        "time": order.created_ms,
        "updateTime": order.updated_ms,
        "isWorking": order.status.value not in ("pending", "pending_new"),
        "workingTime": order.created_ms if order.status.value not in ("pending", "pending_new") else -1,
        "origQuoteOrderQty": meta.get("origQuoteOrderQty") or fmt(Decimal(0)),
        "selfTradePreventionMode": meta.get("stp") or "EXPIRE_MAKER",
    }
    if meta.get("trailingDelta") is not None:
        body["trailingDelta"] = meta["trailingDelta"]
    if order.status.value == "expired" and meta.get("expiryReason"):
        body["expiryReason"] = meta["expiryReason"]  # rest-api.md, "Conditional fields in Order Responses"
    return body


def order_response(
    order: Order, fills: list[Fill], meta: dict[str, Any], sid: str, resp_type: str, transact_ms: int
) -> dict[str, Any]:
    """``POST order`` body for ``newOrderRespType`` ACK, RESULT or FULL."""
    ack = {
        "symbol": sid,
        "orderId": order.id,
        "orderListId": order.list_id,
        "clientOrderId": order.client_id,
        "transactTime": transact_ms,
    }
    if resp_type == "ACK":
        return ack
    full = order_body(order, meta, sid)
    body = {
        **ack,
        **{k: full[k] for k in _RESULT_FIELDS},
        "workingTime": full["workingTime"],
        "selfTradePreventionMode": full["selfTradePreventionMode"],
    }
    _add_conditional_fields(body, full, meta)
    if resp_type == "FULL":
        body["fills"] = [
            {
                "price": fmt(f.price),
                "qty": fmt(f.quantity),
                "commission": fmt(f.fee),
                "commissionAsset": f.fee_asset,
                "tradeId": f.trade_id,
            }
            for f in fills
        ]
    return body


def cancel_response(
    order: Order, meta: dict[str, Any], sid: str, cancel_client_id: str | None, transact_ms: int
) -> dict[str, Any]:
    """``DELETE order`` body (``clientOrderId`` is the cancel request's id, like Binance)."""
    full = order_body(order, meta, sid)
    body = {
        "symbol": sid,
        "origClientOrderId": order.client_id,
        "orderId": order.id,
        "orderListId": order.list_id,
        "clientOrderId": cancel_client_id or _new_client_id(),
        "transactTime": transact_ms,
    }
    for k in (*_RESULT_FIELDS, "selfTradePreventionMode"):
        body[k] = full[k]
    _add_conditional_fields(body, full, meta)
    return body


#: The order's fields in a RESULT/FULL ``POST order`` answer and a ``DELETE order`` answer, in Binance's order.
_RESULT_FIELDS = ("price", "origQty", "executedQty", "origQuoteOrderQty", "cummulativeQuoteQty", "status",
                  "timeInForce", "type", "side")  # fmt: skip


def _add_conditional_fields(body: dict[str, Any], full: dict[str, Any], meta: dict[str, Any]) -> None:
    """The conditional fields of an order answer (rest-api.md, "Conditional fields in Order Responses").

    ``stopPrice``, ``icebergQty``, ``trailingDelta`` on the orders sent with them; ``expiryReason``
    on an expired order that has one.
    """
    for k in ("stopPrice", "icebergQty", "trailingDelta", "expiryReason"):
        if meta.get(k) is not None and k in full:
            body[k] = full[k]


def my_trade(fill: Fill, sid: str, account_is_buyer: bool, list_id: int = -1) -> dict[str, Any]:
    """One ``myTrades`` item; ``orderListId`` is the order's list id, -1 outside a list (as Binance)."""
    return {
        "symbol": sid,
        "id": fill.trade_id,
        "orderId": fill.order_id,
        "orderListId": list_id,
        "price": fmt(fill.price),
        "qty": fmt(fill.quantity),
        "quoteQty": fmt(fill.quote_quantity),
        "commission": fmt(fill.fee),
        "commissionAsset": fill.fee_asset,
        "time": fill.ts_ms,
        "isBuyer": account_is_buyer,
        "isMaker": fill.liquidity.value == "maker",
        "isBestMatch": True,
    }


def account_body(
    balances: dict[str, tuple[Decimal, Decimal]],
    assets: list[str],
    *,
    can_trade: bool,
    can_withdraw: bool,
    update_ms: int,
    uid: int,
) -> dict[str, Any]:
    """``GET account`` body; every listed asset appears, with zero balances too."""
    names = list(dict.fromkeys([*assets, *balances]))
    zero = (Decimal(0), Decimal(0))
    return {
        "makerCommission": 10,
        "takerCommission": 10,
        "buyerCommission": 0,
        "sellerCommission": 0,
        "commissionRates": {
            "maker": "0.00100000",
            "taker": "0.00100000",
            "buyer": "0.00000000",
            "seller": "0.00000000",
        },
        "canTrade": can_trade,
        "canWithdraw": can_withdraw,
        "canDeposit": True,
        "brokered": False,
        "requireSelfTradePrevention": False,
        "preventSor": False,
        "updateTime": update_ms,
        "accountType": "SPOT",
        "balances": [
            {"asset": a, "free": fmt(balances.get(a, zero)[0]), "locked": fmt(balances.get(a, zero)[1])} for a in names
        ],
        "permissions": ["SPOT"],
        "uid": uid,
    }


# ---------------------------------------------------------------------- user stream events
_EXEC = {
    "accepted": "NEW",
    "partially_filled": "TRADE",
    "filled": "TRADE",
    "canceled": "CANCELED",
    "expired": "EXPIRED",
    "amended": "REPLACED",
}


def execution_report(ev: Event, meta: dict[str, Any], sid: str) -> dict[str, Any]:
    """``executionReport`` user event for an order event (wire spec 8.3, user-data-stream.md).

    The always-present fields of Binance's example, then its conditional ones: ``d`` for a
    trailing order, ``W`` only once the order works on the book, ``eR`` when it expired (never
    ``v``: no order here expires through self-trade prevention).
    """
    order = ev.order
    assert order is not None
    body = order_body(order, meta, sid)
    f = ev.fill
    x = _EXEC.get(ev.kind.value, "NEW")
    report = {
        "e": "executionReport",
        "E": ev.ts_ms,
        "s": sid,
        "c": order.client_id,
        "S": body["side"],
        "o": body["type"],
        "f": body["timeInForce"],
        "q": body["origQty"],
        "p": body["price"],
        "P": body["stopPrice"],
        "F": body["icebergQty"],
        "g": order.list_id,
        "C": order.client_id if x == "CANCELED" else "",
        "x": x,
        "X": body["status"],
        "r": "NONE",
        "i": order.id,
        "l": fmt(f.quantity) if f else fmt(Decimal(0)),
        "z": body["executedQty"],
        "L": fmt(f.price) if f else fmt(Decimal(0)),
        "n": fmt(f.fee) if f else "0",
        "N": f.fee_asset if f else None,
        "T": ev.ts_ms,
        "t": f.trade_id if f else -1,
        "I": ev.ts_ms,
        "w": order.status.is_open and body["isWorking"],
        "m": bool(f and f.liquidity.value == "maker"),
        "M": False,
        "O": order.created_ms,
        "Z": body["cummulativeQuoteQty"],
        "Y": fmt(f.quote_quantity) if f else fmt(Decimal(0)),
        "Q": body["origQuoteOrderQty"],
        "W": body["workingTime"],
        "V": body["selfTradePreventionMode"],
        **_expiry_reason(ev, x),
    }
    if body["workingTime"] == -1:
        del report["W"]  # "Appears when the order is working on the book"
    if "trailingDelta" in body:
        report["d"] = int(body["trailingDelta"])
    return report


#: Binance's ``eR`` (user-data-stream.md "Order Expiry Reason") for the engine's order-list expiries.
_LIST_EXPIRY = ("OCO_TRIGGER", "OTO_PHASE_ONE_EXPIRED", "REJECTED")


def expiry_reason(order: Order, reason: str) -> str | None:
    """Binance's expiry reason of an order the engine expired for ``reason``, or None.

    An order list's expiries carry the list's reason (``OCO_TRIGGER`` ...); otherwise an IOC
    remainder is ``UNFILLED_IOC_QUANTITY_EXPIRED``, a FOK that could not fill in full
    ``UNFILLED_FOK_ORDER_EXPIRED``, and a market order the book could not fill
    ``INSUFFICIENT_LIQUIDITY`` (user-data-stream.md, "Order Expiry Reason").

    >>> from decimal import Decimal as D
    >>> from kit.engine import OrderRequest, OrderType, Side, TimeInForce
    >>> from kit.engine.types import Order, OrderStatus
    >>> req = OrderRequest("BTC/USDT", Side.BUY, OrderType.LIMIT, quantity=D(1), price=D(1),
    ...                    time_in_force=TimeInForce.IOC)
    >>> o = Order(1, "c", "a", req, OrderStatus.EXPIRED, 0, 0, D(0), D(0), D(0), D(1), D(1), None, False, -1)
    >>> expiry_reason(o, "IOC: remainder expired")
    'UNFILLED_IOC_QUANTITY_EXPIRED'
    """
    if order.list_id >= 0:
        listed = next((r for r in _LIST_EXPIRY if reason.startswith(r)), None)
        if listed is not None:
            return listed
    tif = order.request.time_in_force.value
    if tif == "FOK" or reason.startswith("FOK"):
        return "UNFILLED_FOK_ORDER_EXPIRED"
    if tif == "IOC" or reason.startswith("IOC"):
        return "UNFILLED_IOC_QUANTITY_EXPIRED"
    if order.request.type.value in ("market", "stop_market", "take_profit_market", "trailing_stop_market",
                                    "trailing_take_profit_market") and "liquidity" in reason:  # fmt: skip
        return "INSUFFICIENT_LIQUIDITY"
    return None


def _expiry_reason(ev: Event, x: str) -> dict[str, str]:
    """``{"eR": ...}`` for an expired order whose reason Binance names, else nothing."""
    if x != "EXPIRED" or ev.order is None:
        return {}
    why = expiry_reason(ev.order, ev.reason)
    return {"eR": why} if why else {}


def account_position(balances: dict[str, tuple[Decimal, Decimal]], assets: set[str], ts_ms: int) -> dict[str, Any]:
    """``outboundAccountPosition`` for the changed ``assets``."""
    zero = (Decimal(0), Decimal(0))
    return {
        "e": "outboundAccountPosition",
        "E": ts_ms,
        "u": ts_ms,
        "B": [{"a": a, "f": fmt(balances.get(a, zero)[0]), "l": fmt(balances.get(a, zero)[1])} for a in sorted(assets)],
    }


def balance_update(asset: str, delta: Decimal, ts_ms: int) -> dict[str, Any]:
    """``balanceUpdate`` for a deposit (positive) or withdrawal (negative)."""
    return {"e": "balanceUpdate", "E": ts_ms, "a": asset, "d": fmt(delta), "T": ts_ms}
