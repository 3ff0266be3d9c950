"""ccxt's lists of trades put back in the exchange's order.

ccxt sorts a page of trades by (timestamp, id as a string) (``Exchange.parse_trades``), so trades
9 and 11 of one millisecond come back as 11, 9. Every layer that reads trades from ccxt (the paper
feed's tape, ``Session.trades`` and its journal) orders them here, once.

>>> [t["id"] for t in in_trade_order([{"id": "11", "timestamp": 5}, {"id": "9", "timestamp": 5}])]
['9', '11']
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["in_trade_order"]


def in_trade_order(trades: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Trades ordered by (time, integer trade id), as the exchange lists them.

    Ids that are not all integers (a venue with opaque ids) leave ccxt's order as it is.
    """
    out = list(trades)
    if all(str(t.get("id") or "").isdigit() for t in out):
        out.sort(key=lambda t: (t.get("timestamp") or 0, int(t["id"])))
    return out
