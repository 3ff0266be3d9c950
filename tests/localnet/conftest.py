"""Fixtures for localnet tests: one session-wide server on 127.0.0.1:0 with a stepped clock.

Tests talk to it with the real ccxt client over loopback (never a mock). Tests that change
limits or need a clean state start their own instance with :func:`fresh_localnet`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from kit.localnet import LimitsConfig, LocalnetConfig
from kit.localnet.auth import new_api_key
from kit.localnet.server import Localnet, start

BIG_LIMITS = LimitsConfig(
    weight_per_minute=10**9, sapi_weight_per_minute=10**9, orders_per_10s=10**9, orders_per_day=10**9
)


@contextmanager
def fresh_localnet(**overrides: Any) -> Iterator[Localnet]:
    """A private localnet (stepped clock, big limits unless overridden)."""
    cfg = LocalnetConfig(stepped=True, seed=7, history_minutes=120, limits=BIG_LIMITS)
    net = start(port=0, config=cfg, **overrides)
    try:
        yield net
    finally:
        net.stop()


@pytest.fixture(scope="module")
def ed_net(request: pytest.FixtureRequest) -> Iterator[Localnet]:
    """A private localnet for one test module (stepped clock, an hour of history, seed ``LOCALNET_SEED``
    of the module) with an extra Ed25519 trading key named ``ed``, for the WebSocket API."""
    cfg = LocalnetConfig(stepped=True, seed=request.module.LOCALNET_SEED, history_minutes=60, limits=BIG_LIMITS)
    with start(port=0, config=cfg) as net:
        ed = new_api_key("ed", "main", spot_trading=True, created_ms=0, kind="ed25519")
        net.call(lambda v: v.add_key(ed))
        yield net


@pytest.fixture()
def make_localnet() -> Any:
    """Factory fixture: ``with make_localnet(limits=...) as net:`` gives a private instance."""
    return fresh_localnet


@pytest.fixture(scope="session")
def net_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("localnet-state")


@pytest.fixture(scope="session")
def net(net_state: Path) -> Iterator[Localnet]:
    """The shared localnet: stepped clock, seed 7, state and request log under a temp dir."""
    cfg = LocalnetConfig(stepped=True, seed=7, history_minutes=24 * 60, state_dir=net_state, limits=BIG_LIMITS)
    with start(port=0, config=cfg) as n:
        yield n


@pytest.fixture()
def ex(net: Localnet) -> Any:
    """A sync ccxt.binance with the trader key (full trading, no withdrawals)."""
    return net.client("trader", enableRateLimit=False)


@pytest.fixture(autouse=True)
def _clean_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "net" in request.fixturenames:
        n = request.getfixturevalue("net")
        n.set_faults(
            latency_ms=0,
            latency_jitter_ms=0,
            error_rate=0,
            error_burst=0,
            drop_ack_rate=0,
            ws_disconnect_rate=0,
            clock_skew_ms=0,
            maintenance=False,
        )
