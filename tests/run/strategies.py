"""Strategies the runner tests start in a child process (``kit run tests/run/strategies.py:Flip``)."""

from __future__ import annotations

from decimal import Decimal

from kit.strategy import Strategy


class Flip(Strategy):
    """Buys when flat, sells the position otherwise: one market order per candle."""

    lookback = 10
    size = Decimal("0.001")

    def next(self) -> None:
        """One order per candle."""
        if self.flat:
            self.buy(self.size)
        else:
            self.close_position()


class FlipTwo(Flip):
    """:class:`Flip` sized for BTC/USDT and ETH/USDT (0.01 ETH meets ETH's minimum notional)."""

    def next(self) -> None:
        """One order per candle."""
        if self.flat:
            self.buy(Decimal("0.01") if self.symbol.startswith("ETH") else self.size)
        else:
            self.close_position()
