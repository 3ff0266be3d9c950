# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 06 · A parameter sweep on Dask, and a walk-forward
#
# The SMA crossover of notebook 02, over a grid of its two windows. Every combination is a full
# backtest through the kit's engine (conservative fills, fees, slippage) with backtesting.py's
# statistics. The combinations run on a Dask cluster: here a `LocalCluster` of worker processes
# started for the sweep (`workers=`), or any cluster by its address (`scheduler="tcp://...:8786"`).
# Each task reads its candles from the Parquet store itself; only the store's folder and the
# period travel. A combination that fails is reported with its parameters and traceback; the
# others go on. Then a walk-forward: the best combination of each in-sample window, replayed on
# the next window it has not seen, shows how much of the in-sample result was overfitting.

# %% tags=["parameters"]
exchange = "localnet"
symbol = "BTC/USDT"
timeframe = "5m"
since = "-3d"
until = ""
fast = [4, 6, 8, 12, 16]  # the grid: fast window (candles)
slow = [24, 36, 48, 72]  # slow window
size = "0.05"
cash = "10000"
maximize = "Return [%]"
workers = 2  # worker processes of the local Dask cluster
scheduler = ""  # or the address of a running Dask scheduler
store_root = "data"

# %%
from kit.views.report import notebook_parameters
from kit.safety.secrets import refuse_secret_params

refuse_secret_params(notebook_parameters(globals()), "notebook parameters")  # keys never come from parameters

# %%
from kit.cli.demo import prepare
from kit.research import load, optimize, walk_forward
from kit.strategy.examples import SmaCross

prep = prepare(exchange, store_root=store_root)
data = load(symbol, timeframe, since, until, exchange=exchange, store=prep.store_root, now=prep.now())
print(f"{len(data.candles())} candles of {timeframe}; {len(fast) * len(slow)} combinations")

# %% [markdown]
# ## The grid
# `constraint` drops combinations before they run (here: fast below slow); `require` keeps
# combinations with too few trades out of the choice of the best.

# %%
opt = optimize(SmaCross, data, fast=fast, slow=slow, fixed={"size": size}, cash=cash, maximize=maximize,
               constraint=lambda p: p["fast"] < p["slow"], require=lambda s: s["# Trades"] >= 3,
               workers=workers, scheduler=scheduler or None, progress=False)
print(opt)
opt.results[["fast", "slow", maximize, "Win Rate [%]", "# Trades", "Max. Drawdown [%]", "ok"]].round(4)

# %%
opt.heatmap("fast", "slow")

# %% [markdown]
# ## Walk-forward
# In-sample windows of one day, each followed by half a day out of sample: the grid is searched
# on the first, its best combination replayed on the second.

# %%
wf = walk_forward(SmaCross, data, train="1D", test="12h", fast=fast, slow=slow, size=[size], cash=cash,
                  maximize=maximize, constraint=lambda p: p["fast"] < p["slow"], workers=workers,
                  scheduler=scheduler or None)
wf.table.round({"in_sample": 4, "out_of_sample": 4, "oos_return_pct": 4})

# %%
print(f"walk-forward efficiency (mean out-of-sample / mean in-sample {maximize}): {wf.efficiency:.3f}")
wf.figure()
