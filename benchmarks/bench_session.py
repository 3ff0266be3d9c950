"""Benchmark the Session on localnet: the shared rate budget under load, and the Session's own overhead.

(a) Budget: bulk reads (``session.balances()``, weight 20 each) against a localnet whose limit is
    ``--limit`` weight per minute, first from one process, then from ``--procs`` processes at once,
    each phase exactly one server weight window long and aligned on it. The server's own request
    log gives the weight it counted in the window and every 429/418. Targets: >= 90 % of the
    allowed weight used, zero 429s. (The Session spends ``headroom`` = 95 % of the limit, so the
    ceiling is 95 %, minus what does not divide into weight-20 requests.)
    ``--fast`` runs the localnet 60x faster than real time, so a weight "minute" lasts one wall
    second and each phase covers ``--windows`` windows instead of one real minute; the Sessions are
    told with ``weight_window_s``.
(b) Overhead: ``session.ticker()`` against the bare ccxt.pro client the Session wraps, calling
    ``fetch_ticker`` on the same localnet (same endpoint, same HTTP stack, an asyncio loop in the
    calling thread): p50 and p99 of each, interleaved in blocks so both see the same machine state.
    Target: < 1 ms added at p50.
(c) Budget: ``WeightBudget.acquire(1)`` alone on a file in a temporary directory (one lock, one
    64-byte read and one write of the shared state record per call): p50 and p99.

The localnet runs in a child process (as ``kit localnet serve`` would), so clients and server do
not share one GIL. Credentials come back over a pipe and are never printed.

Run::

    .venv/bin/python benchmarks/bench_session.py               # (a) real minutes: about 3 minutes
    .venv/bin/python benchmarks/bench_session.py --fast        # (a) 1-second windows: about 30 s
    .venv/bin/python benchmarks/bench_session.py --skip budget # only (b) and (c)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import statistics
import tempfile
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

from kit.localnet import LimitsConfig, LocalnetConfig
from kit.localnet.server import start

SPAWN = mp.get_context("spawn")
BIG = LimitsConfig(weight_per_minute=10**9, sapi_weight_per_minute=10**9, orders_per_10s=10**9, orders_per_day=10**9)
OUT = Path(__file__).parent / "out"


# ---------------------------------------------------------------- the server, in its own process


def _serve_child(conn: Any, limit: int | None, speed: int, state_dir: str) -> None:
    limits = BIG if limit is None else LimitsConfig(weight_per_minute=limit, violations_before_ban=2)
    cfg = LocalnetConfig(
        stepped=speed == 0, speed=float(speed or 1), history_minutes=30, limits=limits, state_dir=Path(state_dir)
    )
    with start(port=0, config=cfg) as net:
        if speed > 1:  # put simulated minute n on wall window n (windows of 60/speed s)

            def align(v: Any) -> int:
                wall = time.time_ns() // 1_000_000
                k = (speed * wall - v.clock.now_ms()) // 60_000
                return int(v.clock.set(speed * wall - 60_000 * k))

            net.call(align)
        conn.send((net.url, net.credentials("trader")))
        conn.recv()  # "stop"


class Server:
    """A localnet in a child process; ``env`` points a Session at it."""

    def __init__(self, limit: int | None, speed: int) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="bench-session-"))
        self._conn, child = SPAWN.Pipe()
        self._proc = SPAWN.Process(target=_serve_child, args=(child, limit, speed, str(self.dir / "ln")), daemon=True)
        self._proc.start()
        self.url, (key, secret) = self._conn.recv()
        self.env = {
            "KIT_LOCALNET_URL": self.url,
            "KIT_LOCALNET_API_KEY": key,
            "KIT_LOCALNET_API_SECRET": secret,
            "KIT_HOME": str(self.dir / "home"),
        }

    def log(self) -> list[dict[str, Any]]:
        path = self.dir / "ln" / "requests.log"
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def stop(self) -> None:
        self._conn.send("stop")
        self._proc.join(30)


# ---------------------------------------------------------------- (a) the shared budget


def _reader(env: dict[str, str], window_s: float, start_at: float, end_at: float, out: Any) -> None:
    os.environ.update(env)
    from kit.session import Session

    s = Session("localnet", dotenv=None, weight_window_s=window_s)
    n, error = 0, ""
    time.sleep(max(0.0, start_at - time.time()))
    try:
        while time.time() < end_at:
            s.balances()
            n += 1
    except Exception as exc:  # reported in the table
        error = f"{type(exc).__name__}: {exc}"[:200]
    finally:
        s.close()
    out.put((n, error))


def _window_weights(log: list[dict[str, Any]], window_ms: int) -> tuple[dict[int, int], dict[int, int]]:
    used: dict[int, int] = defaultdict(int)
    statuses: dict[int, int] = defaultdict(int)
    for r in log:
        if not r["path"].startswith("/api/"):
            continue
        w = int(datetime.fromisoformat(r["time"]).timestamp() * 1000) // window_ms
        used[w] += r["weight"]
        statuses[r["status"]] += 1
    return dict(used), dict(statuses)


def bench_budget(limit: int, procs_list: list[int], fast: bool, windows: int) -> list[dict[str, Any]]:
    speed = 60 if fast else 1
    window_ms = 60_000 // speed
    rows = []
    for procs in procs_list:
        server = Server(limit, speed)
        try:
            now_ms = time.time() * 1000
            # start on the window after next (time to spawn and connect), run `windows` whole windows
            first = int(now_ms // window_ms) + (5 if fast else 1)
            if not fast and (first * window_ms - now_ms) < 8_000:
                first += 1  # leave the processes at least 8 s to start and connect
            start_at, end_at = first * window_ms / 1000, (first + windows) * window_ms / 1000
            out = SPAWN.Queue()
            ps = [
                SPAWN.Process(target=_reader, args=(server.env, window_ms / 1000, start_at, end_at, out))
                for _ in range(procs)
            ]
            for p in ps:
                p.start()
            results = [out.get(timeout=end_at - time.time() + 120) for _ in ps]
            for p in ps:
                p.join(60)
            used, statuses = _window_weights(server.log(), window_ms)
            measured = [used.get(w, 0) for w in range(first, first + windows)]
            rows.append(
                {
                    "processes": procs,
                    "windows": windows,
                    "window_s": window_ms / 1000,
                    "limit": limit,
                    "used_per_window": measured,
                    "used_pct": 100 * statistics.mean(measured) / limit,
                    "max_pct": 100 * max(measured) / limit,
                    "reads": sum(n for n, _ in results),
                    "status_429": statuses.get(429, 0),
                    "status_418": statuses.get(418, 0),
                    "errors": [e for _, e in results if e],
                }
            )
        finally:
            server.stop()
    return rows


# ---------------------------------------------------------------- (b) overhead


def bench_overhead(n: int, block: int) -> dict[str, Any]:
    server = Server(None, 0)
    os.environ.update(server.env)
    from kit.localnet.ccxt_client import connect
    from kit.session import Session

    s = Session("localnet", dotenv=None)
    loop = asyncio.new_event_loop()
    bare = connect(
        server.url, server.env["KIT_LOCALNET_API_KEY"], server.env["KIT_LOCALNET_API_SECRET"], pro=True,
        enableRateLimit=False,
    )  # fmt: skip
    loop.run_until_complete(bare.load_markets())
    t_bare: list[float] = []
    t_sess: list[float] = []
    try:
        for _ in range(200):  # warm-up: connection pools, code paths
            loop.run_until_complete(bare.fetch_ticker("BTC/USDT"))
            s.ticker("BTC/USDT")
        done = 0
        while done < n:
            for _ in range(block):
                t0 = time.perf_counter()
                loop.run_until_complete(bare.fetch_ticker("BTC/USDT"))
                t_bare.append((time.perf_counter() - t0) * 1000)
            for _ in range(block):
                t0 = time.perf_counter()
                s.ticker("BTC/USDT")
                t_sess.append((time.perf_counter() - t0) * 1000)
            done += block
    finally:
        loop.run_until_complete(bare.close())
        loop.close()
        s.close()
        server.stop()

    def pct(xs: list[float], q: float) -> float:
        ys = sorted(xs)
        return ys[min(len(ys) - 1, int(q * (len(ys) - 1)))]

    return {
        "n": n,
        "bare_p50_ms": statistics.median(t_bare),
        "bare_p99_ms": pct(t_bare, 0.99),
        "session_p50_ms": statistics.median(t_sess),
        "session_p99_ms": pct(t_sess, 0.99),
        "overhead_p50_ms": statistics.median(t_sess) - statistics.median(t_bare),
        "overhead_p99_ms": pct(t_sess, 0.99) - pct(t_bare, 0.99),
    }


# ---------------------------------------------------------------- (c) the budget alone


def bench_acquire(n: int) -> dict[str, Any]:
    from kit.transport.limits import WeightBudget

    with tempfile.TemporaryDirectory(prefix="bench-budget-") as d:
        budget = WeightBudget("bench", limit_per_minute=10**9, directory=d, window_s=10**9)
        for _ in range(200):
            budget.acquire(1)
        ts = []
        for _ in range(n):
            t0 = time.perf_counter()
            budget.acquire(1)
            ts.append((time.perf_counter() - t0) * 1e6)
        if hasattr(budget, "close"):  # (kit before the binary record had no close())
            budget.close()
    ts.sort()
    return {"n": n, "p50_us": statistics.median(ts), "p99_us": ts[min(n - 1, int(0.99 * (n - 1)))]}


# ---------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=1200, help="localnet weight per minute for (a)")
    ap.add_argument("--procs", type=int, default=4, help="processes in the concurrent phase of (a)")
    ap.add_argument("--fast", action="store_true", help="(a) on 1-second windows (localnet at 60x)")
    ap.add_argument("--windows", type=int, default=None, help="windows per phase of (a) (default 1, --fast 10)")
    ap.add_argument("--n", type=int, default=3000, help="calls of each kind in (b)")
    ap.add_argument("--skip", action="append", default=[], choices=["budget", "overhead", "acquire"])
    args = ap.parse_args()
    windows = args.windows or (10 if args.fast else 1)
    print(f"load average at start: {os.getloadavg()}, cpus: {os.cpu_count()}")
    result: dict[str, Any] = {}
    if "budget" not in args.skip:
        rows = bench_budget(args.limit, [1, args.procs], args.fast, windows)
        result["budget"] = rows
        print("\n(a) bulk reads (balances, weight 20) against the localnet weight limit")
        print(f"{'procs':>5} {'window':>7} {'windows':>7} {'limit':>6} {'used/window':>24} {'mean %':>7} "
              f"{'max %':>6} {'reads':>6} {'429':>4} {'418':>4}")  # fmt: skip
        for r in rows:
            print(
                f"{r['processes']:>5} {r['window_s']:>6.0f}s {r['windows']:>7} {r['limit']:>6} "
                f"{_short(r['used_per_window']):>24} {r['used_pct']:>7.1f} {r['max_pct']:>6.1f} {r['reads']:>6} "
                f"{r['status_429']:>4} {r['status_418']:>4}"
            )
            for e in r["errors"]:
                print(f"      error: {e}")
    if "overhead" not in args.skip:
        o = bench_overhead(args.n, 100)
        result["overhead"] = o
        print(f"\n(b) session.ticker() vs bare ccxt.pro fetch_ticker on localnet, n={o['n']} each (ms)")
        print(f"{'':>10} {'bare':>8} {'session':>8} {'added':>8}")
        for q in ("p50", "p99"):
            print(f"{q:>10} {o[f'bare_{q}_ms']:>8.3f} {o[f'session_{q}_ms']:>8.3f} {o[f'overhead_{q}_ms']:>8.3f}")
    if "acquire" not in args.skip:
        a = bench_acquire(5000)
        result["acquire"] = a
        print(f"\n(c) WeightBudget.acquire(1) alone, n={a['n']}: p50 {a['p50_us']:.1f} us, p99 {a['p99_us']:.1f} us")
    print(f"\nload average at end: {os.getloadavg()}")
    OUT.mkdir(exist_ok=True)
    (OUT / "session.json").write_text(json.dumps(result, indent=2))


def _short(xs: list[int]) -> str:
    text = ",".join(str(x) for x in xs)
    return text if len(text) <= 24 else text[:21] + "..."


if __name__ == "__main__":
    main()
