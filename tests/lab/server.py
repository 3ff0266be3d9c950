"""A localnet in its own process, so a chaos run can kill the client without killing the exchange.

``python -m lab.server --port 0 --state-dir DIR`` serves a localnet on 127.0.0.1 in the
foreground (real-time clock, short synthetic history, rate limits small enough that a burst
reaches 429 and a short 418 ban quickly) and prints one line, ``URL http://127.0.0.1:PORT``.
:class:`ServerProcess` starts it as a subprocess, restarts it on the same port and state
directory (gracefully with SIGINT, or crashed with SIGKILL), and drives its admin endpoints:
faults, injected trades, clock steps, stream disconnects, limit resets.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

__all__ = ["CHAOS_LIMITS", "ServerProcess", "main"]

#: Rate limits of a chaos localnet: Binance's weight budget (6000 per minute), but a 418 comes after two
#: 429s and lasts three seconds (Binance: bans from 2 minutes), so a run can afford one.
CHAOS_LIMITS: dict[str, Any] = {
    "weight_per_minute": 6000,
    "sapi_weight_per_minute": 12000,
    "orders_per_10s": 1000,
    "orders_per_day": 1_000_000,
    "violations_before_ban": 2,
    "ban_base_s": 3.0,
    "ban_max_s": 6.0,
}


def main(argv: list[str] | None = None) -> None:
    """Serve a chaos localnet in the foreground until SIGINT/SIGTERM."""
    ap = argparse.ArgumentParser(prog="python -m lab.server", description=__doc__)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--state-dir", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--history-minutes", type=int, default=60)
    args = ap.parse_args(argv)

    from kit.localnet import LimitsConfig, LocalnetConfig
    from kit.localnet.server import start

    cfg = LocalnetConfig(
        seed=args.seed,
        state_dir=args.state_dir,
        history_minutes=args.history_minutes,
        limits=LimitsConfig(**CHAOS_LIMITS),
    )
    net = start(port=args.port, config=cfg)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"URL {net.url}", flush=True)
    try:
        stop.wait()
    finally:
        net.stop()


class ServerProcess:
    """A chaos localnet subprocess (see the module docstring).

    Parameters
    ----------
    state_dir
        Its SQLite state, request log and keys file; kept across restarts.
    seed
        Seed of the synthetic market.
    log_path
        Where the server's stdout/stderr go (default ``state_dir/server.out``).
    """

    def __init__(self, state_dir: Path, *, seed: int = 7, log_path: Path | None = None) -> None:
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.seed = seed
        self.log_path = log_path or self.state_dir / "server.out"
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self.crashes = 0

    # -- lifecycle ---------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def keys_file(self) -> Path:
        """The 0600 dotenv file with the demo keys (what a Session reads with ``dotenv=``)."""
        return self.state_dir / "keys.env"

    def start(self, timeout: float = 60.0) -> ServerProcess:
        """Start the server (on the previous port after the first start) and wait for its URL line."""
        cmd = [
            sys.executable,
            "-m",
            "lab.server",
            "--port",
            str(self.port),
            "--state-dir",
            str(self.state_dir),
            "--seed",
            str(self.seed),
        ]
        out = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=out, env=_child_env())
        out.close()
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        line = b""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if line.startswith(b"URL ") or not line:
                break
        if not line.startswith(b"URL "):
            self.proc.stdout.close()
            self.kill()
            raise RuntimeError(f"chaos localnet did not start (see {self.log_path})")
        self.port = int(line.split()[1].rsplit(b":", 1)[1])
        threading.Thread(target=self._drain, args=(self.proc,), daemon=True).start()
        return self

    @staticmethod
    def _drain(proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        with contextlib.suppress(ValueError, OSError), proc.stdout:
            for _ in proc.stdout:
                pass

    def stop(self, timeout: float = 30.0) -> None:
        """Stop gracefully (SIGINT: state flushed)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        """Crash it (SIGKILL: no flush; its SQLite state must survive that)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def restart(self, *, crash: bool = False, down_s: float = 0.0) -> float:
        """Stop (or crash) and start again on the same port and state; returns the seconds it was down."""
        t0 = time.monotonic()
        if crash:
            self.kill()
            self.crashes += 1
        else:
            self.stop()
        if down_s:
            time.sleep(down_s)
        for attempt in range(20):  # the port may linger for a moment after a crash
            try:
                self.start()
                break
            except RuntimeError:
                if attempt == 19:
                    raise
                time.sleep(0.25)
        self.restarts += 1
        return time.monotonic() - t0

    @property
    def alive(self) -> bool:
        """True while the server process runs."""
        return self.proc is not None and self.proc.poll() is None

    # -- admin -------------------------------------------------------------------------------------
    def admin(self, method: str, path: str, body: dict[str, Any] | None = None, *, timeout: float = 10.0) -> Any:
        """Call an admin endpoint (loopback, unsigned); returns the decoded JSON."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read() or b"null")

    def set_faults(self, **changes: Any) -> dict[str, Any]:
        """Change fault settings (``maintenance=True``, ``error_rate=0.3`` ...)."""
        return dict(self.admin("POST", "/_localnet/faults", changes))

    def clear_faults(self) -> dict[str, Any]:
        """Every fault off."""
        return self.set_faults(
            latency_ms=0,
            latency_jitter_ms=0,
            error_rate=0,
            error_burst=0,
            drop_ack_rate=0,
            ws_disconnect_rate=0,
            clock_skew_ms=0,
            maintenance=False,
        )

    def inject_trade(self, symbol_id: str, price: Any, qty: Any, side: str = "sell") -> Any:
        """Print a trade (Binance id ``BTCUSDT``); resting orders it crosses fill."""
        return self.admin(
            "POST", "/_localnet/trade", {"symbol": symbol_id, "price": str(price), "qty": str(qty), "side": side}
        )

    def step_clock(self, ms: int) -> int:
        """Move the venue clock forward by ``ms`` (market time jumps; signed timestamps are unaffected)."""
        return int(self.admin("POST", "/_localnet/clock/step", {"ms": int(ms)})["now_ms"])

    def state(self) -> dict[str, Any]:
        """``GET /_localnet/state``: clock, symbols, key names and fingerprints."""
        return dict(self.admin("GET", "/_localnet/state"))

    def disconnect_streams(self, *, abort: bool = False) -> int:
        """Close every live WebSocket (``abort``: cut TCP without a close frame)."""
        mode = "abort" if abort else "close"
        return int(self.admin("POST", f"/_localnet/streams/disconnect?mode={mode}")["disconnected"])

    def reset_limits(self) -> None:
        """Forget request weights and bans."""
        self.admin("POST", "/_localnet/limits/reset", {})

    def get(self, path: str, *, timeout: float = 10.0) -> int:
        """An unsigned GET on the public API; returns the HTTP status (429/418 included)."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout) as resp:
                resp.read()
                return int(resp.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    def secrets(self) -> list[str]:
        """Every key and secret in the keys file (what must never appear in a log)."""
        out = []
        for line in self.keys_file.read_text().splitlines():
            name, _, value = line.removeprefix("export ").partition("=")
            if "_API_" in name and value:
                out.append(value.strip().strip("'\""))
        return out

    def credentials(self) -> tuple[str, str]:
        """(api key, secret) of the trading key."""
        env = {}
        for line in self.keys_file.read_text().splitlines():
            name, _, value = line.removeprefix("export ").partition("=")
            env[name] = value.strip().strip("'\"")
        return env["KIT_LOCALNET_API_KEY"], env["KIT_LOCALNET_API_SECRET"]


def _child_env() -> dict[str, str]:
    """The environment of a lab subprocess: unbuffered, with ``tests/`` importable (``-m lab.*``)."""
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    tests_dir = str(Path(__file__).resolve().parent.parent)
    parts = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if tests_dir not in parts:
        env["PYTHONPATH"] = os.pathsep.join([tests_dir, *parts])
    return env


if __name__ == "__main__":
    main()
