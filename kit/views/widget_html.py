"""Widgets in a static HTML report: their saved state rendered as plain HTML, no widget manager.

A notebook executed by papermill keeps every widget's last state in its metadata
(``application/vnd.jupyter.widget-state+json``); nbconvert would render it with a widget
manager fetched from a CDN at view time (require.js and ``@jupyter-widgets/html-manager``), so a
report opened offline showed empty boxes (#17.1). :func:`inline_widget_state` turns every
widget output into ``text/html`` built from that state instead (an HTML widget's value, a box's
children, a button's caption, an input's value, an Output widget's outputs) and removes the
state, so the page loads nothing and shows what the widget showed when the notebook finished.
Pure dict work: no ipywidgets import.

>>> state = {"a": {"model_name": "HTMLModel", "state": {"value": "<b>open</b>", "layout": "IPY_MODEL_l"}},
...          "l": {"model_name": "LayoutModel", "state": {}}}
>>> render_widget("a", state)
'<div class="kt-static-widget widget-html"><b>open</b></div>'
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

__all__ = ["WIDGET_STATE_MIME", "WIDGET_VIEW_MIME", "inline_widget_state", "render_widget"]

WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE_MIME = "application/vnd.jupyter.widget-state+json"
_REF = "IPY_MODEL_"
_BOXES = {"BoxModel", "VBoxModel", "HBoxModel", "GridBoxModel", "AccordionModel", "TabModel", "StackModel"}
_CHOICES = {"DropdownModel", "SelectModel", "RadioButtonsModel", "ToggleButtonsModel", "SelectionSliderModel"}
_TEXTS = {"TextModel", "TextareaModel", "PasswordModel", "ComboboxModel", "FloatTextModel", "IntTextModel",
          "BoundedFloatTextModel", "BoundedIntTextModel", "FloatSliderModel", "IntSliderModel",
          "DatePickerModel"}  # fmt: skip
_MAX_DEPTH = 30


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _model(ref: Any) -> str:
    text = str(ref)
    return text[len(_REF) :] if text.startswith(_REF) else text


def _hidden(state: Mapping[str, Any], models: Mapping[str, Any]) -> bool:
    layout = models.get(_model(state.get("layout", "")), {}).get("state", {})
    return layout.get("display") == "none" or layout.get("visibility") == "hidden"


def _classes(state: Mapping[str, Any], base: str) -> str:
    extra = [c for c in state.get("_dom_classes", ()) if isinstance(c, str)]
    return " ".join(["kt-static-widget", base, *extra])


def _label(state: Mapping[str, Any]) -> str:
    text = state.get("description") or ""
    return f'<span class="kt-static-label" style="margin-right:6px">{_esc(text)}</span>' if text else ""


def _output_html(output: Mapping[str, Any], models: Mapping[str, Any], depth: int) -> str:
    """One notebook output (of an Output widget) as HTML."""
    kind = output.get("output_type")
    if kind == "stream":
        return f'<pre style="margin:0">{_esc(output.get("text", ""))}</pre>'
    if kind == "error":
        text = f"{output.get('ename', '')}: {output.get('evalue', '')}"
        return f'<pre style="margin:0;color:#c62828">{_esc(text)}</pre>'
    data = output.get("data") or {}
    if WIDGET_VIEW_MIME in data:
        return render_widget(str(data[WIDGET_VIEW_MIME].get("model_id", "")), models, depth=depth + 1)
    if "text/html" in data:
        value = data["text/html"]
        return "".join(value) if isinstance(value, list) else str(value)
    if "image/png" in data:
        return f'<img src="data:image/png;base64,{_esc(str(data["image/png"]).strip())}">'
    if "text/plain" in data:
        value = data["text/plain"]
        return f'<pre style="margin:0">{_esc("".join(value) if isinstance(value, list) else value)}</pre>'
    return ""


def render_widget(model_id: str, models: Mapping[str, Any], *, depth: int = 0) -> str:
    """The HTML of widget ``model_id`` as its saved state shows it (children included).

    Parameters
    ----------
    model_id
        The widget's model id (as in a widget-view output).
    models
        Model id -> ``{"model_name": ..., "state": {...}}``: the ``state`` of the notebook's
        widget-state metadata.
    depth
        Nesting level (a guard against reference cycles).

    Returns
    -------
    str
        HTML; empty for a hidden widget, a note for one whose state was not saved.
    """
    entry = models.get(model_id)
    if entry is None or depth > _MAX_DEPTH:
        return '<div class="kt-static-widget kt-widget-missing"><em>(widget state not saved)</em></div>'
    name = str(entry.get("model_name", ""))
    state = entry.get("state") or {}
    if _hidden(state, models):
        return ""
    if name in _BOXES:
        row = name in ("HBoxModel",)
        style = "display:flex;flex-wrap:wrap;gap:8px;align-items:flex-start" if row else "display:block"
        titles = state.get("titles") or []
        parts = []
        for i, child in enumerate(state.get("children", [])):
            title = titles[i] if i < len(titles) and titles[i] else ""
            head = f'<div style="font-weight:bold">{_esc(title)}</div>' if title else ""
            parts.append(f"<div>{head}{render_widget(_model(child), models, depth=depth + 1)}</div>")
        return f'<div class="{_esc(_classes(state, "widget-box"))}" style="{style}">{"".join(parts)}</div>'
    if name in ("HTMLModel", "HTMLMathModel"):
        return f'<div class="{_esc(_classes(state, "widget-html"))}">{_label(state)}{state.get("value", "")}</div>'
    if name == "LabelModel":
        return f'<span class="{_esc(_classes(state, "widget-label"))}">{_esc(state.get("value", ""))}</span>'
    if name == "ButtonModel":
        text = state.get("description") or state.get("tooltip") or ""
        return (f'<button class="{_esc(_classes(state, "widget-button"))}" disabled '
                f'style="margin:2px 4px 2px 0">{_esc(text)}</button>')  # fmt: skip
    if name in _CHOICES:
        labels = list(state.get("_options_labels") or [])
        index = state.get("index")
        chosen = labels[index] if isinstance(index, int) and 0 <= index < len(labels) else ""
        return (f'<span class="{_esc(_classes(state, "widget-dropdown"))}">{_label(state)}'
                f'<select disabled><option>{_esc(chosen)}</option></select></span>')  # fmt: skip
    if name in ("CheckboxModel", "ToggleButtonModel"):
        checked = " checked" if state.get("value") else ""
        return (f'<span class="{_esc(_classes(state, "widget-checkbox"))}"><input type="checkbox" disabled{checked}>'
                f"{_label(state)}</span>")  # fmt: skip
    if name in _TEXTS:
        value = state.get("value")
        shown = "" if value is None else value
        return (f'<span class="{_esc(_classes(state, "widget-text"))}">{_label(state)}'
                f'<input type="text" disabled value="{_esc(shown)}"></span>')  # fmt: skip
    if name == "OutputModel":
        inner = "".join(_output_html(o, models, depth) for o in state.get("outputs", []))
        return f'<div class="{_esc(_classes(state, "widget-output"))}">{inner}</div>'
    if name.endswith(("LayoutModel", "StyleModel")):
        return ""
    return f'<div class="kt-static-widget"><em>({_esc(name or "widget")})</em></div>'


def inline_widget_state(nb: Any) -> int:
    """Replace every widget output of ``nb`` with static HTML from its saved state; drop the state.

    Parameters
    ----------
    nb
        An executed notebook (``nbformat.NotebookNode``), changed in place.

    Returns
    -------
    int
        How many widget outputs were rendered.
    """
    widgets = nb.metadata.get("widgets") or {}
    models = (widgets.get(WIDGET_STATE_MIME) or {}).get("state") or {}
    count = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data") or {}
            view = data.pop(WIDGET_VIEW_MIME, None)
            if view is None:
                continue
            data["text/html"] = render_widget(str(view.get("model_id", "")), models)
            data.pop("text/plain", None)  # the widget's repr ("VBox(children=...)") is not for readers
            count += 1
    nb.metadata.pop("widgets", None)
    return count
