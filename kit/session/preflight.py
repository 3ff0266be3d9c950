"""Permission preflight: what this API key can really do, and whether the kit may use it.

A key that can withdraw or transfer funds is refused: the kit trades, it never needs to move
money out, and a leaked trade-only key cannot empty the account. The check reads the key's real
permissions from the exchange (Binance ``GET /sapi/v1/account/apiRestrictions``, which localnet
serves too); where ccxt exposes no such endpoint the answer is "unknown", said plainly.

>>> p = judge({"enableReading": True, "enableSpotAndMarginTrading": True, "enableWithdrawals": True,
...            "ipRestrict": False, "createTime": 0}, stage="testnet", now_ms=86_400_000 * 10)
>>> p.verdict, p.refusals[0][:40]
('refuse', 'the key can withdraw or transfer funds: ')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DAY_MS = 86_400_000


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
    trading = stage != "read_only"
    warnings: list[str] = []
    refusals: list[str] = []
    moves = [k for k in ("withdrawals", "internal_transfer", "universal_transfer") if perms[k]]
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
    if trading and not perms["spot_trading"]:
        refusals.append("the key has no spot-trading permission; enable 'spot trading' for it, or use read_only")
    ip = bool(restrictions.get("ipRestrict"))
    if not ip:
        warnings.append("no IP allowlist on this key: restrict it to this machine's IP on the exchange")
    age = None
    created = restrictions.get("createTime")
    if created:
        age = (now_ms - int(created)) / DAY_MS
        if age >= refuse_age_days and trading:
            refusals.append(
                f"the key is {age:.0f} days old (limit {refuse_age_days}); rotate it: create a new "
                "trade-only key, switch, then delete the old one"
            )
        elif age >= warn_age_days:
            warnings.append(f"the key is {age:.0f} days old; plan its rotation (every 6-12 months)")
    return Preflight("apiRestrictions", perms, ip, age, tuple(warnings), tuple(refusals))


def unknown(exchange_id: str, reason: str) -> Preflight:
    """Preflight for venues whose key permissions cannot be read: said plainly, with a warning."""
    return Preflight(
        f"unknown ({reason})",
        warnings=(
            f"the permissions of this {exchange_id} key are unknown: {reason}. Check on the exchange that "
            "it cannot withdraw or transfer, and that an IP allowlist is set",
        ),
    )
