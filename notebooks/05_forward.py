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
# # 05 · The strategy of notebook 02, forward
#
# The SMA crossover researched in notebook 02, written once as a `kit.strategy.Strategy`, runs
# **unchanged** in the replay and forward through the runner (`kit.run`, what `kit run` does):
# candle closes -> `next()` -> orders through the Session, with the guard, filters and journal
# of every other order. Here it runs on the testnet stage of localnet, whose clock this notebook
# steps one minute at a time; then the same strategy is replayed over the same candles and the
# two are compared decision by decision.

# %% tags=["parameters"]
exchange = "localnet"  # localnet (offline); forward on a real venue: kit run ... --exchange binance --stage paper
symbol = "BTC/USDT"
fast = 3  # SMA lengths, in 1-minute candles
slow = 8
size = "0.001"  # base amount per entry
candles = 60  # how many candles to run forward
paper_candles = 30  # how many candles to run forward on the paper stage
pace_s = 0.5  # wall seconds per candle (the demo's pace; 0 runs as fast as the runner goes)
store_root = "data"

# %%
from kit.views.report import notebook_parameters
from kit.safety.secrets import refuse_secret_params

refuse_secret_params(notebook_parameters(globals()), "notebook parameters")  # keys never come from parameters

# %%
import time
from decimal import Decimal

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from kit.cli.demo import prepare
from kit.engine import replay
from kit.run import Runner
from kit.run.compare import market_from_session, replay_vs_forward
from kit.session import Session
from kit.strategy import Strategy

prep = prepare(exchange, store_root=store_root)
print(prep.note)

# %% [markdown]
# ## The strategy, written once
# Parameters are class attributes; `next()` runs at every candle's close and sees the candles so
# far (`self.closes`), its own position (`self.flat`), and acts (`self.buy`,
# `self.close_position`). Nothing in it knows whether it is replayed or running forward.


# %%
class SmaCross(Strategy):
    """Long while the fast SMA of closes is above the slow one."""

    fast = 12
    slow = 48
    size = Decimal("0.001")
    lookback = 60  # closed candles loaded before the first next() when running forward

    def next(self) -> None:
        c = self.closes
        if len(c) < self.slow:
            return
        up = c[-self.fast :].mean() > c[-self.slow :].mean()
        if up and self.flat and self.open_orders == 0:
            self.buy(self.size)
        elif not up and not self.flat:
            self.close_position()


strategy = SmaCross(fast=fast, slow=slow, size=size)
strategy

# %% [markdown]
# ## Replayed on the last six hours
# The engine's `Market` comes from the exchange's own filters and fees (`market_from_session`).

# %%
session = Session(exchange, stage="testnet")
market = market_from_session(session, symbol)
history = session.candles(symbol, "1m", limit=361).iloc[:-1]  # the last row is still forming
research = replay.run(history, market, strategy=SmaCross(fast=fast, slow=slow, size=size))
pd.Series({k: research.stats[k] for k in ("orders", "fills", "return_pct")}).to_frame("replay, 6 h")

# %% [markdown]
# ## Forward on testnet
# The runner reconciles first, loads `lookback` candles as history, then at every close runs
# `next()` and sends what it decides. Each decision is journaled before its order and linked to
# it after, so a restart with the same name never sends an order twice. On localnet this
# notebook drives the market, as notebook 03 does: it prints trades and steps the clock.

# %%
rng = np.random.default_rng(5)  # the market this notebook prints: a seeded random walk
price = float(history["close"].iloc[-1])
run = Runner(session, strategy, [symbol], name="notebook-05", schedule="poll", poll_s=0.05)
run.prepare()
for _ in range(candles):
    for k in range(3):  # three trades a minute, then the clock moves on: a candle closes
        price = round(price * float(np.exp(rng.normal(0, 0.0015))), 2)
        prep.market.trade(symbol, f"{price:.2f}", "0.05", side="buy" if k % 2 else "sell")
        prep.market.step(20_000)
    run.poll_once()  # what the runner's loop does at each close (run.start() runs it in a thread)
    time.sleep(pace_s)
status = run.status()
pd.Series({k: status[k] for k in ("state", "candles", "decisions", "orders_sent", "open_orders", "gaps")}).to_frame(
    run.name
)

# %%
decisions = run.decisions()
decisions.index = pd.to_datetime(decisions["candle_ms"].astype("int64"), unit="ms", utc=True).rename("candle")
decisions[["action", "size", "status"]]

# %% [markdown]
# ## Candles and decisions

# %%
live = session.candles(symbol, "1m", limit=candles + 2).iloc[:-1]
fig = go.Figure(go.Scatter(x=live.index, y=live["close"], mode="lines", name="close"))
for action, color, marker in (("buy", "green", "triangle-up"), ("sell", "red", "triangle-down")):
    d = decisions[decisions["action"] == action]
    fig.add_scatter(x=d.index, y=d["close"].astype(float), mode="markers", name=action,
                    marker={"color": color, "symbol": marker, "size": 10})  # fmt: skip
fig.update_layout(title=f"{symbol} 1m: decisions of {run.name}", template="plotly_white", height=320,
                  margin={"l": 50, "r": 20, "t": 50, "b": 30})  # fmt: skip
fig

# %% [markdown]
# ## Replay-vs-forward
# The same strategy replayed over the candles it ran on (its history load as warm-up), decision
# by decision. Same decisions do not mean same prices: the replay fills a market order at the
# next candle's open with the engine's conservative slippage, forward fills on the book when it
# was sent.

# %%
compare = replay_vs_forward(session, SmaCross(fast=fast, slow=slow, size=size), run.name, symbol)
compare["explanation"].value_counts().to_frame("decisions")

# %%
compare[["forward_action", "replay_action", "forward_price", "replay_price", "price_delta_bps", "explanation"]].round(2)

# %%
run.stop()
run.journal("run")[["state", "reason"]].reset_index(drop=True)

# %% [markdown]
# ## Forward on paper
# The same class on the `paper` stage: simulated fills on a venue's public market, no key, and no
# order, cancel or account request ever reaches that venue. The paper venue is a private localnet
# that mirrors the venue's public book and trades (`kit.paper`, docs/paper.md); here it mirrors
# this notebook's localnet. Its fills follow the paper fill model: 250 ms latency, takers on the
# worse of the book when the order was decided and the book on its arrival, consumed liquidity,
# a queue for resting orders, 10 ticks past the last level for a market order beyond the book.
#
# On a real venue the paper market moves with the venue's streams. Here the localnet moves only
# when this notebook steps it, and the paper venue follows its clock: `sync()` catches it up
# (clock, book, trades) after each step, so the outputs below are the same on every run.

# %%
from kit.paper.venue import running_paper_venue

paper = Session(exchange, stage="paper")
paper_venue = running_paper_venue(exchange)  # this kernel's paper venue, started by the Session
paper_run = Runner(paper, SmaCross(fast=fast, slow=slow, size=size), [symbol], name="notebook-05-paper",
                   schedule="poll", poll_s=0.05)  # fmt: skip
paper_run.prepare()
for _ in range(paper_candles):
    for k in range(3):
        price = round(price * float(np.exp(rng.normal(0, 0.0015))), 2)
        prep.market.trade(symbol, f"{price:.2f}", "0.05", side="buy" if k % 2 else "sell")
        prep.market.step(20_000)
    paper_venue.sync()  # the paper venue's clock, book and trades catch up with the localnet's
    paper_run.poll_once()
paper_run.stop()
status = paper_run.status()
pd.Series({k: status[k] for k in ("state", "candles", "decisions", "orders_sent", "open_orders")}).to_frame(
    f"{paper_run.name} on {paper.venue}"
)

# %% [markdown]
# Its fills, journaled with stage `paper` like every other order's, and the position the Session
# builds from them (net of the base-asset fee):

# %%
fills = paper.journal.frame("fill")
fills = fills[fills["stage"] == "paper"]
fills[["stage", "venue", "side", "amount", "price", "fee_cost", "fee_currency"]]

# %%
pd.Series(paper.positions(), dtype=object).to_frame("paper position")

# %% [markdown]
# ## From a terminal
# The same class runs on the paper stage of a real venue, no key needed, and once it has testnet
# evidence on `live_small`:
#
# ```sh
# kit run notebooks/strategies.py:SmaCross --exchange binance --stage paper --symbols BTC/USDT --param fast=3
# kit run kit.strategy.examples:SmaCross --exchange localnet --stage paper --until 2026-12-31T00:00
# ```
#
# In a notebook, `kit.run.start(session, strategy, [symbol])` runs it in the background and
# returns the same handle (`status()`, `decisions()`, `fills()`, `stop()`); the status bar shows
# one chip per run.
