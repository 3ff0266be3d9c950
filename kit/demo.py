"""The staged demo behind ``kit demo``.

For now it only writes an honest status page: which parts of the staged walk exist yet. The
walk itself (read-only queries, candles, testnet orders and a report, all against the offline
localnet exchange) replaces this body as those parts land. Standard library only.
"""

from __future__ import annotations

import html
import importlib.util
from datetime import UTC, datetime
from pathlib import Path

from kit import __version__

#: The stages of the walk, in order, with the modules each one needs.
STAGES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Offline exchange", "localnet on 127.0.0.1, over the pure fill engine", ("kit.engine", "kit.localnet")),
    ("read_only", "account and market queries; orders refused", ("kit.session", "kit.guard")),
    ("Research", "candles cached as Parquet under data/, replayed in-process", ("kit.store", "kit.engine")),
    ("testnet", "sandbox orders; positions from fills; events journaled", ("kit.session", "kit.journal")),
    ("live_small", "real orders under caps, only after journaled testnet fills", ("kit.guard",)),
    ("Report", "a notebook executed with papermill and rendered to HTML", ("kit.report",)),
)


def _present(module: str) -> bool:
    """Tell whether ``module`` exists in this installation, without importing it."""
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def _page() -> str:
    """Render the status page as HTML."""
    rows = []
    for name, what, modules in STAGES:
        found = [m for m in modules if _present(m)]
        status = "modules present, not yet in the demo" if len(found) == len(modules) else "planned"
        mods = ", ".join(f"<code>{html.escape(m)}</code>" for m in modules)
        rows.append(
            f"<tr><td>{html.escape(name)}</td><td>{html.escape(what)}</td><td>{mods}</td>"
            f"<td>{status}</td></tr>"
        )
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tradekit demo</title>
<style>body{{font-family:sans-serif;max-width:60rem;margin:2rem auto}}
td,th{{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}}table{{border-collapse:collapse}}</style>
</head><body>
<h1>Tradekit demo</h1>
<p>kit {html.escape(__version__)}, written {stamp}.</p>
<p><strong>The staged walk is not implemented yet.</strong> No exchange was contacted and no order
was placed. This page lists the stages the demo will walk and whether their modules exist.</p>
<table><tr><th>Stage</th><th>What it will do</th><th>Modules</th><th>Status</th></tr>
{chr(10).join(rows)}
</table>
</body></html>
"""


def run(out_dir: Path = Path("reports")) -> Path:
    """Write the demo report and print its path.

    Parameters
    ----------
    out_dir
        Folder for the report; created if missing.

    Returns
    -------
    Path
        The written ``demo.html``.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "demo.html"
    path.write_text(_page(), encoding="utf-8")
    print(f"Demo report written to {path}")
    return path
