"""Ticket, blotter and status bar as a user meets them (#17.4, #17.5), against a real localnet."""

from __future__ import annotations

from typing import Any

from kit.views.report import number
from kit.views.ui import Blotter, OrderTicket, StatusBar, link
from kit.views.ui._live import IDLE_SHARE, WeightMeter


def _under_the_market(session: Any) -> str:
    return f"{float(session.ticker('BTC/USDT')['last']) - 100:.2f}"


def test_changing_the_symbol_clears_price_quantity_and_the_last_outcome(session: Any) -> None:
    t = OrderTicket(session, symbols=["BTC/USDT", "ETH/BTC"], fetch_price=False)
    t.type.value = "limit"
    t.qty.value = "0.001"
    t.price.value = _under_the_market(session)
    assert t.place()
    order = t.confirm()
    assert order is not None and f"Order {order['id']} open" in t.status.value
    t.symbol.value = "ETH/BTC"
    assert t.qty.value == "" and t.price.value == ""  # no 61000 BTC limit on ETH/BTC
    assert "Order" not in t.status.value and "ETH/BTC" in t.status.value
    assert t.place_button.disabled  # nothing to place until a quantity is typed
    session.cancel("BTC/USDT", order_id=order["id"])
    t.close()


def test_the_ticket_follows_an_amend_and_a_cancel_made_in_the_blotter(session: Any) -> None:
    t = OrderTicket(session, symbols=["BTC/USDT"], fetch_price=False)
    b = Blotter(session, symbols=["BTC/USDT"], live=False)
    link(t, b)
    price = _under_the_market(session)
    t.qty.value, t.price.value = "0.001", price
    assert t.place()
    order = t.confirm()
    assert order is not None and order["id"] in list(b.orders["id"])  # the placement refreshed the blotter
    moved = f"{float(price) - 5:.2f}"
    new = b.amend("BTC/USDT", order["id"], price=moved)
    assert new is not None
    assert f"Order {order['id']} replaced by {new['id']}" in t.status.value
    assert f"limit {number(float(moved))}" in t.status.value
    b.cancel("BTC/USDT", new["id"])
    assert f"Order {new['id']} canceled" in t.status.value  # not "Order ... open" any more
    # An order cancelled elsewhere (another client, kit kill): the next blotter refresh tells the ticket.
    t.qty.value, t.price.value = "0.001", price
    assert t.place()
    third = t.confirm()
    assert third is not None and f"Order {third['id']} open" in t.status.value
    session.cancel("BTC/USDT", order_id=third["id"])
    b.refresh()
    assert f"Order {third['id']} is no longer open" in t.status.value
    b.close()
    t.close()


def test_an_idle_blotter_polls_within_its_share_of_the_budget(session: Any) -> None:
    every = Blotter(session, symbols=None, live=False)  # openOrders without a symbol: weight 80 on Binance
    assert every.refresh(raise_errors=True)
    limit = session.status()["budget"]["limit"]
    assert every.last_weight >= 80
    assert every.poll_s >= every.last_weight / (IDLE_SHARE * limit / 60) > every.interval_s
    one = Blotter(session, symbols=["BTC/USDT"], live=False)  # with a symbol: weight 6, polls every 2 s
    assert one.refresh(raise_errors=True)
    assert one.last_weight < 20 and one.poll_s == one.interval_s
    uncapped = Blotter(session, symbols=None, live=False, idle_share=None)
    uncapped.refresh()
    assert uncapped.poll_s == uncapped.interval_s
    bar = StatusBar(session, live=False)
    assert "kt-widgets" in bar.html.value and "% of it" in bar.html.value  # the widgets' share, shown
    for w in (every, one, uncapped, bar):
        w.close()


def test_the_weight_meter_forgets_after_a_minute() -> None:
    m = WeightMeter()
    m.add(80, now=100.0)
    m.add(6, now=150.0)
    assert m.per_minute(now=159.0) == 86 and m.per_minute(now=161.0) == 6
