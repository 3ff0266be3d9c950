"""Where a backtest's candles come from: a range of the Parquet store, and the market's own rules.

:func:`load` fetches what the store lacks once, through a read-only Session (the same budget
and retries as every request), and builds the engine's :class:`~kit.engine.types.Market` from the
exchange's filters and fees (no hand-written tick or step). It returns a :class:`Data`: a small,
picklable description (store root, venue, symbol, timeframe, range, market), not the candles, so
that a sweep's tasks read their candles from the store themselves, partition by partition.

>>> d = Data("data", "localnet", "BTC/USDT", "5m", 1_717_372_800_000, 1_717_545_600_000, None)  # doctest: +SKIP
>>> d.candles().shape                                                                            # doctest: +SKIP
(576, 5)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from kit.engine.types import Market
from kit.errors import ConfigError, DataError

__all__ = ["Data", "load"]

#: Candles read in this process, by :class:`Data` (a sweep's worker reads each range once).
_CACHE: dict[tuple[str, str, str, str, int, int], pd.DataFrame] = {}
_CACHE_SIZE = 4


@dataclass(frozen=True)
class Data:
    """A range of stored candles and the market they trade on.

    Attributes
    ----------
    root
        The candle store's folder.
    venue, symbol, timeframe
        Which stored series (``venue`` is the store's venue name, e.g. ``"localnet"``).
    start_ms, end_ms
        Open times in ``[start_ms, end_ms)``, ms UTC.
    market
        The engine's market (tick, step, minimums, fees) from the exchange's filters.
    """

    root: str
    venue: str
    symbol: str
    timeframe: str
    start_ms: int
    end_ms: int
    market: Market | None

    def candles(self) -> pd.DataFrame:
        """The candles, read from the store's partitions (no request; cached per process)."""
        key = (str(Path(self.root).resolve()), self.venue, self.symbol, self.timeframe, self.start_ms, self.end_ms)
        hit = _CACHE.get(key)
        if hit is not None:
            return hit
        from kit.store import Store

        frame = Store(self.root).candles(
            self.symbol, self.timeframe, _ts(self.start_ms), _ts(self.end_ms), venue=self.venue, fill="drop",
            offline=True, progress=False,
        )  # fmt: skip
        if frame.empty:
            raise DataError(f"no stored {self.timeframe} candles of {self.symbol} on {self.venue} in "
                            f"[{_ts(self.start_ms)}, {_ts(self.end_ms)})",
                            hint="Fetch them first: kit candles fetch, or kit.research.load().")  # fmt: skip
        while len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = frame
        return frame

    def between(self, start: Any, end: Any) -> Data:
        """The same series over ``[start, end)`` (times or ms), e.g. one walk-forward window."""
        return Data(self.root, self.venue, self.symbol, self.timeframe, _ms(start), _ms(end), self.market)

    def need_market(self) -> Market:
        """The market, or a ConfigError saying how to get one."""
        if self.market is None:
            raise ConfigError("this Data has no market", hint="Build it with kit.research.load(), or pass market=.")
        return self.market


def _ts(ms: int) -> pd.Timestamp:
    return pd.Timestamp(int(ms), unit="ms", tz="UTC")


def _ms(value: Any) -> int:
    if isinstance(value, int):
        return value
    t = pd.Timestamp(value)
    t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
    return int(t.value // 1_000_000)


def load(symbol: str, timeframe: str, since: str | Any = "", until: str | Any = "", *, exchange: str = "localnet",
         store: str | Path = "data", now: Any = None) -> Data:  # fmt: skip
    """Fetch the period into the store (only what is missing) and describe it with the exchange's market rules.

    Parameters
    ----------
    symbol, timeframe
        ``"BTC/USDT"``, ``"5m"``.
    since, until
        ISO times, ``today`` / ``yesterday``, or offsets such as ``-2d`` (``since`` from ``until``,
        ``until`` from now); see :func:`kit.views.report.period`. Empty ``until``: the exchange's now.
    exchange
        ``"localnet"`` or a ccxt exchange id; the Session is opened read-only (no key needed).
    store
        The candle store's folder.
    now
        The present for relative times (default: the exchange's clock).

    Returns
    -------
    Data
        Aligned to the timeframe; ``end_ms`` is exclusive.

    Raises
    ------
    kit.errors.ConfigError
        Unknown symbol or timeframe, unreadable times (before any candle request).
    kit.errors.DataError
        The exchange has no candles in the period.
    """
    from kit.run.compare import market_from_session
    from kit.session import Session
    from kit.store import Store
    from kit.store.paths import align_down, timeframe_ms
    from kit.views.report import period

    tf = timeframe_ms(timeframe)
    session = Session(exchange, stage="read_only")
    try:
        market = market_from_session(session, symbol)
        source = session.candle_source()
        start, end = period(since, until, now=source.now_ms() if now is None else now)
        s_ms, e_ms = align_down(_ms(start), tf), align_down(_ms(end), tf)
        if s_ms >= e_ms:
            raise ConfigError(f"the period {start} to {end} holds no whole {timeframe} candle",
                              hint="Widen the period (since must be at least one candle before until).")  # fmt: skip
        frame = Store(store, source=source).candles(symbol, timeframe, _ts(s_ms), _ts(e_ms), fill="drop",
                                                    progress=False)  # fmt: skip
        venue = source.venue
    finally:
        session.close()
    if frame.empty:
        raise DataError(f"{exchange} has no {timeframe} candles of {symbol} from {_ts(s_ms)} to {_ts(e_ms)}",
                        hint="Choose a period the exchange has candles for.")  # fmt: skip
    return Data(str(store), venue, symbol, timeframe, s_ms, e_ms, market)
