"""KuCoin: ``GET /api/v1/user/api-key`` (ccxt ``private_get_user_api_key``).

``permission`` is a comma-separated list (``General``, ``Spot``, ``Margin``, ``Futures``,
``Earn``, ``InnerTransfer``, ``Transfer``, ``FlexTransfers``, ``Withdrawal``...),
``ipWhitelist`` the allowed IPs (masked, empty when none), ``createdAt`` ms.

>>> f = parse({"code": "200000", "data": {"permission": "General,Spot", "ipWhitelist": "203.**.7",
...            "createdAt": 1728443843000, "apiVersion": 3}})
>>> f.granted_moves, f.permissions["spot_trading"], f.ip_restricted, f.created_ms
((), True, True, 1728443843000)
"""

from __future__ import annotations

from typing import Any

from kit.session.permissions.facts import KeyFacts, MalformedKeyInfo, VenuePermissions, body, flags, int_ms

TABLE = {
    "reading": ["General"],
    "spot_trading": ["Spot"],
    "withdraw": ["Withdrawal"],
    "transfer": ["Transfer", "InnerTransfer", "FlexTransfers"],
}
MOVES = ("withdraw", "transfer")


def parse(raw: Any) -> KeyFacts:
    """Map the ``user/api-key`` answer onto :class:`KeyFacts`."""
    data = body(raw, "data")
    perm, ips = data.get("permission"), data.get("ipWhitelist")
    if not isinstance(perm, str) or not isinstance(ips, str | list | type(None)):
        raise MalformedKeyInfo("KuCoin api-key without a 'permission' string")
    listed = [p for p in (ips.split(",") if isinstance(ips, str) else ips or []) if str(p).strip()]
    return KeyFacts(
        flags(perm.split(","), TABLE),
        MOVES,
        ip_restricted=bool(listed),
        created_ms=int_ms(data.get("createdAt")),
        details={"apiVersion": data.get("apiVersion")},
    )


SPEC = VenuePermissions(
    exchange_id="kucoin",
    method="private_get_user_api_key",
    http_method="GET",
    path="/api/v1/user/api-key",
    parse=parse,
    sandbox=None,
    testnet_meaning="no testnet: ccxt 4.5.90 has no sandbox URL for KuCoin, so stage testnet refuses to start; "
    "practise on localnet, then go to live_small with small caps",
    needs_password=True,
)
