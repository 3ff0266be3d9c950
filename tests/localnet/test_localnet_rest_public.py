"""Public REST endpoints through the real ccxt client (sync and async) over loopback."""

from __future__ import annotations

import asyncio
from typing import Any

import ccxt
import ccxt.async_support
import pytest

from kit.localnet.server import Localnet


@pytest.fixture()
def pub(net: Localnet) -> Any:
    return net.client(None, enableRateLimit=False)


def test_time_matches_server(pub: Any) -> None:
    t = pub.fetch_time()
    assert abs(t - pub.milliseconds()) < 5_000


def test_exchange_info_has_filters_and_order_types(pub: Any) -> None:
    markets = pub.load_markets()
    assert {"BTC/USDT", "ETH/USDT", "ETH/BTC"} <= set(markets)
    m = markets["BTC/USDT"]
    assert m["spot"] and m["active"]
    assert m["precision"]["price"] == 0.01 and m["precision"]["amount"] == 0.00001
    assert m["limits"]["cost"]["min"] == 5.0
    info = m["info"]
    kinds = {f["filterType"] for f in info["filters"]}
    assert kinds == {  # PERCENT_PRICE_BY_SIDE and the open-order counts are published and enforced since #15.1
        "PRICE_FILTER",
        "PERCENT_PRICE_BY_SIDE",
        "LOT_SIZE",
        "MARKET_LOT_SIZE",
        "NOTIONAL",
        "ICEBERG_PARTS",
        "TRAILING_DELTA",
        "MAX_NUM_ORDERS",
        "MAX_NUM_ALGO_ORDERS",
    }
    assert set(info["orderTypes"]) == {
        "LIMIT",
        "LIMIT_MAKER",
        "MARKET",
        "STOP_LOSS",
        "STOP_LOSS_LIMIT",
        "TAKE_PROFIT",
        "TAKE_PROFIT_LIMIT",
    }


def test_exchange_info_single_symbol(pub: Any) -> None:
    body = pub.publicGetExchangeInfo({"symbol": "ETHBTC"})
    assert [s["symbol"] for s in body["symbols"]] == ["ETHBTC"]
    assert body["rateLimits"][0]["rateLimitType"] == "REQUEST_WEIGHT"


def test_ticker_single_and_many(pub: Any) -> None:
    t = pub.fetch_ticker("BTC/USDT")
    assert t["symbol"] == "BTC/USDT" and t["last"] > 0 and t["bid"] < t["ask"]
    assert t["high"] >= t["last"] >= t["low"]
    all_ = pub.fetch_tickers()
    assert set(all_) >= {"BTC/USDT", "ETH/USDT", "ETH/BTC"}
    two = pub.fetch_tickers(["BTC/USDT", "ETH/USDT"])
    assert set(two) == {"BTC/USDT", "ETH/USDT"}


def test_price_and_book_tickers(pub: Any) -> None:
    prices = pub.fetch_last_prices(["BTC/USDT"])
    assert prices["BTC/USDT"]["price"] > 0
    ba = pub.fetch_bids_asks(["ETH/USDT"])
    assert ba["ETH/USDT"]["bid"] < ba["ETH/USDT"]["ask"]


def test_order_book_snapshot_consistent(net: Localnet, pub: Any) -> None:
    book = pub.fetch_order_book("BTC/USDT", 10)
    assert len(book["bids"]) == 10 and len(book["asks"]) == 10
    assert book["bids"][0][0] < book["asks"][0][0]
    assert [b[0] for b in book["bids"]] == sorted((b[0] for b in book["bids"]), reverse=True)
    assert book["nonce"] == net.call(lambda v: v.books["BTCUSDT"].update_id)
    deep = pub.fetch_order_book("BTC/USDT", 1000)
    assert len(deep["bids"]) >= 100


def test_ohlcv_history_forming_candle_and_limits(net: Localnet, pub: Any) -> None:
    rows = pub.fetch_ohlcv("BTC/USDT", "1m", limit=5)
    assert len(rows) == 5
    now = net.call(lambda v: v.clock.now_ms())
    assert rows[-1][0] == now - now % 60_000  # the still-forming candle is included
    assert all(b[0] - a[0] == 60_000 for a, b in zip(rows, rows[1:], strict=False))
    since = rows[0][0] - 3 * 60_000
    part = pub.fetch_ohlcv("BTC/USDT", "1m", since=since, limit=3)
    assert [r[0] for r in part] == [since, since + 60_000, since + 120_000]
    big = pub.fetch_ohlcv("BTC/USDT", "1m", limit=1500)
    assert len(big) == 1000  # Binance caps limit at 1000
    hourly = pub.fetch_ohlcv("ETH/USDT", "1h", limit=10)
    assert all(r[2] >= max(r[1], r[4]) and r[3] <= min(r[1], r[4]) for r in hourly)
    until = pub.fetch_ohlcv("BTC/USDT", "1m", since=since, params={"until": since + 60_000})
    assert [r[0] for r in until] == [since, since + 60_000]


def test_trades_after_stepping(net: Localnet, pub: Any) -> None:
    net.step(30_000)
    trades = pub.fetch_trades("BTC/USDT", limit=20)
    assert 0 < len(trades) <= 20
    assert all(t["price"] > 0 and t["amount"] > 0 and t["side"] in ("buy", "sell") for t in trades)
    raw = pub.fetch_trades("BTC/USDT", limit=5, params={"fetchTradesMethod": "publicGetTrades"})
    assert len(raw) == 5
    since = trades[0]["timestamp"]
    window = pub.fetch_trades("BTC/USDT", since=since)
    assert window and all(t["timestamp"] >= since for t in window)


def test_system_status(pub: Any) -> None:
    assert pub.fetch_status()["status"] == "ok"


def test_bad_symbol(pub: Any) -> None:
    with pytest.raises(ccxt.BadSymbol):
        pub.publicGetTicker24hr({"symbol": "NOPEUSDT"})
    with pytest.raises(ccxt.BadSymbol):
        pub.publicGetDepth({"symbol": "NOPEUSDT"})


def test_bad_interval_and_missing_param(pub: Any) -> None:
    with pytest.raises(ccxt.BadRequest, match="-1120"):
        pub.publicGetKlines({"symbol": "BTCUSDT", "interval": "7m"})
    with pytest.raises(ccxt.BadRequest, match="-1102"):
        pub.publicGetKlines({"symbol": "BTCUSDT"})


def test_async_client_public(net: Localnet) -> None:
    async def run() -> tuple[Any, Any]:
        ex = net.client(None, async_=True, enableRateLimit=False)
        try:
            await ex.load_markets()
            return await ex.fetch_ticker("ETH/BTC"), await ex.fetch_ohlcv("ETH/BTC", "5m", limit=3)
        finally:
            await ex.close()

    ticker, rows = asyncio.run(run())
    assert ticker["symbol"] == "ETH/BTC" and len(rows) == 3


def test_unknown_path_is_a_clean_error(pub: Any) -> None:
    """An unknown path answers 404 with a JSON ``{"code", "msg"}`` body (#15.8), never plain text.

    ccxt finds -1 in no table and raises its generic ExchangeError with the body in the message.
    """
    with pytest.raises(ccxt.ExchangeError, match='"code":-1') as info:
        pub.fapiPublicGetExchangeInfo()
    assert not isinstance(info.value, ccxt.ExchangeNotAvailable)
    assert isinstance(ccxt.async_support.binance, type)


def test_rolling_window_ticker(pub: Any) -> None:
    t = pub.fetch_ticker("BTC/USDT", {"rolling": True, "windowSize": "1h"})
    assert t["symbol"] == "BTC/USDT" and t["last"] > 0
    day = pub.fetch_ticker("BTC/USDT", {"rolling": True})
    assert day["baseVolume"] >= t["baseVolume"]
    with pytest.raises(ccxt.BadRequest):
        pub.publicGetTicker({"symbol": "BTCUSDT", "windowSize": "9d"})
