"""The candle store: :class:`Store`, a Parquet cache of exchange candles filled through a Session.

See ``docs/store.md`` for the layout, the ledger statuses and the read-path design.
"""

from __future__ import annotations

import os
import time
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from kit.errors import ConfigError, DataError
from kit.store import paths
from kit.store.fill import CandleWarning, coalesce, fill_ranges
from kit.store.parquet import COLUMNS, F64, I64, Part, frame_from_parts
from kit.store.resample import partial_mask, resample
from kit.store.series import Quarantined, Series
from kit.store.source import CandleSource

__all__ = ["Store"]

Fill = Literal["ffill", "drop"] | None
_UTC_HINT = "Pass a timezone-aware UTC time, e.g. pd.Timestamp('2024-01-01', tz='UTC')."


def to_ms(value: Any, name: str) -> int:
    """A tz-aware time (Timestamp, datetime, ISO text with offset, datetime64 is refused) as epoch ms."""
    if isinstance(value, bool) or isinstance(value, int | float | np.integer | np.floating | np.datetime64):
        raise ConfigError(f"{name}={value!r} is not a timezone-aware time", hint=_UTC_HINT)
    if not isinstance(value, str | datetime):
        raise ConfigError(f"{name} must be a time, got {type(value).__name__}", hint=_UTC_HINT)
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{name}={value!r} is not a time: {exc}", hint=_UTC_HINT) from exc
    if pd.isna(ts):
        raise ConfigError(f"{name} is NaT", hint=_UTC_HINT)
    if ts.tzinfo is None:
        raise ConfigError(
            f"{name}={value!r} has no timezone; the store works in UTC and will not guess", hint=_UTC_HINT
        )
    return int(ts.value // 1_000_000)  # .value is always nanoseconds


def _ts(ms: int) -> pd.Timestamp:
    return pd.Timestamp(ms, unit="ms", tz="UTC")


class Store:
    """Candles cached as Parquet under ``root``, fetched through a :class:`~kit.store.source.CandleSource`.

    Parameters
    ----------
    root
        Directory of the store (created on first write); ``data`` by default.
    source
        Default source for fetching, usually ``session.candle_source()``; ``None`` reads only.
    settle_ms
        A candle is stored only once ``open + timeframe <= exchange now - settle_ms`` (the
        still-forming candle is never stored as final).

    Examples
    --------
    >>> store = Store("data", source=session.candle_source())          # doctest: +SKIP
    >>> bars = store.candles("BTC/USDT", "1m", pd.Timestamp("2024-01-01", tz="UTC"),
    ...                      pd.Timestamp("2024-02-01", tz="UTC"))    # doctest: +SKIP
    >>> store.coverage("BTC/USDT", "1m", venue="binance")               # doctest: +SKIP
    """

    def __init__(
        self, root: str | Path = "data", source: CandleSource | None = None, *, settle_ms: int = 1_000
    ) -> None:
        self.root = Path(root)
        self.source = source
        self.settle_ms = int(settle_ms)
        self._series: dict[tuple[str, str, str], Series] = {}

    def __repr__(self) -> str:
        src = getattr(self.source, "venue", None)
        return f"Store({str(self.root)!r}, source={src!r})"

    # ------------------------------------------------------------------ public API
    def candles(
        self,
        symbol: str,
        timeframe: str,
        start: Any,
        end: Any = None,
        *,
        source: CandleSource | None = None,
        venue: str | None = None,
        fill: Fill = None,
        resample_from: str | None = None,
        partial: bool = False,
        offline: bool = False,
        recheck: bool = False,
        progress: bool = True,
    ) -> pd.DataFrame:
        """Candles with open time in ``[start, end)``, fetching only what is not stored yet.

        Parameters
        ----------
        symbol, timeframe
            Unified symbol (``"BTC/USDT"``) and timeframe (``"1m"``, ``"1h"``, ``"1d"`` ...).
        start, end
            Timezone-aware times (naive ones are refused). ``end=None``: up to the last closed
            candle (needs a source, or reads up to what is stored).
        source
            Overrides the store's default source for this call.
        venue
            Which stored venue to read; defaults to the source's, or the only one stored.
        fill
            ``None`` (default): one row per grid slot, NaN where there is no candle (gaps stay
            visible); ``"drop"``: only real candles; ``"ffill"``: a gap becomes flat candles at the
            previous close with volume 0 (leading gaps stay NaN).
        resample_from
            Build ``timeframe`` from this stored lower timeframe (automatic when the source does not
            serve ``timeframe``).
        partial
            With resampling: keep buckets that overlap unknown base candles, with a boolean
            ``partial`` column (default: drop them).
        offline
            Never fetch; read what is stored (unknown slots are NaN rows, see :meth:`coverage`).
        recheck
            Also ask the exchange again about ranges recorded as empty or failed.
        progress
            Show a progress bar (tqdm) on fetches longer than two pages.

        Returns
        -------
        pandas.DataFrame
            Indexed by UTC open time ``time``; columns open, high, low, close, volume (float64).

        Raises
        ------
        ConfigError
            Bad input (naive time, start not before end, unknown symbol or timeframe); no request
            was sent.
        DataError
            Ranges are not stored and there is no source to fetch them.
        """
        tf_ms = paths.timeframe_ms(timeframe)
        paths.symbol_dir(symbol)
        if fill not in (None, "ffill", "drop"):
            raise ConfigError(
                f"fill={fill!r} is not one of None, 'ffill', 'drop'",
                hint="Use fill=None to keep gaps as NaN rows, 'drop' to omit them, 'ffill' to fill them.",
            )
        s_ms = to_ms(start, "start")
        e_ms = None if end is None else to_ms(end, "end")
        if e_ms is not None and s_ms >= e_ms:
            raise ConfigError(
                f"start {_ts(s_ms)} is not before end {_ts(e_ms)}",
                hint="Swap them, or widen the range; end is exclusive.",
            )
        src = source if source is not None else self.source
        venue = self._venue(symbol, timeframe, venue, src, resample_from)
        base = self._base_timeframe(symbol, timeframe, tf_ms, venue, src, resample_from)
        if base is not None:
            return self._resampled(
                symbol, timeframe, base, s_ms, e_ms, venue, src, fill, partial, offline, recheck, progress
            )
        parts, g0, g1 = self._load(symbol, timeframe, s_ms, e_ms, venue, src, offline, recheck, progress)
        return _assemble(parts, g0, g1, tf_ms, fill)

    def coverage(
        self, symbol: str, timeframe: str, *, venue: str | None = None, start: Any = None, end: Any = None
    ) -> pd.DataFrame:
        """What is known about every interval of a series: columns start, end, status, candles, note.

        ``status`` is ``stored``, ``empty`` (confirmed empty on the exchange: downtime), ``failed``
        (the note says why) or ``missing`` (never fetched). Intervals are ``[start, end)``.
        """
        paths.timeframe_ms(timeframe)
        venue = self._venue(symbol, timeframe, venue, self.source, None)
        series = self._get_series(venue, symbol, timeframe)
        lo = None if start is None else to_ms(start, "start")
        hi = None if end is None else to_ms(end, "end")
        spans = series.ledger.with_missing(lo, hi)
        tf = series.tf_ms
        return pd.DataFrame(
            {
                "start": pd.DatetimeIndex([_ts(s.start) for s in spans], dtype="datetime64[ms, UTC]"),
                "end": pd.DatetimeIndex([_ts(s.end) for s in spans], dtype="datetime64[ms, UTC]"),
                "status": pd.Series([s.status for s in spans], dtype=object),
                "candles": np.array(
                    [(s.end - s.start) // tf if s.status == "stored" else 0 for s in spans], dtype=np.int64
                ),
                "note": pd.Series([s.note for s in spans], dtype=object),
            }
        )

    def coverage_figure(
        self, symbol: str, timeframe: str, *, venue: str | None = None, start: Any = None, end: Any = None
    ) -> Any:
        """A plotly timeline of :meth:`coverage` (one lane per status)."""
        try:
            import plotly.express as px
        except ImportError as exc:  # pragma: no cover - plotly is a dependency
            raise ConfigError("plotly is not installed", hint="pip install plotly") from exc
        cov = self.coverage(symbol, timeframe, venue=venue, start=start, end=end)
        colors = {"stored": "#2ca02c", "empty": "#7f7f7f", "failed": "#d62728", "missing": "#ff7f0e"}
        fig = px.timeline(
            cov,
            x_start="start",
            x_end="end",
            y="status",
            color="status",
            hover_data=["candles", "note"],
            color_discrete_map=colors,
            category_orders={"status": list(colors)},
            title=f"{symbol} {timeframe} coverage ({venue or 'store'})",
        )
        fig.update_yaxes(title=None)
        return fig

    def ls(self) -> pd.DataFrame:
        """One row per stored series: venue, symbol, timeframe, first, last, candles, empty, failed, files, bytes."""
        rows = []
        for venue, symbol, timeframe in self._all_series():
            series = self._get_series(venue, symbol, timeframe)
            led = series.ledger
            stored = [s for s in led.spans if s.status == "stored"]
            files = [series.path(p) for p in sorted(series.periods())]
            rows.append(
                {
                    "venue": venue,
                    "symbol": led.symbol,
                    "timeframe": timeframe,
                    "first": _ts(stored[0].start) if stored else pd.NaT,
                    "last": _ts(stored[-1].end - series.tf_ms) if stored else pd.NaT,
                    "candles": led.stored_candles(),
                    "empty": sum(1 for s in led.spans if s.status == "empty"),
                    "failed": sum(1 for s in led.spans if s.status == "failed"),
                    "files": len(files),
                    "bytes": sum(f.stat().st_size for f in files if f.exists()),
                }
            )
        cols = ["venue", "symbol", "timeframe", "first", "last", "candles", "empty", "failed", "files", "bytes"]
        return pd.DataFrame(rows, columns=cols)

    def verify(
        self, symbol: str | None = None, timeframe: str | None = None, *, venue: str | None = None
    ) -> pd.DataFrame:
        """Check stored series; see :func:`kit.store.verify.verify_series` for the checks and actions."""
        from kit.store.verify import REPORT_COLUMNS, verify_series

        rows: list[dict[str, Any]] = []
        for v, s, tf in self._all_series():
            if (
                (venue is None or v == venue)
                and (timeframe is None or tf == timeframe)
                and (symbol is None or paths.symbol_dir(symbol) == paths.symbol_dir(s))
            ):
                rows += verify_series(self._get_series(v, s, tf))
        return pd.DataFrame(rows, columns=REPORT_COLUMNS)

    def put(self, frame: pd.DataFrame, symbol: str, timeframe: str, *, venue: str) -> int:
        """Store candles from a DataFrame (e.g. imported from elsewhere); returns partitions rewritten.

        Runs of candles become ``stored``; slots between them stay ``missing`` (an import cannot
        confirm that the exchange had nothing there). A stored candle at the same time is replaced.
        """
        series = self._get_series(paths.check_venue(venue), symbol, timeframe)
        part = _part_from_frame(frame, series)
        if not len(part):
            return 0
        from kit.store.checks import runs

        with series.lock():
            written = series.merge(part)
            for a, b in runs(part.times, series.tf_ms):
                series.ledger.mark(a, b, "stored", note="")
            series.save_ledger()
        return written

    def sql(self, query: str, params: Any = None) -> pd.DataFrame:
        """Run DuckDB SQL over every stored file (a view ``candles`` over the Hive layout).

        The view has columns venue, symbol (unified, ``BTC/USDT``), timeframe, period, time (UTC),
        open, high, low, close, volume.

        >>> store.sql("select symbol, count(*) n from candles group by symbol")  # doctest: +SKIP
        """
        import duckdb

        con = duckdb.connect()
        try:
            con.execute("SET TimeZone = 'UTC'")
            con.execute(self._view_sql())
            return con.execute(query, params).df() if params is not None else con.execute(query).df()
        finally:
            con.close()

    # ------------------------------------------------------------------ internals
    def _view_sql(self) -> str:
        glob = (self.root / paths.CANDLES_DIR).resolve().as_posix().replace("'", "''") + "/*/*/*/*/" + paths.PART_NAME
        cols = "time, open, high, low, close, volume"
        has_files = any((self.root / paths.CANDLES_DIR).glob("*/*/*/*/" + paths.PART_NAME))
        if not has_files:
            return (
                "CREATE VIEW candles AS SELECT NULL::VARCHAR venue, NULL::VARCHAR symbol, NULL::VARCHAR timeframe, "
                "NULL::VARCHAR period, NULL::TIMESTAMPTZ time, NULL::DOUBLE open, NULL::DOUBLE high, "
                "NULL::DOUBLE low, NULL::DOUBLE close, NULL::DOUBLE volume WHERE false"
            )
        return (
            "CREATE VIEW candles AS SELECT venue, "
            "replace(regexp_replace(symbol, '_', '/'), '-', ':') AS symbol, timeframe, period, "
            f"{cols} FROM read_parquet('{glob}', hive_partitioning = true, "
            "hive_types = {'venue': VARCHAR, 'symbol': VARCHAR, 'timeframe': VARCHAR, 'period': VARCHAR})"
        )

    def _get_series(self, venue: str, symbol: str, timeframe: str) -> Series:
        key = (venue, paths.symbol_dir(symbol), timeframe)
        s = self._series.get(key)
        if s is None:
            s = self._series[key] = Series(self.root, venue, symbol, timeframe)
        return s

    def _all_series(self) -> list[tuple[str, str, str]]:
        out = []
        base = self.root / paths.CANDLES_DIR
        for d in sorted(base.glob("venue=*/symbol=*/timeframe=*")):
            if d.is_dir():
                venue = d.parent.parent.name.split("=", 1)[1]
                symbol = paths.symbol_from_dir(d.parent.name.split("=", 1)[1])
                out.append((venue, symbol, d.name.split("=", 1)[1]))
        return out

    def _stored_venues(self, symbol: str, timeframe: str | None) -> list[str]:
        # venue=*/symbol=<sd>/timeframe=<tf or *>, listed with scandir: a glob compiles its pattern
        # into regular expressions first (~0.15 ms of a fresh process's first read, #18).
        sd = paths.symbol_dir(symbol)
        found: set[str] = set()
        for venue_dir in _subdirs(self.root / paths.CANDLES_DIR, "venue="):
            sym = os.path.join(venue_dir.path, f"symbol={sd}")
            if timeframe is not None:
                hit = os.path.isdir(os.path.join(sym, f"timeframe={timeframe}"))
            else:
                hit = any(True for _ in _subdirs(sym, "timeframe="))
            if hit:
                found.add(venue_dir.name.split("=", 1)[1])
        return sorted(found)

    def _venue(
        self, symbol: str, timeframe: str, venue: str | None, src: CandleSource | None, resample_from: str | None
    ) -> str:
        if src is not None:
            sv = paths.check_venue(src.venue)
            if venue is not None and venue != sv:
                raise ConfigError(
                    f"venue={venue!r} but the source is {sv!r}",
                    hint="Leave venue out when passing a source, or pass the matching source.",
                )
            return sv
        if venue is not None:
            return paths.check_venue(venue)
        found = self._stored_venues(symbol, None)
        if len(found) == 1:
            return found[0]
        if not found:
            raise DataError(
                f"nothing is stored for {symbol} under {self.root}",
                symbol=symbol,
                hint="Pass source=session.candle_source() to fetch it (or the right root=).",
            )
        raise ConfigError(
            f"{symbol} is stored for several venues: {', '.join(found)}",
            symbol=symbol,
            hint="Pass venue=... to choose one.",
        )

    def _base_timeframe(
        self, symbol: str, timeframe: str, tf_ms: int, venue: str, src: CandleSource | None, resample_from: str | None
    ) -> str | None:
        if resample_from is not None:
            base_ms = paths.timeframe_ms(resample_from)
            off, boff = paths.timeframe_offset_ms(timeframe), paths.timeframe_offset_ms(resample_from)
            if base_ms >= tf_ms or tf_ms % base_ms or (off - boff) % base_ms:
                raise ConfigError(
                    f"{timeframe} cannot be built from {resample_from}",
                    hint="resample_from must be a smaller timeframe that divides it, e.g. 1h from 1m.",
                )
            if src is not None and resample_from not in src.timeframes():
                raise ConfigError(
                    f"the exchange does not serve {resample_from} candles",
                    hint=f"Use one of {', '.join(src.timeframes())}.",
                )
            return resample_from
        if src is not None:
            served = src.timeframes()
            if timeframe in served:
                return None
            best = _divisor(timeframe, tf_ms, served)
            if best is None:
                raise ConfigError(
                    f"unknown timeframe {timeframe!r} for {src.venue}, and no served timeframe divides it",
                    hint=f"Use one of {', '.join(served)}.",
                )
            return best
        if self._get_series(venue, symbol, timeframe).exists():
            return None
        stored = {
            tf: paths.timeframe_ms(tf)
            for v, s, tf in self._all_series()
            if v == venue and paths.symbol_dir(s) == paths.symbol_dir(symbol)
        }
        return _divisor(timeframe, tf_ms, stored)

    def _load(
        self,
        symbol: str,
        timeframe: str,
        s_ms: int,
        e_ms: int | None,
        venue: str,
        src: CandleSource | None,
        offline: bool,
        recheck: bool,
        progress: bool,
    ) -> tuple[list[Part], int, int]:
        """Ensure, then read, candles; returns (parts, grid start, grid end)."""
        series = self._get_series(venue, symbol, timeframe)
        tf, off = series.tf_ms, series.offset_ms
        g0 = paths.align_up(s_ms, tf, off)
        g1 = None if e_ms is None else paths.align_up(e_ms, tf, off)
        for _attempt in range(3):
            grid_end = self._ensure(series, g0, g1, src, offline, recheck, progress)
            try:
                parts = series.read(g0, grid_end) if grid_end > g0 else []
            except Quarantined as q:
                warnings.warn(
                    f"{q.reason}; moved to {q.dest}; "
                    + (
                        "fetching the range again"
                        if src is not None and not offline
                        else "its candles are missing until fetched again with a source"
                    ),
                    CandleWarning,
                    stacklevel=3,
                )
                continue
            _warn_ohlc(parts, series)
            return parts, g0, grid_end
        raise DataError(f"{symbol} {timeframe}: stored files kept failing their checks", symbol=symbol)

    def _ensure(
        self,
        series: Series,
        g0: int,
        g1: int | None,
        src: CandleSource | None,
        offline: bool,
        recheck: bool,
        progress: bool,
    ) -> int:
        """Fetch what is unknown in ``[g0, g1)`` (``g1=None``: up to now); return the grid end to read."""
        led = series.ledger
        known_end = max(led.known_end() or g0, g0)
        limit = g1 if g1 is not None else known_end
        todo = led.unknown(g0, limit)
        if offline:
            return min(limit, known_end)
        if not todo and g1 is not None and not recheck:
            return g1  # everything known: no source needed, no request
        if src is None:
            # Without a source the local clock stands in for the exchange's: the future is not a gap.
            wall_end = paths.align_down(int(time.time() * 1000) - self.settle_ms, series.tf_ms, series.offset_ms)
            todo = [(a, min(b, wall_end)) for a, b in todo if a < wall_end]
            if not todo and not recheck:
                return min(limit, known_end)  # up to what is stored
            shown = ", ".join(f"{_ts(a)} to {_ts(b)}" for a, b in todo[:3])
            raise DataError(
                f"{len(todo)} range(s) of {series.symbol} {series.timeframe} on {series.venue} are not stored "
                f"({shown}{', ...' if len(todo) > 3 else ''})",
                symbol=series.symbol,
                hint="Pass source=session.candle_source() to fetch them, or offline=True to read only what is "
                "stored (see store.coverage()).",
            )
        if not src.has_symbol(series.symbol):
            raise ConfigError(
                f"{src.venue} does not list {series.symbol!r}",
                symbol=series.symbol,
                hint="Check the spelling (unified form BASE/QUOTE, e.g. 'BTC/USDT'); no candle request was sent.",
            )
        tf, off = series.tf_ms, series.offset_ms
        now = int(src.now_ms())
        closed_end = paths.align_down(now - self.settle_ms, tf, off)
        hi = closed_end if g1 is None else min(g1, closed_end)
        if hi <= g0:
            return g0
        with series.lock():
            led = series.ledger
            if recheck:
                ranges = [(s.start, s.end) for s in led.with_missing(g0, hi) if s.status != "stored"]
            else:
                ranges = led.unknown(g0, hi)
            if ranges:
                ranges = coalesce(ranges, max(1, int(src.max_page)) * tf)  # few page-sized requests (#13)
                fill_ranges(series, src, ranges, closed_end=closed_end, now_ms=now, progress=progress)
        return hi

    def _resampled(
        self,
        symbol: str,
        timeframe: str,
        base: str,
        s_ms: int,
        e_ms: int | None,
        venue: str,
        src: CandleSource | None,
        fill: Fill,
        partial: bool,
        offline: bool,
        recheck: bool,
        progress: bool,
    ) -> pd.DataFrame:
        tf = paths.timeframe_ms(timeframe)
        off = paths.timeframe_offset_ms(timeframe)
        g0 = paths.align_up(s_ms, tf, off)
        g1 = None if e_ms is None else paths.align_up(e_ms, tf, off)
        parts, _, base_end = self._load(symbol, base, g0, g1, venue, src, offline, recheck, progress)
        times, values = _concat(parts)
        series = self._get_series(venue, symbol, base)
        unknown = series.ledger.unknown(g0, base_end) if base_end > g0 else []
        if g1 is not None and base_end < g1:
            unknown.append((base_end, g1))
        (bt, bv), part_mask = resample(times, values, tf_ms=tf, offset_ms=off, unknown=unknown)
        grid_end = paths.align_up(base_end, tf, off) if partial else paths.align_down(base_end, tf, off)
        grid_end = max(grid_end, g0)
        if not partial:
            keep = ~part_mask
            return _assemble([Part(bt, bv).take(keep)], g0, grid_end, tf, fill)
        frame = _assemble([Part(bt, bv).take(bt < grid_end)], g0, grid_end, tf, fill)
        grid = np.asarray(pd.DatetimeIndex(frame.index).as_unit("ms").asi8, dtype=np.int64)
        frame["partial"] = partial_mask(grid, tf, off, unknown)
        return frame


# ---------------------------------------------------------------------- helpers
def _divisor(timeframe: str, tf_ms: int, served: dict[str, int]) -> str | None:
    """Largest timeframe in ``served`` that divides ``timeframe`` and shares its grid."""
    off = paths.timeframe_offset_ms(timeframe)
    best: tuple[int, str] | None = None
    for name in served:
        try:
            ms = paths.timeframe_ms(name)
        except ConfigError:
            continue
        if ms < tf_ms and tf_ms % ms == 0 and (off - paths.timeframe_offset_ms(name)) % ms == 0:
            if best is None or ms > best[0]:
                best = (ms, name)
    return None if best is None else best[1]


def _concat(parts: list[Part]) -> tuple[I64, list[F64]]:
    if len(parts) == 1:
        return parts[0].times, list(parts[0].values)
    if not parts:
        return np.empty(0, dtype=np.int64), [np.empty(0) for _ in COLUMNS]
    return (
        np.concatenate([p.times for p in parts]),
        [np.concatenate([p.values[i] for p in parts]) for i in range(len(COLUMNS))],
    )


def _assemble(parts: list[Part], g0: int, g1: int, tf: int, fill: Fill) -> pd.DataFrame:
    """The returned frame: real candles only (``drop``), or every grid slot of ``[g0, g1)``."""
    n_grid = max(0, (g1 - g0) // tf)
    if fill == "drop" or sum(len(p) for p in parts) == n_grid:
        return frame_from_parts(parts)  # the common case: one copy, straight into the frame
    times, values = _concat(parts)
    pos = (times - g0) // tf
    full = np.full((len(COLUMNS), n_grid), np.nan)
    for i, v in enumerate(values):
        full[i, pos] = v
    if fill == "ffill" and len(times):
        have = np.zeros(n_grid, dtype=bool)
        have[pos] = True
        idx = np.where(have, np.arange(n_grid), -1)
        np.maximum.accumulate(idx, out=idx)
        gap = ~have & (idx >= 0)
        prev_close = full[3][idx[gap]]
        for i in range(4):
            full[i][gap] = prev_close
        full[4][gap] = 0.0
    grid = np.arange(g0, g0 + n_grid * tf, tf, dtype=np.int64)
    return frame_from_parts([Part(grid, list(full))])


def _subdirs(path: str | os.PathLike[str], prefix: str) -> list[os.DirEntry[str]]:
    """Directories directly under ``path`` whose names start with ``prefix`` (none if ``path`` is not a directory)."""
    try:
        with os.scandir(path) as it:
            return [e for e in it if e.name.startswith(prefix) and e.is_dir()]
    except (FileNotFoundError, NotADirectoryError):
        return []


def _warn_ohlc(parts: list[Part], series: Series) -> None:
    from kit.store.checks import ohlc_mask

    bad = 0
    first: int | None = None
    for p in parts:
        if p.meta.get("ohlc_issues"):
            m = ohlc_mask(p.values)
            if m.any():
                bad += int(m.sum())
                first = first if first is not None else int(p.times[np.flatnonzero(m)[0]])
    if bad:
        warnings.warn(
            f"{bad} candle(s) of {series.symbol} {series.timeframe} on {series.venue} break OHLC rules "
            f"(first at {paths.fmt_ms(first or 0)}); they are returned as the exchange sent them. "
            "See store.verify() for the list.",
            CandleWarning,
            stacklevel=4,
        )


def _part_from_frame(frame: pd.DataFrame, series: Series) -> Part:
    if not isinstance(frame.index, pd.DatetimeIndex) or frame.index.tz is None:
        raise ConfigError(
            "the frame needs a timezone-aware DatetimeIndex of candle open times",
            hint="Use frame.tz_localize('UTC') (or set_index on a UTC time column) first.",
        )
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ConfigError(f"the frame lacks columns {missing}", hint="Provide open, high, low, close, volume.")
    times = np.asarray(frame.index.tz_convert("UTC").as_unit("ms").asi8, dtype=np.int64)
    bad = (times - series.offset_ms) % series.tf_ms != 0
    if bad.any():
        raise DataError(
            f"{int(bad.sum())} row(s) are not on the {series.timeframe} grid (first at {_ts(int(times[bad][0]))})",
            hint="Align or drop them before storing.",
        )
    order = np.argsort(times, kind="stable")
    t = times[order]
    last = np.ones(len(t), dtype=bool)
    last[:-1] = t[1:] != t[:-1]
    sel = order[last]
    return Part(times[sel], [np.asarray(frame[c].to_numpy(dtype=np.float64))[sel] for c in COLUMNS])
