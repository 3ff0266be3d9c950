"""Pure naming for the candle store: timeframes, alignment, partitions and file paths.

No I/O here. Times are integer milliseconds since the epoch (UTC). The on-disk layout is Hive
style, so DuckDB, Polars, Spark, Dask and pyarrow read it as is::

    <root>/candles/venue=<venue>/symbol=<BASE_QUOTE>/timeframe=<tf>/period=<period>/part.parquet
    <root>/candles/venue=<venue>/symbol=<BASE_QUOTE>/timeframe=<tf>/_coverage.json
    <root>/quarantine/candles/...      corrupt files, moved aside with a UTC stamp

One partition key, ``period``, for every timeframe (one key name keeps a single glob readable by
every engine): a day (``2024-01-05``) below one minute, a month (``2024-01``) from 1m to 1h, a
year (``2024``) above one hour. A month of 1m candles is 44,640 rows (~2 MB).

Examples
--------
>>> timeframe_ms("15m"), timeframe_ms("1w")
(900000, 604800000)
>>> symbol_dir("BTC/USDT"), symbol_from_dir("BTC_USDT-USDT")
('BTC_USDT', 'BTC/USDT:USDT')
>>> unit = partition_unit(60_000); unit, period_of(1_704_067_200_000, unit)
('month', '2024-01')
>>> period_bounds("2024-02")
(1706745600000, 1709251200000)
>>> periods_between(1_704_067_200_000, 1_709_251_200_001, "month")
['2024-01', '2024-02', '2024-03']
>>> align_down(1_704_067_230_000, 60_000), align_up(1_704_067_230_000, 60_000)
(1704067200000, 1704067260000)
>>> align_down(1_704_067_200_000, WEEK_MS, timeframe_offset_ms("1w"))  # Monday 2024-01-01
1704067200000
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from kit.errors import ConfigError

__all__ = [
    "CANDLES_DIR",
    "LEDGER_NAME",
    "PART_NAME",
    "QUARANTINE_DIR",
    "WEEK_MS",
    "align_down",
    "align_up",
    "check_venue",
    "fmt_ms",
    "partition_path",
    "partition_unit",
    "period_bounds",
    "period_of",
    "periods_between",
    "quarantine_path",
    "series_dir",
    "symbol_dir",
    "symbol_from_dir",
    "timeframe_ms",
    "timeframe_offset_ms",
]

CANDLES_DIR = "candles"
QUARANTINE_DIR = "quarantine"
LEDGER_NAME = "_coverage.json"
PART_NAME = "part.parquet"
WEEK_MS = 604_800_000
#: Binance weekly candles open on Monday 00:00 UTC; the epoch (1970-01-01) was a Thursday.
_WEEK_OFFSET_MS = 4 * 86_400_000
_UNITS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": WEEK_MS}
_TF = re.compile(r"^([1-9][0-9]*)([smhdw])$")
_SYMBOL = re.compile(r"^[A-Za-z0-9.]+/[A-Za-z0-9.]+(:[A-Za-z0-9.]+)?$")
_VENUE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")

Unit = Literal["day", "month", "year"]


def timeframe_ms(timeframe: str) -> int:
    """Length of a timeframe such as ``"1m"``, ``"4h"``, ``"1w"`` in milliseconds.

    Calendar months (``"1M"``) and years are refused: their length varies, so they do not sit on
    a fixed grid (and ``1M`` would clash with ``1m`` on case-insensitive file systems).
    """
    m = _TF.match(timeframe) if isinstance(timeframe, str) else None
    if m is None:
        raise ConfigError(
            f"unknown timeframe {timeframe!r}",
            hint="Use a number and a unit of s, m, h, d or w, e.g. '1m', '15m', '4h', '1d', '1w' "
            "(calendar months '1M' are not stored: resample daily candles in pandas).",
        )
    return int(m.group(1)) * _UNITS[m.group(2)]


def timeframe_offset_ms(timeframe: str) -> int:
    """Where the timeframe's grid starts relative to the epoch: Monday for weeks, else 0."""
    return _WEEK_OFFSET_MS if timeframe.endswith("w") else 0


def align_down(ts_ms: int, tf_ms: int, offset_ms: int = 0) -> int:
    """Open time of the candle that contains ``ts_ms``."""
    return ts_ms - (ts_ms - offset_ms) % tf_ms


def align_up(ts_ms: int, tf_ms: int, offset_ms: int = 0) -> int:
    """First candle open time at or after ``ts_ms``."""
    return ts_ms + (-(ts_ms - offset_ms)) % tf_ms


def symbol_dir(symbol: str) -> str:
    """Directory value of a unified ccxt symbol: ``/`` becomes ``_`` and ``:`` becomes ``-``."""
    if not isinstance(symbol, str) or not _SYMBOL.match(symbol):
        raise ConfigError(
            f"symbol {symbol!r} is not a unified ccxt symbol",
            symbol=str(symbol),
            hint="Use the unified form BASE/QUOTE such as 'BTC/USDT' (letters, digits and dots), "
            "or BASE/QUOTE:SETTLE for swaps.",
        )
    return symbol.replace("/", "_").replace(":", "-")


def symbol_from_dir(value: str) -> str:
    """Inverse of :func:`symbol_dir`."""
    return value.replace("_", "/", 1).replace("-", ":", 1)


def check_venue(venue: str) -> str:
    """Return ``venue`` if it is a safe directory value (lower case, digits, ``_.-``)."""
    if not isinstance(venue, str) or not _VENUE.match(venue):
        raise ConfigError(
            f"venue {venue!r} is not a valid venue name",
            hint="Use a lower-case name such as 'localnet', 'binance' or 'binance-testnet'.",
        )
    return venue


def partition_unit(tf_ms: int) -> Unit:
    """Partition length for a timeframe: day below 1m, month up to 1h, year above."""
    if tf_ms < 60_000:
        return "day"
    if tf_ms <= 3_600_000:
        return "month"
    return "year"


def _utc(ts_ms: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ts_ms)


def _ms(dt: datetime) -> int:
    return (dt - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def fmt_ms(ts_ms: int) -> str:
    """``2024-01-01 00:00`` style UTC text for messages."""
    return _utc(ts_ms).strftime("%Y-%m-%d %H:%M:%S").removesuffix(":00") + " UTC"


def period_of(ts_ms: int, unit: Unit) -> str:
    """Partition value of the candle opening at ``ts_ms``."""
    d = _utc(ts_ms)
    if unit == "day":
        return d.strftime("%Y-%m-%d")
    if unit == "month":
        return d.strftime("%Y-%m")
    return d.strftime("%Y")


def period_bounds(period: str) -> tuple[int, int]:
    """``[start, end)`` of a partition value in ms."""
    parts = [int(x) for x in period.split("-")]
    if len(parts) == 1:
        lo = datetime(parts[0], 1, 1, tzinfo=UTC)
        hi = datetime(parts[0] + 1, 1, 1, tzinfo=UTC)
    elif len(parts) == 2:
        y, m = parts
        lo = datetime(y, m, 1, tzinfo=UTC)
        hi = datetime(y + m // 12, m % 12 + 1, 1, tzinfo=UTC)
    else:
        lo = datetime(parts[0], parts[1], parts[2], tzinfo=UTC)
        hi = lo + timedelta(days=1)
    return _ms(lo), _ms(hi)


def periods_between(start_ms: int, end_ms: int, unit: Unit) -> list[str]:
    """Partition values overlapping ``[start_ms, end_ms)`` in time order."""
    out: list[str] = []
    t = start_ms
    while t < end_ms:
        p = period_of(t, unit)
        out.append(p)
        t = period_bounds(p)[1]
    return out


def series_dir(root: Path, venue: str, symbol: str, timeframe: str) -> Path:
    """Directory of one series (venue, symbol, timeframe)."""
    return (
        Path(root)
        / CANDLES_DIR
        / f"venue={check_venue(venue)}"
        / f"symbol={symbol_dir(symbol)}"
        / f"timeframe={timeframe}"
    )


def partition_path(series: Path, period: str) -> Path:
    """File of one partition inside a series directory."""
    return series / f"period={period}" / PART_NAME


def quarantine_path(root: Path, path: Path, stamp: str) -> Path:
    """Where a corrupt file under ``root`` is moved: same relative path under ``quarantine/``."""
    rel = Path(path).relative_to(Path(root))
    return Path(root) / QUARANTINE_DIR / rel.parent / f"{rel.stem}-{stamp}{rel.suffix}"
