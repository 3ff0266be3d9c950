"""Chaos testing against localnet: a workload, a fault driver, invariant checks, and the run that ties them.

A run (:class:`~lab.runner.ChaosRun`) serves a localnet in its own process
(:mod:`lab.server`), runs the scripted trading workload in another
(:mod:`lab.workload`), injects faults from a seeded schedule while it trades
(:mod:`lab.faults`): lost acknowledgements, 5xx bursts, 429 bursts and a 418 ban,
WebSocket disconnects, latency spikes, a clock jump and skew, maintenance downtime, the client
killed with SIGKILL mid request or mid journal write, the exchange restarted or crashed. Then it
reconciles and checks the invariants (:mod:`lab.invariants`): no order placed twice, every
exchange fill in the journal exactly once, positions and balances equal to the exchange's, the
journal intact, no secret in any log; and that each outage gave one alert and one all-clear.

``tests/chaos`` runs a short seeded form in ``make test``; ``benchmarks/soak.py`` runs it for
``KIT_SOAK_MINUTES``.
"""

from typing import Any

__all__ = ["ChaosRun", "Invariants", "RunResult", "check_invariants"]


def __getattr__(name: str) -> Any:
    # Lazy, so that `python -m lab.server` / `-m lab.workload` do not import themselves twice.
    if name in ("ChaosRun", "RunResult"):
        from lab import runner

        return getattr(runner, name)
    if name in ("Invariants", "check_invariants"):
        from lab import invariants

        return getattr(invariants, name)
    raise AttributeError(name)
