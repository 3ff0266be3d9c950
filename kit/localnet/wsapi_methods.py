"""The WebSocket API's request methods, each framed over the REST handler that does the work.

Binance's WebSocket API (web-socket-api.md) serves the REST API's operations as JSON requests
``{"id", "method", "params"}`` on one connection. localnet keeps one code path: every method
here names the REST route whose handler (:mod:`kit.localnet.routes`) validates, matches and
encodes, so an order placed with ``order.place`` meets exactly the checks of
``POST /api/v3/order``. This module only translates: the method table, JSON params to the
REST handlers' ``dict[str, str]``, request weights, and the ``rateLimits`` array every response
carries.

Examples
--------
>>> METHODS["order.place"]
('POST', '/api/v3/order')
>>> rest_params({"quantity": 0.00001, "symbols": ["BTCUSDT", "ETHUSDT"], "test": True, "x": None})
{'quantity': '0.00001', 'symbols': '["BTCUSDT","ETHUSDT"]', 'test': 'true'}
>>> method_name("v3/order.place")
'order.place'
>>> [r["rateLimitType"] for r in rate_limits(used=3, weight_limit=6000, orders=(1, 2), order_limits=(50, 160000))]
['ORDERS', 'ORDERS', 'REQUEST_WEIGHT']
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

#: WebSocket API method -> the REST route (HTTP method, path) that serves it.
METHODS: dict[str, tuple[str, str]] = {
    "ping": ("GET", "/api/v3/ping"),
    "time": ("GET", "/api/v3/time"),
    "exchangeInfo": ("GET", "/api/v3/exchangeInfo"),
    "depth": ("GET", "/api/v3/depth"),
    "trades.recent": ("GET", "/api/v3/trades"),
    "trades.historical": ("GET", "/api/v3/historicalTrades"),
    "trades.aggregate": ("GET", "/api/v3/aggTrades"),
    "klines": ("GET", "/api/v3/klines"),
    "uiKlines": ("GET", "/api/v3/uiKlines"),
    "avgPrice": ("GET", "/api/v3/avgPrice"),
    "ticker.24hr": ("GET", "/api/v3/ticker/24hr"),
    "ticker": ("GET", "/api/v3/ticker"),
    "ticker.price": ("GET", "/api/v3/ticker/price"),
    "ticker.book": ("GET", "/api/v3/ticker/bookTicker"),
    "order.place": ("POST", "/api/v3/order"),
    "order.test": ("POST", "/api/v3/order/test"),
    "order.status": ("GET", "/api/v3/order"),
    "order.cancel": ("DELETE", "/api/v3/order"),
    "order.cancelReplace": ("POST", "/api/v3/order/cancelReplace"),
    "openOrders.status": ("GET", "/api/v3/openOrders"),
    "openOrders.cancelAll": ("DELETE", "/api/v3/openOrders"),
    "allOrders": ("GET", "/api/v3/allOrders"),
    "myTrades": ("GET", "/api/v3/myTrades"),
    "account.status": ("GET", "/api/v3/account"),
    "account.rateLimits.orders": ("GET", "/api/v3/rateLimit/order"),
    "account.commission": ("GET", "/api/v3/account/commission"),
    # order lists (kit/localnet/orderlists.py)
    "orderList.place.oco": ("POST", "/api/v3/orderList/oco"),
    "orderList.place.oto": ("POST", "/api/v3/orderList/oto"),
    "orderList.place.otoco": ("POST", "/api/v3/orderList/otoco"),
    "orderList.place.opo": ("POST", "/api/v3/orderList/opo"),
    "orderList.place.opoco": ("POST", "/api/v3/orderList/opoco"),
    "orderList.cancel": ("DELETE", "/api/v3/orderList"),
    "orderList.status": ("GET", "/api/v3/orderList"),
    "openOrderLists.status": ("GET", "/api/v3/openOrderList"),
    "allOrderLists": ("GET", "/api/v3/allOrderList"),
}

#: Methods whose responses report the account's ORDERS counts (they place orders).
ORDER_METHODS = frozenset(
    {"order.place", "order.cancelReplace"} | {f"orderList.place.{k}" for k in ("oco", "oto", "otoco", "opo", "opoco")}
)

#: Session and subscription methods (no REST twin) and their weights (Binance: 2 each).
SESSION_METHODS: dict[str, int] = {
    "session.logon": 2,
    "session.status": 2,
    "session.logout": 2,
    "session.subscriptions": 2,
    "userDataStream.subscribe": 2,
    "userDataStream.subscribe.signature": 2,
    "userDataStream.unsubscribe": 2,
}

#: Params that frame a request and never reach the REST handler.
FRAME_PARAMS = frozenset({"apiKey", "signature", "returnRateLimits"})


def method_name(raw: Any) -> str:
    """The method without an explicit version prefix (``"v3/order.place"`` -> ``"order.place"``)."""
    text = str(raw) if raw is not None else ""
    return text[3:] if text.startswith("v3/") else text


def param_text(value: Any) -> str:
    """One JSON param value as the REST handlers read it (``true``, plain decimals, JSON arrays)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f")
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def rest_params(params: dict[str, Any]) -> dict[str, str]:
    """JSON ``params`` -> the ``dict[str, str]`` a REST handler takes (nulls dropped, framing kept)."""
    return {k: param_text(v) for k, v in params.items() if v is not None}


def want_rate_limits(params: dict[str, Any], default: bool) -> bool:
    """The request's ``returnRateLimits`` (bool or ``"true"``/``"false"``), else the connection default."""
    value = params.get("returnRateLimits")
    if value is None:
        return default
    if isinstance(value, str):
        return value.lower() != "false"
    return bool(value)


def rate_limits(
    *, used: int, weight_limit: int, orders: tuple[int, int] | None = None, order_limits: tuple[int, int] = (0, 0)
) -> list[dict[str, Any]]:
    """The ``rateLimits`` array: ORDERS (10 s, 1 day) for order placement, then REQUEST_WEIGHT."""
    out: list[dict[str, Any]] = []

    def row(kind: str, interval: str, num: int, limit: int, count: int) -> dict[str, Any]:
        return {"rateLimitType": kind, "interval": interval, "intervalNum": num, "limit": limit, "count": count}

    if orders is not None:
        out.append(row("ORDERS", "SECOND", 10, order_limits[0], orders[0]))
        out.append(row("ORDERS", "DAY", 1, order_limits[1], orders[1]))
    out.append(row("REQUEST_WEIGHT", "MINUTE", 1, weight_limit, used))
    return out
