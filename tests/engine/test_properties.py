"""Hypothesis properties of the fill engine, written from the contract (/tmp/engine-api.md).

A scenario is a random market (tick and step from small sets), a random fill model, random
balances, and a random sequence of operations: candles (OHLC-consistent, on tick, volume >= 0),
order submissions of every type and time in force, cancels, amends, trade prints, book snapshots,
time advances, deposits and withdrawals. The driver runs it and records, per engine call, the
input and the events; each property then checks one rule over that record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kit.engine import (
    Bar,
    BookSnapshot,
    Engine,
    FillModel,
    Market,
    OrderRequest,
    OrderType,
    Side,
    TimeInForce,
    Trade,
    state_from_events,
)
from kit.engine.types import EventKind, Liquidity

D = Decimal
ZERO = D(0)
MIN = 60_000
T0 = 60_000 * 20_000_000
P0 = 2000  # start price in ticks
SYM = "X/Q"
ACCOUNTS = ("a", "b")
EXAMPLES = settings(max_examples=500, deadline=None)
# 500 examples each: 3-14 s per test on a loaded 2-core machine, so outside the fast loop (make fast).
pytestmark = pytest.mark.slow

# --------------------------------------------------------------------------------------------
# strategies
# --------------------------------------------------------------------------------------------

markets = st.builds(
    lambda tick, step, maker, taker, fp: Market(
        SYM, "X", "Q", tick_size=D(tick), step_size=D(step), maker_fee=D(maker), taker_fee=D(taker), fee_precision=D(fp)
    ),
    st.sampled_from(["0.01", "0.5", "1", "0.00001"]),
    st.sampled_from(["0.001", "0.1", "1"]),
    st.sampled_from(["0", "0.001", "0.0025"]),
    st.sampled_from(["0", "0.001", "0.002"]),
    st.sampled_from(["0.00000001"]),  # coarse fee precision: see test_orders (fee above proceeds)
)

fill_models = st.builds(
    lambda tt, at, q, p, sl, im: FillModel(
        trade_through_ticks=tt,
        at_touch=at,
        queue_ahead_fraction=D(q),
        participation=D(p),
        slippage_ticks=sl,
        impact=D(im),
    ),
    st.sampled_from([0, 1, 2]),
    st.booleans(),
    st.sampled_from(["0", "0.5"]),
    st.sampled_from(["0.1", "0.5", "1"]),
    st.sampled_from([0, 1, 3]),
    st.sampled_from(["0", "0.5"]),
)

bar_op = st.tuples(
    st.just("bar"),
    st.integers(-3, 3),  # gap from the last close, ticks
    st.integers(0, 25),  # up
    st.integers(0, 25),  # down
    st.integers(0, 1000),  # close position in the range, per mille
    st.sampled_from(["0", "0.5", "1", "10", "100", "1000", "5000"]),
)

submit_op = st.tuples(
    st.just("submit"),
    st.sampled_from(ACCOUNTS),
    st.sampled_from(list(OrderType)),
    st.sampled_from([Side.BUY, Side.SELL]),
    st.integers(1, 40),  # quantity in steps
    st.integers(-30, 30),  # limit price offset, ticks
    st.integers(-30, 30),  # trigger offset, ticks
    st.sampled_from([TimeInForce.GTC, TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK, TimeInForce.GTD]),
    st.sampled_from([1, 30_000, 60_000, 150_000]),  # GTD lifetime
    st.sampled_from(["plain", "plain", "plain", "post_only", "hidden", "iceberg", "quote", "client_dup"]),
    st.sampled_from([10, 50, 100, 500]),  # trailing bps
    st.booleans(),  # trailing activation price given
)

cancel_op = st.tuples(st.just("cancel"), st.sampled_from(ACCOUNTS), st.integers(0, 50), st.booleans())
amend_op = st.tuples(
    st.just("amend"),
    st.sampled_from(ACCOUNTS),
    st.integers(0, 50),
    st.one_of(st.none(), st.integers(1, 40)),
    st.one_of(st.none(), st.integers(-30, 30)),
)
trade_op = st.tuples(
    st.just("trade"),
    st.integers(-30, 30),
    st.sampled_from(["0.5", "1", "10", "100"]),
    st.sampled_from([Side.BUY, Side.SELL]),
)
book_op = st.tuples(
    st.just("book"),
    st.integers(-5, 5),
    st.integers(1, 4),  # mid offset, spread in ticks
    st.lists(st.tuples(st.integers(1, 3), st.sampled_from(["0.5", "1", "3", "20"])), min_size=0, max_size=3),
    st.lists(st.tuples(st.integers(1, 3), st.sampled_from(["0.5", "1", "3", "20"])), min_size=0, max_size=3),
)
advance_op = st.tuples(st.just("advance"), st.integers(1, 400))
money_op = st.tuples(
    st.just("money"),
    st.sampled_from(ACCOUNTS),
    st.sampled_from(["X", "Q"]),
    st.booleans(),
    st.sampled_from(["1", "10", "1000", "100000"]),
)

ops = st.lists(
    st.one_of(
        bar_op, bar_op, submit_op, submit_op, submit_op, cancel_op, amend_op, trade_op, book_op, advance_op, money_op
    ),
    min_size=1,
    max_size=16,
)

balances = st.fixed_dictionaries(
    {"X": st.sampled_from(["0", "1", "100", "1000"]), "Q": st.sampled_from(["0", "50", "10000", "10000000"])}
)


@dataclass
class Call:
    what: str
    arg: Any
    events: list
    book: BookSnapshot | None = None  # the book in force for this call


@dataclass
class Record:
    market: Market
    calls: list[Call] = field(default_factory=list)
    deposits: dict[str, Decimal] = field(default_factory=dict)
    engine: Engine | None = None
    positions: bool = False

    @property
    def events(self) -> list:
        return [e for c in self.calls for e in c.events]


# --------------------------------------------------------------------------------------------
# the driver
# --------------------------------------------------------------------------------------------


def run(market: Market, fm: FillModel, bal: dict, program: list, *, positions: bool = False,
        after_call: Any = None) -> Record:  # fmt: skip
    """Play ``program`` on a fresh engine; ``after_call(rec, call)`` runs after each engine call."""
    e = Engine([market], fill_model=fm)
    rec = Record(market, engine=e, positions=positions)
    tick, step = market.tick_size, market.step_size
    state = {"k": 1, "j": 0, "close": P0, "book": None}
    ids: dict[str, list[int]] = {a: [] for a in ACCOUNTS}

    def now() -> int:
        state["j"] += 1
        return T0 + state["k"] * MIN - 1000 + state["j"]

    def call(what: str, arg: Any, evs: list) -> None:
        c = Call(what, arg, evs, state["book"])
        rec.calls.append(c)
        for ev in evs:
            if ev.order is not None and ev.kind == EventKind.ACCEPTED:
                ids[ev.account].append(ev.order.id)
        if after_call is not None:
            after_call(rec, c)

    opened = []
    for a in ACCOUNTS:
        amounts = {k: D(v) for k, v in bal.items()}
        for k, v in amounts.items():
            rec.deposits[k] = rec.deposits.get(k, ZERO) + v
        opened.append(Call("open", a, e.open_account(a, amounts, ts_ms=0, positions=positions)))
    rec.calls.extend(opened[:-1])
    rec.calls.append(opened[-1])
    if after_call is not None:
        after_call(rec, opened[-1])

    for op in program:
        kind = op[0]
        last = state["close"]
        if kind == "bar":
            _, gap, up, down, cpos, vol = op
            o = max(last + gap, 40)
            h, lo = o + up, max(o - down, 20)
            c = lo + (h - lo) * cpos // 1000
            b = Bar(T0 + state["k"] * MIN, o * tick, h * tick, lo * tick, c * tick, D(vol))
            state["k"] += 1
            state["j"] = 0
            state["close"] = c
            call("bar", b, e.on_bar(SYM, b))
        elif kind == "submit":
            _, acct, typ, side, qsteps, poff, toff, tif, life, flavour, bps, activation = op
            kw: dict[str, Any] = {"time_in_force": tif}
            if tif == TimeInForce.GTD:
                kw["expire_at_ms"] = T0 + state["k"] * MIN - 1000 + state["j"] + 1 + life
            if typ.has_limit_price:
                kw["price"] = (last + poff) * tick
            if typ.is_conditional and not typ.is_trailing:
                kw["trigger_price"] = (last + toff) * tick
            if typ.is_trailing:
                kw["trailing_bps"] = bps
                if activation:
                    kw["trigger_price"] = (last + abs(toff) * (1 if side == Side.SELL else -1)) * tick
            if flavour == "post_only":
                kw["post_only"] = True
            elif flavour == "hidden":
                kw["hidden"] = True
            elif flavour == "iceberg" and qsteps > 1:
                kw["iceberg_qty"] = max(qsteps // 3, 1) * step
            elif flavour == "client_dup":
                kw["client_id"] = "dup"
            if positions and poff % 2:
                kw["reduce_only"] = True
            if flavour == "quote" and typ == OrderType.MARKET:
                req = OrderRequest(SYM, side, typ, quote_quantity=qsteps * step * last * tick, **kw)
            else:
                req = OrderRequest(SYM, side, typ, quantity=qsteps * step, **kw)
            call("submit", req, e.submit(acct, req, ts_ms=now()))
        elif kind == "cancel":
            _, acct, idx, unknown = op
            oid = 10**9 if unknown or not ids[acct] else ids[acct][idx % len(ids[acct])]
            call("cancel", oid, e.cancel(acct, order_id=oid, ts_ms=now()))
        elif kind == "amend":
            _, acct, idx, qsteps, poff = op
            if not ids[acct] or (qsteps is None and poff is None):
                continue
            oid = ids[acct][idx % len(ids[acct])]
            o = e.get_order(acct, order_id=oid)
            kw = {}
            if qsteps is not None:
                kw["quantity"] = qsteps * step
            if poff is not None and o is not None and o.price is not None:
                kw["price"] = (last + poff) * tick
            if not kw:
                continue
            call("amend", (oid, kw), e.amend(acct, order_id=oid, ts_ms=now(), **kw))
        elif kind == "trade":
            _, poff, qty, side = op
            t = Trade(now(), max(last + poff, 1) * tick, D(qty), side)
            call("trade", t, e.on_trade(SYM, t))
        elif kind == "book":
            _, moff, spread, bids, asks = op
            mid = last + moff
            bl, al, p = [], [], mid - spread // 2
            for gap, q in bids:
                p -= gap
                bl.append((p * tick, D(q)))
            p = mid - spread // 2 + spread
            for gap, q in asks:
                al.append((p * tick, D(q)))
                p += gap
            b = BookSnapshot(now(), tuple(bl), tuple(al))
            state["book"] = b
            call("book", b, e.on_book(SYM, b))
        elif kind == "advance":
            _, dt = op
            state["j"] += dt
            call("advance", now(), e.advance(T0 + state["k"] * MIN - 1000 + state["j"]))
        elif kind == "money":
            _, acct, asset, dep, amount = op
            amt = D(amount)
            if dep:
                evs = e.deposit(acct, asset, amt, ts_ms=now())
                if not any(ev.kind == EventKind.REJECTED for ev in evs):
                    rec.deposits[asset] = rec.deposits.get(asset, ZERO) + amt
            else:
                evs = e.withdraw(acct, asset, amt, ts_ms=now())
                if not any(ev.kind == EventKind.REJECTED for ev in evs):
                    rec.deposits[asset] = rec.deposits.get(asset, ZERO) - amt
            call("money", (acct, asset, dep, amt), evs)
    return rec


scenario = st.tuples(markets, fill_models, balances, ops)


# --------------------------------------------------------------------------------------------
# properties
# --------------------------------------------------------------------------------------------


@EXAMPLES
@given(scenario)
def test_never_overfilled_and_filled_only_grows(sc: tuple) -> None:
    rec = run(*sc)
    filled: dict[int, Decimal] = {}
    for ev in rec.events:
        if ev.order is None:
            continue
        o = ev.order
        assert ZERO <= o.filled_qty <= o.quantity or o.quantity == 0, o
        assert o.filled_qty >= filled.get(o.id, ZERO), (ev.kind, o)
        filled[o.id] = o.filled_qty
        if ev.fill is not None:
            assert ev.fill.quantity > 0
            assert ev.fill.order_id == o.id
    e = rec.engine
    for a in ACCOUNTS:
        for o in e.orders(a):
            assert o.filled_qty <= o.quantity
            assert o.filled_qty == sum((f.quantity for f in e.fills(a) if f.order_id == o.id), ZERO)


@EXAMPLES
@given(scenario)
def test_limit_price_respected_and_post_only_never_takes(sc: tuple) -> None:
    rec = run(*sc)
    for ev in rec.events:
        f = ev.fill
        if f is None:
            continue
        o = ev.order
        if o.request.type.has_limit_price and o.price is not None:
            if f.side == Side.BUY:
                assert f.price <= o.price, (f, o)
            else:
                assert f.price >= o.price, (f, o)
        if o.request.post_only:
            assert f.liquidity == Liquidity.MAKER, (f, o)
        if o.request.hidden:
            assert f.liquidity == Liquidity.MAKER, (f, o)


@EXAMPLES
@given(scenario)
def test_fok_all_or_nothing_and_ioc_never_rests(sc: tuple) -> None:
    market, fm, bal, program = sc
    seen_bar: set[int] = set()

    def after(rec: Record, c: Call) -> None:
        e = rec.engine
        for a in ACCOUNTS:
            for o in e.orders(a):
                tif = o.request.time_in_force
                if tif == TimeInForce.FOK:
                    # all or nothing: an open FOK has nothing filled, a closed one nothing or all
                    assert o.filled_qty == (ZERO if o.status.is_open else o.filled_qty), o
                    assert o.filled_qty in (ZERO, o.quantity), o
                if o.id in seen_bar:
                    assert not o.status.is_open, o
        if c.what == "submit" and c.book is not None:
            for ev in c.events:
                o = ev.order
                if (
                    ev.kind == EventKind.ACCEPTED
                    and o.request.time_in_force in (TimeInForce.IOC, TimeInForce.FOK)
                    and not o.request.type.is_conditional
                ):
                    now = e.get_order(ev.account, order_id=o.id)
                    assert not now.status.is_open, ("IOC/FOK rests after meeting the book", now)
        if c.what == "bar":
            for a in ACCOUNTS:
                for o in e.orders(a):
                    if o.request.time_in_force in (TimeInForce.IOC, TimeInForce.FOK) and (
                        not o.request.type.is_conditional or o.triggered
                    ):
                        if c.what == "bar" and o.created_ms < c.arg.ts_ms:
                            seen_bar.add(o.id)
                            assert not o.status.is_open, ("IOC/FOK still open after its first bar", o)
        # a FOK that got any fill in this call must have filled in full by its end
        for ev in c.events:
            if ev.order is not None and ev.order.request.time_in_force == TimeInForce.FOK and ev.fill is not None:
                o = e.get_order(ev.account, order_id=ev.order.id)
                assert o.filled_qty == o.quantity, o

    run(market, fm, bal, program, after_call=after)


@EXAMPLES
@given(scenario)
def test_fill_prices_inside_bar_or_book(sc: tuple) -> None:
    rec = run(*sc)
    for c in rec.calls:
        fl = [ev.fill for ev in c.events if ev.fill is not None]
        if c.what == "bar":
            b: Bar = c.arg
            for ev in c.events:
                if ev.fill is None:
                    continue
                f = ev.fill
                # a taker pays a price inside the bar; a resting maker is paid exactly its own
                # limit (#13), which the bar reached or gapped past: never better than the limit
                if f.liquidity == Liquidity.TAKER:
                    assert b.low <= f.price <= b.high, (f, b)
                else:
                    assert f.price == ev.order.price, (f, ev.order)
                    assert (b.low <= f.price) if f.side == Side.BUY else (f.price <= b.high), (f, b)
            for f in fl:
                assert b.ts_ms <= f.ts_ms < b.ts_ms + b.interval_ms, (f, b)
                assert f.price % rec.market.tick_size == 0
        elif c.what in ("submit", "book", "amend") and fl:
            bk = c.arg if c.what == "book" else c.book
            assert bk is not None, ("fill at submit/amend without a book", c.arg, fl)
            levels = [p for p, _ in bk.bids + bk.asks]
            for f in fl:
                if f.liquidity == Liquidity.TAKER:  # takers pay a level's price
                    assert min(levels) <= f.price <= max(levels), (f, bk)
                else:  # a resting order the book crossed fills at its own price, through the book
                    assert (
                        f.price >= min(p for p, _ in bk.asks)
                        if f.side == Side.BUY
                        else f.price <= max(p for p, _ in bk.bids)
                    ), (f, bk)
        elif c.what in ("advance", "cancel", "money", "open"):
            assert not fl, (c.what, fl)


def _flows(rec: Record) -> dict[str, Decimal]:
    m = rec.market
    flow = dict(rec.deposits)
    for ev in rec.events:
        f = ev.fill
        if f is None:
            continue
        sgn = 1 if f.side == Side.BUY else -1
        flow[m.base] = flow.get(m.base, ZERO) + sgn * f.quantity
        flow[m.quote] = flow.get(m.quote, ZERO) - sgn * f.quote_quantity
    return flow


@EXAMPLES
@given(scenario)
def test_balances_conserved_exactly_with_fees_and_never_negative(sc: tuple) -> None:
    def after(rec: Record, c: Call) -> None:
        e = rec.engine
        fees = e.fees_collected()
        flow = _flows(rec)
        for asset in set(flow) | set(fees):
            held = sum((sum(e.balances(a).get(asset, (ZERO, ZERO))) for a in ACCOUNTS), ZERO)
            assert held + fees.get(asset, ZERO) == flow.get(asset, ZERO), (asset, held, fees, flow)
        for a in ACCOUNTS:
            for asset, (free, locked) in e.balances(a).items():
                assert free >= 0 and locked >= 0, (a, asset, free, locked)
        # the fee sink is exactly the sum of the fills' fees, each in the asset received
        by_asset: dict[str, Decimal] = {}
        for ev in rec.events:
            if ev.fill is not None:
                f = ev.fill
                assert f.fee_asset == (rec.market.base if f.side == Side.BUY else rec.market.quote)
                assert f.fee >= 0 and f.fee % rec.market.fee_precision == 0, f
                by_asset[f.fee_asset] = by_asset.get(f.fee_asset, ZERO) + f.fee
        assert {k: v for k, v in by_asset.items() if v} == {k: v for k, v in fees.items() if v}
        # nothing locked once no order is open
        for a in ACCOUNTS:
            if not e.open_orders(a):
                assert all(lk == 0 for _, lk in e.balances(a).values()), (a, e.balances(a))

    run(*sc, after_call=after)


def _nz(b: dict) -> dict:
    return {k: v for k, v in b.items() if v[0] or v[1]}


@EXAMPLES
@given(scenario)
def test_state_from_events_equals_engine_state(sc: tuple) -> None:
    def after(rec: Record, c: Call) -> None:
        e = rec.engine
        st_ = state_from_events(rec.events)
        for a in ACCOUNTS:
            assert _nz(st_.balances.get(a, {})) == _nz(e.balances(a)), a
            orders = {o.id: o for o in e.orders(a)}
            mine = {i: o for i, o in st_.orders.items() if o.account == a}
            assert mine == orders, a

    run(*sc, after_call=after)


@EXAMPLES
@given(scenario)
def test_replay_is_deterministic(sc: tuple) -> None:
    r1 = run(*sc)
    r2 = run(*sc)
    assert [c.events for c in r1.calls] == [c.events for c in r2.calls]
    assert r1.engine.fees_collected() == r2.engine.fees_collected()


@EXAMPLES
@given(st.tuples(markets, fill_models, st.just({"X": "0", "Q": "10000000"}), ops))
def test_reduce_only_never_grows_position(sc: tuple) -> None:
    pos = {a: ZERO for a in ACCOUNTS}

    def after(rec: Record, c: Call) -> None:
        for ev in c.events:
            if ev.fill is None:
                continue
            before = pos[ev.account]
            if ev.position_change is not None:
                sym, delta = ev.position_change
                assert sym == SYM
            else:
                delta = ev.fill.quantity if ev.fill.side == Side.BUY else -ev.fill.quantity
            after_ = before + delta
            if ev.order.request.reduce_only:
                assert abs(after_) <= abs(before) and after_ * before >= 0, (before, after_, ev.order)
            pos[ev.account] = after_
        for a in ACCOUNTS:
            assert rec.engine.position(a, SYM) == pos[a]

    run(*sc, positions=True, after_call=after)
