"""The soak, as a test (off by default): ``KIT_SOAK_MINUTES=10 .venv/bin/pytest -m soak tests/chaos -s``."""

from __future__ import annotations

import os
import runpy
from pathlib import Path

import pytest

pytestmark = [pytest.mark.soak, pytest.mark.chaos, pytest.mark.timeout(0)]


def test_soak(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIT_SOAK_MINUTES", os.environ.get("KIT_SOAK_MINUTES", "10"))
    monkeypatch.setenv("KIT_SOAK_DIR", str(tmp_path))
    soak = runpy.run_path(str(Path(__file__).parents[2] / "benchmarks" / "soak.py"))
    assert soak["main"]() == 0
