"""No silent rounding (#13 item 5): Decimal's default context keeps 28 significant digits, and
the engine used it, so a notional of 1.23456789012345678 x 12345.6789012345 (32 digits) was
rounded without a word. The engine now computes in a 60-digit context and refuses, before any
balance moves, an order whose amounts would not fit even that.
"""

from __future__ import annotations

import decimal
from decimal import Decimal

import pytest

from kit.engine import Bar, Engine, Market, OrderRequest, OrderType, Side
from kit.engine.fillmodel import PRECISION
from kit.engine.ledger import Account
from kit.engine.types import BalanceChange, EventKind, RejectCode

D = Decimal
SYM = "X/Q"
M = Market(SYM, "X", "Q", tick_size=D("1e-10"), step_size=D("1e-17"), maker_fee=D(0), taker_fee=D(0))
QTY, PRICE = D("1.23456789012345678"), D("12345.6789012345")
T0 = 60_000 * 28_000_000


def _exact_product(a: Decimal, b: Decimal) -> Decimal:
    with decimal.localcontext(decimal.Context(prec=200)):
        return a * b


def _exact_sub(a: Decimal, b: Decimal) -> Decimal:
    with decimal.localcontext(decimal.Context(prec=200)):
        return a - b


def test_a_32_digit_notional_is_booked_exactly() -> None:
    exact = _exact_product(QTY, PRICE)
    assert len(exact.as_tuple().digits) == 32  # more than Decimal's default 28
    assert decimal.getcontext().multiply(QTY, PRICE) != exact  # what the 28-digit default gave
    e = Engine([M])
    e.open_account("a", {"Q": "100000"})
    e.on_bar(SYM, Bar(T0, D("12346"), D("12346"), D("12346"), D("12346"), D("1000")))
    ev = e.submit("a", OrderRequest(SYM, Side.BUY, OrderType.LIMIT, quantity=QTY, price=PRICE), ts_ms=T0 + 60_000)
    assert ev[0].kind is EventKind.ACCEPTED
    assert e.balances("a")["Q"] == (_exact_sub(D(100000), exact), exact)  # the lock is exact too
    evs = e.on_bar(SYM, Bar(T0 + 60_000, D("12346"), D("12346"), D("12000"), D("12000"), D("1000")))
    (f,) = [x.fill for x in evs if x.fill]
    assert f.price == PRICE and f.quantity == QTY and f.quote_quantity == exact
    assert e.balances("a")["Q"] == (_exact_sub(D(100000), exact), D(0)) and e.balances("a")["X"] == (QTY, D(0))


def test_the_callers_decimal_context_is_left_alone() -> None:
    before = decimal.getcontext().prec
    e = Engine([M])
    e.open_account("a", {"Q": "1"})
    assert decimal.getcontext().prec == before == 28


def test_amounts_beyond_the_engine_precision_are_refused_before_anything_moves() -> None:
    e = Engine([M])
    big = D(10) ** 45  # a balance of 46 digits: adding a notional with 17 decimals needs 63
    e.open_account("a", {"Q": big})
    ev = e.submit("a", OrderRequest(SYM, Side.BUY, OrderType.LIMIT, quantity=QTY, price=PRICE), ts_ms=T0)
    assert ev[0].kind is EventKind.REJECTED and ev[0].code is RejectCode.INVALID
    assert f"more than {PRECISION} significant digits" in ev[0].reason and "fewer decimal places" in ev[0].reason
    assert e.balances("a")["Q"] == (big, D(0))
    ok = e.submit("a", OrderRequest(SYM, Side.BUY, OrderType.LIMIT, quantity=D("1"), price=D("2")), ts_ms=T0)
    assert ok[0].kind is EventKind.ACCEPTED  # whole amounts fit


def test_the_ledger_applies_all_changes_or_none() -> None:
    a = Account("a")
    a.apply((BalanceChange("Q", free=D(10) ** 50),))
    with pytest.raises(ValueError, match="significant digits"):
        a.apply((BalanceChange("X", free=D(1)), BalanceChange("Q", free=D("1e-20"))))
    assert a.balances() == {"Q": (D(10) ** 50, D(0))}  # X was not credited either


def test_an_amend_that_would_need_more_digits_is_refused_and_changes_nothing() -> None:
    e = Engine([M])
    big = D(10) ** 45
    e.open_account("a", {"Q": big})
    oid = e.submit("a", OrderRequest(SYM, Side.BUY, OrderType.LIMIT, quantity=D("1"), price=D("2")), ts_ms=T0)[0]
    ev = e.amend("a", order_id=oid.order.id, quantity=QTY, ts_ms=T0 + 1)
    assert ev[0].kind is EventKind.REJECTED and "significant digits" in ev[0].reason
    assert e.get_order("a", order_id=oid.order.id).quantity == D("1")
    assert e.balances("a")["Q"] == (_exact_sub(big, D(2)), D(2))


def test_a_deposit_beyond_the_engine_precision_is_refused() -> None:
    e = Engine([M])
    e.open_account("a", {"Q": "1"})
    with pytest.raises(ValueError, match=f"more than {PRECISION} significant digits"):
        e.deposit("a", "Q", D("1" + "0" * 69 + "1"), ts_ms=T0)  # 71 digits
    assert e.balances("a")["Q"] == (D(1), D(0))
