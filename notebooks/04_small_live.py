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
# # 04 · Small live: caps, the evidence gate, and the kill switch
#
# `live_small` is the first stage with real money, so everything here is decided **before** a
# request can be sent:
#
# 1. **Caps**: per-order notional, daily notional, daily loss, open orders and a symbol allowlist.
# 2. **The evidence gate**: the stage opens only after journaled testnet fills, per symbol.
# 3. **The kill switch**: one file (or `KIT_KILL=1`) that stops every new order in every process.
#
# localnet is a sandbox and refuses live stages, so against localnet the notebook shows the gate
# as a real exchange would apply it, and runs its orders in the `testnet` stage. Against a real
# exchange (`exchange="binance"`) it asks for `live_small` and is refused until the gate is met;
# even then it sends nothing by itself.

# %% tags=["parameters"]
exchange = "localnet"  # "localnet" (offline) or a ccxt exchange id for the real gate
symbol = "BTC/USDT"
small = "0.0002"  # a small market buy (about 12 USDT at 60,000): within the live_small caps
too_big = "0.001"  # about 60 USDT: over the 20 USDT per-order cap
evidence_orders = 3  # filled testnet orders per symbol the gate asks for
evidence_days = 30  # within this many days
store_root = "data"

# %%
from kit.views.report import notebook_parameters
from kit.safety.secrets import refuse_secret_params

refuse_secret_params(notebook_parameters(globals()), "notebook parameters")  # keys never come from parameters

# %%
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import pandas as pd
from IPython.display import display

from kit.cli.demo import prepare, stage_gate
from kit.errors import KitError
from kit.safety.guard import Caps, EvidenceRule
from kit.journal.journal import Journal
from kit.safety.killswitch import KillSwitch, kit_home
from kit.session import Session

prep = prepare(exchange, store_root=store_root)
print(prep.note)
journal = Journal(Journal.default_path())
rule = EvidenceRule(min_filled_orders=evidence_orders, within_days=evidence_days)

# %% [markdown]
# ## 1. The caps of `live_small`
# Money caps are in one reference currency, USD by default (USDT and the other USD stablecoins
# count at par): an ETH/BTC order is valued through the exchange's own BTC/USDT price, and an
# order that cannot be valued is refused. Raising them is what the `live` stage is for, after
# `live_small` history without guard trips.

# %%
caps = Caps.for_stage("live_small", symbols=[symbol])
pd.Series(
    {
        "per-order notional": caps.money(caps.max_order_notional),
        "daily notional": caps.money(caps.max_daily_notional),
        "daily loss": caps.money(caps.max_daily_loss),
        "open orders": caps.max_open_orders,
        "symbols": ", ".join(sorted(caps.symbols or ())),
    }
).to_frame("live_small cap")


# %% [markdown]
# ## 2. The evidence gate
# What the journal holds: orders with at least one fill in the `testnet` stage, per symbol, in
# the window. The gate counts these and nothing else.


# %%
def evidence():
    """Filled testnet orders per symbol in the window, against what the gate asks for."""
    since_ms = int(time.time() * 1000) - evidence_days * 86_400_000
    have = journal.filled_orders(stage="testnet", symbols=[symbol], since_ms=since_ms)
    return pd.DataFrame({"filled testnet orders": [have], "required": [evidence_orders]}, index=[symbol])


display(evidence())
passed, why = stage_gate("live_small", [symbol], journal=journal, evidence=rule)
print("gate:", "PASSES" if passed else "REFUSED", "-", why)

# %% [markdown]
# Asking for the stage is where the gate bites. localnet is a sandbox, so it refuses live stages
# outright; a real exchange refuses until the evidence is there. No request is sent either way.

# %%
try:
    live = Session(exchange, stage="live_small", caps=caps, evidence=rule)
except KitError as exc:
    live = None
    print(f"{type(exc).__name__}: {exc}")
else:
    print(f"{live!r}: the gate passed. This notebook sends nothing live; place orders yourself, within the caps.")
    live.close()

# %% [markdown]
# ## Building the evidence, on the sandbox
# Small market buys in the `testnet` stage. Each fill is journaled with its stage, so it counts.

# %%
sandbox_exchange = exchange if prep.is_localnet or exchange.endswith("-testnet") else f"{exchange}-testnet"
sandbox = Session(sandbox_exchange, stage="testnet")
if prep.market is not None:
    prep.market.sync()
for _ in range(evidence_orders):
    o = sandbox.buy(symbol, small)
    print(f"order {o['id']}: {o['status']}, filled {o['filled']} at {o['average']}")
display(evidence())
passed, why = stage_gate("live_small", [symbol], journal=journal, evidence=rule)
print("gate:", "PASSES" if passed else "REFUSED", "-", why)

# %% [markdown]
# ## 1 again: caps refuse before sending
# The same caps on a sandbox session: an order over the per-order cap is refused by the guard
# (and the refusal is journaled), without a request.

# %%
capped = Session(sandbox_exchange, stage="testnet", caps=caps)
try:
    capped.buy(symbol, too_big)
except KitError as exc:
    print(f"{type(exc).__name__}: {exc}")
capped.close()

# %% [markdown]
# ## 3. The kill switch
# A kill file under a temporary `KIT_HOME` (yours is `$KIT_HOME/KILL`, `~/.tradekit/KILL` by
# default: `touch` it from a terminal, or run `kit kill`, to stop everything). Engaged, every
# Session that may trade cancels its kit's open orders by itself within a quarter second (a
# watcher thread, in notebook kernels too), and new orders are refused before anything is sent;
# cancels are never blocked. Orders the kit did not place, like the one placed "on the website"
# that notebook 03 promised never to touch, stay open (`kit kill --all` cancels them too).

# %%
tmp_home = Path(tempfile.mkdtemp(prefix="kit-kill-"))
switch = KillSwitch(kit_home({"KIT_HOME": str(tmp_home)}) / "KILL", env={})
guarded = Session(sandbox_exchange, stage="testnet", kill_switch=switch)
last = Decimal(str(guarded.ticker(symbol)["last"]))
resting = guarded.buy(symbol, small, price=str(last - 500))
print(f"resting order {resting['id']}: {resting['status']}; open orders: {len(guarded.open_orders(symbol))}")

# %%
switch.engage("demo: daily loss looks wrong, stop everything")
print("engaged:", switch.engaged())
try:
    guarded.buy(symbol, small)
except KitError as exc:
    print(f"{type(exc).__name__}: {exc}")
print("open orders after the kill switch:", len(guarded.open_orders(symbol)))

# %%
switch.reset()
print("engaged:", switch.engaged())
o = guarded.buy(symbol, small)
print(f"after reset, order {o['id']}: {o['status']}, filled {o['filled']}")

# %% [markdown]
# ## What the journal recorded
# Every guard decision is a journal row; the refusals are the "guard trips" the daily report
# lists and the `live` gate looks for.

# %%
g = journal.frame("guard")
trips = g[g["decision"] == "refuse"][["stage", "symbol", "rule"]]
trips.tail(5)

# %%
for s in (guarded, sandbox):
    s.close()
