"""Coinbase Advanced: ``GET /api/v3/brokerage/key_permissions`` (ccxt ``v3_private_get_brokerage_key_permissions``).

The answer has ``can_view``, ``can_trade`` and ``can_transfer`` (booleans); it says nothing of an
IP allowlist or of the key's age, so those stay unknown (a warning, as a missing allowlist is).

>>> f = parse({"can_view": True, "can_trade": True, "can_transfer": False, "portfolio_uuid": "p",
...            "portfolio_type": "DEFAULT"})
>>> f.granted_moves, f.permissions["spot_trading"], f.ip_restricted
((), True, None)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kit.session.permissions.facts import KeyFacts, MalformedKeyInfo, VenuePermissions

FIELDS = {"reading": "can_view", "spot_trading": "can_trade", "transfer": "can_transfer"}
MOVES = ("transfer",)


def parse(raw: Any) -> KeyFacts:
    """Map the ``key_permissions`` answer onto :class:`KeyFacts`."""
    if not isinstance(raw, Mapping) or not all(isinstance(raw.get(f), bool) for f in FIELDS.values()):
        raise MalformedKeyInfo("Coinbase key_permissions without boolean can_view, can_trade and can_transfer")
    perms = {name: bool(raw[f]) for name, f in FIELDS.items()}
    return KeyFacts(perms, MOVES, details={"portfolio_type": str(raw.get("portfolio_type") or "")})


SPEC = VenuePermissions(
    exchange_id="coinbase",
    method="v3_private_get_brokerage_key_permissions",
    http_method="GET",
    path="/api/v3/brokerage/key_permissions",
    parse=parse,
    sandbox=None,
    testnet_meaning="no testnet: ccxt has no sandbox for Coinbase Advanced, so stage testnet refuses to start; "
    "practise on localnet, then go to live_small with small caps",
)
