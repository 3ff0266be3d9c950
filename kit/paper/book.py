"""The order book of a paper venue: another venue's L2 levels, minus what paper orders took.

:class:`MirrorBook` has the interface of localnet's synthetic :class:`kit.localnet.book.Book`, so a
localnet :class:`~kit.localnet.venue.Venue` runs on it unchanged, but its levels come from an
upstream feed (:meth:`MirrorBook.feed`, thread-safe) instead of a generator.

Gaps: after :meth:`MirrorBook.gap` (a stream error) the book shows no levels, so nothing takes
liquidity, until the next full upstream snapshot (spec (c): stop filling until the book resyncs).

Consumed liquidity (docs/paper.md; spec (c)): a taker fill of a paper order removes its quantity
from the level it hit, and the removal outlives book refreshes for ``replenish_ms`` (default
3 s) or until the level vanishes upstream. Paper fills never reach the real book, so resetting
on each size change would let the same displayed size fill twice. Public prints received after
the upstream snapshot in use are taken from their level too (:meth:`MirrorBook.printed`), until
the next snapshot shows what they took: the model's rule (:class:`kit.engine.paperfill.PaperBook`).

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

from kit.engine.levels import Taken, best, deduct, diff, fmt, sorted_levels
from kit.localnet.config import SymbolSpec
from kit.localnet.market import MirrorSource, Print

Delta = tuple[int, int, list[list[str]], list[list[str]]]
Level = tuple[Decimal, Decimal]


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
        self._taken: Taken[Decimal] = Taken()
        self._upstream_ms = 0
        self._applied_ms = 0  # receive time of the snapshot in use
        self._prints: list[tuple[int, str, Decimal, Decimal]] = []  # (received ms, side, price, qty) after it
        self.batch_end = 0  # the time the venue's current batch of prints runs to (MirrorTape.prints_until)
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
            self._upstream_ms = ts_ms
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

    def upstream_levels(self) -> tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]] | None:
        """The upstream snapshot in use as shown upstream (no paper consumption, no prints since); ``None``: a gap.

        The queue rule's ``Q`` (:class:`kit.engine.paperengine.PaperEngine`'s ``upstream``). The
        dicts are replaced, never changed, when the next snapshot is applied.
        """
        return None if self.stale else (self._raw_bids, self._raw_asks)

    # -------------------------------------------------------------- venue side (venue loop)
    def rebuild(self, last_price: Decimal, ts_ms: int, *, seller_aggressor: bool | None = None) -> Delta | None:
        """The book as a print at ``ts_ms`` meets it (the print's price does not move a mirrored book).

        The venue calls this before it hands each print of a batch to its engine, and once after
        the batch (at the batch's end). Before a print, an upstream snapshot received after that
        print is not applied yet: it already shows what the print took, so applying it first would
        count the print twice (the queue ahead capped by the snapshot, then moved up by the print).
        """
        return self.refresh(ts_ms, before_print=ts_ms < self.batch_end)

    def refresh(self, ts_ms: int, *, before_print: bool = False) -> Delta | None:
        """Apply the latest upstream levels and expire old consumption; the delta, or ``None``.

        ``before_print``: apply the latest snapshot only if it was received by ``ts_ms``.
        """
        self.ts_ms = ts_ms
        with self._lock:
            up = self._upstream
            if (
                up is not None
                and self._upstream_seq != self._applied_seq
                and not (before_print and self._upstream_ms > ts_ms)
            ):
                self._raw_bids, self._raw_asks = dict(up[0]), dict(up[1])
                self._applied_seq = self._upstream_seq
                self._applied_ms = self._upstream_ms
                self._prints = [x for x in self._prints if x[0] > self._applied_ms]  # the snapshot shows the rest
        return self._apply(ts_ms, expire=True)

    def printed(self, ts_ms: int, price: Decimal, qty: Decimal, *, buyer_maker: bool) -> None:
        """A public print received at ``ts_ms``: its quantity is gone from its level until the next snapshot.

        ``buyer_maker`` True: a seller hit the bids. Applied at the next :meth:`refresh`.
        """
        if ts_ms > self._applied_ms:
            self._prints.append((ts_ms, "bid" if buyer_maker else "ask", price, qty))

    def _apply(self, ts_ms: int, *, expire: bool) -> Delta | None:
        raw_b, raw_a = ({}, {}) if self.stale else (self._raw_bids, self._raw_asks)
        if expire:
            # gone when due, or when its level vanished upstream (the liquidity it stood for is gone too)
            self._taken.expire(ts_ms, bids=raw_b, asks=raw_a)
        bids, asks = self._taken.apply(raw_b, raw_a)
        for t, side, px, qty in self._prints:
            if t <= ts_ms:  # a print is gone from its level from its own time on
                deduct(bids if side == "bid" else asks, px, qty)
        db = diff(self.bids, bids, _same)
        da = diff(self.asks, asks, _same)
        self.bids, self.asks = bids, asks
        if not db and not da:
            return None
        self.update_id += 1
        return self.update_id, self.update_id, db, da

    def consume(self, *, bids_hit: bool, price: Decimal, qty: Decimal, ts_ms: int) -> Delta | None:
        """Remove ``qty`` at ``price`` (a paper taker fill) from the bids if ``bids_hit`` else the asks."""
        side = "bid" if bids_hit else "ask"
        self._taken.add(side, price, qty, until_ms=ts_ms + self.replenish_ms)
        return self._apply(ts_ms, expire=False)

    def take(self, side: str, price: Decimal, qty: Decimal, *, until_ms: int) -> None:
        """Keep ``qty`` at ``price`` on ``side`` (``"bid"``/``"ask"``) consumed until ``until_ms`` (a sweep's volume).

        Shown from the next refresh on, and due back then, as a taker fill's consumption is.
        """
        self._taken.add(side, price, qty, until_ms=until_ms)

    def state(self) -> dict[str, Any]:
        """The current levels and consumption, for the command log (replayed after a restart)."""
        return {
            "b": [[str(p), str(q)] for p, q in self._raw_bids.items()],
            "a": [[str(p), str(q)] for p, q in self._raw_asks.items()],
            "t": self._taken.rows(str),
            "p": [[ts, side, str(px), str(q)] for ts, side, px, q in self._prints],
        }

    def load_state(self, state: dict[str, Any], ts_ms: int) -> None:
        """Rebuild the levels from :meth:`state` output."""
        self._raw_bids = {Decimal(p): Decimal(q) for p, q in state.get("b", [])}
        self._raw_asks = {Decimal(p): Decimal(q) for p, q in state.get("a", [])}
        self._taken.load(state.get("t", []), Decimal)
        self._prints = [(int(ts), str(side), Decimal(px), Decimal(q)) for ts, side, px, q in state.get("p", [])]
        self._apply(ts_ms, expire=False)

    # -------------------------------------------------------------- reading
    def best(self) -> tuple[Level | None, Level | None]:
        """(best bid, best ask) as (price, qty) pairs."""
        return best(self.bids, self.asks, _same)

    def levels_sorted(self, limit: int | None = None) -> tuple[list[Level], list[Level]]:
        """Bids descending and asks ascending."""
        return sorted_levels(self.bids, self.asks, _same, limit)

    def snapshot(self, limit: int) -> dict[str, Any]:
        """REST ``depth`` body."""
        bids, asks = self.levels_sorted(limit)
        return {
            "lastUpdateId": self.update_id,
            "bids": [[fmt(p), fmt(q)] for p, q in bids],
            "asks": [[fmt(p), fmt(q)] for p, q in asks],
        }


def _same(price: Decimal) -> Decimal:
    """The paper book keys its levels by price itself."""
    return price


class MirrorTape(MirrorSource):
    """The upstream's prints (:class:`~kit.localnet.market.MirrorSource`), also taken off :attr:`book`'s levels.

    A print the venue takes (:meth:`prints_until`) is liquidity gone from its level until the next
    upstream snapshot shows it (:meth:`MirrorBook.printed`), as in the paper fill model.
    """

    book: MirrorBook | None = None

    def prints_until(self, ts_ms: int) -> list[Print]:
        """Queued prints stamped at or before ``ts_ms``, oldest first; each also reaches the book."""
        out = super().prints_until(ts_ms)
        if self.book is not None:
            self.book.batch_end = ts_ms
            for p in out:
                self.book.printed(p.ts_ms, p.price, p.qty, buyer_maker=p.buyer_maker)
        return out
