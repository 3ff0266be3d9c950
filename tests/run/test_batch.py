"""One candle close, many symbols: decisions journaled together, orders sent together, ids from decisions.

``Session.place_many`` checks and journals every order of a batch in one transaction, then sends
them concurrently; a client id derived from a decision is refused once journaled, so no restart can
send it twice. Real ccxt against a stepped localnet (``lab.lab``).
"""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from lab.lab import Lab

from kit.errors import ConfigError, FilterViolation, InsufficientFunds, KitError, OrderRejected
from kit.journal.journal import Journal
from kit.run import Runner
from kit.run.broker import client_id_for
from kit.strategy import Strategy

SYMS = ["BTC/USDT", "ETH/USDT"]


class Both(Strategy):
    """One market order per candle on each symbol it runs on: buy when flat, sell otherwise."""

    lookback = 5
    size = Decimal("0.01")

    def next(self) -> None:
        if self.flat:
            self.buy(self.size)
        else:
            self.close_position()


def test_journal_batch_is_one_transaction_and_nested_blocks_join_it(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as j:
        with j.batch():
            j.append("note", venue="x", n=1)
            with j.batch():
                j.append("note", venue="x", n=2)
            assert [e.get("n") for e in j.events(kinds=["note"])] == [1, 2]  # reads inside see the rows
            other = sqlite3.connect(tmp_path / "j.sqlite")  # another connection sees nothing yet
            assert other.execute("SELECT count(*) FROM events").fetchone() == (0,)
            other.close()
        with pytest.raises(RuntimeError), j.batch():
            j.append("note", venue="x", n=3)
            raise RuntimeError("a crash inside the block")
        assert [e.get("n") for e in j.events(kinds=["note"])] == [1, 2]  # all or nothing


@pytest.mark.slow  # a Session and a localnet round trip per order: 2-4 s on the shared machine
def test_place_many_checks_every_order_sends_the_good_ones_and_returns_the_refusals(lab: Lab) -> None:
    s = lab.session()
    out = s.place_many([
        {"symbol": "BTC/USDT", "side": "buy", "amount": "0.001", "client_id": "tk-test-1"},
        {"symbol": "ETH/USDT", "side": "buy", "amount": "0.0000001"},            # below the step: refused
        {"symbol": "ETH/USDT", "side": "buy", "amount": "0.01", "bogus": 1},     # a misspelt keyword
        {"symbol": "ETH/USDT", "side": "buy", "amount": "0.01", "client_id": "tk-test-2"},
        {"symbol": "BTC/USDT", "side": "buy", "amount": "0.001", "client_id": "tk-test-1"},  # repeated
        {"symbol": "BTC/USDT", "side": "buy", "amount": "0.001", "client_id": "web_123"},    # not the kit's
    ])  # fmt: skip
    assert [type(o).__name__ for o in out] == ["dict", "FilterViolation", "OrderRejected", "dict", "OrderRejected",
                                               "OrderRejected"]  # fmt: skip
    assert isinstance(out[1], FilterViolation) and isinstance(out[4], OrderRejected)
    assert "never sent twice" in str(out[4]) and out[4].hint
    assert {o["clientOrderId"] for o in out if isinstance(o, dict)} == {"tk-test-1", "tk-test-2"}
    on_exchange = lab.client().fetch_orders("BTC/USDT") + lab.client().fetch_orders("ETH/USDT")
    assert sorted(o["clientOrderId"] for o in on_exchange) == ["tk-test-1", "tk-test-2"]
    j = s.journal
    assert [e.client_id for e in j.events(kinds=["intent"])] == ["tk-test-1", "tk-test-2"]
    assert {e.client_id for e in j.events(kinds=["ack"])} == {"tk-test-1", "tk-test-2"}
    with pytest.raises(OrderRejected):  # and later, in another batch: still never twice
        err = s.place_many([{"symbol": "BTC/USDT", "side": "buy", "amount": "0.001", "client_id": "tk-test-1"}])[0]
        assert isinstance(err, KitError)
        raise err
    assert len(lab.client().fetch_orders("BTC/USDT")) == 1


@pytest.mark.slow  # a Session and a localnet round trip per order: 2-4 s on the shared machine
def test_one_close_on_two_symbols_is_one_batch_with_decision_client_ids(lab: Lab) -> None:
    s = lab.session()
    r = Runner(s, Both, SYMS, poll_s=0.05, schedule="poll")
    r.prepare()
    seen: list[Any] = []
    orig_prepare, orig_send = s.prepare_many, s.send_prepared

    def prepare(orders: Any) -> Any:  # inside the close's transaction: the decisions are not committed yet
        seen.append(([o["symbol"] for o in orders], s.journal.in_batch(), len(r.journal("decision"))))
        return orig_prepare(orders)

    def send(prepared: Any) -> Any:  # after it: the decisions and the intents are durable
        seen.append(("send", s.journal.in_batch(), len(s.journal.events(kinds=["intent"]))))
        return orig_send(prepared)

    s.prepare_many, s.send_prepared = prepare, send  # type: ignore[method-assign]
    for _ in range(2):
        lab.net.step(60_000)
        assert r.poll_once() == 2, r.reason
    # each close: both symbols' orders in one batch, checked and journaled in the decisions' own
    # transaction (one commit), sent once it committed
    assert seen == [(SYMS, True, 2), ("send", False, 2), (SYMS, True, 4), ("send", False, 4)]
    dec = r.decisions()
    assert len(dec) == 4 and (dec["client_id"] == [client_id_for(d) for d in dec["decision_id"]]).all()
    on_exchange = lab.client().fetch_orders("BTC/USDT") + lab.client().fetch_orders("ETH/USDT")
    assert sorted(o["clientOrderId"] for o in on_exchange) == sorted(dec["client_id"])
    assert [o["side"] for o in lab.client().fetch_orders("ETH/USDT")] == ["buy", "sell"]


@pytest.mark.slow  # a Session and a localnet round trip per order: 2-4 s on the shared machine
def test_a_refused_order_in_a_batch_stops_the_run_after_the_others_were_sent(lab: Lab) -> None:
    class Tiny(Both):
        def next(self) -> None:
            self.buy(Decimal("0.0000001") if self.symbol == "ETH/USDT" else self.size)

    s = lab.session()
    r = Runner(s, Tiny, SYMS, poll_s=0.05, schedule="poll")
    r.prepare()
    lab.net.step(60_000)
    r.poll_once()
    assert r.state == "failed" and "FilterViolation" in (r.error or "")
    assert [o["clientOrderId"][:5] for o in lab.client().fetch_orders("BTC/USDT")] == ["tk-d-"]  # BTC's was sent
    links = r.journal("decision_order")
    assert sorted(links["status"].str[:8]) == ["closed", "not sent"]


@pytest.mark.slow  # a Session and a localnet round trip: 1-3 s on the shared machine
def test_prepared_orders_are_sent_only_once_their_intents_are_durable_and_only_once(lab: Lab) -> None:
    """``prepare_many`` inside a journal batch, ``send_prepared`` after it: refused inside, refused twice."""
    s = lab.session()
    order = {"symbol": "BTC/USDT", "side": "buy", "amount": "0.001", "client_id": "tk-prep-1"}
    with s.journal.batch():
        prepared = s.prepare_many([order, {**order, "amount": "0.0000001", "client_id": "tk-prep-2"}])
        with lab.raises(ConfigError) as inside:  # the intent would not survive a crash: nothing may leave
            s.send_prepared(prepared)
    assert "not durable" in str(inside.value) and inside.value.hint and "No request was sent" in inside.value.hint
    assert lab.client().fetch_orders("BTC/USDT") == []
    with Journal(lab.journal_path) as other:  # committed now: another connection sees the intent
        assert [e.client_id for e in other.events(kinds=["intent"])] == ["tk-prep-1"]
    out = s.send_prepared(prepared)
    assert isinstance(out[0], dict) and out[0]["clientOrderId"] == "tk-prep-1" and isinstance(out[1], FilterViolation)
    with lab.raises(OrderRejected, match="never sent twice"):
        s.send_prepared(prepared)
    with lab.raises(ConfigError, match="another Session"):
        lab.session().send_prepared(prepared)
    assert [o["clientOrderId"] for o in lab.client().fetch_orders("BTC/USDT")] == ["tk-prep-1"]


@pytest.mark.slow  # a Session and a few localnet round trips: 1-3 s on the shared machine
def test_call_many_sends_together_returns_each_outcome_in_place_and_logs_each_request(lab: Lab) -> None:
    """``session.api.call_many``: one answer or mapped error per request, in order; one log line each."""
    s = lab.session()
    before = len([q for q in lab.kit_log() if "klines" in str(q.get("url"))])
    out = s.api.call_many(
        "fetch_ohlcv",
        [lambda ex: ex.fetch_ohlcv("BTC/USDT", "1m", None, 3),
         lambda ex: ex.fetch_ohlcv("NOPE/USDT", "1m", None, 3),   # refused by ccxt: mapped, not raised
         lambda ex: ex.fetch_ohlcv("ETH/USDT", "1m", None, 2)],
        method="GET", path="/api/v3/klines", write=False,
        params=[{"symbol": "BTC/USDT", "limit": 3}, {"symbol": "NOPE/USDT", "limit": 3},
                {"symbol": "ETH/USDT", "limit": 2}],
        symbols=["BTC/USDT", "NOPE/USDT", "ETH/USDT"],
    )  # fmt: skip
    assert [len(out[0]), len(out[2])] == [3, 2] and isinstance(out[1], KitError) and out[1].hint
    lines = [q for q in lab.kit_log() if "klines" in str(q.get("url"))][before:]
    assert len(lines) == 3 and all(isinstance(q.get("sent_ms"), int) for q in lines)  # one line each, none retried
    assert [q["status"] for q in lines] == [200, None, 200] and lines[1]["error"] == type(out[1]).__name__
    with lab.raises(ConfigError, match="1 params"):  # nothing sent for a malformed call
        s.api.call_many("fetch_time", [lambda ex: ex.fetch_time()] * 2, method="GET", path="/api/v3/time",
                        write=False, params=[{}])  # fmt: skip


@pytest.mark.slow  # a Session and a localnet round trip: 1-3 s on the shared machine
def test_the_funds_check_of_a_batch_counts_what_its_earlier_orders_lock(lab: Lab) -> None:
    """Two sells that each fit the free BTC but not together: the second is refused before any request."""
    s = lab.session()
    free = s.free_balances()["BTC"]
    last = Decimal(str(lab.client().fetch_ticker("BTC/USDT")["last"]))
    price = str((last * Decimal("1.05")).quantize(Decimal("0.01")))  # rests above the market
    part = (free * Decimal("0.6")).quantize(Decimal("0.00001"))
    before = lab.server_count()
    out = s.place_many([
        {"symbol": "BTC/USDT", "side": "sell", "amount": str(part), "price": price, "client_id": "tk-funds-1"},
        {"symbol": "BTC/USDT", "side": "sell", "amount": str(part), "price": price, "client_id": "tk-funds-2"},
        {"symbol": "BTC/USDT", "side": "sell", "amount": "0.001", "price": price, "client_id": "tk-funds-3"},
    ])  # fmt: skip
    assert isinstance(out[0], dict) and isinstance(out[2], dict), out
    assert isinstance(out[1], InsufficientFunds), out[1]
    assert f"needs {part}" in str(out[1]) and f"free {free - part}" in str(out[1]), str(out[1])
    sent = [q for q in lab.server_log()[before:] if q["method"] == "POST" and q["path"] == "/api/v3/order"]
    assert len(sent) == 2  # the refused one never left
    assert [e.client_id for e in s.journal.events(kinds=["intent"])] == ["tk-funds-1", "tk-funds-3"]
    placed = sorted(o["clientOrderId"] for o in lab.client().fetch_open_orders("BTC/USDT"))
    assert placed == ["tk-funds-1", "tk-funds-3"]
    # Outside a batch nothing is carried over: a later single order sees the exchange's free balance.
    with lab.raises(InsufficientFunds):
        s.place("BTC/USDT", "sell", str(part), price=price)
