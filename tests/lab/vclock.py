"""Virtual time for rate tests: a clock that moves only when someone waits, so weight windows are exact.

Throughput assertions on wall-clock time ("most windows were filled") fail on a loaded machine; with
this clock injected into :class:`kit.transport.limits.WeightBudget` (``clock=``, ``sleep=``) and
passed as ``now_ms`` to localnet's :class:`kit.localnet.limits.RateLimiter`, the same budget and
the same server limiter run in virtual time: deterministic, and in milliseconds.

``sleep(s)`` moves time to ``s`` after what the sleeping thread last read (never back), so two
threads waiting for the same window boundary both wake at it, not one window apart.

>>> c = VirtualClock(60.0)
>>> c.sleep(1.5); c.now()
61.5
>>> c.advance(0.5); c.now_ms()
62000
"""

from __future__ import annotations

import threading

__all__ = ["VirtualClock"]


class VirtualClock:
    """Seconds since the epoch, moved by :meth:`sleep` and :meth:`advance` only (thread-safe)."""

    def __init__(self, start_s: float) -> None:
        self._t = float(start_s)
        self._lock = threading.Lock()
        self._seen = threading.local()

    def now(self) -> float:
        """The current virtual time, in seconds (remembered per thread for :meth:`sleep`)."""
        with self._lock:
            self._seen.t = self._t
            return self._t

    def now_ms(self) -> int:
        """The current virtual time, in epoch milliseconds."""
        return int(round(self.now() * 1000))

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` from what this thread last read: time jumps there (if it is not already later)."""
        with self._lock:
            start = getattr(self._seen, "t", self._t)
            self._t = max(self._t, start + max(0.0, float(seconds)))

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass (a request's latency, work between requests)."""
        with self._lock:
            self._t += max(0.0, float(seconds))
