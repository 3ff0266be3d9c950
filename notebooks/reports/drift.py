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
# # Drift report: paper fills against real ones
#
# Run it with `kit report drift --since yesterday --until today --out reports/` (schedule it with
# `kit report schedule --report drift`). Every testnet and live order got a paper twin: the same
# intent at the same time, simulated by the paper fill model (`kit.engine.paperfill`) on the
# market data recorded from the same venue (`kit.paper.twins`). The tables compare them per order
# type; the last cell fails the report (and its nbval check) when a bucket passes the gates of
# the design reference (docs/paper.md). Positive price deltas and fill-ratio deltas mean paper was
# optimistic. With fewer than 50 pairs a bucket shows its numbers but no verdict.

# %% tags=["parameters"]
since = ""  # ISO time, today, yesterday, or an offset from `until` such as -1d; empty: until - 1 day
until = ""  # ISO time, today, now; empty: now
venue = ""  # the journal venue whose orders were twinned (localnet, binance, binance-testnet); empty: all
pairs_csv = ""  # a saved pairs table instead of the journal and tapes (tests, a second look)
replay_csv = ""  # a saved replay-vs-forward table instead of replaying the period's runs (tests, a second look)

# %%
from kit.views.report import notebook_parameters
from kit.safety.secrets import refuse_secret_params

refuse_secret_params(notebook_parameters(globals()), "notebook parameters")  # keys never come from parameters

# %%
import os

import pandas as pd
import plotly.graph_objects as go
from IPython.display import Markdown, display

from kit.journal.journal import Journal
from kit.paper.drift import GATES, assert_gates, drift_table
from kit.paper.twins import pair
from kit.views.report import period

pairs_csv = pairs_csv or os.environ.get("KIT_DRIFT_PAIRS", "")
start, end = period(since, until)
if pairs_csv:
    pairs = pd.read_csv(pairs_csv)
    display(Markdown(f"**Pairs** from a saved table ({len(pairs)} orders)"))
else:
    journal = Journal(Journal.default_path())
    venues = [venue] if venue else sorted(set(journal.frame("intent")["venue"]) - {""})
    frames = []
    for v in venues:
        if v.startswith("paper-"):
            continue  # paper orders are the simulation itself
        frames.append(pair(journal, v, None, since_ms=int(start.value // 1_000_000), until_ms=int(end.value // 1_000_000)))
    pairs = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    display(Markdown(f"**Period** {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC · venue: {venue or 'all'}"))
print(f"{len(pairs)} orders with a paper twin")

# %% [markdown]
# ## Per order type
# `dp_bps`: real minus paper average price, signed by side, in basis points (positive: paper
# better). `ttf`: time from the decision to the first fill, ms. `fr`: fill ratio. `miss`: real
# filled and paper not (conservative); `phantom`: paper filled and real not (optimistic).

# %%
table = drift_table(pairs) if len(pairs) else drift_table(pd.DataFrame(columns=["bucket"]))
shown = table.copy()
for col in shown.columns:
    if shown[col].dtype == float:
        shown[col] = shown[col].round(3)
shown

# %% [markdown]
# ## Price delta per order (bps)

# %%
fig = go.Figure()
if len(pairs):
    both = pairs[(pairs["real_filled"] > 0) & (pairs["paper_filled"] > 0)].copy()
    sign = both["side"].map({"buy": 1.0, "sell": -1.0})
    both["dp_bps"] = (sign * (both["real_avg"] - both["paper_avg"]) / both["real_avg"] * 1e4).round(3)
    for bucket, rows in both.groupby("bucket"):
        fig.add_trace(go.Box(y=rows["dp_bps"], name=str(bucket), boxpoints="all"))
fig.update_layout(yaxis_title="real - paper (bps, + = paper optimistic)", height=320, margin=dict(t=20, b=40))
fig

# %% [markdown]
# ## Replay vs forward
# Every strategy run that traded forward in the period, replayed over the candles it saw (its
# history load as warm-up), decision by decision (`kit.run.compare.replay_vs_forward`). Each row
# says why forward and replay differ: `same` (prices still differ: forward fills on the book when
# sent, replay at the next candle's open with the engine's slippage), `stale (catch-up, not sent)`
# (decided while catching up after downtime, never sent by design), `position differed` (after an
# earlier difference), `different decision` (the same candles and position gave another decision:
# the strategy is not a function of its candles; investigate).

# %%
from kit.errors import KitError
from kit.run.compare import REPLAY_GATES, assert_replay_gates, replay_summary, replay_vs_forward, runs_between

replay_csv = replay_csv or os.environ.get("KIT_DRIFT_REPLAY", "")
if replay_csv:
    replayed = pd.read_csv(replay_csv, index_col="time", parse_dates=["time"])
    display(Markdown(f"**Replay vs forward** from a saved table ({len(replayed)} decisions)"))
else:
    import kit
    from kit.strategy import load_strategy

    journal = Journal(Journal.default_path())
    tables = []
    for run in runs_between(journal, int(start.value // 1_000_000), int(end.value // 1_000_000)):
        if venue and run["venue"] != venue:
            continue
        try:
            cls = load_strategy(run["strategy"] or "")
            with kit.Session(run["venue"], stage="read_only", account=run["account"]) as s:
                for sym in run["symbols"]:
                    t = replay_vs_forward(s, cls(**run["params"]), run["run"], sym)
                    tables.append(t.assign(run=run["run"], symbol=sym))
        except KitError as exc:
            print(f"{run['run']}: not replayed ({type(exc).__name__}: {str(exc)[:160]})")
    replayed = pd.concat(tables) if tables else pd.DataFrame(columns=["run", "symbol", "explanation", "price_delta_bps"])
summary = replay_summary(replayed) if len(replayed) else pd.DataFrame(columns=["verdict", "why"])
summary

# %%
cols = ["run", "symbol", "nth", "forward_action", "forward_size", "forward_status", "forward_price", "replay_action",
        "replay_size", "replay_price", "price_delta_bps", "explanation"]
trades = replayed[[c for c in cols if c in replayed.columns]].copy()
trades["price_delta_bps"] = pd.to_numeric(trades["price_delta_bps"], errors="coerce").round(2)
with pd.option_context("display.max_rows", 500, "display.width", 200):
    print(trades.to_string())

# %% [markdown]
# ## Gates
# The spec's thresholds; a bucket with at least `min_pairs` pairs fails when it passes them. The
# replay-vs-forward gates: no `different decision`, at least `same_share_min` of a run's own
# decisions reproduced, median |price delta| at most `median_abs_delta_bps_max`.

# %%
pd.concat([pd.Series(GATES), pd.Series(REPLAY_GATES)]).to_frame("threshold")

# %%
verdicts = table[["pairs", "verdict", "why"]]
print(verdicts.to_string())
print(summary[[c for c in ("run", "symbol", "verdict", "why") if c in summary.columns]].to_string())
try:
    assert_gates(table)  # raises DriftGateFailed when drift passes the gates: the report (and nbval) fail
finally:
    assert_replay_gates(summary)
