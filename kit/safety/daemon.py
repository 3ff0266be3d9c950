"""One daemon thread that does a step every ``interval_s`` until stopped: start, stop, join, errors logged.

The kit's background watchers (:class:`kit.safety.killswitch.KillSwitchWatcher`,
:class:`kit.ops.degrade.HealthProbe`, :class:`kit.ops.alerts.AlertWatcher`) are subclasses: each
writes only its :meth:`DaemonLoop.tick`. The loop sleeps on an event between ticks, so
:meth:`DaemonLoop.stop` ends it at once (no busy loop, no waiting out a sleep); a tick that raises is
logged with its traceback and counted in :attr:`DaemonLoop.errors`, and the loop goes on (a
watcher must not die silently); a tick that returns ``False`` ends the loop (its work is over, e.g.
the Session closed). It lives in the lowest layer the three share (``kit.safety``, under ``ops``).

Examples
--------
>>> class Counter(DaemonLoop):
...     def tick(self) -> bool:
...         self.n = getattr(self, "n", 0) + 1
...         return self.n < 3                      # False ends the loop
>>> c = Counter(name="kit-counter", interval_s=0.001).start()
>>> c.join(2.0), c.n, c.running
(True, 3, False)
"""

from __future__ import annotations

import logging
import threading
from typing import Self

__all__ = ["DaemonLoop"]

_log = logging.getLogger("kit.safety.daemon")


class DaemonLoop:
    """Base of a watcher that runs :meth:`tick` on its own daemon thread every ``interval_s`` seconds.

    Parameters
    ----------
    name
        The thread's name (``kit-...``), shown in tracebacks, ``py-spy`` and the log.
    interval_s
        Seconds between the end of one tick and the start of the next; positive.
    logger
        Where a failing tick is logged (default ``kit.safety.daemon``).
    """

    def __init__(self, *, name: str, interval_s: float, logger: logging.Logger | None = None) -> None:
        if not interval_s > 0:
            raise ValueError(f"interval_s={interval_s!r} must be a positive number of seconds")
        self.name = name
        self.interval_s = float(interval_s)
        #: Ticks that raised (each logged with its traceback).
        self.errors = 0
        self._logger = logger or _log
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> bool | None:
        """One step of the watcher; return ``False`` to end the loop. Subclasses write this."""
        raise NotImplementedError

    @property
    def running(self) -> bool:
        """True while the thread runs."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def stopping(self) -> bool:
        """True once :meth:`stop` was called (until the next :meth:`start`)."""
        return self._stop.is_set()

    def start(self) -> Self:
        """Start the thread (idempotent: a running loop is left alone); returns ``self``."""
        if not self.running:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the loop to end and wait for it (at most ``timeout`` s; not when called from the loop itself)."""
        self._stop.set()
        self.join(timeout)

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the thread has ended (at most ``timeout`` s); True if it is not running."""
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout)
        return not self.running

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                more = self.tick()
            except Exception:  # noqa: BLE001 - a watcher must not die silently; logged and counted
                self.errors += 1
                self._logger.exception("%s: tick failed", self.name)
                more = None
            if more is False:
                return
            self._stop.wait(self.interval_s)
