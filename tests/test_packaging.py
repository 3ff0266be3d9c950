"""pyproject.toml is the source of truth; environment.yml and the version must agree with it."""

import re
import tomllib
from pathlib import Path

import yaml

import kit

ROOT = Path(__file__).resolve().parents[1]
# PyPI name -> conda-forge name, where they differ.
CONDA_NAMES = {"duckdb": "python-duckdb"}


def _split(requirement: str) -> tuple[str, str]:
    match = re.fullmatch(r"([A-Za-z0-9_.\-]+)\s*(.*)", requirement.strip())
    assert match, requirement
    return match.group(1).lower(), match.group(2).replace(" ", "")


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_environment_yml_mirrors_runtime_and_dev_dependencies() -> None:
    project = _pyproject()["project"]
    wanted = dict(_split(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    found: dict[str, str] = {}
    for spec in conda + [p for p in pip if not p.startswith("-e")]:
        name, version = _split(spec)
        found[name] = version
    found = {name: found.get(CONDA_NAMES.get(name, name), "MISSING") for name in wanted}
    assert found == wanted
    assert "-e ." in pip


def test_ccxt_is_pinned_exactly() -> None:
    assert "ccxt==4.5.90" in _pyproject()["project"]["dependencies"]


def test_version_is_single_sourced() -> None:
    dynamic = _pyproject()["tool"]["setuptools"]["dynamic"]
    assert dynamic["version"] == {"attr": "kit.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", kit.__version__)
