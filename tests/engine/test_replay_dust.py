"""The signals replay does not stall on fee dust (#13 item 4).

Default fees are taken in the base asset on buys, so a round trip leaves a remainder below one
step that no sell can include. That remainder used to count as a position, so the replay never
entered again. Now a position below the market's minimum tradable quantity counts as flat for
the signals; the dust stays in the balances and ``stats["dust"]`` reports it.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from kit.engine import Market, replay

D = Decimal
M = Market("BTC/USDT", "BTC", "USDT", tick_size=D("0.01"), step_size=D("0.01"))


def _flat(n: int = 8, price: float = 100.0) -> pd.DataFrame:
    idx = pd.date_range("2024-01-01", periods=n, freq="1min", tz="UTC")
    return pd.DataFrame({"open": price, "high": price, "low": price, "close": price, "volume": 1000.0}, index=idx)


def _signals(n: int, at: list[int]) -> np.ndarray:
    out = np.zeros(n, bool)
    out[at] = True
    return out


@pytest.mark.parametrize("path", ["auto", "engine"])
def test_flat_candles_two_round_trips_make_four_orders(path: str) -> None:
    res = replay.run(
        _flat(), M, cash="1000", entries=_signals(8, [0, 4]), exits=_signals(8, [2, 6]), size="1", path=path
    )
    assert res.stats["orders"] == 4
    assert res.orders.side.tolist() == ["buy", "sell", "buy", "sell"]
    # each buy of 1 receives 0.999 (fee 0.001 BTC); each exit sells the whole steps held
    assert res.orders.filled.tolist() == pytest.approx([1.0, 0.99, 1.0, 1.0])
    # 0.009 left after the first exit, 0.009 + 0.999 = 1.008 before the second: 1.00 sold
    assert res.balances["BTC"] == (D("0.008"), D(0))
    assert res.stats["dust"] == pytest.approx(0.008)


def test_both_paths_agree_on_dust() -> None:
    args = {"cash": "1000", "entries": _signals(8, [0, 4]), "exits": _signals(8, [2, 6]), "size": "1"}
    fast, slow = replay.run(_flat(), M, **args), replay.run(_flat(), M, path="engine", **args)
    assert fast.balances == slow.balances and fast.stats == slow.stats


def test_min_qty_above_a_step_counts_as_dust() -> None:
    # with min_qty 0.05, a remainder of 0.04 cannot be sold: flat for signals, all of it dust
    m = Market("BTC/USDT", "BTC", "USDT", tick_size=D("0.01"), step_size=D("0.01"), min_qty=D("0.05"))
    assert replay.min_tradable(m) == D("0.05")
    assert replay.dust(m, D("0.04")) == D("0.04") and replay.dust(m, D("0.053")) == D("0.003")
