"""``kit doctor`` names each venue's permission source and sandbox, and the key's attestation; so does the report."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest

from kit.errors import PermissionRefused
from kit.journal.journal import Journal
from kit.ops.doctor import Check, run_checks
from kit.safety import secrets
from kit.session.permissions import attest as att
from kit.views.report import Activity

SANDBOX = {
    "okx": "OKX demo trading",
    "bybit": "Bybit testnet",
    "binance": "Binance Spot testnet",
    "coinbase": "none in ccxt 4.5.90",
    "kucoin": "none in ccxt 4.5.90",
    "bitget": "none in ccxt 4.5.90",
    "kraken": "none in ccxt 4.5.90",
}


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIT_HOME", str(tmp_path))
    for name in list(__import__("os").environ):
        if name.startswith("KIT_") and name.endswith(("_API_KEY", "_API_SECRET", "_API_PASSWORD")):
            monkeypatch.delenv(name)


def _row(checks: list[Check], name: str) -> Check:
    found = [c for c in checks if c.name == name]
    assert len(found) == 1, [c.line() for c in checks]
    return found[0]


@pytest.mark.parametrize("venue", sorted(SANDBOX))
def test_doctor_says_where_permissions_come_from_and_whether_ccxt_has_a_sandbox(venue: str, tmp_path: Path) -> None:
    checks = run_checks(venue, "read_only", journal=tmp_path / "j.sqlite", dotenv=None, session_factory=_offline)
    row = _row(checks, "venue")
    assert row.ok is True and f"sandbox: {SANDBOX[venue]}" in row.detail and "key permissions from " in row.detail
    assert "stage testnet: " in row.detail


def _offline(*args: object, **kwargs: object) -> object:
    raise PermissionRefused("offline test: the Session is not opened")


def test_a_venue_without_a_reader_needs_an_attestation_at_live_stages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIT_GEMINI_LIVE_API_KEY", "gemini-live-key-0123456789")
    monkeypatch.setenv("KIT_GEMINI_LIVE_API_SECRET", "gemini-live-secret-0123456789")
    fp = secrets.load_credentials("gemini", "live", dotenv=None, use_keyring=False).fingerprint  # type: ignore[union-attr]
    path = tmp_path / "j.sqlite"
    checks = run_checks("gemini", "live_small", journal=path, dotenv=None, session_factory=_offline)
    venue, attestation = _row(checks, "venue"), _row(checks, "attestation")
    assert venue.ok is None and "cannot read key permissions" in venue.detail and "kit attest" in venue.fix
    assert attestation.ok is False and fp in attestation.detail and f"--fingerprint {fp}" in attestation.fix
    with Journal(path) as j:
        att.record(j, "gemini", fp, by="tester", now_ms=int(time.time() * 1000))
    attested = _row(
        run_checks("gemini", "live_small", journal=path, dotenv=None, session_factory=_offline), "attestation"
    )
    assert attested.ok is True and f"key {fp} on gemini: attested by tester" in attested.detail


def test_a_refused_unknown_is_a_red_permissions_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the Session journals before refusing an unattested unknown key, read back by the doctor."""
    path = tmp_path / "j.sqlite"
    monkeypatch.setenv("KIT_KRAKEN_READ_ONLY_API_KEY", "kraken-ro-key-0123456789")
    monkeypatch.setenv("KIT_KRAKEN_READ_ONLY_API_SECRET", "kraken-ro-secret-0123456789")

    def refusing(*args: object, **kwargs: object) -> object:
        from kit.session.preflight import unknown

        p = unknown("kraken", "call failed", stage="live_small", fingerprint="1a2b3c4d")
        with Journal(path) as j:
            j.append("preflight", venue="kraken", fingerprint="1a2b3c4d", permissions=None, ip_restricted=None,
                     key_age_days=None, verdict=p.verdict, warnings=[], refusals=list(p.refusals),
                     source=p.source)  # fmt: skip
        raise PermissionRefused(p.refusals[0])

    row = _row(run_checks("kraken", "read_only", journal=path, dotenv=None, session_factory=refusing), "permissions")
    assert row.ok is False and "kit attest --exchange kraken --fingerprint 1a2b3c4d" in row.fix


def test_the_daily_report_shows_attestations(tmp_path: Path) -> None:
    now = int(time.time() * 1000)
    with Journal(tmp_path / "j.sqlite") as j:
        att.record(j, "kraken", "1a2b3c4d", by="tester", now_ms=now - 1000, days=30)
        att.record(j, "coinbase", "5e6f7a8b", by="tester", now_ms=now - 40 * 86_400_000, days=30)
        since, until = pd.Timestamp(now - 86_400_000, unit="ms", tz="UTC"), pd.Timestamp(now, unit="ms", tz="UTC")
        checks = Activity(j, since, until).health()
    lines = {c.detail.split(":")[0]: c for c in checks if c.name == "Key attestation"}
    assert lines["key 1a2b3c4d on kraken"].ok is True
    assert (
        lines["key 5e6f7a8b on coinbase"].ok is False
        and "no longer in force" in lines["key 5e6f7a8b on coinbase"].detail
    )


@pytest.mark.parametrize("venue", ["coinbase", "kucoin", "bitget", "kraken"])
def test_stage_testnet_on_a_venue_without_a_sandbox_is_red(venue: str, tmp_path: Path) -> None:
    row = _row(run_checks(venue, "testnet", journal=tmp_path / "j.sqlite", dotenv=None, session_factory=_offline),
               "venue")  # fmt: skip
    assert row.ok is False and "practise on localnet" in row.fix
    okx = _row(run_checks("okx", "testnet", journal=tmp_path / "j.sqlite", dotenv=None, session_factory=_offline),
               "venue")  # fmt: skip
    assert okx.ok is True
