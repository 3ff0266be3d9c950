"""Run every benchmark in order (``make bench`` calls this).

1. ``make_candles``: (re)build the cached synthetic year ``benchmarks/out/candles-1m.parquet``;
2. ``bench_replay``: kit replay against backtesting.py, backtrader and vectorbt;
3. ``bench_resting``: resting-order scaling of kit's replay;
4. every other ``bench_*.py`` in this folder (e.g. ``bench_localnet``), with its own defaults.

Each runs in its own interpreter so that one's imports and numba compilation do not colour the
other's timings. Extra arguments are passed to bench_replay and bench_resting (e.g.
``--repeat 5``); ``--skip NAME`` (repeatable) leaves a step out.
Exit status: non-zero if any step failed to run (a missed target is reported, not an error).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    skip, extra = set(), []
    while args:
        a = args.pop(0)
        if a == "--skip" and args:
            skip.add(args.pop(0))
        elif a.startswith("--skip="):
            skip.add(a.split("=", 1)[1])
        else:
            extra.append(a)
    steps = [
        ("make_candles", []),
        ("bench_replay", extra),
        ("bench_resting", extra),
    ]
    mine = {name for name, _ in steps}
    steps += [(p.stem, []) for p in sorted(BENCH.glob("bench_*.py")) if p.stem not in mine]
    steps = [(name, a) for name, a in steps if name not in skip]
    failed = []
    t0 = time.perf_counter()
    for name, args in steps:
        print(f"=== {name} {' '.join(args)}".rstrip(), flush=True)
        rc = subprocess.call([sys.executable, str(BENCH / f"{name}.py"), *args], cwd=ROOT)
        if rc:
            failed.append(name)
        print(flush=True)
    print(f"=== done in {time.perf_counter() - t0:.0f}s" + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    print(f"results: {BENCH / 'out' / 'replay.json'}, {BENCH / 'out' / 'resting.json'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
