"""The order ticket against a real localnet through a real Session (no mocks)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from kit.errors import CapExceeded, FilterViolation, InsufficientFunds, KillSwitchEngaged, OrderRejected
from kit.safety.guard import Caps
from kit.views.ui import OrderTicket


def _ticket(session: Any, **kw: Any) -> OrderTicket:
    t = OrderTicket(session, **kw)
    assert t.symbol.value == "BTC/USDT"
    return t


def _fill(t: OrderTicket, **values: Any) -> None:
    for name, value in values.items():
        getattr(t, name).value = value


def test_widgets_carry_test_classes(session: Any) -> None:
    t = _ticket(session)
    classes = {
        "kt-ticket": t,
        "kt-symbol": t.symbol,
        "kt-side": t.side,
        "kt-type": t.type,
        "kt-qty": t.qty,
        "kt-price": t.price,
        "kt-trigger": t.trigger,
        "kt-trailing": t.trailing,
        "kt-tif": t.tif,
        "kt-post-only": t.post_only,
        "kt-reduce-only": t.reduce_only,
        "kt-iceberg": t.iceberg,
        "kt-preview": t.preview_line,
        "kt-message": t.message,
        "kt-place": t.place_button,
        "kt-confirm": t.confirm_button,
        "kt-status": t.status,
    }
    for cls, widget in classes.items():
        assert cls in widget._dom_classes, cls
    assert list(t.symbol.options) == ["BTC/USDT", "ETH/USDT", "ETH/BTC"]
    assert list(t.type.options) == [
        "market", "limit", "stop_market", "stop_limit", "take_profit_market", "take_profit_limit",
        "trailing_stop_market", "trailing_stop_limit", "trailing_take_profit_market", "trailing_take_profit_limit",
    ]  # fmt: skip
    # The ticker fetched on start gives market orders a reference price.
    assert "last <b>" in t.info.value and "tick 0.01" in t.info.value and "step 0.00001" in t.info.value
    t.close()


def test_off_tick_price_shows_price_filter_and_disables_place(session: Any) -> None:
    t = _ticket(session)
    _fill(t, qty="0.001", price="60000.005")
    p = t.last_preview
    assert not p.ok and isinstance(p.error, FilterViolation) and p.error.filter == "PRICE_FILTER"
    assert "PRICE_FILTER" in t.message.value and "not a multiple of the tick size" in t.message.value
    assert "#c62828" in t.message.value  # red
    assert t.place_button.disabled
    assert t.place() is False and t.confirm_button.layout.display == "none"
    # Fixing the price as you type clears the error and enables Place.
    t.price.value = "60000.01"
    assert t.last_preview.ok and t.message.value == "" and not t.place_button.disabled
    t.close()


@pytest.mark.parametrize(
    ("values", "needle"),
    [
        ({"qty": "0.000001", "price": "50000"}, "LOT_SIZE"),  # below minQty and off-step
        ({"qty": "0.000015", "price": "50000"}, "not a multiple of the step size"),
        ({"qty": "0.00001", "price": "50000"}, "NOTIONAL"),  # 0.5 USDT < min notional 5
        ({"qty": "abc", "price": "50000"}, "amount must be a number"),
        ({"qty": "0.001", "price": ""}, "a limit order needs a price"),
    ],
)
def test_filter_and_input_errors_as_you_type(session: Any, values: dict[str, str], needle: str) -> None:
    t = _ticket(session, fetch_price=False)
    _fill(t, **values)
    assert not t.last_preview.ok
    assert needle in t.message.value
    assert t.place_button.disabled
    t.close()


def test_valid_limit_order_previews_notional_and_fee(session: Any) -> None:
    t = _ticket(session)
    _fill(t, qty="0.001", price="50000")
    p = t.last_preview
    assert p.ok and p.error is None
    assert p.notional == Decimal("50.000") and p.quote == "USDT"
    assert p.fee_rate == Decimal("0.001") and p.fee == Decimal("0.050000")
    assert "notional <b>50.00</b> USDT" in t.preview_line.value
    assert "fee &asymp; 0.05 USDT" in t.preview_line.value
    assert not t.place_button.disabled and t.message.value == ""
    t.close()


def test_market_order_previews_with_the_last_price(session: Any) -> None:
    t = _ticket(session)
    _fill(t, type="market", qty="0.002")
    p = t.last_preview
    assert p.ok and p.reference_price is not None
    assert p.notional == Decimal("0.002") * p.reference_price
    assert t.price.disabled and t.tif.disabled and t.iceberg.disabled and t.post_only.disabled
    assert "notional <b>" in t.preview_line.value
    t.close()


def test_place_requires_confirm_then_places_on_localnet(session: Any) -> None:
    placed: list[dict[str, Any]] = []
    t = _ticket(session)
    t.on_placed(placed.append)
    _fill(t, qty="0.001", price="50000")
    t.place_button.click()
    # Step 2: a confirm button naming the order; nothing sent, nothing journaled yet.
    assert t.confirm_button.layout.display is None and t.place_button.layout.display == "none"
    assert t.confirm_button.description == "Confirm: BUY 0.001 BTC/USDT @ 50000"
    assert session.open_orders("BTC/USDT").empty
    assert session.journal.events(kinds=["intent"]) == []
    t.confirm_button.click()
    order = t.last_order
    assert order is not None and placed == [order]
    assert f"Order {order['id']} open" in t.status.value and "filled 0 of 0.001" in t.status.value
    opens = session.open_orders("BTC/USDT")
    assert list(opens["id"]) == [order["id"]] and float(opens["price"].iloc[0]) == 50000.0
    # Back to step 1, ready for the next order.
    assert t.place_button.layout.display is None and t.confirm_button.layout.display == "none"
    t.close()


def test_editing_while_confirming_cancels_the_confirm_step(session: Any) -> None:
    t = _ticket(session)
    _fill(t, qty="0.001", price="50000")
    assert t.place()
    t.qty.value = "0.002"
    assert t.confirm_button.layout.display == "none" and t._pending is None
    assert t.confirm() is None  # a stale confirm click sends nothing
    assert session.open_orders("BTC/USDT").empty
    assert t.place() and t.confirm_button.description == "Confirm: BUY 0.002 BTC/USDT @ 50000"
    t.back_button.click()
    assert t.confirm_button.layout.display == "none"
    assert t.confirm() is None and session.journal.events(kinds=["intent"]) == []
    t.close()


def test_market_buy_fills_and_shows_the_fill(session: Any) -> None:
    t = _ticket(session)
    _fill(t, type="market", qty="0.001")
    assert t.place() and t.confirm_button.description == "Confirm: BUY 0.001 BTC/USDT @ market"
    order = t.confirm()
    assert order is not None and order["status"] == "closed" and order["filled"] == 0.001
    assert f"Order {order['id']} closed" in t.status.value and "filled 0.001 of 0.001 @ " in t.status.value
    assert session.positions()["BTC/USDT"] > 0
    t.close()


def test_cap_violation_of_a_live_small_like_guard_is_shown(session: Any) -> None:
    # live_small caps (20 USDT per order, symbol allowlist) put on this testnet session's guard.
    session.guard.caps = Caps.for_stage("live_small", symbols=["BTC/USDT"])
    before = len(session.journal)
    t = _ticket(session)
    _fill(t, qty="0.001", price="50000")  # 50 USDT > 20
    p = t.last_preview
    assert isinstance(p.error, CapExceeded) and p.error.allowed == Decimal("20")
    assert "order notional 50 USD is over the per-order cap 20 USD" in t.message.value and "#c62828" in t.message.value
    assert t.place_button.disabled
    t.qty.value = "0.0003"  # 15 USDT: within the cap
    assert t.last_preview.ok and not t.place_button.disabled
    t.symbol.value = "ETH/USDT"  # not in the allowlist
    t.qty.value = "0.002"  # a price the exchange's filters accept for ETH, so the guard is what refuses
    t.price.value = f"{session.ticker('ETH/USDT')['last']:.2f}"
    assert isinstance(t.last_preview.error, CapExceeded)
    assert "not in the allowlist" in t.message.value
    # Previews journal nothing (the guard's copy has no journal) and send no order.
    assert len(session.journal) == before
    assert session.journal.events(kinds=["guard", "intent"]) == []
    t.close()


def test_kill_switch_is_shown_and_blocks(session: Any) -> None:
    t = _ticket(session)
    _fill(t, qty="0.001", price="50000")
    assert t.last_preview.ok
    session.kill_switch.engage("ui test")
    try:
        t.qty.value = "0.0011"
        assert isinstance(t.last_preview.error, KillSwitchEngaged)
        assert "ui test" in t.message.value and t.place_button.disabled
    finally:
        session.kill_switch.reset()
    t.qty.value = "0.001"
    assert t.last_preview.ok
    t.close()


def test_a_sell_beyond_the_free_balance_is_refused_before_confirm(session: Any) -> None:
    # #12.3: this used to pass the preview and be refused by the exchange only after Confirm.
    t = _ticket(session)
    t.side.value = "sell"
    _fill(t, qty="5", price="70000")  # the account holds 0.5 BTC
    assert isinstance(t.last_preview.error, InsufficientFunds)
    assert "selling 5 BTC needs 5, free 0.5" in t.message.value and "#c62828" in t.message.value
    assert not t.place() and t.place_button.disabled
    assert session.open_orders("BTC/USDT").empty
    t.close()


def test_exchange_rejection_is_shown_in_red(session: Any) -> None:
    t = _ticket(session)
    last = session.ticker("BTC/USDT")["last"]
    t.post_only.value = True
    _fill(t, qty="0.001", price=f"{last * 1.05:.2f}")  # post-only through the ask: only the exchange knows
    assert t.last_preview.ok
    assert t.place()
    assert t.confirm() is None
    assert isinstance(t.last_error, OrderRejected)
    assert type(t.last_error).__name__ in t.status.value and "#c62828" in t.status.value
    assert session.open_orders("BTC/USDT").empty
    t.close()


def test_fields_follow_the_order_type(session: Any) -> None:
    t = _ticket(session, fetch_price=False)
    t.type.value = "stop_limit"
    assert not t.price.disabled and not t.trigger.disabled and t.trailing.disabled and t.post_only.disabled
    _fill(t, qty="0.001", price="50000")
    assert "needs trigger_price" in t.message.value
    t.trigger.value = "50100.001"
    assert "trigger_price 50100.001 is not a multiple of the tick size" in t.message.value
    t.trigger.value = "50100"
    assert t.last_preview.ok
    assert t.last_preview.summary == "BUY 0.001 BTC/USDT @ 50000 (stop limit, trigger 50100)"
    t.type.value = "trailing_stop_market"
    assert t.price.disabled and not t.trailing.disabled
    assert "needs trailing_bps" in t.message.value
    t.trailing.value = "1.5"
    assert "whole number of bps" in t.message.value and t.place_button.disabled
    t.trailing.value = "150"
    assert t.last_preview.ok, t.message.value
    assert t.order_kwargs()["trailing_bps"] == 150 and t.order_kwargs()["price"] is None
    t.type.value = "limit"
    t.post_only.value = True
    assert t.tif.disabled and t.last_preview.ok and t.last_preview.fee_rate == Decimal("0.001")
    t.reduce_only.value = True
    assert isinstance(t.last_preview.error, OrderRejected) and "reduce-only" in t.message.value
    t.close()


def test_iceberg_and_time_in_force_reach_the_exchange(session: Any) -> None:
    t = _ticket(session)
    _fill(t, qty="0.01", price="50000", iceberg="0.002")
    assert t.last_preview.ok, t.message.value
    assert t.place() and "iceberg 0.002" in t.confirm_button.description
    order = t.confirm()
    assert order is not None and order["status"] == "open"
    t.close()
