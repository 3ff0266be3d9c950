"""Resting-order scaling: the cost of 1, 10, 100 and 1,000 resting limit orders over a year.

A ``kit.engine.replay.run(..., strategy=)`` callback places N GTC buy limits at bar 0 and does
nothing afterwards; the replay then carries them through the year's 525,600 1-minute candles.
The prices are spread evenly from 8 % above the year's lowest low down to 45 % below it, so most
orders rest the whole year while the upper ones fill, one by one, as the price falls to them
(the single order of the 1-order case sits at 0.8x the low and rests all year).
(All buys: the replay account starts with cash only. 0.01 base each; cash 1e6 covers 1,000.)

A 0-order row (the same callback, placing nothing) shows the replay's per-candle floor. The
figure that matters is the ratio of each case to the 1-order case (target: 100 orders at most
2x the time of 1).

Usage: ``python benchmarks/bench_resting.py [--repeat 3] [--counts 1,10,100,1000]``.
Writes ``benchmarks/out/resting.json``.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
import traceback
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
COUNTS = (0, 1, 10, 100, 1000)


def levels(df: pd.DataFrame, n: int) -> list[Decimal]:
    """``n`` buy-limit prices, evenly spaced from 1.08x to 0.55x the year's lowest low.

    A single order sits at 0.8x the low: it rests the whole year.
    """
    if n == 0:
        return []
    low = float(df["low"].min())
    prices = np.linspace(low * 1.08, low * 0.55, n) if n > 1 else np.array([low * 0.8])
    return [Decimal(f"{p:.2f}") for p in prices]


def run_resting(df: pd.DataFrame, n: int) -> dict[str, Any]:
    from kit.engine import replay

    prices = levels(df, n)
    size = Decimal(str(st.SIZE))

    def strategy(ctx: Any) -> None:
        if ctx.i == 0:
            for p in prices:
                ctx.buy(size, limit=p)

    res = replay.run(df, kit_market(), cash=str(int(st.CASH)), strategy=strategy)
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
    ap.add_argument("--repeat", type=int, default=3, help="timed warm runs per case (best of)")
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
    print(f"timing: best of {args.repeat} warm runs after 1 warm-up run, per case\n")

    results: dict[int, dict[str, Any]] = {}
    for n in counts:
        print(f"  {n:5d} resting orders ...", end="", flush=True)
        try:
            res = run_resting(df, n)  # warm-up
            times = []
            for _ in range(args.repeat):
                gc.collect()
                t0 = time.perf_counter()
                res = run_resting(df, n)
                times.append(time.perf_counter() - t0)
        except Exception as exc:
            results[n] = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
            print(f" FAILED: {type(exc).__name__}: {exc}")
            continue
        res.update(best_s=min(times), times_s=times, bars_per_s=bars / min(times))
        results[n] = res
        print(f" {min(times):.3f}s  filled {res['filled']}, resting at end {res['resting_at_end']}")
    print()

    base = results.get(1, {}).get("best_s")
    headers = ["resting orders", "best s", "bars/s", "filled", "resting at end", "rejected", "vs 1 order"]
    rows = []
    for n, r in results.items():
        if "error" in r:
            rows.append([str(n), "FAILED", "", "", "", "", r["error"][:60]])
            continue
        rows.append(
            [
                f"{n:,}",
                fmt_s(r["best_s"]),
                f"{r['bars_per_s']:,.0f}",
                str(r["filled"]),
                str(r["resting_at_end"]),
                str(r["rejected"]),
                fmt_ratio(r["best_s"] / base) if base else "-",
            ]
        )
    print(table(headers, rows, right={0, 1, 2, 3, 4, 5, 6}))
    print()
    targets = []
    if base and "best_s" in results.get(100, {}):
        ratio = results[100]["best_s"] / base
        targets.append(f"[{'PASS' if ratio <= 2 else 'FAIL'}] 100 resting orders at most 2x of 1: {ratio:.2f}x")
    if base and "best_s" in results.get(1000, {}):
        targets.append(f"[info] 1,000 resting orders vs 1: {results[1000]['best_s'] / base:.2f}x")
    if targets:
        print("targets (from the issue):")
        print("\n".join("  " + t for t in targets))
        print()
    for n, r in results.items():
        if "traceback" in r:
            print(f"--- {n} resting orders failed:\n{r['traceback']}")

    load_end = load_avg()
    print(f"load average at end: {load_end}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": "resting",
        "load_average": {"start": load_start, "end": load_end},
        "generated": pd.Timestamp.now(tz="UTC").isoformat(),
        "bars": bars,
        "repeat": args.repeat,
        "results": {str(k): v for k, v in results.items()},
        "targets": targets,
    }
    args.json.write_text(json.dumps(payload, indent=2, default=str))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
