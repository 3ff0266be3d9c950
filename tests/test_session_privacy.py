"""Nothing outside the Session touches its private attributes or hangs attributes on it.

The Session is assembled from the classes in :data:`SESSION_MODULES`; everything else (candles,
fills, streams, degradation, reconciliation, widgets, the CLI) goes through its public surface and
its request seam (:class:`kit.session.base.ExchangeApi`). The test reads the source with ``ast``,
so it sees accesses inside functions and ``getattr(session, "_ex")`` as well.
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

import pytest

KIT = Path(__file__).resolve().parents[1] / "kit"
#: The modules whose classes make up the Session (its mixins): they may use its private attributes.
SESSION_MODULES = {"session/base.py", "session/core.py", "session/reads.py", "session/trading.py"}
_DYNAMIC = ("getattr", "setattr", "hasattr", "delattr")


def _rel(p: Path) -> str:
    return p.relative_to(KIT).as_posix()


@functools.cache
def session_private_names() -> frozenset[str]:
    """Every ``_name`` the Session's classes declare, assign on ``self`` or look up on ``self``."""
    names: set[str] = set()
    for rel in SESSION_MODULES:
        tree = ast.parse((KIT / rel).read_text())
        for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
            for node in ast.walk(cls):
                if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                    names.add(node.target.id)
                elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    names.add(node.name)
                elif isinstance(node, ast.Attribute) and _is_self(node.value):
                    names.add(node.attr)
                elif (dyn := _dynamic(node)) is not None and _is_self(dyn[0]):
                    names.add(dyn[1])
    return frozenset(n for n in names if n.startswith("_") and not n.startswith("__"))


def _is_self(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and node.id in ("self", "cls")


def _dynamic(node: ast.AST) -> tuple[ast.expr, str] | None:
    """``(obj, "name")`` of a ``getattr(obj, "name", ...)`` (or set/has/delattr) call."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _DYNAMIC
        and len(node.args) >= 2
        and isinstance(node.args[1], ast.Constant)
        and isinstance(node.args[1].value, str)
    ):
        return node.args[0], node.args[1].value
    return None


def violations(source: str, private: frozenset[str]) -> list[str]:
    """Where ``source`` reads or writes one of ``private`` on anything but ``self``, or sets a private attribute."""
    out: list[str] = []
    own: set[str] = set()
    stores: list[ast.Attribute] = []  # private attributes set on other objects: judged once `own` is known
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute):
            if _is_self(node.value):
                own.add(node.attr)
            elif node.attr in private:
                out.append(f"{node.lineno}: {ast.unparse(node)}")
            elif isinstance(node.ctx, ast.Store) and node.attr.startswith("_") and not node.attr.startswith("__"):
                stores.append(node)
        elif isinstance(node, ast.Call) and (dyn := _dynamic(node)) is not None:
            if dyn[1] in private and not _is_self(dyn[0]):
                out.append(f"{node.lineno}: {ast.unparse(node)}")
    # a private attribute that none of this module's classes owns, hung on another object
    out += [f"{n.lineno}: sets {ast.unparse(n)}" for n in stores if n.attr not in own]
    return out


#: A text search every violation matches (a private name after a dot on something that is not ``self``
#: or ``cls``, or a literal private name in ``getattr``/``setattr``/...): files without a match cannot
#: violate and are not parsed, which keeps the test well under the fast loop's 2 s per test.
_MAY_VIOLATE = re.compile(r"(?<!self)(?<!cls)\._[A-Za-z]|(?:get|set|has|del)attr\((?:.|\n){0,200}?,\s*[\"']_[A-Za-z]")


def test_the_session_has_the_private_names_the_rule_is_about() -> None:
    private = session_private_names()
    assert {"_call", "_ex", "_j", "_loop", "_record_trade", "_budgets"} <= private


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("def f(s):\n    return s._ex.markets\n", 1),
        ("def f(s):\n    s._call('x', 'GET', '/p', lambda: None)\n", 1),
        ("def f(s):\n    return getattr(s, '_loop', None)\n", 1),
        ("def f(s, p):\n    s._health_probe = p\n", 1),
        ("class A:\n    def f(self):\n        return self._ex\n", 0),
        ("class A:\n    def g(self):\n        self._n = 0\n\n    def f(self, a):\n        a._n = 1\n", 0),
        (
            "def f(s):\n    return s.api.call('x', lambda ex: ex.fetch_time(), method='GET', path='/t', write=False)\n",
            0,
        ),
    ],
)
def test_the_rule_sees_what_it_should(source: str, found: int) -> None:
    assert len(violations(source, session_private_names())) == found
    if found:
        assert _MAY_VIOLATE.search(source)  # the text search lets every violation through to the parser


def test_no_module_outside_the_session_touches_its_private_attributes() -> None:
    private = session_private_names()
    found = {
        _rel(p): v
        for p in sorted(KIT.rglob("*.py"))
        if _rel(p) not in SESSION_MODULES
        and _MAY_VIOLATE.search(text := p.read_text())
        and (v := violations(text, private))
    }
    assert found == {}, "use session.api (kit.session.base.ExchangeApi) or a public method instead"
