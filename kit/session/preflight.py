"""Permission preflight: what this API key can really do, and whether the kit may use it.

A key that can withdraw or transfer funds is refused: the kit trades, it never needs to move
money out, and a leaked trade-only key cannot empty the account. The check reads the key's real
permissions from the exchange (Binance ``GET /sapi/v1/account/apiRestrictions``, which localnet
serves too; OKX, Bybit, Coinbase Advanced, KuCoin, Bitget and Kraken through their own endpoints,
mapped in :mod:`kit.session.permissions`); where a venue exposes none, or the call fails, the
answer is "unknown", said plainly: a warning in ``read_only`` and ``testnet``, a refusal in
``live_small`` and ``live`` unless the user attested the key (:mod:`kit.session.permissions.attest`).

>>> p = judge({"enableReading": True, "enableSpotAndMarginTrading": True, "enableWithdrawals": True,
...            "ipRestrict": False, "createTime": 0}, stage="testnet", now_ms=86_400_000 * 10)
>>> p.verdict, p.refusals[0][:40]
('refuse', 'the key can withdraw or transfer funds: ')
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from kit.errors import AuthError, KitError, RateLimited
from kit.safety.secrets import redact
from kit.session.permissions import for_venue
from kit.session.permissions.attest import Attestation, current
from kit.session.permissions.facts import KeyFacts, MalformedKeyInfo, VenuePermissions

if TYPE_CHECKING:
    from kit.journal.journal import Journal

DAY_MS = 86_400_000

#: The start of the warning for a trading-capable key in a read_only session (doctor matches it).
READ_ONLY_CAN_TRADE = "the read_only session was given a key that can trade"
#: The start of the warning for a key whose creation time the venue does not give.
AGE_UNKNOWN = "key age unknown"

#: A key that expires within this many days warns at connect (Bybit keys without an IP binding
#: live 90 days; Kraken keys may carry a ``validUntil``).
EXPIRY_WARN_DAYS = 14


@dataclass(frozen=True)
class Preflight:
    """Result of the permission preflight (never holds the key itself)."""

    source: str
    permissions: dict[str, bool] | None = None
    ip_restricted: bool | None = None
    key_age_days: float | None = None
    warnings: tuple[str, ...] = ()
    refusals: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        """``"refuse"``, ``"warn"`` or ``"ok"``."""
        return "refuse" if self.refusals else ("warn" if self.warnings else "ok")


def judge(
    restrictions: dict[str, Any],
    *,
    stage: str,
    now_ms: int,
    allow_withdraw_key: bool = False,
    warn_age_days: int = 180,
    refuse_age_days: int = 365,
) -> Preflight:
    """Decide on a key from Binance-style ``apiRestrictions`` fields."""
    perms = {
        "reading": bool(restrictions.get("enableReading")),
        "spot_trading": bool(restrictions.get("enableSpotAndMarginTrading")),
        "withdrawals": bool(restrictions.get("enableWithdrawals")),
        "internal_transfer": bool(restrictions.get("enableInternalTransfer")),
        "universal_transfer": bool(restrictions.get("permitsUniversalTransfer")),
    }
    created = restrictions.get("createTime")
    facts = KeyFacts(
        perms,
        ("withdrawals", "internal_transfer", "universal_transfer"),
        ip_restricted=bool(restrictions.get("ipRestrict")),
        created_ms=int(created) if created else None,
    )
    return judge_facts(
        facts,
        source="apiRestrictions",
        stage=stage,
        now_ms=now_ms,
        allow_withdraw_key=allow_withdraw_key,
        warn_age_days=warn_age_days,
        refuse_age_days=refuse_age_days,
    )


def judge_facts(
    facts: KeyFacts,
    *,
    source: str,
    stage: str,
    now_ms: int,
    allow_withdraw_key: bool = False,
    warn_age_days: int = 180,
    refuse_age_days: int = 365,
    expiry_warn_days: int = EXPIRY_WARN_DAYS,
) -> Preflight:
    """Decide on a key from what its venue says (:class:`~kit.session.permissions.KeyFacts`).

    The one rule set for every venue: a key that can move funds (withdraw, transfer) is refused
    (in ``read_only`` only ``allow_withdraw_key`` turns that into a warning); a key without spot
    trading is refused in a trading stage, and one with it warns in ``read_only`` (least privilege:
    reading needs no trading right); no IP allowlist warns (unknown also warns); a key whose creation
    time is unknown warns ("age unknown"); a key ``warn_age_days`` old warns and ``refuse_age_days``
    old is refused for trading; a key that expires within ``expiry_warn_days`` warns, and an expired
    one is refused for trading.

    Examples
    --------
    >>> from kit.session.permissions import KeyFacts
    >>> f = KeyFacts({"reading": True, "spot_trading": True, "withdraw": False}, ("withdraw",),
    ...              ip_restricted=True, created_ms=1, expires_ms=5 * DAY_MS)
    >>> p = judge_facts(f, source="okx", stage="live", now_ms=0)
    >>> p.verdict, p.warnings[0][:31]
    ('warn', 'the key expires in 5 days (1970')
    """
    perms = dict(facts.permissions)
    trading = stage != "read_only"
    warnings: list[str] = []
    refusals: list[str] = []
    moves = list(facts.granted_moves)
    if moves:
        what = ", ".join(moves)
        if allow_withdraw_key and not trading:
            warnings.append(f"the key can move funds ({what}); allowed for read-only use by explicit override")
        else:
            refusals.append(
                f"the key can withdraw or transfer funds: {what}. Create a key with reading and spot trading "
                "only (no withdrawals, no transfers) on the exchange's API management page"
                + ("" if not trading else "; the override allow_withdraw_key works in read_only only")
            )
    if trading and not perms.get("spot_trading"):
        refusals.append("the key has no spot-trading permission; enable 'spot trading' for it, or use read_only")
    if not trading and perms.get("spot_trading"):  # least privilege: reading needs no trading right
        warnings.append(
            f"{READ_ONLY_CAN_TRADE}: a leak of it could place orders. Create a key with 'reading' only on the "
            "exchange's API management page and put it in KIT_<EXCHANGE>_READ_ONLY_API_KEY / _API_SECRET"
        )
    if not facts.ip_restricted:
        if facts.ip_restricted is None:
            warnings.append("this venue does not say whether the key has an IP allowlist: make sure it has one")
        else:
            warnings.append("no IP allowlist on this key: restrict it to this machine's IP on the exchange")
    age = None
    if not facts.created_ms:
        warnings.append(
            f"{AGE_UNKNOWN}: the venue did not say when the key was created, so its rotation cannot be checked; "
            "note its creation date and rotate it every 6-12 months"
        )
    else:
        age = (now_ms - int(facts.created_ms)) / DAY_MS
        if age >= refuse_age_days and trading:
            refusals.append(
                f"the key is {age:.0f} days old (limit {refuse_age_days}); rotate it: create a new "
                "trade-only key, switch, then delete the old one"
            )
        elif age >= warn_age_days:
            warnings.append(f"the key is {age:.0f} days old; plan its rotation (every 6-12 months)")
    if facts.expires_ms:
        left = (int(facts.expires_ms) - now_ms) / DAY_MS
        when = _day(int(facts.expires_ms))
        if left <= 0:
            (refusals if trading else warnings).append(
                f"the key expired on {when}; create a new trade-only key and switch to it"
            )
        elif left <= expiry_warn_days:
            warnings.append(f"the key expires in {left:.0f} days ({when}); create its successor and switch before then")
    details = dict(facts.details)
    if facts.expires_ms:
        details["expires_ms"] = int(facts.expires_ms)
    return Preflight(source, perms, facts.ip_restricted, age, tuple(warnings), tuple(refusals), details)


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d")


def unknown(
    exchange_id: str,
    reason: str,
    *,
    stage: str | None = None,
    attestation: Attestation | None = None,
    fingerprint: str | None = None,
) -> Preflight:
    """Preflight for a key whose permissions cannot be read: said plainly.

    In ``read_only`` and ``testnet`` (or with no stage given) it is a warning. In ``live_small``
    and ``live`` it is a refusal, unless the user attested for this very key that it cannot
    withdraw or transfer and is IP-restricted (:mod:`kit.session.permissions.attest`); the
    attestation then shows as a warning naming who attested and until when.

    Examples
    --------
    >>> unknown("kraken", "the call failed", stage="testnet").verdict
    'warn'
    >>> p = unknown("kraken", "the call failed", stage="live_small", fingerprint="1a2b3c4d")
    >>> p.verdict, "kit attest --exchange kraken --fingerprint 1a2b3c4d" in p.refusals[0]
    ('refuse', True)
    """
    said = (
        f"the permissions of this {exchange_id} key are unknown: {reason}. Check on the exchange that "
        "it cannot withdraw or transfer, and that an IP allowlist is set"
    )
    if stage not in ("live_small", "live"):
        return Preflight(f"unknown ({reason})", warnings=(said,))
    if attestation is not None:
        return Preflight(
            f"unknown ({reason}); attested",
            warnings=(f"the permissions of this {exchange_id} key are unknown ({reason}); {attestation.describe()}",),
            details={"attestation_seq": attestation.seq, "attested_until_ms": attestation.expires_ms},
        )
    fp = fingerprint or "<fingerprint>"
    return Preflight(
        f"unknown ({reason})",
        refusals=(
            f"the permissions of this {exchange_id} key are unknown ({reason}), and stage {stage} does not trade "
            "real money with a key it cannot check. Check on the exchange that the key cannot withdraw or "
            "transfer and has an IP allowlist, then attest it: "
            f"`kit attest --exchange {exchange_id} --fingerprint {fp}` (journaled, expires with the key's "
            "rotation window); or use a key the kit can read",
        ),
    )


def check_venue(
    exchange_id: str,
    fetch: Callable[[VenuePermissions], Any],
    *,
    stage: str,
    now_ms: int,
    journal: Journal | None = None,
    fingerprint: str | None = None,
    allow_withdraw_key: bool = False,
    warn_age_days: int = 180,
    refuse_age_days: int = 365,
) -> Preflight:
    """The preflight of a non-Binance venue: read the key's permissions, judge them, or say unknown.

    Parameters
    ----------
    exchange_id
        The ccxt id; venues without a reader in :mod:`kit.session.permissions` are "unknown".
    fetch
        Sends the venue's key-information request and returns its JSON answer (the Session passes
        its request path: budget, error mapping, request log). A :class:`~kit.errors.KitError`
        from it makes the answer "unknown", except :class:`~kit.errors.AuthError` (a bad key,
        signature, passphrase or clock: raised as it is) and :class:`~kit.errors.RateLimited`.
    stage, now_ms, allow_withdraw_key, warn_age_days, refuse_age_days
        As for :func:`judge_facts`.
    journal, fingerprint
        Where to look for an attestation of this key (live stages, unknown permissions only).

    Examples
    --------
    >>> answer = {"code": "0", "data": [{"perm": "read_only,trade,withdraw", "ip": "203.0.113.7"}]}
    >>> p = check_venue("okx", lambda spec: answer, stage="live_small", now_ms=0)
    >>> p.verdict, p.source, p.refusals[0][:50]
    ('refuse', 'okx GET /api/v5/account/config', 'the key can withdraw or transfer funds: withdraw. ')
    """
    spec = for_venue(exchange_id)
    reason = ""
    if spec is None:
        reason = f"the kit reads no key permissions on {exchange_id}"
    else:
        try:
            facts = spec.parse(fetch(spec))
        except MalformedKeyInfo as exc:
            reason = f"{spec.path} answered in an unexpected shape ({exc})"
        except (AuthError, RateLimited):
            raise  # a key that fails to authenticate is no "unknown"; a ban is the Session's to handle
        except KitError as exc:
            said = " ".join(redact(exc.message).split())
            reason = f"{spec.path} failed ({type(exc).__name__}: {said[:160]})"
        else:
            return judge_facts(
                facts,
                source=f"{exchange_id} {spec.http_method} {spec.path}",
                stage=stage,
                now_ms=now_ms,
                allow_withdraw_key=allow_withdraw_key,
                warn_age_days=warn_age_days,
                refuse_age_days=refuse_age_days,
            )
    found = None
    if journal is not None and fingerprint and stage in ("live_small", "live"):
        found = current(journal, exchange_id, fingerprint, now_ms=now_ms)
    return unknown(exchange_id, reason, stage=stage, attestation=found, fingerprint=fingerprint)
