"""The callback replay's integer lane: plain market and GTC limit orders without Decimals or snapshots.

:func:`kit.engine.replay.run` with a ``strategy`` callback drives the general :class:`Engine` for
every order (exact Decimals, a frozen snapshot per event). This lane runs the same callback over
the same candles with the engine's rules for the orders a research strategy places most (MARKET and
plain GTC LIMIT, buy and sell, any number working at once) in integer units (:class:`kernel.Units`:
ticks, steps, quote and base units), and keeps no event objects:

* a candle is swept as :meth:`Matching.on_bar` sweeps it: the opening leg (market orders, limits on
  their first look that the open reaches, resting limits the open trades through), in acceptance
  order; then each leg of the path (open, nearer extreme, farther extreme, close), the orders the
  leg trades through in the order the price reaches them, ties by acceptance; all of them sharing
  the candle's participation budget;
* resting limits are kept sorted by price per side, and a candle is visited only when a market
  order or a limit on its first look is working, or its range reaches the best bid or ask
  (:func:`kit.engine.jit.first_reach` over block extremes);
* acceptance applies the filters a plain order meets (LOT_SIZE, MARKET_LOT_SIZE, NOTIONAL,
  PRICE_FILTER) and the reservation (INSUFFICIENT_FUNDS): a refused order gets no id and the call
  returns ``""``, as on the engine path.

Anything else the callback asks for (a stop, a trailing stop, IOC/FOK, a GTD order, amounts too
large for the engine's 60 digits) is *handed over*: the engine path replays the lane's recorded
calls (the callback is not called again) up to that moment, which puts it in the very state the
lane was in, and the run continues there. Every call is recorded, so ``Result.events`` is built
the same way when it is first read. ``tests/engine/test_lane.py`` checks with hypothesis that this
lane and ``path="engine"`` give the same fills, orders, balances, equity and callback views.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np

from kit.engine import jit
from kit.engine.fillmodel import FillModel
from kit.engine.frames import to_tick
from kit.engine.kernel import NotExact, Units, _frames, _int, book_fill, release_lock
from kit.engine.types import Event, Market, OrderType, Side, TimeInForce

if TYPE_CHECKING:
    from kit.engine.replay import _Runner

__all__ = ["Lane", "NotExact", "supported"]

_BIG = 10**55  # an amount whose digits (units x unit mantissa) stay below this fits the engine's 60 digits
_I64 = 2**63 - 1
_STATUS = ("new", "partially_filled", "filled", "canceled")
_DEFAULTS = {"trigger": None, "kind": None, "tif": TimeInForce.GTC, "trailing_bps": None}


class Handover(Exception):  # noqa: N818 (a control-flow signal, not an error)
    """The callback asked for something the lane does not replicate: the engine path takes over."""


def supported(market: Market, fill_model: FillModel | None) -> bool:
    """Whether the lane can replay orders on ``market`` with ``fill_model`` exactly as the engine.

    Not with a fill model that fills at touch (queue estimates) or a subclass, nor with
    PERCENT_PRICE_BY_SIDE multipliers (checked against a Decimal product of the reference price).
    """
    fm = fill_model or FillModel()
    if type(fm) is not FillModel or fm.at_touch:
        return False
    mults = (market.bid_multiplier_up, market.bid_multiplier_down, market.ask_multiplier_up, market.ask_multiplier_down)
    return all(x is None for x in mults) and type(market) is Market


def _scale(unit: Fraction) -> int:
    """The digits an amount of ``n`` units carries, as a factor: ``n * unit`` has as many as ``n * _scale(unit)``."""
    d = unit.denominator
    k = 0
    while d % 10 == 0:
        d //= 10
        k += 1
    twos = fives = 0
    while d % 2 == 0:
        d //= 2
        twos += 1
    while d % 5 == 0:
        d //= 5
        fives += 1
    if d != 1:
        raise NotExact("a unit that is not a decimal fraction")
    return int(unit.numerator * pow(5, twos) * pow(2, fives))


def _dec(n: int, unit: Fraction) -> Decimal:
    """``n`` units of ``unit`` as an exact Decimal (no context rounding)."""
    mult, k = _decimal_unit(unit)
    return _dec_with(n, mult, k)


def _decimal_unit(unit: Fraction) -> tuple[int, int]:
    """``(mult, k)`` with ``unit == mult * 10**-k`` (``unit`` a decimal fraction)."""
    num, den = unit.numerator, unit.denominator
    k = 0
    while den % 10 == 0:
        den //= 10
        k += 1
    while den % 2 == 0:
        den //= 2
        num *= 5
        k += 1
    while den % 5 == 0:
        den //= 5
        num *= 2
        k += 1
    return num, k


def _dec_with(n: int, mult: int, k: int) -> Decimal:
    v = n * mult
    if -(10**27) < v < 10**27:  # scaleb is exact within the context's 28 digits
        return Decimal(v).scaleb(-k)
    return Decimal(f"{v}E-{k}")


class _O:
    """One accepted order in integer units (mutable; no snapshot is ever taken)."""

    __slots__ = ("id", "buy", "mkt", "q", "filled", "p", "edge", "lock", "fees", "st", "filed")

    def __init__(self, oid: int, buy: bool, mkt: bool, q: int, p: int, edge: int, lock: int) -> None:
        self.id = oid
        self.buy = buy
        self.mkt = mkt
        self.q = q
        self.filled = 0
        self.p = p
        self.edge = edge  # the price a resting limit must trade through to fill (ticks)
        self.lock = lock
        self.fees = 0
        self.st = 0  # index into _STATUS
        self.filed = False  # resting in the price-sorted book (not a market order nor on its first look)


def _by_id(o: _O) -> int:
    return o.id


class Lane:
    """Replays a callback's market and GTC limit orders in integer units (see the module docstring)."""

    def __init__(self, r: _Runner, cash: Decimal, new_runner: Callable[[], _Runner]) -> None:
        """Start with ``cash`` on the candles and market of ``r``; ``new_runner`` makes a fresh engine-path runner."""
        self.r = r
        m = r.m
        self.m = m
        self.new_runner = new_runner
        fm = r.engine.fill_model
        self.u = u = Units(m, fm)
        self.qf = _int(Fraction(cash) / u.uq, "cash")
        self.ql = self.bf = self.bl = 0
        self.any_base = False
        self.sq, self.sb = _scale(u.uq), _scale(u.ub)
        self.duq, self.dub = _decimal_unit(u.uq), _decimal_unit(u.ub)
        self.t = m.tick_size
        self.min_p = -(-Fraction(m.min_price) // u.t) if m.min_price else None
        self.max_p = Fraction(m.max_price) // u.t if m.max_price else None
        self.apply_min, self.apply_max = m.apply_min_notional_to_market, m.apply_max_notional_to_market
        self.pn, self.pd = u.part
        self.through = u.through
        self.n = r.n
        self.rows, self.hs, self.los, self.hblk, self.lblk = r.rows, r.hs, r.los, r.hblk, r.lblk
        self.interval = r.interval
        self.orders: list[_O] = []
        self.markets: list[_O] = []  # open market orders, by id
        self.fresh: list[_O] = []  # limits marketable when placed: they take on the next open, by id
        self.bids: list[_O] = []  # resting buys, highest price first (then by id)
        self.bid_keys: list[int] = []  # -price, ascending
        self.asks: list[_O] = []  # resting sells, lowest price first (then by id)
        self.ask_keys: list[int] = []
        self.n_open = 0
        self.next_id = 1
        self.fills: list[tuple[Any, ...]] = []
        self.log: list[tuple[Any, ...]] = []  # every call of the callback: (candle, buy or None, qty, limit, kw)
        self.qcache: dict[Decimal, int] = {}  # quantity -> whole steps (-1: not a positive multiple of the step)
        self.now = -1  # the candle of the callback's last call (its orders act from the next one)
        self.due = self.n  # the next candle where an order may act; -1: to be worked out again
        self.ver = 0  # bumped when the balances change (the context's Decimal views are cached on it)
        self.eng: _Runner | None = None  # the engine path, once it took over

    # -- the callback's calls --------------------------------------------------------------------
    def place(self, side: Side, qty: Any, limit: Any, **kw: Any) -> str:
        """``ctx.buy`` / ``ctx.sell``: accept or refuse, as :meth:`Engine.submit` would."""
        if self.eng is not None:
            return self.eng.place(side, qty, limit, **kw)
        if kw and (
            not kw.keys() <= _DEFAULTS.keys()
            or kw.get("trigger") is not None
            or kw.get("trailing_bps") is not None
            or kw.get("tif", TimeInForce.GTC) is not TimeInForce.GTC
        ):
            return self._hand_over().place(side, qty, limit, **kw)
        buy = side is Side.BUY
        q = qty if isinstance(qty, Decimal) else Decimal(str(qty))
        kind = kw.get("kind")
        if kind is not None and kind is not (OrderType.LIMIT if limit is not None else OrderType.MARKET):
            return self._hand_over().place(side, qty, limit, **kw)
        try:
            qs = self.qcache.get(q)
        except TypeError:  # a signalling NaN does not hash
            return self._hand_over().place(side, qty, limit, **kw)
        if qs is None:
            if not q.is_finite():
                return self._hand_over().place(side, qty, limit, **kw)
            f = Fraction(q) / self.u.s
            qs = f.numerator if f.denominator == 1 and f > 0 else -1
            if len(self.qcache) >= 4096:
                self.qcache.clear()
            self.qcache[q] = qs
        i = self.now
        last = self.rows[i, 3].item()
        u = self.u
        if limit is not None:
            price = to_tick(limit, self.t, side)
            if not price.is_finite():
                return self._hand_over().place(side, qty, limit, **kw)
            ptk = int(price / self.t)
            if ptk * self.t != price or abs(ptk) > 10**18:
                return self._hand_over().place(side, qty, limit, **kw)
            ref = ptk
        else:
            ptk = 0
            ref = last
        if (
            qs > 10**18
            or abs(ref) * max(qs, 1) * u.kq * self.sq >= _BIG
            or ((self.qf + self.ql) * self.sq >= _BIG or (self.bf + self.bl + max(qs, 0) * u.ks) * self.sb >= _BIG)
        ):
            return self._hand_over().place(side, qty, limit, **kw)
        self.log.append((i, buy, qty, limit))
        if not self._passes(qs, ptk, ref, limit is None):
            return ""
        if buy:
            need = qs * ref * u.kq
            if self.qf < need:
                return ""
            lock = need if limit is not None else 0
            self.qf -= lock
            self.ql += lock
        else:
            lock = qs * u.ks
            if self.bf < lock:
                return ""
            self.bf -= lock
            self.bl += lock
        oid = self.next_id
        self.next_id = oid + 1
        edge = ptk - self.through if buy else ptk + self.through
        o = _O(oid, buy, limit is None, qs, ptk, edge, lock)
        self.orders.append(o)
        self.n_open += 1
        self.ver += 1
        self.due = -1
        if limit is None:
            self.markets.append(o)
        elif ptk >= last if buy else ptk <= last:  # marketable on arrival: takes on the next open
            self.fresh.append(o)
        else:
            self._file(o)
        return f"kit-{oid}"

    def _passes(self, qs: int, ptk: int, ref: int, market: bool) -> bool:
        """The filters a plain market or limit order meets (``filters.check``), in integer units."""
        u = self.u
        if qs <= 0 or (not market and ptk <= 0):
            return False
        if not market and (
            (self.min_p is not None and ptk < self.min_p) or (self.max_p is not None and ptk > self.max_p)
        ):
            return False
        if qs < u.min_q or (u.max_q is not None and qs > u.max_q):
            return False
        if market and u.mkt_max_q is not None and qs > u.mkt_max_q:
            return False
        n = ref * qs
        if n < u.min_n and (self.apply_min or not market):
            return False
        return not (u.max_n is not None and n > u.max_n and (self.apply_max or not market))

    def cancel_all(self) -> None:
        """``ctx.cancel_all``: every open order canceled, its lock released."""
        if self.eng is not None:
            self.eng.cancel_all()
            return
        self.log.append((self.now, None, None, None))
        if not self.n_open:
            return
        for o in self._open_orders():
            self._release(o)
            o.filed = False
            o.st = 3
        self.markets, self.fresh, self.bids, self.bid_keys, self.asks, self.ask_keys = [], [], [], [], [], []
        self.n_open = 0
        self.ver += 1
        self.due = -1

    def _open_orders(self) -> list[_O]:
        return sorted(self.markets + self.fresh + self.bids + self.asks, key=_by_id)

    def _release(self, o: _O) -> None:
        if o.lock:
            release_lock(self, o.buy, o.lock)
            o.lock = 0

    # -- the book of resting limits ----------------------------------------------------------------
    def _file(self, o: _O) -> None:
        o.filed = True
        if o.buy:
            k = bisect.bisect_right(self.bid_keys, -o.p)
            self.bid_keys.insert(k, -o.p)
            self.bids.insert(k, o)
        else:
            k = bisect.bisect_right(self.ask_keys, o.p)
            self.ask_keys.insert(k, o.p)
            self.asks.insert(k, o)

    def _unfile(self, o: _O) -> None:
        o.filed = False
        if o.buy:
            keys, ws, key = self.bid_keys, self.bids, -o.p
        else:
            keys, ws, key = self.ask_keys, self.asks, o.p
        k = bisect.bisect_left(keys, key)
        while ws[k] is not o:
            k += 1
        del keys[k]
        del ws[k]

    # -- candles ---------------------------------------------------------------------------------
    def next_due(self, start: int) -> int:
        """The first candle from ``start`` where an open order may act."""
        if self.markets or self.fresh:
            return start
        j = self.n
        if self.bids:
            level = max(-_I64, min(_I64, self.bids[0].edge))
            j = jit.first_reach(self.los, self.lblk, start, level, above=False)
        if self.asks:
            level = max(-_I64, min(_I64, self.asks[0].edge))
            j = min(j, jit.first_reach(self.hs, self.hblk, start, level, above=True))
        return j

    def advance_to(self, i: int) -> None:
        """Process every candle up to and including ``i`` where an order may act."""
        due = self.due
        if due < 0:
            due = self.next_due(self.now + 1)
        while due <= i:
            self.step(due)
            due = self.next_due(due + 1)
        self.due = due

    def step(self, i: int) -> None:
        """Candle ``i``, swept as :meth:`Matching.on_bar` sweeps it."""
        o, h, lo, c, v, ts = self.rows[i].tolist()
        budget = (v * self.pn) // self.pd if v > 0 else 0
        iv = self.interval
        # the opening leg: everything that acts at the open, in acceptance order
        act: list[tuple[_O, int]] = [(w, 0) for w in self.markets]
        for w in self.fresh:
            if o <= w.p if w.buy else o >= w.p:
                act.append((w, 1))
        nb = bisect.bisect_right(self.bid_keys, -(o + self.through))
        act += [(w, 2) for w in self.bids[:nb]]
        na = bisect.bisect_right(self.ask_keys, o - self.through)
        act += [(w, 2) for w in self.asks[:na]]
        if len(act) > 1:
            act.sort(key=lambda x: x[0].id)
        for w, what in act:
            if budget <= 0:
                break
            if w.st >= 2:
                continue
            if what == 2:
                budget = self._maker(w, budget, ts, i)
            else:
                budget = self._taker(w, budget, o, h, lo, v, ts, i)
        if self.markets:
            self.markets = [w for w in self.markets if w.st < 2]
        if self.fresh:  # after the first look: what is left rests at its price
            for w in self.fresh:
                if w.st < 2:
                    self._file(w)
            self.fresh = []
        if budget <= 0 or not (self.bids or self.asks):  # the legs act on resting limits only
            return
        first, second = (h, lo) if (h - o) < (o - lo) else (lo, h)
        for a, b, t in ((o, first, ts + iv // 3), (first, second, ts + 2 * iv // 3), (second, c, ts + iv - 1)):
            budget = self._leg(a, b, t, budget, i)
            if budget <= 0:
                return

    def _leg(self, a: int, b: int, t: int, budget: int, i: int) -> int:
        """One monotonic leg ``a -> b``: the orders it trades through, in the order it reaches them."""
        th = self.through
        nb0 = bisect.bisect_right(self.bid_keys, -(a + th))  # bids reached where the leg starts
        na0 = bisect.bisect_right(self.ask_keys, a - th)  # asks reached where the leg starts
        if b <= a:
            more = self.bids[nb0 : bisect.bisect_right(self.bid_keys, -(b + th))]
        else:
            more = self.asks[na0 : bisect.bisect_right(self.ask_keys, b - th)]
        if nb0 or na0:
            first = self.bids[:nb0] + self.asks[:na0]
            first.sort(key=_by_id)
            more = first + more
        for w in more:
            if w.st >= 2:
                continue
            budget = self._maker(w, budget, t, i)
            if budget <= 0:
                break
        return budget

    def _taker(self, w: _O, budget: int, ref: int, h: int, lo: int, v: int, t: int, i: int) -> int:
        """A market order, or a limit on its first look, at the open ``ref`` (``_market_fill`` / ``_taker_fill``)."""
        u = self.u
        want = w.q - w.filled
        s = u.slip(h - lo, min(want, budget), v)
        price = min(ref + s, h) if w.buy else max(ref - s, lo)
        if not w.mkt:
            price = min(price, w.p) if w.buy else max(price, w.p)
        q = min(want, budget)
        if w.buy and w.mkt:
            q = min(q, self.qf // (price * u.kq))
        if q <= 0:
            return budget
        self._fill(w, price, q, False, t, i)
        return budget - q

    def _maker(self, w: _O, budget: int, t: int, i: int) -> int:
        q = min(w.q - w.filled, budget)
        self._fill(w, w.p, q, True, t, i)
        return budget - q

    def _fill(self, w: _O, p: int, q: int, maker: bool, t: int, i: int) -> None:
        """Book a fill exactly as ``Matching._fill`` does for a spot account."""
        notional, fee, pos, cash, released = book_fill(self, self.u, w.buy, w.mkt, w.p, p, q, maker)
        w.lock -= released
        if w.buy and pos:  # the engine books no change of zero (a fee that takes all it bought)
            self.any_base = True
        w.filled += q
        w.fees += fee
        self.ver += 1
        self.fills.append((t, w.id, w.buy, p, q, notional, fee, maker, i, pos, cash))
        if w.filled >= w.q:
            w.st = 2
            self._release(w)
            self.n_open -= 1
            if w.filed:  # market orders and limits on their first look leave their lists in step()
                self._unfile(w)
        else:
            w.st = 1

    # -- the engine path, when it takes over -------------------------------------------------------
    def replayed(self, upto: int | None) -> _Runner:
        """A fresh engine-path runner with every recorded call replayed, up to candle ``upto`` (None: the end)."""
        return _replay(self.new_runner, self.log, upto)

    def _hand_over(self) -> _Runner:
        """Put the engine path in the lane's state (by replaying the recorded calls) and let it run on."""
        self.eng = self.replayed(self.now)
        return self.eng

    def events(self) -> Callable[[], list[Event]]:
        """A function that builds ``Result.events`` (the engine path replaying the recorded calls).

        It holds the calls and the runner factory only, not the lane (its orders and fills).
        """
        new_runner, log = self.new_runner, list(self.log)
        return lambda: _replay(new_runner, log, None).events

    # -- what the callback reads -------------------------------------------------------------------
    def position(self) -> Decimal:
        """Base held (free and locked), exact."""
        return _dec_with(self.bf + self.bl, *self.dub)

    def free_cash(self) -> Decimal:
        """Free quote balance, exact."""
        return _dec_with(self.qf, *self.duq)

    # -- results ---------------------------------------------------------------------------------
    def frames(self) -> tuple[Any, Any, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Fills and orders frames and equity deltas, built as the kernel builds them."""
        fcols = [np.array(c) for c in (zip(*self.fills, strict=True) if self.fills else [()] * 11)]
        rows = [(o.id, o.buy, o.mkt, o.q, o.filled, o.p, _STATUS[o.st], o.fees) for o in self.orders]
        ocols = [np.array(c) for c in (zip(*rows, strict=True) if rows else [()] * 8)]
        return _frames(self.u, self.m, fcols, ocols)

    def balances(self) -> dict[str, tuple[Decimal, Decimal]]:
        """Final balances, shaped like ``Engine.balances``."""
        u, m = self.u, self.m
        out = {m.quote: (_dec(self.qf, u.uq), _dec(self.ql, u.uq))}
        if self.any_base:
            out[m.base] = (_dec(self.bf, u.ub), _dec(self.bl, u.ub))
        return dict(sorted(out.items()))


def _replay(new_runner: Callable[[], _Runner], log: list[tuple[Any, ...]], upto: int | None) -> _Runner:
    """A fresh engine-path runner with the calls of ``log`` replayed, up to candle ``upto`` (None: the end)."""
    r = new_runner()
    cur = -1
    for i, buy, qty, limit in log:
        if i != cur:
            r.advance_to(i)
            r.now = cur = i
            r.ctx.i, r.ctx.close = i, r.close_f[i]
        if buy is None:
            r.cancel_all()
        else:
            r.place(Side.BUY if buy else Side.SELL, qty, limit)
    if upto is None:
        r.advance_to(r.n - 1)
    elif upto != cur:
        r.advance_to(upto)
        r.now = upto
        r.ctx.i, r.ctx.close = upto, r.close_f[upto]
    return r
