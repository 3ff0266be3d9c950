"""python-binance's ``ws_*`` calls (Binance's WebSocket API) against localnet (#15.4).

python-binance is pointed here only through its own class attributes for base URLs
(``API_URL``, ``MARGIN_API_URL``, ``WS_API_URL``); everything else is its default. Its REST side
is covered in ``test_python_binance.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal as D
from typing import Any

import pytest

pytest.importorskip("binance")

from binance import AsyncClient  # noqa: E402
from binance.exceptions import BinanceAPIException  # noqa: E402

from kit.localnet import LimitsConfig, LocalnetConfig  # noqa: E402
from kit.localnet.server import Localnet, start  # noqa: E402

LIMITS = LimitsConfig(weight_per_minute=10**9, sapi_weight_per_minute=10**9, orders_per_10s=10**9, orders_per_day=10**9)


@pytest.fixture(scope="module")
def wnet() -> Iterator[Localnet]:
    with start(port=0, config=LocalnetConfig(stepped=True, seed=21, history_minutes=30, limits=LIMITS)) as net:
        yield net


def local(net: Localnet) -> Any:
    urls = {"API_URL": net.url + "/api", "MARGIN_API_URL": net.url + "/sapi", "WS_API_URL": net.ws_url + "/ws-api/v3"}
    return type("AsyncClientLocal", (AsyncClient,), urls)


@pytest.mark.slow  # python-binance's WebSocket reader ends only on a message or after 10 s idle: closing takes 10 s
def test_ws_calls_market_account_orders_and_errors(wnet: Localnet) -> None:
    key, secret = wnet.credentials("trader")

    async def main() -> None:
        c = await local(wnet).create(key, secret)
        forged = await local(wnet).create(key, "x" * 64)
        try:
            book = await c.ws_get_order_book(symbol="BTCUSDT", limit=5)
            assert len(book["bids"]) == 5 and D(book["bids"][0][0]) < D(book["asks"][0][0])
            assert (await c.ws_get_symbol_ticker(symbol="BTCUSDT"))["symbol"] == "BTCUSDT"
            assert len(await c.ws_get_klines(symbol="BTCUSDT", interval="1m", limit=2)) == 2
            balances = {b["asset"]: D(b["free"]) for b in (await c.ws_get_account())["balances"]}
            assert balances["USDT"] > 0
            price = str((D(book["bids"][0][0]) * D("0.9")).quantize(D("0.01")))
            resting = await c.ws_create_order(
                symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.001", price=price
            )
            assert resting["status"] == "NEW"
            assert [o["orderId"] for o in await c.ws_get_open_orders(symbol="BTCUSDT")] == [resting["orderId"]]
            got = await c.ws_get_order(symbol="BTCUSDT", orderId=resting["orderId"])
            assert got["clientOrderId"] == resting["clientOrderId"]
            assert (await c.ws_cancel_order(symbol="BTCUSDT", orderId=resting["orderId"]))["status"] == "CANCELED"
            filled = await c.ws_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001")
            assert filled["status"] == "FILLED"
            mine = await c.ws_get_my_trades(symbol="BTCUSDT")
            assert filled["orderId"] in [t["orderId"] for t in mine]
            with pytest.raises(BinanceAPIException) as too_big:
                await c.ws_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="100")
            assert too_big.value.code == -2010
            with pytest.raises(BinanceAPIException) as bad:
                await forged.ws_get_account()
            assert bad.value.code == -1022
        finally:
            await asyncio.gather(c.close_connection(), forged.close_connection())

    asyncio.run(asyncio.wait_for(main(), 40))
