"""Real exchange candles (freqtrade's UNITTEST_BTC-1m, 538 real gaps) replayed by localnet, fetched through ccxt."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from store_helpers import MIN, SHARED_DATA, LocalnetSource, direct, replay_config, rows_of, ts

from kit.localnet.server import start
from kit.store import Store

FEATHER = SHARED_DATA / "UNITTEST_BTC-1m.feather"

pytestmark = pytest.mark.skipif(
    not FEATHER.exists(),
    reason=f"{FEATHER} is missing: the real-candle files live in ../shared/data beside the clone (CI has them; "
    "a user's own clone does not)",
)


@pytest.mark.slow  # 2.5 s on a loaded machine (a year of real 1m candles through the ledger)
def test_ledger_finds_exactly_the_538_real_gaps(tmp_path: Path) -> None:
    raw = pd.read_feather(FEATHER)
    frame = raw.set_index(pd.DatetimeIndex(raw["date"]).as_unit("ms").rename("time"))[
        ["open", "high", "low", "close", "volume"]
    ]
    first, last = int(frame.index[0].value // 10**6), int(frame.index[-1].value // 10**6)
    eight = Decimal("0.00000001")  # a BTC-quoted pair: prices like 0.00162 need a finer tick than BTCUSDT's
    cfg = replay_config(
        frame,
        tmp_path / "net",
        tick_size=eight,
        step_size=eight,
        min_qty=eight,
        min_notional=eight,
        price=Decimal("0.002"),
        min_price=eight,
    )
    with start(port=0, config=cfg) as net:
        net.step(last + 10 * MIN - net.venue.clock.now_ms())
        src = LocalnetSource(net)
        store = Store(tmp_path / "data", source=src)
        out = store.candles("BTC/USDT", "1m", ts(first), ts(last + MIN), progress=False)
        served = direct(src, "BTC/USDT", "1m", first, last + MIN)
        assert len(src.calls) == 14  # 13,681 candles, 1000 per page (a page skips over the gaps in it)
        cov = store.coverage("BTC/USDT", "1m")
        empty = cov[cov.status == "empty"]
        assert len(empty) == 538
        assert int((empty.end - empty.start).dt.total_seconds().sum()) == (14_398 - 13_681) * 60
        assert cov.loc[cov.status == "stored", "candles"].sum() == 13_681 == len(served)
        assert set(cov.status) == {"stored", "empty"}
        # the holes of the original file, exactly
        t = pd.DatetimeIndex(frame.index).as_unit("ms").asi8
        holes = [(int(a) + MIN, int(b)) for a, b in zip(t[:-1], t[1:], strict=True) if b - a > MIN]
        assert [
            (int(a.value // 10**6), int(b.value // 10**6)) for a, b in zip(empty.start, empty.end, strict=True)
        ] == holes
        # candles: exactly what localnet served; the file's values up to localnet's 1e-8 tick (the file
        # holds floats such as 0.0016200000000000001)
        real = out.dropna()
        assert rows_of(real) == served
        np.testing.assert_allclose(
            real[["open", "high", "low", "close"]].to_numpy(),
            frame[["open", "high", "low", "close"]].to_numpy(),
            rtol=1e-12,
            atol=0,
        )
        np.testing.assert_allclose(real.volume.to_numpy(), frame.volume.to_numpy(), atol=1e-8)
        assert out.isna().all(axis=1).sum() == 717
        flat = (real.high == real.low).mean()
        assert 0.10 < flat < 0.20  # the README's "about 14 %" flat candles survive the round trip
        # hourly candles built from them: an hour with downtime minutes is complete (they are confirmed
        # empty) and equals the exchange's own hourly candle
        hourly = store.candles("BTC/USDT", "1h", ts(first), ts(last + MIN), resample_from="1m", fill="drop")
        own = src.ex.fetch_ohlcv("BTC/USDT", "1h", since=int(hourly.index[0].value // 10**6), limit=1000)
        own = [r for r in own if r[0] <= int(hourly.index[-1].value // 10**6)]
        assert [r[:5] for r in rows_of(hourly)] == [r[:5] for r in own]
