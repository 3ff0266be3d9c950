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
    s.balances()
    n = lab.server_count()
    with lab.raises(InsufficientFunds, match="selling 100 BTC needs 100, free 0.5"):
        s.check("BTC/USDT", "sell", "100", price=str(last))
    assert lab.server_count() == n  # a recent read is reused: check() sends nothing


def _account_reads(lab: Lab, since: int) -> int:
    return sum(1 for r in lab.server_log()[since:] if r["method"] == "GET" and r["path"] == "/api/v3/account")


def test_check_reads_the_balance_once_when_none_is_known_as_place_does(lab: Lab) -> None:
    """check(), the preview and place() agree on an oversized sell; check() reads the balance once, sends no order."""
    from kit.views.ui.preview import preview

    s = lab.session()
    last = D(str(s.ticker("BTC/USDT")["last"]))
    n = lab.server_count()
    with lab.raises(InsufficientFunds, match="selling 100 BTC needs 100, free 0.5"):
        s.check("BTC/USDT", "sell", "100", price=str(last))
    assert _account_reads(lab, n) == 1 and len(_posted(lab, n)) == 0
    m = lab.server_count()
    with lab.raises(InsufficientFunds):
        s.check("BTC/USDT", "sell", "100", price=str(last))  # the read is reused for balance_max_age_s
    assert lab.server_count() == m
    shown = preview(s, "BTC/USDT", "sell", "100", price=str(last))
    assert not shown.ok and isinstance(shown.error, InsufficientFunds) and lab.server_count() == m
    with lab.raises(InsufficientFunds, match="selling 100 BTC needs 100, free 0.5"):
        s.place("BTC/USDT", "sell", "100", price=str(last))
    assert len(_posted(lab, n)) == 0  # refused by the kit, never by the exchange


def test_preview_without_a_recent_balance_sends_nothing_and_leaves_funds_to_place(lab: Lab) -> None:
    from kit.views.ui.preview import preview

    s = lab.session()
    last = D(str(s.ticker("BTC/USDT")["last"]))
    n = lab.server_count()
    assert preview(s, "BTC/USDT", "sell", "100", price=str(last)).ok  # reads nothing: no balance known
    assert s.check("BTC/USDT", "sell", "100", price=str(last), read_balance=False).notional == 100 * last
    assert lab.server_count() == n
    # A market buy has no price to value it at: nothing to funds-check, so check() reads nothing for it.
    s.check("ETH/USDT", "buy", "0.01")  # no ETH/USDT price seen by this Session
    assert lab.server_count() == n
    with lab.raises(OrderRejected):
        s.check("BTC/USDT", "sell", "0.001", read_balance="no")
