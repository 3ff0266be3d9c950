"""The notebooks as files: jupytext pairs in sync, a parameters cell that refuses secrets, clean outputs."""

from __future__ import annotations

import ast

import jupytext
import nbformat
import pytest
from harness import NOTEBOOKS, REPORT, STAGED
from update_outputs import secret_shaped

from kit.errors import ConfigError
from kit.safety.secrets import refuse_secret_params

ALL = [*STAGED, REPORT]


def test_the_demos_list_names_every_staged_notebook_and_each_exists() -> None:
    """The harness runs the demo's own list (``kit.cli.demo.NOTEBOOKS``); each named pair is on disk, and
    no numbered notebook under ``notebooks/`` is left out of it (it would never be run or checked)."""
    missing = [n for n in ALL for ext in (".ipynb", ".py") if not (NOTEBOOKS / f"{n}{ext}").is_file()]
    assert not missing, f"listed but not on disk: {missing}"
    on_disk = sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    assert on_disk == sorted(STAGED), f"numbered notebooks not in kit.cli.demo.NOTEBOOKS: {set(on_disk) - set(STAGED)}"


def _code(cells: list[nbformat.NotebookNode]) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source.strip()) for c in cells]


@pytest.mark.parametrize("name", ALL)
def test_py_and_ipynb_hold_the_same_cells(name: str) -> None:
    py = jupytext.read(NOTEBOOKS / f"{name}.py")
    ipynb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    assert _code(py.cells) == _code(ipynb.cells), (
        f"{name}.py and {name}.ipynb differ: edit the .py, then run tests/notebooks/update_outputs.py {name}"
    )
    assert ipynb.metadata["jupytext"]["formats"] == "ipynb,py:percent"
    assert ipynb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("name", ALL)
def test_parameters_cell_then_the_secret_check(name: str) -> None:
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[0].metadata.get("tags") == ["parameters"], "the first code cell is papermill's parameters cell"
    assert 'refuse_secret_params(notebook_parameters(globals()), "notebook parameters")' in code[1].source
    namespace: dict[str, object] = {}
    exec(compile(ast.parse(code[0].source), name, "exec"), namespace)  # plain assignments only
    params = {k: v for k, v in namespace.items() if not k.startswith("__")}
    refuse_secret_params(params, "notebook parameters")  # the defaults are not secrets
    if name != REPORT:
        assert params["exchange"] == "localnet" and params["store_root"] == "data"
    assert not any("key" in k.lower() or "secret" in k.lower() for k in params)
    with pytest.raises(ConfigError):
        refuse_secret_params({**params, "api_secret": "x"}, "notebook parameters")


@pytest.mark.parametrize("name", ALL)
def test_stored_outputs_are_clean(name: str) -> None:
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    assert not secret_shaped(nb)
    assert "widgets" not in nb.metadata and "papermill" not in nb.metadata
    text = nbformat.writes(nb)
    assert "/tmp/" not in text  # temporary paths are stored as <TMP>
    assert "KIT_LOCALNET_API_SECRET=" not in text and "export KIT_" not in text
    errors = [c.source.splitlines()[0] for c in nb.cells for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert not errors, f"stored outputs hold errors: {errors}"
    for cell in nb.cells:
        assert "execution" not in cell.metadata
