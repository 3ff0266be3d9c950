"""The venue clock: real time, faster than real time, or stepped by hand.

Every time inside localnet (trade prints, candle boundaries, order timestamps, the signed
request ``timestamp`` check) comes from one :class:`Clock`, so tests can drive the market
deterministically with :meth:`Clock.step`.

Examples
--------
>>> c = Clock(start_ms=1_700_000_000_000, stepped=True)
>>> c.now_ms()
1700000000000
>>> c.step(1500)
1700000001500
>>> c.set(1_700_000_060_000)
1700000060000
>>> fast = Clock(start_ms=0, speed=60.0)   # one simulated minute per wall second
>>> fast.mode
'speed'
"""

from __future__ import annotations

import threading
import time


def wall_ms() -> int:
    """Current wall-clock time in integer milliseconds since the epoch (UTC)."""
    return time.time_ns() // 1_000_000


class Clock:
    """Simulated time in integer milliseconds.

    Parameters
    ----------
    start_ms:
        Simulated time at construction. ``None`` means the wall clock now.
    speed:
        Simulated milliseconds per wall millisecond when not stepped. ``1.0`` with
        ``start_ms=None`` is plain real time.
    stepped:
        If True, time only moves through :meth:`step` and :meth:`set`.
    """

    def __init__(self, *, start_ms: int | None = None, speed: float = 1.0, stepped: bool = False) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be > 0, got {speed!r}; use stepped=True to stop time")
        self._lock = threading.Lock()
        self._speed = float(speed)
        self._stepped = stepped
        self._anchor_sim = wall_ms() if start_ms is None else int(start_ms)
        self._anchor_wall = time.monotonic_ns()

    @property
    def mode(self) -> str:
        """``"stepped"``, ``"realtime"`` (speed 1) or ``"speed"``."""
        if self._stepped:
            return "stepped"
        return "realtime" if self._speed == 1.0 else "speed"

    @property
    def speed(self) -> float:
        """Simulated ms per wall ms (ignored while stepped)."""
        return self._speed

    @property
    def stepped(self) -> bool:
        """True if time only moves on :meth:`step` / :meth:`set`."""
        return self._stepped

    def now_ms(self) -> int:
        """Current simulated time in ms."""
        if self._stepped:
            return self._anchor_sim
        elapsed_ns = time.monotonic_ns() - self._anchor_wall
        return self._anchor_sim + int(elapsed_ns * self._speed / 1_000_000)

    def step(self, ms: int) -> int:
        """Move time forward by ``ms`` (>= 0) and return the new time."""
        if ms < 0:
            raise ValueError(f"cannot step the clock backwards ({ms} ms)")
        with self._lock:
            return self._reanchor(self.now_ms() + int(ms))

    def set(self, ts_ms: int) -> int:
        """Jump to ``ts_ms`` (not earlier than now) and return it."""
        with self._lock:
            now = self.now_ms()
            if ts_ms < now:
                raise ValueError(f"cannot set the clock backwards ({ts_ms} < {now})")
            return self._reanchor(int(ts_ms))

    def configure(self, *, speed: float | None = None, stepped: bool | None = None) -> None:
        """Change speed or stepping at run time without a jump in simulated time."""
        with self._lock:
            now = self.now_ms()
            if speed is not None:
                if speed <= 0:
                    raise ValueError(f"speed must be > 0, got {speed!r}")
                self._speed = float(speed)
            if stepped is not None:
                self._stepped = stepped
            self._reanchor(now)

    def _reanchor(self, sim_ms: int) -> int:
        self._anchor_sim = sim_ms
        self._anchor_wall = time.monotonic_ns()
        return sim_ms

    def __repr__(self) -> str:
        return f"Clock(mode={self.mode!r}, speed={self._speed}, now_ms={self.now_ms()})"
