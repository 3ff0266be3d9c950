"""Fixtures for the paper stage: a real-time upstream localnet, and the paper venue that mirrors it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kit.localnet import LocalnetConfig
from kit.localnet.server import Localnet, start
from kit.paper.venue import close_paper_venues


@dataclass
class Upstream:
    """The localnet a paper venue mirrors, and where its request log is."""

    net: Localnet
    log_path: Path

    def log(self) -> list[dict[str, Any]]:
        """The upstream's request log, one dict per REST request."""
        if not self.log_path.exists():
            return []
        return [json.loads(line) for line in self.log_path.read_text().splitlines() if line.strip()]


@pytest.fixture()
def upstream(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Upstream]:
    """A real-time localnet (memory state, request log in tmp) as ``KIT_LOCALNET_URL``; no key in the env."""
    log_path = tmp_path / "upstream-requests.log"
    net = start(config=LocalnetConfig(history_minutes=30, log_path=log_path))
    monkeypatch.setenv("KIT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KIT_LOCALNET_URL", net.url)
    monkeypatch.setenv("KIT_PAPER_SYMBOLS", "BTC/USDT,ETH/USDT")
    for var in ("KIT_LOCALNET_API_KEY", "KIT_LOCALNET_API_SECRET"):
        monkeypatch.delenv(var, raising=False)
    try:
        yield Upstream(net, log_path)
    finally:
        close_paper_venues()
        net.stop()
