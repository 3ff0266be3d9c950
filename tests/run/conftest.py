"""Fixtures for the runner tests: a private stepped localnet per test (``lab.lab``), real ccxt."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lab.lab import Lab, open_lab


@pytest.fixture()
def lab_config() -> dict[str, Any]:
    """Overrides for the lab's LocalnetConfig."""
    return {"history_minutes": 240}


@pytest.fixture()
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lab_config: dict[str, Any]) -> Iterator[Lab]:
    """A private localnet (stepped clock) and environment for one test."""
    with open_lab(tmp_path, monkeypatch, **lab_config) as lab:
        yield lab
