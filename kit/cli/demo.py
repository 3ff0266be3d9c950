"""The staged demo behind ``make demo`` / ``kit demo``, and the offline market the notebooks run on.

Two jobs, both offline (no account, no key, nothing beyond 127.0.0.1):

- :func:`prepare` is the first call of every staged notebook. On ``"localnet"`` without
  ``KIT_LOCALNET_URL`` it starts a *private* localnet inside the kernel, so a notebook opened on
  its own just works; with ``KIT_LOCALNET_URL`` set (``kit localnet serve``, or the demo) it uses
  that one. Either way it returns a :class:`Market` to drive the localnet's market (step its
  clock, print a trade) over the localnet's loopback admin endpoints.
- :func:`run` is the demo: one localnet for the whole walk, notebooks ``00`` to ``04`` and the
  daily report executed with papermill, executed copies and HTML under ``reports/``.

The demo localnet is deterministic on purpose, so that notebook outputs can be checked as
regressions (``tests/notebooks``): its clock is stepped (it moves only when asked), and its
candles are a seeded synthetic history (:data:`SEED`) replayed so that it ends at the minute the
localnet starts. Prices, sizes, fills, fees and order ids are the same on every run; only times,
client order ids and key fingerprints differ.

>>> frames = demo_candles(now_ms=1_717_459_200_000, minutes=30)
>>> sorted(frames), len(frames["BTCUSDT"])
(['BTCUSDT', 'ETHBTC', 'ETHUSDT'], 30)
>>> frames["BTCUSDT"].index[-1].isoformat()
'2024-06-03T23:59:00+00:00'
"""

from __future__ import annotations

import atexit
import html
import json
import os
import shlex
import shutil
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pandas as pd

from kit import __version__
from kit.errors import ConfigError, ExchangeUnavailable

__all__ = [
    "NOTEBOOKS",
    "SEED",
    "DemoResult",
    "Market",
    "Prepared",
    "demo_candles",
    "localnet_env",
    "notebooks_dir",
    "prepare",
    "run",
    "stage_gate",
    "start_localnet",
]

#: Seed of the demo market; the same seed gives the same candles, fills and fees on every run.
SEED = 7
#: Minutes of 1m candle history the demo localnet starts with (three days).
HISTORY_MINUTES = 3 * 1440
#: Where the seeded generator's path is anchored; the candles are shifted from here to "now".
_EPOCH_MS = 1_717_372_800_000  # 2024-06-03 00:00 UTC
_MINUTE_MS = 60_000
_HOUR_MS = 3_600_000

#: The staged notebooks the demo runs, in order (paths under ``notebooks/``, without ``.ipynb``).
NOTEBOOKS: tuple[str, ...] = (
    "00_safety_check",
    "01_read_only",
    "02_research",
    "03_testnet_orders",
    "04_small_live",
    "05_forward",
    "06_sweep",
)
#: The report notebook (under ``notebooks/``).
REPORT_NOTEBOOK = "reports/daily"


def notebooks_dir() -> Path:
    """The ``notebooks/`` folder of this checkout.

    Raises
    ------
    ConfigError
        When the kit is installed without its notebooks (they ship with the repository).
    """
    path = Path(__file__).resolve().parents[2] / "notebooks"
    if not (path / f"{NOTEBOOKS[0]}.ipynb").is_file():
        raise ConfigError(
            f"the staged notebooks are not in {path}",
            hint="Run the demo from a clone of the repository (make demo); the notebooks are not part of the wheel.",
        )
    return path


# ---------------------------------------------------------------------------------------------
# The deterministic demo localnet


def demo_candles(now_ms: int, *, minutes: int = HISTORY_MINUTES, seed: int = SEED) -> dict[str, pd.DataFrame]:
    """Seeded 1m candles for every localnet symbol, ending at the minute before ``now_ms``.

    The path is the localnet's own synthetic generator run from a fixed anchor, then shifted in
    time, so the same ``seed`` gives the same prices whatever the date.

    Parameters
    ----------
    now_ms
        The localnet's start time; the last candle opens one minute before its minute.
    minutes
        How many candles per symbol.
    seed
        Seed of the generator.

    Returns
    -------
    dict
        Binance symbol id (``"BTCUSDT"``) -> candles (UTC open-time index; open, high, low,
        close, volume as floats).
    """
    from kit.localnet.config import DEFAULT_SYMBOLS
    from kit.localnet.market import SyntheticSource

    shift = (now_ms - now_ms % _MINUTE_MS) - _EPOCH_MS
    out: dict[str, pd.DataFrame] = {}
    for spec in DEFAULT_SYMBOLS:
        src = SyntheticSource(spec, seed=seed, live_start_ms=_EPOCH_MS, history_minutes=minutes)
        rows = sorted(src.candles.bars.items())
        index = pd.DatetimeIndex(pd.to_datetime([t + shift for t, _ in rows], unit="ms", utc=True), name="time")
        values = [[float(x) for x in bar[:5]] for _, bar in rows]
        out[spec.symbol] = pd.DataFrame(values, index=index, columns=["open", "high", "low", "close", "volume"])
    return out


def start_localnet(
    *, state_dir: Path | None = None, now_ms: int | None = None, history: bool = True, port: int = 0
) -> Any:
    """Start the deterministic demo localnet in a background thread.

    Parameters
    ----------
    state_dir
        Where the localnet keeps its state and its 0600 keys file; a new temporary folder if None.
    now_ms
        Start of the stepped clock, rounded down to the hour (default: now). The candle history
        ends there; :meth:`Market.sync` brings the clock up to the wall clock when orders begin.
    history
        Also give the demo account some history made "elsewhere" (one filled market buy, one
        resting limit sell), so the read-only notebook has trades, fees and an open order to show.
    port
        TCP port on 127.0.0.1; 0 picks a free one.

    Returns
    -------
    kit.localnet.server.Localnet
        The running server (``.url``, ``.keys_file``, ``.step()``, ``.stop()``).
    """
    from kit.localnet import LocalnetConfig, start

    now = int(time.time() * 1000) if now_ms is None else int(now_ms)
    now -= now % _HOUR_MS  # on the hour: 5m, 15m and 1h candles then aggregate the same on every run
    state = Path(state_dir) if state_dir is not None else Path(tempfile.mkdtemp(prefix="kit-localnet-"))
    state.mkdir(parents=True, exist_ok=True)
    config = LocalnetConfig(seed=SEED, stepped=True, start_ms=now, candles=demo_candles(now), state_dir=state)
    net = start(port=port, config=config)
    if history:
        try:
            _seed_history(net)
        except BaseException:
            net.stop()
            raise
    return net


def _seed_history(net: Any) -> None:
    """Trades made before the walk (as if from the exchange's website): the journal has none of them."""
    ex = net.client("trader")
    try:
        ex.load_markets()
        ex.create_order("BTC/USDT", "market", "buy", 0.01)
        ex.create_order("ETH/USDT", "market", "sell", 0.5)
        ex.create_order("BTC/USDT", "limit", "sell", 0.005, 61_500)
    finally:
        close = getattr(ex, "close", None)
        if callable(close):
            close()


def localnet_env(net: Any) -> dict[str, str]:
    """The environment a Session needs to reach ``net``: ``KIT_LOCALNET_URL`` and the demo keys.

    Read from the localnet's 0600 keys file. The values include secrets: hand them to a child
    process's environment, never print them.
    """
    keys_file = getattr(net, "keys_file", None)
    if keys_file is None:
        raise ConfigError(
            "this localnet keeps no keys file (no state_dir)", hint="Start it with a state_dir (start_localnet does)."
        )
    env: dict[str, str] = {}
    for line in Path(keys_file).read_text(encoding="utf-8").splitlines():
        parts = shlex.split(line)
        if len(parts) == 2 and parts[0] == "export" and "=" in parts[1]:
            name, value = parts[1].split("=", 1)
            env[name] = value
    env["KIT_LOCALNET_URL"] = str(net.url)
    return env


# ---------------------------------------------------------------------------------------------
# Driving the localnet market from a notebook


class Market:
    """Drive a localnet's market through its loopback admin endpoints (no keys involved).

    Parameters
    ----------
    url
        ``http://127.0.0.1:PORT`` of a running localnet.

    Examples
    --------
    >>> m = Market("http://127.0.0.1:8765")
    >>> m.url
    'http://127.0.0.1:8765'
    >>> Market("https://api.binance.com")
    Traceback (most recent call last):
    kit.errors.ConfigError: Market drives a localnet on 127.0.0.1 only, not 'https://api.binance.com'. ...
    """

    def __init__(self, url: str) -> None:
        host = urlsplit(url).hostname or ""
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ConfigError(
                f"Market drives a localnet on 127.0.0.1 only, not {url!r}",
                hint="Real exchanges are not driven: their market moves by itself.",
            )
        self.url = url.rstrip("/")
        self._follower: Any = None

    def __repr__(self) -> str:
        return f"Market({self.url!r})"

    def follow(self, interval_s: float = 1.0) -> None:
        """Keep a stepped clock up with the wall clock, on a daemon thread, until :meth:`unfollow`.

        For a notebook left open in JupyterLab: orders placed by hand with the ticket then carry
        today's time, not the time of the last cell that stepped the clock (#17.4). Prices still
        move only when :meth:`trade` prints a trade. Idempotent.
        """
        import threading

        if self._follower is not None and self._follower[0].is_alive():
            return
        stop = threading.Event()

        def run() -> None:
            while not stop.wait(interval_s):
                try:
                    self.sync()
                except ExchangeUnavailable:  # the localnet stopped (kernel shutting down): nothing to follow
                    return

        thread = threading.Thread(target=run, name="kit-market-clock", daemon=True)
        self._follower = (thread, stop)
        thread.start()

    def unfollow(self) -> None:
        """Stop following the wall clock."""
        if self._follower is not None:
            self._follower[1].set()
            self._follower = None

    def _call(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - loopback only (checked above)
                return json.load(resp)
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")[:300]
            raise ExchangeUnavailable(f"localnet admin {path} answered {exc.code}: {detail}") from exc
        except OSError as exc:
            raise ExchangeUnavailable(f"localnet at {self.url} is not reachable: {exc}") from exc

    def state(self) -> dict[str, Any]:
        """Clock, symbols and key names of the localnet (never secrets)."""
        return dict(self._call("GET", "/_localnet/state"))

    def now_ms(self) -> int:
        """The localnet's market clock, in ms."""
        return int(self.state()["now_ms"])

    def step(self, ms: int) -> int:
        """Move the market clock forward by ``ms`` and run the market up to it; returns the new time."""
        return int(self._call("POST", "/_localnet/clock/step", {"ms": int(ms)})["now_ms"])

    def sync(self) -> int:
        """Bring a stepped market clock up to the wall clock (never past it), so fills carry today's times.

        The demo's candle history ends where the localnet started; moving the clock on prints no
        trades by itself, so prices stay put until :meth:`trade` prints one.
        """
        now = int(time.time() * 1000)
        current = self.now_ms()
        return current if current >= now else int(self._call("POST", "/_localnet/clock/step", {"to": now})["now_ms"])

    def live(self, speed: float = 1.0) -> int:
        """Let the market move by itself from now on, in real time (``speed`` 1.0); returns the time it went live.

        The demo's market is a replay that stands still after its last candle (so every run of a
        notebook shows the same numbers); from here it continues with a seeded synthetic path from
        the last price, and resting orders fill when the path trades through them, while you watch.
        There is no way back to the stepped clock.
        """
        return int(self._call("POST", "/_localnet/clock/live", {"speed": float(speed)})["now_ms"])

    def trade(self, symbol: str, price: Any, qty: Any, side: str = "sell") -> dict[str, Any]:
        """Print a trade now: ``side`` is the aggressor (``"sell"`` hits bids, so it can fill resting buys)."""
        if side not in ("buy", "sell"):
            raise ConfigError(f"side must be 'buy' or 'sell', got {side!r}")
        body = {"symbol": symbol.replace("/", "").upper(), "price": str(price), "qty": str(qty), "side": side}
        return dict(self._call("POST", "/_localnet/trade", body))


@dataclass
class Prepared:
    """What a staged notebook runs against (see :func:`prepare`).

    Attributes
    ----------
    exchange
        The exchange name, as given to ``Session``.
    market
        A :class:`Market` on localnet; None on a real exchange (its market moves by itself).
    store_root
        The candle store's folder for this run.
    private
        True when :func:`prepare` started a localnet inside this kernel.
    note
        One line saying what was prepared.
    kill_file
        The kill file this kernel's Sessions watch: the user's own (``$KIT_KILL_FILE``, else
        ``$KIT_HOME/KILL`` as it was before :func:`prepare`), also when the journal was moved.
    home
        ``KIT_HOME`` for this kernel (journal, request log); a temporary folder when ``private``.
    """

    exchange: str
    market: Market | None
    store_root: Path
    private: bool
    note: str
    net: Any = field(default=None, repr=False)
    kill_file: Path | None = None
    home: Path | None = None

    @property
    def summary(self) -> str:
        """What was prepared, where the journal is, and which kill file works (for a notebook's first output).

        >>> print(Prepared("binance", None, Path("data"), False, "binance: a real exchange; nothing started.",
        ...                kill_file=Path("/home/me/.tradekit/KILL"), home=Path("/home/me/.tradekit")).summary)
        binance: a real exchange; nothing started.
        KIT_HOME (journal, request log): /home/me/.tradekit
        kill switch: touch /home/me/.tradekit/KILL to stop every new order and cancel the kit's open orders
        """
        lines = [self.note]
        if self.home is not None:
            where = "a temporary folder for this kernel only; yours is not used" if self.private else "yours"
            lines.append(f"KIT_HOME (journal, request log): {self.home}" + (f" ({where})" if self.private else ""))
        if self.kill_file is not None:
            what = "to stop every new order and cancel the kit's open orders"
            lines.append(f"kill switch: touch {self.kill_file} {what}")
        return "\n".join(lines)

    @property
    def is_localnet(self) -> bool:
        """True on the offline exchange."""
        return self.exchange.strip().lower() == "localnet"

    def go_live(self) -> str:
        """Let this notebook's market move by itself from now on, where that is safe; returns one line saying so.

        A localnet this kernel started (:attr:`private`) goes live in real time (:meth:`Market.live`):
        resting orders fill while you watch. A shared localnet (``KIT_LOCALNET_URL``, as in
        ``make demo``) stays still, since other notebooks read it; a real exchange moves anyway.

        >>> print(Prepared("binance", None, Path("data"), False, "").go_live())
        binance: the market moves by itself.
        """
        if self.market is None:
            return f"{self.exchange}: the market moves by itself."
        if not self.private:
            return ("localnet: shared with other notebooks, so its market stays still; print a trade through a "
                    "resting order with prep.market.trade(symbol, price, qty, side=...).")  # fmt: skip
        self.market.live()
        return ("localnet: the market now moves by itself in real time (a seeded path from the last price); "
                "a resting order fills when the path trades through its price.")  # fmt: skip

    def now(self) -> pd.Timestamp:
        """The exchange's time now: the localnet market clock, or the wall clock."""
        ms = self.market.now_ms() if self.market is not None else int(time.time() * 1000)
        return pd.Timestamp(ms, unit="ms", tz="UTC")


_PRIVATE: dict[str, Prepared] = {}


def prepare(exchange: str = "localnet", *, store_root: str | Path = "data") -> Prepared:
    """Get a notebook ready to run against ``exchange``; starts a private localnet when needed.

    On ``"localnet"`` with ``KIT_LOCALNET_URL`` set, that localnet is used as is. Without it, the
    deterministic demo localnet (:func:`start_localnet`) starts in this kernel, its URL and demo
    keys go into this process's environment for ``Session`` to find, and ``KIT_HOME`` (journal,
    request log) and the candle store move to a temporary folder: a private localnet starts from
    scratch each time, and its trade ids start again at 1, so its history must not mix with a
    journal that outlives it. The kill file does not move: ``KIT_KILL_FILE`` is set to the user's
    (``$KIT_HOME/KILL`` as it was), so touching it stops this kernel's orders too (#17.2).
    :attr:`Prepared.summary` says all of this; notebooks print it. Calling it again in the same
    kernel reuses the localnet.

    Parameters
    ----------
    exchange
        ``"localnet"`` or a ccxt exchange id (then nothing is started).
    store_root
        The candle store's folder when nothing private is started.

    Returns
    -------
    Prepared
    """
    from kit.safety.killswitch import kill_file, kit_home

    name = exchange.strip().lower()
    if name != "localnet":
        return Prepared(exchange, None, Path(store_root), False, f"{exchange}: a real exchange; nothing started.",
                        kill_file=kill_file(), home=kit_home())  # fmt: skip
    url = os.environ.get("KIT_LOCALNET_URL")
    if url:
        return Prepared(exchange, Market(url), Path(store_root), False, "localnet: using the one at KIT_LOCALNET_URL.",
                        kill_file=kill_file(), home=kit_home())  # fmt: skip
    if "localnet" in _PRIVATE:
        return _PRIVATE["localnet"]
    home = Path(tempfile.mkdtemp(prefix="kit-notebook-"))
    atexit.register(shutil.rmtree, home, True)
    net = start_localnet(state_dir=home / "localnet")
    atexit.register(net.stop)
    users_kill_file = kill_file()  # read before KIT_HOME moves: the user's kill file stays the one that works
    os.environ.update(localnet_env(net))
    os.environ["KIT_KILL_FILE"] = str(users_kill_file)
    os.environ["KIT_HOME"] = str(home / "home")
    prepared = Prepared(
        exchange,
        Market(net.url),
        home / "data",
        True,
        f"localnet: started a private one in this kernel (stepped clock, seed {SEED}); "
        "its journal and candle store are temporary.",
        net=net,
        kill_file=users_kill_file,
        home=home / "home",
    )
    _PRIVATE["localnet"] = prepared
    return prepared


def prepare_rehearsal() -> str:
    """Declare a rehearsal venue for notebook 04 and the demo; returns one line saying which.

    With ``KIT_REHEARSAL_URL`` set (``kit localnet serve --rehearsal``, or the demo), that one is
    used. Otherwise a deterministic one (stepped clock, the demo's seed and candles) starts in this
    process, its state under ``$KIT_HOME/rehearsal``, and ``KIT_REHEARSAL_URL`` / ``KIT_REHEARSAL_KEYS``
    point this process's Sessions at it: ``Session("rehearsal", stage=...)`` then runs the live
    stages offline (:mod:`kit.session.venues`). Calling it again reuses it.

    Examples
    --------
    >>> prepare_rehearsal()                                       # doctest: +SKIP
    'rehearsal: started one in this process (stepped clock, seed 7), a separate localnet ...'
    """
    if os.environ.get("KIT_REHEARSAL_URL"):
        return "rehearsal: using the one declared at KIT_REHEARSAL_URL."
    from kit.safety.killswitch import kit_home
    from kit.session.venues import start_rehearsal

    now = int(time.time() * 1000)
    now -= now % _HOUR_MS
    net = start_rehearsal(state_dir=kit_home() / "rehearsal", seed=SEED, stepped=True, start_ms=now,
                          candles=demo_candles(now))  # fmt: skip
    atexit.register(net.stop)
    return (
        f"rehearsal: started one in this process (stepped clock, seed {SEED}), a separate localnet with its "
        "own keys, state and journal names; nothing in it is real money."
    )


# ---------------------------------------------------------------------------------------------
# Showing a stage gate without trading


class _DryJournal:
    """Reads a journal, writes nothing: the guard's decisions while *showing* a gate are not journaled."""

    def __init__(self, journal: Any) -> None:
        self._journal = journal

    def filled_orders(self, **kw: Any) -> int:
        return int(self._journal.filled_orders(**kw))

    def events(self, **kw: Any) -> Any:
        return self._journal.events(**kw)

    def append(self, kind: str, **kw: Any) -> int:
        return 0


def stage_gate(
    stage: str, symbols: list[str], *, journal: Any, evidence: Any = None, now_ms: int | None = None
) -> tuple[bool, str]:
    """What the gate into a live ``stage`` says about ``symbols`` now, read from ``journal``.

    The same check a ``Session(exchange, stage=...)`` makes on entering the stage
    (:meth:`kit.safety.guard.Guard.check_stage`), run against a live endpoint but without journaling its
    decision and without connecting anywhere: a way to show, on localnet, what a real exchange
    would answer.

    Parameters
    ----------
    stage
        ``"live_small"`` (its default caps, with ``symbols`` as the allowlist) or ``"live"``.
    symbols
        The symbols to trade.
    journal
        Where the evidence is read (a :class:`kit.journal.journal.Journal`).
    evidence
        The :class:`kit.safety.guard.EvidenceRule` (default: 3 filled orders per symbol in 30 days).
    now_ms
        The end of the evidence window (default: now).

    Returns
    -------
    tuple
        ``(passed, message)``; the message is the refusal, with what is missing, when not passed.
    """
    from kit.errors import StageError
    from kit.safety.guard import Caps, EvidenceRule, Guard, KillSwitch
    from kit.safety.stages import Stage

    st = Stage.parse(stage)
    caps = Caps.for_stage(Stage.LIVE_SMALL, symbols=symbols)  # live: the same shape, configured explicitly
    with tempfile.TemporaryDirectory() as tmp:
        guard = Guard(st, sandbox=False, caps=caps, journal=_DryJournal(journal),
                      kill_switch=KillSwitch(Path(tmp) / "KILL", env={}), evidence=evidence or EvidenceRule(),
                      venue="live")  # fmt: skip
        try:
            guard.check_stage(symbols=symbols, now_ms=int(time.time() * 1000) if now_ms is None else now_ms)
        except StageError as exc:
            return False, exc.message
    return True, f"stage {st.value} gate passes for {', '.join(symbols)}"


# ---------------------------------------------------------------------------------------------
# The demo


@dataclass(frozen=True)
class DemoResult:
    """What :func:`run` wrote.

    Attributes
    ----------
    index
        ``demo.html``: the walk, with timings and links.
    report
        The daily report's HTML.
    notebooks
        Executed notebook -> seconds its papermill run took (HTML rendering not included).
    seconds
        Wall time of the whole demo.
    """

    index: Path
    report: Path
    notebooks: dict[str, float]
    seconds: float


@contextmanager
def _environment(values: Mapping[str, str], drop: tuple[str, ...] = ()) -> Iterator[None]:
    """Set environment variables for the kernels papermill starts (they inherit ours), then restore."""
    saved = {k: os.environ.get(k) for k in (*values, *drop)}
    os.environ.update(values)
    for k in drop:
        os.environ.pop(k, None)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run(out_dir: Path = Path("reports"), *, quiet: bool = False) -> DemoResult:
    """Walk the staged notebooks against a fresh offline localnet and write the reports.

    Starts the demo localnet (:func:`start_localnet`) in this process, runs notebooks ``00`` to
    ``04`` and then the daily report with papermill (each in its own kernel, which finds the
    localnet through ``KIT_LOCALNET_URL`` and the demo keys in its environment), and writes under
    ``out_dir``: the executed notebooks and their HTML in ``demo/``, the report as
    ``daily.ipynb`` / ``daily.html``, and ``demo.html`` linking them. ``KIT_HOME`` for the walk
    is ``out_dir/.kit`` (emptied first), so your own journal is never touched.

    Parameters
    ----------
    out_dir
        Folder for the output; created if missing.
    quiet
        Print nothing but the final path.

    Returns
    -------
    DemoResult

    Raises
    ------
    kit.errors.ReportFailed
        A notebook failed; its partly executed copy is kept and the message names the cell.
    """
    from kit.views.report import run_notebook, to_html

    t_start = time.perf_counter()
    out_dir = Path(out_dir)
    nb_dir = notebooks_dir()
    home = out_dir / ".kit"
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    walk_dir = out_dir / "demo"
    walk_dir.mkdir(parents=True, exist_ok=True)

    def say(text: str) -> None:
        if not quiet:
            print(text, flush=True)

    say(f"Tradekit {__version__} demo: offline localnet, KIT_HOME={home}")
    net = start_localnet(state_dir=home / "localnet")
    timings: dict[str, float] = {}
    html_s = 0.0
    try:
        # KIT_HOME is the kernels' working directory too: no folder named "kit" may appear there, or
        # `import kit` in the kernel would pick it up as a namespace package.
        env = {**localnet_env(net), "KIT_HOME": str(home.resolve())}
        with _environment(env, drop=("KIT_KILL", "KIT_KILL_FILE", "KIT_REHEARSAL_URL", "KIT_REHEARSAL_KEYS")):
            say(f"  {prepare_rehearsal()}")  # notebook 04's live stages run on it (its kernel inherits it)
            for name in (*NOTEBOOKS, REPORT_NOTEBOOK):
                report = name == REPORT_NOTEBOOK
                label = "daily report" if report else name
                target = out_dir / "daily.ipynb" if report else walk_dir / f"{name}.ipynb"
                t0 = time.perf_counter()
                executed = run_notebook(nb_dir / f"{name}.ipynb", target, {"exchange": "localnet"}, cwd=home)
                t1 = time.perf_counter()
                page = to_html(executed, target.with_suffix(".html"), exclude_input=report,
                               plotlyjs="inline" if report else "directory")  # fmt: skip
                timings[label], html_s = t1 - t0, html_s + time.perf_counter() - t1
                say(f"  {label:<20} {timings[label]:5.1f} s")
            timings["drift report"], drift_page = twins_and_drift(net, out_dir, home, say=say)
    finally:
        net.stop()
    seconds = time.perf_counter() - t_start
    from kit.safety.private import write_private_text

    index = out_dir / "demo.html"  # 0600 like the reports it links (they hold account data)
    write_private_text(index, _index_page(timings, page.name, seconds, drift=drift_page.name))
    say(f"Notebooks {sum(timings.values()):.1f} s (+ HTML {html_s:.1f} s), demo {seconds:.1f} s. Walk: {index}")
    print(f"Report: {page}")
    return DemoResult(index=index, report=page, notebooks=timings, seconds=seconds)


_STAGE_TEXT = {
    "00_safety_check": "What kit doctor checks, as a checklist with the fix for each red mark.",
    "01_read_only": "Balances, open orders, trades and fees; candles from the store; coverage.",
    "02_research": "Returns and volatility; an SMA crossover replayed through the engine; fees and slippage.",
    "03_testnet_orders": "Order ticket and blotter on a sandbox; a partial fill as it happens; cancel.",
    "04_small_live": "live_small caps and its evidence gate; the kill switch engaged and reset.",
    "05_forward": "The SMA crossover as one Strategy: replayed, run forward on testnet by the runner, compared.",
    "06_sweep": "A grid of SMA windows backtested on a local Dask cluster, its heatmap, and a walk-forward.",
}


def _index_page(timings: Mapping[str, float], report_name: str, seconds: float, *, drift: str | None = None) -> str:
    rows = []
    for name in NOTEBOOKS:
        rows.append(
            f'<tr><td><a href="demo/{name}.html">{html.escape(name)}</a></td>'
            f"<td>{html.escape(_STAGE_TEXT.get(name, ''))}</td><td>{timings.get(name, 0.0):.1f} s</td></tr>"
        )
    rows.append(
        f'<tr><td><a href="{html.escape(report_name)}">daily report</a></td>'
        f"<td>The period's account value, orders, fills, PnL, fees, errors, guard trips, clock and rate "
        f"limits.</td><td>{timings.get('daily report', 0.0):.1f} s</td></tr>"
    )
    if drift is not None:
        rows.append(_drift_row(drift, timings.get("drift report", 0.0)))
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tradekit demo</title>
<style>body{{font-family:sans-serif;max-width:60rem;margin:2rem auto}}
td,th{{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}}table{{border-collapse:collapse}}</style>
</head><body>
<h1>Tradekit demo</h1>
<p>kit {html.escape(__version__)}, written {stamp}, in {seconds:.1f} s. Everything ran against the offline
localnet on 127.0.0.1: no account, no key, no network.</p>
<table><tr><th>Notebook</th><th>What it shows</th><th>Run time</th></tr>
{chr(10).join(rows)}
</table>
</body></html>
"""


# ---------------------------------------------------------------------------------------------
# Shadow twins and the drift report (the paper engineer's part of the demo; see docs/paper.md)


def twins_and_drift(net: Any, out_dir: Path, home: Path, *, say: Any = print) -> tuple[float, Path]:
    """Place a few testnet orders with shadow twins on the demo localnet, then run the drift report.

    The demo localnet's clock is stepped: for this part it is stepped along with the wall clock
    every 100 ms, so the twins' market tape and the orders carry the same times. One seller prints
    through a resting buy, so a passive order fills for real and (if the queue allows) on paper.
    Writes ``drift.ipynb`` / ``drift.html`` in ``out_dir``; returns the seconds it took and the page.
    """
    import threading
    from decimal import Decimal

    from kit.session import Session
    from kit.views.report import run_notebook, to_html

    t0 = time.perf_counter()
    stop = threading.Event()

    def follow_the_wall_clock() -> None:
        while not stop.wait(0.1):
            net.call(lambda v: v.step(max(0, int(time.time() * 1000) - v.clock.now_ms())))

    net.call(lambda v: v.step(max(0, int(time.time() * 1000) - v.clock.now_ms())))
    ticker = threading.Thread(target=follow_the_wall_clock, name="demo-clock", daemon=True)
    ticker.start()
    started = pd.Timestamp.now(tz="UTC") - pd.Timedelta(seconds=1)
    try:
        with Session("localnet", twins=True) as s:
            best_bid, best_ask = net.call(lambda v: v.books["BTCUSDT"].best())
            bid, ask, tick = Decimal(best_bid[0]), Decimal(best_ask[0]), Decimal("0.01")
            s.place("BTC/USDT", "buy", "0.002")
            s.place("BTC/USDT", "sell", "0.001")
            s.place("BTC/USDT", "buy", "0.001", price=str(ask))  # marketable limit
            s.place("BTC/USDT", "sell", "0.001", price=str(bid), time_in_force="IOC")
            passive = bid - 5 * tick
            s.place("BTC/USDT", "buy", "0.001", price=str(passive))
            far = s.place("BTC/USDT", "sell", "0.001", price=str(ask + 500 * tick))
            time.sleep(1.0)
            net.inject_trade("BTCUSDT", passive - tick, "0.5", side="sell")  # a seller trades through the bid
            time.sleep(1.0)
            s.cancel("BTC/USDT", order_id=far["id"])
            time.sleep(1.0)
            s.trades("BTC/USDT")  # journal every real fill: the report pairs twins with journaled fills
    finally:
        stop.set()
        ticker.join(5)
    nb = notebooks_dir() / "reports" / "drift.ipynb"
    params = {"since": started.isoformat(), "until": "now", "venue": "localnet"}
    executed = run_notebook(nb, out_dir / "drift.ipynb", params, cwd=home)
    page = to_html(executed, out_dir / "drift.html", exclude_input=True, plotlyjs="inline")
    seconds = time.perf_counter() - t0
    say(f"  {'drift report':<20} {seconds:5.1f} s")
    return seconds, page


def _drift_row(page: str, seconds: float) -> str:
    return (
        f'<tr><td><a href="{html.escape(page)}">drift report</a></td>'
        "<td>Shadow twins of a few testnet orders, simulated by the paper fill model on the same market: "
        "price delta, time to fill, fill ratio, miss and phantom rates per order type.</td>"
        f"<td>{seconds:.1f} s</td></tr>"
    )
