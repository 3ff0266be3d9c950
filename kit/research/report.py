"""HTML reports of a backtest and of an optimisation: what ``kit backtest`` and ``kit optimize`` write.

>>> from kit.research.report import backtest_report                               # doctest: +SKIP
>>> backtest_report(result, "reports/backtest.html")                             # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from kit.research.core import Result
from kit.research.optimize import Optimization, WalkForward

__all__ = ["backtest_report", "optimize_report"]


def _write(path: str | Path, text: str) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)
    return out


def _stats(stats: pd.Series) -> pd.Series:
    return stats.map(lambda v: str(v) if isinstance(v, pd.Timestamp | pd.Timedelta) else v).rename("value")


def backtest_report(result: Result, path: str | Path) -> Path:
    """Write ``result``'s statistics, figure and round trips as one HTML page; returns its path."""
    from kit.views.research import html_page

    title = f"Backtest: {result.strategy} on {result.market.symbol}"
    params = pd.Series(result.params, name="value", dtype=object)
    parts: list[tuple[str, Any]] = [("Parameters", params), ("Statistics", _stats(result.stats)),
                                    ("Figure", result.plot()), ("Round trips", result.trades)]  # fmt: skip
    return _write(path, html_page(title, parts))


def optimize_report(opt: Optimization, path: str | Path, *, best: Result | None = None,
                    walk: WalkForward | None = None, title: str = "Optimisation") -> Path:  # fmt: skip
    """Write an optimisation's best parameters, heatmap (two or more parameters) and table as one HTML page."""
    from kit.views.research import html_page

    parts: list[tuple[str, Any]] = [("Best parameters", pd.Series(opt.best, name="value", dtype=object))]
    if len(opt.best_stats):
        parts.append((f"Best combination ({opt.maximize})", _stats(opt.best_stats)))
    if len(opt.params) >= 2 and opt.results["ok"].any():
        parts.append(("Heatmap", opt.heatmap(opt.params[0], opt.params[1])))
    if best is not None:
        parts.append(("Best combination, replayed", best.plot()))
    if walk is not None:
        parts += [("Walk-forward", walk.figure()), ("Walk-forward windows", walk.table)]
    shown = [*opt.params, opt.maximize, "Return [%]", "# Trades", "Max. Drawdown [%]", "ok"]
    table = opt.results[[c for c in dict.fromkeys(shown) if c in opt.results.columns]]
    parts.append(("Every combination", table.sort_values(opt.maximize, ascending=False, na_position="last")))
    if len(opt.failures):
        parts.append(("Failed combinations", opt.failures))
    return _write(path, html_page(title, parts))
