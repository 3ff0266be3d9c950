"""The fill model: how pessimistic paper fills are, and the price arithmetic it uses.

The default is conservative on purpose (the common complaint about paper trading is fills that
were too good):

- a resting limit order fills only when the price trades *through* it by at least one tick;
  with ``at_touch=True`` it may fill at touch, but only after an estimated queue ahead of it
  has traded;
- a resting (maker) order fills at its own limit price, never better: when a candle gaps
  through a buy resting at 99 (opening at 97), it fills at 99, as an exchange fills a resting
  order at its price. Only an order that crosses on arrival (a taker) may get a better price;
- per candle, all orders of a symbol together take at most ``participation`` of the candle's
  volume, and what one order took is gone for the others;
- market and triggered orders pay slippage: ``slippage_ticks`` ticks (the half spread) plus
  ``impact x (high - low) x sqrt(qty / volume)`` (market impact), always against the trader,
  and never outside the candle's ``[low, high]``.

>>> from decimal import Decimal as D
>>> fm = FillModel()
>>> fm.slipped_price(D("100.00"), buy=True, qty=D("1"), high=D("101"), low=D("99"),
...                  volume=D("100"), tick=D("0.01"))
Decimal('100.11')
>>> floor_to(D("0.123456"), D("0.001")), ceil_to(D("1.0001"), D("0.01"))
(Decimal('0.123'), Decimal('1.01'))
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import (
    ROUND_CEILING,
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
)

ZERO = Decimal(0)

#: Significant digits of every engine computation. Decimal's default context has 28: a notional
#: such as 1.23456789012345678 x 12345.6789012345 (32 digits) was rounded silently there.
PRECISION = 60
#: A context wide enough that the engine's amounts stay exact; the engine calls its methods
#: (``WIDE.divide``) where a result is rounded on purpose (floors to a step, fees up to their
#: precision), so the integer part of a quotient is never cut to 28 digits.
WIDE = Context(prec=PRECISION, rounding=ROUND_HALF_EVEN, Emin=-999_999, Emax=999_999,
               traps=[InvalidOperation, DivisionByZero, Overflow])  # fmt: skip
#: The same, but rounding is an error (``decimal.Inexact``): notionals, balances and order
#: totals are computed with its methods (``EXACT.multiply``, ``EXACT.add``), never rounded.
EXACT = WIDE.copy()
EXACT.traps[Inexact] = True


def floor_to(value: Decimal, step: Decimal) -> Decimal:
    """Round ``value`` down to a multiple of ``step``.

    >>> floor_to(Decimal("7"), Decimal("2"))
    Decimal('6')
    """
    return WIDE.multiply(WIDE.divide(value, step).to_integral_value(ROUND_FLOOR, WIDE), step)


def ceil_to(value: Decimal, step: Decimal) -> Decimal:
    """Round ``value`` up to a multiple of ``step``.

    >>> ceil_to(Decimal("7"), Decimal("2"))
    Decimal('8')
    """
    return WIDE.multiply(WIDE.divide(value, step).to_integral_value(ROUND_CEILING, WIDE), step)


def is_multiple(value: Decimal, step: Decimal) -> bool:
    """True if ``value`` is an exact multiple of ``step``.

    >>> is_multiple(Decimal("0.30"), Decimal("0.1")), is_multiple(Decimal("0.35"), Decimal("0.1"))
    (True, False)
    """
    return step > 0 and (value % step) == 0


@dataclass(frozen=True, slots=True)
class FillModel:
    """How the engine turns candles (or trades, or book snapshots) into fills.

    Parameters
    ----------
    trade_through_ticks:
        A resting limit fills only if the price goes this many ticks beyond it.
    at_touch:
        Allow fills at the limit price itself, after the estimated queue ahead has traded.
    queue_ahead_fraction:
        With ``at_touch``: the queue ahead of a new order, as a share of the volume of the
        candle it was placed in.
    participation:
        Share of each candle's volume that all orders of a symbol may take together.
    slippage_ticks:
        Adverse slippage for market and triggered orders, in ticks (the half spread).
    impact:
        Market-impact coefficient: added slippage = impact x range x sqrt(qty / volume).

    Examples
    --------
    >>> FillModel(trade_through_ticks=0, participation=Decimal("0.25")).participation
    Decimal('0.25')
    """

    trade_through_ticks: int = 1
    at_touch: bool = False
    queue_ahead_fraction: Decimal = Decimal("0.5")
    participation: Decimal = Decimal("0.1")
    slippage_ticks: int = 1
    impact: Decimal = Decimal("0.5")

    def __post_init__(self) -> None:
        if self.trade_through_ticks < 0 or self.slippage_ticks < 0:
            raise ValueError("trade_through_ticks and slippage_ticks must be >= 0")
        if not ZERO < self.participation <= 1:
            raise ValueError("participation must be in (0, 1], e.g. Decimal('0.1') for 10 % of volume")
        if self.impact < 0 or not ZERO <= self.queue_ahead_fraction <= 1:
            raise ValueError("impact must be >= 0 and queue_ahead_fraction in [0, 1]")

    def budget(self, volume: Decimal, step: Decimal) -> Decimal:
        """Base quantity all orders of a symbol may take from a candle of ``volume``."""
        if volume <= 0:
            return ZERO
        return floor_to(volume * self.participation, step)

    def slipped_price(
        self,
        ref: Decimal,
        *,
        buy: bool,
        qty: Decimal,
        high: Decimal,
        low: Decimal,
        volume: Decimal,
        tick: Decimal,
    ) -> Decimal:
        """Price a market or triggered order pays, from the reference price ``ref``.

        The result is moved against the trader, rounded to tick (against the trader) and
        clamped into ``[low, high]``.
        """
        slip = tick * self.slippage_ticks
        if volume > 0 and high > low and self.impact > 0:
            slip += self.impact * (high - low) * (qty / volume).sqrt()
        if buy:
            return min(ceil_to(ref + slip, tick), high)
        return max(floor_to(ref - slip, tick), low)
