"""Orders through the Session: stage and input refused before any request, lost acks, fills, kill switch."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from lab.lab import Lab

from kit.errors import FilterViolation, KillSwitchEngaged, OrderRejected, OrderUnknown, StageError
from kit.journal.journal import Journal
from kit.safety.killswitch import KillSwitch


def _kinds(lab: Lab, client_id: str) -> list[str]:
    with Journal(lab.journal_path) as j:
        return [e.kind for e in j.events(client_id=client_id)]


def _orders_posted(lab: Lab, since: int = 0) -> list[dict[str, Any]]:
    return [r for r in lab.server_log()[since:] if r["method"] == "POST" and r["path"] == "/api/v3/order"]


# ---------------------------------------------------------------- read_only


def test_read_only_refuses_every_order_method_before_any_request(lab: Lab) -> None:
    s = lab.session(stage="read_only")
    assert s.ticker("BTC/USDT")["last"] > 0  # reads work
    n_server, n_kit = lab.server_count(), len(lab.kit_log())
    with lab.raises(StageError, match="read_only"):
        s.place("BTC/USDT", "buy", "0.001", price="50000")
    with lab.raises(StageError, match="read_only"):
        s.buy("BTC/USDT", "0.001")
    with lab.raises(StageError, match="read_only"):
        s.cancel("BTC/USDT", order_id="1")
    with lab.raises(StageError, match="read_only"):
        s.cancel_all()
    assert lab.server_count() == n_server
    assert len(lab.kit_log()) == n_kit
    with Journal(lab.journal_path) as j:
        assert not j.events(kinds=["intent", "cancel_intent"])


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("args", "kw", "exc", "match"),
    [
        (("DOGE/USDT", "buy", "1"), {"price": "0.1"}, OrderRejected, "unknown symbol 'DOGE/USDT'"),
        (("BTC/USDT", "buy", "-0.001"), {"price": "50000"}, OrderRejected, "positive"),
        (("BTC/USDT", "buy", float("nan")), {"price": "50000"}, OrderRejected, "finite"),
        (("BTC/USDT", "buy", "NaN"), {"price": "50000"}, OrderRejected, "finite"),
        (("BTC/USDT", "buy", "0.001"), {"price": float("inf")}, OrderRejected, "finite"),
        (("BTC/USDT", "buy", "0.001"), {"price": "50000.005"}, FilterViolation, "tick size"),
        (("BTC/USDT", "buy", "0.0000101"), {"price": "50000"}, FilterViolation, "step size"),
        (("BTC/USDT", "buy", "0.00001"), {"price": "50000"}, FilterViolation, "notional 0.50000 is below"),
        (("BTC/USDT", "buy", "0.001"), {"price": "50000", "reduce_only": True}, OrderRejected, "reduce-only"),
        (("BTC/USDT", "buy", "0.001"), {"price": "50000", "time_in_force": "GTD"}, OrderRejected, "GTD"),
        (("BTC/USDT", "buy", "0.001"), {"price": "50000", "time_in_force": "DAY"}, OrderRejected, "time_in_force"),
        (("BTC/USDT", "hold", "0.001"), {}, OrderRejected, "side"),
        (("BTC/USDT", "buy", "0.001"), {"type": "market", "price": "50000"}, OrderRejected, "no limit price"),
        (("BTC/USDT", "buy", "0.001"), {"type": "stop_limit", "price": "50000"}, OrderRejected, "trigger_price"),
        (("BTC/USDT", "buy", "0.001"), {"post_only": True, "time_in_force": "IOC", "price": "1"}, OrderRejected, "IOC"),
    ],
)
def test_bad_input_fails_clearly_and_sends_nothing(
    lab: Lab, args: tuple[Any, ...], kw: dict[str, Any], exc: type[Exception], match: str
) -> None:
    s = lab.session()
    n_server, n_kit = lab.server_count(), len(lab.kit_log())
    with lab.raises(exc, match=match) as info:
        s.place(*args, **kw)
    assert "No request was sent" in str(info.value)
    assert lab.server_count() == n_server
    assert len(lab.kit_log()) == n_kit
    with Journal(lab.journal_path) as j:
        assert not j.events(kinds=["intent"])


# ---------------------------------------------------------------- lost acknowledgement


def test_dropped_ack_ends_with_exactly_one_order_found_by_client_id(lab: Lab) -> None:
    s = lab.session()
    lab.net.set_faults(drop_ack_rate=1.0)
    n = lab.server_count()
    order = s.place("BTC/USDT", "buy", "0.001", price="50000")  # the ack is lost; place() resolves it
    lab.net.set_faults(drop_ack_rate=0.0)
    cid = order["clientOrderId"]
    assert order["status"] == "open" and cid.startswith("tk-")
    posted = _orders_posted(lab, n)
    assert [r["status"] for r in posted] == [-1]  # one POST, its response dropped, never resent
    on_exchange = [o for o in lab.client().fetch_orders("BTC/USDT") if o["clientOrderId"] == cid]
    assert len(on_exchange) == 1 and on_exchange[0]["id"] == order["id"]
    assert _kinds(lab, cid) == ["intent", "unknown", "resolved", "ack"]
    with Journal(lab.journal_path) as j:
        assert j.state_at(2**62).orders[cid].status == "open"


def test_dropped_ack_of_an_order_that_filled_records_its_fill(lab: Lab) -> None:
    s = lab.session()
    lab.net.set_faults(drop_ack_rate=1.0)
    order = s.place("BTC/USDT", "buy", "0.001")
    lab.net.set_faults(drop_ack_rate=0.0)
    assert order["status"] == "closed"
    assert len([o for o in lab.client().fetch_orders("BTC/USDT") if o["clientOrderId"] == order["clientOrderId"]]) == 1
    s.trades("BTC/USDT")  # the fills come from the exchange's trade list (the lookup carries none)
    fee = sum(Decimal(t["info"]["commission"]) for t in lab.client().fetch_my_trades("BTC/USDT"))
    assert s.positions()["BTC/USDT"] == Decimal("0.001") - fee


# ---------------------------------------------------------------- partial fills


def test_partial_fills_give_the_position_from_fills_only(lab: Lab) -> None:
    s = lab.session()
    order = s.place("BTC/USDT", "buy", "0.01", price="55000")
    assert order["status"] == "open"
    assert s.positions().get("BTC/USDT", Decimal(0)) == 0  # placing an order is not a position
    # prints just through the limit (a print further away would move the book across it: a full fill)
    lab.net.inject_trade("BTCUSDT", "54999.99", "0.003", side="sell")
    lab.net.inject_trade("BTCUSDT", "54999.98", "0.0015", side="sell")
    lab.net.step(1_000)
    trades = s.trades("BTC/USDT")
    assert len(trades) == 2 and sum(Decimal(str(a)) for a in trades["amount"]) == Decimal("0.0045")
    exchange = lab.client().fetch_my_trades("BTC/USDT")
    filled = sum(Decimal(t["info"]["qty"]) for t in exchange)
    base_fee = sum(Decimal(t["info"]["commission"]) for t in exchange if t["info"]["commissionAsset"] == "BTC")
    assert filled == Decimal("0.0045") and base_fee > 0
    assert s.positions() == {"BTC/USDT": filled - base_fee}
    s.trades("BTC/USDT")  # fetching again journals nothing twice
    assert s.positions() == {"BTC/USDT": filled - base_fee}
    remote = s.order("BTC/USDT", order_id=order["id"])
    assert remote["status"] == "open" and Decimal(str(remote["filled"])) == filled
    with Journal(lab.journal_path) as j:
        assert j.state_at(2**62).orders[order["clientOrderId"]].filled == filled


# ---------------------------------------------------------------- kill switch


@pytest.mark.parametrize("how", ["file", "env"])
def test_kill_switch_blocks_new_orders_and_cancels_open_ones(lab: Lab, how: str) -> None:
    s = lab.session()
    resting = [s.place("BTC/USDT", "buy", "0.001", price=p) for p in ("50000", "49000")]
    resting.append(s.place("ETH/USDT", "sell", "0.01", price="9000"))
    assert len(lab.client().fetch_open_orders("BTC/USDT")) == 2
    n = lab.server_count()
    if how == "file":
        KillSwitch().engage("test: stop everything")  # $KIT_HOME/KILL, as `touch ~/.tradekit/KILL` would
    else:
        lab.monkeypatch.setenv("KIT_KILL", "1")
    with lab.raises(KillSwitchEngaged, match="3 open orders cancelled") as info:
        s.place("BTC/USDT", "buy", "0.001", price="50000")
    assert "No new order was sent" in str(info.value)
    assert _orders_posted(lab, n) == []
    ex = lab.client()
    assert ex.fetch_open_orders("BTC/USDT") == [] and ex.fetch_open_orders("ETH/USDT") == []
    with Journal(lab.journal_path) as j:
        st = j.state_at(2**62)
        assert {st.orders[o["clientOrderId"]].status for o in resting} == {"canceled"}
        assert j.events(kinds=["killswitch"])
    with lab.raises(KillSwitchEngaged, match="0 open orders cancelled"):
        s.sell("BTC/USDT", "0.001")
    assert _orders_posted(lab, n) == []
    # reads and explicit cancels still work while engaged; resetting lets orders through again
    assert s.ticker("BTC/USDT")["last"] > 0
    KillSwitch().reset()
    lab.monkeypatch.delenv("KIT_KILL", raising=False)
    assert s.place("BTC/USDT", "buy", "0.001", price="50000")["status"] == "open"


# ---------------------------------------------------------------- not found is final only after the order's window


@pytest.mark.slow  # waits out the orders window (over 1 s by design)
def test_resolve_waits_for_the_orders_window_before_calling_it_not_placed(lab: Lab) -> None:
    import time

    s = lab.session(recv_window_ms=1000)
    s._j(
        "intent", symbol="BTC/USDT", client_id="tk-ghost-9", side="buy", type="limit", amount="0.001", price="50000"
    )  # fmt: skip  (as if the process sent it and the request is still on its way)
    window = s.order_window_ms()
    assert 4_000 <= window < 8_000  # 1 s recvWindow + 1 s "ahead" allowance + clock error + 2 s margin
    with lab.raises(OrderUnknown, match="may still arrive") as early:
        s.resolve("tk-ghost-9", symbol="BTC/USDT", wait=False)
    assert "Do not place it again yet" in str(early.value)
    assert _kinds(lab, "tk-ghost-9") == ["intent"]  # nothing decided yet
    t0 = time.monotonic()
    with lab.raises(OrderUnknown, match="was not placed"):
        s.resolve("tk-ghost-9", symbol="BTC/USDT")
    assert time.monotonic() - t0 > 1.0  # it waited for the window, looking again meanwhile
    assert _kinds(lab, "tk-ghost-9") == ["intent", "resolved"]
    with Journal(lab.journal_path) as j:
        assert j.state_at(2**62).orders["tk-ghost-9"].status == "not_placed"
