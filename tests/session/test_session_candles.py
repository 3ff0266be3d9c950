"""session.candles through the candle store: exact candles back, fetched once, through the budget."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from lab.lab import open_lab

from kit.store import Store


def test_candles_come_from_the_store_and_a_second_call_sends_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_lab(tmp_path, monkeypatch, history_minutes=600) as lab:
        _check(lab)


def _check(lab: Any) -> None:
    s = lab.session()
    now = pd.Timestamp(lab.net.call(lambda v: v.clock.now_ms()), unit="ms", tz="UTC").floor("1min")
    start, end = now - pd.Timedelta(minutes=300), now - pd.Timedelta(minutes=10)
    root = lab.tmp / "data"
    before = lab.server_count()
    first = s.candles("BTC/USDT", "1m", start, end, root=root, progress=False)
    sent = lab.server_count() - before
    assert sent >= 1 and len(first) == 290
    assert first.index[0] == start and first.index.tz is not None
    # exactly what the exchange serves (real ccxt, no cache)
    raw = lab.client().fetch_ohlcv("BTC/USDT", "1m", int(start.timestamp() * 1000), 290)
    assert [r[1:5] for r in raw] == first[["open", "high", "low", "close"]].values.tolist()
    # the requests were charged to the Session's shared budget and logged
    assert any(r.get("path", "").endswith("/klines") or "klines" in str(r) for r in lab.kit_log())
    # stored as Parquet under root; a second identical call makes zero requests
    assert list(root.rglob("*.parquet"))
    before = lab.server_count()
    again = s.candles("BTC/USDT", "1m", start, end, root=root, progress=False)
    assert lab.server_count() == before
    pd.testing.assert_frame_equal(first, again)
    # and the store reads it offline too
    offline = Store(root).candles("BTC/USDT", "1m", start, end, offline=True, progress=False)
    pd.testing.assert_frame_equal(first, offline)
    s.close()
