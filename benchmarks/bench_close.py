"""One candle close of a forward run, stepped: the runner's own path from the poll to the orders sent.

``bench_runner.py`` measures the whole path on a real-time localnet, one close a minute. This one
runs the runner's close on a **stepped** localnet (served by a child process, 10 symbols by
default): step the clock one minute, call :meth:`kit.run.Runner.poll_once`, again and again, so a
few hundred closes take a minute and two versions of the code can be compared in interleaved
pairs. Each contender is a source tree (``--before`` is a git ref exported to a temporary
directory; ``after`` is this working tree) run in its own child process; the pairs alternate which
goes first. Per close, in ms after the poll started (the runner wakes at the close):

- **klines in**: the last kline answer logged by the Session;
- **first decision** / **last intent**: when the journal wrote the first decision row and the last
  intent row of the close;
- **last order sent**: the last order request of the close leaving, from the Session's request log
  (``sent_ms`` when the log has it, else the log line's time minus the request's duration: the
  time the request was handed to the loop);
- **poll done**: :meth:`poll_once` returned (orders acknowledged and linked to their decisions).

The runner calls :meth:`~kit.run.Runner._prewarm` before each step, as it does two seconds before
a real close (the clock and the free balance are fresh at the close).

Run::

    .venv/bin/python benchmarks/bench_close.py --before main --pairs 4 --closes 40
"""

from __future__ import annotations

import argparse
import bisect
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
STEPS = ("klines_in", "first_decision", "last_intent", "last_order_sent", "poll_done")


def _serve(conn: Any, n: int, tmp: str) -> None:
    """The localnet of one child run: stepped, ``n`` symbols; steps on request."""
    from bench_runner import BIG, symbols

    from kit.localnet import LocalnetConfig
    from kit.localnet.server import start

    cfg = LocalnetConfig(seed=7, history_minutes=30, state_dir=Path(tmp) / "ln", limits=BIG, symbols=symbols(n),
                         stepped=True)  # fmt: skip
    net = start(port=0, config=cfg)
    conn.send((net.url, net.credentials("trader")))
    while (cmd := conn.recv()) != "stop":
        conn.send(net.step(cmd))
    net.stop()


def stepped_localnet(n_symbols: int, prefix: str) -> tuple[Any, Any, Path]:
    """A stepped localnet in its own process, and this process's KIT_* pointed at it.

    Returns (the pipe that steps it, its process, the KIT_HOME set here).
    """
    tmp = tempfile.mkdtemp(prefix=prefix)
    parent, conn = mp.Pipe()
    proc = mp.get_context("spawn").Process(target=_serve, args=(conn, n_symbols, tmp), daemon=True)
    proc.start()
    url, (key, secret) = parent.recv()
    for k in [k for k in os.environ if k.startswith("KIT_")]:
        del os.environ[k]
    home = Path(tmp) / "home"
    os.environ.update(KIT_HOME=str(home), KIT_LOCALNET_URL=url, KIT_LOCALNET_API_KEY=key,
                      KIT_LOCALNET_API_SECRET=secret)  # fmt: skip
    return parent, proc, home


def child(n_symbols: int, closes: int, warm: int) -> dict[str, Any]:
    """One contender's run in this process (its ``kit`` is whatever ``sys.path`` finds first)."""
    sys.path.insert(0, str(HERE))
    from bench_runner import Flip, symbols

    parent, proc, home = stepped_localnet(n_symbols, "bench-close-")
    from kit.journal.journal import Journal
    from kit.run import Runner
    from kit.session import Session

    s = Session("localnet", stage="testnet", journal=home / "journal.sqlite", dotenv=None)
    names = [f"{x.base}/{x.quote}" for x in symbols(n_symbols)]
    r = Runner(s, Flip, names, name="bench", schedule="poll", reconcile=False)
    r.prepare()
    starts: list[float] = []
    done: list[float] = []
    for _ in range(warm + closes):
        r._prewarm()
        parent.send(60_000)
        parent.recv()
        starts.append(time.time() * 1000)
        r.poll_once()
        done.append(time.time() * 1000)
    parent.send("stop")
    s.close()
    per: dict[int, dict[str, list[float]]] = {}

    def note(step: str, at: float) -> None:
        k = bisect.bisect_right(starts, at) - 1
        if k >= warm and at <= done[k] + 1:
            per.setdefault(k, {}).setdefault(step, []).append(at - starts[k])

    for log in sorted((home / "logs").glob("requests.jsonl*")):
        for line in log.read_text().splitlines():
            q = json.loads(line)
            if q.get("latency_ms") is None:
                continue
            sent = q.get("sent_ms") or q["ts_ms"] - q["latency_ms"]
            if "klines" in q["url"]:
                note("klines_in", q["ts_ms"])
            elif q["method"] == "POST" and q["url"].endswith("/api/v3/order"):
                note("last_order_sent", sent)
    with Journal(home / "journal.sqlite") as j:
        for e in j.events(kinds=["decision"]):
            note("first_decision", float(e.recorded_ms or 0))
        for e in j.events(kinds=["intent"]):
            note("last_intent", float(e.recorded_ms or 0))
    for k in range(warm, warm + closes):
        per.setdefault(k, {})["poll_done"] = [done[k] - starts[k]]
    out: dict[str, Any] = {"closes": closes, "symbols": n_symbols, "orders": r.broker.sent}
    for step in STEPS:
        vals = [min(v[step]) if step == "first_decision" else max(v[step]) for v in per.values() if step in v]
        out[step] = round(statistics.median(vals), 1) if vals else None
    return out


def export(ref: str) -> Path:
    """The tree of git ``ref`` in a temporary directory."""
    d = Path(tempfile.mkdtemp(prefix=f"bench-close-{ref.replace('/', '_')}-"))
    repo = HERE.parent
    archive = subprocess.run(["git", "-C", str(repo), "archive", ref], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(d)], input=archive, check=True)
    return d


def run_child(src: Path, args: argparse.Namespace) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    cmd = [sys.executable, str(HERE / "bench_close.py"), "--child", "--symbols", str(args.symbols),
           "--closes", str(args.closes), "--warm", str(args.warm)]  # fmt: skip
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=src, check=False)
    if done.returncode:
        raise SystemExit(f"child in {src} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", default="main", help="git ref of the 'before' contender")
    ap.add_argument("--pairs", type=int, default=4)
    ap.add_argument("--closes", type=int, default=40, help="closes per run (after --warm)")
    ap.add_argument("--warm", type=int, default=3)
    ap.add_argument("--symbols", type=int, default=10)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.symbols, args.closes, args.warm)))
        return
    trees = {"before": export(args.before), "after": HERE.parent}
    runs: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
    loads = [os.getloadavg()[0]]
    for i in range(args.pairs):
        for name in ("before", "after") if i % 2 == 0 else ("after", "before"):
            runs[name].append(run_child(trees[name], args))
            loads.append(os.getloadavg()[0])
            print(f"pair {i + 1} {name:6}: " + "  ".join(f"{k} {runs[name][-1][k]}" for k in STEPS), flush=True)
    print(f"\n{args.symbols} symbols, {args.pairs} pairs x {args.closes} closes; before = {args.before}; "
          f"load (1 min) {min(loads):.1f}-{max(loads):.1f}")  # fmt: skip
    print(f"{'ms after the poll started (median of runs [min-max])':55}{'before':>20}{'after':>20}{'ratio':>8}")
    for step in STEPS:
        cells, meds = [], []
        for name in ("before", "after"):
            vals = [r[step] for r in runs[name] if r[step] is not None]
            meds.append(statistics.median(vals) if vals else None)
            cells.append(f"{meds[-1]:.1f} [{min(vals):.0f}-{max(vals):.0f}]" if vals else "-")
        ratio = f"{meds[0] / meds[1]:.2f}x" if meds[0] and meds[1] else ""
        print(f"{step:55}{cells[0]:>20}{cells[1]:>20}{ratio:>8}")


if __name__ == "__main__":
    main()
