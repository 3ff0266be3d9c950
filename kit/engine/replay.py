"""Fast replay of a strategy over candles, through the same engine that fills paper orders.

Two ways to give the strategy:

- signals up front (``entries`` / ``exits`` boolean arrays, as vectorbt takes them): the replay
  jumps straight from one interesting candle to the next;
- a callback ``strategy(ctx)`` called at every candle's close, which may place and cancel orders.

A callback's market and plain GTC limit orders run on an integer lane (:mod:`kit.engine.lane`, the
same fills); anything else hands the run over to the engine. Either way only candles that can
change something (a pending market order, a limit on its first look, a resting order whose price
the candle reaches, a stop whose trigger it crosses, a trailing stop, a GTD expiry) go through
:meth:`Engine.on_bar`; the others are skipped with a vectorized search. Fills keep the engine's
conservative model, partial fills and exact balances.

>>> import numpy as np, pandas as pd
>>> idx = pd.date_range("2024-01-01", periods=6, freq="1min", tz="UTC")
>>> c = pd.DataFrame({"open": [100, 101, 102, 103, 102, 101.0], "high": [101, 102, 103, 104, 103, 102.0],
...                   "low": [99, 100, 101, 102, 101, 100.0], "close": [101, 102, 103, 102, 101, 100.0],
...                   "volume": [50.0] * 6}, index=idx)
>>> m = Market("BTC/USDT", "BTC", "USDT", tick_size=Decimal("0.01"), step_size=Decimal("0.001"))
>>> r = run(c, m, cash=1000, entries=np.array([1, 0, 0, 0, 0, 0], bool),
...         exits=np.array([0, 0, 0, 1, 0, 0], bool), size="1")
>>> r.fills[["side", "price", "quantity"]].values.tolist()
[['buy', 101.16, 1.0], ['sell', 101.84, 0.999]]
"""

from __future__ import annotations

import gc
import heapq
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from kit.engine import jit, kernel
from kit.engine import lane as _lane
from kit.engine.engine import Engine
from kit.engine.fillmodel import FillModel
from kit.engine.frames import fills_frame, orders_frame
from kit.engine.frames import to_tick as _to_tick
from kit.engine.lane import Lane
from kit.engine.order import OrderSpec
from kit.engine.types import Bar, Event, EventKind, Liquidity, Market, OrderRequest, OrderType, Side, TimeInForce
from kit.engine.working import Working

__all__ = ["Context", "Result", "run"]

ZERO = Decimal(0)
_COLUMNS = ("open", "high", "low", "close", "volume")
_ACCOUNT = "replay"


@dataclass(init=False)
class Result:
    """What a replay produced.

    Attributes
    ----------
    fills:
        One row per fill, indexed by fill time: order_id, side, price, quantity, quote, fee,
        fee_asset, liquidity.
    orders:
        One row per order with its final state.
    equity:
        Cash plus position at each candle's close, in quote currency.
    stats:
        Headline numbers: fills, orders, fees, final equity, return, and ``dust``: the base
        amount left that no sell can include (fees taken in the base asset leave a remainder
        below one step; see :func:`dust`).
    balances:
        Exact final balances, ``asset -> (free, locked)``.
    events:
        Every engine event, in order. Empty on the signals fast path; on the callback lane
        (:mod:`kit.engine.lane`) built when first read, by the engine replaying the recorded calls.
    """

    fills: pd.DataFrame
    orders: pd.DataFrame
    equity: pd.Series
    stats: dict[str, Any]
    balances: dict[str, tuple[Decimal, Decimal]]
    _events: list[Event] | Callable[[], list[Event]] = field(repr=False, compare=False)

    def __init__(self, fills: pd.DataFrame, orders: pd.DataFrame, equity: pd.Series, stats: dict[str, Any],
                 balances: dict[str, tuple[Decimal, Decimal]],
                 events: list[Event] | Callable[[], list[Event]]) -> None:  # fmt: skip
        self.fills, self.orders, self.equity, self.stats, self.balances = fills, orders, equity, stats, balances
        self._events = events  # a list, or a function that builds it when first read

    @property
    def events(self) -> list[Event]:
        """Every engine event, in order (see the class docstring)."""
        if callable(self._events):
            self._events = self._events()
        return self._events

    def __getstate__(self) -> dict[str, Any]:
        """For pickling: the events are built first (the function that builds them stays here)."""
        _ = self.events
        return self.__dict__


class Context:
    """What a strategy callback sees at a candle's close, and how it acts.

    ``i`` is the candle index, ``close`` its close (float), ``position`` the base held and
    ``cash`` the free quote balance (both exact), ``open_orders`` how many orders are working.
    Orders placed now work from the next candle.
    """

    __slots__ = ("i", "close", "position", "cash", "_run")

    def __init__(self, runner: _Runner) -> None:
        self.i = 0
        self.close = 0.0
        self.position = ZERO
        self.cash = ZERO
        self._run = runner

    @property
    def open_orders(self) -> int:
        """Number of working orders."""
        return len(self._run.hits)

    def buy(self, qty: Decimal | str | float, limit: float | Decimal | None = None, **kw: Any) -> str:
        """Buy ``qty`` at market, or at ``limit``; returns the client order id."""
        return self._run.place(Side.BUY, qty, limit, **kw)

    def sell(self, qty: Decimal | str | float, limit: float | Decimal | None = None, **kw: Any) -> str:
        """Sell ``qty`` at market, or at ``limit``; returns the client order id."""
        return self._run.place(Side.SELL, qty, limit, **kw)

    def cancel_all(self) -> None:
        """Cancel every working order."""
        self._run.cancel_all()


class _LaneContext(Context):
    """The :class:`Context` of the callback lane: the same calls, balances read from its integers."""

    __slots__ = ("_lane", "_pver", "_pos", "_cver", "_cash")

    def __init__(self, lane: Lane) -> None:  # Context.__init__ would assign the views below
        self.i = 0
        self.close = 0.0
        self._run = lane  # type: ignore[assignment]  # the runner's calls, as the runner has them
        self._lane = lane
        self._pver = self._cver = -1
        self._pos = self._cash = ZERO

    @property
    def position(self) -> Decimal:  # type: ignore[override]  # read-only here: the lane keeps the balances
        """Base held (free and locked), exact."""
        lane = self._lane
        if lane.eng is not None:
            return lane.eng.ctx.position
        if self._pver != lane.ver:
            self._pos, self._pver = lane.position(), lane.ver
        return self._pos

    @property
    def cash(self) -> Decimal:  # type: ignore[override]
        """Free quote balance, exact."""
        lane = self._lane
        if lane.eng is not None:
            return lane.eng.ctx.cash
        if self._cver != lane.ver:
            self._cash, self._cver = lane.free_cash(), lane.ver
        return self._cash

    @property
    def open_orders(self) -> int:
        """Number of working orders."""
        lane = self._lane
        return len(lane.eng.hits) if lane.eng is not None else lane.n_open


class _Runner:
    """Drives one replay: arrays for the scan, the engine for every candle that matters."""

    #: Reuse the (immutable) request of an order placed before with the same fields (see place()).
    reuse_requests = True

    def __init__(self, candles: pd.DataFrame, market: Market, cash: Decimal, fill_model: FillModel | None) -> None:
        missing = [c for c in _COLUMNS if c not in candles.columns]
        if missing:
            raise ValueError(f"candles need columns {_COLUMNS}; missing {missing}")
        if not isinstance(candles.index, pd.DatetimeIndex) or candles.index.tz is None:
            raise ValueError("candles must be indexed by a tz-aware DatetimeIndex (UTC open times)")
        self.m = market
        self.n = len(candles)
        units = _candle_units(candles, float(market.tick_size), float(market.step_size))
        self.rows, self.hs, self.los, self.close_f, self.ts, self.interval, self.extremes, blk = units
        self.hblk, self.lblk = blk
        self.o, self.h, self.lo, self.c, self.v = (self.rows[:, k] for k in range(5))
        ts = self.ts
        self.engine = Engine([market], fill_model=fill_model)
        start = int(ts[0]) if self.n else 0
        self.events: list[Event] = self.engine.open_account(_ACCOUNT, {market.quote: cash}, ts_ms=start)
        self.acct = self.engine._accounts[_ACCOUNT]
        self.marked = -1  # the candle whose close the engine last took as its last price (place())
        self.next_freeze = FREEZE_EVERY  # event count at which _take() freezes what the replay kept
        self.freezing = _FREEZING.get()
        self.hits: dict[int, int] = {}  # order id -> next candle index where it may act
        self.due: list[tuple[int, int]] = []  # heap of (candle, order id); entries not in ``hits`` are stale
        self.heap_min = self.n
        self.ctx = Context(self)
        self.ctx.cash = cash
        self.now = -1
        self.fill_rows: list[tuple[Any, ...]] = []
        self.deltas: list[tuple[int, float, float]] = []  # (candle, position change, cash change) per fill
        self.requests: dict[tuple[Any, ...], OrderRequest] = {}  # see place()

    # -- orders ----------------------------------------------------------------------------------
    def place(self, side: Side, qty: Any, limit: Any, *, trigger: Any = None, kind: OrderType | None = None,
              tif: TimeInForce = TimeInForce.GTC, trailing_bps: int | None = None) -> str:  # fmt: skip
        m, i = self.m, self.now
        q = Decimal(str(qty)) if not isinstance(qty, Decimal) else qty
        price = _to_tick(limit, m.tick_size, side) if limit is not None else None
        trig = _to_tick(trigger, m.tick_size, side) if trigger is not None else None
        if kind is None:
            kind = OrderType.LIMIT if price is not None else OrderType.MARKET
        # a request is immutable: the same market order placed again (a fixed size, the same exit)
        # reuses it; the key holds the amount's digits and exponent, so 0.010 and 0.01 stay apart.
        # Orders with prices rarely repeat exactly: they are built afresh (a key would only cost).
        key = (side, q.as_tuple(), kind, trailing_bps, tif) if price is None and trig is None else None
        req = self.requests.get(key) if key is not None and self.reuse_requests else None
        if req is None:
            req = OrderSpec(m.symbol, side, q, price=price, type=kind, trigger_price=trig,
                            trailing_bps=trailing_bps, time_in_force=tif).to_request()  # fmt: skip
            if key is not None:
                if len(self.requests) >= 4096:
                    self.requests.clear()
                self.requests[key] = req
        ts = 0
        if i >= 0:
            close, ts = self.rows[i, 3:6:2].tolist()
            ts += self.interval - 1
            if i != self.marked:  # the close becomes the engine's last price, once per candle (nothing
                self.engine.mark(m.symbol, Decimal(close) * m.tick_size, ts)  # else moves it in a callback)
                self.marked = i
            elif self.engine._gtd:
                self.engine.advance(ts)
        ev = self.engine.submit(_ACCOUNT, req, ts_ms=ts)
        self._take(ev, i)
        e0 = ev[0]
        if e0.kind is EventKind.ACCEPTED and e0.order is not None:
            w = self.engine._orders[e0.order.id]
            if w.status.is_open:
                self._rescan(w, i + 1)
            return w.client_id
        return ""

    def cancel_all(self) -> None:
        ts = int(self.ts[self.now]) + self.interval - 1 if self.now >= 0 else 0
        self._take(self.engine.cancel_all(_ACCOUNT, ts_ms=ts), self.now)

    def _rescan(self, w: Working, start: int) -> None:
        """Find the first candle from ``start`` where order ``w`` may act."""
        oid = w.id
        t = self.m.tick_size
        if w.req.type.is_trailing or w.is_market or w.req.expire_at_ms is not None or (w.fresh and w.is_limit):
            # a limit's first look is the next candle, whatever its range: it takes if the open is
            # marketable, else it rests from then on (a one-shot one expires), so that candle counts
            j = start
        elif w.req.type.is_conditional and not w.triggered:
            assert w.trigger is not None
            level = int(w.trigger / t)
            up = w.trigger_up
            j = jit.first_reach(self.hs if up else self.los, self.hblk if up else self.lblk, start, level, above=up)
        else:
            assert w.price is not None
            level = int(w.price / t)
            up = not w.buy
            j = jit.first_reach(self.hs if up else self.los, self.hblk if up else self.lblk, start, level, above=up)
        self.hits[oid] = j
        heapq.heappush(self.due, (j, oid))
        if j < self.heap_min:
            self.heap_min = j

    def _take(self, events: list[Event], i: int) -> None:
        """Record events: fills move the position and cash; closed orders leave the scan."""
        self.events += events
        ctx, hits, base, quote = self.ctx, self.hits, self.m.base, self.m.quote
        for e in events:
            f = e.fill
            o = e.order
            if f is not None:
                buy = f.side is Side.BUY
                sign = 1 if buy else -1
                net_qty = f.quantity - (f.fee if f.fee_asset == base else ZERO)
                net_quote = f.quote_quantity + (f.fee if f.fee_asset == quote else ZERO) * sign
                ctx.position += sign * net_qty
                self.deltas.append((i, float(sign * net_qty), -float(sign * net_quote)))
                row = (f.ts_ms, f.order_id, buy, float(f.price), float(f.quantity), float(f.quote_quantity),
                       float(f.fee), f.fee_asset, f.liquidity is Liquidity.MAKER)  # fmt: skip
                self.fill_rows.append(row)
            if o is not None and not o.status.is_open:
                hits.pop(o.id, None)
        ctx.cash = self.acct.free(quote)
        if len(self.events) >= self.next_freeze:
            self._freeze_kept()

    # -- candles ---------------------------------------------------------------------------------
    def step(self, i: int) -> None:
        """Run candle ``i`` through the engine, then rescan the orders it touched."""
        t = self.m.tick_size
        o, h, lo, c, v, ts = self.rows[i].tolist()  # one call for the row's six ints
        bar = Bar(ts, Decimal(o) * t, Decimal(h) * t, Decimal(lo) * t, Decimal(c) * t, Decimal(v) * self.m.step_size,
                  self.interval)  # fmt: skip
        self._take(self.engine.on_bar(self.m.symbol, bar), i)
        due, hits = self.due, self.hits
        while due and due[0][0] <= i:  # only the orders due by this candle, not every working order
            j, oid = heapq.heappop(due)
            if hits.get(oid) == j:
                self._rescan(self.engine._orders[oid], i + 1)
        while due and hits.get(due[0][1]) != due[0][0]:
            heapq.heappop(due)
        self.heap_min = due[0][0] if due else self.n

    def advance_to(self, i: int) -> None:
        """Process every candle up to and including ``i`` that can change something."""
        while self.heap_min <= i:
            self.step(self.heap_min)

    def _freeze_kept(self) -> None:
        """Every :data:`FREEZE_EVERY` events, move the objects so far out of the collector's reach.

        The replay keeps what it makes (events, order snapshots, fills: ``Result.events``), so the
        collector's older generations grow with the orders and every full pass walks all of them
        again. Freezing them (only inside :func:`_older_objects_frozen`, which unfreezes at the end)
        leaves the passes to what was made since. The engine makes no reference cycles, so nothing
        collectable is held back; a callback's own cyclic garbage that is still uncollected at a
        freeze waits for the end of the run.
        """
        self.next_freeze = len(self.events) + FREEZE_EVERY
        if self.freezing:
            gc.freeze()


#: Candle sets already in integer units: id(frame) -> (weak reference, its index, layout, digest, units).
_UNITS: dict[int, tuple[Any, ...]] = {}
_UNITS_MAX = 4


def _candle_units(candles: pd.DataFrame, tick: float, step: float) -> tuple[Any, ...]:
    """Candles in integer units (ticks, steps, ms), computed once per candle set and reused.

    ``(rows, high, low, close, open times, interval, extremes)``: ``rows`` is (n, 6) int64 (open, high,
    low, close, volume, open time; see :func:`kit.engine.jit.candle_ticks`), ``high`` and ``low``
    contiguous int64, ``close`` the float closes, ``extremes`` the highest high, lowest low, widest
    range and largest volume (the kernel's int64 bounds). A frame replayed again (a parameter sweep, a
    notebook re-run) reuses its conversion while it is the same object with the same index,
    memory, tick and step, and the digest of its floats (:func:`kit.engine.jit.fingerprint`, one
    pass) is unchanged, so a frame edited in place is converted again.
    """
    block = candles[list(_COLUMNS)].to_numpy(dtype="float64").T  # (5, n); a view for one float block
    digest = jit.fingerprint(block)
    layout = (block.__array_interface__["data"][0], block.shape, block.strides, tick, step)
    key = id(candles)
    hit = _UNITS.get(key)
    if digest is not None and hit is not None and hit[0]() is candles and hit[1] is candles.index:
        if hit[2] == layout and hit[3] == digest:
            return hit[4]  # type: ignore[no-any-return]
    n = len(candles)
    index = candles.index
    assert isinstance(index, pd.DatetimeIndex)
    ts = np.asarray(index.as_unit("ms").asi8, dtype=np.int64)
    steps = np.diff(ts)
    interval = int(steps[steps > 0].min()) if n > 1 and (steps > 0).any() else 60_000
    conv = jit.candle_ticks(block, ts, tick, step)  # one compiled pass; None without numba, or on NaN
    if conv is None:
        if np.isnan(block).any():
            raise ValueError("candles contain NaN; drop or fill those rows explicitly first")
        rows = np.empty((n, 6), dtype=np.int64)
        for k in range(4):
            rows[:, k] = np.rint(block[k] / tick)
        rows[:, 4] = np.floor(block[4] / step + 1e-9)
        rows[:, 5] = ts
        conv = (rows, rows[:, 1].copy(), rows[:, 2].copy())
    rows, hs, los = conv
    extremes = (int(hs.max()), int(los.min()), int((hs - los).max()), int(rows[:, 4].max())) if n else (0, 0, 0, 0)
    units = (*conv, block[3], ts, interval, extremes, (jit.blocks(hs, above=True), jit.blocks(los, above=False)))
    if digest is not None:
        if len(_UNITS) >= _UNITS_MAX:
            del _UNITS[next(iter(_UNITS))]
        _UNITS[key] = (weakref.ref(candles, lambda _: _UNITS.pop(key, None)), candles.index, layout, digest, units)
    return units


def run(
    candles: pd.DataFrame,
    market: Market,
    *,
    cash: Decimal | str | int = "10000",
    entries: np.ndarray | None = None,
    exits: np.ndarray | None = None,
    size: Decimal | str = "0.01",
    order: str = "market",
    limit_offset: Decimal | str = "0.001",
    strategy: Callable[[Context], None] | Any = None,
    fill_model: FillModel | None = None,
    path: str = "auto",
) -> Result:
    """Replay candles through the engine, with signals or a callback strategy.

    Parameters
    ----------
    candles:
        UTC-indexed DataFrame with open, high, low, close, volume.
    market:
        The symbol's rules (tick, step, fees, filters).
    cash:
        Starting quote balance.
    entries, exits:
        Boolean arrays: at the close of candle ``i``, enter (buy ``size``) when flat, or exit
        (sell the position, cancelling an unfilled entry). A position below the market's
        minimum tradable quantity (:func:`min_tradable`: fee dust) counts as flat.
    size:
        Base quantity per entry.
    order:
        ``"market"`` or ``"limit"`` (limit ``limit_offset`` away from the close, resting GTC).
    strategy:
        Instead of signals: a :class:`kit.strategy.Strategy` subclass or instance (its ``next()``
        at every close), or a plain callback ``strategy(ctx)`` (see :class:`Context`).
    fill_model:
        Fill model for the engine (conservative by default).
    path:
        ``"auto"``: signals take the fast path (:mod:`kit.engine.kernel`, same fills, no event
        objects: ``Result.events`` is empty); a callback takes the integer lane
        (:mod:`kit.engine.lane`: same fills, orders, balances and equity; ``Result.events`` built
        when first read), which hands over to the engine at the first order it does not
        replicate; ``"engine"``: every order goes through :class:`Engine` and ``Result.events``
        has every event.

    Returns
    -------
    Result
        Fills, orders, equity curve, stats, exact balances and events.
    """
    if strategy is not None and hasattr(strategy, "as_replay_callback"):  # a kit.strategy.Strategy (class or instance)
        strategy = (strategy() if isinstance(strategy, type) else strategy).as_replay_callback(candles, market)
    if (strategy is None) == (entries is None and exits is None):
        raise ValueError("give either entries/exits signals or a strategy callback, not both or neither")
    if order not in ("market", "limit"):
        raise ValueError(f"order must be 'market' or 'limit', got {order!r}")
    if path not in ("auto", "engine"):
        raise ValueError(f"path must be 'auto' or 'engine', got {path!r}")
    with _older_objects_frozen():
        return _run(candles, market, cash, entries, exits, size, order, limit_offset, strategy, fill_model, path)


@contextmanager
def _older_objects_frozen() -> Iterator[None]:
    """Keep the garbage collector's full passes to the objects this replay creates.

    A replay on the engine path keeps every event, order snapshot and fill it makes (they are
    ``Result.events``), so the collector's full passes come due a few times per run, and each one
    walks every object in the process: the user's candles, signal lists and imported libraries
    included (about a quarter of a year's callback run, measured). ``gc.freeze()`` moves the
    objects that exist before the replay out of the collector's reach until it ends; objects made
    during the replay are collected as usual (cycles included), so memory stays bounded. Skipped when the
    collector is off or the caller froze objects itself (``gc.get_freeze_count()``), so it never
    undoes a caller's freeze.

    >>> with _older_objects_frozen():
    ...     frozen_inside = gc.get_freeze_count() > 0
    >>> frozen_inside == gc.isenabled(), gc.get_freeze_count()
    (True, 0)
    """
    if not gc.isenabled() or gc.get_freeze_count():
        yield
        return
    gc.freeze()
    token = _FREEZING.set(True)
    try:
        yield
    finally:
        _FREEZING.reset(token)
        gc.unfreeze()


#: True inside :func:`_older_objects_frozen`: the replay may freeze what it keeps as it goes.
_FREEZING: ContextVar[bool] = ContextVar("kit_replay_freezing", default=False)
#: Events between two freezes of the replay's kept objects (:meth:`_Runner._freeze_kept`).
FREEZE_EVERY = 4096


def _run(candles: pd.DataFrame, market: Market, cash: Decimal | str | int, entries: np.ndarray | None,
         exits: np.ndarray | None, size: Decimal | str, order: str, limit_offset: Decimal | str,
         strategy: Callable[[Context], None] | None, fill_model: FillModel | None, path: str) -> Result:  # fmt: skip
    r = _Runner(candles, market, Decimal(cash), fill_model)
    if strategy is not None:
        lane = None
        if path == "auto" and _lane.supported(market, fill_model):
            try:
                lane = Lane(r, Decimal(cash), lambda: _Runner(candles, market, Decimal(cash), fill_model))
            except kernel.NotExact:  # cash that is not a whole number of units: the engine path
                lane = None
        if lane is None:
            _run_callback(r, strategy)
        else:
            taken = _run_lane(lane, strategy)
            if taken is None:
                fills, orders, deltas = lane.frames()
                return _result(r, candles, fills, orders, deltas, lane.balances(), lane.events())
            r = taken  # the engine path took over (an order the lane does not replicate)
    else:
        ent, ext = _signals(r.n, entries, exits)
        if path == "auto":
            try:
                k = kernel.run_signals(r, ent, ext, Decimal(size), order, Decimal(limit_offset))
                fills, orders, deltas = k.frames()
                return _result(r, candles, fills, orders, deltas, k.balances(), [])
            except kernel.NotExact:  # amounts that do not fit integer units: take the engine path
                r = _Runner(candles, market, Decimal(cash), fill_model)
        _run_signals(r, ent, ext, Decimal(size), order, Decimal(limit_offset))
    r.advance_to(r.n - 1)
    eng = r.engine  # the final state of every order, read from the engine's own records (no snapshots)
    ws = [eng._orders[i] for i in eng._history[_ACCOUNT]]
    orders = orders_frame(
        np.array([w.id for w in ws], dtype="int64"), [w.client_id for w in ws],
        np.array([w.buy for w in ws], dtype=bool), [w.req.type.value for w in ws],
        np.array([float(w.qty if w.qty is not None else w.filled) for w in ws]),
        np.array([float(w.filled) for w in ws]),
        np.array([np.nan if w.price is None else float(w.price) for w in ws]), [w.status.value for w in ws],
        np.array([float(w.fees) for w in ws]),
    )  # fmt: skip
    cols = list(zip(*r.fill_rows, strict=True)) if r.fill_rows else [()] * 9
    f64 = [np.array(c, dtype="float64") for c in cols[3:7]]
    fills = fills_frame(
        np.array(cols[0], dtype="int64"), np.array(cols[1], dtype="int64"), np.array(cols[2], dtype=bool),
        f64[0], f64[1], f64[2], f64[3], list(cols[7]), np.array(cols[8], dtype=bool),
    )  # fmt: skip
    cols = list(zip(*r.deltas, strict=True)) if r.deltas else [(), (), ()]
    deltas = (np.array(cols[0], dtype="int64"), np.array(cols[1], dtype="float64"), np.array(cols[2], dtype="float64"))
    return _result(r, candles, fills, orders, deltas, r.engine.balances(_ACCOUNT), r.events)


def _signals(n: int, entries: np.ndarray | None, exits: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    ent = np.zeros(n, bool) if entries is None else np.asarray(entries, bool)
    ext = np.zeros(n, bool) if exits is None else np.asarray(exits, bool)
    if len(ent) != n or len(ext) != n:
        raise ValueError(f"entries and exits must have one value per candle ({n}), got {len(ent)} and {len(ext)}")
    return ent, ext


def _run_callback(r: _Runner, strategy: Callable[[Context], None]) -> None:
    ctx, closes = r.ctx, r.close_f
    for i in range(r.n):
        if r.heap_min <= i:
            r.advance_to(i)
        r.now = i
        ctx.i = i
        ctx.close = closes[i]
        strategy(ctx)


def _run_lane(lane: Lane, strategy: Callable[[Context], None]) -> _Runner | None:
    """The callback loop on the lane; the engine-path runner if it took over midway, else None."""
    ctx = _LaneContext(lane)
    closes = lane.r.close_f
    n = lane.n
    i = 0
    while i < n:
        if lane.due <= i:
            lane.advance_to(i)
        ctx.i = lane.now = i  # the candle of the callback's calls (their orders act from the next one)
        ctx.close = closes[i]
        strategy(ctx)
        if lane.eng is not None:
            break
        i += 1
    r = lane.eng
    if r is None:
        lane.advance_to(n - 1)
        return None
    for j in range(i + 1, n):  # the rest of the run on the engine path (the context reads from it)
        if r.heap_min <= j:
            r.advance_to(j)
        r.now = j
        ctx.i = j
        ctx.close = closes[j]
        strategy(ctx)
    return r


def _run_signals(r: _Runner, ent: np.ndarray, ext: np.ndarray, size: Decimal, order: str, offset: Decimal) -> None:
    ctx = r.ctx
    entry_id = exit_id = ""
    least = min_tradable(r.m)  # a position below it is dust: flat for the signals
    for i in np.flatnonzero(ent | ext).tolist():
        r.advance_to(i)
        r.now = i
        close = r.close_f[i]
        live = {r.engine._orders[o].client_id for o in r.hits}
        entry_id = entry_id if entry_id in live else ""
        exit_id = exit_id if exit_id in live else ""
        if ext[i]:
            if entry_id:
                r.cancel_all()
                entry_id = ""
            qty = (ctx.position // r.m.step_size) * r.m.step_size
            if qty >= least and not exit_id:
                exit_id = r.place(Side.SELL, qty, close * float(1 + offset) if order == "limit" else None)
        elif ent[i] and (ctx.position // r.m.step_size) * r.m.step_size < least and not entry_id and not exit_id:
            entry_id = r.place(Side.BUY, size, close * float(1 - offset) if order == "limit" else None)


def min_tradable(m: Market) -> Decimal:
    """The smallest base quantity an order may carry: the larger of one step and ``min_qty``.

    A position below it cannot be sold, so for signals it counts as flat (the replay enters
    again); it stays in the balances and ``Result.stats["dust"]`` reports it.

    >>> min_tradable(Market("X/Y", "X", "Y", tick_size=Decimal("0.01"), step_size=Decimal("0.01")))
    Decimal('0.01')
    """
    return max(m.step_size, m.min_qty)


def dust(m: Market, held: Decimal) -> Decimal:
    """The part of a base balance ``held`` no sell order can include.

    All of it when its whole steps are below :func:`min_tradable`, else what is below one step.

    >>> m = Market("X/Y", "X", "Y", tick_size=Decimal("0.01"), step_size=Decimal("0.01"))
    >>> dust(m, Decimal("0.009")), dust(m, Decimal("1.009"))
    (Decimal('0.009'), Decimal('0.009'))
    """
    whole = (held // m.step_size) * m.step_size
    return held if whole < min_tradable(m) else held - whole


def _result(r: _Runner, candles: pd.DataFrame, fills: pd.DataFrame, orders: pd.DataFrame,
            deltas: tuple[np.ndarray, np.ndarray, np.ndarray], balances: dict[str, tuple[Decimal, Decimal]],
            events: list[Event] | Callable[[], list[Event]]) -> Result:  # fmt: skip
    start_cash = float(r.events[0].balance_changes[0].free) if r.events and r.events[0].balance_changes else 0.0
    idx, dp, dc = deltas
    eq = jit.equity(r.n, start_cash, r.close_f, idx, dp, dc)
    equity = pd.Series(eq, index=candles.index, name="equity")
    final = float(equity.iloc[-1]) if len(equity) else start_cash
    base_fee = fills.fee_asset == r.m.base
    fees_in_quote = float((fills.fee * fills.price.where(base_fee, 1.0)).sum()) if len(fills) else 0.0
    stats = {
        "candles": r.n,
        "orders": len(orders),
        "trades": int((orders.filled > 0).sum()) if len(orders) else 0,
        "fills": len(fills),
        "fees": fees_in_quote,
        "fees_quote": float(fills.loc[fills.fee_asset == r.m.quote, "fee"].sum()) if len(fills) else 0.0,
        "fees_base": float(fills.loc[fills.fee_asset == r.m.base, "fee"].sum()) if len(fills) else 0.0,
        "final_equity": final,
        "return_pct": (final / start_cash - 1) * 100 if start_cash else 0.0,
        "dust": float(dust(r.m, sum(balances.get(r.m.base, (ZERO, ZERO)), ZERO))),
    }
    return Result(fills, orders, equity, stats, balances, events)
