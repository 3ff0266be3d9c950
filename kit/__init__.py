"""Tradekit: research and paper trading through exchange APIs, with the safety practices built in.

The public surface for notebooks lives here. So far it is the error tree and the version; the
``Session`` and candle loading join it as they are built (see ``docs/architecture.md``).
"""

from kit.errors import (
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

__all__ = [
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
    "StageError",
    "TransientError",
    "__version__",
]
