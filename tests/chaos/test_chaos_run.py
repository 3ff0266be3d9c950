"""The short chaos run of `make test`: every fault once, in a seeded order, then the invariants.

A localnet runs in its own process, the trading workload in another with its own Session; the
driver drops acknowledgements, sends 5xx and 429 bursts, gets the IP banned (418), cuts WebSockets,
slows responses, jumps and skews the exchange clock, takes the exchange down for maintenance,
SIGKILLs the client mid request, mid journal write and at random, and restarts and crashes the
exchange. The longer form is ``KIT_SOAK_MINUTES=10 .venv/bin/python benchmarks/soak.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lab import ChaosRun
from lab.faults import ALL_EPISODES

pytestmark = [pytest.mark.chaos, pytest.mark.slow]


def test_every_fault_once_and_the_invariants_hold(tmp_path: Path) -> None:
    res = ChaosRun(tmp_path, seed=1, hold_s=1.2, maintenance_s=4.5, gap_s=0.3, alert_after_s=1.5).run()
    print(json.dumps(res.figures(), default=str))  # shown with -s or on failure
    assert res.all_problems() == []
    assert sorted(res.episodes) == sorted(ALL_EPISODES)
    inv = res.invariants
    assert inv.duplicates == 0 and inv.lost_fills == [] and inv.balance_mismatches == [] and inv.leaks == []
    assert inv.orders_on_exchange >= 20 and inv.fills_on_exchange >= 10 and inv.integrity_ok
    assert inv.amends_on_exchange >= 1  # the workload amends resting orders too
    assert res.kills == 3 and len(res.recover_s) == 3
    assert res.faults["http_429"] >= 1 and res.faults["ban_418"] == 1
    assert res.faults["exchange_restart"] == 1 and res.faults["exchange_crash"] == 1
    assert [(o.alerts, o.all_clears) for o in res.outages if o.kind == "maintenance"] == [(1, 1)]
    # The last pass may have work left from the run's end: fills to adopt, an order to update, or an order
    # whose request never arrived (a step that ended in an unknown outcome, then STOP: CI once saw
    # "1 not placed"). Each is explained and settled; what must not be left is a pending order, a failed
    # lookup, an order the kit did not place or a balance that differs.
    bad = {
        k: n for k, n in res.final_counts.items() if n and k in ("pending", "errors", "foreign_orders", "balance_diffs")
    }
    assert res.final_counts and not bad, res.final_reconcile
