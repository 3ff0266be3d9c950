"""Fixtures for the chaos suite: an in-process localnet lab per test (see :mod:`lab.lab`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from lab.lab import Lab, open_lab


@pytest.fixture()
def lab(tmp_path: Path) -> Iterator[Lab]:
    """A private localnet (stepped clock) with the environment pointed at it; no secret may leak."""
    with open_lab(tmp_path) as lab:
        yield lab
        for s in lab.sessions:
            s.close()
        assert lab.leaks() == []
