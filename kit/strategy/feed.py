"""Candles so far: growing numpy arrays a strategy reads at each close, the same in replay and forward.

>>> f = Feed()
>>> f.append(60_000, 100.0, 101.0, 99.0, 100.5, 3.0)
>>> f.append(120_000, 100.5, 102.0, 100.0, 101.5, 2.0)
>>> len(f), f.close.tolist(), int(f.last_ms)
(2, [100.5, 101.5], 120000)
>>> f.frame().index[-1]
Timestamp('1970-01-01 00:02:00+0000', tz='UTC')
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kit.errors import DataError

__all__ = ["COLUMNS", "Feed"]

COLUMNS = ("open", "high", "low", "close", "volume")


class Feed:
    """Closed candles of one symbol, oldest first, in arrays that grow (amortised O(1) per candle).

    Parameters
    ----------
    capacity:
        Initial room; the arrays double when full.
    keep:
        Keep at most this many candles (the oldest are dropped, memory stays flat over days);
        ``None`` keeps all (replay).
    """

    __slots__ = ("_n", "_ts", "_data", "keep")

    def __init__(self, capacity: int = 1024, *, keep: int | None = None) -> None:
        self._n = 0
        self._ts = np.zeros(capacity, dtype="int64")
        self._data = np.zeros((len(COLUMNS), capacity), dtype="float64")
        self.keep = keep

    @classmethod
    def from_frame(cls, candles: pd.DataFrame) -> Feed:
        """A feed holding every candle of ``candles`` (UTC-indexed open, high, low, close, volume)."""
        missing = [c for c in COLUMNS if c not in candles.columns]
        if missing:
            raise DataError(f"candles need columns {COLUMNS}; missing {missing}",
                            hint="Pass a frame as Session.candles() or the store returns it.")  # fmt: skip
        f = cls(max(1, len(candles)))
        f._n = len(candles)
        f._ts[: f._n] = pd.DatetimeIndex(candles.index).as_unit("ms").asi8
        for k, c in enumerate(COLUMNS):
            f._data[k, : f._n] = candles[c].to_numpy(dtype="float64")
        return f

    def append(self, ts_ms: int, o: float, h: float, lo: float, c: float, v: float) -> None:
        """Add one closed candle (open time ``ts_ms``); it must be newer than the last one."""
        if self._n and ts_ms <= self._ts[self._n - 1]:
            raise DataError(f"candle at {ts_ms} is not newer than the last one ({int(self._ts[self._n - 1])})",
                            hint="Feed candles oldest first, each once.")  # fmt: skip
        if self._n == len(self._ts):
            if self.keep is not None and self._n >= 2 * self.keep:
                drop = self._n - self.keep
                self._ts[: self.keep] = self._ts[drop : self._n]
                self._data[:, : self.keep] = self._data[:, drop : self._n]
                self._n = self.keep
            else:
                self._ts = np.concatenate([self._ts, np.zeros(len(self._ts), dtype="int64")])
                self._data = np.concatenate([self._data, np.zeros_like(self._data)], axis=1)
        self._ts[self._n] = ts_ms
        self._data[:, self._n] = (o, h, lo, c, v)
        self._n += 1

    def __len__(self) -> int:
        return self._n

    def cut(self, n: int) -> None:
        """Show only the first ``n`` candles (replay advances through a full feed this way)."""
        self._n = n

    @property
    def ts(self) -> np.ndarray:
        """Open times, ms UTC."""
        return self._ts[: self._n]

    @property
    def last_ms(self) -> int:
        """Open time of the newest candle (0 when empty)."""
        return int(self._ts[self._n - 1]) if self._n else 0

    @property
    def open(self) -> np.ndarray:
        """Opens so far (a view: do not write into it)."""
        return self._data[0, : self._n]

    @property
    def high(self) -> np.ndarray:
        """Highs so far."""
        return self._data[1, : self._n]

    @property
    def low(self) -> np.ndarray:
        """Lows so far."""
        return self._data[2, : self._n]

    @property
    def close(self) -> np.ndarray:
        """Closes so far."""
        return self._data[3, : self._n]

    @property
    def volume(self) -> np.ndarray:
        """Volumes so far."""
        return self._data[4, : self._n]

    def frame(self, last: int | None = None) -> pd.DataFrame:
        """The candles so far (or the ``last`` ones) as a UTC-indexed DataFrame (a copy)."""
        lo = 0 if last is None else max(0, self._n - last)
        idx = pd.DatetimeIndex(pd.to_datetime(self._ts[lo : self._n], unit="ms", utc=True), name="time")
        return pd.DataFrame({c: self._data[k, lo : self._n].copy() for k, c in enumerate(COLUMNS)}, index=idx)
