"""The ``kit`` command line: a click group whose commands each call one library function.

A :class:`~kit.errors.KitError` becomes one line on stderr and exit code 2: the user can act on
it. Any other exception is a bug and keeps its traceback (exit code 1). Heavy modules are
imported inside the commands, so ``kit --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import click

from kit import __version__
from kit.cli.group import KitGroup


@click.group(cls=KitGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
@click.option("--stage", "-s", default=None, help="read_only, testnet, live_small or live (default: by exchange).")
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


def _attach() -> None:
    """Attach the subcommand groups that live next to their libraries (thin click layers)."""
    from kit.cli.candles import candles
    from kit.cli.localnet import localnet
    from kit.cli.reconcile import reconcile_command
    from kit.cli.report import report

    cli.add_command(localnet)
    cli.add_command(candles)
    cli.add_command(report)
    cli.add_command(reconcile_command)


_attach()


def main() -> None:
    """Entry point of the ``kit`` console script and of ``python -m kit``."""
    cli(prog_name="kit")
