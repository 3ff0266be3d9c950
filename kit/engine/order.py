"""The one description of an order, and the strict parsing of what a trader typed into it.

:class:`OrderSpec` is what every layer means by "an order": :meth:`kit.session.Session.place`,
``check`` and ``amend``, the order ticket's preview, the research replay and localnet's request
parser all build one; the engine works on the :class:`~kit.engine.types.OrderRequest` that
:func:`engine_request` (the one constructor, also :meth:`OrderSpec.to_request`) derives from it.
Order-type rules come from :class:`~kit.engine.types.OrderType`'s predicates and the shape rules
of :func:`kit.engine.filters.shape` (one implementation, shared with the engine).

Parsing is strict: nothing is converted silently. Booleans are not numbers, ``"0_001"`` is not
0.001, ``"1e30"`` is out of range, ``post_only="no"`` is not a flag and 25.9 basis points are not
25. Every refusal is a :class:`~kit.errors.OrderRejected` that says what to fix, raised before
anything is sent.

>>> spec = OrderSpec.parse("BTC/USDT", "buy", "0.010", price="60000.5")
>>> spec.type, spec.amount, spec.time_in_force
(<OrderType.LIMIT: 'limit'>, Decimal('0.010'), <TimeInForce.GTC: 'GTC'>)
>>> OrderSpec.parse("BTC/USDT", "buy", "0_001")
Traceback (most recent call last):
...
kit.errors.OrderRejected: amount must be a number, got '0_001', which is not a plain decimal ...
>>> sorted(ORDER_KEYWORDS)[:3]
['iceberg_amount', 'post_only', 'price']
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from kit.engine.types import OrderRequest, OrderType, Side, TimeInForce, _quick_init
from kit.errors import OrderRejected

__all__ = ["ENGINE_NAMES", "ORDER_KEYWORDS", "OrderSpec", "bad_order", "engine_request", "parse_decimal", "shown"]

NOTHING_SENT = " No request was sent."

#: Largest magnitude a price or amount may have (10**15), and the finest step (10**-18): outside
#: this, exact Decimal arithmetic against a tick or step size would overflow the context.
MAX_ADJUSTED_EXPONENT = 15
MIN_ADJUSTED_EXPONENT = -18
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_CLIENT_ID = re.compile(r"[.A-Z:/a-z0-9_-]{1,36}")


def bad_order(message: str, *, symbol: str | None = None, hint: str | None = None) -> OrderRejected:
    """An :class:`~kit.errors.OrderRejected` for input refused before any request.

    >>> str(bad_order("side must be 'buy' or 'sell'"))
    "side must be 'buy' or 'sell'. Correct the order and submit it again. No request was sent."
    """
    return OrderRejected(message, symbol=symbol, hint=(hint or "Correct the order and submit it again.") + NOTHING_SENT)


def shown(value: Any) -> str:
    """``value`` for a message: short values as typed; long ones only by type and length (may be a secret)."""
    text = repr(value)
    return text if len(text) <= 24 else f"a {type(value).__name__} of {len(str(value))} characters"


def parse_decimal(value: Any, name: str, *, positive: bool = True, symbol: str | None = None) -> Decimal:
    """``value`` as an exact Decimal, refusing anything that would be a silent conversion.

    Accepts ``int`` (not ``bool``), finite ``float`` (its shortest repr: ``0.1`` is ``Decimal('0.1')``),
    finite ``Decimal`` and plain decimal strings (surrounding blanks ignored; no underscores).

    >>> parse_decimal(0.1, "price")
    Decimal('0.1')
    >>> parse_decimal(True, "amount")
    Traceback (most recent call last):
    ...
    kit.errors.OrderRejected: amount must be a number, not a bool (True)....
    """
    if isinstance(value, bool):
        raise bad_order(f"{name} must be a number, not a bool ({value})", symbol=symbol,
                        hint=f"Give {name} as a number or a decimal string, e.g. '0.001'.")  # fmt: skip
    if isinstance(value, float):
        if not math.isfinite(value):
            raise bad_order(f"{name} must be a finite number, got {value}", symbol=symbol)
        d = Decimal(repr(value))
    elif isinstance(value, int):
        d = Decimal(value)
    elif isinstance(value, Decimal):
        d = value
    elif isinstance(value, str):
        text = value.strip()
        if text.lower().lstrip("+-") in ("nan", "snan", "inf", "infinity"):
            raise bad_order(f"{name} must be a finite number, got {shown(value)}", symbol=symbol)
        if not _PLAIN_NUMBER.fullmatch(text):
            raise bad_order(
                f"{name} must be a number, got {shown(value)}, which is not a plain decimal",
                symbol=symbol,
                hint=f"Write {name} with digits and one '.', e.g. '0.001' (no '_' or ',').",
            )
        try:
            d = Decimal(text)
        except (InvalidOperation, ValueError):  # pragma: no cover - the pattern admits only valid literals
            raise bad_order(f"{name} {shown(value)} is not a number", symbol=symbol) from None
    else:
        raise bad_order(f"{name} must be a number or a decimal string, got {type(value).__name__}", symbol=symbol)
    if not d.is_finite():
        raise bad_order(f"{name} must be a finite number, got {shown(value)}", symbol=symbol)
    if d and not MIN_ADJUSTED_EXPONENT <= d.adjusted() <= MAX_ADJUSTED_EXPONENT:
        raise bad_order(
            f"{name} {shown(value)} is out of range (magnitude 1e{MIN_ADJUSTED_EXPONENT} to 1e{MAX_ADJUSTED_EXPONENT})",
            symbol=symbol,
        )
    if positive and d <= 0:
        raise bad_order(f"{name} must be a positive finite number, got {shown(value)}", symbol=symbol)
    return d


def _flag(value: Any, name: str, symbol: str | None) -> bool:
    if not isinstance(value, bool):
        raise bad_order(f"{name} must be True or False, got {shown(value)}", symbol=symbol,
                        hint=f"Pass {name}=True or {name}=False (a string such as 'no' is not a flag).")  # fmt: skip
    return value


def _bps(value: Any, symbol: str | None) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        d = Decimal(value)
    else:
        d = parse_decimal(value, "trailing_bps", positive=False, symbol=symbol)
    if d != d.to_integral_value():
        raise bad_order(
            f"trailing_bps must be a whole number of bps (basis points), got {shown(value)}",
            symbol=symbol,
            hint="Round it yourself (100 bps = 1 %); fractions are refused, not truncated.",
        )
    if d <= 0:
        raise bad_order(f"trailing_bps must be positive (100 bps = 1 %), got {shown(value)}", symbol=symbol)
    return int(d)


def _enum(value: Any, cls: type[Any], name: str, symbol: str | None, *, upper: bool) -> Any:
    if isinstance(value, cls):
        return value
    choices = ", ".join(repr(m.value) for m in cls)
    if not isinstance(value, str):
        raise bad_order(f"{name} must be one of {choices}, got {type(value).__name__}", symbol=symbol)
    text = value.strip().upper() if upper else value.strip().lower()
    try:
        return cls(text)
    except ValueError:
        raise bad_order(f"unknown {name} {shown(value)}; use one of {choices}", symbol=symbol) from None


@dataclass(frozen=True, slots=True)
class OrderSpec:
    """One order, parsed exactly and complete: what the kit means by "an order" in every layer.

    Build it with :meth:`parse` (strict, from what a trader typed); its field names and defaults
    are the keywords of :meth:`kit.session.Session.place` (``ORDER_KEYWORDS``).

    Attributes
    ----------
    symbol, side, amount
        Unified symbol, :class:`~kit.engine.types.Side`, base amount (a positive Decimal; ``None``
        only for an order by ``quote_amount``).
    price
        Limit price (limit-type orders only).
    type
        :class:`~kit.engine.types.OrderType`; :meth:`parse` defaults it to limit with a price, else market.
    trigger_price
        Stop / take-profit trigger; the optional activation price of a trailing stop.
    trailing_bps
        Trailing distance in whole basis points (trailing stops only).
    time_in_force
        :class:`~kit.engine.types.TimeInForce` (GTC, IOC, FOK).
    post_only, reduce_only
        Real booleans.
    iceberg_amount
        Visible part of an iceberg order.
    client_id
        The client order id; the Session sets its own deterministic one when it sends the order.
    quote_amount
        A market order by an amount of quote currency instead of ``amount`` (Binance's
        ``quoteOrderQty``: "spend 100 USDT"). Localnet's wire decoder gives it; the Session places
        orders by base amount only, so it is not one of ``place()``'s keywords (``ORDER_KEYWORDS``)
        and :meth:`parse` refuses it.

    Examples
    --------
    >>> s = OrderSpec.parse("ETH/USDT", "SELL", 2, type="trailing_stop_market", trailing_bps="50")
    >>> s.side.value, s.type.is_trailing, s.trailing_bps
    ('sell', True, 50)
    >>> s.to_request().quantity
    Decimal('2')
    """

    symbol: str
    side: Side
    amount: Decimal | None
    price: Decimal | None = None
    type: OrderType | None = None
    trigger_price: Decimal | None = None
    trailing_bps: int | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    reduce_only: bool = False
    iceberg_amount: Decimal | None = None
    client_id: str | None = None
    quote_amount: Decimal | None = None

    @classmethod
    def parse(cls, symbol: Any, side: Any, amount: Any, **order: Any) -> OrderSpec:
        """Parse user input strictly; raises :class:`~kit.errors.OrderRejected` with what to fix.

        ``order`` takes the keywords in ``ORDER_KEYWORDS`` (and ``client_id``); an unknown keyword
        is refused. After the values, the order's shape is checked with the engine's rules
        (:func:`kit.engine.filters.shape`): a limit price only for limit types, a trigger for stops...
        """
        from kit.engine.filters import shape

        if not isinstance(symbol, str) or not symbol:
            raise bad_order(f"symbol must be a market symbol such as 'BTC/USDT', got {shown(symbol)}")
        unknown = sorted(set(order) - ORDER_KEYWORDS - {"client_id"})
        if unknown:
            raise bad_order(f"unknown order keyword(s) {unknown}", symbol=symbol,
                            hint=f"Use place()'s keywords: {', '.join(sorted(ORDER_KEYWORDS))}.")  # fmt: skip
        d = {f.name: f.default for f in _FIELDS}
        d.update(order)
        side_ = _enum(side, Side, "side", symbol, upper=False)
        price = None if d["price"] is None else parse_decimal(d["price"], "price", symbol=symbol)
        kind = d["type"]
        type_ = (OrderType.LIMIT if price is not None else OrderType.MARKET) if kind is None else None
        type_ = type_ or _enum(kind, OrderType, "order type", symbol, upper=False)
        trigger = d["trigger_price"]
        iceberg = d["iceberg_amount"]
        cid = d["client_id"]
        if cid is not None and not (isinstance(cid, str) and _CLIENT_ID.fullmatch(cid)):
            raise bad_order("client_id must be 1 to 36 of A-Z a-z 0-9 . : / _ -", symbol=symbol)
        spec = cls(
            symbol=symbol,
            side=side_,
            amount=parse_decimal(amount, "amount", symbol=symbol),
            price=price,
            type=type_,
            trigger_price=None if trigger is None else parse_decimal(trigger, "trigger_price", symbol=symbol),
            trailing_bps=None if d["trailing_bps"] is None else _bps(d["trailing_bps"], symbol),
            time_in_force=_enum(d["time_in_force"], TimeInForce, "time_in_force", symbol, upper=True),
            post_only=_flag(d["post_only"], "post_only", symbol),
            reduce_only=_flag(d["reduce_only"], "reduce_only", symbol),
            iceberg_amount=None if iceberg is None else parse_decimal(iceberg, "iceberg_amount", symbol=symbol),
            client_id=cid,
        )
        if spec.time_in_force is TimeInForce.GTD:
            raise bad_order("time_in_force GTD needs an expiry time, which place() does not take", symbol=symbol,
                            hint="Use GTC and cancel the order when you want it gone.")  # fmt: skip
        refusal = shape(spec.to_request())
        if refusal is not None:
            raise bad_order(refusal.reason, symbol=symbol)
        return spec

    @property
    def kind(self) -> OrderType:
        """The order type (always set on a parsed spec)."""
        return self.type if self.type is not None else (OrderType.LIMIT if self.price is not None else OrderType.MARKET)

    @property
    def is_market(self) -> bool:
        """True for types that execute at market once active (no limit price)."""
        return not self.kind.has_limit_price

    @property
    def base_amount(self) -> Decimal:
        """``amount``, for code that works in base amounts (the Session: :meth:`parse` always sets it).

        >>> OrderSpec("X/Y", Side.BUY, None, type=OrderType.MARKET, quote_amount=Decimal(100)).base_amount
        Traceback (most recent call last):
        ...
        kit.errors.OrderRejected: this order is by quote amount (100), not by base amount...
        """
        if self.amount is None:
            raise bad_order(f"this order is by quote amount ({self.quote_amount}), not by base amount",
                            symbol=self.symbol, hint="Give the amount in the base currency.")  # fmt: skip
        return self.amount

    @property
    def reference_price(self) -> Decimal | None:
        """The price the order names: its limit price, else its trigger price."""
        return self.price if self.price is not None else self.trigger_price

    def keywords(self) -> dict[str, Any]:
        """The order as :meth:`parse` keywords (``ORDER_KEYWORDS``), e.g. to change one and parse again.

        >>> s = OrderSpec.parse("BTC/USDT", "buy", "1", price="5")
        >>> OrderSpec.parse(s.symbol, s.side, s.amount, **{**s.keywords(), "price": "6"}).price
        Decimal('6')
        """
        return {name: getattr(self, name) for name in sorted(ORDER_KEYWORDS)}

    def with_client_id(self, client_id: str) -> OrderSpec:
        """The same order under ``client_id``."""
        return dataclasses.replace(self, client_id=client_id)

    def to_request(self) -> OrderRequest:
        """The engine's request for this order: :func:`engine_request` (``amount`` is the engine's ``quantity``)."""
        return engine_request(self)


def engine_request(spec: OrderSpec) -> OrderRequest:
    """The one constructor from the order description to the engine's internal :class:`OrderRequest`.

    :class:`OrderSpec` is the kit's description of an order (what the Session, the ticket, the
    guard, the research replay and localnet's wire decoder build); the engine works on
    ``OrderRequest``, a derived form in the exchange's words. Every field of the description
    becomes the engine field named in :data:`ENGINE_NAMES` (``amount`` -> ``quantity``,
    ``quote_amount`` -> ``quote_quantity``, ``iceberg_amount`` -> ``iceberg_qty``) or the field
    of the same name; ``type`` is the order's :attr:`~OrderSpec.kind`. The values are taken as
    they are (already parsed): the engine and its filters judge them. Nothing outside this function
    (and the module that defines ``OrderRequest``) builds one (``tests/test_architecture.py``).

    >>> from decimal import Decimal as D
    >>> spec = OrderSpec("BTC/USDT", Side.BUY, None, type=OrderType.MARKET, quote_amount=D("100"), client_id="c1")
    >>> r = engine_request(spec)
    >>> r.quantity, r.quote_quantity, r.type.value, r.client_id
    (None, Decimal('100'), 'market', 'c1')
    """
    # positional, in OrderRequest's field order (ENGINE_NAMES spelled out; what the description does not
    # have, expire_at_ms and hidden, at its default): half the cost of keywords, once per order placed.
    # tests/engine/test_perorder_path.py checks it against the keyword form field by field.
    return OrderRequest(spec.symbol, spec.side, spec.kind, spec.amount, spec.quote_amount, spec.price,
                        spec.trigger_price, spec.trailing_bps, spec.time_in_force, None, spec.post_only,
                        spec.reduce_only, spec.iceberg_amount, False, spec.client_id)  # fmt: skip


_FIELDS = dataclasses.fields(OrderSpec)
_quick_init(OrderSpec)  # built once per order placed: its slots filled directly (see _quick_init)

#: The description's words that the engine's :class:`OrderRequest` spells otherwise; every other field
#: of :class:`OrderSpec` has the same name in both.
ENGINE_NAMES: dict[str, str] = {"amount": "quantity", "quote_amount": "quote_quantity", "iceberg_amount": "iceberg_qty"}
_TO_ENGINE = tuple((f.name, ENGINE_NAMES.get(f.name, f.name)) for f in _FIELDS if f.name != "type")

#: The order keywords of :meth:`kit.session.Session.place` besides symbol, side and amount: the
#: fields of :class:`OrderSpec` (``client_id`` is the Session's to choose; ``quote_amount`` is the
#: wire's: the Session places orders by base amount).
ORDER_KEYWORDS = frozenset(f.name for f in _FIELDS) - {"symbol", "side", "amount", "client_id", "quote_amount"}
