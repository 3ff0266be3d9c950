"""Fixtures for the research tests: a store holding real candles (research_helpers.py)."""

from __future__ import annotations

import pytest
from research_helpers import store_with_real_candles

from kit.research import Data


@pytest.fixture(scope="session")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Data:
    """Twenty days of real 5m ETH/BTC candles in a fresh store."""
    return store_with_real_candles(tmp_path_factory.mktemp("store"))
