"""The signals fast path of :func:`kit.engine.replay.run`: the engine's rules in integer units.

With signals given up front, at most one order works at a time (an entry, or an exit), so the
fill rules reduce to: find the next candle that can fill it (a vectorized scan over integer
tick arrays), then fill it there exactly as :class:`~kit.engine.Engine` would: the same leg
order and times, participation budget, slippage, fee rounding and balances. Prices are counted
in ticks, quantities in steps, and quote and base amounts in the largest unit that makes every
amount an integer, so the arithmetic is exact and cheap; balances are turned back into Decimals
at the end. ``tests/engine/test_kernel.py`` checks with hypothesis that this path and the engine
path (``run(..., path="engine")``) give identical fills, orders and balances.
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from kit.engine.frames import coded, fills_frame, orders_frame, to_tick
from kit.engine.jit import first_index
from kit.engine.types import Market, Side

if TYPE_CHECKING:
    from kit.engine.fillmodel import FillModel
    from kit.engine.replay import _Runner


def book_fill(
    acct: Any, u: Units, buy: bool, market: bool, limit: int, p: int, q: int, maker: bool
) -> tuple[int, int, int, int, int]:
    """Move ``acct``'s integer balances for one fill of ``q`` steps at ``p`` ticks, as ``Engine._fill`` does.

    ``acct`` has ``qf``, ``ql`` (free and locked quote, in ``u.uq``) and ``bf``, ``bl`` (base, in
    ``u.ub``); ``limit`` is a limit order's price in ticks (its reservation is released at it).
    Returns ``(notional, fee, position change, cash change, reservation released)``: the fee in
    ``ub`` for a buy (paid in base, never more than received), in ``uq`` for a sell. The signals
    kernel and the callback lane (:mod:`kit.engine.lane`) both book with it.
    """
    notional = p * q * u.kq
    if buy:
        fee = min(_fee(q, u.buy_fee[maker]) * u.kfb, q * u.ks)
        released = 0
        if not market:
            released = q * limit * u.kq
            acct.ql -= released
            acct.qf += released - notional
        else:
            acct.qf -= notional
        net_base = q * u.ks - fee
        acct.bf += net_base
        return notional, fee, net_base, -notional, released
    fee = min(_fee(p * q, u.sell_fee[maker]) * u.kfq, notional)
    released = q * u.ks
    acct.bl -= released
    acct.qf += notional - fee
    return notional, fee, -released, notional - fee, released


def release_lock(acct: Any, buy: bool, lock: int) -> None:
    """Move an order's remaining reservation ``lock`` back to free: quote units for a buy, base units for a sell."""
    if buy:
        acct.qf += lock
        acct.ql -= lock
    else:
        acct.bf += lock
        acct.bl -= lock


class NotExact(ValueError):
    """The inputs do not fit integer units (e.g. cash not a multiple of the fee precision)."""


def _gcd(a: Fraction, b: Fraction) -> Fraction:
    return Fraction(math.gcd(a.numerator * b.denominator, b.numerator * a.denominator), a.denominator * b.denominator)


def _int(x: Fraction, what: str) -> int:
    if x.denominator != 1:
        raise NotExact(f"{what} is not a whole number of units")
    return x.numerator


class Units:
    """Integer units for one market: ticks, steps, quote units ``uq`` and base units ``ub``."""

    def __init__(self, m: Market, fm: FillModel) -> None:
        t, s, fp = Fraction(m.tick_size), Fraction(m.step_size), Fraction(m.fee_precision)
        self.t, self.s = t, s
        self.uq, self.ub = _gcd(t * s, fp), _gcd(s, fp)
        self.kq = _int(t * s / self.uq, "tick*step")  # quote units per (tick x step)
        self.ks = _int(s / self.ub, "step")  # base units per step
        self.kfq = _int(fp / self.uq, "fee precision")
        self.kfb = _int(fp / self.ub, "fee precision")
        mk, tk = Fraction(m.maker_fee), Fraction(m.taker_fee)
        # fee in fee-precision units = ceil(n * ratio): sells pay on P*Q, buys on Q
        self.sell_fee = {True: _ratio(t * s * mk / fp), False: _ratio(t * s * tk / fp)}
        self.buy_fee = {True: _ratio(s * mk / fp), False: _ratio(s * tk / fp)}
        # exact int ratios for float output (int / int division is correctly rounded)
        self.f_t, self.f_s, self.f_uq, self.f_ub = _ratio(t), _ratio(s), _ratio(self.uq), _ratio(self.ub)
        # filter bounds as whole steps / (tick x step) units: q >= min  <=>  q >= ceil(min)
        self.min_q = math.ceil(Fraction(m.min_qty) / s)
        self.max_q = math.floor(Fraction(m.max_qty) / s) if m.max_qty is not None else None
        self.mkt_max_q = math.floor(Fraction(m.market_max_qty) / s) if m.market_max_qty is not None else None
        self.min_n = math.ceil(Fraction(m.min_notional) / (t * s))
        self.max_n = math.floor(Fraction(m.max_notional) / (t * s)) if m.max_notional is not None else None
        p = Fraction(fm.participation)
        self.part = (p.numerator, p.denominator)
        imp = Fraction(fm.impact)
        self.imp = (imp.numerator, imp.denominator)
        self.slip_min = fm.slippage_ticks
        self.through = fm.trade_through_ticks

    def passes(self, q: int, p: int, market: bool) -> bool:
        """LOT_SIZE, MARKET_LOT_SIZE and NOTIONAL for ``q`` steps at ``p`` ticks, as ``filters.check``."""
        if q < self.min_q or (self.max_q is not None and q > self.max_q):
            return False
        if market and self.mkt_max_q is not None and q > self.mkt_max_q:
            return False
        n = p * q
        return n >= self.min_n and (self.max_n is None or n <= self.max_n)

    def slip(self, r: int, q: int, v: int) -> int:
        """Slippage in ticks: ``FillModel.slipped_price`` for range ``r`` ticks, ``q`` of ``v`` steps.

        The half spread (``slippage_ticks``) plus ``ceil(impact * r * sqrt(q / v))``, computed
        exactly: the smallest ``k`` with ``k**2 * b**2 * v >= a**2 * r**2 * q`` for impact ``a/b``.
        """
        a, b = self.imp
        if v <= 0 or r <= 0 or a == 0:
            return self.slip_min
        x, y = a * a * r * r * q, b * b * v
        k = math.isqrt(x // y)
        while k * k * y < x:
            k += 1
        return self.slip_min + k


def _fee(n: int, ratio: tuple[int, int]) -> int:
    return -((-n * ratio[0]) // ratio[1])


def _ratio(x: Fraction) -> tuple[int, int]:
    return x.numerator, x.denominator


def _fv(n: np.ndarray, r: tuple[int, int]) -> np.ndarray:
    """Integer amounts ``n`` in units of size ``r`` as the floats nearest to the exact values.

    int64 -> float64 is exact below 2**53, and one IEEE division is correctly rounded; past that
    (or for a non-integer array) each value goes through Python's exact int / int division.
    """
    num, den = r
    if n.dtype.kind == "i" and (len(n) == 0 or int(np.abs(n).max()) * num < 2**53) and den < 2**53:
        return (n * num).astype("float64") / den
    return np.array([int(v) * num / den for v in n.tolist()], dtype="float64")


class Kernel:
    """Replays entries/exits for one spot account (see the module docstring)."""

    def __init__(self, r: _Runner, cash: Decimal) -> None:
        self.r = r
        self.u = u = Units(r.m, r.engine.fill_model)
        self._budget: np.ndarray | None = None
        self.qf = _int(Fraction(cash) / u.uq, "cash")  # quote free / locked, in uq
        self.ql = 0
        self.bf = self.bl = 0  # base free / locked, in ub
        self.orders: list[tuple[Any, ...]] = []  # integer units; see frames()
        self.fills: list[tuple[Any, ...]] = []
        self.next_id = 1
        self.any_base = False
        # the working order
        self.live = False
        self.buy = self.market = self.fresh = False
        self.oid = self.q = self.filled = self.p = self.start = self.lock = self.fees = 0
        self.status = ""
        # the compiled kernel's output (kit.engine.jit), when it ran instead of the methods below
        self.fill_arr: np.ndarray | None = None
        self.order_arr: np.ndarray | None = None

    @property
    def budget(self) -> np.ndarray:
        """Participation budget per candle, in steps (computed on first use: the compiled kernel needs none)."""
        if self._budget is None:
            self._budget = (self.r.v * self.u.part[0]) // self.u.part[1]
        return self._budget

    # -- orders ----------------------------------------------------------------------------------
    def place(self, i: int, buy: bool, q: int, p: int | None) -> None:
        """Submit ``q`` steps (at ``p`` ticks, or market) at the close of candle ``i``."""
        u, last = self.u, self.r.c.item(i)
        if q <= 0 or (p is not None and p <= 0) or not u.passes(q, p if p is not None else last, p is None):
            return
        if buy:
            need = q * (p if p is not None else last) * u.kq
            if self.qf < need:
                return
            lock = need if p is not None else 0
            self.qf -= lock
            self.ql += lock
        else:
            lock = q * u.ks
            if self.bf < lock:
                return
            self.bf -= lock
            self.bl += lock
        # a limit not marketable at submit rests as a maker from the start (Engine._on_accept)
        fresh = p is None or (p >= last if buy else p <= last)
        self.live, self.buy, self.market, self.fresh = True, buy, p is None, fresh
        self.oid, self.q, self.filled, self.p, self.start = self.next_id, q, 0, p or 0, i + 1
        self.lock, self.fees, self.status = lock, 0, "new"
        self.next_id += 1

    def cancel(self) -> None:
        """Cancel the working order and release its lock."""
        self._release()
        self.status = "canceled"
        self._close()

    def _release(self) -> None:
        release_lock(self, self.buy, self.lock)
        self.lock = 0

    def _close(self) -> None:
        self.orders.append((self.oid, self.buy, self.market, self.q, self.filled, self.p, self.status, self.fees))
        self.live = False

    # -- candles ---------------------------------------------------------------------------------
    def advance_to(self, end: int) -> None:
        """Let the working order act on candles up to and including ``end``."""
        r, u = self.r, self.u
        while self.live and self.start <= end:
            i = self.start
            if self.fresh:
                self.fresh = False
                o = r.o.item(i)
                if self.market or (o <= self.p if self.buy else o >= self.p):
                    self._taker(i, o)
                else:
                    self._maker(i)
                self.start = i + 1
                continue
            if self.market:
                j = i if self.budget.item(i) >= 1 else first_index(self.budget, i, 1, above=True)
            elif self.buy:
                j = first_index(r.lo, i, self.p - u.through, above=False)
            else:
                j = first_index(r.h, i, self.p + u.through, above=True)
            if j > end:
                self.start = j
                return
            if self.market:
                self._taker(j, r.o.item(j))
            else:
                self._maker(j)
            self.start = j + 1

    def _taker(self, i: int, ref: int) -> None:
        budget = self.budget.item(i)
        if budget <= 0:
            return
        r, u = self.r, self.u
        h, lo = r.h.item(i), r.lo.item(i)
        want = min(self.q - self.filled, budget)
        s = u.slip(h - lo, want, r.v.item(i))
        price = min(ref + s, h) if self.buy else max(ref - s, lo)
        if not self.market:
            price = min(price, self.p) if self.buy else max(price, self.p)
        q = want
        if self.buy and self.market:
            q = min(q, self.qf // (price * u.kq))
        if q > 0:
            self._fill(price, q, False, r.ts.item(i), i)

    def _maker(self, i: int) -> None:
        budget = self.budget.item(i)
        if budget <= 0:
            return
        r = self.r
        o, h, lo = r.o.item(i), r.h.item(i), r.lo.item(i)
        edge = self.p - self.u.through if self.buy else self.p + self.u.through
        if not ((lo <= edge) if self.buy else (h >= edge)):
            return
        ts, iv = r.ts.item(i), r.interval
        if (o <= edge) if self.buy else (o >= edge):
            pass
        elif ((h - o) >= (o - lo)) == self.buy:  # the leg to the nearer extreme reaches it
            ts += iv // 3
        else:
            ts += 2 * iv // 3
        # a resting maker fills at its own limit price, even when the candle gapped through it
        self._fill(self.p, min(self.q - self.filled, budget), True, ts, i)

    def _fill(self, p: int, q: int, maker: bool, ts: int, i: int) -> None:
        """Book a fill exactly as ``Engine._fill`` does for a spot account."""
        notional, fee, pos, cash, released = book_fill(self, self.u, self.buy, self.market, self.p, p, q, maker)
        self.lock -= released
        if pos:  # the engine books no change of zero (a fee that takes all a buy received)
            self.any_base = True
        self.filled += q
        self.fees += fee
        self.fills.append((ts, self.oid, self.buy, p, q, notional, fee, maker, i, pos, cash))
        if self.filled >= self.q:
            self.status = "filled"
            self._release()
            self._close()
        else:
            self.status = "partially_filled"

    def frames(self) -> tuple[pd.DataFrame, pd.DataFrame, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Fills and orders frames (as the engine path builds them) and per-fill equity deltas.

        Amounts are exact integers until here; each float is the one nearest the exact value.
        """
        if self.fill_arr is not None and self.order_arr is not None:
            fcols: list[np.ndarray] = [self.fill_arr[:, k] for k in range(11)]
            o = self.order_arr
            ocols: list[Any] = [o[:, k] for k in range(6)] + [coded(o[:, 6], list(_STATUS)), o[:, 7]]
        else:
            fcols = [np.array(c) for c in (zip(*self.fills, strict=True) if self.fills else [()] * 11)]
            ocols = [np.array(c) for c in (zip(*self.orders, strict=True) if self.orders else [()] * 8)]
        return _frames(self.u, self.r.m, fcols, ocols)

    def position_steps(self) -> int:
        """Base held (free and locked), in whole steps (rounded down)."""
        return (self.bf + self.bl) // self.u.ks

    def balances(self) -> dict[str, tuple[Decimal, Decimal]]:
        """Final balances, shaped like ``Engine.balances``."""
        u, m = self.u, self.r.m

        def dec(n: int, unit: Fraction) -> Decimal:
            return Decimal(n * unit.numerator) / Decimal(unit.denominator)

        out = {m.quote: (dec(self.qf, u.uq), dec(self.ql, u.uq))}
        if self.any_base:
            out[m.base] = (dec(self.bf, u.ub), dec(self.bl, u.ub))
        return dict(sorted(out.items()))


_STATUS = ("new", "partially_filled", "filled", "canceled")
_IDS: list[np.ndarray] = [np.array([], dtype="<U4")]


def _client_ids(ids: np.ndarray) -> Any:
    """``kit-{id}`` for each id (the engine's default client ids); ids ``1..n`` in order come from a cache."""
    n = len(ids)
    if n and int(ids[0]) == 1 and int(ids[-1]) == n and bool((np.diff(ids) == 1).all()):
        if len(_IDS[0]) < n:
            _IDS[0] = np.array([f"kit-{i}" for i in range(1, max(n, 2 * len(_IDS[0])) + 1)])
        return _IDS[0][:n]
    return [f"kit-{i}" for i in ids.tolist()]


def _frames(
    u: Units, m: Market, fcols: list[np.ndarray], ocols: list[Any]
) -> tuple[pd.DataFrame, pd.DataFrame, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The result frames from fill and order columns (int64 arrays, or object arrays of big ints)."""
    ts, oid, buy, p, q, notional, fee, maker, idx, pos, cash = fcols
    buy = buy.astype(bool)
    fills = fills_frame(
        ts.astype("int64"),
        oid.astype("int64"),
        buy,
        _fv(p, u.f_t),
        _fv(q, u.f_s),
        _fv(notional, u.f_uq),
        np.where(buy, _fv(fee, u.f_ub), _fv(fee, u.f_uq)),
        coded(buy.astype(np.int64), [m.quote, m.base]),
        maker.astype(bool),
    )
    o_id, o_buy, o_mkt, o_q, o_f, o_p, o_st, o_fee = ocols
    o_buy, o_mkt = o_buy.astype(bool), o_mkt.astype(bool)
    orders = orders_frame(
        o_id.astype("int64"),
        _client_ids(o_id),
        o_buy,
        coded(o_mkt.astype(np.int64), ["limit", "market"]),
        _fv(o_q, u.f_s),
        _fv(o_f, u.f_s),
        np.where(o_mkt, np.nan, _fv(o_p, u.f_t)),
        o_st if isinstance(o_st, pd.Categorical) else [str(x) for x in o_st.tolist()],
        np.where(o_buy, _fv(o_fee, u.f_ub), _fv(o_fee, u.f_uq)),
    )
    deltas = (idx.astype("int64"), _fv(pos, u.f_ub), _fv(cash, u.f_uq))
    return fills, orders, deltas


def run_signals(r: _Runner, ent: np.ndarray, ext: np.ndarray, size: Decimal, order: str, offset: Decimal) -> Kernel:
    """Drive the kernel over the signal candles; the same decisions as ``replay._run_signals``.

    The compiled kernel (:mod:`kit.engine.jit`) runs the loop when numba is installed and the
    amounts fit int64; otherwise the methods of :class:`Kernel` do, with Python's unbounded ints.
    """
    k = Kernel(r, r.ctx.cash)
    u, m = k.u, r.m
    size_q = Fraction(size) / u.s
    entry_q = size_q.numerator if size_q.denominator == 1 else 0  # off-step sizes are rejected
    least = max(1, u.min_q)  # replay.min_tradable in steps: a position below it is dust, flat for signals
    sig = np.flatnonzero(ent | ext)
    if order == "limit":
        closes = r.close_f[sig]
        lim_sell = limit_ticks(closes * float(1 + offset), m.tick_size, Side.SELL)
        lim_buy = limit_ticks(closes * float(1 - offset), m.tick_size, Side.BUY)
    else:
        lim_sell = lim_buy = np.zeros(len(sig), dtype=np.int64)
    if _run_compiled(k, sig, ext[sig], entry_q, least, lim_buy, lim_sell, order == "market"):
        return k
    market = order == "market"
    for s, i in enumerate(sig.tolist()):
        k.advance_to(i)
        working_entry = k.live and k.buy
        working_exit = k.live and not k.buy
        if ext[i]:
            if working_entry:
                k.cancel()
            q = k.position_steps()
            if q >= least and not working_exit:
                k.place(i, False, q, None if market else int(lim_sell[s]))
        elif ent[i] and k.position_steps() < least and not k.live:
            k.place(i, True, entry_q, None if market else int(lim_buy[s]))
    k.advance_to(r.n - 1)
    if k.live:
        k._close()
    k.orders.sort()
    return k


def _run_compiled(
    k: Kernel, sig: np.ndarray, is_exit: np.ndarray, entry_q: int, least: int,
    lim_buy: np.ndarray, lim_sell: np.ndarray, market: bool,
) -> bool:  # fmt: skip
    """Run the signal loop in :mod:`kit.engine.jit`; False when it cannot (no numba, or int64 too small)."""
    from kit.engine import jit

    r, u = k.r, k.u
    if r.n == 0 or not jit.available():
        return False
    hmax, lmin, span, vmax = r.extremes
    big_p = max(hmax, int(lim_buy.max(initial=0)), int(lim_sell.max(initial=0))) + u.through + 1
    big_q = entry_q + least
    bm, bt, sm, sk = u.buy_fee[True], u.buy_fee[False], u.sell_fee[True], u.sell_fee[False]
    a, b = u.imp
    if not jit.fits([
        k.qf, big_p * big_q * u.kq, big_p * big_q * max(sm[0], sk[0]),
        (big_p * big_q * max(sm[0], sk[0]) // min(sm[1], sk[1]) + 1) * u.kfq,
        (big_q * max(bm[0], bt[0]) // min(bm[1], bt[1]) + 1) * u.kfb, big_q * u.ks,
        4 * (a * a * span * span * big_q + b * b * vmax), vmax * u.part[0], abs(lmin) * big_q * u.kq,
    ]):  # fmt: skip
        return False
    pv = {
        "market": int(market), "entry_q": entry_q, "least": least, "through": u.through, "slip_min": u.slip_min,
        "imp_a": a, "imp_b": b, "kq": u.kq, "ks": u.ks, "kfq": u.kfq, "kfb": u.kfb,
        "bm_num": bm[0], "bm_den": bm[1], "bt_num": bt[0], "bt_den": bt[1],
        "sm_num": sm[0], "sm_den": sm[1], "st_num": sk[0], "st_den": sk[1],
        "min_q": u.min_q, "max_q": -1 if u.max_q is None else u.max_q,
        "mkt_max_q": -1 if u.mkt_max_q is None else u.mkt_max_q,
        "min_n": u.min_n, "max_n": -1 if u.max_n is None else u.max_n, "cash": k.qf, "interval": r.interval,
        "part_num": u.part[0], "part_den": u.part[1],
    }  # fmt: skip
    params = np.zeros(len(jit.P), dtype=np.int64)
    for name, value in pv.items():
        params[jit.P[name]] = value
    kind = np.where(is_exit, 2, 1).astype(np.int64)
    res = jit.simulate(
        r.rows, r.hs, r.los, sig.astype(np.int64), kind, lim_buy.astype(np.int64), lim_sell.astype(np.int64), params
    )
    if res is None:
        return False
    k.fill_arr, k.order_arr, state = res
    k.qf, k.ql, k.bf, k.bl = (int(x) for x in state[:4])
    k.any_base = bool(state[4])
    return True


def limit_ticks(x: np.ndarray, tick: Decimal, side: Side) -> np.ndarray:
    """``int(to_tick(v, tick, side) / tick)`` for every float ``v`` of ``x``, exactly, vectorized.

    ``x / tick`` in floats is within a few ulps of the exact quotient of ``Decimal(repr(v))`` by
    ``tick``, so its floor (buys) or ceiling (sells) is exact unless it lies within a hair of a
    whole number; those few values, and any too large for a float's integers, go through
    :func:`~kit.engine.frames.to_tick` one by one.

    >>> limit_ticks(np.array([100.005, 0.3 * 3]), Decimal("0.01"), Side.BUY).tolist()  # 0.3 * 3 is 0.8999999999999999
    [10000, 89]
    """
    y = x / float(tick)
    if len(y) == 0:
        return np.zeros(0, dtype=np.int64)
    if not np.isfinite(y).all() or float(np.abs(y).max()) >= 2.0**52:
        return np.array([int(to_tick(v, tick, side) / tick) for v in x.tolist()], dtype=object)
    out = (np.floor(y) if side is Side.BUY else np.ceil(y)).astype(np.int64)
    near = np.abs(y - np.rint(y)) <= 1e-9 * np.maximum(1.0, np.abs(y))
    for j in np.flatnonzero(near).tolist():
        out[j] = int(to_tick(x[j], tick, side) / tick)
    return out
