"""What an order would do, checked the way :meth:`kit.session.Session.place` checks it, sending nothing.

The order ticket calls :func:`preview` on every keystroke: it runs :meth:`Session.check
<kit.session.trading.Trading.check>`, the very checks :meth:`~kit.session.Session.place` runs before
sending (kill switch, stage, parsing, the market's filters, the venue's features, degradation, the
guard's caps, the clock) as a dry run: no request is sent and nothing is journaled. The notional and
fee are estimates from the limit (or trigger) price, else the last price the Session has seen.

>>> from kit.session import Session                        # doctest: +SKIP
>>> p = preview(Session("localnet"), "BTC/USDT", "buy", "0.001", price="60000.005")  # doctest: +SKIP
>>> p.ok, p.error.filter                                   # doctest: +SKIP
(False, 'PRICE_FILTER')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from kit.engine.order import ORDER_KEYWORDS, OrderSpec
from kit.engine.types import TimeInForce
from kit.errors import KitError, OrderRejected

if TYPE_CHECKING:
    from kit.session.core import Session

__all__ = ["Preview", "preview"]

#: The order keywords of :meth:`Session.place` besides symbol, side, amount: the fields of :class:`OrderSpec`.
_ORDER_KEYWORDS = ORDER_KEYWORDS


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
    intent: OrderSpec | None = None
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
        text = f"{it.side.value.upper()} {it.amount} {it.symbol}"
        if it.price is not None:
            text += f" @ {it.price}"
        else:
            text += " @ market"
        if it.kind.is_conditional:
            text += f" ({it.kind.value.replace('_', ' ')}"
            if it.trigger_price is not None:
                text += f", trigger {it.trigger_price}"
            if it.trailing_bps is not None:
                text += f", trail {it.trailing_bps} bps"
            text += ")"
        if it.post_only:
            text += " post-only"
        elif it.price is not None and it.time_in_force is not TimeInForce.GTC:
            text += f" {it.time_in_force.value}"
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


def preview(session: Session, symbol: str, side: str, amount: Any, *, last_price: Any = None, **order: Any) -> Preview:
    """Check an order as :meth:`Session.place` would, without sending or journaling anything.

    Parameters
    ----------
    session
        The Session the order would go through.
    symbol, side, amount
        As for :meth:`Session.place`.
    last_price
        Reference price for market orders; default: the last price the Session has seen (its
        :meth:`~Session.ticker` calls), so no request is needed.
    **order
        The rest of the order, with :meth:`Session.place`'s keywords (``price``, ``type``,
        ``trigger_price``, ``trailing_bps``, ``time_in_force``, ``post_only``, ``reduce_only``,
        ``iceberg_amount``); an unknown keyword is reported as the preview's error.

    Returns
    -------
    Preview
        ``ok`` with the notional and fee estimate, or the error ``place`` would raise.
    """
    market = session.market(symbol) or {}
    quote = str(market.get("quote") or "")
    taker, maker = _dec(market.get("taker")), _dec(market.get("maker"))
    base: dict[str, Any] = {"quote": quote, "taker_rate": taker, "maker_rate": maker}
    last = _dec(last_price) if last_price is not None else session.last_price(symbol)
    unknown = sorted(set(order) - _ORDER_KEYWORDS)
    if unknown:
        err = OrderRejected(f"unknown order keyword(s) {unknown}", symbol=symbol,
                            hint=f"Use place()'s keywords: {', '.join(sorted(_ORDER_KEYWORDS))}.")  # fmt: skip
        return Preview(ok=False, error=err, **base)
    try:  # parsed here too, so the estimate shows even when a later check refuses the order
        it: OrderSpec | None = OrderSpec.parse(symbol, side, amount, **order)
    except KitError:
        it = None  # check() below raises the same error, after the kill switch and stage checks
    ref = (it.price or it.trigger_price or last) if it is not None else None
    notional = it.base_amount * ref if it is not None and ref is not None else None
    rate = maker if it is not None and it.post_only else taker
    fee = notional * rate if notional is not None and rate is not None else None
    est: dict[str, Any] = {**base, "intent": it, "reference_price": ref, "notional": notional, "fee_rate": rate,
                           "fee": fee}  # fmt: skip
    try:
        checked = session.check(symbol, side, amount, last_price=last, read_balance=False, **order)
    except KitError as exc:
        return Preview(ok=False, error=exc, **est)
    return Preview(ok=True, warnings=checked.warnings, **est)
