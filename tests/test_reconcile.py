"""Reconciliation against a real localnet (ccxt over loopback): what a crash or an outage leaves behind.

The states a killed process leaves (an intent without its acknowledgement, fills nobody heard,
a cancel whose answer was lost) are made here the way they arise: the order reaches the exchange
through another client while only the intent is in the journal, fills are printed while no Session
is open. The chaos suite (tests/chaos) produces them with real SIGKILLs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from lab.lab import Lab, open_lab

from kit.cli.reconcile import reconcile_command
from kit.journal.journal import Journal
from kit.ops.reconcile import order_window_ms, reconcile, settle_order

SYM = "BTC/USDT"
LATEST = 2**62


@pytest.fixture()
def lab(tmp_path: Path) -> Iterator[Lab]:
    """A lab (its stepped clock starts at the start of the wall clock's minute: see ``open_lab``).

    The synthetic market plans each minute's prints when the minute starts, from the last price, and a
    test here injects a print at its resting buy's price: started at the wall clock, a run whose steps
    after that print crossed into a new minute (a start 1-2 s before a minute ended) saw the new
    minute's prints wander around that price and fill the rest of the buy, one more fill than the test
    made (reproduced by starting the clock 1.2 s before the hour).
    """
    with open_lab(tmp_path) as lab:
        yield lab
        for s in lab.sessions:
            s.close()
        assert lab.leaks() == []


def _price(lab: Lab) -> Decimal:
    return Decimal(str(lab.client().fetch_ticker(SYM)["last"]))


def _rest(lab: Lab, side: str, amount: str, away: str = "0.01") -> tuple[str, Decimal]:
    """A resting limit order placed by another client (as if the killed process had sent it)."""
    px = (_price(lab) * (1 - Decimal(away) if side == "buy" else 1 + Decimal(away))).quantize(Decimal("0.01"))
    cid = f"tk-crash-{time.time_ns() % 10**9}"
    lab.client().create_order(SYM, "limit", side, float(amount), float(px), {"clientOrderId": cid})
    return cid, px


def _intent(s: Any, cid: str, side: str, amount: str, price: Decimal | None, ts_ms: int | None = None) -> None:
    s.journal.append(
        "intent",
        venue=s.venue,
        account=s.account,
        stage=s.stage.value,
        symbol=SYM,
        client_id=cid,
        side=side,
        type="limit",
        amount=Decimal(amount),
        price=price,
        ts_ms=ts_ms,
    )


def _fill_through(lab: Lab, price: Decimal, qty: str, side: str = "sell") -> None:
    lab.net.inject_trade("BTCUSDT", price - Decimal("0.01") if side == "sell" else price + Decimal("0.01"), qty, side)


def _exchange_trade_keys(lab: Lab) -> set[tuple[str, str]]:
    return {(str(t["id"]), t["side"]) for t in lab.client().fetch_my_trades(SYM, None, 1000, {"fromId": 0})}


def _journal_trade_keys(s: Any) -> list[tuple[str, str]]:
    return [(f.trade_id, f.side) for f in s.journal.fills(venue=s.venue, symbol=SYM)]


def _reconcile_events(s: Any) -> list[Any]:
    return [e for e in s.journal.events(kinds=["reconcile"], venue=s.venue) if e.get("action") != "summary"]


# ---------------------------------------------------------------------------------------------- agreement


def test_agreeing_journal_gives_a_clean_report_and_a_snapshot(lab: Lab) -> None:
    s = lab.session()
    s.place(SYM, "buy", "0.001", price=str((_price(lab) * Decimal("0.98")).quantize(Decimal("0.01"))))
    first = reconcile(s)
    assert first.clean and not first.balances_compared  # nothing to compare against yet
    assert "no balance snapshot" in first.summary()
    second = reconcile(s)
    assert second.clean and second.balances_compared
    assert "journal and exchange agree" in second.table()
    summaries = [e for e in s.journal.events(kinds=["reconcile"]) if e.get("action") == "summary"]
    assert len(summaries) == 2 and summaries[-1].get("counts")["adopted_fills"] == 0


# ---------------------------------------------------------------------------------------------- unknown orders


def test_intent_without_ack_found_on_the_exchange_is_resolved_and_its_fills_adopted(lab: Lab) -> None:
    s = lab.session()
    cid, px = _rest(lab, "buy", "0.002")
    _intent(s, cid, "buy", "0.002", px)  # the process died after sending: no ack in the journal
    _fill_through(lab, px, "0.0007")  # and a partial fill nobody heard
    assert s.journal.order_states(venue=s.venue)[cid].status == "intent"
    rep = reconcile(s)
    assert [f.ref for f in rep.resolved] == [cid]
    assert len(rep.adopted_fills) == 1 and rep.adopted_fills[0].symbol == SYM
    st = s.journal.order_states(venue=s.venue)[cid]
    assert st.status == "open" and st.filled == Decimal("0.0007") and st.order_id
    kinds = [e.kind for e in s.journal.events(client_id=cid)]
    assert kinds[:3] == ["intent", "resolved", "ack"] and "fill" in kinds
    reasons = {e.get("action"): e.get("reason") for e in _reconcile_events(s)}
    assert "found on the exchange by client id" in reasons["resolve"]
    assert "fill missing from the journal" in reasons["adopt_fill"]
    assert reconcile(s).clean


def test_intent_not_on_the_exchange_waits_for_its_window_then_is_not_placed(lab: Lab) -> None:
    s = lab.session()
    now = int(time.time() * 1000)
    _intent(s, "tk-ghost-1", "buy", "0.001", Decimal("50000"), ts_ms=now)
    window = order_window_ms(s)
    early = reconcile(s, now_ms=now + 1000)
    assert [f.ref for f in early.pending] == ["tk-ghost-1"] and not early.settled
    assert s.journal.order_states(venue=s.venue)["tk-ghost-1"].status == "intent"  # nothing decided yet
    late = reconcile(s, now_ms=now + window + 1)
    assert [f.ref for f in late.not_placed] == ["tk-ghost-1"] and late.settled
    assert s.journal.order_states(venue=s.venue)["tk-ghost-1"].status == "not_placed"
    ev = [e for e in _reconcile_events(s) if e.client_id == "tk-ghost-1"][-1]
    assert ev.get("action") == "not_placed" and "never placed" in ev.get("reason")


def test_order_declared_not_placed_too_early_is_corrected_when_it_turns_up(lab: Lab) -> None:
    s = lab.session()
    cid, px = _rest(lab, "sell", "0.001")
    _intent(s, cid, "sell", "0.001", px)
    s.journal.append(
        "resolved",
        venue=s.venue,
        account=s.account,
        stage="testnet",
        symbol=SYM,
        client_id=cid,
        status="not_placed",
        how="lookup by client id",
    )
    rep = reconcile(s)
    assert [f.ref for f in rep.resolved] == [cid]
    assert "corrected" in rep.resolved[0].reason
    assert s.journal.order_states(venue=s.venue)[cid].status == "open"


def test_settle_order_never_resends_and_waits_out_the_window(lab: Lab) -> None:
    s = lab.session()
    cid, px = _rest(lab, "buy", "0.001")
    _intent(s, cid, "buy", "0.001", px)
    assert settle_order(s, cid, symbol=SYM) == "placed"
    assert s.journal.order_states(venue=s.venue)[cid].status == "open"
    t0 = time.monotonic()  # before the intent: the window runs from the intent's time, so at least 1.5 s from here
    _intent(s, "tk-ghost-2", "buy", "0.001", px)
    assert settle_order(s, "tk-ghost-2", symbol=SYM, window_ms=1500, poll_s=0.2) == "not_placed"
    assert time.monotonic() - t0 >= 1.5 - 0.01  # not before the window (0.01: the intent's ms rounding)
    orders = lab.client().fetch_orders(SYM)
    assert sum(o["clientOrderId"] == cid for o in orders) == 1 and not any(
        o["clientOrderId"] == "tk-ghost-2" for o in orders
    )


@pytest.mark.slow  # polls a down exchange, with read retries, until its timeout
def test_settle_order_is_unresolved_while_the_exchange_cannot_be_asked(lab: Lab) -> None:
    s = lab.session()
    _intent(s, "tk-ghost-3", "buy", "0.001", Decimal("50000"))
    lab.net.set_faults(maintenance=True)
    try:
        assert settle_order(s, "tk-ghost-3", symbol=SYM, timeout_s=0.5, window_ms=0, poll_s=0.1) == "unresolved"
    finally:
        lab.net.set_faults(maintenance=False)
    assert s.journal.order_states(venue=s.venue)["tk-ghost-3"].status == "intent"


# ---------------------------------------------------------------------------------------------- fills


def test_fills_while_no_session_listened_are_adopted_exactly_once_through_many_pages(lab: Lab) -> None:
    s = lab.session()
    px = (_price(lab) * Decimal("0.99")).quantize(Decimal("0.01"))
    order = s.place(SYM, "buy", "0.02", price=str(px))
    s.close()  # the process is gone; the market trades through the order 23 times
    for _ in range(23):
        _fill_through(lab, px, "0.0005")
    s2 = lab.session()
    rep = reconcile(s2, page_limit=5)  # 5 per page: the sweep must follow full pages
    assert len(rep.adopted_fills) == 23
    assert sorted(_journal_trade_keys(s2)) == sorted(_exchange_trade_keys(lab))
    assert s2.journal.order_states(venue=s2.venue)[order["clientOrderId"]].filled == Decimal("0.0115")
    assert reconcile(s2, page_limit=5).adopted_fills == []
    assert s2.positions()[SYM] == Decimal("0.0115") - sum(
        (f.fee_cost for f in s2.journal.fills(venue=s2.venue) if f.fee_currency == "BTC"), Decimal(0)
    )


def test_concurrent_reconciles_journal_each_fill_once(lab: Lab) -> None:
    s = lab.session()
    px = (_price(lab) * Decimal("0.99")).quantize(Decimal("0.01"))
    s.place(SYM, "buy", "0.01", price=str(px))
    for _ in range(6):
        _fill_through(lab, px, "0.001")
    other = lab.session()
    reports: list[Any] = []
    threads = [threading.Thread(target=lambda x=x: reports.append(reconcile(x, balances=False))) for x in (s, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(len(r.adopted_fills) for r in reports) == 6
    assert len(_journal_trade_keys(s)) == 6 == len(set(_journal_trade_keys(s)))


def test_the_sweep_pages_through_days_without_a_gap(lab: Lab) -> None:
    """Binance refuses myTrades spans over 24 h: a sweep from three days back goes window by window."""
    s = lab.session()
    px = (_price(lab) * Decimal("0.98")).quantize(Decimal("0.01"))
    s.journal.append(
        "intent",
        venue=s.venue,
        account=s.account,
        stage="testnet",
        symbol=SYM,
        client_id="tk-old",
        side="buy",
        type="limit",
        amount=Decimal("0.001"),
        price=px,
        ts_ms=int(time.time() * 1000) - 3 * 86_400_000,
    )
    s.place(SYM, "buy", "0.01", price=str(px))
    for _ in range(3):
        lab.net.inject_trade("BTCUSDT", px - Decimal("0.01"), "0.001", "sell")
    rep = reconcile(s, balances=False, now_ms=int(time.time() * 1000) - 60_000)
    assert len(rep.adopted_fills) == 3
    calls = [r for r in _server_log(lab) if r["path"] == "/api/v3/myTrades"]
    assert len(calls) >= 4  # one window per day at least, and no 400 (-1127) for a span over 24 h
    assert all(r["status"] == 200 for r in calls)


class _TradeBook:
    """Binance's myTrades paging rules over an in-memory list (for the sweep's edge cases)."""

    def __init__(self, stamps: list[int]) -> None:
        self.trades: list[dict[str, Any]] = [
            {"id": i + 1, "timestamp": ts, "side": "buy"} for i, ts in enumerate(sorted(stamps))
        ]
        self.calls = 0

    def my_trades(
        self, symbol: str, since: int | None, limit: int, *, end_ms: int | None = None, from_id: int | None = None
    ) -> list[dict[str, Any]]:
        self.calls += 1
        if since is not None and end_ms is not None:
            assert end_ms - since <= 86_400_000, "Binance: more than 24 hours between startTime and endTime"
        rows = [t for t in self.trades if from_id is None or t["id"] >= from_id]
        rows = [
            t
            for t in rows
            if (since is None or t["timestamp"] >= since) and (end_ms is None or t["timestamp"] <= end_ms)
        ]
        return [dict(t) for t in (rows[:limit] if since is not None or from_id is not None else rows[-limit:])]


@pytest.mark.parametrize("seed", range(12))
def test_sweep_finds_every_trade_across_days_and_crowded_milliseconds(seed: int) -> None:
    import random

    from kit.session.fills import _sweep

    rng = random.Random(seed)
    day = 86_400_000
    stamps = [rng.randrange(0, 5 * day) for _ in range(rng.randrange(0, 60))]
    stamps += [rng.randrange(0, 5 * day)] * rng.randrange(0, 25)  # many trades in one millisecond
    book = _TradeBook(stamps)
    since = rng.choice([0, rng.randrange(0, 5 * day)])
    got = _sweep(book, "BTC/USDT", since, limit=rng.choice([3, 5, 1000]), horizon_ms=5 * day)
    assert sorted(t["id"] for t in got) == [t["id"] for t in book.trades if t["timestamp"] >= since]


def _server_log(lab: Lab) -> list[dict[str, Any]]:
    import json

    path = lab.tmp / "ln" / "requests.log"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_a_later_fill_in_the_journal_does_not_hide_an_earlier_missing_one(lab: Lab) -> None:
    """The watermark is the exchange's last trade seen by the previous reconcile, not the journal's last fill."""
    s = lab.session()
    px = (_price(lab) * Decimal("0.99")).quantize(Decimal("0.01"))
    s.place(SYM, "buy", "0.01", price=str(px))
    reconcile(s)  # watermark set
    lab.net.step(1000)
    _fill_through(lab, px, "0.001")  # missed (a stream was down)
    lab.net.step(1000)
    s.place(SYM, "buy", "0.001")  # a market order: its fill is journaled from the REST answer, later in time
    rep = reconcile(s)
    assert len(rep.adopted_fills) == 1
    assert sorted(_journal_trade_keys(s)) == sorted(_exchange_trade_keys(lab))


def test_adopt_fills_alone_journals_its_watermark_for_the_next_sweep(lab: Lab) -> None:
    from kit.ops.reconcile import adopt_fills
    from kit.session.fills import SWEEP_OVERLAP_MS

    s = lab.session()
    px = (_price(lab) * Decimal("0.99")).quantize(Decimal("0.01"))
    s.place(SYM, "buy", "0.01", price=str(px))
    _fill_through(lab, px, "0.001")
    first = adopt_fills(s, [SYM])  # e.g. a stream's backfill after a reconnect
    assert len(first.adopted_fills) == 1
    mark = first.watermarks[SYM]
    assert [e.get("watermarks") for e in s.journal.events(kinds=["reconcile"]) if e.get("action") == "adopt_fills"] == [
        {SYM: mark}
    ]
    before = len(_server_log(lab))
    assert adopt_fills(s, [SYM]).adopted_fills == []
    starts = [r["params"] for r in _server_log(lab)[before:] if r["path"] == "/api/v3/myTrades"]
    assert starts and f"startTime={mark - SWEEP_OVERLAP_MS}" in starts[0]


def test_the_session_sweep_alone_journals_each_adoption_with_its_reason(lab: Lab) -> None:
    """kit.session.fills.sweep_fills is what a stream's backfill runs: same journal events as adopt_fills alone."""
    from kit.session.fills import AdoptedFill, sweep_fills

    s = lab.session()
    px = (_price(lab) * Decimal("0.99")).quantize(Decimal("0.01"))
    order = s.place(SYM, "buy", "0.01", price=str(px))
    _fill_through(lab, px, "0.001")
    _fill_through(lab, px, "0.002")
    seen: list[AdoptedFill] = []
    sweep = sweep_fills(s, on_adopt=seen.append)  # symbols: those of the journal
    assert seen == sweep.adopted and len(seen) == 2 and sweep.symbols == [SYM]
    assert {f.client_id for f in seen} == {order["clientOrderId"]} and {f.side for f in seen} == {"buy"}
    events = _reconcile_events(s)
    adopted = [e for e in events if e.get("action") == "adopt_fill"]
    assert sorted(e.trade_id for e in adopted) == sorted(f.trade_id for f in seen)
    assert all("fill missing from the journal" in e.get("reason") for e in adopted)
    marks = [e for e in events if e.get("action") == "adopt_fills"]
    assert [(e.get("watermarks"), e.get("adopted")) for e in marks] == [({SYM: sweep.watermarks[SYM]}, 2)]
    assert sorted(_journal_trade_keys(s)) == sorted(_exchange_trade_keys(lab))
    assert sweep_fills(s, [SYM]).adopted == []  # exactly once
    assert reconcile(s, balances=False).adopted_fills == []


# ---------------------------------------------------------------------------------------------- orders


def test_order_cancelled_elsewhere_is_updated_and_foreign_orders_are_only_reported(lab: Lab) -> None:
    s = lab.session()
    px = (_price(lab) * Decimal("0.97")).quantize(Decimal("0.01"))
    mine = s.place(SYM, "buy", "0.001", price=str(px))
    ex = lab.client()
    ex.cancel_order(mine["id"], SYM)  # e.g. the cancel's answer was lost when the process died
    foreign = ex.create_order(SYM, "limit", "sell", 0.001, float(px * 2), {"clientOrderId": "web-ui-order-1"})
    rep = reconcile(s)
    assert [(f.ref, f.exchange) for f in rep.status_updates] == [(mine["clientOrderId"], "canceled")]
    assert s.journal.order_states(venue=s.venue)[mine["clientOrderId"]].status == "canceled"
    assert [f.ref for f in rep.foreign_orders] == ["web-ui-order-1"]
    assert ex.fetch_order(foreign["id"], SYM)["status"] == "open"  # untouched
    assert "web-ui-order-1" not in s.journal.order_states(venue=s.venue)
    assert any(e.get("action") == "foreign_order" for e in _reconcile_events(s))


def test_order_filled_while_down_is_closed_in_the_journal(lab: Lab) -> None:
    s = lab.session()
    px = (_price(lab) * Decimal("0.99")).quantize(Decimal("0.01"))
    mine = s.place(SYM, "buy", "0.001", price=str(px))
    s.close()
    _fill_through(lab, px, "0.001")
    s2 = lab.session()
    rep = reconcile(s2)
    assert len(rep.adopted_fills) == 1
    assert s2.journal.order_states(venue=s2.venue)[mine["clientOrderId"]].status == "closed"


# ---------------------------------------------------------------------------------------------- balances


def test_balance_that_does_not_add_up_is_reported_then_re_based(lab: Lab) -> None:
    s = lab.session()
    reconcile(s)  # the first snapshot
    lab.net.call(
        lambda v: v.run_command("deposit", v.clock.now_ms(), {"account": "main", "asset": "USDT", "amount": "125"})
    )
    rep = reconcile(s)
    assert [(f.ref, Decimal(f.exchange) - Decimal(f.journal)) for f in rep.balance_diffs] == [("USDT", Decimal(125))]
    assert "by 125" in rep.balance_diffs[0].reason
    assert reconcile(s).balance_diffs == []  # the new snapshot is the base from now on


def test_balances_agree_after_trading_with_fees(lab: Lab) -> None:
    s = lab.session()
    reconcile(s)
    lab.net.step(1000)  # the snapshot is timed by the exchange's clock: let time pass, as it does for real
    s.place(SYM, "buy", "0.002")
    s.place(SYM, "sell", "0.001")
    px = (_price(lab) * Decimal("1.01")).quantize(Decimal("0.01"))
    s.place(SYM, "sell", "0.001", price=str(px))
    _fill_through(lab, px, "0.0004", side="buy")
    rep = reconcile(s)
    assert rep.balances_compared and rep.balance_diffs == []


# ---------------------------------------------------------------------------------------------- the command


def test_kit_reconcile_prints_the_table_and_exits_0(lab: Lab, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    s = lab.session()
    cid, px = _rest(lab, "buy", "0.001")
    _intent(s, cid, "buy", "0.001", px)
    s.close()
    result = CliRunner().invoke(reconcile_command, ["--exchange", "localnet", "--journal", str(lab.journal_path)])
    assert result.exit_code == 0, result.output
    assert "unknown_order" in result.output and cid in result.output and "resolved" in result.output
    assert "reconciled localnet/default" in result.output
    assert result.output.count("reconciled localnet/default") == 1  # printed once, not logged a second time (#17.8):
    assert "reconciled localnet/default" not in caplog.text  # without logging set up, a log line reaches stderr
    again = CliRunner().invoke(reconcile_command, ["--journal", str(lab.journal_path)])
    assert again.exit_code == 0 and "nothing to do" in again.output
    with Journal(lab.journal_path) as j:
        assert j.integrity_ok()
