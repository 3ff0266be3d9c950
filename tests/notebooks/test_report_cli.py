"""``kit report``: the daily report from the command line, and its cron schedule."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from kit.cli.report import CRON_TAG, report


@pytest.fixture
def kit_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("KIT_HOME", str(home))
    for name in [k for k in os.environ if k.startswith("KIT_LOCALNET") or k == "KIT_KILL"]:
        monkeypatch.delenv(name)
    return home


@pytest.mark.slow
def test_daily_writes_the_report_and_prints_its_path(kit_home: Path, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    result = CliRunner().invoke(report, ["daily", "--since", "yesterday", "--until", "today", "--out", str(out)])
    assert result.exit_code == 0, result.output
    page = out / "daily.html"
    assert result.stdout.strip().splitlines()[-1] == str(page)
    text = page.read_text(encoding="utf-8")
    assert "Daily report" in text and "Account value" in text
    # an empty journal: nothing to value, and the report says so rather than "valued at: " (#17.6)
    assert "no prices needed: nothing held but USDT and no fills" in text
    assert "refuse_secret_params(" not in text  # no code in the report
    assert (out / "daily.ipynb").is_file()
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (out, page, out / "daily.ipynb")}
    assert modes == {"reports": 0o700, "daily.html": 0o600, "daily.ipynb": 0o600}  # they hold account data


def test_daily_refuses_a_bad_period_before_starting_a_kernel(kit_home: Path, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    result = CliRunner().invoke(report, ["daily", "--since", "today", "--until", "yesterday", "--out", str(out)])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ConfigError: the period's start")
    assert not out.exists()


def test_schedule_prints_a_cron_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(report, ["schedule", "--out", "reports", "--at", "06:30"])
    assert result.exit_code == 0, result.output
    line = result.stdout.splitlines()[0]
    assert line.startswith("30 6 * * * cd ")
    assert "report daily --since yesterday --until today --out" in line and line.endswith(CRON_TAG)
    bad = CliRunner().invoke(report, ["schedule", "--at", "25:00"])
    assert bad.exit_code == 2 and "HH:MM" in bad.output


def _fake_crontab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, existing: str | None) -> Path:
    store = tmp_path / "crontab.txt"
    if existing is not None:
        store.write_text(existing)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "crontab"
    script.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = "-l" ]; then cat "{store}" 2>/dev/null || {{ echo "no crontab for $USER" >&2; exit 1; }}\n'
        f'else cat > "{store}"; fi\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return store


@pytest.mark.parametrize("existing", [None, "0 1 * * * backup.sh\n", f"5 0 * * * old kit line {CRON_TAG}\n"])
def test_schedule_install_adds_one_line_and_keeps_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, existing: str | None
) -> None:
    store = _fake_crontab(tmp_path, monkeypatch, existing)
    for _ in range(2):  # idempotent: a second install replaces the first
        result = CliRunner().invoke(report, ["schedule", "--install", "--out", str(tmp_path / "r")])
        assert result.exit_code == 0, result.output
    lines = store.read_text().splitlines()
    assert sum(CRON_TAG in row for row in lines) == 1
    others = ["0 1 * * * backup.sh"] if existing and "backup" in existing else []
    assert [row for row in lines if CRON_TAG not in row] == others
    assert lines[-1].startswith("15 0 * * * ")


@pytest.mark.parametrize(
    "venue",
    [
        "Ab3dE5gH7jK9mN1pQ",  # a short key (17 characters): passed the old 32-character rule
        "binance key=vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A",  # a key inside longer text
        "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIKxoT7Wv0Zn4y2\n-----END PRIVATE KEY-----",
    ],
)
def test_daily_refuses_a_secret_parameter_before_papermill_writes_anything(
    kit_home: Path, tmp_path: Path, venue: str
) -> None:
    out = tmp_path / "reports"
    result = CliRunner().invoke(report, ["daily", "--venue", venue, "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "ConfigError: report parameters: 'venue' looks like a credential" in result.stderr
    assert not out.exists()  # no daily.ipynb holding it (papermill never ran)
    secret_part = venue.split()[-1] if " " in venue else venue
    assert secret_part not in result.output and "MC4CAQ" not in result.output
