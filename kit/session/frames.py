"""ccxt's unified structures as pandas frames for notebooks (UTC, tz-aware)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from kit.transport.trade_order import in_trade_order

ORDER_COLUMNS = [
    "id",
    "clientOrderId",
    "symbol",
    "side",
    "type",
    "price",
    "triggerPrice",
    "amount",
    "filled",
    "remaining",
    "average",
    "status",
    "timeInForce",
    "postOnly",
]
TRADE_COLUMNS = ["id", "order", "symbol", "side", "price", "amount", "cost", "fee_cost", "fee_currency", "takerOrMaker"]


def _indexed(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["timestamp", *columns])
    frame.index = pd.to_datetime(frame.pop("timestamp"), unit="ms", utc=True)
    frame.index.name = "time"
    return frame


def orders_frame(orders: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """One row per ccxt order, indexed by creation time."""
    return _indexed([{k: o.get(k) for k in ["timestamp", *ORDER_COLUMNS]} for o in orders], ORDER_COLUMNS)


def trades_frame(trades: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """One row per ccxt trade (fill) in trade order, indexed by trade time; fees flattened."""
    rows = []
    for t in in_trade_order(trades):
        fee = t.get("fee") or {}
        row = {k: t.get(k) for k in ["timestamp", *TRADE_COLUMNS]}
        row["fee_cost"], row["fee_currency"] = fee.get("cost"), fee.get("currency")
        rows.append(row)
    return _indexed(rows, TRADE_COLUMNS)


def balances_frame(balance: dict[str, Any], *, include_zero: bool = False) -> pd.DataFrame:
    """One row per asset: free, used, total (ccxt's unified balance)."""
    rows = []
    for asset, total in (balance.get("total") or {}).items():
        if total or include_zero:
            rows.append(
                {"asset": asset, "free": balance["free"].get(asset), "used": balance["used"].get(asset), "total": total}
            )
    return pd.DataFrame(rows, columns=["asset", "free", "used", "total"]).set_index("asset")


def candles_frame(ohlcv: list[list[float]]) -> pd.DataFrame:
    """Ccxt OHLCV rows as candles: UTC open-time index; open, high, low, close, volume."""
    frame = pd.DataFrame(ohlcv, columns=["time", "open", "high", "low", "close", "volume"])
    frame.index = pd.to_datetime(frame.pop("time").astype("int64"), unit="ms", utc=True)
    frame.index.name = "time"
    return frame.astype("float64")
