"""The strategy interface: parameters, decisions, and the replay running a Strategy unchanged."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kit.engine import Market, replay
from kit.errors import ConfigError, OrderRejected
from kit.strategy import Feed, Strategy, decision_id, load_strategy, parse_params
from kit.strategy.examples import SmaCross

_HERE = Path(__file__).resolve()
# ../shared/data beside the clone (CI, main); a git worktree sits one level deeper
DATA = next((p for p in (_HERE.parents[2].parent / "shared" / "data" / "UNITTEST_BTC-1m.feather",
                         _HERE.parents[3].parent / "shared" / "data" / "UNITTEST_BTC-1m.feather") if p.exists()),
            _HERE.parents[2].parent / "shared" / "data" / "UNITTEST_BTC-1m.feather")  # fmt: skip
MARKET = Market("BTC/USDT", "BTC", "USDT", tick_size=Decimal("0.01"), step_size=Decimal("0.00001"))


def candles(n: int = 400, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 60_000 + np.cumsum(rng.normal(0, 40, n))
    opens = np.r_[close[0], close[:-1]]
    spread = np.abs(rng.normal(0, 15, n))
    idx = pd.date_range("2024-01-01", periods=n, freq="1min", tz="UTC")
    return pd.DataFrame({"open": opens.round(2), "high": (np.maximum(opens, close) + spread).round(2),
                         "low": (np.minimum(opens, close) - spread).round(2), "close": close.round(2),
                         "volume": rng.uniform(5, 20, n).round(5)}, index=idx)  # fmt: skip


def sma_callback(fast: int, slow: int, size: Decimal):  # the old callback form of the same strategy
    closes: list[float] = []

    def strategy(ctx: replay.Context) -> None:
        closes.append(ctx.close)
        if len(closes) < slow:
            return
        f, s = np.mean(closes[-fast:]), np.mean(closes[-slow:])
        flat = abs(ctx.position) < MARKET.step_size
        if f > s and flat and ctx.open_orders == 0:
            ctx.buy(size)
        elif f < s and not flat:
            q = (ctx.position / MARKET.step_size).to_integral_value(rounding="ROUND_FLOOR") * MARKET.step_size
            ctx.sell(q)

    return strategy


def test_strategy_class_and_old_callback_give_the_same_replay() -> None:
    c = candles()
    new = replay.run(c, MARKET, strategy=SmaCross(fast=5, slow=20), cash="100000")
    old = replay.run(c, MARKET, strategy=sma_callback(5, 20, Decimal("0.001")), cash="100000")
    assert len(new.fills) >= 4  # the strategy traded: the comparison below means something
    pd.testing.assert_frame_equal(new.fills, old.fills)
    assert new.balances == old.balances


def test_a_class_is_instantiated_with_its_defaults_and_decisions_are_recorded() -> None:
    c = candles()
    s = SmaCross(fast=5, slow=20)
    res = replay.run(c, MARKET, strategy=s, cash="100000")
    buys = [d for d in s.decisions if d.action == "buy"]
    sells = [d for d in s.decisions if d.action == "sell"]
    assert len(buys) == int((res.fills.side == "buy").sum()) and len(sells) == int((res.fills.side == "sell").sum())
    first = s.decisions[0]
    assert first.id == decision_id(s.run_name, "BTC/USDT", first.candle_ms, 0)
    assert first.client_id  # the replay's engine gave it a client id
    assert first.candle_ms in set(c.index.as_unit("ms").asi8)
    assert len(replay.run(c, MARKET, strategy=SmaCross, cash="100000").fills) > 0


def test_warmup_candles_are_seen_but_not_traded() -> None:
    c = candles()
    seen: list[int] = []

    class Probe(Strategy):
        def next(self) -> None:
            seen.append(len(self.closes))

    s = Probe()
    replay.run(c, MARKET, strategy=s.as_replay_callback(c, MARKET, warmup=50))
    assert seen[0] == 51 and seen[-1] == len(c) and len(seen) == len(c) - 50


def test_parameters_are_typed_from_their_defaults() -> None:
    s = SmaCross(**parse_params(["fast=7", "size=0.002"]))
    assert s.fast == 7 and isinstance(s.fast, int) and s.size == Decimal("0.002")
    assert s.params == {"fast": 7, "size": Decimal("0.002"), "slow": 48}
    assert repr(s) == "SmaCross(fast=7, size=Decimal('0.002'), slow=48)"
    with pytest.raises(ConfigError, match="fast='1.5' is not a int"):
        SmaCross(fast="1.5")
    with pytest.raises(ConfigError, match="unknown parameter 'fats'") as info:
        SmaCross(fats=3)
    assert "fast, size, slow" in str(info.value)
    with pytest.raises(ConfigError, match="not of the form name=value"):
        parse_params(["fast"])


def test_bad_orders_are_refused_before_the_broker_sees_them() -> None:
    class Bad(Strategy):
        size = "x"

        def next(self) -> None:
            self.buy(self.size)

    with pytest.raises(OrderRejected, match="size='x' is not a number"):
        replay.run(candles(5), MARKET, strategy=Bad)
    with pytest.raises(ConfigError, match="only inside next"):
        SmaCross().buy("1")


def test_load_strategy_from_a_file_and_a_module(tmp_path: Path) -> None:
    f = tmp_path / "mine.py"
    f.write_text(
        "from kit.strategy import Strategy\nclass Mine(Strategy):\n    n = 3\n    def next(self):\n        pass\n"
    )
    assert load_strategy(f"{f}:Mine")().n == 3
    assert load_strategy("kit.strategy.examples:SmaCross") is SmaCross
    with pytest.raises(ConfigError, match="no Strategy subclass named 'Nope'") as info:
        load_strategy(f"{f}:Nope")
    assert "Mine" in str(info.value)
    with pytest.raises(ConfigError, match="does not exist"):
        load_strategy(f"{tmp_path}/missing.py:Mine")
    with pytest.raises(ConfigError, match="not of the form"):
        load_strategy("SmaCross")


def test_feed_keeps_memory_bounded() -> None:
    f = Feed(capacity=4, keep=3)
    for i in range(100):
        f.append(i * 60_000, 1.0, 2.0, 0.5, float(i), 1.0)
    assert f.close.tolist()[-3:] == [97.0, 98.0, 99.0] and len(f) <= 6 and len(f._ts) == 8


@pytest.mark.skipif(not DATA.exists(), reason="real candles live in ../shared/data (absent in a user's clone)")
def test_real_candles_strategy_equals_callback() -> None:
    raw = pd.read_feather(DATA).set_index("date").iloc[:3000]
    raw.index = pd.DatetimeIndex(raw.index).tz_convert("UTC") if raw.index.tz else raw.index.tz_localize("UTC")
    m = Market("BTC/USDT", "BTC", "USDT", tick_size=Decimal("0.00000001"), step_size=Decimal("0.01"))
    size = Decimal("1")

    class Cross(SmaCross):
        pass

    s = Cross(fast=10, slow=30, size=size)
    new = replay.run(raw, m, strategy=s, cash="100")

    def old_cb():  # same rules with this market's step
        closes: list[float] = []

        def cb(ctx: replay.Context) -> None:
            closes.append(ctx.close)
            if len(closes) < 30:
                return
            f, sl = np.mean(closes[-10:]), np.mean(closes[-30:])
            flat = abs(ctx.position) < m.step_size
            if f > sl and flat and ctx.open_orders == 0:
                ctx.buy(size)
            elif f < sl and not flat:
                ctx.sell((ctx.position / m.step_size).to_integral_value(rounding="ROUND_FLOOR") * m.step_size)

        return cb

    old = replay.run(raw, m, strategy=old_cb(), cash="100")
    assert len(new.fills) > 20
    pd.testing.assert_frame_equal(new.fills, old.fills)
