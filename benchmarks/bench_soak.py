"""Memory soak of a forward run: ``kit run`` on 10 symbols of a real-time localnet, RSS over time.

The same set-up as ``bench_runner.py`` (a real-time localnet served by this process, ``kit run`` in a
child process on the testnet stage, 1m candles, one market order per candle per symbol: the runner's
journal, decisions and fills grow all the time), for ``--minutes``. The child's RSS is sampled every
10 s; printed per minute, with the change from the first sample after the first close to the last,
and the least-squares slope in MB per hour. Goal (#14): flat within 10 % over an hour.

Run::

    .venv/bin/python benchmarks/bench_soak.py --minutes 10       # what was measured (benchmarks/README.md)
    .venv/bin/python benchmarks/bench_soak.py --minutes 60       # the one-hour soak
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from bench_runner import BIG, measure, symbols

from kit.localnet import LocalnetConfig
from kit.localnet.server import start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--symbols", type=int, default=10)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "out" / "soak.json")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    specs = symbols(args.symbols)
    net = start(port=0, config=LocalnetConfig(seed=7, history_minutes=30, state_dir=tmp / "ln", limits=BIG,
                                              symbols=specs))  # fmt: skip
    try:
        res = measure(net, specs, args, "batch", tmp)
    finally:
        net.stop()
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
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({**res, "slope_mb_per_h": round(slope, 2)}, indent=2, default=str))


if __name__ == "__main__":
    main()
