"""Graceful degradation: while the exchange is down, pause orders, keep probing, resume by itself.

The Session marks itself ``degraded`` when a read fails after every retry: from then on
:meth:`~kit.session.core.Session.place` refuses before sending anything, reads keep their
backoff, and ``session.status()["degraded"]`` says why. The flag clears on the next request that
succeeds; without a user read there would be none. :class:`HealthProbe` is that request: a
daemon thread that, while the Session is degraded, calls the exchange's cheapest endpoint
(``GET /api/v3/time``, weight 1) with exponential backoff and jitter, through the Session's own
request path (rate budget, error mapping, request log), and so clears the flag as soon as the
exchange answers. It logs the outage and the recovery, and :meth:`HealthProbe.status` adds the
probe's view for a status bar.

>>> from kit.session import Session          # doctest: +SKIP
>>> s = Session("localnet")                   # doctest: +SKIP
>>> probe = HealthProbe(s).start()            # doctest: +SKIP
>>> s.status()["degraded"], probe.status()    # doctest: +SKIP
"""

from __future__ import annotations

import logging
import random
import time
from typing import TYPE_CHECKING, Any

from kit.errors import KitError
from kit.safety.daemon import DaemonLoop
from kit.transport.backoff import Backoff

if TYPE_CHECKING:
    from kit.session.core import Session

__all__ = ["HealthProbe", "attach"]

#: The name of a Session's probe among its helpers (:meth:`kit.session.base.ExchangeApi.helper`).
HELPER = "health_probe"

log = logging.getLogger("kit.ops.degrade")


class HealthProbe(DaemonLoop):
    """Probe the exchange while a Session is degraded, until a request succeeds (see module docstring).

    A :class:`~kit.safety.daemon.DaemonLoop`: ``start()``, ``stop()``, ``join()``; it ends by itself
    once the Session is closed.

    Parameters
    ----------
    session
        The Session to watch and heal.
    backoff
        Probe schedule: delay after failed probe ``n`` is ``backoff.delay(n)`` (default 0.5 s
        doubling to 15 s, full jitter).
    check_s
        How often to look at the flag while the Session is healthy.
    """

    def __init__(self, session: Session, *, backoff: Backoff | None = None, check_s: float = 0.25) -> None:
        super().__init__(name="kit-health-probe", interval_s=check_s, logger=log)
        self.session = session
        self.backoff = backoff or Backoff(base_s=0.5, cap_s=15, max_tries=1_000_000, rng=random.Random())
        self.probes = 0
        self.outages = 0
        self.recoveries = 0
        self.degraded_since: float | None = None
        self.last_error: str | None = None
        self.last_outage_s: float | None = None
        self._attempt = 0
        self._next_probe = 0.0

    @property
    def check_s(self) -> float:
        """How often the flag is looked at while the Session is healthy (the loop's ``interval_s``)."""
        return self.interval_s

    def status(self) -> dict[str, Any]:
        """Degradation as the probe sees it: since when, probes sent, next probe, last error."""
        now = time.monotonic()
        return {
            "degraded": self.session.degraded,
            "degraded_for_s": round(now - self.degraded_since, 3) if self.degraded_since is not None else None,
            "probes": self.probes,
            "next_probe_in_s": round(max(0.0, self._next_probe - now), 3) if self.degraded_since is not None else None,
            "last_error": self.last_error,
            "outages": self.outages,
            "recoveries": self.recoveries,
            "last_outage_s": self.last_outage_s,
        }

    # -- loop -----------------------------------------------------------------------------------------
    def tick(self) -> bool | None:
        """One :meth:`step`; ends the loop once the Session is closed (a failing step is logged, the loop goes on)."""
        if not self.session.api.running:  # the Session was closed
            return False
        self.step()
        return None

    def step(self, now: float | None = None) -> bool | None:
        """One look: probe if degraded and due. Returns True (recovered), False (still down) or None."""
        now = time.monotonic() if now is None else now
        reason = self.session.degraded
        if reason is None:
            if self.degraded_since is not None:  # cleared by someone else's request
                self._recovered(now)
            return None
        if self.degraded_since is None:
            self.degraded_since = now
            self.outages += 1
            self._attempt = 0
            self._next_probe = now + self.backoff.delay(0)
            log.warning("exchange unavailable (%s); new orders paused, probing %s", reason, self.session.venue)
        if now < self._next_probe:
            return None
        self.probes += 1
        try:
            self._probe()
        except KitError as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"[:200]
            self._attempt += 1
            retry_after = getattr(exc, "retry_after_ms", None)
            self._next_probe = now + self.backoff.delay(self._attempt, retry_after / 1000 if retry_after else None)
            return False
        if self.session.degraded is not None:  # the request path clears it on success; be explicit if it did not
            return False
        self._recovered(now)
        return True

    def _recovered(self, now: float) -> None:
        since = self.degraded_since if self.degraded_since is not None else now
        self.last_outage_s = round(now - since, 3)
        self.recoveries += 1
        self.degraded_since = None
        self.last_error = None
        log.warning("exchange %s reachable again after %.1fs; orders resume", self.session.venue, now - since)

    def _probe(self) -> None:
        # One read, not retried (the probe has its own schedule); success clears `degraded`.
        self.session.api.call(
            "fetch_time", lambda ex: ex.fetch_time(), method="GET", path="/api/v3/time", write=False, retry=False
        )


def attach(session: Session, **kw: Any) -> HealthProbe:
    """Start (or reuse) the HealthProbe of ``session``; it stops when the Session closes."""
    return session.api.helper(HELPER, lambda: HealthProbe(session, **kw)).start()
