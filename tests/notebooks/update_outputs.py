"""Re-execute the notebooks and store their outputs: the reference that the nbval tests compare with.

Run after changing a notebook's ``.py`` source (the reviewable half of each jupytext pair)::

    .venv/bin/python tests/notebooks/update_outputs.py            # every notebook
    .venv/bin/python tests/notebooks/update_outputs.py 02_research

Each ``.py`` is read with jupytext, executed in a fresh kernel exactly as the tests run it (the
staged notebooks on a private localnet each, the daily report after ``03_testnet_orders`` traded),
and written to its ``.ipynb`` with the outputs. Execution metadata and widget state are dropped,
temporary paths become ``<TMP>``, and the result is checked for anything shaped like a secret.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

import jupytext
import nbformat
from harness import NOTEBOOKS, REPORT, STAGED, clean_env, environment, report_env
from nbclient import NotebookClient

DRIFT = "reports/drift"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
_TMP = re.compile(r"/tmp/[^\s'\"<>),]+")
_SECRET = re.compile(r"(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/=_-]{48,}(?![A-Za-z0-9+/=_-])")


def _scrub(nb: nbformat.NotebookNode) -> None:
    nb.metadata.pop("widgets", None)
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("papermill", None)
        for out in cell.get("outputs", []):
            if "text" in out:
                out["text"] = _TMP.sub("<TMP>", out["text"])
            for mime, value in (out.get("data") or {}).items():
                if isinstance(value, str):
                    out["data"][mime] = _TMP.sub("<TMP>", value)


def secret_shaped(nb: nbformat.NotebookNode) -> list[str]:
    """Strings in the outputs shaped like an API key or secret (long runs of key characters, no bdata)."""
    found = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            texts = [out.get("text", "")]
            texts += [v for k, v in (out.get("data") or {}).items() if isinstance(v, str) and "plotly" not in k]
            for text in texts:
                found += [m for m in _SECRET.findall(text) if not m.startswith("/")]
    return found


def update(name: str, env: dict[str, str], cwd: Path) -> None:
    """Execute ``notebooks/<name>.py`` in ``env`` and write ``notebooks/<name>.ipynb`` with its outputs."""
    source = NOTEBOOKS / f"{name}.py"
    target = NOTEBOOKS / f"{name}.ipynb"
    nb = jupytext.read(source)
    with environment(env):
        resources = {"metadata": {"path": str(target.parent)}}  # the kernel runs in notebooks/, as under nbval
        NotebookClient(nb, timeout=300, kernel_name="python3", resources=resources).execute()
    _scrub(nb)
    bad = secret_shaped(nb)
    if bad:
        raise SystemExit(f"{name}: outputs hold secret-shaped strings, not written: {[b[:6] + '...' for b in bad]}")
    jupytext.write(nb, target, fmt="ipynb")
    print(f"updated {target.relative_to(NOTEBOOKS.parent)}")


def main(names: list[str]) -> None:
    """Update the named notebooks (all by default)."""
    names = names or [*STAGED, REPORT]
    with tempfile.TemporaryDirectory(prefix="kit-nbval-") as tmp:
        root = Path(tmp)
        for name in names:
            if name == REPORT:
                with report_env(root / "report") as env:
                    update(name, env, root / "report")
            else:
                home = root / name
                home.mkdir(parents=True)
                env = clean_env(home)
                if name == DRIFT:  # the drift report's stored outputs come from the saved tables its nbval test uses
                    env.update(KIT_DRIFT_PAIRS=str(FIXTURES / "drift_pairs_ok.csv"),
                               KIT_DRIFT_REPLAY=str(FIXTURES / "drift_replay_ok.csv"))  # fmt: skip
                update(name, env, home)


if __name__ == "__main__":
    main(sys.argv[1:])
