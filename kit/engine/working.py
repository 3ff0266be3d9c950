"""The engine's mutable view of one live order, and its frozen snapshot.

Internal to the engine: callers only ever see :class:`~kit.engine.types.Order` snapshots.
"""

from __future__ import annotations

import bisect
from decimal import Decimal
from typing import Any

from kit.engine.types import Market, Order, OrderRequest, OrderStatus, OrderType, Side

ZERO = Decimal(0)
BPS = Decimal(10_000)

# Trigger direction per (type, side): "up" triggers when the price rises to the trigger.
_UP = {
    (OrderType.STOP_MARKET, Side.BUY),
    (OrderType.STOP_LIMIT, Side.BUY),
    (OrderType.TAKE_PROFIT_MARKET, Side.SELL),
    (OrderType.TAKE_PROFIT_LIMIT, Side.SELL),
    (OrderType.TRAILING_STOP_MARKET, Side.BUY),
    (OrderType.TRAILING_STOP_LIMIT, Side.BUY),
    (OrderType.TRAILING_TAKE_PROFIT_MARKET, Side.BUY),
    (OrderType.TRAILING_TAKE_PROFIT_LIMIT, Side.BUY),
}
_TAKE_PROFIT = {OrderType.TRAILING_TAKE_PROFIT_MARKET, OrderType.TRAILING_TAKE_PROFIT_LIMIT}


class OpenBook(dict[int, "Working"]):
    """One symbol's open orders by id (in acceptance order), plus a price-sorted view of the resting ones.

    A resting limit (working at its price, past its first look at market data) acts on a candle's
    leg only if the leg reaches its price, so the matcher plans just the prefix of each side that
    a leg's range crosses (:meth:`crossing`); the others (market, fresh and untriggered
    conditional orders) are planned on every leg. The view is kept up to date incrementally: an
    order joining or leaving the book, or changing its price, first look or trigger state (the
    :class:`Working` setters report it), is re-filed on the next :meth:`crossing`, in
    O(log n) plus a list insertion.
    """

    __slots__ = ("bids", "bid_keys", "asks", "ask_keys", "others", "pending")

    def __init__(self) -> None:
        super().__init__()
        self.bids: list[Working] = []  # highest price first
        self.bid_keys: list[Decimal] = []  # -price, ascending
        self.asks: list[Working] = []  # lowest price first
        self.ask_keys: list[Decimal] = []  # price, ascending
        self.others: dict[int, Working] = {}
        self.pending: list[Working] = []  # joined or changed since the view was last brought up to date

    def __setitem__(self, key: int, value: Working) -> None:
        if key in self:
            self._unfile(self[key])
        super().__setitem__(key, value)
        value.book = self
        self.pending.append(value)

    def __delitem__(self, key: int) -> None:
        w = self[key]
        super().__delitem__(key)
        self._unfile(w)

    def pop(self, key: int, *default: Any) -> Any:
        """``dict.pop``; the order also leaves the sorted view."""
        if key in self:
            w = super().pop(key)
            self._unfile(w)
            return w
        return super().pop(key, *default)

    def popitem(self) -> tuple[int, Working]:
        """``dict.popitem``; the order also leaves the sorted view."""
        key, w = super().popitem()
        self._unfile(w)
        return key, w

    def clear(self) -> None:
        """``dict.clear``, and the sorted view with it."""
        for w in self.values():
            w.book = None
            w.book_key = None
        super().clear()
        self.bids, self.bid_keys, self.asks, self.ask_keys = [], [], [], []
        self.others, self.pending = {}, []

    def setdefault(self, key: int, default: Any = None) -> Any:
        """``dict.setdefault`` through :meth:`__setitem__`."""
        if key not in self:
            self[key] = default
        return self[key]

    def update(self, *args: Any, **kw: Any) -> None:
        """``dict.update`` through :meth:`__setitem__`."""
        for k, v in dict(*args, **kw).items():
            self[k] = v

    def touched(self, w: Working) -> None:
        """``w`` changed its price or state: file it again on the next :meth:`crossing`."""
        self.pending.append(w)

    def crossing(self, low: Decimal, high: Decimal) -> tuple[list[Working], list[Working], list[Working]]:
        """The orders a leg from ``low`` to ``high`` may act on: the others, and the bids and asks it reaches.

        Bids at or above ``low`` and asks at or below ``high`` (a superset: the matcher's plan
        decides exactly, trade-through and touch rules included).
        """
        if self.pending:
            self._file_pending()
        return (
            list(self.others.values()),
            self.bids[: bisect.bisect_right(self.bid_keys, -low)],
            self.asks[: bisect.bisect_right(self.ask_keys, high)],
        )

    def fresh_orders(self) -> list[Working]:
        """Open orders that have not yet had their first look, in acceptance order."""
        if not self.others and not self.pending:
            return []
        cands = list(self.others.values()) + self.pending
        return sorted({w.id: w for w in cands if w.fresh and self.get(w.id) is w}.values(), key=_order_id)

    def _file_pending(self) -> None:
        pending, self.pending = self.pending, []
        for w in pending:
            if self.get(w.id) is not w:
                continue  # left the book since
            resting = w.is_limit and not w.fresh
            key = (-w.price if w.buy else w.price) if resting and w.price is not None else None
            if key is not None and key == w.book_key:
                continue
            if key is None and w.book_key is None and w.id in self.others:
                continue
            self._unfile(w)
            w.book = self
            if key is None:
                self.others[w.id] = w
                continue
            keys, ws = (self.bid_keys, self.bids) if w.buy else (self.ask_keys, self.asks)
            i = bisect.bisect_right(keys, key)
            keys.insert(i, key)
            ws.insert(i, w)
            w.book_key = key

    def _unfile(self, w: Working) -> None:
        w.book = None
        self.others.pop(w.id, None)
        key = w.book_key
        if key is None:
            return
        keys, ws = (self.bid_keys, self.bids) if w.buy else (self.ask_keys, self.asks)
        i = bisect.bisect_left(keys, key)
        while ws[i] is not w:
            i += 1
        del keys[i]
        del ws[i]
        w.book_key = None


def _order_id(w: Working) -> int:
    return w.id


class Working:
    """A live order inside the engine (mutable)."""

    __slots__ = (
        "id", "client_id", "account", "req", "market", "buy", "status", "created", "updated",
        "qty", "quote_left", "filled", "filled_quote", "fees", "_price", "trigger", "_triggered",
        "lock_asset", "lock_left", "lock_price", "visible_left", "_fresh", "best", "active",
        "queue_ahead", "seq", "trigger_up", "act_up", "rested_bar", "cond", "list_id", "book", "book_key",
    )  # fmt: skip

    # price, fresh and triggered decide where an order sits in its book's sorted view: a change is reported
    @property
    def price(self) -> Decimal | None:
        """Limit price (None for market orders and untriggered stop-markets)."""
        return self._price

    @price.setter
    def price(self, value: Decimal | None) -> None:
        self._price = value
        if self.book is not None:
            self.book.touched(self)

    @property
    def fresh(self) -> bool:
        """True until the order has seen market data after its acceptance."""
        return self._fresh

    @fresh.setter
    def fresh(self, value: bool) -> None:
        self._fresh = value
        if self.book is not None:
            self.book.touched(self)

    @property
    def triggered(self) -> bool:
        """True once a conditional order has triggered."""
        return self._triggered

    @triggered.setter
    def triggered(self, value: bool) -> None:
        self._triggered = value
        if self.book is not None:
            self.book.touched(self)

    def __init__(self, oid: int, client_id: str, account: str, req: OrderRequest, market: Market,
                 ts_ms: int, seq: int) -> None:  # fmt: skip
        self.id = oid
        self.client_id = client_id
        self.account = account
        self.req = req
        self.market = market
        self.buy = req.side is Side.BUY
        self.status = OrderStatus.PENDING if req.type.is_conditional else OrderStatus.NEW
        self.created = self.updated = ts_ms
        self.qty: Decimal | None = req.quantity  # None for quote-quantity market orders until done
        self.quote_left: Decimal | None = req.quote_quantity
        self.filled = ZERO
        self.filled_quote = ZERO
        self.fees = ZERO
        self._price = req.price
        self.trigger = req.trigger_price
        self._triggered = False
        self.lock_asset: str | None = None
        self.lock_left = ZERO
        self.lock_price: Decimal | None = None  # quote locked per unit of base, for buys
        self.visible_left = req.iceberg_qty if req.iceberg_qty is not None else None
        self._fresh = True  # has not yet seen market data since acceptance
        self.best: Decimal | None = None  # trailing: best price since activation
        self.active = req.type.is_trailing and req.trigger_price is None
        self.queue_ahead = ZERO
        self.seq = seq
        self.trigger_up = (req.type, req.side) in _UP
        # trailing with an activation price: does the price rise to it (True) or fall to it?
        # stop-loss: the trigger direction (a buy rises to its stop); take-profit: the opposite
        self.act_up = self.trigger_up != (req.type in _TAKE_PROFIT)
        self.rested_bar = -1  # iceberg refresh: no more fills in this bar
        self.cond = req.type.is_conditional
        self.list_id = -1  # the order list it belongs to (kit.engine.lists), -1 for none
        self.book: OpenBook | None = None  # the book it is open in (see OpenBook)
        self.book_key: Decimal | None = None  # its key in the book's sorted view, while filed there

    # -- derived ---------------------------------------------------------------------------------
    @property
    def remaining(self) -> Decimal:
        """Base quantity still to fill (for quote-quantity orders: unknown, returns zero)."""
        return self.qty - self.filled if self.qty is not None else ZERO

    @property
    def is_limit(self) -> bool:
        """True when the order currently works as a limit order at ``price``."""
        return self.price is not None and (self.triggered or not self.cond)

    @property
    def is_market(self) -> bool:
        """True when the order currently works as a market order."""
        return self.price is None and (self.triggered or not self.cond)

    def fill_cap(self) -> Decimal:
        """Largest quantity the next fill may take (iceberg slices show only part)."""
        rem = self.remaining
        if self.visible_left is not None:
            return min(rem, self.visible_left)
        return rem

    def trail_level(self) -> Decimal | None:
        """Current trailing trigger from the best price, rounded to tick against the trader."""
        if self.best is None:
            return None
        delta = Decimal(self.req.trailing_bps or 0) / BPS
        tick = self.market.tick_size
        if self.trigger_up:  # buy trailing stop follows the lows upwards
            raw = self.best * (1 + delta)
            return (raw / tick).to_integral_value(rounding="ROUND_CEILING") * tick
        raw = self.best * (1 - delta)
        return (raw / tick).to_integral_value(rounding="ROUND_FLOOR") * tick

    def snapshot(self) -> Order:
        """Frozen view for events and queries."""
        # positional: half the cost of keywords, and every order makes two or three of these
        return Order(self.id, self.client_id, self.account, self.req, self.status, self.created, self.updated,
                     self.filled, self.filled_quote, self.fees, self.qty if self.qty is not None else self.filled,
                     self._price, self.trigger, self._triggered, self.list_id)  # fmt: skip
