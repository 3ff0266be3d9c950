"""``kit candles``: fetch, list and verify stored candles (a thin click layer over :class:`~kit.store.Store`).

Times on the command line are UTC: ``--since 2024-01-01`` means 2024-01-01 00:00 UTC (an explicit
offset such as ``2024-01-01T00:00+02:00`` is honoured). The main ``kit`` group attaches this one;
it maps a :class:`~kit.errors.KitError` to one line and exit code 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

__all__ = ["candles"]

_ROOT = click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("data"),
    show_default=True,
    help="Store directory.",
)


def _utc(text: str | None) -> Any:
    if text is None:
        return None
    import pandas as pd

    from kit.errors import ConfigError

    try:
        ts = pd.Timestamp(text)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{text!r} is not a time", hint="Use ISO form, e.g. 2024-01-01 or 2024-01-01T12:00.") from exc
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts


@click.group("candles")
def candles() -> None:
    """Candle store: fetch candles into data/, list and verify what is stored."""


@candles.command("fetch")
@click.argument("symbol")
@click.argument("timeframe")
@click.option("--since", required=True, help="First candle open time (UTC), e.g. 2024-01-01.")
@click.option("--until", default=None, help="End, exclusive (UTC); default: the last closed candle.")
@click.option("--venue", default="localnet", show_default=True, help="Exchange (as for kit.Session).")
@_ROOT
@click.option("--progress/--no-progress", default=True, show_default=True)
@click.pass_context
def fetch(
    ctx: click.Context,
    symbol: str,
    timeframe: str,
    since: str,
    until: str | None,
    venue: str,
    root: Path,
    progress: bool,
) -> None:
    """Fetch SYMBOL TIMEFRAME candles into the store (only what is not stored yet)."""
    from kit.store import Store

    source = (ctx.obj or {}).get("candle_source")  # tests inject one; users go through a Session
    session = None
    if source is None:
        from kit.session import Session

        session = Session(venue, stage="read_only")
        source = session.candle_source()
    try:
        store = Store(root, source=source)
        frame = store.candles(symbol, timeframe, _utc(since), _utc(until), progress=progress, fill="drop")
        cov = store.coverage(symbol, timeframe, start=_utc(since), end=_utc(until) if until else None)
    finally:
        if session is not None:
            session.close()
    counts = cov.groupby("status").size().to_dict() if len(cov) else {}
    click.echo(
        f"{symbol} {timeframe} on {source.venue}: {len(frame)} candles in range; spans "
        + ", ".join(f"{k}={v}" for k, v in sorted(counts.items()))
    )


@candles.command("ls")
@_ROOT
def ls(root: Path) -> None:
    """List stored series."""
    from kit.store import Store

    frame = Store(root).ls()
    if frame.empty:
        click.echo(f"nothing stored under {root}")
        return
    click.echo(frame.to_string(index=False))


@candles.command("verify")
@click.argument("symbol", required=False)
@click.argument("timeframe", required=False)
@click.option("--venue", default=None, help="Only this venue.")
@_ROOT
def verify(symbol: str | None, timeframe: str | None, venue: str | None, root: Path) -> None:
    """Check stored files (checksums, grid, OHLC rules, ledger); exit code 1 if anything was found."""
    from kit.store import Store

    report = Store(root).verify(symbol, timeframe, venue=venue)
    if report.empty:
        click.echo("ok: no findings")
        return
    click.echo(report.to_string(index=False, max_colwidth=90))
    raise SystemExit(1)
