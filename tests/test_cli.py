import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import kit
import kit.cli.demo
from kit.cli.main import cli
from kit.errors import DataError


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"kit, version {kit.__version__}\n"


def test_python_dash_m_kit() -> None:
    cmd = [sys.executable, "-m", "kit", "--version"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == f"kit, version {kit.__version__}"


def test_kit_error_is_one_line_and_exit_code_2(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def fail(out_dir: Path) -> Path:
        raise DataError("gap in the cache\nfrom 2024-01-01", symbol="BTC/USDT")

    monkeypatch.setattr(kit.cli.demo, "run", fail)
    result = CliRunner().invoke(cli, ["demo", "--out-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Error: DataError: gap in the cache from 2024-01-01 (symbol='BTC/USDT').")
    assert lines[0].endswith(DataError.hint)


def test_other_errors_keep_their_traceback(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def crash(out_dir: Path) -> Path:
        raise RuntimeError("bug")

    monkeypatch.setattr(kit.cli.demo, "run", crash)
    result = CliRunner().invoke(cli, ["demo", "--out-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert isinstance(result.exception, RuntimeError)
