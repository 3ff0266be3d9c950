"""Chaos soak: chaos runs back to back against localnet, then the figures.

    KIT_SOAK_MINUTES=10 .venv/bin/python benchmarks/soak.py

Each run starts a fresh localnet process and a trading workload process, injects faults drawn at
random (seeded) for ``KIT_SOAK_RUN_SECONDS`` (default 120), stops the workload, reconciles and checks
the invariants (see tests/lab). Runs repeat until ``KIT_SOAK_MINUTES`` (default 10) have passed.
Exit code 0 only if every run held every invariant and every outage gave one alert and one all-clear.
Other knobs: ``KIT_SOAK_SEED`` (first seed, default 1), ``KIT_SOAK_DIR`` (keep run directories there).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from lab import ChaosRun, RunResult


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def report(results: list[RunResult], wall_s: float) -> dict[str, object]:
    faults: Counter[str] = Counter()
    kill_points: Counter[str] = Counter()
    alerts: Counter[str] = Counter()
    for r in results:
        faults.update(r.faults)
        kill_points.update(r.kill_points)
        alerts.update(r.alerts_by_kind)
    recover = [s for r in results for s in r.recover_s]
    outages = [o for r in results for o in r.outages]
    maint = [(o.alerts, o.all_clears) for o in outages if o.kind == "maintenance"]
    restarts = [(o.alerts, o.all_clears) for o in outages if o.kind != "maintenance"]
    inv = [r.invariants for r in results]
    return {
        "minutes": round(wall_s / 60, 1),
        "runs": len(results),
        "runs_ok": sum(r.ok for r in results),
        "workload_steps": sum(r.steps for r in results),
        "faults_injected": dict(sorted(faults.items())),
        "faults_total": sum(faults.values()),
        "kills_survived": sum(r.kills for r in results)
        if all(len(r.recover_s) == r.kills for r in results)
        else f"{sum(len(r.recover_s) for r in results)} of {sum(r.kills for r in results)}",
        "kill_points": dict(sorted(kill_points.items())),
        "orders_placed": sum(i.orders_on_exchange for i in inv),
        "amends": sum(i.amends_on_exchange for i in inv),
        "fills_checked": sum(i.fills_on_exchange for i in inv),
        "duplicates": sum(i.duplicates for i in inv),
        "lost_fills": sum(len(i.lost_fills) for i in inv),
        "phantom_fills": sum(len(i.phantom_fills) for i in inv),
        "mismatched_balances": sum(len(i.balance_mismatches) for i in inv),
        "mismatched_positions": sum(len(i.position_mismatches) for i in inv),
        "unresolved_orders": sum(len(i.unresolved_orders) for i in inv),
        "secrets_in_logs": sum(len(i.leaks) for i in inv),
        "journal_intact": all(i.integrity_ok for i in inv),
        "exchange_history_anomalies": sum(len(i.exchange_anomalies) for i in inv),
        "recover_after_kill_s": {
            "n": len(recover),
            "median": round(statistics.median(recover), 2) if recover else None,
            "p95": round(_pct(recover, 0.95), 2) if recover else None,
            "max": round(max(recover), 2) if recover else None,
        },
        "maintenance_outages_alerts_allclears": dict(Counter(f"{a} alert + {c} all-clear" for a, c in maint)),
        "exchange_restarts_alerts_allclears": dict(Counter(f"{a} alert + {c} all-clear" for a, c in restarts)),
        "alerts_sent_by_kind": dict(sorted(alerts.items())),
        "exchange_restarts": sum(r.exchange_restarts for r in results),
    }


def main() -> int:
    minutes = float(os.environ.get("KIT_SOAK_MINUTES", "10"))
    run_s = float(os.environ.get("KIT_SOAK_RUN_SECONDS", "120"))
    seed = int(os.environ.get("KIT_SOAK_SEED", "1"))
    root = Path(os.environ.get("KIT_SOAK_DIR") or tempfile.mkdtemp(prefix="kit-soak-"))
    root.mkdir(parents=True, exist_ok=True)
    print(f"soak: {minutes} min, runs of ~{run_s:.0f} s of faults, seeds from {seed}, dirs under {root}", flush=True)
    t0 = time.monotonic()
    deadline = t0 + minutes * 60
    results: list[RunResult] = []
    while not results or time.monotonic() + 30 < deadline:
        budget = max(20.0, min(run_s, deadline - time.monotonic() - 20))
        r = ChaosRun(root / f"run-{len(results):03d}", seed=seed + len(results), duration_s=budget).run()
        results.append(r)
        f = r.figures()
        print(
            f"run {len(results)} seed {r.seed}: {'ok' if r.ok else 'FAILED'} {f['seconds']}s steps {f['steps']} "
            f"episodes {len(r.episodes)} kills {r.kills} orders {f['orders_on_exchange']} "
            f"amends {f['amends_on_exchange']} fills "
            f"{f['fills_checked']} dup {f['duplicates']} lost {f['lost_fills']} bal {f['balance_mismatches']} "
            f"outages {f['outage_alerts']}",
            flush=True,
        )
        for p in r.all_problems()[:20]:
            print(f"    problem: {p}", flush=True)
    figures = report(results, time.monotonic() - t0)
    print(json.dumps(figures, indent=2))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
