"""Private streams under WebSocket disconnect faults: every fill must end up journaled exactly once.

The streams (kit.session.streams) reconnect with backoff and backfill from REST; fills arrive by
stream, by the REST answer of a market order, and by the backfill, and the journal must hold each
once. Disconnects come from the localnet admin endpoint (close and abort) and from a random drop rate.
"""

from __future__ import annotations

import json
import random
import time
import urllib.request
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from lab.lab import Lab

from kit.ops.reconcile import adopt_fills
from kit.session.streams import Streams, watch

pytestmark = pytest.mark.chaos
SYM = "BTC/USDT"


@pytest.fixture()
def watched(lab: Lab) -> Iterator[Callable[[Any], Streams]]:
    """``watched(session)`` starts its streams; afterwards they are stopped before the Session closes.

    (A Session closed while its streams reconnect can leave a socket behind: see docs/reliability.md.)
    """
    started: list[tuple[Any, Streams]] = []

    def start(s: Any) -> Streams:
        st = watch(s)
        started.append((s, st))
        return st

    yield start
    lab.net.set_faults(ws_disconnect_rate=0)
    for s, st in started:
        st.stop()
        time.sleep(0.2)
        s.close()


def _disconnect(lab: Lab, mode: str) -> int:
    url = f"{lab.net.url}/_localnet/streams/disconnect?mode={mode}"
    # localnet's admin POSTs take application/json only (docs/architecture.md, #12 localnet decision)
    req = urllib.request.Request(url, data=b"{}", method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return int(json.loads(resp.read())["disconnected"])


def _until(cond: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.05)
    return cond()


def _exchange_keys(lab: Lab) -> list[tuple[str, str]]:
    return sorted((str(t["id"]), t["side"]) for t in lab.client().fetch_my_trades(SYM, None, 1000, {"fromId": 0}))


def _journal_keys(s: Any) -> list[tuple[str, str]]:
    return sorted((f.trade_id, f.side) for f in s.journal.fills(venue=s.venue, symbol=SYM))


def _resting_buy(lab: Lab, s: Any, amount: str) -> Decimal:
    last = Decimal(str(lab.client().fetch_ticker(SYM)["last"]))
    px = (last * Decimal("0.99")).quantize(Decimal("0.01"))
    s.place(SYM, "buy", amount, price=str(px))
    return px


def _fill(lab: Lab, px: Decimal, qty: str = "0.0005") -> None:
    lab.net.inject_trade("BTCUSDT", px - Decimal("0.01"), qty, "sell")


def test_streams_journal_every_fill_once_through_a_disconnect_storm(lab: Lab, watched: Any) -> None:
    rng = random.Random(11)
    s = lab.session()
    st = watched(s)
    px = _resting_buy(lab, s, "0.05")
    _until(lambda: st.healthy, timeout=5)
    for i in range(40):
        _fill(lab, px)
        if i % 7 == 3:
            s.place(SYM, "sell", "0.0002")  # a fill journaled from the REST answer as well
        if i % 5 == 0:
            _disconnect(lab, rng.choice(["close", "abort"]))
        if i == 20:
            lab.net.set_faults(ws_disconnect_rate=0.3)
        time.sleep(0.03)
    lab.net.set_faults(ws_disconnect_rate=0)
    assert st.reconnects > 0
    for _ in range(10):  # once events flow again, each reconnected stream backfills what it missed
        _fill(lab, px, "0.0001")
        if _until(lambda: _journal_keys(s) == _exchange_keys(lab), timeout=1.5):
            break
    assert _journal_keys(s) == _exchange_keys(lab)  # each fill exactly once (the journal refuses a second copy)
    assert adopt_fills(s, [SYM]).adopted_fills == []  # nothing left for reconciliation to find


def test_streams_backfill_right_after_reconnecting(lab: Lab, watched: Any) -> None:
    s = lab.session()
    st = watched(s)
    px = _resting_buy(lab, s, "0.01")
    _until(lambda: st.healthy, timeout=5)
    heard: list[dict[str, Any]] = []
    st.subscribe(lambda kind, data: heard.append(data) if kind == "trade" else None)
    lab.net.set_faults(ws_disconnect_rate=1.0)  # the next event drops the connection instead of arriving
    _fill(lab, px)
    lab.net.set_faults(ws_disconnect_rate=0)  # then quiet: no further event
    assert _until(lambda: _journal_keys(s) == _exchange_keys(lab), timeout=4)
    # subscribers (a blotter) hear of the backfilled fill too, not only the journal
    missed = {t for t, _ in _exchange_keys(lab)}
    assert _until(lambda: {str(d["id"]) for d in heard if d.get("backfilled")} & missed, timeout=2)


def test_streams_backfill_finds_a_fill_older_than_one_journaled_meanwhile(lab: Lab, watched: Any) -> None:
    s = lab.session()
    st = watched(s)
    px = _resting_buy(lab, s, "0.01")
    _until(lambda: st.healthy, timeout=5)
    lab.net.set_faults(ws_disconnect_rate=1.0)
    _fill(lab, px)  # missed by the stream
    lab.net.step(1000)
    s.place(SYM, "sell", "0.0005")  # a later fill, journaled from the REST answer
    lab.net.set_faults(ws_disconnect_rate=0)
    for _ in range(3):  # events flow again: the reconnected streams backfill
        time.sleep(0.7)
        _fill(lab, px, "0.0001")
    assert _until(lambda: _journal_keys(s) == _exchange_keys(lab), timeout=3)


def test_reconciliation_closes_the_gap_the_stream_backfill_leaves(lab: Lab) -> None:
    s = lab.session()
    last = Decimal(str(lab.client().fetch_ticker(SYM)["last"]))
    px = (last * Decimal("0.99")).quantize(Decimal("0.01"))
    s.place(SYM, "buy", "0.01", price=str(px))
    adopt_fills(s, [SYM])  # watermark
    lab.net.inject_trade("BTCUSDT", px - Decimal("0.01"), "0.001", "sell")  # missed by a stream that was down
    lab.net.step(1000)
    s.place(SYM, "sell", "0.0005")
    assert len(_journal_keys(s)) == len(_exchange_keys(lab)) - 1
    assert len(adopt_fills(s, [SYM]).adopted_fills) == 1
    assert _journal_keys(s) == _exchange_keys(lab)
