"""Run localnet: in a background thread (notebooks, tests) or in the foreground (``kit localnet serve``).

The server binds to 127.0.0.1 only. Its event loop owns the venue; the :class:`Localnet` handle
hops onto that loop for anything that touches venue state (``step``, ``call``).

Examples
--------
>>> from kit.localnet import LocalnetConfig
>>> with start(config=LocalnetConfig(stepped=True, history_minutes=5)) as net:
...     ex = net.client("trader")
...     t = ex.fetch_time()
...     ok = net.step(60_000) > 0
>>> ok and net.url.startswith("http://127.0.0.1:")
True
"""

from __future__ import annotations

import asyncio
import os
import shlex
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from aiohttp import web

from kit.localnet.app import build_app
from kit.localnet.auth import ApiKey
from kit.localnet.config import LocalnetConfig
from kit.localnet.reqlog import RequestLog

HOST = "127.0.0.1"


def env_names(config: LocalnetConfig) -> dict[str, tuple[str, str]]:
    """Key name -> (api key variable, secret variable), e.g. ``KIT_LOCALNET_API_KEY``."""
    return {k.name: (f"{k.env_prefix}_API_KEY", f"{k.env_prefix}_API_SECRET") for k in config.keys}


def export_lines(config: LocalnetConfig, keys: dict[str, ApiKey], url: str) -> list[str]:
    """Shell ``export`` lines for the URL and every key (contains secrets: print only on request)."""
    url_var = "KIT_REHEARSAL_URL" if config.role == "rehearsal" else "KIT_LOCALNET_URL"
    lines = [f"export {url_var}={shlex.quote(url)}"]
    for name, (kvar, svar) in env_names(config).items():
        key = keys[name]
        lines.append(f"export {kvar}={shlex.quote(key.api_key)}")
        lines.append(f"export {svar}={shlex.quote(key.secret.reveal())}")
    return lines


def write_keys_file(path: Path, lines: list[str]) -> None:
    """Write the export lines to a 0600 file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    os.chmod(path, 0o600)


class Localnet:
    """A running localnet (see :func:`start`)."""

    def __init__(self, config: LocalnetConfig, port: int) -> None:
        self.config = config
        self._want_port = port
        self.port = 0
        self.venue: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._ticker: asyncio.Future[None] | None = None  # the market ticker, while the clock runs by itself
        self._error: BaseException | None = None
        self.reqlog: RequestLog | None = None
        self.keys_file: Path | None = None

    # -------------------------------------------------------------- addresses and keys
    @property
    def url(self) -> str:
        """Base URL, ``http://127.0.0.1:PORT``."""
        return f"http://{HOST}:{self.port}"

    @property
    def ws_url(self) -> str:
        """WebSocket base URL, ``ws://127.0.0.1:PORT``."""
        return f"ws://{HOST}:{self.port}"

    @property
    def keys(self) -> dict[str, ApiKey]:
        """Demo keys by name (secrets stay wrapped in :class:`~kit.localnet.auth.Secret`)."""
        return dict(self.venue.keys_by_name)

    def credentials(self, name: str = "trader") -> tuple[str, str]:
        """(api key, secret) of a demo key, for handing to a client."""
        key = self.venue.keys_by_name[name]
        return key.api_key, key.secret.reveal()

    def client(self, name: str | None = "trader", *, async_: bool = False, pro: bool = False, **config: Any) -> Any:
        """A real ccxt Binance client pointed here, with key ``name`` (None: no credentials)."""
        from kit.localnet.ccxt_client import connect

        if name is None:  # no demo key; credentials may still come in ``config`` (apiKey=..., secret=...)
            return connect(self.url, async_=async_, pro=pro, **config)
        api_key, secret = self.credentials(name)
        return connect(self.url, api_key, secret, async_=async_, pro=pro, **config)

    # -------------------------------------------------------------- control
    def call(self, fn: Callable[[Any], Any], timeout: float = 30.0) -> Any:
        """Run ``fn(venue)`` on the server's loop thread and return its result."""
        assert self._loop is not None

        async def run() -> Any:
            return fn(self.venue)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    def step(self, ms: int) -> int:
        """Advance a stepped clock by ``ms`` and run the simulation (returns the new time)."""
        return int(self.call(lambda v: v.step(ms)))

    def set_faults(self, **changes: Any) -> dict[str, Any]:
        """Change fault settings at run time."""
        return dict(self.call(lambda v: v.faults.update(changes)))

    def inject_trade(self, symbol: str, price: Any, qty: Any, side: str = "buy") -> Any:
        """Print a trade now (Binance id, price, quantity, aggressor side)."""
        from decimal import Decimal

        return self.call(
            lambda v: v.inject_trade(symbol, Decimal(str(price)), Decimal(str(qty)), buyer_maker=side == "sell")
        )

    def reset_limits(self) -> None:
        """Forget request weights, bans and order counts."""
        self.call(lambda v: v.limiter.__init__(v.config.limits))

    # -------------------------------------------------------------- lifecycle
    def start(self, timeout: float = 60.0) -> Localnet:
        """Start the server thread and wait until it listens."""
        self._thread = threading.Thread(target=self._run, name="localnet", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("localnet did not start in time")
        if self._error is not None:
            raise RuntimeError(f"localnet failed to start: {self._error}") from self._error
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._main())
        except BaseException as exc:  # surfaced through start()
            self._error = exc
            self._ready.set()
        finally:
            loop.close()

    async def _main(self) -> None:
        from kit.localnet.venue import Venue

        self._stop = asyncio.Event()
        self.venue = Venue(self.config)
        state = self.config.state_dir
        log_path = self.config.log_path or (Path(state) / "requests.log" if state else None)
        self.reqlog = RequestLog(log_path)
        runner: web.AppRunner | None = None
        try:
            app = build_app(self.venue, reqlog=self.reqlog)
            runner = web.AppRunner(app, access_log=None, handle_signals=False)
            await runner.setup()
            site = web.TCPSite(runner, HOST, self._want_port, reuse_address=True)
            await site.start()
            sockets = getattr(site._server, "sockets", None)  # the bound port is only exposed here
            assert sockets
            self.port = sockets[0].getsockname()[1]
            if state:
                self.keys_file = Path(state) / "keys.env"
                write_keys_file(self.keys_file, export_lines(self.config, self.venue.keys_by_name, self.url))
            self.venue.on_live = self._start_ticking  # a stepped clock that goes live starts it then
            if not self.config.stepped:
                self._start_ticking()
            self._ready.set()
            await self._stop.wait()
        finally:
            if self._ticker is not None:
                self._ticker.cancel()
                self._ticker = None  # a later start() ticks again
            if runner is not None:
                await runner.cleanup()
            self.venue.close()
            self.reqlog.close()

    def _start_ticking(self) -> None:
        if self._ticker is None:
            self._ticker = asyncio.ensure_future(self._tick_loop())

    async def _tick_loop(self) -> None:
        interval = self.config.tick_interval_ms / 1000
        while True:
            await asyncio.sleep(interval)
            try:
                await self.venue.tick()
            except Exception:  # keep the market running; the error is logged
                from kit.localnet.venue import log

                log.exception("localnet tick failed")

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the server, flush state, and join the thread."""
        if self._loop is not None and self._stop is not None and self._thread and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout)

    def __enter__(self) -> Localnet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start(*, port: int = 0, config: LocalnetConfig | None = None, **overrides: Any) -> Localnet:
    """Start localnet in a background thread on 127.0.0.1 and return its handle.

    Parameters
    ----------
    port:
        TCP port; 0 picks a free one (read it from ``.url``).
    config:
        Run configuration; keyword ``overrides`` replace its fields (``stepped=True``, ``seed=3``).

    Use as a context manager (``with start() as net: ...``) or call ``.stop()``.
    """
    cfg = replace(config or LocalnetConfig(), **overrides)
    return Localnet(cfg, port).start()


def serve(
    *, port: int = 0, config: LocalnetConfig | None = None, on_ready: Callable[[Localnet], None] | None = None
) -> None:
    """Run in the foreground until interrupted (Ctrl-C)."""
    net = start(port=port, config=config)
    try:
        if on_ready is not None:
            on_ready(net)
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        net.stop()
