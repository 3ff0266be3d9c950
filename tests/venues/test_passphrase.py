"""Passphrase venues (OKX, KuCoin, Bitget): the passphrase comes from where the key comes from, never from code."""

from __future__ import annotations

import logging
from pathlib import Path

import ccxt
import keyring
import keyring.backend
import pytest
from venuelab import PASSPHRASE, serve

from kit.errors import SecretNotFound
from kit.safety import secrets
from kit.session import Session
from kit.session.permissions import VENUES, for_venue
from kit.session.preflight import check_venue

KEY, SECRET = "k" * 32, "s" * 40


def test_the_passphrase_list_matches_ccxt() -> None:
    for exchange_id in [*VENUES, "binance", "myokx", "okxus", "kucoinfutures"]:
        needs = bool(getattr(ccxt, exchange_id)().requiredCredentials.get("password"))
        assert (exchange_id in secrets.PASSPHRASE_EXCHANGES) is needs, exchange_id
        spec = for_venue(exchange_id)
        assert spec is None or spec.needs_password is needs


@pytest.mark.parametrize("venue", ["okx", "kucoin", "bitget"])
def test_a_missing_passphrase_names_its_variable(venue: str) -> None:
    env = {f"KIT_{venue.upper()}_LIVE_API_KEY": KEY, f"KIT_{venue.upper()}_LIVE_API_SECRET": SECRET}
    creds = secrets.load_credentials(venue, "live_small", env=env, dotenv=None, use_keyring=False)
    assert creds is not None and creds.password is None
    with pytest.raises(SecretNotFound) as info:
        secrets.require_password(creds, venue, "live_small")
    var = f"KIT_{venue.upper()}_LIVE_API_PASSWORD"
    assert info.value.env_var == var and var in str(info.value)


@pytest.mark.parametrize("venue", ["okx", "kucoin", "bitget"])
def test_the_passphrase_from_dotenv_signs_the_preflight(venue: str, tmp_path: Path) -> None:
    prefix = f"KIT_{venue.upper()}_LIVE"
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"{prefix}_API_KEY=unused-here-0000\n{prefix}_API_SECRET=unused-secret-0000\n"
                      f"{prefix}_API_PASSWORD={PASSPHRASE}\n")  # fmt: skip
    dotenv.chmod(0o600)
    creds = secrets.load_credentials(venue, "live", env={}, dotenv=dotenv, use_keyring=False)
    assert creds is not None
    password = secrets.require_password(creds, venue, "live")
    assert password == PASSPHRASE and PASSPHRASE not in repr(creds) and PASSPHRASE not in str(creds.password)
    assert secrets.redact(f"passphrase in a log line: {PASSPHRASE}") == "passphrase in a log line: ***"
    with serve(venue) as server:
        server.client.password = password  # what build_client passes ccxt from require_password
        server.venue.answer = {
            "okx": {"code": "0", "data": [{"perm": "read_only,trade", "ip": "203.0.113.7"}]},
            "kucoin": {"code": "200000", "data": {"permission": "General,Spot", "ipWhitelist": "203.**.7"}},
            "bitget": {"code": "00000", "data": {"authorities": ["stor", "stow"], "ips": "203.0.113.7"}},
        }[venue]
        p = check_venue(venue, server.fetch, stage="live_small", now_ms=0)
        assert [s.verdict for s in server.venue.seen] == ["ok"]
    assert p.refusals == ()


@pytest.mark.parametrize("venue", ["okx", "kucoin", "bitget"])
def test_a_session_without_the_passphrase_stops_before_any_request(
    venue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("KIT_HOME", str(tmp_path))
    monkeypatch.setenv(f"KIT_{venue.upper()}_TESTNET_API_KEY", KEY)
    monkeypatch.setenv(f"KIT_{venue.upper()}_TESTNET_API_SECRET", SECRET)
    monkeypatch.delenv(f"KIT_{venue.upper()}_TESTNET_API_PASSWORD", raising=False)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SecretNotFound, match=f"KIT_{venue.upper()}_TESTNET_API_PASSWORD"):
        Session(venue, stage="testnet", journal=tmp_path / "j.sqlite", dotenv=None)
    assert not any("http" in r.getMessage().lower() for r in caplog.records if r.name.startswith("ccxt"))


class _MemoryKeyring(keyring.backend.KeyringBackend):
    """A complete keyring backend keeping entries in a dict (keyring's own API, nothing patched)."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.entries.pop((service, username), None)


@pytest.mark.parametrize("venue", ["okx", "kucoin", "bitget"])
def test_the_passphrase_from_the_keyring(venue: str) -> None:
    previous = keyring.get_keyring()
    backend = _MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        secrets.store_in_keyring(venue, "live", KEY, SECRET, password=PASSPHRASE)
        assert backend.entries[("tradekit", f"{venue}:live:password")] == PASSPHRASE
        creds = secrets.load_credentials(venue, "live_small", env={}, dotenv=None)
        assert creds is not None and creds.source == f"keyring:tradekit/{venue}:live"
        assert secrets.require_password(creds, venue, "live_small") == PASSPHRASE
        del backend.entries[("tradekit", f"{venue}:live:password")]
        bare = secrets.load_credentials(venue, "live_small", env={}, dotenv=None)
        assert bare is not None
        with pytest.raises(SecretNotFound, match=f"keyring set tradekit {venue}:live:password"):
            secrets.require_password(bare, venue, "live_small")
    finally:
        keyring.set_keyring(previous)
