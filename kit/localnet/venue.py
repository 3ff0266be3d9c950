"""The exchange state behind the HTTP and WebSocket adapters.

A :class:`Venue` owns the engine (:mod:`kit.engine`), the clock, the markets (trade prints,
candles, synthetic books), the accounts and API keys, the stream :class:`~kit.localnet.hub.Hub`
and the persistent store. The adapters decode a request, call one venue method, and encode the
result; the venue turns engine events into Binance stream events and publishes them.

All methods run on the server's event loop thread (tests step the clock through
``Localnet.step``, which hops onto that thread).

Examples
--------
>>> from kit.localnet.config import LocalnetConfig
>>> v = Venue(LocalnetConfig(stepped=True, start_ms=1_700_000_000_000, history_minutes=10))
>>> v.symbols["BTCUSDT"].symbol
'BTC/USDT'
>>> v.step(5_000) and v.depth("BTCUSDT", 5)["lastUpdateId"] > 0
True
>>> sorted(v.keys_by_name)
['reader', 'restricted', 'trader', 'withdrawer']
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from kit.localnet import wire
from kit.localnet.auth import ApiKey, Secret, new_api_key
from kit.localnet.book import Book, Delta
from kit.localnet.clock import Clock, wall_ms
from kit.localnet.config import LocalnetConfig, SymbolSpec
from kit.localnet.faults import Faults
from kit.localnet.hub import Hub
from kit.localnet.market import (
    INTERVALS_MS,
    MINUTE_MS,
    Candles,
    MirrorSource,
    Print,
    ReplaySource,
    SyntheticSource,
)
from kit.localnet.persist import Store
from kit.localnet.streams_cadence import Cadence
from kit.localnet.trading import Trading
from kit.localnet.wire import VenueError

log = logging.getLogger("kit.localnet")

__all__ = ["SymbolInfo", "Venue", "VenueError"]


@dataclass(frozen=True)
class SymbolInfo:
    """One listed symbol: Binance id, unified symbol, spec (filters) and engine market."""

    id: str
    symbol: str
    spec: SymbolSpec
    market: Any  # kit.engine.Market

    @property
    def base(self) -> str:
        """Base asset."""
        return self.spec.base

    @property
    def quote(self) -> str:
        """Quote asset."""
        return self.spec.quote


class Venue(Trading):
    """Engine, clock, markets, accounts, keys and stream hub of one localnet run.

    Parameters
    ----------
    config:
        The run's configuration.
    store:
        Persistent state; by default opened from ``config.state_dir`` (in memory if None).
    """

    def __init__(self, config: LocalnetConfig, *, store: Store | None = None) -> None:
        from kit.engine import Engine, Market

        self.config = config
        self.store = store or Store(config.state_dir)
        self.hub = Hub()
        self.cadence = Cadence(self)  # timed market streams (kit.localnet.streams_cadence)
        self.faults = Faults(config.faults)
        seed = self.store.get_meta("seed", config.seed)
        self.seed = int(seed)
        #: Called once the clock runs by itself (:meth:`go_live`); the server starts its market ticker there.
        self.on_live: Callable[[], None] | None = None
        # Every time a previous run stamped (its last market tick, and any order, cancel or print
        # logged after it): the clock resumes at or after it, and nothing is stamped earlier.
        self.resume_ms = self.store.high_water_ms()
        start = config.start_ms
        if config.candles and start is None:
            start = min(_first_ms(df) for df in config.candles.values())
        if self.resume_ms is not None:
            start = max(start if start is not None else wall_ms(), self.resume_ms)
        self.clock = Clock(start_ms=start, speed=config.speed, stepped=config.stepped)
        now = self.clock.now_ms()
        anchor = int(self.store.get_meta("anchor_ms", now - now % MINUTE_MS))
        self.store.set_meta("seed", seed)
        self.store.set_meta("anchor_ms", anchor)
        self.symbols: dict[str, SymbolInfo] = {}
        self.sources: dict[str, SyntheticSource | ReplaySource | MirrorSource] = {}
        self.books: dict[str, Book] = {}
        self.by_unified: dict[str, SymbolInfo] = {}
        for spec in config.symbols:
            market = Market(
                f"{spec.base}/{spec.quote}",
                spec.base,
                spec.quote,
                tick_size=spec.tick_size,
                step_size=spec.step_size,
                min_qty=spec.min_qty,
                max_qty=spec.max_qty,
                market_max_qty=spec.market_max_qty,
                min_notional=spec.min_notional,
                max_notional=spec.max_notional,
                maker_fee=spec.maker_fee,
                taker_fee=spec.taker_fee,
                max_iceberg_parts=spec.max_iceberg_parts,
                min_trailing_bps=spec.min_trailing_bps,
                max_trailing_bps=spec.max_trailing_bps,
                min_price=spec.min_price if spec.min_price is not None else spec.tick_size,
                max_price=spec.max_price,
                bid_multiplier_up=spec.bid_multiplier_up,
                bid_multiplier_down=spec.bid_multiplier_down,
                ask_multiplier_up=spec.ask_multiplier_up,
                ask_multiplier_down=spec.ask_multiplier_down,
                max_num_orders=spec.max_num_orders,
                max_num_algo_orders=spec.max_num_algo_orders,
                apply_max_notional_to_market=False,  # exchangeInfo says applyMaxToMarket false, as Binance
            )
            info = SymbolInfo(spec.symbol, market.symbol, spec, market)
            self.symbols[spec.symbol] = info
            self.by_unified[market.symbol] = info
            frame = (config.candles or {}).get(spec.symbol)
            if config.mirror is not None:  # the paper venue: another venue's public market (kit.paper)
                self.sources[spec.symbol] = config.mirror.source(spec)
            elif frame is not None:
                self.sources[spec.symbol] = ReplaySource(spec, frame)
            else:
                self.sources[spec.symbol] = SyntheticSource(
                    spec, seed=int(seed), live_start_ms=anchor, history_minutes=config.history_minutes
                )
            mirrored = config.mirror.book(spec) if config.mirror is not None else None
            self.books[spec.symbol] = mirrored or Book(spec, seed=int(seed))
        self.recent: dict[str, deque[Print]] = {s: deque(maxlen=5000) for s in self.symbols}
        self._tape_ids: dict[str, int] = dict.fromkeys(self.symbols, 0)  # last public trade id per symbol
        self.last_price: dict[str, Decimal] = {}
        make_engine = getattr(config.mirror, "engine", None) or Engine  # the paper venue queues (kit.paper)
        self.engine = make_engine([i.market for i in self.symbols.values()], fill_model=config.fill_model)
        self.engine.reuse_client_ids = True  # Binance: a client id is unique among *open* orders only
        Trading.__init__(self)
        self.keys_by_name: dict[str, ApiKey] = {}
        self._keys: dict[str, ApiKey] = {}
        self._restore_or_open(now)
        self._load_keys(now)
        # Replaying a long command log takes a while and a real clock keeps running meanwhile: the
        # market starts at the time it is actually caught up to, not at the time the setup began.
        now = self.clock.now_ms()
        self._tick_ms = now
        self.cadence.last_ms = now
        self._catch_up(now)
        # Whatever the regenerated tape did, its ids continue above every own fill recorded before
        # a restart (no id may name two different trades).
        for sym, pid in self.store.last_public_ids().items():
            known = self.symbols.get(sym) or self.by_unified.get(sym)
            if known is not None:
                self._tape_ids[known.id] = max(self._tape_ids[known.id], pid)
        self.store.set_meta("last_clock_ms", now)
        self.store.commit()

    # ------------------------------------------------------------------ setup
    def _restore_or_open(self, now: int) -> None:
        if self.store.has_commands():
            self.replay_commands()
            return
        for acct in self.config.accounts:
            self.run_command(
                "open_account", now, {"account": acct.name, "balances": {a: str(v) for a, v in acct.balances.items()}}
            )

    def _load_keys(self, now: int) -> None:
        rows = {r["name"]: r for r in self.store.load_keys()}
        for spec in self.config.keys:
            row = rows.get(spec.name)
            if row is None:
                key = new_api_key(
                    spec.name,
                    spec.account,
                    reading=spec.reading,
                    spot_trading=spec.spot_trading,
                    withdrawals=spec.withdrawals,
                    ip_allowlist=spec.ip_allowlist,
                    created_ms=now,
                    kind=spec.kind,
                )
                self.store.save_key(
                    {
                        "name": key.name,
                        "api_key": key.api_key,
                        "secret": key.secret.reveal(),
                        "account": key.account,
                        "reading": key.reading,
                        "spot_trading": key.spot_trading,
                        "withdrawals": key.withdrawals,
                        "ip_allowlist": ",".join(key.ip_allowlist),
                        "created_ms": key.created_ms,
                        "kind": key.kind,
                        "public_key": key.public_key,
                    }
                )
            else:
                key = ApiKey(
                    row["name"],
                    row["api_key"],
                    Secret(row["secret"]),
                    row["account"],
                    bool(row["reading"]),
                    bool(row["spot_trading"]),
                    bool(row["withdrawals"]),
                    tuple(x for x in (row["ip_allowlist"] or "").split(",") if x),
                    int(row["created_ms"]),
                    row["kind"] or "hmac",
                    bytes(row["public_key"] or b""),
                )
            self.keys_by_name[key.name] = key
            self._keys[key.api_key] = key

    def _catch_up(self, now: int) -> None:
        """Bring market data to ``now`` without feeding the engine (history / downtime).

        The engine only learns the latest price (stop checks, notional), as a print of no quantity
        stamped no earlier than anything a previous run stamped (``resume_ms``): after a restart
        that print is either one the engine has already seen (replayed from the command log) or
        one from the downtime, and neither may fill a resting order, least of all at a time before
        the order existed or before its earlier fills. Resting orders the market moved through
        while the venue was down fill against the book at ``now``, as on an exchange reopening.
        """
        floor = self.resume_ms or 0
        own: dict[str, list[Print]] = {}
        for sym, pid, ts, px, qty, buyer_maker in self.store.own_prints():
            known = self.by_unified.get(sym) or self.symbols.get(sym)
            if known is not None and isinstance(self.sources[known.id], SyntheticSource):
                own.setdefault(known.id, []).append(Print(pid, ts, Decimal(px), Decimal(qty), buyer_maker))
        for sid, src in self.sources.items():
            mine = own.get(sid, [])
            prints = self._retape(sid, src, src.prints_until(now), mine)
            self.recent[sid].extend(prints)
            # The market goes on from its own path: its last print sets the price, the book and the
            # engine's mark, not an earlier own fill (which may have traded against injected prints
            # the regenerated path does not have).
            own_ids = {p.id for p in mine}
            market = [p for p in prints if p.id not in own_ids] if own_ids else prints
            if market:
                last = market[-1]
            else:
                price = _last_close(src) or getattr(src, "first_price", None) or self.symbols[sid].spec.price
                last = Print(0, now, price, Decimal(0), False)
            self.last_price[sid] = last.price
            self.books[sid].rebuild(last.price, now, seller_aggressor=last.buyer_maker if last.qty else None)
            mark = Print(last.id, min(max(last.ts_ms, floor), now), last.price, Decimal(0), last.buyer_maker)
            self.engine_trade(sid, mark)
            self.engine_book(sid, now)

    # ------------------------------------------------------------------ keys
    def key(self, api_key: str) -> ApiKey | None:
        """The key record for an ``X-MBX-APIKEY`` value, or None."""
        return self._keys.get(api_key)

    def add_key(self, key: ApiKey) -> None:
        """Register an extra key at run time (tests)."""
        self.keys_by_name[key.name] = key
        self._keys[key.api_key] = key

    # ------------------------------------------------------------------ time
    def server_ms(self) -> int:
        """Wire time: what ``GET /time`` reports and signed ``timestamp`` values are checked against.

        This is the wall clock plus the injected skew, not the simulated clock: clients sign with
        their own wall clock, so a stepped or fast simulated clock must not make every signed
        request stale. Market data and order times follow the simulated clock.
        """
        return wall_ms() + self.faults.clock_skew_ms

    def step(self, ms: int) -> int:
        """Advance a stepped clock by ``ms`` and run the simulation up to it; returns the time."""
        now = self.clock.step(ms)
        self.advance(now)
        return now

    def go_live(self, *, speed: float = 1.0) -> int:
        """Let a stepped market move by itself from now on; returns the simulated time it goes live at.

        The clock is brought up to the wall clock (never back), then runs at ``speed`` (1.0: real
        time); a replayed market (``candles=``) continues after its last candle with a seeded
        synthetic path from its last price, so resting orders can fill while a user watches
        (notebook 03's "Your turn", #17.4). A synthetic market already continues by itself.
        """
        now = self.clock.now_ms()
        if now < wall_ms() and self.clock.stepped:
            now = self.clock.set(wall_ms())
            self.advance(now)
        for src in self.sources.values():
            if isinstance(src, ReplaySource):
                src.go_live(seed=self.seed, start_ms=now, price=_last_close(src) or src.first_price)
        self.clock.configure(stepped=False, speed=speed)
        if self.on_live is not None:
            self.on_live()
        return now

    async def tick(self) -> None:
        """Advance the market simulation to ``clock.now_ms()`` (called periodically by the server)."""
        self.advance(self.clock.now_ms())

    def advance(self, now: int) -> None:
        """Feed new trade prints and books to the engine and publish market and user events."""
        if now <= self._tick_ms:
            return
        self._tick_ms = now
        for sid in self.symbols:
            prints = self.sources[sid].prints_until(now)
            for p in prints:
                self._on_print(sid, self._tape(sid, p))
            book = self.books[sid]
            if prints:
                delta = book.rebuild(prints[-1].price, now, seller_aggressor=prints[-1].buyer_maker)
            else:
                delta = book.refresh(now)
            if delta is not None:
                self._publish_depth(sid, delta, now)
                self.engine_book(sid, now)
        self.cadence.tick(now)  # depth, klines and tickers at their periods, not per print
        if self.has_gtd():
            self.run_command("advance", now, {})
        self.store.set_meta("last_clock_ms", now)
        self.store.commit()

    def inject_trade(self, symbol_id: str, price: Decimal, qty: Decimal, *, buyer_maker: bool = False) -> Print:
        """Print a trade now at ``price`` (tests, admin endpoint); the generator continues from it."""
        src = self.sources[symbol_id]
        now = self.clock.now_ms()
        self.advance(now)
        p = self._tape(symbol_id, Print(0, now, price, qty, buyer_maker))
        src.candles.add_print(p)
        src.move_to(price)
        delta = self.books[symbol_id].rebuild(price, now, seller_aggressor=buyer_maker)
        if delta is not None:
            self._publish_depth(symbol_id, delta, now)
            self.engine_book(symbol_id, now)
        self._on_print(symbol_id, p)  # klines and tickers show it at their next period
        self.store.commit()
        return p

    def _on_print(self, sid: str, p: Print) -> None:
        self.recent[sid].append(p)
        self.last_price[sid] = p.price
        if self.open_ids.get(self.symbols[sid].symbol):
            # Orders are working: move the book with the print *before* the engine sees it, so a
            # stop triggered by this print executes against the book the print implies.
            delta = self.books[sid].rebuild(p.price, p.ts_ms, seller_aggressor=p.buyer_maker)
            if delta is not None:
                self._publish_depth(sid, delta, p.ts_ms)
                self.engine_book(sid, p.ts_ms)
        self.engine_trade(sid, p)
        if self.hub.has_subscribers(("trade", sid)):
            self.hub.publish(("trade", sid), wire.trade_event(sid, p))
        if self.hub.has_subscribers(("aggTrade", sid)):
            self.hub.publish(("aggTrade", sid), wire.agg_trade_event(sid, p))

    def _retape(self, sid: str, src: Any, raw: list[Print], own: list[Print]) -> list[Print]:
        """The regenerated market prints under their tape ids, with the recorded own fills back in place.

        After a restart the synthetic market is generated again from its seed (the same prints at
        the same times), while the accounts' earlier fills come from the store with their public
        ids. Each own fill goes back where its id says it was: before the market print that would
        otherwise take its id, or, if prints the store does not know (injected ones) are missing,
        before the first later market print, so ids never repeat and only ever skip. Their candles
        are rebuilt in tape order, so volume, trade counts, highs, lows and closes include them, as
        on Binance, where history does not change.
        """
        if not own:
            return [self._tape(sid, p) for p in raw]
        out: list[Print] = []
        i = 0
        for p in [*raw, None]:
            while i < len(own) and (p is None or own[i].id <= self._tape_ids[sid] + 1 or own[i].ts_ms < p.ts_ms):
                out.append(own[i])
                self._tape_ids[sid] = max(self._tape_ids[sid], own[i].id)
                i += 1
            if p is not None:
                out.append(self._tape(sid, p))
        base = src.candles.base_ms
        touched = {p.ts_ms - p.ts_ms % base for p in own}
        for ts in touched:
            src.candles.bars.pop(ts, None)
        for p in out:
            if p.ts_ms - p.ts_ms % base in touched:
                src.candles.add_print(p)
        return out

    def _tape(self, sid: str, p: Print) -> Print:
        """``p`` under the symbol's next public trade id.

        One sequence per symbol for the market's prints and the accounts' own fills, in the order
        they happen.
        """
        self._tape_ids[sid] += 1
        return Print(self._tape_ids[sid], p.ts_ms, p.price, p.qty, p.buyer_maker)

    def print_own_fill(self, account: str, fill: Any, ts_ms: int) -> None:
        """Put an account's fill on the market's tape: ``/trades``, aggTrades, klines, tickers, trade streams.

        On Binance every trade is public; here the synthetic prints and the accounts' own fills
        share one id sequence per symbol (:meth:`_tape`), and ``myTrades``, order responses and
        execution reports show the same id; the fills table keeps it, and a restart puts the fill
        back on the tape under it (:meth:`_retape`). Only a synthetic market takes part in its own fills:
        a replay (``candles``) is a record, where the data decides (as for injected prices), and a
        paper venue (``mirror``) mirrors another venue's tape; both leave the fills off it.
        """
        info = self.by_unified[fill.symbol]
        src = self.sources[info.id]
        if not isinstance(src, SyntheticSource):
            return
        buy = fill.side.value == "buy"
        maker = fill.liquidity.value == "maker"
        p = self._tape(info.id, Print(0, ts_ms, fill.price, fill.quantity, buyer_maker=buy == maker))
        self.public_ids[fill.trade_id] = p.id
        self.store.save_public_id(account, fill.trade_id, p.id)
        src.candles.add_print(p)
        self.recent[info.id].append(p)
        self.last_price[info.id] = p.price
        if self.hub.has_subscribers(("trade", info.id)):
            self.hub.publish(("trade", info.id), wire.trade_event(info.id, p))
        if self.hub.has_subscribers(("aggTrade", info.id)):
            self.hub.publish(("aggTrade", info.id), wire.agg_trade_event(info.id, p))

    # ------------------------------------------------------------------ market data reads
    def depth(self, symbol_id: str, limit: int) -> dict[str, Any]:
        """REST depth snapshot: ``{"lastUpdateId", "bids", "asks"}``."""
        return self.books[symbol_id].snapshot(limit)

    def klines(
        self, symbol_id: str, interval: str, *, start_ms: int | None, end_ms: int | None, limit: int
    ) -> list[list[Any]]:
        """Binance kline rows (the forming candle included).

        ``1M`` candles are calendar months; ``1s`` candles (finer than the stored minute bars) are
        built from the trade tape (``recent``, the last 5000 prints), so they reach back only as far
        as the tape does.
        """
        src = self.sources[symbol_id]
        now = self.clock.now_ms()
        if interval == "1M":
            return src.candles.month_klines(start_ms=start_ms, end_ms=end_ms, limit=limit, now_ms=now)
        ms = INTERVALS_MS[interval]
        if ms % src.candles.base_ms and ms < src.candles.base_ms and src.candles.base_ms % ms == 0:
            fine = Candles(ms, fill_gaps=src.candles.fill_gaps)
            for p in self.recent[symbol_id]:
                fine.add_print(p)
            return fine.klines(ms, start_ms=start_ms, end_ms=end_ms, limit=limit, now_ms=now)
        return src.candles.klines(ms, start_ms=start_ms, end_ms=end_ms, limit=limit, now_ms=now)

    def ticker(self, symbol_id: str, window_ms: int = 86_400_000) -> dict[str, Any]:
        """Rolling ticker (REST ``ticker/24hr`` body for one symbol; ``ticker`` with a window).

        ``lastQty`` is the last print's; ``firstId``/``lastId`` bound the window's trade ids and
        ``count`` is ``lastId - firstId + 1`` (Binance's identity): the window's trade count from
        its candles, less any trades from before the first id (the generated history has none).
        """
        now = self.clock.now_ms()
        start = now - window_ms + 1
        bars = self.sources[symbol_id].candles.window(start, now)
        bid, ask = self.books[symbol_id].best()
        recent = self.recent[symbol_id]
        last = recent[-1] if recent and recent[-1].ts_ms >= start else None
        last_id = last.id if last is not None else -1
        first_id = max(1, last_id - sum(int(b[6]) for b in bars) + 1) if last is not None else -1
        body = wire.ticker_24h(
            symbol_id,
            bars,
            self.last_price[symbol_id],
            bid,
            ask,
            now,
            first_id=first_id,
            last_id=last_id,
            window_ms=window_ms,
        )
        body["count"] = last_id - first_id + 1 if last is not None else 0
        if last is not None:
            body["lastQty"] = wire.fmt(last.qty)
        return body

    def book_ticker(self, symbol_id: str) -> dict[str, Any]:
        """Best bid/ask body (REST ``ticker/bookTicker``)."""
        bid, ask = self.books[symbol_id].best()
        return wire.book_ticker(symbol_id, bid, ask)

    # ------------------------------------------------------------------ publishing
    def _publish_depth(self, sid: str, delta: Delta, now: int) -> None:
        self.cadence.on_depth(sid, delta)  # diff depth goes out merged, at the stream's period
        if self.hub.has_subscribers(("bookTicker", sid)):
            bid, ask = self.books[sid].best()
            self.hub.publish(("bookTicker", sid), {**wire.book_ticker(sid, bid, ask), "u": delta[1]})

    def publish_user(self, account: str, payload: dict[str, Any]) -> None:
        """Send one user-data event (executionReport, outboundAccountPosition, balanceUpdate)."""
        self.hub.publish(("user", account), payload)

    def close(self) -> None:
        """Flush and close the store."""
        self.store.set_meta("last_clock_ms", self.clock.now_ms())
        self.store.close()


def _first_ms(frame: Any) -> int:
    import pandas as pd

    return int(pd.DatetimeIndex(frame.index).tz_convert("UTC").as_unit("ms").asi8[0])


def _last_close(src: SyntheticSource | ReplaySource | MirrorSource) -> Decimal | None:
    bars = src.candles.bars
    if not bars:
        return None
    return bars[max(bars)][3]
