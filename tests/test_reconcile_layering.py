"""kit.ops.reconcile sits above kit.session: the session never imports it, and its command stays cheap to attach.

The fill sweep that both use lives in kit.session.fills (streams backfill with it, reconcile builds on it).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SESSION = ROOT / "kit" / "session"


def _modules_after(statement: str) -> set[str]:
    """The kit modules and ccxt loaded by a fresh interpreter after ``statement``."""
    code = f"{statement}\nimport sys\nprint('\\n'.join(m for m in sys.modules if m.startswith(('kit', 'ccxt'))))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return set(done.stdout.split())


def _imported(path: Path) -> set[str]:
    """Every module a file imports, at module level or inside functions (``from kit import x`` gives ``kit.x``)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
            "import_module",
            "__import__",
        ):
            out |= {a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)}
    return out


def _is_reconcile(module: str) -> bool:
    return module in ("kit.ops.reconcile", "kit.cli.reconcile") or module.startswith("kit.ops.reconcile.")


def test_importing_the_streams_does_not_load_the_reconciler() -> None:
    loaded = _modules_after("import kit.session.streams")
    assert "kit.session.streams" in loaded and "kit.session.fills" in loaded
    assert not {m for m in loaded if _is_reconcile(m)}


@pytest.mark.parametrize("path", sorted(SESSION.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_session_module_imports_the_reconciler(path: Path) -> None:
    assert not {m for m in _imported(path) if _is_reconcile(m)}


def test_the_import_check_sees_late_imports(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from kit.ops.reconcile import adopt_fills\n    from kit.cli import reconcile\n")
    assert {m for m in _imported(probe) if _is_reconcile(m)} == {
        "kit.ops.reconcile",
        "kit.ops.reconcile.adopt_fills",
        "kit.cli.reconcile",
    }


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
    for path in sorted((ROOT / "kit" / "reconcile").glob("*.py")):
        assert len(path.read_text(encoding="utf-8").splitlines()) <= 300, path.name
