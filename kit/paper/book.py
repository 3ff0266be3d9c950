"""The order book of a paper venue: another venue's L2 levels, minus what paper orders took.

:class:`MirrorBook` has the interface of localnet's synthetic :class:`kit.localnet.book.Book`, so a
localnet :class:`~kit.localnet.venue.Venue` runs on it unchanged, but its levels come from an
upstream feed (:meth:`MirrorBook.feed`, thread-safe) instead of a generator.

Gaps: after :meth:`MirrorBook.gap` (a stream error) the book shows no levels, so nothing takes
liquidity, until the next full upstream snapshot (spec (c): stop filling until the book resyncs).

Consumed liquidity (docs/paper.md; spec (c)): a taker fill of a paper order removes its quantity
from the level it hit, and the removal outlives book refreshes for ``replenish_ms`` (default
3 s) or until the level vanishes upstream. Paper fills never reach the real book, so resetting
on each size change would let the same displayed size fill twice.

Examples
--------
>>> from decimal import Decimal as D
>>> from kit.localnet.config import DEFAULT_SYMBOLS
>>> book = MirrorBook(DEFAULT_SYMBOLS[0])
>>> book.feed([(D("100.00"), D("2"))], [(D("100.01"), D("1.5"))], ts_ms=1_000)
>>> _ = book.refresh(1_000)
>>> book.best()
((Decimal('100.00'), Decimal('2')), (Decimal('100.01'), Decimal('1.5')))
>>> _ = book.consume(bids_hit=False, price=D("100.01"), qty=D("1"), ts_ms=1_100)
>>> book.feed([(D("100.00"), D("2"))], [(D("100.01"), D("1.5"))], ts_ms=1_200)
>>> _ = book.refresh(1_200)   # the upstream refresh does not bring back what paper took
>>> book.best()[1]
(Decimal('100.01'), Decimal('0.5'))
>>> _ = book.refresh(4_200)   # replenish_ms later it is available again
>>> book.best()[1]
(Decimal('100.01'), Decimal('1.5'))
"""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

from kit.localnet.config import SymbolSpec

Delta = tuple[int, int, list[list[str]], list[list[str]]]
Level = tuple[Decimal, Decimal]
ZERO = Decimal(0)


class MirrorBook:
    """L2 levels of one symbol from an upstream feed, with paper consumption (see module docstring).

    Parameters
    ----------
    spec
        The symbol (tick size for formatting).
    replenish_ms
        How long liquidity taken by a paper order stays unavailable, unless the level vanishes.
    depth
        Levels kept per side.
    """

    def __init__(self, spec: SymbolSpec, *, replenish_ms: int = 3_000, depth: int = 100) -> None:
        self.spec = spec
        self.replenish_ms = replenish_ms
        self.depth = depth
        self._lock = threading.Lock()
        self._upstream: tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]] | None = None
        self._upstream_seq = 0
        self._applied_seq = 0
        self._raw_bids: dict[Decimal, Decimal] = {}
        self._raw_asks: dict[Decimal, Decimal] = {}
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self._taken: dict[tuple[str, Decimal], tuple[Decimal, int]] = {}
        self.update_id = 1
        self.ts_ms = 0
        self.last_feed_ms = 0
        self.stale = False

    # -------------------------------------------------------------- upstream side (any thread)
    def feed(self, bids: list[Level], asks: list[Level], *, ts_ms: int) -> None:
        """Hand over a full upstream snapshot (price, size) pairs; applied at the next tick."""
        b = {Decimal(p): Decimal(q) for p, q in bids[: self.depth] if Decimal(q) > 0}
        a = {Decimal(p): Decimal(q) for p, q in asks[: self.depth] if Decimal(q) > 0}
        with self._lock:
            self._upstream = (b, a)
            self._upstream_seq += 1
            self.last_feed_ms = ts_ms
            self.stale = False

    def gap(self) -> None:
        """The upstream feed lost data: show no liquidity (nothing fills) until the next full book."""
        with self._lock:
            self.stale = True

    @property
    def has_data(self) -> bool:
        """True once the upstream sent a book."""
        return self._upstream is not None

    # -------------------------------------------------------------- venue side (venue loop)
    def rebuild(self, last_price: Decimal, ts_ms: int, *, seller_aggressor: bool | None = None) -> Delta | None:
        """Apply the latest upstream snapshot (the print's price does not move a mirrored book)."""
        return self.refresh(ts_ms)

    def refresh(self, ts_ms: int) -> Delta | None:
        """Apply the latest upstream levels and expire old consumption; the delta, or ``None``."""
        self.ts_ms = ts_ms
        with self._lock:
            if self._upstream is not None and self._upstream_seq != self._applied_seq:
                self._raw_bids, self._raw_asks = dict(self._upstream[0]), dict(self._upstream[1])
                self._applied_seq = self._upstream_seq
        return self._apply(ts_ms, expire=True)

    def _apply(self, ts_ms: int, *, expire: bool) -> Delta | None:
        bids, asks = ({}, {}) if self.stale else (dict(self._raw_bids), dict(self._raw_asks))
        if expire:
            # gone when due, or when its level vanished upstream (the liquidity it stood for is gone too)
            self._taken = {
                (side, px): v
                for (side, px), v in self._taken.items()
                if v[1] > ts_ms and px in (bids if side == "bid" else asks)
            }
        for (side, px), (qty, _) in self._taken.items():
            book = bids if side == "bid" else asks
            if px in book:
                left = book[px] - qty
                if left > 0:
                    book[px] = left
                else:
                    del book[px]
        db = _diff(self.bids, bids)
        da = _diff(self.asks, asks)
        self.bids, self.asks = bids, asks
        if not db and not da:
            return None
        self.update_id += 1
        return self.update_id, self.update_id, db, da

    def consume(self, *, bids_hit: bool, price: Decimal, qty: Decimal, ts_ms: int) -> Delta | None:
        """Remove ``qty`` at ``price`` (a paper taker fill) from the bids if ``bids_hit`` else the asks."""
        side = "bid" if bids_hit else "ask"
        old, _ = self._taken.get((side, price), (ZERO, 0))
        self._taken[(side, price)] = (old + qty, ts_ms + self.replenish_ms)
        return self._apply(ts_ms, expire=False)

    def state(self) -> dict[str, Any]:
        """The current levels and consumption, for the command log (replayed after a restart)."""
        return {
            "b": [[str(p), str(q)] for p, q in self._raw_bids.items()],
            "a": [[str(p), str(q)] for p, q in self._raw_asks.items()],
            "t": [[s, str(p), str(q), u] for (s, p), (q, u) in self._taken.items()],
        }

    def load_state(self, state: dict[str, Any], ts_ms: int) -> None:
        """Rebuild the levels from :meth:`state` output."""
        self._raw_bids = {Decimal(p): Decimal(q) for p, q in state.get("b", [])}
        self._raw_asks = {Decimal(p): Decimal(q) for p, q in state.get("a", [])}
        self._taken = {(s, Decimal(p)): (Decimal(q), int(u)) for s, p, q, u in state.get("t", [])}
        self._apply(ts_ms, expire=False)

    # -------------------------------------------------------------- reading
    def best(self) -> tuple[Level | None, Level | None]:
        """(best bid, best ask) as (price, qty) pairs."""
        bid = max(self.bids) if self.bids else None
        ask = min(self.asks) if self.asks else None
        return (
            (bid, self.bids[bid]) if bid is not None else None,
            (ask, self.asks[ask]) if ask is not None else None,
        )

    def levels_sorted(self, limit: int | None = None) -> tuple[list[Level], list[Level]]:
        """Bids descending and asks ascending."""
        b = sorted(self.bids, reverse=True)[:limit]
        a = sorted(self.asks)[:limit]
        return [(p, self.bids[p]) for p in b], [(p, self.asks[p]) for p in a]

    def snapshot(self, limit: int) -> dict[str, Any]:
        """REST ``depth`` body."""
        bids, asks = self.levels_sorted(limit)
        return {
            "lastUpdateId": self.update_id,
            "bids": [[_fmt(p), _fmt(q)] for p, q in bids],
            "asks": [[_fmt(p), _fmt(q)] for p, q in asks],
        }


def _fmt(x: Decimal) -> str:
    return format(x, "f")


def _diff(old: dict[Decimal, Decimal], new: dict[Decimal, Decimal]) -> list[list[str]]:
    out = [[_fmt(p), "0"] for p in old if p not in new]
    out += [[_fmt(p), _fmt(q)] for p, q in new.items() if old.get(p) != q]
    return out
