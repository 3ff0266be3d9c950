"""Order types and times in force on small hand-made candles: the exact events, written from the
engine contract (/tmp/engine-api.md and kit/engine/types.py), not from the implementation.

Each table row is (order request, data) -> expected events as (EventKind, fill price, fill qty,
order status). ``ANY`` marks a field the contract leaves open.

Prices in the tables follow the contract's fill model:
- market / triggered: reference price (bar open, or trigger price) moved ``slippage_ticks`` ticks
  adverse, plus ``impact * (high - low) * sqrt(qty / volume)`` adverse, rounded to tick in the
  adverse direction and clamped into [low, high];
- resting limit: its limit price, once the path trades through it by ``trade_through_ticks``;
- intra-bar path open -> nearer extreme -> farther extreme -> close at ts, ts + i/3, ts + 2i/3,
  ts + i - 1.
"""

from __future__ import annotations

import dataclasses
import re
from decimal import Decimal
from typing import Any

import pytest

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
from kit.engine.types import EventKind, Liquidity, OrderStatus, RejectCode

D = Decimal
K = EventKind
S = OrderStatus
OT = OrderType
TIF = TimeInForce
BUY, SELL = Side.BUY, Side.SELL


class _Any:
    def __eq__(self, other: object) -> bool:
        return True

    def __repr__(self) -> str:
        return "ANY"


ANY: Any = _Any()

SYM = "BTC/USDT"
M = Market(
    SYM,
    "BTC",
    "USDT",
    tick_size=D("0.01"),
    step_size=D("0.001"),
    maker_fee=D("0.001"),
    taker_fee=D("0.002"),
)
T0 = 60_000 * 20_000_000  # a minute boundary; thirds of a minute are whole ms
MIN = 60_000
FM0 = FillModel(impact=D(0))  # no impact term: market / triggered fills are reference +- 1 tick
START = {"USDT": D("100000"), "BTC": D("10")}


def T(i: int) -> int:
    """Open time of bar ``i``."""
    return T0 + i * MIN


def bar(i: int, o: str, h: str, l: str, c: str, v: str = "100") -> Bar:  # noqa: E741
    return Bar(T(i), D(o), D(h), D(l), D(c), D(v))


def req(side: Side, type_: OrderType, qty: str | None = None, price: str | None = None, **kw: Any) -> OrderRequest:
    for k in ("trigger_price", "quote_quantity", "iceberg_qty"):
        if kw.get(k) is not None:
            kw[k] = D(kw[k])
    return OrderRequest(
        SYM,
        side,
        type_,
        quantity=D(qty) if qty is not None else None,
        price=D(price) if price is not None else None,
        **kw,
    )


def rows(events: list) -> list[tuple]:
    out = []
    for e in events:
        out.append(
            (
                e.kind,
                e.fill.price if e.fill else None,
                e.fill.quantity if e.fill else None,
                e.order.status if e.order else None,
            )
        )
    return out


def _nz(b: dict) -> dict:
    return {a: (D(f), D(lk)) for a, (f, lk) in b.items() if f or lk}


class H:
    """An engine plus the log of every event it returned; ``check`` compares the engine's own
    state with ``state_from_events`` of the log.
    """

    def __init__(
        self,
        fm: FillModel | None = None,
        markets: list[Market] | None = None,
        balances: dict | None = None,
        positions: bool = False,
        account: str = "a",
    ) -> None:
        self.e = Engine(markets or [M], fill_model=fm)
        self.log: list = []
        self.accounts: list[str] = []
        self.open(account, START if balances is None else balances, positions=positions)

    def open(self, account: str, balances: dict, positions: bool = False) -> list:
        self.accounts.append(account)
        return self._rec(self.e.open_account(account, balances, ts_ms=0, positions=positions))

    def _rec(self, evs: list) -> list:
        assert isinstance(evs, list)
        self.log.extend(evs)
        return evs

    def submit(self, r: OrderRequest, ts: int, account: str = "a") -> list:
        return self._rec(self.e.submit(account, r, ts_ms=ts))

    def bar(self, b: Bar, symbol: str = SYM) -> list:
        return self._rec(self.e.on_bar(symbol, b))

    def trade(self, t: Trade, symbol: str = SYM) -> list:
        return self._rec(self.e.on_trade(symbol, t))

    def book(self, b: BookSnapshot, symbol: str = SYM) -> list:
        return self._rec(self.e.on_book(symbol, b))

    def cancel(self, ts: int, account: str = "a", **kw: Any) -> list:
        return self._rec(self.e.cancel(account, ts_ms=ts, **kw))

    def amend(self, ts: int, account: str = "a", **kw: Any) -> list:
        return self._rec(self.e.amend(account, ts_ms=ts, **kw))

    def advance(self, ts: int) -> list:
        return self._rec(self.e.advance(ts))

    def bal(self, asset: str, account: str = "a") -> tuple[Decimal, Decimal]:
        return self.e.balances(account).get(asset, (D(0), D(0)))

    def check(self) -> None:
        st = state_from_events(self.log)
        for acct in self.accounts:
            assert _nz(st.balances.get(acct, {})) == _nz(self.e.balances(acct)), acct
            for free, locked in self.e.balances(acct).values():
                assert free >= 0 and locked >= 0
            for o in self.e.orders(acct):
                assert st.orders[o.id] == o


def fills(events: list) -> list:
    return [e.fill for e in events if e.fill is not None]


# ---------------------------------------------------------------------------------------------
# market orders (no book): fill at the next bar's open, slippage + impact adverse, inside the bar
# ---------------------------------------------------------------------------------------------

MARKET_CASES = [
    # impact = 0.5 * (110 - 90) * sqrt(1 / 100) = 1.00; slippage 1 tick
    pytest.param(req(BUY, OT.MARKET, "1"), bar(1, "100", "110", "90", "105"), "101.01", "1", id="buy-qty"),
    pytest.param(req(SELL, OT.MARKET, "1"), bar(1, "100", "110", "90", "105"), "98.99", "1", id="sell-qty"),
    # impact = 0.5 * 5.05 * sqrt(4 / 100) = 0.505 -> 100.525 -> clamped to high 100.05
    pytest.param(req(BUY, OT.MARKET, "4"), bar(1, "100", "100.05", "95", "99"), "100.05", "4", id="buy-clamped-high"),
    pytest.param(req(SELL, OT.MARKET, "4"), bar(1, "100", "105", "99.95", "101"), "99.95", "4", id="sell-clamped-low"),
    # impact 0.5 * 1.5 * 0.1 = 0.075 -> 100.085 -> rounded adverse (up) to 100.09
    pytest.param(req(BUY, OT.MARKET, "1"), bar(1, "100", "100.5", "99", "100"), "100.09", "1", id="buy-round-up"),
    pytest.param(req(SELL, OT.MARKET, "1"), bar(1, "100", "101", "99.5", "100"), "99.91", "1", id="sell-round-down"),
]


@pytest.mark.parametrize(("request_", "b", "price", "qty"), MARKET_CASES)
def test_market_fills_at_next_open_with_slippage(request_: OrderRequest, b: Bar, price: str, qty: str) -> None:
    h = H()
    assert rows(h.submit(request_, T(1) - 1)) == [(K.ACCEPTED, None, None, S.NEW)]
    evs = h.bar(b)
    assert rows(evs) == [(K.FILLED, D(price), D(qty), S.FILLED)]
    f = evs[0].fill
    assert evs[0].ts_ms == b.ts_ms == f.ts_ms
    assert b.low <= f.price <= b.high
    assert f.liquidity == Liquidity.TAKER
    assert f.quote_quantity == f.price * f.quantity
    if request_.side == BUY:
        assert (f.fee, f.fee_asset) == (f.quantity * M.taker_fee, "BTC")
        assert h.bal("BTC") == (START["BTC"] + f.quantity - f.fee, 0)
        assert h.bal("USDT") == (START["USDT"] - f.quote_quantity, 0)
    else:
        assert (f.fee, f.fee_asset) == (f.quote_quantity * M.taker_fee, "USDT")
        assert h.bal("BTC") == (START["BTC"] - f.quantity, 0)
        assert h.bal("USDT") == (START["USDT"] + f.quote_quantity - f.fee, 0)
    h.check()


def test_market_buy_by_quote_quantity_locks_quote_then_fills() -> None:
    h = H(FM0)
    evs = h.submit(req(BUY, OT.MARKET, quote_quantity="1000.1"), T(1) - 1)
    assert rows(evs) == [(K.ACCEPTED, None, None, S.NEW)]
    assert h.bal("USDT") == (D("100000") - D("1000.1"), D("1000.1"))
    h.check()
    evs = h.bar(bar(1, "100", "101", "99", "100", "1000"))
    # 100 + 1 tick = 100.01; 1000.1 / 100.01 = 10 exactly
    assert rows(evs) == [(K.FILLED, D("100.01"), D("10"), S.FILLED)]
    assert evs[0].order.quantity == D("10")
    assert h.bal("USDT") == (D("100000") - D("1000.1"), 0)
    assert h.bal("BTC") == (D("10") + D("10") - D("0.02"), 0)
    h.check()


def test_market_buy_by_quote_quantity_releases_unspent_quote() -> None:
    h = H(FM0)
    h.submit(req(BUY, OT.MARKET, quote_quantity="1000"), T(1) - 1)
    evs = h.bar(bar(1, "100", "101", "99", "100", "1000"))
    f = fills(evs)[0]
    # 1000 / 100.01 = 9.9990.. -> step 0.001 rounds down to 9.999
    assert (f.price, f.quantity) == (D("100.01"), D("9.999"))
    assert f.quote_quantity <= D("1000")
    assert h.bal("USDT") == (D("100000") - f.quote_quantity, 0)
    h.check()


# ---------------------------------------------------------------------------------------------
# resting limits: trade-through, touch, queue estimate, participation, shared liquidity
# ---------------------------------------------------------------------------------------------

LIMIT_CASES = [
    # (fill model, request, bars, expected rows per bar, fill ts offset of the filling bar)
    pytest.param(
        None,
        req(BUY, OT.LIMIT, "1", "99"),
        [bar(1, "100", "101", "99", "100"), bar(2, "100", "102", "98.99", "101")],
        [[], [(K.FILLED, D("99"), D("1"), S.FILLED)]],
        MIN // 3,
        id="buy-touch-no-fill-then-through-1-tick-low-first",
    ),
    pytest.param(
        None,
        req(BUY, OT.LIMIT, "1", "99"),
        [bar(1, "100", "101", "98.99", "100.5")],
        [[(K.FILLED, D("99"), D("1"), S.FILLED)]],
        2 * MIN // 3,
        id="buy-through-low-second",
    ),
    pytest.param(
        None,
        req(SELL, OT.LIMIT, "1", "101"),
        [bar(1, "100", "101", "99.5", "100"), bar(2, "100", "101.01", "99.5", "101")],
        [[], [(K.FILLED, D("101"), D("1"), S.FILLED)]],
        2 * MIN // 3,
        id="sell-touch-no-fill-then-through",
    ),
    pytest.param(
        FillModel(trade_through_ticks=3),
        req(BUY, OT.LIMIT, "1", "99"),
        [bar(1, "100", "101", "98.98", "100"), bar(2, "100", "102", "98.97", "101")],
        [[], [(K.FILLED, D("99"), D("1"), S.FILLED)]],
        MIN // 3,
        id="buy-trade-through-3-ticks",
    ),
    pytest.param(
        FillModel(at_touch=True, queue_ahead_fraction=D(0)),
        req(BUY, OT.LIMIT, "1", "99"),
        [bar(1, "99.01", "99.03", "99", "99.01")],
        [[(K.FILLED, D("99"), D("1"), S.FILLED)]],
        MIN // 3,
        id="buy-at-touch-no-queue",
    ),
    pytest.param(
        FillModel(at_touch=True, queue_ahead_fraction=D(0)),
        req(SELL, OT.LIMIT, "1", "101"),
        [bar(1, "100.99", "101", "100.97", "100.99")],
        [[(K.FILLED, D("101"), D("1"), S.FILLED)]],
        MIN // 3,
        id="sell-at-touch-no-queue",
    ),
    pytest.param(
        None,
        req(BUY, OT.LIMIT, "10", "99"),
        [bar(1, "100", "101", "98", "100", "50"), bar(2, "100", "101", "98", "100", "50")],
        [[(K.PARTIALLY_FILLED, D("99"), D("5"), S.PARTIALLY_FILLED)], [(K.FILLED, D("99"), D("5"), S.FILLED)]],
        2 * MIN // 3,
        id="buy-participation-10pct-of-50-partial-then-filled",
    ),
    pytest.param(
        FillModel(participation=D("0.5")),
        req(SELL, OT.LIMIT, "3", "101"),
        [bar(1, "100", "102", "99.9", "100", "4"), bar(2, "100", "102", "99.9", "101", "4")],
        [[(K.PARTIALLY_FILLED, D("101"), D("2"), S.PARTIALLY_FILLED)], [(K.FILLED, D("101"), D("1"), S.FILLED)]],
        2 * MIN // 3,
        id="sell-participation-50pct",
    ),
]


@pytest.mark.parametrize(("fm", "request_", "bars", "expected", "offset"), LIMIT_CASES)
def test_resting_limit(
    fm: FillModel | None, request_: OrderRequest, bars: list[Bar], expected: list, offset: int
) -> None:
    h = H(fm)
    assert rows(h.submit(request_, T(1) - 1)) == [(K.ACCEPTED, None, None, S.NEW)]
    for b, exp in zip(bars, expected, strict=True):
        evs = h.bar(b)
        assert rows(evs) == exp
        for e in evs:
            assert e.fill.liquidity == Liquidity.MAKER
            assert e.fill.fee == (
                e.fill.quantity * M.maker_fee if request_.side == BUY else e.fill.quote_quantity * M.maker_fee
            )
            assert e.fill.fee_asset == ("BTC" if request_.side == BUY else "USDT")
            assert e.ts_ms == e.fill.ts_ms == b.ts_ms + offset
        h.check()


def test_limit_buy_reserves_quote_and_releases_on_fill() -> None:
    h = H()
    h.submit(req(BUY, OT.LIMIT, "1", "99"), T(1) - 1)
    # a buy locks exactly qty * price: its fee is charged in the asset received (BTC)
    assert h.bal("USDT") == (D("100000") - D("99"), D("99"))
    assert h.bal("BTC") == (D("10"), 0)
    h.check()
    h.bar(bar(1, "100", "102", "98.99", "101"))
    assert h.bal("USDT") == (D("100000") - D("99"), 0)
    assert h.bal("BTC") == (D("10") + D("0.999"), 0)
    h.check()


def test_limit_sell_reserves_base_and_releases_on_fill() -> None:
    h = H()
    h.submit(req(SELL, OT.LIMIT, "2", "101"), T(1) - 1)
    assert h.bal("BTC") == (D("8"), D("2"))
    assert h.bal("USDT") == (D("100000"), 0)
    h.check()
    h.bar(bar(1, "100", "101.5", "99.9", "101"))
    assert h.bal("BTC") == (D("8"), 0)
    # 202 - 0.202 maker fee
    assert h.bal("USDT") == (D("100000") + D("202") - D("0.202"), 0)
    h.check()


def test_at_touch_with_queue_fills_after_enough_touching_volume() -> None:
    h = H(FillModel(at_touch=True))
    h.submit(req(BUY, OT.LIMIT, "1", "99"), T(1) - 1)
    got = []
    for i in range(1, 6):
        evs = h.bar(bar(i, "100", "101", "99", "100", "100"))
        got += fills(evs)
        h.check()
    assert got, "at_touch=True: touching bars with volume must fill once the queue ahead has traded"
    assert all(f.price == D("99") and f.liquidity == Liquidity.MAKER for f in got)
    assert sum(f.quantity for f in got) <= D("1")


def test_two_orders_same_price_share_the_candle() -> None:
    h = H()
    a = h.submit(req(BUY, OT.LIMIT, "3", "99"), T(1) - 2)[0].order.id
    b = h.submit(req(BUY, OT.LIMIT, "3", "99"), T(1) - 1)[0].order.id
    evs = h.bar(bar(1, "100", "101", "98", "100", "50"))  # budget 0.1 * 50 = 5
    assert [(e.order.id, *r) for e, r in zip(evs, rows(evs), strict=True)] == [
        (a, K.FILLED, D("99"), D("3"), S.FILLED),
        (b, K.PARTIALLY_FILLED, D("99"), D("2"), S.PARTIALLY_FILLED),
    ]
    evs = h.bar(bar(2, "100", "101", "98", "100", "50"))
    assert [(e.order.id, *r) for e, r in zip(evs, rows(evs), strict=True)] == [(b, K.FILLED, D("99"), D("1"), S.FILLED)]
    h.check()


def test_budget_is_shared_across_accounts_and_sides() -> None:
    h = H()
    h.open("b", START)
    h.submit(req(BUY, OT.LIMIT, "4", "99"), T(1) - 2)
    h.submit(req(SELL, OT.LIMIT, "4", "101"), T(1) - 1, account="b")
    evs = h.bar(bar(1, "100", "102.5", "98", "100", "50"))  # budget 5 for the symbol
    assert sum(f.quantity for f in fills(evs)) == D("5")
    h.check()


# ---------------------------------------------------------------------------------------------
# conditional orders: stop / take-profit / trailing
# ---------------------------------------------------------------------------------------------

WARM = bar(0, "100", "100.5", "99.5", "100")  # sets last price 100

COND_CASES = [
    # path 100 -> 99.5 -> 106 -> 105.5: trigger at the second extreme
    pytest.param(
        req(BUY, OT.STOP_MARKET, "1", trigger_price="105"),
        [bar(1, "100", "106", "99.5", "105.5")],
        [[(K.TRIGGERED, None, None, ANY), (K.FILLED, D("105.01"), D("1"), S.FILLED)]],
        [2 * MIN // 3],
        Liquidity.TAKER,
        id="stop-market-buy",
    ),
    pytest.param(
        req(SELL, OT.STOP_MARKET, "1", trigger_price="95"),
        [bar(1, "100", "100.5", "94", "94.5")],
        [[(K.TRIGGERED, None, None, ANY), (K.FILLED, D("94.99"), D("1"), S.FILLED)]],
        [2 * MIN // 3],
        Liquidity.TAKER,
        id="stop-market-sell",
    ),
    # stop-limit: triggered at 106 extreme, limit 104 rests, next bar trades through it
    pytest.param(
        req(BUY, OT.STOP_LIMIT, "1", "104", trigger_price="105"),
        [bar(1, "100", "106", "99.5", "105.5"), bar(2, "105", "105.5", "103.5", "104")],
        [[(K.TRIGGERED, None, None, ANY)], [(K.FILLED, D("104"), D("1"), S.FILLED)]],
        [2 * MIN // 3, 2 * MIN // 3],
        Liquidity.MAKER,
        id="stop-limit-buy",
    ),
    pytest.param(
        req(SELL, OT.STOP_LIMIT, "1", "96", trigger_price="95"),
        [bar(1, "100", "100.5", "94", "94.5"), bar(2, "95", "96.5", "94.9", "96")],
        [[(K.TRIGGERED, None, None, ANY)], [(K.FILLED, D("96"), D("1"), S.FILLED)]],
        [2 * MIN // 3, 2 * MIN // 3],
        Liquidity.MAKER,
        id="stop-limit-sell",
    ),
    pytest.param(
        req(SELL, OT.TAKE_PROFIT_MARKET, "1", trigger_price="105"),
        [bar(1, "100", "106", "99.5", "105")],
        [[(K.TRIGGERED, None, None, ANY), (K.FILLED, D("104.99"), D("1"), S.FILLED)]],
        [2 * MIN // 3],
        Liquidity.TAKER,
        id="take-profit-market-sell",
    ),
    pytest.param(
        req(BUY, OT.TAKE_PROFIT_MARKET, "1", trigger_price="95"),
        [bar(1, "100", "100.5", "94", "95")],
        [[(K.TRIGGERED, None, None, ANY), (K.FILLED, D("95.01"), D("1"), S.FILLED)]],
        [2 * MIN // 3],
        Liquidity.TAKER,
        id="take-profit-market-buy",
    ),
    pytest.param(
        req(SELL, OT.TAKE_PROFIT_LIMIT, "1", "107", trigger_price="105"),
        [bar(1, "100", "106", "99.5", "105"), bar(2, "105", "108", "104.9", "107")],
        [[(K.TRIGGERED, None, None, ANY)], [(K.FILLED, D("107"), D("1"), S.FILLED)]],
        [2 * MIN // 3, 2 * MIN // 3],
        Liquidity.MAKER,
        id="take-profit-limit-sell",
    ),
    pytest.param(
        req(BUY, OT.TAKE_PROFIT_LIMIT, "1", "93", trigger_price="95"),
        [bar(1, "100", "100.5", "94", "95"), bar(2, "95", "95.1", "92", "94")],
        [[(K.TRIGGERED, None, None, ANY)], [(K.FILLED, D("93"), D("1"), S.FILLED)]],
        [2 * MIN // 3, 2 * MIN // 3],
        Liquidity.MAKER,
        id="take-profit-limit-buy",
    ),
    # trailing sell 1 %: peak 110 -> 108.90, peak 120 -> 118.80, then 119 -> 117 triggers
    pytest.param(
        req(SELL, OT.TRAILING_STOP_MARKET, "1", trailing_bps=100),
        [
            bar(1, "100", "110", "99.5", "109"),
            bar(2, "109", "120", "108.95", "119"),
            bar(3, "119", "119", "117", "117.5"),
        ],
        [[], [], [(K.TRIGGERED, None, None, ANY), (K.FILLED, D("118.79"), D("1"), S.FILLED)]],
        [None, None, 2 * MIN // 3],
        Liquidity.TAKER,
        id="trailing-sell",
    ),
    # take-profit with activation 110: a 5 % dip before activation does not trigger (#13: this
    # take-profit direction was once applied to every trailing order, stop-losses included)
    pytest.param(
        req(SELL, OT.TRAILING_TAKE_PROFIT_MARKET, "1", trigger_price="110", trailing_bps=100),
        [bar(1, "100", "105", "95", "100"), bar(2, "100", "120", "99.5", "119"), bar(3, "119", "119", "117", "117.5")],
        [[], [], [(K.TRIGGERED, None, None, ANY), (K.FILLED, D("118.79"), D("1"), S.FILLED)]],
        [None, None, 2 * MIN // 3],
        Liquidity.TAKER,
        id="trailing-sell-activation",
    ),
    # trailing buy 1 %: trough 90 -> 90.90; next bar rises to 91
    pytest.param(
        req(BUY, OT.TRAILING_STOP_MARKET, "1", trailing_bps=100),
        [bar(1, "100", "100.5", "90", "90.5"), bar(2, "90.5", "91", "90.5", "91")],
        [[], [(K.TRIGGERED, None, None, ANY), (K.FILLED, D("90.91"), D("1"), S.FILLED)]],
        [None, 2 * MIN // 3],
        Liquidity.TAKER,
        id="trailing-buy",
    ),
]


@pytest.mark.parametrize(("request_", "bars", "expected", "offsets", "liq"), COND_CASES)
def test_conditional_orders(
    request_: OrderRequest, bars: list[Bar], expected: list, offsets: list, liq: Liquidity
) -> None:
    h = H(FM0)
    h.bar(WARM)
    assert rows(h.submit(request_, T(1) - 1)) == [(K.ACCEPTED, None, None, S.PENDING)]
    for b, exp, off in zip(bars, expected, offsets, strict=True):
        evs = h.bar(b)
        assert rows(evs) == exp
        for e in evs:
            assert e.ts_ms == b.ts_ms + off
            if e.fill:
                assert e.fill.liquidity == liq
                assert b.low <= e.fill.price <= b.high
        h.check()
    trig = [e for e in h.log if e.kind == K.TRIGGERED]
    assert len(trig) == 1 and trig[0].order.triggered


def test_trailing_stop_trigger_moves_with_the_peak() -> None:
    # the trail level moves without events (state stays derivable from events); the TRIGGERED
    # event carries the level it triggered at
    h = H(FM0)
    h.bar(WARM)
    oid = h.submit(req(SELL, OT.TRAILING_STOP_MARKET, "1", trailing_bps=100), T(1) - 1)[0].order.id
    assert h.bar(bar(1, "100", "110", "99.5", "109")) == []  # 108.90 after the peak at 110, never reached
    assert h.bar(bar(2, "109", "120", "108.95", "119")) == []  # peak 120: level 118.80; the dip came first
    assert h.e.get_order("a", order_id=oid).status == S.PENDING
    evs = h.bar(bar(3, "119", "119.5", "118", "118.5"))
    assert evs[0].kind == K.TRIGGERED and evs[0].order.trigger_price == D("118.80")
    h.check()


@pytest.mark.parametrize(
    ("b", "first"),
    [
        pytest.param(bar(1, "100", "111", "85", "100"), BUY, id="high-nearer-buy-stop-first"),
        pytest.param(bar(1, "100", "115", "89", "100"), SELL, id="low-nearer-sell-stop-first"),
    ],
)
def test_intra_candle_order_open_nearer_farther_close(b: Bar, first: Side) -> None:
    h = H(FM0)
    h.bar(WARM)
    h.submit(req(BUY, OT.STOP_MARKET, "1", trigger_price="110"), T(1) - 2)
    h.submit(req(SELL, OT.STOP_MARKET, "1", trigger_price="90"), T(1) - 1)
    evs = h.bar(b)
    second = SELL if first == BUY else BUY
    price = {BUY: D("110.01"), SELL: D("89.99")}
    assert [(e.kind, e.order.request.side, e.fill.price if e.fill else None, e.ts_ms) for e in evs] == [
        (K.TRIGGERED, first, None, b.ts_ms + MIN // 3),
        (K.FILLED, first, price[first], b.ts_ms + MIN // 3),
        (K.TRIGGERED, second, None, b.ts_ms + 2 * MIN // 3),
        (K.FILLED, second, price[second], b.ts_ms + 2 * MIN // 3),
    ]
    h.check()


def test_market_fill_timestamp_is_bar_open_and_events_sorted_in_time() -> None:
    h = H(FM0)
    h.bar(WARM)
    h.submit(req(BUY, OT.MARKET, "1"), T(1) - 3)
    h.submit(req(SELL, OT.LIMIT, "1", "102"), T(1) - 2)
    h.submit(req(BUY, OT.LIMIT, "1", "98"), T(1) - 1)
    b = bar(1, "100", "102.5", "97", "99")  # high nearer: 2.5 < 3
    evs = h.bar(b)
    assert [(e.order.request.type, e.order.request.side, e.ts_ms) for e in evs] == [
        (OT.MARKET, BUY, b.ts_ms),
        (OT.LIMIT, SELL, b.ts_ms + MIN // 3),
        (OT.LIMIT, BUY, b.ts_ms + 2 * MIN // 3),
    ]
    h.check()


# ---------------------------------------------------------------------------------------------
# post-only, IOC, FOK, GTD, iceberg, hidden
# ---------------------------------------------------------------------------------------------

BOOK = BookSnapshot(
    T(1), bids=((D("100.00"), D("5")), (D("99.95"), D("5"))), asks=((D("100.05"), D("1")), (D("100.10"), D("5")))
)


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        pytest.param(
            req(BUY, OT.LIMIT, "1", "100.05", post_only=True), [(K.REJECTED, None, None, ANY)], id="buy-at-ask"
        ),
        pytest.param(
            req(BUY, OT.LIMIT, "1", "101", post_only=True), [(K.REJECTED, None, None, ANY)], id="buy-above-ask"
        ),
        pytest.param(
            req(SELL, OT.LIMIT, "1", "100.00", post_only=True), [(K.REJECTED, None, None, ANY)], id="sell-at-bid"
        ),
        pytest.param(
            req(BUY, OT.LIMIT, "1", "100.00", post_only=True), [(K.ACCEPTED, None, None, S.NEW)], id="buy-at-bid-rests"
        ),
        pytest.param(
            req(SELL, OT.LIMIT, "1", "100.05", post_only=True),
            [(K.ACCEPTED, None, None, S.NEW)],
            id="sell-at-ask-rests",
        ),
    ],
)
def test_post_only_against_book(request_: OrderRequest, expected: list) -> None:
    h = H()
    h.book(BOOK)
    evs = h.submit(request_, T(1) + 1)
    assert rows(evs) == expected
    if evs[0].kind == K.REJECTED:
        assert evs[0].code == RejectCode.WOULD_TAKE
        assert h.bal("USDT") == (START["USDT"], 0) and h.bal("BTC") == (START["BTC"], 0)
    h.check()


def test_post_only_rejected_against_last_price_without_book() -> None:
    h = H()
    h.bar(WARM)  # last price 100
    evs = h.submit(req(BUY, OT.LIMIT, "1", "100.5", post_only=True), T(1) - 1)
    assert rows(evs) == [(K.REJECTED, None, None, ANY)] and evs[0].code == RejectCode.WOULD_TAKE
    h.check()


def test_post_only_fills_only_as_maker() -> None:
    h = H()
    h.bar(WARM)
    h.submit(req(BUY, OT.LIMIT, "1", "99", post_only=True), T(1) - 1)
    h.submit(req(SELL, OT.LIMIT, "1", "101", post_only=True), T(1) - 1)
    # gap through both prices at the open: a post-only order still never takes
    evs = h.bar(bar(1, "98", "102", "97", "101"))
    evs += h.bar(bar(2, "101", "103", "97", "100"))
    for e in evs:
        if e.fill:
            assert e.fill.liquidity == Liquidity.MAKER
            assert e.fill.fee == (e.fill.quantity if e.fill.side == BUY else e.fill.quote_quantity) * M.maker_fee
    h.check()


def test_ioc_against_book_fills_what_it_can_and_expires_the_rest() -> None:
    h = H()
    h.book(BOOK)
    evs = h.submit(req(BUY, OT.LIMIT, "2", "100.05", time_in_force=TIF.IOC), T(1) + 1)
    assert rows(evs) == [
        (K.ACCEPTED, None, None, S.NEW),
        (K.PARTIALLY_FILLED, D("100.05"), D("1"), S.PARTIALLY_FILLED),
        (K.EXPIRED, None, None, S.EXPIRED),
    ]
    assert evs[1].fill.liquidity == Liquidity.TAKER
    assert h.e.open_orders("a") == []
    assert h.bal("USDT") == (START["USDT"] - D("100.05"), 0)
    assert h.bal("BTC") == (START["BTC"] + D("1") - D("0.002"), 0)
    h.check()


def test_ioc_without_book_expires_at_once_if_not_marketable() -> None:
    h = H()
    h.bar(WARM)  # last price 100: a buy IOC at 90 cannot take anything
    evs = h.submit(req(BUY, OT.LIMIT, "1", "90", time_in_force=TIF.IOC), T(1) - 1)
    assert rows(evs) == [(K.ACCEPTED, None, None, S.NEW), (K.EXPIRED, None, None, S.EXPIRED)]
    assert fills(h.bar(bar(1, "100", "101", "95", "100"))) == []
    assert h.e.open_orders("a") == []
    assert h.bal("USDT") == (START["USDT"], 0)
    # never fills later even if the price comes to it
    assert fills(h.bar(bar(2, "95", "96", "80", "85"))) == []
    h.check()


def test_ioc_without_book_never_rests_after_its_first_bar() -> None:
    h = H()
    h.bar(WARM)
    h.submit(req(BUY, OT.LIMIT, "50", "101", time_in_force=TIF.IOC), T(1) - 1)
    evs = h.bar(bar(1, "100", "101.5", "99", "100", "100"))  # budget 10 of 50
    assert evs[-1].kind == K.EXPIRED
    for f in fills(evs):
        assert f.price <= D("101") and D("99") <= f.price <= D("101.5")
    assert sum(f.quantity for f in fills(evs)) <= D("10")
    assert h.e.open_orders("a") == []
    assert h.bal("USDT")[1] == 0
    h.check()


@pytest.mark.parametrize(
    ("qty", "price", "expected"),
    [
        pytest.param(
            "2", "100.05", [(K.ACCEPTED, None, None, S.NEW), (K.EXPIRED, None, None, S.EXPIRED)], id="too-big-at-best"
        ),
        pytest.param(
            "1", "100.05", [(K.ACCEPTED, None, None, S.NEW), (K.FILLED, D("100.05"), D("1"), S.FILLED)], id="fits-best"
        ),
        pytest.param(
            "2",
            "100.10",
            [
                (K.ACCEPTED, None, None, S.NEW),
                (K.PARTIALLY_FILLED, D("100.05"), D("1"), S.PARTIALLY_FILLED),
                (K.FILLED, D("100.10"), D("1"), S.FILLED),
            ],
            id="walks-two-levels",
        ),
        pytest.param(
            "7", "100.10", [(K.ACCEPTED, None, None, S.NEW), (K.EXPIRED, None, None, S.EXPIRED)], id="more-than-book"
        ),
    ],
)
def test_fok_against_book(qty: str, price: str, expected: list) -> None:
    h = H()
    h.book(BOOK)
    evs = h.submit(req(BUY, OT.LIMIT, qty, price, time_in_force=TIF.FOK), T(1) + 1)
    assert rows(evs) == expected
    filled = sum(f.quantity for f in fills(evs))
    assert filled in (D(0), D(qty))
    if not filled:
        assert h.bal("USDT") == (START["USDT"], 0)
    assert h.e.open_orders("a") == []
    h.check()


def test_fok_without_book_all_or_nothing_on_next_bar() -> None:
    h = H()
    h.bar(WARM)
    h.submit(req(BUY, OT.LIMIT, "10", "101", time_in_force=TIF.FOK), T(1) - 1)  # marketable vs 100
    evs = h.bar(bar(1, "100", "101", "98", "100", "50"))  # budget 5 < 10
    assert rows(evs) == [(K.EXPIRED, None, None, S.EXPIRED)]
    assert h.bal("USDT") == (START["USDT"], 0)
    h.check()


def test_gtd_requires_expire_time() -> None:
    h = H()
    evs = h.submit(req(BUY, OT.LIMIT, "1", "99", time_in_force=TIF.GTD), T(1))
    assert rows(evs) == [(K.REJECTED, None, None, ANY)]
    assert evs[0].code == RejectCode.INVALID
    h.check()


def test_gtd_expires_on_advance_and_releases_funds() -> None:
    h = H()
    exp = T(5)
    h.submit(req(BUY, OT.LIMIT, "1", "99", time_in_force=TIF.GTD, expire_at_ms=exp), T(1))
    free, locked = h.bal("USDT")
    assert locked >= D("99") and free + locked == D("100000")
    assert h.advance(exp - 1) == []
    assert h.e.get_order("a", order_id=h.log[-1].order.id).status == S.NEW
    evs = h.advance(exp)
    assert rows(evs) == [(K.EXPIRED, None, None, S.EXPIRED)]
    assert evs[0].ts_ms == exp
    assert h.bal("USDT") == (D("100000"), 0)
    assert h.advance(exp + 1) == []
    h.check()


def test_gtd_expires_on_bar_before_it_can_fill() -> None:
    h = H()
    exp = T(3)
    oid = h.submit(req(BUY, OT.LIMIT, "1", "99", time_in_force=TIF.GTD, expire_at_ms=exp), T(1))[0].order.id
    assert h.bar(bar(1, "100", "101", "99.5", "100")) == []
    evs = h.bar(bar(4, "100", "101", "90", "95"))  # after expiry, trades through
    assert rows(evs) == [(K.EXPIRED, None, None, S.EXPIRED)]
    assert h.e.get_order("a", order_id=oid).filled_qty == 0
    assert h.bal("USDT") == (D("100000"), 0)
    h.check()


def test_gtd_expires_on_trade_when_time_passes() -> None:
    h = H()
    exp = T(3)
    h.submit(req(SELL, OT.LIMIT, "1", "101", time_in_force=TIF.GTD, expire_at_ms=exp), T(1))
    evs = h.trade(Trade(exp + 5, D("105"), D("100"), BUY))
    assert rows(evs) == [(K.EXPIRED, None, None, S.EXPIRED)]
    assert h.bal("BTC") == (D("10"), 0)
    h.check()


def test_iceberg_fills_in_visible_slices_over_time() -> None:
    h = H()
    oid = h.submit(req(BUY, OT.LIMIT, "1", "99", iceberg_qty="0.2"), T(1) - 1)[0].order.id
    got = []
    for i in range(1, 11):
        got += fills(h.bar(bar(i, "100", "101", "98", "100", "1000")))
        h.check()
    assert sum(f.quantity for f in got) == D("1")
    assert all(f.quantity <= D("0.2") for f in got), [f.quantity for f in got]
    assert all(f.price == D("99") and f.liquidity == Liquidity.MAKER for f in got)
    assert h.e.get_order("a", order_id=oid).status == S.FILLED


def test_hidden_order_does_not_fill_at_touch_even_with_at_touch_model() -> None:
    h = H(FillModel(at_touch=True, queue_ahead_fraction=D(0)))
    h.submit(req(BUY, OT.LIMIT, "1", "99", hidden=True), T(1) - 1)
    assert h.bar(bar(1, "100", "101", "99", "100")) == []
    evs = h.bar(bar(2, "100", "102", "98.99", "101"))
    assert rows(evs) == [(K.FILLED, D("99"), D("1"), S.FILLED)]
    assert evs[0].fill.liquidity == Liquidity.MAKER
    h.check()


# ---------------------------------------------------------------------------------------------
# reduce-only, duplicate client id, cancel, amend
# ---------------------------------------------------------------------------------------------


def test_reduce_only_unsupported_on_spot() -> None:
    h = H()
    evs = h.submit(req(SELL, OT.LIMIT, "1", "101", reduce_only=True), T(1))
    assert rows(evs) == [(K.REJECTED, None, None, ANY)]
    assert evs[0].code == RejectCode.UNSUPPORTED
    h.check()


def test_reduce_only_never_grows_position() -> None:
    h = H(FM0, balances={"USDT": D("100000")}, positions=True)
    h.bar(WARM)
    evs = h.submit(req(SELL, OT.MARKET, "1", reduce_only=True), T(1) - 1)  # flat: would open a short
    if evs[-1].kind != K.REJECTED:
        h.bar(bar(1, "100", "101", "99", "100"))
    assert h.e.position("a", SYM) == 0
    h.submit(req(BUY, OT.MARKET, "1"), T(2) - 1)
    h.bar(bar(2, "100", "101", "99", "100"))
    assert h.e.position("a", SYM) == D("1")
    evs = h.submit(req(BUY, OT.MARKET, "1", reduce_only=True), T(3) - 2)  # long: would grow
    if evs[-1].kind == K.REJECTED:
        assert evs[-1].code == RejectCode.REDUCE_ONLY
    h.submit(req(SELL, OT.MARKET, "3", reduce_only=True), T(3) - 1)  # bigger than the position
    path = []
    for i in range(3, 6):
        h.bar(bar(i, "100", "101", "99", "100"))
        path.append(h.e.position("a", SYM))
    assert all(D(0) <= p <= D(1) for p in path), path
    assert path[-1] == 0
    h.check()


def test_duplicate_client_id_rejected() -> None:
    h = H()
    assert rows(h.submit(req(BUY, OT.LIMIT, "1", "99", client_id="x1"), T(1))) == [(K.ACCEPTED, None, None, S.NEW)]
    h.lock_of_first = h.bal("USDT")[1]
    evs = h.submit(req(BUY, OT.LIMIT, "1", "98", client_id="x1"), T(1) + 1)
    assert rows(evs) == [(K.REJECTED, None, None, ANY)]
    assert evs[0].code == RejectCode.DUPLICATE_CLIENT_ID
    assert len(h.e.open_orders("a")) == 1
    assert h.bal("USDT")[1] == h.lock_of_first
    h.check()


def test_cancel_releases_and_unknown_is_rejected() -> None:
    h = H()
    oid = h.submit(req(BUY, OT.LIMIT, "1", "99", client_id="c1"), T(1))[0].order.id
    h.submit(req(SELL, OT.LIMIT, "2", "101", client_id="c2"), T(1))
    free, locked = h.bal("USDT")
    assert locked >= D("99") and free + locked == D("100000")
    assert h.bal("BTC") == (D("8"), D("2"))
    evs = h.cancel(T(1) + 1, order_id=oid)
    assert rows(evs) == [(K.CANCELED, None, None, S.CANCELED)]
    assert h.bal("USDT") == (D("100000"), 0)
    evs = h.cancel(T(1) + 2, client_id="c2")
    assert rows(evs) == [(K.CANCELED, None, None, S.CANCELED)]
    assert h.bal("BTC") == (D("10"), 0)
    evs = h.cancel(T(1) + 3, order_id=oid)  # already canceled
    assert rows(evs) == [(K.REJECTED, None, None, ANY)] and evs[0].code == RejectCode.UNKNOWN_ORDER
    evs = h.cancel(T(1) + 4, order_id=987654)
    assert rows(evs) == [(K.REJECTED, None, None, ANY)] and evs[0].code == RejectCode.UNKNOWN_ORDER
    h.check()


def test_cancel_all() -> None:
    h = H()
    for i, p in enumerate(["97", "98", "99"]):
        h.submit(req(BUY, OT.LIMIT, "1", p), T(1) + i)
    evs = h.e.cancel_all("a", SYM, ts_ms=T(2))
    h.log.extend(evs)
    assert [e.kind for e in evs] == [K.CANCELED] * 3
    assert h.e.open_orders("a") == []
    assert h.bal("USDT") == (D("100000"), 0)
    h.check()


def test_cancel_after_partial_fill_releases_remainder() -> None:
    h = H()
    h.submit(req(BUY, OT.LIMIT, "10", "99"), T(1) - 1)
    h.bar(bar(1, "100", "101", "98", "100", "50"))  # 5 fill
    h.cancel(T(2), order_id=h.log[-1].order.id)
    assert h.bal("USDT") == (D("100000") - D("495"), 0)
    assert h.bal("BTC") == (D("10") + D("5") - D("0.005"), 0)
    h.check()


def test_amend_price_and_quantity_moves_the_lock() -> None:
    h = H()
    oid = h.submit(req(BUY, OT.LIMIT, "1", "99"), T(1))[0].order.id
    lock99 = h.bal("USDT")[1]
    evs = h.amend(T(1) + 1, order_id=oid, price=D("98"))
    assert rows(evs) == [(K.AMENDED, None, None, S.NEW)]
    assert evs[0].order.price == D("98")
    lock98 = h.bal("USDT")[1]
    assert lock98 * 99 == lock99 * 98  # the lock follows the price (whatever the fee reserve rate)
    assert sum(h.bal("USDT")) == D("100000")
    evs = h.amend(T(1) + 2, order_id=oid, quantity=D("2"))
    assert rows(evs) == [(K.AMENDED, None, None, S.NEW)]
    assert evs[0].order.quantity == D("2")
    assert h.bal("USDT")[1] == 2 * lock98 and sum(h.bal("USDT")) == D("100000")
    # the amended price is the one that fills
    assert h.bar(bar(2, "100", "101", "98.5", "100")) == []
    evs = h.bar(bar(3, "100", "101", "97.99", "100"))
    assert [(f.price, f.quantity) for f in fills(evs)] == [(D("98"), D("2"))]
    h.check()


def test_amend_unknown_order_rejected() -> None:
    h = H()
    evs = h.amend(T(1), order_id=424242, price=D("98"))
    assert rows(evs) == [(K.REJECTED, None, None, ANY)] and evs[0].code == RejectCode.UNKNOWN_ORDER
    evs = h.amend(T(1), client_id="nope", price=D("98"))
    assert rows(evs) == [(K.REJECTED, None, None, ANY)] and evs[0].code == RejectCode.UNKNOWN_ORDER
    h.check()


def test_amend_beyond_funds_rejected_and_order_unchanged() -> None:
    h = H(balances={"USDT": D("200")})
    oid = h.submit(req(BUY, OT.LIMIT, "1", "99"), T(1))[0].order.id
    before = h.bal("USDT")
    evs = h.amend(T(1) + 1, order_id=oid, quantity=D("3"))
    assert rows(evs) == [(K.REJECTED, None, None, ANY)] and evs[0].code == RejectCode.INSUFFICIENT_FUNDS
    assert h.e.get_order("a", order_id=oid).quantity == D("1")
    assert h.bal("USDT") == before
    h.check()


# ---------------------------------------------------------------------------------------------
# filters and funds
# ---------------------------------------------------------------------------------------------

FM_ = Market(
    "F/USDT",
    "F",
    "USDT",
    tick_size=D("0.01"),
    step_size=D("0.001"),
    min_qty=D("0.01"),
    max_qty=D("100"),
    market_max_qty=D("10"),
    min_notional=D("10"),
    max_notional=D("100000"),
    max_iceberg_parts=10,
    min_trailing_bps=10,
    max_trailing_bps=2000,
)


def freq(side: Side, type_: OrderType, qty: str | None = None, price: str | None = None, **kw: Any) -> OrderRequest:
    return dataclasses.replace(req(side, type_, qty, price, **kw), symbol="F/USDT")


FILTER_CASES = [
    pytest.param(freq(BUY, OT.LIMIT, "1", "100.001"), "PRICE_FILTER", "0.01", id="price-off-tick"),
    pytest.param(freq(BUY, OT.LIMIT, "1", "0"), "PRICE_FILTER", None, id="price-zero"),
    pytest.param(freq(BUY, OT.LIMIT, "1", "-1"), "PRICE_FILTER", None, id="price-negative"),
    pytest.param(
        freq(BUY, OT.STOP_MARKET, "1", trigger_price="150.005"), "PRICE_FILTER", "0.01", id="trigger-off-tick"
    ),
    pytest.param(freq(BUY, OT.LIMIT, "1.0005", "100"), "LOT_SIZE", "0.001", id="qty-off-step"),
    pytest.param(freq(BUY, OT.LIMIT, "0.005", "3000"), "LOT_SIZE", "0.01", id="qty-below-min"),
    pytest.param(freq(BUY, OT.LIMIT, "101", "100"), "LOT_SIZE", "100", id="qty-above-max"),
    pytest.param(freq(BUY, OT.MARKET, "11"), "MARKET_LOT_SIZE", "10", id="market-qty-above-max"),
    pytest.param(freq(BUY, OT.LIMIT, "1", "5"), "NOTIONAL", "10", id="notional-below-min"),
    pytest.param(freq(BUY, OT.LIMIT, "99", "2000"), "NOTIONAL", "100000", id="notional-above-max"),
    pytest.param(freq(BUY, OT.LIMIT, "1.1", "100", iceberg_qty="0.1"), "ICEBERG_PARTS", "10", id="iceberg-parts"),
    pytest.param(freq(SELL, OT.TRAILING_STOP_MARKET, "1", trailing_bps=5), "TRAILING_DELTA", "10", id="trailing-below"),
    pytest.param(
        freq(SELL, OT.TRAILING_STOP_MARKET, "1", trailing_bps=2001), "TRAILING_DELTA", "2000", id="trailing-above"
    ),
]


@pytest.mark.parametrize(("request_", "name", "allowed"), FILTER_CASES)
def test_filters_reject_with_name_and_bound(request_: OrderRequest, name: str, allowed: str | None) -> None:
    h = H(markets=[FM_], balances={"USDT": D("10000000"), "F": D("1000")})
    h.bar(Bar(T(0), D("100"), D("100.5"), D("99.5"), D("100"), D("100000")), symbol="F/USDT")
    evs = h.submit(request_, T(1))
    assert rows(evs) == [(K.REJECTED, None, None, ANY)]
    e = evs[0]
    assert (e.code, e.filter) == (RejectCode.FILTER, name)
    assert e.allowed is not None
    if allowed is not None:
        # the bound, bare ("0.01") or named ("tickSize=0.01", "10..2000 bps")
        assert D(allowed) in [D(x) for x in re.findall(r"-?\d+(?:\.\d+)?(?:E-?\d+)?", e.allowed)], e.allowed
    assert e.reason
    assert h.bal("USDT") == (D("10000000"), 0)
    h.check()


def test_filter_boundaries_accept() -> None:
    h = H(markets=[FM_], balances={"USDT": D("10000000"), "F": D("1000")})
    h.bar(Bar(T(0), D("100"), D("100.5"), D("99.5"), D("100"), D("100000")), symbol="F/USDT")
    ok = [
        freq(BUY, OT.LIMIT, "0.01", "1000"),  # min qty, notional exactly 10
        freq(BUY, OT.LIMIT, "100", "1000"),  # max qty, notional exactly 100000
        freq(BUY, OT.MARKET, "10"),  # market max
        freq(BUY, OT.LIMIT, "1", "50", iceberg_qty="0.1"),  # exactly 10 parts
        freq(SELL, OT.TRAILING_STOP_MARKET, "1", trailing_bps=10),
        freq(SELL, OT.TRAILING_STOP_MARKET, "1", trailing_bps=2000),
    ]
    for i, r in enumerate(ok):
        evs = h.submit(r, T(1) + i)
        assert evs[0].kind == K.ACCEPTED, (r, evs[0].reason, evs[0].filter)
    h.check()


@pytest.mark.parametrize(
    ("balances", "request_"),
    [
        pytest.param({"USDT": D("50")}, req(BUY, OT.LIMIT, "1", "99"), id="buy-limit-short-quote"),
        # 99 * 1.002 = 99.198 > 99.19
        pytest.param({"USDT": D("98.99")}, req(BUY, OT.LIMIT, "1", "99"), id="buy-limit-one-cent-short"),
        pytest.param({"BTC": D("0.5")}, req(SELL, OT.LIMIT, "1", "101"), id="sell-short-base"),
        pytest.param({"USDT": D("10")}, req(BUY, OT.MARKET, quote_quantity="11"), id="market-quote-short"),
        pytest.param({"USDT": D("1000")}, req(SELL, OT.MARKET, "1"), id="market-sell-no-base"),
    ],
)
def test_insufficient_funds_rejected_with_reason(balances: dict, request_: OrderRequest) -> None:
    h = H(balances=balances)
    evs = h.submit(request_, T(1))
    assert rows(evs) == [(K.REJECTED, None, None, ANY)]
    assert evs[0].code == RejectCode.INSUFFICIENT_FUNDS and evs[0].reason
    assert _nz(h.e.balances("a")) == _nz({k: (v, D(0)) for k, v in balances.items()})
    h.check()


def test_limit_buy_exact_amount_accepted() -> None:
    h = H(balances={"USDT": D("99")})
    evs = h.submit(req(BUY, OT.LIMIT, "1", "99"), T(1))
    assert evs[0].kind == K.ACCEPTED
    assert h.bal("USDT") == (0, D("99"))
    h.check()


def test_withdraw_and_deposit() -> None:
    h = H(balances={"USDT": D("100")})
    evs = h.e.withdraw("a", "USDT", D("100.01"), ts_ms=T(1))
    h.log.extend(evs)
    assert [e.kind for e in evs] == [K.REJECTED] and evs[0].code == RejectCode.INSUFFICIENT_FUNDS
    h.submit(req(BUY, OT.LIMIT, "0.5", "100"), T(1))  # locks about 50
    free, locked = h.bal("USDT")
    evs = h.e.withdraw("a", "USDT", free + D("0.01"), ts_ms=T(1) + 1)  # more than free
    h.log.extend(evs)
    assert evs[0].kind == K.REJECTED and evs[0].code == RejectCode.INSUFFICIENT_FUNDS
    evs = h.e.deposit("a", "USDT", D("1"), ts_ms=T(1) + 2)
    h.log.extend(evs)
    assert [e.kind for e in evs] == [K.DEPOSIT]
    evs = h.e.withdraw("a", "USDT", free + D("0.01"), ts_ms=T(1) + 3)
    h.log.extend(evs)
    assert evs and evs[0].kind != K.REJECTED
    assert h.bal("USDT") == (D("0.99"), locked)
    h.check()


def test_fee_rounded_up_to_fee_precision() -> None:
    mk = Market(
        SYM,
        "BTC",
        "USDT",
        tick_size=D("0.01"),
        step_size=D("0.001"),
        maker_fee=D("0.001"),
        taker_fee=D("0.002"),
        fee_precision=D("0.01"),
    )
    h = H(markets=[mk])
    h.submit(req(SELL, OT.LIMIT, "0.011", "100"), T(1) - 1)
    evs = h.bar(bar(1, "99.5", "100.5", "99", "100"))
    f = evs[0].fill
    # 1.1 * 0.001 = 0.0011 -> rounded up to 0.01
    assert (f.quote_quantity, f.fee, f.fee_asset, f.liquidity) == (D("1.1"), D("0.01"), "USDT", Liquidity.MAKER)
    assert h.bal("USDT") == (D("100000") + D("1.09"), 0)
    assert h.e.fees_collected().get("USDT") == D("0.01")
    h.check()


@pytest.mark.parametrize(
    ("request_", "liq", "fee"),
    [
        pytest.param(req(BUY, OT.MARKET, "1"), Liquidity.TAKER, D("0.002"), id="market-buy-taker-base"),
        pytest.param(req(BUY, OT.LIMIT, "1", "99"), Liquidity.MAKER, D("0.001"), id="limit-buy-maker-base"),
        pytest.param(req(SELL, OT.LIMIT, "1", "99.9"), Liquidity.MAKER, D("0.0999"), id="limit-sell-maker-quote"),
    ],
)
def test_fee_rate_by_how_the_order_filled(request_: OrderRequest, liq: Liquidity, fee: Decimal) -> None:
    h = H(FM0)
    h.submit(request_, T(1) - 1)
    evs = h.bar(bar(1, "99.5", "100", "98", "99"))  # buy market fills at 99.51
    f = fills(evs)[0]
    assert (f.liquidity, f.fee) == (liq, fee if liq == Liquidity.MAKER else f.quantity * D("0.002"))
    assert f.fee_asset == ("BTC" if f.side == BUY else "USDT")
    assert h.e.fees_collected().get(f.fee_asset) == f.fee
    h.check()


# ---------------------------------------------------------------------------------------------
# finer data: trades and books
# ---------------------------------------------------------------------------------------------


def test_trade_print_through_resting_limit_fills_it() -> None:
    h = H()
    h.trade(Trade(T(1) - 10, D("100"), D("1"), BUY))
    h.submit(req(BUY, OT.LIMIT, "1", "99"), T(1))
    assert h.trade(Trade(T(1) + 10, D("99.00"), D("100"), SELL)) == []  # touch
    evs = h.trade(Trade(T(1) + 20, D("98.99"), D("100"), SELL))
    assert rows(evs) == [(K.FILLED, D("99"), D("1"), S.FILLED)]
    assert evs[0].ts_ms == T(1) + 20 and evs[0].fill.liquidity == Liquidity.MAKER
    h.check()


def test_trade_print_on_the_wrong_side_does_not_fill() -> None:
    h = H()
    h.trade(Trade(T(1) - 10, D("100"), D("1"), BUY))
    h.submit(req(SELL, OT.LIMIT, "1", "101"), T(1))
    assert h.trade(Trade(T(1) + 10, D("100"), D("100"), BUY)) == []
    evs = h.trade(Trade(T(1) + 20, D("101.01"), D("100"), BUY))
    assert rows(evs) == [(K.FILLED, D("101"), D("1"), S.FILLED)]
    h.check()


def test_market_order_walks_book_and_consumes_levels() -> None:
    h = H()
    h.book(
        BookSnapshot(
            T(1),
            bids=((D("99.95"), D("2")),),
            asks=((D("100.05"), D("1")), (D("100.10"), D("1")), (D("100.20"), D("5"))),
        )
    )
    evs = h.submit(req(BUY, OT.MARKET, "3"), T(1) + 1)
    assert rows(evs) == [
        (K.ACCEPTED, None, None, S.NEW),
        (K.PARTIALLY_FILLED, D("100.05"), D("1"), S.PARTIALLY_FILLED),
        (K.PARTIALLY_FILLED, D("100.10"), D("1"), S.PARTIALLY_FILLED),
        (K.FILLED, D("100.20"), D("1"), S.FILLED),
    ]
    assert all(e.fill.liquidity == Liquidity.TAKER and e.ts_ms == T(1) + 1 for e in evs[1:])
    # the first two levels are gone until the next snapshot
    evs = h.submit(req(BUY, OT.MARKET, "1"), T(1) + 2)
    assert rows(evs)[1:] == [(K.FILLED, D("100.20"), D("1"), S.FILLED)]
    evs = h.submit(req(SELL, OT.MARKET, "2"), T(1) + 3)
    assert rows(evs)[1:] == [(K.FILLED, D("99.95"), D("2"), S.FILLED)]
    h.check()


def test_limit_marketable_against_book_takes_then_rests() -> None:
    h = H()
    h.book(BOOK)
    h.e.submit("a", req(BUY, OT.LIMIT, "3", "100"), ts_ms=T(1))  # probe: the lock of a 3 x 100.05 order
    lock3 = h.bal("USDT")[1] * D("100.05") / D("100")
    h = H()
    h.book(BOOK)
    evs = h.submit(req(BUY, OT.LIMIT, "3", "100.05"), T(1) + 1)
    assert rows(evs) == [
        (K.ACCEPTED, None, None, S.NEW),
        (K.PARTIALLY_FILLED, D("100.05"), D("1"), S.PARTIALLY_FILLED),
    ]
    assert evs[1].fill.liquidity == Liquidity.TAKER
    o = h.e.open_orders("a")
    assert len(o) == 1 and o[0].remaining == D("2")
    # the remaining 2 keep their share of the lock
    assert h.bal("USDT")[1] == lock3 * 2 / 3
    h.check()


def test_trade_touch_does_not_fill_an_order_placed_before_any_data() -> None:
    # the order was accepted and rested (no book to take from): a print AT its price is a touch
    h = H()
    h.submit(req(BUY, OT.LIMIT, "1", "99"), T(1))
    assert h.trade(Trade(T(1) + 10, D("99.00"), D("100"), SELL)) == []
    h.check()


def test_limit_not_marketable_at_submit_is_not_filled_by_a_touch_at_the_next_open() -> None:
    # last price 100; a buy at 99 rests; the next bar opens AT 99 and never trades below: touch only
    h = H()
    h.bar(WARM)
    h.submit(req(BUY, OT.LIMIT, "1", "99"), T(1) - 1)
    assert h.bar(bar(1, "99", "99.5", "99", "99.2")) == []
    h.check()


def test_gap_through_resting_limit_fills_at_its_limit_never_better() -> None:
    # issue #13: close 100; BUY 1 @ 99 rests; the next candle opens at 97 (H 97.5, L 96). An
    # exchange fills a resting order at its own price: 99, not the 97.5 the gap would offer
    h = H()
    h.bar(WARM)
    h.submit(req(BUY, OT.LIMIT, "1", "99"), T(1) - 1)
    evs = h.bar(bar(1, "97", "97.5", "96", "97"))
    assert rows(evs) == [(K.FILLED, D("99"), D("1"), S.FILLED)]
    assert evs[0].fill.liquidity == Liquidity.MAKER and evs[0].ts_ms == T(1)
    assert h.e.balances("a")["USDT"] == (START["USDT"] - D("99"), D(0))
    h.check()


def test_gap_through_resting_sell_fills_at_its_limit_never_better() -> None:
    # the mirror: SELL 1 @ 101 rests; the next candle opens at 103 (L 102.5): fill at 101
    h = H()
    h.bar(WARM)
    h.submit(req(SELL, OT.LIMIT, "1", "101"), T(1) - 1)
    evs = h.bar(bar(1, "103", "104", "102.5", "103"))
    assert rows(evs) == [(K.FILLED, D("101"), D("1"), S.FILLED)]
    assert evs[0].fill.liquidity == Liquidity.MAKER
    h.check()


def test_resting_limit_gapped_through_later_fills_at_its_limit() -> None:
    # found on the real candles: a limit that rested through one bar and is then gapped through
    # by a bar entirely below it; it was resting, so it fills at its own limit (99.5), not at 98
    h = H()
    h.bar(WARM)
    h.submit(req(BUY, OT.LIMIT, "1", "99.5"), T(1) - 1)
    assert h.bar(bar(1, "100", "100.5", "99.6", "100")) == []  # rests, untouched
    evs = h.bar(bar(2, "98", "98", "98", "98"))  # flat bar far below the limit
    assert [(f.price, f.liquidity) for f in fills(evs)] == [(D("99.5"), Liquidity.MAKER)]
    h.check()


def test_taker_crossing_on_arrival_may_get_the_better_price() -> None:
    # a BUY @ 101 with the last price at 100 is marketable when it arrives: it takes at the next
    # open (97) plus one tick of slippage as a taker, better than its limit
    h = H(FM0)
    h.bar(WARM)
    h.submit(req(BUY, OT.LIMIT, "1", "101"), T(1) - 1)
    evs = h.bar(bar(1, "97", "97.5", "96", "97"))
    assert rows(evs) == [(K.FILLED, D("97.01"), D("1"), S.FILLED)]
    assert evs[0].fill.liquidity == Liquidity.TAKER
    h.check()


def test_fee_rounded_up_never_exceeds_what_the_fill_pays() -> None:
    # found by the properties: with a coarse fee_precision the rounded-up fee of a tiny sell is
    # larger than its proceeds and the engine raised ValueError from its ledger mid-fill
    mk = Market(
        SYM, "BTC", "USDT", tick_size=D("0.00001"), step_size=D("0.001"), taker_fee=D("0.001"), fee_precision=D("0.01")
    )
    h = H(FM0, markets=[mk], balances={"BTC": D("1")})
    h.bar(Bar(T(0), D("0.02"), D("0.02"), D("0.02"), D("0.02"), D("0")))
    h.submit(req(SELL, OT.MARKET, "0.001"), T(1) - 1)
    h.trade(Trade(T(1) + 1, D("0.02"), D("0.5"), BUY))  # must not raise
    h.check()


def test_hidden_order_never_fills_as_taker_on_a_print() -> None:
    # found by the properties: a hidden sell at the last price filled as TAKER on a print at its price
    h = H()
    h.bar(WARM)
    h.submit(req(SELL, OT.LIMIT, "1", "100", hidden=True), T(1) - 1)
    evs = h.trade(Trade(T(1) + 1, D("100"), D("100"), BUY))
    assert all(f.liquidity == Liquidity.MAKER for f in fills(evs))
    h.check()


def test_fok_on_a_trade_print_is_all_or_nothing() -> None:
    # found by the properties: a FOK sell of 0.6 filled 0.5 from a 0.5 print
    h = H()
    h.bar(WARM)
    h.submit(req(SELL, OT.LIMIT, "0.6", "100", time_in_force=TIF.FOK), T(1) - 1)
    h.trade(Trade(T(1) + 1, D("100"), D("0.5"), BUY))
    o = h.e.orders("a")[0]
    assert o.filled_qty in (D(0), D("0.6")), o
    h.check()


def test_ioc_market_order_does_not_rest_after_an_empty_bar() -> None:
    # found by the properties: an IOC market order stays NEW after a zero-volume bar
    h = H()
    h.bar(WARM)
    h.submit(req(BUY, OT.MARKET, "1", time_in_force=TIF.IOC), T(1) - 1)
    h.bar(bar(1, "100", "100", "100", "100", "0"))
    assert h.e.open_orders("a") == []
    h.check()
