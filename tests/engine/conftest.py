"""Shared setup for the engine tests.

The helpers live in each test module (this folder has no ``__init__.py``); this file only makes
the hypothesis profile explicit so the property tests behave the same everywhere.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile(
    "engine",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("engine")
