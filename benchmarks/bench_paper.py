"""Paper fills against the venue they mirror: the paper fill model vs localnet's own matching, same orders.

A stepped localnet (synthetic BTCUSDT market, seed 7) takes ``--orders`` orders through real ccxt,
one every 3 simulated seconds, of four kinds drawn with a seeded RNG: market, marketable limit
(at the best opposite price), IOC at the best opposite price, and passive GTC limits 0-3 ticks
behind the best price on our side, canceled 30 s after they were placed. After every 250 ms
step the venue's book (50 levels) and its new trade prints are handed to a
:class:`kit.engine.paperfill.PaperBook`, which simulates a twin of each order with the default
(conservative) model: 250 ms insert and cancel latency, consumed liquidity held 3 s, the
risk-averse queue. The real outcome is localnet's own fill (``fetch_order`` at the end).

Reported per order type (``kit.paper.drift.drift_table``): fill ratios (real, paper), the price
delta in bps (positive: paper better than the venue), miss and phantom rates. The claim tested:
on average the paper model is never more optimistic than the venue (mean dFR <= 0 and mean
price delta <= 0 over all orders; per bucket, dFR <= 0 and price delta <= 0.01 bp).

Usage: ``python benchmarks/bench_paper.py [--orders 200] [--seed 7]``.
Writes ``benchmarks/out/paper.json``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from kit.engine.paperfill import PaperBook, PaperFillModel, PaperOrder  # noqa: E402
from kit.localnet import LimitsConfig, LocalnetConfig, start  # noqa: E402
from kit.paper.drift import drift_table  # noqa: E402

SYMBOL, SID = "BTC/USDT", "BTCUSDT"
STEP_MS, GAP_MS, REST_MS = 250, 3_000, 30_000
BIG = LimitsConfig(weight_per_minute=10**9, sapi_weight_per_minute=10**9, orders_per_10s=10**9, orders_per_day=10**9)


def run(n_orders: int, seed: int) -> dict[str, Any]:
    """Place the orders on localnet and their twins on the paper model; return pairs and the table."""
    rng = random.Random(seed)
    cfg = LocalnetConfig(stepped=True, start_ms=1_790_000_000_000, history_minutes=30, limits=BIG, seed=seed,
                         accounts=(LocalnetConfig().accounts[0].__class__("main", {"USDT": Decimal(10**7),
                                                                                   "BTC": Decimal(100)}),))  # fmt: skip
    t0 = time.perf_counter()
    with start(config=cfg) as net:
        ex = net.client("trader", enableRateLimit=False)
        ex.load_markets()
        tick, step = Decimal("0.01"), Decimal("0.00001")
        pb = PaperBook(tick=tick, step=step, model=PaperFillModel())
        seen = {"id": 0}

        def feed() -> int:
            def grab(v: Any) -> tuple[int, Any, list[Any]]:
                prints = [p for p in v.recent[SID] if p.id > seen["id"]]
                return v.clock.now_ms(), v.books[SID].levels_sorted(50), prints

            now, (bids, asks), prints = net.call(grab)
            for p in prints:
                pb.on_trade(p.ts_ms, p.price, p.qty, buyer_maker=p.buyer_maker)
                seen["id"] = max(seen["id"], p.id)
            pb.on_book(now, bids=bids, asks=asks)
            return int(now)

        def advance(ms: int) -> int:
            now = 0
            for _ in range(ms // STEP_MS):
                net.step(STEP_MS)
                now = feed()
            return now

        now = feed()
        intents: list[dict[str, Any]] = []
        cancels: list[tuple[int, str, str]] = []
        for i in range(n_orders):
            kind = rng.choice(["market", "marketable_limit", "ioc_fok", "passive_limit"])
            side = rng.choice(["buy", "sell"])
            qty = Decimal(rng.choice(["0.001", "0.005", "0.02", "0.1", "0.5"]))
            bid, ask = max(pb.bids), min(pb.asks)
            cid = f"bench-{seed}-{i}"
            price: Decimal | None = None
            tif = "GTC"
            if kind == "market":
                o = ex.create_order(SYMBOL, "market", side, float(qty), None, {"newClientOrderId": cid})
            else:
                if kind == "passive_limit":
                    back = tick * rng.randint(0, 3)
                    price = bid - back if side == "buy" else ask + back
                else:
                    price = ask if side == "buy" else bid
                tif = "IOC" if kind == "ioc_fok" else "GTC"
                o = ex.create_order(SYMBOL, "limit", side, float(qty), float(price),
                                    {"newClientOrderId": cid, "timeInForce": tif})  # fmt: skip
            pb.submit(PaperOrder(cid, side, qty, price=price, tif=tif), ts_ms=now)
            intents.append(
                {"client_id": cid, "id": o["id"], "bucket": kind, "side": side, "qty": float(qty), "ts_ms": now}
            )
            if kind in ("passive_limit", "marketable_limit"):
                cancels.append((now + REST_MS, cid, o["id"]))
            now = advance(GAP_MS)
            while cancels and cancels[0][0] <= now:
                _, ccid, oid = cancels.pop(0)
                try:
                    ex.cancel_order(oid, SYMBOL)
                except Exception:  # filled meanwhile: nothing to cancel
                    pass
                pb.cancel(ccid, ts_ms=now)
        now = advance(REST_MS + 1_000)
        for _, ccid, oid in cancels:
            try:
                ex.cancel_order(oid, SYMBOL)
            except Exception:
                pass
            pb.cancel(ccid, ts_ms=now)
        pb.advance(now + 1_000)
        rows = []
        for it in intents:
            real = ex.fetch_order(it["id"], SYMBOL)
            twin = pb.orders[it["client_id"]]
            rows.append({
                **{k: it[k] for k in ("client_id", "bucket", "side", "qty", "ts_ms")},
                "real_filled": float(real["filled"] or 0), "real_avg": real["average"],
                "real_ttf_ms": None, "paper_filled": float(twin.filled),
                "paper_avg": float(twin.avg_price) if twin.avg_price is not None else None,
                "paper_ttf_ms": None, "spread_bps": None, "tick_bps": None,
            })  # fmt: skip
    pairs = pd.DataFrame(rows)
    table = drift_table(pairs)
    return {"pairs": pairs, "table": table, "seconds": time.perf_counter() - t0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=200)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    res = run(args.orders, args.seed)
    pairs, table = res["pairs"], res["table"]
    both = pairs[(pairs["real_filled"] > 0) & (pairs["paper_filled"] > 0)].copy()
    sign = both["side"].map({"buy": 1.0, "sell": -1.0})
    both["dp"] = sign * (both["real_avg"] - both["paper_avg"]) / both["real_avg"] * 1e4
    fr_real, fr_paper = pairs["real_filled"] / pairs["qty"], pairs["paper_filled"] / pairs["qty"]
    out: dict[str, Any] = {"orders": len(pairs), "seed": args.seed, "seconds": round(res["seconds"], 1), "buckets": {}}
    print(f"{len(pairs)} orders, seed {args.seed}, {res['seconds']:.1f} s")
    print("| order type | orders | fill ratio venue | fill ratio paper | mean dFR | mean dp (bps) | miss | phantom |")
    print("|---|---|---|---|---|---|---|---|")
    for bucket, g in pairs.groupby("bucket"):
        dfr = float((fr_paper[g.index] - fr_real[g.index]).mean())
        dp = both[both["bucket"] == bucket]["dp"]
        row = table.loc[bucket]
        rec = {"orders": len(g), "fr_real": float(fr_real[g.index].mean()), "fr_paper": float(fr_paper[g.index].mean()),
               "mean_dfr": dfr, "mean_dp_bps": float(dp.mean()) if len(dp) else None,
               "miss": float(row["miss_rate"]), "phantom": float(row["phantom_rate"])}  # fmt: skip
        out["buckets"][bucket] = rec
        dp_text = f"{rec['mean_dp_bps']:+.3f}" if rec["mean_dp_bps"] is not None else "n/a"
        print(f"| {bucket} | {len(g)} | {rec['fr_real']:.3f} | {rec['fr_paper']:.3f} | {dfr:+.3f} | {dp_text} | "
              f"{rec['miss']:.1%} | {rec['phantom']:.1%} |")  # fmt: skip
    all_dfr = float((fr_paper - fr_real).mean())
    all_dp = float(both["dp"].mean()) if len(both) else 0.0
    out["mean_dfr"], out["mean_dp_bps"] = all_dfr, all_dp
    tol = 0.01  # bps: a hundredth of a basis point is rounding, not optimism
    out["per_bucket_never_more_optimistic"] = {
        b: bool(r["mean_dfr"] <= 1e-12 and (r["mean_dp_bps"] is None or r["mean_dp_bps"] <= tol))
        for b, r in out["buckets"].items()
    }
    out["never_more_optimistic"] = bool(all_dfr <= 0 and all_dp <= 0)
    print(f"| all | {len(pairs)} | {fr_real.mean():.3f} | {fr_paper.mean():.3f} | {all_dfr:+.3f} | {all_dp:+.3f} | | |")
    print(f"paper never more optimistic than the venue on average (all orders): {out['never_more_optimistic']}")
    print(f"per bucket (dFR <= 0 and dp <= {tol} bp): {out['per_bucket_never_more_optimistic']}")
    (BENCH / "out").mkdir(exist_ok=True)
    (BENCH / "out" / "paper.json").write_text(json.dumps(out, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
