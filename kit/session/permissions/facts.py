"""The shapes every venue module fills in: :class:`KeyFacts`, :class:`VenuePermissions`, and parsing helpers."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["KeyFacts", "MalformedKeyInfo", "VenuePermissions", "body", "flags", "int_ms", "iso_ms"]


class MalformedKeyInfo(ValueError):
    """The venue's answer does not have the documented shape; the preflight then says "unknown"."""


@dataclass(frozen=True)
class KeyFacts:
    """What a venue says about one key, in the kit's terms (never holds the key itself).

    Attributes
    ----------
    permissions
        ``reading`` and ``spot_trading``, then one entry per way of moving funds the venue names
        (``withdraw``, ``transfer``, ...), each ``True`` when granted.
    moves
        The names in ``permissions`` that move funds (refused: the kit never needs them).
    ip_restricted
        ``True``/``False``, or ``None`` when the venue does not say.
    created_ms, expires_ms
        Key creation and expiry time in ms UTC, ``None`` when the venue does not say (or never expires).
    """

    permissions: dict[str, bool]
    moves: tuple[str, ...]
    ip_restricted: bool | None = None
    created_ms: int | None = None
    expires_ms: int | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def granted_moves(self) -> tuple[str, ...]:
        """The fund-moving permissions this key has."""
        return tuple(m for m in self.moves if self.permissions.get(m))


@dataclass(frozen=True)
class VenuePermissions:
    """How one venue tells a key's permissions.

    Attributes
    ----------
    exchange_id
        The ccxt id.
    method, http_method, path
        The ccxt implicit method that calls the endpoint, and the request it sends (for the request
        log and the rate budget).
    parse
        The venue's JSON answer -> :class:`KeyFacts`; raises :class:`MalformedKeyInfo`.
    sandbox
        What ccxt 4.5.90 offers as this venue's sandbox (``urls['test']``), or ``None``.
    testnet_meaning
        What the kit's ``testnet`` stage means on this venue, in one sentence.
    needs_password
        The venue's keys come with a passphrase (``KIT_<EX>_<STAGE>_API_PASSWORD``).
    """

    exchange_id: str
    method: str
    http_method: str
    path: str
    parse: Callable[[Any], KeyFacts]
    sandbox: str | None
    testnet_meaning: str
    needs_password: bool = False


def flags(granted: Iterable[str], table: Mapping[str, Iterable[str]]) -> dict[str, bool]:
    """One boolean per kit permission: granted if the venue lists any of its names for it.

    >>> flags(["General", "Spot"], {"reading": ["General"], "spot_trading": ["Spot"], "withdraw": ["Withdrawal"]})
    {'reading': True, 'spot_trading': True, 'withdraw': False}
    """
    have = {str(g).strip().lower() for g in granted}
    return {name: any(n.lower() in have for n in names) for name, names in table.items()}


def iso_ms(value: Any) -> int | None:
    """Milliseconds UTC from an ISO-8601 time (``"2023-12-22T07:20:25Z"``); ``None`` for empty.

    >>> iso_ms("1970-01-02T00:00:00Z")
    86400000
    """
    if value in (None, "", 0, "0"):
        return None
    try:
        t = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise MalformedKeyInfo(f"not an ISO-8601 time: {value!r}") from exc
    if t.tzinfo is None:
        raise MalformedKeyInfo(f"time without a time zone: {value!r}")
    return int(t.timestamp() * 1000)


def int_ms(value: Any, *, unit_ms: int = 1) -> int | None:
    """Milliseconds from a number or numeric string in ``unit_ms`` units; ``None`` for empty or 0.

    >>> int_ms("1772542900", unit_ms=1000)
    1772542900000
    """
    if value in (None, "", 0, "0"):
        return None
    try:
        return int(str(value)) * unit_ms
    except ValueError as exc:
        raise MalformedKeyInfo(f"not a whole number: {value!r}") from exc


def body(raw: Any, key: str) -> dict[str, Any]:
    """The object under ``key`` in a venue's envelope (or the first of a list), else MalformedKeyInfo."""
    if not isinstance(raw, Mapping):
        raise MalformedKeyInfo(f"expected a JSON object, got {type(raw).__name__}")
    inner = raw.get(key)
    if isinstance(inner, list):
        inner = inner[0] if inner else None
    if not isinstance(inner, Mapping):
        raise MalformedKeyInfo(f"no {key!r} object in the answer")
    return dict(inner)
