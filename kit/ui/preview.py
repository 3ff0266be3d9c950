"""What an order would do, checked the way :meth:`kit.session.Session.place` checks it, sending nothing.

The order ticket calls :func:`preview` on every keystroke: it parses the input into an
:class:`~kit.session.orders.OrderIntent`, validates it against the market's filters and the
venue's features (:func:`kit.session.orders.validate`), and asks a copy of the session's
:class:`~kit.guard.Guard` (without its journal, so nothing is written) whether the stage, the
kill switch and the caps allow it. No request is sent and nothing is journaled; the notional and
fee are estimates from the limit (or trigger) price, else the last price the Session has seen.

>>> from kit.session import Session                        # doctest: +SKIP
>>> p = preview(Session("localnet"), "BTC/USDT", "buy", "0.001", price="60000.005")  # doctest: +SKIP
>>> p.ok, p.error.filter                                   # doctest: +SKIP
(False, 'PRICE_FILTER')
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from kit.errors import ExchangeUnavailable, KitError, StageError
from kit.session.orders import OrderIntent, validate

if TYPE_CHECKING:
    from kit.session.core import Session

__all__ = ["Preview", "preview"]


@dataclass(frozen=True)
class Preview:
    """The outcome of :func:`preview`.

    Attributes
    ----------
    ok
        True when :meth:`Session.place` would send this order (as far as can be known locally).
    error
        The :class:`~kit.errors.KitError` ``place`` would raise before sending, else ``None``.
    intent
        The parsed order, when the input parsed.
    reference_price
        Limit price, else trigger price, else the last traded price the Session has seen.
    notional
        ``amount x reference_price`` in the quote currency, when a reference price is known.
    fee_rate, fee
        The market's taker rate (maker for post-only orders) and the fee it gives on ``notional``.
    maker_rate, taker_rate
        Both of the market's rates (a limit order that rests pays maker, one that crosses pays taker).
    quote
        The quote currency of the symbol.
    warnings
        Things that do not block the order but the trader should see.
    """

    ok: bool
    error: KitError | None = None
    intent: OrderIntent | None = None
    reference_price: Decimal | None = None
    notional: Decimal | None = None
    fee_rate: Decimal | None = None
    fee: Decimal | None = None
    maker_rate: Decimal | None = None
    taker_rate: Decimal | None = None
    quote: str = ""
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def message(self) -> str:
        """The error's full text (what went wrong and what to do), or ``""``."""
        return str(self.error) if self.error is not None else ""

    @property
    def summary(self) -> str:
        """One line naming the order, e.g. ``"BUY 0.001 BTC/USDT @ market"``."""
        it = self.intent
        if it is None:
            return ""
        text = f"{it.side.upper()} {it.amount} {it.symbol}"
        if it.price is not None:
            text += f" @ {it.price}"
        else:
            text += " @ market"
        if it.type not in ("market", "limit"):
            text += f" ({it.type.replace('_', ' ')}"
            if it.trigger_price is not None:
                text += f", trigger {it.trigger_price}"
            if it.trailing_bps is not None:
                text += f", trail {it.trailing_bps} bps"
            text += ")"
        if it.post_only:
            text += " post-only"
        elif it.price is not None and it.time_in_force != "GTC":
            text += f" {it.time_in_force}"
        if it.iceberg_amount is not None:
            text += f" iceberg {it.iceberg_amount}"
        return text


def _dec(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
    except ArithmeticError:
        return None


def _session_internals(session: Session, symbol: str) -> dict[str, Any]:
    """What ``place`` checks an order against, from the Session's public accessors (no request)."""
    return {
        "market": session.market(symbol),
        "features": session.features(),
        "last_price": session.last_price(symbol),
        "today": session.today(),
    }


def preview(
    session: Session,
    symbol: str,
    side: str,
    amount: Any,
    *,
    price: Any = None,
    type: str | None = None,
    trigger_price: Any = None,
    trailing_bps: int | None = None,
    time_in_force: str = "GTC",
    post_only: bool = False,
    reduce_only: bool = False,
    iceberg_amount: Any = None,
    last_price: Any = None,
) -> Preview:
    """Check an order as :meth:`Session.place` would, without sending or journaling anything.

    Parameters
    ----------
    session
        The Session the order would go through.
    symbol, side, amount, price, type, trigger_price, trailing_bps
        As for :meth:`Session.place`.
    time_in_force, post_only, reduce_only, iceberg_amount
        As for :meth:`Session.place`.
    last_price
        Reference price for market orders; default: the last price the Session has seen (its
        :meth:`~Session.ticker` calls), so no request is needed.

    Returns
    -------
    Preview
        ``ok`` with the notional and fee estimate, or the error ``place`` would raise.
    """
    try:
        internals = _session_internals(session, symbol)
    except KitError as exc:
        return Preview(ok=False, error=exc)
    market = internals["market"] or {}
    quote = str(market.get("quote") or "")
    taker, maker = _dec(market.get("taker")), _dec(market.get("maker"))
    base: dict[str, Any] = {"quote": quote, "taker_rate": taker, "maker_rate": maker}
    last = _dec(last_price) if last_price is not None else internals["last_price"]

    reason = session.kill_switch.engaged()
    if reason is not None:
        from kit.errors import KillSwitchEngaged

        return Preview(ok=False, error=KillSwitchEngaged(f"kill switch engaged ({reason})"), **base)
    if not session.stage.allows_orders:
        err = StageError(f"orders are not allowed in the {session.stage.value} stage", symbol=symbol)
        return Preview(ok=False, error=err, **base)
    try:
        it = OrderIntent.build(
            symbol,
            side,
            amount,
            price=price,
            type=type,
            trigger_price=trigger_price,
            trailing_bps=trailing_bps,
            time_in_force=time_in_force,
            post_only=post_only,
            reduce_only=reduce_only,
            iceberg_amount=iceberg_amount,
        )
    except KitError as exc:
        return Preview(ok=False, error=exc, **base)

    ref = it.price or it.trigger_price or last
    notional = it.amount * ref if ref is not None else None
    rate = maker if it.post_only else taker
    fee = notional * rate if notional is not None and rate is not None else None
    est: dict[str, Any] = {**base, "intent": it, "reference_price": ref, "notional": notional, "fee_rate": rate,
                           "fee": fee}  # fmt: skip
    warnings: list[str] = []
    try:
        validate(it, internals["market"], internals["features"], last_price=last)
        caps = session.guard.caps
        needs_notional = caps.max_order_notional is not None or caps.max_daily_notional is not None
        if notional is None and needs_notional:
            # place() fetches a ticker in this case; the preview sends nothing, so it can only warn.
            warnings.append("no recent price: the notional caps are checked when the order is placed")
        else:
            today = internals["today"]
            shadow = copy.copy(session.guard)
            shadow.journal = None  # a Guard without a journal writes nothing (kit.guard.Guard._journal)
            shadow.check_order(
                symbol=symbol,
                side=it.side,
                amount=it.amount,
                price=it.price,
                notional=notional or Decimal(0),
                open_orders=int(today["open_orders"]),
                daily_notional=Decimal(today["notional"]),
                daily_pnl=Decimal(today["pnl"]),
                now_ms=int(time.time() * 1000),
            )
        if session.degraded:
            raise ExchangeUnavailable(f"session degraded: {session.degraded}", hint="No request would be sent.")
    except KitError as exc:
        return Preview(ok=False, error=exc, warnings=tuple(warnings), **est)
    if notional is None:
        warnings.append("no recent price: notional and fee are unknown until the price is fetched")
    return Preview(ok=True, warnings=tuple(warnings), **est)
