"""The result tables of a replay, and price rounding to the tick, shared by both replay paths.

:mod:`kit.engine.replay` (the engine path) and :mod:`kit.engine.kernel` (the signals fast path)
build their fills and orders tables here, so the two paths give frames of one shape; keeping
them out of ``replay`` also keeps the kernel from importing the module that calls it.

>>> import numpy as np
>>> f = fills_frame(np.array([0]), np.array([1]), np.array([True]), np.array([100.0]), np.array([1.0]),
...                 np.array([100.0]), np.array([0.001]), ["BTC"], np.array([False]))
>>> f[["side", "liquidity"]].values.tolist()
[['buy', 'taker']]
>>> to_tick(100.005, Decimal("0.01"), Side.BUY), to_tick(100.005, Decimal("0.01"), Side.SELL)
(Decimal('100.00'), Decimal('100.01'))
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from kit.engine.types import Side

__all__ = ["coded", "fills_frame", "orders_frame", "to_tick"]

Labels: TypeAlias = "list[str] | pd.Categorical[Any]"


def to_tick(value: Any, tick: Decimal, side: Side) -> Decimal:
    """Round a price to the tick, in the passive direction for the side (buys down, sells up)."""
    d = value if isinstance(value, Decimal) else Decimal(repr(float(value)))
    rounding = ROUND_FLOOR if side is Side.BUY else ROUND_CEILING
    return (d / tick).to_integral_value(rounding=rounding) * tick


def fills_frame(
    ts_ms: np.ndarray,
    order_id: np.ndarray,
    buy: np.ndarray,
    price: np.ndarray,
    qty: np.ndarray,
    quote: np.ndarray,
    fee: np.ndarray,
    fee_asset: Labels,
    maker: np.ndarray,
) -> pd.DataFrame:
    """The fills table of a :class:`Result` (one builder for both replay paths), indexed by UTC fill time."""
    index = pd.DatetimeIndex(pd.to_datetime(ts_ms, unit="ms", utc=True), name="ts").as_unit("ms")
    return pd.DataFrame({
        "order_id": order_id, "side": _two(buy, "buy", "sell"),
        "price": price, "quantity": qty, "quote": quote, "fee": fee, "fee_asset": _cat(fee_asset),
        "liquidity": _two(maker, "maker", "taker"),
    }, index=index)  # fmt: skip


def _cat(labels: Labels) -> pd.Categorical[Any]:
    return labels if isinstance(labels, pd.Categorical) else pd.Categorical(labels)


def coded(codes: np.ndarray, names: list[str]) -> pd.Categorical[Any]:
    """``pd.Categorical([names[c] for c in codes])`` (categories: the names present, sorted), without the loop.

    >>> list(coded(np.array([2, 0, 2]), ["new", "filled", "canceled"]).categories)
    ['canceled', 'new']
    """
    codes = np.asarray(codes, dtype=np.int64)
    if len(codes) == 0:
        return pd.Categorical([])
    present = np.flatnonzero(np.bincount(codes, minlength=len(names)))
    cats = sorted((names[k], k) for k in present.tolist())
    remap = np.full(len(names), -1, dtype=np.int64)
    for new, (_, old) in enumerate(cats):
        remap[old] = new
    out: pd.Categorical[Any] = pd.Categorical.from_codes(remap[codes], categories=pd.Index([c for c, _ in cats]))
    return out


def _two(flags: np.ndarray, yes: str, no: str) -> Any:
    """A two-valued label column (categorical), built from booleans without a Python loop."""
    return pd.Categorical.from_codes(np.asarray(flags, dtype="int8"), categories=pd.Index([no, yes]))


def orders_frame(
    ids: np.ndarray,
    client_ids: list[str] | np.ndarray,
    buy: np.ndarray,
    types: Labels,
    qty: np.ndarray,
    filled: np.ndarray,
    price: np.ndarray,
    status: Labels,
    fees: np.ndarray,
) -> pd.DataFrame:
    """The orders table of a :class:`Result` (one builder for both replay paths)."""
    return pd.DataFrame({
        "order_id": ids, "client_id": pd.array(client_ids, dtype="str"), "side": _two(buy, "buy", "sell"),
        "type": _cat(types), "quantity": qty, "filled": filled, "price": price,
        "status": _cat(status), "fees": fees,
    })  # fmt: skip
