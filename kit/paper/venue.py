"""The paper venue: a private localnet whose market mirrors another venue's public feed.

``Session("binance", stage="paper")`` and ``Session("localnet", stage="paper")`` talk real ccxt
to this venue, with its own accounts and keys; the upstream (Binance, or the main localnet) only
ever receives public market-data requests. Everything a Session does on localnet (guard,
filters, journal, fills, streams, blotter, reconcile) therefore works on paper unchanged; see
docs/paper.md for why this design and what it costs.

One paper venue per upstream per process (:func:`paper_venue`). Its state lives in
``$KIT_HOME/paper/<upstream>`` (held with a lock; another process gets a private temporary one).
"""

from __future__ import annotations

import fcntl
import functools
import os
import tempfile
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from kit.engine.paperfill import PaperFillModel
from kit.errors import ConfigError
from kit.localnet.config import SymbolSpec

D = Decimal

#: Symbols a paper venue mirrors when none are named (``KIT_PAPER_SYMBOLS="BTC/USDT,ETH/USDT"``).
DEFAULT_PAPER_SYMBOLS = ("BTC/USDT", "ETH/USDT", "ETH/BTC")

#: Opening balances of the paper account (``main``): the same as localnet's demo account.
DEFAULT_PAPER_BALANCES = {"USDT": D("10000"), "BTC": D("0.5"), "ETH": D("5")}


@dataclass(frozen=True)
class PaperConfig:
    """How a paper venue is built.

    Parameters
    ----------
    symbols
        Unified symbols to mirror (``None``: ``KIT_PAPER_SYMBOLS`` or :data:`DEFAULT_PAPER_SYMBOLS`,
        those the upstream lists).
    balances
        Opening balances of the paper account.
    latency_ms
        Insert/cancel latency: every request to the paper venue is held this long before it acts
        (placeholder 250 ms until twin data measures the real p95; spec (c)), and a taker walks the
        worse of the book this long before its arrival (its decision) and the book at its arrival.
    replenish_ms
        How long liquidity a paper order took stays gone (spec (c): 1-5 s).
    beyond_depth_ticks
        A market order's remainder beyond the visible depth fills this many ticks past the last
        level (spec (c)), instead of expiring.
    stepped
        Run the venue on a stepped clock (tests, benchmarks, a notebook driving a stepped
        localnet): requests are not held, the clock moves only by ``net.step``, and the latency
        applies as the decision lag alone (decision time = arrival - ``latency_ms``).
    follow
        With ``stepped`` and a localnet upstream whose clock is stepped too: no streams; the venue
        starts at the upstream's time and :meth:`PaperVenue.sync` catches it up (book, trades,
        clock) whenever the upstream was stepped. :func:`paper_venue` chooses this by itself when
        the localnet it mirrors is stepped (the notebooks' and the demo's).
    start_ms
        Where a stepped clock starts (default: the upstream's time when following, else the wall clock).
    history_minutes
        Upstream 1m candles loaded at start, so klines have a past.
    first_book_s
        How long to wait for the first upstream book of every symbol before refusing to start.
    """

    symbols: tuple[str, ...] | None = None
    balances: dict[str, Decimal] = field(default_factory=lambda: dict(DEFAULT_PAPER_BALANCES))
    latency_ms: float = 250.0
    replenish_ms: int = 3_000
    beyond_depth_ticks: int = 10
    stepped: bool = False
    follow: bool = False
    start_ms: int | None = None
    history_minutes: int = 120
    first_book_s: float = 20.0

    def model(self) -> PaperFillModel:
        """The paper fill model's settings for the venue's engine (the same rules as the twins').

        >>> PaperConfig(latency_ms=100, beyond_depth_ticks=5).model()
        PaperFillModel(latency_ms=100, cancel_latency_ms=100, replenish_ms=3000, beyond_depth_ticks=5)
        """
        lat = round(self.latency_ms)
        return PaperFillModel(latency_ms=lat, cancel_latency_ms=lat, replenish_ms=self.replenish_ms,
                              beyond_depth_ticks=self.beyond_depth_ticks)  # fmt: skip


class Mirror:
    """The ``LocalnetConfig.mirror`` of a paper venue: its books and sources, fed by a :class:`Feed`."""

    #: Builds the venue's engine: the paper fill model's rules (kit.engine.paperengine).
    engine: Any = None

    def __init__(
        self, history: dict[str, list[list[Any]]], *, replenish_ms: int, model: PaperFillModel | None = None
    ) -> None:
        from kit.engine.paperengine import PaperEngine
        from kit.paper.book import MirrorBook, MirrorTape

        self.model = model or PaperFillModel(replenish_ms=replenish_ms)
        self.engine = functools.partial(
            PaperEngine, model=self.model, upstream=self.upstream_levels, consume=self.consume_levels
        )
        self.books: dict[str, MirrorBook] = {}
        self.sources: dict[str, MirrorTape] = {}
        self._history = history
        self._replenish_ms = replenish_ms

    def upstream_levels(self, symbol: str) -> Any:
        """The upstream's own levels of ``symbol`` (unified) for the engine's queue rule, ``None`` in a gap."""
        for book in self.books.values():
            if f"{book.spec.base}/{book.spec.quote}" == symbol:
                return book.upstream_levels()
        return None

    def consume_levels(self, symbol: str, side: str, price: Decimal, qty: Decimal, until_ms: int) -> None:
        """A sweep's counted volume stays consumed in the mirrored book of ``symbol`` (unified) until ``until_ms``."""
        for book in self.books.values():
            if f"{book.spec.base}/{book.spec.quote}" == symbol:
                book.take(side, price, qty, until_ms=until_ms)

    def book(self, spec: SymbolSpec) -> Any:
        """The symbol's :class:`~kit.paper.book.MirrorBook` (the venue calls this once per symbol)."""
        from kit.paper.book import MirrorBook

        return self.books.setdefault(spec.symbol, MirrorBook(spec, replenish_ms=self._replenish_ms))

    def source(self, spec: SymbolSpec) -> Any:
        """The symbol's :class:`~kit.paper.book.MirrorTape`: the venue's prints, also taken off the book."""
        from kit.paper.book import MirrorTape

        if spec.symbol not in self.sources:
            tape = MirrorTape(spec, history=self._history.get(spec.symbol))
            tape.book = self.book(spec)
            self.sources[spec.symbol] = tape
        return self.sources[spec.symbol]


def spec_from_market(m: dict[str, Any], *, fallback_price: Decimal) -> SymbolSpec:
    """A localnet :class:`SymbolSpec` with the filters an upstream ccxt market publishes.

    Binance-shaped ``info.filters`` are read exactly (strings); other venues fall back to ccxt's
    unified ``precision``/``limits``.
    """
    filters = {f.get("filterType"): f for f in (m.get("info") or {}).get("filters", []) if isinstance(f, dict)}
    lims = m.get("limits") or {}
    prec = m.get("precision") or {}

    def num(x: Any, default: str) -> Decimal:
        return D(str(x)) if x not in (None, "") else D(default)

    pf, lot = filters.get("PRICE_FILTER", {}), filters.get("LOT_SIZE", {})
    notional = filters.get("NOTIONAL") or filters.get("MIN_NOTIONAL", {})
    tick = num(pf.get("tickSize") or prec.get("price"), "0.01").normalize()
    step = num(lot.get("stepSize") or prec.get("amount"), "0.00001").normalize()
    mlot = filters.get("MARKET_LOT_SIZE", {})
    market_max = num(mlot.get("maxQty") or (lims.get("market") or {}).get("max"), "0")
    return SymbolSpec(
        str(m["id"]),
        str(m["base"]),
        str(m["quote"]),
        tick,
        step,
        fallback_price,
        num(lot.get("minQty") or (lims.get("amount") or {}).get("min"), str(step)),
        max_qty=num(lot.get("maxQty") or (lims.get("amount") or {}).get("max"), "9000"),
        market_max_qty=market_max if market_max > 0 else num(lot.get("maxQty"), "9000"),
        min_notional=num(notional.get("minNotional") or (lims.get("cost") or {}).get("min"), "0"),
        max_notional=num(notional.get("maxNotional") or (lims.get("cost") or {}).get("max"), "9000000"),
        max_price=num(pf.get("maxPrice") or (lims.get("price") or {}).get("max"), "1000000"),
        maker_fee=num(m.get("maker"), "0.001"),
        taker_fee=num(m.get("taker"), "0.001"),
    )


class PaperVenue:
    """A running paper venue: the mirror localnet and its upstream feed."""

    def __init__(
        self, net: Any, feed: Any, mirror: Mirror, name: str, upstream: str, *, upstream_url: str | None = None
    ) -> None:
        self.net = net
        self.feed = feed
        self.mirror = mirror
        self.name = name
        self.upstream = upstream
        self.upstream_url = upstream_url
        self._last_trade: dict[str, int | None] = {}

    @property
    def stepped(self) -> bool:
        """True when the venue's clock moves only when stepped (it follows a stepped localnet by :meth:`sync`)."""
        return bool(self.net.config.stepped)

    def sync(self) -> int:
        """Catch a stepped paper venue up with the stepped localnet it mirrors; returns the venue's time.

        Reads the upstream's clock (``GET /_localnet/state``), its book (100 levels) and its trades
        since the last sync (REST, through the shared rate budget), hands them to the mirror as the
        feed would, and steps the venue's clock to the upstream's: the same upstream state always
        gives the same paper market, so a notebook that steps its localnet gets stable outputs.
        Trades keep the upstream's time (its stepped clock is the time here). A real-time venue
        follows its feed by itself: this returns its time and does nothing else.

        >>> pv = running_paper_venue("localnet"); market.step(60_000); pv.sync()   # doctest: +SKIP
        """
        if not self.stepped or self.upstream_url is None:
            return int(self.net.call(lambda v: v.clock.now_ms()))
        now = max(_upstream_state(self.upstream_url)["now_ms"], int(self.net.call(lambda v: v.clock.now_ms())))
        for sid, book in self.mirror.books.items():
            symbol = _unified(book.spec)
            bids, asks = self.feed.order_book(symbol)
            book.feed(bids, asks, ts_ms=now)
            last = self._last_trade.get(sid)
            newest = last
            for t in self.feed.recent_trades(symbol):
                if last is not None and t["id"] > last:
                    tape = self.mirror.sources[sid]
                    tape.feed(min(t["ts_ms"], now), t["price"], t["qty"], buyer_maker=t["buyer_maker"])
                newest = max(newest or 0, t["id"])
            self._last_trade[sid] = newest if newest is not None else 0
        return int(self.net.call(lambda v: _step_to(v, now)))

    @property
    def url(self) -> str:
        """URL of the paper venue (``http://127.0.0.1:PORT``)."""
        return str(self.net.url)

    def close(self) -> None:
        """Stop the feed, then the venue."""
        self.feed.close()
        self.net.stop()


def start_paper_venue(
    upstream: str,
    *,
    config: PaperConfig | None = None,
    state_dir: Path | None = None,
    upstream_url: str | None = None,
) -> PaperVenue:
    """Start a paper venue mirroring ``upstream`` (``"localnet"`` or a ccxt id such as ``"binance"``).

    Parameters
    ----------
    upstream
        Whose public market to mirror.
    config
        See :class:`PaperConfig`.
    state_dir
        The venue's SQLite state and keys file; ``None`` keeps it in memory.
    upstream_url
        For ``"localnet"``: the URL of the localnet to mirror (required).

    Examples
    --------
    >>> pv = start_paper_venue("localnet")                    # doctest: +SKIP
    >>> pv.net.client("trader").create_order("BTC/USDT", "market", "buy", 0.001)   # doctest: +SKIP
    >>> pv.close()                                            # doctest: +SKIP
    """
    import time

    from kit.localnet import LocalnetConfig, start
    from kit.localnet.config import AccountSpec, FaultConfig, KeySpec
    from kit.paper.feed import Feed

    cfg = config or PaperConfig()
    name = upstream.strip().lower()
    budget = None
    url = ""
    if name == "localnet":
        from kit.localnet.ccxt_client import connect

        if upstream_url is None:
            raise ConfigError(
                "a paper venue on localnet needs the URL of the localnet to mirror",
                hint="Pass upstream_url=net.url (a Session finds or starts localnet and passes it itself).",
            )
        upstream_name = "localnet"
        url = upstream_url

        def make() -> Any:
            return connect(url, pro=True, enableRateLimit=False)

        budget = _budget("binance", url)
    else:
        import ccxt.pro

        cls = getattr(ccxt.pro, name, None)
        if cls is None:
            raise ConfigError(
                f"paper trading on {upstream!r} needs ccxt.pro streams, which ccxt has not for it",
                hint="Use an exchange ccxt.pro supports (e.g. 'binance'), or 'localnet' offline.",
            )
        upstream_name = name

        def make() -> Any:
            return cls({"enableRateLimit": False})

        budget = _budget(name, str(cls().urls["api"].get("public") or name))
    feed = Feed(make, budget=budget)
    try:
        markets = feed.connect()
        wanted = cfg.symbols or tuple(
            s.strip()
            for s in os.environ.get("KIT_PAPER_SYMBOLS", ",".join(DEFAULT_PAPER_SYMBOLS)).split(",")
            if s.strip()
        )
        symbols = [s for s in wanted if s in markets]
        if not symbols:
            raise ConfigError(
                f"none of the paper symbols {list(wanted)} is listed on {upstream_name}",
                hint="Name listed symbols in KIT_PAPER_SYMBOLS (e.g. 'BTC/USDT,ETH/USDT') or PaperConfig(symbols=...).",
            )
        history = {markets[s]["id"]: feed.history(s, cfg.history_minutes) for s in symbols}
        specs = []
        for s in symbols:
            rows = history[markets[s]["id"]]
            last = D(str(rows[-1][4])) if rows else D("1")
            specs.append(spec_from_market(markets[s], fallback_price=last))
        mirror = Mirror(history, replenish_ms=cfg.replenish_ms, model=cfg.model())
        follow = cfg.stepped and cfg.follow and upstream_name == "localnet"
        up_now = int(_upstream_state(url)["now_ms"]) if follow else None
        for spec, s in zip(specs, symbols, strict=True):
            if follow:  # no streams: sync() pulls the upstream's state when the notebook steps it
                mirror.source(spec)
                mirror.book(spec).feed(*feed.order_book(s), ts_ms=up_now or 0)
            else:
                feed.start(s, mirror.book(spec), mirror.source(spec))
        deadline = time.monotonic() + cfg.first_book_s
        while not all(b.has_data for b in mirror.books.values()):
            if time.monotonic() > deadline:
                missing = [k for k, b in mirror.books.items() if not b.has_data]
                raise ConfigError(
                    f"the paper venue got no order book from {upstream_name} for {missing} "
                    f"within {cfg.first_book_s:.0f} s",
                    hint="Check the network (or that localnet runs); feed errors: "
                    + "; ".join(feed.stats.errors[-3:] or ["none"]),
                )
            time.sleep(0.05)
        start_ms = (up_now or cfg.start_ms or int(time.time() * 1000)) if cfg.stepped else None
        lcfg = LocalnetConfig(
            symbols=tuple(specs),
            accounts=(AccountSpec("main", dict(cfg.balances)),),
            keys=(
                KeySpec("trader", "main", spot_trading=True, env="KIT_LOCALNET"),
                KeySpec("reader", "main"),
            ),
            state_dir=state_dir,
            history_minutes=0,
            faults=FaultConfig(latency_ms=0.0 if cfg.stepped else cfg.latency_ms),
            stepped=cfg.stepped,
            start_ms=start_ms,
            mirror=mirror,
        )
        net = start(config=lcfg)
    except BaseException:
        feed.close()
        raise
    pv = PaperVenue(net, feed, mirror, f"paper-{upstream_name}", upstream_name, upstream_url=upstream_url)
    if follow:
        pv.sync()  # the first sync sets the trade marks: the upstream's past is in the candles already
    return pv


def _unified(spec: SymbolSpec) -> str:
    return f"{spec.base}/{spec.quote}"


def _step_to(venue: Any, now: int) -> int:
    t = venue.clock.set(now)
    venue.advance(t)
    return int(t)


def _upstream_state(url: str) -> dict[str, Any]:
    """A localnet's ``GET /_localnet/state`` (clock mode and time; loopback admin endpoint, no key)."""
    import json
    import urllib.request

    with urllib.request.urlopen(url.rstrip("/") + "/_localnet/state", timeout=10) as resp:  # noqa: S310 - loopback
        return dict(json.load(resp))


def _budget(exchange_id: str, host: str) -> Any:
    from kit.transport.limits import WeightBudget, budget_key, default_limit_per_minute, endpoint_weight

    wb = WeightBudget(
        budget_key(exchange_id, host, "api"), limit_per_minute=default_limit_per_minute(exchange_id, "api")
    )

    def spend(method: str, path: str, params: dict[str, Any]) -> None:
        wb.acquire(endpoint_weight(exchange_id, method, path, params))

    return spend


_VENUES: dict[str, PaperVenue] = {}
_LOCK = threading.Lock()


def paper_venue(upstream: str, *, upstream_url: str | None = None) -> tuple[str, Path | None, str]:
    """URL, keys file and journal name of this process's paper venue for ``upstream`` (started once).

    ``upstream_url`` is the localnet to mirror when ``upstream`` is ``"localnet"``.

    Its state is kept in ``$KIT_HOME/paper/<upstream>`` under a lock; when another process holds
    it, this one runs a private venue in a temporary folder under its own name.
    """
    key = upstream.strip().lower()
    with _LOCK:
        pv = _VENUES.get(key)
        if pv is None:
            from kit.safety.killswitch import kit_home

            state = kit_home() / "paper" / key
            state.mkdir(parents=True, exist_ok=True)
            lock = os.open(state / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
            suffix = ""
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(lock)
                state = Path(tempfile.mkdtemp(prefix="kit-paper-"))
                suffix = "-" + state.name.rsplit("-", 1)[-1][:8]
            cfg = None
            if (
                key == "localnet"
                and upstream_url is not None
                and _upstream_state(upstream_url).get("clock") == "stepped"
            ):
                cfg = PaperConfig(stepped=True, follow=True)  # a stepped localnet: follow its clock (sync())
            pv = start_paper_venue(key, config=cfg, state_dir=state, upstream_url=upstream_url)
            pv.name += suffix
            _VENUES[key] = pv
        return pv.url, pv.net.keys_file, pv.name


def use_paper_venue(pv: PaperVenue) -> None:
    """Make ``pv`` this process's paper venue for its upstream: paper Sessions started later trade on it.

    For a venue built with its own :class:`PaperConfig` (a stepped clock in a test or a notebook).
    A venue already running for that upstream is closed first.

    >>> use_paper_venue(start_paper_venue("localnet", upstream_url=net.url,
    ...                                   config=PaperConfig(stepped=True)))   # doctest: +SKIP
    """
    with _LOCK:
        old = _VENUES.get(pv.upstream)
        if old is not None and old is not pv:
            old.close()
        _VENUES[pv.upstream] = pv


def running_paper_venue(upstream: str) -> PaperVenue | None:
    """The paper venue for ``upstream`` this process started, if any (tests, the demo)."""
    return _VENUES.get(upstream.strip().lower())


def close_paper_venues() -> None:
    """Stop every paper venue this process started (tests; a Session never needs it)."""
    with _LOCK:
        for pv in _VENUES.values():
            pv.close()
        _VENUES.clear()
