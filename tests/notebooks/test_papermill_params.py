"""The staged notebooks run headless with papermill, and their parameters change what they do."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from harness import NOTEBOOKS, clean_env, environment

from kit.errors import ReportFailed
from kit.views.report import run_notebook

pytestmark = pytest.mark.slow


def _text(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            parts.append(str((out.get("data") or {}).get("text/plain", "")))
    return "\n".join(parts)


def test_research_follows_its_parameters(tmp_path: Path) -> None:
    params = {"timeframe": "15m", "fast": 6, "slow": 24, "size": "0.02", "since": "-1d"}
    with environment(clean_env(tmp_path)):
        out = run_notebook(NOTEBOOKS / "02_research.ipynb", tmp_path / "02.ipynb", params, cwd=tmp_path)
    text = _text(out)
    assert "96 candles of 15m" in text  # one day of 15m candles
    assert "SMA 6/24" in text and "Equity Final [$]" in text and "Sharpe Ratio" in text
    assert "Traceback" not in text


def test_a_secret_parameter_stops_the_notebook_at_its_check(tmp_path: Path) -> None:
    """Papermill run directly (no runner check): the notebook's second code cell refuses it."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    with environment(clean_env(tmp_path)), pytest.raises(PapermillExecutionError) as info:
        papermill.execute_notebook(str(NOTEBOOKS / "01_read_only.ipynb"), str(tmp_path / "01.ipynb"),
                                   parameters={"exchange": "binance", "binance_secret": "s3cr3t"},
                                   progress_bar=False, cwd=str(tmp_path))  # fmt: skip
    assert info.value.ename == "ConfigError" and "binance_secret" in info.value.evalue
    assert "s3cr3t" not in info.value.evalue
    nb = nbformat.read(tmp_path / "01.ipynb", as_version=4)
    # Papermill itself writes the value into the injected cell's source (which is why run_report refuses
    # secrets before papermill runs); no output echoes it.
    assert "s3cr3t" not in _text(tmp_path / "01.ipynb")
    assert not any("Session(" in c.source and c.get("outputs") for c in nb.cells)  # nothing connected


def test_report_failed_names_the_failing_notebook_cell(tmp_path: Path) -> None:
    with environment(clean_env(tmp_path)), pytest.raises(ReportFailed) as info:
        run_notebook(NOTEBOOKS / "01_read_only.ipynb", tmp_path / "01.ipynb", {"symbol": "NOPE/USDT"}, cwd=tmp_path)
    err = info.value
    nb = nbformat.read(tmp_path / "01.ipynb", as_version=4)
    assert err.cell_index is not None and nb.cells[err.cell_index].cell_type == "code"
    assert any(o["output_type"] == "error" for o in nb.cells[err.cell_index].outputs)
    assert err.ename in str(err)
