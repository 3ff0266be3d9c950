"""One stored series (venue, symbol, timeframe) on disk: its partitions and its coverage ledger.

Reads touch only the partitions a range needs; the partition listing and the parsed ledger are
cached and invalidated by the ledger file's ``(mtime_ns, size)`` (another process that writes
also rewrites the ledger) and by this object's own writes.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from kit.store import paths
from kit.store.ledger import Ledger
from kit.store.parquet import CorruptFile, Part, quarantine, read_part, write_part

#: Parts of one read that may hold their file open at once (see :meth:`Series.read`): far below
#: macOS's default limit of 256 descriptors, above the partitions of most reads (a year of 1m
#: candles is 12), which keep the no-copy path.
HELD_FILES_MAX = 64

__all__ = ["Quarantined", "Series"]


class Quarantined(Exception):
    """Internal signal: a partition was found corrupt and moved aside (``.dest`` is the new path)."""

    def __init__(self, path: Path, dest: Path, reason: str) -> None:
        super().__init__(reason)
        self.path = path
        self.dest = dest
        self.reason = reason


class Series:
    """Files of one series under ``root`` (see :mod:`kit.store.paths` for the layout)."""

    def __init__(self, root: Path, venue: str, symbol: str, timeframe: str) -> None:
        self.root = Path(root)
        self.venue = venue
        self.symbol = symbol
        self.timeframe = timeframe
        self.tf_ms = paths.timeframe_ms(timeframe)
        self.offset_ms = paths.timeframe_offset_ms(timeframe)
        self.unit = paths.partition_unit(self.tf_ms)
        self.dir = paths.series_dir(self.root, venue, symbol, timeframe)
        self.ledger_path = self.dir / paths.LEDGER_NAME
        self._ledger: Ledger | None = None
        self._ledger_sig: tuple[int, int] | None = None
        self._periods: set[str] | None = None

    # ------------------------------------------------------------------ ledger
    def _sig(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.ledger_path)
        except FileNotFoundError:
            return None
        return st.st_mtime_ns, st.st_size

    @property
    def ledger(self) -> Ledger:
        """The ledger, reloaded if the file changed since it was read."""
        sig = self._sig()
        if self._ledger is None or sig != self._ledger_sig:
            self._ledger = Ledger.load(self.ledger_path, self.venue, self.symbol, self.timeframe)
            self._ledger_sig = sig
            self._periods = None
        return self._ledger

    def save_ledger(self) -> None:
        """Write the in-memory ledger (after the data it describes)."""
        self.ledger.save(self.ledger_path)
        self._ledger_sig = self._sig()

    def exists(self) -> bool:
        """True when anything of the series is on disk."""
        return self.dir.is_dir()

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the series' advisory lock (POSIX ``flock``): two processes filling one series take turns."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / ".lock", "a+b") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                self._ledger = None  # re-read: another process may have written meanwhile
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    # ------------------------------------------------------------------ partitions
    def periods(self) -> set[str]:
        """Partition values present on disk (cached)."""
        _ = self.ledger  # refreshes the cache key
        if self._periods is None:
            found: set[str] = set()
            try:
                with os.scandir(self.dir) as it:
                    for entry in it:
                        if entry.name.startswith("period=") and os.path.exists(
                            os.path.join(entry.path, paths.PART_NAME)
                        ):
                            found.add(entry.name[len("period=") :])
            except FileNotFoundError:
                pass
            self._periods = found
        return self._periods

    def path(self, period: str) -> Path:
        """File of one partition."""
        return paths.partition_path(self.dir, period)

    def read_period(self, period: str) -> Part | None:
        """One partition, checked; ``None`` if absent. Raises :class:`Quarantined` if corrupt."""
        if period not in self.periods():
            return None
        path = self.path(period)
        try:
            part = read_part(path)
            bounds = (part.first(), part.last()) if len(part) else None
        except FileNotFoundError:
            self._periods = None
            return None
        except CorruptFile as exc:
            raise self._quarantine(period, path, str(exc)) from exc
        lo, hi = paths.period_bounds(period)
        if bounds is not None and (bounds[0] < lo or bounds[1] >= hi):
            raise self._quarantine(period, path, f"{path} holds candles outside {period}")
        # The kit checks the grid before it writes (and the checksums prove the file is what it
        # wrote); a file from elsewhere is checked here.
        if part.meta.get("foreign") and len(part) and bool(((part.times - self.offset_ms) % self.tf_ms).any()):
            raise self._quarantine(period, path, f"{path} holds candles off the {self.timeframe} grid")
        return part

    def _quarantine(self, period: str, path: Path, reason: str) -> Quarantined:
        dest = quarantine(self.root, path)
        lo, hi = paths.period_bounds(period)
        led = self.ledger
        led.forget_stored(lo, hi, f"{reason}; moved to {dest}")
        self.save_ledger()
        if self._periods is not None:
            self._periods.discard(period)
        return Quarantined(path, dest, reason)

    def read(self, start: int, end: int) -> list[Part]:
        """Parts (sliced views) covering ``[start, end)``, in time order.

        Each part holds its file open (a descriptor, or a mapping's duplicate of one) until the
        frame is built from it. After :data:`HELD_FILES_MAX` of them the next parts are copied at
        once (:meth:`Part.owned`) and their files closed, so a read of hundreds of partitions (a
        year of 1s candles is 365) fits under the descriptor limit.
        """
        out: list[Part] = []
        for period in paths.periods_between(start, end, self.unit):
            part = self.read_period(period)
            if part is not None:
                part = part.slice(start, end)
                if len(out) >= HELD_FILES_MAX:
                    part = part.owned()  # the last reference to the file's part: it closes here
                out.append(part)
        return out

    def replace(self, start: int, end: int, new: Part) -> int:
        """Make ``new`` the stored content of ``[start, end)``; returns partitions rewritten.

        Rows already stored outside the range are kept; inside it they are replaced (a fetched
        page is the exchange's whole answer for its range).
        """
        written = 0
        for period in paths.periods_between(start, end, self.unit):
            lo, hi = paths.period_bounds(period)
            a, b = max(start, lo), min(end, hi)
            try:
                old = self.read_period(period)
            except Quarantined:
                old = None
            mine = new.slice(a, b)
            if old is None and not len(mine):
                continue
            pieces = [mine] if old is None else [old.slice(lo, a), mine, old.slice(b, hi)]
            pieces = [p for p in pieces if len(p)]
            path = self.path(period)
            if not pieces:
                path.unlink(missing_ok=True)
                self.periods().discard(period)
                written += 1
                continue
            times = np.concatenate([p.times for p in pieces])
            values = [np.concatenate([p.values[i] for p in pieces]) for i in range(len(new.values))]
            meta: dict[str, Any] = {"venue": self.venue, "symbol": self.symbol, "timeframe": self.timeframe}
            write_part(path, Part(times, values, meta))
            self.periods().add(period)
            written += 1
        return written

    def merge(self, new: Part) -> int:
        """Add ``new`` rows (sorted, unique) to the stored ones; a stored row at the same time is replaced.

        Returns the number of partitions rewritten.
        """
        written = 0
        if not len(new):
            return 0
        for period in paths.periods_between(int(new.times[0]), int(new.times[-1]) + 1, self.unit):
            lo, hi = paths.period_bounds(period)
            mine = new.slice(lo, hi)
            if not len(mine):
                continue
            try:
                old = self.read_period(period)
            except Quarantined:
                old = None
            if old is not None and len(old) and old.times[-1] < mine.times[0]:  # appending: no sort needed
                mine = Part(
                    np.concatenate([old.times, mine.times]),
                    [np.concatenate([ov, mv]) for ov, mv in zip(old.values, mine.values, strict=True)],
                )
            elif old is not None and len(old):
                keep = ~np.isin(old.times, mine.times)
                times = np.concatenate([old.times[keep], mine.times])
                order = np.argsort(times, kind="stable")
                values = [np.concatenate([ov[keep], mv])[order] for ov, mv in zip(old.values, mine.values, strict=True)]
                mine = Part(times[order], values)
            meta: dict[str, Any] = {"venue": self.venue, "symbol": self.symbol, "timeframe": self.timeframe}
            write_part(self.path(period), Part(mine.times, mine.values, meta))
            self.periods().add(period)
            written += 1
        return written
