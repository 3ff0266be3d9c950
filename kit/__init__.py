"""Tradekit: research and paper trading through exchange APIs, with the safety practices built in.

The public surface for notebooks lives here: :class:`Session` (the one door to an exchange),
:class:`Store` (the candle cache), the error tree and the version. ``Session`` and ``Store`` are
imported on first use, so ``import kit`` stays fast and pulls in neither ccxt nor pandas.

>>> import kit
>>> kit.Session.__name__, issubclass(kit.CapExceeded, kit.KitError)
('Session', True)
"""

from typing import Any as _Any

from kit.errors import (
    AmendFailed,
    AuthError,
    CapExceeded,
    ClockSkew,
    ConfigError,
    DataError,
    ExchangeUnavailable,
    FilterViolation,
    GuardRefused,
    InsufficientFunds,
    KillSwitchEngaged,
    KitError,
    OrderRejected,
    OrderUnknown,
    PermissionRefused,
    RateLimited,
    ReportFailed,
    SecretNotFound,
    StageError,
    TransientError,
)

__version__ = "0.1.0"

#: Public names imported on first attribute access (PEP 562).
_LAZY = {"Session": "kit.session", "Store": "kit.store"}


def __getattr__(name: str) -> _Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'kit' has no attribute {name!r}")


__all__ = [
    "AmendFailed",
    "AuthError",
    "CapExceeded",
    "ClockSkew",
    "ConfigError",
    "DataError",
    "ExchangeUnavailable",
    "FilterViolation",
    "GuardRefused",
    "InsufficientFunds",
    "KillSwitchEngaged",
    "KitError",
    "OrderRejected",
    "OrderUnknown",
    "PermissionRefused",
    "RateLimited",
    "ReportFailed",
    "SecretNotFound",
    "Session",
    "StageError",
    "Store",
    "TransientError",
    "__version__",
]
