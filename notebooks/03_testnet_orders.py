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
# # 03 · Orders on a sandbox
#
# The `testnet` stage sends real orders, but only to a sandbox: an exchange's testnet (ccxt's
# sandbox mode) or localnet. Every order goes through the same guard, filters and journal as a
# live one: it is journaled *before* it is sent, and positions come from **fills**, never from
# placement. Partial fills are the normal case, so this notebook makes one happen.
#
# In JupyterLab, use the order ticket below: it validates as you type and asks for a confirm
# click. A headless run (papermill, the demo, the tests) cannot click, so the cells below fill
# in the same ticket and press its buttons in code: the same widget, the same path to the
# exchange. After "Run All Cells" the status bar, the ticket and the blotter stay on screen and
# working: place, amend and cancel from them.

# %% tags=["parameters"]
exchange = "localnet"  # "localnet" (offline) or a ccxt id with a testnet, e.g. "binance"
symbol = "BTC/USDT"
amount = "0.01"  # of the limit order that will fill in parts
below = "50"  # its limit price: this much under the last price (it rests in the book)
lower_by = "10"  # then the rest is amended: its limit moves down by this much (further under the market)
prints = ["0.004", "0.003"]  # trades printed through the limit on localnet (each fills part of the order)
wait_s = 30  # on a real testnet: how long to wait for fills before cancelling
store_root = "data"

# %%
from kit.views.report import notebook_parameters
from kit.safety.secrets import refuse_secret_params

refuse_secret_params(notebook_parameters(globals()), "notebook parameters")  # keys never come from parameters

# %%
import time
from decimal import Decimal

import pandas as pd
from IPython.display import display

from kit.views import charts
from kit.views.report import number
from kit.cli.demo import prepare
from kit.session import Session
from kit.views.ui import Blotter, OrderTicket, StatusBar, link

pd.set_option("display.float_format", number)  # numbers as people read them: 59950, not 59950.0
prep = prepare(exchange, store_root=store_root)
print(prep.summary)
if prep.private:
    prep.market.follow()  # its clock keeps up with yours: orders placed by hand later carry today's time

# %%
session = Session(exchange, stage="testnet")
status = StatusBar(session, live=False)
status

# %% [markdown]
# ## Start from the truth
# Before trading, the journal is compared with the exchange (`kit reconcile` does the same from a
# shell): open orders, orders whose outcome is unknown, fills since the last one journaled, and
# balances. A fill that happened while nothing was running is adopted, exactly once; an order
# placed by hand is reported, never touched; every correction is journaled with its reason. (The
# demo's localnet starts with a market buy and a resting sell made "on the website", so there is
# something to find.)

# %%
from kit.ops.reconcile import reconcile

report = reconcile(session)  # also logged: a warning when it found differences
report.frame()[["check", "symbol", "journal", "exchange", "action", "reason"]]

# %% [markdown]
# ## Place a limit order with the ticket
# A buy `below` under the last price: it rests in the book, nothing fills yet.

# %%
last = Decimal(str(session.ticker(symbol)["last"]))
limit = last - Decimal(below)
if prep.market is not None:
    prep.market.sync()  # localnet's clock is stepped: bring it to now, so the order carries today's time
ticket = OrderTicket(session, symbol=symbol, symbols=[symbol])
ticket.side.value = "buy"
ticket.type.value = "limit"
ticket.qty.value = amount
ticket.price.value = str(limit)
ticket.place()  # the "Place" click: validates and shows the confirm step
print("preview:", ticket.last_preview.summary, "| notional", number(ticket.last_preview.notional))
order = ticket.confirm()  # the "Confirm" click: Session.place(...)
ticket

# %%
print(f"order {order['id']}: {order['status']}, filled {number(order['filled'])} of {number(order['amount'])} "
      f"at limit {number(order['price'])}")
blotter = Blotter(session, symbols=[symbol], live=False)  # live=True keeps it refreshing by itself
blotter.refresh()
link(ticket, blotter, status)  # an order placed with the ticket shows here; an amend or cancel here shows there
blotter

# %% [markdown]
# ## A partial fill, as it happens
# On localnet the notebook drives the market: it prints trades through our limit price, each
# smaller than the order, so the order fills in parts. On a real testnet the market moves by
# itself: the cell polls the order until it fills or `wait_s` runs out.


# %%
def show(o):
    """One line per refresh: what the exchange says about the order."""
    filled, remaining, average = number(o["filled"]), number(o["remaining"]), number(o["average"]) or "-"
    print(f"status {o['status']:<8} filled {filled:<6} remaining {remaining:<6} average {average}")


if prep.market is not None:
    for qty in prints:
        prep.market.sync()  # the print happens now (after the order), not at the stepped clock's last time
        prep.market.trade(symbol, limit - Decimal("0.01"), qty, side="sell")  # a seller hits our bid
        blotter.refresh()  # asks the exchange for new trades, journals each fill once
        show(session.order(symbol, order_id=order["id"]))
    o = session.order(symbol, order_id=order["id"])
    assert o["status"] == "open" and 0 < o["filled"] < o["amount"], o  # the narrative: filled in part, still open
else:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        o = session.order(symbol, order_id=order["id"])
        show(o)
        if o["status"] != "open":
            break
        time.sleep(2)
    blotter.refresh()

# %% [markdown]
# The blotter above now lists the fills; the journal has one row per fill, and the position
# comes from those rows alone:

# %%
journal_fills = session.journal.frame("fill")
journal_fills = journal_fills[journal_fills["symbol"] == symbol]
display(journal_fills[journal_fills["order_id"] == str(order["id"])][["side", "price", "amount", "fee_cost",
                                                                        "fee_currency", "order_id"]])
print("position from fills:", session.positions().get(symbol))

# %% [markdown]
# ## Amend the rest
# The prints moved the market down to our limit. `session.amend` moves a working order (here:
# its limit down by `lower_by`, to wait for a better price) in one request, the exchange's
# cancel-replace. The new limit is checked against the market first: it must stay under the best
# bid, so that the replacement rests instead of filling at once. It goes through the blotter (what
# its Amend button calls), so the blotter and the ticket above show the replacement. `amount` would be the order's new *total*: what filled stays filled,
# the replacement works the rest. The replacement has its own client id; the journal links the
# two, and the old order ends canceled.

# %%
market_now = session.ticker(symbol)
new_limit = limit - Decimal(lower_by)
assert new_limit < Decimal(str(market_now["bid"])), (new_limit, market_now["bid"])  # still under the market
print(f"market now: last {number(market_now['last'])}, bid {number(market_now['bid'])}, "
      f"ask {number(market_now['ask'])}; "
      f"new limit {number(new_limit)} is under the bid")
quote_asset = symbol.split("/")[1]
print(f"free {quote_asset} before the amend: {session.free_balances()[quote_asset]}")  # also the funds check's read
before = session.order(symbol, order_id=order["id"])
order = blotter.amend(symbol, str(order["id"]), price=str(new_limit))  # its Amend button: session.amend, shown
assert order is not None and order["status"] == "open", blotter.message.value  # the replacement rests
print(f"order {before['id']} ({before['status']} then, filled {number(before['filled'])}) replaced by {order['id']}: "
      f"{number(order['amount'])} at {number(order['price'])}, {order['status']}")
print("old order now:", session.order(symbol, order_id=before["id"])["status"])
replaced = session.journal.frame("intent")
display(replaced[replaced["client_id"] == order["clientOrderId"]][["client_id", "side", "amount", "price", "replaces"]])

# %% [markdown]
# ## Cancel the rest
# Cancelling is never blocked by caps or the kill switch: it only reduces risk.

# %%
assert session.order(symbol, order_id=order["id"])["status"] == "open"  # there is a rest to cancel
result = blotter.cancel(symbol, str(order["id"]))
o = session.order(symbol, order_id=order["id"])
assert o["status"] == "canceled", o
show(o)
session.open_orders(symbol)[["id", "side", "type", "price", "amount", "filled", "status"]]

# %%
status.refresh()
blotter

# %%
o = session.order(symbol, order_id=order["id"])
orders = pd.DataFrame([{k: o[k] for k in ("id", "side", "type", "price", "amount", "filled", "remaining", "status")}])
orders.set_index("id")

# %% [markdown]
# ## Where the fills landed
# The last 90 one-minute candles with our fills marked. On localnet the market's history ends
# where the localnet started; the prints above are the only trades since.

# %%
bars = session.candles(symbol, "1m", limit=90)
charts.candles(bars, fills=journal_fills[journal_fills.index >= bars.index[0]], title=f"{symbol} 1m with our fills")

# %% [markdown]
# ## Your turn
# The status bar, the ticket and the blotter above are still connected to the exchange: place an
# order with the ticket (Place, then Confirm), move it with the blotter's Amend, cancel it with its
# Cancel button. Up to here the notebook's localnet stood still, so every run shows the same
# numbers; from the cell below its market moves by itself in real time, and a resting order near
# the price fills while you watch (`prep.market.trade(symbol, price, qty, side="sell")` still
# prints a trade through it at once).
# `touch $KIT_HOME/KILL` (the kill file printed at the top) stops every new order and cancels the
# kit's open ones. When you are done: `session.close()`.

# %%
print(prep.go_live())
print(f"kill switch: {session.kill_switch.path} ({session.kill_switch.engaged() or 'not engaged'})")
