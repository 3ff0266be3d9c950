"""The Session's order rules that need state: open stop orders per symbol, amend hints after a read, recvWindow."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest
from lab.lab import Lab

from kit.errors import CapExceeded, ConfigError, FilterViolation, InsufficientFunds, OrderRejected
from kit.safety.guard import Caps


def _posted(lab: Lab, since: int) -> list[dict[str, Any]]:
    return [r for r in lab.server_log()[since:] if r["method"] == "POST" and str(r["path"]).startswith("/api/v3/order")]


def test_a_sixth_stop_order_is_refused_before_sending(lab: Lab) -> None:
    """MAX_NUM_ALGO_ORDERS is 5 per symbol on Binance (and localnet): the 6th is refused by the kit."""
    s = lab.session()
    last = D(str(s.ticker("BTC/USDT")["last"]))
    trig, px = str((last * D("0.8")).quantize(D("0.01"))), str((last * D("0.79")).quantize(D("0.01")))
    for _ in range(5):
        s.place("BTC/USDT", "sell", "0.001", type="stop_limit", trigger_price=trig, price=px)
    n = lab.server_count()
    with lab.raises(FilterViolation, match="5 stop/take-profit orders are already open") as info:
        s.check("BTC/USDT", "sell", "0.001", type="stop_limit", trigger_price=trig, price=px)
    assert info.value.filter == "MAX_NUM_ALGO_ORDERS" and info.value.allowed == "maxNumAlgoOrders=5"
    with lab.raises(FilterViolation, match="MAX_NUM_ALGO_ORDERS|stop/take-profit"):
        s.place("BTC/USDT", "sell", "0.001", type="stop_limit", trigger_price=trig, price=px)
    assert _posted(lab, n) == []
    bid = D(str(s.ticker("BTC/USDT")["bid"]))
    assert s.place("BTC/USDT", "buy", "0.001", price=str((bid * D("0.9")).quantize(D("0.01"))))["status"] == "open"


def test_amend_errors_after_the_read_do_not_say_no_request_was_sent(lab: Lab) -> None:
    s = lab.session()
    o = s.place("BTC/USDT", "buy", "0.001")  # a market order: closed at once
    with lab.raises(OrderRejected) as info:
        s.amend("BTC/USDT", client_id=o["clientOrderId"], price="40000")
    text = str(info.value)
    assert "No amend was sent (the order was only read)" in text and "No request was sent" not in text


def test_cancel_without_an_id_is_an_order_rejected_with_a_hint(lab: Lab) -> None:
    s = lab.session()
    n = lab.server_count()
    with lab.raises(OrderRejected) as info:
        s.cancel("BTC/USDT")
    assert type(info.value) is OrderRejected  # not OrderUnknown ("do not resubmit")
    assert "session.open_orders()" in str(info.value) and "No request was sent" in str(info.value)
    assert lab.server_count() == n


@pytest.mark.parametrize("value", ["abc", True, 1.5, "5000"])
def test_a_bad_recv_window_is_named(lab: Lab, value: Any) -> None:
    with pytest.raises(ConfigError, match="recvWindow") as info:
        lab.session(recv_window_ms=value)
    assert "1..60000 ms" in str(info.value)


def test_an_out_of_range_recv_window_is_named(lab: Lab) -> None:
    with pytest.raises(ConfigError, match=r"recv_window_ms=60001 \(the exchange's recvWindow\) is out of range"):
        lab.session(recv_window_ms=60_001)


def test_a_cap_refusal_after_the_amends_read_says_no_amend_was_sent(lab: Lab) -> None:
    s = lab.session(caps=Caps(max_order_notional="100"))
    bid = D(str(s.ticker("BTC/USDT")["bid"]))
    o = s.place("BTC/USDT", "buy", "0.001", price=str((bid * D("0.95")).quantize(D("0.01"))))
    n = len(_posted(lab, 0))
    with lab.raises(CapExceeded) as info:
        s.amend("BTC/USDT", client_id=o["clientOrderId"], amount="0.01")  # about 570 USD > 100
    text = str(info.value)
    assert "No amend was sent (the order was only read)" in text and "No request was sent" not in text
    assert len(_posted(lab, 0)) == n


def test_check_refuses_a_sell_beyond_the_balance_the_session_read(lab: Lab) -> None:
    """#12.3: a sell of 100 BTC while holding 0.5, refused by check() with the balance s.balances() read."""
    s = lab.session()
    last = D(str(s.ticker("BTC/USDT")["last"]))
    assert s.check("BTC/USDT", "sell", "100", price=str(last)).notional is not None  # no balance read yet: place's
    s.balances()
    n = lab.server_count()
    with lab.raises(InsufficientFunds, match="selling 100 BTC needs 100, free 0.5"):
        s.check("BTC/USDT", "sell", "100", price=str(last))
    assert lab.server_count() == n  # check() still sends nothing
