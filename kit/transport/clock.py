"""Clock offset against the exchange, and the check that refuses to sign with a drifting clock.

Every signed request carries ``timestamp`` (local ms). Binance rejects it with ``-1021`` when it is
more than 1000 ms ahead of the server, or older than ``recvWindow`` (default 10000 ms) when it
arrives (rest-api.md "Timing security"). :func:`measure_clock` estimates the offset NTP-style;
:func:`check_clock` turns it into warnings, or a :class:`~kit.errors.ClockSkew` before any order is
sent with a clock that would be rejected.

The offset is not measured once for good: a clock can drift (or be stepped) after connect. A
:class:`ClockWatch` says when to measure again: every ``every_s`` seconds while signed calls are
made, and at once after the exchange answered -1021. The Session re-measures before the next signed
write when it is due, so a drifted clock is refused with ``ClockSkew`` before the exchange would
reject the request.

Sign convention: ``offset_ms = server - local``. ccxt's ``options['timeDifference']`` and
``ClockSkew.skew_ms`` use the opposite (``local - server``): :attr:`ClockReport.skew_ms`.

Examples
--------
>>> local = iter([1_000, 1_040, 2_000, 2_010])                 # two samples: rtt 40 ms, then 10 ms
>>> server = iter([1_520, 2_505])
>>> report = measure_clock(lambda: next(server), samples=2, now_ms=lambda: next(local))
>>> report.offset_ms, report.rtt_ms, report.skew_ms
(500, 10, -500)
>>> check_clock(report, warn_ms=250)
['local clock is 500 ms behind the exchange (round trip 10 ms); ...']
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from kit.errors import ClockSkew, ConfigError

__all__ = [
    "AHEAD_LIMIT_MS",
    "ClockReport",
    "ClockWatch",
    "check_clock",
    "measure_clock",
    "offset_clock",
    "sync_hint",
]

#: Binance rejects a timestamp more than this far ahead of its clock (-1021, "1000ms ahead").
AHEAD_LIMIT_MS = 1000


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class ClockReport:
    """Result of :func:`measure_clock`.

    Attributes
    ----------
    offset_ms
        Exchange clock minus local clock (positive: the local clock is behind).
    rtt_ms
        Round trip of the sample the offset comes from (the shortest one); the offset's error is at
        most half of it.
    samples
        Samples taken.
    server_ms
        Server time reported by that sample.
    """

    offset_ms: int
    rtt_ms: int
    samples: int
    server_ms: int

    @property
    def skew_ms(self) -> int:
        """Local minus exchange clock: the value for ccxt ``options['timeDifference']`` and ``ClockSkew``."""
        return -self.offset_ms


def measure_clock(
    fetch_server_ms: Callable[[], int], *, samples: int = 5, now_ms: Callable[[], int] = _wall_ms
) -> ClockReport:
    """Estimate the exchange clock's offset from a few round trips.

    For each sample, ``offset = server - (t0 + t1) / 2`` where ``t0``/``t1`` are the local times
    around the request; the sample with the smallest round trip wins (its midpoint is the tightest
    bound on when the server read its clock).

    Parameters
    ----------
    fetch_server_ms
        Returns the exchange time in ms, e.g. ``exchange.fetch_time`` (one public request of weight 1).
    samples
        Number of round trips (>= 1).
    now_ms
        Local clock in ms.

    Returns
    -------
    ClockReport

    Examples
    --------
    >>> t = iter([0, 100])
    >>> measure_clock(lambda: 2_000, samples=1, now_ms=lambda: next(t))
    ClockReport(offset_ms=1950, rtt_ms=100, samples=1, server_ms=2000)
    """
    if samples < 1:
        raise ConfigError(f"samples must be at least 1, got {samples}")
    best: tuple[int, int, int] | None = None  # (rtt, offset, server)
    for _ in range(samples):
        t0 = now_ms()
        server = int(fetch_server_ms())
        t1 = now_ms()
        rtt = max(0, t1 - t0)
        offset = round(server - (t0 + t1) / 2)
        if best is None or rtt < best[0]:
            best = (rtt, offset, server)
    assert best is not None
    return ClockReport(offset_ms=best[1], rtt_ms=best[0], samples=samples, server_ms=best[2])


def sync_hint(platform: str | None = None) -> str:
    """How to sync the system clock on this (or the given) platform.

    Examples
    --------
    >>> sync_hint("darwin")
    'Sync the system clock: `sudo sntp -sS time.apple.com` (System Settings > Date & Time > automatic).'
    """
    platform = platform or sys.platform
    if platform == "darwin":
        return "Sync the system clock: `sudo sntp -sS time.apple.com` (System Settings > Date & Time > automatic)."
    return (
        "Sync the system clock: enable NTP with `sudo timedatectl set-ntp true` "
        "(or `sudo chronyc makestep` with chrony)."
    )


def check_clock(report: ClockReport, *, warn_ms: int = 250, recv_window_ms: int = 10_000) -> list[str]:
    """Judge a :class:`ClockReport` against the exchange's timestamp window.

    A signed request is rejected when its timestamp is more than :data:`AHEAD_LIMIT_MS` ahead of
    the server, or older than ``recv_window_ms`` on arrival. Both limits are checked with the
    measurement's uncertainty (the round trip) counted against us.

    Parameters
    ----------
    report
        From :func:`measure_clock`.
    warn_ms
        Offsets beyond this (either way) produce a warning.
    recv_window_ms
        The ``recvWindow`` sent with signed requests (ccxt default 10000).

    Returns
    -------
    list[str]
        Warnings (empty when the clock is fine).

    Raises
    ------
    ClockSkew
        When requests would be rejected, with ``skew_ms`` (local minus exchange) and how to sync.

    Examples
    --------
    >>> check_clock(ClockReport(offset_ms=-20, rtt_ms=30, samples=5, server_ms=0))
    []
    >>> check_clock(ClockReport(offset_ms=-1500, rtt_ms=30, samples=5, server_ms=0))
    Traceback (most recent call last):
    ...
    kit.errors.ClockSkew: local clock is 1500 ms ahead of the exchange ...
    """
    skew = report.skew_ms
    ahead = skew + report.rtt_ms  # worst case of how far ahead a timestamp can arrive
    late = -skew + report.rtt_ms  # worst case of how old a timestamp is on arrival
    direction = f"{abs(skew)} ms {'ahead of' if skew > 0 else 'behind'} the exchange"
    if ahead >= AHEAD_LIMIT_MS or late >= recv_window_ms:
        limit = AHEAD_LIMIT_MS if ahead >= AHEAD_LIMIT_MS else recv_window_ms
        raise ClockSkew(
            f"local clock is {direction} (round trip {report.rtt_ms} ms); signed requests would be rejected "
            f"(limit {limit} ms)",
            skew_ms=skew,
            value=abs(skew),
            allowed=limit,
            hint=sync_hint() + " Then measure again.",
        )
    warnings: list[str] = []
    if abs(skew) > warn_ms:
        warnings.append(f"local clock is {direction} (round trip {report.rtt_ms} ms); {sync_hint()}")
    if report.rtt_ms > warn_ms:
        warnings.append(
            f"round trip to the exchange is {report.rtt_ms} ms, over {warn_ms} ms: the offset is uncertain by "
            f"up to {report.rtt_ms // 2} ms and requests may arrive late; check the network"
        )
    return warnings


def offset_clock(offset_ms: int, base: Callable[[], float] = time.time) -> Callable[[], float]:
    """A seconds clock shifted onto the exchange's time, e.g. for :class:`kit.transport.limits.WeightBudget`.

    Examples
    --------
    >>> offset_clock(1500, base=lambda: 100.0)()
    101.5
    """

    def clock() -> float:
        return base() + offset_ms / 1000

    return clock


class ClockWatch:
    """When the clock offset must be measured again.

    Parameters
    ----------
    every_s
        A measurement older than this is stale (default 60 s: a clock drifting by even 100 ppm moves
        6 ms a minute, while an NTP step or a suspended laptop moves it at once, and that is what the
        -1021 trigger is for).
    monotonic
        The clock the age is measured with (seconds).

    Examples
    --------
    >>> t = iter([0.0, 10.0, 70.0, 71.0, 72.0])
    >>> w = ClockWatch(every_s=60, monotonic=lambda: next(t))
    >>> w.measured()                                  # at 0 s
    >>> w.due(), w.due()                              # at 10 s, at 70 s
    (None, 'the last measurement is 70 s old')
    >>> w.measured(); w.stale("the exchange answered -1021"); w.due()
    'the exchange answered -1021'
    """

    def __init__(self, every_s: float = 60.0, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        if not every_s > 0:
            raise ConfigError(f"clock re-measure interval every_s={every_s!r} must be positive", hint="E.g. 60.")
        self.every_s = float(every_s)
        self._monotonic = monotonic
        self._at: float | None = None
        self._why: str | None = None

    def measured(self) -> None:
        """Note that the offset was just measured."""
        self._at = self._monotonic()
        self._why = None

    def stale(self, why: str) -> None:
        """Mark the measurement stale (e.g. the exchange answered -1021): measure before the next signed call."""
        self._why = why

    def due(self) -> str | None:
        """Why a measurement is due, or ``None`` when the last one is fresh."""
        if self._why is not None:
            return self._why
        if self._at is None:
            return "never measured"
        age = self._monotonic() - self._at
        return f"the last measurement is {age:.0f} s old" if age >= self.every_s else None
