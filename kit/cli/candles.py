"""``kit candles``: fetch, list and verify stored candles (a thin click layer over :class:`~kit.store.Store`).

Times on the command line are read as everywhere in the kit (:func:`kit.views.report.when`): ISO
in UTC (``--since 2024-01-01`` is 2024-01-01 00:00 UTC; an explicit offset such as
``2024-01-01T00:00+02:00`` is honoured), ``now``, ``today``, ``yesterday`` or an offset such as
``-1d``. ``--exchange`` names the exchange to fetch from, as in every other command (``--venue``
is its deprecated alias here). The main ``kit`` group attaches this one; it maps a
:class:`~kit.errors.KitError` to one line and exit code 2.
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
    from kit.views.report import when

    return when(text)


def _check_timeframe(timeframe: str, served: Any, venue: str) -> None:
    """An unsupported timeframe is an error listing the supported ones (the library can still resample)."""
    from kit.errors import ConfigError

    names = list(served)
    if names and timeframe not in names:
        raise ConfigError(
            f"{venue} does not serve {timeframe!r} candles",
            hint=f"Use one of {', '.join(names)} (in Python, Store.candles(..., resample_from=) builds other ones).",
        )


@click.group("candles")
def candles() -> None:
    """Candle store: fetch candles into data/, list and verify what is stored."""


@candles.command("fetch")
@click.argument("symbol")
@click.argument("timeframe")
@click.option("--since", required=True, help="First candle open time (UTC): ISO, today, yesterday or -1d.")
@click.option("--until", default=None, help="End, exclusive (UTC), read like --since; default: the last closed candle.")
@click.option("--exchange", "-e", default=None, help="Exchange (as for kit.Session).  [default: localnet]")
@click.option("--venue", "venue_alias", default=None, hidden=True, help="Deprecated: use --exchange.")
@_ROOT
@click.option(
    "--progress/--no-progress", default=True, show_default=True, help="A progress bar on fetches over a second."
)
@click.pass_context
def fetch(
    ctx: click.Context,
    symbol: str,
    timeframe: str,
    since: str,
    until: str | None,
    exchange: str | None,
    venue_alias: str | None,
    root: Path,
    progress: bool,
) -> None:
    """Fetch SYMBOL TIMEFRAME candles into the store (only what is not stored yet)."""
    from kit.errors import ConfigError
    from kit.store import Store

    if venue_alias is not None:
        if exchange is not None and exchange != venue_alias:
            raise ConfigError(f"--exchange {exchange} and --venue {venue_alias} disagree", hint="Give --exchange only.")
        click.echo("warning: --venue is deprecated here, use --exchange (the name every kit command uses)", err=True)
    exchange = exchange or venue_alias or "localnet"
    start, end = _utc(since), _utc(until)  # bad times fail here, before anything connects
    source = (ctx.obj or {}).get("candle_source")  # tests inject one; users go through a Session
    session = None
    if source is None:
        from kit.session import Session

        session = Session(exchange, stage="read_only")
        source = session.candle_source()
    try:
        _check_timeframe(timeframe, source.timeframes(), source.venue)
        store = Store(root, source=source)
        frame = store.candles(symbol, timeframe, start, end, progress=progress, fill="drop")
        cov = store.coverage(symbol, timeframe, start=start, end=end)
    finally:
        if session is not None:
            session.close()
    counts = cov.groupby("status").size().to_dict() if len(cov) else {}
    spans = ", ".join(f"{k}={v}" for k, v in sorted(counts.items()))
    click.echo(
        f"{symbol} {timeframe} on {source.venue}: {len(frame)} candles in range" + (f"; spans {spans}" if spans else "")
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
@click.option("--venue", default=None, help="Only the series stored for this venue (a filter, as in kit report).")
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
