"""``kit attest``: the user's word that a key the kit cannot check cannot withdraw and is IP-restricted.

Some venues do not tell a key's permissions (or the call fails); ``live_small`` and ``live`` then
refuse to start unless the key was attested (:mod:`kit.session.permissions.attest`). ::

    kit attest --exchange kraken --fingerprint 1a2b3c4d      # shows the statement, asks to confirm
    kit attest --list                                        # what is attested, until when
    kit attest --exchange kraken --fingerprint 1a2b3c4d --revoke

The fingerprint is the one ``kit doctor --exchange kraken --stage live_small`` shows; it must be
the live key the kit loads for that exchange. Every attestation and revocation is a journal row.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

__all__ = ["attest_command"]


@click.command("attest")
@click.option("--exchange", "-e", default=None, help="The ccxt id of the venue, e.g. kraken.")
@click.option("--fingerprint", "-f", default=None, help="The key's 8-hex fingerprint (as `kit doctor` shows it).")
@click.option("--days", default=180, show_default=True, help="How long it holds: the key's rotation window (<= 365).")
@click.option(
    "--journal",
    "journal_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Journal file. [default: $KIT_HOME/journal.sqlite]",
)
@click.option("--revoke", is_flag=True, help="End the attestation of this key.")
@click.option("--list", "list_only", is_flag=True, help="Show the attestations in the journal and exit.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (you still name the key and the venue).")
def attest_command(
    exchange: str | None,
    fingerprint: str | None,
    days: int,
    journal_path: Path | None,
    revoke: bool,
    list_only: bool,
    yes: bool,
) -> None:
    """Attest that a key cannot withdraw or transfer and is IP-restricted (for venues that do not say)."""
    from kit.errors import ConfigError
    from kit.journal.journal import Journal
    from kit.session.permissions import attest as att

    with Journal(journal_path or Journal.default_path()) as j:
        if list_only:
            now = int(time.time() * 1000)
            rows = att.latest(j, exchange)
            for a in rows:
                state = "in force" if a.valid_at(now) else ("revoked" if a.revoked else "expired")
                click.echo(f"{state}: {a.describe()}")
            if not rows:
                click.echo("no attestations in the journal")
            return
        if not exchange or not fingerprint:
            hint = "E.g. `kit attest --exchange kraken --fingerprint 1a2b3c4d`; `kit doctor` shows the fingerprint."
            raise ConfigError("kit attest needs --exchange and --fingerprint", hint=hint)
        if revoke:
            a = att.revoke(exchange, fingerprint=fingerprint, journal=j)
            click.echo(a.describe())
            return
        click.echo(f"You attest, for the live {exchange} key with fingerprint {fingerprint}, that {att.STATEMENT}.")
        click.echo("Check both on the exchange's API management page first. This is journaled with your user name.")
        if not yes:
            click.confirm("Both are true for this key", abort=True)
        a = att.attest(exchange, fingerprint=fingerprint, cannot_withdraw=True, ip_restricted=True, days=days,
                       journal=j)  # fmt: skip
        click.echo(a.describe())
