"""nbval over the notebooks: every code cell's output is compared with the one stored in the .ipynb.

One inner pytest run per group (``--nbval``, not ``--nbval-lax``), configured by ``nbval.ini`` and
``sanitize.cfg`` next to this file, so ``make test`` keeps a single summary line while each
notebook still gets its own test here. The staged notebooks start a private, seeded, stepped
localnet each, so prices, fills, fees and order ids compare as they are; the sanitizer only
replaces wall-clock times, ids derived from random keys, temporary paths, ports and durations.
The daily report runs against a localnet that ``03_testnet_orders`` has traded on.

A failure shows the differing cell. If a notebook changed on purpose, refresh the reference:
``.venv/bin/python tests/notebooks/update_outputs.py <name>``.
"""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import nbformat
import pytest
from harness import HERE, NOTEBOOKS, REPO, REPORT, SANITIZE, STAGED, clean_env, report_env

pytestmark = pytest.mark.slow

Results = dict[str, list[tuple[str, str | None]]]


def _nbval(paths: list[Path], env: dict[str, str], junit: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "pytest", "-c", str(HERE / "nbval.ini"), "--rootdir", str(REPO),
           "--nbval-sanitize-with", str(SANITIZE), f"--junitxml={junit}", "-q", *map(str, paths)]  # fmt: skip
    return subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=900, check=False)


def _results(junit: Path, done: subprocess.CompletedProcess[str]) -> Results:
    """Per notebook (path under notebooks/, no suffix): (cell, failure text or None)."""
    if not junit.is_file():
        output = f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        pytest.fail(f"the nbval run did not start (exit {done.returncode}):\n{output}")
    out: Results = {}
    for case in ET.parse(junit).iter("testcase"):
        classname = case.get("classname") or ""
        name = classname.removeprefix("notebooks.").removesuffix(".ipynb").replace(".", "/")
        problem = next((c for c in case if c.tag in ("failure", "error")), None)
        text = None if problem is None else f"{problem.get('message', '')}\n{problem.text or ''}"
        out.setdefault(name, []).append((case.get("name") or "?", text))
    return out


def _check(results: Results, name: str) -> None:
    cells = results.get(name)
    assert cells, f"nbval collected no cell of {name}: {sorted(results)}"
    failed = [f"--- {cell}\n{text[-3000:]}" for cell, text in cells if text]
    summary = f"{name}: {len(failed)} of {len(cells)} cells differ from the stored outputs"
    assert not failed, summary + "\n" + "\n".join(failed)


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> Results:
    home = tmp_path_factory.mktemp("nbval-staged")
    junit = home / "junit.xml"
    done = _nbval([NOTEBOOKS / f"{n}.ipynb" for n in STAGED], clean_env(home), junit)
    return _results(junit, done)


@pytest.mark.parametrize("name", STAGED)
def test_staged_notebook_matches_its_stored_outputs(staged: Results, name: str) -> None:
    _check(staged, name)


def test_daily_report_matches_its_stored_outputs(tmp_path: Path) -> None:
    with report_env(tmp_path / "home") as env:
        junit = tmp_path / "junit.xml"
        done = _nbval([NOTEBOOKS / f"{REPORT}.ipynb"], env, junit)
    _check(_results(junit, done), REPORT)


@pytest.mark.parametrize("name", [*STAGED, REPORT])
def test_every_code_cell_is_compared(name: str) -> None:
    """The check is real: no cell opts out of comparison and every code cell has stored outputs to compare."""
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    skipped = [c.source.splitlines()[0] for c in code if "NBVAL_IGNORE_OUTPUT" in c.source or "NBVAL_SKIP" in c.source]
    assert not skipped, f"cells opted out of comparison: {skipped}"
    assert sum(1 for c in code if c.outputs) >= len(code) // 2, "most cells should have stored outputs"
    assert "--nbval-lax" not in (HERE / "nbval.ini").read_text()
