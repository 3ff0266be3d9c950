"""Amending a working order: what the replacement is, and how ccxt sends it. Pure, no I/O.

Binance spot (and ccxt's ``edit_order``) amends by *cancel-replace*: one request cancels the working
order and places a new one with a new client id. The kit keeps the trader's meaning of "amount":
the order's **total** size, as given to :meth:`~kit.session.Session.place`. What the old order already
filled stays filled; the replacement works ``amount - filled``.

>>> from decimal import Decimal as D
>>> old = {"type": "limit", "side": "buy", "amount": "0.010", "price": "100", "time_in_force": "GTC"}
>>> it = replacement("BTC/USDT", old, filled=D("0.004"), amount=None, price="99.5", trigger_price=None)
>>> it.amount, it.price, it.kind.value
(Decimal('0.006'), Decimal('99.5'), 'limit')
>>> kind, side, amount, price, params = edit_call(it, "tk-2", cancel_restriction="ONLY_PARTIALLY_FILLED")
>>> kind, side, amount, price, params["cancelRestrictions"]
('limit', 'buy', 0.006, 99.5, 'ONLY_PARTIALLY_FILLED')
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from kit.engine.order import OrderSpec, bad_order, parse_decimal
from kit.engine.types import OrderType
from kit.errors import OrderRejected

__all__ = ["AMENDABLE_TYPES", "edit_call", "intent_fields", "precheck", "replacement"]

#: Order types that rest on the book with a price or a trigger, so a new price or size means something.
AMENDABLE_TYPES = frozenset(
    {
        OrderType.LIMIT,
        OrderType.STOP_MARKET,
        OrderType.STOP_LIMIT,
        OrderType.TAKE_PROFIT_MARKET,
        OrderType.TAKE_PROFIT_LIMIT,
    }
)

_NOTHING_SENT = " No request was sent."
_NO_AMEND_SENT = " No amend was sent (the order was only read)."

# Binance's order type for each kit type, as ccxt's edit_order wants it (type string, trigger param).
_EDIT_TYPE = {
    OrderType.LIMIT: "limit",
    OrderType.STOP_LIMIT: "limit",  # + triggerPrice -> STOP_LOSS_LIMIT
    OrderType.STOP_MARKET: "market",  # + triggerPrice -> STOP_LOSS
    OrderType.TAKE_PROFIT_LIMIT: "TAKE_PROFIT_LIMIT",
    OrderType.TAKE_PROFIT_MARKET: "TAKE_PROFIT",
}


def intent_fields(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The order as journaled in its ``intent`` event, in :meth:`OrderSpec.parse`'s keywords.

    Reads the explicit fields the Session journals, and falls back to the ccxt ``params`` journaled
    with older intents.

    >>> intent_fields({"type": "limit", "side": "sell", "amount": "1", "price": "5",
    ...                "params": {"postOnly": True, "icebergAmount": 0.2}})["post_only"]
    True
    """
    params = payload.get("params") or {}
    iceberg = payload.get("iceberg_amount", params.get("icebergAmount"))
    trailing = payload.get("trailing_bps")
    if trailing is None and params.get("trailingPercent") is not None:
        trailing = round(float(params["trailingPercent"]) * 100)
    return {
        "type": str(payload.get("type") or ""),
        "side": str(payload.get("side") or ""),
        "amount": payload.get("amount"),
        "price": payload.get("price"),
        "trigger_price": payload.get("trigger_price"),
        "trailing_bps": trailing,
        "time_in_force": str(payload.get("time_in_force") or params.get("timeInForce") or "GTC"),
        "post_only": bool(payload.get("post_only", params.get("postOnly", False))),
        "iceberg_amount": None if iceberg is None else Decimal(str(iceberg)),
    }


def _type_of(old: Mapping[str, Any]) -> OrderType | None:
    try:
        return OrderType(str(old.get("type") or ""))
    except ValueError:
        return None


def precheck(
    symbol: str, old: Mapping[str, Any], *, amount: Any, price: Any, trigger_price: Any
) -> tuple[Decimal | None, Decimal | None, Decimal | None]:
    """Check an amendment of ``old`` (:func:`intent_fields` form) before anything is read or sent.

    Returns the new ``(amount, price, trigger_price)`` parsed strictly (``None``: unchanged).
    Raises :class:`~kit.errors.OrderRejected` when there is nothing to change or a value is bad.

    >>> precheck("X/Y", {"type": "limit"}, amount="1_0", price=None, trigger_price=None)
    Traceback (most recent call last):
    ...
    kit.errors.OrderRejected: amount must be a number, got '1_0', which is not a plain decimal ...
    """
    if amount is None and price is None and trigger_price is None:
        raise _bad("nothing to amend: give a new amount, price or trigger_price", symbol)
    new = tuple(
        None if v is None else parse_decimal(v, name, symbol=symbol)
        for name, v in (("amount", amount), ("price", price), ("trigger_price", trigger_price))
    )
    return new[0], new[1], new[2]


def _amendable(symbol: str, old: Mapping[str, Any], *, price: Any, trigger_price: Any) -> None:
    """Whether the order's type can take the change (checked after the order was read)."""
    kind = _type_of(old)
    if kind not in AMENDABLE_TYPES:
        raw = str(old.get("type") or "")
        what = "a market order executes at once" if kind is OrderType.MARKET else f"a {raw or 'unknown-type'} order"
        raise _bad(
            f"cannot amend {what}; amendable types: {', '.join(sorted(t.value for t in AMENDABLE_TYPES))}",
            symbol,
            hint="Cancel it (session.cancel) and place the order you want instead." + _NO_AMEND_SENT,
        )
    assert kind is not None
    if price is not None and not kind.has_limit_price:
        raise _bad(f"a {kind.value} order has no limit price; change trigger_price instead", symbol)
    if trigger_price is not None and not kind.is_conditional:
        raise _bad(f"a {kind.value} order has no trigger; change its price instead", symbol)


def replacement(
    symbol: str,
    old: Mapping[str, Any],
    *,
    filled: Decimal,
    amount: Any,
    price: Any,
    trigger_price: Any,
) -> OrderSpec:
    """The order that replaces ``old`` (:func:`intent_fields` form) after ``filled`` was executed.

    ``amount`` is the new total size (``None``: unchanged); ``price`` and ``trigger_price`` the new
    levels (``None``: unchanged). Runs :func:`precheck`, then raises
    :class:`~kit.errors.OrderRejected` when the type cannot take the change or the new total is not
    above what already filled (the Session calls this after reading the order, so the hint says
    that no *amend* was sent).

    >>> replacement("X/Y", {"type": "limit", "side": "buy", "amount": "1", "price": "5"},
    ...             filled=Decimal("1"), amount=None, price="4", trigger_price=None)
    Traceback (most recent call last):
    ...
    kit.errors.OrderRejected: the order has already filled 1 of 1; an amended total must be above that ...
    """
    new_amount, new_price, new_trigger = precheck(symbol, old, amount=amount, price=price, trigger_price=trigger_price)
    _amendable(symbol, old, price=price, trigger_price=trigger_price)
    total = new_amount if new_amount is not None else Decimal(str(old["amount"]))
    if total <= filled:
        raise _bad(
            f"the order has already filled {filled} of {old.get('amount')}; an amended total must be above that",
            symbol,
            hint="Give a larger total amount, or cancel the rest with session.cancel." + _NO_AMEND_SENT,
        )
    iceberg = old.get("iceberg_amount")
    return OrderSpec.parse(
        symbol,
        str(old["side"]),
        total - filled,
        price=new_price if new_price is not None else old.get("price"),
        type=str(old.get("type")),
        trigger_price=new_trigger if new_trigger is not None else old.get("trigger_price"),
        time_in_force=str(old.get("time_in_force") or "GTC"),
        post_only=bool(old.get("post_only")),
        iceberg_amount=iceberg if iceberg is not None and Decimal(str(iceberg)) < total - filled else None,
    )


def edit_call(
    it: OrderSpec, client_id: str, *, cancel_restriction: str | None = None
) -> tuple[str, str, float, float | None, dict[str, Any]]:
    """``(type, side, amount, price, params)`` for ccxt's ``edit_order`` (Binance cancel-replace).

    ``cancel_restriction`` (``"ONLY_NEW"`` / ``"ONLY_PARTIALLY_FILLED"``) makes the exchange refuse the
    cancel, and so the whole amend, if the order's status changed since the kit last looked.
    """
    params: dict[str, Any] = {"clientOrderId": client_id}
    if it.trigger_price is not None:
        params["stopPrice"] = float(it.trigger_price)  # ccxt passes "triggerPrice" through raw on edits
    if it.post_only:
        params["postOnly"] = True
    elif it.price is not None:
        params["timeInForce"] = it.time_in_force.value
    if it.iceberg_amount is not None:
        params["icebergQty"] = str(it.iceberg_amount)
    if cancel_restriction:
        params["cancelRestrictions"] = cancel_restriction
    price = float(it.price) if it.price is not None else None
    return _EDIT_TYPE[it.kind], it.side.value, float(it.base_amount), price, params


def _bad(message: str, symbol: str, *, hint: str | None = None) -> OrderRejected:
    if hint is None:
        return bad_order(message, symbol=symbol, hint="Correct the amendment and submit it again.")
    return OrderRejected(message, symbol=symbol, hint=hint)
