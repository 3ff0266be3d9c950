"""The pure fill engine: exact, deterministic, pessimistic paper fills.

No I/O, no clock, no ccxt: market data and time go in, events come out. The same inputs always
give the same events, and the account state after any event can be rebuilt from the events.

>>> from decimal import Decimal as D
>>> from kit.engine import Engine, Market, OrderRequest, OrderType, Side
>>> eng = Engine([Market("ETH/USDT", "ETH", "USDT", tick_size=D("0.01"), step_size=D("0.0001"))])
>>> _ = eng.open_account("me", {"USDT": 1000})
>>> ev = eng.submit("me", OrderRequest("ETH/USDT", Side.BUY, OrderType.LIMIT, quantity=D("1"),
...                 price=D("2000")), ts_ms=0)
>>> ev[0].kind.value, ev[0].reason
('rejected', 'Account has insufficient balance for requested action. Needs 2000 USDT, free 1000.')
"""

from kit.engine.engine import Engine
from kit.engine.fillmodel import FillModel
from kit.engine.filters import Refusal
from kit.engine.state import AccountsState, state_from_events
from kit.engine.types import (
    BalanceChange,
    Bar,
    BookSnapshot,
    Event,
    EventKind,
    Fill,
    Liquidity,
    Market,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    RejectCode,
    Side,
    TimeInForce,
    Trade,
)

__all__ = [
    "AccountsState",
    "BalanceChange",
    "Bar",
    "BookSnapshot",
    "Engine",
    "Event",
    "EventKind",
    "Fill",
    "FillModel",
    "Liquidity",
    "Market",
    "Order",
    "OrderRequest",
    "OrderStatus",
    "OrderType",
    "Refusal",
    "RejectCode",
    "Side",
    "TimeInForce",
    "Trade",
    "state_from_events",
]
