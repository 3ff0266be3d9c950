"""A twin does not queue behind its own real order (spec (c), twins; #14 item 2).

A twin and its real order share the market data: once the real order rests, the displayed size at
its price includes it, and a twin that queued behind it would wait for its own sibling. The twin
takes the real order's remaining quantity out of ``Q`` while it rests.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from kit.engine.paperfill import PaperFillModel
from kit.localnet import LocalnetConfig
from kit.localnet.server import Localnet, start
from kit.paper.twins import SymbolRules, simulate_twins, tape_dir, twin_orders
from kit.session import Session

SYM = "BTC/USDT"
RULES = {SYM: SymbolRules(D("0.01"), D("0.001"))}


def _book(t: int, bid_qty: str) -> dict[str, Any]:
    return {"t": t, "k": "book", "s": SYM, "b": [["100", bid_qty], ["99.99", "8"]], "a": [["100.01", "5"]]}


def _twin(fills: pd.DataFrame | None, *, cancel_ms: int | None = None) -> Any:
    # 3 shown at 100 when the twin is decided; the real buy of 2 joins them (5 shown from 200 on)
    events = [_book(0, "3"), _book(200, "5"),
              {"t": 1_000, "k": "trade", "s": SYM, "p": "100", "q": "4", "m": True}]  # fmt: skip
    intents = pd.DataFrame([{"client_id": "r1", "symbol": SYM, "side": "buy", "type": "limit", "amount": "2",
                             "price": "100", "time_in_force": "GTC", "post_only": False, "ts_ms": 100}])  # fmt: skip
    cancels = pd.DataFrame(
        [{"client_id": "r1", "symbol": SYM, "ts_ms": cancel_ms}] if cancel_ms is not None else [],
        columns=["client_id", "symbol", "ts_ms"],
    )
    twins = simulate_twins(intents, cancels, events, RULES, model=PaperFillModel(), until_ms=5_000, fills=fills)
    return twins["r1"][0]


def test_the_twin_starts_behind_the_others_not_behind_its_real_order() -> None:
    twin = _twin(None)
    assert twin.q_at_send == D(3) and twin.f0 == D(3)  # max(3 at send, 5 - 2 on arrival): not 5
    # 4 sold at 100: the 3 ahead, then 1 for the twin (behind its real order it would get nothing)
    assert twin.filled == D(1) and twin.first_fill_ms == 1_000


def test_the_real_orders_fills_and_cancel_give_its_size_back_to_the_queue() -> None:
    # the real order filled 1.5 at 150 (before the twin arrived at 350): only 0.5 of it is left resting
    fills = pd.DataFrame([{"client_id": "r1", "ts_ms": 150, "amount": "1.5", "price": "100"}])
    assert _twin(fills).f0 == D("4.5")  # 5 shown, 0.5 of it ours
    # cancelled (intent at 300) before the twin's arrival at 350: all 5 shown are others'
    assert _twin(None, cancel_ms=300).f0 == D(5)


@pytest.fixture()
def stepped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Localnet]:
    """A stepped localnet (its market stands still: the real order neither fills nor moves), trader keys in the env."""
    net = start(config=LocalnetConfig(stepped=True, history_minutes=5))
    key, secret = net.credentials("trader")
    monkeypatch.setenv("KIT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KIT_LOCALNET_URL", net.url)
    monkeypatch.setenv("KIT_LOCALNET_API_KEY", key)
    monkeypatch.setenv("KIT_LOCALNET_API_SECRET", secret)
    try:
        yield net
    finally:
        net.stop()


@pytest.mark.slow
def test_a_twin_of_a_resting_localnet_order_excludes_that_order_from_its_queue(
    stepped: Localnet, tmp_path: Path
) -> None:
    """A real resting order on localnet (real ccxt) and its twin: the taped book shows the real order, F0 does not."""
    with Session("localnet", journal=tmp_path / "j.sqlite", dotenv=None, twins=True) as s:
        assert s.twins is not None
        bids = [D(str(p)) for p, _ in stepped.client("reader").fetch_order_book(SYM)["bids"]]
        price = bids[5] - D("0.01")  # behind six levels, alone at its price: the market does not reach it
        assert price not in bids
        time.sleep(0.3)  # the tape writes a depth-only change once 250 ms passed since its last book
        order = s.place(SYM, "buy", "0.1", price=str(price))
        stepped.step(1_000)  # localnet sends diff depth at the stream's period (100 or 1000 ms): the order is in it
        time.sleep(2.0)  # past the twin's 1 s latency: it is active before the cancel
        _until(lambda: any(r["k"] == "book" and _bids(r).get(price) == D("0.1") for r in _tape(s.venue)))
        s.cancel(SYM, order_id=order["id"])
        time.sleep(0.3)
        # twins acting 1 s after their intent (not 250 ms): the taped depth has time to show the real order
        twins = twin_orders(s.journal, s.venue, since_ms=s.twins.started_ms, model=PaperFillModel(latency_ms=1_000))
    twin = twins[order["clientOrderId"]][0]
    books = [row for row in _tape(s.venue) if row["k"] == "book" and row["t"] <= twin.active_ms]
    taped = {D(p): D(q) for p, q in books[-1]["b"]}
    assert taped.get(price) == D("0.1")  # the real order, taped, when the twin arrives
    assert twin.q_at_send == 0 and twin.f0 == 0  # behind its real order, F0 would be 0.1
    assert twin.status == "canceled" and twin.filled == 0


def _until(cond: Any, deadline_s: float = 30.0) -> None:
    """Wait until ``cond()`` holds (streams and the tape arrive when a loaded machine gets to them)."""
    end = time.monotonic() + deadline_s
    while not cond():
        assert time.monotonic() < end, "not seen within the deadline"
        time.sleep(0.05)


def _bids(row: dict[str, Any]) -> dict[D, D]:
    return {D(p): D(q) for p, q in row.get("b", [])}


def _tape(venue: str) -> list[dict[str, Any]]:
    rows = []
    for path in sorted(tape_dir(venue).glob("tape-*.jsonl")):
        rows += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return rows


def test_trailing_stop_twins_trigger_by_the_engines_trailing_rule_on_the_tape() -> None:
    """Trailing twins (#14): Binance trailingDelta semantics as the engine implements them, on the taped prints."""
    from kit.paper.twins import _bucket

    def book(t: int, bid: str, ask: str) -> dict[str, Any]:
        return {"t": t, "k": "book", "s": SYM, "b": [[bid, "5"]], "a": [[ask, "5"]]}

    prints = [(1_000, "100"), (2_000, "110"), (3_000, "109"), (4_000, "108.90"), (5_000, "112"), (6_000, "109.70")]
    events = [book(0, "100", "100.01"), book(2_100, "109.50", "109.51"), book(4_100, "108.80", "108.81")]
    events += [{"t": t, "k": "trade", "s": SYM, "p": p, "q": "1", "m": False} for t, p in prints]
    events.sort(key=lambda e: e["t"])
    row = {"symbol": SYM, "amount": "1", "time_in_force": "GTC", "post_only": False, "price": None, "ts_ms": 500}
    intents = pd.DataFrame([
        # a sell trailing 1 % from the best price since it was placed: best 110, trigger 108.90 (the 4000 print)
        {**row, "client_id": "trail", "side": "sell", "type": "trailing_stop_market", "trailing_bps": 100,
         "trigger_price": None},
        # the same with a stop price of 90: tracking starts when the price falls to 90, which it never does
        {**row, "client_id": "act", "side": "sell", "type": "trailing_stop_market", "trailing_bps": 100,
         "trigger_price": "90"},
        # a sell trailing take-profit 2 % that starts tracking when the price rises to 105 (the 110 print):
        # best 110 then 112, trigger 112 x 0.98 = 109.76; the 109.70 print at 6000 triggers it
        {**row, "client_id": "tp", "side": "sell", "type": "trailing_take_profit_market", "trailing_bps": 200,
         "trigger_price": "105"},
        # a buy trailing 1 % from the lows: best 100, trigger 101, so the 110 print at 2000
        {**row, "client_id": "buy", "side": "buy", "type": "trailing_stop_market", "trailing_bps": 100,
         "trigger_price": None},
        {**row, "client_id": "gone", "side": "sell", "type": "trailing_stop_market", "trailing_bps": 100,
         "trigger_price": None},
    ])  # fmt: skip
    cancels = pd.DataFrame([{"client_id": "gone", "symbol": SYM, "ts_ms": 3_500}])
    twins = simulate_twins(intents, cancels, events, RULES, model=PaperFillModel(), until_ms=8_000)
    trail = twins["trail"][0]
    assert trail.sent_ms == 4_000 and trail.active_ms == 4_250  # triggered by the 108.90 print, then latency
    assert trail.filled == D(1) and trail.avg_price == D("108.80")  # a market sell on the book at 4250
    assert twins["act"][0].status == "pending" and twins["act"][0].filled == 0
    tp = twins["tp"][0]
    assert tp.sent_ms == 6_000 and tp.filled == D(1) and tp.avg_price == D("108.80")
    buy = twins["buy"][0]  # arrives at 2250 on the 2100 book (worse than the one it was decided on)
    assert buy.sent_ms == 2_000 and buy.filled == D(1) and buy.avg_price == D("109.51")
    assert twins["gone"][0].status == "canceled" and twins["gone"][0].filled == 0
    assert _bucket({"type": "trailing_stop_limit"}, False) == "stop"


@pytest.mark.slow
def test_a_trailing_stop_on_localnet_and_its_twin_trigger_on_the_same_print(stepped: Localnet, tmp_path: Path) -> None:
    """A real trailing stop on localnet (real ccxt) and its twin, on the same prints: both trigger at the pull-back."""
    with Session("localnet", journal=tmp_path / "j.sqlite", dotenv=None, twins=True) as s:
        assert s.twins is not None
        last = D(str(stepped.client("reader").fetch_ticker(SYM)["last"])).quantize(D("1"))
        order = s.place(SYM, "sell", "0.01", type="trailing_stop_market", trailing_bps=100)
        top = last + 500  # best price since placing; trigger (top x 0.99) rounded down to the tick
        level = (top * D("0.99")).quantize(D("0.01"))
        trader = stepped.client("trader")
        for px in (last, top, level + 1):
            stepped.inject_trade("BTCUSDT", str(px), "0.001", side="sell" if px < top else "buy")
            time.sleep(0.2)
        assert trader.fetch_order(order["id"], SYM)["status"] == "open"  # not triggered one unit above the level
        stepped.inject_trade("BTCUSDT", str(level), "0.001", side="sell")
        time.sleep(0.6)  # past the twin's 250 ms latency
        _until(lambda: trader.fetch_order(order["id"], SYM)["status"] == "closed")
        _until(lambda: any(r["k"] == "trade" and D(r["p"]) == level for r in _tape(s.venue)))
        real = trader.fetch_order(order["id"], SYM)
        twins = twin_orders(s.journal, s.venue, since_ms=s.twins.started_ms)
    assert real["status"] == "closed" and D(str(real["filled"])) == D("0.01")  # triggered, sold
    twin = twins[order["clientOrderId"]][0]
    trigger = [row for row in _tape(s.venue) if row["k"] == "trade" and row["t"] == twin.sent_ms]
    assert [D(row["p"]) for row in trigger] == [level]  # the twin triggered on the print that triggered the real one
    assert twin.filled == D("0.01")
