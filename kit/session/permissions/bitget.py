"""Bitget: ``GET /api/v2/spot/account/info`` (ccxt ``private_spot_get_v2_spot_account_info``).

``authorities`` lists codes: read-only ``stor`` (spot), ``wtor`` (wallet transfer) ...; read and
write ``stow`` (spot trade), ``wtow`` (wallet transfer), ``wwow`` (withdrawal), ``chow``
(sub-account management) ...; the documentation's example also shows ``trade`` and
``readonly``. ``ips`` is the IP allowlist (a string, empty when none). ``regisTime`` is the
account's registration, not the key's, so the key's age stays unknown.

>>> f = parse({"code": "00000", "data": {"authorities": ["stor", "stow"], "ips": "203.0.113.7"}})
>>> f.granted_moves, f.permissions["spot_trading"], f.ip_restricted
((), True, True)
"""

from __future__ import annotations

from typing import Any

from kit.session.permissions.facts import KeyFacts, MalformedKeyInfo, VenuePermissions, body, flags

TABLE = {
    "reading": ["stor", "stow", "readonly", "trade"],
    "spot_trading": ["stow", "trade"],
    "withdraw": ["wwow", "withdraw"],
    "transfer": ["wtow", "transfer"],
    "subaccount_manage": ["chow"],
}
MOVES = ("withdraw", "transfer", "subaccount_manage")


def parse(raw: Any) -> KeyFacts:
    """Map the ``spot/account/info`` answer onto :class:`KeyFacts`."""
    data = body(raw, "data")
    auth, ips = data.get("authorities"), data.get("ips")
    if not isinstance(auth, list) or not isinstance(ips, str | type(None)):
        raise MalformedKeyInfo("Bitget account/info without an 'authorities' list")
    return KeyFacts(flags(auth, TABLE), MOVES, ip_restricted=bool((ips or "").strip()))


SPEC = VenuePermissions(
    exchange_id="bitget",
    method="private_spot_get_v2_spot_account_info",
    http_method="GET",
    path="/api/v2/spot/account/info",
    parse=parse,
    sandbox=None,
    testnet_meaning="no testnet URL in ccxt 4.5.90 (urls['test'] is unset; Bitget's demo trading is a header on "
    "the live host), so stage testnet refuses to start; practise on localnet, then live_small with small caps",
    needs_password=True,
)
