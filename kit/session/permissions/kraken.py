"""Kraken: ``POST /0/private/GetApiKeyInfo`` (ccxt ``private_post_getapikeyinfo``).

Documented in Kraken's Spot REST reference ("Get API Key Info"): ``permissions`` is a list
(``query-funds``, ``deposit-funds``, ``withdraw-funds``, ``query-open-trades``,
``modify-trades``, ...), ``ipAllowlist`` a list, ``createdTime`` and ``validUntil`` Unix
seconds as strings (``"0"``: no expiry).

>>> f = parse({"error": [], "result": {"permissions": ["query-funds", "modify-trades"], "ipAllowlist": [],
...            "createdTime": "1772542900", "validUntil": "0"}})
>>> f.granted_moves, f.permissions["spot_trading"], f.ip_restricted, f.expires_ms
((), True, False, None)
"""

from __future__ import annotations

from typing import Any

from kit.session.permissions.facts import KeyFacts, MalformedKeyInfo, VenuePermissions, body, flags, int_ms

TABLE = {"reading": ["query-funds"], "spot_trading": ["modify-trades"], "withdraw": ["withdraw-funds"]}
MOVES = ("withdraw",)


def parse(raw: Any) -> KeyFacts:
    """Map the ``GetApiKeyInfo`` answer onto :class:`KeyFacts`."""
    data = body(raw, "result")
    perms, ips = data.get("permissions"), data.get("ipAllowlist")
    if not isinstance(perms, list) or not isinstance(ips, list):
        raise MalformedKeyInfo("Kraken GetApiKeyInfo without 'permissions' and 'ipAllowlist' lists")
    return KeyFacts(
        flags(perms, TABLE),
        MOVES,
        ip_restricted=any(str(ip).strip() for ip in ips),
        created_ms=int_ms(data.get("createdTime"), unit_ms=1000),
        expires_ms=int_ms(data.get("validUntil"), unit_ms=1000),
    )


SPEC = VenuePermissions(
    exchange_id="kraken",
    method="private_post_getapikeyinfo",
    http_method="POST",
    path="/0/private/GetApiKeyInfo",
    parse=parse,
    sandbox=None,
    testnet_meaning="no testnet: ccxt has no sandbox for Kraken spot, so stage testnet refuses to start; "
    "practise on localnet, then go to live_small with small caps",
)
