"""The demo's last part: shadow twins of a few testnet orders on the demo localnet, then the drift report."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from harness import clean_env, environment

from kit.cli.demo import localnet_env, start_localnet, twins_and_drift

pytestmark = pytest.mark.slow


def test_twins_of_demo_orders_end_in_the_drift_report(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    net = start_localnet(state_dir=home / "localnet")
    try:
        with environment({**clean_env(home), **localnet_env(net)}):
            seconds, page = twins_and_drift(net, tmp_path, home, say=lambda _: None)
    finally:
        net.stop()
    assert page == tmp_path / "drift.html" and seconds > 0
    text = page.read_text(encoding="utf-8")
    assert "Drift report" in text and "6 orders with a paper twin" in text
    assert "refuse_secret_params(" not in text  # no code in the report
    nb = nbformat.read(tmp_path / "drift.ipynb", as_version=4)
    out = "".join(str(o.get("text", "")) for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.split()[:1] and line.split()[0] in (
        "market", "marketable_limit", "ioc_fok", "passive_limit")}  # fmt: skip
    # the verdict table (pairs, verdict): every bucket with too few pairs for a verdict, none failing
    assert rows["market"][1:3] == ["2", "insufficient"] and rows["passive_limit"][1:3] == ["2", "insufficient"]
    assert (home / "twins" / "localnet").is_dir()  # the tape the twins were simulated on
