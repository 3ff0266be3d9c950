"""The ``kit`` command line: a click group whose commands each call one library function.

A :class:`~kit.errors.KitError` becomes one line on stderr and exit code 2: the user can act on
it. Any other exception is a bug and keeps its traceback (exit code 1). The command groups in
their own modules are imported when they run (:data:`LAZY_COMMANDS`, :class:`~kit.cli.group.LazyGroup`)
and heavy modules inside the commands, so ``kit --help`` imports none of pandas, pyarrow, numpy or
ccxt (``benchmarks/bench_cli.py`` times it).
"""

from __future__ import annotations

from pathlib import Path

import click

from kit import __version__
from kit.cli.group import LazyGroup

#: Subcommands that live in their own modules: name -> ("module:attribute", short help). The short
#: help is what ``kit --help`` lists without importing the module; tests/test_cli.py checks that it
#: matches the command's own.
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "attest": (
        "kit.cli.attest:attest_command",
        "Attest that a key cannot withdraw or transfer and is IP-restricted (for venues that do not say).",
    ),
    "backtest": (
        "kit.cli.research:backtest_command",
        "Backtest STRATEGY on stored candles and write an HTML report (statistics, figure, round trips).",
    ),
    "candles": (
        "kit.cli.candles:candles",
        "Candle store: fetch candles into data/, list and verify what is stored.",
    ),
    "kill": ("kit.cli.kill:kill_command", "Engage the kill switch and wait until every open kit order is cancelled."),
    "localnet": (
        "kit.cli.localnet:localnet",
        "An offline Binance-like exchange on 127.0.0.1 for trying and testing the kit.",
    ),
    "optimize": (
        "kit.cli.research:optimize_command",
        "Search STRATEGY's parameters on Dask and write an HTML report (best, heatmap, every combination).",
    ),
    "reconcile": (
        "kit.cli.reconcile:reconcile_command",
        "Reconcile the journal with the exchange: unknown orders, fills, open orders, balances.",
    ),
    "report": (
        "kit.cli.report:report",
        "Reports: notebooks run with papermill, written as HTML without code.",
    ),
    "run": ("kit.cli.run:run_command", "Run STRATEGY (path/to/file.py:Name or module:Name) forward, unattended."),
}


@click.group(cls=LazyGroup, lazy=LAZY_COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="kit")
def cli() -> None:
    """Tradekit: research and paper trading through exchange APIs, with safety built in."""


@cli.command()
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("reports"),
    show_default=True,
    help="Folder for the HTML report.",
)
def demo(out_dir: Path) -> None:
    """Run the staged demo and write its HTML report."""
    from kit.cli import demo as demo_module

    demo_module.run(out_dir)


@cli.command()
@click.option("--exchange", "-e", default="localnet", show_default=True, help="'localnet' or a ccxt exchange id.")
@click.option("--stage", "-s", default=None, help="read_only, paper, testnet, live_small or live.")
def doctor(exchange: str, stage: str | None) -> None:
    """Check keys, permissions, IP allowlist, key age, clock, rate budget, stage and kill switch."""
    from kit.ops import doctor as doctor_module

    checks = doctor_module.run_checks(exchange, stage)
    click.echo(doctor_module.render(checks))
    red = [c.name for c in checks if c.ok is False]
    if red:
        click.echo(f"{len(red)} item(s) to fix: {', '.join(red)}", err=True)
        raise SystemExit(1)
    click.echo("ready" if all(c.ok for c in checks) else "ready, with warnings (!)")


def main() -> None:
    """Entry point of the ``kit`` console script and of ``python -m kit``."""
    cli(prog_name="kit")
