"""Helpers of the research tests: real 5m ETH/BTC candles, their market, a store holding them."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from kit.engine import Market
from kit.research import Data
from kit.store import Store

SHARED = Path(os.environ.get("KIT_SHARED_DATA") or Path(__file__).parents[2].parent / "shared" / "data")
MARKET = Market("ETH/BTC", "ETH", "BTC", tick_size=Decimal("0.000001"), step_size=Decimal("0.001"))
PARAMS = {"size": "0.5"}


def real_candles() -> pd.DataFrame:
    path = SHARED / "ETH_BTC-5m.feather"
    if not path.exists():
        pytest.skip(f"real candle data is missing ({path})")
    return pd.read_feather(path).set_index("date")


def store_with_real_candles(root: Path) -> Data:
    """Twenty days of real 5m candles put in a store at ``root``; the Data a sweep's tasks read them through."""
    candles = real_candles()
    Store(root).put(candles, "ETH/BTC", "5m", venue="test")
    start = int(candles.index[0].value // 1_000_000)
    end = int(candles.index[-1].value // 1_000_000) + 300_000
    return Data(str(root), "test", "ETH/BTC", "5m", start, end, MARKET)
