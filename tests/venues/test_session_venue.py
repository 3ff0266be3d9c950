"""A whole Session on a venue that is not Binance: connect, preflight, refuse or accept, journal.

The Session builds the real ccxt (pro) Kraken client as for the live exchange; the test only
points its ``urls['api']`` at the venue server (which answers the public markets and time, and
checks Kraken's API-Key/API-Sign on the key-information call).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_venue_preflight import ANSWERS
from venuelab import KEY, KRAKEN_SECRET, VenueServer, kraken_public, serve

import kit.session.core as core
from kit.errors import PermissionRefused
from kit.journal.journal import Journal
from kit.safety import secrets
from kit.safety.guard import Caps
from kit.session import Session
from kit.session.permissions import attest as att
from kit.session.venues import build_client

SYMBOL = "BTC/USD"


@pytest.fixture()
def kraken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[VenueServer, Path, str]]:
    """The Kraken server, a journal with testnet evidence for BTC/USD, and the live key's fingerprint."""
    monkeypatch.setenv("KIT_HOME", str(tmp_path))
    monkeypatch.setenv("KIT_KRAKEN_LIVE_API_KEY", KEY)
    monkeypatch.setenv("KIT_KRAKEN_LIVE_API_SECRET", KRAKEN_SECRET)
    path = tmp_path / "journal.sqlite"
    now = int(time.time() * 1000)
    with Journal(path) as j:
        for i in range(3):
            j.record_fill(venue="localnet", account="default", stage="testnet", symbol=SYMBOL, client_id=f"c{i}",
                          order_id=str(i), trade_id=str(i), side="buy", price="60000", amount="0.0001",
                          fee_cost="0", fee_currency="BTC", ts_ms=now - 1000 + i)  # fmt: skip
    with serve("kraken") as server:
        server.venue.public = kraken_public()

        def pointed(*args: Any, **kwargs: Any) -> Any:
            ex = build_client(*args, **kwargs)
            # ccxt's own throttle (Kraken: rateLimit 1000 ms) would sit inside every clock sample's round
            # trip and trip the kit's 1000 ms "ahead" limit; see docs/venues.md (Kraken and the clock check).
            ex.enableRateLimit = False
            for name in ("public", "private"):
                ex.urls["api"][name] = server.url
            return ex

        monkeypatch.setattr(core, "build_client", pointed)
        creds = secrets.load_credentials("kraken", "live", dotenv=None, use_keyring=False)
        assert creds is not None
        yield server, path, creds.fingerprint


def _session(path: Path) -> Session:
    return Session("kraken", stage="live_small", journal=path, caps=Caps.for_stage("live_small", symbols=[SYMBOL]),
                   dotenv=None, twins=False)  # fmt: skip


def _preflights(path: Path) -> list[dict[str, Any]]:
    with Journal(path) as j:
        return [e.payload for e in j.events(kinds=["preflight"], venue="kraken")]


@pytest.mark.slow  # a venue server and two Sessions
def test_live_small_with_unknown_permissions_refuses_then_accepts_once_attested(
    kraken: tuple[VenueServer, Path, str],
) -> None:
    server, path, fp = kraken
    server.venue.answer = ANSWERS["kraken"]["malformed"]  # an answer the kit cannot read: unknown
    with pytest.raises(PermissionRefused, match=f"kit attest --exchange kraken --fingerprint {fp}"):
        _session(path)
    assert _preflights(path)[-1]["verdict"] == "refuse"
    a = att.attest("kraken", fingerprint=fp, cannot_withdraw=True, ip_restricted=True, journal=path, dotenv=None)
    with _session(path) as s:
        assert s.preflight is not None and s.preflight.verdict == "warn"
        assert any(f"key {fp} on kraken: attested by" in w for w in s.warnings)
    row = _preflights(path)[-1]
    assert row["verdict"] == "warn" and row["source"].endswith("; attested") and row["fingerprint"] == fp
    assert row["attestation_seq"] == a.seq
    with Journal(path) as j:
        attests = j.events(kinds=["attest"])
    assert [e.seq for e in attests] == [a.seq]
    # every signed request carried Kraken's own signature, checked with the test secret
    assert server.venue.seen and all(s.verdict == "ok" for s in server.venue.seen)


def test_a_withdraw_key_is_refused_at_connect_before_any_order(kraken: tuple[VenueServer, Path, str]) -> None:
    server, path, _ = kraken
    server.venue.answer = ANSWERS["kraken"]["trade_withdraw"]
    with pytest.raises(PermissionRefused, match="can withdraw or transfer funds: withdraw"):
        _session(path)
    assert [s.path for s in server.venue.seen] == ["/0/private/GetApiKeyInfo"]  # nothing else was signed
    with Journal(path) as j:
        assert j.events(kinds=["intent"]) == []


def test_a_trade_only_key_connects(kraken: tuple[VenueServer, Path, str]) -> None:
    server, path, _ = kraken
    server.venue.answer = ANSWERS["kraken"]["ip_restricted"]
    with _session(path) as s:
        assert s.preflight is not None and s.preflight.refusals == () and s.preflight.ip_restricted is True
    assert _preflights(path)[-1]["source"] == "kraken POST /0/private/GetApiKeyInfo"


@pytest.mark.slow
def test_a_failing_key_info_call_is_unknown_after_the_read_retries(kraken: tuple[VenueServer, Path, str]) -> None:
    server, path, fp = kraken
    server.venue.status, server.venue.answer = 503, "upstream unavailable"
    with pytest.raises(PermissionRefused, match=r"GetApiKeyInfo failed \(ExchangeUnavailable"):
        _session(path)
    assert len(server.venue.seen) > 1  # a read: retried with backoff before it counts as failed
