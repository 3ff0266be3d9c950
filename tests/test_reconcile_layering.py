"""kit.ops.reconcile sits above kit.session: the session never loads it, and its command stays cheap to attach.

The fill sweep that both use lives in kit.session.fills (streams backfill with it, reconcile builds on it).
That no session module imports kit.ops (at module level or inside a function) is one case of the
layer rules in tests/test_architecture.py; this file checks what the interpreter really loads.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _modules_after(statement: str) -> set[str]:
    """The kit modules and ccxt loaded by a fresh interpreter after ``statement``."""
    code = f"{statement}\nimport sys\nprint('\\n'.join(m for m in sys.modules if m.startswith(('kit', 'ccxt'))))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return set(done.stdout.split())


def _is_reconcile(module: str) -> bool:
    return module in ("kit.ops.reconcile", "kit.cli.reconcile") or module.startswith("kit.ops.reconcile.")


@pytest.mark.slow  # a fresh interpreter imports the Session (ccxt, pandas)
def test_importing_the_streams_does_not_load_the_reconciler() -> None:
    loaded = _modules_after("import kit.session.streams")
    assert "kit.session.streams" in loaded and "kit.session.fills" in loaded
    assert not {m for m in loaded if _is_reconcile(m)}


def test_the_command_attaches_without_ccxt_or_a_session() -> None:
    """kit/cli/main.py attaches ``kit reconcile`` on every start (``kit --help``): that must not import ccxt."""
    loaded = _modules_after("import kit.cli.reconcile")
    assert "kit.cli.reconcile" in loaded
    assert not {m for m in loaded if m == "ccxt" or m.startswith(("ccxt.", "kit.session"))}


def test_public_import_paths() -> None:
    import kit.cli.reconcile
    import kit.ops.reconcile
    from kit.ops.reconcile import Finding, ReconcileReport, adopt_fills, order_window_ms, reconcile, settle_order

    assert kit.ops.reconcile.__all__ == [
        "Finding",
        "ReconcileReport",
        "adopt_fills",
        "order_window_ms",
        "reconcile",
        "settle_order",
    ]
    assert all(callable(x) for x in (Finding, ReconcileReport, adopt_fills, order_window_ms, reconcile, settle_order))
    assert kit.cli.reconcile.reconcile_command is kit.cli.reconcile.reconcile_command


def test_every_reconcile_module_is_short() -> None:
    """The package was split by concern so that each part can be read in one sitting."""
    paths = sorted((ROOT / "kit" / "ops" / "reconcile").glob("*.py"))
    assert len(paths) >= 5  # __init__, compare, apply, exchange, report
    for path in paths:
        assert len(path.read_text(encoding="utf-8").splitlines()) <= 300, path.name
