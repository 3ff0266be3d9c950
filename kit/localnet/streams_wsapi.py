"""Binance's WebSocket API at ``/ws-api/v3``: trading, account, market data, sessions, user data.

A request is one JSON text frame ``{"id", "method", "params"}``; the reply echoes ``id`` with
``status`` and ``result`` (or ``error``) and, unless the request says ``"returnRateLimits":
false`` (or the connection URL has ``?returnRateLimits=false``), a ``rateLimits`` array: the
IP's REQUEST_WEIGHT count, and the account's ORDERS counts for methods that place orders
(web-socket-api.md "Rate limits"). Binance's official SDK reads ``rateLimits`` off every reply,
``ping`` and ``time`` included.

Every method but the session ones is the REST endpoint it mirrors
(:data:`kit.localnet.wsapi_methods.METHODS`): the REST handler validates, matches and encodes,
this module only frames. Security comes from the REST route (public, API key, or a signed
permission). A signed request carries ``apiKey``, ``timestamp`` and ``signature`` in
``params``; the signature covers every param but ``signature``, sorted by name and joined
``k=v&k=v`` without URL-encoding (:func:`canonical_query`; HMAC hex or Ed25519 base64). After
``session.logon`` (Ed25519 keys only: an HMAC key gets Binance's ``-4056``) signed requests
may omit ``apiKey`` and ``signature`` but still need ``timestamp``.

User data: ``userDataStream.subscribe.signature`` (any key, ccxt's way) and
``userDataStream.subscribe`` (a logged-on session) forward the venue's ``("user", account)``
hub events as ``{"subscriptionId": n, "event": {...}}``.

Requests are charged to the client IP's REST ``REQUEST_WEIGHT`` budget (Binance shares it between
REST and the WebSocket API), so a banned IP gets ``status`` 418 / 429 with ``-1003`` here too.
Clocks: ``time`` and the ``timestamp`` check use the wire clock (``venue.server_ms()``, the
REST ``/api/v3/time`` clock), market data and order times the simulated clock.

Examples
--------
Binance's published HMAC example (web-socket-api.md, "SIGNED request example (HMAC)"):

>>> params = {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC",
...           "quantity": "0.01000000", "price": "52000.00", "recvWindow": 100,
...           "timestamp": 1645423376532,
...           "apiKey": "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"}
>>> sign("NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j", params)
'aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24'
>>> canonical_query({"timestamp": 2, "apiKey": "k", "recvWindow": 10000, "signature": "x"})
'apiKey=k&recvWindow=10000&timestamp=2'
>>> error_reply("7", 400, -1102, "Mandatory parameter 'apiKey' was not sent.")["status"]
400
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Mapping
from decimal import InvalidOperation
from typing import Any

from aiohttp import WSMsgType, web

from kit.localnet import auth
from kit.localnet.streams_conn import Connection, Topic, track, untrack
from kit.localnet.wsapi_methods import (
    FRAME_PARAMS,
    METHODS,
    ORDER_METHODS,
    SESSION_METHODS,
    method_name,
    rate_limits,
    rest_params,
    want_rate_limits,
)

log = logging.getLogger(__name__)

_REQUIRED = ("apiKey", "timestamp", "signature")
#: Request weights of the session methods (Binance: 2 each); REST twins weigh as on REST.
WEIGHTS = dict(SESSION_METHODS)
_MANDATORY = "Mandatory parameter '{}' was not sent, was empty/null, or malformed."
#: Binance's answer to ``session.logon`` with an HMAC key (only Ed25519 keys may log on).
HMAC_LOGON: auth.AuthError = (-4056, "HMAC_SHA256 API key is not supported.", 400)
UNSUPPORTED = (400, -1020, "This operation is not supported.")
Reply = dict[str, Any] | None  # None: no answer (a deliberately lost acknowledgement)


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
    """A rejected request; carries the WS-API status, Binance code and message."""

    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(msg)
        self.status, self.code, self.msg = status, code, msg

    @classmethod
    def of(cls, err: auth.AuthError) -> AuthFailure:
        """From an :data:`kit.localnet.auth.AuthError` tuple ``(code, msg, http status)``."""
        code, msg, status = err
        return cls(status, code, msg)


def server_ms(venue: Any) -> int:
    """The venue's wire time, as used for timestamp checks (clock plus any injected skew)."""
    now = getattr(venue, "server_ms", None)
    if callable(now):
        return int(now())
    skew = getattr(getattr(venue, "faults", None), "clock_skew_ms", 0) or 0
    return int(venue.clock.now_ms()) + int(skew)


def _lookup_key(venue: Any, api_key: Any, client_ip: str) -> auth.ApiKey:
    if not isinstance(api_key, str) or not api_key.isalnum():
        raise AuthFailure.of(auth.BAD_KEY_FORMAT)
    key = venue.key(api_key)
    if key is None or not key.ip_allowed(client_ip):
        raise AuthFailure.of(auth.INVALID_KEY)
    return key


def _check_time(venue: Any, params: Mapping[str, Any]) -> None:
    if params.get("timestamp") in (None, ""):
        raise AuthFailure(400, -1102, _MANDATORY.format("timestamp"))
    try:
        timestamp = int(params["timestamp"])
        recv_window = None if params.get("recvWindow") is None else int(float(params["recvWindow"]))
    except (TypeError, ValueError):
        raise AuthFailure(400, -1102, _MANDATORY.format("timestamp")) from None
    if timestamp >= 10**15:  # microseconds are accepted too
        timestamp //= 1000
    max_window = getattr(getattr(venue, "config", None), "max_recv_window_ms", 60_000)
    late = auth.check_timestamp(timestamp, recv_window, server_ms=server_ms(venue), max_recv_window=max_window)
    if late is not None:
        raise AuthFailure.of(late)


def authenticate(venue: Any, params: Any, client_ip: str, permission: str = "reading") -> auth.ApiKey:
    """Check a signed request; return the :class:`ApiKey` or raise :class:`AuthFailure`.

    Order of checks (as Binance REST): mandatory params (-1102), key format / unknown key /
    IP allowlist (-2014 / -2015), timestamp window (-1021, -1131), signature over
    :func:`canonical_query` (-1022; HMAC or Ed25519 via
    :func:`kit.localnet.auth.verify_signature`), then ``permission`` (-2015).
    """
    if not isinstance(params, dict):
        raise AuthFailure(400, -1102, _MANDATORY.format("params"))
    for name in _REQUIRED:
        if params.get(name) in (None, ""):
            raise AuthFailure(400, -1102, _MANDATORY.format(name))
    key = _lookup_key(venue, params["apiKey"], client_ip)
    _check_time(venue, params)
    if not auth.verify_signature(key, canonical_query(params), str(params["signature"])):
        raise AuthFailure.of(auth.BAD_SIGNATURE)
    if not auth.has_permission(key, permission):
        raise AuthFailure.of(auth.INVALID_KEY)
    return key


class WsApiSession:
    """The WS-API state of one connection: the logged-on key and the user-data subscriptions.

    Parameters
    ----------
    conn:
        The connection (socket + hub plumbing).
    client_ip:
        The peer address (IP allowlists, weight budget).
    return_rate_limits:
        The connection default for ``rateLimits`` in replies (URL ``?returnRateLimits=false``).
    reqlog:
        Optional :class:`kit.localnet.reqlog.RequestLog`; one line per request, no credentials.
    """

    def __init__(
        self, conn: Connection, client_ip: str, *, return_rate_limits: bool = True, reqlog: Any = None
    ) -> None:
        self.conn = conn
        self.venue = conn.venue
        self.client_ip = client_ip
        self.return_rate_limits = return_rate_limits
        self.reqlog = reqlog
        self.connected_since = server_ms(self.venue)
        self.session_key: auth.ApiKey | None = None
        self.authorized_since: int | None = None
        self._session_subs: set[int] = set()
        self._next_id = 0
        self._used: int | None = None  # the IP's weight count after the last charge
        self._weight = 0  # the last request's weight
        self._after: Callable[[], None] | None = None  # runs once the reply is sent
        conn.shutdown_message = lambda now_ms: {"event": {"e": "serverShutdown", "E": now_ms}}

    # -------------------------------------------------------------- framing
    async def handle_text(self, text: str) -> None:
        """Handle one request frame and send its reply (none for a deliberately lost ack)."""
        t0 = time.perf_counter()
        try:
            req = json.loads(text)
        except ValueError:
            await self.conn.send(error_reply(None, 400, -1135, "Invalid JSON Request"))
            return
        if not isinstance(req, dict):
            await self.conn.send(error_reply(None, 400, -1135, "Invalid JSON Request"))
            return
        req_id = req.get("id")
        method = method_name(req.get("method"))
        params = req.get("params")
        if params is None:
            params = {}
        if not isinstance(params, dict):
            await self.conn.send(error_reply(req_id, 400, -1102, _MANDATORY.format("params")))
            return
        self._used = None
        self._weight = 0
        account: str | None = None
        try:
            reply, account = await self._dispatch(req_id, method, params)
        except AuthFailure as exc:
            reply = error_reply(req_id, exc.status, exc.code, exc.msg)
        except Exception:  # a bug must not kill the connection; Binance answers -1000
            log.exception("WS-API %s failed", method)
            reply = error_reply(req_id, 500, -1000, "An unknown error occurred while processing the request.")
        self._log(method, params, reply, t0)
        if reply is None:  # a lost acknowledgement (fault): the request was executed, no answer
            return
        if want_rate_limits(params, self.return_rate_limits) and self._used is not None:
            reply["rateLimits"] = self._rate_limits(method, account)
        await self.conn.send(reply)
        after, self._after = self._after, None
        if after is not None:
            after()

    def _rate_limits(self, method: str, account: str | None) -> list[dict[str, Any]]:
        lim = self.venue.config.limits if hasattr(self.venue, "config") else None
        weight_limit = lim.weight_per_minute if lim is not None else 0
        orders = None
        order_limits = (0, 0)
        if method in ORDER_METHODS and account is not None and lim is not None:
            h = self.venue.limiter.order_headers(account, self.venue.clock.now_ms())
            orders = (int(h["X-MBX-ORDER-COUNT-10S"]), int(h["X-MBX-ORDER-COUNT-1D"]))
            order_limits = (lim.orders_per_10s, lim.orders_per_day)
        assert self._used is not None
        return rate_limits(used=self._used, weight_limit=weight_limit, orders=orders, order_limits=order_limits)

    def _log(self, method: str, params: dict[str, Any], reply: dict[str, Any] | None, t0: float) -> None:
        if self.reqlog is None:
            return
        from kit.localnet.reqlog import sanitize

        safe = {k: v for k, v in params.items() if k not in FRAME_PARAMS}
        key = params.get("apiKey") or (self.session_key.api_key if self.session_key else "")
        self.reqlog.write(
            method="WS",
            path=f"/ws-api/v3 {method}",
            query=sanitize("&".join(f"{k}={v}" for k, v in rest_params(safe).items())),
            body="",
            status=-1 if reply is None else int(reply.get("status", 0)),
            weight=self._weight,
            key_fp=auth.fingerprint(str(key)) if key else "",
            ip=self.client_ip,
            latency_ms=(time.perf_counter() - t0) * 1000,
        )

    def _charge(self, weight: int) -> tuple[int, int, str, dict[str, Any]] | None:
        """Charge the IP's REST weight budget; ``(status, code, msg, data)`` if over it or banned."""
        self._weight = weight
        limiter = getattr(self.venue, "limiter", None)
        if limiter is None:
            return None
        verdict = limiter.charge(self.client_ip, "api", weight, now_ms=self.venue.clock.now_ms())
        self._used = verdict.used
        if verdict.status == 200:
            return None
        now = server_ms(self.venue)
        retry = now + 1000 * int(verdict.headers.get("Retry-After", "0"))
        return verdict.status, verdict.code, verdict.msg, {"serverTime": now, "retryAfter": retry}

    # -------------------------------------------------------------- dispatch
    async def _dispatch(self, req_id: Any, method: str, params: dict[str, Any]) -> tuple[Reply, str | None]:
        route = METHODS.get(method)
        routes = _routes()
        if route is not None and (routes is None or route not in routes.ROUTES) and method not in ("ping", "time"):
            route = None
        if route is None and method not in SESSION_METHODS:
            limited = self._charge(1)
            if limited is not None:
                return self._limited(req_id, limited), None
            return error_reply(req_id, *UNSUPPORTED), None
        if route is None:
            limited = self._charge(WEIGHTS[method])
            if limited is not None:
                return self._limited(req_id, limited), None
            return await self._session_method(req_id, method, params), self._account()
        from kit.localnet.limits import weight

        rp = rest_params({k: v for k, v in params.items() if k not in FRAME_PARAMS})
        limited = self._charge(weight(route[0], route[1], rp))
        if limited is not None:
            return self._limited(req_id, limited), None
        if method == "ping":
            return ok_reply(req_id, {}), None
        if method == "time":
            return ok_reply(req_id, {"serverTime": server_ms(self.venue)}), None
        assert routes is not None
        handler, security = routes.ROUTES[route]
        key = self._key_for(security, params)
        return self._call(req_id, handler, key, rp), key.account if key is not None else None

    @staticmethod
    def _limited(req_id: Any, limited: tuple[int, int, str, dict[str, Any]]) -> dict[str, Any]:
        status, code, msg, data = limited
        reply = error_reply(req_id, status, code, msg)
        reply["error"]["data"] = data
        return reply

    def _account(self) -> str | None:
        return self.session_key.account if self.session_key is not None else None

    def _key_for(self, security: str | None, params: dict[str, Any]) -> auth.ApiKey | None:
        """The key a request runs as (``None`` for public methods); raises :class:`AuthFailure`."""
        if security is None:
            return None
        if security == "key":
            api_key = params.get("apiKey") or (self.session_key.api_key if self.session_key else None)
            if not api_key:
                raise AuthFailure(400, -1102, _MANDATORY.format("apiKey"))
            return _lookup_key(self.venue, api_key, self.client_ip)
        if "apiKey" in params or "signature" in params or self.session_key is None:
            return authenticate(self.venue, params, self.client_ip, security)
        key = self.session_key
        if self.venue.key(key.api_key) is not key or not key.ip_allowed(self.client_ip):
            self._logout()  # the key went invalid: Binance revokes the session
            raise AuthFailure.of(auth.INVALID_KEY)
        _check_time(self.venue, params)
        if not auth.has_permission(key, security):
            raise AuthFailure.of(auth.INVALID_KEY)
        return key

    def _call(self, req_id: Any, handler: Any, key: auth.ApiKey | None, params: dict[str, str]) -> Reply:
        """Run one REST handler as the REST pipeline does; its answer framed as a WS-API reply."""
        from kit.localnet.routes import Ctx
        from kit.localnet.wire import VenueError

        venue = self.venue
        ctx = Ctx(key=key, ip=self.client_ip, headers={})
        try:
            venue.advance(venue.clock.now_ms())
            body = handler(venue, params, ctx)
        except VenueError as exc:
            if ctx.drop_response:
                return None
            return error_reply(req_id, exc.status, exc.code, exc.msg)
        except (InvalidOperation, ValueError) as exc:
            return error_reply(req_id, 400, -1100, f"Illegal characters found in a parameter. ({type(exc).__name__})")
        if ctx.drop_response:
            return None
        return ok_reply(req_id, body)

    # -------------------------------------------------------------- sessions and user data
    def _status(self) -> dict[str, Any]:
        key = self.session_key
        return {
            "apiKey": key.api_key if key is not None else None,
            "authorizedSince": self.authorized_since,
            "connectedSince": self.connected_since,
            "returnRateLimits": self.return_rate_limits,
            "serverTime": server_ms(self.venue),
            "userDataStream": len(self.conn) > 0,
        }

    def _logout(self) -> None:
        for sub_id in list(self._session_subs):
            self.conn.unsubscribe(sub_id)
        self._session_subs.clear()
        self.session_key = None
        self.authorized_since = None

    async def _session_method(self, req_id: Any, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "session.logon":
            key = authenticate(self.venue, params, self.client_ip, "none")
            if key.kind != "ed25519":
                raise AuthFailure.of(HMAC_LOGON)
            if self.session_key is not None and self.session_key.api_key != key.api_key:
                self._logout()
            self.session_key = key
            self.authorized_since = server_ms(self.venue)
            return ok_reply(req_id, self._status())
        if method == "session.status":
            return ok_reply(req_id, self._status())
        if method == "session.logout":
            self._logout()
            return ok_reply(req_id, self._status())
        if method == "session.subscriptions":
            return ok_reply(req_id, [{"subscriptionId": k} for k in self.conn.keys()])
        if method == "userDataStream.subscribe.signature":
            return await self._subscribe(req_id, authenticate(self.venue, params, self.client_ip))
        if method == "userDataStream.subscribe":
            if self.session_key is None:
                raise AuthFailure.of(auth.INVALID_KEY)
            return await self._subscribe(req_id, self.session_key, session=True)
        return self._unsubscribe(req_id, params)

    async def _subscribe(self, req_id: Any, key: auth.ApiKey, *, session: bool = False) -> dict[str, Any]:
        sub_id = self._next_id
        self._next_id += 1
        if session:
            self._session_subs.add(sub_id)
        self.conn.subscribe(sub_id, [("user", key.account)])  # before the reply: no event is missed

        def wrap(topic: Topic, event: Any) -> Any:
            return {"subscriptionId": sub_id, "event": event}

        self._after = lambda: self.conn.start(sub_id, wrap)  # forwarding starts once the ack is sent
        return ok_reply(req_id, {"subscriptionId": sub_id})

    def _unsubscribe(self, req_id: Any, params: dict[str, Any]) -> dict[str, Any]:
        sub_id = params.get("subscriptionId")
        if sub_id is None:
            for key in self.conn.keys():
                self.conn.unsubscribe(key)
            self._session_subs.clear()
        elif isinstance(sub_id, bool) or not isinstance(sub_id, int) or not self.conn.unsubscribe(sub_id):
            return error_reply(req_id, 400, -2, f"No subscription with ID {sub_id!r}.")
        else:
            self._session_subs.discard(sub_id)
        return ok_reply(req_id, {})


def _routes() -> Any:
    """The REST route table (imported lazily: a stub venue in protocol tests needs none)."""
    from kit.localnet import routes

    return routes


async def serve_ws_api(request: web.Request, venue: Any) -> web.WebSocketResponse:
    """Serve one ``/ws-api/v3`` connection (``?returnRateLimits=false`` hides ``rateLimits``)."""
    ws = web.WebSocketResponse(autoping=True)
    await ws.prepare(request)
    conn = Connection(venue, ws, kind="ws-api", transport=request.transport)
    show = request.query.get("returnRateLimits", "true").lower() != "false"
    reqlog = next((getattr(v, "reqlog", None) for v in request.app.values() if hasattr(v, "reqlog")), None)
    session = WsApiSession(conn, request.remote or "", return_rate_limits=show, reqlog=reqlog)
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
