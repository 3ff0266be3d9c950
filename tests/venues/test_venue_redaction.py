"""What ccxt logs of a venue's signed request (DEBUG: URL, headers, body) reaches no handler unredacted."""

from __future__ import annotations

import io
import logging

import pytest
from test_venue_preflight import ANSWERS
from venuelab import serve

from kit.safety import secrets
from kit.session.permissions import VENUES
from kit.session.preflight import check_venue

#: Headers whose value is a credential or a signature derived from one, per venue.
SIGNED = {
    "okx": ["OK-ACCESS-KEY", "OK-ACCESS-SIGN", "OK-ACCESS-PASSPHRASE"],
    "bybit": ["X-BAPI-API-KEY", "X-BAPI-SIGN"],
    "kucoin": ["KC-API-KEY", "KC-API-SIGN", "KC-API-PASSPHRASE"],
    "bitget": ["ACCESS-KEY", "ACCESS-SIGN", "ACCESS-PASSPHRASE"],
    "kraken": ["API-Key", "API-Sign"],
    "coinbase": ["Authorization"],
}


@pytest.mark.parametrize("venue", sorted(VENUES))
def test_ccxt_debug_lines_of_a_signed_request_are_redacted(venue: str) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    log = logging.getLogger("ccxt.base.exchange")
    old_level = log.level
    log.setLevel(logging.DEBUG)
    log.addHandler(handler)
    flt = secrets.install_redaction(log)
    try:
        with serve(venue) as server:
            # the Session registers what it loads as Secrets; so does this test
            held = [secrets.Secret(server.venue.api_key), secrets.Secret(server.venue.secret)]
            if server.venue.password:
                held.append(secrets.Secret(server.venue.password))
            server.venue.answer = ANSWERS[venue]["trade_only"]
            check_venue(venue, server.fetch, stage="testnet", now_ms=0)
            sent = server.venue.seen[0].headers
    finally:
        log.removeHandler(handler)
        log.removeFilter(flt)
        log.setLevel(old_level)
    text = stream.getvalue()
    assert "Request:" in text or "Response:" in text  # ccxt did log the request
    for name in SIGNED[venue]:
        value = sent[name].removeprefix("Bearer ")
        assert value not in text, f"{name} leaked in ccxt's log"
    assert all(s.reveal() not in text for s in held)
