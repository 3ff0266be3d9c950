"""The journal tells the truth (#12.5): cancels by exchange id, orders adopted by reconcile.

Through real ccxt against a private localnet: what the journal says is open is what the exchange has open.
"""

from __future__ import annotations

from decimal import Decimal

from lab.lab import Lab

from kit.journal.journal import Journal


def _open_in_journal(lab: Lab) -> set[str]:
    with Journal(lab.journal_path) as j:
        return set(j.state_at(2**62).open_orders)


def test_cancel_by_order_id_closes_the_original_order_in_the_journal(lab: Lab) -> None:
    s = lab.session()
    placed = [s.place("BTC/USDT", "buy", "0.001", price=p) for p in ("50000", "49000")]
    assert _open_in_journal(lab) == {o["clientOrderId"] for o in placed}
    for o in placed:
        reply = s.cancel("BTC/USDT", order_id=o["id"])
        # Binance answers a cancel with a NEW clientOrderId (the cancel's own) and the original in origClientOrderId
        assert reply["clientOrderId"] != o["clientOrderId"]
        assert reply["info"]["origClientOrderId"] == o["clientOrderId"]
    assert lab.client().fetch_open_orders("BTC/USDT") == []
    assert _open_in_journal(lab) == set()
    assert s.today()["open_orders"] == 0
    with Journal(lab.journal_path) as j:
        acks = j.events(kinds=["cancel_ack"])
        assert [e.client_id for e in acks] == [o["clientOrderId"] for o in placed]
        # the cancel request's own id is kept, but never as the order's key
        assert all(e.payload["cancel_client_id"] not in ("", e.client_id) for e in acks)
    # the open-order cap (3 in live_small) would have refused with "2 orders are open" before the fix
    assert s.place("BTC/USDT", "buy", "0.001", price="48000")["status"] == "open"


def test_cancel_of_an_order_placed_by_hand_is_journaled_under_its_own_ids(lab: Lab) -> None:
    s = lab.session()
    hand = lab.client().create_order("BTC/USDT", "limit", "buy", 0.001, 47000)
    s.cancel("BTC/USDT", order_id=hand["id"])
    with Journal(lab.journal_path) as j:
        (ack,) = j.events(kinds=["cancel_ack"])
    # not the kit's: keyed by its exchange id (as reconcile keys foreign orders), its own client id kept
    assert ack.order_id == hand["id"] and ack.client_id == ""
    assert ack.payload["orig_client_id"] == hand["clientOrderId"]
    assert _open_in_journal(lab) == set()


def test_fills_adopted_from_another_journal_close_and_are_not_evidence(lab: Lab) -> None:
    from kit.ops.reconcile import reconcile

    other = lab.session(journal=lab.tmp / "other.sqlite")  # another kit process, with its own journal
    last = Decimal(str(other.ticker("BTC/USDT")["last"]))
    for _ in range(3):
        assert other.place("BTC/USDT", "buy", "0.001")["status"] == "closed"  # market orders: filled
    with Journal(lab.tmp / "other.sqlite") as j:
        assert j.filled_orders(stage="testnet", symbols=["BTC/USDT"], since_ms=0) == 3  # its own evidence
    s = lab.session()
    s.place("BTC/USDT", "buy", "0.001", price=str((last * Decimal("0.5")).quantize(Decimal("0.01"))))
    rep = reconcile(s, symbols=["BTC/USDT"])
    assert len(rep.adopted_fills) >= 3
    with Journal(lab.journal_path) as j:
        fills = j.events(kinds=["fill"], venue=s.venue)
        assert len(fills) >= 3 and all(f.payload.get("foreign") is True for f in fills)
        st = j.state_at(2**62)
        assert {o.status for o in st.orders.values() if not o.client_id.startswith("tk-")} == {"foreign"}
        assert len(st.open_orders) == 1  # only this kit's own resting order
        # the other journal's fills prove nothing about this kit's orders: no testnet evidence here
        assert j.filled_orders(stage="testnet", symbols=["BTC/USDT"], since_ms=0) == 0
    assert s.today()["open_orders"] == 1
    assert sum(s.positions().values()) > 0  # the fills still count in positions and balances
