"""The drift report: nbval compares it with its stored outputs, and fails it when drift passes the gates."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from harness import HERE, NOTEBOOKS, REPO, SANITIZE, clean_env

from kit.cli.report import report

pytestmark = pytest.mark.slow

DRIFT = NOTEBOOKS / "reports" / "drift.ipynb"
OK_PAIRS = HERE / "fixtures" / "drift_pairs_ok.csv"
OK_REPLAY = HERE / "fixtures" / "drift_replay_ok.csv"


def _nbval(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "pytest", "-c", str(HERE / "nbval.ini"), "--rootdir", str(REPO),
           "--nbval-sanitize-with", str(SANITIZE), "-q", str(DRIFT)]  # fmt: skip
    return subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=600, check=False)


def test_nbval_passes_on_twins_within_the_gates_and_fails_past_them(tmp_path: Path) -> None:
    env = {**clean_env(tmp_path / "home"), "KIT_DRIFT_PAIRS": str(OK_PAIRS), "KIT_DRIFT_REPLAY": str(OK_REPLAY)}
    ok = _nbval(env)
    assert ok.returncode == 0, ok.stdout[-3000:]
    # the same orders, but 4 of the 68 passive ones filled on paper only: 5.9 % phantoms > 5 %
    pairs = pd.read_csv(OK_PAIRS)
    unfilled = pairs.index[(pairs["bucket"] == "passive_limit") & (pairs["real_filled"] == 0)][:4]
    pairs.loc[unfilled, ["paper_filled", "paper_avg", "paper_ttf_ms", "paper_status"]] = [
        0.001,
        60000.0,
        900.0,
        "filled",
    ]
    bad_csv = tmp_path / "phantoms.csv"
    pairs.to_csv(bad_csv, index=False)
    bad = _nbval({**env, "KIT_DRIFT_PAIRS": str(bad_csv)})
    assert bad.returncode != 0
    assert "DriftGateFailed" in bad.stdout and "phantom rate 5.9% > 5%" in bad.stdout
    # replay vs forward: one decision that the replay makes differently on the same candles fails it
    replay = pd.read_csv(OK_REPLAY)
    first_same = replay.index[replay["explanation"] == "same"][0]
    replay.loc[first_same, ["replay_action", "explanation"]] = ["sell", "different decision"]
    bad_replay = tmp_path / "different.csv"
    replay.to_csv(bad_replay, index=False)
    worse = _nbval({**env, "KIT_DRIFT_REPLAY": str(bad_replay)})
    assert worse.returncode != 0
    assert "DriftGateFailed" in worse.stdout and "1 different decision(s) on the same candles" in worse.stdout


def test_kit_report_drift_writes_html_and_exits_2_past_the_gates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIT_HOME", str(tmp_path / "home"))
    for name in [k for k in os.environ if k.startswith("KIT_LOCALNET") or k == "KIT_DRIFT_PAIRS"]:
        monkeypatch.delenv(name)
    out = tmp_path / "reports"
    done = CliRunner().invoke(report, ["drift", "--since", "yesterday", "--until", "today", "--out", str(out)])
    assert done.exit_code == 0, done.output
    page = (out / "drift.html").read_text(encoding="utf-8")
    assert "Drift report" in page and "0 orders with a paper twin" in page and "refuse_secret_params(" not in page
    monkeypatch.setenv("KIT_DRIFT_PAIRS", str(OK_PAIRS))
    pairs = pd.read_csv(OK_PAIRS)
    pairs.loc[pairs["bucket"] == "market", "paper_avg"] = pairs["real_avg"] - pairs["side"].map(
        {"buy": 0.1, "sell": -0.1}
    )
    bad_csv = tmp_path / "optimistic.csv"
    pairs.to_csv(bad_csv, index=False)
    failed = CliRunner().invoke(report, ["drift", "--out", str(out), "--name", "bad"])
    assert failed.exit_code == 0  # OK_PAIRS passes
    monkeypatch.setenv("KIT_DRIFT_PAIRS", str(bad_csv))
    failed = CliRunner().invoke(report, ["drift", "--out", str(out), "--name", "bad"])
    assert failed.exit_code == 2 and "DriftGateFailed" in failed.output


def test_schedule_the_drift_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    done = CliRunner().invoke(report, ["schedule", "--report", "drift", "--at", "00:30"])
    line = done.stdout.splitlines()[0]
    assert line.startswith("30 0 * * * cd ") and "report drift --since yesterday --until today" in line
    assert line.endswith("# tradekit: drift report")


def test_py_and_ipynb_hold_the_same_cells_and_every_cell_is_compared() -> None:
    import jupytext
    import nbformat

    py = jupytext.read(NOTEBOOKS / "reports" / "drift.py")
    nb = nbformat.read(DRIFT, as_version=4)
    assert [(c.cell_type, c.source.strip()) for c in py.cells] == [(c.cell_type, c.source.strip()) for c in nb.cells]
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[0].metadata.get("tags") == ["parameters"]
    assert not [c for c in code if "NBVAL_IGNORE_OUTPUT" in c.source or "NBVAL_SKIP" in c.source]
    assert sum(1 for c in code if c.outputs) >= len(code) - 2  # all but the parameters and the secret check
