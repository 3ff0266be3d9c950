"""The aiohttp application: one request pipeline, the thin handlers, and admin endpoints.

The handlers live in :mod:`kit.localnet.routes`; the admin endpoints answer loopback only.

Pipeline per request: read the request whole (from here on it runs to the end even if the client
disconnects, as an exchange that received an order executes it) -> injected latency -> maintenance
(503) -> injected 5xx -> catch the simulation up to now -> parse parameters from the raw query and
body -> request weight and
IP bans (429/418) -> API key, IP allowlist, signature over the raw text, timestamp window,
permission -> handler -> JSON (or a dropped connection for a lost acknowledgement) -> one JSON
log line (no secrets, no signatures).

Admin endpoints (unsigned, refused unless the peer is loopback; a POST must be ``application/json``,
which a web page cannot send cross-site without a CORS preflight, else 415):

- ``GET|POST /_localnet/faults``: read or change fault settings (JSON object).
- ``POST /_localnet/clock/step``: ``{"ms": 60000}`` or ``{"to": ts_ms}``; runs the simulation.
- ``POST /_localnet/clock/live``: ``{"speed": 1.0}``; a stepped market runs by itself from now on
  (a replay continues with a seeded synthetic path from its last price).
- ``POST /_localnet/trade``: ``{"symbol", "price", "qty", "side"}`` prints a trade now.
- ``POST /_localnet/deposit``: ``{"account", "asset", "amount"}``.
- ``POST /_localnet/limits/reset``: forget weights, bans and order counts.
- ``GET /_localnet/state``: role (``localnet`` or ``rehearsal``), clock, symbols, key names and
  fingerprints (never secrets).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import time
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from kit.localnet import routes
from kit.localnet.auth import (
    BAD_KEY_FORMAT,
    INVALID_KEY,
    check_timestamp,
    has_permission,
    split_signature,
    verify_signature,
)
from kit.localnet.limits import RateLimiter, weight
from kit.localnet.reqlog import RequestLog
from kit.localnet.wire import VenueError, error, mandatory

VENUE_KEY = web.AppKey("venue", object)
PIPELINE_KEY = web.AppKey("pipeline", object)


def _dumps(body: Any) -> str:
    return json.dumps(body, separators=(",", ":"))


def parse_params(raw: str) -> dict[str, str]:
    """Percent-decode ``a=1&b=2`` text (no ``+``-as-space: ccxt never sends it); -1101 on duplicates.

    >>> parse_params("symbol=BTCUSDT&newClientOrderId=a%20b")
    {'symbol': 'BTCUSDT', 'newClientOrderId': 'a b'}
    """
    out: dict[str, str] = {}
    if not raw:
        return out
    for part in raw.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        name = unquote(name)
        if name in out:
            raise error(-1101, "Duplicate values for a parameter detected.")
        out[name] = unquote(value)
    return out


def _is_loopback(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


class Pipeline:
    """Holds the per-app services (limiter, request log) and handles every REST request."""

    def __init__(self, venue: Any, reqlog: RequestLog) -> None:
        self.venue = venue
        self.reqlog = reqlog
        self.limiter = RateLimiter(venue.config.limits)
        venue.limiter = self.limiter
        self._inflight: set[asyncio.Future[web.StreamResponse]] = set()  # requests whose client may be gone

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Run one REST request through the pipeline.

        The request is read whole first; from then on it is processed to the end even if the client
        goes away meanwhile (during injected latency, say): an exchange that received an order
        executes it whether or not anyone is still listening for the answer.
        """
        t0 = time.perf_counter()
        raw_body = ""
        if request.method in ("POST", "PUT", "DELETE") and request.can_read_body:
            raw_body = (await request.read()).decode("utf-8", "replace")
        work = asyncio.ensure_future(self._process(request, raw_body, t0))
        self._inflight.add(work)
        work.add_done_callback(self._inflight.discard)
        return await asyncio.shield(work)

    async def _process(self, request: web.Request, raw_body: str, t0: float) -> web.StreamResponse:
        venue = self.venue
        method, path = request.method, request.path
        ip = request.remote or ""
        key_fp = ""
        w = 0
        headers: dict[str, str] = {}
        raw_query = request.rel_url.raw_query_string
        status = 200
        ctx: routes.Ctx | None = None
        try:
            delay = venue.faults.latency_s()
            if delay:
                await asyncio.sleep(delay)
            route = routes.ROUTES.get((method, path))
            if venue.faults.maintenance and path != "/sapi/v1/system/status":
                status = 503
                return web.Response(status=503, text="Service Unavailable: system maintenance")
            if venue.faults.should_fail():
                status = 503
                return web.Response(status=503, text="Service Unavailable")
            if route is None:  # a JSON error as every other answer, never a plain-text page
                status = 404
                body = {"code": -1, "msg": f"Unknown endpoint: {method} {path}."}
                return web.Response(status=404, text=_dumps(body), content_type="application/json", headers=headers)
            handler, security = route
            venue.advance(venue.clock.now_ms())
            params = parse_params(raw_query)
            for k, v in parse_params(raw_body).items():
                if k in params:
                    raise error(-1101, "Duplicate values for a parameter detected.")
                params[k] = v
            w = weight(method, path, params)
            group = "sapi" if path.startswith("/sapi/") else "api"
            verdict = self.limiter.charge(ip, group, w, now_ms=venue.clock.now_ms())
            headers.update(verdict.headers)
            if verdict.status != 200:
                raise VenueError(verdict.code, verdict.msg, verdict.status)
            ctx = routes.Ctx(key=None, ip=ip, headers=headers)
            if security is not None:
                ctx.key, key_fp = self._authenticate(request, params, raw_query, raw_body, security, ip)
            params.pop("signature", None)
            body = handler(venue, params, ctx)
            if ctx.drop_response:
                status = -1
                return self._drop(request)
            return web.Response(text=_dumps(body), content_type="application/json", headers=headers)
        except VenueError as exc:
            if ctx is not None and ctx.drop_response:  # e.g. cancelReplace: new order placed, cancel failed
                status = -1
                return self._drop(request)
            status = exc.status
            headers.update(exc.headers)
            return web.Response(
                status=exc.status, text=_dumps(exc.body()), content_type="application/json", headers=headers
            )
        except (InvalidOperation, ValueError) as exc:
            status = 400
            body = {"code": -1100, "msg": f"Illegal characters found in a parameter. ({type(exc).__name__})"}
            return web.Response(status=400, text=_dumps(body), content_type="application/json", headers=headers)
        finally:
            self.reqlog.write(
                method=method,
                path=path,
                query=raw_query,
                body=raw_body,
                status=status,
                weight=w,
                key_fp=key_fp,
                ip=ip,
                latency_ms=(time.perf_counter() - t0) * 1000,
            )

    def _authenticate(
        self, request: web.Request, params: dict[str, str], raw_query: str, raw_body: str, security: str, ip: str
    ) -> tuple[Any, str]:
        api_key = request.headers.get("X-MBX-APIKEY", "")
        if not api_key:
            raise VenueError(*BAD_KEY_FORMAT)
        key = self.venue.key(api_key)
        if key is None:
            raise VenueError(*(INVALID_KEY if len(api_key) == 64 else BAD_KEY_FORMAT))
        fp = key.fingerprint
        if not key.ip_allowed(ip):
            raise VenueError(*INVALID_KEY)
        if security == "key":
            return key, fp
        # Binance signs "query + body" when both are present
        payload, sig = split_signature(raw_query + raw_body if raw_query and raw_body else raw_query or raw_body)
        if not sig:
            raise mandatory("signature")
        if not verify_signature(key, payload, sig):
            raise VenueError(-1022, "Signature for this request is not valid.", 400)
        ts = params.get("timestamp")
        if not ts:
            raise mandatory("timestamp")
        try:
            ts_ms = int(ts)
            window = int(params["recvWindow"]) if params.get("recvWindow") else None
        except ValueError:
            raise error(
                -1100, "Illegal characters found in parameter 'timestamp'; legal range is '^[0-9]{1,20}$'."
            ) from None
        bad = check_timestamp(
            ts_ms, window, server_ms=self.venue.server_ms(), max_recv_window=self.venue.config.max_recv_window_ms
        )
        if bad is not None:
            raise VenueError(*bad)
        if not has_permission(key, security):
            raise VenueError(*INVALID_KEY)
        return key, fp

    @staticmethod
    def _drop(request: web.Request) -> web.StreamResponse:
        """Lost acknowledgement: close the connection without an HTTP response."""
        transport = request.transport
        if transport is not None:
            transport.abort()
        raise asyncio.CancelledError  # aiohttp stops handling this request quietly


# ---------------------------------------------------------------------- admin
def _admin(handler: Any) -> Any:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        if not _is_loopback(request.remote or ""):
            return web.json_response({"error": "admin endpoints answer loopback clients only"}, status=403)
        if request.method != "GET" and request.content_type != "application/json":
            # A web page can POST text/plain or a form to 127.0.0.1 without a CORS preflight; JSON it cannot.
            return web.json_response(
                {"error": "admin endpoints accept application/json only (Content-Type: application/json)"}, status=415
            )
        venue: Any = request.app[VENUE_KEY]
        try:
            data = await request.json() if request.can_read_body else {}
            result = handler(venue, data or {})
            venue.store.commit()
            return web.json_response(result, dumps=_dumps)
        except (ValueError, KeyError, TypeError, InvalidOperation) as exc:
            return web.json_response({"error": f"{type(exc).__name__}: {exc}"}, status=400)

    return wrapped


def _faults(venue: Any, data: dict[str, Any]) -> Any:
    return venue.faults.update(data) if data else venue.faults.settings()


def _step(venue: Any, data: dict[str, Any]) -> Any:
    if "to" in data:
        now = venue.clock.set(int(data["to"]))
        venue.advance(now)
    else:
        now = venue.step(int(data.get("ms", 0)))
    return {"now_ms": now}


def _live(venue: Any, data: dict[str, Any]) -> Any:
    now = venue.go_live(speed=float(data.get("speed", 1.0)))
    return {"now_ms": now, "clock": venue.clock.mode}


def _trade(venue: Any, data: dict[str, Any]) -> Any:
    p = venue.inject_trade(
        data["symbol"],
        Decimal(str(data["price"])),
        Decimal(str(data["qty"])),
        buyer_maker=str(data.get("side", "buy")).lower() == "sell",
    )
    return {"id": p.id, "ts_ms": p.ts_ms}


def _deposit(venue: Any, data: dict[str, Any]) -> Any:
    venue.run_command(
        "deposit",
        venue.clock.now_ms(),
        {"account": data["account"], "asset": data["asset"], "amount": str(Decimal(str(data["amount"])))},
    )
    return {k: [str(x) for x in v] for k, v in venue.engine.balances(data["account"]).items()}


def _limits_reset(venue: Any, data: dict[str, Any]) -> Any:
    venue.limiter.__init__(venue.config.limits)
    return {"ok": True}


def _state(venue: Any, data: dict[str, Any]) -> Any:
    return {
        "role": venue.config.role,
        "now_ms": venue.clock.now_ms(),
        "server_ms": venue.server_ms(),
        "clock": venue.clock.mode,
        "symbols": list(venue.symbols),
        "keys": {n: {"account": k.account, "fingerprint": k.fingerprint} for n, k in venue.keys_by_name.items()},
    }


def build_app(venue: Any, *, reqlog: RequestLog | None = None) -> web.Application:
    """The aiohttp application for ``venue`` (REST, admin, and the stream routes if present)."""
    app = web.Application()
    app[VENUE_KEY] = venue
    pipeline = Pipeline(venue, reqlog or RequestLog(None))
    app[PIPELINE_KEY] = pipeline
    for method, path in routes.ROUTES:
        app.router.add_route(method, path, pipeline.handle)
    if venue.config.admin:
        app.router.add_route("GET", "/_localnet/faults", _admin(_faults))
        app.router.add_route("POST", "/_localnet/faults", _admin(_faults))
        app.router.add_route("POST", "/_localnet/clock/step", _admin(_step))
        app.router.add_route("POST", "/_localnet/clock/live", _admin(_live))
        app.router.add_route("POST", "/_localnet/trade", _admin(_trade))
        app.router.add_route("POST", "/_localnet/deposit", _admin(_deposit))
        app.router.add_route("POST", "/_localnet/limits/reset", _admin(_limits_reset))
        app.router.add_route("GET", "/_localnet/state", _admin(_state))
    try:
        from kit.localnet import streams
    except ImportError:  # the stream adapter is optional
        streams = None  # type: ignore[assignment]
    if streams is not None and hasattr(streams, "add_routes"):
        streams.add_routes(app, venue)
    app.router.add_route("*", "/api/{tail:.*}", pipeline.handle)
    app.router.add_route("*", "/sapi/{tail:.*}", pipeline.handle)
    app.router.add_route("*", "/{tail:.*}", pipeline.handle)  # any other path: a JSON 404, as the API paths
    return app
