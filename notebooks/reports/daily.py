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
# # Daily report
#
# Run it with `kit report daily --since yesterday --until today --out reports/`, which writes
# this notebook executed and as HTML without code. Everything comes from the journal (orders,
# fills, errors, guard decisions, clock checks) and the request log under `$KIT_HOME`; prices for
# valuing balances come from the exchange when it can be reached, else from the last fills.

# %% tags=["parameters"]
since = ""  # ISO time, today, yesterday, or an offset from `until` such as -1d; empty: until - 1 day
until = ""  # ISO time, today, now; empty: now
exchange = "localnet"  # where current prices come from ("localnet" needs KIT_LOCALNET_URL)
venue = ""  # only this journal venue (localnet, binance, ...); empty: all
quote = "USDT"  # currency of the valuation

# %%
from kit.views.report import notebook_parameters
from kit.safety.secrets import refuse_secret_params

refuse_secret_params(notebook_parameters(globals()), "notebook parameters")  # keys never come from parameters

# %%
import os
from decimal import Decimal

import pandas as pd
import plotly.graph_objects as go
from IPython.display import Markdown, display

from kit.views import charts
from kit.errors import KitError
from kit.journal.journal import Journal
from kit.views.report import Activity, checklist, counted, number, period

pd.set_option("display.float_format", number)  # numbers as people read them: 7, 0.00001, 200 (not 7.0, 1e-05)
start, end = period(since, until)
activity = Activity(Journal(Journal.default_path()), start, end, venue=venue or None)
display(Markdown(f"**Period** {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC · venue: {venue or 'all'}"))

# %%
symbols = sorted({str(s) for s in activity.frame("fill")["symbol"]} | {str(s) for s in activity.frame("intent")["symbol"]})
prices = {**activity.last_prices()}
source = "the last journaled fills"
session = None
balances, where = None, "the journal: its last balance snapshot plus later fills"
if exchange != "localnet" or os.environ.get("KIT_LOCALNET_URL"):
    from kit.session import Session

    try:
        session = Session(exchange, stage="read_only")
        if end >= pd.Timestamp.now(tz="UTC") - pd.Timedelta(minutes=5):  # a period ending now: the exchange's balances
            balances, where = session.balances()["total"].to_dict(), f"{session.venue}, now"
        assets = balances if balances is not None else activity.journal.state_at(end).balances
        held = {f"{a}/{quote}" for a, amount in assets.items() if a != quote and amount}
        for sym in sorted((set(symbols) | held) & set(session.markets().index)):
            prices[sym] = Decimal(str(session.ticker(sym)["last"]))
        source = f"{session.venue} tickers"
    except KitError as exc:
        print(f"prices from the journal only ({type(exc).__name__}: {exc})")
if balances is None and not activity.has_balance_snapshot():
    where = "the journal, which has no balance snapshot: net change from fills only"
listed = ", ".join(f"{s} {number(p)}" for s, p in sorted(prices.items()))
print(f"valued at {source}: {listed}" if listed else f"no prices needed: nothing held but {quote} and no fills")

# %% [markdown]
# ## Summary

# %%
value = activity.account_value(prices, quote, balances=balances)
orders = activity.orders()
fills = activity.fills()
pnl = activity.pnl(prices)
fees = activity.fees(prices, quote)
failures = activity.failures()
trips = activity.guard_trips()
known = balances is not None or activity.has_balance_snapshot()  # else the journal knows only net changes
pd.Series(
    {
        f"account value ({quote})": number(value[f"value ({quote})"].sum(), 2) if known else "unknown (no balances)",
        "orders sent": len(orders),
        "orders filled (fully or in part)": int((orders["filled"] > 0).sum()),
        "fills": len(fills),
        f"PnL ({quote})": number(pnl["pnl"].sum(), 4),
        f"fees ({quote})": number(round(float(fees[f"in {quote}"].sum()), 6)),
        "rejected orders and failed requests": len(failures),
        "guard trips": len(trips),
    },
    dtype=object,  # counts stay counts (7, not 7.00000)
).to_frame("period")

# %% [markdown]
# ## Health: clock and rate limits

# %%
checklist(activity.health())

# %% [markdown]
# ## Account value at the end of the period

# %%
print(f"balances from {where}")
value.round({f"value ({quote})": 2})

# %% [markdown]
# ## Orders

# %%
orders

# %% [markdown]
# ## Fills, PnL and fees
# PnL per symbol is the fills' cash flow plus the net amount bought, marked at the prices above,
# minus fees (fees paid in the base asset are converted at the fill price).

# %%
fills

# %%
pnl

# %%
fees

# %%
for sym in sorted(set(fills["symbol"])):
    mine = fills[fills["symbol"] == sym]
    if session is not None:
        if end >= pd.Timestamp.now(tz="UTC") - pd.Timedelta(minutes=5):
            bars = session.candles(sym, "1m", limit=90)  # the last 90 candles, straight from the exchange
        else:  # the 90 minutes up to the period's end, through the candle store
            bars = session.candles(sym, "1m", end - pd.Timedelta(minutes=90), end, fill="drop", progress=False)
        display(charts.candles(bars, fills=mine[mine.index >= bars.index[0]], title=f"{sym}: our fills", height=420))
    else:
        fig = go.Figure()
        for side, color in (("buy", charts.BUY), ("sell", charts.SELL)):
            part = mine[mine["side"] == side]
            fig.add_scatter(x=part.index, y=part["price"], mode="markers", name=side, marker={"color": color})
        fig.update_layout(title=f"{sym}: our fills", template="plotly_white", height=320)
        display(fig)

# %% [markdown]
# ## Rejected orders and failed requests
# The failed requests are the request log's, the same ones the health check above counts.

# %%
failures

# %% [markdown]
# ## Guard trips
# Orders the guard refused before sending (caps, stage, allowlist) and kill-switch stops.

# %%
trips

# %% [markdown]
# ## Clock

# %%
clock = activity.clock()
if clock.empty:
    print("no clock check in the period")
else:
    for venue_name, rows in clock.groupby("venue"):
        worst, rtt = rows["offset_ms"].abs().max(), rows["rtt_ms"].median()
        print(f"{venue_name}: {counted(len(rows), 'check')}, largest offset {worst} ms, median round trip {rtt:.1f} ms")
    if len(clock) > 10:  # a line needs points; a few checks read better as the line above
        fig = go.Figure()
        fig.add_scatter(x=clock.index, y=clock["offset_ms"], mode="lines+markers", name="offset (ms)")
        fig.add_scatter(x=clock.index, y=clock["rtt_ms"], mode="lines+markers", name="round trip (ms)")
        fig.update_layout(title="Clock checks", template="plotly_white", height=300)
        display(fig)

# %% [markdown]
# ## Rate limits and requests
# From the request log: requests per endpoint and status, the weight they used, and their latency.

# %%
requests = activity.requests()
if requests.empty:
    print("no requests logged in the period")
else:
    shown = requests.assign(status=[("-" if pd.isna(x) else str(int(x))) for x in requests["status"]])  # "-": no answer
    per_path = shown.groupby(["path", "status"]).agg(requests=("method", "size"), weight=("weight", "sum"),
                                                     failed=("error", "count"))  # fmt: skip
    display(per_path)
    lat = requests["latency_ms"].astype(float)
    print(f"{len(requests)} requests, {int(requests['status'].isin([429, 418]).sum())} rate limited, "
          f"{int(requests['error'].notna().sum())} failed; "
          f"latency median {lat.median():.1f} ms, 95th percentile {lat.quantile(0.95):.1f} ms")

# %% [markdown]
# ## Key checks

# %%
activity.preflight()

# %%
if session is not None:
    session.close()
