"""Time ``kit --help``: the cost of starting the command line, next to what a user would compare it with.

Each command runs in a fresh interpreter (``subprocess``), ``--repeat`` times after one untimed
warm-up run (which fills the OS file cache); the table shows the best and the median wall time.
Rows:

* ``python -c pass``: the interpreter alone, the floor for any Python command line;
* ``kit --help`` and ``kit --version``: the console script (the lazy command table; no pandas,
  pyarrow, numpy or ccxt);
* ``kit candles --help``: one lazy subcommand imported;
* ``python -c "import ccxt"`` and ``python -c "import pandas"``: what ``kit --help`` cost per
  import before the subcommands were lazy.

Goal: ``kit --help`` under 0.3 s. The script exits with status 1 if the best time misses it.

Run::

    .venv/bin/python benchmarks/bench_cli.py             # 10 runs of each
    .venv/bin/python benchmarks/bench_cli.py --repeat 30
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KIT = Path(sys.executable).with_name("kit")
GOAL_S = 0.3


def _cases() -> list[tuple[str, list[str]]]:
    py = sys.executable
    kit = [str(KIT)] if KIT.exists() else [py, "-m", "kit"]
    return [
        ("python -c pass", [py, "-c", "pass"]),
        ("kit --help", [*kit, "--help"]),
        ("kit --version", [*kit, "--version"]),
        ("kit candles --help", [*kit, "candles", "--help"]),
        ('python -c "import ccxt"', [py, "-c", "import ccxt"]),
        ('python -c "import pandas"', [py, "-c", "import pandas"]),
    ]


def _time(cmd: list[str], repeat: int) -> list[float]:
    subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)  # warm-up, untimed
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)
        out.append(time.perf_counter() - t0)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=10, help="timed runs per command (default 10)")
    args = ap.parse_args()
    print(f"load average at start: {os.getloadavg()}, cpus: {os.cpu_count()}")
    print(f"{'command':<28} {'best s':>8} {'median s':>9}")
    best: dict[str, float] = {}
    for name, cmd in _cases():
        times = _time(cmd, args.repeat)
        best[name] = min(times)
        print(f"{name:<28} {min(times):>8.3f} {statistics.median(times):>9.3f}")
    print(f"load average at end: {os.getloadavg()}")
    ok = best["kit --help"] < GOAL_S
    print(f"kit --help best {best['kit --help']:.3f} s: {'meets' if ok else 'MISSES'} the {GOAL_S} s goal")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
