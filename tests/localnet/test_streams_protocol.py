"""Wire protocol of the localnet stream routes, driven by a raw aiohttp WebSocket client.

The routes run on a real aiohttp server over loopback with a real :class:`Hub`; the venue is a
minimal stand-in (hub, symbols, clock, keys) so the protocol can be checked on its own: acks,
errors, combined wrapping, WS-API auth codes, hub cleanup (no leaked subscriptions) and the
disconnect faults. End-to-end behaviour with ccxt lives in ``test_streams.py``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from aiohttp import web

from kit.localnet import auth
from kit.localnet.clock import Clock
from kit.localnet.hub import Hub
from kit.localnet.streams import add_routes, disconnect_all, live_connections
from kit.localnet.streams_wsapi import canonical_query

NOW = 1_700_000_000_000
SUBSCRIBE = "userDataStream.subscribe.signature"


class StubFaults:
    def __init__(self) -> None:
        self.drop_next = False
        self.clock_skew_ms = 0

    def should_drop_ws(self) -> bool:
        hit, self.drop_next = self.drop_next, False
        return hit


class StubVenue:
    def __init__(self, *, maxsize: int = 10_000) -> None:
        self.hub = Hub(maxsize=maxsize)
        self.clock = Clock(start_ms=NOW, stepped=True)
        self.symbols = {"BTCUSDT": object(), "ETHUSDT": object()}
        self.faults = StubFaults()
        self.trader = auth.new_api_key("t", "main", created_ms=0)
        self.blind = auth.new_api_key("b", "main", reading=False, created_ms=0)
        self.fenced = auth.new_api_key("f", "main", ip_allowlist=("203.0.113.7",), created_ms=0)
        self._keys = {k.api_key: k for k in (self.trader, self.blind, self.fenced)}
        self.depth_calls = 0
        self.limiter: Any = None

    def key(self, api_key: str) -> auth.ApiKey | None:
        return self._keys.get(api_key)

    def depth(self, symbol_id: str, limit: int) -> dict[str, Any]:
        self.depth_calls += 1
        return {"lastUpdateId": 7, "bids": [["1.00", "2"]] * limit, "asks": []}


@asynccontextmanager
async def serve(venue: StubVenue) -> AsyncIterator[tuple[str, web.Application]]:
    app = web.Application()
    add_routes(app, venue)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"ws://127.0.0.1:{port}", app
    finally:
        await runner.cleanup()


def run(body: Callable[..., Awaitable[None]], venue: StubVenue | None = None) -> None:
    async def main() -> None:
        v = venue or StubVenue()
        async with serve(v) as (url, app), aiohttp.ClientSession() as http:
            await asyncio.wait_for(body(v, url, app, http), 10)

    asyncio.run(main())


async def recv(ws: aiohttp.ClientWebSocketResponse) -> Any:
    msg = await asyncio.wait_for(ws.receive(), 5)
    assert msg.type == aiohttp.WSMsgType.TEXT, msg
    return json.loads(msg.data)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


# ---------------------------------------------------------------- market streams
def test_subscribe_forward_unsubscribe_no_leak() -> None:
    async def body(v: StubVenue, url: str, app: web.Application, http: aiohttp.ClientSession) -> None:
        ws = await http.ws_connect(url + "/ws/0")
        await ws.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@trade", "btcusdt@kline_1m"], "id": 1})
        assert await recv(ws) == {"result": None, "id": 1}
        assert v.hub.subscribers(("trade", "BTCUSDT")) == 1
        for i in range(20):
            v.hub.publish(("trade", "BTCUSDT"), {"e": "trade", "t": i})
        assert [(await recv(ws))["t"] for _ in range(20)] == list(range(20))
        await ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": 2})
        assert await recv(ws) == {"result": ["btcusdt@trade", "btcusdt@kline_1m"], "id": 2}
        await ws.send_json({"method": "UNSUBSCRIBE", "params": ["btcusdt@trade"], "id": 3})
        assert await recv(ws) == {"result": None, "id": 3}
        assert v.hub.subscribers(("trade", "BTCUSDT")) == 0
        v.hub.publish(("trade", "BTCUSDT"), {"e": "trade", "t": 99})
        v.hub.publish(("kline", "BTCUSDT", "1m"), {"e": "kline", "k": {}})
        assert (await recv(ws))["e"] == "kline"
        await ws.close()
        for _ in range(50):
            if not v.hub.topics():
                break
            await asyncio.sleep(0.01)
        assert v.hub.topics() == []
        assert live_connections(app) == []

    run(body)


def test_combined_stream_and_arrays() -> None:
    async def body(v: StubVenue, url: str, app: web.Application, http: aiohttp.ClientSession) -> None:
        ws = await http.ws_connect(url + "/stream")
        await ws.send_json({"method": "SUBSCRIBE", "params": ["!miniTicker@arr", "ethusdt@depth5"], "id": 1})
        assert await recv(ws) == {"result": None, "id": 1}
        v.hub.publish(("miniTicker", "ETHUSDT"), {"e": "24hrMiniTicker", "s": "ETHUSDT"})
        mini = {"e": "24hrMiniTicker", "s": "ETHUSDT"}
        assert await recv(ws) == {"stream": "!miniTicker@arr", "data": [mini]}
        v.hub.publish(("depthPartial", "ETHUSDT", "1000ms"), v.depth("ETHUSDT", 20))  # the period's snapshot
        partial = await recv(ws)
        assert partial["stream"] == "ethusdt@depth5" and partial["data"]["lastUpdateId"] == 7
        assert len(partial["data"]["bids"]) == 5
        await ws.send_json({"method": "SET_PROPERTY", "params": ["combined", False], "id": 2})
        assert await recv(ws) == {"result": None, "id": 2}
        await ws.send_json({"method": "GET_PROPERTY", "params": ["combined"], "id": 3})
        assert await recv(ws) == {"result": False, "id": 3}
        v.hub.publish(("miniTicker", "BTCUSDT"), {"e": "24hrMiniTicker", "s": "BTCUSDT"})
        assert await recv(ws) == [{"e": "24hrMiniTicker", "s": "BTCUSDT"}]
        await ws.close()

    run(body)


def test_streams_named_in_url() -> None:
    async def body(v: StubVenue, url: str, app: web.Application, http: aiohttp.ClientSession) -> None:
        ws = await http.ws_connect(url + "/stream?streams=btcusdt@trade/ethusdt@bookTicker")
        await settle()
        await asyncio.sleep(0.05)
        book = {"s": "ETHUSDT", "b": "1", "a": "2"}
        v.hub.publish(("bookTicker", "ETHUSDT"), book)
        assert await recv(ws) == {"stream": "ethusdt@bookTicker", "data": book}
        await ws.close()
        raw = await http.ws_connect(url + "/ws/btcusdt@aggTrade")
        await asyncio.sleep(0.05)
        v.hub.publish(("aggTrade", "BTCUSDT"), {"e": "aggTrade", "a": 1})
        assert await recv(raw) == {"e": "aggTrade", "a": 1}
        await raw.close()

    run(body)


def test_protocol_errors() -> None:
    async def body(v: StubVenue, url: str, app: web.Application, http: aiohttp.ClientSession) -> None:
        ws = await http.ws_connect(url + "/ws")
        await ws.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@trade", "nope@trade"], "id": 5})
        reply = await recv(ws)
        assert reply["id"] == 5 and reply["error"]["code"] == 2
        assert v.hub.subscribers(("trade", "BTCUSDT")) == 0  # all-or-nothing
        await ws.send_str("{not json")
        reply = await recv(ws)
        assert reply["error"]["code"] == 3 and reply["id"] is None
        await ws.send_json({"method": "FROB", "params": [], "id": 6})
        assert (await recv(ws))["error"]["code"] == 2
        await ws.send_json({"method": "SUBSCRIBE", "params": "btcusdt@trade", "id": 7})
        assert (await recv(ws))["error"]["code"] == 2
        await ws.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": -1})
        assert (await recv(ws))["error"]["code"] == 2
        await ws.send_json({"method": "SET_PROPERTY", "params": ["colour", True], "id": 8})
        assert (await recv(ws))["error"]["code"] == 0
        await ws.send_json({"method": "SET_PROPERTY", "params": ["combined", "yes"], "id": 9})
        assert (await recv(ws))["error"]["code"] == 1
        await ws.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": "abc"})
        assert await recv(ws) == {"result": None, "id": "abc"}
        await ws.close()

    run(body)


def test_fault_disconnect_per_event_and_on_command() -> None:
    async def body(v: StubVenue, url: str, app: web.Application, http: aiohttp.ClientSession) -> None:
        ws = await http.ws_connect(url + "/ws/1")
        await ws.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 1})
        await recv(ws)
        v.faults.drop_next = True
        v.hub.publish(("trade", "BTCUSDT"), {"e": "trade"})
        msg = await asyncio.wait_for(ws.receive(), 5)
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        await settle()
        assert v.hub.subscribers(("trade", "BTCUSDT")) == 0

        again = await http.ws_connect(url + "/ws/2")
        api = await http.ws_connect(url + "/ws-api/v3")
        await asyncio.sleep(0.05)
        assert len(live_connections(app)) == 2
        assert await disconnect_all(app, "market") == 1
        msg = await asyncio.wait_for(again.receive(), 5)
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert not api.closed
        await api.close()

    run(body)


def test_slow_consumer_is_dropped() -> None:
    async def body(v: StubVenue, url: str, app: web.Application, http: aiohttp.ClientSession) -> None:
        ws = await http.ws_connect(url + "/ws")
        await ws.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@depth"], "id": 1})
        await recv(ws)
        for i in range(10):  # queue bound is 3: the oldest are lost, so the stream must end
            v.hub.publish(("depth", "BTCUSDT", "1000ms"), {"e": "depthUpdate", "U": i, "u": i})
        while True:
            msg = await asyncio.wait_for(ws.receive(), 5)
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
        assert ws.close_code == aiohttp.WSCloseCode.POLICY_VIOLATION

    run(body, StubVenue(maxsize=3))


# ---------------------------------------------------------------- WS-API
def _signed(key: auth.ApiKey, *, ts: int = NOW, secret: str | None = None, **extra: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"apiKey": key.api_key, "recvWindow": 10000, "timestamp": ts, **extra}
    raw = canonical_query(params).encode()
    params["signature"] = hmac.new((secret or key.secret.reveal()).encode(), raw, hashlib.sha256).hexdigest()
    return params


def test_ws_api_subscribe_and_forward() -> None:
    async def body(v: StubVenue, url: str, app: web.Application, http: aiohttp.ClientSession) -> None:
        ws = await http.ws_connect(url + "/ws-api/v3")
        await ws.send_json({"id": "1", "method": "userDataStream.subscribe.signature", "params": _signed(v.trader)})
        assert await recv(ws) == {"id": "1", "status": 200, "result": {"subscriptionId": 0}}
        v.hub.publish(("user", "main"), {"e": "executionReport", "i": 1})
        v.hub.publish(("user", "other"), {"e": "executionReport", "i": 2})
        v.hub.publish(("user", "main"), {"e": "outboundAccountPosition", "B": []})
        assert await recv(ws) == {"subscriptionId": 0, "event": {"e": "executionReport", "i": 1}}
        assert await recv(ws) == {"subscriptionId": 0, "event": {"e": "outboundAccountPosition", "B": []}}
        await ws.send_json({"id": 2, "method": SUBSCRIBE, "params": _signed(v.trader)})
        assert (await recv(ws))["result"] == {"subscriptionId": 1}
        await ws.send_json({"id": 3, "method": "userDataStream.unsubscribe", "params": {"subscriptionId": 0}})
        assert await recv(ws) == {"id": 3, "status": 200, "result": {}}
        assert v.hub.subscribers(("user", "main")) == 1
        await ws.send_json({"id": 4, "method": "userDataStream.unsubscribe", "params": {"subscriptionId": 0}})
        assert (await recv(ws))["status"] == 400
        await ws.send_json({"id": 5, "method": "time"})
        assert await recv(ws) == {"id": 5, "status": 200, "result": {"serverTime": NOW}}
        await ws.send_json({"id": 6, "method": "order.place", "params": {}})  # signed: apiKey first
        reply = await recv(ws)
        assert (reply["status"], reply["error"]["code"]) == (400, -1102)
        await ws.send_json({"id": 7, "method": "margin.borrow", "params": {}})
        reply = await recv(ws)
        assert (reply["status"], reply["error"]["code"]) == (400, -1020)
        await ws.close()
        await asyncio.sleep(0.05)
        assert v.hub.subscribers(("user", "main")) == 0

    run(body)


def test_ws_api_auth_failures() -> None:
    async def body(v: StubVenue, url: str, app: web.Application, http: aiohttp.ClientSession) -> None:
        ws = await http.ws_connect(url + "/ws-api/v3")
        cases = [
            (_signed(v.trader, secret="wrong"), 400, -1022),
            (_signed(v.trader, ts=NOW - 60_000), 400, -1021),
            (_signed(v.trader, ts=NOW + 5_000), 400, -1021),
            (_signed(v.blind), 401, -2015),
            (_signed(v.fenced), 401, -2015),
            ({**_signed(v.trader), "apiKey": "unknownKey"}, 401, -2015),
            ({**_signed(v.trader), "apiKey": "bad key!"}, 401, -2014),
            ({k: x for k, x in _signed(v.trader).items() if k != "signature"}, 400, -1102),
            ({**_signed(v.trader), "recvWindow": 70_000}, 400, -1131),
        ]
        for i, (params, status, code) in enumerate(cases):
            await ws.send_json({"id": str(i), "method": SUBSCRIBE, "params": params})
            reply = await recv(ws)
            assert (reply["id"], reply["status"], reply["error"]["code"]) == (str(i), status, code), reply
            assert "result" not in reply
        assert v.hub.subscribers(("user", "main")) == 0
        await ws.close()

    run(body)


def test_disconnect_route_abort() -> None:
    async def body(v: StubVenue, url: str, app: web.Application, http: aiohttp.ClientSession) -> None:
        ws = await http.ws_connect(url + "/ws-api/v3")
        await ws.send_json({"id": 1, "method": SUBSCRIBE, "params": _signed(v.trader)})
        await recv(ws)
        base = url.replace("ws://", "http://")
        async with http.post(base + "/_localnet/streams/disconnect?kind=nope", json={}) as resp:
            assert resp.status == 400
        async with http.post(base + "/_localnet/streams/disconnect?kind=ws-api&mode=abort", json={}) as resp:
            assert await resp.json() == {"disconnected": 1}
        msg = await asyncio.wait_for(ws.receive(), 5)
        assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSE)
        for _ in range(50):
            if not v.hub.topics():
                break
            await asyncio.sleep(0.01)
        assert v.hub.topics() == [] and live_connections(app) == []

    run(body)


def test_ws_api_shares_the_ip_weight_budget() -> None:
    from kit.localnet import LimitsConfig
    from kit.localnet.limits import RateLimiter

    async def body(v: StubVenue, url: str, app: web.Application, http: aiohttp.ClientSession) -> None:
        v.limiter = RateLimiter(LimitsConfig(weight_per_minute=3, violations_before_ban=1))
        ws = await http.ws_connect(url + "/ws-api/v3")
        await ws.send_json({"id": 1, "method": SUBSCRIBE, "params": _signed(v.trader)})  # weight 2
        assert (await recv(ws))["status"] == 200
        await ws.send_json({"id": 2, "method": "ping"})  # 3: at the limit
        assert (await recv(ws))["status"] == 200
        await ws.send_json({"id": 3, "method": "ping"})
        reply = await recv(ws)
        assert (reply["status"], reply["error"]["code"]) == (429, -1003)
        await ws.send_json({"id": 4, "method": "ping"})
        await ws.send_json({"id": 5, "method": "time"})
        assert (await recv(ws))["status"] == 418
        assert (await recv(ws))["status"] == 418
        await ws.close()

    run(body)
