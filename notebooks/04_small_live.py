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
# localnet is a sandbox and refuses live stages. So against localnet this notebook declares a
# **rehearsal venue**: a second, separate localnet that plays a real exchange and its testnet, with
# its own keys, state and journal names (`rehearsal-testnet`, `rehearsal`: never a real exchange's).
# The whole ladder then runs offline, read_only -> testnet -> live_small, through the real gate,
# caps and kill switch. Against a real exchange (`exchange="binance"`) it asks for `live_small` and
# is refused until the gate is met; even then it sends nothing live by itself.

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

from kit.cli.demo import prepare
from kit.errors import KitError
from kit.safety.guard import Caps, EvidenceRule
from kit.journal.journal import Journal
from kit.safety.killswitch import KillSwitch, kit_home
from kit.session import Session

prep = prepare(exchange, store_root=store_root)
print(prep.summary)
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
# The gate counts orders with at least one fill in the `testnet` stage, per symbol, in the window,
# journaled for the venue being entered. Rehearsal history never counts for a real exchange, nor a
# real exchange's for the rehearsal.

# %%
rehearsing = prep.is_localnet
if rehearsing:
    from kit.cli.demo import prepare_rehearsal

    print(prepare_rehearsal())
venue = "rehearsal" if rehearsing else exchange
testnet_venue = "rehearsal" if rehearsing else (exchange if exchange.endswith("-testnet") else f"{exchange}-testnet")
evidence_venue = "rehearsal-testnet" if rehearsing else None


def evidence():
    """Filled testnet orders per symbol in the window, against what the gate asks for."""
    since_ms = int(time.time() * 1000) - evidence_days * 86_400_000
    have = journal.filled_orders(stage="testnet", symbols=[symbol], since_ms=since_ms, venue=evidence_venue)
    return pd.DataFrame({"filled testnet orders": [have], "required": [evidence_orders]}, index=[symbol])


def enter_live_small(**kw):
    """Ask for live_small on the venue: the gate's answer (no request is sent when it refuses)."""
    try:
        s = Session(venue, stage="live_small", caps=caps, evidence=rule, **kw)
    except KitError as exc:
        print(f"{type(exc).__name__}: {exc}")
        return None
    print(f"{s!r}: the gate passed.")
    return s


display(evidence())
live = enter_live_small()

# %% [markdown]
# localnet itself refuses live stages outright: a sandbox is never real money.

# %%
if rehearsing:
    try:
        Session(exchange, stage="live_small", caps=caps, evidence=rule)
    except KitError as exc:
        print(f"{type(exc).__name__}: {exc}")

# %% [markdown]
# ## Building the evidence, on the testnet
# Small market buys in the `testnet` stage (the rehearsal's testnet account, or the exchange's
# testnet). Each fill is journaled with its stage and venue, so it counts for that venue only.

# %%
sandbox = Session(testnet_venue, stage="testnet")
print(repr(sandbox))
for _ in range(evidence_orders):
    o = sandbox.buy(symbol, small)
    print(f"order {o['id']}: {o['status']}")
display(evidence())

# %% [markdown]
# ## live_small, once the gate is met
# On the rehearsal venue the same `Session(..., stage="live_small")` now passes the gate, with the
# `live_small` caps in USD and a kill switch of its own (a temporary kill file, so that engaging it
# here stops nothing else of yours). On a real exchange this notebook stops at the gate.

# %%
tmp_home = Path(tempfile.mkdtemp(prefix="kit-kill-"))
switch = KillSwitch(kit_home({"KIT_HOME": str(tmp_home)}) / "KILL", env={})
live = enter_live_small(kill_switch=switch) if rehearsing else None
if live is not None:  # what its status bar (kit.views.ui.StatusBar) shows
    st = live.status()
    print(f"venue {st['venue']!r} (status bar: REHEARSAL, no real money); caps: {st['caps']}")

# %% [markdown]
# ## 1 again: caps refuse before sending
# An order over the per-order cap is refused by the guard (and the refusal is journaled), without a
# request. The cap is in USD whatever the quote currency: 390 ETH at 0.05 BTC is 19.5 BTC, far over
# 20 USD, not "19.5, under 20".

# %%
guarded = live if live is not None else Session(testnet_venue, stage="testnet", caps=caps)
try:
    guarded.buy(symbol, too_big)
except KitError as exc:
    print(f"{type(exc).__name__}: {exc}")
usd_capped = Session(testnet_venue, stage="testnet", caps=Caps(max_order_notional="20", max_daily_notional="100"))
try:
    usd_capped.buy("ETH/BTC", "390", price="0.05")
except KitError as exc:
    print(f"{type(exc).__name__}: {exc}")
usd_capped.close()

# %% [markdown]
# ## 3. The kill switch
# Yours is the kill file printed at the top (`$KIT_HOME/KILL`, `~/.tradekit/KILL` by default; where
# this notebook runs a private localnet its journal is temporary but the kill file stays yours):
# `touch` it from a terminal, or run `kit kill`, to stop everything. Engaged, every Session that may trade cancels its kit's open
# orders by itself within a quarter second (a watcher thread, in notebook kernels too), and new
# orders are refused before anything is sent; cancels are never blocked. Orders the kit did not
# place stay open (`kit kill --all` cancels them too).

# %%
kill_target = live if live is not None else Session(testnet_venue, stage="testnet", kill_switch=switch)
last = Decimal(str(kill_target.ticker(symbol)["last"]))
resting = kill_target.buy(symbol, small, price=str((last * Decimal("0.9")).quantize(Decimal("0.01"))))
print(f"resting order {resting['id']}: {resting['status']}; open orders: {len(kill_target.open_orders(symbol))}")

# %%
switch.engage("demo: daily loss looks wrong, stop everything")
t0 = time.monotonic()
while len(kill_target.open_orders(symbol)) and time.monotonic() - t0 < 5:
    time.sleep(0.05)
print("engaged:", switch.engaged() or "no")
print(f"open orders {'within 2 s' if time.monotonic() - t0 < 2 else 'after more than 2 s'}:",
      len(kill_target.open_orders(symbol)))  # fmt: skip
print("what the session did:", (kill_target.status()["kill_action"] or "").split(" at ")[0])
try:
    kill_target.buy(symbol, small)
except KitError as exc:
    print(f"{type(exc).__name__}: {exc}")

# %%
switch.reset()
print("engaged:", switch.engaged() or "no")
o = kill_target.buy(symbol, small)
print(f"after reset, order {o['id']}: {o['status']}")

# %% [markdown]
# ## What the journal recorded
# Every guard decision is a journal row, under the venue it was made for; the refusals are the
# "guard trips" the daily report lists and the `live` gate looks for.

# %%
g = journal.frame("guard")
trips = g[g["decision"] == "refuse"][["venue", "stage", "symbol", "rule"]]
trips.tail(6)

# %%
for s in {id(x): x for x in (kill_target, guarded, sandbox) if x is not None}.values():
    s.close()
