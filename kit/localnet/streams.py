"""WebSocket side of localnet: Binance market streams and the user-data WebSocket API.

:func:`add_routes` mounts, on the same aiohttp app (and port) as the REST API:

* ``GET /ws`` and ``GET /ws/{anything}``: raw market streams (ccxt opens ``/ws/0``, ``/ws/1``, ...
  and subscribes by message; see :mod:`kit.localnet.streams_market`);
* ``GET /stream``: the same, every event wrapped ``{"stream": name, "data": event}``;
* ``GET /ws-api/v3``: the WebSocket API (:mod:`kit.localnet.streams_wsapi`): every REST
  method framed, sessions, and the venue's ``("user", account)`` hub events.

When the server shuts down every client first receives Binance's ``serverShutdown`` event.

Everything a socket forwards comes from ``venue.hub``; the REST/simulation side publishes final
Binance event dicts there (user-data payloads are built by :mod:`kit.localnet.wire`).

Faults: a connection drops itself when ``venue.faults.should_drop_ws()`` says so for a forwarded
event (probability ``ws_disconnect_rate``), and :func:`disconnect_all` closes every live socket
on command, also over HTTP as ``POST /_localnet/streams/disconnect?kind=market|ws-api&mode=close|abort``
(``abort`` cuts TCP without a close frame; ``Content-Type: application/json``, as every admin POST),
so a client's reconnect logic can be tested.

Examples
--------
>>> from aiohttp import web
>>> app = web.Application()
>>> class _Venue:  # anything with .hub, .symbols, .clock, .key(), .depth()
...     pass
>>> add_routes(app, _Venue())
>>> sorted({r.resource.canonical for r in app.router.routes()})
['/_localnet/streams/disconnect', '/stream', '/ws', '/ws-api/v3', '/ws/{tail}']
"""

from __future__ import annotations

from typing import Any

from aiohttp import WSCloseCode, web

from kit.localnet.streams_conn import CONNECTIONS, Connection
from kit.localnet.streams_market import serve_market
from kit.localnet.streams_wsapi import serve_ws_api, server_ms

__all__ = ["add_routes", "disconnect_all", "live_connections"]


def add_routes(app: web.Application, venue: Any) -> None:
    """Add the market-stream and WS-API routes for ``venue`` to ``app`` (before it starts).

    Parameters
    ----------
    app:
        The localnet aiohttp application (REST routes live on it too).
    venue:
        The :class:`kit.localnet.venue.Venue`: ``hub``, ``symbols``, ``clock``, ``key()``,
        ``depth()`` and optionally ``faults`` are used.
    """

    async def market(request: web.Request) -> web.WebSocketResponse:
        return await serve_market(request, venue, combined=False)

    async def combined(request: web.Request) -> web.WebSocketResponse:
        return await serve_market(request, venue, combined=True)

    async def ws_api(request: web.Request) -> web.WebSocketResponse:
        return await serve_ws_api(request, venue)

    async def disconnect(request: web.Request) -> web.Response:
        if request.content_type != "application/json":  # as every admin POST: no cross-site form or text/plain
            return web.json_response({"error": "admin endpoints accept application/json only"}, status=415)
        kind = request.query.get("kind") or None
        mode = request.query.get("mode", "close")
        if kind not in (None, "market", "ws-api") or mode not in ("close", "abort"):
            return web.json_response({"code": -1102, "msg": "kind must be market|ws-api, mode close|abort"}, status=400)
        count = await disconnect_all(request.app, kind, abort=mode == "abort")
        return web.json_response({"disconnected": count})

    app[CONNECTIONS] = set()
    app.router.add_get("/ws", market)
    app.router.add_get("/ws/{tail:.*}", market)
    app.router.add_get("/stream", combined)
    app.router.add_get("/ws-api/v3", ws_api)
    if getattr(getattr(venue, "config", None), "admin", True):
        app.router.add_post("/_localnet/streams/disconnect", disconnect)
    app.on_shutdown.append(_close_all_on_shutdown)


def live_connections(app: web.Application, kind: str | None = None) -> list[Connection]:
    """Open stream connections of ``app`` (``kind`` ``"market"`` or ``"ws-api"`` filters)."""
    return [c for c in app.get(CONNECTIONS, ()) if kind is None or c.kind == kind]


async def disconnect_all(
    app: web.Application, kind: str | None = None, *, abort: bool = False, code: int = WSCloseCode.GOING_AWAY
) -> int:
    """Close every live stream socket (optionally only one ``kind``); return how many.

    ``abort=True`` cuts the TCP connections without a close frame. Must run on the server's
    event loop (an admin route, or ``asyncio.run_coroutine_threadsafe`` from another thread).
    """
    conns = live_connections(app, kind)
    for conn in conns:
        if abort:
            conn.abort()
        else:
            await conn.drop(code=code, message=b"disconnected by localnet")
    return len(conns)


async def _close_all_on_shutdown(app: web.Application) -> None:
    """Tell every client the server is going away (Binance's ``serverShutdown`` event), then close."""
    for conn in live_connections(app):
        if conn.shutdown_message is not None:
            await conn.send(conn.shutdown_message(server_ms(conn.venue)))
    await disconnect_all(app)
