"""A parameter sweep of an SMA crossover: kit on Dask against vectorbt broadcasting and backtesting.py's optimize.

The grid: ``fast`` in 5, 10, ..., 125 (25 values) x ``slow`` in 150, 200, ..., 1100 (20 values) =
500 combinations, over the issue's year of the benchmark's 1-minute candles by default
(``make_candles.py``; ``--rows 43200`` for 30 days).
The rule in every library: long while SMA(fast) > SMA(slow), flat while below (signals at a close
execute at the next bar's open; kit adds its slippage and takes fees in the asset received), a
fixed 0.01 base per entry, 0.1 % commission.

* **kit**: :func:`kit.research.sweep.sweep` of ``SmaCross`` on a LocalCluster with 1 and with 2
  worker processes; each task reads the candles from a Parquet store (once per worker); every
  combination gets the full statistics table (backtesting.py's set) and its round trips. The
  cluster's start-up and each worker's first read of the candles are timed apart; the workers' CPU
  seconds (user + system, read in each worker process before and after) give CPU time per
  combination, which a busy machine does not inflate as it does wall time. ``--repeat N`` runs the
  1- and 2-worker sweeps N times, interleaved, and prints the median with the range.
* **Ray** (``--ray``, when ``ray`` is installed): the same tasks (:func:`kit.research.sweep._chunk`,
  the same chunks) as Ray remote functions on ``ray.init(num_cpus=2)``; start-up timed apart.
* **vectorbt**: ``vbt.MA.run`` with a list of windows (parameter broadcasting) and one
  ``Portfolio.from_signals`` over all columns, in blocks of ``--vbt-block`` columns (500 columns
  of a year of minutes would need about 10 GB at once); ``total_return`` and ``sharpe_ratio`` per
  column.
* **backtesting.py**: ``Backtest.optimize`` over a subset of the grid (``--bt-combos``; it takes
  seconds per combination), then extrapolated per combination to the whole grid (marked ``*``).

Run:  .venv/bin/python benchmarks/bench_sweep.py  [--rows 525600] [--combos 500] [--bt-combos 4] [--repeat 1] [--ray]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import warnings
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

import make_candles  # noqa: E402

from kit.engine import Market  # noqa: E402
from kit.research import Data, cluster, grid, sweep  # noqa: E402
from kit.store import Store  # noqa: E402
from kit.strategy.examples import SmaCross  # noqa: E402

SIZE = "0.01"
CASH = "1000000"
FAST = list(range(5, 130, 5))
SLOW = list(range(150, 1150, 50))


def combos(n: int) -> list[dict[str, Any]]:
    """The first ``n`` of the 500-combination grid, spread evenly over it."""
    full = grid({"fast": FAST, "slow": SLOW})
    pick = np.linspace(0, len(full) - 1, n).round().astype(int) if n < len(full) else np.arange(len(full))
    return [{**full[i], "size": SIZE} for i in pick]


def store_data(df: pd.DataFrame, root: Path) -> Data:
    Store(root).put(df, "BTC/USDT", "1m", venue="bench")
    m = Market("BTC/USDT", "BTC", "USDT", tick_size=Decimal("0.01"), step_size=Decimal("0.00001"))
    start = int(df.index[0].value // 1_000_000)
    return Data(str(root), "bench", "BTC/USDT", "1m", start, int(df.index[-1].value // 1_000_000) + 60_000, m)


def _cpu() -> float:
    """CPU seconds (user + system) of the process it runs in: each worker's, by ``client.run``."""
    import psutil

    t = psutil.Process().cpu_times()
    return float(t.user + t.system)


def run_kit(data: Data, grid_: list[dict[str, Any]], workers: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    with cluster(workers=workers) as client:
        started = time.perf_counter() - t0
        sweep(SmaCross, data, grid_[:workers], client=client, cash=CASH, progress=False, chunk=1)  # read candles
        before = client.run(_cpu)
        t1 = time.perf_counter()
        table = sweep(SmaCross, data, grid_, client=client, cash=CASH, progress=False)
        took = time.perf_counter() - t1
        after = client.run(_cpu)
    cpu = sum(after[k] - before[k] for k in after)
    return {"s": took, "startup": started, "table": table, "cpu": cpu}


def run_ray(data: Data, grid_: list[dict[str, Any]], workers: int) -> dict[str, Any]:
    import ray

    from kit.research.sweep import _chunk

    t0 = time.perf_counter()
    for attempt in (1, 2):  # on a loaded machine the raylet can time out waiting for its agents: once more
        try:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
            break
        except Exception as exc:
            print(f"  ray.init failed (attempt {attempt}, load {os.getloadavg()[0]:.1f}): {exc}", flush=True)
            ray.shutdown()
            if attempt == 2:
                raise
    try:
        task = ray.remote(num_cpus=1)(_chunk)
        ray.get([task.remote(SmaCross, data, [(i, grid_[i])], CASH) for i in range(workers)])  # read candles
        started = time.perf_counter() - t0
        size = max(1, -(-len(grid_) // (10 * workers)))  # the sweep's default chunk
        parts = [list(enumerate(grid_))[k : k + size] for k in range(0, len(grid_), size)]
        t1 = time.perf_counter()
        done = ray.get([task.remote(SmaCross, data, part, CASH) for part in parts])
        took = time.perf_counter() - t1
    finally:
        ray.shutdown()
    rows = dict(row for part in done for row in part)
    table = pd.DataFrame([{**grid_[i], **rows[i]} for i in range(len(grid_))])
    return {"s": took, "startup": started, "table": table}


def run_vectorbt(df: pd.DataFrame, grid_: list[dict[str, Any]], block: int) -> dict[str, Any]:
    import vectorbt as vbt

    close = df["close"].tz_localize(None)
    open_ = df["open"].to_numpy()
    t0 = time.perf_counter()
    returns, trades = [], []
    for k in range(0, len(grid_), block):
        part = grid_[k : k + block]
        fast = vbt.MA.run(close, window=[p["fast"] for p in part]).ma.to_numpy()
        slow = vbt.MA.run(close, window=[p["slow"] for p in part]).ma.to_numpy()
        entries = np.zeros_like(fast, dtype=bool)
        exits = np.zeros_like(fast, dtype=bool)
        entries[1:] = (fast > slow)[:-1]  # the signal of bar i executes at bar i+1's open
        exits[1:] = (fast < slow)[:-1]
        pf = vbt.Portfolio.from_signals(close=close, entries=entries, exits=exits, price=open_[:, None],
                                        size=float(SIZE), size_type="amount", fees=0.001, init_cash=float(CASH),
                                        freq="1min")  # fmt: skip
        returns += list(np.asarray(pf.total_return()) * 100)
        trades += list(np.asarray(pf.trades.count()))
    return {"s": time.perf_counter() - t0, "return_pct": returns, "trades": trades}


def _sma(values: Any, n: int) -> np.ndarray:
    return np.asarray(pd.Series(values).rolling(n).mean().to_numpy())


try:  # backtesting.py's optimize pickles the strategy class into its process pool: it must live at module level
    from backtesting import Strategy as _BtStrategy

    class Cross(_BtStrategy):  # type: ignore[misc]
        fast = 10
        slow = 200

        def init(self) -> None:
            self.f = self.I(_sma, self.data.Close, self.fast)
            self.s = self.I(_sma, self.data.Close, self.slow)

        def next(self) -> None:
            if self.f[-1] > self.s[-1] and not self.position:
                self.buy(size=1)
            elif self.f[-1] < self.s[-1] and self.position:
                self.position.close()
except ImportError:  # the bench extra is not installed
    Cross = None  # type: ignore[assignment, misc]


def run_backtesting(df: pd.DataFrame, grid_: list[dict[str, Any]]) -> dict[str, Any]:
    from backtesting.lib import FractionalBacktest

    fasts = sorted({p["fast"] for p in grid_})
    slows = sorted({p["slow"] for p in grid_})
    wanted = {(p["fast"], p["slow"]) for p in grid_}
    data = df.rename(columns=str.capitalize).tz_localize(None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bt = FractionalBacktest(data, Cross, cash=float(CASH), commission=0.001, fractional_unit=float(SIZE),
                                finalize_trades=False)  # fmt: skip
        t0 = time.perf_counter()
        _, heat = bt.optimize(fast=fasts, slow=slows, constraint=lambda p: (p.fast, p.slow) in wanted,
                              maximize="Return [%]", return_heatmap=True)  # fmt: skip
        took = time.perf_counter() - t0
    return {"s": took, "n": int(heat.notna().sum())}


def _spread(values: list[float]) -> str:
    med = float(np.median(values))
    return f"{med:.1f}" if len(values) == 1 else f"{med:.1f} ({min(values):.1f}-{max(values):.1f})"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=525_600, help="1m candles (default: a year; 30 days: 43200)")
    ap.add_argument("--combos", type=int, default=500)
    ap.add_argument("--bt-combos", type=int, default=4, help="backtesting.py combinations (extrapolated)")
    ap.add_argument("--vbt-block", type=int, default=50, help="vectorbt columns per broadcast block")
    ap.add_argument("--repeat", type=int, default=1, help="interleaved runs of the 1- and 2-worker sweeps")
    ap.add_argument("--ray", action="store_true", help="also run the same tasks on Ray (2 workers)")
    ap.add_argument("--skip", default="", help="comma-separated: kit1,kit2,vectorbt,backtesting.py")
    args = ap.parse_args(argv)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    df = make_candles.load(rows=args.rows)
    grid_ = combos(args.combos)
    print(f"bench_sweep: {len(grid_)} combinations x {len(df):,} 1m candles; {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f}; Python {platform.python_version()}")  # fmt: skip
    rows: list[tuple[str, int, float, str, str]] = []
    kit: dict[int, list[dict[str, Any]]] = {}
    ray_run: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory() as tmp:
        data = store_data(df, Path(tmp))
        for _ in range(args.repeat):
            for w in (1, 2):
                if f"kit{w}" not in skip:
                    kit.setdefault(w, []).append(run_kit(data, grid_, w))
                    print(f"  kit {w} worker(s): {kit[w][-1]['s']:.1f} s, load {os.getloadavg()[0]:.1f}", flush=True)
        for w, runs in kit.items():
            secs = [r["s"] for r in runs]
            cpu = float(np.median([r["cpu"] for r in runs])) / len(grid_)
            failed = int(runs[0]["table"]["error"].notna().sum())
            rows.append((f"kit, LocalCluster {w} worker{'s' if w > 1 else ''}", len(grid_), float(np.median(secs)),
                         _spread(secs), f"start-up {runs[0]['startup']:.1f} s, CPU {cpu:.3f} s/combination, "
                         f"{failed} failed"))  # fmt: skip
        if args.ray:
            ray_run = run_ray(data, grid_, 2)
            rows.append(("kit tasks on Ray, 2 workers", len(grid_), ray_run["s"], f"{ray_run['s']:.1f}",
                         f"start-up {ray_run['startup']:.1f} s"))  # fmt: skip
    tables = [r["table"].drop(columns="error") for runs in kit.values() for r in runs]
    if ray_run is not None:
        tables.append(ray_run["table"].drop(columns="error"))
    if len(tables) > 1:
        print(f"kit tables identical across {len(tables)} runs (1 and 2 workers{', Ray' if ray_run else ''}): "
              f"{all(t.equals(tables[0]) for t in tables[1:])}")  # fmt: skip
    if "vectorbt" not in skip:
        run_vectorbt(df.iloc[:5_000], grid_[:2], args.vbt_block)  # numba compiles on the first call: not timed
        v = run_vectorbt(df, grid_, args.vbt_block)
        rows.append(("vectorbt, MA.run broadcasting + from_signals", len(grid_), v["s"], f"{v['s']:.1f}",
                     f"blocks of {args.vbt_block}"))  # fmt: skip
        if kit:
            k = next(iter(kit.values()))[0]["table"]
            diff = np.abs(np.asarray(v["return_pct"]) - k["Return [%]"].to_numpy())
            print(f"return vs kit (percentage points): median {np.median(diff):.4f}, max {diff.max():.4f}; "
                  f"round trips: vectorbt {int(np.sum(v['trades']))}, kit {int(k['# Trades'].sum())}")  # fmt: skip
    if "backtesting.py" not in skip:
        sub = combos(args.bt_combos)
        b = run_backtesting(df, sub)
        per = b["s"] / max(1, b["n"])
        rows.append((f"backtesting.py optimize ({b['n']} run, extrapolated)*", len(grid_), per * len(grid_),
                     f"{per * len(grid_):.1f}", f"{b['s']:.1f} s for {b['n']}"))  # fmt: skip
    ref = float(np.median([r["s"] for r in kit[2]])) if 2 in kit else None
    print()
    print("| contender | combinations | seconds, median (range) | combinations/s | vs kit (2 workers) | note |")
    print("|---|---:|---:|---:|---:|---|")
    for name, n, s, spread, note in rows:
        ratio = f"{s / ref:.2f}x" if ref else "-"
        print(f"| {name} | {n} | {spread} | {n / s:.2f} | {ratio} | {note} |")
    if 1 in kit and 2 in kit:
        one, two = (float(np.median([r["s"] for r in kit[w]])) for w in (1, 2))
        cpu1, cpu2 = (float(np.median([r["cpu"] for r in kit[w]])) for w in (1, 2))
        print(f"\nspeed-up 1 -> 2 workers: {one / two:.2f}x wall (goal 1.6x); CPU per combination "
              f"{cpu1 / len(grid_):.3f} s (1 worker) and {cpu2 / len(grid_):.3f} s (2 workers); CPU seconds per wall "
              f"second {cpu1 / one:.2f} (1 worker) and {cpu2 / two:.2f} (2 workers; 2.0: both cores busy)")  # fmt: skip
    print(f"load at the end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
