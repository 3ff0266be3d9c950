"""Faults injected on purpose.

Latency, 5xx bursts, lost acknowledgements, stream drops, clock skew and maintenance downtime.

The :class:`Faults` object is the run-time state (seeded, changeable through
``POST /_localnet/faults``); the HTTP adapter asks it what to do for each request, and the
stream adapter reads ``venue.faults.ws_disconnect_rate`` / :meth:`Faults.should_drop_ws`.

Examples
--------
>>> f = Faults(FaultConfig(error_rate=1.0, seed=1))
>>> f.should_fail()
True
>>> f.update({"error_rate": 0, "maintenance": True})["maintenance"]
True
>>> f.update({"nonsense": 1})
Traceback (most recent call last):
...
ValueError: unknown fault setting(s): nonsense
"""

from __future__ import annotations

import random
from dataclasses import asdict, fields, replace
from typing import Any

from kit.localnet.config import FaultConfig

_FIELDS = {f.name for f in fields(FaultConfig)}


class Faults:
    """Run-time fault state (see module docstring)."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self.config = config or FaultConfig()
        self._rng = random.Random(self.config.seed)
        self._burst_left = 0

    # -------------------------------------------------------------- settings
    def update(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Apply ``changes`` (field -> value) and return the full settings."""
        unknown = set(changes) - _FIELDS
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(sorted(unknown))}")
        typed: dict[str, Any] = {}
        for f in fields(FaultConfig):
            if f.name in changes:
                value = changes[f.name]
                if f.name == "maintenance":
                    typed[f.name] = bool(value)
                elif f.name in ("clock_skew_ms", "error_burst"):
                    typed[f.name] = int(value)
                elif f.name == "seed":
                    typed[f.name] = None if value is None else int(value)
                else:
                    typed[f.name] = float(value)
        self.config = replace(self.config, **typed)
        if "seed" in typed:
            self._rng = random.Random(self.config.seed)
        if typed.get("error_rate") == 0:
            self._burst_left = 0
        return self.settings()

    def settings(self) -> dict[str, Any]:
        """Current settings as a JSON-able dict."""
        return asdict(self.config)

    # -------------------------------------------------------------- reads
    @property
    def maintenance(self) -> bool:
        """All requests answer 503 while True."""
        return self.config.maintenance

    @property
    def clock_skew_ms(self) -> int:
        """Offset added to the server's time."""
        return self.config.clock_skew_ms

    @property
    def ws_disconnect_rate(self) -> float:
        """Probability per stream event that the stream side should drop the connection."""
        return self.config.ws_disconnect_rate

    def latency_s(self) -> float:
        """Extra response delay for this request, in seconds."""
        c = self.config
        if c.latency_ms <= 0 and c.latency_jitter_ms <= 0:
            return 0.0
        jitter = self._rng.uniform(0, c.latency_jitter_ms) if c.latency_jitter_ms > 0 else 0.0
        return max(0.0, c.latency_ms + jitter) / 1000.0

    def should_fail(self) -> bool:
        """True if this request gets an injected HTTP 5xx (bursts continue automatically)."""
        if self._burst_left > 0:
            self._burst_left -= 1
            return True
        if self.config.error_rate > 0 and self._rng.random() < self.config.error_rate:
            self._burst_left = self.config.error_burst
            return True
        return False

    def should_drop_ack(self) -> bool:
        """True if an accepted order's response should be lost (connection closed)."""
        return self.config.drop_ack_rate > 0 and self._rng.random() < self.config.drop_ack_rate

    def should_drop_ws(self) -> bool:
        """True if the stream side should drop its connection now."""
        return self.config.ws_disconnect_rate > 0 and self._rng.random() < self.config.ws_disconnect_rate
