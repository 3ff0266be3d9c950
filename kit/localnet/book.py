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
from typing import Any, NamedTuple

from kit.engine.levels import REMOVED, Taken, fmt, sorted_levels
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
        # The accounts' own resting orders (price in ticks -> open quantity): shown in depth, never
        # handed to the engine (its market orders fill against the synthetic levels only).
        self.own_bids: dict[int, Decimal] = {}
        self.own_asks: dict[int, Decimal] = {}
        # Beyond the ``book_levels`` near the touch (the levels the engine fills against, which move
        # with every print) the book goes on, up to ``depth_levels`` per side, as a plain grid of
        # ``gap``-spaced levels whose sizes depend on the price level only: ``depth?limit=5000``
        # serves them and the diff stream keeps them, at the cost of a few edge levels per move.
        self.depth_levels = max(getattr(spec, "depth_levels", self.levels), self.levels)
        self._gap = 1
        self._deep_gap: int | None = None
        self._deep_sizes: dict[int, Decimal] = {}
        self._shown: tuple[_Side, _Side] = (_Side({}, range(0)), _Side({}, range(0)))
        # (center, anchor) -> levels: read-only here (Taken.apply copies them); a fill re-applies takes to it
        self._last_target: tuple[tuple[int, str], tuple[dict[int, Decimal], dict[int, Decimal]]] | None = None

    # -------------------------------------------------------------- building
    def _size(self, ticks: int, i: int) -> Decimal:
        r = _mix(ticks ^ self._salt)
        raw = self.spec.level_qty * Decimal(repr(round((0.25 + 1.5 * r) * (1 + 0.03 * i), 6)))
        q = (raw / self.spec.step_size).to_integral_value(ROUND_DOWN) * self.spec.step_size
        return max(q, self.spec.min_qty)

    def _target(self, center: int) -> tuple[dict[int, Decimal], dict[int, Decimal]]:
        """The synthetic levels around ``center`` (before takes); the last one is kept, as fills do not move it."""
        key = (center, self._anchor)
        if self._last_target is not None and self._last_target[0] == key:
            return self._last_target[1]
        target = self._build_target(center)
        self._last_target = (key, target)
        return target

    def _build_target(self, center: int) -> tuple[dict[int, Decimal], dict[int, Decimal]]:
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
        self._gap = gap
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
        if self._taken.next_due_ms() > ts_ms:  # nothing comes back yet: the levels are the last ones built
            return None
        return self._apply(ts_ms)

    def _apply(self, ts_ms: int, *, expire: bool = True) -> Delta | None:
        assert self._center is not None
        if expire:
            self._taken.expire(ts_ms)
        self.bids, self.asks = self._taken.apply(*self._target(self._center))
        return self._show()

    def _deep(self, edge: int | None, down: bool) -> range:
        """The deep grid beyond the near book's last level ``edge`` (downwards for bids).

        Its spacing is fixed when the book is first built (the near levels' gap then) and its
        levels are multiples of it, so a move of the market changes only its two ends.
        """
        n = self.depth_levels - self.levels
        if edge is None or n <= 0:
            return range(0)
        if self._deep_gap is None:
            self._deep_gap = self._gap
        g = self._deep_gap
        if down:
            first = (edge - 1) // g * g
            return range(first, max(first - n * g, 0), -g)  # prices stay positive
        first = (edge // g + 1) * g
        return range(first, first + n * g, g)

    def _deep_size(self, ticks: int) -> Decimal:
        q = self._deep_sizes.get(ticks)
        if q is None:
            r = _mix(ticks ^ self._salt)
            raw = self.spec.level_qty * Decimal(repr(round((0.25 + 1.5 * r) * (1 + 0.03 * self.levels), 6)))
            q = max((raw / self.spec.step_size).to_integral_value(ROUND_DOWN) * self.spec.step_size, self.spec.min_qty)
            self._deep_sizes[ticks] = q
        return q

    def _show(self) -> Delta | None:
        """Recompute the shown levels (near + own, and the deep grid); the delta against the last ones."""
        bids = _Side(_merged(self.bids, self.own_bids), self._deep(min(self.bids) if self.bids else None, True))
        asks = _Side(_merged(self.asks, self.own_asks), self._deep(max(self.asks) if self.asks else None, False))
        old_b, old_a = self._shown
        db = self._diff_sides(old_b, bids)
        da = self._diff_sides(old_a, asks)
        self._shown = (bids, asks)
        if not db and not da:
            return None
        self.update_id += 1
        return self.update_id, self.update_id, db, da

    def _qty(self, side: _Side, ticks: int) -> Decimal:
        q = side.shown.get(ticks)
        if q is None:
            return self._deep_size(ticks) if ticks in side.deep else _ZERO
        return q + self._deep_size(ticks) if ticks in side.deep else q  # own order on a deep level

    def _diff_sides(self, old: _Side, new: _Side) -> list[list[str]]:
        om, nm = old.shown, new.shown
        gone: list[list[str]] = []
        changed: list[list[str]] = []
        for t in om:
            if t not in nm:
                q = self._qty(new, t)
                if q != self._qty(old, t):
                    (changed if q else gone).append([fmt(self.tick * t), fmt(q)])
        for t in nm:
            q = self._qty(new, t)
            if q != self._qty(old, t):
                changed.append([fmt(self.tick * t), fmt(q)])
        if old.deep != new.deep:
            for t in _outside(old.deep, new.deep):
                if t not in om and t not in nm:
                    gone.append([fmt(self.tick * t), REMOVED])
            for t in _outside(new.deep, old.deep):
                if t not in om and t not in nm:
                    changed.append([fmt(self.tick * t), fmt(self._deep_size(t))])
        return gone + changed

    def adjust_own(self, buy: bool, price: Decimal, qty: Decimal) -> None:
        """Add ``qty`` (negative: remove) of an own resting order at ``price``; :meth:`show` publishes."""
        side = self.own_bids if buy else self.own_asks
        t = int(price / self.tick)
        left = side.get(t, Decimal(0)) + qty
        if left > 0:
            side[t] = left
        else:
            side.pop(t, None)

    def show(self) -> Delta | None:
        """The delta of the shown levels since the last one (after :meth:`adjust_own`), or None."""
        if self._center is None:
            return None
        return self._show()

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
        """(best bid, best ask) as shown (own resting orders included) as (price, qty) pairs."""
        sb, sa = self._shown
        bid = max(sb.shown, default=None)
        ask = min(sa.shown, default=None)
        return (
            (self.tick * bid, self._qty(sb, bid)) if bid is not None else None,
            (self.tick * ask, self._qty(sa, ask)) if ask is not None else None,
        )

    def levels_sorted(self, limit: int | None = None) -> tuple[list[Level], list[Level]]:
        """The synthetic levels (what the engine fills against): bids descending, asks ascending."""
        return sorted_levels(self.bids, self.asks, self._price, limit)

    def snapshot(self, limit: int) -> dict[str, Any]:
        """REST ``depth`` body: the shown levels (near, deep and own resting orders), ``limit`` a side."""
        sb, sa = self._shown
        tb = sorted({*sb.shown, *sb.deep[:limit]}, reverse=True)[:limit]
        ta = sorted({*sa.shown, *sa.deep[:limit]})[:limit]
        bids = [(self.tick * t, self._qty(sb, t)) for t in tb]
        asks = [(self.tick * t, self._qty(sa, t)) for t in ta]
        return {
            "lastUpdateId": self.update_id,
            "bids": [[fmt(p), fmt(q)] for p, q in bids],
            "asks": [[fmt(p), fmt(q)] for p, q in asks],
        }


def _outside(a: range, b: range) -> list[int]:
    """The elements of ``a`` not in ``b``: cheap when both are the same grid (their overlap is one run)."""
    if a.step != b.step or (a and b and (a.start - b.start) % a.step):
        return [x for x in a if x not in b]
    out: list[int] = []
    i = 0
    while i < len(a) and a[i] not in b:
        out.append(a[i])
        i += 1
    j = len(a) - 1
    while j >= i and a[j] not in b:
        out.append(a[j])
        j -= 1
    return out


class _Side(NamedTuple):
    """One side as shown: near levels with own resting orders added (ticks -> qty), the deep grid."""

    shown: dict[int, Decimal]
    deep: range


_ZERO = Decimal(0)


def _merged(levels: dict[int, Decimal], own: dict[int, Decimal]) -> dict[int, Decimal]:
    if not own:
        return levels
    out = dict(levels)
    for t, q in own.items():
        out[t] = out.get(t, _ZERO) + q
    return out
