"""Run many parameter combinations on Dask (``dask.distributed``): one DataFrame back, failures reported.

Every task gets a :class:`~kit.research.data.Data` (store folder, series, range, market), never the
candles: a worker reads the candles from the store's Parquet partitions itself, once per process
(:meth:`Data.candles` caches them). Without a ``scheduler`` a :class:`~distributed.LocalCluster`
starts with one single-threaded worker process per core (``workers`` to choose) and is closed at
the end; with a ``scheduler`` address (``tcp://host:8786``) the sweep runs on that cluster, whose
workers must have the kit installed and see the same store folder. ``scheduler="inline"`` runs
the combinations one by one in this process (debugging, tiny grids).

A combination that raises becomes a row with its parameters and the traceback in ``error``; the
sweep goes on. Rows come back in the order of the combinations, whatever the order tasks finish.

>>> from kit.research.sweep import sweep                                            # doctest: +SKIP
>>> table = sweep(SmaCross, data, [{"fast": 5, "slow": 20}, {"fast": 10, "slow": 40}],
...               workers=2)                                                        # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
import traceback
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pandas as pd

from kit.errors import ConfigError
from kit.research.core import resolve, run
from kit.research.data import Data
from kit.strategy import Strategy

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["INLINE", "cluster", "sweep"]

#: ``scheduler=INLINE``: no Dask, the combinations run one by one in this process.
INLINE = "inline"
#: Statistics that are not numbers per combination (dropped from the sweep's table).
_NOT_COMPARED = ("Start", "End", "Duration")


def _row(strategy: type[Strategy] | str, data: Data, params: Mapping[str, Any], cash: str) -> dict[str, Any]:
    """One combination: its statistics as a flat row, or its traceback in ``error``."""
    try:
        r = run(strategy, data.candles(), data.need_market(), params, cash=cash)
        stats = {str(k): v for k, v in r.stats.items() if k not in _NOT_COMPARED}
        return {**stats, "error": None}
    except Exception:  # a failing combination is reported, the sweep goes on
        return {"error": traceback.format_exc(limit=8)}


def _chunk(strategy: type[Strategy] | str, data: Data, combos: Sequence[tuple[int, Mapping[str, Any]]],
           cash: str) -> list[tuple[int, dict[str, Any]]]:  # fmt: skip
    """A task: several combinations on one read of the candles."""
    return [(i, _row(strategy, data, params, cash)) for i, params in combos]


@contextmanager
def cluster(scheduler: str | None = None, workers: int | None = None) -> Iterator[Client]:
    """A Dask client: on ``scheduler`` (an address), or on a LocalCluster started here and closed after.

    ``workers`` (default: every core) single-threaded worker processes; the replay holds the GIL,
    so processes, not threads, are what scale.
    """
    from distributed import Client, LocalCluster

    if scheduler:
        client = Client(scheduler, set_as_default=False)
        try:
            yield client
        finally:
            client.close()
        return
    n = workers or os.cpu_count() or 1
    if n < 1:
        raise ConfigError(f"workers={workers} is not a number of processes", hint="Give workers=1 or more.")
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
                      silence_logs=40) as lc, Client(lc, set_as_default=False) as client:  # fmt: skip
        yield client


def _spec(strategy: type[Strategy] | Strategy | str) -> type[Strategy] | str:
    """What a task receives: the ``module:Name`` string when given one (workers import it), else the class."""
    if isinstance(strategy, str):
        resolve(strategy)  # a bad name fails here, not in every task
        return strategy
    return resolve(strategy)


def sweep(strategy: type[Strategy] | Strategy | str, data: Data, combos: Sequence[Mapping[str, Any]], *,
          cash: Decimal | str | int = "10000", scheduler: str | None = None, workers: int | None = None,
          client: Client | None = None, progress: bool = True, chunk: int | None = None) -> pd.DataFrame:  # fmt: skip
    """Backtest every combination of ``combos`` on ``data``; one row per combination, in order.

    Parameters
    ----------
    strategy
        A Strategy class (or ``"module:Name"``, which the workers import).
    data
        Where the candles are (:func:`kit.research.load`).
    combos
        Parameter dicts; each is validated against the strategy before anything runs.
    cash
        Starting quote balance.
    scheduler
        A Dask scheduler address, :data:`INLINE`, or ``None`` for a LocalCluster started here.
    workers
        Worker processes of that LocalCluster (default: every core).
    client
        An existing Dask client to use instead (a walk-forward reuses one).
    progress
        Show a progress bar (tqdm) as combinations finish.
    chunk
        Combinations per task (default: about ten tasks per worker).

    Returns
    -------
    pandas.DataFrame
        The parameter columns, every statistic, and ``error`` (None, or the traceback).
    """
    spec = _spec(strategy)
    cls = resolve(spec)
    items = [dict(c) for c in combos]
    for params in items:
        cls(**params)  # unknown or mistyped parameters fail before any task is sent
    cash_s = str(cash)
    indexed = list(enumerate(items))
    rows: dict[int, dict[str, Any]] = {}
    bar = _bar(len(items), progress)
    try:
        if scheduler == INLINE:
            for i, params in indexed:
                rows[i] = _row(spec, data, params, cash_s)
                bar.update(1)
        elif client is not None:
            _on(client, spec, data, indexed, cash_s, chunk, rows, bar)
        else:
            with cluster(scheduler, workers) as c:
                _on(c, spec, data, indexed, cash_s, chunk, rows, bar)
    finally:
        bar.close()
    frame = pd.DataFrame([{**items[i], **rows[i]} for i in range(len(items))])
    if "error" not in frame.columns:
        frame["error"] = None
    return frame


def _on(client: Client, spec: type[Strategy] | str, data: Data, indexed: list[tuple[int, dict[str, Any]]],
        cash: str, chunk: int | None, rows: dict[int, dict[str, Any]], bar: Any) -> None:  # fmt: skip
    from distributed import as_completed

    n_workers = max(1, len(client.nthreads()))
    size = chunk or max(1, math.ceil(len(indexed) / (10 * n_workers)))
    parts = [indexed[k : k + size] for k in range(0, len(indexed), size)]
    futures = [client.submit(_chunk, spec, data, part, cash, pure=False) for part in parts]
    for fut in as_completed(futures, loop=client.loop):
        done = fut.result()
        for i, row in done:
            rows[i] = row
        bar.update(len(done))


def _bar(total: int, on: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not on, desc="combinations", unit="combo")
