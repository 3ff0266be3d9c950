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
- **resting limits** follow the model's queue rule, the same code
  (:class:`~kit.engine.paperfill.RestingQueue`): ``F0 = max(Q at decision, Q at arrival)``; a
  print at the price by the opposite aggressor, or through it, moves them up by its size and they
  fill once ``F < 0`` (``min(leaves, -F)``), then ``F = 0``; a book update caps ``F`` at the size
  displayed there (cancels never move it forward); the opposite side strictly through the price
  fills its volume beyond ``F``, counted once. ``Q`` is what the upstream displays (``upstream``:
  the mirrored book's levels before paper consumption and the prints since its snapshot), so a
  print is never counted twice, once in the book and once as a print. The base engine's own
  resting fills (trade-through, candle touch) are switched off (:data:`PAPER_FILL_MODEL`);
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
>>> eng.queue_ahead(ev[0].order.id)
Decimal('2')
>>> [e.fill.quantity for e in eng.on_trade("BTC/USDT", Trade(500, D(100), D(4), Side.SELL)) if e.fill]
[Decimal('2')]
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Iterable, Mapping
from decimal import Decimal
from typing import Any

from kit.engine.engine import Engine
from kit.engine.fillmodel import FillModel
from kit.engine.levels import Taken
from kit.engine.paperfill import PaperFillModel, QueueSpot, RestingQueue, beyond_depth_price, taker_plan
from kit.engine.types import BookSnapshot, Event, Liquidity, Market, OrderRequest, OrderStatus, Side, TimeInForce, Trade
from kit.engine.working import Working

ZERO = Decimal(0)
Level = tuple[Decimal, Decimal]
_Raw = tuple[Mapping[Decimal, Decimal], Mapping[Decimal, Decimal]]

#: Fill model of the paper venue's base engine: its own resting fills switched off (no touch fills, and a
#: trade-through no price reaches), because resting orders fill by the paper queue rule
#: (:class:`~kit.engine.paperfill.RestingQueue`) in :class:`PaperEngine` instead. Takers are unaffected.
PAPER_FILL_MODEL = FillModel(trade_through_ticks=10**18, at_touch=False, queue_ahead_fraction=ZERO)

#: The upstream's own levels of a symbol, ``(bids, asks)`` as ``{price: qty}``, or ``None`` during a gap.
Upstream = Callable[[str], "_Raw | None"]
#: Keeps liquidity consumed in the feeding book: ``(symbol, "bid"|"ask", price, qty, until_ms)``.
Consume = Callable[[str, str, Decimal, Decimal, int], None]


class PaperEngine(Engine):
    """:class:`Engine` with the paper fill model's rules (see the module docstring).

    Parameters
    ----------
    markets
        The tradable symbols.
    fill_model
        ``None`` (the paper venue passes its config's, which is ``None``): the engine uses
        :data:`PAPER_FILL_MODEL`, since resting orders fill by the queue rule.
    model
        The paper model's settings: ``latency_ms`` (decision time = arrival - latency),
        ``replenish_ms`` and ``beyond_depth_ticks`` are used here (default :class:`PaperFillModel`'s defaults).
    upstream
        ``upstream(symbol)``: the levels the upstream displays, ``(bids, asks)``, before paper
        consumption and the prints since its snapshot (the mirrored book's own levels), or ``None``
        during a gap. ``Q`` of the queue rule is read there. ``None``: the levels this engine is fed.
    consume
        ``consume(symbol, side, price, qty, until_ms)``: keep the volume a sweep counted consumed in
        the book that feeds this engine (the mirrored book, which then shows it gone, and back
        when due, at its own refreshes, as it does for taker fills). ``None``: the engine keeps it.
    """

    def __init__(
        self,
        markets: Iterable[Market],
        *,
        fill_model: FillModel | None = None,
        model: PaperFillModel | None = None,
        upstream: Upstream | None = None,
        consume: Consume | None = None,
    ) -> None:
        if fill_model is not None and fill_model != PAPER_FILL_MODEL:
            raise ValueError("PaperEngine fills resting orders by the paper queue rule: pass no fill_model")
        super().__init__(markets, fill_model=PAPER_FILL_MODEL)
        self.model = model or PaperFillModel()
        self.upstream = upstream
        self.consume = consume
        # books fed, with the upstream's own levels at that moment: (book, (bids, asks) | None)
        self._seen: dict[str, deque[tuple[BookSnapshot, _Raw | None]]] = {}
        self._swept: dict[str, Taken[Decimal]] = {}
        self._deciding: tuple[list[Level] | None, Decimal, Decimal | None] | None = None
        self._queues: dict[str, RestingQueue[QueueSpot]] = {s: RestingQueue() for s in self.markets}
        self._gap: set[str] = set()
        self._levels_before: dict[str, _Raw] = {}  # the upstream's levels at the last level update

    # -- decision-time books ----------------------------------------------------------------------
    def _book_at(self, symbol: str, ts_ms: int) -> tuple[BookSnapshot, _Raw | None] | None:
        """The last book fed at or before ``ts_ms`` and the upstream's levels then (``None``: none that old)."""
        found = None
        for b in self._seen.get(symbol, ()):
            if b[0].ts_ms > ts_ms:
                break
            found = b
        return found

    def _raw(self, symbol: str) -> _Raw | None:
        """The upstream's own levels now (``None``: a gap); without ``upstream``, the levels last fed."""
        if self.upstream is not None:
            return self.upstream(symbol)
        book = self._books.get(symbol)
        if book is None:
            return None
        return {p: q for p, q in book[0] if q > 0}, {p: q for p, q in book[1] if q > 0}

    @staticmethod
    def _q(raw: _Raw | None, buy: bool, price: Decimal | None) -> Decimal:
        """``Q``: the size displayed at ``price`` on the buy or sell side of ``raw`` (0 when unknown)."""
        if raw is None or price is None:
            return ZERO
        return (raw[0] if buy else raw[1]).get(price, ZERO)

    def decision(self, req: OrderRequest, ts_ms: int) -> dict[str, Any]:
        """The book ``req`` was decided on, arriving at ``ts_ms``: the opposite side, ``Q`` at its price then and now.

        JSON-able (strings), for a caller that logs it and passes it back to :meth:`submit`.
        The opposite side is kept whole up to the order's limit: after the levels are capped at
        what the arrival book shows, any of them may be needed (and the last one prices a market
        order's remainder beyond the depth). ``q`` and ``q_now`` are the upstream's displayed size
        at the order's price at decision and at arrival: a resting remainder starts behind the larger.
        """
        buy = req.side.value == "buy"
        q_now = str(self._q(self._raw(req.symbol), buy, req.price))
        seen = self._book_at(req.symbol, ts_ms - self.model.latency_ms)
        if seen is None:  # no book that old: the arrival book alone
            return {"levels": None, "q": "0", "q_now": q_now}
        book, raw = seen
        opp = book.asks if buy else book.bids
        levels: list[list[str]] = []
        for px, q in opp:
            if req.price is not None and not (px <= req.price if buy else px >= req.price):
                break
            levels.append([str(px), str(q)])
        return {"levels": levels, "q": str(self._q(raw, buy, req.price)), "q_now": q_now}

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
        q_now = Decimal(d["q_now"]) if "q_now" in d else None
        self._deciding = (None if lv is None else [(Decimal(p), Decimal(q)) for p, q in lv], Decimal(d.get("q", "0")),
                          q_now)  # fmt: skip
        try:
            out = super().submit(account, req, ts_ms=ts_ms)
            if req.symbol in self._queues:
                self._sync(req.symbol, q_then=self._deciding[1], q_now=q_now)
        finally:
            self._deciding = None
        return out

    def queue_ahead(self, order_id: int) -> Decimal | None:
        """``F`` of a resting order (``None`` if it does not rest).

        >>> PaperEngine([]).queue_ahead(1) is None
        True
        """
        w = self._orders.get(order_id)
        if w is None:
            return None
        spot = self._queues[w.req.symbol].spots.get(order_id)
        return spot.ahead if spot is not None else None

    def _sync(self, symbol: str, *, q_then: Decimal = ZERO, q_now: Decimal | None = None) -> None:
        """Resting orders join the queue (a new one, a triggered stop-limit, a new price) and closed ones leave."""
        queue = self._queues[symbol]
        opens = self._open[symbol]
        for key in [k for k in queue.spots if k not in opens]:
            queue.leave(key)
        raw: list[_Raw | None] = []  # read once, if needed
        for w in opens.values():
            if not w.is_limit or w.price is None or (w.cond and not w.triggered) or not w.status.is_open:
                continue
            spot = queue.spots.get(w.id)
            if spot is not None and spot.price == w.price:
                continue
            if not raw:
                raw.append(self._raw(symbol))
            now = q_now if q_now is not None and spot is None else self._q(raw[0], w.buy, w.price)
            queue.leave(w.id)  # a new price: to the back
            queue.join(w.id, QueueSpot(w.buy, w.price), q_then if spot is None else ZERO, now)

    def _maker(self, symbol: str, ts: int, out: list[Event]) -> Callable[[Hashable, Decimal], Decimal]:
        """The queue rule's ``fill`` callback: a maker fill of up to ``avail`` at the order's limit."""

        def fill(key: Hashable, avail: Decimal) -> Decimal:
            w = self._orders[int(str(key))]
            assert w.price is not None
            qty = self._sized(w, w.price, avail)
            if qty > 0:
                self._fill(w, w.price, qty, Liquidity.MAKER, ts, out)
            if not w.status.is_open:
                self._queues[symbol].leave(key)
            return qty

        return fill

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
        while seen and seen[-1][0].ts_ms == book.ts_ms:  # the later state at one instant wins
            seen.pop()
        seen.append((book, self._raw(symbol)))
        horizon = book.ts_ms - self.model.latency_ms  # no later order is decided before this
        while len(seen) > 1 and seen[1][0].ts_ms <= horizon:
            seen.popleft()

    # -- market data ------------------------------------------------------------------------------
    def on_book(self, symbol: str, book: BookSnapshot) -> list[Event]:
        """Replace the book (kept ``latency_ms`` for decisions); then the queue rule: caps, and sweeps by the book."""
        swept = self._swept.setdefault(symbol, Taken())
        if swept:  # the model's rule: a sweep's crossed volume stays taken (replenish_ms, or until it vanishes)
            swept.expire(book.ts_ms, bids=dict(book.bids), asks=dict(book.asks))
            b, a = swept.apply(dict(book.bids), dict(book.asks))
            book = BookSnapshot(book.ts_ms, tuple(sorted(b.items(), reverse=True)), tuple(sorted(a.items())))
        out = super().on_book(symbol, book)  # takers that were waiting for a book; no resting fills here
        self._sync(symbol)
        raw = self._raw(symbol)
        queue = self._queues[symbol]
        if raw is None or not (raw[0] or raw[1]):  # a gap: to the back, nothing fills until the next book
            if symbol not in self._gap:
                self._gap.add(symbol)
                before = self._levels_before.get(symbol)
                queue.to_back(lambda s: self._q(before, s.buy, s.price))
            self._levels_before.pop(symbol, None)
            self._remember(symbol, book)
            return out
        self._gap.discard(symbol)
        if raw == self._levels_before.get(symbol):  # not a level update (our consumption, prints, the same snapshot)
            self._remember(symbol, book)
            return out
        self._levels_before[symbol] = raw
        queue.cap(lambda s: self._q(raw, s.buy, s.price))
        bids, asks = self._books[symbol]

        def opposite(buy: bool) -> list[Level]:
            return [(p, q) for p, q in (asks if buy else bids) if q > 0]

        used = queue.on_crossed(opposite, self._maker(symbol, book.ts_ms, out))
        if used:  # counted once: the same crossed levels in the next snapshots do not count again
            for side, px, q in used:
                until = book.ts_ms + self.model.replenish_ms
                if self.consume is not None:
                    self.consume(symbol, side, px, q, until)
                else:
                    swept.add(side, px, q, until_ms=until)
                for lv in asks if side == "ask" else bids:
                    if lv[0] == px:
                        lv[1] = max(ZERO, lv[1] - q)
        self._remember(symbol, BookSnapshot(book.ts_ms, _shown(bids), _shown(asks)))
        return out

    def on_trade(self, symbol: str, trade: Trade) -> list[Event]:
        """A public print: the engine's own handling (stops), then the queue rule moves resting orders up and fills."""
        out = super().on_trade(symbol, trade)
        self._sync(symbol)
        if symbol not in self._gap:
            buyer_maker = trade.side is Side.SELL
            self._queues[symbol].on_print(trade.price, trade.quantity, buyer_maker=buyer_maker,
                                          fill=self._maker(symbol, trade.ts_ms, out))  # fmt: skip
        return out


def _shown(levels: list[list[Decimal]]) -> tuple[Level, ...]:
    return tuple((p, q) for p, q in levels if q > 0)
