"""Session.amend (Binance cancel-replace through ccxt's edit_order) and Session.check, against localnet."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from lab.lab import Lab

from kit.errors import AmendFailed, CapExceeded, FilterViolation, KillSwitchEngaged, OrderRejected
from kit.journal.journal import Journal
from kit.safety.guard import Caps
from kit.safety.killswitch import KillSwitch
from kit.session import Session

D = Decimal


def _posts(lab: Lab, path: str, since: int = 0) -> list[dict[str, Any]]:
    return [r for r in lab.server_log()[since:] if r["method"] == "POST" and r["path"] == path]


def _events(lab: Lab, client_id: str) -> list[Any]:
    with Journal(lab.journal_path) as j:
        return j.events(client_id=client_id)


def _state(lab: Lab, client_id: str) -> Any:
    with Journal(lab.journal_path) as j:
        return j.state_at(2**62).orders[client_id]


def _partly_fill(lab: Lab) -> None:
    """Prints just through a 55,000 bid: 0.0045 of it fills (see test_session_orders)."""
    lab.net.inject_trade("BTCUSDT", "54999.99", "0.003", side="sell")
    lab.net.inject_trade("BTCUSDT", "54999.98", "0.0015", side="sell")
    lab.net.step(1_000)


def _stale_order(s: Session, monkeypatch: pytest.MonkeyPatch, **stale: Any) -> None:
    """Make the Session's next read of an order return what it was before the latest fills (one shot)."""
    real = Session.order
    calls = {"n": 0}

    def order(self: Session, symbol: str, **kw: Any) -> dict[str, Any]:
        got = real(self, symbol, **kw)
        calls["n"] += 1
        return {**got, **stale} if calls["n"] == 1 else got

    monkeypatch.setattr(Session, "order", order)


# ---------------------------------------------------------------- the happy paths


def test_amend_price_replaces_the_order_and_links_both_in_the_journal(lab: Lab) -> None:
    s = lab.session()
    old = s.place("BTC/USDT", "buy", "0.002", price="50000")
    n = len(lab.server_log())
    new = s.amend("BTC/USDT", order_id=old["id"], price="50100")
    assert new["status"] == "open" and new["price"] == 50100 and new["amount"] == 0.002
    assert new["clientOrderId"] != old["clientOrderId"] and new["clientOrderId"].startswith("tk-")
    assert len(_posts(lab, "/api/v3/order/cancelReplace", n)) == 1
    assert not _posts(lab, "/api/v3/order", n)  # one cancel-replace, not a cancel and a new order
    ex = lab.client()
    assert ex.fetch_order(old["id"], "BTC/USDT")["status"] == "canceled"
    assert [o["id"] for o in ex.fetch_open_orders("BTC/USDT")] == [new["id"]]
    old_cid, new_cid = old["clientOrderId"], new["clientOrderId"]
    assert [e.kind for e in _events(lab, new_cid)] == ["intent", "ack"]
    assert _events(lab, new_cid)[0].payload["replaces"] == old_cid
    old_events = _events(lab, old_cid)
    assert [e.kind for e in old_events] == ["intent", "ack", "cancel_intent", "cancel_ack"]
    assert old_events[2].payload["replaced_by"] == new_cid == old_events[3].payload["replaced_by"]
    assert _state(lab, old_cid).status == "canceled"
    assert _state(lab, new_cid).status == "open" and _state(lab, new_cid).price == D("50100")


def test_amend_by_client_id_changes_the_total_of_a_partly_filled_order(lab: Lab) -> None:
    s = lab.session()
    old = s.place("BTC/USDT", "buy", "0.01", price="55000")
    _partly_fill(lab)
    n = len(lab.server_log())
    with lab.raises(OrderRejected, match="already filled 0.0045"):
        s.amend("BTC/USDT", client_id=old["clientOrderId"], amount="0.004")
    assert not _posts(lab, "/api/v3/order/cancelReplace", n)
    new = s.amend("BTC/USDT", client_id=old["clientOrderId"], amount="0.008")
    # 0.0045 filled stays filled; the replacement works the rest of the new total
    assert D(str(new["amount"])) == D("0.0035")
    on_exchange = lab.client().fetch_order(old["id"], "BTC/USDT")
    assert on_exchange["status"] == "canceled" and D(str(on_exchange["filled"])) == D("0.0045")
    s.trades("BTC/USDT")
    assert _state(lab, old["clientOrderId"]).filled == D("0.0045")
    assert _state(lab, new["clientOrderId"]).amount == D("0.0035")
    with lab.raises(OrderRejected, match="is canceled on the exchange"):
        s.amend("BTC/USDT", client_id=old["clientOrderId"], amount="0.009")  # replaced: amend the new one


def test_amend_that_crosses_fills_and_the_fill_is_journaled(lab: Lab) -> None:
    s = lab.session()
    s.fat_finger_pct = D(20)  # the amend goes 10 % through the last price on purpose (the band's default)
    last = D(str(s.ticker("BTC/USDT")["last"]))
    old = s.place("BTC/USDT", "sell", "0.001", price=str((last * 2).quantize(D("0.01"))))
    new = s.amend("BTC/USDT", order_id=old["id"], price=str((last * D("0.9")).quantize(D("0.01"))))
    assert new["status"] == "closed"
    s.trades("BTC/USDT")
    assert _state(lab, new["clientOrderId"]).status == "closed"
    assert s.positions()["BTC/USDT"] == D("-0.001")


def test_amend_a_stop_limit_moves_its_trigger_and_price(lab: Lab) -> None:
    s = lab.session()
    last = D(str(s.ticker("BTC/USDT")["last"]))
    trig, px = (last * D("0.8")).quantize(D("0.01")), (last * D("0.79")).quantize(D("0.01"))
    old = s.place("BTC/USDT", "sell", "0.001", type="stop_limit", trigger_price=str(trig), price=str(px))
    new = s.amend("BTC/USDT", order_id=old["id"], trigger_price=str(trig - 100), price=str(px - 100))
    got = lab.client().fetch_order(new["id"], "BTC/USDT")
    assert got["info"]["type"] == "STOP_LOSS_LIMIT" and D(got["info"]["stopPrice"]) == trig - 100
    assert D(got["info"]["price"]) == px - 100


# ---------------------------------------------------------------- refused before the amend is sent


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({}, "nothing to amend"),
        ({"price": "50000.005"}, "tick size"),
        ({"amount": "0.0020001"}, "step size"),
        ({"trigger_price": "40000"}, "has no trigger"),
    ],
)
def test_bad_amend_sends_no_cancel_replace(lab: Lab, kw: dict[str, Any], match: str) -> None:
    s = lab.session()
    old = s.place("BTC/USDT", "buy", "0.002", price="50000")
    n = len(lab.server_log())
    with lab.raises((OrderRejected, FilterViolation), match=match):
        s.amend("BTC/USDT", order_id=old["id"], **kw)
    assert not _posts(lab, "/api/v3/order/cancelReplace", n)
    assert lab.client().fetch_order(old["id"], "BTC/USDT")["status"] == "open"


def test_amend_refuses_orders_not_placed_by_the_kit_and_closed_ones(lab: Lab) -> None:
    s = lab.session()
    by_hand = lab.client().create_order("BTC/USDT", "limit", "buy", 0.001, 50000)
    with lab.raises(OrderRejected, match="not placed by this kit"):
        s.amend("BTC/USDT", order_id=by_hand["id"], price="50100")
    filled = s.place("BTC/USDT", "buy", "0.001")
    with lab.raises(OrderRejected, match="closed on the exchange"):
        s.amend("BTC/USDT", order_id=filled["id"], amount="0.002")
    market_intent = s.place("BTC/USDT", "buy", "0.001")
    assert market_intent["status"] == "closed"
    assert not _posts(lab, "/api/v3/order/cancelReplace")


def test_amend_is_checked_by_the_guard_on_the_notional_it_adds(lab: Lab) -> None:
    caps = Caps(max_order_notional="200", max_daily_notional="250", max_daily_loss=None, max_open_orders=5)
    s = lab.session(caps=caps)
    old = s.place("BTC/USDT", "buy", "0.003", price="50000")  # 150 of 250 today
    n = len(lab.server_log())
    with lab.raises(CapExceeded):
        s.amend("BTC/USDT", order_id=old["id"], amount="0.005")  # 250 in one order: over 200
    assert not _posts(lab, "/api/v3/order/cancelReplace", n)
    # moving the price down adds nothing to the day, so it passes however often it is done
    o = old
    for px in ("49900", "49800", "49700"):
        o = s.amend("BTC/USDT", order_id=o["id"], price=px)
    assert s.today()["notional"] == D("150.000")
    assert s.today()["open_orders"] == 1


def test_kill_switch_blocks_an_amend_and_cancels_what_is_open(lab: Lab) -> None:
    s = lab.session()
    old = s.place("BTC/USDT", "buy", "0.002", price="50000")
    KillSwitch().engage("test")
    try:
        with lab.raises(KillSwitchEngaged):
            s.amend("BTC/USDT", order_id=old["id"], price="50100")
        assert lab.client().fetch_open_orders("BTC/USDT") == []
    finally:
        KillSwitch().reset()


# ---------------------------------------------------------------- the exchange refuses part or all of it


def test_a_fill_between_read_and_amend_refuses_the_whole_amend(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    s = lab.session()
    old = s.place("BTC/USDT", "buy", "0.01", price="55000")
    _partly_fill(lab)
    _stale_order(s, monkeypatch, filled=0.0, remaining=0.01)  # the kit read it before the fills
    n = len(lab.server_log())
    with lab.raises(AmendFailed, match="not canceled") as info:
        s.amend("BTC/USDT", order_id=old["id"], price="54000")
    assert info.value.canceled is False and info.value.placed is False
    assert len(_posts(lab, "/api/v3/order/cancelReplace", n)) == 1
    assert [o["id"] for o in lab.client().fetch_open_orders("BTC/USDT")] == [old["id"]]  # untouched
    assert _state(lab, old["clientOrderId"]).status == "open"
    with Journal(lab.journal_path) as j:
        replacement = [e for e in j.events(kinds=["intent"]) if e.payload.get("replaces") == old["clientOrderId"]]
        assert len(replacement) == 1
        assert j.state_at(2**62).orders[replacement[0].client_id].status == "rejected"


def test_fills_that_slip_into_a_partly_filled_order_come_off_the_replacement(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = lab.session()
    old = s.place("BTC/USDT", "buy", "0.01", price="55000")
    lab.net.inject_trade("BTCUSDT", "54999.99", "0.003", side="sell")
    lab.net.step(1_000)
    _stale_order(s, monkeypatch, filled=0.001, remaining=0.009)  # really 0.003 filled
    new = s.amend("BTC/USDT", order_id=old["id"], price="54000")
    # sized on the stale read it would work 0.009; the 0.002 that slipped in is taken off
    working = lab.client().fetch_open_orders("BTC/USDT")
    assert len(working) == 1 and D(str(working[0]["amount"])) == D("0.007")
    assert working[0]["id"] == new["id"]
    assert any("filled while it was being amended" in w for w in s.warnings)


def test_old_canceled_but_replacement_refused_leaves_nothing_working(lab: Lab) -> None:
    s = lab.session()
    old = s.place("BTC/USDT", "buy", "0.002", price="50000")
    n = len(lab.server_log())
    with lab.raises(AmendFailed, match="old order canceled, new order refused") as info:
        s.amend("BTC/USDT", order_id=old["id"], amount="0.5")  # 25,000 USDT: more than the account has
    assert info.value.canceled is True and info.value.placed is False
    assert len(_posts(lab, "/api/v3/order/cancelReplace", n)) == 1
    assert lab.client().fetch_open_orders("BTC/USDT") == []
    assert _state(lab, old["clientOrderId"]).status == "canceled"
    assert s.today()["open_orders"] == 0


def test_lost_reply_to_an_amend_is_resolved_by_the_new_client_id_never_resent(lab: Lab) -> None:
    s = lab.session()
    old = s.place("BTC/USDT", "buy", "0.002", price="50000")
    n = len(lab.server_log())
    lab.net.set_faults(drop_ack_rate=1.0)
    try:
        new = s.amend("BTC/USDT", order_id=old["id"], price="50100")
    finally:
        lab.net.set_faults(drop_ack_rate=0.0)
    posted = _posts(lab, "/api/v3/order/cancelReplace", n)
    assert [r["status"] for r in posted] == [-1]  # one request, its reply dropped, not resent
    assert new["status"] == "open" and new["price"] == 50100
    assert [e.kind for e in _events(lab, new["clientOrderId"])] == ["intent", "unknown", "resolved", "ack"]
    assert _state(lab, old["clientOrderId"]).status == "canceled"
    assert [o["id"] for o in lab.client().fetch_open_orders("BTC/USDT")] == [new["id"]]


# ---------------------------------------------------------------- check: a dry run of place


def test_check_runs_place_checks_and_sends_no_order_and_journals_nothing(lab: Lab) -> None:
    caps = Caps(max_order_notional="100", max_daily_notional=None, max_daily_loss=None, max_open_orders=5)
    s = lab.session(caps=caps)
    n_server = lab.server_count()
    with Journal(lab.journal_path) as j:
        n_journal = len(j)
    ok = s.check("BTC/USDT", "buy", "0.001", price="50000")
    assert ok.notional == D("50.000") and ok.intent.type == "limit" and ok.warnings == ()
    with lab.raises(FilterViolation, match="tick size"):
        s.check("BTC/USDT", "buy", "0.001", price="50000.005")
    with lab.raises(CapExceeded):
        s.check("BTC/USDT", "buy", "0.003", price="50000")
    unknown_price = s.check("ETH/USDT", "buy", "0.01")  # market order, no price seen yet
    assert unknown_price.notional is None and any("notional caps" in w for w in unknown_price.warnings)
    # #12: no order sent; one read of the free balance (as place() reads it), reused by the later checks
    assert [(r["method"], r["path"]) for r in lab.server_log()[n_server:]] == [("GET", "/api/v3/account")]
    with Journal(lab.journal_path) as j:
        assert len(j) == n_journal  # no guard row, no intent


def test_check_with_the_kill_switch_engaged_refuses_but_cancels_nothing(lab: Lab) -> None:
    s = lab.session()
    resting = s.place("BTC/USDT", "buy", "0.002", price="50000")
    KillSwitch().engage("test")
    try:
        with lab.raises(KillSwitchEngaged):
            s.check("BTC/USDT", "buy", "0.001", price="50000")
        assert [o["id"] for o in lab.client().fetch_open_orders("BTC/USDT")] == [resting["id"]]
    finally:
        KillSwitch().reset()


@pytest.mark.parametrize(
    ("kind", "side", "trigger_at", "price_at"),
    [
        ("stop_market", "sell", "0.8", None),
        ("take_profit_market", "sell", "1.2", None),
        ("take_profit_limit", "sell", "1.2", "1.21"),
    ],
)
def test_amend_every_trigger_type_moves_its_trigger(
    lab: Lab, kind: str, side: str, trigger_at: str, price_at: str | None
) -> None:
    s = lab.session()
    last = D(str(s.ticker("BTC/USDT")["last"]))
    trig = (last * D(trigger_at)).quantize(D("0.01"))
    kw: dict[str, Any] = {"type": kind, "trigger_price": str(trig)}
    if price_at is not None:
        kw["price"] = str((last * D(price_at)).quantize(D("0.01")))
    old = s.place("BTC/USDT", side, "0.001", **kw)
    new = s.amend("BTC/USDT", order_id=old["id"], trigger_price=str(trig + 50), amount="0.002")
    got = lab.client().fetch_order(new["id"], "BTC/USDT")
    assert got["info"]["type"] == lab.client().fetch_order(old["id"], "BTC/USDT")["info"]["type"]
    assert D(got["info"]["stopPrice"]) == trig + 50 and D(got["info"]["origQty"]) == D("0.002")
    assert lab.client().fetch_order(old["id"], "BTC/USDT")["status"] == "canceled"


def test_amend_an_iceberg_keeps_its_visible_part(lab: Lab) -> None:
    s = lab.session()
    old = s.place("BTC/USDT", "buy", "0.004", price="50000", iceberg_amount="0.001")
    new = s.amend("BTC/USDT", order_id=old["id"], price="49900")
    got = lab.client().fetch_order(new["id"], "BTC/USDT")
    assert D(got["info"]["icebergQty"]) == D("0.001") and D(got["info"]["price"]) == D("49900")
