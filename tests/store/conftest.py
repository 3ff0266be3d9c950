"""Fixtures for the candle store tests: real localnets (stepped clocks) reached through real ccxt.

See ``store_helpers.py`` for the CandleSource adapter (``LocalnetSource``) and data helpers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pandas as pd
import pytest
from store_helpers import (
    BIG_LIMITS,
    GAP_HOLES,
    GAP_MINUTES,
    MIN,
    T0,
    LocalnetSource,
    make_candles,
    replay_config,
)

from kit.localnet import LocalnetConfig
from kit.localnet.server import Localnet, start


@pytest.fixture(scope="module")
def synth_net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Localnet]:
    """Synthetic market (seeded), clock stopped at T0 with three days of history behind it."""
    cfg = LocalnetConfig(
        stepped=True,
        seed=7,
        start_ms=T0,
        history_minutes=3 * 1440,
        state_dir=tmp_path_factory.mktemp("localnet"),
        limits=BIG_LIMITS,
    )
    with start(port=0, config=cfg) as net:
        yield net


@pytest.fixture(scope="module")
def gap_frame() -> pd.DataFrame:
    return make_candles(GAP_MINUTES, holes=GAP_HOLES)


@pytest.fixture(scope="module")
def gap_net(gap_frame: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Localnet]:
    """Replays ``gap_frame``; the clock is 20 minutes past its end, so every candle is closed."""
    with start(port=0, config=replay_config(gap_frame, tmp_path_factory.mktemp("gapnet"))) as net:
        net.step(GAP_MINUTES * MIN + 20 * MIN - net.venue.clock.now_ms() + T0)
        yield net


@pytest.fixture()
def make_source() -> Callable[..., LocalnetSource]:
    return LocalnetSource
