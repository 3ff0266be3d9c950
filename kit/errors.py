"""The one error tree of the kit: every failure a user can act on is a :class:`KitError`.

The branch decides the handling: retry policy keys off the class only (``retryable``), and the
CLI turns any ``KitError`` into a one-line message and exit code 2. ::

    KitError                         handled at the outermost level
    ├── ConfigError                  bad or missing configuration; never retried
    │   └── SecretNotFound           says which environment variable / keyring entry to set
    ├── GuardRefused                 refused BEFORE any request was sent
    │   ├── StageError               e.g. an order method in the read_only stage
    │   ├── CapExceeded              per-order / daily notional, daily loss, open orders
    │   └── KillSwitchEngaged
    ├── AuthError                    bad key, signature, permission or IP
    │   ├── ClockSkew                timestamp outside recvWindow; sync the clock
    │   └── PermissionRefused        the key may do more than trade (withdraw, transfer)
    ├── OrderRejected                the venue (or engine) said no
    │   ├── InsufficientFunds
    │   ├── FilterViolation          tick / step / min-notional, with the allowed value
    │   ├── AmendFailed              a cancel-replace refused in part or whole (canceled, placed)
    │   └── OrderUnknown             order not found, or its state is unknown
    ├── TransientError               temporary; retried with backoff (retryable = True)
    │   ├── ExchangeUnavailable      network, timeout, 5xx
    │   └── RateLimited              429 / 418; carries retry_after_ms
    ├── DataError                    cache gap, corrupt Parquet, wrong columns
    └── ReportFailed                 a report notebook failed; keeps cell_index and ename

Every error keeps its context as attributes (``symbol``, ``order_id``, ``value``, ``allowed``,
...), and its message ends with what to do next (the class's ``hint``, or one passed in).

>>> err = CapExceeded("order notional over the per-order cap", symbol="BTC/USDT", value=50, allowed=20)
>>> err.allowed, err.retryable
(20, False)
>>> print(err)  # doctest: +NORMALIZE_WHITESPACE
order notional over the per-order cap (symbol='BTC/USDT', value=50, allowed=20). No request was sent.
Reduce the order, or raise the cap in configuration once you have reviewed the risk.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import Any, ClassVar

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
    "StageError",
    "TransientError",
]

#: A value a limit, cap or filter can take.
Amount = Decimal | int | float | str


def _shown(value: Any) -> str:
    """A context value as a reader reads it: numbers plain (``59.94999``, not ``Decimal('59.94999')``, #17.6)."""
    if isinstance(value, Decimal):
        return format(value, "f")
    return repr(value)


class KitError(Exception):
    """Base of every error the kit raises on purpose.

    Parameters
    ----------
    message
        What went wrong, in one sentence.
    symbol
        Market symbol involved, e.g. ``"BTC/USDT"``.
    order_id
        Exchange order id (or client order id) involved.
    value
        The value that was asked for or reached (an order's value, a day's notional, a count, a
        measured clock skew); checked against ``allowed``.
    allowed
        The value that would have been accepted (a cap, what is left of it, a tick size, a minimum).
    limit
        Deprecated name of ``value`` (it read as the cap, #17.6); still accepted, and ``err.limit``
        still reads ``value``.
    hint
        What to do next; replaces the class's default ``hint``.
    """

    #: What to do next; each subclass sets its own default, an instance may override it.
    hint: str = "Read the message above; if it does not say what to fix, file an issue with it."
    #: True when retrying the same request later may succeed (only the TransientError branch).
    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        symbol: str | None = None,
        order_id: str | None = None,
        value: Amount | None = None,
        allowed: Amount | None = None,
        hint: str | None = None,
        limit: Amount | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.symbol = symbol
        self.order_id = order_id
        if limit is not None and value is not None:
            raise TypeError("give value= (limit= is its deprecated name), not both")
        self.value = value if value is not None else limit
        self.allowed = allowed
        if hint is not None:
            self.hint = hint

    @property
    def limit(self) -> Amount | None:
        """Deprecated name of :attr:`value`."""
        return self.value

    @property
    def context(self) -> dict[str, Any]:
        """Context keywords that were given (not ``None``), in declaration order."""
        return {k: v for k, v in self._kwargs().items() if v is not None and k != "hint"}

    def _kwargs(self) -> dict[str, Any]:
        """Keyword arguments that rebuild this error; subclasses with more context extend it."""
        return {
            "symbol": self.symbol,
            "order_id": self.order_id,
            "value": self.value,
            "allowed": self.allowed,
            "hint": self.__dict__.get("hint"),
        }

    def __str__(self) -> str:
        text = self.message.rstrip().rstrip(".")
        if self.context:
            text += " (" + ", ".join(f"{k}={_shown(v)}" for k, v in self.context.items()) + ")"
        return f"{text}. {self.hint}"

    def __repr__(self) -> str:
        args = "".join(f", {k}={v!r}" for k, v in self._kwargs().items() if v is not None)
        return f"{type(self).__name__}({self.message!r}{args})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only context would be lost by Exception's default pickling (args only).
        return (functools.partial(type(self), self.message, **self._kwargs()), ())


# ---------------------------------------------------------------- configuration


class ConfigError(KitError):
    """Configuration is missing or invalid; never retried."""

    hint = "Fix the configuration value named above, then run again."


class SecretNotFound(ConfigError):
    """A credential was looked up and not found.

    Parameters
    ----------
    message
        What was looked up.
    env_var
        The environment variable that would provide it, e.g. ``"KIT_BINANCE_KEY"``.
    **context
        Passed to :class:`KitError`.
    """

    hint = "Set it as an environment variable (or in .env, or in the OS keyring); never put keys in code or notebooks."

    def __init__(self, message: str, *, env_var: str | None = None, **context: Any) -> None:
        if env_var is not None and context.get("hint") is None:
            context["hint"] = (
                f"Set {env_var} in the environment (or in .env, or in the OS keyring); "
                "never put keys in code or notebooks."
            )
        super().__init__(message, **context)
        self.env_var = env_var

    def _kwargs(self) -> dict[str, Any]:
        return {"env_var": self.env_var, **super()._kwargs()}


# ---------------------------------------------------------------- guard


class GuardRefused(KitError):
    """The guard refused an action before any request was sent."""

    hint = "No request was sent. Change the action or the guard configuration."


class StageError(GuardRefused):
    """The action is not allowed in the current stage (read_only, testnet, live_small, live)."""

    hint = (
        "No request was sent. Use a stage that allows this action; move up the ladder "
        "(read_only, testnet, live_small, live) only with the evidence each stage asks for."
    )


class CapExceeded(GuardRefused):
    """A cap would be exceeded: per-order or daily notional, daily loss, or open orders."""

    hint = "No request was sent. Reduce the order, or raise the cap in configuration once you have reviewed the risk."


class KillSwitchEngaged(GuardRefused):
    """The kill switch is engaged; no order may be sent until it is reset."""

    hint = "No request was sent. Find out why the kill switch tripped, then reset it explicitly."


# ---------------------------------------------------------------- authentication


class AuthError(KitError):
    """The venue refused the credentials: key, signature, permission or IP allowlist."""

    hint = "Check the API key and secret, its permissions, and the exchange's IP allowlist for this host."


class ClockSkew(AuthError):
    """The request timestamp fell outside the venue's window (recvWindow).

    Parameters
    ----------
    message
        What the venue said.
    skew_ms
        Local clock minus venue clock, in milliseconds, when known.
    **context
        Passed to :class:`KitError`.
    """

    hint = "Sync the system clock (enable NTP, e.g. `timedatectl set-ntp true`), then retry."

    def __init__(self, message: str, *, skew_ms: int | None = None, **context: Any) -> None:
        super().__init__(message, **context)
        self.skew_ms = skew_ms

    def _kwargs(self) -> dict[str, Any]:
        return {"skew_ms": self.skew_ms, **super()._kwargs()}


class PermissionRefused(AuthError):
    """The key has a permission the kit refuses to use (withdraw, transfer), or lacks one it needs."""

    hint = "Create a trade-only key (withdrawals and transfers disabled, IP allowlist on), and revoke this one."


# ---------------------------------------------------------------- orders


class OrderRejected(KitError):
    """The venue (or the engine) refused the order."""

    hint = "Read the venue's reason above, correct the order, then submit it again."


class InsufficientFunds(OrderRejected):
    """The balance does not cover the order, fees included."""

    hint = "Reduce the order or add funds; open orders hold part of the balance too."


class FilterViolation(OrderRejected):
    """Price or quantity breaks a symbol filter: tick size, step size, minimum notional.

    ``filter`` names the exchange's filter (``PRICE_FILTER``, ``LOT_SIZE``, ``NOTIONAL``, ...) and
    ``allowed`` the bound it enforces.
    """

    hint = "Round the price to the tick size and the quantity to the step size; meet the minimum notional."

    def __init__(self, message: str, *, filter: str | None = None, **context: Any) -> None:
        super().__init__(message, **context)
        self.filter = filter

    def _kwargs(self) -> dict[str, Any]:
        return {"filter": self.filter, **super()._kwargs()}


class AmendFailed(OrderRejected):
    """A cancel-replace (amend) the exchange refused in part or whole; the outcome is definite.

    ``canceled`` says whether the old order was canceled, ``placed`` whether the replacement was
    placed (Binance -2021 "partially failed" / -2022 "failed"). When ``canceled`` is true and
    ``placed`` false, nothing of the order is working any more.
    """

    hint = (
        "Check session.open_orders(): if the old order was canceled and the new one refused, nothing is "
        "working; place the order again if you still want it."
    )

    def __init__(
        self, message: str, *, canceled: bool | None = None, placed: bool | None = None, **context: Any
    ) -> None:
        super().__init__(message, **context)
        self.canceled = canceled
        self.placed = placed

    def _kwargs(self) -> dict[str, Any]:
        return {"canceled": self.canceled, "placed": self.placed, **super()._kwargs()}


class OrderUnknown(OrderRejected):
    """The order was not found, or its state is unknown (e.g. a timeout after sending it)."""

    hint = "Do not resubmit blindly: fetch open orders and recent trades first, or the same order may be placed twice."


# ---------------------------------------------------------------- transient


class TransientError(KitError):
    """A temporary failure; the same request may succeed later.

    Parameters
    ----------
    message
        What failed.
    retry_after_ms
        How long to wait before retrying, in milliseconds, when the venue said so.
    **context
        Passed to :class:`KitError`.
    """

    hint = "This is temporary: retry with exponential backoff; if it persists, check the exchange's status."
    retryable = True

    def __init__(self, message: str, *, retry_after_ms: int | None = None, **context: Any) -> None:
        super().__init__(message, **context)
        self.retry_after_ms = retry_after_ms

    def _kwargs(self) -> dict[str, Any]:
        return {**super()._kwargs(), "retry_after_ms": self.retry_after_ms}


class ExchangeUnavailable(TransientError):
    """The venue did not answer in time or answered with a server error (network, timeout, 5xx)."""

    hint = "Retry with exponential backoff; if it persists, check your network and the exchange's status."


class RateLimited(TransientError):
    """The venue rate-limited us (HTTP 429) or banned the IP for a while (HTTP 418)."""

    hint = (
        "Wait retry_after_ms before the next request, then slow down: "
        "cache data and prefer WebSocket streams to polling."
    )


# ---------------------------------------------------------------- data and reports


class DataError(KitError):
    """Stored or received data is unusable: a gap in the cache, a corrupt file, wrong columns."""

    hint = "Fetch the affected range again; if a cached file is corrupt, delete it under data/ first."


class ReportFailed(KitError):
    """A report notebook failed while executing.

    Parameters
    ----------
    message
        What failed.
    cell_index
        Index of the failing cell in the executed notebook.
    ename
        Name of the exception the cell raised, e.g. ``"KeyError"``.
    **context
        Passed to :class:`KitError`.
    """

    hint = "Open the executed notebook at the failing cell (cell_index), fix it, then run the report again."

    def __init__(
        self, message: str, *, cell_index: int | None = None, ename: str | None = None, **context: Any
    ) -> None:
        super().__init__(message, **context)
        self.cell_index = cell_index
        self.ename = ename

    def _kwargs(self) -> dict[str, Any]:
        return {**super()._kwargs(), "cell_index": self.cell_index, "ename": self.ename}
