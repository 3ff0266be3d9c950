"""Trades in trade-id order, whatever order ccxt lists them in: the paper feed and ``Session.trades``.

ccxt sorts a page of trades by (timestamp, id as a string): trades of one millisecond whose ids
cross a power of ten come back as "11", "9", "10". The page here is parsed by a real ccxt binance
client from Binance-shaped rows (no network), then pushed through the feed.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import ccxt

from kit.paper.feed import Feed
from kit.session.frames import trades_frame


class _Tape:
    def __init__(self) -> None:
        self.fed: list[Decimal] = []

    def feed(self, ts_ms: int, price: Decimal, qty: Decimal, *, buyer_maker: bool) -> None:
        self.fed.append(price)


def _page() -> list[dict[str, Any]]:
    ex = ccxt.binance()
    ex.markets = None
    rows = [
        {"id": i, "price": f"{100 + i}.00", "qty": "1.0", "quoteQty": "1", "time": 1_700_000_000_000,
         "isBuyerMaker": False, "isBestMatch": True}
        for i in (9, 10, 11)
    ]  # fmt: skip
    return ex.parse_trades(rows)


def test_ccxt_lists_same_millisecond_trades_by_string_id() -> None:
    assert [t["id"] for t in _page()] == ["10", "11", "9"]  # the trap this guards against


def test_the_feed_pushes_a_page_in_trade_order_and_skips_what_it_has_seen() -> None:
    feed = Feed(lambda: None)
    try:
        tape = _Tape()
        last = feed._push(_page(), tape, 8)
        assert tape.fed == [Decimal("109"), Decimal("110"), Decimal("111")] and last == 11
        assert feed._push(_page(), tape, last) == 11 and len(tape.fed) == 3  # nothing twice
    finally:
        feed.close()


def test_a_session_trades_frame_lists_fills_in_trade_order() -> None:
    frame = trades_frame(_page())
    assert list(frame["id"]) == ["9", "10", "11"] and list(frame["price"]) == [109.0, 110.0, 111.0]
