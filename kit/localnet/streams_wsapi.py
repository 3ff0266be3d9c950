"""Binance WebSocket API subset at ``/ws-api/v3``: the spot user-data stream.

ccxt 4.5.90 opens one connection here for ``watch_orders`` / ``watch_my_trades`` /
``watch_balance`` and sends::

    {"id":"1","method":"userDataStream.subscribe.signature",
     "params":{"apiKey":"...","recvWindow":10000,"timestamp":1700000000000,"signature":"<hex>"}}

The signature is HMAC-SHA256 (hex) over the params except ``signature``, sorted by key and
joined ``k=v&k=v`` *without* URL-encoding (:func:`canonical_query`). Success answers
``{"id":"1","status":200,"result":{"subscriptionId":0}}``; from then on every payload the venue
publishes to ``("user", account)`` arrives as ``{"subscriptionId":0,"event":{...}}``.

Methods: ``userDataStream.subscribe.signature``, ``userDataStream.unsubscribe`` (one
``subscriptionId`` or all), ``ping``, ``time``. Anything else gets a ``-1020`` error reply.
Requests are charged to the client IP's REST ``REQUEST_WEIGHT`` budget (Binance shares it between
REST and the WebSocket API), so a banned IP gets ``status`` 418 / 429 with ``-1003`` here too.

Examples
--------
>>> canonical_query({"timestamp": 2, "apiKey": "k", "recvWindow": 10000, "signature": "x"})
'apiKey=k&recvWindow=10000&timestamp=2'
>>> error_reply("7", 400, -1102, "Mandatory parameter 'apiKey' was not sent.")["status"]
400
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from aiohttp import WSMsgType, web

from kit.localnet import auth
from kit.localnet.streams_conn import Connection, Topic, track, untrack

_REQUIRED = ("apiKey", "timestamp", "signature")
#: Request weights of the WS-API methods (Binance: subscribe 2, others 1).
WEIGHTS = {"userDataStream.subscribe.signature": 2}
_MANDATORY = "Mandatory parameter '{}' was not sent, was empty/null, or malformed."


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def canonical_query(params: Mapping[str, Any]) -> str:
    """The WS-API signing payload: params except ``signature``, sorted by key, not URL-encoded."""
    return "&".join(f"{k}={_text(v)}" for k, v in sorted(params.items()) if k != "signature")


def sign(secret: str, params: Mapping[str, Any]) -> str:
    """Lowercase hex HMAC-SHA256 of :func:`canonical_query` keyed with ``secret`` (as ccxt does)."""
    return hmac.new(secret.encode(), canonical_query(params).encode(), hashlib.sha256).hexdigest()


def error_reply(req_id: Any, status: int, code: int, msg: str) -> dict[str, Any]:
    """A WS-API error response."""
    return {"id": req_id, "status": status, "error": {"code": code, "msg": msg}}


def ok_reply(req_id: Any, result: Any) -> dict[str, Any]:
    """A WS-API success response."""
    return {"id": req_id, "status": 200, "result": result}


class AuthFailure(Exception):
    """A rejected user-data subscription; carries the WS-API status, Binance code and message."""

    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(msg)
        self.status, self.code, self.msg = status, code, msg

    @classmethod
    def of(cls, err: auth.AuthError) -> AuthFailure:
        """From an :data:`kit.localnet.auth.AuthError` tuple ``(code, msg, http status)``."""
        code, msg, status = err
        return cls(status, code, msg)


def server_ms(venue: Any) -> int:
    """The venue's server time as used for timestamp checks (clock plus any injected skew)."""
    now = getattr(venue, "server_ms", None)
    if callable(now):
        return int(now())
    skew = getattr(getattr(venue, "faults", None), "clock_skew_ms", 0) or 0
    return int(venue.clock.now_ms()) + int(skew)


def authenticate(venue: Any, params: Any, client_ip: str) -> auth.ApiKey:
    """Check a signed subscribe request; return the :class:`ApiKey` or raise :class:`AuthFailure`.

    Order of checks (as Binance REST): mandatory params (-1102), key format / unknown key
    (-2014 / -2015), IP allowlist and the reading permission (-2015), timestamp window (-1021,
    -1131), signature over :func:`canonical_query` (-1022; HMAC or Ed25519 via
    :func:`kit.localnet.auth.verify_signature`).
    """
    if not isinstance(params, dict):
        raise AuthFailure(400, -1102, _MANDATORY.format("params"))
    for name in _REQUIRED:
        if params.get(name) in (None, ""):
            raise AuthFailure(400, -1102, _MANDATORY.format(name))
    api_key = params["apiKey"]
    if not isinstance(api_key, str) or not api_key.isalnum():
        raise AuthFailure.of(auth.BAD_KEY_FORMAT)
    key = venue.key(api_key)
    if key is None or not key.ip_allowed(client_ip) or not auth.has_permission(key, "reading"):
        raise AuthFailure.of(auth.INVALID_KEY)
    try:
        timestamp = int(params["timestamp"])
        recv_window = None if params.get("recvWindow") is None else int(params["recvWindow"])
    except (TypeError, ValueError):
        raise AuthFailure(400, -1102, _MANDATORY.format("timestamp")) from None
    max_window = getattr(getattr(venue, "config", None), "max_recv_window_ms", 60_000)
    late = auth.check_timestamp(timestamp, recv_window, server_ms=server_ms(venue), max_recv_window=max_window)
    if late is not None:
        raise AuthFailure.of(late)
    if not auth.verify_signature(key, canonical_query(params), str(params["signature"])):
        raise AuthFailure.of(auth.BAD_SIGNATURE)
    return key


class WsApiSession:
    """The WS-API methods of one connection; user-data subscriptions are numbered from 0."""

    def __init__(self, conn: Connection, client_ip: str) -> None:
        self.conn = conn
        self.venue = conn.venue
        self.client_ip = client_ip
        self._next_id = 0

    async def handle_text(self, text: str) -> None:
        """Handle one request frame and send its reply."""
        try:
            req = json.loads(text)
        except ValueError:
            await self.conn.send(error_reply(None, 400, -1135, "Invalid JSON Request"))
            return
        if not isinstance(req, dict):
            await self.conn.send(error_reply(None, 400, -1135, "Invalid JSON Request"))
            return
        req_id = req.get("id")
        method = req.get("method")
        params = req.get("params", {})
        limited = self._charge(WEIGHTS.get(str(method), 1))
        if limited is not None:
            await self.conn.send(error_reply(req_id, *limited))
            return
        if method == "userDataStream.subscribe.signature":
            await self._subscribe(req_id, params)
        elif method == "userDataStream.unsubscribe":
            await self._unsubscribe(req_id, params)
        elif method == "ping":
            await self.conn.send(ok_reply(req_id, {}))
        elif method == "time":
            await self.conn.send(ok_reply(req_id, {"serverTime": self.venue.clock.now_ms()}))
        else:
            await self.conn.send(error_reply(req_id, 400, -1020, "This operation is not supported."))

    def _charge(self, weight: int) -> tuple[int, int, str] | None:
        """Charge the IP's REST weight budget; ``(status, code, msg)`` if over it or banned."""
        limiter = getattr(self.venue, "limiter", None)
        if limiter is None:
            return None
        verdict = limiter.charge(self.client_ip, "api", weight, now_ms=self.venue.clock.now_ms())
        if verdict.status == 200:
            return None
        return verdict.status, verdict.code, verdict.msg

    async def _subscribe(self, req_id: Any, params: Any) -> None:
        try:
            key = authenticate(self.venue, params, self.client_ip)
        except AuthFailure as exc:
            await self.conn.send(error_reply(req_id, exc.status, exc.code, exc.msg))
            return
        sub_id = self._next_id
        self._next_id += 1
        self.conn.subscribe(sub_id, [("user", key.account)])  # before the reply: no event is missed
        await self.conn.send(ok_reply(req_id, {"subscriptionId": sub_id}))

        def wrap(topic: Topic, event: Any) -> Any:
            return {"subscriptionId": sub_id, "event": event}

        self.conn.start(sub_id, wrap)

    async def _unsubscribe(self, req_id: Any, params: Any) -> None:
        sub_id = params.get("subscriptionId") if isinstance(params, dict) else None
        if sub_id is None:
            for key in self.conn.keys():
                self.conn.unsubscribe(key)
        elif isinstance(sub_id, bool) or not isinstance(sub_id, int) or not self.conn.unsubscribe(sub_id):
            await self.conn.send(error_reply(req_id, 400, -2, f"No subscription with ID {sub_id!r}."))
            return
        await self.conn.send(ok_reply(req_id, {}))


async def serve_ws_api(request: web.Request, venue: Any) -> web.WebSocketResponse:
    """Serve one ``/ws-api/v3`` connection."""
    ws = web.WebSocketResponse(autoping=True)
    await ws.prepare(request)
    conn = Connection(venue, ws, kind="ws-api", transport=request.transport)
    session = WsApiSession(conn, request.remote or "")
    track(request.app, conn)
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await session.handle_text(msg.data)
            elif msg.type == WSMsgType.BINARY:
                await conn.send(error_reply(None, 400, -1135, "Invalid JSON Request"))
    finally:
        await conn.close()
        untrack(request.app, conn)
    return ws
