"""Memory probe of ``bench_soak.py --trace``: imported at start-up by the ``kit run`` child (``PYTHONPATH``).

When ``KIT_BENCH_TRACE_DIR`` is set, it starts :mod:`tracemalloc` (one frame) and, every
``KIT_BENCH_TRACE_S`` seconds (default 60), appends a line to ``probe.jsonl`` in that directory:
the process's RSS split as the kernel reports it (anonymous, file-backed, shared memory), the
bytes :mod:`tracemalloc` traces (Python's own allocations), and dumps a snapshot (``snap-N.bin``).
``bench_soak.py`` diffs the snapshots: what grows in Python, and how much of the RSS growth is
outside Python's allocator (SQLite's page cache, the C allocator's arenas, ...).
"""

import json
import os
import threading
import time
import tracemalloc

_DIR = os.environ.get("KIT_BENCH_TRACE_DIR")


def _status() -> dict:
    out = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            key = line.split(":")[0]
            if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
                out[key] = int(line.split()[1])
    return out


def _probe(every: float) -> None:
    n = 0
    while True:
        time.sleep(every)
        current, _ = tracemalloc.get_traced_memory()
        tracemalloc.take_snapshot().dump(os.path.join(_DIR, f"snap-{n}.bin"))
        with open(os.path.join(_DIR, "probe.jsonl"), "a") as fh:
            fh.write(json.dumps({"t": time.time(), "n": n, "traced": current, **_status()}) + "\n")
        n += 1


if _DIR:
    tracemalloc.start(1)
    threading.Thread(target=_probe, args=(float(os.environ.get("KIT_BENCH_TRACE_S", "60")),), daemon=True).start()
