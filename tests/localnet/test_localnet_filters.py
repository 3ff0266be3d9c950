"""localnet publishes and enforces Binance's filters with the engine's filter code (#15.1), through real ccxt.

Codes and messages from Binance's errors.md: a filter failure is ``-1013 "Filter failure: NAME"``
(HTTP 400); too many new orders is ``-1015`` with HTTP 429, which ccxt raises as DDoSProtection.
"""

from __future__ import annotations

import json
from decimal import ROUND_UP
from decimal import Decimal as D
from typing import Any

import ccxt
import pytest

from kit.localnet import LimitsConfig


def _filters(ex: Any, symbol_id: str = "BTCUSDT") -> dict[str, dict[str, Any]]:
    info = ex.public_get_exchangeinfo({"symbol": symbol_id})
    return {f["filterType"]: f for f in info["symbols"][0]["filters"]}


def _body(ex: Any) -> dict[str, Any]:
    """The last response's JSON body, as the exchange sent it (ccxt's messages vary by error)."""
    return dict(json.loads(ex.last_http_response))


def test_exchange_info_publishes_the_enforced_filters(ex: Any) -> None:
    f = _filters(ex)
    assert D(f["PRICE_FILTER"]["maxPrice"]) == D("1000000")
    side = f["PERCENT_PRICE_BY_SIDE"]
    assert [D(side[k]) for k in ("bidMultiplierUp", "bidMultiplierDown", "askMultiplierUp", "askMultiplierDown")] == [
        D("5"),
        D("0.2"),
        D("5"),
        D("0.2"),
    ]
    assert side["avgPriceMins"] == 5
    assert f["MAX_NUM_ORDERS"]["maxNumOrders"] == 200
    assert f["MAX_NUM_ALGO_ORDERS"]["maxNumAlgoOrders"] == 5


def test_a_buy_at_2_000_000_is_refused_by_price_filter(ex: Any) -> None:
    """The audit's order: maxPrice 1,000,000 is published, and a buy at 2,000,000 used to fill."""
    with pytest.raises(ccxt.ExchangeError):
        ex.create_order("BTC/USDT", "limit", "buy", 0.00001, 2_000_000)
    assert _body(ex) == {"code": -1013, "msg": "Filter failure: PRICE_FILTER"}
    assert all(float(o["price"]) != 2_000_000 for o in ex.fetch_open_orders("BTC/USDT"))


@pytest.mark.parametrize(("side", "factor"), [("buy", "5.01"), ("buy", "0.19"), ("sell", "5.01"), ("sell", "0.19")])
def test_percent_price_by_side_is_enforced(make_localnet: Any, side: str, factor: str) -> None:
    with make_localnet() as net:
        ex = net.client("trader", enableRateLimit=False)
        last = D(str(ex.fetch_ticker("BTC/USDT")["last"]))
        price = (last * D(factor)).quantize(D("0.01"))
        if price > D("1000000"):
            pytest.skip("the price filter's maximum comes first")
        with pytest.raises(ccxt.ExchangeError):
            ex.create_order("BTC/USDT", "limit", side, 0.0001, float(price))
        assert _body(ex) == {"code": -1013, "msg": "Filter failure: PERCENT_PRICE_BY_SIDE"}
        # within the band: accepted (it rests, or a buy far above the market fills)
        inside = (last * (D("4.9") if factor == "5.01" else D("0.21"))).quantize(D("0.01"))
        qty = (D(20) / inside).quantize(D("0.00001"), rounding=ROUND_UP)  # notional about 20 USDT
        assert ex.create_order("BTC/USDT", "limit", side, float(qty), float(inside))["status"] in ("open", "closed")


def test_max_num_algo_orders_five_stops_per_symbol(make_localnet: Any) -> None:
    with make_localnet() as net:
        ex = net.client("trader", enableRateLimit=False)
        last = D(str(ex.fetch_ticker("BTC/USDT")["last"]))
        trig, px = (last * D("0.8")).quantize(D("0.01")), (last * D("0.79")).quantize(D("0.01"))
        stops = [
            ex.create_order("BTC/USDT", "limit", "sell", 0.001, float(px), {"triggerPrice": float(trig)})
            for _ in range(5)
        ]
        assert all(o["info"]["type"] == "STOP_LOSS_LIMIT" for o in stops)
        with pytest.raises(ccxt.ExchangeError):
            ex.create_order("BTC/USDT", "limit", "sell", 0.001, float(px), {"triggerPrice": float(trig)})
        assert _body(ex) == {"code": -1013, "msg": "Filter failure: MAX_NUM_ALGO_ORDERS"}
        bid = D(str(ex.fetch_order_book("BTC/USDT", 5)["bids"][0][0]))
        plain = ex.create_order("BTC/USDT", "limit", "buy", 0.001, float((bid * D("0.9")).quantize(D("0.01"))))
        assert plain["status"] == "open"  # the algo limit counts stops only
        ex.cancel_order(stops[0]["id"], "BTC/USDT")
        sixth = ex.create_order("BTC/USDT", "limit", "sell", 0.001, float(px), {"triggerPrice": float(trig)})
        assert sixth["info"]["type"] == "STOP_LOSS_LIMIT"


def test_too_many_new_orders_is_http_429(make_localnet: Any) -> None:
    """-1015 comes with 429 as on Binance, so ccxt raises DDoSProtection (it raised RateLimitExceeded on 400)."""
    with make_localnet(limits=LimitsConfig(orders_per_10s=1, orders_per_day=1000)) as net:
        ex = net.client("trader", enableRateLimit=False)
        bid = ex.fetch_order_book("BTC/USDT", 5)["bids"][0][0]
        ex.create_order("BTC/USDT", "limit", "buy", 0.001, round(bid * 0.9, 2))
        with pytest.raises(ccxt.DDoSProtection, match="-1015") as info:
            ex.create_order("BTC/USDT", "limit", "buy", 0.001, round(bid * 0.9, 2))
        assert not isinstance(info.value, ccxt.RateLimitExceeded)  # siblings: catching one misses the other
        assert "429" in str(info.value)
