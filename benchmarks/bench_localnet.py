"""Benchmark localnet through the real ccxt client over loopback.

Measures:

1. order placement round trip (sync ``ccxt.binance.create_order``, a resting LIMIT far from the
   market): p50 / p99 latency (target: p50 < 5 ms);
2. sustained orders per second from one client (ccxt's own rate limiter off; target >= 300/s):
   a sync client placing orders back to back (bounded by the round trip), and one async client
   keeping several orders in flight;
3. 20 concurrent async clients placing orders at once, counting errors (target: none).

The server runs in a child process (as ``kit localnet serve`` would), so client and server do
not share one GIL; credentials come back over a pipe and are never printed. Limits are set
huge so the benchmark measures the server, not its rate limiter.

Run::

    .venv/bin/python benchmarks/bench_localnet.py [--orders 2000] [--seconds 5] [--clients 20]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import statistics
import time
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from kit.localnet import LimitsConfig, LocalnetConfig
from kit.localnet.ccxt_client import connect
from kit.localnet.config import DEFAULT_ACCOUNTS
from kit.localnet.server import start

BIG = LimitsConfig(weight_per_minute=10**9, sapi_weight_per_minute=10**9, orders_per_10s=10**9, orders_per_day=10**9)


@dataclass
class Remote:
    """A localnet running in a child process."""

    url: str
    api_key: str
    secret: str

    def client(self, *, async_: bool = False) -> Any:
        return connect(self.url, self.api_key, self.secret, async_=async_, enableRateLimit=False)


def _serve_child(conn: Any) -> None:
    # Generous balances: the benchmark places thousands of small resting buys.
    accounts = tuple(replace(a, balances={**a.balances, "USDT": Decimal(10**9)}) for a in DEFAULT_ACCOUNTS)
    cfg = LocalnetConfig(stepped=True, history_minutes=60, limits=BIG, accounts=accounts)
    with start(port=0, config=cfg) as net:
        conn.send((net.url, *net.credentials("trader")))
        conn.recv()  # wait for "stop"


def _price(ex: Any) -> float:
    return round(ex.fetch_order_book("BTC/USDT", 5)["bids"][0][0] * 0.5, 2)


def bench_latency(net: Remote, n: int) -> dict[str, float]:
    ex = net.client()
    ex.load_markets()
    price = _price(ex)
    for _ in range(50):  # warm-up: connection pool, code paths
        ex.create_order("BTC/USDT", "limit", "buy", 0.001, price)
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        ex.create_order("BTC/USDT", "limit", "buy", 0.001, price)
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return {"n": n, "p50_ms": statistics.median(samples), "p99_ms": samples[int(0.99 * (n - 1))], "max_ms": samples[-1]}


def bench_throughput(net: Remote, seconds: float) -> dict[str, float]:
    ex = net.client()
    ex.load_markets()
    price = _price(ex)
    count = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        ex.create_order("BTC/USDT", "limit", "buy", 0.001, price)
        count += 1
    elapsed = time.perf_counter() - t0
    return {"orders": count, "seconds": elapsed, "orders_per_s": count / elapsed}


def bench_pipelined(net: Remote, seconds: float, in_flight: int) -> dict[str, float]:
    """One async ccxt client keeping ``in_flight`` orders outstanding (one connection pool)."""

    async def run() -> tuple[int, int, float]:
        ex = net.client(async_=True)
        ok = errors = 0
        try:
            await ex.load_markets()
            ob = await ex.fetch_order_book("BTC/USDT", 5)
            price = round(ob["bids"][0][0] * 0.5, 2)
            t0 = time.perf_counter()

            async def worker() -> None:
                nonlocal ok, errors
                while time.perf_counter() - t0 < seconds:
                    try:
                        await ex.create_order("BTC/USDT", "limit", "buy", 0.001, price)
                        ok += 1
                    except Exception:  # counted and reported
                        errors += 1

            await asyncio.gather(*(worker() for _ in range(in_flight)))
            return ok, errors, time.perf_counter() - t0
        finally:
            await ex.close()

    ok, errors, elapsed = asyncio.run(run())
    return {"orders": ok, "errors": errors, "orders_per_s": ok / elapsed}


def bench_concurrent(net: Remote, clients: int, per_client: int) -> dict[str, float]:
    async def one() -> tuple[int, int]:
        ex = net.client(async_=True)
        ok = errors = 0
        try:
            await ex.load_markets()
            ob = await ex.fetch_order_book("BTC/USDT", 5)
            price = round(ob["bids"][0][0] * 0.5, 2)
            for _ in range(per_client):
                try:
                    await ex.create_order("BTC/USDT", "limit", "buy", 0.001, price)
                    ok += 1
                except Exception:  # counted and reported
                    errors += 1
        finally:
            await ex.close()
        return ok, errors

    async def run() -> list[tuple[int, int]]:
        return await asyncio.gather(*(one() for _ in range(clients)))

    t0 = time.perf_counter()
    results = asyncio.run(run())
    elapsed = time.perf_counter() - t0
    ok = sum(r[0] for r in results)
    errors = sum(r[1] for r in results)
    return {"clients": clients, "orders": ok, "errors": errors, "seconds": elapsed, "orders_per_s": ok / elapsed}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orders", type=int, default=2000, help="orders for the latency measurement")
    ap.add_argument("--seconds", type=float, default=5.0, help="duration of the throughput run")
    ap.add_argument("--clients", type=int, default=20, help="concurrent async clients")
    ap.add_argument("--per-client", type=int, default=50, help="orders per concurrent client")
    ap.add_argument("--in-flight", type=int, default=8, help="outstanding orders of the pipelined async client")
    args = ap.parse_args()
    parent, child = mp.Pipe()
    proc = mp.get_context("spawn").Process(target=_serve_child, args=(child,), daemon=True)
    proc.start()
    try:
        net = Remote(*parent.recv())
        lat = bench_latency(net, args.orders)
        thr = bench_throughput(net, args.seconds)
        pipe = bench_pipelined(net, args.seconds, args.in_flight)
        conc = bench_concurrent(net, args.clients, args.per_client)
    finally:
        parent.send("stop")
        proc.join(30)
    rows = [
        ("round trip p50 (ms)", f"{lat['p50_ms']:.2f}", "< 5", lat["p50_ms"] < 5),
        ("round trip p99 (ms)", f"{lat['p99_ms']:.2f}", "", True),
        (
            "sustained orders/s (1 sync client, sequential)",
            f"{thr['orders_per_s']:.0f}",
            ">= 300",
            thr["orders_per_s"] >= 300,
        ),
        (
            f"sustained orders/s (1 async client, {args.in_flight} in flight)",
            f"{pipe['orders_per_s']:.0f}",
            "",
            pipe["errors"] == 0,
        ),
        (f"{conc['clients']:.0f} concurrent clients: orders", f"{conc['orders']:.0f}", "", True),
        (f"{conc['clients']:.0f} concurrent clients: orders/s", f"{conc['orders_per_s']:.0f}", "", True),
        (f"{conc['clients']:.0f} concurrent clients: errors", f"{conc['errors']:.0f}", "0", conc["errors"] == 0),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'metric':<{width}}  {'value':>10}  {'target':>8}  ok")
    print("-" * (width + 28))
    for name, value, target, ok in rows:
        print(f"{name:<{width}}  {value:>10}  {target:>8}  {'yes' if ok else 'NO'}")


if __name__ == "__main__":
    main()
