"""The engine's mutable view of one live order, and its frozen snapshot.

Internal to the engine: callers only ever see :class:`~kit.engine.types.Order` snapshots.
"""

from __future__ import annotations

from decimal import Decimal

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


class Working:
    """A live order inside the engine (mutable)."""

    __slots__ = (
        "id", "client_id", "account", "req", "market", "buy", "status", "created", "updated",
        "qty", "quote_left", "filled", "filled_quote", "fees", "price", "trigger", "triggered",
        "lock_asset", "lock_left", "lock_price", "visible_left", "fresh", "best", "active",
        "queue_ahead", "seq", "trigger_up", "act_up", "rested_bar", "cond", "list_id",
    )  # fmt: skip

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
        self.price = req.price
        self.trigger = req.trigger_price
        self.triggered = False
        self.lock_asset: str | None = None
        self.lock_left = ZERO
        self.lock_price: Decimal | None = None  # quote locked per unit of base, for buys
        self.visible_left = req.iceberg_qty if req.iceberg_qty is not None else None
        self.fresh = True  # has not yet seen market data since acceptance
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
        qty = self.qty if self.qty is not None else self.filled
        return Order(
            id=self.id,
            client_id=self.client_id,
            account=self.account,
            request=self.req,
            status=self.status,
            created_ms=self.created,
            updated_ms=self.updated,
            filled_qty=self.filled,
            filled_quote=self.filled_quote,
            fees=self.fees,
            quantity=qty,
            price=self.price,
            trigger_price=self.trigger,
            triggered=self.triggered,
            list_id=self.list_id,
        )
