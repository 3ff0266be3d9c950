"""Rebuild accounts, positions and orders from events alone.

The engine's events are a complete record: replaying their balance changes, position changes
and order snapshots gives the state after any event. The journal uses the same idea for the
live kit.

>>> from decimal import Decimal as D
>>> from kit.engine import Engine, Market
>>> eng = Engine([Market("BTC/USDT", "BTC", "USDT", tick_size=D("0.01"), step_size=D("0.001"))])
>>> st = state_from_events(eng.open_account("a", {"USDT": "50"}))
>>> st.balances["a"]["USDT"]
(Decimal('50'), Decimal('0'))
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from kit.engine.ledger import Account
from kit.engine.types import Event, Order

__all__ = ["AccountsState", "state_from_events"]


@dataclass
class AccountsState:
    """Balances, positions and orders per account, as derived from events."""

    balances: dict[str, dict[str, tuple[Decimal, Decimal]]] = field(default_factory=dict)
    positions: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    orders: dict[int, Order] = field(default_factory=dict)


def state_from_events(events: Iterable[Event]) -> AccountsState:
    """Fold ``events`` (in order) into an :class:`AccountsState`."""
    accounts: dict[str, Account] = {}
    orders: dict[int, Order] = {}
    for e in events:
        acct = accounts.get(e.account)
        if acct is None:
            acct = accounts[e.account] = Account(e.account, positions=True)
        acct.apply(e.balance_changes)
        if e.position_change is not None:
            acct.move_position(*e.position_change)
        if e.order is not None and e.order.id:
            orders[e.order.id] = e.order
    return AccountsState(
        balances={n: a.balances() for n, a in accounts.items()},
        positions={n: a.all_positions() for n, a in accounts.items()},
        orders=orders,
    )
