"""Benchmark the journal reads of the pre-send checks at one candle close: replay vs the incremental ledger.

Before #14 every ``place_many`` batch read the journal twice through a full replay
(``Journal.state_at``: the live orders for MAX_NUM_ORDERS and the guard's open-order cap) plus
today's intents and fills (the daily caps). :class:`kit.session.ledger.CheckLedger` reads only the
rows appended since its last look. Same journal, same close (ten new intents, acks and fills
appended before each look), interleaved pairs; median and spread in ms, load average printed.

Run::

    .venv/bin/python benchmarks/bench_checks.py                       # journals of 1k, 10k and 50k rows
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from kit.journal import Journal
from kit.session.base import LATEST_MS
from kit.session.ledger import LIVE, CheckLedger

V, A = "localnet", "default"
SYMS = [f"S{i}/USDT" for i in range(10)]


def _close(j: Journal, n: int, now: int) -> None:
    """One close of ten symbols: an intent, an ack and a fill per symbol (market orders)."""
    with j.batch():
        for k, sym in enumerate(SYMS):
            cid = f"tk-{n}-{k}"
            j.append("intent", venue=V, account=A, symbol=sym, client_id=cid, side="buy", type="market",
                     amount="0.01", notional="20", ref_notional="20", ts_ms=now)  # fmt: skip
            j.append("ack", venue=V, account=A, symbol=sym, client_id=cid, order_id=f"{n}-{k}", status="closed",
                     ts_ms=now + 5)  # fmt: skip
            j.record_fill(venue=V, account=A, stage="testnet", symbol=sym, client_id=cid, order_id=f"{n}-{k}",
                          trade_id=f"{n}-{k}", side="buy", price="2000", amount="0.01", fee_cost="0.00001",
                          fee_currency="S0", ts_ms=now + 5)  # fmt: skip


def by_replay(j: Journal, now: int) -> tuple[int, int]:
    """What the checks read per batch before #14: two replays, today's intents and fills."""
    st = j.state_at(LATEST_MS, venue=V, account=A)
    live = [o for o in st.orders.values() if o.status in LIVE]
    st2 = j.state_at(LATEST_MS, venue=V, account=A)
    start = now - now % 86_400_000
    n = len(j.events(since_ms=start, kinds=["intent"], venue=V)) + len(
        j.events(since_ms=start, kinds=["fill"], venue=V)
    )
    return len(live), n + len(st2.orders)


def by_ledger(ledger: CheckLedger, now: int) -> tuple[int, int]:
    """What the checks read per batch now: the rows since the last look."""
    day = ledger.day(now)
    return len(ledger.live()), len(day.net)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", default="1000,10000,50000", help="journal sizes (rows) to measure at")
    ap.add_argument("--pairs", type=int, default=9)
    args = ap.parse_args()
    now = 1_800_000_000_000
    print(f"load average at start: {os.getloadavg()}")
    print(f"{'journal rows':>12} {'replay ms (p50 [min-max])':>28} {'ledger ms (p50 [min-max])':>28} {'ratio':>7}")
    for rows in [int(x) for x in args.rows.split(",")]:
        tmp = Path(tempfile.mkdtemp(prefix="bench-checks-"))
        j = Journal(tmp / "j.sqlite")
        closes = 0
        while closes * 30 < rows:
            _close(j, closes, now + closes * 60_000)
            closes += 1
        ledger = CheckLedger(j, venue=V, account=A, quote_of=lambda s: "USDT")
        t = now + closes * 60_000
        by_ledger(ledger, t)  # the first look reads everything once (a run's start)
        rep, led = [], []
        for i in range(args.pairs):
            _close(j, closes + i, t + i * 60_000)
            order = [("r", by_replay), ("l", by_ledger)] if i % 2 == 0 else [("l", by_ledger), ("r", by_replay)]
            for name, fn in order:
                t0 = time.perf_counter()
                fn(j if name == "r" else ledger, t + i * 60_000)  # type: ignore[arg-type]
                (rep if name == "r" else led).append((time.perf_counter() - t0) * 1000)
        r50, l50 = statistics.median(rep), statistics.median(led)
        spread_r, spread_l = f"[{min(rep):.2f}-{max(rep):.2f}]", f"[{min(led):.2f}-{max(led):.2f}]"
        print(f"{rows:>12} {r50:>12.2f} {spread_r:>15} {l50:>12.2f} {spread_l:>15} {r50 / l50:>6.0f}x")
        j.close()
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
