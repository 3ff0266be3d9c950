"""Grid, random and optuna search, constraints, heatmap, walk-forward, and failures reported (in process)."""

from __future__ import annotations

import pytest
from research_helpers import PARAMS

from kit.errors import ConfigError
from kit.research import INLINE, Data, grid, optimize, walk_forward
from kit.strategy.examples import SmaCross

OPTS = {"fixed": PARAMS, "cash": "10", "scheduler": INLINE, "progress": False}


def test_grid_keeps_the_order_and_the_constraint() -> None:
    assert grid({"fast": [5, 10], "slow": [10, 20]}, lambda p: p["fast"] < p["slow"]) == [
        {"fast": 5, "slow": 10}, {"fast": 5, "slow": 20}, {"fast": 10, "slow": 20},
    ]  # fmt: skip
    with pytest.raises(ConfigError, match="no values"):
        grid({"fast": []})


@pytest.mark.slow  # seven backtests and a heatmap: about 0.6 s idle, over the guard on a busy machine
def test_grid_search_maximises_the_statistic_under_constraints(stored: Data) -> None:
    o = optimize(SmaCross, stored, fast=[5, 10, 20], slow=[10, 30, 60], constraint=lambda p: p["fast"] < p["slow"],
                 require=lambda s: s["# Trades"] >= 100, maximize="Return [%]", **OPTS)  # fmt: skip
    res = o.results
    assert len(res) == 7 and (res["fast"] < res["slow"]).all()
    assert res["error"].isna().all()
    eligible = res[res["# Trades"] >= 100]
    assert res["ok"].tolist() == (res["# Trades"] >= 100).tolist() and 0 < len(eligible) < len(res)
    best = eligible.loc[eligible["Return [%]"].idxmax()]
    assert o.best == {"fast": best["fast"], "slow": best["slow"]} == {"fast": 5, "slow": 60}
    assert res["Return [%]"].idxmax() not in eligible.index  # the overall best fails `require`
    assert o.best_stats["Return [%]"] == best["Return [%]"]
    fig = o.heatmap("fast", "slow")
    assert list(fig.data[0].x) == sorted(set(eligible["fast"])) and fig.data[0].type == "heatmap"


SPACE = {"fast": [5, 8, 12], "slow": [30, 48, 60]}


def test_random_search_tries_distinct_combinations_the_same_for_a_seed(stored: Data) -> None:
    space = SPACE
    r = optimize(SmaCross, stored, method="random", n_trials=4, seed=1, **space, **OPTS)
    assert len(r.results) == 4 and len({(a, b) for a, b in r.results[["fast", "slow"]].values}) == 4
    assert r.results[["fast", "slow"]].equals(
        optimize(SmaCross, stored, method="random", n_trials=4, seed=1, **space, **OPTS).results[["fast", "slow"]]
    )


@pytest.mark.slow  # importing optuna (sqlalchemy, alembic) takes about a second
def test_optuna_search_tells_every_result_and_keeps_the_best(stored: Data) -> None:
    o = optimize(SmaCross, stored, method="optuna", n_trials=5, seed=3, **SPACE, **OPTS)
    assert len(o.results) == 5 and o.results["ok"].all()
    assert o.best_stats["Sharpe Ratio"] == o.results["Sharpe Ratio"].max()


def test_a_failing_combination_is_reported_and_the_others_run(stored: Data) -> None:
    o = optimize(SmaCross, stored, fast=[0, 10], slow=[30], **OPTS)
    assert o.results["error"].notna().tolist() == [True, False]
    fail = o.failures
    assert fail["fast"].tolist() == [0] and "Traceback" in fail["error"].iloc[0]
    assert o.best == {"fast": 10, "slow": 30}


def test_bad_search_input_fails_before_running(stored: Data) -> None:
    with pytest.raises(ConfigError, match="unknown parameter"):
        optimize(SmaCross, stored, fats=[1], **OPTS)
    with pytest.raises(ConfigError, match="method"):
        optimize(SmaCross, stored, method="genetic", fast=[1], **OPTS)
    with pytest.raises(ConfigError, match="nothing to optimise"):
        optimize(SmaCross, stored, **OPTS)
    with pytest.raises(ConfigError, match="no combination passes"):
        optimize(SmaCross, stored, fast=[50], slow=[10], constraint=lambda p: p["fast"] < p["slow"], **OPTS)


@pytest.mark.slow  # about 2 s: eight store reads and 20 backtests
def test_walk_forward_rolls_in_and_out_of_sample_windows(stored: Data) -> None:
    opts = {k: v for k, v in OPTS.items() if k not in ("fixed", "progress")}
    wf = walk_forward(SmaCross, stored, train="6D", test="3D", fast=[5, 12], slow=[30, 48], size=["0.5"], **opts)
    t = wf.table
    assert len(t) == 4  # 20 days: windows start at day 0, 3, 6, 9 while 6 + 3 days fit
    assert (t["test_start"] == t["train_end"]).all() and (t["test_end"] - t["test_start"]).eq("3D").all()
    assert (t["train_start"].diff().dropna() == "3D").all()
    assert t[["in_sample", "out_of_sample", "fast", "slow"]].notna().all().all()
    fig = wf.figure()
    assert [d.name for d in fig.data] == ["in-sample Sharpe Ratio", "out-of-sample Sharpe Ratio"]
    assert len(fig.data[0].x) == 4 and isinstance(wf.efficiency, float)
    with pytest.raises(ConfigError, match="no whole window"):
        walk_forward(SmaCross, stored, train="30D", test="3D", fast=[5], **opts)
