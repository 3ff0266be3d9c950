"""``kit reconcile``: compare the journal with the exchange, fix the journal, show what differed.

The main ``kit`` group attaches it (``cli.add_command(reconcile_command)``). It only reads from
the exchange; orders the kit did not place are listed, never touched. Exit code 0 whether or not
differences were found (they are corrected and journaled); a :class:`~kit.errors.KitError` (the
exchange unreachable, no key) is one line and exit code 2, as for every ``kit`` command.
"""

from __future__ import annotations

import logging
from pathlib import Path

import click

__all__ = ["reconcile_command"]


@click.command("reconcile")
@click.option("--exchange", default="localnet", show_default=True, help="'localnet', a ccxt id, or 'binance-testnet'.")
@click.option("--stage", default=None, help="Stage of the Session (default: testnet on localnet, else read_only).")
@click.option("--account", default="default", show_default=True, help="Account name in the journal.")
@click.option(
    "--journal",
    "journal_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Journal file. [default: $KIT_HOME/journal.sqlite]",
)
@click.option("--symbol", "symbols", multiple=True, help="Only these symbols' fills (repeatable).")
@click.option("--no-balances", is_flag=True, help="Skip the balance comparison.")
def reconcile_command(
    exchange: str,
    stage: str | None,
    account: str,
    journal_path: Path | None,
    symbols: tuple[str, ...],
    no_balances: bool,
) -> None:
    """Reconcile the journal with the exchange: unknown orders, fills, open orders, balances."""
    from kit.ops.reconcile import reconcile
    from kit.session import Session

    quiet = logging.NullHandler()  # the summary is logged too; printed below, it would show twice (#17.8)
    logger = logging.getLogger("kit.ops.reconcile")
    logger.addHandler(quiet)
    logger.propagate, was = False, logger.propagate
    try:
        with Session(exchange, stage=stage, account=account, journal=journal_path) as s:
            report = reconcile(s, symbols=list(symbols) or None, balances=not no_balances)
    finally:
        logger.removeHandler(quiet)
        logger.propagate = was
    click.echo(report.table())
