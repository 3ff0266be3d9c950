"""Small HTML helpers shared by the widgets (escaping, colours, number formatting)."""

from __future__ import annotations

import html
from decimal import Decimal
from typing import Any

GREEN, ORANGE, RED, BLUE, GREY = "#2e7d32", "#e65100", "#c62828", "#1565c0", "#616161"


def esc(value: Any) -> str:
    """HTML-escaped ``str(value)``."""
    return html.escape(str(value), quote=True)


def num(value: Any, places: int | None = None) -> str:
    """A number without float noise or exponent: Decimals as given, floats via ``repr``; ``-`` for None/NaN.

    >>> import numpy as np
    >>> num(np.float64(1e-05)), num(Decimal("60000.50")), num(2.5, 2), num(float("nan")), num(None)
    ('0.00001', '60000.5', '2.50', '-', '-')
    """
    if value is None:
        return "-"
    try:
        d = Decimal(repr(float(value))) if isinstance(value, float) else Decimal(str(value))
    except ArithmeticError:
        return esc(value)
    if not d.is_finite():
        return "-"
    if places is not None:
        d = d.quantize(Decimal(1).scaleb(-places))
    text = format(d, "f")
    if "." in text and places is None:
        text = text.rstrip("0").rstrip(".")
    return text


def sig(value: Any, digits: int = 4) -> str:
    """A number rounded to ``digits`` significant digits, e.g. a fee estimate.

    >>> sig(Decimal("0.06000051")), sig(Decimal("1234.5678"), 6), sig(0)
    ('0.06', '1234.57', '0')
    """
    d = Decimal(repr(float(value))) if isinstance(value, float) else Decimal(str(value))
    if not d.is_finite():
        return "-"
    if d == 0:
        return "0"
    step = Decimal(1).scaleb(min(0, d.adjusted() - digits + 1))
    return num(d.quantize(step))


def chip(text: str, color: str, *, cls: str = "", title: str = "") -> str:
    """A coloured label (inline-styled, so it renders the same in JupyterLab and static HTML)."""
    attrs = f' class="{esc(cls)}"' if cls else ""
    attrs += f' title="{esc(title)}"' if title else ""
    return (
        f'<span{attrs} style="display:inline-block;padding:1px 8px;margin:0 4px 2px 0;border-radius:10px;'
        f'color:white;background:{color};font-size:12px;white-space:nowrap">{esc(text)}</span>'
    )


def colored(text: str, color: str, *, cls: str = "") -> str:
    """Text in a colour, escaped."""
    attrs = f' class="{esc(cls)}"' if cls else ""
    return f'<span{attrs} style="color:{color}">{esc(text)}</span>'
