"""What an API key may do, read from each venue's own key-information endpoint.

Each supported venue has one small module here that names the endpoint (the ccxt implicit
method that calls it), says whether ccxt has a sandbox for it, and maps the venue's answer onto
one :class:`KeyFacts` with tables of the venue's permission names. The decision (refuse, warn,
ok) is the same for every venue and lives in :func:`kit.session.preflight.judge_facts`.

>>> spec = for_venue("okx")
>>> spec.method, spec.path, spec.needs_password
('private_get_account_config', '/api/v5/account/config', True)
>>> facts = spec.parse({"code": "0", "data": [{"perm": "read_only,trade", "ip": "203.0.113.7"}]})
>>> facts.granted_moves, facts.permissions["spot_trading"], facts.ip_restricted
((), True, True)
>>> sorted(VENUES)
['bitget', 'bybit', 'coinbase', 'kraken', 'kucoin', 'okx']
"""

from __future__ import annotations

from kit.session.permissions import bitget, bybit, coinbase, kraken, kucoin, okx
from kit.session.permissions.facts import KeyFacts, MalformedKeyInfo, VenuePermissions, flags, iso_ms

__all__ = ["VENUES", "KeyFacts", "MalformedKeyInfo", "VenuePermissions", "flags", "for_venue", "iso_ms"]

#: The permission reader of each supported venue, by ccxt id.
VENUES: dict[str, VenuePermissions] = {
    m.SPEC.exchange_id: m.SPEC for m in (okx, bybit, coinbase, kucoin, bitget, kraken)
}


def for_venue(exchange_id: str) -> VenuePermissions | None:
    """The permission reader of a ccxt exchange id, or ``None`` (Binance has its own, others none)."""
    return VENUES.get(exchange_id)
