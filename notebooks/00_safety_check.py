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
# # 00 · Safety check
#
# Before anything else: what `kit doctor` checks, as a checklist. A green tick is fine; a red
# cross must be fixed before this stage can trade, and says how; an orange mark is a warning or
# something that could not be checked.
#
# | check | why |
# |---|---|
# | credentials | keys come from the environment, `.env` or the OS keyring, never from code or notebooks |
# | kill switch | one file (`$KIT_HOME/KILL`) or `KIT_KILL=1` stops every order; it must not be left engaged |
# | stage | each stage has a gate: a sandbox for `testnet`, journaled testnet fills for `live_small` |
# | permissions | a trade-only key: a key that can withdraw or transfer is refused |
# | IP allowlist | the key should only work from this machine's address |
# | key age | rotate keys every 6 to 12 months |
# | clock | requests carry timestamps; a drifting clock gets them rejected |
# | rate budget | the weight used of the exchange's limit, shared by every process on this machine |
#
# The same list in a terminal: `kit doctor --exchange localnet --stage testnet`.

# %% tags=["parameters"]
exchange = "localnet"  # "localnet" (offline) or a ccxt exchange id such as "binance"
stage = "testnet"  # the stage you are about to use
store_root = "data"

# %%
from kit.views.report import notebook_parameters
from kit.safety.secrets import refuse_secret_params

refuse_secret_params(notebook_parameters(globals()), "notebook parameters")  # keys never come from parameters

# %%
from kit.cli.demo import prepare
from kit.ops.doctor import render, run_checks
from kit.views.report import checklist

prep = prepare(exchange, store_root=store_root)
print(prep.summary)

# %% [markdown]
# ## The checklist for this stage

# %%
checks = run_checks(exchange, stage)
checklist(checks, title=f"{exchange}, stage {stage}")

# %% [markdown]
# ## What red looks like
# The same checks for `live_small` on localnet: localnet is a sandbox, so the stage itself is
# refused, and nothing else is tried (no request is sent).

# %%
checklist(run_checks("localnet", "live_small"), title="localnet, stage live_small")

# %% [markdown]
# ## As text
# What `kit doctor` prints:

# %%
print(render(checks))
failed = [c.name for c in checks if c.ok is False]
print("\nready for", stage if not failed else f"nothing yet: fix {', '.join(failed)}")
