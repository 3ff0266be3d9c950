"""The Session as a candle source for :mod:`kit.store` (its ``CandleSource`` protocol).

Candle requests go through the Session's request seam (:class:`~kit.session.base.ExchangeApi`), so
they share its rate budget, retries and error mapping with every other request of this exchange and IP.

>>> src = session.candle_source()              # doctest: +SKIP
>>> src.fetch_ohlcv("BTC/USDT", "1m", since_ms=0, limit=1000)   # doctest: +SKIP
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from kit.transport.limits import WeightBudget, endpoint_weight

if TYPE_CHECKING:
    from kit.session.base import SessionBase as Session

# The most candles one request returns, by ccxt exchange id (the exchange's documented maximum).
MAX_PAGE = {"binance": 1000}


def pages_in_flight(budget: WeightBudget | None, exchange_id: str, page_size: int) -> int:
    """How many candle pages may be on the wire at once without risking the exchange's limit.

    Every request takes its weight from the budget before it is sent, so the budget alone decides
    how much is spent per window; but a request charged at the very end of one window may be
    counted by the server in the next one, on top of that window's full share. The budget keeps a
    slack under the exchange's limit (``limit - capacity``); that many pages' weight may straddle.

    >>> from kit.transport.limits import WeightBudget
    >>> import tempfile
    >>> d = tempfile.TemporaryDirectory()
    >>> [pages_in_flight(WeightBudget(f"b{n}", limit_per_minute=n, directory=d.name), "binance", 1000)
    ...  for n in (6000, 120, 100, 60)]
    [150, 3, 2, 1]
    >>> d.cleanup()
    """
    if budget is None:
        return 1
    weight = endpoint_weight(exchange_id, "GET", "/api/v3/klines", {"symbol": "X", "limit": page_size})
    return max(1, (budget.limit - budget.capacity) // max(1, weight))


class SessionCandles:
    """A :class:`kit.store.source.CandleSource` over a Session."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.api = session.api
        self.venue = session.venue
        ex_id = session.spec.exchange_id
        features = (self.api.features.get("spot") or {}).get("fetchOHLCV") or {}
        self.max_page = int(features.get("limit") or MAX_PAGE.get(ex_id, 500))

    def max_in_flight(self, page_size: int) -> int:
        """Candle pages :mod:`kit.store` may request at once through this Session (:func:`pages_in_flight`)."""
        return pages_in_flight(self.session.budget, self.session.spec.exchange_id, page_size)

    def timeframes(self) -> dict[str, int]:
        """Timeframes the exchange serves, in milliseconds."""
        return self.api.timeframes()

    def has_symbol(self, symbol: str) -> bool:
        """True if the exchange lists ``symbol`` (no request: markets are loaded at connect)."""
        return symbol in self.api.markets

    def fetch_ohlcv(self, symbol: str, timeframe: str, since_ms: int, limit: int) -> list[list[Any]]:
        """One page of candles, through the Session's budget, retries and error mapping."""
        rows: list[list[Any]] = self.api.call(
            "fetch_ohlcv", lambda ex: ex.fetch_ohlcv(symbol, timeframe, since_ms, limit), method="GET",
            path="/api/v3/klines", params={"symbol": symbol, "limit": limit}, symbol=symbol, write=False,
        )  # fmt: skip
        return rows

    def now_ms(self) -> int:
        """Exchange time: local time corrected by the measured clock offset."""
        report = self.session.clock_report
        return int(time.time() * 1000) + (report.offset_ms if report else 0)
