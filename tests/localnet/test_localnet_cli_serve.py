"""``kit localnet serve`` in a subprocess: prints the URL and variable names, never the secrets."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

RUN = "from kit.cli.localnet import localnet; localnet()"


def _serve(args: list[str]) -> tuple[subprocess.Popen[str], list[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", RUN, "serve", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines: list[str] = []
    deadline = time.monotonic() + 60
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if line.startswith("Ctrl-C"):
            break
    return proc, lines


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


@pytest.mark.slow  # `kit localnet serve` in a child process
def test_serve_prints_url_and_names_not_secrets(tmp_path: Path) -> None:
    proc, lines = _serve(["--port", "0", "--speed", "1", "--seed", "7", "--state-dir", str(tmp_path)])
    try:
        out = "\n".join(lines)
        url = lines[0].split()[3]
        assert url.startswith("http://127.0.0.1:")
        assert "KIT_LOCALNET_API_KEY" in out and "KIT_LOCALNET_API_SECRET" in out
        assert requests.get(f"{url}/api/v3/time", timeout=10).status_code == 200
        keys_env = (tmp_path / "keys.env").read_text()
        secrets = [line.split("=", 1)[1] for line in keys_env.splitlines() if "_API_" in line]
        assert secrets and not any(s in out for s in secrets)
    finally:
        _stop(proc)
    assert (tmp_path / "localnet.sqlite").exists()


@pytest.mark.slow  # `kit localnet serve` in a child process
def test_serve_print_keys_on_request(tmp_path: Path) -> None:
    proc, lines = _serve(["--port", "0", "--memory", "--print-keys", "--stepped"])
    try:
        exports = [line for line in lines if line.startswith("export KIT_LOCALNET_API_SECRET=")]
        assert len(exports) == 1 and len(exports[0].split("=", 1)[1]) >= 64
    finally:
        _stop(proc)
