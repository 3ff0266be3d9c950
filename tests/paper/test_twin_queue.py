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
        time.sleep(2.0)
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


def _tape(venue: str) -> list[dict[str, Any]]:
    rows = []
    for path in sorted(tape_dir(venue).glob("tape-*.jsonl")):
        rows += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return rows
