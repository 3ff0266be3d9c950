"""How market data turns into fills: candles, trade prints and book snapshots.

Candles: the path inside a candle is explicit. The price starts at the open, goes to the extreme
nearer to the open (the low when both are equally near), then to the other extreme, then to the
close. Those four phases carry the times ``ts``, ``ts + interval/3``, ``ts + 2*interval/3`` and
``ts + interval - 1``. Along each monotonic leg, orders act in the order the price reaches them
(then by time priority): stops trigger, triggered orders fill, resting limits fill. All fills in
one candle share one liquidity budget (``FillModel.participation`` of its volume), so two orders
never fill from the same liquidity. Resting limits fill at their own price as maker, and only
when the price trades through them (``FillModel``), even when the candle gapped past them (a
buy resting at 99 that the next candle opens below still fills at 99, as an exchange fills a
resting order at its own price); market and triggered orders pay slippage. Every taker fill
price lies inside the candle's ``[low, high]``; a maker fill is at its limit price.

Trades: a print at price ``p`` fills resting limits that ``p`` trades through, at their own
price, up to the print's quantity (shared); it also triggers stops.

Books: a snapshot is the liquidity for immediate execution (market orders, marketable limits)
until the next snapshot; what an order takes from a level is gone for the next order.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from kit.engine.fillmodel import EXACT as X
from kit.engine.fillmodel import WIDE, FillModel, ceil_to, floor_to
from kit.engine.ledger import Account
from kit.engine.types import (
    BalanceChange,
    Bar,
    BookSnapshot,
    Event,
    EventKind,
    Fill,
    Liquidity,
    Market,
    OrderStatus,
    Side,
    TimeInForce,
    Trade,
)
from kit.engine.working import OpenBook, Working

ZERO = Decimal(0)
_ONE_SHOT = (TimeInForce.IOC, TimeInForce.FOK)


@dataclass(slots=True)
class _Candle:
    """Per-candle context while sweeping its path."""

    bar: Bar
    market: Market
    budget: Decimal
    no: int
    through: Decimal  # how far past its price a resting limit must trade: constant per market


class Matching:
    """Market-data side of :class:`~kit.engine.Engine` (a mixin; state lives on the engine)."""

    markets: dict[str, Market]
    _accounts: dict[str, Account]
    _open: dict[str, dict[int, Working]]
    _fills: dict[str, list[Fill]]

    # order-list hooks (kit.engine.lists), called only for orders with a list_id
    def _list_started(self, w: Working, t: int, out: list[Event]) -> None: ...
    def _list_filled(self, w: Working, t: int, out: list[Event]) -> None: ...
    def _list_closing(self, w: Working) -> None: ...
    def _list_closed(self, w: Working, status: OrderStatus, t: int, out: list[Event]) -> None: ...
    def _list_received(self, w: Working, qty: Decimal, fee: Decimal, free_base: Decimal,
                       move: Callable[..., None]) -> None: ...  # fmt: skip

    def __init__(self, fill_model: FillModel) -> None:
        self.fill_model = fill_model
        self._last: dict[str, Decimal] = {}
        self._last_volume: dict[str, Decimal] = {}
        self._books: dict[str, tuple[list[list[Decimal]], list[list[Decimal]]]] = {}
        self._fee_sink: dict[str, Decimal] = {}
        self._seq = 0
        self._trade_id = 0
        self._bar_no = 0
        self._gtd: dict[str, int] = {}  # symbol -> GTD orders ever accepted (0: skip expiry scans)
        self._through: dict[str, Decimal] = {}  # symbol -> trade_through_ticks x tick, worked out once

    # -- reference data --------------------------------------------------------------------------
    def last_price(self, symbol: str) -> Decimal | None:
        """Last traded (or marked) price of ``symbol``, if any data was seen."""
        return self._last.get(symbol)

    def best_opposite(self, symbol: str, side: Side) -> Decimal | None:
        """Best ask for a buyer, best bid for a seller, from the current book."""
        book = self._books.get(symbol)
        if book is None:
            return None
        levels = book[1] if side is Side.BUY else book[0]
        return next((p for p, q in levels if q > 0), None)

    def estimate_cost(self, symbol: str, qty: Decimal) -> Decimal | None:
        """Quote cost of buying ``qty`` now: walks the book, else uses the last price."""
        book = self._books.get(symbol)
        if book is not None:
            cost, left = ZERO, qty
            for p, q in book[1]:
                take = min(q, left)
                cost += take * p
                left -= take
                if left <= 0:
                    return cost
        last = self._last.get(symbol)
        return qty * last if last is not None else None

    def fees_collected(self) -> dict[str, Decimal]:
        """Fees the engine has charged, by asset (the other side of every fee debit)."""
        return dict(self._fee_sink)

    def mark(self, symbol: str, price: Decimal, ts_ms: int) -> list[Event]:
        """Record ``price`` as the last price of ``symbol`` (no liquidity); expires due GTD orders."""
        self._last[symbol] = price
        return self.advance(ts_ms)

    def advance(self, ts_ms: int) -> list[Event]:
        """Let time pass to ``ts_ms``: GTD orders due by then expire."""
        out: list[Event] = []
        for symbol in self._open:
            self._expire_due(symbol, ts_ms, out)
        return out

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _queue_estimate(self, symbol: str) -> Decimal:
        return self._last_volume.get(symbol, ZERO) * self.fill_model.queue_ahead_fraction

    # -- acceptance ------------------------------------------------------------------------------
    def _on_accept(self, w: Working, ts: int, out: list[Event]) -> None:
        """Immediate execution against the current book, if there is one.

        Without a book, a limit order rests as a maker from the start (only a later
        trade-through fills it, never a touch) unless it was marketable against the last price
        when it arrived; then it takes on the first data after it (the open of the next candle,
        or the next trade print). Hidden and post-only orders always rest. IOC and FOK orders
        that are not marketable expire at once; with no last price known they get one look at
        the first data.
        """
        if w.cond:
            return
        if w.req.symbol in self._books:
            w.fresh = False
            self._take_book(w, ts, out)
            return
        if w.price is None:
            return
        last = self._last.get(w.req.symbol)
        one_shot = w.req.time_in_force in _ONE_SHOT
        if last is not None and not _marketable(w, last) and one_shot:
            self._close(w, OrderStatus.EXPIRED, ts, out, f"{w.req.time_in_force.value}: not marketable")
        elif w.req.hidden or w.req.post_only or (last is None and not one_shot) or not _marketable(w, last or w.price):
            w.fresh = False

    def _take_book(self, w: Working, ts: int, out: list[Event]) -> None:
        """Execute ``w`` as taker against the book; one-shot remainders expire."""
        bids, asks = self._books[w.req.symbol]
        levels = asks if w.buy else bids
        limit = w.price if w.is_limit else None
        if w.req.hidden and limit is not None:
            return  # hidden orders never take: they rest and fill only when traded through

        def ok(p: Decimal) -> bool:
            return limit is None or (p <= limit if w.buy else p >= limit)

        if w.req.time_in_force is TimeInForce.FOK and w.qty is not None:
            avail = sum((q for p, q in levels if ok(p)), ZERO)
            if avail < w.remaining:
                self._close(w, OrderStatus.EXPIRED, ts, out, "FOK: not enough liquidity to fill in full")
                return
        if w.req.post_only and limit is not None and levels and any(q > 0 and ok(p) for p, q in levels):
            self._close(w, OrderStatus.EXPIRED, ts, out, "post-only order would take")
            return
        for level in levels:
            if not w.status.is_open or not ok(level[0]):
                break
            if level[1] <= 0:
                continue
            qty = self._sized(w, level[0], level[1])
            if qty <= 0:
                break
            level[1] -= qty
            self._fill(w, level[0], qty, Liquidity.TAKER, ts, out)
        if w.status.is_open and (w.is_market or w.req.time_in_force in _ONE_SHOT):
            why = "no more liquidity in the book" if w.is_market else "IOC: remainder expired"
            self._close(w, OrderStatus.EXPIRED, ts, out, why)

    # -- trades and books ------------------------------------------------------------------------
    def on_book(self, symbol: str, book: BookSnapshot) -> list[Event]:
        """Replace the book of ``symbol``; resting limits crossed by it fill, pending markets execute."""
        out: list[Event] = []
        self._bar_no += 1  # one market-data step: a refreshed iceberg slice waits for the next
        self._books[symbol] = ([[p, q] for p, q in book.bids], [[p, q] for p, q in book.asks])
        self._expire_due(symbol, book.ts_ms, out)
        through = self.fill_model.trade_through_ticks
        for w in sorted(self._open[symbol].values(), key=lambda w: w.seq):
            if w.req.type.is_conditional and not w.triggered or not w.status.is_open:
                continue
            if w.fresh or w.is_market:
                w.fresh = False
                self._take_book(w, book.ts_ms, out)
                continue
            assert w.price is not None
            bids, asks = self._books[symbol]
            levels = asks if w.buy else bids
            edge = w.price - through * w.market.tick_size if w.buy else w.price + through * w.market.tick_size
            for level in levels:
                crossed = level[0] <= edge if w.buy else level[0] >= edge
                if not crossed or not w.status.is_open or w.rested_bar == self._bar_no:
                    break
                qty = self._sized(w, w.price, level[1])
                if qty > 0:
                    level[1] -= qty
                    self._fill(w, w.price, qty, Liquidity.MAKER, book.ts_ms, out)
        return out

    def on_trade(self, symbol: str, trade: Trade) -> list[Event]:
        """A public trade print: stops trigger at its price; resting limits it trades through fill.

        Without a book, market orders and marketable limits take the print's price (as taker),
        and all fills from one print share its quantity.
        """
        out: list[Event] = []
        m = self.markets[symbol]
        ts, px = trade.ts_ms, trade.price
        self._bar_no += 1  # one market-data step: a refreshed iceberg slice waits for the next
        self._last[symbol] = px
        self._expire_due(symbol, ts, out)
        has_book = symbol in self._books
        for w in sorted(self._open[symbol].values(), key=lambda w: w.seq):
            if not w.status.is_open:  # closed meanwhile (the other order of an OCO pair started)
                continue
            if w.req.type.is_conditional and not w.triggered and self._trigger_pos(w, px, px) is not None:
                self._trigger(w, ts, out)
                w.fresh = not w.req.hidden
                if has_book:
                    w.fresh = False
                    self._take_book(w, ts, out)
        left = trade.quantity
        if not has_book:
            for w in sorted(self._open[symbol].values(), key=lambda w: w.seq):
                if not w.status.is_open or (w.cond and not w.triggered):
                    continue
                if left > 0 and (w.is_market or (w.fresh and w.is_limit and _marketable(w, px))):
                    qty = self._sized(w, px, left)
                    if w.req.time_in_force is TimeInForce.FOK and w.qty is not None and qty < w.remaining:
                        self._close(w, OrderStatus.EXPIRED, ts, out, "FOK: the print cannot fill it in full")
                        continue
                    if qty > 0:
                        left -= qty
                        self._fill(w, px, qty, Liquidity.TAKER, ts, out)
        fm = self.fill_model
        through = fm.trade_through_ticks * m.tick_size
        for w in sorted(self._open[symbol].values(), key=lambda w: (_price_key(w), w.seq)):
            if left <= 0:
                break
            if not w.is_limit or w.fresh or w.rested_bar == self._bar_no or not w.status.is_open:
                continue
            assert w.price is not None
            avail = left
            if not (px <= w.price - through if w.buy else px >= w.price + through):
                if not (fm.at_touch and not w.req.hidden and px == w.price):
                    continue
                w.queue_ahead -= trade.quantity
                if w.queue_ahead >= 0:
                    continue
                avail = min(left, -w.queue_ahead)
            qty = self._sized(w, w.price, avail)
            if qty > 0:
                left -= qty
                w.queue_ahead = min(w.queue_ahead + qty, ZERO) if fm.at_touch else w.queue_ahead
                self._fill(w, w.price, qty, Liquidity.MAKER, ts, out)
        for w in list(self._open[symbol].values()):
            if w.fresh:
                self._after_first_look(w, ts, out)
        return out

    # -- candles ---------------------------------------------------------------------------------
    def on_bar(self, symbol: str, bar: Bar) -> list[Event]:
        """A candle: sweep its path (open, nearer extreme, farther extreme, close)."""
        out: list[Event] = []
        m = self.markets[symbol]
        self._bar_no += 1
        through = self._through.get(symbol)
        if through is None:
            through = self._through[symbol] = self.fill_model.trade_through_ticks * m.tick_size
        c = _Candle(bar, m, self.fill_model.budget(bar.volume, m.step_size), self._bar_no, through)
        o, h, lo, cl = bar.open, bar.high, bar.low, bar.close
        first, second = (h, lo) if (h - o) < (o - lo) else (lo, h)
        t0, iv = bar.ts_ms, bar.interval_ms
        legs = ((o, o, t0), (o, first, t0 + iv // 3), (first, second, t0 + 2 * iv // 3), (second, cl, t0 + iv - 1))
        gtd, book = self._gtd.get(symbol), self._open[symbol]
        for k, (a, b, t) in enumerate(legs):
            if gtd:
                self._expire_due(symbol, t, out)
            if book:
                self._sweep(c, a, b, t, out, opening=k == 0)
        self._last[symbol] = cl
        self._last_volume[symbol] = bar.volume
        return out

    def _sweep(self, c: _Candle, a: Decimal, b: Decimal, t: int, out: list[Event], *, opening: bool) -> None:
        """Process one monotonic leg from ``a`` to ``b``, orders acting where the price reaches them."""
        heap: list[tuple[Decimal, int, str, Working]] = []
        book = self._open[c.market.symbol]
        if isinstance(book, OpenBook):  # only the orders the leg's range can reach (see OpenBook)
            others, bids, asks = book.crossing(*((a, b) if a <= b else (b, a)))
            plan = others + bids + asks
        else:
            plan = list(book.values())
        for w in plan:
            self._plan(c, w, a, b, heap, out, opening=opening)
        while heap:
            pos, _, what, w = heapq.heappop(heap)
            if not w.status.is_open:
                continue
            cur = a + pos if b >= a else a - pos
            if what == "trigger":
                self._trigger(w, t, out)
                if w.is_market:
                    self._market_fill(c, w, cur, t, out)
                elif _marketable(w, cur) and not w.req.hidden:  # hidden orders never take
                    self._taker_fill(c, w, cur, t, out)
                if w.status.is_open and w.req.time_in_force in _ONE_SHOT:
                    self._close(w, OrderStatus.EXPIRED, t, out, "IOC/FOK: remainder expired at trigger")
                if w.status.is_open and not w.is_market:
                    self._plan(c, w, a, b, heap, out, opening=False, after=pos)
            elif what == "market":
                self._market_fill(c, w, cur, t, out)
            elif what == "take":
                self._taker_fill(c, w, cur, t, out)
            else:
                self._maker_fill(c, w, t, out, touch=what == "touch")
        if opening:
            fresh = book.fresh_orders() if isinstance(book, OpenBook) else list(book.values())
            for w in fresh:
                if w.fresh:
                    self._after_first_look(w, t, out)

    def _plan(self, c: _Candle, w: Working, a: Decimal, b: Decimal, heap: list[tuple[Decimal, int, str, Working]],
              out: list[Event], *, opening: bool, after: Decimal = Decimal(-1)) -> None:  # fmt: skip
        """Work out where on the leg ``a -> b`` order ``w`` acts, and queue it (no entry if it does not)."""
        if w.cond and not w.triggered:
            pos, what = self._trigger_pos(w, a, b), "trigger"
        elif w.price is None:  # a market order (a triggered stop-market included) acts at the open
            if not opening:
                return
            pos, what = ZERO, "market"
        elif w.rested_bar == c.no:
            return
        elif opening and w.fresh and _marketable(w, a):
            if w.req.post_only:
                self._close(w, OrderStatus.EXPIRED, c.bar.ts_ms, out, "post-only order would take at the open")
                return
            pos, what = ZERO, "take"
        else:
            shift = c.through
            pos, what = _reach(a, b, w.price - shift if w.buy else w.price + shift, rising=not w.buy), "rest"
            if pos is None and self.fill_model.at_touch and not w.req.hidden:
                pos, what = _reach(a, b, w.price, rising=not w.buy), "touch"
        if pos is not None and pos > after:
            heapq.heappush(heap, (pos, w.seq, what, w))

    def _trigger_pos(self, w: Working, a: Decimal, b: Decimal) -> Decimal | None:
        """Where on the leg ``a -> b`` a conditional order triggers (``None``: not on this leg).

        Trailing stops also update their activation and best price here: a sell trailing stop
        follows the highs and triggers ``trailing_bps`` below the best; a buy trailing stop
        follows the lows. With an activation price, trailing starts once the price reaches it
        (Binance's trailing-stop FAQ): a stop-loss sell when the price falls to it and a
        stop-loss buy when it rises to it; a take-profit sell when the price rises to it and a
        take-profit buy when it falls to it. The activation price is the first best price.
        """
        if not w.req.type.is_trailing:
            assert w.trigger is not None
            return _reach(a, b, w.trigger, rising=w.trigger_up)
        sell = not w.trigger_up
        act = w.req.trigger_price
        offset = ZERO
        if not w.active:
            assert act is not None
            p0 = _reach(a, b, act, rising=w.act_up)
            if p0 is None:
                return None
            w.active = True
            if p0 > 0:  # activated on this leg: trailing starts at the activation price
                a, offset = act, p0
            w.best = a
        best = w.best if w.best is not None else a
        w.best = max(best, a) if sell else min(best, a)
        level = w.trail_level()
        assert level is not None
        pos = _reach(a, b, level, rising=not sell)
        if pos is None:  # the leg moved in the trailing direction: the best price follows it
            w.best = max(w.best, b) if sell else min(w.best, b)
            return None
        return pos + offset

    def _after_first_look(self, w: Working, t: int, out: list[Event]) -> None:
        """After an order's first chance: one-shot remainders expire.

        Not a stop or take-profit that has not triggered: its time in force applies to the order it
        becomes at the trigger (an IOC stop-limit waits untriggered, as on Binance, where an OCO's
        stop leg may be IOC), and the trigger gives it that chance (:meth:`_sweep`, :meth:`on_trade`).
        """
        w.fresh = False
        if w.cond and not w.triggered:
            return
        if w.status.is_open and w.req.time_in_force in _ONE_SHOT:
            why = "FOK: could not fill in full" if w.req.time_in_force is TimeInForce.FOK else "IOC: remainder expired"
            self._close(w, OrderStatus.EXPIRED, t, out, why)

    def _trigger(self, w: Working, t: int, out: list[Event]) -> None:
        w.triggered = True
        w.fresh = False
        w.status = OrderStatus.NEW
        w.updated = t
        if w.req.type.is_trailing:
            w.trigger = w.trail_level()
        out.append(Event(EventKind.TRIGGERED, t, w.account, order=w.snapshot()))
        if w.list_id >= 0:
            self._list_started(w, t, out)

    # -- candle fills ----------------------------------------------------------------------------
    def _fok_blocked(self, c: _Candle, w: Working, t: int, out: list[Event]) -> bool:
        if w.req.time_in_force is TimeInForce.FOK and w.qty is not None and w.remaining > c.budget:
            self._close(w, OrderStatus.EXPIRED, t, out, "FOK: not enough volume to fill in full")
            return True
        return False

    def _market_fill(self, c: _Candle, w: Working, ref: Decimal, t: int, out: list[Event]) -> None:
        if c.budget <= 0 or self._fok_blocked(c, w, t, out):
            return
        bar, m = c.bar, c.market
        want = w.fill_cap() if w.qty is not None else c.budget
        price = self.fill_model.slipped_price(
            ref,
            buy=w.buy,
            qty=min(want, c.budget) or m.step_size,
            high=bar.high,
            low=bar.low,
            volume=bar.volume,
            tick=m.tick_size,
        )
        self._candle_fill(c, w, price, Liquidity.TAKER, t, out)

    def _taker_fill(self, c: _Candle, w: Working, cur: Decimal, t: int, out: list[Event]) -> None:
        if c.budget <= 0 or self._fok_blocked(c, w, t, out):
            return
        bar, m = c.bar, c.market
        assert w.price is not None
        slipped = self.fill_model.slipped_price(
            cur,
            buy=w.buy,
            qty=min(w.fill_cap(), c.budget),
            high=bar.high,
            low=bar.low,
            volume=bar.volume,
            tick=m.tick_size,
        )
        price = min(slipped, w.price) if w.buy else max(slipped, w.price)
        self._candle_fill(c, w, price, Liquidity.TAKER, t, out)

    def _maker_fill(self, c: _Candle, w: Working, t: int, out: list[Event], *, touch: bool) -> None:
        assert w.price is not None
        # a resting (maker) order fills at its own price, as on an exchange: a candle that gapped
        # through it (a buy at 99, the next candle opening at 97) still pays 99, never the better
        # price the gap would offer; only a taker that crosses on arrival may get a better price
        price = w.price
        avail = c.budget
        if touch:
            bar = c.bar
            span = int((bar.high - bar.low) / c.market.tick_size) + 1
            at_level = floor_to(bar.volume / span, c.market.step_size)
            w.queue_ahead -= at_level
            if w.queue_ahead >= 0:
                return
            avail = min(avail, -w.queue_ahead)
        if avail <= 0:
            return
        before = w.filled
        self._candle_fill(c, w, price, Liquidity.MAKER, t, out, cap=avail)
        if touch:
            w.queue_ahead += w.filled - before

    def _candle_fill(self, c: _Candle, w: Working, price: Decimal, liq: Liquidity, t: int,
                     out: list[Event], cap: Decimal | None = None) -> None:  # fmt: skip
        qty = self._sized(w, price, c.budget if cap is None else cap)
        if qty <= 0:
            if w.is_market and w.qty is None and w.filled == 0:
                self._close(w, OrderStatus.EXPIRED, t, out, "quote amount buys less than one step")
            elif w.req.reduce_only and self._sized(w, price, w.market.step_size * 10**9) <= 0:
                self._close(w, OrderStatus.EXPIRED, t, out, "reduce-only: it would grow the position")
            return
        c.budget -= qty
        self._fill(w, price, qty, liq, t, out)

    # -- the books -------------------------------------------------------------------------------
    def _sized(self, w: Working, price: Decimal, avail: Decimal) -> Decimal:
        """Quantity the next fill of ``w`` at ``price`` can take, given ``avail`` liquidity and funds."""
        m = w.market
        if w.qty is None:  # quote-quantity market order
            assert w.quote_left is not None
            qty = floor_to(w.quote_left / price, m.step_size)
        else:
            qty = w.fill_cap()
        qty = min(qty, floor_to(avail, m.step_size))
        acct = self._accounts[w.account]
        if w.req.reduce_only:
            pos = acct.position(w.req.symbol)
            qty = min(qty, abs(pos)) if pos and (pos < 0) == w.buy else ZERO
        if acct.positions:
            if w.buy:
                rate = max(m.maker_fee, m.taker_fee)
                qty = min(qty, floor_to(acct.free(m.quote) / (price * (1 + rate)), m.step_size))
        elif w.buy and w.lock_price is None and not (w.lock_asset == m.quote and w.lock_left > 0):
            qty = min(qty, floor_to(acct.free(m.quote) / price, m.step_size))
        elif not w.buy and not (w.lock_asset == m.base and w.lock_left > 0):
            qty = min(qty, acct.free(m.base))
        return max(qty, ZERO)

    def _fill(self, w: Working, price: Decimal, qty: Decimal, liq: Liquidity, t: int, out: list[Event]) -> None:
        """Book one execution: balances, fees, position, order state, and its event."""
        listed = w.list_id >= 0
        if listed and w.filled == 0:
            self._list_started(w, t, out)
        m, acct = w.market, self._accounts[w.account]
        quote, base = m.quote, m.base
        notional = X.multiply(qty, price)  # exact (X traps rounding): no silent 28-digit rounding
        rate = m.maker_fee if liq is Liquidity.MAKER else m.taker_fee
        # (free, locked) deltas per asset, in the order first touched; every amount added with X
        deltas: dict[str, list[Decimal]] = {}

        def move(asset: str, free: Decimal = ZERO, locked: Decimal = ZERO) -> None:
            d = deltas.get(asset)
            if d is None:
                deltas[asset] = [X.add(ZERO, free), X.add(ZERO, locked)]
            else:
                d[0] = X.add(d[0], free)
                d[1] = X.add(d[1], locked)

        position_change = None
        buy = w.buy
        lock_asset = w.lock_asset
        if acct.positions:
            fee, fee_asset = min(ceil_to(WIDE.multiply(notional, rate), m.fee_precision), notional), quote
            move(quote, free=X.add(notional, fee).copy_negate() if buy else X.subtract(notional, fee))
            position_change = (w.req.symbol, qty if buy else qty.copy_negate())
        elif buy:
            fee, fee_asset = min(ceil_to(WIDE.multiply(qty, rate), m.fee_precision), qty), base
            if w.lock_price is not None:
                reserved = X.multiply(qty, w.lock_price)
                move(quote, X.subtract(reserved, notional), reserved.copy_negate())
                w.lock_left = X.subtract(w.lock_left, reserved)
            elif lock_asset == quote and w.lock_left > 0:
                move(quote, ZERO, notional.copy_negate())
                w.lock_left = X.subtract(w.lock_left, notional)
            else:
                move(quote, notional.copy_negate())
            move(base, X.subtract(qty, fee))
            if listed:  # an OPO's working buy locks what it receives for its pending sells
                self._list_received(w, qty, fee, acct.free(base), move)
        else:
            fee, fee_asset = min(ceil_to(WIDE.multiply(notional, rate), m.fee_precision), notional), quote
            if lock_asset == base and w.lock_left > 0:
                move(base, ZERO, qty.copy_negate())
                w.lock_left = X.subtract(w.lock_left, qty)
            else:
                move(base, qty.copy_negate())
            move(quote, X.subtract(notional, fee))
        filled = w.filled = X.add(w.filled, qty)
        w.filled_quote = X.add(w.filled_quote, notional)
        w.fees = X.add(w.fees, fee)
        w.updated = t
        if w.quote_left is not None:
            w.quote_left = X.subtract(w.quote_left, notional)
        if w.visible_left is not None:
            w.visible_left -= qty
        if position_change is not None:
            acct.move_position(*position_change)
        if w.qty is not None:
            done = w.qty - filled <= 0
        else:
            done = floor_to((w.quote_left or ZERO) / price, m.step_size) <= 0
        if done:
            w.status = OrderStatus.FILLED
            left = w.lock_left
            if lock_asset is not None and left > 0:  # release what the order still had locked
                move(lock_asset, left, left.copy_negate())
            w.lock_left = ZERO
            del self._open[w.req.symbol][w.id]
        else:
            w.status = OrderStatus.PARTIALLY_FILLED
            if w.visible_left is not None and w.visible_left <= 0:
                # an iceberg's slice is used up: the next one shows and queues again (it loses
                # time priority) and fills from the next candle, trade print or book snapshot on
                w.visible_left = min(w.req.iceberg_qty or ZERO, w.remaining)
                w.seq = self._next_seq()
                w.rested_bar = self._bar_no
        changes = tuple([BalanceChange(a, f, lk) for a, (f, lk) in deltas.items() if f or lk])
        acct.apply(changes)
        sink = self._fee_sink
        sink[fee_asset] = sink.get(fee_asset, ZERO) + fee
        self._trade_id += 1
        fill = Fill(self._trade_id, w.id, t, w.req.symbol, w.req.side, price, qty, notional, fee, fee_asset, liq)
        self._fills[w.account].append(fill)
        kind = EventKind.FILLED if done else EventKind.PARTIALLY_FILLED
        out.append(Event(kind, t, w.account, w.snapshot(), fill, "", None, None, None, changes, position_change))
        if w.req.reduce_only and not done and acct.position(w.req.symbol) == 0:
            self._close(w, OrderStatus.EXPIRED, t, out, "reduce-only: the position is closed")
        if done and listed:
            self._list_filled(w, t, out)

    def _close(self, w: Working, status: OrderStatus, t: int, out: list[Event], reason: str) -> None:
        """End an open order (canceled or expired) and release what it had locked."""
        if w.list_id >= 0:
            self._list_closing(w)
        changes: tuple[BalanceChange, ...] = ()
        if w.lock_asset is not None and w.lock_left > 0:
            changes = (BalanceChange(w.lock_asset, free=w.lock_left, locked=w.lock_left.copy_negate()),)
            self._accounts[w.account].apply(changes)
            w.lock_left = ZERO
        w.status = status
        w.updated = t
        self._open[w.req.symbol].pop(w.id, None)
        kind = EventKind.CANCELED if status is OrderStatus.CANCELED else EventKind.EXPIRED
        out.append(Event(kind, t, w.account, w.snapshot(), None, reason, None, None, None, changes))
        if w.list_id >= 0:
            self._list_closed(w, status, t, out)

    def _expire_due(self, symbol: str, ts: int, out: list[Event]) -> None:
        if not self._gtd.get(symbol):
            return
        for w in list(self._open[symbol].values()):
            if w.req.expire_at_ms is not None and w.req.expire_at_ms <= ts:
                self._close(w, OrderStatus.EXPIRED, w.req.expire_at_ms, out, "GTD: expired at its time")


def _reach(a: Decimal, b: Decimal, level: Decimal, *, rising: bool) -> Decimal | None:
    """Distance along the leg ``a -> b`` at which the price first reaches ``level``.

    Reaching means ``>= level`` when ``rising``, else ``<= level``; ``None`` if it never does.

    >>> _reach(Decimal(10), Decimal(14), Decimal(12), rising=True)
    Decimal('2')
    >>> _reach(Decimal(10), Decimal(14), Decimal(9), rising=False) is None
    True
    """
    if (a >= level) if rising else (a <= level):
        return ZERO
    if rising and b >= level:
        return level - a
    if not rising and b <= level:
        return a - level
    return None


def _marketable(w: Working, price: Decimal) -> bool:
    assert w.price is not None
    return price <= w.price if w.buy else price >= w.price


def _price_key(w: Working) -> Decimal:
    """Price priority: best bids (highest) and best asks (lowest) first."""
    if w.price is None:
        return Decimal("-Infinity")
    return -w.price if w.buy else w.price
