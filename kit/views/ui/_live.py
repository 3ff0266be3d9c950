"""Background refresh for widgets: one daemon thread per widget, woken by a timer or an event.

A stream callback must never do I/O itself (it may run on the Session's event loop thread,
where a blocking Session call would deadlock), so callbacks only :meth:`Refresher.poke`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

log = logging.getLogger("kit.views.ui")


class Refresher:
    """Call ``fn`` every ``interval_s`` seconds, and at once when poked, on a daemon thread.

    Parameters
    ----------
    fn
        The refresh; exceptions are logged and the loop goes on.
    interval_s
        Seconds between refreshes when nothing pokes it (a callable is read at every wait, so the
        interval can follow, e.g., the health of a stream).
    name
        Thread name, for debugging.
    """

    def __init__(self, fn: Callable[[], object], interval_s: float | Callable[[], float], name: str) -> None:
        self.fn = fn
        self.interval_s = interval_s
        self.name = name
        self.runs = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """True while the thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the thread (idempotent)."""
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def poke(self) -> None:
        """Refresh as soon as possible (safe from any thread, including an event loop's)."""
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread and wait for it (up to ``timeout`` seconds)."""
        self._stop.set()
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _interval(self) -> float:
        value = self.interval_s() if callable(self.interval_s) else self.interval_s
        return max(0.05, float(value))

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._interval())
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self.fn()
            except Exception:  # a failed refresh shows in the widget; the loop keeps going
                log.exception("%s: refresh failed", self.name)
            self.runs += 1


#: The share of the exchange's request-weight budget that idle widgets aim to stay under (#17.5: an idle
#: panel polling every 2 s used about half of Binance's 6000 per minute; the goal is under 5 %).
IDLE_SHARE = 0.03


class WeightMeter:
    """Request weight that the widgets of one Session spent, over a sliding minute.

    >>> m = WeightMeter()
    >>> m.add(6, now=0.0); m.add(20, now=30.0); m.per_minute(now=59.0), m.per_minute(now=61.0)
    (26, 20)
    """

    def __init__(self) -> None:
        self._events: deque[tuple[float, int]] = deque()
        self._lock = threading.Lock()

    def add(self, weight: int, *, now: float | None = None) -> None:
        """Record ``weight`` spent now."""
        t = time.monotonic() if now is None else now
        with self._lock:
            self._events.append((t, int(weight)))
            self._trim(t)

    def per_minute(self, *, now: float | None = None) -> int:
        """Weight spent in the last 60 seconds."""
        t = time.monotonic() if now is None else now
        with self._lock:
            self._trim(t)
            return sum(w for _, w in self._events)

    def _trim(self, now: float) -> None:
        while self._events and self._events[0][0] <= now - 60.0:
            self._events.popleft()


_METERS: dict[int, WeightMeter] = {}


def meter(session: object) -> WeightMeter:
    """The widgets' :class:`WeightMeter` of ``session`` (one per Session object)."""
    return _METERS.setdefault(id(session), WeightMeter())
