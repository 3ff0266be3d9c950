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
# fills paper orders on localnet: conservative fills, partial fills, exact balances and fees.
# `kit.research` does it in a few lines, as backtesting.py does: `load` the period (the market's
# tick, step and fees come from the exchange's own filters), `backtest` the strategy that also
# runs forward (`kit.strategy`), and read `stats`, `trades` and `plot()`.

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
import numpy as np
import pandas as pd

from kit.cli.demo import prepare
from kit.research import backtest, load
from kit.store.paths import timeframe_ms
from kit.strategy.examples import SmaCross

prep = prepare(exchange, store_root=store_root)
print(prep.note)

# %% [markdown]
# ## Candles
# `load` reads the period through a `read_only` session into the candle store (candles already
# stored are not fetched again) and builds the market's rules from the exchange's filters.

# %%
data = load(symbol, timeframe, since, until, exchange=exchange, store=prep.store_root, now=prep.now())
bars = data.candles()
print(f"{len(bars)} candles of {timeframe}, {bars.index[0]} to {bars.index[-1]}")
print(f"tick {data.market.tick_size}, step {data.market.step_size}, taker fee {data.market.taker_fee}")

# %% [markdown]
# ## Returns and volatility
# Log returns per candle; volatility annualised with the number of candles in a year (crypto
# trades every day). The rolling line shows volatility clustering.

# %%
tf_ms = timeframe_ms(timeframe)
rets = np.log(bars["close"]).diff().dropna()
per_year = 365 * 24 * 3600 * 1000 / tf_ms
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
# ## An SMA crossover, backtested
# `SmaCross` is long while the fast average is above the slow one. A decision at a candle's close
# executes in the next candle, at its open plus the engine's slippage (half spread plus market
# impact), never at the close that produced it. The statistics are backtesting.py's, with the
# same definitions (docs/research.md), plus the fees and slippage paid.

# %%
result = backtest(SmaCross, data=data, fast=fast, slow=slow, size=size, cash=cash)
result.stats.to_frame(f"SMA {fast}/{slow}")

# %% [markdown]
# Round trips: entry and exit (candle open times and average prices), size, P&L and return net of
# fees, duration, fees and slippage (in quote).

# %%
result.trades.round({"exit_price": 6, "pnl": 6, "return": 6, "fees": 6, "slippage": 6})

# %% [markdown]
# One figure, one time axis: candles with each round trip (green made money, red lost), equity
# against buy and hold, drawdown, P&L per trade and volume. Zooming one panel zooms them all.

# %%
result.plot()

# %% [markdown]
# ## Fees and slippage paid
# Fees are what the engine charged (buys pay in the base asset, sells in the quote; both in
# quote here). Slippage is what each market fill paid against the open of the candle it filled
# in: `(fill - open) x amount` for a buy, `(open - fill) x amount` for a sell.

# %%
traded = float(result.fills["quote"].sum())
costs = pd.Series(
    {
        "fills": len(result.fills),
        "traded (quote)": round(traded, 2),
        "fees (quote)": round(result.stats["Fees [$]"], 4),
        "slippage (quote)": round(result.stats["Slippage [$]"], 4),
        "fees + slippage, bp of traded": round(1e4 * (result.stats["Fees [$]"] + result.stats["Slippage [$]"]) / traded, 2),
    }
)
costs.to_frame(f"SMA {fast}/{slow}")
