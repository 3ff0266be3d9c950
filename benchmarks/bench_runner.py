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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--symbols", type=int, default=10)
    ap.add_argument("--minutes", type=float, default=6.0)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "out" / "runner.json")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-runner-"))
    specs = symbols(args.symbols)
    cfg = LocalnetConfig(seed=7, history_minutes=30, state_dir=tmp / "ln", limits=BIG, symbols=specs)
    net = start(port=0, config=cfg)
    try:
        key, secret = net.credentials("trader")
        env = {k: v for k, v in os.environ.items() if not k.startswith("KIT_")}
        env.update(KIT_HOME=str(tmp / "home"), KIT_LOCALNET_URL=net.url, KIT_LOCALNET_API_KEY=key,
                   KIT_LOCALNET_API_SECRET=secret)  # fmt: skip
        names = [f"{s.base}/{s.quote}" for s in specs]
        cmd = [sys.executable, "-m", "kit", "run", f"{Path(__file__).resolve()}:Flip", "--symbols", ",".join(names),
               "--name", "bench", "--no-reconcile"]  # fmt: skip
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        journal = tmp / "home" / "journal.sqlite"
        t_end = time.time() + args.minutes * 60
        first_close = (time.time() // 60 + 1) * 60 + 5  # start measuring after the first close is handled
        while time.time() < first_close and proc.poll() is None:
            time.sleep(0.5)
        if proc.poll() is not None:
            raise SystemExit(f"kit run ended early ({proc.returncode}): {proc.communicate()[1][-3000:]}")
        cpu0, t0 = cpu_s(proc.pid), time.monotonic()
        rss = [rss_mb(proc.pid)]
        while time.time() < t_end and proc.poll() is None:
            time.sleep(10)
            rss.append(rss_mb(proc.pid))
        cpu1, t1 = cpu_s(proc.pid), time.monotonic()
        proc.terminate()
        out, err = proc.communicate(timeout=60)
        with Journal(journal) as j:
            links = [e for e in j.events(kinds=["decision_order"]) if e.payload.get("run") == "bench"]
            decisions = {e.payload["decision_id"]: e for e in j.events(kinds=["decision"])}
            intents = {e.client_id: e for e in j.events(kinds=["intent"])}
            offset = [e.payload.get("offset_ms", 0) for e in j.events(kinds=["clock"])][-1:] or [0]
        acked = sorted(int(e.payload["latency_ms"]) for e in links if e.payload.get("latency_ms") is not None)
        # sent: the Session journals the intent right before the request goes out (after its pre-send checks)
        sent, decided, first = [], [], []
        for e in links:
            d, it = decisions[e.payload["decision_id"]], intents.get(e.client_id)
            close = int(d.payload["candle_ms"]) + 60_000
            decided.append(d.recorded_ms + int(offset[0]) - close)
            if it is not None:
                sent.append(it.recorded_ms + int(offset[0]) - close)
        per_close: dict[int, list[int]] = {}
        for e in links:
            d = decisions[e.payload["decision_id"]]
            per_close.setdefault(int(d.payload["candle_ms"]), []).append(d.recorded_ms + int(offset[0]))
        first = [min(v) - (k + 60_000) for k, v in per_close.items()]

        def pct(xs: list[int]) -> dict[str, float | None]:
            xs = sorted(xs)
            q = statistics.quantiles(xs, n=100) if len(xs) >= 2 else [float("nan")] * 99
            return {"n": len(xs), "p50": statistics.median(xs) if xs else None, "p99": round(q[98], 1),
                    "max": max(xs) if xs else None}  # fmt: skip

        res = {
            "symbols": len(specs), "minutes": args.minutes, "orders": len(links),
            "close_to_first_decision_ms": pct(first), "close_to_decision_ms": pct(decided),
            "close_to_order_sent_ms": pct(sent), "close_to_order_acked_ms": pct(acked),
            "cpu_pct_one_core": round(100 * (cpu1 - cpu0) / (t1 - t0), 2), "cpu_window_s": round(t1 - t0, 1),
            "rss_first_mb": round(rss[0], 1), "rss_last_mb": round(rss[-1], 1), "rss_max_mb": round(max(rss), 1),
            "rss_change_pct": round(100 * (rss[-1] - rss[0]) / rss[0], 1), "load_avg": os.getloadavg(),
            "exit": proc.returncode, "runner_said": out.strip().splitlines()[-1:] if out else err[-500:],
        }  # fmt: skip
        print(json.dumps(res, indent=2, default=str))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(res, indent=2, default=str))
    finally:
        net.stop()


if __name__ == "__main__":
    main()
