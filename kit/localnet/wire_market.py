"""Binance Spot JSON for market data: exchangeInfo, tickers, trades, klines and stream events.

Pure functions over plain values (no venue, no clock).

Examples
--------
>>> from decimal import Decimal as D
>>> book_ticker("BTCUSDT", (D("1.5"), D("2")), (D("1.6"), D("3")))["askPrice"]
'1.60000000'
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

EIGHT = Decimal("0.00000001")
ZERO = Decimal(0)


def _f(x: Decimal | None) -> str:
    if x is None:
        return "0.00000000"
    return format(x.quantize(EIGHT) if x.as_tuple().exponent > -8 else x, "f")  # type: ignore[operator]


# ---------------------------------------------------------------------- exchangeInfo
def symbol_entry(spec: Any, order_types: list[str]) -> dict[str, Any]:
    """One ``symbols[]`` entry with the filters localnet enforces (filters.md field names)."""
    min_price = spec.min_price if spec.min_price is not None else spec.tick_size
    return {
        "symbol": spec.symbol,
        "status": "TRADING",
        "baseAsset": spec.base,
        "baseAssetPrecision": spec.base_precision,
        "quoteAsset": spec.quote,
        "quotePrecision": spec.quote_precision,
        "quoteAssetPrecision": spec.quote_precision,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": order_types,
        "icebergAllowed": True,
        "ocoAllowed": True,  # orderList/oco, /oto, /otoco, /opo, /opoco are served (kit/localnet/orderlists.py)
        "otoAllowed": True,
        "opoAllowed": True,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": True,
        "cancelReplaceAllowed": True,
        "amendAllowed": False,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": _f(min_price),
                "maxPrice": _f(spec.max_price),
                "tickSize": _f(spec.tick_size),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": _f(spec.min_qty),
                "maxQty": _f(spec.max_qty),
                "stepSize": _f(spec.step_size),
            },
            {
                "filterType": "PERCENT_PRICE_BY_SIDE",
                "bidMultiplierUp": str(spec.bid_multiplier_up),
                "bidMultiplierDown": str(spec.bid_multiplier_down),
                "askMultiplierUp": str(spec.ask_multiplier_up),
                "askMultiplierDown": str(spec.ask_multiplier_down),
                "avgPriceMins": spec.avg_price_mins,
            },
            {"filterType": "ICEBERG_PARTS", "limit": spec.max_iceberg_parts},
            {
                "filterType": "MARKET_LOT_SIZE",
                "minQty": "0.00000000",
                "maxQty": _f(spec.market_max_qty),
                "stepSize": "0.00000000",
            },
            {
                "filterType": "TRAILING_DELTA",
                "minTrailingAboveDelta": spec.min_trailing_bps,
                "maxTrailingAboveDelta": spec.max_trailing_bps,
                "minTrailingBelowDelta": spec.min_trailing_bps,
                "maxTrailingBelowDelta": spec.max_trailing_bps,
            },
            {
                "filterType": "NOTIONAL",
                "minNotional": _f(spec.min_notional),
                "applyMinToMarket": True,
                "maxNotional": _f(spec.max_notional),
                "applyMaxToMarket": False,
                "avgPriceMins": 5,
            },
            {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": spec.max_num_orders},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": spec.max_num_algo_orders},
        ],
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH", "DECREMENT"],
    }


def exchange_info(
    specs: list[Any],
    order_types: list[str],
    *,
    server_ms: int,
    weight_per_minute: int,
    orders_per_10s: int,
    orders_per_day: int,
) -> dict[str, Any]:
    """``GET exchangeInfo`` body."""
    return {
        "timezone": "UTC",
        "serverTime": server_ms,
        "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": weight_per_minute},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": orders_per_10s},
            {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": orders_per_day},
            {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
        ],
        "exchangeFilters": [],
        "symbols": [symbol_entry(s, order_types) for s in specs],
    }


# ---------------------------------------------------------------------- REST market data
def ticker_24h(
    sid: str,
    bars: list[list[Any]],
    last: Decimal,
    bid: tuple[Decimal, Decimal] | None,
    ask: tuple[Decimal, Decimal] | None,
    now_ms: int,
    *,
    first_id: int,
    last_id: int,
    window_ms: int = 86_400_000,
) -> dict[str, Any]:
    """Rolling 24h ticker from base candles ``[o, h, l, c, v, qv, n, ...]`` of the window."""
    if bars:
        open_ = bars[0][0]
        high = max(b[1] for b in bars)
        low = min(b[2] for b in bars)
        vol = sum((b[4] for b in bars), ZERO)
        qvol = sum((b[5] for b in bars), ZERO)
        count = sum(b[6] for b in bars)
    else:
        open_ = high = low = last
        vol = qvol = ZERO
        count = 0
    change = last - open_
    pct = (change / open_ * 100).quantize(Decimal("0.001")) if open_ else ZERO
    wavg = qvol / vol if vol else last
    return {
        "symbol": sid,
        "priceChange": _f(change),
        "priceChangePercent": format(pct, "f"),
        "weightedAvgPrice": _f(wavg.quantize(EIGHT)),
        "prevClosePrice": _f(open_),
        "lastPrice": _f(last),
        "lastQty": "0.00000000",
        "bidPrice": _f(bid[0] if bid else None),
        "bidQty": _f(bid[1] if bid else None),
        "askPrice": _f(ask[0] if ask else None),
        "askQty": _f(ask[1] if ask else None),
        "openPrice": _f(open_),
        "highPrice": _f(high),
        "lowPrice": _f(low),
        "volume": _f(vol),
        "quoteVolume": _f(qvol.quantize(EIGHT)),
        "openTime": now_ms - window_ms,
        "closeTime": now_ms,
        "firstId": first_id,
        "lastId": last_id,
        "count": count,
    }


def book_ticker(sid: str, bid: tuple[Decimal, Decimal] | None, ask: tuple[Decimal, Decimal] | None) -> dict[str, Any]:
    """``ticker/bookTicker`` body / ``bookTicker`` stream fields."""
    return {
        "symbol": sid,
        "bidPrice": _f(bid[0] if bid else None),
        "bidQty": _f(bid[1] if bid else None),
        "askPrice": _f(ask[0] if ask else None),
        "askQty": _f(ask[1] if ask else None),
    }


def trade_rest(p: Any) -> dict[str, Any]:
    """``GET trades`` item."""
    return {
        "id": p.id,
        "price": _f(p.price),
        "qty": _f(p.qty),
        "quoteQty": _f((p.price * p.qty).quantize(EIGHT)),
        "time": p.ts_ms,
        "isBuyerMaker": p.buyer_maker,
        "isBestMatch": True,
    }


def agg_trade_rest(p: Any) -> dict[str, Any]:
    """``GET aggTrades`` item (one print per aggregate)."""
    return {
        "a": p.id,
        "p": _f(p.price),
        "q": _f(p.qty),
        "f": p.id,
        "l": p.id,
        "T": p.ts_ms,
        "m": p.buyer_maker,
        "M": True,
    }


# ---------------------------------------------------------------------- stream events
def trade_event(sid: str, p: Any) -> dict[str, Any]:
    """``<symbol>@trade`` event."""
    return {
        "e": "trade",
        "E": p.ts_ms,
        "s": sid,
        "t": p.id,
        "p": _f(p.price),
        "q": _f(p.qty),
        "T": p.ts_ms,
        "m": p.buyer_maker,
        "M": True,
    }


def agg_trade_event(sid: str, p: Any) -> dict[str, Any]:
    """``<symbol>@aggTrade`` event."""
    return {
        "e": "aggTrade",
        "E": p.ts_ms,
        "s": sid,
        "a": p.id,
        "p": _f(p.price),
        "q": _f(p.qty),
        "f": p.id,
        "l": p.id,
        "T": p.ts_ms,
        "m": p.buyer_maker,
        "M": True,
    }


def depth_event(sid: str, delta: tuple[int, int, list[list[str]], list[list[str]]], now_ms: int) -> dict[str, Any]:
    """``<symbol>@depth`` diff event; ``U``/``u`` continue the REST snapshot's ``lastUpdateId``."""
    first, last, bids, asks = delta
    return {"e": "depthUpdate", "E": now_ms, "s": sid, "U": first, "u": last, "b": bids, "a": asks}


def kline_event(sid: str, interval: str, row: list[Any], now_ms: int, *, closed: bool) -> dict[str, Any]:
    """``<symbol>@kline_<interval>`` event from a REST kline row."""
    return {
        "e": "kline",
        "E": now_ms,
        "s": sid,
        "k": {
            "t": row[0],
            "T": row[6],
            "s": sid,
            "i": interval,
            "f": -1,
            "L": -1,
            "o": row[1],
            "c": row[4],
            "h": row[2],
            "l": row[3],
            "v": row[5],
            "n": row[8],
            "x": closed,
            "q": row[7],
            "V": row[9],
            "Q": row[10],
            "B": "0",
        },
    }


def ticker_event(t: dict[str, Any], now_ms: int) -> dict[str, Any]:
    """``<symbol>@ticker`` event from a REST 24h ticker body."""
    return {
        "e": "24hrTicker",
        "E": now_ms,
        "s": t["symbol"],
        "p": t["priceChange"],
        "P": t["priceChangePercent"],
        "w": t["weightedAvgPrice"],
        "x": t["prevClosePrice"],
        "c": t["lastPrice"],
        "Q": t["lastQty"],
        "b": t["bidPrice"],
        "B": t["bidQty"],
        "a": t["askPrice"],
        "A": t["askQty"],
        "o": t["openPrice"],
        "h": t["highPrice"],
        "l": t["lowPrice"],
        "v": t["volume"],
        "q": t["quoteVolume"],
        "O": t["openTime"],
        "C": t["closeTime"],
        "F": t["firstId"],
        "L": t["lastId"],
        "n": t["count"],
    }


def mini_ticker_event(t: dict[str, Any], now_ms: int) -> dict[str, Any]:
    """``<symbol>@miniTicker`` event from a REST 24h ticker body."""
    return {
        "e": "24hrMiniTicker",
        "E": now_ms,
        "s": t["symbol"],
        "c": t["lastPrice"],
        "o": t["openPrice"],
        "h": t["highPrice"],
        "l": t["lowPrice"],
        "v": t["volume"],
        "q": t["quoteVolume"],
    }
