"""Connecting: the permission preflight, the clock check, and the stage gate before any request."""

from __future__ import annotations

import hashlib
import socket
from typing import Any

import pytest
from lab.lab import Lab

from kit.errors import AuthError, ClockSkew, ConfigError, PermissionRefused, SecretNotFound, StageError
from kit.journal.journal import Journal
from kit.safety.guard import Caps
from kit.session import Session


def _fp(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:8]


def _rows(lab: Lab, kind: str) -> list[Any]:
    with Journal(lab.journal_path) as j:
        return list(j.events(kinds=[kind]))


# ---------------------------------------------------------------- permission preflight


def test_trade_only_key_connects_with_its_fingerprint_journaled(lab: Lab) -> None:
    key = lab.use_key("trader")
    s = lab.session()
    assert s.fingerprint == _fp(key)
    assert s.preflight is not None and s.preflight.verdict == "warn"  # no IP allowlist on the demo key
    assert any("IP allowlist" in w for w in s.warnings)
    row = _rows(lab, "preflight")[-1]
    assert row.payload["fingerprint"] == _fp(key)
    assert row.payload["permissions"]["withdrawals"] is False
    assert key not in repr(s)


def test_withdraw_key_is_refused_at_connect_and_journaled_without_the_secret(lab: Lab) -> None:
    key = lab.use_key("withdrawer")
    secret = lab.net.credentials("withdrawer")[1]
    with lab.raises(PermissionRefused, match="withdraw") as info:
        lab.session()
    assert "trade-only key" in str(info.value) or "spot trading only" in str(info.value)
    row = _rows(lab, "preflight")[-1]
    assert row.payload["fingerprint"] == _fp(key)
    assert row.payload["verdict"] == "refuse"
    assert row.payload["permissions"]["withdrawals"] is True
    raw = b"".join(p.read_bytes() for p in lab.tmp.glob("j.sqlite*"))
    assert b"preflight" in raw
    assert secret.encode() not in raw and key.encode() not in raw
    # no order request ever went out: only public reads and the permission lookup
    assert {(r["method"], r["path"]) for r in lab.server_log()} <= {
        ("GET", "/api/v3/exchangeInfo"),
        ("GET", "/api/v3/time"),
        ("GET", "/sapi/v1/account/apiRestrictions"),
    }


def test_withdraw_key_override_works_in_read_only_only(lab: Lab) -> None:
    lab.use_key("withdrawer", slot="KIT_LOCALNET_READER")
    with lab.raises(PermissionRefused):
        lab.session(stage="read_only")
    s = lab.session(stage="read_only", allow_withdraw_key=True)
    assert any("move funds" in w for w in s.warnings)
    assert not s.balances().empty  # reads work with it
    lab.use_key("withdrawer")
    with lab.raises(PermissionRefused, match="read_only only"):
        lab.session(stage="testnet", allow_withdraw_key=True)


def test_read_only_never_loads_the_trading_key(lab: Lab) -> None:
    lab.monkeypatch.delenv("KIT_LOCALNET_READER_API_KEY")
    lab.monkeypatch.delenv("KIT_LOCALNET_READER_API_SECRET")
    s = lab.session(stage="read_only")
    assert s.fingerprint is None  # public data only, although KIT_LOCALNET_API_KEY (trader) is set
    assert "unknown" in (s.preflight.source if s.preflight else "")


def test_ip_allowlisted_key_from_another_address_is_an_auth_error(lab: Lab) -> None:
    lab.use_key("restricted")
    with lab.raises(AuthError, match="IP allowlist"):
        lab.session()


def test_bad_secret_is_an_auth_error_that_shows_no_secret(lab: Lab) -> None:
    key, _ = lab.net.credentials("trader")
    lab.monkeypatch.setenv("KIT_LOCALNET_API_SECRET", "x" * 64)
    with lab.raises(AuthError) as info:
        lab.session()
    assert "x" * 64 not in str(info.value) and key not in repr(info.value)


# ---------------------------------------------------------------- clock


@pytest.mark.parametrize("skew_ms", [-3_000, 20_000])
def test_skewed_clock_is_refused_at_connect_with_a_sync_hint(lab: Lab, skew_ms: int) -> None:
    lab.net.set_faults(clock_skew_ms=skew_ms)
    n = lab.server_count()
    with lab.raises(ClockSkew) as info:
        lab.session()
    err = info.value
    assert err.skew_ms is not None and abs(err.skew_ms + skew_ms) < 100  # skew = local - exchange
    assert "ahead of" in str(err) if skew_ms < 0 else "behind" in str(err)
    assert "Sync the system clock" in str(err) and "rejected" in str(err)
    signed = [r for r in lab.server_log()[n:] if r["key"]]
    assert signed == []  # refused before the first signed request
    row = _rows(lab, "clock")[-1]
    assert abs(row.payload["offset_ms"] - skew_ms) < 100


def test_small_skew_warns_above_250_ms_and_trading_goes_on(lab: Lab) -> None:
    lab.net.set_faults(clock_skew_ms=100)
    s = lab.session()
    assert not [w for w in s.warnings if "clock" in w]
    lab.net.set_faults(clock_skew_ms=600)
    s2 = lab.session()
    clock_warnings = [w for w in s2.warnings if "clock" in w]
    assert len(clock_warnings) == 1 and "behind the exchange" in clock_warnings[0]
    assert s2.clock_report is not None and 500 < s2.clock_report.offset_ms < 700
    assert s2.place("BTC/USDT", "buy", "0.001", price="50000")["status"] == "open"


# ---------------------------------------------------------------- stage gate before any request


@pytest.fixture()
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Record (and refuse) every name lookup and connection to anything but loopback."""
    attempts: list[Any] = []
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect

    def getaddrinfo(host: Any, *a: Any, **kw: Any) -> Any:
        if host not in ("127.0.0.1", "localhost", "::1"):
            attempts.append(host)
            raise OSError(f"no network in this test (lookup of {host})")
        return real_getaddrinfo(host, *a, **kw)

    def connect(self: socket.socket, address: Any) -> Any:
        if isinstance(address, tuple) and address[0] not in ("127.0.0.1", "::1"):
            attempts.append(address)
            raise OSError(f"no network in this test (connect to {address})")
        return real_connect(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    return attempts


def test_live_small_without_testnet_evidence_is_refused_before_any_request(lab: Lab, no_network: list[Any]) -> None:
    caps = Caps.for_stage("live_small", symbols=["BTC/USDT"])
    with lab.raises(StageError) as info:
        Session("binance", stage="live_small", caps=caps, journal=lab.journal_path, dotenv=None)
    msg = str(info.value)
    assert "at least 3 filled testnet orders" in msg and "BTC/USDT: 0 of 3" in msg
    assert "No request was sent" in msg
    assert no_network == []
    gate = [r for r in _rows(lab, "guard") if r.payload["rule"] == "stage_gate"]
    assert gate and gate[-1].payload["decision"] == "refuse"


def test_live_small_counts_testnet_fills_and_then_needs_the_live_key_before_any_request(
    lab: Lab, no_network: list[Any]
) -> None:
    s = lab.session()
    for _ in range(2):
        s.place("BTC/USDT", "buy", "0.001")  # market orders: filled at once, fills journaled from the ack
    caps = Caps.for_stage("live_small", symbols=["BTC/USDT"])
    with lab.raises(StageError, match="BTC/USDT: 2 of 3"):
        Session("binance", stage="live_small", caps=caps, journal=lab.journal_path, dotenv=None)
    s.place("BTC/USDT", "buy", "0.001")
    for var in ("KIT_BINANCE_LIVE_API_KEY", "KIT_BINANCE_LIVE_API_SECRET"):
        lab.monkeypatch.delenv(var, raising=False)
    lab.monkeypatch.setattr("kit.safety.secrets._pair_from_keyring", lambda *a, **k: None)
    with lab.raises(SecretNotFound, match="KIT_BINANCE_LIVE_API_KEY"):
        Session("binance", stage="live_small", caps=caps, journal=lab.journal_path, dotenv=None)
    assert no_network == []


def test_live_small_without_a_symbol_allowlist_is_a_config_error(lab: Lab, no_network: list[Any]) -> None:
    with lab.raises(ConfigError, match="symbol allowlist"):
        Session("binance", stage="live_small", journal=lab.journal_path, dotenv=None)
    with lab.raises(StageError, match="sandbox"):
        Session("localnet", stage="live_small", journal=lab.journal_path, dotenv=None)
    assert no_network == []
