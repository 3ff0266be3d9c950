"""Replay mode: user candles (with an exchange-downtime gap) served as klines and driving fills."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
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


# ---------------------------------------------------------------- replay from the candle store, from Python
#: ../shared/data beside the clone (as in CI); KIT_SHARED_DATA points elsewhere (e.g. from a git worktree).
SHARED_DATA = Path(os.environ.get("KIT_SHARED_DATA") or Path(__file__).resolve().parents[3] / "shared" / "data")
ETH_BTC = SHARED_DATA / "ETH_BTC-5m.feather"


@pytest.mark.slow  # 20 days of real candles into a store, then a replay catch-up: about 3 s
@pytest.mark.skipif(
    not ETH_BTC.exists(),
    reason=f"{ETH_BTC} is missing: the real-candle files live in ../shared/data beside the clone "
    "(CI has them; set KIT_SHARED_DATA to point elsewhere)",
)
def test_replay_real_candles_from_the_store_through_python(tmp_path: Path) -> None:
    """``LocalnetConfig.from_store``: what ``kit localnet serve --store`` runs, from Python.

    Real ETH/BTC 5-minute candles (shared/data/README.md) go into a kit candle store; localnet
    replays them with a day behind the clock: klines are the stored candles (at ETHBTC's tick),
    and stepping the clock replays the next candle.
    """
    from kit.errors import ConfigError
    from kit.localnet import LocalnetConfig
    from kit.localnet.market import quantize
    from kit.localnet.server import start
    from kit.store import Store

    raw = pd.read_feather(ETH_BTC).set_index("date")
    store = Store(tmp_path / "store")
    store.put(raw, "ETH/BTC", "5m", venue="binance")
    with pytest.raises(ConfigError, match="no 5m candles of BTCUSDT"):
        LocalnetConfig.from_store(store, symbols=["BTCUSDT"], timeframe="5m")
    cfg = LocalnetConfig.from_store(store, symbols=["ETHBTC"], timeframe="5m", history_minutes=24 * 60, stepped=True)
    assert list(cfg.candles or {}) == ["ETHBTC"]
    first = int(raw.index[0].value // 10**6)
    assert cfg.start_ms == first + 24 * 60 * 60_000
    stored = (cfg.candles or {})["ETHBTC"]
    assert len(stored) == len(raw) and np.allclose(stored.to_numpy(), raw[list(stored.columns)].to_numpy())

    def at_tick(x: float) -> Decimal:  # ETHBTC's tick, as the replay rounds (half to even)
        return quantize(Decimal(repr(float(x))), Decimal("0.00001"))

    with start(port=0, config=cfg) as net:
        ex = net.client(None, enableRateLimit=False)
        rows = ex.publicGetKlines({"symbol": "ETHBTC", "interval": "5m", "startTime": first, "limit": 1000})
        assert len(rows) >= 288 and rows[0][0] == first
        for row, (_, bar) in zip(rows[:288], stored.iloc[:288].iterrows(), strict=True):
            assert [Decimal(x) for x in row[1:5]] == [at_tick(bar[c]) for c in ("open", "high", "low", "close")]
        net.step(5 * 60_000)
        bar = stored.iloc[288]
        nxt = ex.publicGetKlines({"symbol": "ETHBTC", "interval": "5m", "startTime": int(bar.name.value // 10**6),
                                  "limit": 1})[0]  # fmt: skip
        assert Decimal(nxt[4]) == at_tick(bar["close"])
