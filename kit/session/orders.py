"""Orders on a ccxt venue: check an :class:`~kit.engine.order.OrderSpec` before sending, then translate it.

Bad input never reaches the exchange: the order is parsed strictly (:meth:`OrderSpec.parse
<kit.engine.order.OrderSpec.parse>`), checked against what the venue supports (ccxt's ``features``)
and against the market's filters with the engine's filter code (:mod:`kit.engine.filters`, one
implementation of every exchange filter, fed with the venue's own filters by
:func:`~kit.engine.filters.market_from_ccxt`).

>>> mkt = {"symbol": "BTC/USDT", "precision": {"price": 0.01, "amount": 0.001},
...        "limits": {"amount": {"min": 0.001, "max": 100}, "cost": {"min": 5}, "price": {}}}
>>> it = OrderSpec.parse("BTC/USDT", "buy", "0.01", price="60000.5")
>>> validate(it, mkt, FEATURES_ALL, last_price=None)
>>> to_ccxt(it, "tk-1")
('limit', 'buy', 0.01, 60000.5, {'clientOrderId': 'tk-1', 'timeInForce': 'GTC'})
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

from kit.engine.filters import Refusal, check, fat_finger, market_from_ccxt
from kit.engine.order import NOTHING_SENT, OrderSpec, bad_order, shown
from kit.engine.types import OrderType, RejectCode, TimeInForce
from kit.errors import FilterViolation, InsufficientFunds, OrderRejected

__all__ = ["FEATURES_ALL", "OrderSpec", "client_order_id", "features_for", "refusal_error", "to_ccxt", "validate"]

# What ccxt's features say for a venue that supports everything (used in doctests and localnet).
FEATURES_ALL: dict[str, Any] = {
    "triggerPrice": True,
    "stopLossPrice": True,
    "takeProfitPrice": True,
    "trailing": True,
    "timeInForce": {"GTC": True, "IOC": True, "FOK": True, "PO": True, "GTD": False},
    "icebergAmount": True,
    "marketBuyByCost": True,
    "reduceOnly": False,
}

# ccxt 4.5.90 marks binance spot trailing as unsupported in `features`, yet sends trailingDelta when
# asked (shared/specs/binance-spot-wire.md section 5, verified against a server); we trust the wire.
_FEATURE_OVERRIDES: dict[str, dict[str, Any]] = {"binance": {"trailing": True}}

# What to do about each filter, when the exchange's data says it would refuse the order.
_FILTER_HINTS = {
    "PRICE_FILTER": "Round the price to the tick size and keep it between the market's minimum and maximum price.",
    "PERCENT_PRICE_BY_SIDE": "Bring the limit price closer to the market price (the exchange refuses prices too "
    "far from its average).",
    "LOT_SIZE": "Round the amount to the step size and keep it between the minimum and maximum quantity.",
    "MARKET_LOT_SIZE": "Split the market order, or use a limit order (market orders have a smaller maximum).",
    "NOTIONAL": "Change the amount so that amount x price lies between the minimum and maximum notional.",
    "ICEBERG_PARTS": "Make the visible part (iceberg_amount) larger, so the order shows fewer parts.",
    "TRAILING_DELTA": "Choose trailing_bps within the allowed range (100 bps = 1 %).",
    "MAX_NUM_ORDERS": "Cancel an open order on this symbol first (session.open_orders()).",
    "MAX_NUM_ALGO_ORDERS": "Cancel an open stop or take-profit order on this symbol first (session.open_orders()).",
    "MAX_NUM_ICEBERG_ORDERS": "Cancel an open iceberg order on this symbol first (session.open_orders()).",
    "FAT_FINGER": "Check the price; if it is what you mean, widen the band (session.fat_finger_pct) or set it to None.",
}


def refusal_error(r: Refusal, symbol: str) -> OrderRejected:
    """The kit's error for an engine :class:`~kit.engine.filters.Refusal` found before sending.

    >>> from kit.engine.filters import Refusal
    >>> from kit.engine.types import RejectCode
    >>> e = refusal_error(Refusal(RejectCode.FILTER, "x", "NOTIONAL", "minNotional=5", "notional 1 is below"), "X/Y")
    >>> type(e).__name__, e.filter, e.allowed
    ('FilterViolation', 'NOTIONAL', 'minNotional=5')
    """
    if r.code is RejectCode.FILTER:
        hint = _FILTER_HINTS.get(r.filter or "", FilterViolation.hint)
        return FilterViolation(r.detail or r.reason, symbol=symbol, filter=r.filter, allowed=r.allowed,
                               hint=hint + NOTHING_SENT)  # fmt: skip
    if r.code is RejectCode.INSUFFICIENT_FUNDS:
        return InsufficientFunds(r.reason, symbol=symbol, allowed=r.allowed, hint=InsufficientFunds.hint + NOTHING_SENT)
    return bad_order(r.reason, symbol=symbol)


def features_for(exchange_id: str, features: dict[str, Any] | None) -> dict[str, Any]:
    """Ccxt's spot ``createOrder`` features for the venue, with the kit's documented overrides."""
    base = dict(((features or {}).get("spot") or {}).get("createOrder") or {})
    base.update(_FEATURE_OVERRIDES.get(exchange_id, {}))
    return base


def validate(
    it: OrderSpec,
    market: dict[str, Any] | None,
    features: dict[str, Any],
    *,
    last_price: Decimal | None,
    fat_finger_pct: Decimal | None = None,
) -> None:
    """Check ``it`` against the venue's features, the market's filters and the fat-finger band.

    Raises before any request: :class:`~kit.errors.OrderRejected` (unknown symbol, unsupported
    feature), :class:`~kit.errors.FilterViolation` naming the exchange's filter and its bound.
    """
    if market is None:
        raise bad_order(f"unknown symbol {shown(it.symbol)} on this exchange", symbol=it.symbol,
                        hint="See session.markets() for the list.")  # fmt: skip
    tif = features.get("timeInForce") or {}
    kind = it.kind
    unsupported = []
    if kind.is_trailing and not features.get("trailing"):
        unsupported.append("trailing stops")
    if it.trigger_price is not None and not (features.get("triggerPrice") or features.get("stopLossPrice")):
        unsupported.append("trigger prices")
    if it.post_only and not tif.get("PO"):
        unsupported.append("post-only")
    if it.time_in_force is not TimeInForce.GTC and not tif.get(it.time_in_force.value):
        unsupported.append(f"time in force {it.time_in_force.value}")
    if it.reduce_only and not features.get("reduceOnly"):
        unsupported.append("reduce-only (spot accounts hold assets, not positions)")
    if it.iceberg_amount is not None and not features.get("icebergAmount"):
        unsupported.append("iceberg orders")
    if unsupported:
        raise bad_order(f"this exchange does not support {', '.join(unsupported)} for spot orders", symbol=it.symbol)
    req = it.to_request()
    refusal = check(market_from_ccxt(market), req, ref_price=last_price) or fat_finger(
        req, last_price=last_price, band_pct=fat_finger_pct
    )
    if refusal is not None:
        raise refusal_error(refusal, it.symbol)


def to_ccxt(it: OrderSpec, client_id: str) -> tuple[str, str, float, float | None, dict[str, Any]]:
    """``(type, side, amount, price, params)`` for ``exchange.create_order``, per the wire spec section 5."""
    params: dict[str, Any] = {"clientOrderId": client_id}
    kind = "market" if it.is_market else "limit"
    t = it.kind
    if t in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT):
        params["stopLossPrice" if it.is_market else "triggerPrice"] = float(it.trigger_price or 0)
    elif t in (OrderType.TAKE_PROFIT_MARKET, OrderType.TAKE_PROFIT_LIMIT):
        params["takeProfitPrice"] = float(it.trigger_price or 0)
    elif t.is_trailing:
        params["trailingPercent"] = (it.trailing_bps or 0) / 100
        take_profit = t in (OrderType.TRAILING_TAKE_PROFIT_MARKET, OrderType.TRAILING_TAKE_PROFIT_LIMIT)
        params["stopLossOrTakeProfit"] = "takeProfit" if take_profit else "stopLoss"
        if it.trigger_price is not None:
            params["trailingTriggerPrice"] = float(it.trigger_price)
    if it.post_only:
        params["postOnly"] = True
    elif kind == "limit":
        params["timeInForce"] = it.time_in_force.value
    if it.iceberg_amount is not None:
        params["icebergAmount"] = float(it.iceberg_amount)
    if it.reduce_only:
        params["reduceOnly"] = True
    return kind, it.side.value, float(it.base_amount), float(it.price) if it.price is not None else None, params


def client_order_id(venue: str, account: str, seq: int, *, salt: str = "") -> str:
    """A deterministic client order id (<= 36 chars, Binance's alphabet) for intent number ``seq``.

    >>> client_order_id("localnet", "main", 7) == client_order_id("localnet", "main", 7)
    True
    >>> len(client_order_id("binance", "main", 1))
    26
    """
    digest = hashlib.sha256(f"{venue}|{account}|{salt}|{seq}".encode()).hexdigest()[:16]
    return f"tk-{seq:06d}-{digest}"
