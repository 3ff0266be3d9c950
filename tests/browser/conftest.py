"""What the real-browser tests share: Debian's chromium, and JupyterLab on 127.0.0.1 as a user starts it.

``require_chromium()`` is called in a test's body (not a fixture), so that a missing browser under
CI is a FAILED test; locally it skips, saying how to install it (``shared/specs/browser-testing.md``).
The fixtures start JupyterLab with temporary Jupyter folders, a known token and no ``KIT_*``
variable from outside: ``lab`` serves ``ticket.ipynb`` with kernels pointed at the test's
``localnet``; ``lab03`` serves a fresh copy of notebook 03, whose kernels start their own localnet.
Test modules import the helpers as ``tests.browser.conftest`` (its import-mode name).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import nbformat
import pytest

HERE = Path(__file__).parent
REPO = HERE.parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]  # fmt: skip
TOKEN = "kit-browser-test"


def require_chromium() -> str:
    """Debian's chromium, or skip (locally) / FAIL (under CI) saying how to install it."""
    if not os.path.exists(CHROMIUM):
        message = (f"{CHROMIUM} is missing: install Debian's chromium with `apt-get update && apt-get install -y "
                   "chromium` (never `playwright install`)")  # fmt: skip
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    pytest.importorskip("playwright.sync_api", reason="pip install playwright (the driver only; no browser download)")
    return CHROMIUM


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_http_ok(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"JupyterLab exited with {proc.returncode}:\n{log.read_text(errors='replace')[-4000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    pytest.fail(f"JupyterLab did not answer within {timeout} s:\n{log.read_text(errors='replace')[-4000:]}")


@contextmanager
def jupyterlab(tmp_path: Path, root: Path, env: Mapping[str, str], *args: str) -> Iterator[str]:
    """JupyterLab serving ``root`` on 127.0.0.1 (temporary Jupyter folders, token ``TOKEN``, no news or
    update checks), kernels with ``env`` added to this process's environment less its ``KIT_*``
    variables; yields its URL and stops it (and so its kernels) at the end. Its log: ``tmp_path/lab.log``."""
    settings = tmp_path / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    full = {k: v for k, v in os.environ.items() if not k.startswith("KIT_") and k != "PYTEST_CURRENT_TEST"}
    full.update({name: str(tmp_path / sub) for name, sub in {
        "JUPYTER_CONFIG_DIR": "cfg", "JUPYTER_DATA_DIR": "data", "JUPYTER_RUNTIME_DIR": "rt",
        "JUPYTERLAB_SETTINGS_DIR": "settings", "JUPYTERLAB_WORKSPACES_DIR": "ws"}.items()})  # fmt: skip
    full.update({"JUPYTER_PLATFORM_DIRS": "1", **env})
    port = _free_port()
    log_path = tmp_path / "lab.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
             f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={TOKEN}",
             f"--ServerApp.root_dir={root}", "--ServerApp.allow_root=True", "--LabApp.extension_manager=readonly",
             "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", *args],
            env=full, cwd=root, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    try:
        _wait_http_ok(f"http://127.0.0.1:{port}/api/status?token={TOKEN}", proc, log_path, timeout=60)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)  # the server shuts its kernels down (each in its own process group)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture()
def localnet(tmp_path: Path) -> Iterator[Any]:
    from kit.localnet import LocalnetConfig, start

    with start(config=LocalnetConfig(stepped=True, state_dir=tmp_path / "ln")) as net:
        yield net


@pytest.fixture()
def lab(tmp_path: Path, localnet: Any) -> Iterator[tuple[str, Path]]:
    """JupyterLab on 127.0.0.1 (temporary dirs, known token) whose kernels reach the test's localnet."""
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(HERE / "ticket.ipynb", root / "ticket.ipynb")
    key, secret = localnet.credentials("trader")
    env = {
        "KIT_LOCALNET_URL": localnet.url,
        "KIT_LOCALNET_API_KEY": key,
        "KIT_LOCALNET_API_SECRET": secret,
        "KIT_HOME": str(tmp_path / "kit-home"),
    }
    with jupyterlab(tmp_path, root, env, "--LabApp.expose_app_in_browser=True") as url:
        yield url, tmp_path / "lab.log"


@pytest.fixture()
def lab03(tmp_path: Path) -> Iterator[tuple[str, Path, Path]]:
    """JupyterLab serving a copy of notebook 03; kernels get a KIT_HOME and no localnet (they start their own)."""
    root = tmp_path / "root"
    root.mkdir()
    nb = nbformat.read(REPO / "notebooks" / "03_testnet_orders.ipynb", as_version=4)
    for cell in nb.cells:  # as a user opens it fresh: no stored outputs to mistake for this run's
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.write(nb, root / "03_testnet_orders.ipynb")
    home = tmp_path / "kit-home"
    with jupyterlab(tmp_path, root, {"KIT_HOME": str(home)}) as url:
        yield url, tmp_path / "lab.log", home
