"""The map in docs/architecture.md, enforced: every module sits in a layer, imports point down, no circles.

The check reads the source with :mod:`ast`, so it sees every import: at module level, inside
functions (the lazy imports that keep ``import kit`` and ``kit --help`` fast), under
``if TYPE_CHECKING:``, and ``importlib.import_module("kit....")`` with a literal name. It imports
nothing from ``kit``. A violation names the importing file and line; the self-tests at the end
build a small package in a temporary folder and prove that each rule fails on a violation.

To place a new package, add it to :data:`LAYERS` (what it may import directly) and to the map in
docs/architecture.md.
"""

from __future__ import annotations

import ast
import functools
import textwrap
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Layer (the package under ``kit``, or the top-level module) -> the layers it may import directly.
#: A layer may also import anything those reach (the closure is taken below), and itself.
#: Top to bottom: cli -> ops, views -> session -> journal -> transport -> safety -> errors; beside
#: them, the session uses store and localnet (it can start one); store and localnet sit on the
#: pure engine; the engine on errors only.
LAYERS: dict[str, frozenset[str]] = {
    "__main__": frozenset({"cli"}),
    "cli": frozenset({"ops", "views", "run", "research", "kit"}),
    # `research` (backtest, optimise, sweep on Dask): market rules through the session (as `run` reads
    # them), candles from the store, figures from views; the replay through the strategy's engine.
    "research": frozenset({"run", "views", "session", "store", "strategy"}),
    # `run` (strategies run forward through a Session) sits on ops: it reconciles and alerts.
    "run": frozenset({"ops", "session", "strategy", "paper"}),
    "ops": frozenset({"session"}),
    "views": frozenset({"session"}),
    "session": frozenset({"journal", "store", "localnet", "paper"}),
    "journal": frozenset({"transport"}),
    "transport": frozenset({"safety"}),
    "safety": frozenset({"errors", "redact"}),
    "store": frozenset({"engine"}),
    "localnet": frozenset({"engine", "redact"}),
    # `paper`: the paper stage's venue, a private localnet mirroring a real venue's public feed.
    "paper": frozenset({"localnet", "transport"}),  # transport: the REST fallback spends the shared budget
    "strategy": frozenset({"engine"}),
    "engine": frozenset({"errors"}),
    # The public surface: imports the errors at import time, Session and Store on first use (PEP 562).
    "kit": frozenset({"errors", "session", "store"}),
    "errors": frozenset(),
    # The one redactor (#11): a leaf like errors, under safety and beside localnet's request log.
    "redact": frozenset(),
}

#: Circles known to exist and owned by another change; each is an expected failure only while it exists.
#: Empty: the last one, engine/kernel <-> engine/replay, was broken by the engine change (kit/engine/frames.py).
KNOWN_CIRCLES: frozenset[frozenset[str]] = frozenset()


@dataclass(frozen=True)
class Import:
    """One import of a kit module by another, as written in the source."""

    source: str
    target: str
    line: int
    type_only: bool  # under ``if TYPE_CHECKING:``: never runs, but still a dependency


@functools.cache  # one parse per tree and test session (a self-test's tree is complete before it is read)
def modules(root: Path) -> dict[str, Path]:
    """Dotted name -> file, for every ``.py`` under ``root / "kit"`` (a package is its ``__init__``)."""
    out: dict[str, Path] = {}
    for path in sorted((root / "kit").rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _reexports(mods: Mapping[str, Path]) -> dict[str, dict[str, str]]:
    """Package -> {name: submodule it comes from}, for names a package ``__init__`` imports from its submodules."""
    out: dict[str, dict[str, str]] = {}
    for name, path in mods.items():
        if path.name != "__init__.py":
            continue
        names: dict[str, str] = {}
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(name + "."):
                for alias in node.names:
                    names[alias.asname or alias.name] = node.module
        out[name] = names
    return out


def _is_type_checking(node: ast.stmt) -> bool:
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (test.id if isinstance(test, ast.Name) else test.attr if isinstance(test, ast.Attribute) else "") == (
        "TYPE_CHECKING"
    )


def _import_nodes(body: list[ast.stmt], type_only: bool = False) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Import statements at any depth (functions, classes, if/try/with/match blocks), and whether each is
    under ``if TYPE_CHECKING:``. Walks statements only: imports are statements (much faster than ast.walk)."""
    for stmt in body:
        if isinstance(stmt, ast.Import | ast.ImportFrom):
            yield stmt, type_only
            continue
        inner = type_only or _is_type_checking(stmt)
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            for child in getattr(stmt, field, ()) or ():
                if isinstance(child, ast.stmt):
                    yield from _import_nodes([child], inner if field == "body" else type_only)
                else:  # an except handler or a match case: its own body
                    yield from _import_nodes(child.body, type_only)


def _import_module_calls(tree: ast.AST) -> Iterator[tuple[str, int]]:
    """``importlib.import_module("kit....")`` / ``__import__("kit...")`` with a literal name, anywhere."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            first = node.args[0] if node.args else None
            if called in ("import_module", "__import__") and isinstance(first, ast.Constant):
                if isinstance(first.value, str):
                    yield first.value, node.lineno


@functools.cache
def parsed(path: Path) -> tuple[str, ast.Module]:
    """A file's text and syntax tree, read once per test session."""
    text = path.read_text(encoding="utf-8")
    return text, ast.parse(text, str(path))


@functools.cache
def imports(root: Path) -> tuple[Import, ...]:
    """Every import between kit modules under ``root``, wherever it is written.

    ``from kit.pkg import name`` counts as an import of the submodule ``name`` (or of the submodule
    the package re-exports ``name`` from), not of the package ``__init__``: importing a submodule
    runs its parents' ``__init__`` too, but does not depend on them.
    """
    mods = modules(root)
    reexports = _reexports(mods)

    def resolve(dotted: str) -> str | None:
        if dotted in mods:
            return dotted
        package, _, attribute = dotted.rpartition(".")
        if attribute in reexports.get(package, {}):
            return reexports[package][attribute]
        return package if package in mods else None

    out: list[Import] = []
    for name, path in mods.items():
        text, tree = parsed(path)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: list[tuple[str, int, bool]] = []
        for node, type_only in _import_nodes(tree.body):
            if isinstance(node, ast.Import):
                found += [(alias.name, node.lineno, type_only) for alias in node.names]
                continue
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            found += [(f"{base}.{alias.name}", node.lineno, type_only) for alias in node.names]
        if "import_module" in text or "__import__" in text:
            found += [(target, line, False) for target, line in _import_module_calls(tree)]
        for target, line, type_only in found:
            if target != "kit" and not target.startswith("kit."):
                continue
            resolved = resolve(target)
            if resolved is not None and resolved != name:
                out.append(Import(name, resolved, line, type_only))
    return tuple(out)


def layer(module: str) -> str:
    """``kit.session.core`` -> ``session``; ``kit.errors`` -> ``errors``; ``kit`` -> ``kit``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "kit"


def _closure(layers: Mapping[str, Iterable[str]]) -> dict[str, set[str]]:
    reach: dict[str, set[str]] = {}
    for start in layers:
        seen: set[str] = set()
        todo = list(layers[start])
        while todo:
            nxt = todo.pop()
            if nxt not in seen:
                seen.add(nxt)
                todo.extend(layers.get(nxt, ()))
        reach[start] = seen | {start}
    return reach


def unplaced(root: Path, layers: Mapping[str, Iterable[str]] = LAYERS) -> list[str]:
    """Modules whose layer is not in the map."""
    return sorted(m for m in modules(root) if layer(m) not in layers)


def violations(root: Path, layers: Mapping[str, Iterable[str]] = LAYERS) -> list[str]:
    """Imports that point up or sideways, as ``file:line: a imports b (layer x may not import y)``."""
    reach = _closure(layers)
    mods = modules(root)
    out = []
    for imp in imports(root):
        src, dst = layer(imp.source), layer(imp.target)
        if src in reach and dst not in reach[src]:
            where = mods[imp.source].relative_to(root)
            out.append(f"{where}:{imp.line}: {imp.source} imports {imp.target} ({src} may not import {dst})")
    return sorted(out)


def circles(root: Path) -> list[frozenset[str]]:
    """Groups of modules that import each other at run time (strongly connected, more than one module)."""
    graph: dict[str, set[str]] = {m: set() for m in modules(root)}
    for imp in imports(root):
        if not imp.type_only:
            graph[imp.source].add(imp.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def visit(v: str) -> None:  # Tarjan's algorithm; kit's graph is shallow enough for recursion
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(frozenset(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found, key=sorted)


#: Where the engine's OrderRequest may be built (#11.1): the module that defines it, and the one
#: constructor from the order description (``kit.engine.order.engine_request``).
REQUEST_BUILDERS = {"kit/engine/types.py": None, "kit/engine/order.py": "engine_request"}


def order_request_builders(root: Path, folders: Iterable[str] = ("kit", "benchmarks")) -> list[str]:
    """Calls that build an ``OrderRequest`` outside :data:`REQUEST_BUILDERS`, as ``file:line in function``.

    A call counts when the name called is ``OrderRequest`` (``OrderRequest(...)``,
    ``types.OrderRequest(...)``) or a name an import bound to it (``import ... OrderRequest as R``).
    The engine's amend copies a request it already holds with ``dataclasses.replace``: a changed
    copy, not a new order, so it is not a build. Only files that name ``OrderRequest`` are read, and
    each through :func:`parsed` (the import checks have parsed ``kit`` already).
    """
    out: list[str] = []
    for folder in folders:
        for path in sorted((root / folder).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            allowed = REQUEST_BUILDERS.get(rel, "")
            if allowed is None or "OrderRequest" not in path.read_text(encoding="utf-8"):
                continue
            tree = parsed(path)[1]
            names = {"OrderRequest"}
            functions: list[tuple[int, int, str]] = []  # (first line, last line, name)
            calls: list[ast.Call] = []
            for node in ast.walk(tree):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    names |= {a.asname for a in node.names if a.asname and a.name.rpartition(".")[2] == "OrderRequest"}
                elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    functions.append((node.lineno, node.end_lineno or node.lineno, node.name))
                elif isinstance(node, ast.Call):
                    calls.append(node)
            for call in calls:
                func = call.func
                called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
                if called not in names:
                    continue
                inside = [(last - first, name) for first, last, name in functions if first <= call.lineno <= last]
                function = min(inside)[1] if inside else ""  # the innermost function around the call
                if not (allowed and function == allowed):
                    out.append(f"{rel}:{call.lineno} in {function or 'module level'}")
    return sorted(out)


# ------------------------------------------------------------------------------------------ kit


@pytest.fixture(scope="module", autouse=True)
def _parsed() -> None:
    """Parse kit once, as setup (the checks below then read the cached result)."""
    imports(ROOT)


def test_every_module_is_placed_in_a_layer() -> None:
    assert modules(ROOT), "no kit modules found"
    missing = unplaced(ROOT)
    assert not missing, (
        f"place these packages in LAYERS (tests/test_architecture.py) and docs/architecture.md: {missing}"
    )


def test_imports_point_down_the_layers() -> None:
    found = violations(ROOT)
    assert not found, "\n".join(found)


def test_no_import_circles() -> None:
    found = set(circles(ROOT))
    unexpected = sorted(sorted(c) for c in found - KNOWN_CIRCLES)
    assert not unexpected, f"import circles: {unexpected}"
    still_there = sorted(sorted(c) for c in found & KNOWN_CIRCLES)
    if still_there:
        pytest.xfail(f"known circle(s), owned by another change (see KNOWN_CIRCLES): {still_there}")


def test_the_map_names_every_layer() -> None:
    """docs/architecture.md places every package the code has."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    present = {layer(m) for m in modules(ROOT)} - {"kit", "__main__"}
    assert not {p for p in present if f"kit/{p}" not in text and f"kit.{p}" not in text}


def test_errors_import_nothing_from_kit() -> None:
    assert not [i for i in imports(ROOT) if i.source == "kit.errors"]


def test_only_the_one_constructor_builds_the_engines_order_request() -> None:
    """#11.1: ``OrderSpec`` is the order description; ``OrderRequest`` is the engine's derived form, built
    only by ``kit.engine.order.engine_request`` (``OrderSpec.to_request``, localnet's wire decoder,
    its command-log reader and the research replay all go through it)."""
    found = order_request_builders(ROOT)
    assert not found, "build an OrderSpec and call engine_request (or .to_request()) instead:\n" + "\n".join(found)


# ------------------------------------------------------------------------------------ self-tests


def _tree(tmp_path: Path, files: Mapping[str, str]) -> Path:
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return tmp_path


BASE = {
    "kit/__init__.py": "from kit.errors import KitError\n",
    "kit/errors.py": "class KitError(Exception): ...\n",
    "kit/engine/__init__.py": "from kit.engine.types import Side\n",
    "kit/engine/types.py": "from kit.errors import KitError\nSide = 1\n",
    "kit/session/__init__.py": "",
    "kit/session/core.py": "from kit.engine import Side\n",
}


def test_self_test_a_clean_tree_passes(tmp_path: Path) -> None:
    root = _tree(tmp_path, BASE)
    assert violations(root) == [] and circles(root) == [] and unplaced(root) == []
    assert {(i.source, i.target) for i in imports(root)} >= {
        ("kit.session.core", "kit.engine.types"),  # through the package's re-export
        ("kit.engine.types", "kit.errors"),
    }


def test_self_test_an_upward_import_inside_a_function_fails(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {**BASE, "kit/engine/bad.py": "def f():\n    if True:\n        from kit.session.core import Side\n"},
    )
    assert violations(root) == [
        "kit/engine/bad.py:3: kit.engine.bad imports kit.session.core (engine may not import session)"
    ]


def test_self_test_type_only_and_import_module_imports_count(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            **BASE,
            "kit/errors.py": """\
                from typing import TYPE_CHECKING
                import importlib
                if TYPE_CHECKING:
                    from kit.engine import types
                def f():
                    return importlib.import_module("kit.session.core")
            """,
        },
    )
    found = violations(root)
    assert len(found) == 2 and all("errors may not import" in v for v in found)


def test_self_test_a_sideways_import_fails(tmp_path: Path) -> None:
    root = _tree(tmp_path, {**BASE, "kit/ops/__init__.py": "", "kit/ops/a.py": "import kit.views.b\n"})
    root = _tree(root, {"kit/views/__init__.py": "", "kit/views/b.py": "x = 1\n"})
    assert violations(root) == ["kit/ops/a.py:1: kit.ops.a imports kit.views.b (ops may not import views)"]


def test_self_test_an_unplaced_package_is_reported(tmp_path: Path) -> None:
    root = _tree(tmp_path, {**BASE, "kit/newthing/__init__.py": ""})
    assert unplaced(root) == ["kit.newthing"]


def test_self_test_circles_are_found_but_type_only_ones_are_not(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            **BASE,
            "kit/engine/a.py": "def f():\n    from kit.engine.b import g\n",
            "kit/engine/b.py": "from kit.engine import a\ndef g(): ...\n",
            "kit/engine/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from kit.engine.d import x\n",
            "kit/engine/d.py": "from kit.engine.c import TYPE_CHECKING as x\n",
        },
    )
    assert circles(root) == [frozenset({"kit.engine.a", "kit.engine.b"})]


def test_self_test_an_order_request_built_outside_the_constructor_is_found(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "kit/engine/types.py": "class OrderRequest: ...\nDEFAULT = OrderRequest()\n",
        "kit/engine/order.py": """
            from kit.engine.types import OrderRequest
            def engine_request(spec):
                return OrderRequest(spec)
            def shortcut():
                return OrderRequest()
            """,
        "kit/engine/engine.py": "from kit.engine import types\nfrom dataclasses import replace\ndef amend(r):\n"
                                "    return replace(r, price=1)\ndef new():\n    return types.OrderRequest()\n",
        "kit/localnet/wire.py": "from kit.engine.types import OrderRequest as R\ndef decode():\n    return R()\n",
        "benchmarks/bench.py": "from kit.engine import OrderRequest\nREQ = OrderRequest()\n",
        "kit/localnet/other.py": "X = 1  # never names the type\n",
    })  # fmt: skip
    assert order_request_builders(root) == [
        "benchmarks/bench.py:2 in module level",
        "kit/engine/engine.py:6 in new",
        "kit/engine/order.py:6 in shortcut",
        "kit/localnet/wire.py:3 in decode",
    ]
