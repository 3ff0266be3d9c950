"""Order intents: parse and validate before anything is sent, then translate to ccxt's call.

Bad input never reaches the exchange: quantities and prices are parsed exactly, checked against
the market's tick, step, minimum and maximum quantity and notional (from ccxt's market
structure), and against what the exchange supports (ccxt's ``features``).

>>> mkt = {"symbol": "BTC/USDT", "precision": {"price": 0.01, "amount": 0.001},
...        "limits": {"amount": {"min": 0.001, "max": 100}, "cost": {"min": 5}, "price": {}}}
>>> it = OrderIntent.build("BTC/USDT", "buy", "0.01", price="60000.5")
>>> validate(it, mkt, FEATURES_ALL, last_price=None)
>>> to_ccxt(it, "tk-1")
('limit', 'buy', 0.01, 60000.5, {'clientOrderId': 'tk-1', 'timeInForce': 'GTC'})
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from kit.errors import FilterViolation, OrderRejected

_NOTHING_SENT = " No request was sent."

ORDER_TYPES = (
    "market",
    "limit",
    "stop_market",
    "stop_limit",
    "take_profit_market",
    "take_profit_limit",
    "trailing_stop_market",
    "trailing_stop_limit",
)
TIME_IN_FORCE = ("GTC", "IOC", "FOK", "GTD")

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


def _hint(cls: type[OrderRejected] = FilterViolation) -> str:
    return cls.hint + _NOTHING_SENT


def _bad(message: str, **context: Any) -> OrderRejected:
    """Bad order input, found before anything was sent."""
    return OrderRejected(message, hint="Correct the order and submit it again." + _NOTHING_SENT, **context)


def _dec(value: Any, name: str) -> Decimal:
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _bad(f"{name} must be a finite number, got {value}")
        value = repr(value)
    try:
        d = Decimal(value) if not isinstance(value, Decimal) else value
    except (InvalidOperation, TypeError, ValueError):
        raise _bad(f"{name} must be a number, got {value!r}") from None
    if not d.is_finite() or d <= 0:
        raise _bad(f"{name} must be a positive finite number, got {value!r}")
    return d


@dataclass(frozen=True)
class OrderIntent:
    """What the trader asked for, parsed exactly (Decimal) and complete."""

    symbol: str
    side: str
    type: str
    amount: Decimal
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    trailing_bps: int | None = None
    time_in_force: str = "GTC"
    post_only: bool = False
    reduce_only: bool = False
    iceberg_amount: Decimal | None = None

    @classmethod
    def build(
        cls,
        symbol: str,
        side: str,
        amount: Any,
        *,
        price: Any = None,
        type: str | None = None,
        trigger_price: Any = None,
        trailing_bps: int | None = None,
        time_in_force: str = "GTC",
        post_only: bool = False,
        reduce_only: bool = False,
        iceberg_amount: Any = None,
    ) -> OrderIntent:
        """Parse user input; raises :class:`~kit.errors.OrderRejected` with what to fix."""
        side = str(side).lower()
        if side not in ("buy", "sell"):
            raise _bad(f"side must be 'buy' or 'sell', got {side!r}")
        if type is None:
            type = "limit" if price is not None else "market"
        if type not in ORDER_TYPES:
            raise _bad(f"unknown order type {type!r}; use one of {', '.join(ORDER_TYPES)}")
        tif = str(time_in_force).upper()
        if tif not in TIME_IN_FORCE:
            raise _bad(f"time_in_force must be one of {TIME_IN_FORCE}, got {time_in_force!r}")
        needs_price = type in ("limit", "stop_limit", "take_profit_limit", "trailing_stop_limit")
        if needs_price and price is None:
            raise _bad(f"a {type} order needs a price")
        if not needs_price and price is not None:
            raise _bad(f"a {type} order takes no limit price; use type='limit' (or a *_limit type)")
        needs_trigger = type in ("stop_market", "stop_limit", "take_profit_market", "take_profit_limit")
        if needs_trigger and trigger_price is None:
            raise _bad(f"a {type} order needs trigger_price")
        trailing = type.startswith("trailing")
        if trailing and (trailing_bps is None or int(trailing_bps) <= 0):
            raise _bad(f"a {type} order needs trailing_bps > 0 (100 bps = 1 %)")
        if not trailing and trailing_bps is not None:
            raise _bad("trailing_bps is only for trailing_stop_* orders")
        if post_only and type != "limit":
            raise _bad("post_only is only for plain limit orders")
        if post_only and tif in ("IOC", "FOK"):
            raise _bad("a post-only order rests in the book; it cannot be IOC or FOK")
        return cls(
            symbol=symbol,
            side=side,
            type=type,
            amount=_dec(amount, "amount"),
            price=_dec(price, "price") if price is not None else None,
            trigger_price=_dec(trigger_price, "trigger_price") if trigger_price is not None else None,
            trailing_bps=int(trailing_bps) if trailing_bps is not None else None,
            time_in_force=tif,
            post_only=post_only,
            reduce_only=reduce_only,
            iceberg_amount=_dec(iceberg_amount, "iceberg_amount") if iceberg_amount is not None else None,
        )

    @property
    def is_market(self) -> bool:
        """True for types that execute at market (no limit price)."""
        return self.price is None


def features_for(exchange_id: str, features: dict[str, Any] | None) -> dict[str, Any]:
    """Ccxt's spot ``createOrder`` features for the venue, with the kit's documented overrides."""
    base = dict(((features or {}).get("spot") or {}).get("createOrder") or {})
    base.update(_FEATURE_OVERRIDES.get(exchange_id, {}))
    return base


def _step(value: Any) -> Decimal | None:
    return Decimal(repr(value)) if isinstance(value, float) else (Decimal(value) if value is not None else None)


def validate(
    it: OrderIntent, market: dict[str, Any] | None, features: dict[str, Any], *, last_price: Decimal | None
) -> None:
    """Check ``it`` against the market's filters and the venue's features; raises before any request."""
    if market is None:
        raise _bad(
            f"unknown symbol {it.symbol!r} on this exchange; see session.markets() for the list", symbol=it.symbol
        )
    tif = features.get("timeInForce") or {}
    unsupported = []
    if it.type.startswith("trailing") and not features.get("trailing"):
        unsupported.append("trailing stops")
    if it.trigger_price is not None and not (features.get("triggerPrice") or features.get("stopLossPrice")):
        unsupported.append("trigger prices")
    if it.post_only and not tif.get("PO"):
        unsupported.append("post-only")
    if it.time_in_force != "GTC" and not tif.get(it.time_in_force):
        unsupported.append(f"time in force {it.time_in_force}")
    if it.reduce_only and not features.get("reduceOnly"):
        unsupported.append("reduce-only (spot accounts hold assets, not positions)")
    if it.iceberg_amount is not None and not features.get("icebergAmount"):
        unsupported.append("iceberg orders")
    if unsupported:
        raise _bad(f"this exchange does not support {', '.join(unsupported)} for spot orders", symbol=it.symbol)
    prec, limits = market.get("precision") or {}, market.get("limits") or {}
    tick, step = _step(prec.get("price")), _step(prec.get("amount"))
    for name, value in (("price", it.price), ("trigger_price", it.trigger_price)):
        if value is not None and tick and value % tick:
            raise FilterViolation(
                f"{name} {value} is not a multiple of the tick size",
                symbol=it.symbol,
                filter="PRICE_FILTER",
                allowed=f"tickSize={tick}",
                hint=_hint(),
            )
    for name, value in (("amount", it.amount), ("iceberg_amount", it.iceberg_amount)):
        if value is not None and step and value % step:
            raise FilterViolation(
                f"{name} {value} is not a multiple of the step size",
                symbol=it.symbol,
                filter="LOT_SIZE",
                allowed=f"stepSize={step}",
                hint=_hint(),
            )
    amt = limits.get("amount") or {}
    lo, hi = _step(amt.get("min")), _step(amt.get("max"))
    if lo is not None and it.amount < lo:
        raise FilterViolation(
            f"amount {it.amount} is below the minimum",
            symbol=it.symbol,
            filter="LOT_SIZE",
            allowed=f"minQty={lo}",
            hint=_hint(),
        )
    if hi is not None and it.amount > hi:
        raise FilterViolation(
            f"amount {it.amount} is above the maximum",
            symbol=it.symbol,
            filter="LOT_SIZE",
            allowed=f"maxQty={hi}",
            hint=_hint(),
        )
    ref = it.price or it.trigger_price or last_price
    cost = limits.get("cost") or {}
    min_cost = _step(cost.get("min"))
    if ref is not None and min_cost is not None and it.amount * ref < min_cost:
        raise FilterViolation(
            f"notional {it.amount * ref} is below the minimum",
            symbol=it.symbol,
            filter="NOTIONAL",
            allowed=f"minNotional={min_cost}",
            hint=_hint(),
        )


def to_ccxt(it: OrderIntent, client_id: str) -> tuple[str, str, float, float | None, dict[str, Any]]:
    """``(type, side, amount, price, params)`` for ``exchange.create_order``, per the wire spec section 5."""
    params: dict[str, Any] = {"clientOrderId": client_id}
    kind = "market" if it.is_market else "limit"
    if it.type in ("stop_market", "stop_limit"):
        params["stopLossPrice" if it.is_market else "triggerPrice"] = float(it.trigger_price or 0)
    elif it.type.startswith("take_profit"):
        params["takeProfitPrice"] = float(it.trigger_price or 0)
    elif it.type.startswith("trailing"):
        params["trailingPercent"] = (it.trailing_bps or 0) / 100
        params["stopLossOrTakeProfit"] = "stopLoss"
        if it.trigger_price is not None:
            params["trailingTriggerPrice"] = float(it.trigger_price)
    if it.post_only:
        params["postOnly"] = True
    elif kind == "limit":
        params["timeInForce"] = it.time_in_force
    if it.iceberg_amount is not None:
        params["icebergAmount"] = float(it.iceberg_amount)
    if it.reduce_only:
        params["reduceOnly"] = True
    return kind, it.side, float(it.amount), float(it.price) if it.price is not None else None, params


def client_order_id(venue: str, account: str, seq: int, *, salt: str = "") -> str:
    """A deterministic client order id (<= 36 chars, Binance's alphabet) for intent number ``seq``.

    >>> client_order_id("localnet", "main", 7) == client_order_id("localnet", "main", 7)
    True
    >>> len(client_order_id("binance", "main", 1))
    26
    """
    digest = hashlib.sha256(f"{venue}|{account}|{salt}|{seq}".encode()).hexdigest()[:16]
    return f"tk-{seq:06d}-{digest}"
