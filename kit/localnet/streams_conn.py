"""One WebSocket connection of localnet: serialised sends, hub forwarding, clean teardown.

A :class:`Connection` owns the hub subscriptions made on behalf of one client. Each subscription
(a stream name, or a user-data subscription id) has one or more hub topics; one pump task per
topic forwards the hub's events, in order, through ``wrap`` to the socket. :meth:`Connection.close`
(called when the socket ends, for whatever reason) cancels every pump and unsubscribes every queue
from the hub, so nothing leaks.

Examples
--------
Inside an aiohttp handler::

    conn = Connection(venue, ws)
    try:
        queues = conn.subscribe("btcusdt@trade", [("trade", "BTCUSDT")])
        await conn.send({"result": None, "id": 1})          # ack before any event
        conn.start("btcusdt@trade", lambda topic, event: event)
        async for msg in ws: ...
    finally:
        await conn.close()
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Hashable, Iterable
from typing import Any

from aiohttp import WSCloseCode, web

log = logging.getLogger(__name__)

Topic = tuple[str, ...]
Wrap = Callable[[Topic, Any], Any]

#: Close code sent when the server drops a client that fell behind (events were lost).
SLOW_CONSUMER = WSCloseCode.POLICY_VIOLATION


def _json_default(value: Any) -> Any:
    return format(value, "f") if hasattr(value, "as_tuple") else str(value)


def dumps(payload: Any) -> str:
    """Compact JSON; Decimals become plain decimal strings."""
    return json.dumps(payload, separators=(",", ":"), default=_json_default)


class _Sub:
    __slots__ = ("queues", "tasks")

    def __init__(self, queues: list[tuple[Topic, asyncio.Queue[Any]]]) -> None:
        self.queues = queues
        self.tasks: list[asyncio.Task[None]] = []


class Connection:
    """Server side of one WebSocket client.

    Parameters
    ----------
    venue:
        The :class:`~kit.localnet.venue.Venue` (only ``venue.hub`` and ``venue.faults`` are used).
    ws:
        The prepared :class:`aiohttp.web.WebSocketResponse`.
    kind:
        ``"market"`` or ``"ws-api"`` (lets commands target one kind).
    transport:
        The request's transport, for :meth:`abort`.
    """

    def __init__(
        self, venue: Any, ws: web.WebSocketResponse, *, kind: str = "market", transport: asyncio.Transport | None = None
    ) -> None:
        self.venue = venue
        self.ws = ws
        self.kind = kind
        self._transport = transport
        self._lock = asyncio.Lock()
        self._subs: dict[Hashable, _Sub] = {}
        self._closed = False
        #: Builds the ``serverShutdown`` message for this client (event time in ms); set by the protocol.
        self.shutdown_message: Callable[[int], Any] | None = None

    # -- subscriptions ---------------------------------------------------------------------
    def keys(self) -> list[Hashable]:
        """Subscription keys in subscription order."""
        return list(self._subs)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._subs

    def __len__(self) -> int:
        return len(self._subs)

    def subscribe(self, key: Hashable, topics: Iterable[Topic]) -> None:
        """Subscribe ``key`` to ``topics`` on the hub now (events queue up until :meth:`start`)."""
        if key in self._subs:
            return
        hub = self.venue.hub
        self._subs[key] = _Sub([(tuple(t), hub.subscribe(tuple(t))) for t in topics])

    def start(self, key: Hashable, wrap: Wrap) -> None:
        """Start forwarding the queued and future events of ``key`` through ``wrap``.

        ``wrap(topic, event)`` returns the message to send, or ``None`` to skip the event.
        """
        sub = self._subs.get(key)
        if sub is None or sub.tasks:
            return
        for topic, queue in sub.queues:
            sub.tasks.append(asyncio.create_task(self._pump(topic, queue, wrap)))

    def unsubscribe(self, key: Hashable) -> bool:
        """Stop ``key``: cancel its pumps and unsubscribe its hub queues. False if unknown."""
        sub = self._subs.pop(key, None)
        if sub is None:
            return False
        for task in sub.tasks:
            task.cancel()
        for topic, queue in sub.queues:
            self.venue.hub.unsubscribe(topic, queue)
        return True

    async def _pump(self, topic: Topic, queue: asyncio.Queue[Any], wrap: Wrap) -> None:
        while True:
            event = await queue.get()
            dropped = getattr(queue, "dropped", 0)
            if dropped:  # the hub discarded events: the client's view is broken (depth gaps)
                log.warning("closing a slow %s stream client: %s events dropped", self.kind, dropped)
                await self.drop(code=SLOW_CONSUMER, message=b"slow consumer")
                return
            try:
                message = wrap(topic, event)
            except Exception:
                log.exception("cannot encode a %s event for a %s stream", topic[0], self.kind)
                await self.drop(code=WSCloseCode.INTERNAL_ERROR, message=b"internal error")
                return
            if message is None:
                continue
            if not await self.send(message, event=True):
                return

    # -- sending ---------------------------------------------------------------------------
    async def send(self, payload: Any, *, event: bool = False) -> bool:
        """Send ``payload`` as JSON; False if the socket is gone (or a fault dropped it).

        ``event`` marks stream events (as opposed to replies); only those can trigger the
        per-message disconnect fault.
        """
        if self._closed or self.ws.closed:
            return False
        if event and self._fault_drop():
            await self.drop()
            return False
        text = payload if isinstance(payload, str) else dumps(payload)
        try:
            async with self._lock:
                await self.ws.send_str(text)
        except (ConnectionError, RuntimeError) as exc:  # peer went away mid-send
            log.debug("send on a closing %s socket failed: %s", self.kind, exc)
            return False
        return True

    def _fault_drop(self) -> bool:
        faults = getattr(self.venue, "faults", None)
        check = getattr(faults, "should_drop_ws", None)
        return bool(check()) if callable(check) else False

    async def drop(self, *, code: int = WSCloseCode.GOING_AWAY, message: bytes = b"") -> None:
        """Close the socket from the server side (faults, slow consumers, shutdown)."""
        if not self.ws.closed:
            try:
                await self.ws.close(code=code, message=message)
            except (ConnectionError, RuntimeError):  # pragma: no cover - already torn down
                pass

    def abort(self) -> None:
        """Cut the TCP connection without a close frame (a network failure, not a goodbye)."""
        self._closed = True
        if self._transport is not None:
            self._transport.abort()

    async def close(self) -> None:
        """Tear down: every pump cancelled, every hub queue unsubscribed. Idempotent."""
        self._closed = True
        for key in list(self._subs):
            self.unsubscribe(key)


#: App key of the set of live stream connections (installed by ``streams.add_routes``).
CONNECTIONS: web.AppKey[set[Connection]] = web.AppKey("kit_localnet_ws_connections", set)


def track(app: web.Application, conn: Connection) -> None:
    """Remember ``conn`` as live on ``app`` (no-op if ``add_routes`` did not install the set)."""
    live = app.get(CONNECTIONS)
    if live is not None:
        live.add(conn)


def untrack(app: web.Application, conn: Connection) -> None:
    """Forget ``conn`` (it closed)."""
    live = app.get(CONNECTIONS)
    if live is not None:
        live.discard(conn)
