"""Market streams at Binance's cadence, on the venue's simulated clock (web-socket-streams.md).

==========================  ====================================================  ==============
stream                      what is sent                                          when
==========================  ====================================================  ==============
``@depth``, ``@depth@100ms``  the book changes since the last event, merged:       every 1000 /
                            ``U`` first and ``u`` last update id, last qty wins   100 ms (if any)
``@depth5/10/20[@100ms]``   the top levels (``lastUpdateId``, ``bids``, ``asks``)  every 1000 / 100 ms
``@kline_<i>``              the forming candle; the closed one as soon as the     every 2000 ms
                            next opens (``x: true``); ``f``/``L`` real trade ids  (1000 for ``1s``)
``@ticker``, ``@miniTicker``  the rolling 24 h statistics                           every 1000 ms
``@trade``, ``@aggTrade``   each print                                            real time
``@bookTicker``             best bid/ask                                          on change
==========================  ====================================================  ==============

Timers are boundaries of the simulated clock: an event is due when the clock crosses a
multiple of the stream's period since the previous tick (``now // period`` changed). The venue
calls :meth:`Cadence.tick` each time it advances: every ``tick_interval_ms`` (100 ms) of wall
time in real-time mode, and once per ``step`` in stepped mode. So the stepped mode stays
deterministic: a step that crosses a period boundary sends exactly one event per stream (one
merged diff, one candle update, one ticker), a step inside a period sends none, and an injected
trade (which does not move the clock) shows in klines and tickers at the next step.

A new kline subscriber never receives a closed candle it did not see forming: the per-topic
state is keyed on :meth:`kit.localnet.hub.Hub.epoch`, which changes when a topic's audience
starts anew.

Examples
--------
>>> diff = Diff()
>>> diff.add((5, 5, [["1.00", "2"]], [["1.10", "3"]]))
>>> diff.add((6, 6, [["1.00", "0"]], []))
>>> diff.event("BTCUSDT", 1000)
{'e': 'depthUpdate', 'E': 1000, 's': 'BTCUSDT', 'U': 5, 'u': 6, 'b': [['1.00', '0']], 'a': [['1.10', '3']]}
>>> crossed(1_999, 2_001, 1000), crossed(2_001, 2_999, 1000)
(True, False)
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

#: Depth stream speeds (``@depth`` is the 1000 ms one).
DEPTH_SPEEDS: dict[str, int] = {"1000ms": 1000, "100ms": 100}
#: Levels in a partial-depth event before the stream trims it (5, 10 or 20).
PARTIAL_LEVELS = 20
TICKER_MS = 1000
KLINE_MS = 2000


def crossed(prev_ms: int, now_ms: int, period_ms: int) -> bool:
    """True if a multiple of ``period_ms`` lies in ``(prev_ms, now_ms]``."""
    return now_ms // period_ms != prev_ms // period_ms


class Diff:
    """Book changes accumulated between two diff-depth events (``[price, qty]``; last write wins)."""

    __slots__ = ("asks", "bids", "first", "last")

    def __init__(self) -> None:
        self.first = 0
        self.last = 0
        self.bids: dict[str, str] = {}
        self.asks: dict[str, str] = {}

    def add(self, delta: tuple[int, int, list[list[str]], list[list[str]]]) -> None:
        """Fold one book delta ``(first_id, last_id, bid_changes, ask_changes)`` in."""
        first, last, bids, asks = delta
        if not self.first:
            self.first = first
        self.last = last
        for price, qty in bids:
            self.bids[price] = qty
        for price, qty in asks:
            self.asks[price] = qty

    def __bool__(self) -> bool:
        return bool(self.first)

    def event(self, sid: str, now_ms: int) -> dict[str, Any]:
        """The ``depthUpdate`` event (bids high to low, asks low to high)."""
        bids = sorted(self.bids.items(), key=lambda kv: Decimal(kv[0]), reverse=True)
        asks = sorted(self.asks.items(), key=lambda kv: Decimal(kv[0]))
        return {
            "e": "depthUpdate",
            "E": now_ms,
            "s": sid,
            "U": self.first,
            "u": self.last,
            "b": [[p, q] for p, q in bids],
            "a": [[p, q] for p, q in asks],
        }


def trade_ids(prints: Any, start_ms: int, end_ms: int) -> tuple[int, int]:
    """First and last id of the prints stamped in ``[start_ms, end_ms]`` (``(-1, -1)`` if none).

    ``prints`` is the venue's recent-prints deque, oldest first; it is walked from the newest end
    (the candles asked about are the latest ones).
    """
    first = last = -1
    for p in reversed(prints):
        if p.ts_ms < start_ms:
            break
        if p.ts_ms <= end_ms:
            if last < 0:
                last = p.id
            first = p.id
    return first, last


class Cadence:
    """The timed market streams of one venue (see the module docstring).

    Parameters
    ----------
    venue:
        The :class:`kit.localnet.venue.Venue` (``hub``, ``symbols``, ``sources``, ``recent``,
        ``depth()``, ``ticker()`` are used).
    """

    def __init__(self, venue: Any) -> None:
        self.venue = venue
        self.hub = venue.hub
        self.last_ms: int | None = None
        self._diffs: dict[tuple[str, str], Diff] = {}
        self._klines: dict[tuple[str, str], tuple[int, int]] = {}  # (sid, interval) -> (hub epoch, open ms)

    # -------------------------------------------------------------- inputs
    def on_depth(self, sid: str, delta: tuple[int, int, list[list[str]], list[list[str]]]) -> None:
        """Remember a book change for the diff-depth streams that have an audience."""
        for speed in DEPTH_SPEEDS:
            if self.hub.has_subscribers(("depth", sid, speed)):
                self._diffs.setdefault((sid, speed), Diff()).add(delta)

    def tick(self, now_ms: int) -> None:
        """Send every stream event due between the previous tick and ``now_ms``."""
        prev = self.last_ms
        self.last_ms = now_ms
        if prev is None or now_ms <= prev:
            return
        topics = self.hub.topics()
        self._drop_silent(topics)
        for topic in topics:
            kind = topic[0]
            if kind == "depth" and len(topic) == 3 and crossed(prev, now_ms, DEPTH_SPEEDS[topic[2]]):
                diff = self._diffs.pop((topic[1], topic[2]), None)
                if diff:
                    self.hub.publish(topic, diff.event(topic[1], now_ms))
            elif kind == "depthPartial" and crossed(prev, now_ms, DEPTH_SPEEDS[topic[2]]):
                self.hub.publish(topic, self.venue.depth(topic[1], PARTIAL_LEVELS))
            elif kind in ("ticker", "miniTicker") and crossed(prev, now_ms, TICKER_MS):
                self._ticker(topic, now_ms)
            elif kind == "kline":
                self._kline(topic, prev, now_ms)

    # -------------------------------------------------------------- outputs
    def _drop_silent(self, topics: list[tuple[str, ...]]) -> None:
        live = set(topics)
        for sid, speed in [k for k in self._diffs if ("depth", k[0], k[1]) not in live]:
            del self._diffs[(sid, speed)]
        for sid, interval in [k for k in self._klines if ("kline", k[0], k[1]) not in live]:
            del self._klines[(sid, interval)]

    def _ticker(self, topic: tuple[str, ...], now_ms: int) -> None:
        from kit.localnet import wire_market

        t = self.venue.ticker(topic[1])
        make = wire_market.ticker_event if topic[0] == "ticker" else wire_market.mini_ticker_event
        self.hub.publish(topic, make(t, now_ms))

    def _kline(self, topic: tuple[str, ...], prev: int, now_ms: int) -> None:
        from kit.localnet.market import INTERVALS_MS

        sid, interval = topic[1], topic[2]
        ms = INTERVALS_MS.get(interval)
        candles = self.venue.sources[sid].candles
        if ms is None or ms % candles.base_ms:
            return  # finer than the data (1s on minute candles): nothing to send
        open_ms = now_ms - now_ms % ms
        epoch = self.hub.epoch(topic)
        state = self._klines.get((sid, interval))
        period = 1000 if interval == "1s" else KLINE_MS
        if state is not None and state[0] == epoch and state[1] < open_ms:
            self._send_kline(topic, state[1], now_ms, closed=True)  # the candle this audience saw forming
        elif state is not None and state[0] == epoch and not crossed(prev, now_ms, period):
            return
        self._klines[(sid, interval)] = (epoch, open_ms)
        self._send_kline(topic, open_ms, now_ms, closed=False)

    def _send_kline(self, topic: tuple[str, ...], open_ms: int, now_ms: int, *, closed: bool) -> None:
        from kit.localnet import wire_market
        from kit.localnet.market import INTERVALS_MS

        sid, interval = topic[1], topic[2]
        ms = INTERVALS_MS[interval]
        rows = self.venue.sources[sid].candles.klines(ms, start_ms=open_ms, end_ms=open_ms, limit=1, now_ms=now_ms)
        if not rows:
            return
        event = wire_market.kline_event(sid, interval, rows[0], now_ms, closed=closed)
        if int(rows[0][8]):  # trades in the candle: their real ids
            first, last = trade_ids(self.venue.recent[sid], open_ms, open_ms + ms - 1)
            event["k"]["f"], event["k"]["L"] = first, last
        self.hub.publish(topic, event)
