"""Engine order requests, orders and fills as JSON / table rows, for the persistent store.

Split out of :mod:`kit.localnet.wire` (which re-exports these names). Pure: no I/O.

Examples
--------
>>> from decimal import Decimal as D
>>> from kit.engine import OrderType, Side
>>> from kit.engine.order import OrderSpec
>>> req = OrderSpec("BTC/USDT", Side.BUY, D("0.001"), price=D("50000"), type=OrderType.LIMIT).to_request()
>>> request_from_json(request_to_json(req)) == req
True
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from kit.engine import Fill, Order, OrderRequest


def request_to_json(req: OrderRequest) -> dict[str, Any]:
    """JSON-able form of an engine order request (for the command log)."""
    out: dict[str, Any] = {}
    for name in req.__slots__:
        value = getattr(req, name)
        if value is None or value is False:
            continue
        out[name] = value.value if hasattr(value, "value") else str(value) if isinstance(value, Decimal) else value
    return out


def request_from_json(data: dict[str, Any]) -> OrderRequest:
    """Inverse of :func:`request_to_json`: the command log's request, rebuilt through the order description.

    The JSON holds the engine's words; they are read back into the one order description
    (:class:`~kit.engine.order.OrderSpec`, names mapped by ``ENGINE_NAMES``) and the request is
    derived from it by :func:`~kit.engine.order.engine_request`, as localnet's wire decoder derives it.
    """
    from kit.engine import OrderType, Side, TimeInForce
    from kit.engine.order import ENGINE_NAMES, OrderSpec, engine_request

    words = {engine: spec for spec, engine in ENGINE_NAMES.items()}
    kw: dict[str, Any] = {words.get(k, k): v for k, v in data.items()}
    kw["side"] = Side(kw["side"])
    kw["type"] = OrderType(kw["type"])
    if "time_in_force" in kw:
        kw["time_in_force"] = TimeInForce(kw["time_in_force"])
    for name in ("amount", "quote_amount", "price", "trigger_price", "iceberg_amount"):
        if name in kw:
            kw[name] = Decimal(kw[name])
    kw.setdefault("amount", None)
    return engine_request(OrderSpec(**kw))


def order_row(order: Order) -> tuple[Any, ...]:
    """Row of the ``orders`` snapshot table."""
    snap = {
        "quantity": str(order.quantity),
        "filled_quote": str(order.filled_quote),
        "fees": str(order.fees),
        "price": str(order.price) if order.price is not None else None,
        "req": request_to_json(order.request),
    }
    return (
        order.id,
        order.account,
        order.request.symbol,
        order.client_id,
        order.status.value,
        order.updated_ms,
        str(order.filled_qty),
        json.dumps(snap),
    )


def fill_row(account: str, f: Fill) -> tuple[Any, ...]:
    """Row of the ``fills`` table."""
    return (
        account,
        f.trade_id,
        f.order_id,
        f.ts_ms,
        f.symbol,
        f.side.value,
        str(f.price),
        str(f.quantity),
        str(f.quote_quantity),
        str(f.fee),
        f.fee_asset,
        f.liquidity.value,
    )
