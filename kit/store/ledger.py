"""Coverage ledger of one series: what is known about every interval of time.

Statuses (``[start, end)`` spans in ms on the timeframe grid, sorted, never overlapping):

``stored``
    every candle of the span is in the Parquet files (so ``candles = (end - start) / tf``).
``empty``
    confirmed empty on the exchange: it was asked for this range and returned no candle there
    (downtime, or before the market was listed). Never filled in silently.
``failed``
    a fetch of this range failed; the note says why. Fetched again on the next call.
``missing``
    not in the ledger at all: never fetched (derived, never written).

The file is JSON (``_coverage.json`` in the series directory), written atomically after the data
it describes, so the ledger never claims candles that are not on disk. It also keeps ``issues``:
anomalies seen while fetching (misaligned or duplicate candles, OHLC violations, quarantined files).

Examples
--------
>>> led = Ledger("localnet", "BTC/USDT", "1m")
>>> led.mark(0, 600_000, "stored")
>>> led.mark(120_000, 240_000, "empty", note="downtime")
>>> [(s.start, s.end, s.status) for s in led.spans]
[(0, 120000, 'stored'), (120000, 240000, 'empty'), (240000, 600000, 'stored')]
>>> led.unknown(0, 900_000)
[(600000, 900000)]
>>> led.stored_candles()
8
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from kit.errors import DataError
from kit.store import paths
from kit.store.parquet import NOT_THE_FILE, StoreUnreadable, atomic_write_bytes

__all__ = ["KNOWN", "STATUSES", "Ledger", "Span"]

STATUSES = ("stored", "empty", "failed", "missing")
#: Statuses that need no fetch.
KNOWN = ("stored", "empty")
LEDGER_VERSION = 1
MAX_ISSUES = 10_000


@dataclass(frozen=True)
class Span:
    """One ledger interval; ``at`` is the exchange time (ms) when it was recorded."""

    start: int
    end: int
    status: str
    note: str = ""
    at: int | None = None


class Ledger:
    """The coverage ledger of one series (see module docstring)."""

    def __init__(
        self, venue: str, symbol: str, timeframe: str, spans: Iterable[Span] = (), issues: Iterable[dict[str, Any]] = ()
    ) -> None:
        self.venue = venue
        self.symbol = symbol
        self.timeframe = timeframe
        self.tf_ms = paths.timeframe_ms(timeframe)
        self.spans: list[Span] = sorted(spans, key=lambda s: s.start)
        self.issues: list[dict[str, Any]] = list(issues)

    # ------------------------------------------------------------------ edits
    def mark(self, start: int, end: int, status: str, *, note: str = "", at: int | None = None) -> None:
        """Record ``status`` for ``[start, end)``, replacing whatever was known there."""
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        if end <= start:
            return
        out: list[Span] = []
        for s in self.spans:
            if s.end <= start or s.start >= end:
                out.append(s)
                continue
            if s.start < start:
                out.append(replace(s, end=start))
            if s.end > end:
                out.append(replace(s, start=end))
        if status != "missing":
            out.append(Span(start, end, status, note, at))
        out.sort(key=lambda s: s.start)
        self.spans = _merge(out)

    def forget_stored(self, start: int, end: int, note: str) -> None:
        """Turn ``stored`` spans inside ``[start, end)`` into ``missing`` (their file was lost)."""
        for s in [s for s in self.spans if s.status == "stored" and s.end > start and s.start < end]:
            self.mark(max(s.start, start), min(s.end, end), "missing")
        self.add_issue({"time": start, "kind": "quarantined", "detail": note})

    def add_issue(self, issue: dict[str, Any]) -> None:
        """Remember an anomaly (bounded: the oldest are dropped past ``MAX_ISSUES``)."""
        self.issues.append(issue)
        if len(self.issues) > MAX_ISSUES:
            del self.issues[: len(self.issues) - MAX_ISSUES]

    # ------------------------------------------------------------------ queries
    def unknown(self, start: int, end: int) -> list[tuple[int, int]]:
        """Sub-ranges of ``[start, end)`` that are neither stored nor confirmed empty."""
        out: list[tuple[int, int]] = []
        t = start
        for s in self.spans:
            if s.end <= t or s.status not in KNOWN:
                continue
            if s.start >= end:
                break
            if s.start > t:
                out.append((t, s.start))
            t = max(t, s.end)
        if t < end:
            out.append((t, end))
        return out

    def stored_candles(self) -> int:
        """Number of candles the ledger says are on disk."""
        return sum((s.end - s.start) // self.tf_ms for s in self.spans if s.status == "stored")

    def known_end(self) -> int | None:
        """End of the last span (any status), or None for an empty ledger."""
        return self.spans[-1].end if self.spans else None

    def with_missing(self, start: int | None = None, end: int | None = None) -> list[Span]:
        """All spans clipped to ``[start, end)`` with the holes between them as ``missing``."""
        if not self.spans and (start is None or end is None):
            return []
        lo = self.spans[0].start if start is None else start
        hi = self.spans[-1].end if end is None else end
        out: list[Span] = []
        t = lo
        for s in self.spans:
            if s.end <= lo or s.start >= hi:
                continue
            a, b = max(s.start, lo), min(s.end, hi)
            if a > t:
                out.append(Span(t, a, "missing"))
            out.append(replace(s, start=a, end=b))
            t = b
        if t < hi:
            out.append(Span(t, hi, "missing"))
        return out

    # ------------------------------------------------------------------ file
    def to_json(self) -> dict[str, Any]:
        """The ledger as JSON-ready data."""
        return {
            "version": LEDGER_VERSION,
            "venue": self.venue,
            "symbol": self.symbol,
            "timeframe": self.timeframe,
            "tf_ms": self.tf_ms,
            "spans": [[s.start, s.end, s.status, s.note, s.at] for s in self.spans],
            "issues": self.issues,
        }

    def save(self, path: Path) -> None:
        """Write atomically.

        The data files the ledger describes are already durable (file and directory fsynced) when
        it is saved. Its own directory entry is not fsynced: a power cut may bring back the
        previous ledger, which only under-claims (those pages are fetched again), never over-claims.
        """
        atomic_write_bytes(path, json.dumps(self.to_json(), separators=(",", ":")).encode(), sync_dir=False)

    @classmethod
    def load(cls, path: Path, venue: str, symbol: str, timeframe: str) -> Ledger:
        """Read ``path``; a missing file is an empty ledger."""
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return cls(venue, symbol, timeframe)
        except OSError as exc:
            if exc.errno in NOT_THE_FILE:
                raise StoreUnreadable(f"cannot read the coverage ledger {path}: {exc.strerror} (errno {exc.errno})",
                                      symbol=symbol) from exc  # fmt: skip
            raise
        try:
            data = json.loads(raw)
            spans = [
                Span(int(a), int(b), str(st), str(note), None if at is None else int(at))
                for a, b, st, note, at in data["spans"]
            ]
        except (ValueError, KeyError, TypeError) as exc:
            raise DataError(
                f"the coverage ledger {path} is unreadable: {exc}",
                symbol=symbol,
                hint="Delete that file: the store then fetches the series again "
                "(stored candles are rewritten as they arrive).",
            ) from exc
        return cls(venue, str(data.get("symbol", symbol)), timeframe, spans, data.get("issues", []))

    def __repr__(self) -> str:
        counts = {st: sum(1 for s in self.spans if s.status == st) for st in STATUSES[:3]}
        return f"Ledger({self.venue!r}, {self.symbol!r}, {self.timeframe!r}, spans={counts})"


def _merge(spans: list[Span]) -> list[Span]:
    out: list[Span] = []
    for s in spans:
        if (
            out
            and out[-1].end == s.start
            and out[-1].status == s.status
            and (s.status == "stored" or out[-1].note == s.note)
        ):
            prev = out[-1]
            out[-1] = Span(prev.start, s.end, s.status, prev.note, max(prev.at or 0, s.at or 0) or None)
        else:
            out.append(s)
    return out
