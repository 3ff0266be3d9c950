"""The invariant checker catches what it is there to catch (so a green chaos run means something)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from lab.invariants import Invariants, check_invariants, exchange_balances
from lab.lab import Lab

from kit.ops.reconcile import reconcile

pytestmark = pytest.mark.chaos
SYM = "BTC/USDT"


def _px(lab: Lab, away: str) -> Decimal:
    return (Decimal(str(lab.client().fetch_ticker(SYM)["last"])) * (1 + Decimal(away))).quantize(Decimal("0.01"))


def _check(lab: Lab, baseline: dict[str, Decimal]) -> Invariants:
    return check_invariants(
        lab.journal_path, lab.client(), baseline=baseline, symbols=[SYM], secrets=lab.secrets(), scan=[lab.tmp]
    )


def test_clean_trading_passes(lab: Lab) -> None:
    baseline = exchange_balances(lab.client())
    s = lab.session()
    s.place(SYM, "buy", "0.002")
    px = _px(lab, "-0.01")
    s.place(SYM, "buy", "0.002", price=str(px))
    s.place(SYM, "sell", "0.001")
    reconcile(s)
    inv = _check(lab, baseline)
    assert inv.ok, inv.problems()
    assert inv.orders_on_exchange == 3 and inv.fills_on_exchange >= 2


def test_a_fill_missing_from_the_journal_is_lost_until_reconciled(lab: Lab) -> None:
    baseline = exchange_balances(lab.client())
    s = lab.session()
    px = _px(lab, "-0.01")
    s.place(SYM, "buy", "0.002", price=str(px))
    lab.net.inject_trade("BTCUSDT", px - Decimal("0.01"), "0.001", "sell")  # nobody listening
    inv = _check(lab, baseline)
    assert len(inv.lost_fills) == 1 and inv.balance_mismatches and inv.position_mismatches
    assert inv.open_mismatches == []  # partially filled: open on both sides
    reconcile(s)
    assert _check(lab, baseline).ok


def test_phantom_fills_duplicate_steps_unresolved_orders_foreign_orders_and_leaks_are_caught(lab: Lab) -> None:
    baseline = exchange_balances(lab.client())
    s = lab.session()
    j = s.journal
    j.append("chaos", venue=s.venue, step=0, phase="begin", action="market")
    s.place(SYM, "buy", "0.001")
    s.place(SYM, "buy", "0.001")  # the same step placed twice
    j.record_fill(
        venue=s.venue,
        account=s.account,
        stage="testnet",
        symbol=SYM,
        client_id="x",
        order_id="999",
        trade_id="99999",
        side="buy",
        price="1",
        amount="1",
        fee_cost="0",
        fee_currency="",
        ts_ms=1,
    )
    j.append(
        "intent",
        venue=s.venue,
        account=s.account,
        stage="testnet",
        symbol=SYM,
        client_id="tk-lost",
        side="buy",
        type="limit",
        amount=Decimal("0.001"),
        price=Decimal("1000"),
    )
    lab.client().create_order(SYM, "limit", "buy", 0.001, float(_px(lab, "-0.05")), {"clientOrderId": "not-ours"})
    (lab.home / "notes.txt").write_text("oops " + lab.secrets()[1])
    inv = _check(lab, baseline)
    assert inv.duplicates == 1 and inv.duplicate_steps[0].startswith("step 0:")
    assert inv.phantom_fills == ["BTC/USDT trade 99999 buy"]
    assert inv.unresolved_orders == ["tk-lost (BTC/USDT) still intent"]
    assert [u.split()[-1] for u in inv.unjournaled_orders] == ["'not-ours'"]
    assert len(inv.leaks) == 1 and "notes.txt" in inv.leaks[0]
    assert lab.secrets()[1] not in inv.leaks[0]  # the report names a fingerprint
    (lab.home / "notes.txt").unlink()
    assert not inv.ok
