"""Fetching through a real ccxt client against localnet: exact candles, paging, zero repeat requests."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest
from store_helpers import MIN, T0, LocalnetSource, direct, klines_on_wire, rows_of, ts

from kit.localnet.server import Localnet
from kit.store import Store

N = 2500  # minutes: three pages at Binance's 1000


def test_exact_candles_back_and_paged_at_max_page(synth_net: Localnet, tmp_path: Path) -> None:
    src = LocalnetSource(synth_net)
    store = Store(tmp_path, source=src)
    start, end = T0 - N * MIN, T0
    frame = store.candles("BTC/USDT", "1m", ts(start), ts(end), progress=False)
    served = direct(src, "BTC/USDT", "1m", start, end)
    assert len(served) == N - 1  # the last minute is closed only 1 s after T0 (settle_ms)
    assert rows_of(frame.dropna()) == served
    assert [c[3] for c in src.calls] == [1000, 1000, 499]  # the range is clipped to closed candles
    assert [c[2] for c in src.calls] == [start, start + 1000 * MIN, start + 2000 * MIN]
    assert str(pd.DatetimeIndex(frame.index).tz) == "UTC" and frame.index.name == "time"
    assert list(frame.columns) == ["open", "high", "low", "close", "volume"]
    assert (frame.dtypes == np.float64).all()


def test_second_identical_call_sends_no_request(synth_net: Localnet, tmp_path: Path) -> None:
    src = LocalnetSource(synth_net)
    store = Store(tmp_path, source=src)
    args = ("BTC/USDT", "1m", ts(T0 - N * MIN), ts(T0 - 10 * MIN))
    first = store.candles(*args, progress=False)
    wire_before = klines_on_wire(synth_net)
    calls_before = len(src.calls)
    second = store.candles(*args, progress=False)
    # and from a fresh Store object (new process, same files) too
    third = Store(tmp_path, source=src).candles(*args, progress=False)
    assert len(src.calls) == calls_before == 3
    assert klines_on_wire(synth_net) == wire_before
    pd.testing.assert_frame_equal(first, second)
    pd.testing.assert_frame_equal(first, third)


def test_overlapping_request_fetches_only_the_new_part(synth_net: Localnet, tmp_path: Path) -> None:
    src = LocalnetSource(synth_net, max_page=100)
    store = Store(tmp_path, source=src)
    store.candles("BTC/USDT", "1m", ts(T0 - 600 * MIN), ts(T0 - 300 * MIN), progress=False)
    assert len(src.calls) == 3
    src.calls.clear()
    frame = store.candles("BTC/USDT", "1m", ts(T0 - 700 * MIN), ts(T0 - 200 * MIN), progress=False)
    assert [(c[2], c[3]) for c in src.calls] == [(T0 - 700 * MIN, 100), (T0 - 300 * MIN, 100)]
    assert len(frame) == 500 and not frame.isna().any().any()
    cov = store.coverage("BTC/USDT", "1m")
    assert cov.status.tolist() == ["stored"] and cov.candles.tolist() == [500]


def test_forming_candle_is_never_stored(tmp_path: Path) -> None:
    from kit.localnet import LocalnetConfig
    from kit.localnet.server import start

    cfg = LocalnetConfig(stepped=True, seed=11, start_ms=T0 + 30_000, history_minutes=120)
    with start(port=0, config=cfg) as net:
        src = LocalnetSource(net)
        store = Store(tmp_path, source=src)
        frame = store.candles("BTC/USDT", "1m", ts(T0 - 60 * MIN), None, progress=False)
        # now is T0 + 30 s: the T0 candle is forming, so the last stored one opens at T0 - 1m
        assert frame.index[-1] == ts(T0 - MIN)
        forming = src.ex.fetch_ohlcv("BTC/USDT", "1m", since=T0, limit=1)
        assert forming and forming[0][0] == T0  # localnet serves it, the store does not keep it
        net.inject_trade("BTCUSDT", "61000", "0.5")  # moves the forming candle's close/high
        net.step(31_000)  # T0 + 61 s: the T0 candle closed (settle 1 s)
        n = len(src.calls)
        later = store.candles("BTC/USDT", "1m", ts(T0 - 60 * MIN), None, progress=False)
        assert len(src.calls) == n + 1
        assert later.index[-1] == ts(T0)
        final = src.ex.fetch_ohlcv("BTC/USDT", "1m", since=T0, limit=1)[0]
        assert rows_of(later.iloc[-1:]) == [final]
        assert final[2] >= 61000.0
        part = tmp_path / "candles/venue=localnet/symbol=BTC_USDT/timeframe=1m/period=2024-03/part.parquet"
        assert pq.read_table(part).num_rows == 1  # only the T0 candle lives in March


def test_end_none_reads_to_last_closed_and_refetches_nothing(synth_net: Localnet, tmp_path: Path) -> None:
    src = LocalnetSource(synth_net)
    store = Store(tmp_path, source=src)
    a = store.candles("BTC/USDT", "1m", ts(T0 - 90 * MIN), None, progress=False)
    assert a.index[-1] == ts(T0 - 2 * MIN)  # settle: T0 - 1m closes at T0, not yet settled at T0
    n = len(src.calls)
    b = store.candles("BTC/USDT", "1m", ts(T0 - 90 * MIN), None, progress=False)
    assert len(src.calls) == n
    pd.testing.assert_frame_equal(a, b)
    # without a source, end=None reads what is stored
    c = Store(tmp_path).candles("BTC/USDT", "1m", ts(T0 - 90 * MIN), None)
    pd.testing.assert_frame_equal(a, c)


class _SlowSource(LocalnetSource):
    """Each page takes 0.4 s, as on a slow link."""

    def fetch_ohlcv(self, symbol: str, timeframe: str, since_ms: int, limit: int) -> list[list[float]]:
        time.sleep(0.4)
        return super().fetch_ohlcv(symbol, timeframe, since_ms, limit)


@pytest.mark.slow
def test_progress_bar_on_a_fetch_over_a_second_keeps_its_final_line(synth_net: Localnet, tmp_path: Path,
                                                                    capsys: object) -> None:  # fmt: skip
    # #17.8: shown for any fetch over a second (here three pages), and left in place when done, so a
    # log ends on the final count (never on "0%|", which looks stalled).
    src = _SlowSource(synth_net, max_page=100)
    Store(tmp_path, source=src).candles("BTC/USDT", "1m", ts(T0 - 300 * MIN), ts(T0 - MIN), progress=True)
    err = capsys.readouterr().err  # type: ignore[attr-defined]
    assert "BTC/USDT 1m localnet" in err and "candle" in err
    last = err.replace("\r", "\n").strip().splitlines()[-1]
    assert "100%" in last and "299/299" in last, last


def test_no_progress_bar_on_a_quick_fetch(synth_net: Localnet, tmp_path: Path, capsys: object) -> None:
    src = LocalnetSource(synth_net, max_page=200)
    Store(tmp_path, source=src).candles("BTC/USDT", "1m", ts(T0 - 1000 * MIN), ts(T0 - MIN), progress=True)
    err = capsys.readouterr().err  # type: ignore[attr-defined]
    assert "BTC/USDT 1m localnet" not in err  # five pages in well under a second: nothing to watch
