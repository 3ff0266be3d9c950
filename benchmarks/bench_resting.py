"""Resting-order scaling: the cost of 1 to 10,000 resting limit orders over a year, in two layouts.

A ``kit.engine.replay.run(..., strategy=)`` callback places N GTC buy limits at bar 0 and does
nothing afterwards; the replay then carries them through the year's 525,600 1-minute candles.

* ``far``: prices spread evenly from 8 % above the year's lowest low down to 45 % below it, so
  most orders rest the whole year while the upper ones fill, one by one, as the price falls to
  them (the single order of the 1-order case sits at 0.8x the low and rests all year);
* ``near``: a grid close under the first close (0.1 % to 5 % below it, the 1-order case at
  1 % below), which the price walks through early on: most of the grid fills.

(All buys: the replay account starts with cash only; 0.01 base each, and cash enough for all.)
A 0-order row (the same callback, placing nothing) shows the replay's per-candle floor. The
figure that matters is the ratio of each case to the 1-order case of its layout (goals, #18:
1,000 orders at most 2x the time of 1, 10,000 at most 4x, in both layouts).

Timing: ``--repeat`` timed runs per case (median and spread) after one warm-up; the cases of
a layout run round-robin (1, 10, ..., 1, 10, ...) so that a busy moment hits all of them.
The process CPU time of each run is printed beside its wall time (``CPU s``, ``CPU vs 1``): on
a shared machine at a load of several runnable processes per core, wall time is mostly the wait
for a core and swings several-fold between runs, CPU time much less.

Usage: ``python benchmarks/bench_resting.py [--repeat 5] [--counts 0,1,10,100,1000,10000] [--layouts far,near]``.
Writes ``benchmarks/out/resting.json``.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
for _p in (str(BENCH), str(ROOT)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import make_candles  # noqa: E402
import strategies as st  # noqa: E402
from bench_replay import fmt_ratio, fmt_s, kit_market, load_avg, table  # noqa: E402

OUT = BENCH / "out"
COUNTS = (0, 1, 10, 100, 1000, 10000)
LAYOUTS = ("far", "near")


def levels(df: pd.DataFrame, n: int, layout: str = "far") -> list[Decimal]:
    """``n`` buy-limit prices for ``layout`` (see the module docstring)."""
    if n == 0:
        return []
    if layout == "near":
        first = float(df["close"].iloc[0])
        prices = np.linspace(first * 0.999, first * 0.95, n) if n > 1 else np.array([first * 0.99])
    else:
        low = float(df["low"].min())
        prices = np.linspace(low * 1.08, low * 0.55, n) if n > 1 else np.array([low * 0.8])
    return [Decimal(f"{p:.2f}") for p in prices]


def run_resting(df: pd.DataFrame, n: int, layout: str = "far") -> dict[str, Any]:
    from kit.engine import replay

    prices = levels(df, n, layout)
    size = Decimal(str(st.SIZE))
    cash = max(int(st.CASH), int(sum(prices) * size * 2) + 1000)

    def strategy(ctx: Any) -> None:
        if ctx.i == 0:
            for p in prices:
                ctx.buy(size, limit=p)

    res = replay.run(df, kit_market(), cash=str(cash), strategy=strategy)
    orders = res.orders
    status = orders["status"].astype(str) if len(orders) else pd.Series(dtype=str)
    return {
        "orders": int(len(orders)),
        "filled": int((status == "filled").sum()),
        "partially_filled": int((status == "partially_filled").sum()),
        "resting_at_end": int(status.isin(["new", "partially_filled"]).sum()),
        "rejected": int((status == "rejected").sum()),
        "fills": int(len(res.fills)),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="timed runs per case (median)")
    ap.add_argument("--layouts", default=",".join(LAYOUTS), help="far,near")
    ap.add_argument("--counts", default=",".join(map(str, COUNTS)), help="resting orders per case")
    ap.add_argument("--rows", type=int, default=make_candles.ROWS)
    ap.add_argument("--json", type=Path, default=OUT / "resting.json")
    args, unknown = ap.parse_known_args(argv)  # run_all passes the same extra arguments to all
    if unknown:
        print(f"(ignoring arguments for the other benchmarks: {' '.join(unknown)})")
    counts = [int(x) for x in args.counts.split(",") if x.strip()]

    df = make_candles.load(rows=args.rows)
    bars = len(df)
    print(f"resting-order scaling over {bars:,} 1-minute candles (kit replay, strategy callback)")
    load_start = load_avg()
    print(f"load average at start: {load_start}")
    print(f"timing: {args.repeat} timed runs per case (median, min-max) after 1 warm-up, cases round-robin\n")

    results: dict[str, dict[int, dict[str, Any]]] = {}
    targets = []
    for layout in [x for x in args.layouts.split(",") if x]:
        res_l: dict[int, dict[str, Any]] = {}
        times: dict[int, list[float]] = {n: [] for n in counts}
        cpu: dict[int, list[float]] = {n: [] for n in counts}  # process CPU seconds: the wait for a core left out
        for n in counts:
            res_l[n] = run_resting(df, n, layout)  # warm-up, and the counts
        for _ in range(args.repeat):
            for n in counts:
                gc.collect()
                c0, t0 = time.process_time(), time.perf_counter()
                run_resting(df, n, layout)
                times[n].append(time.perf_counter() - t0)
                cpu[n].append(time.process_time() - c0)
        for n in counts:
            med = statistics.median(times[n])
            res_l[n].update(median_s=med, times_s=times[n], bars_per_s=bars / med, cpu_s=cpu[n],
                            median_cpu_s=statistics.median(cpu[n]))  # fmt: skip
        results[layout] = res_l
        base = res_l.get(1, {}).get("median_s")
        cbase = res_l.get(1, {}).get("median_cpu_s")
        headers = ["resting orders", "median s", "min-max s", "bars/s", "filled", "resting at end", "vs 1 order",
                   "CPU s", "CPU vs 1"]  # fmt: skip
        rows = []
        for n, r in res_l.items():
            rows.append([f"{n:,}", fmt_s(r["median_s"]), f"{min(r['times_s']):.3f}-{max(r['times_s']):.3f}",
                         f"{r['bars_per_s']:,.0f}", str(r["filled"]), str(r["resting_at_end"]),
                         fmt_ratio(r["median_s"] / base) if base else "-", fmt_s(r["median_cpu_s"]),
                         fmt_ratio(r["median_cpu_s"] / cbase) if cbase else "-"])  # fmt: skip
        print(f"layout: {layout} (load now {load_avg()})")
        print(table(headers, rows, right={0, 1, 2, 3, 4, 5, 6, 7, 8}))
        print()
        for n, goal in ((1000, 2.0), (10000, 4.0)):
            if base and n in res_l:
                ratio = res_l[n]["median_s"] / base
                cratio = res_l[n]["median_cpu_s"] / cbase if cbase else float("nan")
                targets.append(f"[{'PASS' if ratio <= goal else 'FAIL'}] {layout}: {n:,} resting orders at most "
                               f"{goal:g}x of 1: {ratio:.2f}x (CPU time: {cratio:.2f}x)")  # fmt: skip
    if targets:
        print("targets (#18):")
        print("\n".join("  " + t for t in targets))
        print()

    load_end = load_avg()
    print(f"load average at end: {load_end}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": "resting",
        "load_average": {"start": load_start, "end": load_end},
        "generated": pd.Timestamp.now(tz="UTC").isoformat(),
        "bars": bars,
        "repeat": args.repeat,
        "results": results,
        "targets": targets,
    }
    args.json.write_text(json.dumps(payload, indent=2, default=str))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
