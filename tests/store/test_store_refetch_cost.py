"""What a refetch costs (#13 item 6): after a quarantine, or with ``recheck=True``, the ranges to
fetch are the stored runs (or the gaps) of a partition. One request per run made a refetch cost
543 requests where the first fetch took 14; the ranges are now asked for as page-sized windows,
so a refetch costs at most what the first fetch cost. Requests are counted on the wire, in
localnet's request log, and by the source.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from store_helpers import MIN, SHARED_DATA, T0, LocalnetSource, klines_on_wire, make_candles, replay_config, ts

from kit.localnet.server import start
from kit.store import CandleWarning, Store

SERIES = "candles/venue=localnet/symbol=BTC_USDT/timeframe=1m"
MINUTES = 6000
#: a one-minute hole every 20 minutes: 300 stored runs, 299 known gaps, in one month's partition
HOLES = [(k, k + 1) for k in range(19, MINUTES - 1, 20)]


def _flip_middle(path: Path) -> None:
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 8] = bytes(b ^ 0x5A for b in data[mid : mid + 8])
    path.write_bytes(bytes(data))


def _costs(net: object, root: Path, first: int, end: int) -> tuple[int, int, int, pd.DataFrame]:
    """(first fetch, refetch after a quarantine, recheck) requests on the wire, and the candles."""
    src = LocalnetSource(net)  # type: ignore[arg-type]
    store = Store(root, source=src)
    w0 = klines_on_wire(net)  # type: ignore[arg-type]
    original = store.candles("BTC/USDT", "1m", ts(first), ts(end), progress=False)
    w1 = klines_on_wire(net)  # type: ignore[arg-type]
    (part,) = (root / SERIES).glob("period=*/part.parquet")
    _flip_middle(part)
    with pytest.warns(CandleWarning, match="quarantine"):
        again = store.candles("BTC/USDT", "1m", ts(first), ts(end), progress=False)
    pd.testing.assert_frame_equal(again, original)
    w2 = klines_on_wire(net)  # type: ignore[arg-type]
    rechecked = store.candles("BTC/USDT", "1m", ts(first), ts(end), progress=False, recheck=True)
    pd.testing.assert_frame_equal(rechecked, original)
    w3 = klines_on_wire(net)  # type: ignore[arg-type]
    return w1 - w0, w2 - w1, w3 - w2, original


@pytest.mark.slow  # three full fetches of a series through a localnet (2.4-3.9 s in three loaded runs)
def test_refetch_after_quarantine_and_recheck_cost_at_most_the_first_fetch(tmp_path: Path) -> None:
    frame = make_candles(MINUTES, holes=HOLES)
    with start(port=0, config=replay_config(frame, tmp_path / "net")) as net:
        net.step(MINUTES * MIN + 20 * MIN - net.venue.clock.now_ms() + T0)
        first, refetch, recheck, out = _costs(net, tmp_path / "data", T0, T0 + MINUTES * MIN)
    assert len(out.dropna()) == MINUTES - len(HOLES)
    assert first == 6  # 5,700 candles, 1,000 per page (a page skips the holes in it)
    assert 0 < refetch <= first, refetch  # was 300 (one request per stored run); now 6
    assert 0 < recheck <= first, recheck  # was one request per known gap; now 6


@pytest.mark.slow  # a year of real 1m candles fetched three times (about 2 s)
@pytest.mark.skipif(not (SHARED_DATA / "UNITTEST_BTC-1m.feather").exists(), reason="real candle data is missing")
def test_refetch_cost_on_the_real_candles(tmp_path: Path) -> None:
    from decimal import Decimal

    raw = pd.read_feather(SHARED_DATA / "UNITTEST_BTC-1m.feather")
    frame = raw.set_index(pd.DatetimeIndex(raw["date"]).as_unit("ms").rename("time"))[
        ["open", "high", "low", "close", "volume"]
    ]
    a, b = int(frame.index[0].value // 10**6), int(frame.index[-1].value // 10**6) + MIN
    eight = Decimal("0.00000001")
    cfg = replay_config(
        frame, tmp_path / "net", tick_size=eight, step_size=eight, min_qty=eight, min_notional=eight,
        price=Decimal("0.002"), min_price=eight,
    )  # fmt: skip
    with start(port=0, config=cfg) as net:
        net.step(b + 10 * MIN - net.venue.clock.now_ms())
        first, refetch, recheck, _ = _costs(net, tmp_path / "data", a, b)
    assert first == 14  # as in test_store_real_data
    assert refetch <= first and recheck <= first, (refetch, recheck)  # were 543 and 540; now 14 and 11
