"""The checks' incremental ledger (kit.session.ledger) against the full journal replay it replaced.

Before #14 the pre-send checks replayed the whole journal (``Journal.state_at``) and read all of
today's intents and fills at every order (twice per ``place_many``). The ledger reads only the rows
appended since its last look. These tests are the proof that it answers what the replay answered:
the live orders (per symbol, the statuses the checks count) and today's totals, on journals with
every order event kind, events journaled out of time order (a fill whose trade time is before its
ack, an intent after its fill), orders known by exchange id only, other accounts and venues, and
terminal orders that come back (``not_placed`` / ``rejected`` then a fill). The refusals themselves
(caps, daily notional, daily loss, MAX_NUM_ORDERS, duplicates) are tested unchanged in
tests/session/ and tests/test_guard.py; ``test_place_many_counts_what_place_counted`` checks a
real Session's MAX_NUM_ORDERS and open-order cap through the ledger, against localnet.
"""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from kit.journal import Journal
from kit.session.base import LATEST_MS
from kit.session.ledger import LIVE, CheckLedger

V, A = "localnet", "default"
DAY = 86_400_000


def _live_by_replay(j: Journal, symbol: str | None = None) -> list[tuple[str, str, str]]:
    st = j.state_at(LATEST_MS, venue=V, account=A)
    return sorted(
        (o.client_id, o.symbol, o.status)
        for o in st.orders.values()
        if o.status in LIVE and (symbol is None or o.symbol == symbol)
    )


def _live(ledger: CheckLedger, symbol: str | None = None) -> list[tuple[str, str, str]]:
    return sorted((o.client_id, o.symbol, o.status) for o in ledger.live(symbol))


def _random_events(j: Journal, rng: random.Random, n: int, t0: int) -> None:
    """``n`` order events over a few orders, some out of time order, some of another account or venue."""
    kinds = ["ack", "order", "unknown", "resolved", "cancel_intent", "cancel_ack", "fill", "error"]
    statuses = ["open", "closed", "canceled", "expired", "NEW", "FILLED", "PARTIALLY_FILLED", "not_placed", "rejected"]
    cids = [f"tk-{i}" for i in range(12)]
    for i in range(n):
        cid = rng.choice(cids)
        sym = "BTC/USDT" if int(cid[3:]) % 2 else "ETH/USDT"
        ts = t0 + i * 1000 + rng.choice([0, 0, 0, -5000, -30_000])  # some rows journaled late
        venue = V if rng.random() > 0.05 else "elsewhere"
        account = A if rng.random() > 0.05 else "other"
        kind = "intent" if rng.random() < 0.25 else rng.choice(kinds)
        oid = f"o{cid[3:]}"
        common = {"venue": venue, "account": account, "symbol": sym, "ts_ms": ts}
        if kind == "intent":
            j.append("intent", client_id=cid, side=rng.choice(["buy", "sell"]), type=rng.choice(["limit", "stop_loss"]),
                     amount="1", price="100", notional="100", ref_notional="100", **common)  # fmt: skip
        elif kind == "fill":
            j.record_fill(venue=venue, account=account, stage="testnet", symbol=sym, client_id=cid, order_id=oid,
                          trade_id=str(i), side="buy", price="100", amount=rng.choice(["0.4", "1"]),
                          fee_cost="0.1", fee_currency="USDT", ts_ms=ts)  # fmt: skip
        elif kind == "error":
            who = {"client_id": cid} if rng.random() > 0.2 else {}  # a failed read's error row names no order
            j.append("error", **who, error_class=rng.choice(["OrderRejected", "OrderUnknown"]), **common)
        else:
            anonymous = rng.random() < 0.03  # an order known by its exchange id only
            j.append(kind, client_id="" if anonymous else cid, order_id=oid, status=rng.choice(statuses), **common)


@pytest.mark.parametrize("seed", range(4))
def test_live_orders_match_the_replay_after_every_row(tmp_path, seed):
    """After every appended row (and in bursts), the ledger's live orders are the replay's, per symbol too."""
    rng = random.Random(seed)
    j = Journal(tmp_path / "j.sqlite")
    ledger = CheckLedger(j, venue=V, account=A)
    t0 = 1_800_000_000_000
    for step in range(30):
        _random_events(j, rng, rng.choice([1, 1, 3, 8]), t0 + step * 10_000)
        assert _live(ledger) == _live_by_replay(j), f"seed {seed} step {step}"
        assert _live(ledger, "BTC/USDT") == _live_by_replay(j, "BTC/USDT")
    assert _live_by_replay(j), "the journal should leave some orders live (else this test shows little)"
    j.close()


def test_a_final_order_is_never_live_again_and_its_events_are_dropped(tmp_path):
    """Closed/canceled/expired orders keep no event list (memory stays flat); later rows do not revive them."""
    j = Journal(tmp_path / "j.sqlite")
    ledger = CheckLedger(j, venue=V, account=A)
    common = {"venue": V, "account": A, "symbol": "BTC/USDT"}
    j.append("intent", client_id="a", side="buy", type="limit", amount="1", price="1", ts_ms=1000, **common)
    assert [o.client_id for o in ledger.live()] == ["a"]
    j.append("ack", client_id="a", status="canceled", ts_ms=2000, **common)
    assert ledger.live() == [] and "a" not in ledger._events
    j.append("ack", client_id="a", status="open", ts_ms=1500, **common)  # an earlier NEW journaled late
    j.append("order", client_id="a", status="open", ts_ms=3000, **common)  # a stale update after the cancel
    assert ledger.live() == [] == _live_by_replay(j)
    # not_placed is terminal but not final: a later fill proves the order exists
    j.append("intent", client_id="b", side="buy", type="limit", amount="2", price="1", ts_ms=4000, **common)
    j.append("resolved", client_id="b", status="not_placed", ts_ms=5000, **common)
    assert ledger.live() == []
    j.record_fill(venue=V, account=A, stage="testnet", symbol="BTC/USDT", client_id="b", order_id="9", trade_id="1",
                  side="buy", price="1", amount="1", fee_cost="0", fee_currency="", ts_ms=6000)  # fmt: skip
    assert _live(ledger) == [("b", "BTC/USDT", "open")] == _live_by_replay(j)
    j.close()


def test_rows_of_another_process_are_seen(tmp_path):
    """A second Journal object on the same file (another process's writes) is read on the next look."""
    j, other = Journal(tmp_path / "j.sqlite"), Journal(tmp_path / "j.sqlite")
    ledger = CheckLedger(j, venue=V, account=A)
    assert ledger.live() == []
    other.append("intent", venue=V, account=A, symbol="ETH/USDT", client_id="x", side="sell", type="limit",
                 amount="1", price="5", ts_ms=10)  # fmt: skip
    assert _live(ledger) == [("x", "ETH/USDT", "intent")]
    other.close()
    j.close()


def _day_by_replay(j: Journal, now: int) -> tuple[Decimal, dict[str, Decimal], dict[str, Decimal]]:
    """What Session._today summed before #14: today's intents' ref notional, and per symbol quote flow and net."""
    start = now - now % DAY
    notional = sum((Decimal(str(e.payload["ref_notional"])) for e in j.events(since_ms=start, kinds=["intent"], venue=V)
                    if e.account == A), Decimal(0))  # fmt: skip
    pnl: dict[str, Decimal] = {}
    net: dict[str, Decimal] = {}
    for f in j.events(since_ms=start, kinds=["fill"], venue=V):
        if f.account != A:
            continue
        p = f.payload
        sign = 1 if p["side"] == "buy" else -1
        value = Decimal(str(p["price"])) * Decimal(str(p["amount"]))
        net[f.symbol] = net.get(f.symbol, Decimal(0)) + sign * Decimal(str(p["amount"]))
        q = -sign * value - (Decimal(str(p["fee_cost"])) if p.get("fee_currency") == "USDT" else 0)
        pnl[f.symbol] = pnl.get(f.symbol, Decimal(0)) + q
    return notional, pnl, net


def test_today_matches_the_replay_and_starts_again_each_day(tmp_path):
    """Today's sums equal a fresh read of today's rows, as rows come in, late rows and a new UTC day included."""
    rng = random.Random(3)
    j = Journal(tmp_path / "j.sqlite")
    ledger = CheckLedger(j, venue=V, account=A, quote_of=lambda s: "USDT")
    day0 = 1_800_000_000_000 - 1_800_000_000_000 % DAY
    now = day0 + DAY - 400_000  # a few minutes before midnight UTC
    for step in range(30):
        _random_events(j, rng, rng.choice([1, 4]), now - 100_000)
        got = ledger.day(now)
        notional, pnl, net = _day_by_replay(j, now)
        assert (got.ref_notional, got.pnl_quote, got.net) == (notional, pnl, net), f"step {step}"
        now += 20_000  # crosses midnight at step 20: the sums start again from the new day's rows
    assert got.start_ms == day0 + DAY and notional > 0
    j.close()


@pytest.mark.slow  # a Session and several localnet round trips: 2-4 s on the shared machine
def test_place_many_counts_what_place_counted(lab) -> None:  # type: ignore[no-untyped-def]
    """The open-order cap and the daily notional through the ledger: refused exactly at the cap, freed by a cancel.

    Three resting orders fill a cap of 3 (place and place_many alike); the fourth is refused before
    any request; a cancel (journaled by the Session) frees one place, which the next order takes;
    the day's notional is what the replay of today's intents gives.
    """
    from kit.errors import CapExceeded
    from kit.safety.guard import Caps

    caps = Caps(max_order_notional="200", max_daily_notional="1000", max_daily_loss=None, max_open_orders=3)
    s = lab.session(caps=caps)
    first = s.place("BTC/USDT", "buy", "0.001", price="50000")
    out = s.place_many([{"symbol": "ETH/USDT", "side": "buy", "amount": "0.01", "price": "1000"},
                        {"symbol": "BTC/USDT", "side": "buy", "amount": "0.001", "price": "50000"},
                        {"symbol": "BTC/USDT", "side": "buy", "amount": "0.001", "price": "50000"}])  # fmt: skip
    assert [type(o).__name__ for o in out] == ["dict", "dict", "CapExceeded"]
    n = len(lab.server_log())
    with pytest.raises(CapExceeded):
        s.place("ETH/USDT", "buy", "0.01", price="1000")
    assert len(lab.server_log()) == n  # refused before any request
    s.cancel("BTC/USDT", order_id=first["id"])
    assert [type(o).__name__ for o in s.place_many([{"symbol": "ETH/USDT", "side": "buy", "amount": "0.01",
                                                     "price": "1000"}])] == ["dict"]  # fmt: skip
    today = s.today()
    with Journal(lab.journal_path) as j:
        assert today["open_orders"] == len(_live_by_replay(j)) == 3
        notional, _, _ = _day_by_replay(j, int(first["timestamp"]))
    assert today["notional"] == notional == Decimal("50") + Decimal("10") + Decimal("50") + Decimal("10")
