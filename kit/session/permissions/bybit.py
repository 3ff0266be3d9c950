"""Bybit: ``GET /v5/user/query-api`` (ccxt ``private_get_v5_user_query_api``).

``readOnly`` is 1 for a read-only key; ``permissions`` lists rights by area (``Spot``:
``SpotTrade``; ``Wallet``: ``AccountTransfer``, ``SubMemberTransfer``, ``SubMemberTransferList``,
``Withdraw``); ``ips`` is ``["*"]`` when the key is not bound to IPs; ``createdAt`` and
``expiredAt`` are ISO times (a key without IP binding expires after 90 days).

>>> f = parse({"retCode": 0, "result": {"readOnly": 0, "permissions": {"Spot": ["SpotTrade"], "Wallet": []},
...            "ips": ["*"], "createdAt": "2024-01-01T00:00:00Z", "expiredAt": "2024-03-31T00:00:00Z"}})
>>> f.granted_moves, f.permissions["spot_trading"], f.ip_restricted
((), True, False)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kit.session.permissions.facts import KeyFacts, MalformedKeyInfo, VenuePermissions, body, flags, iso_ms

TABLE = {
    "spot_trading": ["SpotTrade"],
    "withdraw": ["Withdraw"],
    "transfer": ["AccountTransfer", "SubMemberTransfer", "SubMemberTransferList"],
}
MOVES = ("withdraw", "transfer")


def parse(raw: Any) -> KeyFacts:
    """Map the ``query-api`` answer onto :class:`KeyFacts`."""
    data = body(raw, "result")
    perms, ips, read_only = data.get("permissions"), data.get("ips"), data.get("readOnly")
    if not isinstance(perms, Mapping) or not isinstance(ips, list) or read_only not in (0, 1, "0", "1"):
        raise MalformedKeyInfo("Bybit query-api without 'permissions', 'ips' and 'readOnly'")
    granted = [str(p) for area in perms.values() if isinstance(area, list) for p in area]
    permissions = {"reading": True, **flags(granted, TABLE)}
    if int(read_only) == 1:
        # A read-only key trades nothing; moves stay as listed (fail closed: refuse if Bybit lists one).
        permissions["spot_trading"] = False
    restricted = any(str(ip).strip() not in ("", "*") for ip in ips)
    return KeyFacts(
        permissions,
        MOVES,
        ip_restricted=restricted,
        created_ms=iso_ms(data.get("createdAt")),
        expires_ms=iso_ms(data.get("expiredAt")),
        details={"readOnly": int(read_only)},
    )


SPEC = VenuePermissions(
    exchange_id="bybit",
    method="private_get_v5_user_query_api",
    http_method="GET",
    path="/v5/user/query-api",
    parse=parse,
    sandbox="Bybit testnet (api-testnet.bybit.com; keys are created on testnet.bybit.com)",
    testnet_meaning="orders go to Bybit's testnet with test funds and a testnet key",
)
