"""Helpers for the candle store tests: a CandleSource over a REAL ccxt client talking to a REAL localnet.

Never a mock of ccxt: :class:`LocalnetSource` is the small adapter the Session will provide as
``session.candle_source()``, here built directly on ``net.client(None)`` (a ccxt.binance without
keys pointed at localnet). It counts its requests; localnet's own request log (``requests.log``
in its state directory) counts them again on the wire.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kit.errors import ExchangeUnavailable
from kit.localnet import LimitsConfig, LocalnetConfig
from kit.localnet.config import DEFAULT_SYMBOLS
from kit.localnet.server import Localnet
from kit.transport.ccxt_errors import ccxt_errors

MIN = 60_000
BIG_LIMITS = LimitsConfig(
    weight_per_minute=10**9, sapi_weight_per_minute=10**9, orders_per_10s=10**9, orders_per_day=10**9
)
#: 2024-03-01 00:00 UTC, a Friday.
T0 = 1_709_251_200_000
#: ../shared/data beside the clone (as in CI); KIT_SHARED_DATA points elsewhere (e.g. from a git worktree).
SHARED_DATA = Path(os.environ.get("KIT_SHARED_DATA") or Path(__file__).resolve().parents[3] / "shared" / "data")


class LocalnetSource:
    """CandleSource over a real ccxt client pointed at a running localnet.

    ``fail_after`` raises :class:`ExchangeUnavailable` (what the Session raises once its retries
    are spent) on the request after that many successful ones.
    """

    def __init__(
        self,
        net: Localnet,
        *,
        max_page: int = 1000,
        timeframes: list[str] | None = None,
        fail_after: int | None = None,
        venue: str = "localnet",
    ) -> None:
        self.net = net
        self.ex = net.client(None, enableRateLimit=False)
        self.ex.load_markets()  # as a Session does when it connects: has_symbol sends nothing
        self.venue = venue
        self.max_page = max_page
        self._timeframes = timeframes
        self.fail_after = fail_after
        self.calls: list[tuple[str, str, int, int]] = []

    def timeframes(self) -> dict[str, int]:
        names = self._timeframes or list(self.ex.timeframes)
        return {k: int(self.ex.parse_timeframe(k) * 1000) for k in names}

    def has_symbol(self, symbol: str) -> bool:
        return symbol in self.ex.markets

    def fetch_ohlcv(self, symbol: str, timeframe: str, since_ms: int, limit: int) -> list[list[float]]:
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            raise ExchangeUnavailable(f"injected: request {len(self.calls) + 1} failed after retries")
        self.calls.append((symbol, timeframe, since_ms, limit))
        with ccxt_errors("fetch_ohlcv", symbol=symbol, exchange=self.ex):
            rows: list[list[float]] = self.ex.fetch_ohlcv(symbol, timeframe, since=since_ms, limit=limit)
        return rows

    def now_ms(self) -> int:
        return int(self.net.call(lambda v: v.clock.now_ms()))


def klines_on_wire(net: Localnet) -> int:
    """How many /api/v3/klines requests localnet has logged."""
    assert net.config.state_dir is not None
    log = Path(net.config.state_dir) / "requests.log"
    if not log.exists():
        return 0
    return sum(1 for line in log.read_text().splitlines() if json.loads(line)["path"] == "/api/v3/klines")


def direct(
    src: LocalnetSource, symbol: str, timeframe: str, start: int, end: int, settle_ms: int = 1000
) -> list[list[float]]:
    """What localnet serves for [start, end) through plain ccxt, paged by hand (closed candles only)."""
    out: list[list[float]] = []
    tf = int(src.ex.parse_timeframe(timeframe) * 1000)
    now = src.now_ms()
    since = start
    while since < end:
        page = src.ex.fetch_ohlcv(symbol, timeframe, since=since, limit=1000)
        if not page:
            break
        out += [r for r in page if since <= r[0] < end and r[0] + tf <= now - settle_ms]
        since = int(page[-1][0]) + tf
    return out


def rows_of(frame: pd.DataFrame) -> list[list[float]]:
    """A candles frame as ccxt-style rows (for exact comparison)."""
    t = pd.DatetimeIndex(frame.index).as_unit("ms").asi8
    return [
        [int(a), *map(float, r)]
        for a, r in zip(t, frame[["open", "high", "low", "close", "volume"]].to_numpy(), strict=True)
    ]


def make_candles(
    minutes: int, start_ms: int = T0, *, seed: int = 3, holes: Sequence[tuple[int, int]] = ()
) -> pd.DataFrame:
    """Deterministic 1m candles on a 0.01 tick (BTCUSDT's filters), with minute ``holes`` [a, b) removed."""
    rng = np.random.default_rng(seed)
    close = np.round(60_000 + np.cumsum(rng.normal(0, 15, minutes)), 2)
    open_ = np.concatenate(([60_000.0], close[:-1]))
    high = np.round(np.maximum(open_, close) + np.abs(rng.normal(0, 8, minutes)), 2)
    low = np.round(np.minimum(open_, close) - np.abs(rng.normal(0, 8, minutes)), 2)
    vol = np.round(np.abs(rng.normal(2, 1, minutes)) + 0.001, 5)
    idx = pd.date_range(
        pd.Timestamp(start_ms, unit="ms", tz="UTC"), periods=minutes, freq="1min", name="time", unit="ms"
    )
    df = pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": vol}, index=idx)
    keep = np.ones(minutes, dtype=bool)
    for a, b in holes:
        keep[a:b] = False
    return df[keep]


def replay_config(frame: pd.DataFrame, state_dir: Path | None, **spec_changes: Any) -> LocalnetConfig:
    """A stepped localnet replaying ``frame`` as BTCUSDT (and nothing synthetic beside it)."""
    spec = replace(DEFAULT_SYMBOLS[0], **spec_changes)
    return LocalnetConfig(
        stepped=True, symbols=(spec,), candles={"BTCUSDT": frame}, state_dir=state_dir, limits=BIG_LIMITS
    )


#: Holes (minute offsets) in the gap fixture: one at the start of the data is implicit (the
#: range asked for starts 30 minutes before the first candle), a 5-minute one, single minutes on
#: both sides of a page boundary, a long one crossing a day, and a tail after the last candle.
GAP_MINUTES = 3000
GAP_HOLES = [(100, 105), (199, 200), (201, 202), (1430, 1460), (2990, 3000)]


def ts(ms: int) -> pd.Timestamp:
    return pd.Timestamp(ms, unit="ms", tz="UTC")


def dec(x: float) -> Decimal:
    return Decimal(repr(x))


def check_failed_then_resume(store: Any, net: Localnet, start: int, end: int, failed_at: int) -> None:
    """After a fetch of ``[start, end)`` 1m BTC/USDT failed at ``failed_at`` (pages of 100): the ledger says
    stored up to there and failed after, with the reason; what is stored reads offline (the failed part
    as NaN rows); a good source then fetches only the missing pages and the whole range is stored."""
    cov = store.coverage("BTC/USDT", "1m")
    assert cov.status.tolist() == ["stored", "failed"]
    assert cov.end.iloc[0] == ts(failed_at) and cov.end.iloc[1] == ts(end)
    assert "ExchangeUnavailable" in cov.note.iloc[1] and "injected" in cov.note.iloc[1]
    partial = store.candles("BTC/USDT", "1m", ts(start), ts(end), offline=True)
    assert partial.notna().all(axis=1).sum() == (failed_at - start) // 60_000
    good = LocalnetSource(net, max_page=100)
    frame = store.candles("BTC/USDT", "1m", ts(start), ts(end), source=good, progress=False)
    assert [c[2] for c in good.calls] == list(range(failed_at, end, 100 * 60_000))
    assert rows_of(frame) == direct(good, "BTC/USDT", "1m", start, end)
    assert store.coverage("BTC/USDT", "1m").status.tolist() == ["stored"]
