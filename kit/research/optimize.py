"""Parameter search (grid, random, Bayesian with optuna) maximising a statistic, and walk-forward analysis.

Every combination is a backtest (:func:`kit.research.run`), run on Dask by :func:`kit.research.sweep.sweep`.
``constraint`` filters parameter combinations before they run (``lambda p: p["fast"] < p["slow"]``, as
backtesting.py's); ``require`` filters results (``lambda s: s["# Trades"] >= 10``): a combination
that fails it stays in the table but cannot be the best.

>>> from kit.research import optimize                                                     # doctest: +SKIP
>>> o = optimize(SmaCross, data, fast=range(5, 30, 5), slow=range(20, 100, 10),
...              constraint=lambda p: p["fast"] < p["slow"], maximize="Sharpe Ratio")     # doctest: +SKIP
>>> o.best, o.heatmap("fast", "slow")                                                     # doctest: +SKIP
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from kit.errors import ConfigError
from kit.research.core import Result, resolve, run
from kit.research.data import Data
from kit.research.sweep import INLINE, cluster, sweep
from kit.strategy import Strategy

if TYPE_CHECKING:
    import plotly.graph_objects as go
    from distributed import Client

__all__ = ["METHODS", "Optimization", "WalkForward", "grid", "optimize", "walk_forward"]

METHODS = ("grid", "random", "optuna")
Constraint = Callable[[Mapping[str, Any]], bool]
Require = Callable[[pd.Series], bool]


def grid(space: Mapping[str, Iterable[Any]], constraint: Constraint | None = None) -> list[dict[str, Any]]:
    """Every combination of ``space`` (name -> values) that passes ``constraint``, in a stable order.

    >>> grid({"fast": [5, 10], "slow": [10, 20]}, lambda p: p["fast"] < p["slow"])
    [{'fast': 5, 'slow': 10}, {'fast': 5, 'slow': 20}, {'fast': 10, 'slow': 20}]
    """
    names = list(space)
    values = [list(v) if not isinstance(v, str | bytes) else [v] for v in space.values()]
    for name, vals in zip(names, values, strict=True):
        if not vals:
            raise ConfigError(f"parameter {name} has no values to try", hint=f"Give {name} a list or range.")
    combos = [dict(zip(names, combo, strict=True)) for combo in itertools.product(*values)]
    return [c for c in combos if constraint is None or constraint(c)]


@dataclass
class Optimization:
    """What :func:`optimize` returns.

    Attributes
    ----------
    results
        One row per combination tried: parameters, every statistic, ``error`` and ``ok`` (ran,
        has the statistic, passed ``require``).
    maximize
        The statistic maximised.
    params
        The parameter names searched.
    best
        The best combination's parameters (``{}`` when none is ok).
    best_stats
        Its statistics.
    """

    results: pd.DataFrame
    maximize: str
    params: list[str]
    best: dict[str, Any] = field(default_factory=dict)
    best_stats: pd.Series = field(default_factory=lambda: pd.Series(dtype=object))

    def __repr__(self) -> str:
        ok = int(self.results["ok"].sum()) if "ok" in self.results else 0
        failed = int(self.results["error"].notna().sum()) if "error" in self.results else 0
        value = self.best_stats.get(self.maximize, float("nan"))
        return (f"Optimization({len(self.results)} combinations, {ok} ok, {failed} failed; best {self.best} "
                f"with {self.maximize} {value:.4g})")  # fmt: skip

    @property
    def failures(self) -> pd.DataFrame:
        """The combinations that raised: parameters and traceback."""
        return self.results.loc[self.results["error"].notna(), [*self.params, "error"]]

    def heatmap(self, x: str, y: str, *, value: str | None = None, agg: str = "max") -> go.Figure:
        """Heatmap of the maximised statistic (or ``value``) over parameters ``x`` and ``y``."""
        from kit.views.research import heatmap

        ok = self.results[self.results["ok"]]
        return heatmap(ok, x, y, value or self.maximize, agg=agg)


def _finish(results: pd.DataFrame, names: list[str], maximize: str, require: Require | None) -> Optimization:
    if maximize not in results.columns:
        results[maximize] = np.nan
    values = pd.to_numeric(results[maximize], errors="coerce")
    ok = results["error"].isna() & values.notna() & np.isfinite(values.fillna(0))
    if require is not None:
        passed = [bool(require(row)) if good else False for good, (_, row) in zip(ok, results.iterrows(), strict=True)]
        ok &= np.asarray(passed, dtype=bool)
    results["ok"] = ok.to_numpy(dtype=bool)
    out = Optimization(results, maximize, names)
    if results["ok"].any():
        pos = int(np.nanargmax(values.where(results["ok"]).to_numpy(dtype="float64")))
        row = results.iloc[pos]
        out.best = {n: _plain(row[n]) for n in names}
        out.best_stats = row.drop(labels=[*names, "error", "ok"])
    return out


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def optimize(strategy: type[Strategy] | Strategy | str, data: Data, *, maximize: str = "Sharpe Ratio",
             method: str = "grid", n_trials: int | None = None, constraint: Constraint | None = None,
             require: Require | None = None, cash: Decimal | str | int = "10000", scheduler: str | None = None,
             workers: int | None = None, client: Client | None = None, seed: int = 0, progress: bool = True,
             fixed: Mapping[str, Any] | None = None, **space: Iterable[Any]) -> Optimization:  # fmt: skip
    """Search ``strategy``'s parameters for the largest ``maximize`` on ``data``.

    Parameters
    ----------
    strategy
        A Strategy class (or ``"module:Name"``).
    data
        The candles' :class:`Data` (:func:`kit.research.load`).
    maximize
        A statistic's name (``"Sharpe Ratio"``, ``"Return [%]"``, ``"SQN"``...).
    method
        ``"grid"`` (every combination), ``"random"`` (``n_trials`` of them, without repeats) or
        ``"optuna"`` (``n_trials`` asked of optuna's TPE sampler, in batches of one per worker).
    constraint, require
        Filters on the parameters (before running) and on the statistics (after).
    cash, scheduler, workers, client, progress
        As :func:`kit.research.sweep.sweep`.
    seed
        Seed of the random and optuna searches.
    fixed
        Parameters held at one value (not searched).
    **space
        Parameter name -> the values to try (a list or a range).

    Returns
    -------
    Optimization
    """
    if method not in METHODS:
        raise ConfigError(f"method={method!r} is not one of {', '.join(METHODS)}", hint="Use grid, random or optuna.")
    if not space:
        raise ConfigError("nothing to optimise", hint="Give at least one parameter and its values: fast=range(5, 30).")
    cls = resolve(strategy)
    known = cls.defaults()
    unknown = sorted(set(space) - set(known))
    if unknown:
        raise ConfigError(f"unknown parameter(s) {', '.join(unknown)} for {cls.__name__}",
                          hint=f"Parameters of {cls.__name__}: {', '.join(sorted(known))}.")  # fmt: skip
    base = dict(fixed or {})
    names = list(space)
    kw: dict[str, Any] = {
        "cash": cash,
        "scheduler": scheduler,
        "workers": workers,
        "client": client,
        "progress": progress,
    }
    if method == "optuna":
        return _optuna(strategy, data, space, base, maximize, n_trials or 50, constraint, require, seed, kw)
    combos = grid(space, constraint)
    if method == "random":
        take = min(n_trials or 50, len(combos))
        pick = np.sort(np.random.default_rng(seed).choice(len(combos), size=take, replace=False))
        combos = [combos[i] for i in pick]
    if not combos:
        raise ConfigError("no combination passes the constraint", hint="Loosen the constraint or widen the ranges.")
    results = sweep(strategy, data, [{**base, **c} for c in combos], **kw)
    return _finish(results, names, maximize, require)


def _optuna(strategy: Any, data: Data, space: Mapping[str, Iterable[Any]], base: dict[str, Any], maximize: str,
            n_trials: int, constraint: Constraint | None, require: Require | None, seed: int,
            kw: dict[str, Any]) -> Optimization:  # fmt: skip
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    choices = {k: list(v) for k, v in space.items()}
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    frames: list[pd.DataFrame] = []
    own = None
    client = kw.pop("client")
    try:
        if client is None and kw["scheduler"] != INLINE:
            own = cluster(kw["scheduler"], kw["workers"])
            client = own.__enter__()
        batch = max(1, len(client.nthreads())) if client is not None else 1
        done = 0
        while done < n_trials:
            trials, combos = [], []
            for _ in range(min(batch, n_trials - done)):
                t = study.ask()
                params = {k: t.suggest_categorical(k, v) for k, v in choices.items()}
                if constraint is not None and not constraint(params):
                    study.tell(t, state=optuna.trial.TrialState.PRUNED)
                    done += 1
                    continue
                trials.append(t)
                combos.append({**base, **params})
            if combos:
                part = sweep(strategy, data, combos, client=client, **kw)
                part["trial"] = [t.number for t in trials]
                for t, (_, row) in zip(trials, part.iterrows(), strict=True):
                    value = _number(row.get(maximize))
                    good = row["error"] is None and math.isfinite(value)
                    if good and require is not None:
                        good = bool(require(row))
                    if good:
                        study.tell(t, float(value))
                    else:
                        study.tell(t, state=optuna.trial.TrialState.FAIL)
                frames.append(part)
                done += len(combos)
    finally:
        if own is not None:
            own.__exit__(None, None, None)
    results = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame({"error": []})
    return _finish(results, list(space), maximize, require)


@dataclass
class WalkForward:
    """What :func:`walk_forward` returns: one row per window, and the figure of in- against out-of-sample."""

    table: pd.DataFrame
    maximize: str
    results: list[Result] = field(default_factory=list, repr=False)

    def figure(self) -> go.Figure:
        """In-sample against out-of-sample statistic, window by window."""
        from kit.views.research import walk_forward_figure

        return walk_forward_figure(self.table, self.maximize)

    @property
    def efficiency(self) -> float:
        """Mean out-of-sample over mean in-sample statistic (near 1: little overfitting; near 0 or below: much)."""
        ins = pd.to_numeric(self.table["in_sample"], errors="coerce").mean()
        outs = pd.to_numeric(self.table["out_of_sample"], errors="coerce").mean()
        return float(outs / ins) if ins else float("nan")


def walk_forward(strategy: type[Strategy] | Strategy | str, data: Data, *, train: str | pd.Timedelta,
                 test: str | pd.Timedelta, maximize: str = "Sharpe Ratio", method: str = "grid",
                 n_trials: int | None = None, constraint: Constraint | None = None, require: Require | None = None,
                 cash: Decimal | str | int = "10000", scheduler: str | None = None, workers: int | None = None,
                 seed: int = 0, progress: bool = False, **space: Iterable[Any]) -> WalkForward:  # fmt: skip
    """Rolling in-sample optimisation, each best combination then backtested on the next, unseen window.

    Windows: in-sample ``[t, t + train)``, out-of-sample ``[t + train, t + train + test)``, with ``t``
    moving by ``test`` from the start of ``data`` while a whole out-of-sample window fits. One Dask
    client serves every window's search.

    Returns
    -------
    WalkForward
        ``table``: train and test bounds, the best parameters, the in-sample and out-of-sample
        statistic, and the out-of-sample return and number of trades per window.
    """
    tr, te = pd.Timedelta(train), pd.Timedelta(test)
    if tr <= pd.Timedelta(0) or te <= pd.Timedelta(0):
        raise ConfigError(f"train={train!r} and test={test!r} must be positive durations", hint="Use e.g. '1D'.")
    start = pd.Timestamp(data.start_ms, unit="ms", tz="UTC")
    end = pd.Timestamp(data.end_ms, unit="ms", tz="UTC")
    bounds = []
    t = start
    while t + tr + te <= end:
        bounds.append((t, t + tr, t + tr + te))
        t += te
    if not bounds:
        raise ConfigError(f"no whole window of train {tr} + test {te} fits in {start} to {end}",
                          hint="Shorten train/test or load a longer period.")  # fmt: skip
    rows, results = [], []
    opts: dict[str, Any] = {"maximize": maximize, "method": method, "n_trials": n_trials, "constraint": constraint,
            "require": require, "cash": cash, "seed": seed, "progress": progress}  # fmt: skip
    own = cluster(scheduler, workers) if scheduler != INLINE else None
    client = own.__enter__() if own is not None else None
    try:
        for a, b, c in bounds:
            args: dict[str, Any] = {**opts, **space}
            opt = optimize(strategy, data.between(a, b), client=client, scheduler=scheduler, **args)
            row: dict[str, Any] = {"train_start": a, "train_end": b, "test_start": b, "test_end": c}
            if not opt.best:
                rows.append({**row, "in_sample": np.nan, "out_of_sample": np.nan})
                continue
            out = data.between(b, c)
            res = run(strategy, out.candles(), out.need_market(), opt.best, cash=cash)
            results.append(res)
            rows.append({**row, **opt.best, "in_sample": opt.best_stats[maximize],
                         "out_of_sample": res.stats[maximize], "oos_return_pct": res.stats["Return [%]"],
                         "oos_trades": res.stats["# Trades"]})  # fmt: skip
    finally:
        if own is not None:
            own.__exit__(None, None, None)
    return WalkForward(pd.DataFrame(rows), maximize, results)
