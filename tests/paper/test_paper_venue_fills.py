"""The paper venue's fills, in numbers, through real ccxt and a paper Session (#14 leftovers).

The paper venue here runs on a stepped clock (``PaperConfig(stepped=True)``) with its feed stopped,
so the test writes the mirrored book itself (``MirrorBook.feed``, what the feed calls) and knows
every level: the expected prices follow from the rules of ``specs/paper-trading.md`` (c), worked
out by hand in each test. The latency (250 ms) is then the decision lag alone: an order that
reaches the venue at T was decided at T - 250 ms, and a taker walks the worse of the two books.

The last test sends the same orders on the same books to the pure model
(:class:`kit.engine.paperfill.PaperBook`) and requires the same fills: one implementation.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from kit.localnet import LocalnetConfig
from kit.localnet.server import start
from kit.paper.venue import PaperConfig, PaperVenue, close_paper_venues, start_paper_venue, use_paper_venue
from kit.session import Session

pytestmark = pytest.mark.slow  # starts two localnets and a Session (about 3 s)

SYM, SID = "BTC/USDT", "BTCUSDT"
Levels = list[tuple[str, str]]


@dataclass
class Paper:
    """A stepped paper venue whose book the test writes, and a paper Session on it."""

    pv: PaperVenue
    session: Session

    def show(self, bids: Levels, asks: Levels, *, then_ms: int = 100) -> int:
        """The upstream shows these levels now; the venue's clock then moves ``then_ms``. Returns its time."""
        book = self.pv.mirror.books[SID]
        now = int(self.pv.net.call(lambda v: v.clock.now_ms()))
        book.feed([(D(p), D(q)) for p, q in bids], [(D(p), D(q)) for p, q in asks], ts_ms=now)
        return int(self.pv.net.step(then_ms))

    def trades(self, order: dict[str, Any]) -> list[tuple[str, str]]:
        """(price, amount) of each fill of ``order``, as the venue reports them through ccxt."""
        mine = self.session.trades(SYM)  # fetch_my_trades; journals new fills (stage paper)
        rows = mine[mine["order"].astype(str) == str(order["id"])].sort_values("id", key=lambda c: c.astype(int))
        return [(_s(p), _s(a)) for p, a in zip(rows["price"], rows["amount"], strict=True)]


def _s(x: Any) -> str:
    return format(D(str(x)).normalize(), "f")


@pytest.fixture()
def paper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Paper]:
    up = start(config=LocalnetConfig(stepped=True, history_minutes=5, start_ms=1_790_000_000_000))
    monkeypatch.setenv("KIT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KIT_LOCALNET_URL", up.url)
    for var in ("KIT_LOCALNET_API_KEY", "KIT_LOCALNET_API_SECRET"):
        monkeypatch.delenv(var, raising=False)
    cfg = PaperConfig(symbols=(SYM,), stepped=True, start_ms=1_790_000_100_000, history_minutes=5)
    pv = start_paper_venue("localnet", upstream_url=up.url, config=cfg, state_dir=tmp_path / "paper")
    pv.feed.close()  # the test writes the mirrored book from here on
    use_paper_venue(pv)
    src = pv.mirror.sources[SID]
    now = int(pv.net.call(lambda v: v.clock.now_ms()))
    src.feed(now, D("100.00"), D("0.001"), buyer_maker=True)  # last price 100: the books below sit there
    pv.net.step(100)
    s = Session("localnet", stage="paper", journal=tmp_path / "j.sqlite", dotenv=None)
    try:
        assert s.venue.startswith("paper-localnet") and s.url == pv.url
        yield Paper(pv, s)
    finally:
        s.close()
        close_paper_venues()
        up.stop()


def test_a_market_order_walks_the_worse_book_and_pays_the_penalty_beyond_the_depth(paper: Paper) -> None:
    # decided on asks 100.10 x 1; arrives 300 ms later on asks 100.00 x 1: the decision book is worse
    paper.show([("99.90", "5")], [("100.10", "1"), ("100.20", "1")])
    paper.show([("99.90", "5")], [("100.00", "1"), ("100.01", "1")], then_ms=300)
    o = paper.session.place(SYM, "buy", "0.5")
    assert paper.trades(o) == [("100.1", "0.5")]
    # the same book at decision and arrival (nothing was taken from it: the fill above was at 100.10):
    # 1 at 100.00, 1 at 100.01, then 0.4 beyond the visible depth at 100.01 + 10 ticks = 100.11
    paper.show([("99.90", "5")], [("100.00", "1"), ("100.01", "1")], then_ms=300)
    o = paper.session.place(SYM, "buy", "2.4")
    assert paper.trades(o) == [("100", "1"), ("100.01", "1"), ("100.11", "0.4")]
    assert o["status"] == "closed" and D(str(o["filled"])) == D("2.4")
    assert D(str(o["average"])).quantize(D("0.00001")) == D("100.02250")  # (100 + 100.01 + 40.044) / 2.4
    fills = paper.session.journal.frame("fill")  # journaled as every other order's fills, stage paper
    assert len(fills) == 4 and set(fills["stage"]) == {"paper"} and set(fills["venue"]) == {paper.session.venue}


def test_consumed_liquidity_outlives_a_refresh(paper: Paper) -> None:
    paper.show([("99.90", "5")], [("100.00", "1"), ("100.05", "3")])
    paper.show([("99.90", "5")], [("100.00", "1"), ("100.05", "3")], then_ms=300)
    first = paper.session.place(SYM, "buy", "0.6")
    assert paper.trades(first) == [("100", "0.6")]
    # the upstream shows 1 at 100.00 again; 0.6 of it was paper's and stays gone for replenish_ms (3 s)
    paper.show([("99.90", "5")], [("100.00", "1"), ("100.05", "3")], then_ms=300)
    second = paper.session.place(SYM, "buy", "1")
    assert paper.trades(second) == [("100", "0.4"), ("100.05", "0.6")]


def test_ioc_and_fok_take_the_worse_book_and_a_marketable_limit_rests_its_remainder(paper: Paper) -> None:
    # decision: 0.5 at 100.00 and 0.5 at 100.01; arrival: 0.2 at 100.00 and 2 at 100.01.
    # Decision book as of arrival: 0.2 at 100.00 (no more than shown now) and 0.5 at 100.01 = 0.7 < 1
    # worse than the arrival walk (1 in full): IOC fills 0.7, FOK nothing.
    decision = ([("99.90", "5")], [("100.00", "0.5"), ("100.01", "0.5"), ("100.02", "2")])
    arrival = ([("99.90", "5")], [("100.00", "0.2"), ("100.01", "2")])
    paper.show(*decision)
    paper.show(*arrival, then_ms=300)
    ioc = paper.session.place(SYM, "buy", "1", price="100.01", time_in_force="IOC")
    assert paper.trades(ioc) == [("100", "0.2"), ("100.01", "0.5")]
    assert ioc["status"] in ("expired", "canceled") and D(str(ioc["filled"])) == D("0.7")
    paper.show(*decision, then_ms=3_100)  # consumption due back; the same two books again
    paper.show(*arrival, then_ms=300)
    fok = paper.session.place(SYM, "buy", "1", price="100.01", time_in_force="FOK")
    assert paper.trades(fok) == [] and D(str(fok["filled"] or 0)) == 0
    paper.show(*decision, then_ms=3_100)
    paper.show(*arrival, then_ms=300)
    gtc = paper.session.place(SYM, "buy", "1", price="100.01")
    assert paper.trades(gtc) == [("100", "0.2"), ("100.01", "0.5")]
    assert gtc["status"] == "open" and D(str(gtc["remaining"])) == D("0.3")


def test_venue_and_model_fill_the_same_orders_on_the_same_books_alike(paper: Paper) -> None:
    """The paper venue and :class:`PaperBook` (what twins, drift and the benchmark use) agree to the lot."""
    from kit.engine.paperfill import PaperBook, PaperFillModel, PaperOrder

    model = PaperBook(tick=D("0.01"), step=D("0.00001"), model=PaperFillModel())
    books = [
        ([("99.90", "2"), ("99.80", "3")], [("100.10", "0.3"), ("100.30", "0.4")]),
        ([("99.95", "1"), ("99.85", "4")], [("100.00", "0.5"), ("100.20", "0.5")]),
        ([("99.70", "0.2"), ("99.60", "0.2")], [("100.40", "1"), ("100.50", "2")]),
        ([("99.90", "1"), ("99.80", "1")], [("100.00", "1"), ("100.10", "1")]),
        ([("99.90", "1"), ("99.80", "1")], [("100.00", "1"), ("100.10", "1")]),
    ]
    # (side, amount, price, tif, a public print after the arrival book), decided on books[i], arriving on i + 1
    orders = [
        ("buy", "1", None, "GTC", None),
        ("sell", "0.8", None, "GTC", None),
        ("buy", "0.9", "100.20", "IOC", None),
        ("buy", "1.5", None, "GTC", ("100.00", "0.4")),
    ]
    src = paper.pv.mirror.sources[SID]
    venue_fills, model_fills = [], []
    for i, (side, amount, price, tif, tape) in enumerate(orders):
        (bids, asks), (nb, na) = books[i], books[i + 1]
        t1 = paper.show(bids, asks, then_ms=3_100)  # decided on this one (consumption before is due back)
        t2 = paper.show(nb, na, then_ms=300)  # arriving on this one
        if tape is not None:  # a buyer takes from the asks after the snapshot: gone until the next one
            src.feed(t2, D(tape[0]), D(tape[1]), buyer_maker=False)
        t3 = int(paper.pv.net.step(10))
        model.on_book(t1, bids=[(D(p), D(q)) for p, q in bids], asks=[(D(p), D(q)) for p, q in asks])
        model.submit(PaperOrder(f"o{i}", side, D(amount), price=D(price) if price else None, tif=tif), ts_ms=t3 - 250)
        got = model.on_book(t2, bids=[(D(p), D(q)) for p, q in nb], asks=[(D(p), D(q)) for p, q in na])
        if tape is not None:
            got += model.on_trade(t2, D(tape[0]), D(tape[1]), buyer_maker=False)
        got += model.advance(t3)
        model_fills.append([(_s(f.price), _s(f.qty)) for f in got])
        kw = {"price": price, "time_in_force": tif} if price else {}
        venue_fills.append(paper.trades(paper.session.place(SYM, side, amount, **kw)))
    assert venue_fills == model_fills
    # 1: the decision book (0.7 to 100.30) fills less than the arrival book: it counts, 0.3 beyond at 100.30 + 10 ticks
    # 2: sold on the arrival book (0.4 to 99.60, worse than 0.8 at 99.95): 0.4 beyond at 99.60 - 10 ticks
    # 3: an IOC decided on a book with nothing at or under its limit: nothing, though 100.00 is there on arrival
    # 4: a public print since the arrival snapshot took 0.4 of 100.00
    assert venue_fills == [
        [("100.1", "0.3"), ("100.3", "0.4"), ("100.4", "0.3")],
        [("99.7", "0.2"), ("99.6", "0.2"), ("99.5", "0.4")],
        [],
        [("100", "0.6"), ("100.1", "0.9")],  # 0.4 of the 1 at 100.00 printed since the snapshot
    ]


def test_a_restart_replays_the_same_fills_from_the_logged_decision_book(paper: Paper, tmp_path: Path) -> None:
    """The decision book is logged with the order: a restart replays the command log to the same state.

    Without it the replay would meet only the books logged around the order (market data is
    logged only while orders are open) and could fill the market order on another book.
    """
    paper.show([("99.90", "5")], [("100.10", "1"), ("100.20", "1")])
    paper.show([("99.90", "5")], [("100.00", "1"), ("100.01", "1")], then_ms=300)
    o = paper.session.place(SYM, "buy", "1.5")
    assert paper.trades(o) == [("100.1", "1"), ("100.2", "0.5")]

    def state(v: Any) -> Any:
        return v.engine.balances("main"), [(f.price, f.quantity) for f in v.engine.fills("main")]

    before = paper.pv.net.call(state)
    paper.pv.close()
    cfg = PaperConfig(symbols=(SYM,), stepped=True, start_ms=1_790_000_100_000, history_minutes=5)
    again = start_paper_venue("localnet", upstream_url=paper.pv.upstream_url, config=cfg, state_dir=tmp_path / "paper")
    try:
        again.feed.close()
        assert again.net.call(state) == before
    finally:
        again.close()


def test_a_resting_order_queues_by_the_models_rule_and_a_print_is_not_counted_twice(paper: Paper) -> None:
    """The venue's resting order in the model's queue (``RestingQueue``), through real ccxt.

    Decided and arriving on 2 bid at 99.90: F0 = 2. A seller prints 1.5 at 99.90, and the upstream's
    next snapshot, received 10 ms after that print, shows the 0.5 left. The print moves F to 0.5 and
    the snapshot caps it at 0.5: nothing fills. (Applied before the print, the snapshot would cap F
    at 0.5 and the print would then fill 1: the print counted twice.) A second print of 1 moves F
    to -0.5: 0.5 fills. A print through our price fills the rest.
    """
    from kit.engine.paperfill import PaperBook, PaperFillModel, PaperOrder

    bids, asks = [("99.90", "2"), ("99.80", "5")], [("100.10", "1")]
    paper.show(bids, asks)
    t0 = paper.show(bids, asks, then_ms=300)
    order = paper.session.place(SYM, "buy", "1.2", price="99.90")
    assert order["status"] == "open" and paper.trades(order) == []
    book, src = paper.pv.mirror.books[SID], paper.pv.mirror.sources[SID]
    src.feed(t0 + 10, D("99.90"), D("1.5"), buyer_maker=True)
    book.feed([(D("99.90"), D("0.5")), (D("99.80"), D("5"))], [(D("100.10"), D("1"))], ts_ms=t0 + 20)
    t1 = int(paper.pv.net.step(100))
    assert paper.trades(order) == []
    src.feed(t1 + 10, D("99.90"), D("1"), buyer_maker=True)
    t2 = int(paper.pv.net.step(100))
    assert paper.trades(order) == [("99.9", "0.5")]
    src.feed(t2 + 10, D("99.80"), D("3"), buyer_maker=True)  # through our price: past F (0), 0.7 for us
    paper.pv.net.step(100)
    assert paper.trades(order) == [("99.9", "0.5"), ("99.9", "0.7")]
    # the model, on the same data in the same order, fills alike
    pb = PaperBook(tick=D("0.01"), step=D("0.00001"), model=PaperFillModel(latency_ms=0))
    pb.on_book(t0, bids=[(D(p), D(q)) for p, q in bids], asks=[(D(p), D(q)) for p, q in asks])
    pb.submit(PaperOrder("o", "buy", D("1.2"), price=D("99.90")), ts_ms=t0)
    got = pb.on_trade(t0 + 10, D("99.90"), D("1.5"), buyer_maker=True)
    got += pb.on_book(t0 + 20, bids=[(D("99.90"), D("0.5")), (D("99.80"), D("5"))], asks=[(D("100.10"), D("1"))])
    got += pb.on_trade(t1 + 10, D("99.90"), D("1"), buyer_maker=True)
    got += pb.on_trade(t2 + 10, D("99.80"), D("3"), buyer_maker=True)
    assert [(_s(f.price), _s(f.qty)) for f in got] == paper.trades(order)
