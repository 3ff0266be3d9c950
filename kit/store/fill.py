"""Filling a series through a :class:`~kit.store.source.CandleSource`, one committed page at a time.

For each range the ledger does not know, pages of ``source.max_page`` candles are asked for with
``since``; each answer is interpreted (:func:`kit.store.checks.parse_page`), its candles written
(the partitions it touches are rewritten atomically), and only then the ledger is updated and
saved. A fetch killed at any point therefore resumes at the first page not committed, and a
crash between the data write and the ledger write only costs that page again.

A failing request (after the source's own retries) marks the rest of the range ``failed`` with
the reason, saves the ledger, and re-raises: the caller sees the error, the ledger shows where.

Requests in flight
------------------
One request at a time leaves the weight budget unspent whenever a page's round trip (the server,
ccxt's parsing, the commit) is longer than the budget's share per request. With more than one page
to fetch and :func:`in_flight` above 1, the ranges are cut into chunks of one page each
(``[a, a + max_page * tf)``), up to ``in_flight`` chunks are requested at once from worker threads,
and the calling thread commits the answers **in order**: it is the only one that writes, the ledger
still grows as a prefix, and a killed fetch still resumes at the first page not committed. Every
request still acquires its weight from the source's budget before it is sent, so the budget alone
decides how much is spent per window; the number in flight only decides how many requests can be
on the wire at a window boundary, and is bounded by the budget's slack under the exchange's limit
(see :func:`in_flight`). A failure stops the fetch as with one request at a time: chunks not yet
sent never are, answers already in flight are dropped, the rest of the range is marked ``failed``.
"""

from __future__ import annotations

import queue
import threading
import warnings
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, NoReturn

from kit.errors import DataError, KitError
from kit.store import paths
from kit.store.checks import Page, parse_page, runs
from kit.store.series import Series
from kit.store.source import CandleSource

__all__ = ["MAX_IN_FLIGHT", "CandleWarning", "coalesce", "fill_ranges", "in_flight"]

#: Most page requests :func:`fill_ranges` keeps in flight, whatever the budget would allow.
MAX_IN_FLIGHT = 4


class CandleWarning(UserWarning):
    """Something about the candles deserves attention (OHLC violations, quarantined files, anomalies)."""


def in_flight(source: CandleSource, page_size: int) -> int:
    """How many page requests :func:`fill_ranges` may have in flight for ``source`` (1 to :data:`MAX_IN_FLIGHT`).

    The source's own ``max_in_flight`` (optional attribute; a Session's source derives it from its
    rate budget's slack, :func:`kit.session.candles.pages_in_flight`), capped at
    :data:`MAX_IN_FLIGHT`; a source that says nothing is not assumed safe to call from several
    threads, so 1. ``page_size`` is the number of candles one request asks for.

    Examples
    --------
    >>> class Src:
    ...     max_in_flight = 3
    >>> in_flight(Src(), 1000)
    3
    >>> in_flight(object(), 1000)
    1
    """
    explicit = getattr(source, "max_in_flight", None)
    if callable(explicit):
        explicit = explicit(page_size)
    if explicit is None:
        return 1
    return max(1, min(int(explicit), MAX_IN_FLIGHT))


def coalesce(ranges: Sequence[tuple[int, int]], span: int) -> list[tuple[int, int]]:
    """The (sorted, disjoint) ``ranges`` as the fewest page windows, joined where they touch.

    After a quarantine, or with ``recheck=True``, the ranges to fetch are the stored runs (or the
    gaps) of a partition: hundreds of short ranges between known gaps. Fetched one by one, each
    cost a request (a refetch took 543 where the first fetch took 14). Here a window of ``span``
    (one page) starts at the first point not yet covered and takes in every range, or part of
    one, inside it (the known spans between them are asked again too: the exchange's answer
    replaces them, as on a first fetch). Greedy from the left gives the fewest windows of that
    length, so a refetch never costs more requests than fetching the whole stretch again.
    Windows that touch are returned as one range: :func:`fill_ranges` pages through it from its
    start, which asks for exactly those windows.

    Examples
    --------
    >>> coalesce([(0, 2), (5, 6), (9, 12), (30, 31)], 10)  # three windows: [0, 10), [10, 12), [30, 31)
    [(0, 12), (30, 31)]
    >>> coalesce([(0, 25)], 10)
    [(0, 25)]
    """
    windows: list[tuple[int, int, int]] = []  # (start, end of what it covers, start + span)
    for a, b in ranges:
        pos = a
        while pos < b:
            if windows and pos < windows[-1][2]:
                w0, w1, reach = windows[-1]
                upto = min(b, reach)
                windows[-1] = (w0, max(w1, upto), reach)
                pos = upto
            else:
                windows.append((pos, pos, pos + span))
    out: list[tuple[int, int]] = []
    for w0, w1, _ in windows:
        if out and out[-1][1] == w0:
            out[-1] = (out[-1][0], w1)
        else:
            out.append((w0, w1))
    return out


def fill_ranges(
    series: Series,
    source: CandleSource,
    ranges: Sequence[tuple[int, int]],
    *,
    closed_end: int,
    now_ms: int,
    progress: bool = True,
    max_in_flight: int | None = None,
) -> int:
    """Fetch ``ranges`` (on the grid, ``end <= closed_end``) into ``series``; returns the number of requests.

    ``max_in_flight`` overrides :func:`in_flight`. Must be called with ``series.lock()`` held.
    """
    tf = series.tf_ms
    total = sum((b - a) // tf for a, b in ranges)
    if total <= 0:
        return 0
    page_size = max(1, int(source.max_page))
    n = in_flight(source, page_size) if max_in_flight is None else max(1, int(max_in_flight))
    bar = _bar(total, page_size, progress, f"{series.symbol} {series.timeframe} {series.venue}")
    job = _Job(series, source, page_size, closed_end, now_ms, bar)
    try:
        if n > 1 and total > page_size:
            _pipelined(job, ranges, n)
        else:
            for a, b in ranges:
                _sequential(job, a, b)
    finally:
        if bar is not None:
            bar.close()
    return job.requests


@dataclass
class _Job:
    series: Series
    source: CandleSource
    page_size: int
    closed_end: int
    now_ms: int
    bar: Any
    requests: int = 0
    reported: int = 0
    stop: threading.Event = field(default_factory=threading.Event)


class _NoProgress(Exception):
    """Internal: the exchange answered with nothing at or after ``since`` (it ignores ``since``)."""


def _fetch_page(job: _Job, since: int, end: int) -> Page:
    """One request for ``[since, end)``, interpreted; never writes. Raises what the source raises."""
    series = job.series
    tf = series.tf_ms
    limit = min(job.page_size, (end - since) // tf)
    rows = job.source.fetch_ohlcv(series.symbol, series.timeframe, since, limit)
    page = parse_page(
        rows, since=since, end=end, limit=limit, tf_ms=tf, offset_ms=series.offset_ms, closed_end=job.closed_end
    )
    if page.covered_end <= since:
        raise _NoProgress(
            f"the exchange answered a request for {series.symbol} {series.timeframe} since "
            f"{paths.fmt_ms(since)} with no candle at or after it"
        )
    return page


def _fail_and_raise(job: _Job, since: int, end: int, exc: Exception) -> NoReturn:
    """Mark ``[since, end)`` failed with the reason and save the ledger, then raise."""
    series = job.series
    if isinstance(exc, _NoProgress):
        _fail(series, since, end, str(exc), job.now_ms)
        raise DataError(
            str(exc), symbol=series.symbol, hint="The source ignores `since`; check its fetch_ohlcv, then fetch again."
        ) from None
    reason = f"{type(exc).__name__}: {exc.message}" if isinstance(exc, KitError) else f"{type(exc).__name__}: {exc}"
    _fail(series, since, end, reason, job.now_ms)
    raise exc


def _sequential(job: _Job, a: int, b: int) -> None:
    """One request at a time over ``[a, b)``, each from where the previous page ended."""
    since = a
    while since < b:
        try:
            page = _fetch_page(job, since, b)
        except Exception as exc:
            _fail_and_raise(job, since, b, exc)
        job.requests += 1
        _commit_page(job, since, page)
        since = page.covered_end


@dataclass
class _Chunk:
    start: int
    end: int
    range_end: int
    pages: list[tuple[int, Page]] = field(default_factory=list)
    error: Exception | None = None
    failed_at: int = 0


def _fetch_chunk(job: _Job, chunk: _Chunk) -> _Chunk:
    """Worker: fetch ``[chunk.start, chunk.end)`` (one page unless the exchange answers with less)."""
    since = chunk.start
    while since < chunk.end and not job.stop.is_set():
        try:
            page = _fetch_page(job, since, chunk.end)
        except Exception as exc:  # handed to the committing thread, which marks and raises it
            chunk.error, chunk.failed_at = exc, since
            return chunk
        chunk.pages.append((since, page))
        since = page.covered_end
    return chunk


def _chunks(ranges: Sequence[tuple[int, int]], span: int) -> Iterator[_Chunk]:
    for a, b in ranges:
        for s in range(a, b, span):
            yield _Chunk(s, min(s + span, b), b)


def _pipelined(job: _Job, ranges: Sequence[tuple[int, int]], n: int) -> None:
    """Up to ``n`` requests in flight from worker threads; their answers are committed here, in order."""
    span = job.page_size * job.series.tf_ms
    n = min(n, sum(-(-(b - a) // span) for a, b in ranges))
    todo = _chunks(ranges, span)
    waiting: deque[Future[_Chunk]] = deque()
    workers = _Workers(n, lambda chunk: _fetch_chunk(job, chunk))

    def submit(k: int) -> None:
        for chunk in todo:
            waiting.append(workers.submit(chunk))
            k -= 1
            if k <= 0:
                return

    try:
        submit(2 * n)  # n on the wire, up to n answered and waiting for their commit
        while waiting:
            chunk = waiting.popleft().result()
            job.requests += len(chunk.pages)
            for since, page in chunk.pages:
                _commit_page(job, since, page)
            if chunk.error is not None:
                _fail_and_raise(job, chunk.failed_at, chunk.range_end, chunk.error)
            submit(1)
    finally:
        # On an error (or Ctrl-C): chunks not started are never sent and started ones stop after
        # their current request, whose answer is dropped. Nothing is waited for: a worker may be
        # sleeping in the budget or in the source's retries; it only ever reads, never writes.
        job.stop.set()
        for f in waiting:
            f.cancel()
        workers.close()


class _Workers:
    """``n`` daemon threads running ``fn`` on submitted items (daemon: Ctrl-C never waits for a budget sleep)."""

    def __init__(self, n: int, fn: Callable[[Any], Any]) -> None:
        self._fn = fn
        self._items: queue.SimpleQueue[tuple[Future[Any], Any] | None] = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._run, name=f"kit-store-fetch-{i}", daemon=True) for i in range(n)]
        for t in self._threads:
            t.start()

    def submit(self, item: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self._items.put((future, item))
        return future

    def _run(self) -> None:
        while (task := self._items.get()) is not None:
            future, item = task
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(self._fn(item))
            except BaseException as exc:  # the committing thread re-raises it
                future.set_exception(exc)

    def close(self) -> None:
        for _ in self._threads:
            self._items.put(None)


def _commit_page(job: _Job, since: int, page: Page) -> None:
    series = job.series
    _commit(series, since, page.covered_end, page, job.now_ms)
    for issue in page.issues:
        job.reported += 1
        if job.reported <= 5:
            warnings.warn(
                f"{series.symbol} {series.timeframe} at {paths.fmt_ms(issue['time'])}: {issue['detail']}",
                CandleWarning,
                stacklevel=6,  # 4 from fill_ranges, as before
            )
    if job.bar is not None:
        job.bar.update((page.covered_end - since) // series.tf_ms)


def _commit(series: Series, since: int, covered_end: int, page: Page, now_ms: int) -> None:
    series.replace(since, covered_end, page.part)
    led = series.ledger
    led.mark(since, covered_end, "empty", note="the exchange returned no candle", at=now_ms)
    for a, b in runs(page.part.times, series.tf_ms):
        led.mark(a, b, "stored", at=now_ms)
    for issue in page.issues:
        led.add_issue(issue)
    series.save_ledger()


def _fail(series: Series, start: int, end: int, reason: str, now_ms: int) -> None:
    led = series.ledger
    led.mark(start, end, "failed", note=reason[:500], at=now_ms)
    series.save_ledger()


def _bar(total: int, page_size: int, progress: bool, desc: str) -> Any:
    # Shown for any fetch that takes over a second (``delay``; a one-page fetch can be slow too), and
    # left in place when done, so a log ends on the final count, never on a stalled-looking "0%|" (#17.8).
    if not progress or total <= 0:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="candle", unit_scale=True, leave=True, delay=1.0)
