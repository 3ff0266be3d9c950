"""Chaos testing against localnet: a workload, a fault driver, invariant checks, and the run that ties them.

A run (:class:`~kit.chaos.runner.ChaosRun`) serves a localnet in its own process
(:mod:`kit.chaos.server`), runs the scripted trading workload in another
(:mod:`kit.chaos.workload`), injects faults from a seeded schedule while it trades
(:mod:`kit.chaos.faults`): lost acknowledgements, 5xx bursts, 429 bursts and a 418 ban,
WebSocket disconnects, latency spikes, a clock jump and skew, maintenance downtime, the client
killed with SIGKILL mid request or mid journal write, the exchange restarted or crashed. Then it
reconciles and checks the invariants (:mod:`kit.chaos.invariants`): no order placed twice, every
exchange fill in the journal exactly once, positions and balances equal to the exchange's, the
journal intact, no secret in any log; and that each outage gave one alert and one all-clear.

``tests/chaos`` runs a short seeded form in ``make test``; ``benchmarks/soak.py`` runs it for
``KIT_SOAK_MINUTES``.
"""

from typing import Any

__all__ = ["ChaosRun", "Invariants", "RunResult", "check_invariants"]


def __getattr__(name: str) -> Any:
    # Lazy, so that `python -m kit.chaos.server` / `-m kit.chaos.workload` do not import themselves twice.
    if name in ("ChaosRun", "RunResult"):
        from kit.chaos import runner

        return getattr(runner, name)
    if name in ("Invariants", "check_invariants"):
        from kit.chaos import invariants

        return getattr(invariants, name)
    raise AttributeError(name)
