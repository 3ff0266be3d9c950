"""Higher timeframes from stored lower ones, on exchange boundaries, with gaps kept honest.

Buckets sit on the exchange's grid: epoch-aligned UTC (``1h`` opens at :00, ``4h`` at 00:00,
04:00 ... UTC, ``1d`` at 00:00 UTC), weeks on Monday 00:00 UTC. A bucket's candle is
``open`` of its first base candle, ``high``/``low`` the extremes, ``close`` of its last, ``volume``
the sum: what the exchange itself serves when every base slot is known.

A bucket is **complete** when each of its base slots is stored or confirmed empty (downtime: the
exchange's own candle for that window has the same values). It is **partial** when any base slot
is unknown (never fetched, failed, or not closed yet); its values would be wrong, so partial
buckets are dropped by default, or kept with ``partial=True`` when asked for.

Examples
--------
>>> import numpy as np
>>> t = np.arange(0, 7_200_000, 60_000)                   # two hours of 1m candles
>>> v = [np.arange(120.0), np.arange(120.0) + 1, np.arange(120.0) - 1, np.arange(120.0), np.ones(120)]
>>> out, partial = resample(t, v, tf_ms=3_600_000, offset_ms=0, unknown=[(3_600_000, 3_660_000)])
>>> out[0].tolist(), [x.tolist() for x in out[1]], partial.tolist()
([0, 3600000], [[0.0, 60.0], [60.0, 120.0], [-1.0, 59.0], [59.0, 119.0], [60.0, 60.0]], [False, True])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from kit.store.parquet import F64, I64

__all__ = ["resample"]


def resample(
    times: I64, values: Sequence[F64], *, tf_ms: int, offset_ms: int, unknown: Sequence[tuple[int, int]]
) -> tuple[tuple[I64, list[F64]], npt.NDArray[np.bool_]]:
    """Aggregate sorted base candles into ``tf_ms`` buckets.

    Parameters
    ----------
    times, values
        Base candles: open times (sorted, unique) and open, high, low, close, volume.
    tf_ms, offset_ms
        Target timeframe and its grid offset.
    unknown
        Base ranges ``[a, b)`` that are neither stored nor confirmed empty.

    Returns
    -------
    ((bucket_times, [open, high, low, close, volume]), partial)
        One row per bucket holding at least one base candle; ``partial`` marks buckets that
        overlap an unknown range.
    """
    o, h, low, c, v = values
    if len(times) == 0:
        empty = np.empty(0)
        return (np.empty(0, dtype=np.int64), [empty, empty, empty, empty, empty]), np.empty(0, dtype=np.bool_)
    key = (times - offset_ms) // tf_ms
    starts = np.concatenate(([0], np.flatnonzero(np.diff(key)) + 1))
    ends = np.concatenate((starts[1:], [len(times)])) - 1
    bucket = key[starts] * tf_ms + offset_ms
    out = [
        o[starts],
        np.maximum.reduceat(h, starts),
        np.minimum.reduceat(low, starts),
        c[ends],
        np.add.reduceat(v, starts),
    ]
    return (bucket.astype(np.int64), out), partial_mask(bucket, tf_ms, offset_ms, unknown)


def partial_mask(bucket: I64, tf_ms: int, offset_ms: int, unknown: Sequence[tuple[int, int]]) -> npt.NDArray[np.bool_]:
    """True for buckets (open times, sorted) that overlap any unknown ``[a, b)`` range."""
    mask = np.zeros(len(bucket), dtype=np.bool_)
    for a, b in unknown:
        lo = a - (a - offset_ms) % tf_ms
        hi = (b - 1) - ((b - 1) - offset_ms) % tf_ms
        mask[int(np.searchsorted(bucket, lo, side="left")) : int(np.searchsorted(bucket, hi, side="right"))] = True
    return mask
