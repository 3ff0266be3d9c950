"""What the notebook tests and ``update_outputs.py`` share: paths, environments, and the report's setup.

The staged notebooks (00-04) run with no localnet in the environment, so each kernel starts its
own private, seeded, stepped localnet (``kit.cli.demo.prepare``) with a temporary journal: the
outputs depend on nothing but the notebook. The daily report reads a journal, so it runs against
one localnet after ``03_testnet_orders`` has traded on it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kit.cli import demo

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
HERE = Path(__file__).resolve().parent
SANITIZE = HERE / "sanitize.cfg"
#: The staged notebooks and the report notebook: the demo's own lists (one list of what is staged).
STAGED = demo.NOTEBOOKS
REPORT = demo.REPORT_NOTEBOOK

# Variables that would point a kernel at another localnet, journal or kill switch.
_FOREIGN = ("KIT_LOCALNET_URL", "KIT_HOME", "KIT_KILL", "KIT_KILL_FILE", "KIT_REHEARSAL_URL", "KIT_REHEARSAL_KEYS")


def clean_env(home: Path) -> dict[str, str]:
    """An environment for kernels: no localnet or keys from outside, ``KIT_HOME`` in ``home``."""
    env = {k: v for k, v in os.environ.items() if k not in _FOREIGN and not k.startswith("KIT_LOCALNET")}
    env["KIT_HOME"] = str(home)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), *filter(None, [os.environ.get("PYTHONPATH")])])
    env["PYTHONHASHSEED"] = "0"
    return env


@contextmanager
def environment(env: dict[str, str]) -> Iterator[None]:
    """Run with exactly ``env`` as ``os.environ`` (papermill's kernels inherit it), then restore."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def report_env(home: Path) -> Iterator[dict[str, str]]:
    """A localnet with some trading on it (``03_testnet_orders`` run through papermill) for the report."""
    sys.path.insert(0, str(REPO))
    from kit.cli.demo import localnet_env, start_localnet
    from kit.views.report import run_notebook

    home.mkdir(parents=True, exist_ok=True)
    net = start_localnet(state_dir=home / "localnet")
    try:
        env = {**clean_env(home), **localnet_env(net)}
        with environment(env):
            run_notebook(NOTEBOOKS / "03_testnet_orders.ipynb", home / "03_testnet_orders.ipynb", cwd=home)
        yield env
    finally:
        net.stop()
