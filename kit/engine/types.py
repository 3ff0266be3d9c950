"""Value types of the fill engine: markets, order requests, orders, bars, fills and events.

Everything here is immutable and exact: prices, quantities, balances and fees are
:class:`decimal.Decimal`; times are integer milliseconds since the epoch (UTC), passed in by the
caller (the engine never reads a clock).

>>> from decimal import Decimal as D
>>> m = Market("BTC/USDT", "BTC", "USDT", tick_size=D("0.01"), step_size=D("0.00001"))
>>> m.taker_fee
Decimal('0.001')
>>> OrderRequest("BTC/USDT", Side.BUY, OrderType.LIMIT, quantity=D("0.5"), price=D("100")).time_in_force
<TimeInForce.GTC: 'GTC'>
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum

ZERO = Decimal(0)


class Side(str, Enum):
    """Order side."""

    BUY = "buy"
    SELL = "sell"


class OrderType(str, Enum):
    """Order types the engine simulates.

    Stop and take-profit orders wait for their ``trigger_price``; trailing stops track the best
    price since activation and trigger ``trailing_bps`` basis points away from it. A trailing
    order's optional ``trigger_price`` (Binance's ``stopPrice``) is where tracking starts: for
    ``TRAILING_STOP_*`` (Binance STOP_LOSS / STOP_LOSS_LIMIT with ``trailingDelta``) once the
    price reaches it in the stop-loss direction (a sell when the price falls to it, a buy when it
    rises to it); for ``TRAILING_TAKE_PROFIT_*`` (TAKE_PROFIT / TAKE_PROFIT_LIMIT with
    ``trailingDelta``) in the take-profit direction (a sell rising to it, a buy falling to it).
    """

    MARKET = "market"
    LIMIT = "limit"
    STOP_MARKET = "stop_market"
    STOP_LIMIT = "stop_limit"
    TAKE_PROFIT_MARKET = "take_profit_market"
    TAKE_PROFIT_LIMIT = "take_profit_limit"
    TRAILING_STOP_MARKET = "trailing_stop_market"
    TRAILING_STOP_LIMIT = "trailing_stop_limit"
    TRAILING_TAKE_PROFIT_MARKET = "trailing_take_profit_market"
    TRAILING_TAKE_PROFIT_LIMIT = "trailing_take_profit_limit"

    @property
    def has_limit_price(self) -> bool:
        """True for types that rest at a limit ``price`` once active."""
        return self in _LIMIT_TYPES

    @property
    def is_conditional(self) -> bool:
        """True for types that wait for a trigger before they work."""
        return self in _CONDITIONAL_TYPES

    @property
    def is_trailing(self) -> bool:
        """True for trailing stops."""
        return self in _TRAILING_TYPES


_LIMIT_TYPES = frozenset(
    {
        OrderType.LIMIT,
        OrderType.STOP_LIMIT,
        OrderType.TAKE_PROFIT_LIMIT,
        OrderType.TRAILING_STOP_LIMIT,
        OrderType.TRAILING_TAKE_PROFIT_LIMIT,
    }
)
_CONDITIONAL_TYPES = frozenset(OrderType) - {OrderType.MARKET, OrderType.LIMIT}
_TRAILING_TYPES = frozenset(
    {
        OrderType.TRAILING_STOP_MARKET,
        OrderType.TRAILING_STOP_LIMIT,
        OrderType.TRAILING_TAKE_PROFIT_MARKET,
        OrderType.TRAILING_TAKE_PROFIT_LIMIT,
    }
)


class TimeInForce(str, Enum):
    """How long an order works: until canceled, immediate-or-cancel, fill-or-kill, or until a time."""

    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"
    GTD = "GTD"


class OrderStatus(str, Enum):
    """Lifecycle of an order.

    ``PENDING`` is a conditional order waiting for its trigger; ``PENDING_NEW`` is a pending
    order of an OTO/OTOCO list, accepted but not yet working (Binance's ``PENDING_NEW``): it goes
    to work when the list's working order is fully filled.
    """

    PENDING = "pending"
    PENDING_NEW = "pending_new"
    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    EXPIRED = "expired"
    REJECTED = "rejected"

    @property
    def is_open(self) -> bool:
        """True while the order can still fill or trigger."""
        return self in _OPEN_STATUSES


_OPEN_STATUSES = frozenset(
    {OrderStatus.PENDING, OrderStatus.PENDING_NEW, OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED}
)


class Liquidity(str, Enum):
    """Whether a fill added liquidity (maker fee) or took it (taker fee)."""

    MAKER = "maker"
    TAKER = "taker"


class EventKind(str, Enum):
    """What happened. Every engine call returns a list of events in the order they happened."""

    DEPOSIT = "deposit"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    TRIGGERED = "triggered"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    EXPIRED = "expired"
    AMENDED = "amended"
    LIST_STATUS = "list_status"  # an order list was placed, or its status changed (``Event.order_list``)


class RejectCode(str, Enum):
    """Why an order was refused. Adapters map these to venue error codes."""

    UNKNOWN_SYMBOL = "unknown_symbol"
    UNKNOWN_ACCOUNT = "unknown_account"
    INVALID = "invalid"  # a malformed request: missing or contradictory fields
    FILTER = "filter"  # a market filter failed; ``filter`` names it, ``allowed`` gives the bound
    INSUFFICIENT_FUNDS = "insufficient_funds"
    DUPLICATE_CLIENT_ID = "duplicate_client_id"
    WOULD_TAKE = "would_take"  # post-only order that would cross
    WOULD_TRIGGER = "would_trigger"  # stop that would trigger at once
    UNSUPPORTED = "unsupported"  # e.g. reduce-only on a spot account
    REDUCE_ONLY = "reduce_only"  # reduce-only order that would grow the position
    UNKNOWN_ORDER = "unknown_order"
    NOT_FILLABLE = "not_fillable"  # FOK that cannot fill in full, market order with no liquidity
    LIST_PRICES = "list_prices"  # an OCO's prices are not on both sides of the last price
    UNKNOWN_LIST = "unknown_list"  # no open order list with that id


@dataclass(frozen=True, slots=True)
class Market:
    """A symbol and its trading rules (Binance-style filters) and fees.

    Parameters
    ----------
    symbol, base, quote:
        Unified symbol (``"BTC/USDT"``) and its assets.
    tick_size, step_size:
        Price and quantity increments. Prices must be multiples of ``tick_size``, quantities
        multiples of ``step_size``.
    min_qty, max_qty:
        Quantity bounds (LOT_SIZE). ``max_qty`` of ``None`` means unbounded.
    market_max_qty:
        Largest market-order quantity (MARKET_LOT_SIZE), ``None`` for unbounded.
    min_notional, max_notional:
        Bounds on price x quantity (NOTIONAL).
    maker_fee, taker_fee:
        Fee rates as fractions (``0.001`` is 0.1 %).
    fee_precision:
        Fees are rounded up to this increment (exchanges charge whole units).
    max_iceberg_parts:
        ICEBERG_PARTS: total quantity / visible quantity may not exceed this.
    min_trailing_bps, max_trailing_bps:
        TRAILING_DELTA bounds in basis points.
    min_price, max_price:
        PRICE_FILTER bounds on ``price`` and ``trigger_price`` (``0`` / ``None``: no bound).
    bid_multiplier_up, bid_multiplier_down, ask_multiplier_up, ask_multiplier_down:
        PERCENT_PRICE_BY_SIDE: a buy's limit price must lie within ``[down, up] x`` the reference
        price with the ``bid_`` multipliers, a sell's with the ``ask_`` ones (``None``: no bound).
    max_num_orders, max_num_algo_orders, max_num_iceberg_orders:
        MAX_NUM_ORDERS / MAX_NUM_ALGO_ORDERS / MAX_NUM_ICEBERG_ORDERS: open orders an account may
        have on the symbol (all; stop and take-profit ones; icebergs). ``None``: no limit.
    apply_min_notional_to_market, apply_max_notional_to_market:
        NOTIONAL's ``applyMinToMarket`` / ``applyMaxToMarket``: whether the bounds also hold for
        MARKET orders (valued at the reference price).
    """

    symbol: str
    base: str
    quote: str
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal = ZERO
    max_qty: Decimal | None = None
    market_max_qty: Decimal | None = None
    min_notional: Decimal = ZERO
    max_notional: Decimal | None = None
    maker_fee: Decimal = Decimal("0.001")
    taker_fee: Decimal = Decimal("0.001")
    fee_precision: Decimal = Decimal("0.00000001")
    max_iceberg_parts: int = 10
    min_trailing_bps: int = 10
    max_trailing_bps: int = 2000
    min_price: Decimal = ZERO
    max_price: Decimal | None = None
    bid_multiplier_up: Decimal | None = None
    bid_multiplier_down: Decimal | None = None
    ask_multiplier_up: Decimal | None = None
    ask_multiplier_down: Decimal | None = None
    max_num_orders: int | None = None
    max_num_algo_orders: int | None = None
    max_num_iceberg_orders: int | None = None
    apply_min_notional_to_market: bool = True
    apply_max_notional_to_market: bool = True


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """What a trader asks for. Validated by the engine; a bad request becomes a ``REJECTED`` event.

    Parameters
    ----------
    quantity:
        Base quantity. Market orders may give ``quote_quantity`` instead (spend/receive this much
        quote currency).
    price:
        Limit price for LIMIT, STOP_LIMIT, TAKE_PROFIT_LIMIT and TRAILING_STOP_LIMIT.
    trigger_price:
        Stop / take-profit trigger. For trailing stops, the optional activation price.
    trailing_bps:
        Trailing distance in basis points (trailing stops only).
    time_in_force:
        GTC, IOC, FOK, or GTD with ``expire_at_ms``.
    post_only:
        A limit order that must rest: rejected if it would take, never fills as taker.
    reduce_only:
        Only on position accounts: never grows the absolute position.
    iceberg_qty:
        Visible quantity of an iceberg order; the rest is hidden.
    hidden:
        Fully hidden order (no visible quantity; fills as maker only when traded through).
    client_id:
        Unique per account; the engine makes one if ``None``.
    """

    symbol: str
    side: Side
    type: OrderType
    quantity: Decimal | None = None
    quote_quantity: Decimal | None = None
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    trailing_bps: int | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    expire_at_ms: int | None = None
    post_only: bool = False
    reduce_only: bool = False
    iceberg_qty: Decimal | None = None
    hidden: bool = False
    client_id: str | None = None


@dataclass(frozen=True, slots=True)
class Bar:
    """One candle. ``ts_ms`` is the open time, ``interval_ms`` its length."""

    ts_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    interval_ms: int = 60_000


@dataclass(frozen=True, slots=True)
class Trade:
    """One public trade print. ``side`` is the aggressor (taker) side."""

    ts_ms: int
    price: Decimal
    quantity: Decimal
    side: Side


@dataclass(frozen=True, slots=True)
class BookSnapshot:
    """Order book levels, best first: ``bids`` descending, ``asks`` ascending, as (price, qty)."""

    ts_ms: int
    bids: tuple[tuple[Decimal, Decimal], ...]
    asks: tuple[tuple[Decimal, Decimal], ...]


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution of (part of) an order."""

    trade_id: int
    order_id: int
    ts_ms: int
    symbol: str
    side: Side
    price: Decimal
    quantity: Decimal
    quote_quantity: Decimal
    fee: Decimal
    fee_asset: str
    liquidity: Liquidity


@dataclass(frozen=True, slots=True)
class Order:
    """Snapshot of an order's state, as carried by each event."""

    id: int
    client_id: str
    account: str
    request: OrderRequest
    status: OrderStatus
    created_ms: int
    updated_ms: int
    filled_qty: Decimal = ZERO
    filled_quote: Decimal = ZERO
    fees: Decimal = ZERO
    quantity: Decimal = ZERO  # total base quantity (resolved for quote-quantity market orders)
    price: Decimal | None = None  # working limit price (may change by amend)
    trigger_price: Decimal | None = None  # current trigger (moves for trailing stops)
    triggered: bool = False
    list_id: int = -1  # the order list it belongs to (Binance's ``orderListId``), -1 for none

    @property
    def remaining(self) -> Decimal:
        """Base quantity still to fill."""
        return self.quantity - self.filled_qty

    @property
    def average_price(self) -> Decimal | None:
        """Average fill price, or ``None`` before the first fill."""
        return self.filled_quote / self.filled_qty if self.filled_qty else None


@dataclass(frozen=True, slots=True)
class BalanceChange:
    """A change to one asset of one account: deltas of free and locked amounts."""

    asset: str
    free: Decimal = ZERO
    locked: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened, with its time.

    The account state after any event is the sum of the ``balance_changes`` (and
    ``position_change``) of all events up to it.
    """

    kind: EventKind
    ts_ms: int
    account: str
    order: Order | None = None
    fill: Fill | None = None
    reason: str = ""
    code: RejectCode | None = None
    filter: str | None = None
    allowed: str | None = None
    balance_changes: tuple[BalanceChange, ...] = field(default=())
    position_change: tuple[str, Decimal] | None = None
    order_list: OrderList | None = None  # for LIST_STATUS events

    @property
    def is_fill(self) -> bool:
        """True for partial and final fills."""
        return self.fill is not None


class Contingency(str, Enum):
    """The kind of an order list (Binance's ``orderList/oco``, ``/oto`` and ``/otoco``).

    ``OCO``: two orders, the first to start working (a fill, or a trigger) expires the other.
    ``OTO``: a working order and a pending one, placed once the working order is fully filled.
    ``OTOCO``: a working order and a pending OCO pair. (Binance reports ``contingencyType`` "OTO"
    for it.)
    ``OPO`` / ``OPOCO``: One Pays the Other, an OTO / OTOCO whose pending order(s) have no
    quantity of their own: they sell what the working buy received (Binance's ``orderList/opo``,
    ``/opoco``; ``contingencyType`` "OTO" too).
    """

    OCO = "OCO"
    OTO = "OTO"
    OTOCO = "OTOCO"
    OPO = "OPO"
    OPOCO = "OPOCO"

    @property
    def pays(self) -> bool:
        """True for OPO and OPOCO: the pending orders' quantity is what the working order received."""
        return self in (Contingency.OPO, Contingency.OPOCO)


class ListStatus(str, Enum):
    """Binance's ``listOrderStatus``: ``EXECUTING`` until nothing in the list can act on another."""

    EXECUTING = "EXECUTING"
    ALL_DONE = "ALL_DONE"


@dataclass(frozen=True, slots=True)
class OrderListRequest:
    """An order list to place as one unit.

    ``orders`` in Binance's order: OCO ``(above, below)``; OTO and OPO ``(working, pending)``;
    OTOCO and OPOCO ``(working, pending_above, pending_below)``. Every order names the same
    symbol; an OCO pair's two orders have the same side and quantity. An OPO/OPOCO's pending
    orders have no quantity (``None``): it is set when the working order is fully filled.
    """

    contingency: Contingency
    orders: tuple[OrderRequest, ...]
    client_id: str | None = None


@dataclass(frozen=True, slots=True)
class OrderList:
    """Snapshot of an order list (Binance's ``orderListId``, ``listClientOrderId``, ``orders``)."""

    id: int
    client_id: str
    account: str
    symbol: str
    contingency: Contingency
    status: ListStatus
    order_ids: tuple[int, ...]
    created_ms: int
    updated_ms: int


def _quick_init(cls: type) -> None:
    """Give a frozen, slotted dataclass an ``__init__`` that fills its slots directly (same signature).

    A frozen dataclass's generated ``__init__`` sets every field through
    ``object.__setattr__(self, name, value)``; the engine builds several of these values per order
    (snapshots, events, fills, balance changes, candles), and that was about a fifth of its
    per-order time. Setting each slot through its own descriptor is the same operation (the
    instance stays frozen, equal, hashable and picklable as before) at about half the cost. Only
    for classes whose ``__init__`` does nothing else: no ``__post_init__``, factories or init-only
    fields (checked here).

    >>> BalanceChange("USDT", free=Decimal(1)) == BalanceChange("USDT", Decimal(1), ZERO)
    True
    """
    fields = dataclasses.fields(cls)
    if hasattr(cls, "__post_init__") or any(
        not f.init or f.default_factory is not dataclasses.MISSING for f in fields
    ):  # pragma: no cover - a guard for whoever adds such a field
        raise TypeError(f"{cls.__name__}: _quick_init only handles plain fields")
    ns: dict[str, object] = {}
    params = []
    for f in fields:
        ns[f"_set_{f.name}"] = cls.__dict__[f.name].__set__  # the slot's member descriptor
        if f.default is dataclasses.MISSING:
            params.append(f.name)
        else:
            ns[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
    body = "".join(f"    _set_{f.name}(self, {f.name})\n" for f in fields)
    exec(f"def __init__(self, {', '.join(params)}) -> None:\n{body}", ns)  # noqa: S102 - built from field names
    init = ns["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"  # type: ignore[attr-defined]
    init.__doc__ = cls.__dict__["__init__"].__doc__
    cls.__init__ = init  # type: ignore[misc]


for _cls in (OrderRequest, Bar, Fill, Order, BalanceChange, Event):
    _quick_init(_cls)
