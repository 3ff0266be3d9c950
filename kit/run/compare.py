"""Replay-vs-forward: the strategy replayed over the period it ran forward, decision by decision.

:func:`replay_vs_forward` reads a run's journal (its decisions, orders and fills), replays the
same strategy with the same parameters over the same candles (the run's history load as warm-up,
so ``next()`` first runs on the same candle), and lines the two up by (candle, n-th decision of
that candle). Every row carries an ``explanation``:

- ``same``: same decision; the fill prices may still differ (``price_delta_bps``): the replay
  fills a market order at the next candle's open with the engine's conservative slippage, the
  forward order fills on the exchange's book at the moment it was sent;
- ``stale (catch-up, not sent)``: forward made the decision while catching up after downtime and,
  by design, did not send it; the replay traded, so later positions may differ;
- ``after the forward run ended`` / ``before the forward run started``: outside the forward period;
- ``position differed``: the decisions differ at a candle where the two positions differed
  (an earlier difference, a partial fill, a rejected order); ``position`` columns show both;
- ``different decision``: the same candles and positions gave different decisions: a strategy
  that is not a function of its candles and position (randomness, the wall clock, state kept
  across a restart). This is the row to investigate.

>>> from kit.run.compare import EXPLANATIONS
>>> EXPLANATIONS[0]
'same'
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from kit.engine import replay
from kit.engine.types import Market
from kit.errors import ConfigError
from kit.paper.drift import DriftGateFailed
from kit.strategy.base import Strategy

if TYPE_CHECKING:
    from kit.session.core import Session

__all__ = [
    "COLUMNS",
    "EXPLANATIONS",
    "REPLAY_GATES",
    "assert_replay_gates",
    "market_from_session",
    "replay_summary",
    "replay_vs_forward",
    "runs_between",
]

COLUMNS = ("nth", "forward_action", "forward_size", "forward_limit", "forward_status", "forward_price",
           "replay_action", "replay_size", "replay_limit", "replay_price", "price_delta_bps",
           "explanation")  # fmt: skip
EXPLANATIONS = (
    "same",
    "stale (catch-up, not sent)",
    "before the forward run started",
    "after the forward run ended",
    "position differed",
    "different decision",
)


def _dec(value: Any, default: str = "0") -> Decimal:
    return Decimal(str(value)) if value not in (None, "") else Decimal(default)


def market_from_session(session: Session, symbol: str) -> Market:
    """The engine's :class:`~kit.engine.types.Market` from the exchange's own filters and fees (no request).

    >>> m = market_from_session(s, "BTC/USDT")      # doctest: +SKIP
    >>> m.tick_size, m.step_size                     # doctest: +SKIP
    (Decimal('0.01'), Decimal('0.00001'))
    """
    m = session.market(symbol)
    if m is None:
        raise ConfigError(f"{symbol} is not listed on {session.venue}", hint="Use a symbol from session.markets().")
    prec, lim = m.get("precision") or {}, m.get("limits") or {}
    amount, cost = lim.get("amount") or {}, lim.get("cost") or {}
    return Market(
        symbol, str(m["base"]), str(m["quote"]), tick_size=_dec(prec.get("price"), "0.00000001"),
        step_size=_dec(prec.get("amount"), "0.00000001"), min_qty=_dec(amount.get("min")),
        max_qty=_dec(amount["max"]) if amount.get("max") else None, min_notional=_dec(cost.get("min")),
        maker_fee=_dec(m.get("maker"), "0.001"), taker_fee=_dec(m.get("taker"), "0.001"),
    )  # fmt: skip


def _run_rows(session: Session, run: str) -> list[Any]:
    rows = session.journal.events(kinds=["run"], venue=session.venue, account=session.account)
    return [e for e in rows if e.payload.get("run") == run]


def replay_vs_forward(
    session: Session,
    strategy: Strategy | type[Strategy],
    run: str,
    symbol: str,
    *,
    candles: pd.DataFrame | None = None,
    cash: Decimal | str = "10000",
) -> pd.DataFrame:
    """Replay ``strategy`` over the candles run ``run`` traded forward on ``symbol``; one row per decision.

    Parameters
    ----------
    session:
        A Session on the run's venue and journal.
    strategy:
        The strategy class or instance the run used (same parameters).
    run:
        The run's name (``Runner.name``).
    symbol:
        One of the run's symbols.
    candles:
        The candles of the period (default: fetched through the Session, from the run's first
        history candle to the last candle it processed).
    cash:
        The replay's starting quote balance.

    Returns
    -------
    pandas.DataFrame
        Indexed by candle open time, columns ``nth``, ``forward_action``, ``forward_size``,
        ``forward_limit``, ``forward_status``, ``forward_price``, ``replay_action``,
        ``replay_size``, ``replay_limit``, ``replay_price``, ``price_delta_bps``,
        ``explanation`` (see the module docstring).

    Examples
    --------
    >>> df = replay_vs_forward(s, SmaCross, run.name, "BTC/USDT")      # doctest: +SKIP
    >>> df.explanation.value_counts()                                  # doctest: +SKIP
    """
    inst = strategy() if isinstance(strategy, type) else strategy
    fresh = type(inst)(**inst.params)
    starts = [e for e in _run_rows(session, run) if e.payload.get("state") in ("started", "resumed")]
    if not starts:
        hint = "Pass Runner.name of a run that started on this Session's venue and account."
        raise ConfigError(f"no run named {run!r} in the journal of {session.venue}", hint=hint)
    first = starts[0].payload
    warm_from = int((first.get("warm_from_ms") or {})[symbol])
    live_from = int((first.get("live_from_ms") or {})[symbol])
    ends = [e for e in _run_rows(session, run) if e.payload.get("last_candle_ms")]
    last = int((ends[-1].payload["last_candle_ms"] or {}).get(symbol, 0)) if ends else None
    interval = int(first.get("interval_ms") or 60_000)
    if candles is None:
        n = int(((last or session_now(session)) - warm_from) // interval) + 3
        got = session.candles(symbol, fresh.timeframe, limit=min(max(n, 3), 1000))
        candles = got.iloc[:-1]
    idx = pd.DatetimeIndex(candles.index).as_unit("ms").asi8
    keep = (idx >= warm_from) & ((idx <= last) if last is not None else True)
    period = candles[keep]
    pidx = pd.DatetimeIndex(period.index).as_unit("ms").asi8
    warmup = int((pidx < live_from).sum())
    market = market_from_session(session, symbol)
    res = replay.run(period, market, cash=cash, strategy=fresh.as_replay_callback(period, market, warmup=warmup,
                                                                                   run=run))  # fmt: skip
    rep_price = _replay_prices(res)
    fwd = _forward(session, run, symbol)
    rows: dict[tuple[int, int], dict[str, Any]] = {}
    for d in fresh.decisions:
        rows[(d.candle_ms, d.seq)] = {"replay_action": d.action, "replay_size": d.size, "replay_limit": d.limit,
                                      "replay_price": rep_price.get(d.client_id, np.nan)}  # fmt: skip
    for key, f in fwd.items():
        rows.setdefault(key, {}).update(f)
    out: list[dict[str, Any]] = []
    for (ms, nth), r in sorted(rows.items()):
        r = {"time": pd.Timestamp(ms, unit="ms", tz="UTC"), "nth": nth, **r}
        same = all(r.get(f"replay_{k}") == r.get(f"forward_{k}") for k in ("action", "size", "limit"))
        if r.get("forward_stale"):
            why = EXPLANATIONS[1]
        elif ms < live_from:
            why = EXPLANATIONS[2]
        elif last is not None and ms > last:
            why = EXPLANATIONS[3]
        elif same:
            why = EXPLANATIONS[0]
        elif _positions_differ(out):
            why = EXPLANATIONS[4]
        else:
            why = EXPLANATIONS[5]
        fp, rp = r.get("forward_price", np.nan), r.get("replay_price", np.nan)
        r["price_delta_bps"] = (float(fp) - float(rp)) / float(rp) * 1e4 if fp == fp and rp == rp and rp else np.nan
        r["explanation"] = why
        out.append(r)
    cols = list(COLUMNS)
    if not out:
        return pd.DataFrame(columns=cols, index=pd.DatetimeIndex([], tz="UTC", name="time"))
    df = pd.DataFrame(out).set_index("time")
    for c in cols:
        if c not in df.columns:
            df[c] = None
    return df[cols]


def _positions_differ(earlier: list[dict[str, Any]]) -> bool:
    """True once an earlier row differed in a way that changes the position (an order one side lacks)."""
    return any(r["explanation"] != "same" for r in earlier)


def session_now(session: Session) -> int:
    """The exchange's time as the Session knows it, ms."""
    import time

    rep = session.clock_report
    return int(time.time() * 1000) + (int(rep.offset_ms) if rep is not None else 0)


def _replay_prices(res: replay.Result) -> dict[str, float]:
    if not len(res.fills):
        return {}
    f = res.fills
    vwap = (f["price"] * f["quantity"]).groupby(f["order_id"]).sum() / f["quantity"].groupby(f["order_id"]).sum()
    ids = dict(zip(res.orders["order_id"], res.orders["client_id"], strict=True))
    return {str(ids[int(str(oid))]): float(p) for oid, p in vwap.items() if int(str(oid)) in ids}


def _forward(session: Session, run: str, symbol: str) -> dict[tuple[int, int], dict[str, Any]]:
    j = session.journal
    events = j.events(kinds=["decision", "decision_order"], venue=session.venue, account=session.account,
                      symbol=symbol)  # fmt: skip
    out: dict[tuple[int, int], dict[str, Any]] = {}
    by_id: dict[str, tuple[int, int]] = {}
    for e in events:
        p = e.payload
        if p.get("run") != run:
            continue
        if e.kind == "decision":
            key = (int(p["candle_ms"]), int(p["nth"]))
            by_id[str(p["decision_id"])] = key
            stale = bool(p.get("stale"))
            size, limit = p.get("size"), p.get("limit")
            out[key] = {"forward_action": p["action"], "forward_size": None if size is None else _dec(size),
                        "forward_limit": None if limit is None else _dec(limit),
                        "forward_stale": stale, "forward_status": "not sent" if stale else ""}  # fmt: skip
        elif str(p.get("decision_id")) in by_id:
            key = by_id[str(p["decision_id"])]
            out[key]["forward_status"] = str(p.get("status") or "")
            out[key]["client_id"] = e.client_id
    fills = j.fills(venue=session.venue, account=session.account, symbol=symbol)
    for r in out.values():
        mine = [f for f in fills if r.get("client_id") and f.client_id == r["client_id"]]
        qty = sum((f.amount for f in mine), Decimal(0))
        r["forward_price"] = float(sum((f.price * f.amount for f in mine), Decimal(0)) / qty) if qty else np.nan
        r.pop("client_id", None)
    return out


#: Thresholds of the drift report's replay-vs-forward section (``notebooks/reports/drift.ipynb``).
#: ``different_decision_max``: the same candles and position gave another decision: a strategy that is
#: not a function of its candles (a clock, randomness, state across a restart); none is tolerated.
#: ``same_share_min``: share of the run's own decisions (inside its forward period, catch-ups aside)
#: that replay reproduces; below it, differences cascade (a refused order, a partial fill) and need a
#: look. ``median_abs_delta_bps_max``: forward fills on the book when sent, the replay at the next
#: candle's open with the engine's slippage; on 1m candles they differ by some bps (median 10 bps
#: in the fixture run), 50 bps means the forward orders did not trade where the strategy saw the market.
REPLAY_GATES: dict[str, float] = {"different_decision_max": 0, "same_share_min": 0.9, "median_abs_delta_bps_max": 50.0}

_OUTSIDE = (EXPLANATIONS[2], EXPLANATIONS[3])


def replay_summary(cmp: pd.DataFrame, *, gates: dict[str, float] | None = None) -> pd.DataFrame:
    """One row per run and symbol of :func:`replay_vs_forward` tables: counts per explanation and a verdict.

    ``cmp`` is one table or several concatenated, with ``run`` and ``symbol`` columns (a single table
    without them counts as one). Columns: ``decisions`` (inside the forward period), one per
    explanation, ``same_share``, ``median_abs_delta_bps``, ``verdict`` (``ok`` / ``fail``) and ``why``.

    >>> t = pd.DataFrame({"explanation": ["same", "same", "different decision"], "price_delta_bps": [1.0, -3.0, None]})
    >>> replay_summary(t)[["decisions", "same", "different decision", "verdict"]].to_dict("records")
    [{'decisions': 3, 'same': 2, 'different decision': 1, 'verdict': 'fail'}]
    """
    g = {**REPLAY_GATES, **(gates or {})}
    keys = [c for c in ("run", "symbol") if c in cmp.columns]
    groups = cmp.groupby(keys, sort=True) if keys else [((), cmp)]
    rows = []
    for key, t in groups:
        inside = t[~t["explanation"].isin(_OUTSIDE)]
        counts = {e: int((inside["explanation"] == e).sum()) for e in EXPLANATIONS if e not in _OUTSIDE}
        own = len(inside) - counts[EXPLANATIONS[1]]
        share = counts["same"] / own if own else 1.0
        deltas = pd.to_numeric(inside["price_delta_bps"], errors="coerce").abs().dropna()
        median = float(deltas.median()) if len(deltas) else 0.0
        why = []
        if counts["different decision"] > g["different_decision_max"]:
            why.append(f"{counts['different decision']} different decision(s) on the same candles")
        if share < g["same_share_min"]:
            why.append(f"replay reproduces {share:.0%} of the decisions < {g['same_share_min']:.0%}")
        if median > g["median_abs_delta_bps_max"]:
            why.append(f"median |price delta| {median:.1f} bps > {g['median_abs_delta_bps_max']:g}")
        named = dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True))
        rows.append({**named, "decisions": len(inside), **counts, "same_share": round(share, 3),
                     "median_abs_delta_bps": round(median, 2), "verdict": "fail" if why else "ok",
                     "why": "; ".join(why)})  # fmt: skip
    return pd.DataFrame(rows)


def assert_replay_gates(summary: pd.DataFrame) -> None:
    """Raise :class:`~kit.paper.drift.DriftGateFailed` when a run's replay-vs-forward row failed its gates.

    >>> assert_replay_gates(pd.DataFrame({"verdict": ["ok"], "why": [""]}))
    """
    bad = summary[summary["verdict"] == "fail"] if len(summary) else summary
    if len(bad):
        lines = "; ".join(f"{r.get('run', '')} {r.get('symbol', '')}: {r['why']}".strip() for _, r in bad.iterrows())
        hint = "Read the rows explained 'different decision' or 'position differed' above."
        raise DriftGateFailed(f"replay vs forward: {lines}", hint=hint)


def runs_between(journal: Any, since_ms: int, until_ms: int) -> list[dict[str, Any]]:
    """Forward runs that traded between ``since_ms`` and ``until_ms``: one dict per (venue, account, run).

    Each has ``run``, ``venue``, ``account``, ``strategy`` (``module:Class`` or ``file.py:Class``, as
    ``kit run`` takes it), ``params`` and ``symbols`` from the run's first journal row.
    """
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for e in journal.events(kinds=["run"], until_ms=until_ms):
        p = e.payload
        key = (e.venue, e.account, str(p.get("run")))
        if p.get("state") in ("started", "resumed") and key not in out:
            out[key] = {"run": key[2], "venue": e.venue, "account": e.account, "strategy": p.get("strategy_ref"),
                        "params": p.get("params") or {}, "symbols": list(p.get("symbols") or []),
                        "last_ms": e.ts_ms}  # fmt: skip
        elif key in out:
            out[key]["last_ms"] = e.ts_ms
    return [r for r in out.values() if r["last_ms"] >= since_ms]
