"""``kit report``: run report notebooks and schedule them (a thin click layer over :mod:`kit.views.report`).

``kit report daily --since yesterday --until today --out reports/`` executes
``notebooks/reports/daily.ipynb`` with papermill and writes ``daily.ipynb`` and ``daily.html``
(no code cells), both mode ``0600`` in an ``--out`` created ``0700``: a report shows the
account's balances, orders and fills. ``kit report schedule`` prints a crontab line that does
this every day at 00:15 UTC, under ``umask 077`` so that its log is private too; ``--install``
adds it to your crontab (replacing an earlier one). A failed report exits with code 2 and names
the failing cell; the partly executed notebook stays in ``--out``.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import click

from kit.cli.group import KitGroup

__all__ = ["report"]

#: Marks the crontab line ``kit report schedule --install`` manages.
CRON_TAG = "# tradekit: daily report"


def _daily_notebook() -> Path:
    from kit.cli.demo import REPORT_NOTEBOOK, notebooks_dir

    return notebooks_dir() / f"{REPORT_NOTEBOOK}.ipynb"


@click.group("report", cls=KitGroup)
def report() -> None:
    """Reports: notebooks run with papermill, written as HTML without code."""


@report.command("daily")
@click.option("--since", default="", help="Start (UTC): ISO time, today, yesterday or -12h. [default: until - 1 day]")
@click.option("--until", default="", help="End (UTC): ISO time, now, today or yesterday. [default: now]")
@click.option("--exchange", default="localnet", show_default=True, help="Exchange whose prices value the balances.")
@click.option("--venue", default="", help="Only this journal venue (default: all).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("reports"),
              show_default=True, help="Folder for daily.ipynb and daily.html.")  # fmt: skip
@click.option("--name", default="daily", show_default=True, help="File name of the report (without extension).")
def daily(since: str, until: str, exchange: str, venue: str, out_dir: Path, name: str) -> None:
    """Run the daily report for a period and print the path of its HTML."""
    from kit.views.report import period, run_report

    start, end = period(since, until)  # bad times fail here, before a kernel starts
    params = {"since": start.isoformat(), "until": end.isoformat(), "exchange": exchange, "venue": venue}
    result = run_report(_daily_notebook(), out_dir, params, name=name, cwd=Path.cwd())
    click.echo(str(result.html))


def cron_line(out_dir: Path, *, minute: int = 15, hour: int = 0, report: str = "daily") -> str:
    """The crontab line that runs yesterday's report (``daily`` or ``drift``) every day (the cron daemon's zone)."""
    kit_cmd = shutil.which("kit") or f"{sys.executable} -m kit"
    home = os.environ.get("KIT_HOME")
    env = f"KIT_HOME={shlex.quote(home)} " if home else ""
    out = shlex.quote(str(out_dir.resolve()))
    log = shlex.quote(str((out_dir / "cron.log").resolve()))
    return (
        f"{minute} {hour} * * * cd {shlex.quote(str(Path.cwd()))} && umask 077 && {env}{kit_cmd} report {report} "
        f"--since yesterday --until today --out {out} >> {log} 2>&1 {_tag(report)}"
    )


def _tag(report: str) -> str:
    return CRON_TAG if report == "daily" else f"# tradekit: {report} report"


@report.command("drift")
@click.option("--since", default="", help="Start (UTC): ISO time, today, yesterday or -12h. [default: until - 1 day]")
@click.option("--until", default="", help="End (UTC): ISO time, now, today or yesterday. [default: now]")
@click.option("--venue", default="", help="Only this journal venue's orders (default: every twinned venue).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("reports"),
              show_default=True, help="Folder for drift.ipynb and drift.html.")  # fmt: skip
@click.option("--name", default="drift", show_default=True, help="File name of the report (without extension).")
def drift(since: str, until: str, venue: str, out_dir: Path, name: str) -> None:
    """Run the drift report (paper twins against real fills); exits 2 when drift passes the gates."""
    from kit.cli.demo import notebooks_dir
    from kit.views.report import period, run_report

    start, end = period(since, until)
    params = {"since": start.isoformat(), "until": end.isoformat(), "venue": venue}
    result = run_report(notebooks_dir() / "reports" / "drift.ipynb", out_dir, params, name=name, cwd=Path.cwd())
    click.echo(str(result.html))


@report.command("schedule")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("reports"),
              show_default=True, help="Folder the scheduled reports go to.")  # fmt: skip
@click.option("--at", "at", default="00:15", show_default=True, help="Time of day HH:MM (the cron daemon's zone).")
@click.option("--install", is_flag=True, help="Add the line to your crontab (replacing an earlier kit line).")
@click.option("--report", "which", type=click.Choice(["daily", "drift"]), default="daily", show_default=True,
              help="Which report to schedule.")  # fmt: skip
def schedule(out_dir: Path, at: str, install: bool, which: str) -> None:
    """Print (or --install) a crontab line running yesterday's daily report every day."""
    hour_text, _, minute_text = at.partition(":")
    if not (hour_text.isdigit() and minute_text.isdigit() and int(hour_text) < 24 and int(minute_text) < 60):
        raise click.BadParameter(f"expected HH:MM, got {at!r}", param_hint="--at")
    line = cron_line(out_dir, minute=int(minute_text), hour=int(hour_text), report=which)
    if not install:
        click.echo(line)
        click.echo("# Add it with `crontab -e`, or run this command again with --install. Cron uses the system's "
                   "time zone; set CRON_TZ=UTC in the crontab where your cron supports it.")  # fmt: skip
        return
    if shutil.which("crontab") is None:
        raise click.ClickException("no `crontab` command on this system; add the line with your scheduler:\n" + line)
    current = subprocess.run(["crontab", "-l"], capture_output=True, text=True)
    if current.returncode != 0 and "no crontab" not in (current.stderr or "").lower():
        raise click.ClickException(f"crontab -l failed: {current.stderr.strip()}")
    kept = [row for row in (current.stdout if current.returncode == 0 else "").splitlines() if _tag(which) not in row]
    new = "\n".join([*kept, line]) + "\n"
    done = subprocess.run(["crontab", "-"], input=new, capture_output=True, text=True)
    if done.returncode != 0:
        raise click.ClickException(f"crontab - failed: {done.stderr.strip()}")
    click.echo(f"installed: {line}")
