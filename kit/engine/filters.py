"""Symbol filters and request validation: pure checks, before an order is accepted.

Each check returns ``None`` or a :class:`Refusal` naming the Binance filter and the allowed
value, so adapters can render the exchange's own error text
(https://developers.binance.com/docs/binance-spot-api-docs/filters). This is the one
implementation of every exchange filter: the engine and localnet refuse with it, and the Session
checks with it before sending (from the venue's own filters, :func:`market_from_ccxt`).

Where the kit differs from Binance: PERCENT_PRICE_BY_SIDE is checked against the reference price
the caller has (the engine's last price, the Session's last seen price), not Binance's
``avgPriceMins`` weighted average; the open-order counts are passed in by the caller
(:func:`counts`).

>>> from decimal import Decimal as D
>>> m = Market("BTC/USDT", "BTC", "USDT", tick_size=D("0.01"), step_size=D("0.001"),
...            min_qty=D("0.001"), min_notional=D("5"))
>>> r = check(m, OrderRequest("BTC/USDT", Side.BUY, OrderType.LIMIT, quantity=D("0.0015"),
...                          price=D("100")), ref_price=None)
>>> (r.filter, r.allowed)
('LOT_SIZE', 'stepSize=0.001')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any

from kit.engine.fillmodel import is_multiple
from kit.engine.types import ZERO, Market, OrderRequest, OrderType, RejectCode, Side, TimeInForce

__all__ = ["Refusal", "check", "counts", "fat_finger", "funds", "iceberg_parts", "market_from_ccxt", "shape"]


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request is refused: a code, a message, and for filters the name and bound."""

    code: RejectCode
    reason: str
    filter: str | None = None
    allowed: str | None = None
    detail: str = ""  # for filters: what failed, without the "Filter failure: NAME" frame


def _filter(name: str, allowed: str, reason: str) -> Refusal:
    return Refusal(RejectCode.FILTER, f"Filter failure: {name} ({reason}; allowed: {allowed})", name, allowed, reason)


def _invalid(reason: str) -> Refusal:
    return Refusal(RejectCode.INVALID, reason)


def shape(req: OrderRequest) -> Refusal | None:
    """Fields present and consistent for the order type (the rules of :class:`OrderType`'s predicates).

    >>> from decimal import Decimal as D
    >>> shape(OrderRequest("X/Y", Side.BUY, OrderType.MARKET, quantity=D("1"), price=D("2"))).reason
    'a market order takes no limit price; use a limit-type order'
    """
    t, q, p = req.type, req.quantity, req.price
    if (  # the common plain market or limit order passes every rule of _shape_rules: the same answer, sooner
        q is not None
        and req.quote_quantity is None
        and req.trigger_price is None
        and req.trailing_bps is None
        and req.iceberg_qty is None
        and req.expire_at_ms is None
        and not req.post_only
        and not req.hidden
        and req.time_in_force is not TimeInForce.GTD
        and (req.client_id is None or 0 < len(req.client_id) <= 36)
        and ((t is OrderType.MARKET and p is None) or (t is OrderType.LIMIT and p is not None and p.is_finite()))
        and q.is_finite()
        and q > 0
    ):
        return None
    return _shape_rules(req)


def _shape_rules(req: OrderRequest) -> Refusal | None:
    """:func:`shape`'s rules, one by one (``tests/engine/test_filters_fast.py`` checks the fast exit against them)."""
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
        return _invalid(f"a {t.value} order needs a price")
    if not t.has_limit_price and req.price is not None:
        return _invalid(f"a {t.value} order takes no limit price; use a limit-type order")
    if t.is_conditional and not t.is_trailing and req.trigger_price is None:
        return _invalid(f"a {t.value} order needs trigger_price")
    if not t.is_conditional and req.trigger_price is not None:
        return _invalid(f"{t.value} orders take no trigger_price; use a stop or take-profit type")
    if t.is_trailing and req.trailing_bps is None:
        return _invalid(f"a {t.value} order needs trailing_bps (100 bps = 1 %)")
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
    if req.iceberg_qty is not None and (not t.has_limit_price or req.time_in_force is not TimeInForce.GTC):
        return _invalid("iceberg orders must be GTC limit-type orders")
    if req.hidden and (req.iceberg_qty is not None or not t.has_limit_price):
        return _invalid("hidden orders are limit-type orders without an iceberg quantity")
    if req.client_id is not None and not (0 < len(req.client_id) <= 36):
        return _invalid("client_id must be 1 to 36 characters")
    return None


def _lot(m: Market, qty: Decimal, *, market: bool, name: str = "quantity") -> Refusal | None:
    if not is_multiple(qty, m.step_size):
        return _filter("LOT_SIZE", f"stepSize={m.step_size}", f"{name} {qty} is not a multiple of the step size")
    if qty < m.min_qty:
        return _filter("LOT_SIZE", f"minQty={m.min_qty}", f"{name} {qty} is below the minimum")
    if m.max_qty is not None and qty > m.max_qty:
        return _filter("LOT_SIZE", f"maxQty={m.max_qty}", f"{name} {qty} is above the maximum")
    if market and m.market_max_qty is not None and qty > m.market_max_qty:
        return _filter("MARKET_LOT_SIZE", f"maxQty={m.market_max_qty}", f"market quantity {qty} is above the maximum")
    return None


def _notional(m: Market, notional: Decimal, *, market: bool = False) -> Refusal | None:
    if notional < m.min_notional and (m.apply_min_notional_to_market or not market):
        return _filter("NOTIONAL", f"minNotional={m.min_notional}", f"notional {notional} is below the minimum")
    if m.max_notional is not None and notional > m.max_notional and (m.apply_max_notional_to_market or not market):
        return _filter("NOTIONAL", f"maxNotional={m.max_notional}", f"notional {notional} is above the maximum")
    return None


def _price(m: Market, name: str, v: Decimal) -> Refusal | None:
    if v <= 0:
        return _filter("PRICE_FILTER", f"minPrice>{0}", f"{name} {v} is not positive")
    if m.min_price and v < m.min_price:
        return _filter("PRICE_FILTER", f"minPrice={m.min_price}", f"{name} {v} is below the minimum price")
    if m.max_price and v > m.max_price:
        return _filter("PRICE_FILTER", f"maxPrice={m.max_price}", f"{name} {v} is above the maximum price")
    if not is_multiple(v, m.tick_size):
        return _filter("PRICE_FILTER", f"tickSize={m.tick_size}", f"{name} {v} is not a multiple of the tick size")
    return None


def _percent_by_side(m: Market, side: Side, price: Decimal, ref: Decimal) -> Refusal | None:
    if side is Side.BUY:
        up, down = m.bid_multiplier_up, m.bid_multiplier_down
    else:
        up, down = m.ask_multiplier_up, m.ask_multiplier_down
    prefix = "bid" if side is Side.BUY else "ask"
    if up is not None and price > ref * up:
        return _filter("PERCENT_PRICE_BY_SIDE", f"{prefix}MultiplierUp={up} x {ref} = {ref * up}",
                       f"{side.value} price {price} is too far above the average price {ref}")  # fmt: skip
    if down is not None and price < ref * down:
        return _filter("PERCENT_PRICE_BY_SIDE", f"{prefix}MultiplierDown={down} x {ref} = {ref * down}",
                       f"{side.value} price {price} is too far below the average price {ref}")  # fmt: skip
    return None


def iceberg_parts(quantity: Decimal, iceberg_qty: Decimal) -> int:
    """How many parts an iceberg shows: ``CEIL(quantity / icebergQty)`` (Binance's ICEBERG_PARTS).

    ``-(-q // p)`` is not a ceiling for Decimals (their ``//`` truncates toward zero):

    >>> from decimal import Decimal as D
    >>> iceberg_parts(D("1.05"), D("0.1")), iceberg_parts(D("1.0"), D("0.1"))
    (11, 10)
    """
    return int((quantity / iceberg_qty).to_integral_value(rounding=ROUND_CEILING))


def counts(
    m: Market, req: OrderRequest, *, open_orders: int, open_algo_orders: int = 0, open_iceberg_orders: int = 0
) -> Refusal | None:
    """MAX_NUM_ORDERS, MAX_NUM_ALGO_ORDERS and MAX_NUM_ICEBERG_ORDERS for one more order ``req``.

    The counts are the account's open orders on ``req``'s symbol: all of them, the stop and
    take-profit ones (Binance's "algo" orders: every conditional type, trailing stops included),
    and the icebergs.

    >>> from decimal import Decimal as D
    >>> m = Market("X/Y", "X", "Y", tick_size=D("1"), step_size=D("1"), max_num_algo_orders=5)
    >>> stop = OrderRequest("X/Y", Side.SELL, OrderType.STOP_MARKET, quantity=D("1"), trigger_price=D("9"))
    >>> counts(m, stop, open_orders=5, open_algo_orders=5).filter
    'MAX_NUM_ALGO_ORDERS'
    """
    if m.max_num_orders is not None and open_orders >= m.max_num_orders:
        return _filter("MAX_NUM_ORDERS", f"maxNumOrders={m.max_num_orders}",
                       f"{open_orders} orders are already open on {m.symbol}")  # fmt: skip
    if req.type.is_conditional and m.max_num_algo_orders is not None and open_algo_orders >= m.max_num_algo_orders:
        return _filter("MAX_NUM_ALGO_ORDERS", f"maxNumAlgoOrders={m.max_num_algo_orders}",
                       f"{open_algo_orders} stop/take-profit orders are already open on {m.symbol}")  # fmt: skip
    if req.iceberg_qty is not None and m.max_num_iceberg_orders is not None:
        if open_iceberg_orders >= m.max_num_iceberg_orders:
            return _filter("MAX_NUM_ICEBERG_ORDERS", f"maxNumIcebergOrders={m.max_num_iceberg_orders}",
                           f"{open_iceberg_orders} iceberg orders are already open on {m.symbol}")  # fmt: skip
    return None


def check(m: Market, req: OrderRequest, *, ref_price: Decimal | None) -> Refusal | None:
    """Validate ``req`` against market ``m``; ``ref_price`` is the last (or average) price, if known.

    Runs, in Binance's order: the request's shape, PRICE_FILTER (``price`` and ``trigger_price``),
    PERCENT_PRICE_BY_SIDE (limit price against ``ref_price``), LOT_SIZE and MARKET_LOT_SIZE,
    TRAILING_DELTA, ICEBERG_PARTS and the iceberg's LOT_SIZE, NOTIONAL. Returns the first refusal
    found, or ``None`` if the order passes every filter. Open-order counts are :func:`counts`.
    """
    if (r := shape(req)) is not None:
        return r
    for name in ("price", "trigger_price"):
        v = getattr(req, name)
        if v is not None and (r := _price(m, name, v)) is not None:
            return r
    if req.price is not None and ref_price is not None and ref_price > 0:
        if (r := _percent_by_side(m, req.side, req.price, ref_price)) is not None:
            return r
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
        assert req.quantity is not None  # shape() guarantees it for limit-type orders
        if req.iceberg_qty >= req.quantity:
            return _invalid("iceberg_qty must be smaller than quantity")
        if (r := _lot(m, req.iceberg_qty, market=False, name="iceberg quantity")) is not None:
            return r
        parts = iceberg_parts(req.quantity, req.iceberg_qty)
        if parts > m.max_iceberg_parts:
            return _filter("ICEBERG_PARTS", f"limit={m.max_iceberg_parts}", f"the iceberg would show {parts} parts")
    price = req.price if req.price is not None else (req.trigger_price or ref_price)
    is_market = req.type is OrderType.MARKET
    if req.quote_quantity is not None:
        return _notional(m, req.quote_quantity, market=is_market)
    if price is not None and req.quantity is not None:
        return _notional(m, price * req.quantity, market=is_market)
    return None


def fat_finger(req: OrderRequest, *, last_price: Decimal | None, band_pct: Decimal | None) -> Refusal | None:
    """A limit price more than ``band_pct`` percent *through* the last price (a kit rule, not Binance's).

    A buy limit above ``last x (1 + band)`` or a sell limit below ``last x (1 - band)`` would take
    everything up to its price at once: almost always a typo. ``None`` for either: no check.

    >>> from decimal import Decimal as D
    >>> r = fat_finger(OrderRequest("X/Y", Side.BUY, OrderType.LIMIT, quantity=D("1"), price=D("66500")),
    ...                last_price=D("60000"), band_pct=D("10"))
    >>> r.reason
    'Filter failure: FAT_FINGER (buy limit 66500 is 10.83 % above the last price 60000; allowed: at most 66000.0)'
    """
    if band_pct is None or last_price is None or last_price <= 0 or req.price is None:
        return None
    if req.type is not OrderType.LIMIT:
        return None
    band = band_pct / 100
    if req.side is Side.BUY and req.price > last_price * (1 + band):
        pct = (req.price / last_price - 1) * 100
        return _filter("FAT_FINGER", f"at most {last_price * (1 + band)}",
                       f"buy limit {req.price} is {pct:.2f} % above the last price {last_price}")  # fmt: skip
    if req.side is Side.SELL and req.price < last_price * (1 - band):
        pct = (1 - req.price / last_price) * 100
        return _filter("FAT_FINGER", f"at least {last_price * (1 - band)}",
                       f"sell limit {req.price} is {pct:.2f} % below the last price {last_price}")  # fmt: skip
    return None


def funds_needed(req: OrderRequest, ref_price: Decimal | None) -> tuple[str, Decimal] | None:
    """The asset and amount ``req`` needs free: a sell its base amount, a buy amount x price in quote.

    ``None`` for a buy with no known price (nothing can be said). :func:`funds` compares it with the
    free balance; a batch of orders (``Session.place_many``) adds up what its earlier orders need.

    >>> from decimal import Decimal as D
    >>> funds_needed(OrderRequest("BTC/USDT", Side.BUY, OrderType.LIMIT, quantity=D("2"), price=D("10")), None)
    ('USDT', Decimal('20'))
    """
    base, _, quote = req.symbol.partition("/")
    if req.side is Side.SELL:
        return base, req.quantity or ZERO
    if req.quote_quantity is not None:
        return quote, req.quote_quantity
    price = req.price if req.price is not None else (req.trigger_price or ref_price)
    if price is None or req.quantity is None:
        return None
    return quote, req.quantity * price


def funds(req: OrderRequest, *, free_base: Decimal, free_quote: Decimal, ref_price: Decimal | None) -> Refusal | None:
    """Whether the free balance covers ``req``: a sell its base amount, a buy amount x price in quote.

    Fees are not added (the exchange may still refuse an order that needs its last cent for
    fees); a buy with no known price is not checked.

    >>> from decimal import Decimal as D
    >>> sell = OrderRequest("BTC/USDT", Side.SELL, OrderType.MARKET, quantity=D("100"))
    >>> funds(sell, free_base=D("0.5"), free_quote=D("0"), ref_price=None).reason
    'Account has insufficient balance for requested action: selling 100 BTC needs 100, free 0.5.'
    """
    base = req.symbol.partition("/")[0]
    needed = funds_needed(req, ref_price)
    if needed is None:
        return None
    asset, need = needed
    if req.side is Side.SELL:
        free, what = free_base, f"selling {req.quantity} {base}"
    else:
        free, what = free_quote, f"buying {req.quantity} {base}"
    if need > free:
        return Refusal(
            RejectCode.INSUFFICIENT_FUNDS,
            f"Account has insufficient balance for requested action: {what} needs {need}, free {free}.",
            allowed=f"{free} {asset}",
        )
    return None


def _dec(v: Any) -> Decimal | None:
    if v is None or v == "":
        return None
    return Decimal(repr(v)) if isinstance(v, float) else Decimal(str(v))


def _pos(v: Any) -> Decimal | None:
    d = _dec(v)
    return d if d else None  # Binance: 0 disables a bound


def market_from_ccxt(mkt: Mapping[str, Any]) -> Market:
    """The engine's :class:`Market` for one market of a ccxt exchange (``exchange.markets[symbol]``).

    Binance-style venues carry their own filters in ``info["filters"]`` (filters.md field names):
    every one the kit knows is read from there. Other venues give what ccxt's unified ``precision``
    and ``limits`` hold (tick, step, amount, price and cost bounds).

    >>> m = market_from_ccxt({"symbol": "BTC/USDT", "base": "BTC", "quote": "USDT",
    ...     "precision": {"price": 0.01, "amount": 0.00001}, "limits": {"amount": {"min": 0.00001}},
    ...     "info": {"filters": [{"filterType": "PRICE_FILTER", "minPrice": "0.01",
    ...                           "maxPrice": "1000000.00", "tickSize": "0.01"},
    ...                          {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 5}]}})
    >>> m.max_price, m.max_num_algo_orders, m.step_size
    (Decimal('1000000.00'), 5, Decimal('0.00001'))
    """
    prec = mkt.get("precision") or {}
    limits = mkt.get("limits") or {}
    amount, price, cost = limits.get("amount") or {}, limits.get("price") or {}, limits.get("cost") or {}
    market_lim = limits.get("market") or {}
    kw: dict[str, Any] = {
        "tick_size": _dec(prec.get("price")) or ZERO,
        "step_size": _dec(prec.get("amount")) or ZERO,
        "min_qty": _dec(amount.get("min")) or ZERO,
        "max_qty": _pos(amount.get("max")),
        "market_max_qty": _pos(market_lim.get("max")),
        "min_notional": _dec(cost.get("min")) or ZERO,
        "max_notional": _pos(cost.get("max")),
        "min_price": _dec(price.get("min")) or ZERO,
        "max_price": _pos(price.get("max")),
        "max_iceberg_parts": 10**9,
        "min_trailing_bps": 1,
        "max_trailing_bps": 10**9,
    }
    for k in ("maker", "taker"):
        if mkt.get(k) is not None:
            kw[f"{k}_fee"] = _dec(mkt[k])
    info = mkt.get("info")
    for f in (info.get("filters") if isinstance(info, Mapping) else None) or []:
        kind = f.get("filterType")
        if kind == "PRICE_FILTER":
            kw.update(min_price=_dec(f.get("minPrice")) or ZERO, max_price=_pos(f.get("maxPrice")))
            kw["tick_size"] = _dec(f.get("tickSize")) or kw["tick_size"]
        elif kind == "LOT_SIZE":
            kw.update(min_qty=_dec(f.get("minQty")) or ZERO, max_qty=_pos(f.get("maxQty")))
            kw["step_size"] = _dec(f.get("stepSize")) or kw["step_size"]
        elif kind == "MARKET_LOT_SIZE":
            kw["market_max_qty"] = _pos(f.get("maxQty"))
        elif kind in ("NOTIONAL", "MIN_NOTIONAL"):
            kw["min_notional"] = _dec(f.get("minNotional")) or ZERO
            kw["apply_min_notional_to_market"] = bool(f.get("applyMinToMarket", f.get("applyToMarket", True)))
            if kind == "NOTIONAL":
                kw["max_notional"] = _pos(f.get("maxNotional"))
                kw["apply_max_notional_to_market"] = bool(f.get("applyMaxToMarket", True))
        elif kind == "PERCENT_PRICE_BY_SIDE":
            kw.update(
                bid_multiplier_up=_pos(f.get("bidMultiplierUp")),
                bid_multiplier_down=_pos(f.get("bidMultiplierDown")),
                ask_multiplier_up=_pos(f.get("askMultiplierUp")),
                ask_multiplier_down=_pos(f.get("askMultiplierDown")),
            )
        elif kind == "ICEBERG_PARTS":
            kw["max_iceberg_parts"] = int(f.get("limit") or 10**9)
        elif kind == "TRAILING_DELTA":
            kw["min_trailing_bps"] = int(f.get("minTrailingBelowDelta") or f.get("minTrailingAboveDelta") or 1)
            kw["max_trailing_bps"] = int(f.get("maxTrailingBelowDelta") or f.get("maxTrailingAboveDelta") or 10**9)
        elif kind == "MAX_NUM_ORDERS":
            kw["max_num_orders"] = int(f["maxNumOrders"])
        elif kind == "MAX_NUM_ALGO_ORDERS":
            kw["max_num_algo_orders"] = int(f["maxNumAlgoOrders"])
        elif kind == "MAX_NUM_ICEBERG_ORDERS":
            kw["max_num_iceberg_orders"] = int(f["maxNumIcebergOrders"])
    symbol = str(mkt.get("symbol") or "")
    base, _, quote = symbol.partition("/")
    return Market(symbol, str(mkt.get("base") or base), str(mkt.get("quote") or quote.split(":")[0]), **kw)


def would_cross(side: Side, limit: Decimal, best_opposite: Decimal | None) -> bool:
    """True if a limit order at ``limit`` would take liquidity at ``best_opposite``."""
    if best_opposite is None:
        return False
    return limit >= best_opposite if side is Side.BUY else limit <= best_opposite
