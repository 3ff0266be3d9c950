"""``kit doctor``: a checklist of what the kit needs before it trades, each item with its fix.

Local checks come first and need no network: credentials (the names of the variables read, never
their values), the kill switch, the stage and its journaled evidence. Then one Session is opened
(for localnet, the running one from ``KIT_LOCALNET_URL`` or an in-process one), and the key's
permissions, IP allowlist and age, the clock offset and the rate budget are read from it. When the
Session refuses to connect (a key that can withdraw, a skewed clock), the item that refused is red
and what was journaled before the refusal (the ``preflight`` and ``clock`` rows) fills the others.

>>> Check("clock", None, "offset 300 ms", "sync the clock").line()
'! clock: offset 300 ms'
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kit.errors import AuthError, ClockSkew, KitError, PermissionRefused, SecretNotFound
from kit.safety import secrets as kit_secrets
from kit.safety.killswitch import KillSwitch
from kit.safety.stages import Stage

__all__ = ["Check", "run_checks"]

MARKS = {True: "✓", False: "✗", None: "!"}


@dataclass(frozen=True)
class Check:
    """One checklist item.

    Attributes
    ----------
    name
        What was checked (``"credentials"``, ``"permissions"``, ...).
    ok
        ``True`` fine, ``False`` must be fixed (red), ``None`` a warning or not checked.
    detail
        What was found (never a key or secret).
    fix
        What to do when ``ok`` is not ``True``.
    """

    name: str
    ok: bool | None
    detail: str
    fix: str = ""

    @property
    def mark(self) -> str:
        """``✓``, ``✗`` or ``!``."""
        return MARKS[self.ok]

    def line(self) -> str:
        """``✓ name: detail``."""
        return f"{self.mark} {self.name}: {self.detail}"


def _secret_free(text: str) -> str:
    return " ".join(kit_secrets.redact(text).split())


def _credentials(exchange: str, stage: Stage, dotenv: str | Path | None) -> Check:
    name = "localnet" if exchange == "localnet" else exchange
    if stage is Stage.PAPER:
        return Check("credentials", True, "paper needs no key: the paper venue has its own account and keys file")
    key_var, secret_var = kit_secrets.env_names(name, stage)
    if exchange == "localnet" and not os.environ.get("KIT_LOCALNET_URL"):
        return Check(
            "credentials",
            True,
            "KIT_LOCALNET_URL not set: an in-process localnet is started, keys from its 0600 keys file",
        )
    try:
        creds = kit_secrets.load_credentials(name, stage, dotenv=dotenv)
    except KitError as exc:
        return Check("credentials", False, _secret_free(exc.message), exc.hint)
    if creds is None:
        fix = f"Set {key_var} and {secret_var} in the environment, .env or the OS keyring (never in code)."
        if stage.allows_orders:
            return Check("credentials", False, f"no key found in {key_var} / {secret_var}", fix)
        return Check("credentials", None, f"no key in {key_var} / {secret_var}: public data only", fix)
    return Check(
        "credentials", True, f"{key_var} / {secret_var} from {creds.source}, key fingerprint {creds.fingerprint}"
    )


def _kill_switch() -> Check:
    ks = KillSwitch()
    reason = ks.engaged()
    if reason is None:
        return Check("kill switch", True, f"not engaged ({ks.path}, {ks.env_var})")
    return Check(
        "kill switch",
        False,
        f"engaged: {reason}",
        f"Find out why, then reset: `rm {ks.path}` (or KillSwitch().reset()) and unset {ks.env_var}.",
    )


def _stage(exchange: str, stage: Stage | None, journal: Any) -> tuple[Check, Any, Any]:
    """The stage gate, checked locally; returns the check, the venue spec and the caps to open with."""
    from kit.safety.guard import Caps, EvidenceRule, Guard
    from kit.session.venues import resolve

    now = int(time.time() * 1000)
    try:
        spec = resolve(exchange, stage)
        st = spec.stage
        if st.is_live:
            symbols = _journal_symbols(journal)
            if not symbols:
                rule = EvidenceRule()
                previous = "testnet" if st is Stage.LIVE_SMALL else "live_small"
                return Check(
                    "stage", False,
                    f"{st.value} needs {rule.min_filled_orders} filled {previous} orders per symbol, journaled; "
                    "none found",
                    f"Trade in stage {previous} first: its fills are journaled and count as evidence.",
                ), None, None  # fmt: skip
            caps = Caps.for_stage(st, symbols=symbols)
            guard = Guard(
                st, sandbox=spec.sandbox, caps=caps, journal=journal, kill_switch=KillSwitch(), venue=spec.name
            )
        else:
            caps = Caps.for_stage(st)
            guard = Guard(st, sandbox=spec.sandbox, caps=caps, journal=None, kill_switch=KillSwitch(), venue=spec.name)
        guard.check_stage(symbols=sorted(caps.symbols or ()), now_ms=now)
    except KitError as exc:
        return Check("stage", False, _secret_free(exc.message), exc.hint), None, None
    if st.is_live:
        detail = f"{st.value} gate passes for {', '.join(sorted(caps.symbols or ()))}; caps: {caps.describe()}"
        return Check("stage", True, detail), spec, caps
    since = now - EvidenceRule().within_days * 86_400_000
    evidence = journal.filled_orders(stage="testnet", symbols=_journal_symbols(journal), since_ms=since)
    where = "a sandbox" if spec.sandbox else "the live endpoint, reads only"
    if spec.paper:
        where = f"the paper venue (simulated fills on {spec.name}'s public market; nothing reaches its accounts)"
    detail = f"{st.value} on {where}; {evidence} filled testnet orders journaled (evidence for live_small)"
    return Check("stage", True, detail), spec, caps


def _journal_symbols(journal: Any) -> list[str]:
    return sorted({e.symbol for e in journal.events(kinds=["fill"]) if e.symbol})


_BINANCE = (
    "GET /sapi/v1/account/apiRestrictions",
    "Binance Spot testnet (testnet.binance.vision)",
    "orders go to Binance's Spot testnet, which has no permission endpoint (permissions unknown: a warning)",
)


def _venue(spec: Any, exchange: str, stage: Stage, journal: Any, dotenv: str | Path | None) -> list[Check]:
    """Where the venue's key permissions come from, its sandbox, and the key's attestation if any."""
    from kit.session.permissions import attest, for_venue
    from kit.session.venues import resolve

    if spec is None:  # the stage gate refused: the venue is still worth describing
        try:
            spec = resolve(exchange, Stage.READ_ONLY)
        except KitError:
            return []
    if spec.is_localnet or getattr(spec, "paper", False):
        return []

    ex_id = spec.exchange_id
    v = for_venue(ex_id)
    reader: str | None
    sandbox: str | None
    if ex_id == "binance":
        reader, sandbox, testnet = _BINANCE
    elif v is not None:
        reader, sandbox, testnet = f"{v.http_method} {v.path}", v.sandbox, v.testnet_meaning
    else:
        import ccxt

        has_test = bool(getattr(ccxt, ex_id)().urls.get("test"))
        reader, sandbox = None, "ccxt has one (urls['test'])" if has_test else None
        testnet = "orders go to that sandbox" if has_test else "no sandbox in ccxt: stage testnet refuses to start"
    said = f"key permissions from {reader}" if reader else "the kit cannot read key permissions here"
    detail = f"{ex_id}: {said}; sandbox: {sandbox or 'none in ccxt 4.5.90'}; stage testnet: {testnet}"
    fix = (
        "" if reader else f"live_small and live need an attestation: `kit attest --exchange {ex_id} --fingerprint ...`"
    )
    ok: bool | None = True if reader else None
    if stage is Stage.TESTNET and not sandbox:  # the Session would refuse: ccxt has no sandbox URL here
        ok, fix = False, f"{ex_id} has no sandbox in ccxt: practise on localnet (stage testnet), then live_small."
    out = [Check("venue", ok, detail, fix)]
    try:
        creds = kit_secrets.load_credentials(ex_id, Stage.LIVE, dotenv=dotenv)
    except KitError:
        creds = None
    fp = creds.fingerprint if creds is not None else None
    now = int(time.time() * 1000)
    mine = [a for a in attest.latest(journal, ex_id) if fp is None or a.fingerprint == fp]
    if mine:
        a = mine[-1]
        ok = True if a.valid_at(now) else None
        state = "" if ok else (" (revoked)" if a.revoked else " (expired)")
        out.append(Check("attestation", ok, a.describe() + state, "" if ok else f"Attest again if it still holds: "
                         f"`kit attest --exchange {ex_id} --fingerprint {a.fingerprint}`."))  # fmt: skip
    elif reader is None and stage.is_live:
        out.append(Check("attestation", False, f"none for key {fp or '(no live key)'} on {ex_id}",
                         f"Check the key on {ex_id} (no withdraw or transfer, IP allowlist), then "
                         f"`kit attest --exchange {ex_id} --fingerprint {fp or '<fingerprint>'}`."))  # fmt: skip
    return out


def _from_session(s: Any) -> list[Check]:
    p = s.preflight
    out = [
        _permissions(p.permissions if p else None, p.source if p else "", [], warnings=list(p.warnings) if p else [])
    ]
    out.append(_ip(p.ip_restricted if p else None))
    out.append(_age(p.key_age_days if p else None, refuse=False))
    rep = s.clock_report
    clock_warn = [w for w in s.warnings if "clock" in w or "round trip" in w]
    if rep is None:
        out.append(Check("clock", None, "not measured"))
    else:
        detail = f"offset {rep.offset_ms:+d} ms (exchange - local), round trip {rep.rtt_ms} ms"
        out.append(Check("clock", None if clock_warn else True, detail, "; ".join(clock_warn)))
    out.append(_budget(s.budget.status() if s.budget else None))
    return out


def _permissions(
    perms: dict[str, bool] | None, source: str, refusals: list[str], *, warnings: list[str] | None = None
) -> Check:
    if perms is None and refusals:  # unknown permissions at a real-money stage, not attested
        return Check("permissions", False, f"{source or 'unknown'}: refused", "; ".join(refusals))
    if perms is None:
        return Check("permissions", None, f"unknown ({source or 'not read'})",
                     "Check on the exchange that the key cannot withdraw or transfer.")  # fmt: skip
    granted = ", ".join(k for k, v in perms.items() if v) or "none"
    if refusals:
        return Check("permissions", False, f"{granted}: {'; '.join(refusals)}",
                     "Create a trade-only key (no withdrawals or transfers) and revoke this one.")  # fmt: skip
    from kit.session.preflight import READ_ONLY_CAN_TRADE  # here: kit.session pulls in ccxt

    too_much = [w for w in warnings or [] if w.startswith(READ_ONLY_CAN_TRADE)]
    if too_much:  # least privilege: a reading session with a key that can trade
        return Check("permissions", None, f"{granted}; {READ_ONLY_CAN_TRADE}",
                     "Create a key with 'reading' only on the exchange and put it in "
                     "KIT_<EXCHANGE>_READ_ONLY_API_KEY / _API_SECRET; keep the trading key for trading.")  # fmt: skip
    return Check("permissions", True, f"{granted}; no withdrawals or transfers")


def _ip(restricted: bool | None) -> Check:
    if restricted:
        return Check("IP allowlist", True, "the key is restricted to listed IPs")
    if restricted is None:
        return Check("IP allowlist", None, "unknown", "Set an IP allowlist for the key on the exchange.")
    return Check("IP allowlist", None, "none on this key",
                 "Restrict the key to this machine's public IP on the exchange's API management page.")  # fmt: skip


def _age(days: float | None, *, refuse: bool) -> Check:
    if days is None:
        return Check("key age", None, "unknown", "Rotate keys every 6-12 months.")
    if refuse:
        return Check("key age", False, f"{days:.0f} days", "Create a new trade-only key, switch, delete the old one.")
    if days >= 180:
        return Check("key age", None, f"{days:.0f} days", "Plan the rotation (every 6-12 months).")
    return Check("key age", True, f"{days:.0f} days")


def _budget(status: dict[str, Any] | None) -> Check:
    if status is None:
        return Check("rate budget", None, "not created")
    detail = f"{status['used']} of {status['limit']} weight used this window (machine share {status['capacity']})"
    if status["banned_until_ms"] or status["blocked_until_ms"]:
        return Check("rate budget", False, detail + "; requests are blocked by a 429/418",
                     "Wait for the ban to lift; slow down (cache, WebSocket streams instead of polling).")  # fmt: skip
    return Check("rate budget", True, detail)


def _from_journal(journal: Any, since_ms: int, exc: KitError) -> list[Check]:
    """Items from the rows journaled before the Session refused to connect."""
    pre = [e for e in journal.events(since_ms=since_ms, kinds=["preflight"])]
    clock = [e for e in journal.events(since_ms=since_ms, kinds=["clock"])]
    out: list[Check] = []
    # The hint goes in the fix line only: str(exc) would say it a second time (#17.8).
    msg = _secret_free(exc.message.rstrip().rstrip(".") if exc.hint else str(exc))
    if pre:
        p = pre[-1].payload
        refusals = [str(r) for r in p.get("refusals") or []]
        warned = [str(w) for w in p.get("warnings") or []]
        out.append(_permissions(p.get("permissions"), str(p.get("source") or ""), refusals, warnings=warned))
        out.append(_ip(p.get("ip_restricted")))
        age = p.get("key_age_days")
        out.append(_age(float(age) if age is not None else None, refuse=any("days old" in r for r in refusals)))
    else:
        why = "not checked: the connection failed first"
        ok: bool | None = False if isinstance(exc, (AuthError,)) and not isinstance(exc, ClockSkew) else None
        out.append(Check("permissions", ok, f"{why} ({msg})" if ok is False else why, exc.hint if ok is False else ""))
        out.append(Check("IP allowlist", None, why))
        out.append(Check("key age", None, why))
    if isinstance(exc, ClockSkew):
        out.append(Check("clock", False, msg, exc.hint))
    elif clock:
        c = clock[-1].payload
        out.append(Check("clock", True, f"offset {int(c['offset_ms']):+d} ms, round trip {c['rtt_ms']} ms"))
    else:
        out.append(Check("clock", None, "not measured"))
    if not isinstance(exc, (PermissionRefused, ClockSkew, AuthError)):
        out.append(Check("connection", False, msg, exc.hint))
    out.append(Check("rate budget", None, "not checked"))
    return out


def run_checks(
    exchange: str = "localnet",
    stage: Stage | str | None = None,
    *,
    journal: str | Path | None = None,
    dotenv: str | Path | None = ".env",
    session_factory: Callable[..., Any] | None = None,
) -> list[Check]:
    """Run every check for ``exchange`` at ``stage`` and return the checklist.

    Parameters
    ----------
    exchange, stage
        As for :class:`kit.session.Session` (default stage: testnet on localnet, else read_only).
    journal
        The journal to read evidence from and write the connection's rows to (default ``$KIT_HOME``).
    dotenv
        The ``.env`` file to read keys from.
    session_factory
        Opens the Session (default :class:`kit.session.Session`).

    Returns
    -------
    list[Check]
        credentials, kill switch, stage, permissions, IP allowlist, key age, clock, rate budget
        (and ``connection`` when the Session could not connect for another reason).
    """
    from kit.journal.journal import Journal

    st = Stage.parse(stage) if stage is not None else None
    path = Path(journal) if journal is not None else Journal.default_path()
    checks: list[Check] = []
    with Journal(path) as j:
        stage_check, spec, caps = _stage(exchange, st, j)
        st_eff = spec.stage if spec is not None else (st or Stage.READ_ONLY)
        checks.append(_credentials(exchange, st_eff, dotenv))
        checks.append(_kill_switch())
        checks.append(stage_check)
        checks += _venue(spec, exchange, st_eff, j, dotenv)
    if not stage_check.ok or checks[0].ok is False:
        why = "stage refused" if not stage_check.ok else "no credentials"
        checks += [Check(n, None, f"not checked ({why}; nothing was sent)")
                   for n in ("permissions", "IP allowlist", "key age", "clock", "rate budget")]  # fmt: skip
        return checks
    if session_factory is None:
        from kit.session import Session

        session_factory = Session
    started = int(time.time() * 1000) - 1
    try:
        s = session_factory(exchange, stage=st_eff, journal=path, dotenv=dotenv, caps=caps)
    except SecretNotFound as exc:
        checks[0] = Check("credentials", False, _secret_free(exc.message), exc.hint)
        return checks
    except KitError as exc:
        with Journal(path) as j:
            checks += _from_journal(j, started, exc)
        return checks
    try:
        checks += _from_session(s)
    finally:
        s.close()
    return checks


def render(checks: list[Check]) -> str:
    """The checklist as text: one line per item, its fix indented below when not ✓."""
    lines = []
    for c in checks:
        lines.append(c.line())
        if c.ok is not True and c.fix:
            lines.append(f"    fix: {c.fix}")
    return "\n".join(lines)
