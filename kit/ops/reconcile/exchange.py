"""What reconciliation reads from the exchange, each read through the Session's request path.

Also the rule that decides when an absent order can no longer appear (:func:`order_window_ms`)
and the parsing of exchange numbers and balances. Fills are read by :mod:`kit.session.fills`.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from kit.errors import OrderUnknown
from kit.journal.state import to_decimal

if TYPE_CHECKING:
    from kit.session.core import Session

__all__ = ["order_window_ms"]


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class _Exchange:
    """The few reads reconcile needs, each through the Session's request path.

    The seam (:class:`kit.session.base.ExchangeApi`, ``session.api``) applies the shared rate budget,
    the ccxt error mapping, the request log and read retries with backoff; nothing here talks to
    ccxt on its own. Every call here is a read.
    """

    def __init__(self, session: Session) -> None:
        self.s = session
        self.api = session.api

    def _read(self, op: str, method: str, path: str, fn: Any, params: dict[str, Any], symbol: str | None) -> Any:
        return self.api.call(op, fn, method=method, path=path, params=params, symbol=symbol, write=False)

    def open_orders(self) -> list[dict[str, Any]]:
        def every_symbol(ex: Any) -> Any:
            # All symbols in one call (weight 80 on Binance, charged to the budget as such): orders the kit
            # did not place can be on any symbol. ccxt refuses it unless told that the weight is known.
            opts = ex.options.setdefault("fetchOpenOrders", {})
            if isinstance(opts, dict):
                opts["warnWithoutSymbol"] = False
            return ex.fetch_open_orders()

        return list(self._read("fetch_open_orders", "GET", "/api/v3/openOrders", every_symbol, {}, None))

    def order(self, symbol: str, client_id: str) -> dict[str, Any] | None:
        """The order with this client id, or None if the exchange says it does not exist."""
        try:
            return self.s.order(symbol, client_id=client_id)
        except OrderUnknown:
            return None

    def balance(self) -> dict[str, Any]:
        return dict(self._read("fetch_balance", "GET", "/api/v3/account", lambda ex: ex.fetch_balance(), {}, None))

    def server_now_ms(self) -> int:
        from kit.session.fills import server_now_ms  # kit.session pulls in ccxt: not at import (`kit --help`)

        return server_now_ms(self.s)


def order_window_ms(session: Session, *, margin_ms: int = 2_000) -> int:
    """How long after its last journaled event an order may still appear on the exchange.

    The Session's rule (:meth:`~kit.session.base.SessionBase.order_window_ms`): ``recvWindow`` plus
    the clock's error plus a margin; after that, an order that is not on the exchange never will be.
    """
    return session.order_window_ms(margin_ms=margin_ms)


def _num(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return to_decimal(value)
    except (TypeError, ValueError):
        return None


def _exchange_balances(bal: dict[str, Any]) -> tuple[dict[str, dict[str, Decimal]], int | None]:
    """``{asset: {free, used, total}}`` exactly (from the raw Binance body when present), and its update time."""
    info = bal.get("info") if isinstance(bal.get("info"), dict) else {}
    out: dict[str, dict[str, Decimal]] = {}
    raw = info.get("balances") if isinstance(info, dict) else None
    if isinstance(raw, list) and raw and all(isinstance(r, dict) and "asset" in r for r in raw):
        for r in raw:
            free, used = to_decimal(r.get("free")) or Decimal(0), to_decimal(r.get("locked")) or Decimal(0)
            out[str(r["asset"])] = {"free": free, "used": used, "total": free + used}
    else:
        for asset, total in (bal.get("total") or {}).items():
            if total is None:
                continue
            free = _num((bal.get("free") or {}).get(asset)) or Decimal(0)
            used = _num((bal.get("used") or {}).get(asset)) or Decimal(0)
            out[str(asset)] = {"free": free, "used": used, "total": _num(total) or Decimal(0)}
    upd = info.get("updateTime") if isinstance(info, dict) else None
    ts = bal.get("timestamp") or upd
    return out, int(ts) if ts else None
