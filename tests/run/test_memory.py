"""A long forward run holds a flat amount of memory per order (#14: the soak's slope).

Real ccxt against a stepped localnet (``lab.lab``), a strategy that buys at every candle on four
symbols. What the run keeps in Python is traced (:mod:`tracemalloc`, the localnet's own thread
left out: it runs in this process too) between two points of the run; what it adds per order
must stay under a bound, and the structures that used to grow with every order stay capped.

What still grows, and why it is kept (``docs/runner.md``, "Memory"): the run's client ids (its
fills are attributed by them), the Session's exchange-id -> client-id map (fills from trade
sweeps), and the check ledger's ids of final orders (a late row for one is read again in full).
Together about 0.4 KB per order; the broker's decisions and every strategy's decision list, which
grew without end (another 0.5 KB per order), are capped.
"""

from __future__ import annotations

import gc
import tracemalloc
from decimal import ROUND_UP, Decimal
from typing import Any

import pytest
from lab.lab import Lab

from kit.run import Runner, runner
from kit.strategy import Strategy

SYMS = ["BTC/USDT", "ETH/USDT", "S1/USDT", "S2/USDT"]
#: Python bytes a run may add per order, the localnet excluded as far as its frames show (measured
#: 780 here after the caps, with what of the localnet's allocations the filter cannot tell apart).
BOUND_PER_ORDER = 1000


@pytest.fixture()
def lab_config() -> dict[str, Any]:
    import dataclasses

    from kit.localnet.config import DEFAULT_SYMBOLS

    btc = DEFAULT_SYMBOLS[0]
    extra = tuple(
        dataclasses.replace(btc, symbol=f"S{i}USDT", base=f"S{i}", price=Decimal(1000 + 100 * i)) for i in (1, 2)
    )
    return {"history_minutes": 30, "symbols": (*[s for s in DEFAULT_SYMBOLS if s.quote == "USDT"][:2], *extra)}


class Every(Strategy):
    """One small market buy per candle (never a sell: the test is about memory, not positions)."""

    lookback = 3

    def next(self) -> None:
        self.buy((Decimal(12) / Decimal(repr(self.close))).quantize(Decimal("0.0001"), rounding=ROUND_UP))


def _held() -> int:
    """Bytes traced now, the localnet's own left out (allocated under its modules or aiohttp's server side)."""
    gc.collect()
    server = [tracemalloc.Filter(False, p, all_frames=True) for p in ("*/kit/localnet/*", "*/aiohttp/web_*")]
    snap = tracemalloc.take_snapshot().filter_traces(server)
    return sum(s.size for s in snap.statistics("filename"))


@pytest.mark.slow  # 35 closes of four orders each through real ccxt, traced: 15-30 s on the shared machine
def test_a_long_run_adds_little_memory_per_order_and_its_decisions_stay_capped(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "DECISIONS_KEPT", 5)  # the cap, reached within the test
    s = lab.session()
    r = Runner(s, Every, SYMS, poll_s=0.05, schedule="poll", reconcile=False)
    r.prepare()

    def closes(n: int) -> None:
        for _ in range(n):
            lab.net.step(60_000)
            assert r.poll_once() == len(SYMS), r.reason

    closes(12)  # past the first trims, the caches' first growth
    tracemalloc.start(10)
    try:
        closes(3)
        before, sent_before = _held(), r.broker.sent
        closes(20)
        after, sent_after = _held(), r.broker.sent
    finally:
        tracemalloc.stop()
    orders = sent_after - sent_before
    assert orders == 20 * len(SYMS)
    per_order = (after - before) / orders
    print(f"{per_order:.0f} bytes held per order")
    assert per_order < BOUND_PER_ORDER, f"{per_order:.0f} bytes held per order"
    # what grew with every order before: now the last two candles' decisions, and at most 2 x 5 per strategy
    assert len(r.broker.known) <= 2 * len(SYMS)
    assert all(len(st.decisions) <= 2 * 5 for st in r.strategies.values())
    assert r.status()["decisions"] == r.broker.decided == 35 * len(SYMS)  # the count is of every decision
    assert len(r.decisions()) == 35 * len(SYMS)  # and the journal keeps them all
