"""ccxt's own shipped validators run over localnet's answers, for each unified method localnet serves.

The installed ccxt package ships the test suite ccxt runs against live exchanges:
``ccxt/test/exchange/sync/test_<method>.py`` (one call plus its structure checks) and the shared
validators in ``ccxt/test/exchange/base/`` (``test_ticker``, ``test_order`` ...), which
``ccxt/pro/test`` applies to WebSocket results. They are called here as ccxt's own runner calls
them: ``test_fetch_x(exchange, skipped_properties, symbol)``, ``test_x(exchange,
skipped_properties, method, entry, symbol, now)``.

Where a validator would fail against Binance itself, the test says so and skips only that
property (docs/localnet.md lists them):

- ``fetchOrderBook`` / ``fetchL2OrderBook`` ``timestamp``: Binance's ``GET /api/v3/depth`` has no
  time field, so ccxt's order book has ``timestamp`` None for Binance too.
- ``fetchBalanceWs``: ccxt 4.5.90 parses ``account.status`` without a market type and keeps no
  spot balance (empty unified dict against Binance as well); its ``info`` is validated instead.
- ``test_fetch_markets`` and ``test_create_order`` do not run in Python for any exchange (the
  first asserts a dict where ``fetch_markets`` returns a list; the second concatenates a float to
  a string); their shared validators ``test_market`` and ``test_order`` are applied directly.
- ``test_load_markets`` wants a market of every type in ``exchange.has`` (swap, future, option):
  Binance's spot API (what localnet is) lists spot markets only, so those flags are cleared.

The clock is stepped and starts ten minutes in the past, so no time stamp is ahead of the
validators' wall clock (a stepped clock stepped past the wall clock would be "in the future").
"""

from __future__ import annotations

import asyncio
import importlib
import time
from collections.abc import Iterator
from typing import Any

import pytest

from kit.localnet import LimitsConfig, LocalnetConfig
from kit.localnet.server import Localnet, start

base = pytest.importorskip("ccxt.test.exchange.base")

LIMITS = LimitsConfig(weight_per_minute=10**9, sapi_weight_per_minute=10**9, orders_per_10s=10**9, orders_per_day=10**9)
SYMBOL = "BTC/USDT"
NO_TIME = {"timestamp": True, "datetime": True}  # Binance REST depth carries no time


@pytest.fixture(scope="module")
def vnet() -> Iterator[Localnet]:
    start_ms = (time.time_ns() // 1_000_000) - 600_000
    cfg = LocalnetConfig(stepped=True, seed=13, history_minutes=120, start_ms=start_ms, limits=LIMITS)
    with start(port=0, config=cfg) as net:
        net.step(90_000)
        yield net


@pytest.fixture(scope="module")
def traded(vnet: Localnet) -> Any:
    """A sync ccxt client whose account has a fill, a resting order and a canceled one."""
    ex = vnet.client("trader", enableRateLimit=False)
    ex.load_markets()
    ex.create_order(SYMBOL, "market", "buy", 0.002)
    bid = ex.fetch_ticker(SYMBOL)["bid"]
    ex.create_order(SYMBOL, "limit", "buy", 0.001, round(bid * 0.9, 2))
    gone = ex.create_order(SYMBOL, "limit", "buy", 0.001, round(bid * 0.8, 2))
    ex.cancel_order(gone["id"], SYMBOL)
    return ex


def run_sync(name: str, ex: Any, *args: Any, skipped: dict[str, Any] | None = None) -> None:
    module = importlib.import_module(f"ccxt.test.exchange.sync.{name}")
    assert getattr(module, name)(ex, skipped or {}, *args) is not False


@pytest.mark.parametrize(
    ("name", "arg"),
    [
        ("test_fetch_ticker", SYMBOL),
        ("test_fetch_tickers", SYMBOL),
        ("test_fetch_last_prices", SYMBOL),
        ("test_fetch_ohlcv", SYMBOL),
        ("test_fetch_trades", SYMBOL),
        ("test_fetch_trading_fee", SYMBOL),
        ("test_fetch_my_trades", SYMBOL),
        ("test_fetch_open_orders", SYMBOL),
        ("test_fetch_orders", SYMBOL),
        ("test_fetch_closed_orders", SYMBOL),
        ("test_fetch_withdrawals", "USDT"),
        ("test_fetch_deposits", "USDT"),
        ("test_fetch_balance", None),
        ("test_fetch_currencies", None),
        ("test_fetch_status", None),
        ("test_fetch_trading_fees", None),
        ("test_fetch_transaction_fees", None),
        ("test_features", None),
    ],
)
def test_rest_validators(traded: Any, name: str, arg: str | None) -> None:
    run_sync(name, traded, *([arg] if arg else []))


def test_order_book_validators_without_a_time(traded: Any) -> None:
    """Binance's depth has no time: ccxt's book has ``timestamp`` None for Binance too (skipped)."""
    with pytest.raises(AssertionError, match="timestamp"):
        run_sync("test_fetch_order_book", traded, SYMBOL)
    run_sync("test_fetch_order_book", traded, SYMBOL, skipped=NO_TIME)
    run_sync("test_fetch_l2_order_book", traded, SYMBOL, skipped=NO_TIME)


def test_market_and_load_markets_validators(traded: Any) -> None:
    for market in traded.markets.values():
        base.test_market(traded, {}, "fetchMarkets", market)
    spot_api = traded.extend(traded.has, {"swap": False, "future": False, "option": False})
    traded.has = spot_api  # localnet is Binance's spot API: spot markets only
    run_sync("test_load_markets", traded)


def test_order_validator_on_create_and_cancel(traded: Any) -> None:
    now = traded.milliseconds()
    bid = traded.fetch_ticker(SYMBOL)["bid"]
    placed = traded.create_order(SYMBOL, "limit", "buy", 0.001, round(bid * 0.9, 2))
    base.test_order(traded, {}, "createOrder", placed, SYMBOL, now)
    base.test_order(traded, {}, "fetchOrder", traded.fetch_order(placed["id"], SYMBOL), SYMBOL, now)
    base.test_order(traded, {}, "cancelOrder", traded.cancel_order(placed["id"], SYMBOL), SYMBOL, now)


@pytest.mark.slow  # four ccxt.pro subscriptions plus WebSocket-API trading: ~1 s alone, 2-3 s on a busy machine
def test_pro_validators(vnet: Localnet) -> None:
    """ccxt.pro results (market streams and the WebSocket API) through the shared validators."""

    async def main() -> None:
        pro = vnet.client("trader", pro=True, enableRateLimit=False)
        try:
            await pro.load_markets()
            now = pro.milliseconds()
            tasks = {
                "watchTicker": asyncio.ensure_future(pro.watch_ticker(SYMBOL)),
                "watchOHLCV": asyncio.ensure_future(pro.watch_ohlcv(SYMBOL, "1m")),
                "watchTrades": asyncio.ensure_future(pro.watch_trades(SYMBOL)),
                "watchOrderBook": asyncio.ensure_future(pro.watch_order_book(SYMBOL)),
            }
            for _ in range(200):  # the four subscriptions reach the server, then time moves
                if len(await asyncio.to_thread(vnet.call, lambda v: v.hub.topics())) >= 4:
                    break
                await asyncio.sleep(0.01)
            while not all(t.done() for t in tasks.values()):
                await asyncio.to_thread(vnet.step, 2_000)
                await asyncio.sleep(0.02)
            book = tasks["watchOrderBook"].result()  # resolved by a diff event: it has the event's time
            base.test_order_book(pro, {}, "watchOrderBook", book, SYMBOL)
            base.test_ticker(pro, {}, "watchTicker", tasks["watchTicker"].result(), SYMBOL)
            for candle in tasks["watchOHLCV"].result():
                base.test_ohlcv(pro, {}, "watchOHLCV", candle, SYMBOL, now)
            for trade in tasks["watchTrades"].result():
                base.test_trade(pro, {}, "watchTrades", trade, SYMBOL, now, True)
            bid = book["bids"][0][0]
            placed = await pro.create_order_ws(SYMBOL, "limit", "buy", 0.001, round(bid * 0.9, 2))
            base.test_order(pro, {}, "createOrderWs", placed, SYMBOL, now)
            for order in await pro.fetch_open_orders_ws(SYMBOL):
                base.test_order(pro, {}, "fetchOpenOrdersWs", order, SYMBOL, now)
            canceled = await pro.cancel_order_ws(placed["id"], SYMBOL)
            base.test_order(pro, {}, "cancelOrderWs", canceled, SYMBOL, now)
            balance = await pro.fetch_balance_ws()  # ccxt keeps no spot balance here (see the docstring)
            rest_style = pro.parse_balance_custom(balance["info"], "spot")
            base.test_balance(pro, {}, "fetchBalanceWs", rest_style)
        finally:
            await pro.close()

    asyncio.run(asyncio.wait_for(main(), 30))


@pytest.mark.slow  # five ccxt.pro subscriptions on two connections: ~1.3 s alone, over 2 s on a busy machine
def test_pro_user_data_and_multi_symbol_validators(vnet: Localnet) -> None:
    """User data over the WebSocket API (orders, my trades, balance), watch_tickers, watch_bids_asks."""

    async def main() -> None:
        pro = vnet.client("trader", pro=True, enableRateLimit=False)
        try:
            await pro.load_markets()
            now = pro.milliseconds()
            orders = asyncio.ensure_future(pro.watch_orders(SYMBOL))
            trades = asyncio.ensure_future(pro.watch_my_trades(SYMBOL))
            balance = asyncio.ensure_future(pro.watch_balance())
            tickers = asyncio.ensure_future(pro.watch_tickers([SYMBOL, "ETH/USDT"]))
            quotes = asyncio.ensure_future(pro.watch_bids_asks([SYMBOL]))
            for _ in range(200):  # every subscription reaches the server before the market moves
                if len(await asyncio.to_thread(vnet.call, lambda v: v.hub.topics())) >= 4:
                    break
                await asyncio.sleep(0.01)
            await pro.create_order(SYMBOL, "market", "buy", 0.001)
            for _ in range(50):
                if all(t.done() for t in (orders, trades, balance, tickers, quotes)):
                    break
                await asyncio.to_thread(vnet.step, 1_000)
                await asyncio.sleep(0.02)
            for order in orders.result():
                base.test_order(pro, {}, "watchOrders", order, SYMBOL, now)
            for trade in trades.result():
                base.test_trade(pro, {}, "watchMyTrades", trade, SYMBOL, now, False)
            base.test_balance(pro, {}, "watchBalance", balance.result())
            for symbol, ticker in tickers.result().items():
                base.test_ticker(pro, {}, "watchTickers", ticker, symbol)
            for symbol, quote in quotes.result().items():
                base.test_ticker(pro, {}, "watchBidsAsks", quote, symbol)
        finally:
            await pro.close()

    asyncio.run(asyncio.wait_for(main(), 30))
