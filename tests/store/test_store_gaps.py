"""Downtime gaps: recorded as confirmed empty, never filled silently; fill options; honest resampling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from store_helpers import GAP_HOLES, MIN, T0, LocalnetSource, direct, rows_of, ts

from kit.localnet.server import Localnet
from kit.store import Store

START, END = T0 - 30 * MIN, T0 + 3010 * MIN


def _expected_spans() -> list[tuple[int, int, str]]:
    out = [(START, T0, "empty")]
    t = 0
    for a, b in GAP_HOLES:
        out += [(T0 + t * MIN, T0 + a * MIN, "stored"), (T0 + a * MIN, T0 + b * MIN, "empty")]
        t = b
    out[-1] = (out[-1][0], END, "empty")  # the tail hole runs to the end asked for
    return out


@pytest.mark.parametrize("max_page", [1000, 100, pytest.param(7, marks=pytest.mark.slow)])  # 7: ~900 pages
def test_gaps_are_confirmed_empty_spans(
    gap_net: Localnet, gap_frame: pd.DataFrame, tmp_path: Path, max_page: int
) -> None:
    src = LocalnetSource(gap_net, max_page=max_page)
    store = Store(tmp_path, source=src)
    frame = store.candles("BTC/USDT", "1m", ts(START), ts(END), progress=False)
    cov = store.coverage("BTC/USDT", "1m")
    got = [
        (int(a.value // 10**6), int(b.value // 10**6), s)
        for a, b, s in zip(cov.start, cov.end, cov.status, strict=True)
    ]
    assert got == _expected_spans()
    assert cov.loc[cov.status == "stored", "candles"].sum() == len(gap_frame)
    assert (cov.loc[cov.status == "empty", "candles"] == 0).all()
    assert set(cov.loc[cov.status == "empty", "note"]) == {"the exchange returned no candle"}
    # gaps stay gaps: one NaN row per empty slot, real candles exactly as the exchange served them
    assert len(frame) == (END - START) // MIN
    assert frame.isna().all(axis=1).sum() == sum((b - a) // MIN for a, b, st in _expected_spans() if st == "empty")
    assert frame.isna().any(axis=1).sum() == frame.isna().all(axis=1).sum()
    assert rows_of(frame.dropna()) == direct(src, "BTC/USDT", "1m", START, END)
    pd.testing.assert_frame_equal(frame.dropna(), gap_frame, check_freq=False, check_index_type=False)
    assert len(src.calls) >= (len(gap_frame) + max_page - 1) // max_page


def test_fill_options(gap_net: Localnet, gap_frame: pd.DataFrame, tmp_path: Path) -> None:
    store = Store(tmp_path, source=LocalnetSource(gap_net))
    raw = store.candles("BTC/USDT", "1m", ts(START), ts(END), progress=False)
    dropped = store.candles("BTC/USDT", "1m", ts(START), ts(END), fill="drop")
    filled = store.candles("BTC/USDT", "1m", ts(START), ts(END), fill="ffill")
    assert len(dropped) == len(gap_frame) and not dropped.isna().any().any()
    assert filled.index.equals(raw.index)
    assert filled.iloc[:30].isna().all().all()  # nothing before the first candle to fill from
    hole = filled.loc[ts(T0 + 100 * MIN) : ts(T0 + 104 * MIN)]
    prev_close = gap_frame.loc[ts(T0 + 99 * MIN), "close"]
    assert (hole[["open", "high", "low", "close"]] == prev_close).all().all()
    assert (hole["volume"] == 0).all()
    # the ledger still says empty: filling is a view, never written back
    assert (store.coverage("BTC/USDT", "1m").status == "empty").sum() == 6


def test_resample_matches_the_exchange_and_keeps_gaps_honest(gap_net: Localnet, tmp_path: Path) -> None:
    src = LocalnetSource(gap_net)
    store = Store(tmp_path, source=src)
    hourly = store.candles("BTC/USDT", "1h", ts(START), ts(END), resample_from="1m", fill="drop", progress=False)
    served = src.ex.fetch_ohlcv("BTC/USDT", "1h", since=T0, limit=1000)
    # hours whose minutes are all stored or confirmed empty equal localnet's own hourly candles;
    # the hour still missing minutes (51st: not closed yet) is dropped
    assert len(hourly) == 50
    ours = rows_of(hourly)
    theirs = [r for r in served if r[0] < T0 + 50 * 60 * MIN]
    assert [r[:5] for r in ours] == [r[:5] for r in theirs]
    np.testing.assert_allclose([r[5] for r in ours], [r[5] for r in theirs], rtol=1e-12)
    assert hourly.index[0] == ts(T0)  # epoch-aligned: the partial hour before T0 is not invented


def test_resample_automatic_when_source_lacks_timeframe(gap_net: Localnet, tmp_path: Path) -> None:
    src = LocalnetSource(gap_net, timeframes=["1m", "1h"])
    store = Store(tmp_path, source=src)
    q = store.candles("BTC/USDT", "15m", ts(T0), ts(T0 + 600 * MIN), fill="drop", progress=False)
    assert {c[1] for c in src.calls} == {"1m"}
    served = src.ex.fetch_ohlcv("BTC/USDT", "15m", since=T0, limit=40)
    assert [r[:5] for r in rows_of(q)] == [r[:5] for r in served]
    np.testing.assert_allclose(q.volume.to_numpy(), [r[5] for r in served], rtol=1e-12)


def test_partial_buckets_dropped_or_flagged(gap_net: Localnet, tmp_path: Path) -> None:
    store = Store(tmp_path, source=LocalnetSource(gap_net))
    store.candles("BTC/USDT", "1m", ts(T0), ts(T0 + 90 * MIN), progress=False)  # 1.5 hours of minutes
    kept = store.candles("BTC/USDT", "1h", ts(T0), ts(T0 + 120 * MIN), resample_from="1m", offline=True)
    assert kept.index.tolist() == [ts(T0)]
    flagged = store.candles(
        "BTC/USDT", "1h", ts(T0), ts(T0 + 120 * MIN), resample_from="1m", offline=True, partial=True
    )
    assert flagged.index.tolist() == [ts(T0), ts(T0 + 60 * MIN)]
    assert flagged["partial"].tolist() == [False, True]
