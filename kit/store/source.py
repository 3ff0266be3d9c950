"""What the store needs from an exchange: a :class:`CandleSource` (``session.candle_source()``).

The store never talks to ccxt itself. The Session implements this protocol over its ccxt client,
so candle requests share the Session's rate budget, retries and error mapping (``kit.errors``).
Tests implement it over a real ccxt client pointed at localnet.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["CandleSource"]


@runtime_checkable
class CandleSource(Protocol):
    """An exchange seen by the candle store.

    Attributes
    ----------
    venue
        Name used in the on-disk layout, e.g. ``"localnet"``, ``"binance"``, ``"binance-testnet"``.
    max_page
        Most candles the exchange returns per request (Binance: 1000).

    Optional: ``max_in_flight`` (an int, or a method taking the page size), how many
    ``fetch_ohlcv`` calls the store may make at once from worker threads (the source must then be
    safe to call from several threads). A Session's source derives it from its weight budget
    (:func:`kit.session.candles.pages_in_flight`); without it, one at a time. See
    :func:`kit.store.fill.in_flight`.
    """

    venue: str
    max_page: int

    def timeframes(self) -> dict[str, int]:
        """Timeframes the exchange serves, ``"1m" -> 60_000`` ms (from ccxt's ``exchange.timeframes``)."""
        ...

    def has_symbol(self, symbol: str) -> bool:
        """True if the exchange lists the unified symbol (markets already loaded: no request)."""
        ...

    def fetch_ohlcv(self, symbol: str, timeframe: str, since_ms: int, limit: int) -> list[list[float]]:
        """Ccxt OHLCV rows ``[t, o, h, l, c, v]`` from ``since_ms``; rate budget and retries inside."""
        ...

    def now_ms(self) -> int:
        """Exchange time in ms (no request needed), so the forming candle is never stored as final."""
        ...
