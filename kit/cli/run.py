"""``kit run STRATEGY``: run a strategy forward, unattended, on any trading stage.

The main ``kit`` group attaches it. Heavy modules load inside the command, so ``kit --help``
stays fast. Ctrl-C or SIGTERM ends the run after the current candle (orders are left as they
are; ``kit kill`` or the kill switch cancels them). Exit code 0 when the run stopped or reached
``--until``, 1 when the strategy failed or the kill switch stopped it, 2 for a
:class:`~kit.errors.KitError` before the start (bad strategy, symbol, stage or key).
"""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["run_command"]


@click.command("run")
@click.argument("strategy")
@click.option("--exchange", "-e", default="localnet", show_default=True, help="'localnet' or a ccxt exchange id.")
@click.option("--stage", "-s", default=None, help="paper, testnet, live_small or live (default: testnet on localnet).")
@click.option("--symbols", "symbols", multiple=True, help="Symbols to trade (repeatable, or comma separated).")
@click.option("--until", default=None, help="Stop after the candle closing at this time (UTC), e.g. 2026-12-05T00:00.")
@click.option("--param", "params", multiple=True, help="Strategy parameter name=value (repeatable).")
@click.option("--name", default=None, help="Run name; the same name resumes a run (default: strategy, params, venue).")
@click.option("--on-error", type=click.Choice(["cancel", "keep"]), default="cancel", show_default=True,
              help="What happens to the run's working orders when the strategy raises.")  # fmt: skip
@click.option("--poll", "poll_s", type=float, default=1.0, show_default=True,
              help="Seconds between looks when the next close cannot be predicted (stepped clocks).")  # fmt: skip
@click.option("--schedule", type=click.Choice(["auto", "poll"]), default="auto", show_default=True,
              help="auto: wake at each candle close on a real-time market; poll: every --poll seconds.")  # fmt: skip
@click.option("--account", default="default", show_default=True, help="Account name in the journal.")
@click.option("--journal", "journal_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Journal file. [default: $KIT_HOME/journal.sqlite]")  # fmt: skip
@click.option("--no-reconcile", is_flag=True, help="Skip the reconciliation before the first candle.")
@click.option("--serial", is_flag=True, help="One symbol at a time, each order sent when decided (slower; to compare).")
def run_command(
    strategy: str,
    exchange: str,
    stage: str | None,
    symbols: tuple[str, ...],
    until: str | None,
    params: tuple[str, ...],
    name: str | None,
    on_error: str,
    poll_s: float,
    schedule: str,
    account: str,
    journal_path: Path | None,
    no_reconcile: bool,
    serial: bool,
) -> None:
    """Run STRATEGY (path/to/file.py:Name or module:Name) forward, unattended.

    Candle closes -> the strategy's next() -> orders, on any trading stage.
    """
    import signal

    from kit.run import Runner
    from kit.session import Session
    from kit.strategy import load_strategy, parse_params

    cls = load_strategy(strategy)
    inst = cls(**parse_params(params))
    syms = [s.strip() for item in symbols for s in item.split(",") if s.strip()] or None
    with Session(exchange, stage=stage, account=account, journal=journal_path) as session:
        runner = Runner(session, inst, syms, name=name, until=until, on_error=on_error, poll_s=poll_s,
                        reconcile=not no_reconcile, schedule=schedule, batch=not serial)  # fmt: skip

        def _stop(signum: int, frame: object) -> None:
            runner.request_stop()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        click.echo(f"run {runner.name!r} on {session.venue} ({session.stage.value}), symbols "
                   f"{', '.join(runner.symbols)}; heartbeat {runner.heartbeat_path}")  # fmt: skip
        state = runner.run()
        st = runner.status()
        click.echo(f"{state}: {runner.reason or '-'} ({st['candles']} candles, {st['decisions']} decisions, "
                   f"{st['orders_sent']} orders sent)")  # fmt: skip
    if state in ("failed", "killed"):
        raise SystemExit(1)
