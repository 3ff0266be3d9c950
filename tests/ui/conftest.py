"""Fixtures for the widget tests: a real localnet (stepped clock) and a real Session over ccxt.

One localnet per module (it takes about 2 s to start); a fresh Session and journal per test, so
open orders, caps and the kill switch never leak between tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kit.localnet import LocalnetConfig, start


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    state = tmp_path_factory.mktemp("ln")
    with start(config=LocalnetConfig(stepped=True, state_dir=state)) as n:
        yield n


@pytest.fixture()
def session(net: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    key, secret = net.credentials("trader")
    monkeypatch.setenv("KIT_LOCALNET_URL", net.url)
    monkeypatch.setenv("KIT_LOCALNET_API_KEY", key)
    monkeypatch.setenv("KIT_LOCALNET_API_SECRET", secret)
    monkeypatch.setenv("KIT_HOME", str(tmp_path))
    monkeypatch.delenv("KIT_KILL", raising=False)
    from kit.session import Session

    s = Session("localnet", journal=tmp_path / "j.sqlite")
    try:
        yield s
    finally:
        try:
            s.cancel_all()
        finally:
            streams = getattr(s, "_streams", None)  # started by a blotter test through kit.session.streams.watch
            if streams is not None:
                streams.stop()
            s.close()
