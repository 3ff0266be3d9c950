"""Market data of one symbol: trade prints, candles and a synthetic order book.

Two sources of trade prints:

- :class:`SyntheticSource`: a seeded generator. Volatility clusters (log-variance follows an
  AR(1) per minute), trade arrivals are Poisson with an intensity that rises with volatility,
  trade sizes are log-normal. Minute ``k`` depends only on ``(seed, symbol, k)`` and the state at
  the end of minute ``k-1``, so the path is a pure function of time: it does not depend on how
  often the venue ticks, and a restart with the same anchor regenerates the same history.
- :class:`ReplaySource`: replays a candles DataFrame the user supplies; each candle becomes four
  prints (open, the nearer extreme, the other extreme, close, at the engine's intra-candle
  times), so the candles rebuilt from the prints equal the input. Gaps in the data stay gaps.

:class:`Candles` aggregates prints into base-interval candles and serves klines for any
multiple interval. :class:`Book` builds a synthetic book around the latest print.

Examples
--------
>>> from decimal import Decimal as D
>>> from kit.localnet.config import DEFAULT_SYMBOLS
>>> src = SyntheticSource(DEFAULT_SYMBOLS[0], seed=7, live_start_ms=1_700_000_040_000, history_minutes=5)
>>> prints = src.prints_until(1_700_000_100_000)
>>> all(p.ts_ms <= 1_700_000_100_000 for p in prints) and len(prints) > 0
True
>>> len(src.candles.bars) >= 5
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from typing import Any

import numpy as np

from kit.localnet.config import SymbolSpec

MINUTE_MS = 60_000
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Print:
    """One public trade. ``buyer_maker`` True means the seller was the aggressor."""

    id: int
    ts_ms: int
    price: Decimal
    qty: Decimal
    buyer_maker: bool


# ------------------------------------------------------------------ candles
INTERVALS_MS: dict[str, int] = {
    "1s": 1000,
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "6h": 21_600_000,
    "8h": 28_800_000,
    "12h": 43_200_000,
    "1d": 86_400_000,
    "3d": 259_200_000,
    "1w": 604_800_000,
}


WEEK_MS = 604_800_000
_MONDAY_MS = 345_600_000  # 1970-01-05 00:00 UTC: Binance's weekly candles open on Monday 00:00 UTC
#: Intervals Binance serves that are not a fixed number of milliseconds (calendar months).
CALENDAR_INTERVALS = ("1M",)


def open_time(ts_ms: int, interval_ms: int) -> int:
    """Open time of the ``interval_ms`` candle holding ``ts_ms`` (weeks open on Mondays, as Binance).

    >>> open_time(1_700_000_000_000, 3_600_000)
    1699999200000
    >>> from datetime import UTC, datetime
    >>> datetime.fromtimestamp(open_time(1_700_000_000_000, WEEK_MS) / 1000, UTC).strftime("%a %H:%M")
    'Mon 00:00'
    """
    off = _MONDAY_MS if interval_ms == WEEK_MS else 0
    return ts_ms - (ts_ms - off) % interval_ms


def month_open(ts_ms: int, months_ahead: int = 0) -> int:
    """Open time (UTC, ms) of the calendar month holding ``ts_ms``, or ``months_ahead`` months later.

    >>> month_open(1_700_000_000_000), month_open(1_700_000_000_000, 2)
    (1698796800000, 1704067200000)
    """
    from datetime import UTC, datetime

    d = datetime.fromtimestamp(ts_ms / 1000, UTC)
    k = d.year * 12 + d.month - 1 + months_ahead
    return int(datetime(k // 12, k % 12 + 1, 1, tzinfo=UTC).timestamp() * 1000)


class Candles:
    """Base-interval candles keyed by open time.

    Rows are ``[open, high, low, close, volume, quote_volume, trades, taker_buy_base, taker_buy_quote]``.

    ``fill_gaps`` makes empty intervals flat zero-volume candles at the previous close (Binance
    behaviour for a quiet live market); replayed data keeps its gaps.
    """

    def __init__(self, base_ms: int, *, fill_gaps: bool) -> None:
        self.base_ms = base_ms
        self.fill_gaps = fill_gaps
        self.bars: dict[int, list[Any]] = {}

    def add_bar(
        self,
        ts_ms: int,
        o: Decimal,
        h: Decimal,
        low: Decimal,
        c: Decimal,
        v: Decimal,
        qv: Decimal,
        n: int,
        tbv: Decimal = ZERO,
        tbq: Decimal = ZERO,
    ) -> None:
        """Store a whole candle (history, replay)."""
        self.bars[ts_ms] = [o, h, low, c, v, qv, n, tbv, tbq]

    def add_print(self, p: Print) -> None:
        """Fold a trade print into its base candle."""
        ts = p.ts_ms - p.ts_ms % self.base_ms
        quote = p.price * p.qty
        bar = self.bars.get(ts)
        if bar is None:
            taker_buy = not p.buyer_maker
            self.bars[ts] = [
                p.price,
                p.price,
                p.price,
                p.price,
                p.qty,
                quote,
                1,
                p.qty if taker_buy else ZERO,
                quote if taker_buy else ZERO,
            ]
            return
        if p.price > bar[1]:
            bar[1] = p.price
        if p.price < bar[2]:
            bar[2] = p.price
        bar[3] = p.price
        bar[4] += p.qty
        bar[5] += quote
        bar[6] += 1
        if not p.buyer_maker:
            bar[7] += p.qty
            bar[8] += quote

    def klines(
        self, interval_ms: int, *, start_ms: int | None, end_ms: int | None, limit: int, now_ms: int
    ) -> list[list[Any]]:
        """Binance kline rows (strings for decimals) for candles opening in [start, end].

        Without ``start_ms`` the most recent ``limit`` candles up to ``end_ms`` (or now) are
        returned; the candle still forming at ``now_ms`` is included.
        """
        if interval_ms % self.base_ms:
            raise ValueError("interval is not a multiple of the data interval")
        return self._rows(
            lambda t, k: open_time(t, interval_ms) + k * interval_ms, start_ms=start_ms, end_ms=end_ms, limit=limit,
            now_ms=now_ms,
        )  # fmt: skip

    def month_klines(self, *, start_ms: int | None, end_ms: int | None, limit: int, now_ms: int) -> list[list[Any]]:
        """Binance ``1M`` kline rows: calendar months (UTC), as :meth:`klines` otherwise."""
        return self._rows(month_open, start_ms=start_ms, end_ms=end_ms, limit=limit, now_ms=now_ms)

    def _rows(
        self, opening: Any, *, start_ms: int | None, end_ms: int | None, limit: int, now_ms: int
    ) -> list[list[Any]]:
        """Rows of the candles ``opening(ts, k)`` gives: the open of ``ts``'s candle, ``k`` candles on."""
        if not self.bars:
            return []
        lo = opening(min(self.bars), 0)
        top = now_ms if end_ms is None else min(end_ms, now_ms)
        hi = opening(top, 0)
        rows: list[list[Any]] = []
        if start_ms is not None:
            ts = opening(start_ms, 0)
            ts = max(lo, ts if ts == start_ms else opening(start_ms, 1))
            prev = self._close_before(ts)
            while ts <= hi and len(rows) < limit:
                nxt = opening(ts, 1)
                row = self._aggregate(ts, nxt - ts, prev)
                if row is not None:
                    rows.append(row)
                    if self.fill_gaps:
                        prev = Decimal(row[4])
                ts = nxt
            return rows
        ts = hi
        while ts >= lo and len(rows) < limit:
            nxt = opening(ts, 1)
            row = self._aggregate(ts, nxt - ts, None)
            if row is None and self.fill_gaps:
                row = self._aggregate(ts, nxt - ts, self._close_before(ts))
            if row is not None:
                rows.append(row)
            ts = opening(ts - 1, 0)
        rows.reverse()
        return rows

    def _close_before(self, ts_ms: int) -> Decimal | None:
        if not self.fill_gaps:
            return None
        best = None
        for t in self.bars:
            if t < ts_ms and (best is None or t > best):
                best = t
        return self.bars[best][3] if best is not None else None

    def _aggregate(self, ts: int, interval_ms: int, prev_close: Decimal | None) -> list[Any] | None:
        parts = [self.bars[t] for t in range(ts, ts + interval_ms, self.base_ms) if t in self.bars]
        close_time = ts + interval_ms - 1
        if not parts:
            if prev_close is None:
                return None
            p = _s(prev_close)
            z = _s(ZERO)
            return [ts, p, p, p, p, z, close_time, z, 0, z, z, "0"]
        o, c = parts[0][0], parts[-1][3]
        h = max(b[1] for b in parts)
        low = min(b[2] for b in parts)
        v = sum((b[4] for b in parts), ZERO)
        qv = sum((b[5] for b in parts), ZERO)
        n = sum(b[6] for b in parts)
        tbv = sum((b[7] for b in parts), ZERO)
        tbq = sum((b[8] for b in parts), ZERO)
        return [ts, _s(o), _s(h), _s(low), _s(c), _s(v), close_time, _s(qv), n, _s(tbv), _s(tbq), "0"]

    def window(self, start_ms: int, end_ms: int) -> list[list[Any]]:
        """Raw base bars with open time in [start_ms, end_ms] (for the 24h ticker)."""
        lo = start_ms - start_ms % self.base_ms
        return [self.bars[t] for t in range(lo, end_ms + 1, self.base_ms) if t in self.bars]


_EIGHT = Decimal("0.00000001")


def _s(x: Decimal) -> str:
    """Binance's wire form of a decimal: plain, at least 8 decimals (``"60009.40000000"``)."""
    return format(x.quantize(_EIGHT) if x.as_tuple().exponent > -8 else x, "f")  # type: ignore[operator]


def quantize(x: Decimal, step: Decimal, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    """Round ``x`` to a multiple of ``step``."""
    return (x / step).to_integral_value(rounding=rounding) * step


# ------------------------------------------------------------------ sources
class SyntheticSource:
    """Seeded synthetic trade prints for one symbol (see module docstring)."""

    def __init__(self, spec: SymbolSpec, *, seed: int, live_start_ms: int, history_minutes: int) -> None:
        self.spec = spec
        self.seed = seed
        self.tick = spec.tick_size
        self._key = sum(ord(ch) * 131**i for i, ch in enumerate(spec.symbol)) % (2**31)
        self.candles = Candles(MINUTE_MS, fill_gaps=True)
        sigma_day = spec.daily_vol
        self._sigma_bar = sigma_day / math.sqrt(1440.0)  # typical per-minute return std
        self._mu = 2 * math.log(self._sigma_bar)  # mean log-variance
        self._phi, self._eta = 0.97, 0.25  # AR(1) persistence / vol of vol
        self._logp = math.log(float(spec.price))
        self._h = self._mu
        self._next_id = 1
        self._pending: list[Print] = []
        self._cursor_ms = live_start_ms - 1  # prints up to here were handed out
        self._minute = live_start_ms // MINUTE_MS  # next live minute to generate
        self._history(live_start_ms // MINUTE_MS, history_minutes)

    def _rng(self, minute: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self._key, minute])

    def _history(self, first_live_minute: int, n: int) -> None:
        """Vectorised minute candles before live start (no individual prints)."""
        if n <= 0:
            return
        rng = np.random.default_rng([self.seed, self._key, 0, first_live_minute])
        z = rng.standard_normal(n)
        h = np.empty(n)
        state = self._mu
        for i in range(n):
            state = self._mu + self._phi * (state - self._mu) + self._eta * z[i]
            h[i] = state
        sigma = np.exp(h / 2)
        rets = sigma * rng.standard_normal(n)
        # end at the configured price: walk backwards from it
        logc = math.log(float(self.spec.price)) - np.cumsum(rets[::-1])[::-1] + rets
        logo = logc - rets
        wick_hi = np.abs(rng.standard_normal(n)) * sigma * 0.6
        wick_lo = np.abs(rng.standard_normal(n)) * sigma * 0.6
        logh = np.maximum(logo, logc) + wick_hi
        logl = np.minimum(logo, logc) - wick_lo
        rate = self.spec.trades_per_min * sigma / self._sigma_bar
        counts = rng.poisson(np.maximum(rate, 0.1))
        sizes = counts * float(self.spec.trade_qty) * np.exp(0.5 * rng.standard_normal(n))
        step = self.spec.step_size
        first_ts = (first_live_minute - n) * MINUTE_MS
        prev_c: Decimal | None = None
        for i in range(n):
            o = prev_c if prev_c is not None else self._px(math.exp(logo[i]))
            c = self._px(math.exp(logc[i]))
            hi = max(self._px(math.exp(logh[i])), o, c)
            lo = min(self._px(math.exp(logl[i])), o, c)
            v = quantize(Decimal(repr(float(sizes[i]))), step, ROUND_DOWN)
            mid = (o + c) / 2
            qv = quantize(v * mid, Decimal("0.00000001"))
            tb = quantize(v / 2, step, ROUND_DOWN)
            self.candles.add_bar(
                first_ts + i * MINUTE_MS,
                o,
                hi,
                lo,
                c,
                v,
                qv,
                int(counts[i]),
                tb,
                quantize(tb * mid, Decimal("0.00000001")),
            )
            prev_c = c
        self._h = float(h[-1])
        self._logp = math.log(float(prev_c)) if prev_c is not None else self._logp

    def _px(self, x: float) -> Decimal:
        ticks = max(1, round(x / float(self.tick)))
        return self.tick * ticks

    def _gen_minute(self) -> list[Print]:
        minute = self._minute
        self._minute += 1
        rng = self._rng(minute)
        self._h = self._mu + self._phi * (self._h - self._mu) + self._eta * float(rng.standard_normal())
        sigma = math.exp(self._h / 2)
        n = int(rng.poisson(max(self.spec.trades_per_min * sigma / self._sigma_bar, 0.1)))
        offs = np.sort(rng.integers(0, MINUTE_MS, n))
        z = rng.standard_normal(n)
        sizes = float(self.spec.trade_qty) * np.exp(0.8 * rng.standard_normal(n))
        u = rng.random(n)
        base = minute * MINUTE_MS
        spread = max(1, round(math.exp(self._logp) * self.spec.spread_bps / 1e4 / float(self.tick)))
        out: list[Print] = []
        step, min_qty = self.spec.step_size, self.spec.min_qty
        last_off = 0
        for i in range(n):
            dt = max(int(offs[i]) - last_off, 1)
            last_off = int(offs[i])
            ret = sigma * math.sqrt(dt / MINUTE_MS) * float(z[i])
            self._logp += ret
            mid_ticks = math.exp(self._logp) / float(self.tick)
            buy = u[i] < (0.65 if ret > 0 else 0.35)
            ticks = math.floor(mid_ticks - spread / 2) + (spread if buy else 0)
            price = self.tick * max(ticks, 1)
            qty = max(quantize(Decimal(repr(float(sizes[i]))), step, ROUND_DOWN), min_qty)
            out.append(Print(self._next_id, base + int(offs[i]), price, qty, not buy))
            self._next_id += 1
        return out

    def prints_until(self, ts_ms: int) -> list[Print]:
        """New prints with time in (last call's ``ts_ms``, ``ts_ms``], oldest first."""
        while self._minute * MINUTE_MS <= ts_ms:
            self._pending.extend(self._gen_minute())
        out: list[Print] = []
        keep: list[Print] = []
        for p in self._pending:
            (out if p.ts_ms <= ts_ms else keep).append(p)
        self._pending = keep
        for p in out:
            self.candles.add_print(p)
        self._cursor_ms = max(self._cursor_ms, ts_ms)
        return out

    def move_to(self, price: Decimal) -> None:
        """Continue the path from ``price`` (after an injected trade)."""
        self._logp = math.log(float(price))
        self._pending = []

    @property
    def next_id(self) -> int:
        """Id the next print will get."""
        return self._next_id

    def take_id(self) -> int:
        """Reserve an id for an injected print."""
        self._next_id += 1
        return self._next_id - 1


class ReplaySource:
    """Trade prints replayed from a candles DataFrame (see module docstring)."""

    def __init__(self, spec: SymbolSpec, frame: Any) -> None:
        import pandas as pd

        if frame.empty:
            raise ValueError(f"{spec.symbol}: the candles DataFrame is empty")
        idx = pd.DatetimeIndex(frame.index)
        if idx.tz is None:
            raise ValueError(f"{spec.symbol}: candles need a tz-aware UTC DatetimeIndex (use df.tz_localize('UTC'))")
        ts = (idx.tz_convert("UTC").as_unit("ms").asi8).astype(np.int64)
        diffs = np.diff(ts)
        base = int(diffs[diffs > 0].min()) if len(diffs) else MINUTE_MS
        self.spec = spec
        self.base_ms = base
        self.candles = Candles(base, fill_gaps=False)
        self.first_ms = int(ts[0])
        self.end_ms = int(ts[-1]) + base
        tick, step = spec.tick_size, spec.step_size
        self._prints: list[Print] = []
        cols = [frame[c].to_numpy() for c in ("open", "high", "low", "close", "volume")]
        for i, t in enumerate(ts):
            o, h, low, c = (quantize(Decimal(repr(float(col[i]))), tick) for col in cols[:4])
            h, low = max(h, o, c), min(low, o, c)
            v = quantize(Decimal(repr(float(cols[4][i]))), step, ROUND_DOWN)
            first, second = (h, low) if h - o <= o - low else (low, h)
            part = quantize(v / 4, step, ROUND_DOWN)
            qtys = [part, part, part, v - 3 * part]
            t0 = int(t)
            times = [t0, t0 + base // 3, t0 + 2 * base // 3, t0 + base - 1]
            for k, (px, q) in enumerate(zip((o, first, second, c), qtys, strict=True)):
                buyer_maker = k == 1 and px == low or k == 2 and px == low
                self._prints.append(Print(0, times[k], px, q, buyer_maker))
        self._pos = 0
        self._next_id = 1
        self.first_price = self._prints[0].price
        self._live: SyntheticSource | None = None
        self._live_from_ms = 0

    def go_live(self, *, seed: int, start_ms: int, price: Decimal) -> None:
        """Continue after the replayed candles with a seeded synthetic path from ``price`` (the last close).

        Prints at or after ``start_ms`` (not before the replay's end) follow the replay: a demo whose
        history is a record gets a market that moves by itself from then on (``/_localnet/clock/live``).
        """
        spec = replace(self.spec, price=price)
        self._live_from_ms = max(int(start_ms), self.end_ms)
        self._live = SyntheticSource(spec, seed=seed, live_start_ms=self._live_from_ms, history_minutes=0)

    def prints_until(self, ts_ms: int) -> list[Print]:
        """New prints with time <= ``ts_ms``; zero-volume prints shape candles only."""
        out: list[Print] = []
        while self._pos < len(self._prints) and self._prints[self._pos].ts_ms <= ts_ms:
            raw = self._prints[self._pos]
            self._pos += 1
            if not raw.qty:
                self._flat(raw)
                continue
            p = Print(self.take_id(), raw.ts_ms, raw.price, raw.qty, raw.buyer_maker)
            self.candles.add_print(p)
            out.append(p)
        if self._live is not None and self._pos >= len(self._prints):
            for raw in self._live.prints_until(ts_ms):
                if raw.ts_ms < self._live_from_ms:  # the first live minute began before the switch
                    continue
                p = Print(self.take_id(), raw.ts_ms, raw.price, raw.qty, raw.buyer_maker)
                self.candles.add_print(p)
                out.append(p)
        return out

    def _flat(self, p: Print) -> None:
        ts = p.ts_ms - p.ts_ms % self.base_ms
        bar = self.candles.bars.get(ts)
        if bar is None:
            self.candles.add_bar(ts, p.price, p.price, p.price, p.price, ZERO, ZERO, 0)
        else:
            bar[1], bar[2], bar[3] = max(bar[1], p.price), min(bar[2], p.price), p.price

    def move_to(self, price: Decimal) -> None:
        """Replay ignores injected prices (the data decides); a live continuation goes on from them."""
        if self._live is not None:
            self._live.move_to(price)

    def take_id(self) -> int:
        """Reserve an id for an injected print."""
        self._next_id += 1
        return self._next_id - 1


class MirrorSource:
    """Trade prints of another venue's public feed (the paper venue's market; see :mod:`kit.paper`).

    An upstream reader calls :meth:`feed` from any thread; the venue takes the prints at its next
    tick through :meth:`prints_until`. Prints are stamped with their local receive time (made
    non-decreasing), never the upstream's own time: the venue's clock is this machine's wall
    clock, and a print stamped before an order that was placed after it arrived could fill it.

    Parameters
    ----------
    spec
        The symbol.
    history
        Upstream 1m kline rows ``[ts, open, high, low, close, volume]`` for the candles' past.

    Examples
    --------
    >>> from decimal import Decimal as D
    >>> from kit.localnet.config import DEFAULT_SYMBOLS
    >>> src = MirrorSource(DEFAULT_SYMBOLS[0], history=[[60_000, 100, 101, 99, 100.5, 2]])
    >>> src.feed(120_500, D("100.7"), D("0.3"), buyer_maker=False)
    >>> src.feed(120_400, D("100.6"), D("0.1"), buyer_maker=True)   # late: stamped 120_500 too
    >>> [(p.id, p.ts_ms, p.price) for p in src.prints_until(121_000)]
    [(1, 120500, Decimal('100.7')), (2, 120500, Decimal('100.6'))]
    >>> src.candles.bars[120_000][:4]
    [Decimal('100.7'), Decimal('100.7'), Decimal('100.6'), Decimal('100.6')]
    """

    def __init__(self, spec: SymbolSpec, *, history: list[list[Any]] | None = None) -> None:
        import threading

        self.spec = spec
        self.candles = Candles(MINUTE_MS, fill_gaps=True)
        self._lock = threading.Lock()
        self._pending: list[tuple[int, Decimal, Decimal, bool]] = []
        self._last_ts = 0
        self._next_id = 1
        self.received = 0
        for row in history or []:
            o, h, lo, c, v = (Decimal(str(x)) for x in row[1:6])
            self.candles.add_bar(int(row[0]), o, h, lo, c, v, v * c, 0)
        self.first_price = self._last_close() or spec.price

    def _last_close(self) -> Decimal | None:
        bars = self.candles.bars
        return bars[max(bars)][3] if bars else None

    def feed(self, ts_ms: int, price: Decimal, qty: Decimal, *, buyer_maker: bool) -> None:
        """Queue one upstream print received at ``ts_ms`` (local wall clock)."""
        with self._lock:
            ts = max(int(ts_ms), self._last_ts)
            self._last_ts = ts
            self._pending.append((ts, price, qty, buyer_maker))
            self.received += 1

    def prints_until(self, ts_ms: int) -> list[Print]:
        """Queued prints stamped at or before ``ts_ms``, oldest first."""
        with self._lock:
            take = [x for x in self._pending if x[0] <= ts_ms]
            self._pending = [x for x in self._pending if x[0] > ts_ms]
        out = []
        for ts, price, qty, bm in take:
            p = Print(self.take_id(), ts, price, qty, bm)
            self.candles.add_print(p)
            out.append(p)
        return out

    def move_to(self, price: Decimal) -> None:
        """A mirror follows its upstream; an injected print does not move it."""

    @property
    def next_id(self) -> int:
        """Id the next print will get."""
        return self._next_id

    def take_id(self) -> int:
        """Reserve an id for a print."""
        self._next_id += 1
        return self._next_id - 1
