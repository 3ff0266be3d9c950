"""Bad input is rejected with a clear message before any request is sent."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from store_helpers import MIN, T0, LocalnetSource, klines_on_wire, ts

from kit.errors import ConfigError, DataError
from kit.localnet.server import Localnet
from kit.store import Store

GOOD = (ts(T0 - 100 * MIN), ts(T0 - 10 * MIN))

CASES: list[tuple[str, Callable[[Store], Any], type[Exception], str]] = [
    (
        "naive datetime",
        lambda s: s.candles("BTC/USDT", "1m", dt.datetime(2024, 2, 1), GOOD[1]),
        ConfigError,
        r"has no timezone.*pd\.Timestamp\('2024-01-01', tz='UTC'\)",
    ),
    (
        "naive Timestamp",
        lambda s: s.candles("BTC/USDT", "1m", GOOD[0], pd.Timestamp("2024-03-01")),
        ConfigError,
        r"end=.* has no timezone",
    ),
    ("naive text", lambda s: s.candles("BTC/USDT", "1m", "2024-02-01", GOOD[1]), ConfigError, "has no timezone"),
    ("epoch number", lambda s: s.candles("BTC/USDT", "1m", T0, GOOD[1]), ConfigError, "not a timezone-aware time"),
    ("start after end", lambda s: s.candles("BTC/USDT", "1m", GOOD[1], GOOD[0]), ConfigError, "is not before end"),
    ("start equals end", lambda s: s.candles("BTC/USDT", "1m", GOOD[0], GOOD[0]), ConfigError, "is not before end"),
    ("unknown symbol", lambda s: s.candles("BTC/USTD", "1m", *GOOD), ConfigError, "does not list 'BTC/USTD'"),
    (
        "exchange id instead of unified",
        lambda s: s.candles("BTCUSDT", "1m", *GOOD),
        ConfigError,
        "not a unified ccxt symbol.*'BTC/USDT'",
    ),
    ("unparsable timeframe", lambda s: s.candles("BTC/USDT", "1x", *GOOD), ConfigError, "unknown timeframe '1x'"),
    ("calendar month", lambda s: s.candles("BTC/USDT", "1M", *GOOD), ConfigError, "calendar months"),
    (
        "bad fill",
        lambda s: s.candles("BTC/USDT", "1m", *GOOD, fill="zero"),  # type: ignore[arg-type]
        ConfigError,
        "fill='zero'",
    ),
    (
        "resample upward",
        lambda s: s.candles("BTC/USDT", "1m", *GOOD, resample_from="1h"),
        ConfigError,
        "cannot be built from 1h",
    ),
    (
        "resample non-divisor",
        lambda s: s.candles("BTC/USDT", "1h", *GOOD, resample_from="7m"),
        ConfigError,
        "cannot be built from 7m",
    ),
    (
        "venue mismatch",
        lambda s: s.candles("BTC/USDT", "1m", *GOOD, venue="binance"),
        ConfigError,
        "venue='binance' but the source is 'localnet'",
    ),
]


@pytest.mark.parametrize(("case", "call", "exc", "match"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_rejected_before_any_request(
    synth_net: Localnet, tmp_path: Path, case: str, call: Callable[[Store], Any], exc: type[Exception], match: str
) -> None:
    src = LocalnetSource(synth_net)
    wire = klines_on_wire(synth_net)
    with pytest.raises(exc, match=match) as err:
        call(Store(tmp_path, source=src))
    assert src.calls == [] and klines_on_wire(synth_net) == wire
    assert str(err.value).rstrip().endswith(".")  # a hint that says what to do
    assert not (tmp_path / "candles").exists() or case == "unknown symbol"


def test_unknown_timeframe_for_the_exchange(synth_net: Localnet, tmp_path: Path) -> None:
    src = LocalnetSource(synth_net, timeframes=["1h", "1d"])
    with pytest.raises(ConfigError, match="unknown timeframe '1m' for localnet.*Use one of 1h, 1d"):
        Store(tmp_path, source=src).candles("BTC/USDT", "1m", *GOOD)
    assert src.calls == []


def test_nothing_stored_and_no_source(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="nothing is stored for BTC/USDT.*source=session.candle_source"):
        Store(tmp_path).candles("BTC/USDT", "1m", *GOOD)


def test_range_not_stored_without_source_says_how_to_fetch(synth_net: Localnet, tmp_path: Path) -> None:
    Store(tmp_path, source=LocalnetSource(synth_net)).candles("BTC/USDT", "1m", *GOOD, progress=False)
    with pytest.raises(DataError, match=r"1 range\(s\) of BTC/USDT 1m on localnet are not stored.*offline=True"):
        Store(tmp_path).candles("BTC/USDT", "1m", ts(T0 - 200 * MIN), GOOD[1])
    # offline reads what is there; the unknown slots are NaN rows, not data
    some = Store(tmp_path).candles("BTC/USDT", "1m", ts(T0 - 200 * MIN), GOOD[1], offline=True)
    assert len(some) == 190 and some.notna().all(axis=1).sum() == 90


def test_other_timezones_are_converted(synth_net: Localnet, tmp_path: Path) -> None:
    store = Store(tmp_path, source=LocalnetSource(synth_net))
    a = store.candles("BTC/USDT", "1m", *GOOD, progress=False)
    b = store.candles("BTC/USDT", "1m", GOOD[0].tz_convert("Asia/Tokyo"), GOOD[1].isoformat())
    pd.testing.assert_frame_equal(a, b)
    assert str(pd.DatetimeIndex(b.index).tz) == "UTC"
