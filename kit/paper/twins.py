"""Shadow twins: every testnet and live order simulated by the paper fill model on the same market data.

Two halves, so the twin is deterministic and can be recomputed:

- **Recording.** :class:`ShadowTwins` (attached to a Session, ``Session(..., twins=True)``) streams
  the public trades and book of the Session's own venue (the same endpoint: a testnet order is
  twinned on testnet data, a live order on live data) into a :class:`Tape`: JSON lines under
  ``$KIT_HOME/twins/<venue>/tape-YYYYMMDD.jsonl``, stamped with local receive time.
- **Simulation.** :func:`simulate_twins` replays the tape and the journal's order intents and
  cancel intents in time order through :class:`kit.engine.paperfill.PaperBook` (same time, same
  intent, same data) and pairs each twin with its real order's journaled outcome.

Examples
--------
>>> twins = ShadowTwins(session, symbols=["BTC/USDT"])      # doctest: +SKIP
>>> session.place("BTC/USDT", "buy", "0.001")               # doctest: +SKIP
>>> pairs = twins.pairs()                                   # doctest: +SKIP
>>> twins.close()                                           # doctest: +SKIP
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from kit.engine.paperfill import PaperBook, PaperFillModel, PaperOrder

#: Book levels per side a tape keeps (the depth a twin can walk).
TAPE_DEPTH = 20

#: A book whose best bid and ask did not change is written at most this often (ms): a busy
#: venue updates its book ten times a second, and the tape would grow by gigabytes a day.
TAPE_BOOK_EVERY_MS = 250


class Tape:
    """Market events of one venue as JSON lines (``t`` ms, ``k`` book|trade, ``s`` symbol, ...).

    Thread-safe appends; books are written only when they changed.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> tape = Tape(pathlib.Path(tempfile.mkdtemp()) / "tape.jsonl")
    >>> tape.book_sink("BTC/USDT").feed([(Decimal(1), Decimal(2))], [(Decimal(3), Decimal(4))], ts_ms=5)
    >>> tape.trade_sink("BTC/USDT").feed(6, Decimal(3), Decimal(1), buyer_maker=False)
    >>> tape.close()
    >>> [(e["k"], e["t"]) for e in Tape.read([tape.path])]
    [('book', 5), ('trade', 6)]
    >>> tape.close()
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._last_book: dict[str, Any] = {}
        self._last_book_ms: dict[str, int] = {}
        self._fh = path.open("a", encoding="utf-8")
        self.books_seen: dict[str, bool] = {}

    def write(self, row: dict[str, Any]) -> None:
        """Append one event."""
        line = json.dumps(row, separators=(",", ":"))
        with self._lock:
            if not self._fh.closed:
                self._fh.write(line + "\n")
                self._fh.flush()

    def book_sink(self, symbol: str) -> Any:
        """An object with ``feed(bids, asks, ts_ms)`` and ``has_data`` (what :class:`kit.paper.feed.Feed` calls)."""
        tape = self

        class _Book:
            @property
            def has_data(self) -> bool:
                return tape.books_seen.get(symbol, False)

            def feed(self, bids: list[Any], asks: list[Any], *, ts_ms: int) -> None:
                b = [[str(p), str(q)] for p, q in bids[:TAPE_DEPTH]]
                a = [[str(p), str(q)] for p, q in asks[:TAPE_DEPTH]]
                last = tape._last_book.get(symbol)
                if last == (b, a):
                    return
                same_top = last is not None and last[0][:1] == b[:1] and last[1][:1] == a[:1]
                if same_top and ts_ms - tape._last_book_ms.get(symbol, 0) < TAPE_BOOK_EVERY_MS:
                    return  # only the depth changed, and it was written less than 250 ms ago
                tape._last_book[symbol] = (b, a)
                tape._last_book_ms[symbol] = ts_ms
                tape.books_seen[symbol] = True
                tape.write({"t": ts_ms, "k": "book", "s": symbol, "b": b, "a": a})

            def gap(self) -> None:
                tape._last_book.pop(symbol, None)
                tape.write({"t": int(time.time() * 1000), "k": "gap", "s": symbol})

        return _Book()

    def trade_sink(self, symbol: str) -> Any:
        """An object with ``feed(ts_ms, price, qty, buyer_maker=)``."""
        tape = self

        class _Trades:
            def feed(self, ts_ms: int, price: Decimal, qty: Decimal, *, buyer_maker: bool) -> None:
                tape.write({"t": ts_ms, "k": "trade", "s": symbol, "p": str(price), "q": str(qty), "m": buyer_maker})

        return _Trades()

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._fh.close()

    @staticmethod
    def read(paths: Iterable[Path], *, since_ms: int = 0, until_ms: int | None = None) -> list[dict[str, Any]]:
        """Events of the given tape files in [since, until], in time order (stable)."""
        out: list[dict[str, Any]] = []
        for p in paths:
            if not p.exists():
                continue
            for line in p.read_text(encoding="utf-8").splitlines():
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut by a crash
                if row["t"] >= since_ms and (until_ms is None or row["t"] <= until_ms):
                    out.append(row)
        out.sort(key=lambda r: r["t"])
        return out


def tape_dir(venue: str) -> Path:
    """``$KIT_HOME/twins/<venue>``."""
    from kit.safety.killswitch import kit_home

    return kit_home() / "twins" / venue.replace("/", "_")


def tape_path(venue: str, ts_ms: int | None = None) -> Path:
    """The tape file of a venue for the UTC day of ``ts_ms`` (default today)."""
    day = pd.Timestamp(ts_ms if ts_ms is not None else time.time() * 1000, unit="ms", tz="UTC")
    return tape_dir(venue) / f"tape-{day:%Y%m%d}.jsonl"


class ShadowTwins:
    """Record the market a Session trades on, so each of its orders gets a paper twin.

    Parameters
    ----------
    session
        A testnet or live :class:`kit.session.Session` (paper orders are simulated already).
    symbols
        Symbols to record (default: the Session's caps allowlist, else every symbol it has
        journaled an intent for, else ``BTC/USDT``).
    model
        The fill model for the twins.
    wait_s
        How long to wait for the first book of every symbol.
    """

    def __init__(
        self,
        session: Any,
        *,
        symbols: Iterable[str] | None = None,
        model: PaperFillModel | None = None,
        wait_s: float = 15.0,
    ) -> None:
        from kit.paper.feed import Feed

        if session.stage.value not in ("testnet", "live_small", "live"):
            from kit.errors import StageError

            raise StageError(
                f"shadow twins are for testnet and live orders, not stage {session.stage.value}",
                hint="Paper orders are simulated already; open the Session in stage testnet or live to twin them.",
            )
        self.session = session
        self.venue = session.venue
        self.model = model or PaperFillModel()
        self.symbols = sorted(symbols or _default_symbols(session))
        self.tape = Tape(tape_path(self.venue))
        spec, url = session.spec, session.url

        cls = session.api.client_class  # the Session's own ccxt.pro class: same venue, same endpoint, no key

        def make() -> Any:
            if url:
                from kit.localnet.ccxt_client import connect

                return connect(url, pro=True, enableRateLimit=False)
            ex = cls({"enableRateLimit": False})
            if spec.sandbox:
                ex.set_sandbox_mode(True)
            return ex

        self.feed = Feed(make)
        try:
            markets = self.feed.connect()
            self.symbols = [s for s in self.symbols if s in markets]  # the venue may not list them all
            if not self.symbols:
                from kit.errors import ConfigError

                raise ConfigError(
                    f"none of the symbols to twin is listed on {self.venue}",
                    hint="Pass ShadowTwins(session, symbols=[...]) with symbols the venue lists.",
                )
            for s in self.symbols:
                prec = markets[s]["precision"]
                self.tape.write({"t": int(time.time() * 1000), "k": "rules", "s": s,
                                 "tick": str(prec["price"]), "step": str(prec["amount"])})  # fmt: skip
            for s in self.symbols:
                self.feed.start(s, self.tape.book_sink(s), self.tape.trade_sink(s))
            deadline = time.monotonic() + wait_s
            while not all(self.tape.books_seen.get(s) for s in self.symbols) and time.monotonic() < deadline:
                time.sleep(0.05)
        except BaseException:
            self.close()
            raise
        self.started_ms = int(time.time() * 1000)

    def pairs(self, *, since_ms: int | None = None, until_ms: int | None = None) -> pd.DataFrame:
        """Each real order of this Session's venue since the twins started, with its paper twin (see :func:`pair`)."""
        start = self.started_ms if since_ms is None else since_ms
        return pair(self.session.journal, self.venue, None, model=self.model, since_ms=start, until_ms=until_ms)

    def close(self) -> None:
        """Stop recording."""
        self.feed.close()
        self.tape.close()

    def __enter__(self) -> ShadowTwins:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _default_symbols(session: Any) -> list[str]:
    caps = getattr(getattr(session, "guard", None), "caps", None)
    if caps is not None and caps.symbols:
        return sorted(caps.symbols)
    return ["BTC/USDT"]


@dataclass(frozen=True)
class SymbolRules:
    """Tick and step of a symbol (what a twin needs from the market)."""

    tick: Decimal
    step: Decimal


def pair(
    journal: Any,
    venue: str,
    rules: dict[str, SymbolRules] | None,
    *,
    model: PaperFillModel | None = None,
    since_ms: int = 0,
    until_ms: int | None = None,
    tapes: Iterable[Path] | None = None,
) -> pd.DataFrame:
    """Real orders of ``venue`` from the journal, each paired with its paper twin.

    Columns: :data:`PAIR_COLUMNS`. ``rules`` (tick and step per symbol) default to what the tapes
    recorded. Times are the journal's: the intent's time is the decision time (journaled before the
    request), the first journaled fill's time (the exchange's clock) ends the real time to fill; a
    negative difference is the two clocks' offset, and counts as 0. Real fills count only once
    journaled (private streams, or ``Session.trades(symbol)``).
    """
    end = until_ms if until_ms is not None else int(time.time() * 1000)
    intents = _frame(journal, "intent", venue, since_ms, end)
    if intents.empty:
        return pd.DataFrame(columns=PAIR_COLUMNS)
    fills = _frame(journal, "fill", venue, since_ms, end + 86_400_000)
    twins = twin_orders(journal, venue, rules, model=model, since_ms=since_ms, until_ms=end, tapes=tapes)
    rows = []
    for _, it in intents.iterrows():
        cid = it["client_id"]
        tw = twins.get(cid)
        if tw is None:
            continue
        f = fills[fills["client_id"] == cid] if not fills.empty else fills
        qty = Decimal(str(it["amount"]))
        rf = sum((Decimal(str(a)) for a in f["amount"]), Decimal(0)) if not f.empty else Decimal(0)
        rc = sum((Decimal(str(a)) * Decimal(str(p)) for a, p in zip(f["amount"], f["price"], strict=True)), Decimal(0))
        order, spread_bps, tick_bps, took = tw
        rows.append(
            {
                "client_id": cid,
                "symbol": it["symbol"],
                "side": it["side"],
                "bucket": _bucket(it, took),
                "ts_ms": int(it["ts_ms"]),
                "qty": float(qty),
                "real_filled": float(rf),
                "real_avg": float(rc / rf) if rf else None,
                "real_ttf_ms": float(max(0, int(f["ts_ms"].min()) - int(it["ts_ms"]))) if not f.empty else None,
                "paper_filled": float(order.filled),
                "paper_avg": float(order.avg_price) if order.avg_price is not None else None,
                "paper_ttf_ms": float(order.first_fill_ms - order.sent_ms) if order.first_fill_ms is not None else None,
                "paper_status": order.status,
                "spread_bps": spread_bps,
                "tick_bps": tick_bps,
            }
        )
    return pd.DataFrame(rows, columns=PAIR_COLUMNS)


def twin_orders(
    journal: Any,
    venue: str,
    rules: dict[str, SymbolRules] | None = None,
    *,
    model: PaperFillModel | None = None,
    since_ms: int = 0,
    until_ms: int | None = None,
    tapes: Iterable[Path] | None = None,
) -> dict[str, tuple[PaperOrder, float | None, float | None, bool]]:
    """The twins of ``venue``'s journaled orders, simulated on its tapes (:func:`simulate_twins`'s result).

    What :func:`pair` pairs with the real orders; the twin's :class:`PaperOrder` keeps its whole
    state (``f0``: where it started in the queue, ``sent_ms``, ``active_ms``, fills).

    >>> twin_orders(session.journal, session.venue)["my-client-id"][0].f0   # doctest: +SKIP
    """
    end = until_ms if until_ms is not None else int(time.time() * 1000)
    intents = _frame(journal, "intent", venue, since_ms, end)
    if intents.empty:
        return {}
    paths = list(tapes) if tapes is not None else sorted(tape_dir(venue).glob("tape-*.jsonl"))
    events = Tape.read(paths, since_ms=0, until_ms=end + 60_000)
    if rules is None:
        rules = {e["s"]: SymbolRules(Decimal(e["tick"]), Decimal(e["step"])) for e in events if e["k"] == "rules"}
    events = [e for e in events if e["k"] != "rules" and e["t"] >= since_ms - 60_000]
    cancels = _frame(journal, "cancel_intent", venue, since_ms, end + 86_400_000)
    fills = _frame(journal, "fill", venue, since_ms, end + 86_400_000)
    return simulate_twins(intents, cancels, events, rules, model=model or PaperFillModel(), until_ms=end, fills=fills)


PAIR_COLUMNS = [
    "client_id", "symbol", "side", "bucket", "ts_ms", "qty", "real_filled", "real_avg", "real_ttf_ms",
    "paper_filled", "paper_avg", "paper_ttf_ms", "paper_status", "spread_bps", "tick_bps",
]  # fmt: skip


def _frame(journal: Any, kind: str, venue: str, since_ms: int, until_ms: int) -> pd.DataFrame:
    f = journal.frame(kind)
    if f.empty:
        return f
    f = f[(f["venue"] == venue) & (f["ts_ms"] >= since_ms) & (f["ts_ms"] <= until_ms)]
    return f.reset_index(drop=True)


def _bucket(intent: Any, took: bool) -> str:
    """The drift report's order-type bucket (spec (d)); stops, take-profits and trailing ones are ``stop``."""
    if intent["type"] in STOP_TYPES or intent["type"] in TRAILING_TYPES:
        return "stop"
    if intent["type"] == "market":
        return "market"
    if bool(intent.get("post_only")):
        return "post_only"
    if str(intent.get("time_in_force") or "GTC") in ("IOC", "FOK"):
        return "ioc_fok"
    return "marketable_limit" if took else "passive_limit"


def simulate_twins(
    intents: pd.DataFrame,
    cancels: pd.DataFrame,
    events: list[dict[str, Any]],
    rules: dict[str, SymbolRules],
    *,
    model: PaperFillModel,
    until_ms: int,
    fills: pd.DataFrame | None = None,
) -> dict[str, tuple[PaperOrder, float | None, float | None, bool]]:
    """Run every intent's twin through a :class:`PaperBook` per symbol, in time order.

    Returns client id -> (twin order, spread at decision in bps, one tick in bps, whether it was
    marketable at decision time). Market and limit intents are twinned at once. Stop and
    take-profit intents (market or limit) are armed, and triggered by the first taped print at or
    through their trigger price after the intent (a stop buys when the price rises to it and sells
    when it falls to it, a take-profit the other way): the twin's own trigger on the same prints,
    not the real order's trigger time (the journal does not hold it); its market or limit order then
    goes through the model like any other (latency included). A stop cancelled before its trigger
    is a twin that never traded. Trailing stops and take-profits are armed the same way and
    triggered by the engine's own trailing rule on the taped prints (:class:`TrailingTriggers`:
    activation at the stop price, the best price since, ``trailing_bps`` from it).

    A twin does not queue behind its own real order (spec (c), twins): while a real GTC limit rests,
    its remaining quantity (the intent's amount less the real fills journaled so far, ``fills``)
    is taken out of the displayed size at its price (:meth:`PaperBook.set_own`), from the intent's
    time plus the model's latency (when the real order is on the book, as far as the tape can show
    it) until its cancel intent or its last fill.
    """
    books: dict[str, PaperBook] = {}
    timeline: list[tuple[int, int, str, Any]] = []
    for e in events:
        timeline.append((int(e["t"]), 0, e["k"], e))
    timeline += _own_events(intents, cancels, fills, latency_ms=model.latency_ms)
    own_left: dict[str, Decimal] = {}  # client id -> the real order's resting quantity
    for _, it in intents.iterrows():
        if it["type"] in ("market", "limit", *STOP_TYPES, *TRAILING_TYPES) and it["symbol"] in rules:
            timeline.append((int(it["ts_ms"]), 1, "intent", it))
    armed: dict[str, dict[str, Any]] = {}  # client id -> the stop intent waiting for its trigger
    trailing: dict[str, TrailingTriggers] = {}  # symbol -> its trailing stops' triggers (the engine's)
    for _, c in cancels.iterrows():
        timeline.append((int(c["ts_ms"]), 2, "cancel", c))
    timeline.sort(key=lambda x: (x[0], x[1]))
    out: dict[str, tuple[PaperOrder, float | None, float | None, bool]] = {}
    for ts, _, kind, row in timeline:
        sym = row["s"] if kind in ("book", "trade", "gap") else row["symbol"]
        r = rules.get(sym)
        if r is None:
            continue
        pb = books.setdefault(sym, PaperBook(tick=r.tick, step=r.step, model=model))
        if kind == "own":
            pb.advance(ts - 1)  # twins due before now arrive with the real order's size as it was
            cid, left = row["client_id"], row["left"]
            if left > 0:
                own_left[cid] = left
            else:
                own_left.pop(cid, None)
            side, price = row["side"], row["price"]
            same = [c for c, i in row["peers"].items() if i == (sym, side, price)]
            pb.set_own(side, price, sum((own_left.get(c, Decimal(0)) for c in same), Decimal(0)))
        elif kind == "book":
            pb.on_book(ts, bids=[(Decimal(p), Decimal(q)) for p, q in row["b"]],
                       asks=[(Decimal(p), Decimal(q)) for p, q in row["a"]])  # fmt: skip
        elif kind == "trade":
            px = Decimal(row["p"])
            pb.on_trade(ts, px, Decimal(row["q"]), buyer_maker=bool(row["m"]))
            due = [
                (c, i) for c, i in armed.items() if i["symbol"] == sym and i["type"] in STOP_TYPES and _triggered(i, px)
            ]
            trails = trailing.get(sym)
            if trails is not None:
                due += [(c, armed[c]) for c in trails.on_print(ts, px, Decimal(row["q"]), buyer_maker=bool(row["m"]))]
            for cid, stop in due:
                del armed[cid]
                o = _twin_order(stop, limit=str(stop["type"]).endswith("_limit"))
                took = _would_take(pb, o)
                pb.submit(o, ts_ms=ts)
                out[cid] = (o, *_spread(pb, r.tick), took)
        elif kind == "gap":
            pb.on_gap()
        elif kind == "intent" and row["type"] in (*STOP_TYPES, *TRAILING_TYPES):
            cid = str(row["client_id"])
            armed[cid] = dict(row)
            out[cid] = (_twin_order(row, limit=False), *_spread(pb, r.tick), False)  # untriggered so far
            if row["type"] in TRAILING_TYPES:
                why = trailing.setdefault(sym, TrailingTriggers(sym, r)).arm(cid, row, ts_ms=ts)
                if why:  # the engine refuses it (a trailing delta out of range): the real venue did too
                    del armed[cid]
                    out[cid][0].status, out[cid][0].reason = "rejected", why
        elif kind == "intent":
            cid = str(row["client_id"])
            price = row.get("price")
            o = PaperOrder(
                cid,
                str(row["side"]),
                Decimal(str(row["amount"])),
                price=Decimal(str(price)) if price not in (None, "") and row["type"] == "limit" else None,
                tif=str(row.get("time_in_force") or "GTC"),
                post_only=bool(row.get("post_only")),
            )
            spread_bps = tick_bps = None
            if pb.bids and pb.asks:
                bid, ask = max(pb.bids), min(pb.asks)
                mid = (bid + ask) / 2
                spread_bps, tick_bps = float((ask - bid) / mid * 10_000), float(r.tick / mid * 10_000)
            took = _would_take(pb, o)
            pb.submit(o, ts_ms=ts)
            out[cid] = (o, spread_bps, tick_bps, took)
        elif kind == "cancel":
            cid = str(row["client_id"])
            if armed.pop(cid, None) is not None:
                out[cid][0].status = "canceled"  # cancelled before its trigger: it never traded
                if sym in trailing:
                    trailing[sym].disarm(cid, ts_ms=ts)
            elif cid in pb.orders:
                pb.cancel(cid, ts_ms=ts)
    for pb in books.values():
        pb.advance(until_ms)
    return out


def _own_events(
    intents: pd.DataFrame, cancels: pd.DataFrame, fills: pd.DataFrame | None, *, latency_ms: int
) -> list[tuple[int, int, str, Any]]:
    """Timeline rows for the real orders' resting sizes: ``(t, -1, "own", row)``, before market data at ``t``.

    ``row``: symbol, client id, side, price, ``left`` (the real order's quantity still resting, 0 once
    it does not rest) and ``peers`` (client id -> (symbol, side, price) of every resting real order,
    so orders at one price add up).
    """
    peers: dict[str, tuple[str, str, Decimal]] = {}
    out: list[tuple[int, int, str, Any]] = []
    cancel_at = {str(c["client_id"]): int(c["ts_ms"]) for _, c in cancels.iterrows()} if not cancels.empty else {}
    for _, it in intents.iterrows():
        price = it.get("price")
        if it["type"] != "limit" or price in (None, "") or str(it.get("time_in_force") or "GTC") in ("IOC", "FOK"):
            continue
        cid, qty, px = str(it["client_id"]), Decimal(str(it["amount"])), Decimal(str(price))
        peers[cid] = (str(it["symbol"]), str(it["side"]), px)
        done: list[tuple[int, Decimal]] = []
        if fills is not None and not fills.empty:
            f = fills[fills["client_id"] == cid].sort_values("ts_ms")
            done = [(int(t), Decimal(str(a))) for t, a in zip(f["ts_ms"], f["amount"], strict=True)]
        start = int(it["ts_ms"]) + latency_ms
        end = cancel_at.get(cid)

        def left(at: int, qty: Decimal = qty, done: list[tuple[int, Decimal]] = done) -> Decimal:
            return max(Decimal(0), qty - sum((a for t, a in done if t <= at), Decimal(0)))

        row = {"symbol": str(it["symbol"]), "client_id": cid, "side": str(it["side"]), "price": px, "peers": peers}
        times = sorted({start, *(t for t, _ in done if t > start)})
        for t in times:
            if end is not None and t >= end:
                break
            out.append((t, -1, "own", {**row, "left": left(t)}))
        if end is not None and end >= start:
            out.append((end, -1, "own", {**row, "left": Decimal(0)}))
    return out


#: Journal order types twinned as triggered orders.
STOP_TYPES = ("stop_market", "stop_limit", "take_profit_market", "take_profit_limit")
#: Trailing types, triggered by the engine's own trailing rule (:class:`TrailingTriggers`).
TRAILING_TYPES = ("trailing_stop_market", "trailing_stop_limit", "trailing_take_profit_market",
                  "trailing_take_profit_limit")  # fmt: skip


class TrailingTriggers:
    """When the trailing stops of one symbol trigger on the taped prints: the engine's trailing rule, not a copy.

    Each armed intent is placed in a private :class:`kit.engine.Engine` (one account, ample funds,
    no book) fed the tape's prints; its ``TRIGGERED`` event is the twin's trigger. So activation
    (the stop price reached in the Binance family's direction), the best price since activation,
    and the trigger ``trailing_bps`` from it, rounded to the tick against the trader, are exactly
    what the engine and localnet do (``kit.engine.matching._trigger_pos``, Binance's trailing-stop
    FAQ scenarios in ``tests/engine/test_trailing_faq.py``).

    Examples
    --------
    >>> tt = TrailingTriggers("BTC/USDT", SymbolRules(Decimal("0.01"), Decimal("0.001")))
    >>> tt.arm("t1", {"side": "sell", "type": "trailing_stop_market", "amount": "1", "trailing_bps": 100}, ts_ms=0)
    ''
    >>> [tt.on_print(t, Decimal(p), Decimal(1), buyer_maker=False) for t, p in [(1, "100"), (2, "110"), (3, "108.9")]]
    [[], [], ['t1']]
    """

    def __init__(self, symbol: str, rules: SymbolRules) -> None:
        from kit.engine import Engine, Market

        base, quote = symbol.split("/")
        self.symbol = symbol
        self.engine = Engine([Market(symbol, base, quote, tick_size=rules.tick, step_size=rules.step)])
        self.engine.open_account("twins", {base: Decimal(10) ** 12, quote: Decimal(10) ** 18})
        self._ids: dict[int, str] = {}  # engine order id -> client id
        self._by_cid: dict[str, int] = {}

    def arm(self, cid: str, intent: Any, *, ts_ms: int) -> str:
        """Track the trailing ``intent`` from ``ts_ms``; returns the engine's refusal ('' when armed)."""
        from kit.engine import EventKind
        from kit.engine.order import OrderSpec
        from kit.errors import KitError

        trigger, price = intent.get("trigger_price"), intent.get("price")
        limit = str(intent["type"]).endswith("_limit")
        try:
            req = OrderSpec.parse(
                self.symbol,
                str(intent["side"]),
                str(intent["amount"]),
                type=str(intent["type"]),
                price=str(price) if limit and price not in (None, "") else None,
                trigger_price=str(trigger) if trigger not in (None, "") and not _nan(trigger) else None,
                trailing_bps=int(intent["trailing_bps"]),
            ).to_request()
        except KitError as exc:
            return str(exc)
        ev = self.engine.submit("twins", req, ts_ms=ts_ms)
        if not ev or ev[0].kind is EventKind.REJECTED or ev[0].order is None:
            return ev[0].reason if ev else "refused"
        self._ids[ev[0].order.id] = cid
        self._by_cid[cid] = ev[0].order.id
        return ""

    def disarm(self, cid: str, *, ts_ms: int) -> None:
        """The real order was cancelled before its trigger: stop tracking it."""
        oid = self._by_cid.pop(cid, None)
        if oid is not None:
            self._ids.pop(oid, None)
            self.engine.cancel("twins", order_id=oid, ts_ms=ts_ms)

    def on_print(self, ts_ms: int, price: Decimal, qty: Decimal, *, buyer_maker: bool) -> list[str]:
        """A taped print; returns the client ids of the trailing stops it triggers."""
        from kit.engine import EventKind, Side, Trade

        if not self._ids:
            return []
        out = []
        side = Side.SELL if buyer_maker else Side.BUY
        for e in self.engine.on_trade(self.symbol, Trade(ts_ms, price, qty, side)):
            if e.kind is EventKind.TRIGGERED and e.order is not None and e.order.id in self._ids:
                cid = self._ids.pop(e.order.id)
                self._by_cid.pop(cid, None)
                out.append(cid)
                self.engine.cancel("twins", order_id=e.order.id, ts_ms=ts_ms)  # its order is the twin's, in the model
        return out


def _nan(x: Any) -> bool:
    return isinstance(x, float) and x != x


def _triggered(intent: dict[str, Any], price: Decimal) -> bool:
    """True when a print at ``price`` reaches the stop or take-profit trigger of ``intent``."""
    trigger = Decimal(str(intent["trigger_price"]))
    rising = (intent["side"] == "buy") == str(intent["type"]).startswith("stop")  # stop buy / take-profit sell
    return price >= trigger if rising else price <= trigger


def _twin_order(intent: Any, *, limit: bool) -> PaperOrder:
    price = intent.get("price")
    return PaperOrder(
        str(intent["client_id"]),
        str(intent["side"]),
        Decimal(str(intent["amount"])),
        price=Decimal(str(price)) if limit and price not in (None, "") else None,
        tif=str(intent.get("time_in_force") or "GTC"),
    )


def _spread(pb: PaperBook, tick: Decimal) -> tuple[float | None, float | None]:
    if not (pb.bids and pb.asks):
        return None, None
    bid, ask = max(pb.bids), min(pb.asks)
    mid = (bid + ask) / 2
    return float((ask - bid) / mid * 10_000), float(tick / mid * 10_000)


def _would_take(pb: PaperBook, o: PaperOrder) -> bool:
    if o.price is None:
        return True
    if o.buy:
        return bool(pb.asks) and min(pb.asks) <= o.price
    return bool(pb.bids) and max(pb.bids) >= o.price
