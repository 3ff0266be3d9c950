"""Integrity rules for candles: what a page from the exchange may contain, and what a stored series must.

Pure functions over numpy arrays; the store decides what to do with the findings. Rules:

- **aligned**: the open time sits on the timeframe grid (epoch-aligned; weeks on Monday).
- **unique**: one candle per open time; duplicates in a page collapse to the last one received.
- **OHLC**: ``low <= min(open, close)``, ``high >= max(open, close)``, ``low <= high``,
  ``volume >= 0``, all finite. A violating candle is stored as received (never "repaired") and
  reported: by :meth:`Store.verify` row by row, and by a warning whenever it is read.
- **closed**: a candle is stored only once ``open + timeframe <= exchange now - settle``.

Examples
--------
>>> import numpy as np
>>> o, h, l, c, v = (np.array(x, dtype=float) for x in ([1, 1], [2, 0.5], [0.5, 0.4], [1.5, 1], [3, 1]))
>>> ohlc_mask((o, h, l, c, v)).tolist()
[False, True]
>>> page = parse_page([[0, 1, 2, 0.5, 1, 1], [60_000, 1, 2, 0.5, 1, 1], [90_000, 1, 1, 1, 1, 1]],
...                   since=0, end=600_000, limit=1000, tf_ms=60_000, offset_ms=0, closed_end=600_000)
>>> page.part.times.tolist(), page.covered_end, [i["kind"] for i in page.issues]
([0, 60000], 600000, ['misaligned'])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kit.store.parquet import COLUMNS, I64, Part, ohlc_mask

__all__ = ["Page", "ohlc_mask", "ohlc_problem", "parse_page", "runs"]

Issue = dict[str, Any]


def ohlc_problem(o: float, h: float, low: float, c: float, v: float) -> str:
    """Which OHLC rule one candle breaks, in words."""
    probs = []
    if not all(np.isfinite([o, h, low, c, v])):
        probs.append("a value is not finite")
    if low > min(o, c):
        probs.append(f"low {low} above open/close")
    if h < max(o, c):
        probs.append(f"high {h} below open/close")
    if low > h:
        probs.append(f"low {low} above high {h}")
    if v < 0:
        probs.append(f"negative volume {v}")
    return "; ".join(probs)


def runs(times: I64, tf_ms: int) -> list[tuple[int, int]]:
    """Maximal runs of consecutive candles as ``[start, end)`` spans (``times`` sorted, unique).

    >>> runs(np.array([0, 60_000, 180_000]), 60_000)
    [(0, 120000), (180000, 240000)]
    """
    if len(times) == 0:
        return []
    breaks = np.flatnonzero(np.diff(times) != tf_ms)
    starts = np.concatenate(([0], breaks + 1))
    ends = np.concatenate((breaks, [len(times) - 1]))
    return [(int(times[a]), int(times[b]) + tf_ms) for a, b in zip(starts, ends, strict=True)]


@dataclass
class Page:
    """What one ``fetch_ohlcv`` answer establishes.

    ``part`` holds the closed, aligned candles in ``[since, covered_end)``; every other slot of
    that range is confirmed empty (the exchange was asked for it and returned nothing there).
    """

    part: Part
    covered_end: int
    issues: list[Issue] = field(default_factory=list)
    raw: int = 0


def parse_page(
    rows: Sequence[Sequence[float]], *, since: int, end: int, limit: int, tf_ms: int, offset_ms: int, closed_end: int
) -> Page:
    """Interpret one page of ccxt OHLCV rows asked for with ``since`` and ``limit``.

    Parameters
    ----------
    rows
        ``[[t, o, h, l, c, v], ...]`` as ccxt returns them.
    since, limit
        What was asked for.
    end
        End of the range being filled (exclusive); rows at or after it are ignored.
    tf_ms, offset_ms
        Timeframe length and grid offset.
    closed_end
        Candles opening before this are closed (``align_down(exchange now - settle)``).

    Returns
    -------
    Page
        A full page (``limit`` rows) covers up to its last row; a short page means the exchange
        has nothing more before its present, so it covers up to ``end``.
    """
    end = min(end, closed_end)
    issues: list[Issue] = []
    if len(rows):
        arr = np.asarray(rows, dtype=np.float64).reshape(len(rows), -1)
        times = arr[:, 0].astype(np.int64)
    else:
        arr = np.empty((0, 6))
        times = np.empty(0, dtype=np.int64)
    aligned = (times - offset_ms) % tf_ms == 0
    for t in times[~aligned]:
        issues.append(
            {
                "time": int(t),
                "kind": "misaligned",
                "detail": f"the exchange returned a candle at {int(t)} ms, off the {tf_ms} ms grid; not stored",
            }
        )
    if len(rows) >= limit and len(times):
        covered_end = min(end, align_grid(int(times.max()) + 1, tf_ms, offset_ms))
    else:
        covered_end = end
    keep = aligned & (times >= since) & (times < covered_end)
    sel = np.flatnonzero(keep)
    sel = sel[np.argsort(times[sel], kind="stable")]
    t_sel = times[sel]
    if len(t_sel) > 1:
        last = np.ones(len(t_sel), dtype=bool)
        last[:-1] = t_sel[1:] != t_sel[:-1]  # keep the last of equal times (stable sort keeps arrival order)
        for t in np.unique(t_sel[~last]):
            issues.append(
                {
                    "time": int(t),
                    "kind": "duplicate",
                    "detail": "the exchange returned this candle more than once; kept the last",
                }
            )
        sel = sel[last]
    part = Part(times[sel], [np.ascontiguousarray(arr[sel, i + 1]) for i in range(len(COLUMNS))])
    bad = ohlc_mask(part.values)
    for i in np.flatnonzero(bad):
        vals = [float(v[i]) for v in part.values]
        issues.append(
            {"time": int(part.times[i]), "kind": "ohlc", "detail": ohlc_problem(*vals) + "; stored as received"}
        )
    return Page(part, max(covered_end, since), issues, len(rows))


def align_grid(ts_ms: int, tf_ms: int, offset_ms: int) -> int:
    """Grid boundary at or after ``ts_ms`` (a misaligned last row still proves what came before it)."""
    return ts_ms + (-(ts_ms - offset_ms)) % tf_ms
