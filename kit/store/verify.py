"""``Store.verify``: check every file of a series against the rules and against its ledger.

Checks, and what is done about each (column ``action``):

==============  ==========================================================  =====================
check           finding                                                      action
==============  ==========================================================  =====================
corrupt         unreadable, checksum or metadata mismatch, wrong columns     quarantined
misaligned      open time off the timeframe grid                            quarantined (file)
outside         candle outside its partition's period                       quarantined (file)
duplicate       the same open time twice (only in files not written by kit)  reported
ohlc            low above open/close, high below, low above high,            reported
                negative volume, non-finite value
not-in-files    the ledger says stored, the candle is not on disk            ledger: missing
not-in-ledger   a candle on disk where the ledger is not ``stored``          reported
temp-file       leftover of an interrupted write (no reader sees it)         removed
fetch:<kind>    anomaly seen while fetching (misaligned, duplicate, ohlc,   reported
                quarantined), from the ledger's ``issues``
==============  ==========================================================  =====================
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from kit.store import paths
from kit.store.checks import ohlc_mask, ohlc_problem
from kit.store.parquet import CorruptFile, Part, quarantine, read_part
from kit.store.series import Series

__all__ = ["REPORT_COLUMNS", "verify_series"]

REPORT_COLUMNS = ["venue", "symbol", "timeframe", "period", "time", "check", "detail", "action"]
MAX_ROWS_PER_CHECK = 1000


def verify_series(series: Series) -> list[dict[str, Any]]:
    """Report rows for one series (see module docstring); fixes what the table says it fixes."""
    rows: list[dict[str, Any]] = []

    def add(period: str | None, ts: int | None, check: str, detail: str, action: str = "reported") -> None:
        if sum(1 for r in rows if r["check"] == check) >= MAX_ROWS_PER_CHECK:
            return
        rows.append(
            {
                "venue": series.venue,
                "symbol": series.symbol,
                "timeframe": series.timeframe,
                "period": period,
                "time": pd.NaT if ts is None else pd.Timestamp(ts, unit="ms", tz="UTC"),
                "check": check,
                "detail": detail,
                "action": action,
            }
        )

    tf, off = series.tf_ms, series.offset_ms
    with series.lock():
        led = series.ledger
        for tmp in series.dir.rglob(".*.tmp"):
            tmp.unlink(missing_ok=True)
            add(None, None, "temp-file", f"{tmp.name}: leftover of an interrupted write", "removed")
        on_disk: list[np.ndarray[Any, np.dtype[np.int64]]] = []
        for pdir in sorted(series.dir.glob("period=*")):
            period = pdir.name.split("=", 1)[1]
            path = pdir / paths.PART_NAME
            if not path.exists():
                continue
            try:
                part = read_part(path)
            except CorruptFile as exc:
                dest = quarantine(series.root, path)
                lo, hi = paths.period_bounds(period)
                led.forget_stored(lo, hi, f"{exc.message}; moved to {dest}")
                add(period, None, "corrupt", exc.message, f"quarantined to {dest}")
                continue
            lo, hi = paths.period_bounds(period)
            bad_grid = (part.times - off) % tf != 0
            outside = (part.times < lo) | (part.times >= hi)
            for t in part.times[bad_grid]:
                add(period, int(t), "misaligned", f"open time off the {series.timeframe} grid")
            for t in part.times[outside]:
                add(period, int(t), "outside", f"candle outside partition {period}")
            if bad_grid.any() or outside.any():
                dest = quarantine(series.root, path)
                led.forget_stored(lo, hi, f"misaligned or misplaced candles; moved to {dest}")
                add(period, None, "quarantined", "the file breaks the layout rules", f"quarantined to {dest}")
                continue
            if part.meta.get("duplicates"):
                add(
                    period, None, "duplicate", f"{part.meta['duplicates']} duplicate open time(s); the last one is read"
                )
            _ohlc_rows(part, period, add)
            on_disk.append(part.times)
        times = np.concatenate(on_disk) if on_disk else np.empty(0, dtype=np.int64)
        expected = _stored_grid(series)
        for t in np.setdiff1d(expected, times, assume_unique=True)[:MAX_ROWS_PER_CHECK]:
            add(
                paths.period_of(int(t), series.unit),
                int(t),
                "not-in-files",
                "the ledger says stored but the candle is not on disk",
                "ledger: missing (fetched again)",
            )
        lost = np.setdiff1d(expected, times, assume_unique=True)
        for a, b in _runs_of(lost, tf):
            led.mark(a, b, "missing")
        for t in np.setdiff1d(times, expected, assume_unique=True)[:MAX_ROWS_PER_CHECK]:
            add(
                paths.period_of(int(t), series.unit),
                int(t),
                "not-in-ledger",
                "a candle on disk where the ledger does not say stored (a write interrupted before its ledger update)",
            )
        for issue in led.issues:
            t = issue.get("time")
            add(
                None if t is None else paths.period_of(int(t), series.unit),
                None if t is None else int(t),
                f"fetch:{issue.get('kind')}",
                str(issue.get("detail", "")),
            )
        series.save_ledger()
    return rows


def _ohlc_rows(part: Part, period: str, add: Any) -> None:
    mask = ohlc_mask(part.values)
    for i in np.flatnonzero(mask)[:MAX_ROWS_PER_CHECK]:
        vals = [float(v[i]) for v in part.values]
        add(period, int(part.times[i]), "ohlc", ohlc_problem(*vals))


def _stored_grid(series: Series) -> np.ndarray[Any, np.dtype[np.int64]]:
    spans = [s for s in series.ledger.spans if s.status == "stored"]
    if not spans:
        return np.empty(0, dtype=np.int64)
    return np.concatenate([np.arange(s.start, s.end, series.tf_ms, dtype=np.int64) for s in spans])


def _runs_of(times: np.ndarray[Any, np.dtype[np.int64]], tf: int) -> list[tuple[int, int]]:
    from kit.store.checks import runs

    return runs(times, tf)
