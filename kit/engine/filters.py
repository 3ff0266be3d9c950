"""Symbol filters and request validation: pure checks, before an order is accepted.

Each check returns ``None`` or a :class:`Refusal` naming the Binance filter and the allowed
value, so adapters can render the exchange's own error text
(https://developers.binance.com/docs/binance-spot-api-docs/filters).

>>> from decimal import Decimal as D
>>> m = Market("BTC/USDT", "BTC", "USDT", tick_size=D("0.01"), step_size=D("0.001"),
...            min_qty=D("0.001"), min_notional=D("5"))
>>> r = check(m, OrderRequest("BTC/USDT", Side.BUY, OrderType.LIMIT, quantity=D("0.0015"),
...                          price=D("100")), ref_price=None)
>>> (r.filter, r.allowed)
('LOT_SIZE', 'stepSize=0.001')
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from kit.engine.fillmodel import is_multiple
from kit.engine.types import Market, OrderRequest, OrderType, RejectCode, Side, TimeInForce

__all__ = ["Refusal", "check"]


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request is refused: a code, a message, and for filters the name and bound."""

    code: RejectCode
    reason: str
    filter: str | None = None
    allowed: str | None = None


def _filter(name: str, allowed: str, reason: str) -> Refusal:
    return Refusal(RejectCode.FILTER, f"Filter failure: {name} ({reason}; allowed: {allowed})", name, allowed)


def _invalid(reason: str) -> Refusal:
    return Refusal(RejectCode.INVALID, reason)


def _shape(req: OrderRequest) -> Refusal | None:
    """Fields present and consistent for the order type."""
    t = req.type
    if (req.quantity is None) == (req.quote_quantity is None):
        return _invalid("give exactly one of quantity or quote_quantity")
    if req.quote_quantity is not None and t is not OrderType.MARKET:
        return _invalid("quote_quantity is only for market orders")
    for name in ("quantity", "quote_quantity", "iceberg_qty"):
        v = getattr(req, name)
        if v is not None and (not v.is_finite() or v <= 0):
            return _invalid(f"{name} must be a positive finite number, got {v}")
    for name in ("price", "trigger_price"):
        v = getattr(req, name)
        if v is not None and not v.is_finite():
            return _invalid(f"{name} must be a finite number, got {v}")
    if t.has_limit_price and req.price is None:
        return _invalid(f"{t.value} orders need a price")
    if not t.has_limit_price and req.price is not None:
        return _invalid(f"{t.value} orders take no limit price; use a limit-type order")
    if t.is_conditional and not t.is_trailing and req.trigger_price is None:
        return _invalid(f"{t.value} orders need a trigger_price")
    if t.is_trailing and req.trailing_bps is None:
        return _invalid(f"{t.value} orders need trailing_bps")
    if not t.is_trailing and req.trailing_bps is not None:
        return _invalid("trailing_bps is only for trailing stops")
    if req.post_only and t is not OrderType.LIMIT:
        return _invalid("post_only is only for plain limit orders")
    if (req.post_only or req.hidden) and req.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
        return _invalid("post-only and hidden orders rest (they never take): they cannot be IOC or FOK")
    if t is OrderType.MARKET and req.time_in_force is TimeInForce.GTD:
        return _invalid("market orders cannot be GTD")
    if (req.time_in_force is TimeInForce.GTD) != (req.expire_at_ms is not None):
        return _invalid("GTD orders need expire_at_ms, and only GTD orders take it")
    if req.iceberg_qty is not None and (t is OrderType.MARKET or req.time_in_force is not TimeInForce.GTC):
        return _invalid("iceberg orders must be GTC limit-type orders")
    if req.hidden and (req.iceberg_qty is not None or not t.has_limit_price):
        return _invalid("hidden orders are limit-type orders without an iceberg quantity")
    if req.client_id is not None and not (0 < len(req.client_id) <= 36):
        return _invalid("client_id must be 1 to 36 characters")
    return None


def _lot(m: Market, qty: Decimal, *, market: bool) -> Refusal | None:
    if not is_multiple(qty, m.step_size):
        return _filter("LOT_SIZE", f"stepSize={m.step_size}", f"quantity {qty} is not a multiple of the step")
    if qty < m.min_qty:
        return _filter("LOT_SIZE", f"minQty={m.min_qty}", f"quantity {qty} is below the minimum")
    if m.max_qty is not None and qty > m.max_qty:
        return _filter("LOT_SIZE", f"maxQty={m.max_qty}", f"quantity {qty} is above the maximum")
    if market and m.market_max_qty is not None and qty > m.market_max_qty:
        return _filter("MARKET_LOT_SIZE", f"maxQty={m.market_max_qty}", f"market quantity {qty} is above the maximum")
    return None


def _notional(m: Market, notional: Decimal) -> Refusal | None:
    if notional < m.min_notional:
        return _filter("NOTIONAL", f"minNotional={m.min_notional}", f"notional {notional} is too small")
    if m.max_notional is not None and notional > m.max_notional:
        return _filter("NOTIONAL", f"maxNotional={m.max_notional}", f"notional {notional} is too large")
    return None


def check(m: Market, req: OrderRequest, *, ref_price: Decimal | None) -> Refusal | None:
    """Validate ``req`` against market ``m``; ``ref_price`` is the last price, if known.

    Returns the first refusal found, or ``None`` if the order passes every filter.
    """
    if (r := _shape(req)) is not None:
        return r
    for name in ("price", "trigger_price"):
        v = getattr(req, name)
        if v is not None and v <= 0:
            return _filter("PRICE_FILTER", f"minPrice>{0}", f"{name} {v} is not positive")
        if v is not None and not is_multiple(v, m.tick_size):
            return _filter("PRICE_FILTER", f"tickSize={m.tick_size}", f"{name} {v} is not on the tick")
    market = not req.type.has_limit_price
    if req.quantity is not None and (r := _lot(m, req.quantity, market=market)) is not None:
        return r
    if req.trailing_bps is not None and not m.min_trailing_bps <= req.trailing_bps <= m.max_trailing_bps:
        return _filter(
            "TRAILING_DELTA",
            f"{m.min_trailing_bps}..{m.max_trailing_bps} bps",
            f"trailing delta {req.trailing_bps} bps is out of range",
        )
    if req.iceberg_qty is not None:
        assert req.quantity is not None  # _shape guarantees it for limit-type orders
        if req.iceberg_qty >= req.quantity or (r := _lot(m, req.iceberg_qty, market=False)) is not None:
            return r or _invalid("iceberg_qty must be smaller than quantity")
        parts = (req.quantity / req.iceberg_qty).to_integral_value(rounding=ROUND_CEILING)  # a ceiling (#13)
        if parts > m.max_iceberg_parts:
            return _filter("ICEBERG_PARTS", f"limit={m.max_iceberg_parts}", f"the iceberg would show {parts} parts")
    price = req.price if req.price is not None else (req.trigger_price or ref_price)
    if req.quote_quantity is not None:
        return _notional(m, req.quote_quantity)
    if price is not None and req.quantity is not None:
        return _notional(m, price * req.quantity)
    return None


def would_cross(side: Side, limit: Decimal, best_opposite: Decimal | None) -> bool:
    """True if a limit order at ``limit`` would take liquidity at ``best_opposite``."""
    if best_opposite is None:
        return False
    return limit >= best_opposite if side is Side.BUY else limit <= best_opposite
