"""Ten orders sent together: a pool of threads (the path before #14's second pass) vs one hand-off to the loop.

The same Session, the same stepped localnet (a child process, 10 symbols), the same prepared
orders (``Session.prepare_many``: checks and intents journaled, nothing sent). Each round sends
ten small market buys, one per symbol, by one of two contenders, alternating which goes first:

- ``threads``: sixteen kept threads, each sending one prepared order through the Session's
  single-request path (``_send_order``: the budget, the request, the ack journaled), as
  ``place_many`` did before;
- ``loop``: ``Session.send_prepared``, the requests handed to the Session's event loop together
  (``_request_many``) and the acks journaled in one transaction.

Per round: ms from the call to the last request handed to ccxt (the Session's request log:
``sent_ms`` when present, else the line's time minus the request's duration) and to the call's
return (every order acknowledged and journaled). Printed: median [min-max] per contender, the
ratio, and the load average.

Run::

    .venv/bin/python benchmarks/bench_place_many.py --rounds 15
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import ROUND_UP, Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_close import stepped_localnet  # noqa: E402
from bench_runner import symbols  # noqa: E402


def _last_sent(log_dir: Path, after_ms: float) -> float:
    last = 0.0
    for log in sorted(log_dir.glob("requests.jsonl*")):
        for line in log.read_text().splitlines():
            q = json.loads(line)
            if q["method"] == "POST" and q["url"].endswith("/api/v3/order") and q.get("latency_ms") is not None:
                sent = q.get("sent_ms") or q["ts_ms"] - q["latency_ms"]
                if sent >= after_ms:
                    last = max(last, sent)
    return last


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15, help="rounds per contender")
    ap.add_argument("--symbols", type=int, default=10)
    args = ap.parse_args()
    parent, proc, home = stepped_localnet(args.symbols, "bench-place-many-")
    from kit.session import Session

    s = Session("localnet", stage="testnet", journal=home / "journal.sqlite", dotenv=None)
    names = [f"{x.base}/{x.quote}" for x in symbols(args.symbols)]
    prices = {n: Decimal(str(s.ticker(n)["last"])) for n in names}
    pool = ThreadPoolExecutor(16, thread_name_prefix="bench-place")
    s.free_balances()
    s.measure_clock(samples=3)

    def threads(prepared: Any) -> None:
        def one(p: tuple[str, str, tuple[Any, ...]]) -> Any:
            try:
                return s._send_order(*p)
            except Exception as exc:  # a refusal is an outcome here, as in place_many
                return exc

        prepared.sent = True
        list(pool.map(one, [p for _, p in prepared.ready]))

    def loop(prepared: Any) -> None:
        s.send_prepared(prepared)

    contenders = {"threads": threads, "loop": loop}
    res: dict[str, dict[str, list[float]]] = {n: {"last_sent": [], "returned": []} for n in contenders}
    loads = [os.getloadavg()[0]]
    for r in range(args.rounds):
        for name in ("threads", "loop") if r % 2 == 0 else ("loop", "threads"):
            parent.send(1_000)  # a second of market, so the books move a little between rounds
            parent.recv()
            s.free_balances()  # fresh, as the runner's prewarm leaves it
            orders = [{"symbol": n, "side": "buy",
                       "amount": (Decimal(12) / prices[n]).quantize(Decimal("0.0001"), rounding=ROUND_UP)}
                      for n in names]  # fmt: skip
            prepared = s.prepare_many(orders)
            t0 = time.time() * 1000
            contenders[name](prepared)
            res[name]["returned"].append(time.time() * 1000 - t0)
            res[name]["last_sent"].append(_last_sent(home / "logs", t0) - t0)
        loads.append(os.getloadavg()[0])
    parent.send("stop")
    s.close()
    pool.shutdown()
    print(f"{args.symbols} orders per round, {args.rounds} rounds per contender (alternating which goes first); "
          f"load (1 min) {min(loads):.1f}-{max(loads):.1f}")  # fmt: skip
    print(f"{'ms from the call, median [min-max]':40}{'threads':>22}{'loop':>22}{'ratio':>8}")
    for metric in ("last_sent", "returned"):
        cells, meds = [], []
        for name in contenders:
            xs = res[name][metric]
            meds.append(statistics.median(xs))
            cells.append(f"{meds[-1]:.1f} [{min(xs):.1f}-{max(xs):.1f}]")
        print(f"{metric:40}{cells[0]:>22}{cells[1]:>22}{meds[0] / meds[1]:>7.2f}x")


if __name__ == "__main__":
    main()
