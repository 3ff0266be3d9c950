"""Accounts: free and locked balance per asset, and signed positions where an account has them.

The ledger only applies :class:`~kit.engine.types.BalanceChange` values, so the same code
rebuilds an account from events (:func:`kit.engine.state.state_from_events`) and keeps it live
inside the engine. Amounts are exact Decimals; a change that would make a balance negative is a
programming error in the engine and raises.

>>> from decimal import Decimal as D
>>> a = Account("alice")
>>> a.apply((BalanceChange("USDT", free=D("100")),))
>>> a.apply((BalanceChange("USDT", free=D("-40"), locked=D("40")),))
>>> a.balance("USDT")
(Decimal('60'), Decimal('40'))
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, Inexact

from kit.engine.fillmodel import EXACT, PRECISION
from kit.engine.types import BalanceChange

ZERO = Decimal(0)


class Account:
    """One trading account.

    Parameters
    ----------
    name:
        Account name, unique within an engine.
    positions:
        ``True`` for an account that carries signed positions per symbol (reduce-only orders
        are allowed there); spot accounts hold assets only.
    """

    __slots__ = ("name", "positions", "_free", "_locked", "_pos", "client_ids")

    def __init__(self, name: str, *, positions: bool = False) -> None:
        self.name = name
        self.positions = positions
        self._free: dict[str, Decimal] = {}
        self._locked: dict[str, Decimal] = {}
        self._pos: dict[str, Decimal] = {}
        self.client_ids: dict[str, int] = {}

    def free(self, asset: str) -> Decimal:
        """Free (available) amount of ``asset``."""
        return self._free.get(asset, ZERO)

    def balance(self, asset: str) -> tuple[Decimal, Decimal]:
        """``(free, locked)`` of ``asset``."""
        return self._free.get(asset, ZERO), self._locked.get(asset, ZERO)

    def balances(self) -> dict[str, tuple[Decimal, Decimal]]:
        """Every asset the account has touched, as ``asset -> (free, locked)``."""
        assets = sorted(set(self._free) | set(self._locked))
        return {a: self.balance(a) for a in assets}

    def position(self, symbol: str) -> Decimal:
        """Signed position in ``symbol`` (zero on spot accounts)."""
        return self._pos.get(symbol, ZERO)

    def all_positions(self) -> dict[str, Decimal]:
        """Non-zero positions by symbol."""
        return {s: q for s, q in self._pos.items() if q}

    def apply(self, changes: Iterable[BalanceChange]) -> None:
        """Apply balance changes exactly, all or none.

        Raises ``ValueError`` if a balance would go negative or could not be held exactly (more
        than :data:`~kit.engine.fillmodel.PRECISION` significant digits); nothing is applied then.
        """
        add, have_free, have_locked = EXACT.add, self._free, self._locked
        if type(changes) is tuple and len(changes) == 1:  # one change (a lock, a release): nothing to stage
            c = changes[0]
            a, f, lk = c.asset, c.free, c.locked
            try:
                if f:
                    f = add(have_free.get(a, ZERO), f)
                    if f < 0:
                        raise ValueError(f"{self.name}: free {a} would go negative ({f})")
                if lk:
                    lk = add(have_locked.get(a, ZERO), lk)
                    if lk < 0:
                        raise ValueError(f"{self.name}: locked {a} would go negative ({lk})")
            except Inexact:
                raise ValueError(
                    f"{self.name}: a balance would need more than {PRECISION} significant digits"
                ) from None
            if c.free:
                have_free[a] = f
            if c.locked:
                have_locked[a] = lk
            return
        free: dict[str, Decimal] = {}  # the new values, assigned once all of them are known
        locked: dict[str, Decimal] = {}
        try:
            for c in changes:
                a, f, lk = c.asset, c.free, c.locked
                if f:
                    v = free[a] = add(free[a] if a in free else have_free.get(a, ZERO), f)
                    if v < 0:
                        raise ValueError(f"{self.name}: free {a} would go negative ({v})")
                if lk:
                    v = locked[a] = add(locked[a] if a in locked else have_locked.get(a, ZERO), lk)
                    if v < 0:
                        raise ValueError(f"{self.name}: locked {a} would go negative ({v})")
        except Inexact:
            raise ValueError(f"{self.name}: a balance would need more than {PRECISION} significant digits") from None
        have_free.update(free)
        have_locked.update(locked)

    def move_position(self, symbol: str, delta: Decimal) -> None:
        """Add ``delta`` to the signed position in ``symbol``."""
        self._pos[symbol] = self._pos.get(symbol, ZERO) + delta
