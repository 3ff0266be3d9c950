"""In-process publish/subscribe for localnet streams.

The REST side (the venue simulation and the order routes) publishes final Binance event dicts;
the WebSocket side subscribes one :class:`asyncio.Queue` per connection and topic.

Topics are tuples::

    ("kline", "BTCUSDT", "1m")      ("trade", "BTCUSDT")       ("aggTrade", "BTCUSDT")
    ("miniTicker", "BTCUSDT")       ("ticker", "BTCUSDT")      ("bookTicker", "BTCUSDT")
    ("depth", "BTCUSDT", "100ms")   ("depthPartial", "BTCUSDT", "1000ms")
    ("user", account_name)

Klines, tickers and depth are published on their periods by :mod:`kit.localnet.streams_cadence`.

All methods must be called on the event loop thread that runs the server (the venue and the
aiohttp app share it). ``publish`` never blocks: a subscriber that falls ``maxsize`` events
behind loses its oldest events and its queue's ``dropped`` counter grows (a real exchange would
disconnect a slow consumer; the stream side may choose to do that when it sees drops).

Examples
--------
>>> import asyncio
>>> hub = Hub()
>>> async def demo():
...     q = hub.subscribe(("trade", "BTCUSDT"))
...     hub.publish(("trade", "BTCUSDT"), {"e": "trade", "p": "1.00"})
...     event = await q.get()
...     hub.unsubscribe(("trade", "BTCUSDT"), q)
...     return event["p"], hub.subscribers(("trade", "BTCUSDT"))
>>> asyncio.run(demo())
('1.00', 0)
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

Topic = tuple[str, ...]


class SubscriberQueue(asyncio.Queue):
    """An :class:`asyncio.Queue` that counts events dropped because the consumer was slow."""

    def __init__(self, maxsize: int = 0) -> None:
        super().__init__(maxsize)
        self.dropped = 0


class Hub:
    """Topic-based fan-out of event dicts to asyncio queues.

    Parameters
    ----------
    maxsize:
        Per-subscriber queue bound; on overflow the oldest event is discarded.
    """

    def __init__(self, *, maxsize: int = 10_000) -> None:
        self._maxsize = maxsize
        self._subs: dict[Topic, list[SubscriberQueue]] = defaultdict(list)
        self._epochs: dict[Topic, int] = {}
        self.published = 0

    def subscribe(self, topic: Topic) -> SubscriberQueue:
        """Return a new queue that receives every payload published to ``topic`` from now on."""
        queue = SubscriberQueue(self._maxsize)
        subs = self._subs[tuple(topic)]
        if not subs:  # the topic comes alive: a new audience, nothing sent before concerns it
            self._epochs[tuple(topic)] = self._epochs.get(tuple(topic), 0) + 1
        subs.append(queue)
        return queue

    def epoch(self, topic: Topic) -> int:
        """How many times ``topic`` went from no subscriber to one (publishers key their state on it).

        A publisher that remembers what it last sent on a topic (the kline stream's open candle)
        compares epochs to know whether the audience is still the one it sent it to.
        """
        return self._epochs.get(tuple(topic), 0)

    def unsubscribe(self, topic: Topic, queue: asyncio.Queue) -> None:
        """Stop delivering ``topic`` to ``queue`` (no error if it was not subscribed)."""
        subs = self._subs.get(tuple(topic))
        if not subs:
            return
        try:
            subs.remove(queue)  # type: ignore[arg-type]
        except ValueError:
            pass
        if not subs:
            del self._subs[tuple(topic)]

    def subscribers(self, topic: Topic) -> int:
        """Number of queues subscribed to ``topic``."""
        return len(self._subs.get(tuple(topic), ()))

    def has_subscribers(self, topic: Topic) -> bool:
        """True if anyone listens to ``topic`` (lets publishers skip building payloads)."""
        return bool(self._subs.get(tuple(topic)))

    def publish(self, topic: Topic, payload: dict[str, Any]) -> None:
        """Deliver ``payload`` to every subscriber of ``topic`` without blocking."""
        self.published += 1
        for queue in self._subs.get(tuple(topic), ()):
            if queue.full():
                try:
                    queue.get_nowait()
                except asyncio.QueueEmpty:  # pragma: no cover - raced to empty
                    pass
                queue.dropped += 1
            queue.put_nowait(payload)

    def topics(self) -> list[Topic]:
        """Topics that currently have at least one subscriber."""
        return [t for t, subs in self._subs.items() if subs]
