"""Order status folding in kit.journal.state: late reports never reopen a finished order; not_placed is final
until the order proves to exist; amends (cancel-replace) leave the old order canceled and the new one open."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest

from kit.journal.state import JournalEvent, replay_orders


def _ev(seq: int, ts: int, kind: str, cid: str = "c1", **payload: Any) -> JournalEvent:
    order_id = str(payload.pop("order_id", ""))
    trade_id = str(payload.pop("trade_id", ""))
    return JournalEvent(seq, ts, kind, "v", client_id=cid, order_id=order_id, trade_id=trade_id, symbol="BTC/USDT",
                        payload=payload)  # fmt: skip


def _intent(seq: int = 1, ts: int = 1000, cid: str = "c1", amount: str = "1") -> JournalEvent:
    return _ev(seq, ts, "intent", cid, side="buy", type="limit", amount=amount, price="100")


def _fill(seq: int, ts: int, amount: str, cid: str = "c1", trade: str = "t1") -> JournalEvent:
    return _ev(seq, ts, "fill", cid, order_id="77", trade_id=trade, side="buy", price="100", amount=amount,
               fee_cost="0", fee_currency="USDT")  # fmt: skip


@pytest.mark.parametrize("late", ["order", "ack", "resolved"])
def test_a_late_open_report_does_not_reopen_a_filled_order(late: str) -> None:
    events = [
        _intent(),
        _ev(2, 1001, "ack", order_id="77", status="open"),
        _fill(3, 1500, "1"),
        _ev(4, 1600, late, order_id="77", status="NEW"),  # e.g. a stream update that was delivered late
    ]
    o = replay_orders(events)["c1"]
    assert o.status == "closed" and o.filled == D("1") and not o.is_open


def test_a_late_open_report_does_not_reopen_a_canceled_order() -> None:
    events = [_intent(), _ev(2, 1001, "ack", order_id="77", status="open"),
              _ev(3, 1100, "cancel_ack", order_id="77", status="canceled"),
              _ev(4, 1200, "order", order_id="77", status="open")]  # fmt: skip
    assert replay_orders(events)["c1"].status == "canceled"


def test_not_placed_is_terminal_until_the_order_proves_to_exist() -> None:
    events = [_intent(), _ev(2, 1001, "unknown", reason="timeout"),
              _ev(3, 1002, "resolved", status="not_placed", how="lookup")]  # fmt: skip
    o = replay_orders(events)["c1"]
    assert o.status == "not_placed" and not o.is_open
    late_ack = [*events, _ev(4, 5000, "resolved", order_id="77", status="open", how="reconcile")]
    assert replay_orders(late_ack)["c1"].status == "open"
    late_fill = [*events, _fill(4, 5000, "0.4")]
    assert replay_orders(late_fill)["c1"].status == "open"


def test_an_amend_leaves_the_old_order_canceled_and_the_replacement_open() -> None:
    events = [
        _intent(),
        _ev(2, 1001, "ack", order_id="77", status="open"),
        _fill(3, 1100, "0.25"),
        _ev(4, 1200, "intent", "c2", side="buy", type="limit", amount="0.5", price="99", replaces="c1"),
        _ev(5, 1200, "cancel_intent", order_id="77", reason="amend", replaced_by="c2"),
        _ev(6, 1300, "cancel_ack", order_id="77", status="canceled", replaced_by="c2"),
        _ev(7, 1300, "ack", "c2", order_id="78", status="open"),
    ]
    orders = replay_orders(events)
    assert orders["c1"].status == "canceled" and orders["c1"].filled == D("0.25")
    assert orders["c2"].status == "open" and orders["c2"].amount == D("0.5") and orders["c2"].remaining == D("0.5")
