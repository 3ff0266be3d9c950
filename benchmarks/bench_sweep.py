"""A parameter sweep of an SMA crossover: kit on Dask against vectorbt broadcasting and backtesting.py's optimize.

The grid: ``fast`` in 5, 10, ..., 125 (25 values) x ``slow`` in 150, 200, ..., 1100 (20 values) =
500 combinations, over 30 days of the benchmark's 1-minute candles by default (``make_candles.py``;
``--rows 525600`` for the issue's whole year, several minutes per contender).
The rule in every library: long while SMA(fast) > SMA(slow), flat while below (signals at a close
execute at the next bar's open; kit adds its slippage and takes fees in the asset received), a
fixed 0.01 base per entry, 0.1 % commission.

* **kit**: :func:`kit.research.sweep.sweep` of ``SmaCross`` on a LocalCluster with 1 and with 2
  worker processes; each task reads the candles from a Parquet store (once per worker); every
  combination gets the full statistics table (backtesting.py's set) and its round trips. The
  cluster's start-up is timed apart.
* **vectorbt**: ``vbt.MA.run`` with a list of windows (parameter broadcasting) and one
  ``Portfolio.from_signals`` over all columns, in blocks of ``--vbt-block`` columns (500 columns
  of a year of minutes would need about 10 GB at once); ``total_return`` and ``sharpe_ratio`` per
  column.
* **backtesting.py**: ``Backtest.optimize`` over a subset of the grid (``--bt-combos``; it takes
  seconds per combination), then extrapolated per combination to the whole grid (marked ``*``).

Run:  .venv/bin/python benchmarks/bench_sweep.py  [--rows 43200] [--combos 500] [--bt-combos 10]
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


def run_kit(data: Data, grid_: list[dict[str, Any]], workers: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    with cluster(workers=workers) as client:
        started = time.perf_counter() - t0
        sweep(SmaCross, data, grid_[:workers], client=client, cash=CASH, progress=False, chunk=1)  # read candles
        t1 = time.perf_counter()
        table = sweep(SmaCross, data, grid_, client=client, cash=CASH, progress=False)
        took = time.perf_counter() - t1
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=43_200, help="1m candles (default: 30 days; a year: 525600)")
    ap.add_argument("--combos", type=int, default=500)
    ap.add_argument("--bt-combos", type=int, default=10, help="backtesting.py combinations (extrapolated)")
    ap.add_argument("--vbt-block", type=int, default=50, help="vectorbt columns per broadcast block")
    ap.add_argument("--skip", default="", help="comma-separated: kit1,kit2,vectorbt,backtesting.py")
    args = ap.parse_args(argv)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    df = make_candles.load(rows=args.rows)
    grid_ = combos(args.combos)
    print(f"bench_sweep: {len(grid_)} combinations x {len(df):,} 1m candles; {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f}; Python {platform.python_version()}")  # fmt: skip
    rows: list[tuple[str, int, float, str]] = []
    kit: dict[int, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = store_data(df, Path(tmp))
        for w in (1, 2):
            if f"kit{w}" in skip:
                continue
            kit[w] = run_kit(data, grid_, w)
            failed = int(kit[w]["table"]["error"].notna().sum())
            rows.append((f"kit, LocalCluster {w} worker{'s' if w > 1 else ''}", len(grid_), kit[w]["s"],
                         f"start-up {kit[w]['startup']:.1f} s, {failed} failed"))  # fmt: skip
    if 1 in kit and 2 in kit:
        t1, t2 = kit[1]["table"], kit[2]["table"]
        same = t1.drop(columns="error").equals(t2.drop(columns="error"))
        print(f"kit 1 worker vs 2 workers: identical tables: {same}")
    if "vectorbt" not in skip:
        run_vectorbt(df.iloc[:5_000], grid_[:2], args.vbt_block)  # numba compiles on the first call: not timed
        v = run_vectorbt(df, grid_, args.vbt_block)
        rows.append(("vectorbt, MA.run broadcasting + from_signals", len(grid_), v["s"], f"blocks of {args.vbt_block}"))
        if kit:
            k = next(iter(kit.values()))["table"]
            diff = np.abs(np.asarray(v["return_pct"]) - k["Return [%]"].to_numpy())
            print(f"return vs kit (percentage points): median {np.median(diff):.4f}, max {diff.max():.4f}; "
                  f"round trips: vectorbt {int(np.sum(v['trades']))}, kit {int(k['# Trades'].sum())}")  # fmt: skip
    if "backtesting.py" not in skip:
        sub = combos(args.bt_combos)
        b = run_backtesting(df, sub)
        per = b["s"] / max(1, b["n"])
        rows.append((f"backtesting.py optimize ({b['n']} run, extrapolated)*", len(grid_), per * len(grid_),
                     f"{b['s']:.1f} s for {b['n']}"))  # fmt: skip
    ref = kit[2]["s"] if 2 in kit else (kit[1]["s"] if kit else None)
    print()
    print("| contender | combinations | seconds | combinations/s | vs kit (2 workers) | note |")
    print("|---|---:|---:|---:|---:|---|")
    for name, n, s, note in rows:
        ratio = f"{s / ref:.2f}x" if ref else "-"
        print(f"| {name} | {n} | {s:.1f} | {n / s:.2f} | {ratio} | {note} |")
    if 1 in kit and 2 in kit:
        print(f"\nspeed-up 1 -> 2 workers: {kit[1]['s'] / kit[2]['s']:.2f}x (goal 1.6x)")
    print(f"load at the end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
