"""Candle storage benchmark: one year of 1-minute candles (525,600 rows) into pandas, side by side.

Same process, same deterministic year (``make_candles.make_year``, seed 7), every contender
returning the same DataFrame (UTC DatetimeIndex; open, high, low, close, volume as float64):

* CSV                           ``pd.read_csv`` (+ ``parse_dates``), the baseline everyone starts from
* feather (freqtrade style)     ``date`` column, lz4 level 9, ``pd.read_feather`` + ``set_index``
* Parquet, one file, snappy     ``pd.read_parquet``
* Parquet, one file, zstd       ``pd.read_parquet``
* Arrow IPC, memory-mapped      ``pa.ipc.open_file(pa.memory_map(..)).read_all().to_pandas()``
* kit store, whole year         ``Store.candles(...)`` over the 12 monthly partitions (files already
                                verified in this process: their stat is unchanged, so their checksums
                                are not summed again)
* kit store, first verification the same with every file's checksums summed (the first read of a
                                file version ever; it then records the verification beside the file)
* kit store, verified by record the same in a process that has not read the files before: each file's
                                record (stat, footer hash) is read instead of summing it
* kit store, fresh process      the year's first read in a new interpreter (pandas imported untimed;
                                ``from kit.store import Store`` timed apart and printed, so that work
                                moved into the import shows); its CPU time and page faults are printed
                                too (the wait for a core left out of the CPU time)
* kit store, one week           ``Store.candles(...)`` for 2024-06-03 .. 2024-06-10 (10,080 rows)

and the store's write path: the whole year (``Store.put``), and appending one new day to the
stored year (time, and how many partitions were rewritten; December's file is restored between
runs, outside the timing).

Wall time is the best of ``--repeat`` warm runs (median shown too); files are in the OS page cache
after the first run, so this measures decoding into pandas, not the disk. Targets (issue #5):
whole year <= 10 ms, one week <= 3 ms, append a day < 20 ms rewriting at most one partition.

``--against DIR`` adds a third fresh-process contender, interleaved with the other two (same count
of runs): the same first read with the ``kit`` package of another checkout (e.g. ``/work/main``, to
compare a change with the code it started from), printed with the ratios of interleaved pairs.

Usage: ``python benchmarks/bench_store.py [--repeat 30] [--dir DIR] [--against DIR]``. Writes
``benchmarks/out/store.json``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.feather as feather  # type: ignore[import-untyped]

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_candles import make_year  # noqa: E402

from kit.store import Store  # noqa: E402
from kit.store.parquet import forget_verified  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
YEAR_START = pd.Timestamp("2024-01-01", tz="UTC")
YEAR_END = pd.Timestamp("2024-12-31", tz="UTC")  # 525,600 minutes: the year ends Dec 30 23:59
WEEK = (pd.Timestamp("2024-06-03", tz="UTC"), pd.Timestamp("2024-06-10", tz="UTC"))
TARGETS = {
    "kit store, whole year": 10.0,
    "kit store, one week": 3.0,
    "kit store, append one day": 20.0,
    "kit store, whole year, fresh process": 10.0,
    "kit store, year, verified by record": 10.0,
}


def timed(fn: Callable[[], Any], repeat: int, before: Callable[[], None] | None = None) -> tuple[list[float], Any]:
    out: Any = None
    times = []
    for _ in range(repeat):
        if before is not None:
            before()
        gc.collect()
        gc.disable()
        t0 = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t0) * 1e3)
        gc.enable()
    return times, out


def size_mb(path: Path) -> float:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6
    return path.stat().st_size / 1e6


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--dir", type=Path, default=None, help="work directory (default: a temp dir, removed after)")
    ap.add_argument("--against", type=Path, default=None, help="another checkout whose kit is timed too (fresh reads)")
    args = ap.parse_args(argv)
    work = Path(args.dir or tempfile.mkdtemp(prefix="bench-store-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        return run(work, args.repeat, args.against)
    finally:
        if args.dir is None:
            shutil.rmtree(work, ignore_errors=True)


def run(work: Path, repeat: int, against: Path | None = None) -> int:
    year = make_year()
    year.index = pd.DatetimeIndex(year.index).as_unit("ms")
    assert len(year) == 525_600 and year.index[-1] == YEAR_END - pd.Timedelta(minutes=1)
    rows: list[dict[str, Any]] = []

    def record(name: str, times: list[float], frame: pd.DataFrame | None, size: float | None, **extra: Any) -> None:
        if frame is not None:
            expect = year.loc[WEEK[0] : WEEK[1] - pd.Timedelta(minutes=1)] if "week" in name else year
            got = frame.copy()
            got.index = pd.DatetimeIndex(got.index).as_unit("ms")
            got.index.name = expect.index.name
            pd.testing.assert_frame_equal(got, expect, check_freq=False)
        rows.append(
            {
                "case": name,
                "best_ms": min(times),
                "median_ms": statistics.median(times),
                "max_ms": max(times),
                "size_mb": size,
                **extra,
            }  # fmt: skip
        )
        print(
            f"  {name:34s} best {min(times):9.2f} ms  median {statistics.median(times):9.2f} ms  "
            f"max {max(times):9.2f} ms",
            flush=True,
        )

    print(f"year of 1m candles: {len(year):,} rows; repeat={repeat}; work dir {work}")
    print(f"load average at start: {os.getloadavg()}")
    # -- contenders: one file each
    csv = work / "year.csv"
    year.to_csv(csv)
    slow = max(3, repeat // 10)
    t, f = timed(lambda: pd.read_csv(csv, index_col="time", parse_dates=["time"]), slow)
    record("CSV (pd.read_csv)", t, f, size_mb(csv))

    fea = work / "BTC_USDT-1m.feather"  # freqtrade: date column, lz4 level 9
    flat = year.reset_index().rename(columns={"time": "date"})
    flat.to_feather(fea, compression="lz4", compression_level=9)
    t, f = timed(lambda: pd.read_feather(fea).set_index("date"), repeat)
    record("feather, freqtrade style (lz4)", t, f, size_mb(fea))

    for codec in ("snappy", "zstd"):
        pqf = work / f"year-{codec}.parquet"
        year.to_parquet(pqf, compression=codec)
        t, f = timed(lambda p=pqf: pd.read_parquet(p), repeat)  # type: ignore[misc]
        record(f"Parquet, one file, {codec}", t, f, size_mb(pqf))

    ipc = work / "year.arrow"
    feather.write_feather(pa.Table.from_pandas(year), ipc, compression="uncompressed")
    t, f = timed(lambda: pa.ipc.open_file(pa.memory_map(str(ipc))).read_all().to_pandas(), repeat)
    record("Arrow IPC, memory-mapped", t, f, size_mb(ipc))

    # -- the kit store
    root = work / "store"
    store = Store(root)
    t, written = timed(lambda: Store(root).put(year, "BTC/USDT", "1m", venue="bench"), 1)
    record("kit store, write the year", t, None, None, partitions=written)
    series = root / "candles/venue=bench/symbol=BTC_USDT/timeframe=1m"
    # Files are normally read long after they were written. The store trusts a file's verified
    # checksums again only while its stat is unchanged and if it had not changed for 2 s before
    # the check (git's racy-clean rule), so wait that long once.
    time.sleep(2.1)

    def unverified() -> None:  # as if no process had ever read these file versions
        forget_verified()
        for rec in series.rglob(".*.verified"):
            rec.unlink()

    t, f = timed(lambda: store.candles("BTC/USDT", "1m", YEAR_START, YEAR_END), repeat, unverified)
    record("kit store, year, first verification", t, f, size_mb(series))
    t, f = timed(lambda: store.candles("BTC/USDT", "1m", YEAR_START, YEAR_END), repeat, forget_verified)
    record("kit store, year, verified by record", t, f, None)
    t, f = timed(lambda: store.candles("BTC/USDT", "1m", YEAR_START, YEAR_END), repeat)
    record("kit store, whole year", t, f, None)
    t, f = timed(lambda: store.candles("BTC/USDT", "1m", *WEEK), repeat)
    record("kit store, one week", t, f, None)
    t, f = timed(lambda: Store(root).candles("BTC/USDT", "1m", YEAR_START, YEAR_END), repeat)
    record("kit store, whole year, new Store", t, f, None)
    # Fresh processes, interleaved with the frame as it was built before #18 and, with --against,
    # with another checkout's code (same count of runs for each).
    now: list[tuple[list[float], list[float], list[float], list[int]]] = []
    before: list[tuple[list[float], list[float], list[float], list[int]]] = []
    other: list[tuple[list[float], list[float], list[float], list[int]]] = []
    for _ in range(max(5, repeat // 3)):
        now.append(fresh_process_reads(root, 1))
        before.append(fresh_process_reads(root, 1, legacy=True))
        if against is not None:
            other.append(fresh_process_reads(root, 1, code_root=against))
    contenders = [("", now), (" (frame as before #18)", before)]
    if against is not None:
        contenders.append((f" (code at {against})", other))
    for label, runs in contenders:
        t, cpu, imports, faults = ([x for r in runs for x in r[i]] for i in range(4))
        record(f"kit store, whole year, fresh process{label}", t, None, None)
        record("  the same, CPU time of the read", cpu, None, None)  # the wait for a core left out
        record("  import of kit.store (pandas loaded)", imports, None, None)
        med = statistics.median(faults)
        print(f"  page faults of the fresh read: median {med:.0f} (min {min(faults)}, max {max(faults)})")
    ratios = [a[1][0] / b[1][0] for a, b in zip(now, before, strict=True)]
    print(f"  fresh read CPU, now / before #18, interleaved pairs: median {statistics.median(ratios):.2f} "
          f"(min {min(ratios):.2f}, max {max(ratios):.2f})")  # fmt: skip
    for i, what in ((1, "CPU"), (0, "wall")):
        if other:
            ratios = [a[i][0] / b[i][0] for a, b in zip(now, other, strict=True)]
            print(f"  fresh read {what}, now / code at {against}, interleaved pairs: median "
                  f"{statistics.median(ratios):.2f} (min {min(ratios):.2f}, max {max(ratios):.2f})")  # fmt: skip

    day = make_year(seed=8, rows=1440)
    day.index = (pd.DatetimeIndex(day.index) + pd.Timedelta(days=365)).as_unit("ms")  # 2024-12-31, one more day
    dec = series / "period=2024-12" / "part.parquet"
    ledger = series / "_coverage.json"
    backup = {p: p.read_bytes() for p in (dec, ledger)}

    def restore() -> None:
        for p, data in backup.items():
            p.write_bytes(data)

    written_per_run: list[int] = []
    t, _ = timed(lambda: written_per_run.append(store.put(day, "BTC/USDT", "1m", venue="bench")), repeat, restore)
    record("kit store, append one day", t, None, None, partitions=max(written_per_run))
    after = store.candles("BTC/USDT", "1m", YEAR_START, YEAR_END + pd.Timedelta(days=1))
    assert len(after) == 525_600 + 1440 and after.index[-1] == YEAR_END + pd.Timedelta(days=1, minutes=-1)

    report(rows, repeat)
    return 0


FRESH = """
import sys, time, resource
sys.path[:0] = [{root!r}]
import pandas as pd  # a notebook has pandas already; the store's own import is timed
t_imp = time.perf_counter()
from kit.store import Store
imp = (time.perf_counter() - t_imp) * 1e3
if {legacy!r}:  # the frame as built before #18: numpy's own arrays, and pandas' localizing index copy
    import numpy as np
    import kit.store.parquet as kp
    kp._frame_arrays = lambda n: (np.empty(n, dtype=np.int64), np.empty((5, n), dtype=np.float64))
    kp._utc_index = lambda t: pd.DatetimeIndex(t.view("datetime64[ms]"), dtype=kp._UTC_MS, name="time")
a, b = pd.Timestamp("2024-01-01", tz="UTC"), pd.Timestamp("2024-12-31", tz="UTC")
f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
c0, t0 = time.process_time(), time.perf_counter()
f = Store({store!r}).candles("BTC/USDT", "1m", a, b)
wall, cpu = (time.perf_counter() - t0) * 1e3, (time.process_time() - c0) * 1e3
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0
print(wall, cpu, len(f), imp, faults)
"""


def fresh_process_reads(
    root: Path, n: int, legacy: bool = False, code_root: Path | None = None
) -> tuple[list[float], list[float], list[float], list[int]]:
    """The year's first read in ``n`` fresh interpreters: wall ms, CPU ms, import ms of kit.store, page faults.

    pandas is imported first, untimed (a notebook has it); then ``from kit.store import Store`` is
    timed apart (so that work moved into the import would show), then the first read. ``legacy``:
    the frame built as before #18 (the same files and read path otherwise). ``code_root``: import
    ``kit`` from that checkout instead of this one.
    """
    import subprocess

    code_root = code_root or Path(__file__).resolve().parents[1]
    code = FRESH.format(root=str(code_root), store=str(root), legacy=legacy)
    out, cpu, imports, faults = [], [], [], []
    for _ in range(n):
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        ms, cpu_ms, rows, imp_ms, flt = proc.stdout.split()
        assert int(rows) == 525_600
        out.append(float(ms))
        cpu.append(float(cpu_ms))
        imports.append(float(imp_ms))
        faults.append(int(flt))
    return out, cpu, imports, faults


def report(rows: list[dict[str, Any]], repeat: int) -> None:
    base = next(r for r in rows if r["case"] == "kit store, whole year")["best_ms"]
    print()
    print(f"{'case':36s} {'best ms':>9s} {'median ms':>10s} {'max ms':>9s} {'x kit year':>10s} {'MB':>7s}  target")
    for r in rows:
        ratio = r["best_ms"] / base
        size = "" if r["size_mb"] is None else f"{r['size_mb']:.1f}"
        tgt = TARGETS.get(r["case"])
        verdict = "" if tgt is None else f"<= {tgt:g} ms: {'ok' if r['best_ms'] <= tgt else 'MISSED'}"
        if tgt is not None and "fresh process" in r["case"]:  # #18 states this goal for the median
            verdict += f" by the best, {'ok' if r['median_ms'] <= tgt else 'MISSED'} by the median"
        if "partitions" in r:
            verdict += f" ({r['partitions']} partition{'s' if r['partitions'] != 1 else ''} written)"
        print(
            f"{r['case']:36s} {r['best_ms']:9.2f} {r['median_ms']:10.2f} {r['max_ms']:9.2f} {ratio:10.1f} {size:>7s}  "
            f"{verdict}"
        )
    meta = {
        "python": platform.python_version(),
        "pandas": pd.__version__,
        "pyarrow": pa.__version__,
        "numpy": np.__version__,
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "repeat": repeat,
    }
    print(f"\n{meta}")
    print(f"load average at end: {os.getloadavg()}")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "store.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1, default=str))


if __name__ == "__main__":
    sys.exit(main())
