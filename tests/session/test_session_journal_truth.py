"""The journal tells the truth (#12.5): cancels by exchange id, orders adopted by reconcile.

Through real ccxt against a private localnet: what the journal says is open is what the exchange has open.
"""

from __future__ import annotations

from sessionlab import Lab

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
