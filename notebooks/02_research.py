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
# # 02 · Research on stored candles
#
# Research needs no key and sends no order: candles come from the local store (fetched once,
# public data), and a strategy is replayed **in-process** through the same fill engine that
# fills paper orders on localnet (`kit.engine.replay`): conservative fills, partial fills,
# exact balances and fees. Here: returns and volatility, then an SMA crossover with its fills
# on the chart, its equity curve, and what it paid in fees and slippage.

# %% tags=["parameters"]
exchange = "localnet"  # where the candles come from: "localnet" or a ccxt exchange id
symbol = "BTC/USDT"
timeframe = "5m"
since = "-2d"  # ISO time, today, yesterday, or an offset from `until` such as -2d
until = ""  # ISO time; empty: the exchange's now
fast = 12  # SMA lengths, in candles
slow = 48
size = "0.05"  # base amount per entry
cash = "10000"  # starting quote balance
store_root = "data"

# %%
from kit.views.report import notebook_parameters
from kit.safety.secrets import refuse_secret_params

refuse_secret_params(notebook_parameters(globals()), "notebook parameters")  # keys never come from parameters

# %%
from decimal import Decimal

import numpy as np
import pandas as pd

from kit.views import charts
from kit.cli.demo import prepare
from kit.engine import Market
from kit.engine import replay
from kit.views.report import period
from kit.session import Session
from kit.store import Store
from kit.store.paths import align_down, timeframe_ms

prep = prepare(exchange, store_root=store_root)
print(prep.note)

# %% [markdown]
# ## Candles
# A `read_only` session is the candle source; candles already in the store are not fetched again.

# %%
session = Session(exchange, stage="read_only")
now = prep.now()
start, end = period(since, until, now=now)
tf = timeframe_ms(timeframe)
start = pd.Timestamp(align_down(int(start.value // 10**6), tf), unit="ms", tz="UTC")
end = pd.Timestamp(align_down(int(end.value // 10**6), tf), unit="ms", tz="UTC")
store = Store(prep.store_root, source=session.candle_source())
bars = store.candles(symbol, timeframe, start, end, fill="drop", progress=False)
mkt = session.markets().loc[symbol]
session.close()
print(f"{len(bars)} candles of {timeframe}, {bars.index[0]} to {bars.index[-1]}")

# %% [markdown]
# ## Returns and volatility
# Log returns per candle; volatility annualised with the number of candles in a year (crypto
# trades every day). The rolling line shows volatility clustering.

# %%
rets = np.log(bars["close"]).diff().dropna()
per_year = 365 * 24 * 3600 * 1000 / tf
summary = pd.Series(
    {
        "candles": len(bars),
        "return over the period %": 100 * (bars["close"].iloc[-1] / bars["close"].iloc[0] - 1),
        "mean return per candle (bp)": 1e4 * rets.mean(),
        "volatility per candle (bp)": 1e4 * rets.std(),
        "annualised volatility %": 100 * rets.std() * np.sqrt(per_year),
        "largest candle move %": 100 * rets.abs().max(),
        "max drawdown %": 100 * (bars["close"] / bars["close"].cummax() - 1).min(),
    }
).round(3)
summary.to_frame(symbol)

# %%
import plotly.graph_objects as go

rolling = (rets.rolling(slow).std() * np.sqrt(per_year) * 100).dropna()
fig = go.Figure(go.Scatter(x=rolling.index, y=rolling.round(4), mode="lines", name="volatility"))
fig.update_layout(title=f"Rolling annualised volatility, {slow} candles (%)", template="plotly_white", height=300,
                  margin={"l": 50, "r": 20, "t": 50, "b": 30})
fig

# %% [markdown]
# ## An SMA crossover, replayed through the engine
# Enter (buy `size` at market) when the fast average crosses above the slow one; exit when it
# crosses back. A signal at a candle's close executes in the next candle, at its open plus the
# engine's slippage (half spread plus market impact), never at the close that produced it.

# %%
sma_fast = bars["close"].rolling(fast).mean()
sma_slow = bars["close"].rolling(slow).mean()
above = (sma_fast > sma_slow).to_numpy()
entries = above & ~np.roll(above, 1)
exits = ~above & np.roll(above, 1)
entries[:slow], exits[:slow] = False, False

market = Market(
    symbol,
    *symbol.split("/"),
    tick_size=Decimal(str(mkt["tick"])),
    step_size=Decimal(str(mkt["step"])),
    min_qty=Decimal(str(mkt["min_amount"])),
    min_notional=Decimal(str(mkt["min_cost"] or 0)),
)
result = replay.run(bars, market, cash=cash, entries=entries, exits=exits, size=size)
shown = ("orders", "fills", "fees_quote", "fees_base", "final_equity", "return_pct")
pd.Series({k: result.stats[k] for k in shown}).to_frame(f"SMA {fast}/{slow}")

# %%
fills = result.fills.copy()
fills["amount"] = fills["quantity"]
fig = charts.candles(bars, fills=fills, title=f"{symbol} {timeframe}: SMA {fast}/{slow} fills")
fig.add_scatter(x=bars.index, y=sma_fast.round(2), mode="lines", name=f"SMA {fast}", line={"width": 1})
fig.add_scatter(x=bars.index, y=sma_slow.round(2), mode="lines", name=f"SMA {slow}", line={"width": 1})
fig

# %%
charts.equity(result.equity, title="Equity (quote currency)")

# %% [markdown]
# ## Fees and slippage paid
# Fees are what the engine charged (buys pay in the base asset, sells in the quote; both shown
# in quote). Slippage is what each market fill paid against the open of the candle it filled
# in: `(fill - open) x amount` for a buy, `(open - fill) x amount` for a sell.

# %%
opens = bars["open"].reindex(fills.index, method="ffill")
sign = np.where(fills["side"] == "buy", 1.0, -1.0)
fills["candle open"] = opens.to_numpy()
fills["slippage"] = (sign * (fills["price"] - fills["candle open"]) * fills["quantity"]).round(6)
fills["fee in quote"] = np.where(fills["fee_asset"] == market.quote, fills["fee"], fills["fee"] * fills["price"])
fills["fee in quote"] = fills["fee in quote"].round(6)
costs = pd.Series(
    {
        "fills": len(fills),
        "traded (quote)": round(float(fills["quote"].sum()), 2),
        "fees (quote)": round(float(fills["fee in quote"].sum()), 4),
        "slippage (quote)": round(float(fills["slippage"].sum()), 4),
        "fees + slippage, bp of traded": round(
            1e4 * float((fills["fee in quote"].sum() + fills["slippage"].sum()) / fills["quote"].sum()), 2
        ),
    }
)
display_cols = ["side", "price", "candle open", "quantity", "slippage", "fee in quote", "liquidity"]
costs.to_frame(f"SMA {fast}/{slow}")

# %%
fills[display_cols].head(10)
