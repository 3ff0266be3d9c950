"""The research notebooks' stored outputs hold whatever hour of the day they are run at.

The demo's candles start on the hour the demo runs (``kit.cli.demo.start_localnet``), so where UTC
midnight falls in them changes with that hour. The nbval test runs each notebook once, at the hour
CI happens to run, and twice a statistic built from calendar days came out different at an hour the
stored outputs were not made at (a Sharpe of ``NaN`` where the sanitizer only knew ``nan``; window
labels shortened to a date when a window starts at midnight). This test runs the cells of
``02_research`` and ``06_sweep`` in this process, each as in a kernel of its own, with the demo
localnet started at each of the 24 hours of a day and with a year's end or a leap day inside their
candles (``01_read_only`` at four hours), and compares every output with the stored one after the
same sanitizer nbval uses (``sanitize.cfg``): what changes with the hour must be masked there or
not change at all.

It is nbval's comparison made in-process (cell by cell: printed text, ``display`` calls, and the
last expression formatted as the kernel formats it, plotly figures as their JSON), so a day of
hours takes a few minutes, not an hour of notebook runs.
Sweeps run with ``scheduler="inline"`` (the same combinations, no cluster to start per hour).
"""

from __future__ import annotations

import ast
import atexit
import difflib
import functools
import io
import json
import os
import re
import sys
import threading
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd
import plotly.io as pio
import pytest
from harness import NOTEBOOKS, SANITIZE, clean_env, environment
from IPython.core.formatters import DisplayFormatter
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from nbval.plugin import get_sanitize_patterns
from traitlets.config import Config

from kit.cli import demo

pytestmark = pytest.mark.slow

#: The UTC midnight two days ago: the hours below are counted from it. A day in the past (the store
#: fetches nothing after the wall clock) and a recent one (notebook 01 shows the demo key's age, and a
#: key created half a year before the wall clock gets a rotation warning), so not a fixed date.
_DAY = pd.Timestamp.now(tz="UTC").floor("D") - pd.Timedelta(days=2)
#: After the parameters cell, as papermill would inject it: no LocalCluster per hour.
_OVERRIDES = 'scheduler = "inline"'
_PATTERNS = get_sanitize_patterns(SANITIZE.read_text())


def _canonical(value: Any) -> str:
    """An output as nbval compares it: text as it is, a dict or list (a figure) as canonical JSON (nbval_json.py)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":")) if isinstance(value, dict | list) else str(value)


@functools.lru_cache(maxsize=256)
def _sanitized_lines(text: str) -> list[str]:
    """``text`` after sanitize.cfg's patterns, by line (cached: a stored figure is sanitized once per process)."""
    for regex, replace in _PATTERNS:
        text = re.sub(regex, replace, text)
    return text.splitlines()


def _bundle(value: Any) -> dict[str, Any]:
    """What the kernel would show for a cell's last expression, by MIME type."""
    if hasattr(value, "to_plotly_json"):  # plotly's mimetype renderer: the figure's JSON
        return {"application/vnd.plotly.v1+json": json.loads(pio.to_json(value, validate=False))}
    data, _ = DisplayFormatter().format(value)
    return dict(data)


def _differences(name: str) -> list[str]:
    """Run ``name``'s code cells in a fresh namespace; one line per output that differs from the stored one."""
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    namespace: dict[str, Any] = {"__name__": "__main__"}
    problems: list[str] = []
    cells = [c for c in nb.cells if c.cell_type == "code"]
    for index, cell in enumerate(cells):
        source = cell.source
        if "parameters" in cell.metadata.get("tags", []):
            source += "\n" + _OVERRIDES
        tree = ast.parse(source)
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        out = io.StringIO()
        with redirect_stdout(out), capture_output(stdout=False, stderr=False, display=True) as shown:
            exec(compile(tree, f"<{name} cell {index}>", "exec"), namespace)  # noqa: S102 - the repo's own notebook
            value = None if last is None else eval(compile(ast.Expression(last.value), name, "eval"), namespace)  # noqa: S307
        got: dict[str, Any] = {"stream": out.getvalue()}
        for rich in shown.outputs:  # display(...) calls
            got.update(rich.data)
        if value is not None:
            got.update(_bundle(value))
        want: dict[str, Any] = {"stream": ""}
        for output in cell.outputs:
            if output.output_type == "stream":
                want["stream"] += output.text
            else:
                want.update(output.get("data", {}))
        for kind, stored in want.items():
            if kind not in got:
                problems.append(f"{name} cell {index}: no {kind} output")
                continue
            a, b = _sanitized_lines(_canonical(stored)), _sanitized_lines(_canonical(got[kind]))
            if a != b:
                diff = [line[:300] for line in difflib.unified_diff(a, b, "stored", "now", lineterm="", n=0)]
                problems.append(f"{name} cell {index} ({kind}):\n" + "\n".join(diff[2:14]))
    return problems


def _run_as_in_its_own_kernel(name: str, home: Path) -> tuple[list[str], pd.Timestamp]:
    """``name`` with nothing of another notebook's run: its own environment, private localnet and folder.

    The caller gives ``demo._PRIVATE`` a fresh dict (monkeypatched, so the session's own comes back).
    """
    home.mkdir(parents=True)
    cwd = Path.cwd()
    os.chdir(home)
    # display(...) publishes to the shell, where capture_output collects it; no history (a sqlite file and
    # a saving thread per shell, in the test process's own IPython folder)
    config = Config()
    config.HistoryManager.enabled = False
    displayhook = sys.displayhook
    shell = InteractiveShell.instance(config=config)
    try:
        with environment(clean_env(home / "home")), pd.option_context("display.max_columns", 20, "display.width", 80):
            problems = _differences(name)
            return problems, demo._PRIVATE["localnet"].now()
    finally:
        # the shell registered its exit handler, which would keep it (and all it holds) alive for the rest
        # of the test process: run it now instead. The shell also put its own module in sys.modules as
        # __main__ (without __spec__ once reset: multiprocessing's spawn then fails in every later test)
        # and took the display and exception hooks: the process gets its own back (the restore covers
        # __main__ and the exception hook, not the display hook).
        atexit.unregister(shell.atexit_operations)
        shell.atexit_operations()
        shell.restore_sys_module_state()
        InteractiveShell.clear_instance()
        sys.displayhook = displayhook
        os.chdir(cwd)
        prepared = demo._PRIVATE.pop("localnet", None)
        if prepared is not None and prepared.net is not None:
            prepared.net.stop()
            # prepare() registered the stop for exit: that reference would keep the whole localnet
            # (books, candles, engine) alive for the rest of the test process, 60 of them here
            atexit.unregister(prepared.net.stop)


#: Every hour for the notebooks with statistics over calendar days (02 and 06), plus a year's end and
#: a leap day inside their candles; 01 shows times only (masked), so four hours of a day check it.
_HOURS = [_DAY + pd.Timedelta(hours=h) for h in range(24)]
_EDGES = {"new-year": pd.Timestamp("2026-01-01 01:00", tz="UTC"), "leap-day": pd.Timestamp("2024-03-01", tz="UTC")}
# ids name the hour, not the date: xdist's workers must collect the same ids even across a midnight
_CASES = [
    pytest.param(name, t, id=f"{name}-h{h:02d}") for name in ("02_research", "06_sweep") for h, t in enumerate(_HOURS)
]
_CASES += [
    pytest.param(name, t, id=f"{name}-{edge}") for name in ("02_research", "06_sweep") for edge, t in _EDGES.items()
]
_CASES += [pytest.param("01_read_only", _HOURS[h], id=f"01_read_only-h{h:02d}") for h in (0, 6, 12, 18)]


@pytest.mark.parametrize(("name", "start"), _CASES)
def test_stored_outputs_hold_at_every_hour(
    name: str, start: pd.Timestamp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo, "_PRIVATE", {})
    monkeypatch.setattr(demo, "start_localnet", functools.partial(demo.start_localnet, now_ms=start.value // 10**6))
    main, hooks = sys.modules["__main__"], (sys.displayhook, sys.excepthook)
    problems, clock = _run_as_in_its_own_kernel(name, tmp_path / name)
    # the in-process "kernel" leaves the test process as it was: every later test (spawn, displayhook) sees it
    assert sys.modules["__main__"] is main and (sys.displayhook, sys.excepthook) == hooks
    assert not [t.name for t in threading.enumerate() if t.name.startswith("IPython")]
    assert clock.floor("h") == start, f"{name} ran on a localnet whose clock is {clock}, not at {start}"
    assert not problems, f"{name} with the demo started at {start}:\n" + "\n\n".join(problems)
