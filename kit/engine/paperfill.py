"""The paper fill model on a live L2 book: depth, consumed liquidity, queue position and latency together.

Pure: market data and times go in, fills come out; no I/O, no clock. One :class:`PaperBook` per
symbol simulates paper orders against the book and the public trades of a real venue, with the
conservative defaults of the design reference (``specs/paper-trading.md`` (b) and (c)):

- **Latency.** An order acts at its send time plus ``latency_ms``; a cancel takes effect
  ``cancel_latency_ms`` after it is sent, and fills in between still happen (adverse fills).
- **Takers** walk the L2 levels of the *worse* of the book at decision time and the book at
  arrival, up to the limit for a marketable limit. What they take is *consumed*: a level shows
  ``max(0, displayed - consumed)`` until ``replenish_ms`` has passed or the level vanishes, across
  book refreshes (paper fills never reach the real book, so a refresh must not restore them).
  Public trades printed at a level since its last update are consumed too. A market order beyond
  the visible depth pays ``beyond_depth_ticks`` past the last level. IOC remainders expire, FOK
  fills in full or not at all, and a marketable limit's remainder rests at the back of the queue.
- **Post-only** orders that would cross on arrival are rejected.
- **Resting limits** use the risk-averse queue, :class:`RestingQueue` (the paper venue's engine
  uses the same one): the quantity ahead starts at ``F = max(Q at send, Q at arrival)`` (0 inside
  the spread); a trade at or through our price by the opposite aggressor moves us up by its size,
  a level update (a snapshot that differs from the last) caps ``F`` at the displayed size,
  cancellations never move us forward; once ``F < 0`` we fill ``min(leaves, -F)`` (rounded down to
  the lot) at our limit and ``F`` becomes 0. The opposite side strictly through our price is sweep
  evidence: the volume through our price, less ``F``, fills at the limit, counted once. A touch
  without trades fills nothing. A twin leaves its own real order out of ``Q`` (:meth:`PaperBook.set_own`).
- **Gaps.** After :meth:`PaperBook.on_gap` nothing fills until the next book, and resting orders
  go to the back of their level.

Examples
--------
The spec's queue rule in numbers: 5 ahead of our bid at 100, trades of 3 then 4 at 100 (sellers
hitting the bid) fill 2 of our 3.

>>> from decimal import Decimal as D
>>> pb = PaperBook(tick=D("0.01"), step=D("0.001"), model=PaperFillModel(latency_ms=0))
>>> _ = pb.on_book(0, bids=[(D(100), D(5))], asks=[(D("100.01"), D(4))])
>>> _ = pb.submit(PaperOrder("o1", "buy", D(3), price=D(100)), ts_ms=0)
>>> pb.on_trade(10, D(100), D(3), buyer_maker=True)
[]
>>> [(f.qty, f.price, f.liquidity) for f in pb.on_trade(20, D(100), D(4), buyer_maker=True)]
[(Decimal('2'), Decimal('100'), 'maker')]
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Generic, Protocol, TypeVar

D = Decimal
ZERO = Decimal(0)
Level = tuple[Decimal, Decimal]


@dataclass(frozen=True, slots=True)
class PaperFillModel:
    """Settings of the paper fill model (conservative defaults; see the module docstring).

    Parameters
    ----------
    latency_ms
        Send-to-venue delay of a new order (the spec's placeholder until twin data gives the p95).
    cancel_latency_ms
        Send-to-venue delay of a cancel; the order can still fill meanwhile.
    replenish_ms
        How long liquidity a paper order took stays unavailable (spec: 1-5 s).
    beyond_depth_ticks
        Penalty, in ticks past the last visible level, for the part of a market order beyond the book.

    Examples
    --------
    >>> PaperFillModel().latency_ms
    250
    """

    latency_ms: int = 250
    cancel_latency_ms: int = 250
    replenish_ms: int = 3_000
    beyond_depth_ticks: int = 10

    def __post_init__(self) -> None:
        if min(self.latency_ms, self.cancel_latency_ms, self.replenish_ms, self.beyond_depth_ticks) < 0:
            raise ValueError("latencies, replenish_ms and beyond_depth_ticks must be >= 0")


@dataclass(slots=True)
class PaperOrder:
    """One paper order's intent and state.

    Parameters
    ----------
    id
        Caller's id (a twin uses the real order's client id).
    side
        ``"buy"`` or ``"sell"``.
    qty
        Base quantity.
    price
        Limit price; ``None`` for a market order.
    tif
        ``"GTC"``, ``"IOC"`` or ``"FOK"``.
    post_only
        Reject instead of taking (Binance ``LIMIT_MAKER``).
    """

    id: str
    side: str
    qty: Decimal
    price: Decimal | None = None
    tif: str = "GTC"
    post_only: bool = False
    status: str = "pending"  # pending -> open -> filled | canceled | expired | rejected
    filled: Decimal = ZERO
    cost: Decimal = ZERO
    sent_ms: int = 0
    active_ms: int = 0
    first_fill_ms: int | None = None
    last_fill_ms: int | None = None
    ahead: Decimal = ZERO
    f0: Decimal | None = None  # the quantity ahead when it started resting (None: it never rested)
    q_at_send: Decimal = ZERO
    cancel_at_ms: int | None = None
    decision_book: tuple[tuple[Level, ...], tuple[Level, ...]] | None = None  # None: no book known at send
    reason: str = ""

    @property
    def buy(self) -> bool:
        """True for a buy."""
        return self.side == "buy"

    @property
    def leaves(self) -> Decimal:
        """Quantity still to fill."""
        return self.qty - self.filled

    @property
    def avg_price(self) -> Decimal | None:
        """Average fill price, or ``None`` before any fill."""
        return self.cost / self.filled if self.filled else None

    @property
    def done(self) -> bool:
        """True once the order can no longer fill."""
        return self.status in ("filled", "canceled", "expired", "rejected")


@dataclass(frozen=True, slots=True)
class PaperFill:
    """One simulated execution (``liquidity`` is ``"maker"`` or ``"taker"``)."""

    order_id: str
    ts_ms: int
    price: Decimal
    qty: Decimal
    liquidity: str


class Spot(Protocol):
    """What the queue rule needs of one resting paper order (a :class:`PaperOrder`, or a :class:`QueueSpot`)."""

    @property
    def buy(self) -> bool:
        """True for a buy."""
        ...

    @property
    def price(self) -> Decimal | None:
        """The limit price."""
        ...

    ahead: Decimal


@dataclass(slots=True)
class QueueSpot:
    """Where one resting order of the paper venue's engine stands: its side, limit and ``F``."""

    buy: bool
    price: Decimal | None
    ahead: Decimal = ZERO


S = TypeVar("S", bound=Spot)


class RestingQueue(Generic[S]):
    """The risk-averse queue of one symbol's resting paper orders (spec (b)2 and (b)4): the one implementation.

    The model (:class:`PaperBook`) and the paper venue's engine
    (:class:`kit.engine.paperengine.PaperEngine`) both keep their resting orders here and call
    these methods; they differ only in how a fill is booked (the ``fill`` callback, which returns
    the quantity it filled: rounded down to the lot, bounded by what is left and by funds).

    - :meth:`join`: ``F0 = max(Q at decision, Q at arrival)`` (0 inside the spread). ``Q`` is the
      size the upstream displays at our price, without our own real order's resting size
      (:meth:`PaperBook.set_own`) and never including a paper order.
    - :meth:`on_print`: a print at our price by the opposite aggressor, or strictly through it,
      moves us up by its size (what earlier orders at better or equal priority took of it is gone);
      once ``F < 0`` we may fill ``-F`` at our limit, and ``F`` becomes 0.
    - :meth:`cap`: a level update caps ``F`` at the displayed size; growth behind us never pushes us
      back and cancels never move us forward.
    - :meth:`on_crossed`: the opposite side strictly through our price is sweep evidence: its volume
      less ``F`` fills, and that volume is counted once (returned, for the caller to mark consumed).
    - :meth:`to_back`: after a gap, ``F = max(F, Q)``.

    Priority among paper orders: better price first, then the order they joined in.

    >>> q = RestingQueue[QueueSpot]()
    >>> spot = q.join(1, QueueSpot(True, D(100)), D(5), D(4))      # 5 shown at decision, 4 on arrival
    >>> spot.ahead
    Decimal('5')
    >>> got = []
    >>> q.on_print(D(100), D(7), buyer_maker=True, fill=lambda k, avail: got.append(avail) or avail)
    >>> got, spot.ahead
    ([Decimal('2')], Decimal('0'))
    """

    def __init__(self) -> None:
        self.spots: dict[Hashable, S] = {}
        self._joined: dict[Hashable, int] = {}
        self._n = 0

    def __contains__(self, key: Hashable) -> bool:
        return key in self.spots

    def join(self, key: Hashable, spot: S, q_decision: Decimal, q_arrival: Decimal) -> S:
        """``spot`` rests from now on, behind ``max(q_decision, q_arrival)``."""
        spot.ahead = max(q_decision, q_arrival, ZERO)
        self._n += 1
        self.spots[key] = spot
        self._joined[key] = self._n
        return spot

    def leave(self, key: Hashable) -> None:
        """The order no longer rests (filled, canceled, expired)."""
        self.spots.pop(key, None)
        self._joined.pop(key, None)

    def ordered(self) -> list[tuple[Hashable, S]]:
        """Resting spots in priority order: best price first, then the order they joined in."""
        return sorted(self.spots.items(), key=lambda kv: (_priority(kv[1]), self._joined[kv[0]]))

    def on_print(self, price: Decimal, qty: Decimal, *, buyer_maker: bool,
                 fill: Callable[[Hashable, Decimal], Decimal]) -> None:  # fmt: skip
        """A public print (``buyer_maker`` True: a seller hit the bids); ``fill(key, available)`` books fills."""
        left = qty
        for key, s in self.ordered():
            if left <= 0:
                break
            if s.buy != buyer_maker or s.price is None:
                continue  # only the opposite aggressor trades against our side
            if not (price <= s.price if s.buy else price >= s.price):
                continue  # at our price or through it
            s.ahead -= left
            if s.ahead < 0:
                avail = -s.ahead
                s.ahead = ZERO
                left -= fill(key, avail)

    def cap(self, shown: Callable[[S], Decimal]) -> None:
        """A level update: ``F = min(F, Q')`` for every resting spot (``shown(spot)`` is ``Q'`` at its price)."""
        for s in self.spots.values():
            s.ahead = min(s.ahead, max(shown(s), ZERO))

    def on_crossed(self, opposite: Callable[[bool], Sequence[Level]],
                   fill: Callable[[Hashable, Decimal], Decimal]) -> list[tuple[str, Decimal, Decimal]]:  # fmt: skip
        """Sweep evidence from the book: the opposite side strictly through our price.

        ``opposite(buy)`` is the available opposite side (asks for a buy), best first. Each
        spot fills the volume through its price less ``F`` (``F`` falls by that volume); the
        volume is then used up for the spots after it. Returns ``(side, price, qty)`` of
        what was counted, for the caller to keep consumed (so the same crossed levels in the
        next snapshot do not count again).
        """
        used: dict[tuple[str, Decimal], Decimal] = {}
        for key, s in self.ordered():
            if s.price is None:
                continue
            side = "ask" if s.buy else "bid"
            through = []
            for px, q in opposite(s.buy):
                if not (px < s.price if s.buy else px > s.price):
                    break
                left = q - used.get((side, px), ZERO)
                if left > 0:
                    through.append((px, left))
            vol = sum((q for _, q in through), ZERO)
            if vol <= 0:
                continue
            avail = vol - s.ahead
            s.ahead = max(ZERO, s.ahead - vol)
            if avail > 0:
                fill(key, avail)
            for px, q in through:
                used[(side, px)] = used.get((side, px), ZERO) + q
        return [(side, px, q) for (side, px), q in used.items()]

    def to_back(self, shown: Callable[[S], Decimal]) -> None:
        """After a gap: every resting spot goes to the back of its level, ``F = max(F, Q)``."""
        for s in self.spots.values():
            s.ahead = max(s.ahead, shown(s))


def _priority(s: Spot) -> Decimal:
    p = s.price if s.price is not None else ZERO
    return -p if s.buy else p


class PaperBook:
    """Paper orders of one symbol against its live book and trades (see the module docstring).

    Parameters
    ----------
    tick, step
        The symbol's price tick and lot step.
    model
        The fill model's settings.
    """

    def __init__(self, *, tick: Decimal, step: Decimal, model: PaperFillModel | None = None) -> None:
        self.tick = tick
        self.step = step
        self.model = model or PaperFillModel()
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self.orders: dict[str, PaperOrder] = {}
        self.queue: RestingQueue[PaperOrder] = RestingQueue()  # the resting orders, in the shared queue rule
        # (buy, price) -> our own real order's resting size there (a twin does not queue behind it)
        self._own: dict[tuple[bool, Decimal], Decimal] = {}
        # (side of the book, price) -> [consumed qty, until ms]; "ask" is what buyers take
        self._consumed: dict[tuple[str, Decimal], list[object]] = {}
        # (side, price) -> public trade volume printed there since the level's last snapshot
        self._printed: dict[tuple[str, Decimal], Decimal] = {}
        self._synced = False
        self._book_ms = 0  # time of the last book: an order cannot arrive on a book before it existed
        self.now_ms = 0

    # -------------------------------------------------------------- market data
    def on_book(self, ts_ms: int, *, bids: list[Level], asks: list[Level]) -> list[PaperFill]:
        """A full L2 snapshot (best first or any order); returns the fills it causes."""
        self.now_ms = max(self.now_ms, ts_ms)
        out = self._activate(ts_ms - 1)  # orders that arrived before this snapshot met the book as it was then
        new_bids = {Decimal(p): Decimal(q) for p, q in bids if Decimal(q) > 0}
        new_asks = {Decimal(p): Decimal(q) for p, q in asks if Decimal(q) > 0}
        # a level update: a snapshot that differs from the last one (the tape and the paper venue skip the same book)
        update = not self._synced or (new_bids, new_asks) != (self.bids, self.asks)
        self.bids, self.asks = new_bids, new_asks
        self._synced = True
        self._book_ms = ts_ms
        self._printed.clear()  # a snapshot already shows what the trades took
        for key in list(self._consumed):
            side, px = key
            until = self._consumed[key][1]
            assert isinstance(until, int)
            if until <= ts_ms or px not in (self.asks if side == "ask" else self.bids):
                del self._consumed[key]
        # the snapshot first, for the orders resting on it (as the paper venue does), then orders arriving with it
        if update:
            self.queue.cap(self._displayed)  # the quantity ahead cannot exceed what is displayed
            fill = self._maker(ts_ms, out)
            for side, px, q in self.queue.on_crossed(lambda buy: self._levels("ask" if buy else "bid"), fill):
                self._consume(side, px, q, ts_ms)  # counted once: the same crossed levels do not count again
        out += self._activate(ts_ms)
        return out

    def on_trade(self, ts_ms: int, price: Decimal, qty: Decimal, *, buyer_maker: bool) -> list[PaperFill]:
        """A public trade (``buyer_maker`` True: a seller hit the bid); returns the fills it causes."""
        self.now_ms = max(self.now_ms, ts_ms)
        out = self._activate(ts_ms)
        # liquidity printed at a level since its last update is gone for paper takers too
        side = "bid" if buyer_maker else "ask"
        if price in (self.bids if buyer_maker else self.asks):
            self._printed[(side, price)] = self._printed.get((side, price), ZERO) + qty
        if self._synced:
            self.queue.on_print(price, qty, buyer_maker=buyer_maker, fill=self._maker(ts_ms, out))
        return out

    def on_gap(self) -> None:
        """The feed lost data: stop filling until the next book, and put resting orders at the back."""
        self._synced = False
        self.queue.to_back(self._displayed)

    def set_own(self, side: str, price: Decimal, qty: Decimal) -> None:
        """Our own real order rests with ``qty`` left at ``price`` on ``side`` (0: no longer): not in ``Q`` there.

        A twin of a resting real order shares its market data with that order; the displayed
        size at its price includes the real order itself, which a twin must not queue behind
        (spec (c), twins). Applies to ``F0`` and to every later cap.

        >>> pb = PaperBook(tick=D("0.01"), step=D("0.001"), model=PaperFillModel(latency_ms=0))
        >>> _ = pb.on_book(0, bids=[(D(100), D(5))], asks=[(D("100.01"), D(4))])
        >>> pb.set_own("buy", D(100), D(2))                       # 2 of the 5 shown are our real order
        >>> o = PaperOrder("twin", "buy", D(2), price=D(100)); _ = pb.submit(o, ts_ms=0); o.ahead
        Decimal('3')
        """
        key = (side == "buy", price)
        if qty > 0:
            self._own[key] = qty
        else:
            self._own.pop(key, None)

    def advance(self, ts_ms: int) -> list[PaperFill]:
        """Let time pass without market data (orders whose latency elapsed go live; cancels land)."""
        self.now_ms = max(self.now_ms, ts_ms)
        return self._activate(ts_ms)

    # -------------------------------------------------------------- orders
    def submit(self, order: PaperOrder, *, ts_ms: int) -> list[PaperFill]:
        """Send ``order`` at ``ts_ms``; it acts at ``ts_ms + latency_ms`` (at once when the latency is 0)."""
        if order.id in self.orders:
            raise ValueError(f"paper order id {order.id!r} already used")
        order.sent_ms = ts_ms
        order.active_ms = ts_ms + self.model.latency_ms
        order.decision_book = (tuple(self._levels("bid")), tuple(self._levels("ask"))) if self._synced else None
        order.q_at_send = self._displayed(order) if order.price is not None else ZERO
        self.orders[order.id] = order
        return self._activate(max(ts_ms, self.now_ms))

    def cancel(self, order_id: str, *, ts_ms: int) -> list[PaperFill]:
        """Send a cancel at ``ts_ms``; it lands ``cancel_latency_ms`` later (fills may happen before)."""
        o = self.orders[order_id]
        if not o.done:
            o.cancel_at_ms = ts_ms + self.model.cancel_latency_ms
        return self._activate(max(ts_ms, self.now_ms))

    # -------------------------------------------------------------- internals
    def _maker(self, ts: int, out: list[PaperFill]) -> Callable[[Hashable, Decimal], Decimal]:
        """The queue rule's ``fill`` callback: a maker fill of up to ``avail`` at the order's limit, to the lot."""

        def fill(key: Hashable, avail: Decimal) -> Decimal:
            o = self.orders[str(key)]
            assert o.price is not None
            take = self._lot(min(o.leaves, avail))
            if take > 0:
                out.append(self._fill(o, o.price, take, "maker", ts))
            return take

        return fill

    def _activate(self, ts_ms: int) -> list[PaperFill]:
        out: list[PaperFill] = []
        for o in self.orders.values():
            if o.status == "pending" and o.active_ms <= ts_ms and self._synced:
                out += self._arrive(o, max(o.active_ms, self._book_ms))
            if not o.done and o.cancel_at_ms is not None and o.cancel_at_ms <= ts_ms:
                o.status, o.reason = "canceled", "canceled"
                self.queue.leave(o.id)
        return out

    def _arrive(self, o: PaperOrder, ts: int) -> list[PaperFill]:
        o.status = "open"
        opp = "ask" if o.buy else "bid"
        crosses = [px for px, _ in self._levels(opp) if o.price is None or self._ok(o, px)]
        if o.post_only:
            if crosses:
                o.status, o.reason = "rejected", "post-only order would take"
            else:
                o.f0 = self.queue.join(o.id, o, o.q_at_send, self._displayed(o)).ahead
            return []
        out = self._take(o, ts) if crosses or o.price is None else []
        if o.done:
            return out
        if o.price is None or o.tif in ("IOC", "FOK"):
            o.status = "filled" if o.leaves <= 0 else "expired"
            o.reason = o.reason or ("" if o.leaves <= 0 else f"{o.tif}: remainder expired")
        elif o.leaves > 0:
            o.f0 = self.queue.join(
                o.id, o, o.q_at_send, self._displayed(o)
            ).ahead  # a marketable limit's rest: at the back
        return out

    def _ok(self, o: PaperOrder, px: Decimal) -> bool:
        assert o.price is not None
        return px <= o.price if o.buy else px >= o.price

    def _take(self, o: PaperOrder, ts: int) -> list[PaperFill]:
        opp = "ask" if o.buy else "bid"
        now = self._levels(opp)
        then = None if o.decision_book is None else list(o.decision_book[1] if o.buy else o.decision_book[0])
        plan = taker_plan(buy=o.buy, leaves=o.leaves, limit=o.price, now=now, then=then)
        if o.tif == "FOK" and sum((q for _, q in plan), ZERO) < o.leaves:
            o.status, o.reason = "expired", "FOK: not enough liquidity to fill in full"
            return []
        out: list[PaperFill] = []
        for px, q in plan:
            q = self._lot(min(q, o.leaves))
            if q <= 0:
                continue
            self._consume(opp, px, q, ts)
            out.append(self._fill(o, px, q, "taker", ts))
        if o.price is None and o.leaves > 0 and (now or then):
            px = beyond_depth_price(buy=o.buy, now=now, then=then or [], tick=self.tick,
                                    ticks=self.model.beyond_depth_ticks)  # fmt: skip
            out.append(self._fill(o, px, o.leaves, "taker", ts))
        return out

    def _levels(self, side: str) -> list[Level]:
        book = self.asks if side == "ask" else self.bids
        prices = sorted(book) if side == "ask" else sorted(book, reverse=True)
        out = [(px, self._available(side, px, book[px])) for px in prices]
        return [(px, q) for px, q in out if q > 0]

    def _available(self, side: str, px: Decimal, shown: Decimal) -> Decimal:
        c = self._consumed.get((side, px))
        used = c[0] if c is not None else ZERO
        assert isinstance(used, Decimal)
        return max(ZERO, shown - used - self._printed.get((side, px), ZERO))

    def _consume(self, side: str, px: Decimal, qty: Decimal, ts: int) -> None:
        c = self._consumed.get((side, px))
        used = c[0] if c is not None else ZERO
        assert isinstance(used, Decimal)
        self._consumed[(side, px)] = [used + qty, ts + self.model.replenish_ms]

    def _displayed(self, o: Spot) -> Decimal:
        """``Q``: the size the snapshot shows at our price on our side (0 inside the spread), less our real order."""
        if o.price is None:
            return ZERO
        shown = (self.bids if o.buy else self.asks).get(o.price, ZERO)
        return max(ZERO, shown - self._own.get((o.buy, o.price), ZERO))

    def _lot(self, q: Decimal) -> Decimal:
        return (q / self.step).to_integral_value(rounding=ROUND_DOWN) * self.step

    def _fill(self, o: PaperOrder, px: Decimal, q: Decimal, liq: str, ts: int) -> PaperFill:
        o.filled += q
        o.cost += px * q
        o.first_fill_ms = o.first_fill_ms if o.first_fill_ms is not None else ts
        o.last_fill_ms = ts
        if o.leaves <= 0:
            o.status = "filled"
            self.queue.leave(o.id)
        return PaperFill(o.id, ts, px, q, liq)


def walk(levels: Sequence[Level], *, buy: bool, leaves: Decimal | None, limit: Decimal | None = None,
         quote: Decimal | None = None) -> list[Level]:  # fmt: skip
    """What a taker takes from ``levels`` (best first): ``leaves`` base, or ``quote`` to spend, up to ``limit``.

    >>> walk([(D(100), D(1)), (D(101), D(2))], buy=True, leaves=D("1.5"))
    [(Decimal('100'), Decimal('1')), (Decimal('101'), Decimal('0.5'))]
    >>> walk([(D(100), D(1)), (D(101), D(2))], buy=True, leaves=D(3), limit=D(100))
    [(Decimal('100'), Decimal('1'))]
    """
    plan: list[Level] = []
    left, cash = leaves, quote
    for px, q in levels:
        if (left is not None and left <= 0) or (cash is not None and cash <= 0):
            break
        if limit is not None and not (px <= limit if buy else px >= limit):
            break
        take = q
        if left is not None:
            take = min(take, left)
            left -= take
        if cash is not None:
            take = min(take, cash / px)
            cash -= take * px
        if take > 0:
            plan.append((px, take))
    return plan


def taker_plan(*, buy: bool, leaves: Decimal | None, limit: Decimal | None, now: Sequence[Level],
               then: Sequence[Level] | None, quote: Decimal | None = None) -> list[Level]:  # fmt: skip
    """What a taker fills: the walk of the worse (for the trader) of its decision-time and arrival-time books.

    ``now`` is the opposite side at arrival (what is available: displayed less consumed), ``then``
    the same side when the order was decided (sent), ``None`` when no book was known then (``now`` only).
    A decision-time level shows no more than the same price shows now: what paper orders or the
    public took since is gone from that book too. Worse means less filled, then a worse average.
    This is the one implementation of the rule: the model (:class:`PaperBook`) and the paper venue
    (:class:`kit.engine.paperengine.PaperEngine`) both call it. ``leaves`` is the base quantity
    left, or ``None`` with ``quote`` to spend.

    >>> then = [(D("100.10"), D(1))]              # decided on a worse book than the one it arrives on
    >>> taker_plan(buy=True, leaves=D(1), limit=None, now=[(D(100), D(1))], then=then)
    [(Decimal('100.10'), Decimal('1'))]
    >>> taker_plan(buy=True, leaves=D(1), limit=None, now=[(D("100.50"), D(1))], then=[(D(100), D(1))])
    [(Decimal('100.50'), Decimal('1'))]
    """
    plan_now = walk(now, buy=buy, leaves=leaves, limit=limit, quote=quote)
    if then is None:
        return plan_now
    shown = dict(now)
    capped = [(px, min(q, shown.get(px, q))) for px, q in then]
    plan_then = walk(capped, buy=buy, leaves=leaves, limit=limit, quote=quote)
    return plan_now if _worse(plan_now, plan_then, buy, by_quote=leaves is None) else plan_then


def beyond_depth_price(*, buy: bool, now: Sequence[Level], then: Sequence[Level], tick: Decimal, ticks: int) -> Decimal:
    """Price of a market order's remainder beyond the visible depth: ``ticks`` past the last level.

    The last level is the worse of the two books' deepest levels (conservative); a sell never
    goes below one tick.

    >>> beyond_depth_price(buy=True, now=[(D(100), D(1))], then=[(D(101), D(1))], tick=D("0.01"), ticks=10)
    Decimal('101.10')
    >>> beyond_depth_price(buy=False, now=[(D("0.05"), D(1))], then=[], tick=D("0.01"), ticks=10)
    Decimal('0.01')
    """
    lasts = [side[-1][0] for side in (now, then) if side]
    if not lasts:
        raise ValueError("no visible level to price the remainder from")
    pen = tick * ticks
    return max(lasts) + pen if buy else max(min(lasts) - pen, tick)


def _worse(a: list[Level], b: list[Level], buy: bool, *, by_quote: bool = False) -> bool:
    """True if plan ``a`` is at least as bad for the trader as plan ``b`` (less filled, or a worse average)."""
    qa, qb = sum((q for _, q in a), ZERO), sum((q for _, q in b), ZERO)
    ca, cb = sum((p * q for p, q in a), ZERO), sum((p * q for p, q in b), ZERO)
    if by_quote:  # a quote amount to spend: filled is the quote; worse is less base bought (more sold) for it
        if ca != cb:
            return ca < cb
        return qa <= qb if buy else qa >= qb
    if qa != qb:
        return qa < qb
    if qa == 0:
        return True
    return ca >= cb if buy else ca <= cb
