"""The engine of the paper venue: resting limits wait in a risk-averse queue behind the displayed size.

:class:`PaperEngine` is :class:`kit.engine.Engine` with the queue rules of the paper fill model
(:mod:`kit.engine.paperfill`, ``specs/paper-trading.md`` (b)2) applied to its book-fed matching:

- a resting limit starts behind everything displayed at its price on its side (``F0 = Q``);
- a print at its price moves it up by the print's size, and it fills once ``F < 0``
  (``min(leaves, -F)``), then ``F = 0``;
- a book update caps ``F`` at the size now displayed there (cancels never move it forward);
- a print one tick or more through its price is sweep evidence and fills it (the engine's rule).

The plain engine (``FillModel.at_touch``) estimates the queue from candle volume; on a live book
the displayed size is the better estimate.

Examples
--------
>>> from decimal import Decimal as D
>>> from kit.engine import BookSnapshot, Market, OrderRequest, OrderType, Side, Trade
>>> eng = PaperEngine([Market("BTC/USDT", "BTC", "USDT", tick_size=D("0.01"), step_size=D("0.001"))])
>>> _ = eng.open_account("me", {"USDT": 1000})
>>> _ = eng.on_book("BTC/USDT", BookSnapshot(0, ((D(100), D(5)),), ((D("100.01"), D(4)),)))
>>> ev = eng.submit("me", OrderRequest("BTC/USDT", Side.BUY, OrderType.LIMIT, quantity=D(3), price=D(100)), ts_ms=1)
>>> eng.on_trade("BTC/USDT", Trade(2, D(100), D(3), Side.SELL))      # 5 ahead: 2 left
[]
>>> [e.fill.quantity for e in eng.on_trade("BTC/USDT", Trade(3, D(100), D(4), Side.SELL)) if e.fill]
[Decimal('2')]
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from kit.engine.engine import Engine
from kit.engine.fillmodel import FillModel
from kit.engine.types import BookSnapshot, Event, EventKind, Market, OrderRequest
from kit.engine.working import Working

ZERO = Decimal(0)

#: Fill model of the paper venue: at-touch fills behind the queue, sweeps one tick through.
PAPER_FILL_MODEL = FillModel(trade_through_ticks=1, at_touch=True, queue_ahead_fraction=ZERO)


class PaperEngine(Engine):
    """:class:`Engine` with the risk-averse queue on the live book (see the module docstring).

    Parameters
    ----------
    markets
        The tradable symbols.
    fill_model
        Must have ``at_touch=True`` (default :data:`PAPER_FILL_MODEL`).
    """

    def __init__(self, markets: Iterable[Market], *, fill_model: FillModel | None = None) -> None:
        model = fill_model or PAPER_FILL_MODEL
        if not model.at_touch:
            raise ValueError("PaperEngine queues resting orders at the touch: use a FillModel with at_touch=True")
        super().__init__(markets, fill_model=model)

    def _displayed(self, w: Working) -> Decimal:
        book = self._books.get(w.req.symbol)
        if book is None or w.price is None:
            return ZERO
        return sum((q for p, q in (book[0] if w.buy else book[1]) if p == w.price), ZERO)

    def submit(self, account: str, req: OrderRequest, *, ts_ms: int) -> list[Event]:
        """Accept ``req`` as :meth:`Engine.submit` does; a resting limit starts behind the displayed size."""
        out = super().submit(account, req, ts_ms=ts_ms)
        for ev in out:
            if ev.kind is EventKind.ACCEPTED and ev.order is not None:
                w = self._orders.get(ev.order.id)
                if w is not None and w.status.is_open and w.price is not None:
                    w.queue_ahead = max(w.queue_ahead, self._displayed(w))
        return out

    def on_book(self, symbol: str, book: BookSnapshot) -> list[Event]:
        """Replace the book; first cap each resting order's queue at the size now displayed at its price."""
        for w in self._open[symbol].values():
            if w.price is not None and w.queue_ahead > 0:
                shown = sum((q for p, q in (book.bids if w.buy else book.asks) if p == w.price), ZERO)
                w.queue_ahead = min(w.queue_ahead, shown)
        return super().on_book(symbol, book)
