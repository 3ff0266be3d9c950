"""The blotter against a real localnet: open orders, fills, cancel, polling and stream updates."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

from ui_helpers import wait_for

from kit.views.ui import Blotter, OrderTicket, panel


def _rest_below(
    session: Any, symbol: str = "BTC/USDT", offset: float = 100.0, qty: str = "0.001"
) -> tuple[dict[str, Any], float]:
    last = float(session.ticker(symbol)["last"])
    price = round(last - offset, 2)
    return session.place(symbol, "buy", qty, price=str(price)), price


def _cancel_buttons(b: Blotter) -> dict[str, Any]:
    out = {}
    for child in b.orders_box.children:
        classes = [c for c in child._dom_classes if c.startswith("kt-cancel-")]
        if classes:
            out[classes[0].removeprefix("kt-cancel-")] = child
    return out


def test_blotter_shows_open_order_and_fill(session: Any) -> None:
    filled = session.place("BTC/USDT", "buy", "0.001")
    resting, price = _rest_below(session)
    b = Blotter(session, live=False)
    assert b.refresh(raise_errors=True)
    assert list(b.orders["id"]) == [resting["id"]]
    assert set(_cancel_buttons(b)) == {resting["id"]}
    text = " ".join(getattr(c, "value", "") for c in b.orders_box.children)
    assert "BTC/USDT" in text and f"{price:.2f}".rstrip("0").rstrip(".") in text and "open" in text
    assert list(b.fills["order_id"]) == [filled["id"]]
    assert b.fills["amount"].iloc[0] == Decimal("0.001")
    assert b.fills_html.value.count('class="kt-fill"') == 1 and "BUY" in b.fills_html.value
    assert "kt-blotter" in b._dom_classes and "kt-orders" in b.orders_box._dom_classes
    b.close()


def test_cancel_button_cancels_on_the_exchange(session: Any) -> None:
    resting, _ = _rest_below(session)
    b = Blotter(session, live=False)
    b.refresh()
    _cancel_buttons(b)[resting["id"]].click()
    assert session.open_orders("BTC/USDT").empty
    assert b.orders.empty and _cancel_buttons(b) == {}
    assert f"order {resting['id']} canceled" in b.message.value
    assert "no open orders" in " ".join(getattr(c, "value", "") for c in b.orders_box.children)
    # Cancelling it again fails on the exchange; the blotter shows the error instead of raising.
    assert b.cancel("BTC/USDT", resting["id"]) is None
    assert "failed" in b.message.value and "#c62828" in b.message.value
    b.close()


def _amend_controls(b: Blotter, oid: str) -> tuple[Any, Any]:
    box = next(c for c in b.orders_box.children if f"kt-amend-price-{oid}" in c._dom_classes)
    button = next(c for c in b.orders_box.children if f"kt-amend-{oid}" in c._dom_classes)
    return box, button


def test_amend_button_moves_the_order_to_the_typed_price(session: Any) -> None:
    resting, price = _rest_below(session)
    b = Blotter(session, live=False)
    b.refresh()
    box, button = _amend_controls(b, resting["id"])
    assert box.placeholder == f"{price:.2f}".rstrip("0").rstrip(".")
    new_price = f"{price - 5:.2f}"
    box.value = new_price
    button.click()
    opens = session.open_orders("BTC/USDT")
    assert len(opens) == 1 and opens["id"].iloc[0] != resting["id"]
    assert Decimal(str(opens["price"].iloc[0])) == Decimal(new_price)
    assert session.order("BTC/USDT", order_id=resting["id"])["status"] == "canceled"
    assert f"order {resting['id']} replaced by {opens['id'].iloc[0]}" in b.message.value
    assert list(b.orders["id"]) == list(opens["id"])  # the blotter refreshed
    # A bad price is refused before anything is sent; the blotter shows why instead of raising.
    box, button = _amend_controls(b, str(opens["id"].iloc[0]))
    box.value = "1.001"
    button.click()
    assert "failed" in b.message.value and "tick size" in b.message.value
    assert list(session.open_orders("BTC/USDT")["id"]) == list(opens["id"])
    b.close()


def test_symbols_filter(session: Any) -> None:
    _rest_below(session, "BTC/USDT")
    eth, _ = _rest_below(session, "ETH/USDT", offset=10, qty="0.01")
    b = Blotter(session, symbols=["ETH/USDT"], live=False)
    b.refresh(raise_errors=True)
    assert list(b.orders["id"]) == [eth["id"]]
    b.close()


def test_polling_picks_up_a_later_fill_of_a_resting_order(session: Any, net: Any) -> None:
    b = Blotter(session, live=False, use_streams=False, interval_s=0.1, idle_share=None)  # polling, uncapped
    b.start()
    try:
        assert b.mode == "poll"
        resting, price = _rest_below(session)
        wait_for(lambda: resting["id"] in set(b.orders["id"]))
        # The resting buy fills later (a trade prints below its price): polling journals the fill.
        net.inject_trade("BTCUSDT", round(price - 100, 2), "1", side="sell")
        wait_for(lambda: b.orders.empty and resting["id"] in set(b.fills["order_id"]))
        assert session.journal.fills(symbol="BTC/USDT")[-1].order_id == resting["id"]
        assert "polling" in b.status_line.value
    finally:
        b.close()
    assert not b._refresher.running and b.mode == "off"


def test_stream_events_refresh_the_blotter(session: Any) -> None:
    # A long poll period: only a stream event can make the blotter see the new order quickly.
    b = Blotter(session, live=False, interval_s=120, stream_poll_s=120)
    b.start()
    try:
        assert b.mode == "stream"
        streams = b._streams
        assert b._on_event in streams.callbacks
        wait_for(lambda: b.refreshes >= 1)  # the first refresh on start
        resting, _ = _rest_below(session)
        wait_for(lambda: resting["id"] in set(b.orders["id"]), timeout=15)
        session.cancel("BTC/USDT", order_id=resting["id"])
        wait_for(lambda: b.orders.empty, timeout=15)
    finally:
        b.close()
    assert b._on_event not in streams.callbacks and not b._refresher.running


def test_displaying_starts_live_updates_and_close_stops_them(session: Any) -> None:
    b = Blotter(session, use_streams=False, interval_s=0.1, idle_share=None)
    assert not b._refresher.running
    bundle = b._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert b._refresher.running
    wait_for(lambda: b.refreshes >= 2)
    names = {t.name for t in threading.enumerate()}
    assert "kit-blotter" in names
    b.close()
    assert not b._refresher.running
    assert "kit-blotter" not in {t.name for t in threading.enumerate()}


def test_panel_wires_ticket_to_blotter(session: Any) -> None:
    box = panel(session)
    try:
        t: OrderTicket = box.ticket
        t.type.value = "market"
        t.qty.value = "0.001"
        t.place_button.click()
        t.confirm_button.click()
        assert t.last_order is not None
        # on_placed refreshed the blotter synchronously: the fill is listed right away.
        assert t.last_order["id"] in set(box.blotter.fills["order_id"])
        assert "kt-panel" in box._dom_classes
    finally:
        box.close()
    assert not box.blotter._refresher.running and not box.status._refresher.running


def test_blotter_names_the_order_list_and_groups_its_orders(session: Any) -> None:
    last = Decimal(str(session.ticker("BTC/USDT")["last"]))
    first, _ = _rest_below(session, offset=150.0)
    q = Decimal("0.01")
    b_list = session.bracket("BTC/USDT", "buy", "0.002", price=(last * Decimal("0.99")).quantize(q),
                             take_profit=(last * Decimal("1.05")).quantize(q),
                             stop_loss=(last * Decimal("0.95")).quantize(q))  # fmt: skip
    later, _ = _rest_below(session, offset=200.0)
    b = Blotter(session, live=False)
    assert b.refresh(raise_errors=True)
    cells = [c for c in b.orders_box.children if "kt-order-list" in c._dom_classes]
    lid = b_list["clientOrderId"]
    names = [lid in c.value for c in cells]
    assert len(cells) == 5 and names.count(True) == 3  # the entry and its two pending exits, shown together
    assert names == [False, True, True, True, False] and "cancels the list" in cells[1].value
    assert {first["id"], later["id"]} <= set(b.orders["id"])
    session.cancel_list("BTC/USDT", list_client_id=lid)
    b.close()
