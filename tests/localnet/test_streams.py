"""Streams end to end: the real ``ccxt.pro.binance`` against a running localnet over loopback.

The clock is stepped, so market events only happen when a test steps it (or prints a trade).
Every watch is started *before* the event it waits for (wire spec 9.18): a helper waits until the
server's hub holds the subscription, then the test moves the market.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import ccxt
import pytest

from kit.localnet import LimitsConfig, LocalnetConfig
from kit.localnet.ccxt_client import connect
from kit.localnet.server import Localnet, start

LIMITS = LimitsConfig(weight_per_minute=10**9, sapi_weight_per_minute=10**9, orders_per_10s=10**9, orders_per_day=10**9)


@pytest.fixture(scope="module")
def snet() -> Iterator[Localnet]:
    """A private localnet for the stream tests (stepped clock, generous limits)."""
    cfg = LocalnetConfig(stepped=True, seed=11, history_minutes=120, limits=LIMITS)
    with start(port=0, config=cfg) as net:
        yield net


def run(
    net: Localnet,
    body: Callable[[Any], Awaitable[None]],
    *,
    key: str | None = "trader",
    secret: str | None = None,
    timeout: float = 60,
    **config: Any,
) -> None:
    """Run ``body(pro)`` with a fresh ccxt.pro client (key by name; ``secret`` overrides), then close it."""

    async def main() -> None:
        if secret is None:
            pro = net.client(key, pro=True, enableRateLimit=False, **config)
        else:
            api_key = net.credentials(key or "trader")[0]
            pro = connect(net.url, api_key, secret, pro=True, enableRateLimit=False, **config)
        try:
            await asyncio.wait_for(body(pro), timeout)
        finally:
            await pro.close()

    asyncio.run(main())


async def step(net: Localnet, ms: int) -> int:
    return await asyncio.to_thread(net.step, ms)


async def venue(net: Localnet, fn: Callable[[Any], Any]) -> Any:
    return await asyncio.to_thread(net.call, fn)


async def until(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 10) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def subscribed(net: Localnet, topic: tuple[str, ...], n: int = 1) -> None:
    async def check() -> bool:
        return bool(await venue(net, lambda v: v.hub.subscribers(topic) >= n))

    await until(check, f"a hub subscription to {topic}")


async def no_subscribers(net: Localnet, topic: tuple[str, ...]) -> None:
    async def check() -> bool:
        return bool(await venue(net, lambda v: v.hub.subscribers(topic) == 0))

    await until(check, f"{topic} to be released")


async def waiting(pro: Any, *hashes: str) -> None:
    """Wait until ccxt has a pending future for every message hash (on any of its connections)."""

    async def check() -> bool:
        pending = {h for client in list(pro.clients.values()) for h in client.futures}
        return all(h in pending for h in hashes)

    await until(check, f"ccxt to wait for {hashes}")


# ---------------------------------------------------------------- public streams
def test_watch_ohlcv_matches_rest(snet: Localnet) -> None:
    async def body(pro: Any) -> None:
        await pro.load_markets()
        task = asyncio.ensure_future(pro.watch_ohlcv("BTC/USDT", "1m"))
        await subscribed(snet, ("kline", "BTCUSDT", "1m"))
        now = await step(snet, 61_000)
        candles = await task
        assert candles and all(c[2] >= max(c[1], c[4]) and c[3] <= min(c[1], c[4]) for c in candles)
        rest = (await pro.fetch_ohlcv("BTC/USDT", "1m", limit=1))[-1]
        assert rest[0] == now - now % 60_000

        async def cached() -> bool:  # every event of the step has reached ccxt's candle cache
            return bool(pro.ohlcvs["BTC/USDT"]["1m"][-1][:5] == rest[:5])

        await until(cached, "the streamed candle to match REST")

    run(snet, body)


def test_watch_ticker_mini_and_full(snet: Localnet) -> None:
    async def body(pro: Any) -> None:
        await pro.load_markets()
        mini = asyncio.ensure_future(pro.watch_ticker("ETH/USDT"))
        await subscribed(snet, ("miniTicker", "ETHUSDT"))
        await step(snet, 30_000)
        t = await mini
        assert t["symbol"] == "ETH/USDT" and t["last"] > 0 and t["bid"] is None
        rest = await pro.fetch_ticker("ETH/USDT")

        async def cached() -> bool:
            t = pro.tickers["ETH/USDT"]
            return bool((t["last"], t["high"], t["low"]) == (rest["last"], rest["high"], rest["low"]))

        await until(cached, "the streamed ticker to match REST")

        full = asyncio.ensure_future(pro.watch_ticker("BTC/USDT", {"name": "ticker"}))
        await subscribed(snet, ("ticker", "BTCUSDT"))
        await step(snet, 30_000)
        t = await full
        assert t["symbol"] == "BTC/USDT" and t["bid"] < t["ask"] and t["bidVolume"] > 0

    run(snet, body)


def test_watch_tickers_all_markets(snet: Localnet) -> None:
    async def body(pro: Any) -> None:
        await pro.load_markets()
        task = asyncio.ensure_future(pro.watch_tickers())
        await subscribed(snet, ("miniTicker", "ETHBTC"))
        await step(snet, 60_000)
        tickers = await task
        assert tickers and set(tickers) <= {"BTC/USDT", "ETH/USDT", "ETH/BTC"}
        assert all(t["last"] > 0 for t in tickers.values())

    run(snet, body)


def test_watch_trades_and_agg_trades(snet: Localnet) -> None:
    async def body(pro: Any) -> None:
        await pro.load_markets()
        task = asyncio.ensure_future(pro.watch_trades("BTC/USDT"))
        await subscribed(snet, ("trade", "BTCUSDT"))
        now = await step(snet, 60_000)
        trades = await task
        assert trades and all(t["symbol"] == "BTC/USDT" and t["price"] > 0 and t["amount"] > 0 for t in trades)
        assert all(t["timestamp"] <= now and t["side"] in ("buy", "sell") for t in trades)
        fresh = asyncio.ensure_future(pro.watch_trades("ETH/BTC"))  # nothing in flight on this one
        await subscribed(snet, ("trade", "ETHBTC"))
        printed = await asyncio.to_thread(snet.inject_trade, "ETHBTC", "0.05", "0.5", "sell")
        got = await fresh
        assert [(t["id"], t["side"], t["amount"], t["price"]) for t in got] == [(str(printed.id), "sell", 0.5, 0.05)]

    run(snet, body)

    async def agg(pro: Any) -> None:
        await pro.load_markets()
        task = asyncio.ensure_future(pro.watch_trades("ETH/USDT"))
        await subscribed(snet, ("aggTrade", "ETHUSDT"))
        await step(snet, 60_000)
        trades = await task
        assert trades and trades[0]["symbol"] == "ETH/USDT"

    run(snet, agg, options={"watchTrades": {"name": "aggTrade"}})


def test_watch_order_book_stays_in_sync(snet: Localnet) -> None:
    async def body(pro: Any) -> None:
        await pro.load_markets()
        book = await pro.watch_order_book("BTC/USDT")  # resolves once the REST snapshot is applied
        assert book["nonce"] and book["bids"][0][0] < book["asks"][0][0]
        first_nonce = book["nonce"]
        for _ in range(6):
            await step(snet, 5_000)
            target = await venue(snet, lambda v: v.books["BTCUSDT"].update_id)
            while book["nonce"] < target:  # a gap would raise ChecksumError here
                book = await pro.watch_order_book("BTC/USDT")
            assert book["nonce"] == target
        assert book["nonce"] > first_nonce
        ours = await venue(snet, lambda v: v.depth("BTCUSDT", 1000))
        assert [[float(p), float(q)] for p, q in ours["bids"][:50]] == [list(x[:2]) for x in book["bids"][:50]]
        assert [[float(p), float(q)] for p, q in ours["asks"][:50]] == [list(x[:2]) for x in book["asks"][:50]]
        await pro.un_watch_order_book("BTC/USDT")
        await no_subscribers(snet, ("depth", "BTCUSDT", "100ms"))  # ccxt asks for @depth@100ms

    run(snet, body)


def test_watch_bids_asks(snet: Localnet) -> None:
    async def body(pro: Any) -> None:
        await pro.load_markets()
        task = asyncio.ensure_future(pro.watch_bids_asks(["ETH/USDT"]))
        await subscribed(snet, ("bookTicker", "ETHUSDT"))
        # bookTicker speaks only when the top of the book changes, and whether 10 s of the seeded market
        # (started at the wall clock) move it depends on when the test runs: step until it does
        for _ in range(30):
            await step(snet, 10_000)
            if (await asyncio.wait({task}, timeout=0.2))[0]:
                break
        quotes = await asyncio.wait_for(task, 5)
        q = quotes["ETH/USDT"]
        assert q["bid"] < q["ask"] and q["bidVolume"] > 0 and q["askVolume"] > 0

    run(snet, body)


def test_unwatch_and_close_release_hub_subscriptions(snet: Localnet) -> None:
    async def body(pro: Any) -> None:
        await pro.load_markets()
        task = asyncio.ensure_future(pro.watch_trades("ETH/BTC"))
        await subscribed(snet, ("trade", "ETHBTC"))
        await step(snet, 60_000)
        await task
        await pro.un_watch_trades("ETH/BTC")
        await no_subscribers(snet, ("trade", "ETHBTC"))
        task = asyncio.ensure_future(pro.watch_ohlcv("ETH/BTC", "5m"))
        await subscribed(snet, ("kline", "ETHBTC", "5m"))
        task.cancel()

    run(snet, body)
    asyncio.run(no_subscribers(snet, ("kline", "ETHBTC", "5m")))


def test_reconnect_after_server_disconnect(snet: Localnet) -> None:
    async def body(pro: Any) -> None:
        await pro.load_markets()
        task = asyncio.ensure_future(pro.watch_trades("BTC/USDT"))
        await subscribed(snet, ("trade", "BTCUSDT"))
        async with pro.session.post(snet.url + "/_localnet/streams/disconnect?kind=market", json={}) as resp:
            assert (await resp.json())["disconnected"] >= 1
        with pytest.raises(ccxt.NetworkError):
            await task
        await no_subscribers(snet, ("trade", "BTCUSDT"))
        again = asyncio.ensure_future(pro.watch_trades("BTC/USDT"))  # ccxt reconnects on the next watch
        await subscribed(snet, ("trade", "BTCUSDT"))
        await step(snet, 60_000)
        assert await again

    run(snet, body)


def test_disconnect_fault_rate_drops_streams(snet: Localnet) -> None:
    async def body(pro: Any) -> None:
        await pro.load_markets()
        task = asyncio.ensure_future(pro.watch_trades("ETH/USDT"))
        await subscribed(snet, ("trade", "ETHUSDT"))
        await asyncio.to_thread(snet.set_faults, ws_disconnect_rate=1.0)
        try:
            await step(snet, 60_000)
            with pytest.raises(ccxt.NetworkError):
                await task
        finally:
            await asyncio.to_thread(snet.set_faults, ws_disconnect_rate=0)
        await no_subscribers(snet, ("trade", "ETHUSDT"))
        again = asyncio.ensure_future(pro.watch_trades("ETH/USDT"))
        await subscribed(snet, ("trade", "ETHUSDT"))
        await step(snet, 60_000)
        assert await again

    run(snet, body)


# ---------------------------------------------------------------- private streams (WS-API)
def test_partial_fill_reaches_orders_trades_and_balance(snet: Localnet) -> None:
    async def body(pro: Any) -> None:
        await pro.load_markets()
        orders = asyncio.ensure_future(pro.watch_orders("BTC/USDT"))
        trades = asyncio.ensure_future(pro.watch_my_trades("BTC/USDT"))
        balance = asyncio.ensure_future(pro.watch_balance())
        await subscribed(snet, ("user", "main"))
        await waiting(pro, "orders:BTC/USDT", "myTrades:BTC/USDT", "spot:balance")

        last = (await pro.fetch_ticker("BTC/USDT"))["last"]
        price = round(last - 100, 2)
        placed = await pro.create_order("BTC/USDT", "limit", "buy", 0.01, price, {"clientOrderId": "ws-partial-1"})
        new = (await orders)[-1]
        assert (new["id"], new["clientOrderId"], new["status"], new["filled"]) == (
            placed["id"],
            "ws-partial-1",
            "open",
            0.0,
        )
        assert (new["side"], new["type"], new["price"], new["amount"]) == ("buy", "limit", price, 0.01)
        locked = await balance
        assert locked["USDT"]["used"] >= 0.01 * price - 1e-6

        orders = asyncio.ensure_future(pro.watch_orders("BTC/USDT"))
        balance = asyncio.ensure_future(pro.watch_balance())
        await waiting(pro, "orders:BTC/USDT", "spot:balance")
        await asyncio.to_thread(snet.inject_trade, "BTCUSDT", round(price - 0.01, 2), "0.004", "sell")
        part = (await orders)[-1]
        assert (part["id"], part["status"]) == (placed["id"], "open")
        assert part["filled"] == pytest.approx(0.004) and part["remaining"] == pytest.approx(0.006)
        assert part["cost"] == pytest.approx(0.004 * price)
        mine = (await trades)[-1]
        assert (mine["order"], mine["side"], mine["symbol"], mine["takerOrMaker"]) == (
            placed["id"],
            "buy",
            "BTC/USDT",
            "maker",
        )
        assert mine["amount"] == pytest.approx(0.004) and mine["price"] == price
        assert mine["fee"]["currency"] == "BTC" and mine["fee"]["cost"] > 0
        streamed = await balance
        rest = await pro.fetch_balance()
        for asset in ("BTC", "USDT"):
            assert streamed[asset]["free"] == rest[asset]["free"], asset
            assert streamed[asset]["used"] == rest[asset]["used"], asset

        orders = asyncio.ensure_future(pro.watch_orders("BTC/USDT"))
        await waiting(pro, "orders:BTC/USDT")
        await pro.cancel_order(placed["id"], "BTC/USDT")
        gone = (await orders)[-1]
        assert (gone["id"], gone["clientOrderId"], gone["status"]) == (placed["id"], "ws-partial-1", "canceled")
        assert gone["filled"] == pytest.approx(0.004)

    run(snet, body)
    asyncio.run(no_subscribers(snet, ("user", "main")))


def test_private_stream_resubscribes_after_disconnect(snet: Localnet) -> None:
    async def body(pro: Any) -> None:
        await pro.load_markets()
        first = asyncio.ensure_future(pro.watch_orders("ETH/USDT"))
        await subscribed(snet, ("user", "main"))
        await waiting(pro, "orders:ETH/USDT")
        async with pro.session.post(snet.url + "/_localnet/streams/disconnect?kind=ws-api&mode=abort", json={}) as resp:
            assert (await resp.json())["disconnected"] == 1
        with pytest.raises(ccxt.NetworkError):
            await first
        await no_subscribers(snet, ("user", "main"))
        again = asyncio.ensure_future(pro.watch_orders("ETH/USDT"))  # signs and subscribes again
        await subscribed(snet, ("user", "main"))
        await waiting(pro, "orders:ETH/USDT")
        placed = await pro.create_order("ETH/USDT", "limit", "buy", 0.01, 1000.0)
        got = (await again)[-1]
        assert (got["id"], got["status"]) == (placed["id"], "open")
        await pro.cancel_order(placed["id"], "ETH/USDT")

    run(snet, body)


def test_ws_api_rejects_bad_signature(snet: Localnet) -> None:
    async def body(pro: Any) -> None:
        await pro.load_markets()
        with pytest.raises(Exception) as info:  # noqa: B017 - ccxt 4.5.90 wraps it (spec 8.3)
            await pro.watch_orders("BTC/USDT")
        chain: list[BaseException] = []
        exc: BaseException | None = info.value
        while exc is not None:
            chain.append(exc)
            exc = exc.__cause__ or exc.__context__
        assert any(isinstance(e, ccxt.AuthenticationError) and "-1022" in str(e) for e in chain), chain
        assert await venue(snet, lambda v: v.hub.subscribers(("user", "main"))) == 0

    run(snet, body, secret="not-the-secret")


def test_ws_api_reader_key_may_watch_without_trading(snet: Localnet) -> None:
    async def body(pro: Any) -> None:
        await pro.load_markets()
        task = asyncio.ensure_future(pro.watch_balance())
        await subscribed(snet, ("user", "main"))
        await waiting(pro, "spot:balance")
        task.cancel()

    run(snet, body, key="reader")
