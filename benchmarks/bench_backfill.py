"""Backfill one year of 1m candles from localnet through the store, against a small request-weight limit.

Target (the store's issue): "Backfill a year from localnet using at least 90 % of the allowed
request weight, with no 429."

A year of 1-minute candles is 525,600 candles: 526 ``GET /api/v3/klines`` requests of up to
1000 candles, weight 2 each (``kit.transport.limits.WEIGHTS`` and localnet's ``kit.localnet.limits``
agree), 1,052 weight in all. Against Binance's real 6000 per minute that fits in one minute, so the
limit never binds; here localnet runs with a limit of ``--limit`` weight per window (default 120)
so the backfill needs about nine windows and is paced by the budget, not by the CPU.

``--speed`` runs the localnet that many times faster than real time (default 10), so one weight
"minute" lasts ``60 / speed`` wall seconds (6 s by default); the Session is told with
``weight_window_s`` (what a user of a fast localnet passes) and reads the limit from exchangeInfo.
The localnet's simulated minutes are aligned on the wall windows (as in ``bench_session.py``), and
the localnet runs in a child process, so client and server do not share one GIL.

Two runs on the same localnet, each started on a window boundary:

* **store**: ``Session("localnet", stage="read_only", weight_window_s=...)`` then
  ``Store(root, source=session.candle_source()).candles("BTC/USDT", "1m", start, end)``: the
  store's own fetch, through the Session's shared weight budget.
* **naive ccxt**: the loop a user writes without the kit: a ``ccxt.binance`` with ccxt's own
  ``enableRateLimit=True`` pointed at the same localnet, ``fetch_ohlcv(since=..., limit=1000)`` page
  after page; on a 429 or 418 it sleeps for the response's ``Retry-After`` (converted to wall
  seconds: the localnet's seconds run ``speed`` times faster) and asks again. ccxt paces klines at
  ``rateLimit * cost`` = 50 ms * 0.4 = 20 ms apart, i.e. Binance's real 6000 per minute; it neither
  knows the smaller limit nor reads ``X-MBX-USED-WEIGHT-1M``.

Figures come from localnet's own request log (the weight the server charged per window, every
429/418), not from the clients: requests are placed in windows by their arrival time (log time
minus handling time). Utilisation = weight answered 200 / (limit x windows elapsed), where windows elapsed
runs from the aligned start to the last response (a fraction for the last window); "full windows"
is the mean over the windows before the last one, which the backfill used from start to end.
The Session's budget spends 95 % of the limit per window on its own count, and the last 5 % when
the server's ``X-MBX-USED-WEIGHT-1M`` shows them free (#18, ``kit.transport.limits``). The exit
code is 1 if the store got a 429 or 418 or used less than 95 % counted over whole windows (#18:
the last, partly used window counts as a whole one; the fractional figure is printed beside it).

Run::

    .venv/bin/python benchmarks/bench_backfill.py                        # about 2 minutes
    .venv/bin/python benchmarks/bench_backfill.py --limit 240 --speed 6  # other limit / window
    .venv/bin/python benchmarks/bench_backfill.py --in-flight 1 --skip naive   # one request at a time
    .venv/bin/python benchmarks/bench_backfill.py --limit 1000000 --skip naive # unthrottled: CPU-bound

Writes ``benchmarks/out/backfill.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from kit.localnet import LimitsConfig, LocalnetConfig
from kit.localnet.config import DEFAULT_SYMBOLS
from kit.localnet.server import start

SPAWN = mp.get_context("spawn")
OUT = Path(__file__).resolve().parent / "out"
MIN = 60_000
DAY = 86_400_000
SYMBOL = "BTC/USDT"


# ---------------------------------------------------------------- the server, in its own process


def _serve_child(conn: Any, limit: int, speed: int, history_minutes: int, violations: int, state_dir: str) -> None:
    limits = LimitsConfig(weight_per_minute=limit, violations_before_ban=violations)
    cfg = LocalnetConfig(
        symbols=(DEFAULT_SYMBOLS[0],),
        speed=float(speed),
        history_minutes=history_minutes,
        limits=limits,
        state_dir=Path(state_dir),
    )
    with start(port=0, config=cfg) as net:
        if speed > 1:  # put simulated minute n on wall window n (windows of 60/speed s)

            def align(v: Any) -> int:
                wall = time.time_ns() // 1_000_000
                k = (speed * wall - v.clock.now_ms()) // MIN
                return int(v.clock.set(speed * wall - MIN * k))

            net.call(align)
        conn.send((net.url, int(net.call(lambda v: v.clock.now_ms()))))
        conn.recv()  # "stop"


class Server:
    """A localnet in a child process, with one year (and a day) of synthetic BTCUSDT history."""

    def __init__(self, limit: int, speed: int, days: int, violations: int) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="bench-backfill-"))
        self._conn, child = SPAWN.Pipe()
        args = (child, limit, speed, (days + 1) * 1440, violations, str(self.dir / "ln"))
        self._proc = SPAWN.Process(target=_serve_child, args=args, daemon=True)
        self._proc.start()
        self.url, self.start_ms = self._conn.recv()

    def log(self) -> list[dict[str, Any]]:
        path = self.dir / "ln" / "requests.log"
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def stop(self) -> None:
        self._conn.send("stop")
        self._proc.join(30)
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------- the two contenders


def wait_for_window(window_ms: int) -> float:
    """Sleep until the next weight window starts; return its start (wall seconds)."""
    now = time.time() * 1000
    nxt = (math.floor(now / window_ms) + 1) * window_ms
    time.sleep((nxt - now) / 1000)
    return nxt / 1000


class Pinned:
    """``--in-flight N``: the Session's candle source, saying how many requests may be in flight."""

    def __init__(self, source: Any, n: int) -> None:
        self._source = source
        self.max_in_flight = n

    def __getattr__(self, name: str) -> Any:
        return getattr(self._source, name)


def run_store(
    url: str, home: Path, window_s: float, start_ms: int, end_ms: int, window_ms: int, pinned: int | None
) -> dict[str, Any]:
    os.environ["KIT_LOCALNET_URL"] = url
    os.environ["KIT_HOME"] = str(home)
    from kit.session import Session
    from kit.store import Store
    from kit.store.fill import in_flight

    session = Session("localnet", stage="read_only", dotenv=None, weight_window_s=window_s)
    try:
        budget = session.budget
        assert budget is not None
        source: Any = session.candle_source()
        if pinned is not None:
            source = Pinned(source, pinned)
        n = in_flight(source, source.max_page)
        store = Store(home / "data", source=source)
        t_start = wait_for_window(window_ms)
        frame = store.candles(
            SYMBOL,
            "1m",
            pd.Timestamp(start_ms, unit="ms", tz="UTC"),
            pd.Timestamp(end_ms, unit="ms", tz="UTC"),
            fill="drop",
            progress=False,
        )
        t_end = time.time()
        return {
            "candles": len(frame),
            "t_start": t_start,
            "t_end": t_end,
            "budget_limit": budget.limit,
            "budget_capacity": budget.capacity,
            "in_flight": n,
            "error": "",
        }
    finally:
        session.close()


def run_naive(url: str, speed: int, start_ms: int, end_ms: int, window_ms: int) -> dict[str, Any]:
    import ccxt

    from kit.localnet.ccxt_client import connect

    ex = connect(url, enableRateLimit=True)  # ccxt's own limiter: rateLimit 50 ms x klines cost 0.4
    ex.load_markets()
    rows: list[list[float]] = []
    waited = 0.0
    error = ""
    t_start = wait_for_window(window_ms)
    since = start_ms
    while since < end_ms:
        try:
            page = ex.fetch_ohlcv(SYMBOL, "1m", since=since, limit=1000)
        except ccxt.DDoSProtection as exc:  # 429 (RateLimitExceeded) and 418 (IP ban)
            headers = {k.lower(): v for k, v in (ex.last_response_headers or {}).items()}
            retry_after = float(headers.get("retry-after") or 1)
            pause = retry_after / speed  # localnet's seconds are 1/speed wall seconds
            if pause > 600:
                error = f"{type(exc).__name__}: gave up, Retry-After {retry_after}s"
                break
            waited += pause
            time.sleep(pause)
            continue
        if not page:
            break
        rows += [r for r in page if r[0] < end_ms]
        since = int(page[-1][0]) + MIN
    t_end = time.time()
    return {"candles": len({r[0] for r in rows}), "t_start": t_start, "t_end": t_end, "slept_s": waited, "error": error}


# ---------------------------------------------------------------- figures from the server's log


def figures(log: list[dict[str, Any]], t_start: float, t_end: float, window_ms: int, limit: int) -> dict[str, Any]:
    """Per-window weight as the server counted it, from its request log, for one run."""
    charged: dict[int, int] = defaultdict(int)  # every request (a 429 is charged too, as on Binance)
    answered: dict[int, int] = defaultdict(int)  # requests answered 200: the weight that did work
    statuses: dict[int, int] = defaultdict(int)
    requests = 0
    handling: list[float] = []
    lo, hi = t_start * 1000, t_end * 1000 + 1
    for r in log:
        arrived = datetime.fromisoformat(r["time"]).timestamp() * 1000 - float(r["latency_ms"])
        if not (lo - 5 <= arrived <= hi) or not r["path"].startswith("/api/"):
            continue
        w = int(arrived // window_ms)
        charged[w] += int(r["weight"])
        answered[w] += int(r["weight"]) if r["status"] == 200 else 0
        statuses[int(r["status"])] += 1
        if r["path"] == "/api/v3/klines":
            requests += 1
            handling.append(float(r["latency_ms"]))
    windows = range(int(lo // window_ms), int((hi - 1) // window_ms) + 1)
    per_window = [answered.get(w, 0) for w in windows]
    elapsed = (t_end - t_start) * 1000 / window_ms
    full = per_window[:-1] if len(per_window) > 1 else per_window
    return {
        "requests": requests,
        "weight": sum(per_window),
        "weight_charged": sum(charged.values()),
        "per_window": per_window,
        "max_window_charged": max((charged.get(w, 0) for w in windows), default=0),
        "windows_elapsed": elapsed,
        "utilisation_pct": 100 * sum(per_window) / (limit * elapsed),
        "full_windows_pct": 100 * sum(full) / (limit * len(full)),
        "whole_windows_pct": 100 * sum(per_window) / (limit * len(per_window)),
        "server_ms_p50": statistics.median(handling) if handling else 0.0,
        "status_429": statuses.get(429, 0),
        "status_418": statuses.get(418, 0),
        "statuses": dict(statuses),
    }


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=120, help="localnet request weight per window (default 120)")
    ap.add_argument("--speed", type=int, default=10, help="localnet speed; a window lasts 60/speed s (default 10)")
    ap.add_argument("--days", type=int, default=365, help="days of 1m candles to backfill (default 365)")
    ap.add_argument("--violations", type=int, default=3, help="429s in a window before localnet bans (418)")
    ap.add_argument(
        "--in-flight",
        type=int,
        default=None,
        help="pin the store's requests in flight (default: from the budget; 1: one at a time)",
    )
    ap.add_argument("--skip", action="append", default=[], choices=["store", "naive"])
    args = ap.parse_args(argv)
    if 60_000 % args.speed:
        ap.error("--speed must divide 60000 (whole-millisecond windows)")
    window_ms = 60_000 // args.speed
    print("command:", shlex.join([os.path.relpath(sys.executable), *sys.argv]))
    print(f"load average at start: {os.getloadavg()}, cpus: {os.cpu_count()}")
    t0 = time.time()
    server = Server(args.limit, args.speed, args.days, args.violations)
    print(
        f"localnet up in {time.time() - t0:.1f}s at {server.url}: limit {args.limit} weight per "
        f"{window_ms / 1000:g}s window, {args.days + 1} days of history"
    )
    end_ms = server.start_ms - server.start_ms % MIN - 10 * MIN  # closed and settled at any speed
    start_ms = end_ms - args.days * DAY
    expect = (end_ms - start_ms) // MIN
    home = server.dir / "home"
    results: dict[str, Any] = {"args": vars(args), "candles_expected": expect, "window_s": window_ms / 1000}
    try:
        if "store" not in args.skip:
            ctx = SPAWN.Pool(1)  # a fresh process, as a user's script would be
            try:
                r = ctx.apply(
                    run_store, (server.url, home, window_ms / 1000, start_ms, end_ms, window_ms, args.in_flight)
                )
            finally:
                ctx.close()
                ctx.join()
            r.update(figures(server.log(), r["t_start"], r["t_end"], window_ms, args.limit))
            results["store"] = r
        if "naive" not in args.skip:
            ctx = SPAWN.Pool(1)
            try:
                r = ctx.apply(run_naive, (server.url, args.speed, start_ms, end_ms, window_ms))
            finally:
                ctx.close()
                ctx.join()
            r.update(figures(server.log(), r["t_start"], r["t_end"], window_ms, args.limit))
            results["naive"] = r
    finally:
        server.stop()
    report(results, args.limit, expect)
    results["load_end"] = os.getloadavg()
    OUT.mkdir(exist_ok=True)
    (OUT / "backfill.json").write_text(json.dumps(results, indent=1, default=str))
    st = results.get("store")
    ok = st is None or (st["status_429"] == 0 and st["status_418"] == 0 and st["whole_windows_pct"] >= 95)
    return 0 if ok else 1


COLUMNS = [  # (header, width, value)
    ("candles", 8, lambda r: f"{r['candles']:,}"),
    ("requests", 8, lambda r: str(r["requests"])),
    ("weight", 6, lambda r: str(r["weight"])),
    ("windows", 7, lambda r: f"{r['windows_elapsed']:.2f}"),
    ("whole windows %", 6, lambda r: f"{r['whole_windows_pct']:.1f}"),
    ("util % (last window as a fraction)", 6, lambda r: f"{r['utilisation_pct']:.1f}"),
    ("full %", 6, lambda r: f"{r['full_windows_pct']:.1f}"),
    ("max/win", 7, lambda r: str(r["max_window_charged"])),
    ("429", 4, lambda r: str(r["status_429"])),
    ("418", 4, lambda r: str(r["status_418"])),
    ("wall s", 7, lambda r: f"{r['t_end'] - r['t_start']:.1f}"),
    ("srv ms", 6, lambda r: f"{r['server_ms_p50']:.0f}"),
]
LABELS = {"store": "kit store", "naive": "naive ccxt"}


def report(results: dict[str, Any], limit: int, expect: int) -> None:
    print(f"\nbackfill {expect:,} 1m candles of {SYMBOL}; limit {limit} weight per {results['window_s']:g}s window")
    print(f"{'':12}" + "".join(f" {h:>{w}}" for h, w, _ in COLUMNS))
    for name, label in LABELS.items():
        if name in results:
            print(f"{label:12}" + "".join(f" {f(results[name]):>{w}}" for _, w, f in COLUMNS))
    print(
        "  util % = weight answered 200 / (limit x windows elapsed); full % = the same over the windows before the "
        "last; max/win = most weight the server charged in one window (429s included)"
    )
    for name, label in LABELS.items():
        if name in results:
            r = results[name]
            print(
                f"  {label}: counting the last, partly used window as a whole one: {r['whole_windows_pct']:.1f} % "
                f"over {len(r['per_window'])} windows"
            )
    for name in LABELS:
        r = results.get(name)
        if r is not None:
            print(f"  {name} weight per window: {r['per_window']}")
            if r.get("error"):
                print(f"  {name} error: {r['error']}")
    s, n = results.get("store"), results.get("naive")
    if s is not None:
        print(
            f"  store budget: limit {s['budget_limit']}, spends up to {s['budget_capacity']} per window on its own "
            f"count and up to {s['budget_limit']} when the server's count shows the rest free; "
            f"{s['in_flight']} request(s) in flight"
        )
    if s is not None and n is not None:
        ts, tn = s["t_end"] - s["t_start"], n["t_end"] - n["t_start"]
        print(
            f"  kit store vs naive ccxt: wall time x{ts / tn:.2f}, utilisation {s['utilisation_pct']:.1f} % vs "
            f"{n['utilisation_pct']:.1f} %, 429s {s['status_429']} vs {n['status_429']} "
            f"(naive slept {n['slept_s']:.1f}s on Retry-After)"
        )
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    sys.exit(main())
