"""Synthetic order book around the last trade price.

Levels sit on a grid (``level_gap_bps`` apart) with sizes drawn from a stable hash of the price
level, so a small price move only changes the edges of the book and depth deltas stay small.
Liquidity taken by market orders (taker fills reported by the engine) is removed from the levels
it hit and comes back after ``replenish_ms`` of simulated time.

The book has one monotonically increasing update id; every change bumps it by one and yields a
``(first_id, last_id, bid_changes, ask_changes)`` delta, which is what a ``depthUpdate`` stream
event carries (``U``, ``u``, ``b``, ``a``), and :meth:`Book.snapshot` reports the same id as
``lastUpdateId``.

Examples
--------
>>> from decimal import Decimal as D
>>> from kit.localnet.config import DEFAULT_SYMBOLS
>>> book = Book(DEFAULT_SYMBOLS[0], seed=7)
>>> delta = book.rebuild(D("60000.00"), ts_ms=0)
>>> snap = book.snapshot(5)
>>> snap["lastUpdateId"] == delta[1] and len(snap["bids"]) == 5
True
>>> D(snap["bids"][0][0]) < D(snap["asks"][0][0])
True
"""

from __future__ import annotations

import math
from decimal import ROUND_DOWN, Decimal
from typing import Any

from kit.engine.levels import Taken, best, diff, fmt, sorted_levels
from kit.localnet.config import SymbolSpec

Delta = tuple[int, int, list[list[str]], list[list[str]]]
Level = tuple[Decimal, Decimal]


def _mix(x: int) -> float:
    """A stable pseudo-random number in [0, 1) from an integer (splitmix64 finaliser)."""
    x = (x + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return ((x ^ (x >> 31)) & 0xFFFFFFFF) / 2**32


class Book:
    """The synthetic book of one symbol (see module docstring)."""

    def __init__(self, spec: SymbolSpec, *, seed: int, replenish_ms: int = 5_000) -> None:
        self.spec = spec
        self.tick = spec.tick_size
        self.levels = spec.book_levels
        self.replenish_ms = replenish_ms
        self._salt = seed * 1_000_003 + sum(ord(c) for c in spec.symbol)
        self.bids: dict[int, Decimal] = {}  # price in ticks -> qty
        self.asks: dict[int, Decimal] = {}
        self._taken: Taken[int] = Taken()
        self.update_id = 1
        self.ts_ms = 0
        self._center: int | None = None
        self._anchor = "mid"

    # -------------------------------------------------------------- building
    def _size(self, ticks: int, i: int) -> Decimal:
        r = _mix(ticks ^ self._salt)
        raw = self.spec.level_qty * Decimal(repr(round((0.25 + 1.5 * r) * (1 + 0.03 * i), 6)))
        q = (raw / self.spec.step_size).to_integral_value(ROUND_DOWN) * self.spec.step_size
        return max(q, self.spec.min_qty)

    def _target(self, center: int) -> tuple[dict[int, Decimal], dict[int, Decimal]]:
        px = float(self.tick) * center
        spread = max(1, round(px * self.spec.spread_bps / 1e4 / float(self.tick)))
        gap = max(1, round(px * self.spec.level_gap_bps / 1e4 / float(self.tick)))
        if self._anchor == "bid":  # a seller hit the bid at the last price
            bid0 = center
        elif self._anchor == "ask":  # a buyer lifted the offer
            bid0 = center - spread
        else:
            bid0 = center - spread // 2
        bid0 = max(bid0, 1)
        ask0 = bid0 + spread
        bids: dict[int, Decimal] = {bid0: self._size(bid0, 0)}
        g = (bid0 - 1) // gap * gap
        while len(bids) < self.levels and g > 0:
            bids[g] = self._size(g, len(bids))
            g -= gap
        asks: dict[int, Decimal] = {ask0: self._size(ask0, 0)}
        g = math.ceil((ask0 + 1) / gap) * gap
        while len(asks) < self.levels:
            asks[g] = self._size(g, len(asks))
            g += gap
        return bids, asks

    def rebuild(self, last_price: Decimal, ts_ms: int, *, seller_aggressor: bool | None = None) -> Delta | None:
        """Re-centre on ``last_price``; return the delta, or ``None`` if nothing changed.

        With ``seller_aggressor`` the last price becomes the best bid (True) or best ask (False),
        as the print that set it implies; None centres the spread on it.
        """
        self.ts_ms = ts_ms
        self._center = int(last_price / self.tick)
        self._anchor = "mid" if seller_aggressor is None else "bid" if seller_aggressor else "ask"
        return self._apply(ts_ms)

    def refresh(self, ts_ms: int) -> Delta | None:
        """Bring back liquidity whose replenish time has passed."""
        self.ts_ms = ts_ms
        if self._center is None or not self._taken:
            return None
        return self._apply(ts_ms)

    def _apply(self, ts_ms: int, *, expire: bool = True) -> Delta | None:
        assert self._center is not None
        if expire:
            self._taken.expire(ts_ms)
        bids, asks = self._taken.apply(*self._target(self._center))
        db = diff(self.bids, bids, self._price)
        da = diff(self.asks, asks, self._price)
        self.bids, self.asks = bids, asks
        if not db and not da:
            return None
        self.update_id += 1
        return self.update_id, self.update_id, db, da

    def consume(self, *, bids_hit: bool, price: Decimal, qty: Decimal, ts_ms: int) -> Delta | None:
        """Remove ``qty`` at ``price`` (a taker fill) from the bid side if ``bids_hit`` else asks."""
        side = "bid" if bids_hit else "ask"
        self._taken.add(side, int(price / self.tick), qty, until_ms=ts_ms + self.replenish_ms)
        if self._center is None:
            return None
        # no expiry here: the engine consumed the same amounts from its own copy, and restoring
        # other liquidity now would make the two books differ until the next snapshot
        return self._apply(ts_ms, expire=False)

    def state(self) -> dict[str, Any]:
        """What :meth:`load_state` needs to rebuild the current levels (for the command log)."""
        return {
            "c": self._center,
            "a": self._anchor,
            "t": self._taken.rows(int),
        }

    def load_state(self, state: dict[str, Any], ts_ms: int) -> None:
        """Rebuild levels from :meth:`state` output (replay after a restart)."""
        self._center = state["c"]
        self._anchor = state.get("a", "mid")
        self._taken.load(state["t"], int)
        if self._center is not None:
            self._apply(ts_ms, expire=False)  # exactly the levels the engine was given

    # -------------------------------------------------------------- reading
    def _price(self, ticks: int) -> Decimal:
        return self.tick * ticks

    def best(self) -> tuple[tuple[Decimal, Decimal] | None, tuple[Decimal, Decimal] | None]:
        """(best bid, best ask) as (price, qty) pairs."""
        return best(self.bids, self.asks, self._price)

    def levels_sorted(self, limit: int | None = None) -> tuple[list[Level], list[Level]]:
        """Bids descending and asks ascending as Decimal pairs."""
        return sorted_levels(self.bids, self.asks, self._price, limit)

    def snapshot(self, limit: int) -> dict[str, Any]:
        """REST ``depth`` body."""
        bids, asks = self.levels_sorted(limit)
        return {
            "lastUpdateId": self.update_id,
            "bids": [[fmt(p), fmt(q)] for p, q in bids],
            "asks": [[fmt(p), fmt(q)] for p, q in asks],
        }
