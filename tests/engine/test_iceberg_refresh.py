"""Icebergs (#13): the part count is a ceiling, and the visible slice refreshes on every kind of
market data the engine gets (candles, trade prints, book snapshots), so an iceberg fills in full.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from kit.engine import Bar, BookSnapshot, Engine, Market, OrderRequest, OrderType, Side, Trade
from kit.engine.types import EventKind, OrderStatus

D = Decimal
SYM = "BTC/USDT"
M = Market(SYM, "BTC", "USDT", tick_size=D("0.01"), step_size=D("0.001"), max_iceberg_parts=10)
T0 = 60_000 * 28_000_000


def _engine() -> Engine:
    e = Engine([M])
    e.open_account("a", {"USDT": "100000", "BTC": "100"})
    e.on_trade(SYM, Trade(T0, D("100"), D("1"), Side.BUY))
    return e


def _iceberg(e: Engine, qty: str, visible: str, side: Side = Side.SELL, price: str = "101") -> list:
    r = OrderRequest(SYM, side, OrderType.LIMIT, quantity=D(qty), price=D(price), iceberg_qty=D(visible))
    return e.submit("a", r, ts_ms=T0 + 1)


@pytest.mark.parametrize(
    ("qty", "visible", "parts"),
    [("10.5", "1", 11), ("10.001", "1", 11), ("1.1", "0.1", 11), ("-10.5", "1", None)],
)
def test_part_count_is_a_ceiling(qty: str, visible: str, parts: int | None) -> None:
    # Decimal's // truncates toward zero, so -(-q // p) was a floor: 10.5 / 1 counted 10 parts
    ev = _iceberg(_engine(), qty, visible)
    assert ev[0].kind is EventKind.REJECTED
    if parts is not None:
        assert ev[0].filter == "ICEBERG_PARTS" and f"{parts} parts" in ev[0].reason
    else:
        assert ev[0].filter is None  # a negative quantity is refused before the part count


def test_ten_parts_exactly_are_accepted() -> None:
    assert _iceberg(_engine(), "10", "1")[0].kind is EventKind.ACCEPTED


def test_iceberg_fills_in_full_over_successive_trade_prints() -> None:
    # issue #13: SELL 3 @ 101 icebergQty 1 filled 1 on prints and then stayed partially filled
    e = _engine()
    oid = _iceberg(e, "3", "1")[0].order.id
    got = []
    for k in range(3):
        evs = e.on_trade(SYM, Trade(T0 + 10 + k, D("101.05"), D("5"), Side.BUY))
        got.append([(x.fill.price, x.fill.quantity) for x in evs if x.fill])
    assert got == [[(D("101"), D("1"))]] * 3  # one slice per print, at its limit
    o = e.get_order("a", order_id=oid)
    assert o.status is OrderStatus.FILLED and o.filled_qty == D("3")


def test_iceberg_fills_in_full_over_successive_book_snapshots() -> None:
    e = _engine()
    oid = _iceberg(e, "3", "1")[0].order.id
    got = []
    for k in range(3):
        book = BookSnapshot(T0 + 10 + k, ((D("101.05"), D("5")), (D("101.02"), D("5"))), ((D("101.10"), D("5")),))
        got.append([(x.fill.price, x.fill.quantity) for x in e.on_book(SYM, book) if x.fill])
    assert got == [[(D("101"), D("1"))]] * 3
    assert e.get_order("a", order_id=oid).status is OrderStatus.FILLED


def test_iceberg_on_candles_one_slice_per_candle() -> None:
    e = _engine()
    _iceberg(e, "2.5", "1")
    got = []
    for k in range(3):
        b = Bar(T0 + 60_000 * (k + 1), D("100"), D("102"), D("99.5"), D("100"), D("1000"))
        got.append([x.fill.quantity for x in e.on_bar(SYM, b) if x.fill])
    assert got == [[D("1")], [D("1")], [D("0.5")]]
