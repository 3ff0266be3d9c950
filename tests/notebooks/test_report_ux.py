"""What a reader of a report meets (#17): widgets shown as their state, nothing fetched, sections that agree.

No kernel here: the notebooks are built with nbformat, the journal and request log are written
directly, so these run in the fast loop. The real-browser checks are in tests/browser.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from kit.errors import ConfigError
from kit.journal.journal import Journal
from kit.transport.logs import RequestLog
from kit.views.report import Activity, checklist, counted, number, period, to_html, when
from kit.views.widget_html import WIDGET_STATE_MIME, WIDGET_VIEW_MIME, inline_widget_state, render_widget


def _model(name: str, **state: object) -> dict[str, object]:
    return {
        "model_name": name,
        "model_module": "@jupyter-widgets/controls",
        "state": {"layout": "IPY_MODEL_lay", **state},
    }


MODELS = {
    "lay": {"model_name": "LayoutModel", "state": {}},
    "hidden_lay": {"model_name": "LayoutModel", "state": {"display": "none"}},
    "box": _model(
        "VBoxModel", children=["IPY_MODEL_html", "IPY_MODEL_row", "IPY_MODEL_out"], _dom_classes=["kt-blotter"]
    ),
    "html": _model("HTMLModel", value="<b>Order 5 open</b>"),
    "row": _model(
        "HBoxModel",
        children=["IPY_MODEL_amend", "IPY_MODEL_cancel", "IPY_MODEL_confirm", "IPY_MODEL_sym", "IPY_MODEL_qty"],
    ),  # fmt: skip
    "amend": _model("ButtonModel", description="Amend"),
    "cancel": _model("ButtonModel", description="Cancel"),
    "confirm": {"model_name": "ButtonModel", "state": {"description": "Confirm", "layout": "IPY_MODEL_hidden_lay"}},
    "sym": _model("DropdownModel", description="Symbol", _options_labels=["BTC/USDT", "ETH/USDT"], index=1),
    "qty": _model("TextModel", description="Qty", value="0.001"),
    "out": _model("OutputModel", outputs=[{"output_type": "stream", "name": "stdout", "text": "filled 0.003"}]),
}


def test_a_widget_renders_as_the_html_of_its_state() -> None:
    page = render_widget("box", MODELS)
    assert "kt-blotter" in page and "<b>Order 5 open</b>" in page
    assert ">Amend</button>" in page and ">Cancel</button>" in page
    assert "Confirm" not in page  # hidden (display: none) when the notebook finished
    assert "<option>ETH/USDT</option>" in page and 'value="0.001"' in page
    assert "filled 0.003" in page
    assert "not saved" in render_widget("gone", MODELS)


def _widget_notebook(tmp_path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("blotter")
    cell.outputs = [nbformat.v4.new_output("display_data", data={
        WIDGET_VIEW_MIME: {"model_id": "box", "version_major": 2, "version_minor": 0},
        "text/plain": "Blotter(children=(...))"})]  # fmt: skip
    nb.cells = [nbformat.v4.new_markdown_cell("# A report with $x^2$ in it"), cell]
    nb.metadata["widgets"] = {WIDGET_STATE_MIME: {"state": MODELS, "version_major": 2, "version_minor": 0}}
    path = tmp_path / "w.ipynb"
    nbformat.write(nb, path)
    return path


def test_a_report_with_widgets_loads_nothing_from_outside(tmp_path: Path) -> None:
    page = to_html(_widget_notebook(tmp_path), tmp_path / "w.html").read_text(encoding="utf-8")
    sources = re.findall(r"""<(?:script|link)[^>]+(?:src|href)=["']([^"']+)""", page)
    assert not [s for s in sources if "://" in s or s.startswith("//")], sources
    assert "cdn" not in page.lower() and "unpkg" not in page and "mathjax@" not in page.lower()
    assert "<b>Order 5 open</b>" in page and ">Amend</button>" in page
    assert WIDGET_STATE_MIME not in page  # the state was turned into HTML, not left for a widget manager


def test_inline_widget_state_counts_and_drops_the_state(tmp_path: Path) -> None:
    nb = nbformat.read(_widget_notebook(tmp_path), as_version=4)
    assert inline_widget_state(nb) == 1
    assert "widgets" not in nb.metadata
    data = nb.cells[1].outputs[0]["data"]
    assert WIDGET_VIEW_MIME not in data and "text/plain" not in data and "Order 5 open" in data["text/html"]


def test_numbers_and_plurals_read_as_people_read_them() -> None:
    assert [number(x) for x in (7.0, 1e-05, 200.0, 3.000000)] == ["7", "0.00001", "200", "3"]
    frame = pd.DataFrame({"fee": [1e-05], "status": [200.0]})
    with pd.option_context("display.float_format", number):
        text = frame.to_string()
    assert "e-05" not in text and "200.0" not in text and "0.00001" in text
    assert counted(1, "foreign order") == "1 foreign order" and counted(2, "warning") == "2 warnings"
    html = checklist([{"name": "a", "status": "warn"}]).data
    assert "1 warning." in html and "1 warnings" not in html


def test_one_time_parser(tmp_path: Path) -> None:
    now = "2024-06-03T09:30"
    assert when("-1d", now=now) == pd.Timestamp("2024-06-02T09:30", tz="UTC")
    assert when("yesterday", now=now) == period("yesterday", "today", now=now)[0]
    with pytest.raises(ConfigError, match="not a time"):
        when("yesterday-ish")


def test_the_failed_requests_check_the_failures_table_and_the_summary_agree(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite")
    log = RequestLog(tmp_path / "logs")
    log.write("GET", "http://127.0.0.1:1/api/v3/time", 200, weight=1, latency_ms=1.0, venue="localnet")
    log.write("DELETE", "http://127.0.0.1:1/api/v3/order", None, weight=1, latency_ms=2.0, error="OrderUnknown",
              venue="localnet")  # fmt: skip
    a = Activity(journal, *period("-1h", "+1min"))
    failed = next(c for c in a.health() if c.name == "Failed requests")
    table = a.failures()
    assert failed.ok is False and failed.detail == "1 of 2 requests failed"
    assert len(table) == 1 and table["what"].iloc[0] == "request failed: DELETE /api/v3/order"
    assert table["error"].iloc[0] == "OrderUnknown"
    assert str(a.requests()["status"].dtype) == "Int64"  # no answer is <NA>, never NaN next to 200.0
