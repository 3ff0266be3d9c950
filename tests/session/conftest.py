"""Fixtures for Session tests (the lab itself is tests/lab/lab.py, shared with chaos, reconcile and alerts)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lab.lab import Lab, open_lab


@pytest.fixture()
def lab_config() -> dict[str, Any]:
    """Overrides for the lab's LocalnetConfig (override this fixture in a module to change them)."""
    return {}


@pytest.fixture()
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lab_config: dict[str, Any]) -> Iterator[Lab]:
    """A private localnet and environment for one test (see ``lab.lab``)."""
    with open_lab(tmp_path, monkeypatch, **lab_config) as lab:
        yield lab
