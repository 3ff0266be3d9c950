"""Private streams of a Session: order updates, fills and balances, live, journaled, self-healing.

ccxt.pro's ``watch_orders`` / ``watch_my_trades`` / ``watch_balance`` run as tasks on the
Session's background loop. Every fill is journaled exactly once (the journal keys fills by
trade id), every order update is journaled, and callbacks (a blotter, a status bar) are told.
When a stream breaks, it reconnects with backoff, and before the state is trusted again the
missed interval is filled from REST: every fill since the last exchange trade seen, exactly once
(the fill sweep of :mod:`kit.session.fills`, which reconciliation builds on as well). Until that
backfill succeeds, :attr:`Streams.healthy` is False.

>>> from kit.session import Session                      # doctest: +SKIP
>>> s = Session("localnet")                              # doctest: +SKIP
>>> st = watch(s, lambda kind, data: print(kind, data.get("status")))   # doctest: +SKIP
>>> s.place("BTC/USDT", "buy", "0.001")                  # doctest: +SKIP
order closed
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kit.session.fills import sweep_fills
from kit.transport.backoff import Backoff

if TYPE_CHECKING:
    from kit.session.core import Session

log = logging.getLogger("kit.session.streams")
Callback = Callable[[str, dict[str, Any]], None]


class Streams:
    """The private streams of one Session (see the module docstring)."""

    def __init__(self, session: Session, symbols: list[str] | None = None) -> None:
        self.session = session
        self.symbols = symbols
        self.callbacks: list[Callback] = []
        self.healthy = False
        self.reconnects = 0
        self.last_event_ms: int | None = None
        self.last_error: str | None = None
        self._tasks: list[Any] = []
        self._stopped = False

    # -- public ----------------------------------------------------------------------------------
    def subscribe(self, callback: Callback) -> None:
        """Call ``callback(kind, data)`` for each event: kind is "order", "trade", "balance" or "status"."""
        self.callbacks.append(callback)

    def unsubscribe(self, callback: Callback) -> None:
        """Stop calling ``callback`` (a closed widget)."""
        if callback in self.callbacks:
            self.callbacks.remove(callback)

    def start(self) -> Streams:
        """Start the three watch loops on the Session's background loop (idempotent)."""
        if self._tasks:
            return self
        api = self.session.api
        for name in ("orders", "trades", "balance"):
            self._tasks.append(api.submit(self._run(name)))
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop watching and wait for the watch tasks to end (the Session stays open)."""
        import concurrent.futures

        self._stopped = True
        for t in self._tasks:
            t.cancel()
        concurrent.futures.wait(self._tasks, timeout=timeout)
        self._tasks.clear()

    def status(self) -> dict[str, Any]:
        """Health of the streams, for a status bar."""
        return {"healthy": self.healthy, "reconnects": self.reconnects, "last_event_ms": self.last_event_ms,
                "last_error": self.last_error}  # fmt: skip

    # -- loops -----------------------------------------------------------------------------------
    async def _run(self, name: str) -> None:
        backoff = Backoff(base_s=0.5, cap_s=15, max_tries=1_000_000)
        attempt = 0
        while not self._stopped:
            waiter: asyncio.Future[None] | None = None
            try:
                if attempt:
                    # reconnecting: subscribe first (the watch call subscribes), then fill the gap
                    # from REST while the stream already buffers what happens next
                    waiter = asyncio.ensure_future(self._once(name))
                    await asyncio.sleep(0.3)
                    await self._backfill()
                    attempt = 0
                    self.healthy = True
                    await waiter
                else:
                    await self._once(name)
                self.healthy = True
            except asyncio.CancelledError:
                if waiter is not None:
                    waiter.cancel()
                raise
            except Exception as exc:  # a broken stream: reconnect, then backfill from REST
                if waiter is not None and not waiter.done():
                    waiter.cancel()
                self.healthy = False
                self.last_error = f"{type(exc).__name__}: {exc}"[:200]
                self.reconnects += 1
                self._emit("status", {"healthy": False, "error": self.last_error, "stream": name})
                log.warning("%s stream broke (%s); reconnecting", name, self.last_error)
                await asyncio.sleep(backoff.delay(min(attempt, 6)))
                attempt += 1

    async def _once(self, name: str) -> None:
        api = self.session.api
        if name == "orders":
            for order in await api.stream("watch_orders", lambda ex: ex.watch_orders()):
                await asyncio.to_thread(self._on_order, order)
        elif name == "trades":
            for trade in await api.stream("watch_my_trades", lambda ex: ex.watch_my_trades()):
                await asyncio.to_thread(self._on_trade, trade)
        else:
            balance = await api.stream("watch_balance", lambda ex: ex.watch_balance())
            self._emit("balance", balance)
        self.last_event_ms = int(time.time() * 1000)

    def _on_order(self, order: dict[str, Any]) -> None:
        self.session.api.journal(
            "order", symbol=order.get("symbol") or "", client_id=str(order.get("clientOrderId") or ""),
            order_id=str(order.get("id") or ""), status=str(order.get("status")), filled=order.get("filled"),
            remaining=order.get("remaining"), average=order.get("average"),
        )  # fmt: skip
        self._emit("order", order)

    def _on_trade(self, trade: dict[str, Any]) -> None:
        if self.session.api.record_trade(trade):
            self._emit("trade", trade)

    async def _backfill(self) -> None:
        """Fill the gap from REST: every fill the exchange has that the journal lacks, exactly once.

        Uses the fill sweep that reconciliation uses too (:func:`kit.session.fills.sweep_fills`),
        whose watermark is the last trade seen on the exchange, not the last one journaled: a fill
        missed while the stream was down is found even when a later one reached the journal through REST.
        """
        sweep = await asyncio.to_thread(sweep_fills, self.session, self.symbols)
        for fill in sweep.adopted:  # subscribers hear of a fill found by the backfill as of a streamed one
            self._emit("trade", {"symbol": fill.symbol, "id": fill.trade_id, "order": fill.order_id,
                                 "clientOrderId": fill.client_id, "side": fill.side, "amount": fill.amount,
                                 "price": fill.price, "backfilled": True})  # fmt: skip
        self._emit("status", {"healthy": True, "backfilled": sorted(sweep.watermarks)})

    def _emit(self, kind: str, data: dict[str, Any]) -> None:
        for cb in list(self.callbacks):
            try:
                cb(kind, data)
            except Exception:  # a broken widget must not kill the stream
                log.exception("stream callback failed")


def watch(session: Session, callback: Callback | None = None, *, symbols: list[str] | None = None) -> Streams:
    """Start (or reuse) the Session's private streams and subscribe ``callback`` to them.

    The streams are the Session's ``"streams"`` helper (:meth:`~kit.session.base.ExchangeApi.helper`):
    one per Session, stopped when it closes.
    """
    streams = session.api.helper("streams", lambda: Streams(session, symbols), on_close=Streams.stop)
    streams.start()
    if callback is not None:
        streams.subscribe(callback)
    return streams
