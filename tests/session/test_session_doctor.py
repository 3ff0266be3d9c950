"""``kit doctor``: the checklist against a real localnet, through the CLI (CliRunner) and the library."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner
from lab.lab import Lab

from kit.cli.main import cli
from kit.ops.doctor import Check, run_checks
from kit.safety.killswitch import KillSwitch


def _by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


def _doctor(lab: Lab, *args: str) -> Any:
    result = CliRunner().invoke(cli, ["doctor", *args], catch_exceptions=False)
    for value in lab.secrets():
        assert value not in result.output
    return result


NAMES = ["stage", "credentials", "kill switch", "permissions", "IP allowlist", "key age", "clock", "rate budget"]


def test_doctor_on_a_healthy_localnet_passes_with_the_ip_warning(lab: Lab) -> None:
    checks = run_checks("localnet", journal=lab.journal_path, dotenv=None)
    by = _by_name(checks)
    assert sorted(by) == sorted(NAMES)
    assert "KIT_LOCALNET_API_KEY" in by["credentials"].detail and "env:" in by["credentials"].detail
    assert by["IP allowlist"].ok is None and by["IP allowlist"].fix
    assert [c.name for c in checks if c.ok is False] == []
    result = _doctor(lab)
    assert result.exit_code == 0, result.output
    assert "✓ credentials" in result.output and "! IP allowlist" in result.output
    assert "✓ clock" in result.output and "✓ rate budget" in result.output


def test_doctor_names_the_variables_to_set_when_no_key_is_found(lab: Lab) -> None:
    lab.monkeypatch.delenv("KIT_LOCALNET_API_KEY")
    lab.monkeypatch.delenv("KIT_LOCALNET_API_SECRET")
    lab.monkeypatch.setattr("kit.safety.secrets._pair_from_keyring", lambda *a, **k: None)
    result = _doctor(lab)
    assert result.exit_code == 1
    assert "✗ credentials" in result.output and "KIT_LOCALNET_API_KEY" in result.output
    assert "not checked" in result.output  # nothing was sent without a key
    assert lab.server_count() == 0


def test_doctor_reds_a_withdraw_key_from_the_journaled_preflight(lab: Lab) -> None:
    lab.use_key("withdrawer")
    by = _by_name(run_checks("localnet", journal=lab.journal_path, dotenv=None))
    assert by["permissions"].ok is False and "withdrawals" in by["permissions"].detail
    assert by["clock"].ok is True  # measured before the refusal, read back from the journal
    result = _doctor(lab)
    assert result.exit_code == 1 and "✗ permissions" in result.output


def test_doctor_reds_a_skewed_clock_with_the_sync_command(lab: Lab) -> None:
    lab.net.set_faults(clock_skew_ms=-5_000)
    result = _doctor(lab)
    assert result.exit_code == 1
    assert "✗ clock" in result.output and "timedatectl" in result.output


def test_doctor_warns_on_a_small_skew(lab: Lab) -> None:
    lab.net.set_faults(clock_skew_ms=700)
    by = _by_name(run_checks("localnet", journal=lab.journal_path, dotenv=None))
    assert by["clock"].ok is None and "Sync the system clock" in by["clock"].fix


@pytest.mark.parametrize("how", ["file", "env"])
def test_doctor_reds_the_kill_switch(lab: Lab, how: str) -> None:
    if how == "file":
        KillSwitch().engage("drill")
    else:
        lab.monkeypatch.setenv("KIT_KILL", "1")
    result = _doctor(lab)
    assert result.exit_code == 1 and "✗ kill switch" in result.output


def test_doctor_reports_live_small_evidence_without_network(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    def no_lookup(host: Any, *a: Any, **k: Any) -> Any:
        raise AssertionError(f"doctor tried the network ({host})")

    s = lab.session()
    s.place("BTC/USDT", "buy", "0.001")
    monkeypatch.setattr(socket, "getaddrinfo", no_lookup)
    by = _by_name(run_checks("binance", "live_small", journal=lab.journal_path, dotenv=None))
    assert by["stage"].ok is False and "BTC/USDT: 1 of 3" in by["stage"].detail
    assert by["clock"].ok is None and "not checked" in by["clock"].detail


# ---------------------------------------------------------------- least privilege in read_only (#12.7)


def test_a_trading_key_in_a_read_only_session_warns_with_the_fix(lab: Lab) -> None:
    lab.use_key("trader", slot="KIT_LOCALNET_READER")  # the trading key, given where a reading key belongs
    s = lab.session(stage="read_only")
    (warned,) = [w for w in s.warnings if "can trade" in w]
    assert "reading' only" in warned and "KIT_<EXCHANGE>_READ_ONLY_API_KEY" in warned
    by = _by_name(run_checks("localnet", "read_only", journal=lab.journal_path, dotenv=None))
    assert by["permissions"].ok is None  # a warning, not the green tick it was
    assert "can trade" in by["permissions"].detail and "reading' only" in by["permissions"].fix
    lab.use_key("reader", slot="KIT_LOCALNET_READER")  # the right key: no such warning
    assert not [w for w in lab.session(stage="read_only").warnings if "can trade" in w]
    assert _by_name(run_checks("localnet", "read_only", journal=lab.journal_path, dotenv=None))["permissions"].ok


def test_a_key_without_creation_time_warns_age_unknown() -> None:
    from kit.session.preflight import judge

    p = judge({"enableReading": True, "enableSpotAndMarginTrading": True, "ipRestrict": True}, stage="testnet",
              now_ms=10**12)  # fmt: skip
    assert p.verdict == "warn" and p.key_age_days is None
    assert [w for w in p.warnings if w.startswith("key age unknown") and "rotate it every 6-12 months" in w]
    dated = judge({"enableReading": True, "enableSpotAndMarginTrading": True, "ipRestrict": True, "createTime": 1},
                  stage="testnet", now_ms=10**9)  # fmt: skip
    assert dated.verdict == "ok"
