"""Replay mode: user candles (with an exchange-downtime gap) served as klines and driving fills."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

T0 = pd.Timestamp("2024-03-01 00:00", tz="UTC")


def _candles() -> pd.DataFrame:
    idx = list(pd.date_range(T0, periods=10, freq="1min")) + list(
        pd.date_range(T0 + pd.Timedelta(minutes=15), periods=10, freq="1min")
    )  # minutes 10-14 missing
    close = 50_000 + np.arange(20) * 10.0
    close[12] = 49_000.0  # a dip after the gap
    frame = pd.DataFrame(
        {"open": close - 5, "high": close + 20, "low": close - 25, "close": close, "volume": np.full(20, 3.0)},
        index=pd.DatetimeIndex(idx),
    )
    return frame


def test_replay_serves_candles_with_gaps(make_localnet: Any) -> None:
    frame = _candles()
    with make_localnet(candles={"BTCUSDT": frame}) as net:
        ex = net.client("trader", enableRateLimit=False)
        t0 = int(T0.timestamp() * 1000)
        assert net.call(lambda v: v.clock.now_ms()) == t0
        net.step(25 * 60_000)
        rows = ex.fetch_ohlcv("BTC/USDT", "1m", since=t0, limit=100)
        got = [r[0] for r in rows]
        want = [int(ts.timestamp() * 1000) for ts in frame.index]
        assert got == want  # no candles inside the gap
        first = rows[0]
        assert first[1:5] == [frame.open.iloc[0], frame.high.iloc[0], frame.low.iloc[0], frame.close.iloc[0]]
        assert first[5] == pytest.approx(3.0)
        five = ex.fetch_ohlcv("BTC/USDT", "5m", since=t0, limit=100)
        assert [r[0] - t0 for r in five] == [0, 5 * 60_000, 15 * 60_000, 20 * 60_000]  # 10-15 has no data
        assert ex.fetch_ohlcv("BTC/USDT", "1m", since=t0 + 10 * 60_000, params={"until": t0 + 14 * 60_000}) == []


def test_replay_drives_fills_and_forming_candle(make_localnet: Any) -> None:
    frame = _candles()
    with make_localnet(candles={"BTCUSDT": frame}) as net:
        ex = net.client("trader", enableRateLimit=False)
        t0 = int(T0.timestamp() * 1000)
        net.step(30_000)  # half way through the first candle
        rows = ex.fetch_ohlcv("BTC/USDT", "1m", since=t0)
        assert len(rows) == 1 and rows[0][0] == t0  # the forming candle
        assert rows[0][5] < 3.0  # only part of its volume so far
        net.step(60_000 * 9)
        o = ex.create_order("BTC/USDT", "limit", "buy", 0.01, 49_500)
        assert o["status"] == "open"
        net.step(60_000 * 10)  # through the gap and the dip to 48 975
        done = ex.fetch_order(o["id"], "BTC/USDT")
        assert done["status"] == "closed" and done["price"] == 49_500
        assert all(49_000 - 25 <= t["price"] <= 49_500 for t in ex.fetch_order_trades(o["id"], "BTC/USDT"))
