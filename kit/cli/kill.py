"""``kit kill``: engage the kill switch and wait until every open kit order on the venue is cancelled.

Engaging writes ``$KIT_HOME/KILL``: every Session that may trade, in any process (notebook kernels
included), sees it within a quarter second and cancels its kit's open orders by itself. ``kit kill``
then watches the venue's open orders and reports each kit order as it goes; after ``--grace`` seconds
it cancels what is still open itself (an order whose process is gone). Orders the kit did not place
(client ids not starting ``tk-``: placed by hand, on the website, by another program) are left open
and listed, unless ``--all``.

The command is registered lazily in :mod:`kit.cli.main`; the work is :func:`kill_and_wait`, usable
from Python too:

>>> from kit.cli.kill import kill_and_wait                       # doctest: +SKIP
>>> result = kill_and_wait(session, reason="drawdown", echo=print)  # doctest: +SKIP
>>> result.left                                                  # doctest: +SKIP
[]
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from kit.session import Session

__all__ = ["KillResult", "kill_and_wait", "kill_command"]


@dataclass
class KillResult:
    """What :func:`kill_and_wait` saw: each order's fate, and what is still open.

    Attributes
    ----------
    gone
        ``(client id, symbol, how)`` for every order that left the book, ``how`` being ``"cancelled by
        its session"``, ``"cancelled by kit kill"`` or the exchange's final status (``"closed"``: filled).
    left
        Orders still open at the end that ``kit kill`` was asked to cancel (empty on success).
    foreign
        Open orders the kit did not place, left alone (without ``--all``).
    seconds
        From engaging the switch to the last order gone.
    """

    gone: list[tuple[str, str, str]] = field(default_factory=list)
    left: list[dict[str, Any]] = field(default_factory=list)
    foreign: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


def _label(o: dict[str, Any]) -> str:
    return str(o.get("clientOrderId") or o.get("id"))


def _describe(o: dict[str, Any]) -> str:
    price = o.get("price")
    at = f" @ {price}" if price else ""
    return f"{_label(o)} {o.get('symbol')} {o.get('side')} {o.get('amount')}{at}"


def kill_and_wait(
    session: Session,
    *,
    reason: str = "kit kill",
    include_foreign: bool = False,
    grace_s: float = 2.0,
    timeout_s: float = 30.0,
    poll_s: float = 0.1,
    echo: Callable[[str], Any] = lambda _: None,
) -> KillResult:
    """Engage the session's kill switch and wait until the kit's open orders on the venue are cancelled.

    Parameters
    ----------
    session
        A Session on the venue that may cancel (its own watcher, if any, acts too).
    reason
        Written into the kill file; every refusal shows it.
    include_foreign
        Also cancel orders the kit did not place (``kit kill --all``); otherwise they are listed only.
    grace_s
        How long the Sessions that own the orders get to cancel them, before this call cancels the rest.
    timeout_s
        Give up after this long; the orders still open are in :attr:`KillResult.left`.
    poll_s
        Time between two reads of the open orders.
    echo
        Called with one line per event (an order gone, a cancel sent, what is left).

    Returns
    -------
    KillResult
    """
    from kit.session.trading import is_kit_order

    t0 = time.monotonic()
    session.kill_switch.engage(reason)
    echo(f"kill switch engaged: {session.kill_switch.path} ({reason})")
    opens = session.open_orders_raw()
    targets = {str(o["id"]): o for o in opens if include_foreign or is_kit_order(o)}
    result = KillResult(foreign=[o for o in opens if str(o["id"]) not in targets])
    left_note = f"; {len(result.foreign)} not placed by the kit, left open (kit kill --all cancels them)"
    echo(f"{len(targets)} open order(s) to cancel" + (left_note if result.foreign else ""))
    mine: set[str] = set()
    while targets:
        now = time.monotonic() - t0
        if now > timeout_s:
            break
        if now >= grace_s or not any(is_kit_order(o) for o in targets.values()):
            for o in targets.values():
                if str(o["id"]) in mine:
                    continue
                try:
                    session.cancel(str(o["symbol"]), order_id=str(o["id"]))
                    mine.add(str(o["id"]))
                except Exception as exc:  # noqa: BLE001 - gone meanwhile: the next read says how
                    echo(f"cancel of {_label(o)} answered: {type(exc).__name__}")
        elif include_foreign:  # nobody else cancels foreign orders: do it now
            for o in targets.values():
                if not is_kit_order(o) and str(o["id"]) not in mine:
                    session.cancel(str(o["symbol"]), order_id=str(o["id"]))
                    mine.add(str(o["id"]))
        still = {str(o["id"]) for o in session.open_orders_raw()}
        for oid in [i for i in targets if i not in still]:
            o = targets.pop(oid)
            how = "cancelled by kit kill" if oid in mine else "cancelled by its session"
            try:
                status = str(session.order(str(o["symbol"]), order_id=oid).get("status"))
            except Exception:  # noqa: BLE001 - the report then says what kit kill knows
                status = "canceled"
            if status != "canceled":
                how = f"{status} (not cancelled: it ended first)"
            result.gone.append((_label(o), str(o["symbol"]), how))
            echo(f"{_describe(o)}: {how} after {time.monotonic() - t0:.2f} s")
        if targets:
            time.sleep(poll_s)
    result.left = list(targets.values())
    result.seconds = time.monotonic() - t0
    for o in result.left:
        echo(f"STILL OPEN: {_describe(o)}")
    for o in result.foreign:
        echo(f"left open (not placed by the kit): {_describe(o)}")
    return result


@click.command("kill")
@click.option("--exchange", default="localnet", show_default=True, help="'localnet', a ccxt id, or 'binance-testnet'.")
@click.option("--stage", default=None, help="Stage of the Session that cancels (default: testnet on localnet).")
@click.option("--reason", default="kit kill", show_default=True, help="Why; shown in every refusal until reset.")
@click.option("--all", "include_foreign", is_flag=True, help="Also cancel open orders the kit did not place.")
@click.option(
    "--grace", default=2.0, show_default=True, help="Seconds the owning sessions get before kit kill cancels."
)
@click.option("--timeout", default=30.0, show_default=True, help="Give up after this many seconds (exit code 1).")
@click.option(
    "--journal",
    "journal_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Journal file. [default: $KIT_HOME/journal.sqlite]",
)
def kill_command(
    exchange: str,
    stage: str | None,
    reason: str,
    include_foreign: bool,
    grace: float,
    timeout: float,
    journal_path: Path | None,
) -> None:
    """Engage the kill switch and wait until every open kit order is cancelled."""
    from kit.session import Session

    with Session(exchange, stage=stage, journal=journal_path, kill_watch_s=None) as s:
        result = kill_and_wait(
            s, reason=reason, include_foreign=include_foreign, grace_s=grace, timeout_s=timeout, echo=click.echo
        )
    if result.left:
        click.echo(f"{len(result.left)} order(s) still open after {timeout:.0f} s", err=True)
        raise SystemExit(1)
    click.echo(f"done: {len(result.gone)} order(s) gone in {result.seconds:.2f} s; new orders blocked until "
               "the switch is reset (rm $KIT_HOME/KILL)")  # fmt: skip
