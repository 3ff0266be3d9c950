"""The paper venue's market data: another venue's public trades and order book, streamed.

A :class:`Feed` runs one background thread with its own asyncio loop and a public (keyless)
``ccxt.pro`` client to the upstream venue. Per symbol it watches the order book and the trades
(ccxt.pro streams) and hands them to the paper venue's :class:`~kit.localnet.market.MirrorSource`
and :class:`~kit.paper.book.MirrorBook`. When a stream fails it falls back to REST polling for
``fallback_s`` (every request spends the machine's shared rate budget,
:class:`kit.transport.limits.WeightBudget`, under the same key a Session on that venue uses),
then tries the stream again. While a book is stale (no data for ``stale_ms``) the paper venue
keeps the last levels; docs/paper.md says what that costs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from kit.transport.trade_order import in_trade_order

log = logging.getLogger("kit.paper")


def wall_ms() -> int:
    """Local wall-clock time in ms (the receive stamp of upstream data)."""
    return time.time_ns() // 1_000_000


@dataclass
class FeedStats:
    """What the feed has done, per source (for tests, the doctor and the docs' figures)."""

    books: int = 0
    trades: int = 0
    rest_books: int = 0
    rest_trades: int = 0
    stream_errors: int = 0
    errors: list[str] = field(default_factory=list)


class Feed:
    """Streams of one upstream venue into mirror books and sources (see module docstring).

    Parameters
    ----------
    make_client
        Builds the upstream ``ccxt.pro`` client (called on the feed's own loop).
    budget
        Spends REST weight before each fallback request: ``budget(method, path, params)``; None
        spends nothing (tests).
    depth
        Book levels per side to keep.
    fallback_s
        How long REST polling lasts after a stream error before the stream is tried again.
    poll_s
        REST polling interval during a fallback.
    """

    def __init__(
        self,
        make_client: Callable[[], Any],
        *,
        budget: Callable[[str, str, dict[str, Any]], None] | None = None,
        depth: int = 100,
        fallback_s: float = 5.0,
        poll_s: float = 1.0,
    ) -> None:
        self._make_client = make_client
        self._budget = budget
        self.depth = depth
        self.fallback_s = fallback_s
        self.poll_s = poll_s
        self.stats = FeedStats()
        self.client: Any = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="kit-paper-feed", daemon=True)
        self._thread.start()
        self._tasks: list[Any] = []
        self._stop = False

    def run(self, coro: Any, timeout: float = 60.0) -> Any:
        """Run a coroutine on the feed's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def connect(self) -> dict[str, Any]:
        """Create the client and load the upstream's markets (ccxt unified dicts by symbol)."""

        async def go() -> dict[str, Any]:
            self.client = self._make_client()
            await self._spend("GET", "/api/v3/exchangeInfo", {})
            return dict(await self.client.load_markets())

        return dict(self.run(go()))

    def history(self, symbol: str, minutes: int) -> list[list[Any]]:
        """The upstream's last ``minutes`` 1m candles (REST, budgeted)."""

        async def go() -> list[list[Any]]:
            await self._spend("GET", "/api/v3/klines", {"limit": minutes})
            return list(await self.client.fetch_ohlcv(symbol, "1m", limit=minutes))

        return list(self.run(go()))

    def order_book(self, symbol: str) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        """The upstream's book now (REST, ``depth`` levels, budgeted): (bids, asks)."""

        async def go() -> Any:
            await self._spend("GET", "/api/v3/depth", {"limit": self.depth})
            return await self.client.fetch_order_book(symbol, self.depth)

        ob = self.run(go())
        self.stats.rest_books += 1
        return _levels(ob["bids"]), _levels(ob["asks"])

    def recent_trades(self, symbol: str, limit: int = 1000) -> list[dict[str, Any]]:
        """The upstream's last ``limit`` trades (REST, budgeted), oldest first, as plain values.

        Each: ``id``, ``ts_ms`` (the upstream's time), ``price``, ``qty``, ``buyer_maker``.
        """

        async def go() -> Any:
            await self._spend("GET", "/api/v3/trades", {"limit": limit})
            return await self.client.fetch_trades(symbol, limit=limit)

        out = []
        for t in self.run(go()):
            if str(t.get("id") or "").isdigit() and Decimal(str(t["amount"])) > 0:
                out.append({"id": int(t["id"]), "ts_ms": int(t["timestamp"]), "price": Decimal(str(t["price"])),
                            "qty": Decimal(str(t["amount"])), "buyer_maker": t.get("side") == "sell"})  # fmt: skip
        self.stats.rest_trades += len(out)
        return sorted(out, key=lambda t: t["id"])

    def start(self, symbol: str, book: Any, source: Any) -> None:
        """Mirror ``symbol`` into ``book`` (:class:`MirrorBook`) and ``source`` (:class:`MirrorSource`)."""
        for coro in (self._book_loop(symbol, book), self._trade_loop(symbol, source)):
            self._tasks.append(asyncio.run_coroutine_threadsafe(coro, self._loop))

    def close(self) -> None:
        """Stop the streams, close the client and the loop's thread."""
        self._stop = True

        async def shut() -> None:
            for t in asyncio.all_tasks():
                if t is not asyncio.current_task():
                    t.cancel()
            if self.client is not None:
                with contextlib.suppress(Exception):
                    await self.client.close()

        if self._thread.is_alive():
            with contextlib.suppress(Exception):
                self.run(shut(), timeout=10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        if not self._thread.is_alive() and not self._loop.is_closed():
            self._loop.close()

    # ------------------------------------------------------------------ loops
    async def _spend(self, method: str, path: str, params: dict[str, Any]) -> None:
        if self._budget is not None:
            await asyncio.to_thread(self._budget, method, path, params)

    def _failed(self, what: str, exc: BaseException) -> None:
        if self._stop:  # closing: a stream or request cut short by close() is not news
            return
        self.stats.stream_errors += 1
        msg = f"{what}: {type(exc).__name__}: {exc}"[:300]
        self.stats.errors = [*self.stats.errors[-19:], msg]
        log.warning("paper feed %s; polling REST for %.1f s", msg, self.fallback_s)

    async def _book_loop(self, symbol: str, book: Any) -> None:
        ex = self.client
        while not self._stop:
            try:
                ob = await ex.watch_order_book(symbol, self.depth)
                book.feed(_levels(ob["bids"]), _levels(ob["asks"]), ts_ms=wall_ms())
                self.stats.books += 1
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._failed(f"{symbol} book stream", exc)
                gap = getattr(book, "gap", None)
                if gap is not None:
                    gap()  # nothing fills on this book until a full snapshot arrives again
            until = time.monotonic() + self.fallback_s
            while not self._stop and time.monotonic() < until:
                try:
                    await self._spend("GET", "/api/v3/depth", {"limit": self.depth})
                    ob = await ex.fetch_order_book(symbol, self.depth)
                    book.feed(_levels(ob["bids"]), _levels(ob["asks"]), ts_ms=wall_ms())
                    self.stats.rest_books += 1
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    self._failed(f"{symbol} book REST", exc)
                await asyncio.sleep(self.poll_s)

    async def _trade_loop(self, symbol: str, source: Any) -> None:
        ex = self.client
        last_id: int | None = None
        while not self._stop:
            try:
                trades = await ex.watch_trades(symbol)
                last_id = self._push(trades, source, last_id)
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._failed(f"{symbol} trade stream", exc)
            until = time.monotonic() + self.fallback_s
            while not self._stop and time.monotonic() < until:
                try:
                    await self._spend("GET", "/api/v3/trades", {"limit": 100})
                    trades = await ex.fetch_trades(symbol, limit=100)
                    last_id = self._push(trades, source, last_id, rest=True)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    self._failed(f"{symbol} trades REST", exc)
                await asyncio.sleep(self.poll_s)

    def _push(
        self, trades: list[dict[str, Any]], source: Any, last_id: int | None, *, rest: bool = False
    ) -> int | None:
        now = wall_ms()
        trades = in_trade_order(trades)  # ccxt's order would make 9 the last price of trades 9 and 11
        for t in trades:
            tid = int(t["id"]) if str(t.get("id") or "").isdigit() else None
            if tid is not None and last_id is not None and tid <= last_id:
                continue  # already seen (a REST page overlaps the stream)
            if rest and last_id is None:
                continue  # the first REST page is the past: it sets the mark, fills nothing
            price, qty = Decimal(str(t["price"])), Decimal(str(t["amount"]))
            if qty > 0:
                source.feed(now, price, qty, buyer_maker=t.get("side") == "sell")
                if rest:
                    self.stats.rest_trades += 1
                else:
                    self.stats.trades += 1
        ids = [int(t["id"]) for t in trades if str(t.get("id") or "").isdigit()]
        return max([*ids, last_id] if last_id is not None else ids) if ids else last_id


def _levels(rows: list[list[Any]]) -> list[tuple[Decimal, Decimal]]:
    return [(Decimal(str(r[0])), Decimal(str(r[1]))) for r in rows]
