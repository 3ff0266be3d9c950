"""The paper venue's engine: the model's queue rule (one implementation) on the engine's book-fed matching."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from kit.engine import BookSnapshot, FillModel, Market, OrderRequest, OrderType, Side, Trade
from kit.engine.paperengine import PaperEngine
from kit.engine.paperfill import PaperBook, PaperFillModel, PaperOrder

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
    assert eng.queue_ahead(oid) == D(5)
    eng.on_book(SYM, BookSnapshot(2, ((D(100), D(1)),), ((D("100.01"), D(4)),)))
    assert eng.queue_ahead(oid) == D(1)
    eng.on_book(SYM, BookSnapshot(3, ((D(100), D(9)),), ((D("100.01"), D(4)),)))
    assert eng.queue_ahead(oid) == D(1)
    assert filled(eng.on_trade(SYM, Trade(4, D(100), D(2), Side.SELL))) == ["1"]  # F = -1: fill 1


def test_a_touch_without_trades_fills_nothing_and_a_print_through_fills_beyond_the_queue() -> None:
    eng = engine()
    buy(eng, "3", "99.99")  # 8 ahead
    assert filled(eng.on_book(SYM, BookSnapshot(2, ((D("99.99"), D(8)),), ((D("100.00"), D(4)),)))) == []
    # 10 printed one tick through: the 8 ahead first, then 2 for us (spec (b)4: volume through less F)
    assert filled(eng.on_trade(SYM, Trade(3, D("99.98"), D(10), Side.SELL))) == ["2"]
    # a buyer's print at our bid is not our side's; a seller's is
    assert filled(eng.on_trade(SYM, Trade(4, D("99.99"), D(5), Side.BUY))) == []
    assert filled(eng.on_trade(SYM, Trade(5, D("99.99"), D("0.5"), Side.SELL))) == ["0.5"]


def test_the_engine_and_the_model_queue_alike() -> None:
    """The same books and prints to :class:`PaperEngine` and :class:`PaperBook`: the same resting fills."""
    eng = engine()
    pb = PaperBook(tick=D("0.01"), step=D("0.001"), model=PaperFillModel(latency_ms=0))
    pb.on_book(0, bids=[(D(100), D(5)), (D("99.99"), D(8))], asks=[(D("100.01"), D(4))])
    for i, (qty, px) in enumerate([("3", "100"), ("2", "99.99"), ("1", "100")]):
        buy(eng, qty, px)
        pb.submit(PaperOrder(f"o{i}", "buy", D(qty), price=D(px)), ts_ms=1)
    steps: list[tuple[str, tuple]] = [
        ("trade", (2, "100", "4", Side.SELL)),
        ("book", (3, [("100", "3"), ("99.99", "6")], [("100.01", "4")])),
        ("trade", (4, "100", "2.5", Side.SELL)),
        ("book", (5, [("99.99", "6")], [("99.98", "1.5"), ("100.00", "2")])),  # through both prices
        ("book", (6, [("99.99", "6")], [("99.98", "1.5"), ("100.00", "2")])),  # the same: counted once
        ("trade", (7, "99.97", "9", Side.SELL)),
    ]
    got: list[list[str]] = []
    for kind, args in steps:
        if kind == "trade":
            ts, px, q, side = args
            got_e = filled(eng.on_trade(SYM, Trade(ts, D(px), D(q), side)))
            got_m = [str(f.qty) for f in pb.on_trade(ts, D(px), D(q), buyer_maker=side is Side.SELL)]
        else:
            ts, bids, asks = args
            lv = ([(D(p), D(q)) for p, q in bids], [(D(p), D(q)) for p, q in asks])
            got_e = filled(eng.on_book(SYM, BookSnapshot(ts, tuple(lv[0]), tuple(lv[1]))))
            got_m = [str(f.qty) for f in pb.on_book(ts, bids=lv[0], asks=lv[1])]
        assert got_e == got_m, (kind, args)
        got.append(got_e)
    done = [o.filled_qty for o in eng.orders("me")]
    # o0 (3 at 100, F 5), o2 (1 at 100, F 5, joined later), o1 (2 at 99.99, F 8): the 4 printed at 100
    # move both at 100 to F 1; the book caps o1 at 6; 2.5 more at 100 fill 1.5 of o0 (o2 reaches F 0);
    # the asks through 100 (1.5 at 99.98) fill o0's last 1.5 and are used up for o2 and o1, also in
    # the next snapshot; 9 printed through both prices fill o2 (1) and then o1 (2 of the 8 left).
    assert got == [[], [], ["1.5"], ["1.5"], [], ["1", "2"]]
    done = [o.filled_qty for o in eng.orders("me")]
    assert done == [pb.orders[f"o{i}"].filled for i in range(3)] == [D(3), D(2), D(1)]


def test_the_paper_engine_takes_no_other_fill_model() -> None:
    with pytest.raises(ValueError, match="queue rule"):
        PaperEngine([], fill_model=FillModel())
