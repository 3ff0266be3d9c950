"""The engine of the paper venue: the paper fill model's rules on the engine's book-fed matching.

:class:`PaperEngine` is :class:`kit.engine.Engine` with the rules of the paper fill model
(:mod:`kit.engine.paperfill`, ``specs/paper-trading.md`` (b), (c)), calling that module's code
rather than a second copy of it:

- **takers** (market orders, marketable limits, IOC and FOK) walk the worse of the book when the
  order was decided and the book at its arrival (:func:`~kit.engine.paperfill.taker_plan`); the
  decision time is the arrival time less ``model.latency_ms``. FOK fills in full or expires,
  IOC remainders expire, a marketable limit's remainder rests (Binance's semantics);
- **beyond the depth**, a market order's remainder fills ``model.beyond_depth_ticks`` past the last
  visible level (:func:`~kit.engine.paperfill.beyond_depth_price`) instead of expiring;
- **resting limits** queue behind the displayed size: ``F0 = max(Q at decision, Q at arrival)``;
  a print at the price moves them up by its size and they fill once ``F < 0``
  (``min(leaves, -F)``), then ``F = 0``; a book update caps ``F`` at the size now displayed
  there (cancels never move it forward); a print one tick or more through the price sweeps;
- **consumed liquidity**: what takers take is gone from the engine's book until the next one (the
  venue's :class:`~kit.paper.book.MirrorBook` holds it across refreshes), and when the opposite
  side crosses a resting order's price, the crossed volume is taken for ``model.replenish_ms``
  (or until its level vanishes), counted once, as in the model.

The books the engine is fed (``on_book``) are kept for ``latency_ms``, so the decision-time book
is known at arrival. A caller that replays orders later (localnet's command log) passes the
decision book it recorded (:meth:`PaperEngine.decision`) back to :meth:`PaperEngine.submit`.

Examples
--------
>>> from decimal import Decimal as D
>>> from kit.engine import BookSnapshot, Market, OrderRequest, OrderType, Side, Trade
>>> from kit.engine.paperfill import PaperFillModel
>>> eng = PaperEngine([Market("BTC/USDT", "BTC", "USDT", tick_size=D("0.01"), step_size=D("0.001"))],
...                   model=PaperFillModel(latency_ms=250))
>>> _ = eng.open_account("me", {"USDT": 1000})
>>> _ = eng.on_book("BTC/USDT", BookSnapshot(0, ((D(100), D(5)),), ((D("100.20"), D(4)),)))
>>> _ = eng.on_book("BTC/USDT", BookSnapshot(200, ((D(100), D(5)),), ((D("100.01"), D(4)),)))
>>> ev = eng.submit("me", OrderRequest("BTC/USDT", Side.BUY, OrderType.MARKET, quantity=D(1)), ts_ms=250)
>>> [(str(e.fill.price), str(e.fill.quantity)) for e in ev if e.fill]   # decided at 0, on the worse book
[('100.20', '1')]
>>> ev = eng.submit("me", OrderRequest("BTC/USDT", Side.BUY, OrderType.LIMIT, quantity=D(3), price=D(100)), ts_ms=300)
>>> eng.on_trade("BTC/USDT", Trade(400, D(100), D(3), Side.SELL))      # 5 ahead: 2 left
[]
>>> [e.fill.quantity for e in eng.on_trade("BTC/USDT", Trade(500, D(100), D(4), Side.SELL)) if e.fill]
[Decimal('2')]
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from kit.engine.engine import Engine
from kit.engine.fillmodel import FillModel
from kit.engine.levels import Taken
from kit.engine.paperfill import PaperFillModel, beyond_depth_price, taker_plan
from kit.engine.types import BookSnapshot, Event, EventKind, Liquidity, Market, OrderRequest, OrderStatus, TimeInForce
from kit.engine.working import Working

ZERO = Decimal(0)
Level = tuple[Decimal, Decimal]

#: Fill model of the paper venue: at-touch fills behind the queue, sweeps one tick through.
PAPER_FILL_MODEL = FillModel(trade_through_ticks=1, at_touch=True, queue_ahead_fraction=ZERO)


class PaperEngine(Engine):
    """:class:`Engine` with the paper fill model's rules (see the module docstring).

    Parameters
    ----------
    markets
        The tradable symbols.
    fill_model
        Must have ``at_touch=True`` (default :data:`PAPER_FILL_MODEL`).
    model
        The paper model's settings: ``latency_ms`` (decision time = arrival - latency) and
        ``beyond_depth_ticks`` are used here (default :class:`PaperFillModel`'s defaults).
    """

    def __init__(
        self, markets: Iterable[Market], *, fill_model: FillModel | None = None, model: PaperFillModel | None = None
    ) -> None:
        fm = fill_model or PAPER_FILL_MODEL
        if not fm.at_touch:
            raise ValueError("PaperEngine queues resting orders at the touch: use a FillModel with at_touch=True")
        super().__init__(markets, fill_model=fm)
        self.model = model or PaperFillModel()
        self._seen: dict[str, deque[BookSnapshot]] = {}
        self._swept: dict[str, Taken[Decimal]] = {}
        self._deciding: tuple[list[Level] | None, Decimal] | None = None

    # -- decision-time books ----------------------------------------------------------------------
    def _book_at(self, symbol: str, ts_ms: int) -> BookSnapshot | None:
        """The last book fed at or before ``ts_ms`` (``None`` if none that old is kept)."""
        found = None
        for b in self._seen.get(symbol, ()):
            if b.ts_ms > ts_ms:
                break
            found = b
        return found

    def decision(self, req: OrderRequest, ts_ms: int) -> dict[str, Any]:
        """The book ``req`` was decided on, arriving at ``ts_ms``: the opposite side and ``Q`` at its price.

        JSON-able (strings), for a caller that logs it and passes it back to :meth:`submit`.
        The opposite side is kept whole up to the order's limit: after the levels are capped at
        what the arrival book shows, any of them may be needed (and the last one prices a market
        order's remainder beyond the depth).
        """
        book = self._book_at(req.symbol, ts_ms - self.model.latency_ms)
        if book is None:  # no book that old: the arrival book alone
            return {"levels": None, "q": "0"}
        buy = req.side.value == "buy"
        opp = book.asks if buy else book.bids
        levels: list[list[str]] = []
        for px, q in opp:
            if req.price is not None and not (px <= req.price if buy else px >= req.price):
                break
            levels.append([str(px), str(q)])
        own = book.bids if buy else book.asks
        q_own = sum((q for px, q in own if px == req.price), ZERO) if req.price is not None else ZERO
        return {"levels": levels, "q": str(q_own)}

    # -- orders -----------------------------------------------------------------------------------
    def submit(
        self, account: str, req: OrderRequest, *, ts_ms: int, decision: dict[str, Any] | None = None
    ) -> list[Event]:
        """Accept ``req`` arriving at ``ts_ms`` as :meth:`Engine.submit` does, with the paper rules.

        ``decision`` is what :meth:`decision` returned when the order arrived (a replay passes the
        logged one); by default it is looked up in the books this engine was fed.
        """
        d = decision if decision is not None else self.decision(req, ts_ms)
        lv = d.get("levels")
        self._deciding = (None if lv is None else [(Decimal(p), Decimal(q)) for p, q in lv], Decimal(d.get("q", "0")))
        try:
            out = super().submit(account, req, ts_ms=ts_ms)
        finally:
            q_then = self._deciding[1]
            self._deciding = None
        for ev in out:
            if ev.kind is EventKind.ACCEPTED and ev.order is not None:
                w = self._orders.get(ev.order.id)
                if w is not None and w.status.is_open and w.price is not None:
                    w.queue_ahead = max(w.queue_ahead, q_then, self._displayed(w))
        return out

    def _displayed(self, w: Working) -> Decimal:
        book = self._books.get(w.req.symbol)
        if book is None or w.price is None:
            return ZERO
        return sum((q for p, q in (book[0] if w.buy else book[1]) if p == w.price), ZERO)

    def _take_book(self, w: Working, ts: int, out: list[Event]) -> None:
        """Execute ``w`` as taker: the worse of its decision and arrival books, the penalty beyond the depth."""
        limit = w.price if w.is_limit else None
        if (w.req.hidden and limit is not None) or (w.req.post_only and limit is not None):
            super()._take_book(w, ts, out)  # hidden orders never take; post-only that would take expires
            return
        bids, asks = self._books[w.req.symbol]
        levels = asks if w.buy else bids
        now = [(p, q) for p, q in levels if q > 0]
        then = self._deciding[0] if self._deciding is not None else None
        leaves = w.remaining if w.qty is not None else None
        plan = taker_plan(buy=w.buy, leaves=leaves, limit=limit, now=now, then=then, quote=w.quote_left)
        one_shot = w.req.time_in_force in (TimeInForce.IOC, TimeInForce.FOK)
        if w.req.time_in_force is TimeInForce.FOK and leaves is not None and sum((q for _, q in plan), ZERO) < leaves:
            self._close(w, OrderStatus.EXPIRED, ts, out, "FOK: not enough liquidity to fill in full")
            return
        at = {lv[0]: lv for lv in levels}
        for px, avail in plan:
            if not w.status.is_open:
                break
            qty = self._sized(w, px, avail)
            if qty <= 0:
                break
            lv = at.get(px)
            if lv is not None:  # what it takes is gone for the next order on this book
                lv[1] = max(ZERO, lv[1] - qty)
            self._fill(w, px, qty, Liquidity.TAKER, ts, out)
        if w.status.is_open and w.is_market and (now or then):
            px = beyond_depth_price(buy=w.buy, now=now, then=then or [], tick=w.market.tick_size,
                                    ticks=self.model.beyond_depth_ticks)  # fmt: skip
            qty = self._sized(w, px, w.remaining if w.qty is not None else Decimal(10) ** 18)
            if qty > 0:
                self._fill(w, px, qty, Liquidity.TAKER, ts, out)
        if w.status.is_open and (w.is_market or one_shot):
            why = "no more liquidity in the book" if w.is_market else f"{w.req.time_in_force.value}: remainder expired"
            self._close(w, OrderStatus.EXPIRED, ts, out, why)
        if plan:  # the book as shown after what it took: what an order decided from now on sees
            self._remember(w.req.symbol, BookSnapshot(ts, _shown(bids), _shown(asks)))

    def _remember(self, symbol: str, book: BookSnapshot) -> None:
        seen = self._seen.setdefault(symbol, deque())
        while seen and seen[-1].ts_ms == book.ts_ms:  # the later state at one instant wins
            seen.pop()
        seen.append(book)
        horizon = book.ts_ms - self.model.latency_ms  # no later order is decided before this
        while len(seen) > 1 and seen[1].ts_ms <= horizon:
            seen.popleft()

    # -- market data ------------------------------------------------------------------------------
    def on_book(self, symbol: str, book: BookSnapshot) -> list[Event]:
        """Replace the book (kept ``latency_ms`` for decisions); cap resting orders' queues at the size now shown."""
        swept = self._swept.setdefault(symbol, Taken())
        if swept:  # the model's rule: a sweep's crossed volume stays taken (replenish_ms, or until it vanishes)
            swept.expire(book.ts_ms, bids=dict(book.bids), asks=dict(book.asks))
            b, a = swept.apply(dict(book.bids), dict(book.asks))
            book = BookSnapshot(book.ts_ms, tuple(sorted(b.items(), reverse=True)), tuple(sorted(a.items())))
        crossed: list[tuple[str, Level]] = []
        for w in self._open[symbol].values():
            if w.price is None or (w.cond and not w.triggered):
                continue
            if w.queue_ahead > 0:
                shown = sum((q for p, q in (book.bids if w.buy else book.asks) if p == w.price), ZERO)
                w.queue_ahead = min(w.queue_ahead, shown)
            through = [
                (p, q) for p, q in (book.asks if w.buy else book.bids) if (p < w.price if w.buy else p > w.price)
            ]
            crossed += [("ask" if w.buy else "bid", lv) for lv in through]
        self._remember(symbol, book)
        out = super().on_book(symbol, book)
        if crossed:  # counted once: the same crossed levels in the next snapshots do not count again
            for side, (px, q) in dict.fromkeys(crossed):
                swept.add(side, px, q, until_ms=book.ts_ms + self.model.replenish_ms)
            bids, asks = self._books[symbol]
            gone = {(side, px) for side, (px, _) in crossed}
            for side, levels in (("bid", bids), ("ask", asks)):
                for lv in levels:
                    if (side, lv[0]) in gone:
                        lv[1] = ZERO
            self._remember(symbol, BookSnapshot(book.ts_ms, _shown(bids), _shown(asks)))
        return out


def _shown(levels: list[list[Decimal]]) -> tuple[Level, ...]:
    return tuple((p, q) for p, q in levels if q > 0)
