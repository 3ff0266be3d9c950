"""The paper venue's engine: the risk-averse queue on the engine's book-fed matching."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from kit.engine import BookSnapshot, FillModel, Market, OrderRequest, OrderType, Side, Trade
from kit.engine.paperengine import PaperEngine

SYM = "BTC/USDT"


def engine() -> PaperEngine:
    eng = PaperEngine([Market(SYM, "BTC", "USDT", tick_size=D("0.01"), step_size=D("0.001"))])
    eng.open_account("me", {"USDT": 10_000, "BTC": 10})
    eng.on_book(SYM, BookSnapshot(0, ((D(100), D(5)), (D("99.99"), D(8))), ((D("100.01"), D(4)),)))
    return eng


def buy(eng: PaperEngine, qty: str, price: str) -> int:
    ev = eng.submit("me", OrderRequest(SYM, Side.BUY, OrderType.LIMIT, quantity=D(qty), price=D(price)), ts_ms=1)
    assert ev[0].order is not None
    return ev[0].order.id


def filled(events: list) -> list[str]:
    return [str(e.fill.quantity) for e in events if e.fill is not None]


def test_a_book_update_caps_the_queue_and_growth_never_pushes_it_back() -> None:
    eng = engine()
    oid = buy(eng, "3", "100")
    assert eng._orders[oid].queue_ahead == D(5)
    eng.on_book(SYM, BookSnapshot(2, ((D(100), D(1)),), ((D("100.01"), D(4)),)))
    assert eng._orders[oid].queue_ahead == D(1)
    eng.on_book(SYM, BookSnapshot(3, ((D(100), D(9)),), ((D("100.01"), D(4)),)))
    assert eng._orders[oid].queue_ahead == D(1)
    assert filled(eng.on_trade(SYM, Trade(4, D(100), D(2), Side.SELL))) == ["1"]  # F = -1: fill 1


def test_a_touch_without_trades_fills_nothing_and_a_print_through_sweeps() -> None:
    eng = engine()
    buy(eng, "3", "99.99")  # 8 ahead
    assert filled(eng.on_book(SYM, BookSnapshot(2, ((D("99.99"), D(8)),), ((D("100.00"), D(4)),)))) == []
    assert filled(eng.on_trade(SYM, Trade(3, D("99.98"), D(10), Side.SELL))) == ["3"]  # one tick through


def test_the_paper_engine_needs_touch_fills() -> None:
    with pytest.raises(ValueError, match="at_touch=True"):
        PaperEngine([], fill_model=FillModel())
