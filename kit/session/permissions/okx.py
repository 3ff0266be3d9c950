"""OKX: ``GET /api/v5/account/config`` (ccxt ``private_get_account_config``).

The answer's ``perm`` lists ``read_only``, ``trade`` and ``withdraw``; ``ip`` holds the bound IP
addresses, comma-separated, empty when none. OKX reports no creation or expiry time here.

>>> f = parse({"code": "0", "msg": "", "data": [{"perm": "read_only,withdraw,trade", "ip": ""}]})
>>> f.granted_moves, f.ip_restricted
(('withdraw',), False)
"""

from __future__ import annotations

from typing import Any

from kit.session.permissions.facts import KeyFacts, MalformedKeyInfo, VenuePermissions, body, flags

TABLE = {"reading": ["read_only"], "spot_trading": ["trade"], "withdraw": ["withdraw"]}
MOVES = ("withdraw",)


def parse(raw: Any) -> KeyFacts:
    """Map the ``account/config`` answer onto :class:`KeyFacts`."""
    data = body(raw, "data")
    perm, ip = data.get("perm"), data.get("ip")
    if not isinstance(perm, str) or not isinstance(ip, str):
        raise MalformedKeyInfo("OKX account/config without 'perm' and 'ip' strings")
    granted = [p for p in perm.split(",") if p.strip()]
    return KeyFacts(flags(granted, TABLE), MOVES, ip_restricted=bool(ip.strip()), details={"perm": perm})


SPEC = VenuePermissions(
    exchange_id="okx",
    method="private_get_account_config",
    http_method="GET",
    path="/api/v5/account/config",
    parse=parse,
    sandbox="OKX demo trading (ccxt sets the x-simulated-trading header; keys are created in demo mode)",
    testnet_meaning="orders go to OKX demo trading with demo funds and a demo-mode key",
    needs_password=True,
)
