"""Session.bracket: an entry with its take-profit and stop-loss as one OTOCO list, through real ccxt.

One intent for the guard and the journal, one POST to ``/api/v3/orderList/otoco`` (ccxt's implicit
``privatePostOrderListOtoco``), each order then journaled under its own client id; a lost reply
is resolved by the list client id, never resent.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from lab.lab import Lab

from kit.errors import CapExceeded, OrderRejected
from kit.journal.journal import Journal
from kit.safety.guard import Caps

D = Decimal


def _prices(s: Any) -> tuple[D, D, D]:
    last = D(str(s.ticker("BTC/USDT")["last"])).quantize(D("0.01"))
    return (
        (last * D("0.99")).quantize(D("0.01")),
        (last * D("1.05")).quantize(D("0.01")),
        (last * D("0.95")).quantize(D("0.01")),
    )


def _posts(lab: Lab, path: str, since: int = 0) -> list[dict[str, Any]]:
    return [r for r in lab.server_log()[since:] if r["method"] == "POST" and r["path"] == path]


def test_bracket_is_one_list_one_intent_and_one_ack_per_order(lab: Lab) -> None:
    s = lab.session()
    entry, tp, sl = _prices(s)
    b = s.bracket("BTC/USDT", "buy", "0.002", price=entry, take_profit=tp, stop_loss=sl)
    assert b["status"] == "EXECUTING" and b["contingency"] == "OTO"
    assert [o["status"] for o in b["orders"]] == ["open", "PENDING_NEW", "PENDING_NEW"]
    assert [o["side"] for o in b["orders"]] == ["buy", "sell", "sell"]
    assert b["orders"][1]["amount"] == 0.00199  # the entry leaves 0.001998 after its 0.1 % fee: whole steps
    assert len(_posts(lab, "/api/v3/orderList/otoco")) == 1 and not _posts(lab, "/api/v3/order")
    with Journal(lab.journal_path) as j:
        intents = j.events(kinds=["intent"])
        assert [e.client_id for e in intents] == [b["clientOrderId"]]
        legs = intents[0].payload["legs"]
        assert [legs[k] for k in ("entry", "stop_loss", "take_profit")] == [o["clientOrderId"] for o in b["orders"]]
        assert all(c.startswith("tk-") for c in [b["clientOrderId"], *legs.values()])
        acks = {e.client_id: e.payload for e in j.events(kinds=["ack"])}
        assert acks[b["clientOrderId"]]["status"] == "list"
        assert {acks[c]["list_client_id"] for c in legs.values()} == {b["clientOrderId"]}
        st = j.state_at(2**62).orders
        assert st[legs["entry"]].status == "open" and st[legs["take_profit"]].status == "pending_new"
    # the notional counted for the day is the whole list's: the entry plus the larger exit
    assert s.today()["notional"] == D("0.002") * entry + D("0.00199") * tp


def test_the_full_fill_puts_the_exits_to_work_and_cancel_list_cancels_them(lab: Lab) -> None:
    s = lab.session()
    entry, tp, sl = _prices(s)
    b = s.bracket("BTC/USDT", "buy", "0.002", price=entry, take_profit=tp, stop_loss=sl)
    lab.net.inject_trade("BTCUSDT", str(entry - 1), "1", side="sell")
    lab.net.step(1_000)
    got = s.order_list("BTC/USDT", list_client_id=b["clientOrderId"])
    assert [r["status"] for r in got["orderReports"]] == ["FILLED", "NEW", "NEW"]
    c = s.cancel_list("BTC/USDT", list_client_id=b["clientOrderId"])
    assert c["status"] == "ALL_DONE"
    assert [r["status"] for r in c["info"]["orderReports"]] == ["FILLED", "CANCELED", "CANCELED"]
    with Journal(lab.journal_path) as j:
        st = j.state_at(2**62).orders
        legs = b["info"]["orders"]
        assert [st[o["clientOrderId"]].status for o in legs[1:]] == ["canceled", "canceled"]
    assert not s.open_lists()


def test_refused_before_sending(lab: Lab) -> None:
    caps = Caps(max_order_notional="200", max_daily_notional="1000", max_daily_loss=None, max_open_orders=5)
    s = lab.session(caps=caps)
    entry, tp, sl = _prices(s)
    n = lab.server_count()
    with lab.raises(OrderRejected, match="take_profit above the entry price"):
        s.bracket("BTC/USDT", "buy", "0.001", price=entry, take_profit=sl, stop_loss=tp)
    # 0.0018 x ~60000 is ~108 alone, but the list (the entry plus its exit) is ~220: over the 200 cap
    with lab.raises(CapExceeded):
        s.bracket("BTC/USDT", "buy", "0.0018", price=entry, take_profit=tp, stop_loss=sl)
    assert not _posts(lab, "/api/v3/orderList/otoco", n)
    with Journal(lab.journal_path) as j:
        assert not j.events(kinds=["intent"])


def test_lost_reply_is_resolved_by_the_list_client_id_never_resent(lab: Lab) -> None:
    s = lab.session()
    entry, tp, sl = _prices(s)
    n = lab.server_count()
    lab.net.set_faults(drop_ack_rate=1.0)
    b = s.bracket("BTC/USDT", "buy", "0.001", price=entry, take_profit=tp, stop_loss=sl)  # the reply is lost
    lab.net.set_faults(drop_ack_rate=0.0)
    posted = _posts(lab, "/api/v3/orderList/otoco", n)
    assert [r["status"] for r in posted] == [-1]  # one POST, its response dropped, never resent
    assert [o["status"] for o in b["orders"]] == ["open", "PENDING_NEW", "PENDING_NEW"]
    assert len(lab.client().privateGetOpenOrderList()) == 1
    with Journal(lab.journal_path) as j:
        kinds = [e.kind for e in j.events(client_id=b["clientOrderId"])]
    assert kinds == ["intent", "unknown", "resolved", "ack"]
    # reconcile looks orders up with order(client_id=...): a list's client id answers with the list
    assert s.order("BTC/USDT", client_id=b["clientOrderId"])["status"] == "list"


def test_reconcile_settles_a_list_left_unknown_by_a_crash(lab: Lab) -> None:
    from kit.ops.reconcile.apply import settle_order

    s = lab.session()
    entry, tp, sl = _prices(s)
    cid = "tk-999999-00000000deadbeef"
    legs = {"entry": cid + "e", "take_profit": cid + "t", "stop_loss": cid + "s"}
    s.api.journal("intent", symbol="BTC/USDT", client_id=cid, side="buy", type="limit", amount=D("0.001"),
                  price=entry, contingency="OTOCO", legs=legs)  # fmt: skip
    s.api.journal("unknown", symbol="BTC/USDT", client_id=cid, reason="the process died after sending")
    # what the lost request did on the exchange: the list exists under the journaled list client id
    lab.client().privatePostOrderListOtoco({
        "symbol": "BTCUSDT", "listClientOrderId": cid, "workingType": "LIMIT", "workingSide": "BUY",
        "workingPrice": str(entry), "workingQuantity": "0.001", "workingTimeInForce": "GTC",
        "workingClientOrderId": legs["entry"], "pendingSide": "SELL", "pendingQuantity": "0.00099",
        "pendingAboveType": "LIMIT_MAKER", "pendingAbovePrice": str(tp),
        "pendingAboveClientOrderId": legs["take_profit"],
        "pendingBelowType": "STOP_LOSS", "pendingBelowStopPrice": str(sl),
        "pendingBelowClientOrderId": legs["stop_loss"],
    })  # fmt: skip
    assert settle_order(s, cid, symbol="BTC/USDT", timeout_s=10) == "placed"
    with Journal(lab.journal_path) as j:
        resolved = [e for e in j.events(kinds=["resolved"]) if e.client_id == cid]
        assert [e.payload["status"] for e in resolved] == ["list"]
        assert j.state_at(2**62).orders[cid].status == "list"


def test_the_kill_switch_cancels_a_bracket_whole(lab: Lab) -> None:
    s = lab.session()
    entry, tp, sl = _prices(s)
    b = s.bracket("BTC/USDT", "buy", "0.001", price=entry, take_profit=tp, stop_loss=sl)
    done = s.kill("test")  # the first of its orders cancels the list; the others are then already gone
    assert len(done) >= 1
    assert not lab.client().fetch_open_orders("BTC/USDT") and not s.open_lists()
    got = lab.client().privateGetOrderList({"origClientOrderId": b["clientOrderId"]})
    assert got["listOrderStatus"] == "ALL_DONE"


def test_protect_a_holding_with_an_oco_whose_stop_expires_the_take_profit(lab: Lab) -> None:
    s = lab.session()
    _, tp, sl = _prices(s)
    n = lab.server_count()
    with lab.raises(OrderRejected, match="take_profit above the last price"):
        s.protect("BTC/USDT", "sell", "0.001", take_profit=sl, stop_loss=tp)
    assert not _posts(lab, "/api/v3/orderList/oco", n)
    p = s.protect("BTC/USDT", "sell", "0.001", take_profit=tp, stop_loss=sl)
    assert (p["contingency"], p["status"]) == ("OCO", "EXECUTING")
    assert [o["info"]["type"] for o in p["orders"]] == ["STOP_LOSS", "LIMIT_MAKER"]  # as Binance lists them
    lab.net.inject_trade("BTCUSDT", str(sl - 1), "1", side="sell")
    lab.net.step(1_000)
    got = s.order_list("BTC/USDT", list_client_id=p["clientOrderId"])
    assert got["listOrderStatus"] == "ALL_DONE"
    assert [r["status"] for r in got["orderReports"]] == ["FILLED", "EXPIRED"]
    with Journal(lab.journal_path) as j:
        assert [e.client_id for e in j.events(kinds=["intent"])] == [p["clientOrderId"]]


def test_canceling_one_order_of_a_list_journals_the_whole_list_canceled(lab: Lab) -> None:
    s = lab.session()
    entry, tp, sl = _prices(s)
    b = s.bracket("BTC/USDT", "buy", "0.001", price=entry, take_profit=tp, stop_loss=sl)
    s.cancel("BTC/USDT", order_id=b["orders"][0]["id"])  # the entry: Binance cancels the list
    with Journal(lab.journal_path) as j:
        st = j.state_at(2**62).orders
        assert [st[o["clientOrderId"]].status for o in b["orders"]] == ["canceled", "canceled", "canceled"]
    assert s.today()["open_orders"] == 0
