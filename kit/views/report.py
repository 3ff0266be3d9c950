"""Reports: notebooks executed with papermill and rendered to HTML without code, and what they show.

Running (the runner)::

    >>> from kit.views.report import run_report                                    # doctest: +SKIP
    >>> r = run_report("notebooks/reports/daily.ipynb", "reports", {"since": "yesterday", "until": "today"})
    ...                                                                      # doctest: +SKIP
    >>> r.html                                                               # doctest: +SKIP
    PosixPath('reports/daily.html')

Parameters are checked for secrets before anything runs (:func:`kit.safety.secrets.refuse_secret_params`):
keys come from the environment, never from parameters. A failing cell raises
:class:`~kit.errors.ReportFailed` with the cell's index and exception name; the partly executed
notebook stays on disk, papermill's error banner included. The HTML has no code cells; plotly
figures are rendered with plotly.js inline (one file that works offline), from a CDN, or from a
``plotly.min.js`` written next to it.

Showing (for the report notebooks): :func:`period` reads ``since`` / ``until`` parameters, and
:class:`Activity` turns the journal (and the request log) of a period into tables: orders, fills,
PnL, fees, rejected and failed requests, guard trips, clock and rate-limit health.
:func:`checklist` renders green/red marks with the fix for each red one.

>>> since, until = period("-12h", "2024-06-03T12:00")
>>> since.isoformat(), until.isoformat()
('2024-06-03T00:00:00+00:00', '2024-06-03T12:00:00+00:00')
"""

from __future__ import annotations

import html as _html
import json
import math
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pandas as pd

from kit.errors import ConfigError, ReportFailed
from kit.journal.journal import Journal
from kit.journal.state import base_quote, to_decimal
from kit.safety.secrets import refuse_secret_params
from kit.views.widget_html import inline_widget_state

__all__ = [
    "Activity",
    "Check",
    "ReportResult",
    "checklist",
    "counted",
    "notebook_parameters",
    "number",
    "period",
    "run_notebook",
    "run_report",
    "to_html",
    "when",
]

_PLOTLY_MIME = "application/vnd.plotly.v1+json"
_RELATIVE = re.compile(r"^([+-])\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]+)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86_400, "w": 604_800}

# ---------------------------------------------------------------------------------------------
# Periods


def _point(text: str, now: pd.Timestamp) -> pd.Timestamp:
    word = text.strip().lower()
    today = now.normalize()
    if word in ("", "now"):
        return now
    if word == "today":
        return today
    if word == "yesterday":
        return today - pd.Timedelta(days=1)
    m = _RELATIVE.match(word)
    if m:
        sign, number, unit = m.groups()
        if unit not in _UNIT_SECONDS:
            raise ConfigError(f"unknown time unit {unit!r} in {text!r}", hint="Use s, m/min, h, d or w, e.g. '-12h'.")
        delta = pd.Timedelta(seconds=float(number) * _UNIT_SECONDS[unit])
        return now + delta if sign == "+" else now - delta
    try:
        ts = pd.Timestamp(text)
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"{text!r} is not a time", hint="Use ISO (2024-06-03 or 2024-06-03T12:00), now, today, yesterday or -12h."
        ) from exc
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _now(now: Any) -> pd.Timestamp:
    if now is None:
        return pd.Timestamp.now(tz="UTC")
    if isinstance(now, int | float):
        return pd.Timestamp(int(now), unit="ms", tz="UTC")
    current = pd.Timestamp(now)
    return current.tz_localize("UTC") if current.tzinfo is None else current.tz_convert("UTC")


def when(text: str, *, now: Any = None) -> pd.Timestamp:
    """One point in time, read the way every ``kit`` command and report reads it (#17.8), in UTC.

    ISO time (UTC unless it has an offset), ``now``, ``today`` / ``yesterday`` (midnight UTC), or
    an offset from now such as ``-1d``, ``-12h``, ``-90min``.

    >>> when("yesterday", now="2024-06-03T09:30").isoformat(), when("-1d", now="2024-06-03T09:30").isoformat()
    ('2024-06-02T00:00:00+00:00', '2024-06-02T09:30:00+00:00')
    >>> when("2024-01-01").isoformat()
    '2024-01-01T00:00:00+00:00'
    """
    return _point(text, _now(now))


def period(since: str | None = "", until: str | None = "", *, now: Any = None) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Read a report period from ``since`` / ``until`` parameters, in UTC.

    Parameters
    ----------
    since
        Start: ISO time (UTC unless it has an offset), ``today`` / ``yesterday`` (midnight UTC),
        or an offset from ``until`` such as ``-12h``, ``-1d``, ``-90min``. Empty: ``until`` minus
        one day.
    until
        End: ISO time, ``now`` / empty, ``today``, ``yesterday``, or an offset from now (``-1h``).
    now
        The present (default: the wall clock); anything :class:`pandas.Timestamp` accepts, or ms.

    Returns
    -------
    tuple of pandas.Timestamp
        ``(since, until)``, tz-aware UTC.

    Raises
    ------
    kit.errors.ConfigError
        Unreadable times, or ``since`` not before ``until``.

    Examples
    --------
    >>> [t.isoformat() for t in period("yesterday", "today", now="2024-06-03T09:30")]
    ['2024-06-02T00:00:00+00:00', '2024-06-03T00:00:00+00:00']
    >>> [t.isoformat() for t in period("", "", now="2024-06-03T09:30")]
    ['2024-06-02T09:30:00+00:00', '2024-06-03T09:30:00+00:00']
    """
    current = _now(now)
    end = _point(until or "", current)
    text = (since or "").strip()
    start = end - pd.Timedelta(days=1) if not text else _point(text, end if _RELATIVE.match(text) else current)
    if start >= end:
        raise ConfigError(
            f"the period's start {start.isoformat()} is not before its end {end.isoformat()}",
            hint="Give since before until, e.g. since='yesterday' until='today'.",
        )
    return start, end


def notebook_parameters(namespace: Mapping[str, Any]) -> dict[str, Any]:
    """The plain-data variables of a notebook's namespace: its parameters, papermill's injected ones included.

    For :func:`kit.safety.secrets.refuse_secret_params` in the cell after the parameters cell, so a key
    passed as a parameter (under any name) stops the notebook before anything uses it.

    >>> notebook_parameters({"symbol": "BTC/USDT", "limit": 5, "_x": 1, "In": [""], "json": json})
    {'symbol': 'BTC/USDT', 'limit': 5}
    """
    plain = (str, int, float, bool, list, tuple, dict, type(None))
    skip = {"In", "Out", "exit", "quit", "get_ipython"}
    return {k: v for k, v in namespace.items() if not k.startswith("_") and k not in skip and isinstance(v, plain)}


# ---------------------------------------------------------------------------------------------
# Running notebooks


@dataclass(frozen=True)
class ReportResult:
    """The executed report notebook and its HTML."""

    ipynb: Path
    html: Path


def _check_parameters(parameters: Mapping[str, Any] | None) -> dict[str, Any]:
    params = dict(parameters or {})
    refuse_secret_params(params, "report parameters")
    return params


def run_notebook(
    notebook: str | Path,
    output: str | Path,
    parameters: Mapping[str, Any] | None = None,
    *,
    cwd: str | Path | None = None,
    kernel_name: str | None = None,
    timeout_s: float = 600,
) -> Path:
    """Execute ``notebook`` with papermill into ``output``, with ``parameters`` injected.

    Parameters
    ----------
    notebook, output
        Source notebook (with a cell tagged ``parameters``) and where the executed copy goes.
    parameters
        Injected after the ``parameters`` cell; refused if any looks like a credential.
    cwd
        Working directory of the kernel (default: the notebook's folder).
    kernel_name
        Jupyter kernel (default: the one in the notebook's metadata).
    timeout_s
        Longest a single cell may run.

    Returns
    -------
    pathlib.Path
        ``output``, executed.

    Raises
    ------
    kit.errors.ConfigError
        A parameter looks like a secret (nothing ran).
    kit.errors.ReportFailed
        A cell raised; ``output`` keeps everything executed up to it, and ``cell_index`` is the
        failing cell's index in that file.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    params = _check_parameters(parameters)
    src, out = Path(notebook), Path(output)
    if not src.is_file():
        raise ConfigError(f"notebook {src} does not exist", hint="Pass the path of an .ipynb file.")
    from kit.safety.private import private_file

    private_file(out)  # 0600 before papermill writes it (it keeps the mode), its folder 0700 if new
    sockets = tempfile.TemporaryDirectory(prefix="kit-kernel-")
    try:
        papermill.execute_notebook(
            str(src),
            str(out),
            parameters=params,
            kernel_name=kernel_name,
            cwd=str(cwd if cwd is not None else src.parent),
            progress_bar=False,
            log_output=False,
            execution_timeout=int(timeout_s),
            kernel_manager_class=_ipc_kernel_manager(Path(sockets.name)),
        )
    except PapermillExecutionError as exc:
        from kit.transport.logs import redact_text

        index = _error_cell(out, exc.cell_index)
        first = next((line for line in str(exc.source).splitlines() if line.strip()), "")[:80]
        raise ReportFailed(
            f"{src.name}: cell {index} (In [{exc.exec_count}]: {first!r}) raised {exc.ename}: "
            f"{redact_text(str(exc.evalue))[:300]}; partial output kept in {out}",
            cell_index=index,
            ename=exc.ename,
        ) from None
    finally:
        sockets.cleanup()
        if out.exists():
            private_file(out)  # papermill may have replaced the file: 0600 whatever happened
    return out


def _ipc_kernel_manager(folder: Path) -> type:
    """A kernel manager whose kernel talks over Unix sockets in ``folder`` (mode 0700), not TCP.

    A TCP kernel listens on 127.0.0.1 in plain text, and ipykernel 7 warns about it once per
    kernel ("Kernel is running over TCP without encryption": six times in ``make demo``, #17.8).
    """
    from jupyter_client.manager import KernelManager

    class IpcKernelManager(KernelManager):
        def __init__(self, **kwargs: Any) -> None:
            kwargs.setdefault("transport", "ipc")
            kwargs.setdefault("ip", str(folder / "kernel"))
            super().__init__(**kwargs)

    return IpcKernelManager


def _error_cell(path: Path, fallback: int) -> int:
    """Index of the first cell with an error output in the kept notebook (papermill adds banner cells)."""
    import nbformat

    try:
        nb = nbformat.read(str(path), as_version=4)
    except (OSError, ValueError):
        return fallback
    for i, cell in enumerate(nb.cells):
        if any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            return i
    return fallback


def _plotly_html(figure: Mapping[str, Any], div_id: str, script: str) -> str:
    import plotly.io as pio

    body = pio.to_html(dict(figure), include_plotlyjs=False, full_html=False, div_id=div_id, validate=False,
                       config={"displaylogo": False, "responsive": True})  # fmt: skip
    return script + body


def _render_figures(nb: Any, plotlyjs: str, html_path: Path) -> None:
    """Give every plotly output a ``text/html`` rendering (nbconvert ignores plotly's own mime type)."""
    from plotly.offline import get_plotlyjs

    count = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data") or {}
            if _PLOTLY_MIME not in data:
                continue
            script = ""
            if count == 0:
                if plotlyjs == "inline":
                    script = f'<script type="text/javascript">{get_plotlyjs()}</script>\n'
                elif plotlyjs == "cdn":
                    from plotly.offline import get_plotlyjs_version

                    script = f'<script src="https://cdn.plot.ly/plotly-{get_plotlyjs_version()}.min.js"></script>\n'
                else:
                    target = html_path.parent / "plotly.min.js"
                    if not target.exists():
                        target.write_text(get_plotlyjs(), encoding="utf-8")
                    script = '<script src="plotly.min.js"></script>\n'
            count += 1
            data["text/html"] = _plotly_html(data[_PLOTLY_MIME], f"kit-figure-{count}", script)


def to_html(
    notebook: str | Path, html_path: str | Path, *, exclude_input: bool = True, plotlyjs: str = "inline"
) -> Path:
    """Render an executed notebook to HTML with nbconvert.

    Parameters
    ----------
    notebook, html_path
        The executed ``.ipynb`` and the ``.html`` to write.
    exclude_input
        Leave code cells (and prompts) out: a report shows results only.
    plotlyjs
        ``"inline"`` (one self-contained file, about 5 MB), ``"cdn"``, or ``"directory"``
        (a ``plotly.min.js`` next to the HTML, shared by the pages in that folder).

    Returns
    -------
    pathlib.Path
        ``html_path``.
    """
    import nbformat
    from nbconvert import HTMLExporter

    if plotlyjs not in ("inline", "cdn", "directory"):
        raise ConfigError(f"plotlyjs={plotlyjs!r} is not one of inline, cdn, directory")
    from kit.safety.private import private_dir, write_private_text

    out = private_dir(Path(html_path).parent) / Path(html_path).name
    nb = nbformat.read(str(notebook), as_version=4)
    _render_figures(nb, plotlyjs, out)
    inline_widget_state(nb)  # widgets as the HTML of their last state: no widget manager to fetch (#17.1)
    exporter = HTMLExporter(template_name="lab")
    exporter.exclude_input = exclude_input
    exporter.exclude_input_prompt = exclude_input
    exporter.exclude_output_prompt = exclude_input
    # Every report opens offline: no URL outside the page is left in it (#17.1). Formulas show as
    # typed (no MathJax); a mermaid diagram would stay text.
    for name in ("require_js_url", "mathjax_url", "mermaid_js_url", "mermaid_layout_elk_js_url", "jquery_url",
                 "jupyter_widgets_base_url"):  # fmt: skip
        if exporter.has_trait(name):
            setattr(exporter, name, "")
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": Path(notebook).stem}})
    return write_private_text(out, body)  # a report holds account data: 0600


def run_report(
    notebook: str | Path,
    out_dir: str | Path,
    parameters: Mapping[str, Any] | None = None,
    *,
    name: str | None = None,
    cwd: str | Path | None = None,
    kernel_name: str | None = None,
    plotlyjs: str = "inline",
) -> ReportResult:
    """Execute a report notebook with papermill, then write its HTML without code cells.

    Parameters
    ----------
    notebook
        The report notebook (a ``parameters`` cell; e.g. ``notebooks/reports/daily.ipynb``).
    out_dir
        Folder for ``<name>.ipynb`` and ``<name>.html``.
    parameters
        Papermill parameters (``since``, ``until``, ``exchange``...); refused if any looks like a
        credential, before anything runs.
    name
        File name stem; default: the notebook's.
    cwd, kernel_name
        As for :func:`run_notebook`.
    plotlyjs
        As for :func:`to_html`.

    Returns
    -------
    ReportResult

    Raises
    ------
    kit.errors.ConfigError
        A parameter looks like a secret.
    kit.errors.ReportFailed
        A cell failed: ``cell_index`` and ``ename`` say which and how; the executed part is kept
        in ``<name>.ipynb`` and no HTML is written.
    """
    _check_parameters(parameters)
    folder = Path(out_dir)
    stem = name or Path(notebook).stem
    ipynb = run_notebook(notebook, folder / f"{stem}.ipynb", parameters, cwd=cwd, kernel_name=kernel_name)
    page = to_html(ipynb, folder / f"{stem}.html", exclude_input=True, plotlyjs=plotlyjs)
    return ReportResult(ipynb=ipynb, html=page)


# ---------------------------------------------------------------------------------------------
# Showing: numbers and words as people read them (#17.6)


def number(value: Any, places: int | None = None) -> str:
    """A number as people read it: no float noise, no exponent, no ``.0`` on a count; ``""`` for NaN/None.

    Set it as pandas' float format in a report (``pd.set_option("display.float_format", number)``)
    and every float column reads this way: counts ``7``, fees ``0.00001``, HTTP status ``200``.

    >>> number(7.0), number(1e-05), number(200.0), number(59949.99), number(float("nan")), number(None)
    ('7', '0.00001', '200', '59949.99', '', '')
    >>> number(Decimal("1.19950357"), 4), number(0.1 + 0.2), number(True)
    ('1.1995', '0.30000000000000004', 'True')
    """
    if value is None or isinstance(value, bool | str):
        return "" if value is None else str(value)
    try:
        d = Decimal(repr(float(value))) if isinstance(value, float) else Decimal(str(value))
    except (ArithmeticError, ValueError, TypeError):
        return str(value)
    if not d.is_finite():
        return ""
    if places is not None:
        d = d.quantize(Decimal(1).scaleb(-places))
    text = format(d, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and the noun in the right number: ``1 warning``, ``2 warnings``, ``0 foreign orders``.

    >>> counted(1, "warning"), counted(2, "warning"), counted(1, "foreign order"), counted(3, "entry", "entries")
    ('1 warning', '2 warnings', '1 foreign order', '3 entries')
    """
    return f"{n} {noun if n == 1 else (plural or noun + 's')}"


# ---------------------------------------------------------------------------------------------
# Showing: checklists


@dataclass(frozen=True)
class Check:
    """One line of a checklist: what was checked, whether it passed, what was found, how to fix it."""

    name: str
    ok: bool | None
    detail: str = ""
    fix: str = ""


_MARKS = {True: ("&#10004;", "#2e7d32"), False: ("&#10008;", "#c62828"), None: ("&#9888;", "#ef6c00")}


def _as_check(item: Any) -> Check:
    if isinstance(item, Check):
        return item
    if isinstance(item, Mapping):
        get = item.get
    else:

        def get(key: str, default: Any = None) -> Any:
            return getattr(item, key, default)

    ok = get("ok")
    if ok is None and get("status") is not None:
        status = str(get("status")).lower()
        ok = True if status in ("ok", "pass", "passed", "green") else None if status in ("warn", "warning") else False
    name = get("name") or get("title") or get("check") or "?"
    return Check(str(name), ok, str(get("detail") or get("message") or ""), str(get("fix") or get("hint") or ""))


def checklist(items: Iterable[Any], *, title: str | None = None) -> Any:
    """An HTML checklist: a green tick, a red cross (with its fix) or an orange warning per item.

    Parameters
    ----------
    items
        :class:`Check` objects, or anything with ``name``, ``ok`` (or ``status``), ``detail`` and
        ``fix`` (or ``hint``) as attributes or keys.
    title
        Optional heading.

    Returns
    -------
    IPython.display.HTML
        Also readable as text (``.data``).
    """
    from IPython.display import HTML

    checks = [_as_check(i) for i in items]
    rows = []
    for c in checks:
        mark, color = _MARKS[c.ok]
        fix = f'<div style="color:#c62828">Fix: {_html.escape(c.fix)}</div>' if c.fix and c.ok is not True else ""
        rows.append(
            f'<tr><td style="color:{color};font-size:1.2em;text-align:center">{mark}</td>'
            f"<td><b>{_html.escape(c.name)}</b></td><td>{_html.escape(c.detail)}{fix}</td></tr>"
        )
    passed = sum(1 for c in checks if c.ok is True)
    failed = sum(1 for c in checks if c.ok is False)
    head = f"<h4>{_html.escape(title)}</h4>" if title else ""
    summary = f"<p>{passed} passed, {failed} failed, {counted(len(checks) - passed - failed, 'warning')}.</p>"
    table = (
        '<table style="border-collapse:collapse"><tr><th></th><th style="text-align:left">Check</th>'
        '<th style="text-align:left">Result</th></tr>' + "".join(rows) + "</table>"
    )
    return HTML(head + summary + table)


# ---------------------------------------------------------------------------------------------
# Showing: a period of journaled activity


def _f(value: Any) -> float:
    d = to_decimal(value) if not isinstance(value, float) else value
    return float(d) if d is not None else math.nan


class Activity:
    """What the journal (and the request log) says about a period, as tables for a report.

    Parameters
    ----------
    journal
        The journal (default: ``$KIT_HOME/journal.sqlite``).
    since, until
        The period (see :func:`period`); events with ``since <= time <= until`` count.
    venue
        Only this journal venue (``"localnet"``, ``"binance"``...); default all.
    log_dir
        Folder of the request log (default: ``logs`` next to the journal).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> j = Journal(pathlib.Path(tempfile.mkdtemp()) / "journal.sqlite")
    >>> _ = j.record_fill(venue="localnet", account="default", stage="testnet", symbol="BTC/USDT", client_id="c",
    ...                   order_id="1", trade_id="1", side="buy", price="100", amount="1", fee_cost="0.001",
    ...                   fee_currency="BTC", ts_ms=1_717_400_000_000)
    >>> a = Activity(j, *period("2024-06-03", "2024-06-04"))
    >>> float(a.pnl({"BTC/USDT": Decimal("110")}).loc["BTC/USDT", "pnl"])  # 110 - 100 - fee 0.001 BTC at 100
    9.9
    """

    def __init__(
        self,
        journal: Journal | str | Path | None,
        since: pd.Timestamp,
        until: pd.Timestamp,
        *,
        venue: str | None = None,
        log_dir: str | Path | None = None,
    ) -> None:
        self.journal = journal if isinstance(journal, Journal) else Journal(journal or Journal.default_path())
        self.since, self.until, self.venue = since, until, venue
        self.log_dir = Path(log_dir) if log_dir is not None else Path(self.journal.path).parent / "logs"

    def frame(self, kind: str) -> pd.DataFrame:
        """Journal events of one kind in the period (:meth:`kit.journal.journal.Journal.frame`)."""
        return self.journal.frame(kind, since=self.since, until=self.until, venue=self.venue)

    # -- orders and fills ------------------------------------------------------------------------
    def orders(self) -> pd.DataFrame:
        """One row per order sent in the period (by client id), with its state at the period's end."""
        states = self.journal.order_states(venue=self.venue, at_ms=self.until)
        intents = self.frame("intent")
        rows = []
        for time, ev in intents.iterrows():
            st = states.get(str(ev["client_id"]))
            rows.append({
                "time": time, "symbol": ev["symbol"], "side": ev.get("side"), "type": ev.get("type"),
                "amount": _f(ev.get("amount")), "price": _f(ev.get("price")),
                "status": st.status if st else "intent", "filled": _f(st.filled) if st else 0.0,
                "average": _f(st.average) if st and st.average is not None else math.nan,
                "order_id": st.order_id if st else "", "stage": ev["stage"],
            })  # fmt: skip
        cols = ["symbol", "side", "type", "amount", "price", "status", "filled", "average", "order_id", "stage"]
        if not rows:
            return pd.DataFrame(columns=cols, index=pd.DatetimeIndex([], tz="UTC", name="time"))
        return pd.DataFrame(rows).set_index("time")[cols]

    def fills(self) -> pd.DataFrame:
        """Fills in the period: symbol, side, price, amount, quote cost, fee, fee currency, stage."""
        f = self.frame("fill")
        cols = ["symbol", "side", "price", "amount", "cost", "fee", "fee_currency", "stage", "order_id"]
        if f.empty:
            return pd.DataFrame(columns=cols, index=pd.DatetimeIndex([], tz="UTC", name="time"))
        out = pd.DataFrame(index=f.index)
        out["symbol"], out["side"] = f["symbol"], f["side"]
        out["price"] = [_f(v) for v in f["price"]]
        out["amount"] = [_f(v) for v in f["amount"]]
        out["cost"] = [_f(Decimal(str(p)) * Decimal(str(a))) for p, a in zip(f["price"], f["amount"], strict=True)]
        out["fee"] = [_f(v) for v in f["fee_cost"]]
        out["fee_currency"], out["stage"], out["order_id"] = f["fee_currency"], f["stage"], f["order_id"]
        return out[cols]

    def last_prices(self) -> dict[str, Decimal]:
        """The last journaled fill price per symbol up to the period's end (a fallback for marking)."""
        prices: dict[str, Decimal] = {}
        for f in self.journal.fills(until_ms=self.until, venue=self.venue):
            prices[f.symbol] = f.price
        return prices

    @staticmethod
    def _to_quote(amount: Decimal, currency: str, quote: str, prices: Mapping[str, Decimal]) -> Decimal | None:
        if currency in ("", quote):
            return amount
        direct = prices.get(f"{currency}/{quote}")
        if direct is not None:
            return amount * direct
        inverse = prices.get(f"{quote}/{currency}")
        return amount / inverse if inverse else None

    def pnl(self, prices: Mapping[str, Decimal]) -> pd.DataFrame:
        """PnL per symbol over the period: cash flow of the fills, plus the net amount marked at ``prices``.

        ``pnl = sold - bought - fees + net x mark``, in the quote currency (fees paid in another
        currency are converted at ``prices``). Columns: bought, sold, net, fees, mark, pnl.
        """
        rows: dict[str, dict[str, Decimal]] = {}
        for f in self.journal.fills(since_ms=self.since, until_ms=self.until, venue=self.venue):
            base, quote = base_quote(f.symbol)
            r = rows.setdefault(f.symbol, {"bought": Decimal(0), "sold": Decimal(0), "net": Decimal(0),
                                           "fees": Decimal(0)})  # fmt: skip
            if f.side == "buy":
                r["bought"] += f.cost
                r["net"] += f.amount
            else:
                r["sold"] += f.cost
                r["net"] -= f.amount
            fee = self._to_quote(f.fee_cost, f.fee_currency, quote, {**prices, f.symbol: f.price})
            r["fees"] += fee if fee is not None else Decimal(0)
        out = []
        for sym, r in sorted(rows.items()):
            mark = prices.get(sym)
            value = r["net"] * mark if mark is not None else Decimal(0)
            out.append({"symbol": sym, "bought": _f(r["bought"]), "sold": _f(r["sold"]), "net": _f(r["net"]),
                        "fees": _f(r["fees"]), "mark": _f(mark),
                        "pnl": _f(r["sold"] - r["bought"] - r["fees"] + value)})  # fmt: skip
        cols = ["bought", "sold", "net", "fees", "mark", "pnl"]
        return pd.DataFrame(out, columns=["symbol", *cols]).set_index("symbol").round(8)

    def fees(self, prices: Mapping[str, Decimal], quote: str = "USDT") -> pd.DataFrame:
        """Fees paid per currency, and their value in ``quote``."""
        totals: dict[str, Decimal] = {}
        for f in self.journal.fills(since_ms=self.since, until_ms=self.until, venue=self.venue):
            if f.fee_cost:
                totals[f.fee_currency] = totals.get(f.fee_currency, Decimal(0)) + f.fee_cost
        rows = []
        for cur, amount in sorted(totals.items()):
            value = self._to_quote(amount, cur, quote, prices)
            rows.append({"currency": cur, "paid": _f(amount), f"in {quote}": _f(value)})
        return pd.DataFrame(rows, columns=["currency", "paid", f"in {quote}"]).set_index("currency").round(8)

    def account_value(
        self, prices: Mapping[str, Decimal], quote: str = "USDT", *, balances: Mapping[str, Any] | None = None
    ) -> pd.DataFrame:
        """Balances and their value in ``quote``: given ``balances`` (e.g. from the exchange), else the journal's.

        The journal's balances at the period's end are its last balance snapshot plus the fills
        after it; without any snapshot they are only the net change from fills (see
        :meth:`has_balance_snapshot`).
        """
        if balances is None:
            balances = self.journal.state_at(self.until, venue=self.venue).balances
        rows = []
        for asset, raw in sorted(balances.items()):
            amount = to_decimal(raw) or Decimal(0)
            if not amount:
                continue
            value = self._to_quote(amount, asset, quote, prices)
            rows.append({"asset": asset, "amount": _f(amount), f"value ({quote})": _f(value)})
        frame = pd.DataFrame(rows, columns=["asset", "amount", f"value ({quote})"]).set_index("asset")
        return frame.round(8)

    def has_balance_snapshot(self) -> bool:
        """True if the journal has a balance snapshot at or before the period's end."""
        return bool(self.journal.events(until_ms=self.until, kinds=["balance"], venue=self.venue))

    # -- what went wrong -------------------------------------------------------------------------
    def failed_requests(self) -> pd.DataFrame:
        """Requests of the period that failed (from the request log): the rows :meth:`requests` has an error for."""
        req = self.requests()
        return req[req["error"].notna()] if not req.empty else req

    def failures(self) -> pd.DataFrame:
        """Rejected orders and failed requests: time, kind, symbol, operation or order, error class, message.

        Failed requests come from the request log, the same rows the "Failed requests" health check
        counts (#17.3), with the journal's error message where it has one; without a request log
        they come from the journal's ``error`` events alone.
        """
        rows = []
        resolved = self.frame("resolved")
        for time, ev in resolved.iterrows():
            if ev.get("status") in ("rejected", "not_placed"):
                rows.append({"time": time, "what": f"order {ev.get('status')}", "symbol": ev["symbol"],
                             "error": ev.get("how", ""), "message": str(ev.get("message", ""))[:160]})  # fmt: skip
        errors = self.frame("error")
        failed = self.failed_requests()
        messages = {str(ev.get("error_class", "")): str(ev.get("message", ""))[:160] for _, ev in errors.iterrows()}
        for time, r in failed.iterrows():
            status = "" if pd.isna(r["status"]) else f" (HTTP {int(r['status'])})"
            rows.append({"time": time, "what": f"request failed: {r['method']} {r['path']}{status}", "symbol": "",
                         "error": str(r["error"]), "message": messages.get(str(r["error"]), "")})  # fmt: skip
        for time, ev in errors.iterrows() if failed.empty else ():
            rows.append({"time": time, "what": f"request failed: {ev.get('op', '')}", "symbol": ev["symbol"],
                         "error": ev.get("error_class", ""), "message": str(ev.get("message", ""))[:160]})  # fmt: skip
        cols = ["what", "symbol", "error", "message"]
        if not rows:
            return pd.DataFrame(columns=cols, index=pd.DatetimeIndex([], tz="UTC", name="time"))
        return pd.DataFrame(rows).set_index("time").sort_index()[cols]

    def guard_trips(self) -> pd.DataFrame:
        """Guard refusals and kill-switch stops in the period: venue, stage, symbol, rule, reason (gates included).

        The venue column keeps apart what happened on a real exchange, its testnet, localnet and a
        rehearsal venue (``rehearsal``, ``rehearsal-testnet``: offline, no real money).
        """
        cols = ["venue", "stage", "symbol", "rule", "reason"]
        parts = []
        g = self.frame("guard")
        if not g.empty and "decision" in g.columns:
            refused = g[g["decision"] == "refuse"].copy()
            refused["reason"] = refused["detail"].astype(str).str.slice(0, 160) if "detail" in refused else ""
            parts.append(refused[cols])
        k = self.frame("killswitch")
        if not k.empty:
            k = k.copy()
            k["rule"] = "kill switch"
            k["reason"] = k["reason"].astype(str).str.slice(0, 160) if "reason" in k else ""
            parts.append(k[cols])
        if not parts:
            return pd.DataFrame(columns=cols, index=pd.DatetimeIndex([], tz="UTC", name="time"))
        return pd.concat(parts).sort_index()

    # -- health ----------------------------------------------------------------------------------
    def clock(self) -> pd.DataFrame:
        """Clock checks in the period: offset and round trip in ms, per venue."""
        c = self.frame("clock")
        if c.empty:
            return pd.DataFrame(columns=["venue", "offset_ms", "rtt_ms"], index=pd.DatetimeIndex([], tz="UTC"))
        return c[["venue", "offset_ms", "rtt_ms"]]

    def preflight(self) -> pd.DataFrame:
        """Key checks in the period: verdict, permissions, IP restriction, key age (days), what the warnings say."""
        p = self.frame("preflight")
        cols = ["venue", "stage", "verdict", "permissions", "ip_restricted", "key_age_days", "warnings"]
        if p.empty:
            return pd.DataFrame(columns=cols, index=pd.DatetimeIndex([], tz="UTC", name="time"))
        for col in cols:
            if col not in p.columns:
                p[col] = None
        out = p[cols].copy()
        out["permissions"] = [", ".join(sorted(k for k, v in (x or {}).items() if v)) if isinstance(x, Mapping)
                              else str(x) for x in out["permissions"]]  # fmt: skip
        out["warnings"] = ["; ".join(str(w) for w in x)[:300] if isinstance(x, Sequence) and not isinstance(x, str)
                           else ("" if x is None else str(x)) for x in out["warnings"]]  # fmt: skip
        out["key_age_days"] = [
            int(x) if isinstance(x, int | float) and not math.isnan(x) else x for x in out["key_age_days"]
        ]
        return out

    def requests(self) -> pd.DataFrame:
        """Requests sent in the period (from the request log): time, method, path, status, weight, latency, error."""
        files = sorted(self.log_dir.glob("requests.jsonl*"), reverse=True) if self.log_dir.is_dir() else []
        lo, hi = int(self.since.value // 1_000_000), int(self.until.value // 1_000_000)
        rows = []
        for path in files:
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                try:
                    r = json.loads(line)
                except ValueError:
                    continue
                ts = r.get("ts_ms")
                if isinstance(ts, int) and lo <= ts <= hi and (self.venue is None or r.get("venue") == self.venue):
                    rows.append(r)
        cols = ["method", "path", "status", "weight", "latency_ms", "error"]
        if not rows:
            return pd.DataFrame(columns=cols, index=pd.DatetimeIndex([], tz="UTC", name="time"))
        frame = pd.DataFrame(rows)
        for col in cols:
            if col not in frame.columns:
                frame[col] = None
        frame["path"] = [urlsplit(str(u)).path for u in frame.get("url", frame["path"])]
        frame.index = pd.DatetimeIndex(pd.to_datetime(frame["ts_ms"].astype("int64"), unit="ms", utc=True), name="time")
        frame["status"] = frame["status"].astype("Int64")  # no answer is <NA>, never 200.0 / NaN
        return frame.sort_index()[cols]

    def health(self, *, clock_warn_ms: int = 250) -> list[Check]:
        """Clock and rate-limit health as checklist items (for :func:`checklist`)."""
        checks: list[Check] = []
        c = self.clock()
        if c.empty:
            checks.append(Check("Clock", None, "no clock check in the period", "Open a Session: it measures it."))
        else:
            worst = int(c["offset_ms"].abs().max())
            ok = worst <= clock_warn_ms
            checks.append(Check("Clock", ok, f"{len(c)} checks, largest offset within {clock_warn_ms} ms: "
                                f"{'yes' if ok else 'no'}", "Sync the system clock (NTP/chrony)."))  # fmt: skip
        req = self.requests()
        limited = int(req["status"].isin([429, 418]).sum()) if not req.empty else 0
        failed = len(self.failed_requests())
        checks.append(Check("Rate limits", limited == 0, f"{counted(len(req), 'request')}, {limited} answered 429/418",
                            "Slow down: cache candles in the store, prefer streams to polling."))  # fmt: skip
        checks.append(Check("Failed requests", failed == 0, f"{failed} of {counted(len(req), 'request')} failed",
                            "See the failures table; persistent errors say what to do."))  # fmt: skip
        trips = self.guard_trips()
        checks.append(Check("Guard trips", trips.empty, f"{counted(len(trips), 'refusal')} by the guard",
                            "Review them: a cap or the kill switch stopped an order before it was sent."))  # fmt: skip
        checks += self.attestations()
        checks += self.run_checks()
        return checks

    def runs(self) -> pd.DataFrame:
        """Strategy runs (:mod:`kit.run`) active in the period, one row each: last state, reason, counts."""
        ev = self.frame("run")
        cols = ["run", "state", "reason", "starts", "decisions", "sent"]
        if ev.empty or "run" not in ev.columns:
            return pd.DataFrame(columns=cols).set_index("run")
        rows = []
        for name, g in ev.groupby("run", sort=True):
            last = g.iloc[-1]
            starts = int(g["state"].isin(["started", "resumed"]).sum())
            rows.append({"run": name, "state": last["state"], "reason": last.get("reason") or "", "starts": starts,
                         "decisions": last.get("decisions"), "sent": last.get("sent")})  # fmt: skip
        return pd.DataFrame(rows, columns=cols).set_index("run")

    def run_checks(self) -> list[Check]:
        """One checklist line per strategy run: red if it failed or the kill switch stopped it."""
        out = []
        for name, r in self.runs().iterrows():
            ok = r["state"] not in ("failed", "killed")
            text = f"{name}: {r['state']}" + (f" ({r['reason']})" if r["reason"] else "")
            if r["starts"] > 1:
                text += f", restarted {r['starts'] - 1}x"
            out.append(Check("Strategy run", ok, text, "See the run's journal (kind 'run'); fix the strategy, then "
                             "restart it with the same --name to resume."))  # fmt: skip
        return out

    def attestations(self) -> list[Check]:
        """One line per key attested (venues that do not tell a key's permissions), as of the period's end."""
        from kit.session.permissions.attest import latest

        end = int(self.until.value // 1_000_000)
        out = []
        for a in latest(self.journal, self.venue):
            if a.attested_ms > end:
                continue
            ok = a.valid_at(end)
            fix = "Attest again with `kit attest` if it still holds, or use a key the kit can check."
            out.append(Check("Key attestation", ok, a.describe() + ("" if ok else " (no longer in force)"), fix))
        return out
