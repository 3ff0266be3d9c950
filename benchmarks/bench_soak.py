"""Memory soak of a forward run: ``kit run`` on 10 symbols of a real-time localnet, RSS over time.

The same set-up as ``bench_runner.py`` (a real-time localnet served by this process, ``kit run`` in a
child process on the testnet stage, 1m candles, one market order per candle per symbol: the runner's
journal, decisions and fills grow all the time), for ``--minutes``. The child's RSS is sampled every
10 s; printed per minute, with the change from the first sample after the first close to the last,
and the least-squares slope in MB per hour. Goal (#14): flat within 10 % over an hour.

Run::

    .venv/bin/python benchmarks/bench_soak.py --minutes 10       # what was measured (benchmarks/README.md)
    .venv/bin/python benchmarks/bench_soak.py --minutes 60       # the one-hour soak
    .venv/bin/python benchmarks/bench_soak.py --minutes 10 --trace   # and what grows (tracemalloc, RSS split)
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from bench_runner import BIG, measure, symbols

from kit.localnet import LocalnetConfig
from kit.localnet.server import start


def traced(d: Path, n_symbols: int) -> dict[str, Any]:
    """What grew in the child between its second probe (after the first closes) and its last one.

    RSS as the kernel splits it (anonymous, file-backed, shared), Python's traced allocations, per
    minute and per order (one order per symbol per minute), and the Python lines that grew most.
    """
    import tracemalloc

    probes = [json.loads(line) for line in (d / "probe.jsonl").read_text().splitlines()]
    if len(probes) < 3:
        return {"probes": len(probes)}
    a, b = probes[1], probes[-1]
    minutes = (b["t"] - a["t"]) / 60
    out: dict[str, Any] = {"from_probe": a["n"], "to_probe": b["n"], "minutes": round(minutes, 1)}
    for key in ("VmRSS", "RssAnon", "RssFile", "RssShmem", "traced"):
        grew_kb = (b[key] - a[key]) / (1024 if key == "traced" else 1)
        out[key] = {"first_mb": round(a[key] / (1024 * 1024 if key == "traced" else 1024), 2),
                    "last_mb": round(b[key] / (1024 * 1024 if key == "traced" else 1024), 2),
                    "kb_per_order": round(grew_kb / (minutes * n_symbols), 2)}  # fmt: skip
    old = tracemalloc.Snapshot.load(str(d / f"snap-{a['n']}.bin"))
    new = tracemalloc.Snapshot.load(str(d / f"snap-{b['n']}.bin"))
    top = new.compare_to(old, "lineno")[:15]
    out["top_python_growth"] = [
        f"{t.size_diff / 1024:+.1f} KB ({t.count_diff:+d}) {t.traceback[0].filename.split('site-packages/')[-1]}:"
        f"{t.traceback[0].lineno}"
        for t in top
    ]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--symbols", type=int, default=10)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "out" / "soak.json")
    ap.add_argument("--trace", action="store_true", help="also trace the child's memory (soak_trace/sitecustomize.py)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    specs = symbols(args.symbols)
    net = start(port=0, config=LocalnetConfig(seed=7, history_minutes=30, state_dir=tmp / "ln", limits=BIG,
                                              symbols=specs))  # fmt: skip
    env = None
    if args.trace:
        (tmp / "trace").mkdir()
        probe = str(Path(__file__).resolve().parent / "soak_trace")
        env = {"PYTHONPATH": os.pathsep.join(p for p in (probe, os.environ.get("PYTHONPATH", "")) if p),
               "KIT_BENCH_TRACE_DIR": str(tmp / "trace")}  # fmt: skip
    try:
        res = measure(net, specs, args, "batch", tmp, extra_env=env)
    finally:
        net.stop()
    if args.trace:
        res["trace"] = traced(tmp / "trace", len(specs))
    series = res["rss_series_mb"]
    per_min = series[::6]  # one sample per minute (they are 10 s apart)
    n = len(series)
    xs = [i * 10 / 3600 for i in range(n)]  # hours
    mx, my = sum(xs) / n, sum(series) / n
    var = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, series, strict=True)) / var if var else 0.0
    print("minute  RSS MB")
    for i, v in enumerate(per_min):
        print(f"{i:6d}  {v:7.1f}")
    print(f"\n{res['orders']} orders over {args.minutes:g} min; RSS {series[0]} -> {series[-1]} MB "
          f"({res['rss_change_pct']:+.1f} %), max {res['rss_max_mb']} MB, slope {slope:+.2f} MB/h; "
          f"CPU {res['cpu_pct_one_core']} % of one core; load {res['load_1m_min_max']}")  # fmt: skip
    if "trace" in res:
        print("\nmemory probe (child, from its second probe to its last):")
        print(json.dumps(res["trace"], indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({**res, "slope_mb_per_h": round(slope, 2)}, indent=2, default=str))


if __name__ == "__main__":
    main()
