"""Benchmark the runner (``kit run``): decision latency, CPU at idle, memory over a soak.

A real-time localnet (the wall clock, ``speed=1``, not stepped) with ``--symbols`` symbols
(BTC/USDT, ETH/USDT and synthetic copies of BTC/USDT) is served by this process; ``kit run`` runs in
a child process on the testnet stage, on 1m candles, with a strategy that trades every candle on
every symbol (:class:`Flip`: buy when flat, sell the position otherwise), so every close of every
symbol gives one decision latency sample. Figures:

- **decision latency**: from the candle's close (exchange time) to the order sent, as the runner
  journals it with each order (``decision_order.latency_ms``: the exchange's clock, i.e. local time
  plus the measured offset, when ``place()`` returned, minus the close time); p50 and p99. Goal:
  p50 under 50 ms on localnet.
- **CPU**: the child's user+system CPU time (``/proc/<pid>/stat``) divided by the wall time, over the
  whole run after start-up (it includes the work at every close: the runner is idle between closes),
  in % of one core. Goal under 5 % with 10 symbols on 1m candles.
- **memory**: the child's RSS sampled every 10 s; first sample after the first close vs the last
  sample, and the max. Goal: flat within 10 %.

Run::

    .venv/bin/python benchmarks/bench_runner.py                    # 10 symbols, 6 minutes
    .venv/bin/python benchmarks/bench_runner.py --minutes 60       # the one-hour soak
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import ROUND_UP, Decimal
from pathlib import Path

from kit.journal.journal import Journal
from kit.localnet import LimitsConfig, LocalnetConfig
from kit.localnet.config import DEFAULT_SYMBOLS
from kit.localnet.server import start
from kit.strategy import Strategy

BIG = LimitsConfig(weight_per_minute=10**9, sapi_weight_per_minute=10**9, orders_per_10s=10**9, orders_per_day=10**9)
HZ = os.sysconf("SC_CLK_TCK")


class Flip(Strategy):
    """One market order per candle: buy when flat, sell the position otherwise."""

    lookback = 5
    notional = Decimal("20")

    def next(self) -> None:
        """Alternate buy and sell (about ``notional`` USDT per buy)."""
        if self.flat:
            self.buy((self.notional / Decimal(repr(self.close))).quantize(Decimal("0.0001"), rounding=ROUND_UP))
        else:
            self.close_position()


def symbols(n: int) -> tuple:  # type: ignore[type-arg]
    """BTC/USDT and ETH/USDT plus synthetic copies of BTC/USDT (``S1USDT`` ...): all quoted in USDT."""
    base = [s for s in DEFAULT_SYMBOLS if s.quote == "USDT"]
    btc = base[0]
    extra = [dataclasses.replace(btc, symbol=f"S{i}USDT", base=f"S{i}", price=Decimal(1000 + 100 * i))
             for i in range(1, max(0, n - len(base)) + 1)]  # fmt: skip
    return tuple((base + extra)[:n])


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


def rss_mb(pid: int) -> float:
    """Resident set size in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(net, specs, args, mode: str, tmp: Path, extra_env: dict | None = None) -> dict:  # type: ignore[no-untyped-def,type-arg]
    """One ``kit run`` child (``mode``: ``batch``, the default runner, or ``serial``) for ``args.minutes``."""
    key, secret = net.credentials("trader")
    home = tmp / f"home-{mode}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIT_")}
    env.update(KIT_HOME=str(home), KIT_LOCALNET_URL=net.url, KIT_LOCALNET_API_KEY=key,
               KIT_LOCALNET_API_SECRET=secret)  # fmt: skip
    env.update(extra_env or {})
    names = [f"{s.base}/{s.quote}" for s in specs]
    cmd = [sys.executable, "-m", "kit", "run", f"{Path(__file__).resolve()}:Flip", "--symbols", ",".join(names),
           "--name", "bench", "--no-reconcile", *(["--serial"] if mode == "serial" else [])]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    journal = home / "journal.sqlite"
    t_end = time.time() + args.minutes * 60
    first_close = (time.time() // 60 + 1) * 60 + 5  # start measuring after the first close is handled
    while time.time() < first_close and proc.poll() is None:
        time.sleep(0.5)
    if proc.poll() is not None:
        raise SystemExit(f"kit run ended early ({proc.returncode}): {proc.communicate()[1][-3000:]}")
    cpu0, t0 = cpu_s(proc.pid), time.monotonic()
    rss = [rss_mb(proc.pid)]
    loads = [os.getloadavg()[0]]
    while time.time() < t_end and proc.poll() is None:
        time.sleep(10)
        rss.append(rss_mb(proc.pid))
        loads.append(os.getloadavg()[0])
    cpu1, t1 = cpu_s(proc.pid), time.monotonic()
    proc.terminate()
    out, err = proc.communicate(timeout=60)
    with Journal(journal) as j:
        links = [e for e in j.events(kinds=["decision_order"]) if e.payload.get("run") == "bench"]
        decisions = {e.payload["decision_id"]: e for e in j.events(kinds=["decision"])}
        intents = {e.client_id: e for e in j.events(kinds=["intent"])}
        offset = [e.payload.get("offset_ms", 0) for e in j.events(kinds=["clock"])][-1:] or [0]
    acked = [int(e.payload["latency_ms"]) for e in links if e.payload.get("latency_ms") is not None]
    arrived = [int(e.payload["arrival_ms"]) for e in links if e.payload.get("arrival_ms") is not None]
    decided, intended, per_close = [], [], {}  # type: ignore[var-annotated]
    for e in links:
        d, it = decisions[e.payload["decision_id"]], intents.get(e.client_id)
        close = int(d.payload["candle_ms"]) + 60_000
        decided.append(d.recorded_ms + int(offset[0]) - close)
        per_close.setdefault(close, []).append(d.recorded_ms + int(offset[0]))
        if it is not None:
            intended.append(it.recorded_ms + int(offset[0]) - close)
    first = [min(v) - k for k, v in per_close.items()]
    # sent: the Session's request log line of each POST /api/v3/order (_sent_ms), against the minute it followed
    sent = []
    for log in sorted((home / "logs").glob("requests.jsonl*")):
        for line in log.read_text().splitlines():
            r = json.loads(line)
            if r.get("method") == "POST" and "/api/v3/order" in str(r.get("url")) and r.get("latency_ms") is not None:
                at = _sent_ms(r) + int(offset[0])
                if min(per_close, default=0) <= at:
                    sent.append(round(at - at // 60_000 * 60_000, 1))
    return {
        "mode": mode, "symbols": len(specs), "minutes": args.minutes, "orders": len(links),
        "close_to_first_decision_ms": pct(first), "close_to_decision_ms": pct(decided),
        "close_to_intent_ms": pct(intended), "close_to_request_sent_ms": pct(sent),
        "close_to_order_at_exchange_ms": pct(arrived),
        "close_to_order_acked_ms": pct(acked),
        "cpu_pct_one_core": round(100 * (cpu1 - cpu0) / (t1 - t0), 2), "cpu_window_s": round(t1 - t0, 1),
        "rss_first_mb": round(rss[0], 1), "rss_last_mb": round(rss[-1], 1), "rss_max_mb": round(max(rss), 1),
        "rss_change_pct": round(100 * (rss[-1] - rss[0]) / rss[0], 1), "rss_series_mb": [round(x, 1) for x in rss],
        "load_1m_min_max": [round(min(loads), 1), round(max(loads), 1)],
        "exit": proc.returncode, "runner_said": out.strip().splitlines()[-1:] if out else err[-500:],
        "timeline_ms": timeline(home, tmp / "ln" / "requests.log", int(offset[0])),
    }  # fmt: skip


def _sent_ms(r: dict) -> float:  # type: ignore[type-arg]
    """When a request of the Session's request log left.

    ``sent_ms`` when the line has it (requests sent together, :meth:`kit.session.Session.place_many`:
    when ccxt started building it); else the line's time minus the request's duration (a request
    sent alone: the line is written as its answer comes).
    """
    return float(r["sent_ms"]) if r.get("sent_ms") is not None else float(r["ts_ms"] - r["latency_ms"])


def _iso_ms(text: str) -> float:
    """``2026-12-04T15:39:00.050+00:00`` (localnet's request log) -> epoch ms."""
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000


def timeline(home: Path, ln_log: Path, offset_ms: int = 0) -> dict[str, dict[str, float | None]]:
    """Where the time of a close goes: each step's first and last moment after the close, per close.

    From the three records a run leaves (no instrumentation of the code measured): the Session's
    request log (``ts_ms`` when the answer came, ``latency_ms`` the request's own duration, so
    sent = ``ts_ms - latency_ms``), localnet's request log (the time a request was answered and how
    long localnet's handler took; the order's signed ``timestamp``, which ccxt takes as it builds the
    request) and the journal (when each decision and intent row was written). Every figure is ms
    after the candle's close on the exchange's clock; the median over the closes and the max.
    """
    from urllib.parse import parse_qs

    steps: dict[int, dict[str, list[float]]] = {}

    def note(step: str, at: float) -> None:
        close = int(at // 60_000 * 60_000)
        if at - close < 30_000:  # a close's work ends well within half a minute
            steps.setdefault(close, {}).setdefault(step, []).append(at - close)

    for log in sorted((home / "logs").glob("requests.jsonl*")):
        for line in log.read_text().splitlines():
            r = json.loads(line)
            url, lat = str(r.get("url")), r.get("latency_ms")
            if lat is None:
                continue
            kind = "kline" if "klines" in url else "order" if r.get("method") == "POST" and "/order" in url else ""
            if kind:
                note(f"{kind} request sent", _sent_ms(r) + offset_ms)
                note(f"{kind} answer received", r["ts_ms"] + offset_ms)
    for line in ln_log.read_text().splitlines() if ln_log.exists() else []:
        r = json.loads(line)
        path = r["path"]
        kind = "kline" if "klines" in path else "order" if r["method"] == "POST" and path == "/api/v3/order" else ""
        if not kind:
            continue
        done = _iso_ms(r["time"])
        note(f"{kind} handler start (localnet)", done - r["latency_ms"])
        note(f"{kind} answered (localnet)", done)
        if kind == "order":
            note("order signed (its timestamp)", float(parse_qs(r["params"]).get("timestamp", ["nan"])[0]))
    with Journal(home / "journal.sqlite") as j:
        for kind in ("decision", "intent", "decision_order"):
            for e in j.events(kinds=[kind]):
                note(f"{kind} journaled", float(e.recorded_ms or 0) + offset_ms)
    order = ["kline request sent", "kline handler start (localnet)", "kline answered (localnet)",
             "kline answer received", "decision journaled", "intent journaled", "order signed (its timestamp)",
             "order request sent", "order handler start (localnet)", "order answered (localnet)",
             "order answer received", "decision_order journaled"]  # fmt: skip
    closes = [c for c, s in steps.items() if "order request sent" in s]
    out: dict[str, dict[str, float | None]] = {}
    for step in order:
        firsts = [min(steps[c][step]) for c in closes if step in steps[c]]
        lasts = [max(steps[c][step]) for c in closes if step in steps[c]]
        out[step] = {"closes": len(firsts), "first_p50": _med(firsts), "last_p50": _med(lasts),
                     "last_max": round(max(lasts), 1) if lasts else None}  # fmt: skip
    return out


def _med(xs: list[float]) -> float | None:
    return round(statistics.median(xs), 1) if xs else None


def pct(xs: list[int] | list[float]) -> dict[str, float | None]:
    """n, p50, p99 and max of a sample."""
    xs = sorted(xs)
    q = statistics.quantiles(xs, n=100) if len(xs) >= 2 else [float("nan")] * 99
    return {"n": len(xs), "p50": statistics.median(xs) if xs else None, "p99": round(q[98], 1),
            "max": max(xs) if xs else None}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--symbols", type=int, default=10)
    ap.add_argument("--minutes", type=float, default=6.0, help="per mode")
    ap.add_argument("--modes", default="serial,batch", help="batch (the runner's default), serial, or both")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "out" / "runner.json")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-runner-"))
    specs = symbols(args.symbols)
    cfg = LocalnetConfig(seed=7, history_minutes=30, state_dir=tmp / "ln", limits=BIG, symbols=specs)
    net = start(port=0, config=cfg)
    try:
        res = [measure(net, specs, args, mode, tmp) for mode in args.modes.split(",")]
    finally:
        net.stop()
    print(json.dumps(res, indent=2, default=str))
    rows = [("close -> first decision p50", "close_to_first_decision_ms", "p50"),
            ("close -> decision p50", "close_to_decision_ms", "p50"),
            ("close -> order request sent p50", "close_to_request_sent_ms", "p50"),
            ("close -> order request sent p99", "close_to_request_sent_ms", "p99"),
            ("close -> order at the exchange p50", "close_to_order_at_exchange_ms", "p50"),
            ("close -> order at the exchange p99", "close_to_order_at_exchange_ms", "p99"),
            ("close -> acked p50", "close_to_order_acked_ms", "p50"),
            ("close -> acked p99", "close_to_order_acked_ms", "p99")]  # fmt: skip
    print(f"\n{'':38}" + "".join(f"{r['mode']:>12}" for r in res) + ("  ratio" if len(res) == 2 else ""))
    for label, key, q in rows:
        vals = [r[key][q] for r in res]
        ratio = f"  {vals[0] / vals[1]:.1f}x" if len(vals) == 2 and vals[1] else ""
        print(f"{label:38}" + "".join(f"{v if v is not None else '-':>12}" for v in vals) + ratio)
    print(f"{'CPU % of one core':38}" + "".join(f"{r['cpu_pct_one_core']:>12}" for r in res))
    print(f"{'RSS first -> last MB':38}" + "".join(f"{r['rss_first_mb']:>6}->{r['rss_last_mb']:<5}" for r in res))
    print(f"{'load (1 min) min-max':38}" + "".join(f"{str(r['load_1m_min_max']):>12}" for r in res))
    for r in res:
        print(
            f"\nwhere a close's time goes ({r['mode']}; ms after the close: median over closes of the first and"
            " the last of each step, and the worst last)"
        )
        print(f"{'step':38}{'first p50':>12}{'last p50':>12}{'last max':>12}")
        for step, v in r["timeline_ms"].items():
            cells = [v[k] if v[k] is not None else "-" for k in ("first_p50", "last_p50", "last_max")]
            print(f"{step:38}" + "".join(f"{c:>12}" for c in cells))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2, default=str))


if __name__ == "__main__":
    main()
