"""Binance's official Python SDK (binance-sdk-spot) against localnet, default settings but the URLs.

The SDK is pointed here only through its own documented settings: ``base_path`` of
``ConfigurationRestAPI``, ``stream_url`` of ``ConfigurationWebSocketAPI`` and
``ConfigurationWebSocketStreams``. Nothing else is changed (``return_rate_limits`` stays on, as
by default): REST, market streams, the user data stream over the WebSocket API, the WebSocket
API's requests, and the two errors a client meets first, -2010 and -1022.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("binance_sdk_spot")

from binance_common.configuration import (  # noqa: E402
    ConfigurationRestAPI,
    ConfigurationWebSocketAPI,
    ConfigurationWebSocketStreams,
)
from binance_common.errors import BadRequestError  # noqa: E402
from binance_sdk_spot.spot import Spot  # noqa: E402

from kit.localnet import LimitsConfig, LocalnetConfig  # noqa: E402
from kit.localnet.server import Localnet, start  # noqa: E402

# binance-common 4.7 passes ``timeout=<float>`` to aiohttp's ws_connect, which aiohttp deprecates;
# the suite turns warnings into errors, and this one is the SDK's, not ours.
pytestmark = pytest.mark.filterwarnings("ignore:parameter 'timeout' of type 'float' is deprecated:DeprecationWarning")

LIMITS = LimitsConfig(weight_per_minute=10**9, sapi_weight_per_minute=10**9, orders_per_10s=10**9, orders_per_day=10**9)


@pytest.fixture(scope="module")
def snet() -> Iterator[Localnet]:
    """A stepped localnet: streams move when a test steps the clock."""
    with start(port=0, config=LocalnetConfig(stepped=True, seed=9, history_minutes=60, limits=LIMITS)) as net:
        yield net


def sdk(net: Localnet, secret: str | None = None) -> Spot:
    """The SDK with the trader key; only the three base URLs point at localnet."""
    key, real = net.credentials("trader")
    secret = secret or real
    return Spot(
        config_rest_api=ConfigurationRestAPI(api_key=key, api_secret=secret, base_path=net.url),
        config_ws_api=ConfigurationWebSocketAPI(api_key=key, api_secret=secret, stream_url=f"{net.ws_url}/ws-api/v3"),
        config_ws_streams=ConfigurationWebSocketStreams(stream_url=net.ws_url),
    )


def test_rest_market_account_orders_and_errors(snet: Localnet) -> None:
    rest = sdk(snet).rest_api
    assert abs(rest.time().data().server_time - snet.call(lambda v: v.server_ms())) < 5_000
    assert rest.exchange_info(symbol="BTCUSDT").data().symbols[0].symbol == "BTCUSDT"
    book = rest.depth(symbol="BTCUSDT", limit=5).data()
    assert len(book.bids) == 5 and float(book.bids[0][0]) < float(book.asks[0][0])
    assert len(rest.klines(symbol="BTCUSDT", interval="1m", limit=3).data()) == 3
    balances = {b.asset: float(b.free) for b in rest.get_account().data().balances}
    assert balances["USDT"] > 0
    order = rest.new_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=0.001).data()
    assert order.status == "FILLED" and order.fills
    assert order.order_id in [t.order_id for t in rest.my_trades(symbol="BTCUSDT").data()]
    with pytest.raises(BadRequestError) as too_big:
        rest.new_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=100)
    assert "-2010" in str(too_big.value) and "insufficient balance" in str(too_big.value)
    with pytest.raises(BadRequestError) as forged:
        sdk(snet, secret="x" * 64).rest_api.get_account()
    assert "-1022" in str(forged.value)


def test_websocket_api_requests_user_data_and_errors(snet: Localnet) -> None:
    async def main() -> None:
        conn = await sdk(snet).websocket_api.create_connection()
        try:
            ping = await conn.ping()
            assert ping.rate_limits and ping.rate_limits[0].rateLimitType == "REQUEST_WEIGHT"
            t = (await conn.time()).data().result.server_time
            assert abs(t - snet.call(lambda v: v.server_ms())) < 5_000
            assert (await conn.depth(symbol="ETHUSDT", limit=5)).data().result.last_update_id > 0
            acct = (await conn.account_status()).data().result
            assert any(b.asset == "USDT" for b in acct.balances)
            events: list[Any] = []
            sub = await conn.user_data_stream_subscribe_signature()
            sub.stream.on("message", events.append)
            placed = await conn.order_place(symbol="ETHUSDT", side="BUY", type="MARKET", quantity=0.01)
            assert placed.data().result.status == "FILLED"
            assert [r.rateLimitType for r in placed.rate_limits] == ["ORDERS", "ORDERS", "REQUEST_WEIGHT"]
            for _ in range(100):
                if events:
                    break
                await asyncio.sleep(0.02)
            kinds = [type(e.actual_instance).__name__ for e in events]
            assert "ExecutionReport" in kinds, kinds
            report = events[kinds.index("ExecutionReport")].actual_instance
            assert (report.s, report.x, report.S) == ("ETHUSDT", "NEW", "BUY")  # the first report: accepted
            refused = await conn.order_place(symbol="ETHUSDT", side="BUY", type="MARKET", quantity=1000)
            assert refused.data()["error"]["code"] == -2010  # the SDK hands the error body back
        finally:
            await conn.close_connection()
        bad = await sdk(snet, secret="x" * 64).websocket_api.create_connection()
        try:
            forged = await bad.account_status()
            assert forged.data()["error"]["code"] == -1022
        finally:
            await bad.close_connection()

    asyncio.run(asyncio.wait_for(main(), 20))


@pytest.mark.slow  # the SDK waits 0.5 s before each SUBSCRIBE (Binance's 5 messages/s): 2 s for four streams
def test_market_streams(snet: Localnet) -> None:
    async def main() -> None:
        conn = await sdk(snet).websocket_streams.create_connection()
        got: dict[str, list[Any]] = {"trade": [], "depth": [], "kline": [], "ticker": []}
        try:
            (await conn.trade(symbol="btcusdt")).on("message", got["trade"].append)
            (await conn.diff_book_depth(symbol="btcusdt")).on("message", got["depth"].append)
            (await conn.kline(symbol="btcusdt", interval="1m")).on("message", got["kline"].append)
            (await conn.ticker(symbol="btcusdt")).on("message", got["ticker"].append)
            await asyncio.sleep(0.1)  # the last SUBSCRIBE reaches the server
            # Step 2 s at a time until every stream has spoken: the synthetic market's trade rate
            # follows its volatility, so a fixed 10 s once saw no print at all (a full-suite run, 2026-12-04).
            for step in range(60):
                if step >= 5 and all(got.values()):
                    break
                await asyncio.to_thread(snet.step, 2_000)
                for _ in range(10):
                    if all(got.values()):
                        break
                    await asyncio.sleep(0.02)
        finally:
            await conn.close_connection()
        assert all(got.values()), {k: len(v) for k, v in got.items()}
        assert got["kline"][-1].k.i == "1m" and got["depth"][-1].U <= got["depth"][-1].u

    asyncio.run(asyncio.wait_for(main(), 20))
