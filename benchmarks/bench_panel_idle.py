"""Benchmark an idle ``ui.panel(session)``: the request weight it spends per minute, as a share of the budget.

The issue (#17.5): a panel left idle in polling mode went from 437 to 1937 weight in 30 s, about
half of Binance's 6000 per minute. The blotter now sizes its poll period from the weight of one
refresh so that idle polling stays under ``IDLE_SHARE`` of the budget (3 %; the goal is under 5 %),
and the status bar shows the share. This runs both side by side on one localnet, same idle time:

(a) ``idle_share=None``: the old behaviour, a refresh every ``interval_s`` (2 s) whatever it costs;
(b) the default: the poll period follows the budget.

Each holds one resting kit order (so each refresh also asks for trades, as the blotter does while
an order can fill) and a panel whose blotter shows every symbol (``symbols=None``: ``openOrders``
without a symbol, weight 80) or one symbol (``--symbol``: weight 6). The weight is summed from the
Session's own request log over the idle window (the requests the widgets sent; nothing else runs).

Run::

    .venv/bin/python benchmarks/bench_panel_idle.py             # 30 s idle each, every symbol
    .venv/bin/python benchmarks/bench_panel_idle.py --idle-s 60 --symbol BTC/USDT
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from kit.localnet import LimitsConfig, LocalnetConfig
from kit.localnet.server import start

BIG = LimitsConfig(weight_per_minute=10**9, sapi_weight_per_minute=10**9, orders_per_10s=10**9, orders_per_day=10**9)
LIMIT = 6000  # Binance Spot's REQUEST_WEIGHT per minute: the budget the share is of


def idle_weight(net: Any, home: Path, *, idle_s: float, share: float | None, symbol: str | None) -> dict[str, Any]:
    """Open a Session and a panel, rest one order, leave it idle ``idle_s``; the weight its widgets sent."""
    from kit.session import Session
    from kit.views import ui

    key, secret = net.credentials("trader")
    os.environ.update({"KIT_LOCALNET_URL": net.url, "KIT_LOCALNET_API_KEY": key, "KIT_LOCALNET_API_SECRET": secret,
                       "KIT_HOME": str(home)})  # fmt: skip
    s = Session("localnet", stage="testnet", dotenv=None, weight_limit=LIMIT)
    try:
        last = float(s.ticker("BTC/USDT")["last"])
        s.place("BTC/USDT", "buy", "0.001", price=str(round(last * 0.8, 2)))
        box = ui.panel(s, symbols=[symbol] if symbol else None)
        box.blotter.idle_share = share
        box.blotter.use_streams = False  # polling mode, as in the issue (streams would make it cheaper still)
        box.start()
        time.sleep(1.0)  # the first refresh (on start) is not idle
        t0 = int(time.time() * 1000)
        time.sleep(idle_s)
        t1 = int(time.time() * 1000)
        box.status.refresh()
        shown = box.status.last_status.get("widgets_weight")
        box.close()
        rows = [r for r in s.requests.read() if t0 <= int(r.get("ts_ms", 0)) <= t1]
    finally:
        s.close()
    weight = sum(int(r.get("weight") or 0) for r in rows)
    per_min = weight * 60_000 / (t1 - t0)
    return {"requests": len(rows), "weight": weight, "per_min": per_min, "share": per_min / LIMIT, "shown": shown}


def main() -> None:
    """Run both variants and print them side by side."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle-s", type=float, default=30.0, help="idle seconds per variant")
    parser.add_argument("--symbol", default=None, help="blotter symbols=[SYMBOL] (default: every symbol)")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp, start(config=LocalnetConfig(limits=BIG)) as net:
        for name, share in (("every 2 s (before)", None), ("budgeted (now)", 0.03)):
            results[name] = idle_weight(net, Path(tmp) / name.split()[0], idle_s=args.idle_s, share=share,
                                        symbol=args.symbol)  # fmt: skip
    what = f"symbols=[{args.symbol}]" if args.symbol else "symbols=None"
    print(f"idle ui.panel(session, {what}), polling, one resting order, {args.idle_s:.0f} s idle each; "
          f"budget {LIMIT}/min")  # fmt: skip
    head = ("variant", "requests", "weight", "weight/min", "share", "status bar (last min)")
    print(f"{head[0]:<20} {head[1]:>8} {head[2]:>7} {head[3]:>10} {head[4]:>7} {head[5]:>22}")
    for name, r in results.items():
        print(f"{name:<20} {r['requests']:>8} {r['weight']:>7} {r['per_min']:>10.0f} {r['share'] * 100:>6.1f}% "
              f"{r['shown']!s:>22}")  # fmt: skip
    before, now = results["every 2 s (before)"], results["budgeted (now)"]
    if now["per_min"]:
        print(f"ratio: the budgeted panel spends {before['per_min'] / now['per_min']:.1f}x less weight while idle")


if __name__ == "__main__":
    main()
