"""python-binance 1.0.37 (an independent client, not written here) against localnet (#15, Tests).

The client is pointed at localnet only through its URL settings: ``API_URL`` / ``MARGIN_API_URL``
on the client class and ``STREAM_URL`` on the socket manager class, the attributes python-binance
itself formats from ``tld`` / ``base_endpoint`` and that its maintainers point users to for other
hosts (sammchardy/python-binance#453). Its ``base_endpoint``/``tld`` arguments alone can only build
``https://api<x>.binance.<tld>`` URLs, never a local one. Nothing inside the library is patched.

Where real Binance would answer differently, the test says so (and docs/localnet.md too).
"""

from __future__ import annotations

import asyncio
import time
import uuid
import warnings
from collections.abc import Iterator
from decimal import Decimal as D
from typing import Any

import pytest

with warnings.catch_warnings():  # python-binance 1.0.37 imports a name websockets 14+ deprecates
    warnings.simplefilter("ignore", DeprecationWarning)
    from binance import AsyncClient, BinanceSocketManager, Client, DepthCacheManager
    from binance.exceptions import BinanceAPIException

from kit.localnet import LocalnetConfig
from kit.localnet.server import Localnet, start

BIG = {"weight_per_minute": 10**9, "sapi_weight_per_minute": 10**9, "orders_per_10s": 10**9, "orders_per_day": 10**9}


@pytest.fixture(scope="module")
def lnet() -> Iterator[Localnet]:
    """A private localnet for this module (stepped clock, seed 7, two hours of history)."""
    from kit.localnet import LimitsConfig

    cfg = LocalnetConfig(stepped=True, seed=7, history_minutes=120, limits=LimitsConfig(**BIG))
    with start(port=0, config=cfg) as n:
        n.step(120_000)  # two simulated minutes of prints
        yield n


def _client_class(base: type, url: str) -> Any:
    """``base`` (Client or AsyncClient) with its REST URLs pointed at ``url``."""
    return type(base.__name__ + "Local", (base,), {"API_URL": url + "/api", "MARGIN_API_URL": url + "/sapi"})


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """The event loop python-binance's sync Client takes as current (closed afterwards, not leaked)."""
    lp = asyncio.new_event_loop()
    asyncio.set_event_loop(lp)
    yield lp
    asyncio.set_event_loop(None)
    lp.close()


@pytest.fixture(scope="module")
def client(lnet: Localnet, loop: asyncio.AbstractEventLoop) -> Iterator[Client]:
    """A sync python-binance client with the trader key."""
    key, secret = lnet.credentials("trader")
    c: Client = _client_class(Client, lnet.url)(key, secret)
    yield c
    c.close_connection()


def _bid(c: Client) -> D:
    return D(c.get_order_book(symbol="BTCUSDT", limit=5)["bids"][0][0])


# ---------------------------------------------------------------------- market data
def test_market_data_calls(client: Client) -> None:
    server = client.get_server_time()["serverTime"]
    assert abs(server - time.time() * 1000) < 5_000  # GET /time is the wall clock (docs/localnet.md, Clock)
    info = client.get_symbol_info("BTCUSDT")
    assert info is not None and {f["filterType"] for f in info["filters"]} >= {"PRICE_FILTER", "LOT_SIZE"}
    book = client.get_order_book(symbol="BTCUSDT", limit=10)
    assert len(book["bids"]) == 10 and len(book["asks"]) == 10
    # Binance's number format: 8 decimals on every price and quantity (#15.6)
    assert all(len(x.split(".")[1]) == 8 for side in ("bids", "asks") for lvl in book[side] for x in lvl)
    assert D(book["bids"][0][0]) < D(book["asks"][0][0])
    trades = client.get_recent_trades(symbol="BTCUSDT", limit=5)
    assert len(trades) == 5 and trades[0]["id"] < trades[-1]["id"]
    agg = client.get_aggregate_trades(symbol="BTCUSDT", limit=5)
    assert {"a", "p", "q", "f", "l", "T", "m", "M"} <= set(agg[0])
    kl = client.get_klines(symbol="BTCUSDT", interval=Client.KLINE_INTERVAL_1MINUTE, limit=3)
    assert len(kl) == 3 and all(len(r) == 12 for r in kl)
    assert all(len(str(x).split(".")[1]) == 8 for r in kl for x in r[1:6])
    assert client.get_ui_klines(symbol="BTCUSDT", interval="5m", limit=2)[-1][0] % 300_000 == 0
    t = client.get_ticker(symbol="BTCUSDT")
    assert D(t["lastPrice"]) > 0 and t["count"] >= 0
    assert D(client.get_avg_price(symbol="BTCUSDT")["price"]) > 0
    assert client.get_symbol_ticker(symbol="ETHUSDT")["symbol"] == "ETHUSDT"
    assert {r["symbol"] for r in client.get_all_tickers()} >= {"BTCUSDT", "ETHUSDT", "ETHBTC"}
    bt = client.get_orderbook_ticker(symbol="BTCUSDT")
    assert D(bt["bidPrice"]) < D(bt["askPrice"])
    assert client.get_system_status()["status"] == 0


# ---------------------------------------------------------------------- account and orders
def test_account_and_orders(client: Client, lnet: Localnet) -> None:
    acct = client.get_account()
    assert acct["canTrade"] is True
    usdt = client.get_asset_balance(asset="USDT")
    assert usdt is not None and D(usdt["free"]) > 0
    price = (_bid(client) * D("0.9")).quantize(D("0.01"))
    cid = "pb-" + uuid.uuid4().hex[:12]
    o = client.order_limit_buy(symbol="BTCUSDT", quantity="0.001", price=str(price), newClientOrderId=cid)
    assert o["status"] == "NEW" and o["clientOrderId"] == cid
    assert client.get_order(symbol="BTCUSDT", origClientOrderId=cid)["orderId"] == o["orderId"]
    assert o["orderId"] in [x["orderId"] for x in client.get_open_orders(symbol="BTCUSDT")]
    client.create_test_order(
        symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.001", price=str(price)
    )
    c = client.cancel_order(symbol="BTCUSDT", orderId=o["orderId"])
    assert c["status"] == "CANCELED"
    # the id of a canceled order is free again (web-socket-api.md, order.cancelReplace notes)
    again = client.order_limit_buy(symbol="BTCUSDT", quantity="0.001", price=str(price), newClientOrderId=cid)
    assert again["orderId"] != o["orderId"]
    client.cancel_all_open_orders(symbol="BTCUSDT")
    m = client.order_market_buy(symbol="BTCUSDT", quantity="0.001")
    assert m["status"] == "FILLED" and m["fills"]
    mine = client.get_my_trades(symbol="BTCUSDT", orderId=m["orderId"])
    assert [t["orderId"] for t in mine] == [m["orderId"]] * len(m["fills"])
    assert [x["orderId"] for x in client.get_all_orders(symbol="BTCUSDT", limit=3)][-1] == m["orderId"]
    counts = client.get_current_order_count()
    assert {c["interval"] for c in counts} == {"SECOND", "DAY"}


def test_wallet_and_status_calls(client: Client) -> None:
    assert client.get_account_status()["data"] == "Normal"
    assert client.get_account_api_trading_status()["data"]["isLocked"] is False
    assert client.get_account_api_permissions()["enableSpotAndMarginTrading"] is True
    fees = client.get_trade_fee(symbol="BTCUSDT")
    assert fees[0]["symbol"] == "BTCUSDT"
    coins = {c["coin"]: c for c in client.get_all_coins_info()}
    assert [n["network"] for n in coins["USDT"]["networkList"]] == ["ETH", "TRX", "BSC"]
    addr = client.get_deposit_address(coin="USDT", network="TRX")
    assert addr["coin"] == "USDT" and addr["address"]
    assert isinstance(client.get_deposit_history(), list)
    assert isinstance(client.get_withdraw_history(), list)


# ---------------------------------------------------------------------- errors
def test_error_2010_insufficient_balance(client: Client) -> None:
    price = (_bid(client) * D("0.95")).quantize(D("0.01"))
    with pytest.raises(BinanceAPIException) as info:
        client.order_limit_buy(symbol="BTCUSDT", quantity="50", price=str(price))
    assert info.value.code == -2010 and info.value.status_code == 400
    assert "insufficient balance" in info.value.message


def test_error_1022_bad_signature(lnet: Localnet, loop: asyncio.AbstractEventLoop) -> None:
    key, _ = lnet.credentials("trader")
    wrong: Client = _client_class(Client, lnet.url)(key, "0" * 64)
    try:
        with pytest.raises(BinanceAPIException) as info:
            wrong.get_account()
    finally:
        wrong.close_connection()
    assert info.value.code == -1022 and info.value.status_code == 400


# ---------------------------------------------------------------------- depth cache
def test_depth_cache_stays_consistent(lnet: Localnet) -> None:
    """python-binance's DepthCacheManager: REST snapshot + diff stream, never crossed (#15.6).

    It deletes a level only when the diff's quantity is the exact string ``"0.00000000"``
    (``DepthCache.add_bid``); with localnet's old ``"0"`` removed levels stayed and the book crossed.
    """

    async def _keep_moving() -> None:
        side = "buy"
        while True:  # a print at the last price, aggressor alternating: the touch moves, a diff goes out
            px = await asyncio.to_thread(lnet.call, lambda v: v.last_price["BTCUSDT"])
            await asyncio.to_thread(lnet.inject_trade, "BTCUSDT", px, "0.001", side)
            await asyncio.to_thread(lnet.step, 1_000)  # diffs go out once per second of (stepped) time
            side = "sell" if side == "buy" else "buy"
            await asyncio.sleep(0.05)

    def update_id() -> int:
        return int(lnet.call(lambda v: v.books["BTCUSDT"].update_id))

    async def run() -> tuple[list[list[float]], list[list[float]], dict[str, Any], int]:
        ac = await _client_class(AsyncClient, lnet.url).create()
        bm_cls = type("BinanceSocketManagerLocal", (BinanceSocketManager,), {"STREAM_URL": lnet.ws_url + "/"})
        bm = bm_cls(ac)
        applied = 0
        try:
            async with DepthCacheManager(ac, "BTCUSDT", bm=bm, limit=1000) as dcm:
                seen = await asyncio.to_thread(update_id)  # the snapshot's lastUpdateId
                for _ in range(8):  # move the market: prints re-centre the book, levels come and go
                    await asyncio.to_thread(lnet.step, 7_000)
                    now = await asyncio.to_thread(update_id)
                    if now > seen:  # one merged diff per 1000 ms period crossed (#15.5)
                        dc = await asyncio.wait_for(dcm.recv(), 5.0)
                        bids, asks = dc.get_bids(), dc.get_asks()
                        assert bids[0][0] < asks[0][0], "depth cache crossed"
                        assert all(q > 0 for _, q in bids + asks)
                        applied += 1
                    seen = now
                dc = dcm.get_depth_cache()
                # Levels beyond the first snapshot's 1000 are learnt only when they change (Binance's
                # "manage a local order book": quantities outside the snapshot stay unknown), so the
                # near 500, which every move keeps current, are compared
                snap = await ac.get_order_book(symbol="BTCUSDT", limit=500)
                out = dc.get_bids()[:500], dc.get_asks()[:500], snap, applied
                # python-binance's reader stops only after its next message (or a 10 s timeout): keep
                # the market moving while it closes, as Binance's diff stream does every second
                ticker = asyncio.create_task(_keep_moving())
            ticker.cancel()
            return out
        finally:
            await ac.close_connection()

    bids, asks, snap, applied = asyncio.run(run())
    assert applied >= 3  # the market moved and the cache followed it
    assert bids == [[float(p), float(q)] for p, q in snap["bids"]]
    assert asks == [[float(p), float(q)] for p, q in snap["asks"]]
