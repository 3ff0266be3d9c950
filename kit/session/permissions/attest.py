"""Attestations: the user's word, per key fingerprint, where a venue cannot tell a key's permissions.

At ``live_small`` and ``live`` the kit refuses a key whose permissions it cannot read (the venue
has no endpoint for them, or the call failed) unless the user has attested, explicitly and for
that key's fingerprint, that the key **cannot withdraw or transfer funds and is restricted to an
IP allowlist**. An attestation is one ``attest`` row in the journal (who, when, which key, until
when); it expires with the key's rotation window (180 days by default, at most 365), and a later
revocation row ends it. ``testnet`` and ``read_only`` never need one: there the unknown stays a
warning.

It is given by a person, on purpose: ``kit attest --exchange kraken --fingerprint 1a2b3c4d``
(which asks for confirmation) or :func:`attest` with both statements spelled out. There is no
environment variable for it, so no script can set it silently; the fingerprint must be the one of
the key the kit loads for the venue's live stage, so an attestation never carries over to another key.

>>> import tempfile, pathlib
>>> from kit.journal.journal import Journal
>>> j = Journal(pathlib.Path(tempfile.mkdtemp()) / "journal.sqlite")
>>> a = record(j, "kraken", "1a2b3c4d", by="me", now_ms=0, days=180)
>>> current(j, "kraken", "1a2b3c4d", now_ms=DAY_MS).expires_ms == 180 * DAY_MS
True
>>> current(j, "kraken", "1a2b3c4d", now_ms=181 * DAY_MS) is None
True
>>> j.close()
"""

from __future__ import annotations

import getpass
import re
import time
from dataclasses import dataclass
from pathlib import Path

from kit.errors import ConfigError, SecretNotFound
from kit.journal.journal import Journal

__all__ = ["KIND", "STATEMENT", "Attestation", "attest", "current", "latest", "record", "revoke"]

DAY_MS = 86_400_000

#: Journal kind of attestation rows.
KIND = "attest"

#: What the user attests, word for word (journaled with each attestation).
STATEMENT = "this API key cannot withdraw or transfer funds, and it is restricted to an IP allowlist"

#: Default and longest validity: the key's rotation window (keys are rotated every 6-12 months).
DEFAULT_DAYS = 180
MAX_DAYS = 365

_FP = re.compile(r"[0-9a-f]{8}")


@dataclass(frozen=True)
class Attestation:
    """One journaled attestation (or revocation) for a key fingerprint on a venue."""

    exchange: str
    fingerprint: str
    by: str
    attested_ms: int
    expires_ms: int
    revoked: bool = False
    seq: int = 0

    def valid_at(self, now_ms: int) -> bool:
        """True if not revoked and not expired at ``now_ms``."""
        return not self.revoked and self.attested_ms <= now_ms < self.expires_ms

    def describe(self) -> str:
        """One line for ``kit doctor`` and the daily report (no secret: the fingerprint only)."""
        if self.revoked:
            return f"key {self.fingerprint} on {self.exchange}: attestation revoked on {_day(self.attested_ms)}"
        return (
            f"key {self.fingerprint} on {self.exchange}: attested by {self.by} on {_day(self.attested_ms)} "
            f"(no withdraw or transfer, IP allowlist), valid until {_day(self.expires_ms)}"
        )


def _day(ms: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ms / 1000))


def _check_fingerprint(fingerprint: str) -> str:
    fp = str(fingerprint).strip().lower()
    if not _FP.fullmatch(fp):
        raise ConfigError(
            f"{fingerprint!r} is not a key fingerprint",
            hint="Use the 8 hex digits `kit doctor` shows after 'key fingerprint' (never the key itself).",
        )
    return fp


def record(
    journal: Journal, exchange: str, fingerprint: str, *, by: str, now_ms: int, days: int = DEFAULT_DAYS
) -> Attestation:
    """Journal an attestation as given (no key lookup: :func:`attest` is the checked entry point)."""
    fp = _check_fingerprint(fingerprint)
    exchange = exchange.strip().lower()  # the ccxt id, as the Session looks it up
    if not 1 <= int(days) <= MAX_DAYS:
        raise ConfigError(
            f"days={days} is out of range", hint=f"An attestation lasts the key's rotation window: 1..{MAX_DAYS} days."
        )
    expires = now_ms + int(days) * DAY_MS
    seq = journal.append(
        KIND, venue=exchange, stage="live", ts_ms=now_ms, fingerprint=fp, statement=STATEMENT,
        cannot_withdraw=True, ip_restricted=True, attested_by=by, expires_ms=expires, revoked=False,
    )  # fmt: skip
    return Attestation(exchange, fp, by, now_ms, expires, False, seq)


def _rows(journal: Journal, exchange: str | None, fingerprint: str | None) -> list[Attestation]:
    out = []
    for e in journal.events(kinds=[KIND], venue=exchange):
        p = e.payload
        fp = str(p.get("fingerprint") or "")
        if fingerprint is not None and fp != fingerprint:
            continue
        out.append(Attestation(e.venue, fp, str(p.get("attested_by") or ""), int(e.ts_ms),
                               int(p.get("expires_ms") or 0), bool(p.get("revoked")), int(e.seq)))  # fmt: skip
    return out


def latest(journal: Journal, exchange: str | None = None, fingerprint: str | None = None) -> list[Attestation]:
    """The last attestation row of each (venue, fingerprint), valid or not, in journal order."""
    last: dict[tuple[str, str], Attestation] = {}
    for a in _rows(journal, exchange, fingerprint):
        last.pop((a.exchange, a.fingerprint), None)
        last[(a.exchange, a.fingerprint)] = a
    return list(last.values())


def current(journal: Journal, exchange: str, fingerprint: str, *, now_ms: int) -> Attestation | None:
    """The attestation in force for this key on this venue at ``now_ms``, else ``None``."""
    found = latest(journal, exchange, fingerprint)
    return found[-1] if found and found[-1].valid_at(now_ms) else None


def _loaded_fingerprint(exchange: str, dotenv: str | Path | None) -> str:
    from kit.safety import secrets

    creds = secrets.load_credentials(exchange, "live", dotenv=dotenv)
    if creds is None:
        key_var, secret_var = secrets.env_names(exchange, "live")
        raise SecretNotFound(
            f"no live key for {exchange} is configured, so there is nothing to attest",
            env_var=key_var,
            hint=f"Set {key_var} and {secret_var} (environment, .env or keyring) first, then attest that key.",
        )
    return creds.fingerprint


def attest(
    exchange: str,
    *,
    fingerprint: str,
    cannot_withdraw: bool,
    ip_restricted: bool,
    days: int = DEFAULT_DAYS,
    journal: Journal | str | Path | None = None,
    dotenv: str | Path | None = ".env",
    now_ms: int | None = None,
) -> Attestation:
    """Attest that the live key of ``exchange`` cannot move funds and is IP-restricted; journal it.

    Parameters
    ----------
    exchange
        The ccxt id (``"kraken"``); the key is the one the kit loads for its live stages
        (``KIT_<EXCHANGE>_LIVE_API_KEY``, ``.env`` or the keyring).
    fingerprint
        The key's 8-hex fingerprint as ``kit doctor`` shows it; must match the loaded key.
    cannot_withdraw, ip_restricted
        Both must be ``True``: you checked on the exchange that the key has no withdraw or
        transfer right, and that it has an IP allowlist.
    days
        How long it holds: the key's rotation window, 1..365 (default 180).
    journal
        The journal (default ``$KIT_HOME/journal.sqlite``).

    Returns
    -------
    Attestation

    Raises
    ------
    kit.errors.ConfigError
        A statement is not ``True``, the fingerprint is not the loaded key's, or ``days`` is out of range.
    kit.errors.SecretNotFound
        No live key is configured for the exchange.

    Examples
    --------
    >>> attest("kraken", fingerprint="1a2b3c4d", cannot_withdraw=True, ip_restricted=True)  # doctest: +SKIP
    Attestation(exchange='kraken', fingerprint='1a2b3c4d', by='me', ...)
    """
    if cannot_withdraw is not True or ip_restricted is not True:
        raise ConfigError(
            "an attestation needs both statements: cannot_withdraw=True and ip_restricted=True",
            hint="Check on the exchange that the key has no withdraw or transfer right and has an IP allowlist; "
            "if it does not, create such a key instead of attesting.",
        )
    fp = _check_fingerprint(fingerprint)
    if exchange.strip().lower() == "localnet":
        raise ConfigError("localnet needs no attestation", hint="Attest real-exchange keys only.")
    loaded = _loaded_fingerprint(exchange, dotenv)
    if loaded != fp:
        raise ConfigError(
            f"fingerprint {fp} is not the live key configured for {exchange} (that one is {loaded})",
            hint="Attest the key the kit will use: copy the fingerprint `kit doctor --stage live_small` shows.",
        )
    own = not isinstance(journal, Journal)
    j = journal if isinstance(journal, Journal) else Journal(journal or Journal.default_path())
    try:
        return record(j, exchange, fp, by=getpass.getuser(), days=days,
                      now_ms=int(time.time() * 1000) if now_ms is None else now_ms)  # fmt: skip
    finally:
        if own:
            j.close()


def revoke(
    exchange: str, *, fingerprint: str, journal: Journal | str | Path | None = None, now_ms: int | None = None
) -> Attestation:
    """End the attestation of a key (journaled); the next live session with it refuses again."""
    fp = _check_fingerprint(fingerprint)
    exchange = exchange.strip().lower()
    own = not isinstance(journal, Journal)
    j = journal if isinstance(journal, Journal) else Journal(journal or Journal.default_path())
    now = int(time.time() * 1000) if now_ms is None else now_ms
    try:
        seq = j.append(KIND, venue=exchange, stage="live", ts_ms=now, fingerprint=fp, statement=STATEMENT,
                       attested_by=getpass.getuser(), expires_ms=now, revoked=True)  # fmt: skip
    finally:
        if own:
            j.close()
    return Attestation(exchange, fp, getpass.getuser(), now, now, True, seq)
