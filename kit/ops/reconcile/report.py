"""The reconciliation report: one :class:`Finding` per difference, and the :class:`ReconcileReport`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Finding", "ReconcileReport"]


@dataclass(frozen=True)
class Finding:
    """One difference between the journal and the exchange, and what was done about it.

    ``check`` is ``unknown_order``, ``order_status``, ``foreign_order``, ``fill`` or ``balance``;
    ``ref`` the client id, trade id or asset; ``action`` what reconcile did (``resolved``,
    ``not_placed``, ``pending``, ``updated``, ``adopted``, ``reported``).
    """

    check: str
    symbol: str
    ref: str
    journal: str
    exchange: str
    action: str
    reason: str

    def row(self) -> dict[str, str]:
        """The finding as a dict (one table row)."""
        return {
            "check": self.check,
            "symbol": self.symbol,
            "ref": self.ref,
            "journal": self.journal,
            "exchange": self.exchange,
            "action": self.action,
            "reason": self.reason,
        }


@dataclass
class ReconcileReport:
    """What :func:`reconcile` found and did (see the module docstring)."""

    venue: str
    account: str
    started_ms: int
    finished_ms: int = 0
    findings: list[Finding] = field(default_factory=list)
    symbols: list[str] = field(default_factory=list)
    watermarks: dict[str, int] = field(default_factory=dict)
    balances_compared: bool = False
    errors: list[str] = field(default_factory=list)

    def _of(self, check: str, *actions: str) -> list[Finding]:
        return [f for f in self.findings if f.check == check and (not actions or f.action in actions)]

    @property
    def adopted_fills(self) -> list[Finding]:
        """Fills journaled now (they happened while the journal was not listening)."""
        return self._of("fill", "adopted")

    @property
    def resolved(self) -> list[Finding]:
        """Unknown orders found on the exchange (journaled as acknowledged)."""
        return self._of("unknown_order", "resolved")

    @property
    def not_placed(self) -> list[Finding]:
        """Unknown orders the exchange never received (journaled as not placed)."""
        return self._of("unknown_order", "not_placed")

    @property
    def pending(self) -> list[Finding]:
        """Unknown orders not found yet, still inside their time window (reconcile again later)."""
        return self._of("unknown_order", "pending")

    @property
    def status_updates(self) -> list[Finding]:
        """Orders whose status the journal had wrong (updated from the exchange)."""
        return self._of("order_status")

    @property
    def foreign_orders(self) -> list[Finding]:
        """Open orders on the exchange that the kit did not place (reported, untouched)."""
        return self._of("foreign_order")

    @property
    def balance_diffs(self) -> list[Finding]:
        """Assets whose exchange total differs from the journal's."""
        return self._of("balance")

    @property
    def clean(self) -> bool:
        """True when the journal already agreed with the exchange and every lookup worked."""
        return not self.findings and not self.errors

    @property
    def settled(self) -> bool:
        """True when no order is left pending and no lookup failed (differences may have been fixed)."""
        return not self.pending and not self.errors

    def counts(self) -> dict[str, int]:
        """Findings per kind of outcome, for the journal summary and alerts."""
        return {
            "adopted_fills": len(self.adopted_fills),
            "resolved": len(self.resolved),
            "not_placed": len(self.not_placed),
            "pending": len(self.pending),
            "status_updates": len(self.status_updates),
            "foreign_orders": len(self.foreign_orders),
            "balance_diffs": len(self.balance_diffs),
            "errors": len(self.errors),
        }

    def frame(self) -> Any:
        """The findings as a pandas DataFrame (one row per finding)."""
        import pandas as pd

        cols = ["check", "symbol", "ref", "journal", "exchange", "action", "reason"]
        return pd.DataFrame([f.row() for f in self.findings], columns=cols)

    def table(self, *, width: int = 40) -> str:
        """A plain-text table of the findings and a summary line (what ``kit reconcile`` prints)."""
        cols = ["check", "symbol", "ref", "journal", "exchange", "action", "reason"]
        rows = [[_cut(f.row()[c], width) for c in cols] for f in self.findings]
        lines: list[str] = []
        if rows:
            widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(cols)]
            lines.append("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip())
            lines.append("  ".join("-" * w for w in widths))
            lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows]
        else:
            lines.append("journal and exchange agree: nothing to do")
        lines += [f"error: {e}" for e in self.errors]
        lines.append(self.summary())
        return "\n".join(lines)

    def summary(self) -> str:
        """One line: what was checked and done, each count with its noun in the right number.

        >>> f = Finding("foreign_order", "BTC/USDT", "web-1", "", "open", "reported", "placed elsewhere")
        >>> fill = Finding("fill", "BTC/USDT", "7", "", "0.001", "adopted", "missed")
        >>> print(ReconcileReport("localnet", "default", 0, 17, [f, fill, fill], ["BTC/USDT"]).summary())
        ... # doctest: +NORMALIZE_WHITESPACE
        reconciled localnet/default (1 symbol, no balance snapshot to compare) in 17 ms:
        2 adopted fills, 1 foreign order
        """
        c = self.counts()
        parts = [f"{v} {_NOUNS[k][v != 1]}" for k, v in c.items() if v]  # "1 foreign order", "2 foreign orders"
        what = ", ".join(parts) if parts else "no differences"
        bal = "balances compared" if self.balances_compared else "no balance snapshot to compare"
        took = max(0, self.finished_ms - self.started_ms)
        n = len(self.symbols)
        return f"reconciled {self.venue}/{self.account} ({n} symbol{'s' * (n != 1)}, {bal}) in {took} ms: {what}"

    def __str__(self) -> str:
        return self.table()


#: Each count of :meth:`ReconcileReport.counts` as a noun: (one, several).
_NOUNS: dict[str, tuple[str, str]] = {
    "adopted_fills": ("adopted fill", "adopted fills"),
    "resolved": ("resolved", "resolved"),
    "not_placed": ("not placed", "not placed"),
    "pending": ("pending", "pending"),
    "status_updates": ("status update", "status updates"),
    "foreign_orders": ("foreign order", "foreign orders"),
    "balance_diffs": ("balance difference", "balance differences"),
    "errors": ("error", "errors"),
}


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
