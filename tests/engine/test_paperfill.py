"""The paper fill model's rules as numbers (specs/paper-trading.md (b) and (c))."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from kit.engine.paperfill import PaperBook, PaperFillModel, PaperOrder

TICK, STEP = D("0.01"), D("0.001")


def book(latency: int = 0, cancel: int = 0, replenish: int = 3000) -> PaperBook:
    model = PaperFillModel(latency_ms=latency, cancel_latency_ms=cancel, replenish_ms=replenish)
    pb = PaperBook(tick=TICK, step=STEP, model=model)
    pb.on_book(0, bids=[(D(100), D(5)), (D("99.99"), D(8))], asks=[(D("100.01"), D(2)), (D("100.02"), D(5))])
    return pb


def fills(out: list) -> list[tuple[str, str, str]]:
    return [(str(f.price), str(f.qty), f.liquidity) for f in out]


# ---------------------------------------------------------------- queue (b)2, (b)4


def test_queue_starts_behind_the_displayed_size_and_advances_on_opposite_trades() -> None:
    pb = book()
    o = PaperOrder("b", "buy", D(3), price=D(100))
    pb.submit(o, ts_ms=0)
    assert o.status == "open" and o.ahead == D(5)  # F0 = Q
    assert pb.on_trade(1, D(100), D(3), buyer_maker=True) == [] and o.ahead == D(2)
    assert pb.on_trade(2, D(100), D(1), buyer_maker=False) == []  # a buyer lifting: not our side
    assert fills(pb.on_trade(3, D(100), D(4), buyer_maker=True)) == [("100", "2", "maker")]  # F=-2: fill 2
    assert o.ahead == 0 and o.leaves == D(1)


def test_a_level_update_caps_the_queue_and_cancels_never_move_us_forward() -> None:
    pb = book()
    o = PaperOrder("b", "buy", D(3), price=D(100))
    pb.submit(o, ts_ms=0)
    pb.on_book(10, bids=[(D(100), D(2))], asks=[(D("100.01"), D(2))])
    assert o.ahead == D(2)  # F <- min(F, Q')
    pb.on_book(20, bids=[(D(100), D(10))], asks=[(D("100.01"), D(2))])
    assert o.ahead == D(2)  # growth behind us does not push us back; nothing moves us forward either
    assert fills(pb.on_trade(30, D(100), D(3), buyer_maker=True)) == [("100", "1", "maker")]


def test_a_touch_without_trades_fills_nothing() -> None:
    pb = book()
    o = PaperOrder("s", "sell", D(1), price=D("100.01"))
    pb.submit(o, ts_ms=0)
    assert pb.on_book(10, bids=[(D("100.01"), D(3))], asks=[(D("100.01"), D(1)), (D("100.02"), D(5))]) == []
    assert o.filled == 0


def test_a_trade_through_our_price_is_sweep_evidence() -> None:
    pb = book()
    o = PaperOrder("b", "buy", D(3), price=D(100))
    pb.submit(o, ts_ms=0)
    # 10 printed at 99.99, through our bid: 5 were ahead, so 5 reached us; we need 3
    assert fills(pb.on_trade(5, D("99.99"), D(10), buyer_maker=True)) == [("100", "3", "maker")]
    assert o.status == "filled"


def test_an_opposite_best_through_our_price_fills_only_past_the_queue_and_counts_once() -> None:
    pb = book()
    o = PaperOrder("b", "buy", D(3), price=D(100))
    pb.submit(o, ts_ms=0)
    crossed = {"bids": [(D(100), D(5))], "asks": [(D("99.99"), D(4))]}
    assert pb.on_book(10, **crossed) == [] and o.ahead == D(1)  # 4 through, 5 ahead: none reaches us
    assert pb.on_book(20, **crossed) == [] and o.ahead == D(1)  # the same levels do not count twice
    # 2 new through our price (6 shown, 4 already counted): 1 more ahead, then 1 for us
    assert fills(pb.on_book(30, bids=[(D(100), D(5))], asks=[(D("99.99"), D(6))])) == [("100", "1", "maker")]


def test_our_level_swept_away_with_the_opposite_through_us_fills_us() -> None:
    pb = book()
    o = PaperOrder("b", "buy", D(3), price=D(100))
    pb.submit(o, ts_ms=0)
    # the bid at 100 is gone (F <- min(F, 0)) and 4 are offered through our price
    assert fills(pb.on_book(10, bids=[(D("99.98"), D(5))], asks=[(D("99.99"), D(4))])) == [("100", "3", "maker")]


# ---------------------------------------------------------------- takers, consumption (c)


def test_takers_walk_the_book_and_consumed_liquidity_outlives_a_refresh() -> None:
    pb = book()
    first = PaperOrder("m1", "buy", D(3))
    assert fills(pb.submit(first, ts_ms=100)) == [("100.01", "2", "taker"), ("100.02", "1", "taker")]
    same = {"bids": [(D(100), D(5))], "asks": [(D("100.01"), D(2)), (D("100.02"), D(5))]}
    pb.on_book(200, **same)  # the venue's book still shows the 2 at 100.01: paper took them, they stay taken
    second = PaperOrder("m2", "buy", D(3))
    assert fills(pb.submit(second, ts_ms=300)) == [("100.02", "3", "taker")]
    pb.on_book(3_400, **same)  # replenish_ms after the last take: available again
    third = PaperOrder("m3", "buy", D(1))
    assert fills(pb.submit(third, ts_ms=3_500)) == [("100.01", "1", "taker")]


def test_consumption_ends_when_the_level_vanishes() -> None:
    pb = book()
    pb.submit(PaperOrder("m1", "buy", D(2)), ts_ms=0)
    pb.on_book(10, bids=[(D(100), D(5))], asks=[(D("100.02"), D(5))])  # 100.01 gone
    pb.on_book(20, bids=[(D(100), D(5))], asks=[(D("100.01"), D(2)), (D("100.02"), D(5))])  # new liquidity
    assert fills(pb.submit(PaperOrder("m2", "buy", D(1)), ts_ms=30)) == [("100.01", "1", "taker")]


def test_public_trades_since_the_last_snapshot_are_not_available() -> None:
    pb = book()
    pb.on_trade(5, D("100.01"), D("1.5"), buyer_maker=False)  # someone lifted 1.5 of the 2 at 100.01
    out = pb.submit(PaperOrder("m", "buy", D(1)), ts_ms=6)
    assert fills(out) == [("100.01", "0.5", "taker"), ("100.02", "0.5", "taker")]


def test_a_market_order_beyond_the_visible_depth_pays_a_penalty() -> None:
    pb = book()
    out = pb.submit(PaperOrder("m", "buy", D(10)), ts_ms=0)
    assert fills(out) == [("100.01", "2", "taker"), ("100.02", "5", "taker"), ("100.12", "3", "taker")]


def test_a_marketable_limit_takes_to_its_limit_then_rests_at_the_back() -> None:
    pb = book()
    o = PaperOrder("l", "buy", D(5), price=D("100.01"))
    assert fills(pb.submit(o, ts_ms=0)) == [("100.01", "2", "taker")]
    assert o.status == "open" and o.ahead == 0  # inside the spread now: nothing displayed at 100.01 on the bid
    assert fills(pb.on_trade(10, D("100.01"), D(1), buyer_maker=True)) == [("100.01", "1", "maker")]


def test_ioc_fok_and_post_only() -> None:
    pb = book()
    ioc = PaperOrder("i", "buy", D(4), price=D("100.01"), tif="IOC")
    assert fills(pb.submit(ioc, ts_ms=0)) == [("100.01", "2", "taker")] and ioc.status == "expired"
    fok = PaperOrder("f", "buy", D(9), price=D("100.02"), tif="FOK")
    assert pb.submit(fok, ts_ms=1) == [] and fok.status == "expired" and fok.filled == 0
    po = PaperOrder("p", "buy", D(1), price=D("100.02"), post_only=True)
    assert pb.submit(po, ts_ms=2) == [] and po.status == "rejected"
    ok = PaperOrder("q", "buy", D(1), price=D("99.99"), post_only=True)
    pb.submit(ok, ts_ms=3)
    assert ok.status == "open" and ok.ahead == D(8)


# ---------------------------------------------------------------- latency, gaps (c)


def test_orders_act_after_the_latency_on_the_worse_of_the_two_books() -> None:
    pb = book(latency=250)
    o = PaperOrder("m", "buy", D(1))
    assert pb.submit(o, ts_ms=1_000) == [] and o.status == "pending"
    better = {"bids": [(D(100), D(5))], "asks": [(D("99.90"), D(5))]}
    assert pb.on_book(1_100, **better) == []  # still in flight
    out = pb.on_book(1_250, **better)  # arrives: the decision-time book (100.01) was worse, it counts
    assert fills(out) == [("100.01", "1", "taker")]
    worse = PaperOrder("w", "buy", D(1))
    pb.submit(worse, ts_ms=2_000)
    assert pb.on_book(2_200, bids=[(D(100), D(5))], asks=[(D("100.50"), D(5))]) == []  # moved while in flight
    assert fills(pb.advance(2_250)) == [("100.50", "1", "taker")]  # the arrival-time book is worse: it counts


def test_an_order_meets_the_book_valid_at_its_arrival_not_the_next_one() -> None:
    pb = book(latency=250)
    o = PaperOrder("i", "sell", D(1), price=D(100), tif="IOC")
    pb.submit(o, ts_ms=0)  # arrives at 250, while the bid at 100 is still there
    out = pb.on_book(1_000, bids=[(D("99.90"), D(5))], asks=[(D("100.01"), D(2))])  # the next book, at 1000
    assert fills(out) == [("100", "1", "taker")] and o.first_fill_ms == 250


def test_a_cancel_in_flight_can_still_be_filled() -> None:
    pb = book(cancel=250)
    o = PaperOrder("b", "buy", D(1), price=D(100))
    pb.submit(o, ts_ms=0)
    pb.cancel("b", ts_ms=1_000)
    assert o.status == "open"
    assert fills(pb.on_trade(1_100, D("99.99"), D(10), buyer_maker=True)) == [("100", "1", "maker")]
    o2 = PaperOrder("b2", "buy", D(1), price=D("99.99"))
    pb.submit(o2, ts_ms=2_000)
    pb.cancel("b2", ts_ms=2_000)
    assert pb.advance(2_250) == [] and o2.status == "canceled"
    assert pb.on_trade(2_300, D("99.98"), D(100), buyer_maker=True) == []


def test_after_a_gap_nothing_fills_until_the_next_book() -> None:
    pb = book()
    o = PaperOrder("b", "buy", D(1), price=D(100))
    pb.submit(o, ts_ms=0)
    pb.on_trade(1, D(100), D(4), buyer_maker=True)
    assert o.ahead == D(1)
    pb.on_gap()
    assert o.ahead == D(5)  # back of the queue
    assert pb.on_trade(2, D("99.99"), D(50), buyer_maker=True) == []
    pb.on_book(3, bids=[(D(100), D(5))], asks=[(D("100.01"), D(2))])
    assert fills(pb.on_trade(4, D(100), D(6), buyer_maker=True)) == [("100", "1", "maker")]


def test_bad_settings_and_duplicate_ids_raise() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        PaperFillModel(latency_ms=-1)
    pb = book()
    pb.submit(PaperOrder("x", "buy", D(1), price=D(99)), ts_ms=0)
    with pytest.raises(ValueError, match="already used"):
        pb.submit(PaperOrder("x", "buy", D(1), price=D(99)), ts_ms=0)
