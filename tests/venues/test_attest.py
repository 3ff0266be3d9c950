"""Unknown permissions at real-money stages: refused without an attestation, accepted with one, journaled."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from venuelab import serve

from kit.cli.main import cli
from kit.errors import ConfigError, SecretNotFound
from kit.journal.journal import Journal
from kit.safety import secrets
from kit.session.permissions import attest as att
from kit.session.preflight import Preflight, check_venue

KEY, SECRET = "kraken-live-key-0123456789", "kraken-live-secret-0123456789"
DAY_MS = 86_400_000


@pytest.fixture()
def live_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """A Kraken live key in the environment; returns its fingerprint."""
    monkeypatch.setenv("KIT_HOME", str(tmp_path))
    monkeypatch.setenv("KIT_KRAKEN_LIVE_API_KEY", KEY)
    monkeypatch.setenv("KIT_KRAKEN_LIVE_API_SECRET", SECRET)
    creds = secrets.load_credentials("kraken", "live", dotenv=None, use_keyring=False)
    assert creds is not None
    return creds.fingerprint


def _unknown_kraken(
    server_fetch: Callable[[Any], Any], journal: Journal, fp: str, stage: str = "live_small"
) -> Preflight:
    return check_venue("kraken", server_fetch, stage=stage, now_ms=int(time.time() * 1000), journal=journal,
                       fingerprint=fp)  # fmt: skip


def test_live_small_refuses_unknown_permissions_until_attested(live_key: str, tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as j, serve("kraken") as server:
        server.venue.status, server.venue.answer = 500, "upstream failure"  # the call fails: unknown
        before = _unknown_kraken(server.fetch, j, live_key)
        assert before.verdict == "refuse"
        assert f"kit attest --exchange kraken --fingerprint {live_key}" in before.refusals[0]
        # testnet and read_only keep today's warning
        assert _unknown_kraken(server.fetch, j, live_key, "testnet").verdict == "warn"
        a = att.attest("kraken", fingerprint=live_key, cannot_withdraw=True, ip_restricted=True, journal=j, dotenv=None)
        after = _unknown_kraken(server.fetch, j, live_key)
        live = _unknown_kraken(server.fetch, j, live_key, "live")
        other_key = _unknown_kraken(server.fetch, j, "0badc0de")
        rows = j.events(kinds=["attest"])
    assert after.verdict == "warn" and after.refusals == ()
    assert "attested by" in after.warnings[0] and live_key in after.warnings[0]
    assert after.details["attestation_seq"] == a.seq
    assert live.verdict == "warn" and other_key.verdict == "refuse"
    assert len(rows) == 1 and rows[0].venue == "kraken" and rows[0].payload["fingerprint"] == live_key
    assert rows[0].payload["statement"] == att.STATEMENT and rows[0].payload["expires_ms"] == a.expires_ms
    assert KEY not in str(rows[0].payload) and SECRET not in str(rows[0].payload)


def test_an_attestation_expires_with_the_rotation_window_and_can_be_revoked(live_key: str, tmp_path: Path) -> None:
    now = int(time.time() * 1000)
    with Journal(tmp_path / "j.sqlite") as j:
        a = att.attest("kraken", fingerprint=live_key, cannot_withdraw=True, ip_restricted=True, days=30,
                       journal=j, dotenv=None, now_ms=now)  # fmt: skip
        assert a.expires_ms == now + 30 * DAY_MS
        assert att.current(j, "kraken", live_key, now_ms=now + 29 * DAY_MS) is not None
        assert att.current(j, "kraken", live_key, now_ms=now + 30 * DAY_MS) is None
        att.revoke("kraken", fingerprint=live_key, journal=j, now_ms=now + DAY_MS)
        assert att.current(j, "kraken", live_key, now_ms=now + 2 * DAY_MS) is None
        assert [e.payload["revoked"] for e in j.events(kinds=["attest"])] == [False, True]


def test_an_attestation_must_be_explicit_and_for_the_loaded_key(live_key: str, tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as j:
        with pytest.raises(ConfigError, match="both statements"):
            att.attest("kraken", fingerprint=live_key, cannot_withdraw=True, ip_restricted=False, journal=j,
                       dotenv=None)  # fmt: skip
        with pytest.raises(ConfigError, match="both statements"):
            att.attest("kraken", fingerprint=live_key, cannot_withdraw="yes", ip_restricted=True,  # type: ignore[arg-type]
                       journal=j, dotenv=None)  # fmt: skip
        with pytest.raises(ConfigError, match="is not the live key configured for kraken"):
            att.attest("kraken", fingerprint="0badc0de", cannot_withdraw=True, ip_restricted=True, journal=j,
                       dotenv=None)  # fmt: skip
        with pytest.raises(ConfigError, match="not a key fingerprint"):
            att.attest("kraken", fingerprint=KEY, cannot_withdraw=True, ip_restricted=True, journal=j, dotenv=None)
        with pytest.raises(ConfigError, match="out of range"):
            att.attest("kraken", fingerprint=live_key, cannot_withdraw=True, ip_restricted=True, days=400,
                       journal=j, dotenv=None)  # fmt: skip
        with pytest.raises(SecretNotFound, match="KIT_OKX_LIVE_API_KEY"):
            att.attest("okx", fingerprint=live_key, cannot_withdraw=True, ip_restricted=True, journal=j,
                       dotenv=None)  # fmt: skip
        assert j.events(kinds=["attest"]) == []


def test_kit_attest_asks_journals_lists_and_revokes(live_key: str, tmp_path: Path) -> None:
    journal = str(tmp_path / "cli.sqlite")
    runner = CliRunner()
    base = ["attest", "--exchange", "kraken", "--fingerprint", live_key, "--journal", journal]
    declined = runner.invoke(cli, base, input="n\n")
    assert declined.exit_code == 1 and att.STATEMENT in declined.output
    with Journal(journal) as j:
        assert j.events(kinds=["attest"]) == []
    done = runner.invoke(cli, base, input="y\n")
    assert done.exit_code == 0, done.output
    assert f"key {live_key} on kraken: attested by" in done.output
    listed = runner.invoke(cli, ["attest", "--list", "--journal", journal])
    assert listed.exit_code == 0 and listed.output.startswith("in force: key " + live_key)
    revoked = runner.invoke(cli, [*base, "--revoke"])
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    listed = runner.invoke(cli, ["attest", "--list", "--journal", journal])
    assert listed.output.startswith("revoked: ")
    wrong = runner.invoke(cli, ["attest", "--exchange", "kraken", "--fingerprint", "0badc0de", "--journal", journal,
                                "--yes"])  # fmt: skip
    assert wrong.exit_code == 2 and "is not the live key configured for kraken" in wrong.output
    assert KEY not in wrong.output + done.output


def test_the_venue_name_is_the_ccxt_id_whatever_its_case(live_key: str, tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as j:
        att.attest(" Kraken", fingerprint=live_key.upper(), cannot_withdraw=True, ip_restricted=True, journal=j,
                   dotenv=None)  # fmt: skip
        assert att.current(j, "kraken", live_key, now_ms=int(time.time() * 1000)) is not None
