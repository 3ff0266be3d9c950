"""Paper fills against the venue they mirror: the paper venue and the paper model vs localnet's own matching.

Three stepped localnets run in lockstep (250 ms steps) from the same start:

- **the venue**: a localnet (synthetic BTCUSDT market, seed ``--seed``) that takes the real orders
  through real ccxt and fills them with its own matching (no latency: stepped clock);
- **the clean market**: the same localnet again (same seed, same clock), which takes no orders: its
  book and tape are what a paper venue would mirror from the exchange (the venue's own book shows
  our orders' consumption and its tape our fills; the clean copy does not, as a real exchange's
  public feed does not show paper orders);
- **the paper venue** (:mod:`kit.paper.venue`, ``PaperConfig(stepped=True)``): a private localnet
  mirroring the clean market, fed its book (100 levels) and new prints at every step, which takes
  the same orders through real ccxt 250 ms after the venue did (they were decided at the same
  moment; the paper latency is 250 ms), with the default conservative rules (worse of the
  decision and arrival books, consumed liquidity held 3 s, prints since the snapshot deducted,
  10 ticks beyond the depth, the risk-averse queue). Cancels also land 250 ms later.

Alongside, :class:`kit.engine.paperfill.PaperBook` (the pure model that drives the shadow twins)
simulates the same orders on the clean market's books and prints, as before this benchmark had a
paper venue.

Orders, one every 3 simulated seconds, of four kinds drawn with a seeded RNG: market, marketable
limit (at the best opposite price), IOC at the best opposite price, and passive GTC limits 0-3 ticks
behind the best price on our side, canceled 30 s after they were placed.

Reported per order type (``kit.paper.drift.drift_table``) for "paper venue vs venue" and "paper
model vs venue": fill ratios, the mean fill-ratio difference dFR (paper - venue), the mean price
delta in bps where both filled (positive: paper better than the venue), miss and phantom rates;
and how many orders the paper venue and the model filled identically. The claim tested: on
average paper is never more optimistic than the venue (mean dFR <= 0 and mean dp <= 0 over all
orders; per bucket, dFR <= 0 and dp <= 0.01 bp).

Usage: ``python benchmarks/bench_paper.py [--orders 200] [--seed 7]``.
Writes ``benchmarks/out/paper.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
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
from kit.localnet.config import AccountSpec  # noqa: E402
from kit.paper.drift import drift_table  # noqa: E402
from kit.paper.venue import PaperConfig, start_paper_venue  # noqa: E402

SYMBOL, SID = "BTC/USDT", "BTCUSDT"
STEP_MS, GAP_MS, REST_MS, LATENCY_MS = 250, 3_000, 30_000, 250
START_MS = 1_790_000_000_000
BIG = LimitsConfig(weight_per_minute=10**9, sapi_weight_per_minute=10**9, orders_per_10s=10**9, orders_per_day=10**9)
FUNDS = {"USDT": Decimal(10**7), "BTC": Decimal(100)}


def run(n_orders: int, seed: int) -> dict[str, Any]:
    """Place the orders on the venue, the paper venue and the model; return one row per order and outcome."""
    rng = random.Random(seed)

    def cfg() -> LocalnetConfig:
        return LocalnetConfig(stepped=True, start_ms=START_MS, history_minutes=30, limits=BIG, seed=seed,
                              accounts=(AccountSpec("main", dict(FUNDS)),))  # fmt: skip

    t0 = time.perf_counter()
    with start(config=cfg()) as venue, start(config=cfg()) as clean, tempfile.TemporaryDirectory() as tmp:
        os.environ["KIT_HOME"] = tmp  # the paper venue's budget and state stay out of the user's home
        pcfg = PaperConfig(symbols=(SYMBOL,), balances=dict(FUNDS), stepped=True, start_ms=START_MS,
                           latency_ms=LATENCY_MS, history_minutes=30)  # fmt: skip
        pv = start_paper_venue("localnet", upstream_url=clean.url, config=pcfg, state_dir=Path(tmp) / "paper")
        pv.feed.close()  # mirrored by hand below, step by step, so the three clocks stay in lockstep
        try:
            out = _orders(rng, n_orders, seed, venue, clean, pv)
        finally:
            pv.close()
    out["seconds"] = time.perf_counter() - t0
    return out


def _orders(rng: random.Random, n_orders: int, seed: int, venue: Any, clean: Any, pv: Any) -> dict[str, Any]:
    ex = venue.client("trader", enableRateLimit=False)
    px = pv.net.client("trader", enableRateLimit=False)
    ex.load_markets()
    px.load_markets()
    tick, step = Decimal("0.01"), Decimal("0.00001")
    model = PaperBook(tick=tick, step=step, model=PaperFillModel(latency_ms=LATENCY_MS, cancel_latency_ms=LATENCY_MS))
    book, tape = pv.mirror.books[SID], pv.mirror.sources[SID]
    seen = {"id": 0}

    def grab(v: Any) -> tuple[int, Any, list[Any]]:
        prints = [p for p in v.recent[SID] if p.id > seen["id"]]
        return v.clock.now_ms(), v.books[SID].levels_sorted(100), prints

    def mirror() -> int:
        """The clean market's book and new prints to the paper venue and the model (time: the clean clock)."""
        now, (bids, asks), prints = clean.call(grab)
        for (
            p
        ) in prints:  # a print at the snapshot's own ms came before it (the snapshot shows it): stamped 1 ms earlier
            ts = min(p.ts_ms, now - 1)
            model.on_trade(ts, p.price, p.qty, buyer_maker=p.buyer_maker)
            tape.feed(ts, p.price, p.qty, buyer_maker=p.buyer_maker)
            seen["id"] = max(seen["id"], p.id)
        model.on_book(now, bids=bids, asks=asks)
        book.feed(bids, asks, ts_ms=now)
        return int(now)

    def tick_all() -> int:
        venue.step(STEP_MS)
        clean.step(STEP_MS)
        now = mirror()
        assert int(pv.net.step(STEP_MS)) == now, "the paper venue's clock left the lockstep"
        return now

    def advance(ms: int, todo: list[tuple[int, Any]]) -> int:
        now = 0
        for _ in range(ms // STEP_MS):
            now = tick_all()
            while todo and todo[0][0] <= now:
                todo.pop(0)[1]()
        return now

    now = mirror()
    pv.net.step(0)
    intents: list[dict[str, Any]] = []
    later: list[tuple[int, Any]] = []  # (time, action): paper requests landing 250 ms on, cancels
    for i in range(n_orders):
        kind = rng.choice(["market", "marketable_limit", "ioc_fok", "passive_limit"])
        side = rng.choice(["buy", "sell"])
        qty = Decimal(rng.choice(["0.001", "0.005", "0.02", "0.1", "0.5"]))
        bid, ask = max(model.bids), min(model.asks)  # the public book when deciding (the clean market's)
        cid = f"bench-{seed}-{i}"
        price: Decimal | None = None
        tif = "GTC"
        if kind != "market":
            if kind == "passive_limit":
                back = tick * rng.randint(0, 3)
                price = bid - back if side == "buy" else ask + back
            else:
                price = ask if side == "buy" else bid
            tif = "IOC" if kind == "ioc_fok" else "GTC"
        args = (SYMBOL, "limit" if price is not None else "market", side, float(qty),
                float(price) if price is not None else None)  # fmt: skip
        params = {"newClientOrderId": cid, **({"timeInForce": tif} if price is not None else {})}
        o = ex.create_order(*args, params)
        model.submit(PaperOrder(cid, side, qty, price=price, tif=tif), ts_ms=now)
        it = {"client_id": cid, "id": o["id"], "paper_id": None, "bucket": kind, "side": side, "qty": float(qty),
              "ts_ms": now}  # fmt: skip
        intents.append(it)

        def send(it: dict[str, Any] = it, args: tuple[Any, ...] = args, params: dict[str, Any] = params) -> None:
            it["paper_id"] = px.create_order(*args, params)["id"]

        later.append((now + LATENCY_MS, send))
        if kind in ("passive_limit", "marketable_limit"):
            at = now + REST_MS

            def cancel(it: dict[str, Any] = it, at: int = at) -> None:
                _quiet(lambda: ex.cancel_order(it["id"], SYMBOL))
                model.cancel(it["client_id"], ts_ms=at)
                later.append((at + LATENCY_MS, lambda: _quiet(lambda: px.cancel_order(it["paper_id"], SYMBOL))))
                later.sort(key=lambda x: x[0])

            later.append((at, cancel))
        later.sort(key=lambda x: x[0])
        now = advance(GAP_MS, later)
    now = advance(REST_MS + 2 * LATENCY_MS + STEP_MS, later)
    model.advance(now + 1_000)
    rows = []
    for k, it in enumerate(intents):
        if k % 100 == 0:
            venue.reset_limits()
            pv.net.reset_limits()
        real, paper = ex.fetch_order(it["id"], SYMBOL), px.fetch_order(it["paper_id"], SYMBOL)
        twin = model.orders[it["client_id"]]
        base = {k: it[k] for k in ("client_id", "bucket", "side", "qty", "ts_ms")}
        common = {"real_filled": float(real["filled"] or 0), "real_avg": real["average"], "real_ttf_ms": None,
                  "paper_ttf_ms": None, "spread_bps": None, "tick_bps": None}  # fmt: skip
        rows.append({**base, **common, "outcome": "venue", "paper_filled": float(paper["filled"] or 0),
                     "paper_avg": paper["average"]})  # fmt: skip
        rows.append({**base, **common, "outcome": "model", "paper_filled": float(twin.filled),
                     "paper_avg": float(twin.avg_price) if twin.avg_price is not None else None})  # fmt: skip
    return {"pairs": pd.DataFrame(rows), "model": model}


def _quiet(call: Any) -> None:
    try:
        call()
    except Exception:  # filled meanwhile: nothing to cancel
        pass


def summarize(pairs: pd.DataFrame, tol: float = 0.01) -> dict[str, Any]:
    """Per bucket: fill ratios, mean dFR, mean price delta (bps), miss and phantom; and the claim."""
    table = drift_table(pairs)
    both = pairs[(pairs["real_filled"] > 0) & (pairs["paper_filled"] > 0)].copy()
    sign = both["side"].map({"buy": 1.0, "sell": -1.0})
    real_avg, paper_avg = both["real_avg"].astype(float), both["paper_avg"].astype(float)
    both["dp"] = sign * (real_avg - paper_avg) / real_avg * 1e4
    fr_real, fr_paper = pairs["real_filled"] / pairs["qty"], pairs["paper_filled"] / pairs["qty"]
    out: dict[str, Any] = {"orders": len(pairs), "buckets": {}}
    for bucket, g in pairs.groupby("bucket"):
        dp = both[both["bucket"] == bucket]["dp"]
        row = table.loc[bucket]
        out["buckets"][bucket] = {
            "orders": len(g), "fr_real": float(fr_real[g.index].mean()), "fr_paper": float(fr_paper[g.index].mean()),
            "mean_dfr": float((fr_paper[g.index] - fr_real[g.index]).mean()),
            "mean_dp_bps": float(dp.mean()) if len(dp) else None,
            "miss": float(row["miss_rate"]), "phantom": float(row["phantom_rate"]),
        }  # fmt: skip
    out["fr_real"], out["fr_paper"] = float(fr_real.mean()), float(fr_paper.mean())
    out["mean_dfr"] = float((fr_paper - fr_real).mean())
    out["mean_dp_bps"] = float(both["dp"].mean()) if len(both) else 0.0
    out["per_bucket_never_more_optimistic"] = {
        b: bool(r["mean_dfr"] <= 1e-12 and (r["mean_dp_bps"] is None or r["mean_dp_bps"] <= tol))
        for b, r in out["buckets"].items()
    }
    out["never_more_optimistic"] = bool(out["mean_dfr"] <= 0 and out["mean_dp_bps"] <= 0)
    return out


def print_table(title: str, s: dict[str, Any], tol: float = 0.01) -> None:
    """The summary as a markdown table."""
    print(f"\n{title}")
    print("| order type | orders | fill ratio venue | fill ratio paper | mean dFR | mean dp (bps) | miss | phantom |")
    print("|---|---|---|---|---|---|---|---|")
    for bucket, r in s["buckets"].items():
        dp = f"{r['mean_dp_bps']:+.3f}" if r["mean_dp_bps"] is not None else "n/a"
        print(f"| {bucket} | {r['orders']} | {r['fr_real']:.3f} | {r['fr_paper']:.3f} | {r['mean_dfr']:+.3f} | {dp} | "
              f"{r['miss']:.1%} | {r['phantom']:.1%} |")  # fmt: skip
    print(f"| all | {s['orders']} | {s['fr_real']:.3f} | {s['fr_paper']:.3f} | {s['mean_dfr']:+.3f} | "
          f"{s['mean_dp_bps']:+.3f} | | |")  # fmt: skip
    print(f"never more optimistic than the venue on average (all orders): {s['never_more_optimistic']}")
    print(f"per bucket (dFR <= 0 and dp <= {tol} bp): {s['per_bucket_never_more_optimistic']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=200)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    load = os.getloadavg()
    res = run(args.orders, args.seed)
    pairs = res["pairs"]
    print(f"{args.orders} orders, seed {args.seed}, {res['seconds']:.1f} s, "
          f"load average {load[0]:.2f} before / {os.getloadavg()[0]:.2f} after")  # fmt: skip
    out: dict[str, Any] = {"orders": args.orders, "seed": args.seed, "seconds": round(res["seconds"], 1)}
    for outcome, title in (("venue", "paper venue vs venue"), ("model", "paper model (twins) vs venue")):
        p = pairs[pairs["outcome"] == outcome].reset_index(drop=True)
        out[outcome] = summarize(p)
        print_table(title, out[outcome])
    v = pairs[pairs["outcome"] == "venue"].reset_index(drop=True)
    m = pairs[pairs["outcome"] == "model"].reset_index(drop=True)
    same = (v["paper_filled"].round(8) == m["paper_filled"].round(8)) & (
        (v["paper_avg"].isna() & m["paper_avg"].isna())
        | ((v["paper_avg"].astype(float) - m["paper_avg"].astype(float)).abs() < 1e-6)
    )
    out["venue_model_same"] = {str(b): float(same[g.index].mean()) for b, g in v.groupby("bucket")}
    print(
        f"\npaper venue and model fill alike (quantity and average price), share of orders: {out['venue_model_same']}"
    )
    (BENCH / "out").mkdir(exist_ok=True)
    (BENCH / "out" / "paper.json").write_text(json.dumps(out, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
