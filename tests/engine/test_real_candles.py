"""The engine on real 1-minute candles (freqtrade's UNITTEST/BTC test data, see shared/data/README.md):
flat candles, spikes, gaps (missing minutes), and a whole-file replay.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kit.engine import Bar, Engine, Market, OrderRequest, OrderType, Side, replay

D = Decimal
# ../shared/data beside the clone (as in CI); KIT_SHARED_DATA points elsewhere (e.g. a worktree)
DATA = Path(os.environ.get("KIT_SHARED_DATA") or Path(__file__).parents[2].parent / "shared" / "data")
FILE = DATA / "UNITTEST_BTC-1m.feather"
pytestmark = pytest.mark.skipif(
    not FILE.exists(), reason=f"real candle data folder is missing ({DATA}); it sits beside the clone in CI only"
)
M = Market("UNITTEST/BTC", "UNITTEST", "BTC", tick_size=D("0.00000001"), step_size=D("0.01"))
SYM = M.symbol


@pytest.fixture(scope="module")
def candles() -> pd.DataFrame:
    df = pd.read_feather(FILE).set_index("date")
    assert str(df.index.tz) == "UTC"
    return df


def _bar(row: tuple) -> Bar:
    ts, o, h, lo, c, v = row
    q = lambda x: D(repr(float(x))).quantize(M.tick_size)  # noqa: E731
    return Bar(int(ts.value // 1_000_000), q(o), q(h), q(lo), q(c), D(repr(float(v))).quantize(D("0.00000001")))


@pytest.fixture(scope="module")
def bars(candles: pd.DataFrame) -> list[Bar]:
    return [
        _bar(r)
        for r in candles.reset_index()[["date", "open", "high", "low", "close", "volume"]].itertuples(index=False)
    ]


def test_data_has_flat_candles_and_gaps(candles: pd.DataFrame) -> None:
    assert (candles.high == candles.low).mean() > 0.1
    missing = (candles.index.to_series().diff().dt.total_seconds().div(60).sub(1)).sum()
    assert missing >= 538


def test_flat_candles_never_fill_a_resting_limit_at_their_price(bars: list[Bar]) -> None:
    cases = 0
    for k in range(2, len(bars)):
        b, prev = bars[k], bars[k - 1]
        if b.high != b.low or b.volume <= 0:
            continue
        p = b.low
        if prev.low > p:  # a buy at p rests untouched through prev
            side = Side.BUY
        elif prev.high < p:
            side = Side.SELL
        else:
            continue
        e = Engine([M])
        e.open_account("a", {"BTC": D("1000"), "UNITTEST": D("1000000")})
        e.on_bar(SYM, bars[k - 2])
        evs = e.submit("a", OrderRequest(SYM, side, OrderType.LIMIT, quantity=D("1"), price=p), ts_ms=prev.ts_ms - 1)
        assert evs[0].kind.value == "accepted", evs[0].reason
        assert not [x for x in e.on_bar(SYM, prev) if x.fill], "the previous bar never reaches the price"
        fills = [x.fill for x in e.on_bar(SYM, b) if x.fill]
        assert fills == [], (k, b, fills)
        cases += 1
        if cases >= 300:
            break
    assert cases > 50


def _run_engine(bars: list[Bar], depth_ticks: int) -> tuple[list, dict]:
    """Every minute: keep one buy limit ``depth_ticks`` under the close and one sell above, plus
    a market order every 50 bars; returns (fill, bar) pairs and the final balances.
    """
    e = Engine([M])
    e.open_account("a", {"BTC": D("100"), "UNITTEST": D("100000")})
    out = []
    tick = M.tick_size
    for i, b in enumerate(bars):
        for ev in e.on_bar(SYM, b):
            if ev.fill:
                out.append((ev.fill, b))
        if i % 5 == 0:
            e.cancel_all("a", SYM, ts_ms=b.ts_ms + 59_999)
            t = b.ts_ms + 59_999
            e.submit(
                "a",
                OrderRequest(SYM, Side.BUY, OrderType.LIMIT, quantity=D("10"), price=b.close - depth_ticks * tick),
                ts_ms=t,
            )
            e.submit(
                "a",
                OrderRequest(SYM, Side.SELL, OrderType.LIMIT, quantity=D("10"), price=b.close + depth_ticks * tick),
                ts_ms=t,
            )
        if i % 50 == 0:
            side = Side.BUY if (i // 50) % 2 == 0 else Side.SELL
            e.submit("a", OrderRequest(SYM, side, OrderType.MARKET, quantity=D("5")), ts_ms=b.ts_ms + 59_999)
    return out, e.balances("a")


def test_fills_stay_inside_bars_on_spikes_and_never_in_missing_minutes(bars: list[Bar]) -> None:
    pairs, _ = _run_engine(bars, depth_ticks=2)
    assert len(pairs) > 100
    minutes = {b.ts_ms for b in bars}
    ranges = np.array([float((b.high - b.low) / b.close) for b in bars])
    spike = {bars[i].ts_ms for i in np.argsort(ranges)[-int(len(bars) * 0.01) :]}
    spike_fills = 0
    for f, b in pairs:
        if f.liquidity.value == "taker":
            assert b.low <= f.price <= b.high, (f, b)
        else:  # a resting maker is paid its own limit (#13): reached, or gapped past, by the bar
            assert (b.low <= f.price) if f.side == Side.BUY else (f.price <= b.high), (f, b)
        assert b.ts_ms <= f.ts_ms < b.ts_ms + b.interval_ms
        assert f.ts_ms - f.ts_ms % 60_000 in minutes, ("fill in a missing minute", f)
        spike_fills += b.ts_ms in spike
    assert spike_fills > 0


def test_deep_limits_fill_only_where_the_bar_reaches(bars: list[Bar]) -> None:
    pairs, _ = _run_engine(bars, depth_ticks=40)
    for f, b in pairs:
        if f.liquidity.value == "maker":
            # traded through by at least a tick (a bar that gapped past the limit pays the limit)
            if f.side == Side.BUY:
                assert b.low < f.price, (f, b)
            else:
                assert b.high > f.price, (f, b)


def _sma(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    f, s = df.close.rolling(10).mean(), df.close.rolling(40).mean()
    above = (f > s).to_numpy()
    prev = np.concatenate([[False], above[:-1]])
    return above & ~prev, ~above & prev


def _dec(x: object) -> Decimal:
    return x if isinstance(x, Decimal) else Decimal(repr(float(x)))


@pytest.mark.parametrize("order", ["market", "limit"])
def test_whole_file_replay_sma_crossover(candles: pd.DataFrame, order: str) -> None:
    ent, ext = _sma(candles)
    cash = D("10")
    res = replay.run(candles, M, cash=cash, entries=ent, exits=ext, size="100", order=order)
    assert len(res.fills) > 10
    bar_idx = candles.index.searchsorted(res.fills.index, side="right") - 1
    lows, highs = candles.low.to_numpy(), candles.high.to_numpy()
    c, p = cash, D(0)
    cols = (res.fills.index, res.fills.side, res.fills.price, res.fills.quantity, res.fills.fee, res.fills.liquidity)
    for k, (ts, side, price, qty, fee, liq) in enumerate(zip(*cols, strict=True)):
        i = bar_idx[k]
        assert i >= 0 and ts - candles.index[i] < pd.Timedelta(minutes=1), ("fill outside any bar", ts)
        price, qty, fee = _dec(price), _dec(qty), _dec(fee)
        lo_i, hi_i = _dec(lows[i]).quantize(M.tick_size), _dec(highs[i]).quantize(M.tick_size)
        if liq == "taker":
            assert lo_i <= price <= hi_i, (ts, price)
        else:  # a resting maker is paid its own limit, which the bar reached or gapped past (#13)
            assert lo_i <= price if getattr(side, "value", side) in ("buy", "BUY") else price <= hi_i, (ts, price)
        if getattr(side, "value", side) in ("buy", "BUY"):
            c -= price * qty
            p += qty - fee
        else:
            c += price * qty - fee
            p -= qty
        assert c >= 0 and p >= 0
    assert sum(res.balances.get("BTC", (D(0), D(0)))) == c
    assert sum(res.balances.get("UNITTEST", (D(0), D(0)))) == p
    assert res.equity.index.equals(candles.index)
    assert res.stats["final_equity"] == pytest.approx(float(c) + float(p) * float(candles.close.iloc[-1]), rel=1e-9)
