"""The journal: append-only, exactly-once fills, crash-safe, several writers, state at any past moment.

Everything runs on real SQLite files in tmp_path; the multi-process tests use real (spawned) processes.
"""

from __future__ import annotations

import doctest
import hashlib
import multiprocessing as mp
import os
import sqlite3
import stat
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst

import kit.journal.journal
import kit.journal.state
from kit.errors import ConfigError, DataError
from kit.journal.journal import SCHEMA_VERSION, Journal, to_ms
from kit.safety.stages import Stage

SPAWN = mp.get_context("spawn")  # real, fresh processes: nothing inherited but the arguments


def fill(j: Journal, trade_id: str = "t0", **kw: Any) -> bool:
    args: dict[str, Any] = dict(
        venue="binance", account="default", stage="testnet", symbol="BTC/USDT", client_id="c1", order_id="11",
        trade_id=trade_id, side="buy", price=D("100"), amount=D("0.1"), fee_cost=D("0"), fee_currency="",
        ts_ms=1_000,
    )  # fmt: skip
    args.update(kw)
    return j.record_fill(**args)


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    j = Journal(tmp_path / "deep" / "dir" / "journal.sqlite")
    yield j
    j.close()


# ---------------------------------------------------------------- basics


def test_append_and_read_round_trip(journal: Journal) -> None:
    before = int(time.time() * 1000)
    seq = journal.append(
        "intent", venue="binance", stage=Stage.TESTNET, symbol="BTC/USDT", client_id="c1", side="buy", type="limit",
        amount=D("0.00100000"), price=D("60000.10"), trigger_price=None, params={"timeInForce": "GTC", "n": [1, 2.5]},
    )  # fmt: skip
    after = int(time.time() * 1000)
    assert seq == 1
    (ev,) = journal.events()
    assert (ev.seq, ev.kind, ev.venue, ev.account, ev.stage, ev.symbol, ev.client_id) == (
        1, "intent", "binance", "default", "testnet", "BTC/USDT", "c1",
    )  # fmt: skip
    assert before <= ev.ts_ms <= after and before <= (ev.recorded_ms or 0) <= after
    # Decimals come back exact (trailing zeros included) and typed; other values as written.
    assert ev.payload["amount"] == D("0.00100000") and str(ev.payload["amount"]) == "0.00100000"
    assert isinstance(ev.payload["price"], D)
    assert ev.payload["params"] == {"timeInForce": "GTC", "n": [1, 2.5]}
    assert ev.payload["trigger_price"] is None
    assert ev.time == pd.Timestamp(ev.ts_ms, unit="ms", tz="UTC")
    assert len(journal) == 1


def test_decimals_are_stored_as_strings_in_json(journal: Journal) -> None:
    journal.append("balance", venue="binance", balances={"BTC": {"free": D("0.1"), "used": D("0"), "total": D("0.1")}})
    with sqlite3.connect(journal.path) as db:
        (raw,) = db.execute("SELECT payload FROM events").fetchone()
    assert raw == '{"balances":{"BTC":{"free":"0.1","total":"0.1","used":"0"}}}'
    (ev,) = journal.events()
    assert ev.payload["balances"]["BTC"]["total"] == D("0.1")


def test_event_filters(journal: Journal) -> None:
    rows = [
        ("intent", "binance", "BTC/USDT", "a"),
        ("ack", "binance", "BTC/USDT", "a"),
        ("intent", "kraken", "ETH/USD", "b"),
        ("clock", "binance", "", ""),
        ("intent", "binance", "ETH/USDT", "c"),
    ]
    for i, (kind, venue, symbol, cid) in enumerate(rows):  # fmt: skip
        journal.append(kind, venue=venue, symbol=symbol, client_id=cid, ts_ms=1000 + 100 * i)
    assert [e.seq for e in journal.events(since_ms=1100, until_ms=1300)] == [2, 3, 4]  # inclusive bounds
    assert [e.seq for e in journal.events(kinds=["intent"])] == [1, 3, 5]
    assert [e.seq for e in journal.events(kinds="intent", venue="binance")] == [1, 5]
    assert [e.seq for e in journal.events(symbol="BTC/USDT")] == [1, 2]
    assert [e.seq for e in journal.events(client_id="a", kinds=["ack"])] == [2]
    assert [e.seq for e in journal.events(since_ms=pd.Timestamp(1200, unit="ms", tz="UTC"))] == [3, 4, 5]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"kind": "fill"}, ValueError),  # fills only through record_fill (exactly once)
        ({"kind": "Not A Kind"}, ValueError),
        ({"kind": "alert", "venue": ""}, ValueError),
        ({"kind": "alert", "value": float("nan")}, ValueError),
        ({"kind": "alert", "value": D("Infinity")}, ValueError),
        ({"kind": "alert", "when": datetime(2024, 1, 1, tzinfo=UTC)}, TypeError),  # times go in as int ms
        ({"kind": "alert", "obj": object()}, TypeError),
        ({"kind": "alert", "seq": 5}, ValueError),  # a column name
        ({"kind": "alert", "ts_ms": 1.5}, TypeError),
        ({"kind": "alert", "symbol": 7}, TypeError),
    ],
)
def test_append_rejects_bad_input(journal: Journal, kwargs: dict[str, Any], error: type[Exception]) -> None:
    kwargs = {"venue": "binance", **kwargs}
    kind = kwargs.pop("kind")
    with pytest.raises(error):
        journal.append(kind, **kwargs)
    assert len(journal) == 0


def test_rows_are_never_updated_or_deleted(journal: Journal) -> None:
    journal.append("alert", venue="binance", message="hello")
    with sqlite3.connect(journal.path) as db:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute("UPDATE events SET kind = 'x'")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute("DELETE FROM events")
    assert [e.payload["message"] for e in journal.events()] == ["hello"]


def test_file_mode_wal_and_schema(journal: Journal) -> None:
    assert stat.S_IMODE(journal.path.stat().st_mode) == 0o600
    with sqlite3.connect(journal.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
    assert journal.integrity_ok()


def test_reopen_keeps_rows(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with Journal(path) as j:
        j.append("alert", venue="x", n=1)
    with Journal(path) as j:
        assert j.append("alert", venue="x", n=2) == 2
        assert [e.payload["n"] for e in j.events()] == [1, 2]
    with pytest.raises(ValueError, match="closed"):
        j.events()


def test_refuses_files_that_are_not_journals(tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not sqlite at all, just bytes " * 200)
    with pytest.raises(DataError):
        Journal(junk)
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE t (x)")
    with pytest.raises(DataError, match="not a journal"):
        Journal(other)
    newer = tmp_path / "newer.sqlite"
    Journal(newer).close()
    with sqlite3.connect(newer) as db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    with pytest.raises(DataError, match="schema version"):
        Journal(newer)


def test_default_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KIT_HOME", str(tmp_path / "home"))
    assert Journal.default_path() == tmp_path / "home" / "journal.sqlite"
    monkeypatch.delenv("KIT_HOME")
    assert Journal.default_path() == Path("~/.tradekit/journal.sqlite").expanduser()


def test_to_ms() -> None:
    assert to_ms(1_704_067_200_000) == 1_704_067_200_000
    assert to_ms("2024-01-01T00:00:00Z") == 1_704_067_200_000
    assert to_ms(datetime(2024, 1, 1)) == 1_704_067_200_000  # naive means UTC
    assert to_ms(datetime(2024, 1, 1, 1, tzinfo=UTC)) == 1_704_070_800_000
    assert to_ms(pd.Timestamp("2024-01-01 00:00:00.123", tz="UTC")) == 1_704_067_200_123
    with pytest.raises(TypeError):
        to_ms(True)


# ---------------------------------------------------------------- exactly-once fills


def test_fill_is_recorded_exactly_once(journal: Journal) -> None:
    assert not journal.has_trade("binance", "t1")
    assert fill(journal, "t1") is True
    assert fill(journal, "t1") is False
    assert fill(journal, "t1", price=D("101"), ts_ms=5_000) is False  # same trade seen again, e.g. via REST after WS
    assert journal.has_trade("binance", "t1") and not journal.has_trade("kraken", "t1")
    assert len(journal.events(kinds="fill")) == 1
    assert journal.state_at(10_000).positions == {"BTC/USDT": D("0.1")}


def test_same_trade_id_in_other_scopes_is_another_trade(journal: Journal) -> None:
    # Binance numbers trades per symbol; two accounts can be the two sides of one trade; a self-trade gives
    # one id to our buy and our sell. None of these may be dropped as a duplicate.
    assert fill(journal, "7")
    assert fill(journal, "7", symbol="ETH/USDT")
    assert fill(journal, "7", account="sub1")
    assert fill(journal, "7", side="sell")
    assert fill(journal, "7", venue="kraken")
    assert not fill(journal, "7", symbol="ETH/USDT")
    assert len(journal.events(kinds="fill")) == 5
    assert journal.has_trade("binance", "7", symbol="ETH/USDT", account="default")
    assert not journal.has_trade("binance", "7", symbol="SOL/USDT")


@pytest.mark.parametrize(
    "bad",
    [
        {"trade_id": ""},
        {"side": "long"},
        {"amount": D("0")},
        {"price": D("-1")},
        {"price": D("NaN")},
        {"symbol": "BTCUSDT"},
        {"fee_cost": D("0.1"), "fee_currency": None},
    ],
)
def test_record_fill_validates(journal: Journal, bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        fill(journal, **{"trade_id": "t1", **bad})
    assert len(journal) == 0


def test_record_fill_reads_floats_exactly(journal: Journal) -> None:
    # ccxt's unified trades carry floats; the journal keeps the number the venue sent.
    assert fill(journal, "t9", price=0.1, amount=3, fee_cost=0.0001, fee_currency="BNB")
    (f,) = journal.fills()
    assert (f.price, f.amount, f.fee_cost, f.fee_currency) == (D("0.1"), D("3"), D("0.0001"), "BNB")


def _record_same_fills(path: str, start: Any, out: Any) -> None:
    j = Journal(path)
    start.wait()
    out.put(sum(fill(j, f"t{i}", ts_ms=i) for i in range(200)))
    j.close()


@pytest.mark.slow
def test_exactly_once_across_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "j.sqlite")
    Journal(path).close()
    start, out = SPAWN.Event(), SPAWN.Queue()
    procs = [SPAWN.Process(target=_record_same_fills, args=(path, start, out)) for _ in range(3)]
    for p in procs:
        p.start()
    start.set()
    written = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert sum(written) == 200  # each trade won by exactly one process
    with Journal(path) as j:
        assert sorted(f.trade_id for f in j.fills()) == sorted(f"t{i}" for i in range(200))


# ---------------------------------------------------------------- state at past moments


@pytest.fixture
def history(journal: Journal) -> Journal:
    """A small account history (times in ms; comments say what happens)."""
    j = journal
    j.append("balance", venue="binance", ts_ms=1000, balances={"USDT": {"free": D("1000"), "used": D("0"),
             "total": D("1000")}, "BTC": {"free": D("0"), "used": D("0"), "total": D("0")}})  # fmt: skip
    # c1: buy 1 BTC @ 100, filled in two parts, fees in BTC
    j.append("intent", venue="binance", stage="testnet", symbol="BTC/USDT", client_id="c1", ts_ms=1100,
             side="buy", type="limit", amount=D("1"), price=D("100"))  # fmt: skip
    j.append("ack", venue="binance", symbol="BTC/USDT", client_id="c1", order_id="11", ts_ms=1110, status="open",
             filled=D("0"))  # fmt: skip
    fill(j, "t1", order_id="11", amount=D("0.4"), price=D("100"), fee_cost=D("0.0004"), fee_currency="BTC", ts_ms=1200)
    fill(j, "t2", order_id="11", amount=D("0.6"), price=D("99"), fee_cost=D("0.0006"), fee_currency="BTC", ts_ms=1300)
    j.append("order", venue="binance", symbol="BTC/USDT", client_id="c1", order_id="11", ts_ms=1310,
             status="closed", filled=D("1"), remaining=D("0"), average=D("99.4"))  # fmt: skip
    # c2: sell 0.5 @ 110; the ack is lost (unknown), found open later, partly filled, then canceled
    j.append("intent", venue="binance", stage="testnet", symbol="BTC/USDT", client_id="c2", ts_ms=1400,
             side="sell", type="limit", amount=D("0.5"), price=D("110"))  # fmt: skip
    j.append("unknown", venue="binance", symbol="BTC/USDT", client_id="c2", ts_ms=1401, reason="timeout")
    j.append("resolved", venue="binance", symbol="BTC/USDT", client_id="c2", order_id="12", ts_ms=1500,
             status="open", how="fetch_open_orders")  # fmt: skip
    fill(j, "t3", client_id="c2", order_id="12", side="sell", amount=D("0.2"), price=D("110"), fee_cost=D("0.022"),
         fee_currency="USDT", ts_ms=1600)  # fmt: skip
    # The venue's balance at 1700 holds every fill so far; its numbers win over the fills' (fees, transfers...).
    j.append("balance", venue="binance", ts_ms=1700, balances={"USDT": {"free": D("927.578"), "used": D("0"),
             "total": None}, "BTC": {"free": D("0.699"), "used": D("0.1"), "total": D("0.799")}})  # fmt: skip
    j.append("cancel_intent", venue="binance", symbol="BTC/USDT", client_id="c2", order_id="12", ts_ms=1800)
    j.append("cancel_ack", venue="binance", symbol="BTC/USDT", client_id="c2", order_id="12", ts_ms=1810)
    # A fill of c2 that happened at 1650 but was journaled last (found while reconciling).
    fill(j, "t4", client_id="c2", order_id="12", side="sell", amount=D("0.1"), price=D("111"), fee_cost=D("0.0111"),
         fee_currency="USDT", ts_ms=1650)  # fmt: skip
    # A buy after the last snapshot, fee in BNB.
    fill(j, "t5", client_id="c3", order_id="13", amount=D("0.05"), price=D("100"), fee_cost=D("0.001"),
         fee_currency="BNB", ts_ms=1900)  # fmt: skip
    return j


def test_state_before_anything_but_the_first_snapshot(history: Journal) -> None:
    st = history.state_at(1050)
    assert st.orders == {} and st.positions == {} and st.fills == []
    assert st.balances == {"USDT": D("1000"), "BTC": D("0")}
    assert history.state_at(999).balances == {}


def test_state_positions_never_come_from_intents_or_acks(history: Journal) -> None:
    st = history.state_at(1150)
    assert st.orders["c1"].status == "open" and st.orders["c1"].order_id == "11"
    assert st.positions == {}
    assert st.balances == {"USDT": D("1000"), "BTC": D("0")}
    assert history.state_at(1105).orders["c1"].status == "intent"


def test_state_with_a_partial_fill(history: Journal) -> None:
    st = history.state_at(1250)
    o = st.orders["c1"]
    assert (o.status, o.filled, o.remaining, o.average, dict(o.fees)) == (
        "open", D("0.4"), D("0.6"), D("100"), {"BTC": D("0.0004")},
    )  # fmt: skip
    assert o.exchange_filled == D("0")  # what the venue said at the ack: fills still to come
    assert st.positions == {"BTC/USDT": D("0.3996")}  # fees in the base currency reduce the holding
    assert st.balances == {"USDT": D("960"), "BTC": D("0.3996")}


def test_state_after_full_fill(history: Journal) -> None:
    o = history.state_at(1350).orders["c1"]
    assert (o.status, o.filled, o.average, o.fees["BTC"], o.exchange_filled) == (
        "closed", D("1"), D("99.4"), D("0.001"), D("1"),
    )  # fmt: skip
    st = history.state_at(1350)
    assert st.positions == {"BTC/USDT": D("0.999")}
    assert st.balances == {"USDT": D("900.6"), "BTC": D("0.999")}


def test_state_of_an_unknown_order_and_its_resolution(history: Journal) -> None:
    assert history.state_at(1400).orders["c2"].status == "intent"
    assert history.state_at(1450).orders["c2"].status == "unknown"
    assert history.state_at(1450).open_orders.keys() == {"c2"}  # unknown may exist: counted as open
    assert history.state_at(1550).orders["c2"].status == "open"
    assert history.state_at(1550).orders["c2"].order_id == "12"


def test_state_uses_trade_time_for_late_fills(history: Journal) -> None:
    st = history.state_at(1660)  # before the second snapshot: first snapshot + fills t1..t4
    assert st.orders["c2"].filled == D("0.3")
    assert st.orders["c2"].average == (D("0.2") * 110 + D("0.1") * 111) / D("0.3")
    assert st.positions == {"BTC/USDT": D("0.699")}
    assert st.balances == {"USDT": D("1000") - 40 - D("59.4") + 22 - D("0.022") + D("11.1") - D("0.0111"),
                           "BTC": D("0.699")}  # fmt: skip


def test_state_after_a_snapshot_does_not_count_its_fills_twice(history: Journal) -> None:
    st = history.state_at(1750)
    # t4 (1650) is inside the 1700 snapshot even though it was journaled after it; total None -> free + used
    assert st.balances == {"USDT": D("927.578"), "BTC": D("0.799")}
    assert st.positions == {"BTC/USDT": D("0.699")}  # positions: all fills, regardless of snapshots
    assert st.orders["c2"].status == "open" and st.orders["c2"].cancel_requested is False


def test_state_at_the_end(history: Journal) -> None:
    st = history.state_at(5000)
    assert st.orders["c2"].status == "canceled" and st.orders["c2"].cancel_requested
    assert (st.orders["c3"].filled, st.orders["c3"].status) == (D("0.05"), "open")  # seen only through its fill
    assert st.positions == {"BTC/USDT": D("0.749")}
    assert st.balances == {"USDT": D("922.578"), "BTC": D("0.849"), "BNB": D("-0.001")}
    assert [f.trade_id for f in st.fills] == ["t1", "t2", "t3", "t4", "t5"]  # by trade time
    assert st.open_orders.keys() == {"c3"}  # no intent: amount unknown, so never known to be complete


def test_state_at_accepts_datetimes_and_timestamps(history: Journal) -> None:
    by_int = history.state_at(1250)
    assert history.state_at(datetime.fromtimestamp(1.25, tz=UTC)) == by_int
    assert history.state_at(pd.Timestamp(1250, unit="ms", tz="UTC")) == by_int
    assert history.state_at(1250).time == pd.Timestamp(1250, unit="ms", tz="UTC")


def test_state_filters_by_venue_and_account(history: Journal) -> None:
    fill(history, "k1", venue="kraken", symbol="ETH/USD", amount=D("2"), ts_ms=1900)
    fill(history, "s1", account="sub", symbol="ETH/USDT", amount=D("3"), ts_ms=1900)
    assert history.state_at(5000, venue="kraken").positions == {"ETH/USD": D("2")}
    assert history.state_at(5000, venue="kraken").balances == {"ETH": D("2"), "USD": D("-200")}
    assert history.state_at(5000, account="sub").positions == {"ETH/USDT": D("3")}
    assert set(history.state_at(5000).positions) == {"BTC/USDT", "ETH/USD", "ETH/USDT"}


def test_order_states(history: Journal) -> None:
    now = history.order_states()
    assert {k: o.status for k, o in now.items()} == {"c1": "closed", "c2": "canceled", "c3": "open"}
    past = history.order_states(at_ms=1450)
    assert {k: o.status for k, o in past.items()} == {"c1": "closed", "c2": "unknown"}
    assert history.order_states(venue="kraken") == {}
    assert now["c2"].fees == {"USDT": D("0.0331")}


def test_error_events_mark_rejections_only(journal: Journal) -> None:
    for cid, error_class in [("r", "InsufficientFunds"), ("t", "ExchangeUnavailable"), ("g", "CapExceeded")]:
        journal.append("intent", venue="binance", symbol="BTC/USDT", client_id=cid, side="buy", amount=D("1"), ts_ms=1)
        journal.append("error", venue="binance", client_id=cid, op="create_order", error_class=error_class,
                       message="...", ts_ms=2)  # fmt: skip
    states = journal.order_states()
    assert {k: o.status for k, o in states.items()} == {"r": "rejected", "t": "intent", "g": "rejected"}


trades = hst.lists(
    hst.tuples(
        hst.sampled_from(["buy", "sell"]),
        hst.decimals(min_value=D("0.001"), max_value=D("5"), places=3),
        hst.decimals(min_value=D("1"), max_value=D("1000"), places=2),
        hst.sampled_from(["BTC", "USDT", "BNB"]),
        hst.integers(min_value=0, max_value=1_000),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=20, deadline=None)
@given(trades=trades, repeats=hst.lists(hst.integers(min_value=0, max_value=7), max_size=8), data=hst.data())
def test_property_duplicates_never_change_the_state(trades: list[Any], repeats: list[int], data: Any) -> None:
    """However often and in whatever order fills are seen, positions and balances are those of the unique trades."""
    order = list(range(len(trades))) + [i for i in repeats if i < len(trades)]
    order = data.draw(hst.permutations(order))
    with tempfile.TemporaryDirectory() as tmp, Journal(Path(tmp) / "j.sqlite") as j:
        written = [fill(j, f"t{i}", side=trades[i][0], amount=trades[i][1], price=trades[i][2],
                        fee_cost=D("0.001"), fee_currency=trades[i][3], ts_ms=trades[i][4]) for i in order]  # fmt: skip
        assert sum(written) == len(trades)
        state = j.state_at(10_000)
    sign = {"buy": 1, "sell": -1}
    position = sum(sign[s] * a - (D("0.001") if c == "BTC" else 0) for s, a, _, c, _ in trades)
    assert state.positions["BTC/USDT"] == position
    usdt = sum(-sign[s] * a * p - (D("0.001") if c == "USDT" else 0) for s, a, p, c, _ in trades)
    assert state.balances["USDT"] == usdt and state.balances["BTC"] == position  # conserved to the last unit
    assert state.balances.get("BNB", D(0)) == -D("0.001") * sum(1 for t in trades if t[3] == "BNB")


# ---------------------------------------------------------------- frames and evidence


def test_frames(history: Journal) -> None:
    fills = history.frame("fill")
    assert isinstance(fills.index, pd.DatetimeIndex) and str(fills.index.tz) == "UTC" and fills.index.name == "time"
    assert list(fills["trade_id"]) == ["t1", "t2", "t3", "t4", "t5"]  # journal order
    assert fills.loc[fills["trade_id"] == "t2", "price"].iloc[0] == D("99")
    assert {"seq", "ts_ms", "recorded_ms", "kind", "venue", "side", "amount", "fee_cost", "fee_currency"} <= set(fills)
    intents = history.frame("intent")
    assert list(intents["client_id"]) == ["c1", "c2"] and list(intents["side"]) == ["buy", "sell"]
    everything = history.frame()
    assert len(everything) == len(history) and set(everything["kind"]) >= {"balance", "fill", "intent", "unknown"}
    window = history.frame(since=pd.Timestamp(1200, unit="ms", tz="UTC"), until=1300)
    assert list(window["seq"]) == [4, 5]
    assert history.frame("fill", venue="kraken").empty


def test_empty_frame_has_the_row_columns(journal: Journal) -> None:
    df = journal.frame("fill")
    assert df.empty and isinstance(df.index, pd.DatetimeIndex) and "trade_id" in df.columns


def test_filled_orders_is_stage_evidence(journal: Journal) -> None:
    day = 86_400_000
    now = 40 * day
    fill(journal, "a1", order_id="1", ts_ms=now - day)
    fill(journal, "a2", order_id="1", ts_ms=now - day)  # same order, second part: still one order
    fill(journal, "b1", order_id="2", ts_ms=now - 2 * day)
    fill(journal, "c1", order_id="3", ts_ms=now - 35 * day)  # too old
    fill(journal, "d1", order_id="4", symbol="ETH/USDT", ts_ms=now - day)
    fill(journal, "e1", order_id="5", stage="live_small", ts_ms=now - day)
    fill(journal, "f1", order_id="6", venue="kraken", ts_ms=now - day)
    since = now - 30 * day
    assert journal.filled_orders(stage="testnet", symbols=["BTC/USDT"], since_ms=since) == 3  # 1, 2 and kraken's 6
    assert journal.filled_orders(stage="testnet", symbols=["BTC/USDT"], since_ms=since, venue="binance") == 2
    assert journal.filled_orders(stage=Stage.TESTNET, symbols=["BTC/USDT", "ETH/USDT"], since_ms=since) == 4
    assert journal.filled_orders(stage="live_small", symbols=["BTC/USDT"], since_ms=since) == 1
    assert journal.filled_orders(stage="testnet", symbols=[], since_ms=since) == 0
    assert journal.filled_orders(stage="testnet", symbols=["SOL/USDT"], since_ms=0) == 0


# ---------------------------------------------------------------- secrets never stored


class SecretLike:
    """Shaped like kit.safety.secrets.Secret: the journal must refuse it without knowing the class."""

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "SecretLike(fp=0000)"


def test_secrets_are_refused(journal: Journal) -> None:
    from kit.safety.secrets import Credentials, Secret

    value = "Zq9" + "x" * 37 + "Kp"
    secret = Secret(value)
    creds = Credentials(api_key=Secret("A" * 40), secret=secret, source="env:KIT_BINANCE_TESTNET_API_KEY")
    for payload in (
        {"key_value": secret},
        {"params": {"nested": [1, secret]}},
        {"thing": SecretLike(value)},
        {"creds": creds},
        {"apiKey": "abc"},  # credential-named fields are refused whatever their value
        {"params": {"newClientOrderId": "x", "secret": "abc"}},
    ):
        with pytest.raises(ConfigError) as info:
            journal.append("preflight", venue="binance", **payload)
        assert value not in str(info.value) and value not in repr(info.value)
    with pytest.raises(ConfigError):
        journal.append("preflight", venue="binance", client_id=secret)  # type: ignore[arg-type]
    assert len(journal) == 0


def test_strings_are_redacted_before_storing(journal: Journal, tmp_path: Path) -> None:
    from kit.safety.secrets import Secret

    value = "S3cr3t" + "v" * 40
    live = Secret(value)
    url = "https://api.binance.com/api/v3/order?symbol=BTCUSDT&timestamp=1&signature=deadbeefcafe"
    journal.append("error", venue="binance", op="create_order", error_class="AuthError",
                   message=f"binance POST {url} 401 key {value} refused")  # fmt: skip
    (ev,) = journal.events()
    assert "deadbeefcafe" not in ev.payload["message"] and value not in ev.payload["message"]
    assert "symbol=BTCUSDT" in ev.payload["message"]
    journal.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.rglob("journal.sqlite*"))
    assert value.encode() not in raw and b"deadbeefcafe" not in raw
    del live


# ---------------------------------------------------------------- several processes, crashes


def _append_rows(path: str, writer: int, n: int, start: Any) -> None:
    j = Journal(path)
    start.wait()
    for i in range(n):
        j.append("alert", venue="binance", client_id=f"w{writer}", writer=writer, i=i, amount=D(i) / 100)
    j.close()


@pytest.mark.slow
def test_two_processes_append_at_once(tmp_path: Path) -> None:
    path = str(tmp_path / "j.sqlite")
    start = SPAWN.Event()
    procs = [SPAWN.Process(target=_append_rows, args=(path, w, 500, start)) for w in (1, 2)]
    for p in procs:
        p.start()
    time.sleep(0.5)  # let both open the journal (and race on creating it) before releasing them together
    start.set()
    for p in procs:
        p.join(timeout=180)
        assert p.exitcode == 0
    with Journal(path) as j:
        events = j.events()
        assert [e.seq for e in events] == list(range(1, 1001))
        for w in (1, 2):
            mine = [e for e in events if e.payload["writer"] == w]
            assert [e.payload["i"] for e in mine] == list(range(500))  # all present, each writer's order kept
            assert [e.payload["amount"] for e in mine] == [D(i) / 100 for i in range(500)]
        assert j.integrity_ok()


def _append_row(j: Journal, i: int) -> int:
    return j.append("alert", venue="binance", i=i, digest=hashlib.sha256(str(i).encode()).hexdigest(), pad="p" * 3000)


def _append_forever(path: str) -> None:
    j = Journal(path)
    i = len(j)
    while True:  # until SIGKILL
        _append_row(j, i)
        i += 1


@pytest.mark.slow
def test_crash_mid_write_leaves_whole_rows_only(tmp_path: Path) -> None:
    path = str(tmp_path / "j.sqlite")
    Journal(path).close()
    for round_ in range(3):
        child = SPAWN.Process(target=_append_forever, args=(path,))
        child.start()
        with Journal(path) as watcher:
            deadline = time.monotonic() + 120
            target = 60 * (round_ + 1)
            while len(watcher) < target and time.monotonic() < deadline:
                time.sleep(0.01)
        child.kill()  # SIGKILL, in the middle of whatever it was writing
        child.join(timeout=30)
        assert child.exitcode == -9
        with Journal(path) as j:
            assert j.integrity_ok()
            events = j.events()
            assert len(events) >= target
            assert [e.seq for e in events] == list(range(1, len(events) + 1))
            for e in events:  # no partial row: every payload whole and consistent
                assert e.payload["i"] == e.seq - 1
                assert e.payload["digest"] == hashlib.sha256(str(e.payload["i"]).encode()).hexdigest()
                assert e.payload["pad"] == "p" * 3000
            assert _append_row(j, len(events)) == len(events) + 1  # still writable, sequence unbroken


def test_fork_gets_its_own_connection(tmp_path: Path) -> None:
    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    j = Journal(tmp_path / "j.sqlite")
    j.append("alert", venue="x", who="parent")
    ctx = mp.get_context("fork")
    p = ctx.Process(target=j.append, args=("alert",), kwargs={"venue": "x", "who": "child"})
    p.start()
    p.join(timeout=60)
    assert p.exitcode == 0
    j.append("alert", venue="x", who="parent")
    assert [e.payload["who"] for e in j.events()] == ["parent", "child", "parent"]
    assert j.integrity_ok()
    j.close()


# ---------------------------------------------------------------- docs


@pytest.mark.parametrize("module", [kit.journal.journal, kit.journal.state])
def test_docstring_examples(module: Any) -> None:
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
