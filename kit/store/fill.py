"""Filling a series through a :class:`~kit.store.source.CandleSource`, one committed page at a time.

For each range the ledger does not know, pages of ``source.max_page`` candles are asked for with
``since``; each answer is interpreted (:func:`kit.store.checks.parse_page`), its candles written
(the partitions it touches are rewritten atomically), and only then the ledger is updated and
saved. A fetch killed at any point therefore resumes at the first page not committed, and a
crash between the data write and the ledger write only costs that page again.

A failing request (after the source's own retries) marks the rest of the range ``failed`` with
the reason, saves the ledger, and re-raises: the caller sees the error, the ledger shows where.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from kit.errors import DataError, KitError
from kit.store import paths
from kit.store.checks import Page, parse_page, runs
from kit.store.series import Series
from kit.store.source import CandleSource

__all__ = ["CandleWarning", "fill_ranges"]


class CandleWarning(UserWarning):
    """Something about the candles deserves attention (OHLC violations, quarantined files, anomalies)."""


def fill_ranges(series: Series, source: CandleSource, ranges: Sequence[tuple[int, int]], *, closed_end: int,
                now_ms: int, progress: bool = True) -> int:
    """Fetch ``ranges`` (on the grid, ``end <= closed_end``) into ``series``; returns the number of requests.

    Must be called with ``series.lock()`` held.
    """
    tf = series.tf_ms
    total = sum((b - a) // tf for a, b in ranges)
    if total <= 0:
        return 0
    page_size = max(1, int(source.max_page))
    bar = _bar(total, page_size, progress, f"{series.symbol} {series.timeframe} {series.venue}")
    requests = 0
    reported = 0
    try:
        for a, b in ranges:
            since = a
            while since < b:
                limit = min(page_size, (b - since) // tf)
                try:
                    rows = source.fetch_ohlcv(series.symbol, series.timeframe, since, limit)
                except KitError as exc:
                    _fail(series, since, b, f"{type(exc).__name__}: {exc.message}", now_ms)
                    raise
                except Exception as exc:
                    _fail(series, since, b, f"{type(exc).__name__}: {exc}", now_ms)
                    raise
                requests += 1
                page = parse_page(rows, since=since, end=b, limit=limit, tf_ms=tf, offset_ms=series.offset_ms,
                                  closed_end=closed_end)
                if page.covered_end <= since:
                    msg = (f"the exchange answered a request for {series.symbol} {series.timeframe} since "
                           f"{paths.fmt_ms(since)} with no candle at or after it")
                    _fail(series, since, b, msg, now_ms)
                    raise DataError(msg, symbol=series.symbol,
                                    hint="The source ignores `since`; check its fetch_ohlcv, then fetch again.")
                _commit(series, since, page.covered_end, page, now_ms)
                for issue in page.issues:
                    reported += 1
                    if reported <= 5:
                        warnings.warn(f"{series.symbol} {series.timeframe} at {paths.fmt_ms(issue['time'])}: "
                                      f"{issue['detail']}", CandleWarning, stacklevel=4)
                if bar is not None:
                    bar.update((page.covered_end - since) // tf)
                since = page.covered_end
    finally:
        if bar is not None:
            bar.close()
    return requests


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
    if not progress or total <= 2 * page_size:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="candle", unit_scale=True, leave=False)
