"""Interleaved pairs: kit against the contender that makes the same trades, same runs for each.

Usage::

    .venv/bin/python benchmarks/bench_pairs.py                  # 9 pairs per comparison, one year
    .venv/bin/python benchmarks/bench_pairs.py --pairs 15 --growth

Each comparison times kit and its contender alternately (A B, then B A, ...), ``--pairs`` times
each after one untimed warm-up run of each, so a busy moment of the shared machine hits both
alike. Printed per comparison: the median time of each with its spread (min-max), the median of
the per-pair ratios kit / contender with their spread, the trades each made, and the load
average before and after. A run is the whole call a user makes for the result, fills and final
equity included (kit: ``replay.run``; vectorbt: the ``Portfolio`` plus ``final_value()``;
backtesting.py: ``Backtest.run``, stats included); summarising the trades happens after timing.

Comparisons (the issue's goals in brackets):

* market orders: kit signals vs vectorbt ``from_signals`` (same 11,902 fills) [kit <= 0.8x];
* limit orders, resting GTC: kit signals vs vectorbt ``from_order_func`` with a numba order
  function that rests and cancels like kit (same 1,609 fills) [kit <= 0.8x];
* market orders through a per-candle callback: kit callback vs backtesting.py [kit >= 5x faster];
* the callback path's own cost: kit with a callback that does nothing vs a plain Python loop
  calling it over the same closes [at most 1 us per candle], and the peak memory of that run;
* first use in a fresh interpreter: importing the replay, loading the compiled kernel from its
  on-disk cache, and compiling it from nothing (an empty ``NUMBA_CACHE_DIR``).

``--growth`` adds kit's signals and callback times over 1 month, 1 year and 3 years of candles
(3 runs each, median wall time, and the median CPU time per candle), to show the cost is linear in candles.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
for _p in (str(BENCH), str(ROOT)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import bench_replay as br  # noqa: E402
import make_candles  # noqa: E402
import strategies as st  # noqa: E402

OUT = BENCH / "out"


def kit_signals(df: pd.DataFrame, sig: st.Signals, order: str) -> Callable[[], Any]:
    from kit.engine import replay

    m = br.kit_market()

    def call() -> Any:
        return replay.run(df, m, cash=str(int(st.CASH)), entries=sig.entries, exits=sig.exits, size=str(st.SIZE),
                          order=order, limit_offset=str(st.LIMIT_OFFSET))  # fmt: skip

    return call


def kit_callback(df: pd.DataFrame, sig: st.Signals, order: str) -> Callable[[], Any]:
    from kit.engine import replay

    m = br.kit_market()
    close = df["close"].to_numpy()

    def call() -> Any:
        return replay.run(df, m, cash=str(int(st.CASH)), strategy=br.kit_callback(sig, close, order))

    return call


def vbt_signals(df: pd.DataFrame, sig: st.Signals, order: str) -> Callable[[], Any]:
    import vectorbt as vbt

    close = df["close"].tz_localize(None)  # see bench_replay NAIVE_INDEX

    def call() -> Any:
        entries, exits, price = br.vectorbt_inputs(df, sig, order)
        pf = vbt.Portfolio.from_signals(close=close, entries=entries, exits=exits, price=price, size=st.SIZE,
                                        size_type="amount", fees=st.COMMISSION, init_cash=st.CASH,
                                        freq="1min")  # fmt: skip
        pf.final_value()
        return pf

    return call


def vbt_order_func(df: pd.DataFrame, sig: st.Signals, order: str) -> Callable[[], Any]:
    import vectorbt as vbt

    close = df["close"].tz_localize(None)
    fn = br._vectorbt_order_func()
    o, h, lo = df["open"].to_numpy(), df["high"].to_numpy(), df["low"].to_numpy()

    def call() -> Any:
        c = df["close"].to_numpy()
        bl, sl = st.buy_limits(c), st.sell_limits(c)
        pf = vbt.Portfolio.from_order_func(close, fn, o, h, lo, sig.entries, sig.exits, bl, sl, st.SIZE,
                                           st.COMMISSION, np.zeros(3), init_cash=st.CASH, freq="1min")  # fmt: skip
        pf.final_value()
        return pf

    return call


def backtesting_py(df: pd.DataFrame, sig: st.Signals, order: str) -> Callable[[], Any]:
    return lambda: br.run_backtesting(df, sig, order)


def trades(res: Any) -> str:
    """Filled orders (buys/sells) and final equity, from any contender's result."""
    if isinstance(res, dict):
        return f"{res['filled_orders']:,} ({res['buys']}/{res['sells']}), {res['final_equity']:,.2f}"
    if hasattr(res, "orders") and hasattr(res, "final_value") and callable(res.final_value):  # vectorbt
        rec = res.orders.records
        b, s = int((rec["side"] == 0).sum()), int((rec["side"] == 1).sum())
        return f"{b + s:,} ({b}/{s}), {float(res.final_value()):,.2f}"
    filled = res.fills.groupby("order_id")["side"].first().astype(str)
    b, s = int((filled == "buy").sum()), int((filled == "sell").sum())
    return f"{b + s:,} ({b}/{s}), {res.stats['final_equity']:,.2f}"


def pairs(a: Callable[[], Any], b: Callable[[], Any], n: int) -> tuple[list[float], list[float], Any, Any]:
    """``n`` interleaved timings of ``a`` and ``b`` (A B, B A, ...) after one warm-up each.

    Wall seconds; the CPU seconds of the same runs (``time.process_time``) go to :data:`CPU`,
    keyed by the callable, because on a loaded shared machine a run's wall time is mostly the
    wait for a core (a process getting a quarter of one takes four times as long) while its CPU
    time is not.
    """
    ra, rb = a(), b()
    ta: list[float] = []
    tb: list[float] = []
    ca: list[float] = []
    cb: list[float] = []
    for k in range(n):
        for which in "ab" if k % 2 == 0 else "ba":
            fn, out, cpu = (a, ta, ca) if which == "a" else (b, tb, cb)
            gc.collect()
            c0, t0 = time.process_time(), time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    CPU[id(ta)], CPU[id(tb)] = ca, cb
    return ta, tb, ra, rb


#: CPU seconds of the runs whose wall seconds are the list with this id (filled by :func:`pairs`).
CPU: dict[int, list[float]] = {}


def spread(xs: list[float]) -> str:
    return f"{statistics.median(xs) * 1e3:,.1f} ms ({min(xs) * 1e3:,.1f}-{max(xs) * 1e3:,.1f})"


def first_use() -> dict[str, float]:
    """Seconds in a fresh interpreter: import the replay; load the kernel from cache; compile it from nothing."""
    code = (
        "import time; t0 = time.perf_counter(); from kit.engine import jit, replay; t1 = time.perf_counter(); "
        "s = jit.warm(); print(t1 - t0, s)"
    )
    out: dict[str, float] = {}
    for label, env in (("cached", {}), ("compile", {"NUMBA_CACHE_DIR": tempfile.mkdtemp(prefix="numba-")})):
        if label == "cached":  # make sure the cache exists
            subprocess.run([sys.executable, "-c", "from kit.engine import jit; jit.warm()"], check=True, cwd=ROOT)
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
                              env={**os.environ, **env})  # fmt: skip
        imp, load = (float(x) for x in proc.stdout.split())
        out["import"] = imp
        out[label] = load
    return out


def callback_overhead(df: pd.DataFrame, n: int) -> tuple[list[float], list[float], list[float]]:
    """Per-candle kit overhead around a callback that does nothing: kit vs a plain Python loop.

    The plain loop is the floor: the same callback over the same closes, setting the same two
    attributes a kit ``Context`` gets (``i``, ``close``). Interleaved pairs; seconds each, and the
    peak traced memory (MB) of one kit run.
    """
    from kit.engine import replay

    m = br.kit_market()

    def noop(ctx: Any) -> None:
        return None

    class Ctx:
        i = 0
        close = 0.0

    def plain() -> None:
        c = Ctx()
        for i, x in enumerate(df["close"].to_numpy().tolist()):
            c.i = i
            c.close = x
            noop(c)

    ta, tb, _, _ = pairs(lambda: replay.run(df, m, cash="1000000", strategy=noop), plain, n)
    tracemalloc.start()
    replay.run(df, m, cash="1000000", strategy=noop)
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return ta, tb, [peak]


def growth(sig_fn: Callable[[pd.DataFrame], st.Signals]) -> list[list[str]]:
    rows = []
    for label, n in (("1 month", 43_200), ("1 year", 525_600), ("3 years", 1_576_800)):
        df = make_candles.load(rows=n)
        sig = sig_fn(df)
        line = [label, f"{n:,}"]
        for call in (kit_signals(df, sig, "market"), kit_signals(df, sig, "limit"), kit_callback(df, sig, "market")):
            call()
            ts, cs = [], []
            for _ in range(3):
                gc.collect()
                c0, t0 = time.process_time(), time.perf_counter()
                call()
                ts.append(time.perf_counter() - t0)
                cs.append(time.process_time() - c0)
            med, cpu = statistics.median(ts), statistics.median(cs)
            line.append(f"{med * 1e3:,.1f} ms; CPU {cpu * 1e3:,.1f} ms ({cpu / n * 1e9:,.0f} ns/candle)")
        # memory of the callback run beyond its inputs: what it keeps per order and fill, not per candle
        call = kit_callback(df, sig, "market")
        gc.collect()
        tracemalloc.start()
        res = call()
        kept, peak = (b / 1e6 for b in tracemalloc.get_traced_memory())  # kept: while the result is held
        tracemalloc.stop()
        fills = len(res.fills)
        line.append(f"peak {peak:,.1f} MB, kept {kept:,.1f} MB ({kept * 1e6 / max(fills, 1):,.0f} B per fill, "
                    f"{fills:,} fills)")  # fmt: skip
        rows.append(line)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=9, help="timed pairs per comparison (default 9)")
    ap.add_argument("--slow-pairs", type=int, default=3, help="pairs for the callback vs backtesting.py comparison")
    ap.add_argument("--rows", type=int, default=make_candles.ROWS)
    ap.add_argument("--growth", action="store_true", help="also time kit over 1 month, 1 year and 3 years")
    ap.add_argument("--skip", default="", help="comma-separated: market,limit,callback,first,overhead")
    args = ap.parse_args(argv)
    skip = set(args.skip.split(","))

    df = make_candles.load(rows=args.rows)
    sig = st.crossover(df)
    print(f"{len(df):,} one-minute candles; {br.versions()}")
    load0 = br.load_avg()
    print(f"load average at start: {load0}\n")
    comparisons = [
        ("market", "kit signals", kit_signals, "vectorbt from_signals", vbt_signals, args.pairs, "<= 0.8"),
        ("limit", "kit signals", kit_signals, "vectorbt from_order_func", vbt_order_func, args.pairs, "<= 0.8"),
        ("market", "kit callback", kit_callback, "backtesting.py", backtesting_py, args.slow_pairs, "<= 0.2"),
    ]
    report: dict[str, Any] = {"load_start": load0, "rows": len(df), "comparisons": []}
    for order, na, fa, nb, fb, n, goal in comparisons:
        key = "callback" if na == "kit callback" else order
        if key in skip:
            continue
        ta, tb, ra, rb = pairs(fa(df, sig, order), fb(df, sig, order), n)
        ratios = [x / y for x, y in zip(ta, tb, strict=True)]
        med = statistics.median(ratios)
        ok = med <= float(goal.split()[-1])
        print(f"{order} orders, {n} interleaved pairs (load now {br.load_avg()})")
        print(f"  {na:<26} {spread(ta):<32} trades {trades(ra)}")
        print(f"  {nb:<26} {spread(tb):<32} trades {trades(rb)}")
        print(f"  kit / {nb}: median {med:.2f}x ({min(ratios):.2f}-{max(ratios):.2f}); goal {goal}: "
              f"{'PASS' if ok else 'FAIL'}")  # fmt: skip
        ca, cb = CPU[id(ta)], CPU[id(tb)]
        cratios = [x / y for x, y in zip(ca, cb, strict=True)]
        print(f"  CPU time: {na} {spread(ca)}, {nb} {spread(cb)}; kit / {nb}: median "
              f"{statistics.median(cratios):.2f}x ({min(cratios):.2f}-{max(cratios):.2f})\n")  # fmt: skip
        report["comparisons"].append({"order": order, "a": na, "b": nb, "a_s": ta, "b_s": tb, "ratios": ratios,
                                      "a_cpu_s": ca, "b_cpu_s": cb, "cpu_ratios": cratios})  # fmt: skip
    if "first" not in skip:
        fu = first_use()
        print("first use in a fresh interpreter: "
              f"import kit.engine.replay {fu['import']:.2f} s; load the compiled kernel from its cache "
              f"{fu['cached']:.2f} s; compile it with an empty cache {fu['compile']:.2f} s\n")  # fmt: skip
        report["first_use"] = fu
    if "overhead" not in skip:
        ta, tb, peak = callback_overhead(df, args.pairs)
        per = [(x - y) / len(df) * 1e9 for x, y in zip(ta, tb, strict=True)]
        print(f"callback overhead, {args.pairs} interleaved pairs (load now {br.load_avg()})")
        print(f"  kit replay.run, callback that does nothing  {spread(ta)}")
        print(f"  plain Python loop, same callback (floor)    {spread(tb)}")
        print(f"  kit overhead per candle: median {statistics.median(per):,.0f} ns ({min(per):,.0f} to "
              f"{max(per):,.0f}); goal <= 1,000 ns: {'PASS' if statistics.median(per) <= 1000 else 'FAIL'}; "
              f"peak traced memory of one kit run {peak[0]:.1f} MB\n")  # fmt: skip
        report["callback_overhead"] = {"kit_s": ta, "plain_s": tb, "peak_mb": peak[0]}
    if args.growth:
        rows = growth(st.crossover)
        print(br.table(["span", "candles", "kit signals, market", "kit signals, limit", "kit callback, market",
                        "kit callback, traced memory"], rows, right={1, 2, 3, 4, 5}))  # fmt: skip
        print()
        report["growth"] = rows
    report["load_end"] = br.load_avg()
    print(f"load average at end: {report['load_end']}")
    OUT.mkdir(exist_ok=True)
    (OUT / "pairs.json").write_text(json.dumps(report, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
