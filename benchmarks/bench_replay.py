"""Replay benchmark: kit's fast replay against backtesting.py, backtrader and vectorbt.

Same process, same year of 1-minute candles (``make_candles``), same SMA(20)/SMA(50) crossover
signals (``strategies``), fixed size 0.01 base units, cash 1e6, commission 0.1 %. Two cases:

(a) market orders: a signal at bar i's close fills at bar i+1's open;
(b) limit orders 0.1 % from the close (buy at close*0.999, sell at close*1.001, GTC, rounded to
    the tick); an exit signal cancels an unfilled entry; an unfilled exit keeps working.

The order logic is spelled out in ``strategies``; every contender implements it the same way.

Contenders:

* kit signals   ``kit.engine.replay.run(..., entries=, exits=, order=)``
* kit callback  ``kit.engine.replay.run(..., strategy=)``: per-candle Python callback
* backtesting.py 0.6.6 ``Strategy.next`` (``FractionalBacktest``, one unit = 0.01 base)
* backtrader    ``Strategy.next`` (``stdstats=False``, default preload/runonce)
* vectorbt      ``Portfolio.from_signals`` (for (b) a one-bar approximation, see ``vectorbt_inputs``)
* vectorbt order_func  (b) only: ``Portfolio.from_order_func`` with a numba order function that
  rests the limit GTC (the user writes the fill logic; see ``_vectorbt_order_func``)

Wall time is the best of N warm runs (after one untimed warm-up run on the full year) for kit
and vectorbt, and of ``--slow-repeat`` runs (default 1) for backtesting.py and backtrader, which
are pure Python and slow; they warm up on a 3,000-bar slice first (lazy imports, caches).
First-run time: each kit case (and vectorbt, for its numba compilation) once in a fresh
``python -c`` subprocess, import included.

Usage: ``python benchmarks/bench_replay.py [--repeat 3] [--slow-repeat 1] [--rows N]``.
Writes ``benchmarks/out/replay.json``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
for _p in (str(BENCH), str(ROOT)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import make_candles  # noqa: E402
import strategies as st  # noqa: E402

OUT = BENCH / "out"
os.environ.setdefault("TQDM_DISABLE", "1")  # backtesting.py's progress bar
CASES = ("market", "limit")
LIBS = (
    "kit signals",
    "kit callback",
    "kit signals (touch)",
    "backtesting.py",
    "backtrader",
    "vectorbt",
    "vectorbt order_func",
)
ONLY = {
    "vectorbt order_func": ("limit",),
    "kit signals (touch)": ("limit",),
}  # cases a contender runs in (default: all)
SLOW_LIBS = ("backtesting.py", "backtrader")

Result = dict[str, Any]


# --------------------------------------------------------------------------------------- kit


def kit_market() -> Any:
    """The market every kit run uses: BTC/USDT, 0.01 tick, 0.1 % maker and taker fee."""
    from kit.engine import Market

    return Market(
        "BTC/USDT",
        "BTC",
        "USDT",
        tick_size=Decimal("0.01"),
        step_size=Decimal("0.00001"),
        maker_fee=Decimal(str(st.COMMISSION)),
        taker_fee=Decimal(str(st.COMMISSION)),
    )


def _kit_result(res: Any) -> Result:
    fills = res.fills
    side = fills["side"].astype(str).str.lower()
    filled_orders = fills.groupby("order_id")["side"].first().astype(str).str.lower()
    stats = dict(res.stats)
    return {
        "filled_orders": int(len(filled_orders)),
        "buys": int((filled_orders.str.contains("buy")).sum()),
        "sells": int((filled_orders.str.contains("sell")).sum()),
        "fills": int(len(fills)),
        "partial": int(len(fills) - len(filled_orders)),
        "buy_fills": int(side.str.contains("buy").sum()),
        "final_equity": float(stats.get("final_equity", res.equity.iloc[-1])),
        "kit_stats": {k: (v if isinstance(v, (int, float, str)) else str(v)) for k, v in stats.items()},
    }


def run_kit_signals(df: pd.DataFrame, sig: st.Signals, order: str, fill_model: Any = None) -> Result:
    from kit.engine import replay

    res = replay.run(
        df,
        kit_market(),
        cash=str(int(st.CASH)),
        entries=sig.entries,
        exits=sig.exits,
        size=str(st.SIZE),
        order=order,
        limit_offset=str(st.LIMIT_OFFSET),
        fill_model=fill_model,
    )
    return _kit_result(res)


def run_kit_signals_touch(df: pd.DataFrame, sig: st.Signals, order: str) -> Result:
    """Run kit signals with limits filling at touch (``trade_through_ticks=0``), as the others do.

    Not a speed contender: it shows whether the trade counts depend on the fill rule.
    """
    from kit.engine import FillModel

    return run_kit_signals(df, sig, order, FillModel(trade_through_ticks=0))


def kit_callback(sig: st.Signals, close: np.ndarray, order: str) -> Callable[[Any], None]:
    """The per-candle strategy: crossover from the precomputed SMA arrays at ``ctx.i``."""
    fast = sig.fast.tolist()
    slow = sig.slow.tolist()
    closes = close.tolist()
    size = Decimal(str(st.SIZE))
    limit = order == "limit"
    buy_limit, sell_limit = st.buy_limit, st.sell_limit

    step = Decimal("0.00001")
    last = [""]  # side of the last order placed: tells a working entry from a working exit

    def strategy(ctx: Any) -> None:
        i = ctx.i
        if i == 0:
            return
        f1, s1, f0, s0 = fast[i], slow[i], fast[i - 1], slow[i - 1]
        if f1 < s1 and f0 >= s0:  # exit (NaN compares False)
            working = ctx.open_orders
            if working and last[0] == "buy":
                ctx.cancel_all()
                working = 0
            qty = (ctx.position // step) * step
            if qty > 0 and not working:
                if limit:
                    ctx.sell(qty, limit=Decimal(str(sell_limit(closes[i]))))
                else:
                    ctx.sell(qty)
                last[0] = "sell"
        elif f1 > s1 and f0 <= s0 and ctx.position == 0 and not ctx.open_orders:
            if limit:
                ctx.buy(size, limit=Decimal(str(buy_limit(closes[i]))))
            else:
                ctx.buy(size)
            last[0] = "buy"

    return strategy


def run_kit_callback(df: pd.DataFrame, sig: st.Signals, order: str) -> Result:
    from kit.engine import replay

    strategy = kit_callback(sig, df["close"].to_numpy(), order)
    res = replay.run(df, kit_market(), cash=str(int(st.CASH)), strategy=strategy)
    return _kit_result(res)


# ---------------------------------------------------------------------------- backtesting.py


def run_backtesting(df: pd.DataFrame, sig: st.Signals, order: str) -> Result:
    from backtesting import Strategy
    from backtesting.lib import FractionalBacktest

    unit = st.SIZE  # one backtesting.py unit = 0.01 base (it only trades whole units)
    fast, slow = sig.fast.tolist(), sig.slow.tolist()
    closes = df["close"].tolist()
    limit = order == "limit"
    buy_limit, sell_limit = st.buy_limit, st.sell_limit

    class Cross(Strategy):
        def init(self) -> None:
            pass

        def next(self) -> None:
            i = len(self.data) - 1
            if i == 0:
                return
            f1, s1, f0, s0 = fast[i], slow[i], fast[i - 1], slow[i - 1]
            if f1 < s1 and f0 >= s0:
                working_exit = False
                for o in list(self.orders):
                    if o.is_long:
                        o.cancel()  # the unfilled entry
                    else:
                        working_exit = True
                size = self.position.size
                if size > 0 and not working_exit:
                    if limit:
                        self.sell(size=size, limit=sell_limit(closes[i]) * unit)
                    else:
                        self.sell(size=size)
            elif f1 > s1 and f0 <= s0 and not self.position and not self.orders:
                if limit:
                    self.buy(size=1, limit=buy_limit(closes[i]) * unit)
                else:
                    self.buy(size=1)

    data = df.rename(columns=str.capitalize).tz_localize(None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bt = FractionalBacktest(
            data, Cross, cash=st.CASH, commission=st.COMMISSION, fractional_unit=unit, finalize_trades=False
        )
        stats = bt.run()
    trades = stats["_trades"]
    strat = stats["_strategy"]
    open_pos = 1 if strat.position.size > 0 else 0
    closed = len(trades)
    return {
        "filled_orders": 2 * closed + open_pos,
        "buys": closed + open_pos,
        "sells": closed,
        "final_equity": float(stats["Equity Final [$]"]),
    }


# -------------------------------------------------------------------------------- backtrader


def run_backtrader(df: pd.DataFrame, sig: st.Signals, order: str) -> Result:
    import backtrader as bt

    fast, slow = sig.fast.tolist(), sig.slow.tolist()
    closes = df["close"].tolist()
    limit = order == "limit"
    size = st.SIZE
    buy_limit, sell_limit = st.buy_limit, st.sell_limit
    counts = {"buys": 0, "sells": 0, "fills": 0}

    class Cross(bt.Strategy):
        def __init__(self) -> None:
            self.working: list[Any] = []

        def notify_order(self, o: Any) -> None:
            if o.status in (o.Partial, o.Completed):
                counts["fills"] += 1
            if o.status == o.Completed:
                counts["buys" if o.isbuy() else "sells"] += 1
            if o.alive():
                if o not in self.working:
                    self.working.append(o)
            elif o in self.working:
                self.working.remove(o)

        def next(self) -> None:
            i = len(self) - 1
            if i == 0:
                return
            f1, s1, f0, s0 = fast[i], slow[i], fast[i - 1], slow[i - 1]
            if f1 < s1 and f0 >= s0:
                for o in list(self.working):
                    if o.isbuy():
                        self.cancel(o)  # the unfilled entry
                        self.working.remove(o)
                pos = self.position.size
                if pos > 0 and not self.working:
                    if limit:
                        self.working.append(self.sell(size=pos, exectype=bt.Order.Limit, price=sell_limit(closes[i])))
                    else:
                        self.working.append(self.sell(size=pos))
            elif f1 > s1 and f0 <= s0 and not self.position and not self.working:
                if limit:
                    self.working.append(self.buy(size=size, exectype=bt.Order.Limit, price=buy_limit(closes[i])))
                else:
                    self.working.append(self.buy(size=size))

    cerebro = bt.Cerebro(stdstats=False)
    feed = bt.feeds.PandasData(dataname=df.tz_localize(None), openinterest=None)
    cerebro.adddata(feed)
    cerebro.addstrategy(Cross)
    cerebro.broker.setcash(st.CASH)
    cerebro.broker.setcommission(commission=st.COMMISSION)
    cerebro.run()
    return {
        "filled_orders": counts["buys"] + counts["sells"],
        "buys": counts["buys"],
        "sells": counts["sells"],
        "fills": counts["fills"],
        "final_equity": float(cerebro.broker.getvalue()),
    }


# ---------------------------------------------------------------------------------- vectorbt


def vectorbt_inputs(df: pd.DataFrame, sig: st.Signals, order: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Entries, exits and execution prices for ``Portfolio.from_signals``, execution bar = i + 1.

    (a) market: the signal of bar i executes at bar i+1's open.
    (b) limit: vectorbt (open source) has no resting orders, so the limit is approximated as
        living for exactly one bar: the entry of bar i executes at bar i+1 only if bar i+1
        touches the limit (low <= buy limit; high >= sell limit for exits), at the better of the
        open and the limit. Unfilled limits are dropped instead of resting GTC; no partial fills,
        no cancellation logic (nothing ever rests), no queue or volume limits.
    """
    n = len(df)
    open_ = df["open"].to_numpy()
    entries = np.zeros(n, dtype=bool)
    exits = np.zeros(n, dtype=bool)
    entries[1:] = sig.entries[:-1]
    exits[1:] = sig.exits[:-1]
    price = open_.copy()
    if order == "limit":
        close = df["close"].to_numpy()
        low = df["low"].to_numpy()
        high = df["high"].to_numpy()
        bl, sl = st.buy_limits(close), st.sell_limits(close)
        prev_bl = np.full(n, np.nan)
        prev_sl = np.full(n, np.nan)
        prev_bl[1:] = bl[:-1]
        prev_sl[1:] = sl[:-1]
        entries &= low <= prev_bl
        exits &= high >= prev_sl
        price = np.where(entries, np.minimum(open_, prev_bl), price)
        price = np.where(exits, np.maximum(open_, prev_sl), price)
    return entries, exits, price


def run_vectorbt(df: pd.DataFrame, sig: st.Signals, order: str) -> Result:
    import vectorbt as vbt

    entries, exits, price = vectorbt_inputs(df, sig, order)
    pf = vbt.Portfolio.from_signals(
        close=df["close"].tz_localize(None),  # see NAIVE_INDEX
        entries=entries,
        exits=exits,
        price=price,
        size=st.SIZE,
        size_type="amount",
        fees=st.COMMISSION,
        init_cash=st.CASH,
        freq="1min",
    )
    rec = pf.orders.records
    buys = int((rec["side"] == 0).sum())
    sells = int((rec["side"] == 1).sum())
    return {
        "filled_orders": buys + sells,
        "buys": buys,
        "sells": sells,
        "final_equity": float(pf.final_value()),
    }


_ORDER_FUNC: list[Any] = []


def _vectorbt_order_func() -> Any:
    """A numba order function for ``Portfolio.from_order_func`` that rests one limit order GTC.

    This is vectorbt's documented escape hatch: the user writes the fill logic. It is the same
    rule as backtesting.py / backtrader (fill when the bar touches the limit, at the better of
    the open and the limit), no partial fills, no volume limit.
    """
    if not _ORDER_FUNC:
        from numba import njit
        from vectorbt.portfolio import nb
        from vectorbt.portfolio.enums import NoOrder

        @njit
        def order_func_nb(c, open_, high, low, entries, exits, bl, sl, size, fees, state):  # noqa: ANN001, ANN202
            i = c.i
            side, price, pos = state[0], state[1], state[2]
            order = NoOrder
            if side == 1.0 and low[i] <= price:
                order = nb.order_nb(size=size, price=min(open_[i], price), fees=fees)
                pos += size
                side = 0.0
            elif side == -1.0 and high[i] >= price:
                order = nb.order_nb(size=-pos, price=max(open_[i], price), fees=fees)
                pos = 0.0
                side = 0.0
            if exits[i]:
                if side == 1.0:
                    side = 0.0  # cancel the unfilled entry
                if pos > 0 and side == 0.0:
                    side, price = -1.0, sl[i]
            elif entries[i] and pos == 0 and side == 0.0:
                side, price = 1.0, bl[i]
            state[0], state[1], state[2] = side, price, pos
            return order

        _ORDER_FUNC.append(order_func_nb)
    return _ORDER_FUNC[0]


def run_vectorbt_order_func(df: pd.DataFrame, sig: st.Signals, order: str) -> Result:
    import vectorbt as vbt

    if order != "limit":
        raise ValueError("only the limit case")
    close = df["close"].to_numpy()
    bl, sl = st.buy_limits(close), st.sell_limits(close)
    state = np.zeros(3)
    pf = vbt.Portfolio.from_order_func(
        df["close"].tz_localize(None),  # see NAIVE_INDEX
        _vectorbt_order_func(),
        df["open"].to_numpy(),
        df["high"].to_numpy(),
        df["low"].to_numpy(),
        sig.entries,
        sig.exits,
        bl,
        sl,
        st.SIZE,
        st.COMMISSION,
        state,
        init_cash=st.CASH,
        freq="1min",
    )
    rec = pf.orders.records
    buys = int((rec["side"] == 0).sum())
    sells = int((rec["side"] == 1).sum())
    return {
        "filled_orders": buys + sells,
        "buys": buys,
        "sells": sells,
        "final_equity": float(pf.final_value()),
    }


# NAIVE_INDEX: vectorbt 1.2 with pandas 3 turns a tz-aware DatetimeIndex into an array of
# Timestamp objects in its shape checks (np.asarray on the index), which costs ~2.7 s per check on
# this year and swamps the simulation (~0.1 s). Users avoid it by dropping the time zone, so we
# do; backtesting.py and backtrader get the same tz-naive UTC index.

RUNNERS: dict[str, Callable[[pd.DataFrame, st.Signals, str], Result]] = {
    "kit signals": run_kit_signals,
    "kit callback": run_kit_callback,
    "kit signals (touch)": run_kit_signals_touch,
    "backtesting.py": run_backtesting,
    "backtrader": run_backtrader,
    "vectorbt": run_vectorbt,
    "vectorbt order_func": run_vectorbt_order_func,
}


# ------------------------------------------------------------------------------------ timing


def time_runs(fn: Callable[[], Result], repeat: int, warmup: Callable[[], Result] | None) -> tuple[list[float], Result]:
    """Run ``warmup`` (untimed) then ``fn`` ``repeat`` times, timed; the last result."""
    res: Result = {}
    if warmup is not None:
        warmup()
    times = []
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        res = fn()
        times.append(time.perf_counter() - t0)
    return times, res


FIRST_RUN_CODE = """
import time
t0 = time.perf_counter()
import json, sys
sys.path[:0] = [{bench!r}, {root!r}]
{imports}
t1 = time.perf_counter()
import make_candles, strategies, bench_replay
df = make_candles.load(rows={rows}); sig = strategies.crossover(df)
t2 = time.perf_counter()
res = bench_replay.RUNNERS[{lib!r}](df, sig, {order!r})
t3 = time.perf_counter()
out = {{"import_s": t1 - t0, "data_s": t2 - t1, "run_s": t3 - t2}}
print(json.dumps(dict(out, filled_orders=res["filled_orders"])))
"""

FIRST_RUN_IMPORTS = {
    "kit signals": "import kit.engine\nfrom kit.engine import replay",
    "kit callback": "import kit.engine\nfrom kit.engine import replay",
    "vectorbt": "import vectorbt",
    "vectorbt order_func": "import vectorbt",
}


def first_run(lib: str, order: str, rows: int) -> Result:
    """One run of ``lib`` in a fresh interpreter: process wall time and its parts."""
    code = FIRST_RUN_CODE.format(
        bench=str(BENCH), root=str(ROOT), imports=FIRST_RUN_IMPORTS[lib], rows=rows, lib=lib, order=order
    )
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        return {
            "error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed",
            "stderr": proc.stderr,
        }
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["process_s"] = wall
    # import + first call, without the benchmark's own data loading
    out["first_run_s"] = out["import_s"] + out["run_s"]
    return out


# ------------------------------------------------------------------------------------- report


def fmt_s(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def fmt_ratio(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.1f}x" if x >= 1 else f"1/{1 / x:.1f}x"


def table(headers: list[str], rows: list[list[str]], right: set[int]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def render_case(order: str, bars: int, entries: dict[str, Result]) -> str:
    kit_sig = entries.get("kit signals", {}).get("best_s")
    kit_cb = entries.get("kit callback", {}).get("best_s")
    headers = [
        "library",
        "best s",
        "runs",
        "bars/s",
        "filled",
        "buys",
        "sells",
        "final equity",
        "vs kit signals",
        "vs kit callback",
    ]
    rows = []
    for lib in LIBS:
        e = entries.get(lib)
        if e is None:
            continue
        if "error" in e:
            rows.append([lib, "FAILED", "", "", "", "", "", "", "", e["error"][:60]])
            continue
        best = e["best_s"]
        rows.append(
            [
                lib,
                fmt_s(best),
                str(e["runs"]),
                f"{bars / best:,.0f}",
                str(e["filled_orders"]),
                str(e["buys"]),
                str(e["sells"]),
                f"{e['final_equity']:,.2f}",
                fmt_ratio(best / kit_sig) if kit_sig else "-",
                fmt_ratio(best / kit_cb) if kit_cb else "-",
            ]
        )
    title = f"({'a' if order == 'market' else 'b'}) {order} orders, {bars:,} 1-minute bars"
    note = "'vs kit ...' = this library's time / kit's time (> 1x: kit is faster)"
    return f"{title}\n{table(headers, rows, right={1, 2, 3, 4, 5, 6, 7, 8, 9})}\n{note}"


def render_first(first: dict[str, dict[str, Result]], warm: dict[str, dict[str, Result]]) -> str:
    headers = ["case", "library", "process s", "import s", "first call s", "import+call s", "warm best s"]
    rows = []
    for order, libs in first.items():
        for lib, e in libs.items():
            w = warm.get(order, {}).get(lib, {}).get("best_s")
            if "error" in e:
                rows.append([order, lib, "FAILED", "", "", "", e["error"][:60]])
                continue
            rows.append(
                [
                    order,
                    lib,
                    fmt_s(e["process_s"]),
                    fmt_s(e["import_s"]),
                    fmt_s(e["run_s"]),
                    fmt_s(e["first_run_s"]),
                    fmt_s(w),
                ]
            )
    return (
        "first run in a fresh interpreter (python -c; 'process' includes interpreter start-up and "
        "loading the cached candles)\n" + table(headers, rows, right={2, 3, 4, 5, 6})
    )


def check_targets(results: dict[str, dict[str, Result]]) -> list[str]:
    lines = []
    for order, e in results.items():
        ks, kc, bp, vb = (
            e.get(lib, {}).get("best_s") for lib in ("kit signals", "kit callback", "backtesting.py", "vectorbt")
        )
        if ks and bp:
            lines.append(
                f"[{'PASS' if bp / ks >= 10 else 'FAIL'}] {order}: kit signals >= 10x faster than "
                f"backtesting.py: {bp / ks:.1f}x"
            )
        if ks and vb:
            lines.append(
                f"[{'PASS' if ks / vb <= 3 else 'FAIL'}] {order}: kit signals within 3x of vectorbt: "
                f"kit/vectorbt = {ks / vb:.2f}x"
            )
        if kc and bp:
            lines.append(
                f"[{'PASS' if bp / kc >= 2 else 'FAIL'}] {order}: kit callback >= 2x faster than "
                f"backtesting.py: {bp / kc:.1f}x"
            )
    return lines


def load_avg() -> str:
    """1/5/15-minute load average and CPU count, to judge how busy the machine was."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "n/a"
    return f"{one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version(), "platform": platform.platform()}
    for pkg in ("numpy", "pandas", "backtesting", "backtrader", "vectorbt", "numba"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="timed warm runs for kit and vectorbt (best of)")
    ap.add_argument("--slow-repeat", type=int, default=1, help="timed runs for backtesting.py and backtrader")
    ap.add_argument("--rows", type=int, default=make_candles.ROWS, help="candles (default one year)")
    ap.add_argument("--libs", default=",".join(LIBS), help="comma-separated subset of: " + ", ".join(LIBS))
    ap.add_argument("--cases", default=",".join(CASES), help="market,limit")
    ap.add_argument("--no-first-run", action="store_true", help="skip the fresh-process first-run timings")
    ap.add_argument("--json", type=Path, default=OUT / "replay.json")
    args, unknown = ap.parse_known_args(argv)  # run_all passes the same extra arguments to all
    if unknown:
        print(f"(ignoring arguments for the other benchmarks: {' '.join(unknown)})")
    libs = [x.strip() for x in args.libs.split(",") if x.strip()]
    cases = [x.strip() for x in args.cases.split(",") if x.strip()]

    df = make_candles.load(rows=args.rows)
    sig = st.crossover(df)
    small = df.iloc[:3000]
    small_sig = st.crossover(small)
    bars = len(df)
    n_entries, n_exits = sig.count
    print(
        f"data: {bars:,} 1-minute candles {df.index[0]} .. {df.index[-1]}; "
        f"signals: {n_entries} entries, {n_exits} exits"
    )
    load_start = load_avg()
    print(f"load average at start: {load_start}")
    vers = versions()
    print("versions: " + ", ".join(f"{k} {v}" for k, v in vers.items() if k != "platform"))
    print(
        f"timing: kit & vectorbt best of {args.repeat} warm runs (after 1 full warm-up run); "
        f"backtesting.py & backtrader best of {args.slow_repeat} run(s) (after a 3,000-bar warm-up)\n"
    )

    results: dict[str, dict[str, Result]] = {}
    for order in cases:
        results[order] = {}
        for lib in libs:
            if order not in ONLY.get(lib, CASES):
                continue
            slow = lib in SLOW_LIBS
            warm_df, warm_sig = (small, small_sig) if slow else (df, sig)
            repeat = args.slow_repeat if slow else args.repeat
            print(f"  {order:6} {lib:15} ...", end="", flush=True)
            try:
                run = RUNNERS[lib]
                times, res = time_runs(
                    lambda run=run, order=order: run(df, sig, order),
                    repeat,
                    # slow libraries warm up on a small slice (lazy imports, first-call caches)
                    lambda run=run, order=order, d=warm_df, s=warm_sig: run(d, s, order),
                )
            except Exception as exc:  # report and carry on with the others
                tb = traceback.format_exc()
                results[order][lib] = {"error": f"{type(exc).__name__}: {exc}", "traceback": tb}
                print(f" FAILED: {type(exc).__name__}: {exc}")
                continue
            best = min(times)
            res = {k: v for k, v in res.items()}
            res.update(best_s=best, times_s=times, runs=len(times), bars_per_s=bars / best)
            results[order][lib] = res
            print(f" {best:.3f}s  filled orders {res['filled_orders']}")
    print()

    first: dict[str, dict[str, Result]] = {}
    if not args.no_first_run:
        for order in cases:
            first[order] = {}
            for lib in FIRST_RUN_IMPORTS:
                if lib in libs and order in ONLY.get(lib, CASES):
                    first[order][lib] = first_run(lib, order, args.rows)

    for order in cases:
        print(render_case(order, bars, results[order]))
        print()
    if first:
        print(render_first(first, results))
        print()
    targets = check_targets(results)
    if targets:
        print("targets (from the issue):")
        print("\n".join("  " + t for t in targets))
        print()
    for order in cases:
        for lib, e in results[order].items():
            if "traceback" in e:
                print(f"--- {order} / {lib} failed:\n{e['traceback']}")

    load_end = load_avg()
    print(f"load average at end: {load_end}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": "replay",
        "load_average": {"start": load_start, "end": load_end},
        "generated": pd.Timestamp.now(tz="UTC").isoformat(),
        "bars": bars,
        "signals": {"entries": n_entries, "exits": n_exits},
        "params": {
            "size": st.SIZE,
            "cash": st.CASH,
            "commission": st.COMMISSION,
            "limit_offset": st.LIMIT_OFFSET,
            "fast": st.FAST,
            "slow": st.SLOW,
            "repeat": args.repeat,
            "slow_repeat": args.slow_repeat,
        },
        "versions": vers,
        "results": results,
        "first_run": first,
        "targets": targets,
    }
    args.json.write_text(json.dumps(payload, indent=2, default=str))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
