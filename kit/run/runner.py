"""The runner: candle closes -> strategy -> orders, unattended, on any stage.

One :class:`Runner` drives one strategy over one or more symbols of one Session. It uses only
the Session's public API (candles, place, cancel, open orders, trades, balances, journal), so it
runs unchanged on paper, testnet, live_small and live.

The loop (:meth:`Runner.poll_once`):

1. the kill switch: engaged -> this run's working orders are cancelled, the run stops (``killed``);
2. per symbol, the closed candles since the last one processed, from the exchange's klines
   (the candle still forming is never shown). A drop (missed polls, an outage) is backfilled in
   the same request, or a wider one, before the strategy sees the next candle; a candle the
   exchange itself does not have is journaled as a gap (kind ``"run_gap"``);
3. fills of this run's resting orders are journaled (so the position is right), then the
   strategy's ``next()`` runs for each new candle in order. Only the newest candle's decisions are
   sent; older ones (catch-up after downtime) are journaled as stale, never sent late;
4. the heartbeat file ``$KIT_HOME/runs/<name>.json`` is rewritten (state, last candle, counts).

Before the first candle it reconciles (:func:`kit.ops.reconcile.reconcile`), loads ``lookback``
candles as history (``next()`` is not called on them), and rebuilds the run's decisions from the
journal (:class:`kit.run.broker.SessionBroker`): after a crash nothing is sent twice.

A strategy that raises stops trading at once: its orders are cancelled (``on_error="cancel"``,
the default) or left working (``"keep"``), one ``strategy_error`` alert goes out, the run ends
``failed``; it is never called again. Read failures degrade the Session as usual: the runner
alerts (``run_data``) and keeps polling with backoff until the exchange answers again.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import logging
import os
import re
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from kit.errors import ConfigError, KillSwitchEngaged, KitError, TransientError
from kit.ops.alerts import AlertConfig, Alerter, Rule, with_rules
from kit.run.broker import SessionBroker
from kit.safety.killswitch import kit_home
from kit.strategy.base import Strategy
from kit.strategy.feed import Feed

if TYPE_CHECKING:
    from kit.session.core import Session

__all__ = ["STATES", "Runner", "heartbeats", "start"]

log = logging.getLogger("kit.run")

#: What a run can be doing. The last four are final.
STATES = ("starting", "running", "degraded", "stopped", "finished", "failed", "killed")
_FINAL = ("stopped", "finished", "failed", "killed")
#: Decisions each strategy of a forward run keeps in memory (``strategy.decisions``); the journal has all.
DECISIONS_KEPT = 500
#: Seconds before a predicted close at which the runner refreshes the clock and the free balance.
PREWARM_S = 2.0
_UNITS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


def timeframe_ms(timeframe: str) -> int:
    """``"1m"`` -> 60000 (minutes, hours, days, weeks)."""
    m = re.fullmatch(r"(\d+)([mhdw])", timeframe)
    if not m or int(m.group(1)) <= 0:
        raise ConfigError(f"timeframe {timeframe!r} is not supported by the runner",
                          hint="Use a number and a unit among m, h, d, w, e.g. '1m', '15m', '1h'.")  # fmt: skip
    return int(m.group(1)) * _UNITS[m.group(2)]


#: One candle as the runner handles it: ``(open time ms, open, high, low, close, volume)``.
Row = tuple[int, float, float, float, float, float]


def _clean_rows(ohlcv: Iterable[Sequence[Any]]) -> list[Row]:
    """Ccxt's OHLCV rows as plain tuples; a row with a missing or NaN value is left out.

    At a close the runner needs two or three candles, as numbers: a DataFrame per symbol per close
    cost more than the strategy itself (``benchmarks/README.md``, #14 latency work).

    >>> _clean_rows([[60_000, 1, 2, 0.5, 1.5, 10], [120_000, None, 2, 1, 1, 0], [180_000, 1, 1, 1, float("nan"), 1]])
    [(60000, 1.0, 2.0, 0.5, 1.5, 10.0)]
    """
    out: list[Row] = []
    for r in ohlcv:
        if len(r) < 6 or any(v is None for v in r[:6]):
            continue
        o, h, lo, c, v = float(r[1]), float(r[2]), float(r[3]), float(r[4]), float(r[5])
        if o != o or h != h or lo != lo or c != c or v != v:  # NaN
            continue
        out.append((int(r[0]), o, h, lo, c, v))
    return out


def _to_ms(when: Any) -> int:
    t = pd.Timestamp(when)
    return int((t.tz_localize("UTC") if t.tzinfo is None else t).value // 1_000_000)


def _slug(name: str) -> str:
    import hashlib

    clean = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:48].strip("_") or "run"
    return f"{clean}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def strategy_ref(cls: type) -> str:
    """How ``kit run`` (:func:`kit.strategy.load_strategy`) finds ``cls`` again: ``file.py:Name`` or ``module:Name``.

    >>> from kit.strategy.examples import SmaCross
    >>> strategy_ref(SmaCross)
    'kit.strategy.examples:SmaCross'
    """
    module = sys.modules.get(cls.__module__)
    path = getattr(module, "__file__", None)
    if cls.__module__.startswith("kit_strategy_") and path:  # loaded from a file by load_strategy
        return f"{path}:{cls.__qualname__}"
    return f"{cls.__module__}:{cls.__qualname__}"


def runs_dir() -> Path:
    """Where heartbeats live: ``$KIT_HOME/runs``."""
    return kit_home() / "runs"


def heartbeats(directory: str | Path | None = None, *, stale_after_s: float = 180.0) -> list[dict[str, Any]]:
    """Every run's last heartbeat (newest first), each with ``age_s`` and ``stale`` (no beat lately).

    >>> heartbeats("/nonexistent")
    []
    """
    d = Path(directory) if directory is not None else runs_dir()
    out = []
    now = time.time()
    for p in sorted(d.glob("*.json")) if d.is_dir() else []:
        try:
            hb = json.loads(p.read_text())
        except (OSError, ValueError):
            continue
        hb["age_s"] = round(now - hb.get("updated_ms", 0) / 1000, 1)
        hb["stale"] = hb.get("state") not in _FINAL and hb["age_s"] > stale_after_s
        out.append(hb)
    return sorted(out, key=lambda h: -h.get("updated_ms", 0))


class Runner:
    """Run a strategy forward on a Session (see the module docstring).

    Parameters
    ----------
    session:
        An open Session on any trading stage.
    strategy:
        A :class:`~kit.strategy.Strategy` subclass or instance (one fresh instance per symbol,
        with the same parameters).
    symbols:
        Symbols to trade (default: ``strategy.symbols`` if it has them, else ``["BTC/USDT"]``).
    name:
        The run's name (decision ids and the heartbeat derive from it; a restart with the same name
        resumes). Default: the strategy's repr with the venue and stage.
    until:
        Stop after the candle that closes at or after this time (anything pandas reads as a time).
    on_error:
        ``"cancel"`` (default) or ``"keep"``: what happens to this run's working orders when the
        strategy raises.
    poll_s:
        How often to look for a new candle when the close time cannot be predicted (a stepped
        clock), and the retry pace while the exchange fails.
    fast_poll_s:
        How often to look right after a predicted close, until the candle shows.
    reconcile:
        Reconcile the journal with the exchange before the first candle.
    schedule:
        ``"auto"``: on a market that runs on the wall clock, sleep until the next close and take
        the last candle as closed once its close time has passed (as Binance's kline is final);
        otherwise poll every ``poll_s``. ``"poll"``: always poll every ``poll_s``, and a candle
        is closed only once the next one shows (stepped or replayed clocks, tests).
    alerter:
        Where alerts go (default: one from the environment, on the Session's journal).
    batch:
        ``True`` (default): at each close read the symbols' candles together, let every strategy
        decide, journal the decisions and the orders' intents in one transaction, then send the
        orders together (:meth:`kit.session.Session.prepare_many`, :meth:`~kit.session.Session.send_prepared`).
        ``False``: one symbol after the other, each order
        sent as soon as it is decided (slower with many symbols; ``benchmarks/bench_runner.py``
        compares the two).

    Examples
    --------
    >>> from kit.strategy.examples import SmaCross       # doctest: +SKIP
    >>> r = Runner(kit.Session("localnet"), SmaCross(fast=5), ["BTC/USDT"]).start()   # doctest: +SKIP
    >>> r.status()["state"], r.decisions().tail()         # doctest: +SKIP
    >>> r.stop()                                          # doctest: +SKIP
    """

    def __init__(
        self,
        session: Session,
        strategy: Strategy | type[Strategy],
        symbols: Iterable[str] | None = None,
        *,
        name: str | None = None,
        until: Any = None,
        on_error: str = "cancel",
        poll_s: float = 1.0,
        fast_poll_s: float = 0.02,
        reconcile: bool = True,
        alerter: Alerter | None = None,
        schedule: str = "auto",
        batch: bool = True,
    ) -> None:
        if isinstance(strategy, type):
            if not issubclass(strategy, Strategy):
                raise ConfigError(f"{strategy.__name__} is not a kit.strategy.Strategy",
                                  hint="Subclass kit.strategy.Strategy and define next(self).")  # fmt: skip
            strategy = strategy()
        if not isinstance(strategy, Strategy):
            raise ConfigError(f"{strategy!r} is not a kit.strategy.Strategy",
                              hint="Pass a Strategy subclass or instance.")  # fmt: skip
        if schedule not in ("auto", "poll"):
            raise ConfigError(
                f"schedule={schedule!r}", hint="Use 'auto' (wake at each close) or 'poll' (every poll_s)."
            )
        if on_error not in ("cancel", "keep"):
            raise ConfigError(f"on_error={on_error!r}", hint="Use 'cancel' or 'keep'.")
        if not session.stage.allows_orders:
            raise ConfigError(f"a {session.stage.value} session cannot place orders",
                              hint="Run on a stage that trades: paper, testnet, live_small or live.")  # fmt: skip
        syms = list(symbols) if symbols is not None else list(getattr(strategy, "symbols", None) or ["BTC/USDT"])
        unknown = [s for s in syms if session.market(s) is None]
        if not syms or unknown:
            raise ConfigError(f"unknown symbols {unknown} on {session.venue}" if unknown else "no symbols given",
                              hint="Give symbols the exchange lists, e.g. --symbols BTC/USDT ETH/USDT.")  # fmt: skip
        self.session = session
        self.template = strategy
        self.symbols = syms
        self.timeframe = strategy.timeframe
        self.interval_ms = timeframe_ms(self.timeframe)
        self.name = name or f"{strategy.default_run_name()}@{session.venue}/{session.stage.value}"
        self.until_ms = _to_ms(until) if until is not None else None
        self.on_error = on_error
        self.poll_s = poll_s
        self.fast_poll_s = fast_poll_s
        self.schedule = schedule
        self.batch = batch
        self.do_reconcile = reconcile
        cfg = with_rules(AlertConfig.from_env(), strategy_error=Rule(after_s=0), run_data=Rule(after_s=60.0))
        self.alerter = alerter or Alerter(cfg, journal=session.journal, venue=session.venue, account=session.account)
        self.broker = SessionBroker(session, self.name, self.interval_ms)
        self.strategies: dict[str, Strategy] = {}
        self.feeds: dict[str, Feed] = {}
        self.last_ms: dict[str, int] = {}
        self.state = "starting"
        self.reason = ""
        self.error: str | None = None
        self.candles_seen = 0
        self.gaps = 0
        self.started_ms = int(time.time() * 1000)
        self.heartbeat_path = runs_dir() / f"{_slug(self.name)}.json"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failures = 0
        self._prepared = False
        self._forming_ms: int | None = None
        self._live_from: dict[str, int] = {}
        self._warm_from: dict[str, int] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._close_predicted = False

    # -- lifecycle ---------------------------------------------------------------------------------------
    def _j(self, kind: str, **fields: Any) -> int:
        s = self.session
        return s.journal.append(kind, venue=s.venue, account=s.account, stage=s.stage.value, run=self.name, **fields)

    def prepare(self) -> None:
        """Reconcile, load history and the run's journaled decisions (done once, before the first poll)."""
        if self._prepared:
            return
        s = self.session
        resumed = self._resume_points()
        summary = ""
        if self.do_reconcile:
            from kit.ops.reconcile import reconcile

            summary = reconcile(s, symbols=self.symbols).summary()
        for sym in self.symbols:
            st = type(self.template)(**self.template.params)
            feed = Feed(keep=max(st.lookback, 1) * 2)
            st.attach(sym, feed, self.broker, run=self.name)
            self.strategies[sym], self.feeds[sym] = st, feed
            closed = self._closed(sym, limit=min(max(st.lookback, 1), 999) + 1)
            upto = resumed.get(sym)
            for row in closed if upto is None else [r for r in closed if r[0] <= upto]:
                feed.append(*row)
            self.last_ms[sym] = upto if upto is not None else feed.last_ms
            self._live_from[sym] = self.last_ms[sym] + self.interval_ms
            self._warm_from[sym] = int(feed.ts[0]) if len(feed) else self._live_from[sym]
        strat = self.template
        self._j("run", state="resumed" if resumed else "started", strategy=type(strat).__name__,
                strategy_ref=strategy_ref(type(strat)),
                params={k: str(v) for k, v in strat.params.items()}, symbols=self.symbols, timeframe=self.timeframe,
                pid=os.getpid(), reconcile=summary[:500], decisions_known=self.broker.decided,
                warm_from_ms=self._warm_from, live_from_ms=self._live_from, interval_ms=self.interval_ms)  # fmt: skip
        self.state = "running"
        self._prepared = True
        if len(self.symbols) > 1:  # fill sweeps wait on the network: one thread per symbol (at most 16) overlaps them
            self._pool = ThreadPoolExecutor(min(len(self.symbols), 16), thread_name_prefix="kit-run-sync")
        self._beat()

    def _resume_points(self) -> dict[str, int]:
        try:
            hb = json.loads(self.heartbeat_path.read_text())
        except (OSError, ValueError):
            return {}
        if hb.get("name") != self.name or hb.get("venue") != self.session.venue:
            return {}
        return {k: int(v) for k, v in (hb.get("last_candle_ms") or {}).items() if k in self.symbols}

    def start(self) -> Runner:
        """Run in a daemon thread (a notebook's handle); returns self."""
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self.run, name=f"kit-run-{self.name[:20]}", daemon=True)
            self._thread.start()
        return self

    def request_stop(self) -> None:
        """Ask the loop to end after the current candle, without waiting (safe in a signal handler)."""
        self._stop.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the loop to end after the current candle; wait for it (orders are left as they are)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        if self.state not in _FINAL:
            self._finish("stopped", "stopped by the user")

    def wait(self, timeout: float | None = None) -> str:
        """Wait for the run to end; returns its state."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.state

    def run(self) -> str:
        """The blocking loop (``kit run`` calls this); returns the final state."""
        try:
            self.prepare()
            while not self._stop.is_set() and self.state not in _FINAL:
                self.poll_once()
                if self.state in _FINAL:
                    break
                wait = self._sleep_s()
                if self._close_predicted and self.batch and wait > PREWARM_S + 0.5:
                    if self._stop.wait(wait - PREWARM_S):
                        break
                    self._prewarm()
                    wait = self._sleep_s()
                self._stop.wait(wait)
        except KitError as exc:
            self._finish("failed", f"{type(exc).__name__}: {exc}")
        if self.state not in _FINAL:
            self._finish("stopped", "stopped")
        return self.state

    def _finish(self, state: str, reason: str) -> None:
        self.state, self.reason = state, reason
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None
        with contextlib.suppress(KitError):
            self._j("run", state=state, reason=reason[:500], decisions=self.broker.decided, sent=self.broker.sent,
                    last_candle_ms=dict(self.last_ms))  # fmt: skip
        self._beat()

    # -- one poll ------------------------------------------------------------------------------------------
    def poll_once(self) -> int:
        """Check the kill switch, process every new closed candle of every symbol; returns how many.

        The symbols' candles are read together (one hand-off to the Session's loop); every strategy
        then decides on its new candles, the decisions and the orders' checks and intents are
        journaled in one transaction (:meth:`kit.run.broker.SessionBroker.prepare`), and once it
        committed the orders of the close are sent together (:meth:`kit.run.broker.SessionBroker.flush`).
        """
        if not self._prepared:
            self.prepare()
        if self.state in _FINAL:
            return 0
        reason = self.session.kill_switch.engaged()
        if reason is not None:
            self._kill(reason)
            return 0
        try:
            fresh = self._read_all()
        except TransientError as exc:
            self._failures += 1
            self.state = "degraded"
            self.alerter.report("run_data", f"{self.name}: candles unavailable: {exc}"[:300], subject=self.name)
            self._beat()
            return 0
        if self._failures:
            self._failures = 0
            self.alerter.clear("run_data", subject=self.name)
        self.state = "running"
        done = 0
        failure: tuple[str, BaseException] | None = None
        self.broker.deferred = self.batch
        prepared = None
        try:
            with self.session.journal.batch() if self.batch else contextlib.nullcontext():  # one transaction
                for sym, new in fresh.items():
                    done_sym, failure = self._decide(sym, new)
                    done += done_sym
                    if failure is not None or self.state in _FINAL:
                        break
                if self.batch:  # the orders' checks and intents, in the same commit
                    prepared = self.broker.prepare()
            refused = self.broker.flush(prepared)  # decisions and intents are durable: now send, together
        finally:
            self.broker.deferred = False
            self.broker.queue.clear()
        for decision, err in refused:
            if failure is None and not isinstance(err, TransientError):
                failure = (decision.symbol, err)
            elif isinstance(err, TransientError):  # not sent: the strategy decides again at the next candle
                self.alerter.report("run_data", f"{self.name}: order not sent: {err}"[:300], subject=self.name)
        if failure is not None and self.state not in _FINAL:
            self._fail(*failure)
        self._forget()
        self._beat()
        return done

    def _forget(self) -> None:
        """Keep what a long run holds flat: settled decisions of older candles, and old decisions' copies.

        The journal keeps every decision; in memory the broker keeps the last two candles' (a
        strategy decides on each candle once) and each strategy its last :data:`DECISIONS_KEPT`.
        """
        if self.last_ms and all(self.last_ms.values()):
            self.broker.forget_before(min(self.last_ms.values()) - self.interval_ms)
        for st in self.strategies.values():
            if len(st.decisions) > 2 * DECISIONS_KEPT:  # trimmed in steps, not at every candle
                del st.decisions[:-DECISIONS_KEPT]

    def _read_all(self) -> dict[str, list[Row]]:
        """Each symbol's new closed candles (read together), and the fills of its resting orders.

        With a batch the symbols' klines are requested together from the Session's loop
        (:meth:`kit.session.base.ExchangeApi.call_many`): they leave within a few milliseconds and
        no thread per symbol takes turns on the interpreter. A failed read raises (the first one).
        """
        syms = self.symbols
        if len(syms) == 1 or not self.batch:
            fresh = {sym: self._new_candles(sym, self._fetch(sym, limit=3)) for sym in syms}
        else:
            rows = self._fetch_many(syms, limit=3)
            fresh = {sym: self._new_candles(sym, rows[sym]) for sym in syms}
        need = [sym for sym, new in fresh.items() if new and self.broker.has_open(sym)]
        if len(need) > 1 and self._pool is not None:  # two requests per symbol with resting orders
            list(self._pool.map(self.broker.sync, need))
        else:
            for sym in need:
                self.broker.sync(sym)
        return fresh

    def _decide(self, sym: str, new: list[Row]) -> tuple[int, tuple[str, BaseException] | None]:
        """Run ``sym``'s strategy on its new candles (orders are queued); how many, and a failure if any."""
        done = 0
        if not new:
            return 0, None
        self.broker.stale_before_ms = new[-1][0]
        for row in new:
            ts = row[0]
            if self.until_ms is not None and ts + self.interval_ms > self.until_ms:
                self._finish("finished", f"reached --until ({pd.Timestamp(self.until_ms, unit='ms', tz='UTC')})")
                return done, None
            self.feeds[sym].append(*row)
            try:
                self.strategies[sym].step()
            except Exception as exc:  # handled once the decisions before it are journaled and sent
                return done, (sym, exc)
            self.last_ms[sym] = ts
            self.candles_seen += 1
            done += 1
            if self.until_ms is not None and ts + self.interval_ms >= self.until_ms:
                self._finish("finished", "reached --until")
                return done, None
        return done, None

    def _fail(self, sym: str, exc: BaseException) -> bool:
        """What an exception from a strategy (or an order it made) means for the run; False: it stopped."""
        if isinstance(exc, KillSwitchEngaged):
            self._kill(str(exc).split(";")[0])
            return False
        if isinstance(exc, TransientError):  # the exchange failed a write that was never sent: decide again
            self.alerter.report("run_data", f"{self.name}: order not sent: {exc}"[:300], subject=self.name)
            return True
        st = self.strategies[sym]
        where = f"{type(exc).__name__}: {exc}"  # the strategy's own bug (or an order it made refused): stop, tell once
        tb = traceback.extract_tb(exc.__traceback__)
        mine = inspect.getsourcefile(type(st)) or ""
        frame = next((f for f in reversed(tb) if f.filename == mine), None)
        if frame is not None:
            where += f" (at {Path(frame.filename).name}:{frame.lineno})"
        cancelled = 0
        if self.on_error == "cancel":
            with contextlib.suppress(KitError):
                cancelled = self.broker.cancel_all_mine()
        msg = f"{self.name}: strategy raised on {sym} at {pd.Timestamp(self.feeds[sym].last_ms, unit='ms', tz='UTC')}"
        msg += f": {where}; trading stopped, {cancelled} orders cancelled (on_error={self.on_error})"
        self.error = where
        self.alerter.report("strategy_error", msg[:500], subject=self.name)
        self._finish("failed", msg)
        return False

    def _kill(self, reason: str) -> None:
        cancelled = 0
        with contextlib.suppress(KitError):
            cancelled = self.broker.cancel_all_mine()
        msg = f"{self.name}: kill switch engaged ({reason}); run stopped"
        self.alerter.report("kill_switch", msg, subject=self.name)
        self._finish("killed", f"kill switch engaged ({reason}); {cancelled} orders of this run cancelled")

    # -- candles -------------------------------------------------------------------------------------------
    def _fetch(self, sym: str, *, limit: int) -> list[Row]:
        """The exchange's newest ``limit`` candles of ``sym`` (the last one may be forming)."""
        rows = self.session.api.call("fetch_ohlcv", self._kline_call(sym, limit), method="GET",
                                     path="/api/v3/klines", params={"symbol": sym, "limit": limit}, symbol=sym,
                                     write=False)  # fmt: skip
        return _clean_rows(rows)

    def _kline_call(self, sym: str, limit: int) -> Callable[[Any], Any]:
        tf = self.timeframe
        return lambda ex: ex.fetch_ohlcv(sym, tf, None, limit)

    def _fetch_many(self, syms: list[str], *, limit: int) -> dict[str, list[Row]]:
        """:meth:`_fetch` of several symbols at once (one hand-off to the Session's loop)."""
        got = self.session.api.call_many(
            "fetch_ohlcv", [self._kline_call(s, limit) for s in syms], method="GET",
            path="/api/v3/klines", params=[{"symbol": s, "limit": limit} for s in syms], symbols=syms, write=False,
        )  # fmt: skip
        for answer in got:
            if isinstance(answer, KitError):
                raise answer
        return {s: _clean_rows(answer) for s, answer in zip(syms, got, strict=True)}

    def _closed_of(self, rows: list[Row]) -> list[Row]:
        """The closed candles among the exchange's newest ``rows`` (its last row is still forming)."""
        if not rows:
            return rows
        last = rows[-1][0]
        self._forming_ms = last
        if self.schedule == "auto":
            now = self._exchange_now_ms()
            minute = now - now % self.interval_ms
            if last == minute - self.interval_ms:  # a real-time market whose new candle has no trade yet
                return rows  # its last row closed by the clock, as a kline is final once its close time passes
        return rows[:-1]

    def _closed(self, sym: str, *, limit: int) -> list[Row]:
        """The newest ``limit - 1`` closed candles (the exchange's last row is still forming)."""
        return self._closed_of(self._fetch(sym, limit=limit))

    def _exchange_now_ms(self) -> int:
        return int(time.time() * 1000) + self.broker._offset_ms()

    def _new_candles(self, sym: str, rows: list[Row]) -> list[Row]:
        """The closed candles after the last one processed, from the newest ``rows``; a drop is read wider."""
        last = self.last_ms[sym]
        closed = self._closed_of(rows)
        if closed and last and closed[0][0] > last + self.interval_ms:  # a drop: widen the request to cover it
            missing = int((closed[-1][0] - last) // self.interval_ms) + 2
            closed = self._closed(sym, limit=min(missing, 1000))
        new = [r for r in closed if r[0] > last] if last else closed[-1:]
        expected = last + self.interval_ms if last else (new[0][0] if new else 0)
        if new and new[0][0] != expected:
            self.gaps += 1
            self._j("run_gap", symbol=sym, from_ms=expected, to_ms=new[0][0],
                    candles=int((new[0][0] - expected) // self.interval_ms))  # fmt: skip
        return new

    def _prewarm(self) -> None:
        """Just before a predicted close, do what the first order after it would otherwise wait for.

        The Session re-measures the clock before a signed write when the last measurement is older
        than 60 s, and reads the free balance when its last read is older than 10 s: on 1m candles
        both fall due at every close, three or four requests in front of the orders. Done
        ``PREWARM_S`` before the close they are fresh when the close comes (the same rules, met early).
        """
        s = self.session
        with contextlib.suppress(KitError):
            s.measure_clock(samples=3)
        with contextlib.suppress(KitError):
            s.free_balances()

    def _sleep_s(self) -> float:
        """Until the next predicted close (then ``fast_poll_s``), or ``poll_s`` when it cannot be predicted.

        A close is predicted only when the forming candle is the one the wall clock (plus the
        measured offset) says is forming: a real-time market. A stepped or replayed clock, or
        ``schedule="poll"``, polls every ``poll_s``.
        """
        self._close_predicted = False
        if self._failures:
            return float(min(self.poll_s * 2 ** min(self._failures, 5), 30.0))
        forming = self._forming_ms
        if self.schedule == "poll" or forming is None:
            return self.poll_s
        now_ms = self._exchange_now_ms()
        minute = now_ms - now_ms % self.interval_ms
        if forming not in (minute, minute - self.interval_ms):
            return self.poll_s  # the market's clock is not the wall clock
        left = (minute + self.interval_ms - now_ms) / 1000
        self._close_predicted = True
        return max(left, self.fast_poll_s)

    # -- what a notebook, the status bar and the report read ---------------------------------------------------
    def status(self) -> dict[str, Any]:
        """State, symbols, last candle per symbol, decisions, orders sent, latency, errors."""
        lat = sorted(self.broker.latencies_ms)
        return {
            "name": self.name,
            "venue": self.session.venue,
            "stage": self.session.stage.value,
            "state": self.state,
            "reason": self.reason,
            "symbols": list(self.symbols),
            "timeframe": self.timeframe,
            "last_candle_ms": dict(self.last_ms),
            "candles": self.candles_seen,
            "decisions": self.broker.decided,
            "orders_sent": self.broker.sent,
            "open_orders": len(self.broker.open_ids),
            "gaps": self.gaps,
            "latency_p50_ms": lat[len(lat) // 2] if lat else None,
            "positions": {s: str(self.broker.position(s)) for s in self.symbols},
            "last_close": {s: float(f.close[-1]) for s, f in self.feeds.items() if len(f)},
            "error": self.error,
            "pid": os.getpid(),
            "started_ms": self.started_ms,
            "updated_ms": int(time.time() * 1000),
        }

    def _beat(self) -> None:
        """Rewrite the heartbeat file atomically (write, then rename)."""
        st = self.status()
        try:
            self.heartbeat_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.heartbeat_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(st, default=str))
            os.replace(tmp, self.heartbeat_path)
        except OSError as exc:  # a full disk must not stop trading decisions; it is logged
            log.warning("heartbeat not written: %s", exc)

    def _events(self, kind: str) -> pd.DataFrame:
        s = self.session
        rows = [e for e in s.journal.events(kinds=[kind], venue=s.venue, account=s.account)
                if e.payload.get("run") == self.name]  # fmt: skip
        data = [{"time": pd.Timestamp(e.ts_ms, unit="ms", tz="UTC"), "symbol": e.symbol, "client_id": e.client_id,
                 **{k: v for k, v in e.payload.items() if k != "run"}} for e in rows]  # fmt: skip
        return pd.DataFrame(data).set_index("time") if data else pd.DataFrame(columns=["symbol", "client_id"])

    def decisions(self) -> pd.DataFrame:
        """Decisions of this run (journaled), with their order's client id once sent."""
        dec, links = self._events("decision"), self._events("decision_order")
        if not len(dec):
            return dec
        dec = dec.drop(columns=["client_id"])
        if len(links):
            keep = links[["decision_id", "client_id", "latency_ms", "status"]].drop_duplicates("decision_id")
            dec = dec.reset_index().merge(keep, on="decision_id", how="left").set_index("time")
        return dec

    def candles(self, symbol: str) -> pd.DataFrame:
        """The candles the strategy has seen on ``symbol`` (history load included, last ``2 x lookback``)."""
        return self.feeds[symbol].frame()

    def fills(self) -> pd.DataFrame:
        """Journaled fills of this run's orders."""
        f = self.session.journal.frame("fill", venue=self.session.venue)
        return f[f["client_id"].isin(self.broker.client_ids)] if len(f) else f

    def journal(self, kind: str = "run") -> pd.DataFrame:
        """Journal rows of this run, of one kind (``run``, ``decision``, ``decision_order``, ``run_gap``)."""
        return self._events(kind)


def start(session: Session, strategy: Strategy | type[Strategy], symbols: Iterable[str] | None = None,
          **kw: Any) -> Runner:  # fmt: skip
    """Start a :class:`Runner` in the background and return it (the notebook handle).

    >>> from kit.strategy.examples import SmaCross                     # doctest: +SKIP
    >>> run = start(kit.Session("localnet"), SmaCross(fast=5), ["BTC/USDT"])   # doctest: +SKIP
    >>> run.status()["state"]                                           # doctest: +SKIP
    'running'
    """
    return Runner(session, strategy, symbols, **kw).start()
