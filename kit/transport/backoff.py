"""Exponential backoff with full jitter, and the retry loop for reads (never for orders).

Retry policy keys off the error class only (kit/errors.py): :class:`~kit.errors.TransientError`
(``ExchangeUnavailable``, ``RateLimited``) is retried, everything else surfaces at once. Rules that
keep retries from amplifying an outage:

- Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter", 2015): the n-th delay is
  uniform in ``[0, min(cap, base * 2**n)]``, so many clients spread out instead of retrying in step.
- A server's ``Retry-After`` is a floor: the delay is ``retry_after + jitter``, never less.
- A bounded number of tries, and no sleeping through a long ban: if ``retry_after`` exceeds
  ``max_retry_after_s`` the error is raised instead.
- Writes are never retried here. A create/cancel that timed out may have happened; resending it
  can double an order. The session reconciles those instead (``OrderUnknown``).

Examples
--------
>>> import random
>>> b = Backoff(base_s=1, cap_s=8, max_tries=4, rng=random.Random(7))
>>> [round(d, 3) for d in b.delays()]
[0.324, 0.302, 2.604]
>>> [round(d, 3) for d in Backoff(base_s=1, cap_s=8, max_tries=4, rng=random.Random(7)).delays(5)]
[5.324, 5.302, 7.604]
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from kit.errors import ConfigError, TransientError

__all__ = ["Backoff", "is_write_op", "retry_read"]

T = TypeVar("T")

_WRITE_OP = re.compile(r"(?i)^(create|cancel|edit|amend|place|submit|replace|transfer|withdraw)|order_?list|_?order$")
_READ_OP = re.compile(r"(?i)^(fetch|watch|load|get|query)|(^|_)get_")
_IMPLICIT_WRITE = re.compile(r"(?i)(^|_)(post|put|delete|patch)_")  # ccxt implicit methods: private_post_order


def is_write_op(op: str) -> bool:
    """True when ``op`` (a ccxt method name like ``"create_order"``) changes state on the venue.

    Examples
    --------
    >>> [is_write_op(op) for op in ("create_order", "cancel_all_orders", "private_post_order", "fetch_order")]
    [True, True, True, False]
    """
    if _IMPLICIT_WRITE.search(op):
        return True
    if _READ_OP.search(op):
        return False
    return bool(_WRITE_OP.search(op))


class Backoff:
    """Delay schedule: exponential growth, capped, full jitter, ``Retry-After`` as a floor.

    Parameters
    ----------
    base_s
        First delay's upper bound, seconds.
    cap_s
        Upper bound of the jittered part of any delay.
    max_tries
        Total attempts, the first included (so ``max_tries - 1`` delays).
    rng
        Random source; pass ``random.Random(seed)`` for a reproducible schedule.
    max_retry_after_s
        Longest server-imposed wait worth sleeping through; a longer ``Retry-After`` (an IP ban)
        makes :func:`retry_read` raise instead of sleeping.

    Examples
    --------
    >>> b = Backoff(base_s=0.5, cap_s=30, max_tries=3, rng=random.Random(1))
    >>> len(list(b.delays()))
    2
    """

    def __init__(
        self,
        base_s: float = 0.5,
        cap_s: float = 30,
        max_tries: int = 5,
        rng: random.Random | None = None,
        *,
        max_retry_after_s: float = 120,
    ) -> None:
        if base_s < 0 or cap_s < 0 or max_tries < 1:
            raise ConfigError(f"invalid backoff: base_s={base_s}, cap_s={cap_s}, max_tries={max_tries}")
        self.base_s = float(base_s)
        self.cap_s = float(cap_s)
        self.max_tries = int(max_tries)
        self.max_retry_after_s = float(max_retry_after_s)
        self.rng = rng if rng is not None else random.Random()

    def __repr__(self) -> str:
        return f"Backoff(base_s={self.base_s}, cap_s={self.cap_s}, max_tries={self.max_tries})"

    def delay(self, attempt: int, retry_after_s: float | None = None) -> float:
        """Delay after failed attempt number ``attempt`` (0-based), in seconds."""
        ceiling = min(self.cap_s, self.base_s * 2.0 ** min(attempt, 62))
        jitter = self.rng.uniform(0.0, ceiling)
        return max(0.0, retry_after_s) + jitter if retry_after_s is not None else jitter

    def delays(self, retry_after_s: float | None = None) -> Iterator[float]:
        """The ``max_tries - 1`` delays between attempts, each at least ``retry_after_s`` if given."""
        for attempt in range(self.max_tries - 1):
            yield self.delay(attempt, retry_after_s)


def retry_read(
    fn: Callable[[], T],
    *,
    backoff: Backoff,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[int, TransientError, float], None] | None = None,
    op: str | None = None,
) -> T:
    """Call ``fn`` and retry it on :class:`~kit.errors.TransientError`, for reads only.

    Parameters
    ----------
    fn
        The read, already wrapped so that it raises kit errors (``kit.transport.ccxt_errors.ccxt_errors``).
    backoff
        Delay schedule and number of tries.
    sleep
        How to wait (injected in tests).
    on_retry
        Called as ``on_retry(attempt, error, delay_s)`` before each wait (log or journal it).
    op
        Name of the operation; a write (``create_order``, ``cancel_order``...) is refused.

    Returns
    -------
    T
        What ``fn`` returned.

    Raises
    ------
    ConfigError
        If ``op`` names a write: orders and cancels are never retried blindly.
    TransientError
        The last error once tries run out, or at once when its ``retry_after_ms`` is longer than
        ``backoff.max_retry_after_s`` (an IP ban).
    KitError
        Any non-transient error, at once.

    Examples
    --------
    >>> from kit.errors import ExchangeUnavailable
    >>> calls = []
    >>> def flaky():
    ...     calls.append(1)
    ...     if len(calls) < 3:
    ...         raise ExchangeUnavailable("timeout")
    ...     return "ok"
    >>> retry_read(flaky, backoff=Backoff(rng=random.Random(0)), sleep=lambda s: None)
    'ok'
    >>> len(calls)
    3
    """
    if op is not None and is_write_op(op):
        raise ConfigError(
            f"retry_read refuses {op!r}: writes are never retried",
            hint="A write that failed in transit may have happened: reconcile (fetch the order) instead of resending.",
        )
    attempt = 0
    while True:
        try:
            return fn()
        except TransientError as exc:
            if attempt + 1 >= backoff.max_tries:
                raise
            retry_after_s = exc.retry_after_ms / 1000 if exc.retry_after_ms is not None else None
            if retry_after_s is not None and retry_after_s > backoff.max_retry_after_s:
                raise
            delay = backoff.delay(attempt, retry_after_s)
            if on_retry is not None:
                on_retry(attempt + 1, exc, delay)
            sleep(delay)
            attempt += 1
