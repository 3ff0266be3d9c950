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
# # 01 · Read only: look before you touch
#
# The first stage reads an account and the market without being able to change anything.
# A `read_only` Session loads only a *reading* key (or none) and refuses every order method
# before a request is sent. Here: balances, open orders, trade history and the fees it paid,
# then candles from the local store with their coverage.
#
# Against `localnet` (the default) nothing leaves this machine. Pass `exchange="binance"` to
# read a real account: the key comes from `KIT_BINANCE_READ_ONLY_API_KEY` / `_SECRET` (or `.env`,
# or the OS keyring), never from this notebook.

# %% tags=["parameters"]
exchange = "localnet"  # "localnet" (offline) or a ccxt exchange id such as "binance"
stage = "read_only"
symbols = ["BTC/USDT", "ETH/USDT"]  # trade history is asked per symbol
symbol = "BTC/USDT"  # the one charted
timeframe = "15m"
since = "-2d"  # ISO time, today, yesterday, or an offset from `until` such as -2d
until = ""  # ISO time; empty: the exchange's now
store_root = "data"  # the candle store's folder

# %%
from kit.views.report import notebook_parameters
from kit.safety.secrets import refuse_secret_params

refuse_secret_params(notebook_parameters(globals()), "notebook parameters")  # keys never come from parameters

# %%
import pandas as pd
from IPython.display import HTML, display

from kit.views import charts
from kit.cli.demo import prepare
from kit.errors import KitError
from kit.views.report import period
from kit.session import Session
from kit.store import Store
from kit.store.paths import align_down, timeframe_ms
from kit.views.ui import status_html

prep = prepare(exchange, store_root=store_root)
print(prep.summary)

# %% [markdown]
# ## The session
# The status line says what the session may do: its stage, the clock offset it measured, the
# request weight it has used of the exchange's budget, and the kill switch.

# %%
session = Session(exchange, stage=stage)
display(HTML(status_html(session.status())))
pre = session.preflight
print(f"key check: {pre.verdict}" + "".join(f"\n  - {w}" for w in pre.warnings) if pre else "key check: none")

# %% [markdown]
# Any order method raises **before** a request is sent:

# %%
try:
    session.buy(symbol, "0.001", price="1000")
except KitError as exc:
    print(f"{type(exc).__name__}: {exc}")

# %% [markdown]
# ## Balances and open orders

# %%
session.balances()

# %%
session.open_orders()[["symbol", "side", "type", "price", "amount", "filled", "status"]]

# %% [markdown]
# ## Trade history and fees paid
# Fills are read from the exchange per symbol and journaled once each (by trade id): the
# journal is where positions come from, never from order placement.

# %%
trades = pd.concat([session.trades(s) for s in symbols]).sort_index()
trades[["symbol", "side", "price", "amount", "cost", "fee_cost", "fee_currency", "takerOrMaker"]]

# %%
last = {s: float(session.ticker(s)["last"]) for s in symbols}
fees = trades.groupby("fee_currency")["fee_cost"].sum().to_frame("paid")
to_usdt = {"USDT": 1.0, **{s.split("/")[0]: p for s, p in last.items() if s.endswith("/USDT")}}
fees["in USDT"] = [round(paid * to_usdt.get(cur, float("nan")), 6) for cur, paid in fees["paid"].items()]
fees

# %% [markdown]
# ## Candles from the store
# The store keeps candles as Parquet and asks the exchange only for what it does not have yet,
# through this Session (so its rate budget and retries apply). Run the cell twice: the second
# time nothing is fetched.

# %%
now = prep.now()
start, end = period(since, until, now=now)
tf = timeframe_ms(timeframe)
start = pd.Timestamp(align_down(int(start.value // 10**6), tf), unit="ms", tz="UTC")
end = pd.Timestamp(align_down(int(end.value // 10**6), tf), unit="ms", tz="UTC")
store = Store(prep.store_root, source=session.candle_source())  # candles come through the Session
bars = store.candles(symbol, timeframe, start, end, progress=False)
print(f"{len(bars)} candles of {timeframe} from {bars.index[0]} to {bars.index[-1]}")
bars.tail()

# %%
charts.candles(bars, fills=trades[trades["symbol"] == symbol], title=f"{symbol} {timeframe} ({session.venue})")

# %% [markdown]
# ## Coverage
# What the store knows about every interval: `stored`, `empty` (the exchange confirmed there
# were no trades), `failed` (with a note) or `missing` (never asked).

# %%
cov = store.coverage(symbol, timeframe)
display(cov)
charts.coverage(cov, title=f"{symbol} {timeframe} coverage")

# %%
session.close()
