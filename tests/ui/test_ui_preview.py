"""preview() says what Session.place would say, and sends and journals nothing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from kit.errors import KitError
from kit.safety.guard import Caps
from kit.views.ui import preview

BAD = [
    ({"amount": "0.001", "price": "60000.005"}, "FilterViolation"),
    ({"amount": "0.0000155", "price": "60000"}, "FilterViolation"),
    ({"amount": "0.00001", "price": "60000"}, "FilterViolation"),
    ({"amount": "0.001", "type": "limit"}, "OrderRejected"),
    ({"amount": "0.001", "type": "stop_market"}, "OrderRejected"),
    ({"amount": "0.001", "price": "60000", "reduce_only": True}, "OrderRejected"),
    ({"amount": "-1"}, "OrderRejected"),
    ({"amount": "0.001", "price": "60000", "post_only": True, "time_in_force": "IOC"}, "OrderRejected"),
]


@pytest.mark.parametrize(("kwargs", "error"), BAD)
def test_preview_matches_place_on_bad_input(session: Any, kwargs: dict[str, Any], error: str) -> None:
    p = preview(session, "BTC/USDT", "buy", **kwargs)
    assert not p.ok and type(p.error).__name__ == error
    with pytest.raises(KitError) as exc:
        session.place("BTC/USDT", "buy", **kwargs)
    assert type(exc.value) is type(p.error) and str(exc.value) == p.message


def test_preview_matches_place_on_caps(session: Any) -> None:
    session.guard.caps = Caps(max_order_notional=Decimal("100"), max_open_orders=1)
    session.ticker("BTC/USDT")
    big = preview(session, "BTC/USDT", "buy", "0.002")  # ~120 USDT at market
    assert not big.ok and type(big.error).__name__ == "CapExceeded"
    with pytest.raises(KitError) as exc:
        session.place("BTC/USDT", "buy", "0.002")
    assert type(exc.value) is type(big.error)
    ok = preview(session, "BTC/USDT", "buy", "0.001", price="50000")
    assert ok.ok
    session.place("BTC/USDT", "buy", "0.001", price="50000")  # now one order is open: the cap is reached
    second = preview(session, "BTC/USDT", "buy", "0.001", price="50000")
    assert not second.ok and "orders are open; the cap is 1" in second.message


def test_preview_sends_and_journals_nothing(session: Any) -> None:
    session.guard.caps = Caps(max_order_notional=Decimal("1000"))
    used = session.budget.status()["used"]
    rows = len(session.journal)
    for amount in ("0.001", "0.0011", "5", "x"):
        preview(session, "BTC/USDT", "buy", amount, price="50000")
        preview(session, "BTC/USDT", "sell", amount)
    assert session.budget.status()["used"] == used
    assert len(session.journal) == rows


def test_preview_without_a_price_warns(session: Any) -> None:
    # No ticker seen yet for ETH/USDT in this session: a market order's notional is unknown.
    p = preview(session, "ETH/USDT", "buy", "0.01")
    assert p.ok and p.notional is None and p.warnings
    session.guard.caps = Caps(max_order_notional=Decimal("1000"))
    capped = preview(session, "ETH/USDT", "buy", "0.01")
    assert capped.ok and "checked when the order is placed" in capped.warnings[0]
    priced = preview(session, "ETH/USDT", "buy", "0.01", last_price="3000")
    assert priced.notional == Decimal("30.00") and priced.fee == Decimal("0.03000")


def test_summary_and_rates(session: Any) -> None:
    p = preview(session, "BTC/USDT", "sell", "0.001", price="70000", post_only=True)
    assert p.ok and p.summary == "SELL 0.001 BTC/USDT @ 70000 post-only"
    assert p.fee_rate == p.maker_rate == Decimal("0.001") and p.taker_rate == Decimal("0.001")
    q = preview(session, "BTC/USDT", "buy", "0.001", type="trailing_stop_market", trailing_bps=150)
    assert q.summary == "BUY 0.001 BTC/USDT @ market (trailing stop market, trail 150 bps)"
    r = preview(session, "BTC/USDT", "buy", "0.01", price="50000", time_in_force="IOC")
    assert r.summary == "BUY 0.01 BTC/USDT @ 50000 IOC"


def test_preview_reports_an_unknown_keyword_instead_of_raising(session: Any) -> None:
    p = preview(session, "BTC/USDT", "buy", "0.001", prize="50000")
    assert not p.ok and type(p.error).__name__ == "OrderRejected"
    assert "prize" in p.message and "price" in p.message
