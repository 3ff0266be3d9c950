"""Benchmark the kill switch: time from ``$KIT_HOME/KILL`` appearing to the last open kit order cancelled.

Two holders of a Session with resting orders, each left idle (nobody calls ``place()``):

(a) an idle Python process (its main thread asleep in ``time.sleep``);
(b) a Jupyter kernel (ipykernel through jupyter_client, as a notebook would run it), idle between cells.

Each holder opens ``kit.Session("localnet")`` on a localnet served by this process, places ``--orders``
resting limit orders, and waits. The benchmark then writes the kill file (``KillSwitch.engage``, an
atomic rename) and reads the exchange's open orders with a plain ccxt client every 10 ms until no
order with a kit client id (``tk-...``) is left. The figure is that time, per round; goal < 2 s. The
Session's watcher looks every 0.25 s, so about 0.13 s of it is, on average, waiting for the next look.

Run::

    .venv/bin/python benchmarks/bench_kill.py                  # 5 rounds each, 3 orders
    .venv/bin/python benchmarks/bench_kill.py --rounds 10 --orders 5 --skip kernel
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from kit.localnet import LimitsConfig, LocalnetConfig
from kit.localnet.server import start
from kit.safety.killswitch import KillSwitch

BIG = LimitsConfig(weight_per_minute=10**9, sapi_weight_per_minute=10**9, orders_per_10s=10**9, orders_per_day=10**9)


def holder_code(orders: int) -> str:
    """Python that opens a Session, rests ``orders`` buy limits far below the market and prints READY."""
    return textwrap.dedent(
        f"""
        import kit
        s = kit.Session("localnet", dotenv=None)
        last = float(s.ticker("BTC/USDT")["last"])
        for i in range({orders}):
            s.place("BTC/USDT", "buy", "0.001", price=str(round(last * (0.8 - 0.01 * i), 2)))
        print("READY", flush=True)
        """
    )


def wait_gone(client: Any, timeout_s: float = 10.0) -> float:
    """Seconds until no kit order is open (polled every 10 ms), or raise after ``timeout_s``."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        if not [o for o in client.fetch_open_orders("BTC/USDT") if str(o["clientOrderId"]).startswith("tk-")]:
            return time.monotonic() - t0
        time.sleep(0.01)
    raise RuntimeError(f"kit orders still open after {timeout_s} s")


def kit_open(client: Any) -> int:
    return len([o for o in client.fetch_open_orders("BTC/USDT") if str(o["clientOrderId"]).startswith("tk-")])


def round_process(env: dict[str, str], orders: int, client: Any, switch: KillSwitch) -> float:
    code = holder_code(orders) + "import time\ntime.sleep(3600)\n"
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "READY" not in line:
            raise RuntimeError("holder process did not start")
        assert kit_open(client) == orders
        switch.engage("bench_kill")
        return wait_gone(client)
    finally:
        proc.kill()
        proc.wait()
        switch.reset()


def round_kernel(env: dict[str, str], orders: int, client: Any, switch: KillSwitch) -> float:
    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name="python3")
    km.start_kernel(env=env)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        reply = kc.execute_interactive(holder_code(orders), timeout=60, output_hook=lambda msg: None)
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"kernel cell failed: {reply['content'].get('ename')}")
        assert kit_open(client) == orders
        switch.engage("bench_kill")  # the kernel is idle: no cell is running
        return wait_gone(client)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        switch.reset()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--orders", type=int, default=3)
    ap.add_argument("--skip", action="append", default=[], choices=["process", "kernel"])
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-kill-"))
    net = start(port=0, config=LocalnetConfig(stepped=True, seed=7, history_minutes=30, state_dir=tmp / "ln",
                                              limits=BIG))  # fmt: skip
    try:
        key, secret = net.credentials("trader")
        env = {k: v for k, v in os.environ.items() if not k.startswith("KIT_")}
        env.update(KIT_HOME=str(tmp / "home"), KIT_LOCALNET_URL=net.url, KIT_LOCALNET_API_KEY=key,
                   KIT_LOCALNET_API_SECRET=secret)  # fmt: skip
        switch = KillSwitch(tmp / "home" / "KILL", env={})
        client = net.client("trader", enableRateLimit=False)
        print(f"load average at start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")
        for name, fn in (("idle process", round_process), ("notebook kernel", round_kernel)):
            if name.split()[-1] in args.skip:
                continue
            times = [fn(env, args.orders, client, switch) for _ in range(args.rounds)]
            ms = sorted(t * 1000 for t in times)
            print(f"{name:16s} KILL -> last of {args.orders} orders cancelled: median {statistics.median(ms):.0f} ms, "
                  f"max {ms[-1]:.0f} ms, min {ms[0]:.0f} ms over {args.rounds} rounds (goal < 2000 ms)")  # fmt: skip
        print(f"load average at end: {os.getloadavg()[0]:.2f}")
    finally:
        net.stop()


if __name__ == "__main__":
    main()
