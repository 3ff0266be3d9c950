"""The fault driver: fault episodes, injected one at a time while the workload trades.

Each episode turns one fault on (through the localnet's admin endpoints, or by signal), waits,
and turns it off again, recording what it did:

=====================  ==============================================================================
``drop_ack``           half of the accepted orders lose their response (the order exists, the client
                       sees a network error)
``http_5xx``           503 bursts on a share of requests
``rate_limit``         a few seconds before a weight window ends, heavy public requests push the IP
                       over its budget: 429s, then a 418 ban (run when the minute is right)
``clock_jump``         the exchange's clock jumps 7 s ahead of the client's: signed requests are
                       older than recvWindow and refused, until the client re-measures
``clock_skew``         the exchange's clock is 3 s behind the client's: timestamps "from the future"
``ws_disconnect``      every WebSocket cut (close and abort), then random drops for a while
``latency``            slow responses (600 ms + jitter)
``maintenance``        every request 503 for several seconds: an outage (one alert, one all-clear)
``kill_request``       SIGKILL to the client while an order request is in flight
``kill_journal``       SIGKILL to the client right as it writes the journal
``kill_random``        SIGKILL to the client at a random moment
``exchange_restart``   the localnet stopped and started again (same port and state)
``exchange_crash``     the localnet SIGKILLed and started again
=====================  ==============================================================================
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lab.runner import ChaosRun

__all__ = ["ALL_EPISODES", "SOAK_WEIGHTS", "FaultDriver", "Outage"]

ALL_EPISODES = (
    "drop_ack",
    "http_5xx",
    "rate_limit",
    "clock_jump",
    "clock_skew",
    "ws_disconnect",
    "latency",
    "maintenance",
    "kill_request",
    "kill_journal",
    "kill_random",
    "exchange_restart",
    "exchange_crash",
)

#: How often each episode comes up in a soak.
SOAK_WEIGHTS = {
    "drop_ack": 3,
    "http_5xx": 3,
    "rate_limit": 1,
    "clock_jump": 1,
    "clock_skew": 1,
    "ws_disconnect": 3,
    "latency": 2,
    "maintenance": 1,
    "kill_request": 2,
    "kill_journal": 2,
    "kill_random": 2,
    "exchange_restart": 1,
    "exchange_crash": 1,
}


@dataclass
class Outage:
    """An exchange outage the driver caused, and the alert traffic it should produce."""

    kind: str
    start: float
    end: float
    settled: float = 0.0
    alerts: int = 0
    all_clears: int = 0


@dataclass
class FaultDriver:
    """Runs episodes against a :class:`~lab.runner.ChaosRun` (see the module docstring)."""

    run: ChaosRun
    rng: random.Random
    hold_s: float = 2.0
    maintenance_s: float = 6.0
    counts: Counter[str] = field(default_factory=Counter)
    outages: list[Outage] = field(default_factory=list)
    kill_points: Counter[str] = field(default_factory=Counter)
    recover_s: list[float] = field(default_factory=list)
    log: list[str] = field(default_factory=list)

    def episode(self, name: str) -> None:
        """Run one episode by name (the log gets its start, length and the workload steps meanwhile)."""
        fn: Callable[[], None] = getattr(self, f"_ep_{name}")
        t0 = time.monotonic()
        w = self.run.workload
        step0 = w.last_step() if w is not None else -1
        fn()
        steps = (w.last_step() if w is not None else -1) - step0
        self.log.append(f"+{t0 - self.run.t0:.1f}s {name} {time.monotonic() - t0:.1f}s, {steps} steps")

    # -- faults set on the exchange ------------------------------------------------------------------
    def _hold(self, **faults: Any) -> None:
        srv = self.run.server
        srv.set_faults(**faults)
        time.sleep(self.hold_s)
        srv.set_faults(**{k: (False if isinstance(v, bool) else 0) for k, v in faults.items()})

    def _ep_drop_ack(self) -> None:
        self.counts["drop_ack"] += 1
        self._hold(drop_ack_rate=0.5)

    def _ep_http_5xx(self) -> None:
        self.counts["http_5xx"] += 1
        self._hold(error_rate=0.15, error_burst=2)

    def _ep_latency(self) -> None:
        self.counts["latency"] += 1
        self._hold(latency_ms=600, latency_jitter_ms=400)

    def _ep_clock_skew(self) -> None:
        self.counts["clock_skew"] += 1
        self._hold(clock_skew_ms=-3000)

    def _ep_clock_jump(self) -> None:
        self.counts["clock_jump"] += 1
        self._hold(clock_skew_ms=7_000)

    def _ep_ws_disconnect(self) -> None:
        srv = self.run.server
        self.counts["ws_disconnect"] += srv.disconnect_streams(abort=False) > 0
        time.sleep(0.5)
        self.counts["ws_disconnect"] += srv.disconnect_streams(abort=True) > 0
        self._hold(ws_disconnect_rate=0.3)
        self.counts["ws_disconnect"] += 1

    @staticmethod
    def rate_limit_due(now_s: float | None = None) -> bool:
        """True in the few seconds before a weight window (a wall-clock minute) ends.

        The exchange counts weight per clock minute; a burst then costs the client a short wait
        (the rest of the minute, and a 3 s ban) instead of most of a minute.
        """
        sec = (time.time() if now_s is None else now_s) % 60
        return 45.0 <= sec < 57.0

    def _ep_rate_limit(self) -> None:
        srv = self.run.server
        while not self.rate_limit_due():
            time.sleep(0.1)
        got: Counter[int] = Counter()
        for _ in range(60):  # depth limit=5000 weighs 250: two dozen are over a 6000 budget
            status = srv.get("/api/v3/depth?symbol=BTCUSDT&limit=5000")
            got[status] += 1
            if status == 418:
                break
        self.counts["http_429"] += got[429]
        self.counts["ban_418"] += got[418]
        # The ban is 3 s; the client's budget then waits for the weight minute to end. Let both pass, so the
        # next episode meets a client that is trading again.
        time.sleep(max(self.hold_s + 2, 61.0 - time.time() % 60))

    def _settle(self, out: Outage) -> None:
        """Close an outage's alert window: after its all-clear if it was alerted, else after a short wait."""
        rx = self.run.receiver
        out.end = time.monotonic()
        alerted = any("ALERT" in t and "exchange_down" in t and "ALL CLEAR" not in t for t in rx.since(out.start))
        all_clear = "ALL CLEAR localnet: exchange_down"
        if alerted or out.kind == "maintenance":
            rx.wait_for(all_clear, after=out.start, timeout=20)
        else:  # an alert may still be on its way if the outage was just long enough
            time.sleep(self.run.alert_after_s + 1.0)
            if any("ALERT" in t and "exchange_down" in t for t in rx.since(out.start)):
                rx.wait_for(all_clear, after=out.start, timeout=20)
        time.sleep(0.3)
        out.settled = time.monotonic()
        self.outages.append(out)

    def _ep_maintenance(self) -> None:
        # Down for maintenance_s, and in any case until the outage is alerted (bounded): the check is then that
        # a long outage gives exactly one alert and one all-clear, however busy the client was when it began.
        srv, rx = self.run.server, self.run.receiver
        self.counts["maintenance"] += 1
        out = Outage("maintenance", time.monotonic(), 0.0)
        srv.set_faults(maintenance=True)
        time.sleep(self.maintenance_s)
        rx.wait_for("ALERT localnet: exchange_down", after=out.start, timeout=20)
        time.sleep(0.5)
        srv.set_faults(maintenance=False)
        self._settle(out)

    # -- the exchange restarted ----------------------------------------------------------------------
    def _ep_exchange_restart(self) -> None:
        self.counts["exchange_restart"] += 1
        out = Outage("exchange_restart", time.monotonic(), 0.0)
        self.run.server.restart(crash=False, down_s=0.5)
        self._settle(out)

    def _ep_exchange_crash(self) -> None:
        self.counts["exchange_crash"] += 1
        out = Outage("exchange_crash", time.monotonic(), 0.0)
        self.run.server.restart(crash=True, down_s=0.5)
        self._settle(out)

    # -- the client killed -------------------------------------------------------------------------
    def _kill_and_restart(self, point: str, *, killed: bool = False) -> None:
        w = self.run.workload
        if not killed:
            w.kill()
        t_kill = w.killed_at or time.monotonic()
        self.kill_points[point] += 1
        self.counts[f"kill_{point}"] += 1
        w.start()
        got = w.wait_for("RECOVERED", after=t_kill, timeout=120)
        if got is not None:
            self.recover_s.append(got - t_kill)
        else:
            self.log.append(f"workload did not recover within 120 s after kill_{point}")

    def _ep_kill_request(self) -> None:
        # The order request leaves right after its intent is journaled. Either a kill 0-20 ms after that
        # write (before the send, while the exchange handles it, or after its answer but before the ack
        # is journaled), or, with 400 ms of latency, 100-300 ms after it, while the server holds it.
        w, srv = self.run.workload, self.run.server
        slow = self.rng.random() < 0.5
        if slow:
            srv.set_faults(latency_ms=400)
        delay = self.rng.uniform(0.1, 0.3) if slow else self.rng.uniform(0.0, 0.02)
        hit = w.kill_on("JW", arg="intent", delay_s=delay, timeout=20)
        if slow:
            srv.set_faults(latency_ms=0)
        self._kill_and_restart("request" if hit else "random", killed=hit)

    def _ep_kill_journal(self) -> None:
        # The marker reader sends SIGKILL itself the moment the k-th "about to write" line arrives.
        hit = self.run.workload.kill_on("JW", nth=self.rng.randrange(1, 20), timeout=20)
        self._kill_and_restart("journal" if hit else "random", killed=hit)

    def _ep_kill_random(self) -> None:
        time.sleep(self.rng.uniform(0.0, 2.0))
        self._kill_and_restart("random")
