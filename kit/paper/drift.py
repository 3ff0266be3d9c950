"""Drift: how far paper fills are from real ones, per order type, with the design reference's gates.

Input: the pairs of :func:`kit.paper.twins.pair` (one row per real order and its paper twin).
Output: one row per bucket (``market``, ``marketable_limit``, ``passive_limit``, ``post_only``,
``ioc_fok``, ``stop``: stop and take-profit orders, judged as takers once triggered) with the
spec's metrics (``specs/paper-trading.md`` (d)):

- ``dp_bps_median`` / ``dp_bps_p95``: ``s * (P_real - P_paper) / P_real * 1e4`` on average fill
  prices where both filled (``s`` = +1 buy, -1 sell). Positive: paper did better (optimistic).
- ``ttf_real_p50`` / ``ttf_paper_p50`` / ``ttf_ratio_median``: time to first fill, ms, and the
  median of ``TTF_paper / TTF_real`` where both filled.
- ``fr_real`` / ``fr_paper`` / ``dfr_median``: fill ratio at the end, and median ``FR_paper - FR_real``.
- ``miss_rate`` (real filled, paper not: conservative) and ``phantom_rate`` (paper filled, real not:
  optimistic, the critical one).

Gates, evaluated only with at least ``min_pairs`` (50) pairs in a bucket; below, the verdict is
``insufficient``, which never fails:

- takers (``market``, ``marketable_limit``, ``ioc_fok``): warn if the median ``dp`` exceeds
  ``max(0.5 bp, 1 tick)``; fail if its p95 exceeds one spread (the median spread at decision).
- passive (``passive_limit``, ``post_only``): phantom rate warns above 2 %, fails above 5 %; median
  ``dFR`` warns above +0.05, fails above +0.10; median TTF ratio warns below 1, fails below 0.8.
- every bucket: fail when the lower bound of a one-sided 95 % bootstrap interval of the mean
  optimism (``dp`` for takers, ``dFR`` for passive orders) is above 0 (seeded, 2000 resamples).

Examples
--------
>>> import pandas as pd
>>> pairs = pd.DataFrame([{"bucket": "market", "side": "buy", "qty": 1.0, "real_filled": 1.0, "real_avg": 100.0,
...     "paper_filled": 1.0, "paper_avg": 100.02, "real_ttf_ms": 40.0, "paper_ttf_ms": 250.0,
...     "spread_bps": 1.0, "tick_bps": 1.0}])
>>> t = drift_table(pairs)
>>> round(float(t.loc["market", "dp_bps_median"]), 2), t.loc["market", "verdict"]
(-2.0, 'insufficient')
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from kit.errors import KitError

TAKER_BUCKETS = ("market", "marketable_limit", "ioc_fok", "stop")  # a triggered stop takes (or rests at its limit)
PASSIVE_BUCKETS = ("passive_limit", "post_only")
BUCKETS = (*TAKER_BUCKETS, *PASSIVE_BUCKETS)

#: The spec's gates (d); change only with drift data that says so, and write down why.
GATES: dict[str, float] = {
    "min_pairs": 50,
    "taker_warn_bps": 0.5,
    "phantom_warn": 0.02,
    "phantom_fail": 0.05,
    "dfr_warn": 0.05,
    "dfr_fail": 0.10,
    "ttf_ratio_warn": 1.0,
    "ttf_ratio_fail": 0.8,
    "bootstrap_resamples": 2000,
    "bootstrap_alpha": 0.05,
}


class DriftGateFailed(KitError):
    """The drift report's gates failed: paper fills are more optimistic than the real ones allow."""


def _dp_bps(row: Any) -> float | None:
    if not row["real_filled"] or not row["paper_filled"] or row["real_avg"] is None or row["paper_avg"] is None:
        return None
    s = 1.0 if row["side"] == "buy" else -1.0
    return float(s * (row["real_avg"] - row["paper_avg"]) / row["real_avg"] * 1e4)


def _lower_bound(values: np.ndarray, seed: int) -> float:
    rng = np.random.default_rng(seed)
    n = int(GATES["bootstrap_resamples"])
    means = rng.choice(values, size=(n, len(values)), replace=True).mean(axis=1)
    return float(np.quantile(means, GATES["bootstrap_alpha"]))


def drift_table(pairs: pd.DataFrame, *, gates: dict[str, float] | None = None, seed: int = 7) -> pd.DataFrame:
    """Per-bucket drift metrics and verdicts (``ok``, ``warn``, ``fail``, ``insufficient``, ``none``).

    Parameters
    ----------
    pairs
        Rows of :func:`kit.paper.twins.pair`.
    gates
        Overrides of :data:`GATES`.
    seed
        Seed of the bootstrap.
    """
    g = {**GATES, **(gates or {})}
    rows = []
    for bucket in BUCKETS:
        p = pairs[pairs["bucket"] == bucket] if not pairs.empty else pairs
        n = len(p)
        row: dict[str, Any] = {"bucket": bucket, "pairs": n}
        if n == 0:
            rows.append({**row, "verdict": "none", "why": "no orders"})
            continue
        fr_real = (p["real_filled"] / p["qty"]).astype(float)
        fr_paper = (p["paper_filled"] / p["qty"]).astype(float)
        real_any, paper_any = p["real_filled"] > 0, p["paper_filled"] > 0
        dp = pd.Series([_dp_bps(r) for _, r in p.iterrows()], dtype=float).dropna()
        both = p[(p["real_ttf_ms"].notna()) & (p["paper_ttf_ms"].notna()) & (p["real_ttf_ms"] > 0)]
        ratio = (both["paper_ttf_ms"] / both["real_ttf_ms"]).astype(float)
        dfr = (fr_paper - fr_real).astype(float)
        row.update(
            dp_bps_median=float(dp.median()) if len(dp) else None,
            dp_bps_p95=float(dp.quantile(0.95)) if len(dp) else None,
            ttf_real_p50=float(p["real_ttf_ms"].dropna().median()) if p["real_ttf_ms"].notna().any() else None,
            ttf_paper_p50=float(p["paper_ttf_ms"].dropna().median()) if p["paper_ttf_ms"].notna().any() else None,
            ttf_ratio_median=float(ratio.median()) if len(ratio) else None,
            fr_real=float(fr_real.mean()),
            fr_paper=float(fr_paper.mean()),
            dfr_median=float(dfr.median()),
            miss_rate=float((real_any & ~paper_any).mean()),
            phantom_rate=float((paper_any & ~real_any).mean()),
            spread_bps=float(p["spread_bps"].dropna().median()) if p["spread_bps"].notna().any() else None,
        )
        verdict, why = _verdict(bucket, row, dp, dfr, p, g, seed)
        rows.append({**row, "verdict": verdict, "why": why})
    return pd.DataFrame(rows).set_index("bucket")


def _verdict(
    bucket: str, row: dict[str, Any], dp: pd.Series, dfr: pd.Series, p: pd.DataFrame, g: dict[str, float], seed: int
) -> tuple[str, str]:
    if row["pairs"] < g["min_pairs"]:
        return "insufficient", f"{row['pairs']} pairs, gates need {int(g['min_pairs'])}"
    fails: list[str] = []
    warns: list[str] = []
    if bucket in TAKER_BUCKETS:
        tick = float(p["tick_bps"].dropna().median()) if p["tick_bps"].notna().any() else 0.0
        warn_at = max(g["taker_warn_bps"], tick)
        if row["dp_bps_median"] is not None and row["dp_bps_median"] > warn_at:
            warns.append(f"median dp {row['dp_bps_median']:.2f} bp > {warn_at:.2f} bp")
        if row["dp_bps_p95"] is not None and row["spread_bps"] is not None and row["dp_bps_p95"] > row["spread_bps"]:
            fails.append(f"p95 dp {row['dp_bps_p95']:.2f} bp > one spread {row['spread_bps']:.2f} bp")
        if len(dp) >= g["min_pairs"] and _lower_bound(dp.to_numpy(), seed) > 0:
            fails.append("bootstrap: paper prices better than real with 95 % confidence")
    else:
        if row["phantom_rate"] > g["phantom_fail"]:
            fails.append(f"phantom rate {row['phantom_rate']:.1%} > {g['phantom_fail']:.0%}")
        elif row["phantom_rate"] > g["phantom_warn"]:
            warns.append(f"phantom rate {row['phantom_rate']:.1%} > {g['phantom_warn']:.0%}")
        if row["dfr_median"] > g["dfr_fail"]:
            fails.append(f"median dFR {row['dfr_median']:+.2f} > +{g['dfr_fail']:.2f}")
        elif row["dfr_median"] > g["dfr_warn"]:
            warns.append(f"median dFR {row['dfr_median']:+.2f} > +{g['dfr_warn']:.2f}")
        r = row["ttf_ratio_median"]
        if r is not None and r < g["ttf_ratio_fail"]:
            fails.append(f"median TTF ratio {r:.2f} < {g['ttf_ratio_fail']}")
        elif r is not None and r < g["ttf_ratio_warn"]:
            warns.append(f"median TTF ratio {r:.2f} < {g['ttf_ratio_warn']}")
        if _lower_bound(dfr.to_numpy(), seed) > 0:
            fails.append("bootstrap: paper fills more than real with 95 % confidence")
    if fails:
        return "fail", "; ".join(fails + warns)
    if warns:
        return "warn", "; ".join(warns)
    return "ok", ""


def assert_gates(table: pd.DataFrame) -> None:
    """Raise :class:`DriftGateFailed` if any bucket's verdict is ``fail`` (the report's last cell).

    Examples
    --------
    >>> t = pd.DataFrame([{"bucket": "market", "verdict": "ok", "why": ""}]).set_index("bucket")
    >>> assert_gates(t)
    """
    failed = table[table["verdict"] == "fail"]
    if len(failed):
        detail = "; ".join(f"{b}: {w}" for b, w in failed["why"].items())
        raise DriftGateFailed(
            f"paper fills drift past the gates in {len(failed)} bucket(s): {detail}",
            hint="Make the paper fill model more conservative (latency, queue, consumption; docs/paper.md) "
            "and rerun; never loosen the gates to pass.",
        )
