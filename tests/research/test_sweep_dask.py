"""Sweeps on real Dask clusters: a LocalCluster of one and of two worker processes, and a scheduler and two
workers started as separate processes; all give the same table as the in-process run, and leave no process.

Slow (a cluster starts in a few seconds): run with ``pytest -m slow tests/research``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import psutil
import pytest
from research_helpers import PARAMS

from kit.research import INLINE, Data, grid, optimize, sweep
from kit.strategy.examples import SmaCross

pytestmark = pytest.mark.slow

COMBOS = [{**PARAMS, **c} for c in grid({"fast": [0, 5, 10, 20], "slow": [30, 60]})]  # fast=0 raises


def _children() -> set[str]:
    """This process's children, but multiprocessing's own helpers (they live as long as the interpreter)."""
    out = set()
    for p in psutil.Process().children(recursive=True):
        try:
            line = " ".join(p.cmdline())
        except psutil.Error:
            continue
        if "resource_tracker" not in line and "forkserver" not in line:
            out.add(f"{p.pid} {line}")
    return out


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    err_a, err_b = a.pop("error"), b.pop("error")
    assert err_a.notna().tolist() == err_b.notna().tolist()
    pd.testing.assert_frame_equal(a, b)


@pytest.fixture(scope="module")
def inline(stored: Data) -> pd.DataFrame:
    return sweep(SmaCross, stored, COMBOS, cash="10", scheduler=INLINE, progress=False)


@pytest.mark.parametrize(("workers", "chunk"), [(1, None), (2, 1), (2, 3)])
def test_local_cluster_of_one_or_two_processes_gives_the_in_process_table(
    stored: Data, inline: pd.DataFrame, workers: int, chunk: int | None
) -> None:
    """One worker, two workers with a task per combination, two workers with batches of three: the same table."""
    before = _children()
    table = sweep(SmaCross, stored, COMBOS, cash="10", workers=workers, progress=False, chunk=chunk)
    assert table["error"].notna().sum() == 2
    assert table.loc[table["fast"] == 0, "error"].str.contains("Traceback").all()
    _same(table, inline.copy())
    deadline = time.monotonic() + 10
    while _children() - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _children() - before == set()  # the LocalCluster's worker processes are gone


@pytest.fixture()
def scheduler(tmp_path: Path) -> Iterator[str]:
    """A ``dask scheduler`` and two ``dask worker`` processes, each started (and ended) by this test."""
    file = tmp_path / "scheduler.json"
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--scheduler-file",
                               str(file), "--port", "0", "--no-dashboard", "--host", "127.0.0.1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(file.read_text())["address"]
        for _ in range(2):
            procs.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address,
                                           "--nthreads", "1", "--no-nanny", "--no-dashboard", "--host", "127.0.0.1"],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))  # fmt: skip
        from distributed import Client

        with Client(address, set_as_default=False) as c:
            c.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def test_separate_scheduler_and_workers_give_the_same_table(stored: Data, inline: pd.DataFrame,
                                                            scheduler: str) -> None:  # fmt: skip
    table = sweep("kit.strategy.examples:SmaCross", stored, COMBOS, cash="10", scheduler=scheduler, progress=False)
    _same(table, inline.copy())
    o = optimize(SmaCross, stored, fast=[5, 10, 20], slow=[30, 60], fixed=PARAMS, cash="10", scheduler=scheduler,
                 progress=False)  # fmt: skip
    local = optimize(SmaCross, stored, fast=[5, 10, 20], slow=[30, 60], fixed=PARAMS, cash="10", scheduler=INLINE,
                     progress=False)  # fmt: skip
    assert o.best == local.best and o.results["Sharpe Ratio"].tolist() == local.results["Sharpe Ratio"].tolist()
