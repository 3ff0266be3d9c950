"""Binance market streams: ``/ws``, ``/ws/<anything>`` and ``/stream`` (combined).

Protocol (Binance "Live Subscribing/Unsubscribing to streams"):

* ``{"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":1}`` -> ``{"result":null,"id":1}``
* ``UNSUBSCRIBE`` (same ack), ``LIST_SUBSCRIPTIONS`` -> ``{"result":[names],"id":N}``,
  ``SET_PROPERTY ["combined", bool]`` and ``GET_PROPERTY ["combined"]``.
* errors: ``{"error":{"code":2,"msg":"Invalid request: ..."},"id":N}`` (code 3 for bad JSON).
* events are sent raw on ``/ws``; wrapped ``{"stream": name, "data": event}`` on ``/stream``
  (or after ``SET_PROPERTY combined true``).

Stream names map to hub topics (:func:`parse_stream`). The hub subscription is made *before*
the ack is sent, so a client that fetches a REST depth snapshot after the ack (ccxt does) sees
every depth update after it: ``U``/``u`` come from the venue's per-symbol update id.

Examples
--------
>>> parse_stream("btcusdt@kline_1m", {"BTCUSDT"}).topics
[('kline', 'BTCUSDT', '1m')]
>>> parse_stream("!miniTicker@arr", {"BTCUSDT", "ETHUSDT"}).topics
[('miniTicker', 'BTCUSDT'), ('miniTicker', 'ETHUSDT')]
>>> parse_stream("btcusdt@depth@100ms", {"BTCUSDT"}).topics
[('depth', 'BTCUSDT', '100ms')]
>>> parse_stream("btcusdt@depth5", {"BTCUSDT"}).topics
[('depthPartial', 'BTCUSDT', '1000ms')]
>>> parse_stream("btcusdt@nope", {"BTCUSDT"}) is None
True
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from kit.localnet.streams_conn import Connection, Topic, track, untrack

#: Kline intervals Binance accepts in ``<symbol>@kline_<interval>``.
KLINE_INTERVALS = frozenset("1s 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 3d 1w 1M".split())
#: Binance limit of streams per connection.
MAX_STREAMS = 1024

_LIST_METHODS = ("SUBSCRIBE", "UNSUBSCRIBE", "SET_PROPERTY", "GET_PROPERTY")
_SIMPLE = {"trade", "aggTrade", "miniTicker", "ticker", "bookTicker"}
_DEPTH = re.compile(r"^depth(?P<levels>5|10|20)?(?:@(?P<speed>100ms|1000ms))?$")


@dataclass(frozen=True)
class StreamSpec:
    """What one stream name means: hub topics and how to turn their events into messages.

    ``mode`` is ``"raw"`` (forward the event), ``"array"`` (wrap each event in a one-element
    list, for ``!miniTicker@arr`` and ``!ticker@arr``) or ``"partial"`` (trim the period's
    book snapshot to ``levels``). Timing is :mod:`kit.localnet.streams_cadence`'s.
    """

    name: str
    topics: list[Topic] = field(default_factory=list)
    mode: str = "raw"
    symbol: str = ""
    levels: int = 0


def parse_stream(name: Any, symbols: Collection[str]) -> StreamSpec | None:
    """Parse a Binance stream name against the venue's symbol ids; ``None`` if invalid.

    Symbols are matched case-insensitively (Binance uses lowercase ids in stream names); the
    kline interval is case-sensitive (``1m`` is a minute, ``1M`` a month).
    """
    if not isinstance(name, str) or "@" not in name:
        return None
    if name in ("!miniTicker@arr", "!ticker@arr"):
        kind = name[1:].partition("@")[0]
        return StreamSpec(name, [(kind, s) for s in sorted(symbols)], mode="array")
    sym, _, kind = name.partition("@")
    symbol = sym.upper()
    if symbol not in symbols or sym != sym.lower():
        return None
    if kind in _SIMPLE:
        return StreamSpec(name, [(kind, symbol)], symbol=symbol)
    if kind.startswith("kline_"):
        interval = kind[len("kline_") :]
        if interval in KLINE_INTERVALS:
            return StreamSpec(name, [("kline", symbol, interval)], symbol=symbol)
        return None
    match = _DEPTH.match(kind)
    if match:
        levels = match.group("levels")
        speed = match.group("speed") or "1000ms"
        if levels:
            topic = ("depthPartial", symbol, speed)
            return StreamSpec(name, [topic], mode="partial", symbol=symbol, levels=int(levels))
        return StreamSpec(name, [("depth", symbol, speed)], symbol=symbol)
    return None


_BOOK_TICKER_FIELDS = (("symbol", "s"), ("bidPrice", "b"), ("bidQty", "B"), ("askPrice", "a"), ("askQty", "A"))


def book_ticker_event(event: dict[str, Any]) -> dict[str, Any]:
    """The ``<symbol>@bookTicker`` stream shape (``u``, ``s``, ``b``, ``B``, ``a``, ``A``, no ``e``).

    A payload published with the REST ``ticker/bookTicker`` field names (``bidPrice`` ...) is
    renamed, so ccxt's ``watch_bids_asks`` (which keys on ``a``/``b``) can read it; a payload
    already in stream shape passes unchanged.

    >>> book_ticker_event({"symbol": "BTCUSDT", "bidPrice": "1", "bidQty": "2", "askPrice": "3",
    ...                    "askQty": "4", "u": 9})
    {'u': 9, 's': 'BTCUSDT', 'b': '1', 'B': '2', 'a': '3', 'A': '4'}
    """
    if "bidPrice" not in event:
        return event
    out: dict[str, Any] = {"u": event.get("u")}
    out.update({short: event.get(long) for long, short in _BOOK_TICKER_FIELDS})
    return out


def error(code: int, msg: str, req_id: Any) -> dict[str, Any]:
    """A Binance stream-protocol error message."""
    return {"error": {"code": code, "msg": msg}, "id": req_id}


def _valid_id(req_id: Any) -> bool:
    if isinstance(req_id, bool):
        return False
    return req_id is None or isinstance(req_id, str) or (isinstance(req_id, int) and req_id >= 0)


class MarketSession:
    """The stream protocol of one market-data connection.

    Parameters
    ----------
    conn:
        The connection (socket + hub plumbing).
    combined:
        Wrap events as ``{"stream", "data"}`` (``/stream`` endpoint).
    """

    def __init__(self, conn: Connection, *, combined: bool) -> None:
        self.conn = conn
        self.venue = conn.venue
        self.combined = combined
        conn.shutdown_message = self.shutdown_message

    def shutdown_message(self, now_ms: int) -> dict[str, Any]:
        """Binance's ``serverShutdown`` event, raw or wrapped as the ``!serverShutdown`` stream."""
        event = {"e": "serverShutdown", "E": now_ms}
        return {"stream": "!serverShutdown", "data": event} if self.combined else event

    def _symbols(self) -> Collection[str]:
        return self.venue.symbols

    def _wrapper(self, spec: StreamSpec) -> Any:
        def wrap(topic: Topic, event: Any) -> Any:
            if spec.mode == "array":
                data: Any = [event]
            elif spec.mode == "partial":  # a top-20 snapshot taken at the period: trim it
                n = spec.levels
                data = {"lastUpdateId": event["lastUpdateId"], "bids": event["bids"][:n], "asks": event["asks"][:n]}
            elif topic[0] == "bookTicker":
                data = book_ticker_event(event)
            else:
                data = event
            return {"stream": spec.name, "data": data} if self.combined else data

        return wrap

    async def subscribe(self, names: list[Any], req_id: Any, *, ack: bool = True) -> None:
        """Validate all names, subscribe the new ones, ack, then start forwarding."""
        specs = []
        for name in names:
            spec = parse_stream(name, self._symbols())
            if spec is None:
                await self.conn.send(error(2, f"Invalid request: invalid stream name {name!r}", req_id))
                return
            specs.append(spec)
        fresh = [s for s in specs if s.name not in self.conn]
        if len(self.conn) + len(fresh) > MAX_STREAMS:
            await self.conn.send(error(2, f"Invalid request: too many streams (max {MAX_STREAMS})", req_id))
            return
        for spec in fresh:
            self.conn.subscribe(spec.name, spec.topics)
        if ack:
            await self.conn.send({"result": None, "id": req_id})
        for spec in fresh:
            self.conn.start(spec.name, self._wrapper(spec))

    async def handle_text(self, text: str) -> None:
        """Handle one client message."""
        try:
            req = json.loads(text)
        except ValueError as exc:
            await self.conn.send(error(3, f"Invalid JSON: {exc}", None))
            return
        if not isinstance(req, dict):
            await self.conn.send(error(2, "Invalid request: expected a JSON object", None))
            return
        req_id = req.get("id")
        if not _valid_id(req_id):
            await self.conn.send(error(2, "Invalid request: request ID must be an unsigned integer", None))
            return
        method = req.get("method")
        params = req.get("params", [])
        if method in _LIST_METHODS and not isinstance(params, list):
            await self.conn.send(error(2, "Invalid request: params must be an array", req_id))
            return
        if method == "SUBSCRIBE":
            await self.subscribe(params, req_id)
        elif method == "UNSUBSCRIBE":
            for name in params:
                self.conn.unsubscribe(name)
            await self.conn.send({"result": None, "id": req_id})
        elif method == "LIST_SUBSCRIPTIONS":
            await self.conn.send({"result": [str(k) for k in self.conn.keys()], "id": req_id})
        elif method == "SET_PROPERTY":
            if len(params) != 2 or params[0] != "combined":
                await self.conn.send(error(0, "Unknown property", req_id))
            elif not isinstance(params[1], bool):
                await self.conn.send(error(1, "Invalid value type: expected Boolean", req_id))
            else:
                self.combined = params[1]
                await self.conn.send({"result": None, "id": req_id})
        elif method == "GET_PROPERTY":
            if params != ["combined"]:
                await self.conn.send(error(0, "Unknown property", req_id))
            else:
                await self.conn.send({"result": self.combined, "id": req_id})
        else:
            await self.conn.send(
                error(
                    2,
                    f"Invalid request: unknown variant {method!r}, expected one of SUBSCRIBE, "
                    "UNSUBSCRIBE, LIST_SUBSCRIPTIONS, SET_PROPERTY, GET_PROPERTY",
                    req_id,
                )
            )


def initial_streams(request: web.Request) -> list[str]:
    """Streams named in the URL: ``/stream?streams=a/b`` or ``/ws/<name>[/<name>...]``.

    Path segments that are not stream names (ccxt's slot numbers ``/ws/0``, ``/ws/1``) are ignored.
    """
    names: list[str] = []
    if "streams" in request.query:
        names += [n for n in request.query["streams"].split("/") if n]
    tail = request.match_info.get("tail", "")
    names += [n for n in tail.split("/") if "@" in n]
    return names


async def serve_market(request: web.Request, venue: Any, *, combined: bool) -> web.WebSocketResponse:
    """Serve one market-stream connection."""
    ws = web.WebSocketResponse(autoping=True)
    await ws.prepare(request)
    conn = Connection(venue, ws, kind="market", transport=request.transport)
    session = MarketSession(conn, combined=combined)
    track(request.app, conn)
    try:
        names = initial_streams(request)
        if names:
            valid = [n for n in names if parse_stream(n, venue.symbols) is not None]
            await session.subscribe(valid, None, ack=False)
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await session.handle_text(msg.data)
            elif msg.type == WSMsgType.BINARY:
                await conn.send(error(3, "Invalid JSON: binary frames are not supported", None))
    finally:
        await conn.close()
        untrack(request.app, conn)
    return ws
