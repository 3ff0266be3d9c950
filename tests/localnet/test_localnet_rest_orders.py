"""Orders through the real ccxt client.

Every type and flag of wire spec section 5, queries, cancels, partial fills, and the order error
cases mapped to ccxt's exception classes.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import ccxt
import pytest
import requests

from kit.localnet.server import Localnet


def _book(ex: Any, symbol: str = "BTC/USDT") -> tuple[float, float]:
    ob = ex.fetch_order_book(symbol, 5)
    return ob["bids"][0][0], ob["asks"][0][0]


def _cid() -> str:
    return "t-" + uuid.uuid4().hex[:20]


# ---------------------------------------------------------------------- types and flags
def test_market_buy_by_quantity_full_response(ex: Any) -> None:
    before = ex.fetch_balance()
    o = ex.create_order("BTC/USDT", "market", "buy", 0.001)
    assert o["status"] == "closed" and o["filled"] == 0.001
    assert o["trades"] and o["fee"]["currency"] == "BTC"
    _, ask = _book(ex)
    assert o["average"] >= ask * 0.99
    after = ex.fetch_balance()
    assert after["BTC"]["total"] > before["BTC"]["total"]
    assert after["USDT"]["total"] < before["USDT"]["total"]


def test_market_by_quote_quantity_both_sides(ex: Any) -> None:
    o = ex.create_order("BTC/USDT", "market", "buy", None, None, {"cost": 25})
    assert o["status"] == "closed" and 24 < o["cost"] <= 25
    o = ex.create_market_buy_order_with_cost("ETH/USDT", 30)
    assert o["status"] == "closed" and 29 < o["cost"] <= 30
    bid, _ = _book(ex)
    sell = ex.create_order("BTC/USDT", "market", "sell", 0.0005, bid)  # price given: quoteOrderQty
    assert sell["status"] == "closed" and sell["info"]["origQuoteOrderQty"] != "0.00000000"


def test_limit_gtc_rests_then_cancel_by_id(ex: Any) -> None:
    bid, _ = _book(ex)
    o = ex.create_order("BTC/USDT", "limit", "buy", 0.001, round(bid * 0.95, 2))
    assert o["status"] == "open" and o["timeInForce"] == "GTC"
    assert any(x["id"] == o["id"] for x in ex.fetch_open_orders("BTC/USDT"))
    c = ex.cancel_order(o["id"], "BTC/USDT")
    assert c["status"] == "canceled"
    assert ex.fetch_order(o["id"], "BTC/USDT")["status"] == "canceled"


def test_limit_ioc_and_fok(net: Localnet, ex: Any) -> None:
    bid, ask = _book(ex)
    ioc = ex.create_order("BTC/USDT", "limit", "buy", 0.001, round(bid * 0.9, 2), {"timeInForce": "IOC"})
    assert ioc["status"] == "expired" and ioc["filled"] == 0
    fok = ex.create_order("BTC/USDT", "limit", "buy", 0.001, round(ask * 1.01, 2), {"timeInForce": "FOK"})
    assert fok["status"] == "closed" and fok["filled"] == 0.001
    top = ex.fetch_order_book("BTC/USDT", 1)["bids"][0]
    qty = round(top[1] + 0.00001, 5)  # more than the best level holds, priced at it
    requests.post(f"{net.url}/_localnet/deposit", json={"account": "main", "asset": "BTC", "amount": "1"}, timeout=10)
    huge = ex.create_order("BTC/USDT", "limit", "sell", qty, top[0], {"timeInForce": "FOK"})
    assert huge["status"] == "expired" and huge["filled"] == 0


def test_limit_maker_rests_or_is_rejected(ex: Any) -> None:
    bid, ask = _book(ex)
    ok = ex.create_order("BTC/USDT", "limit", "buy", 0.001, round(bid * 0.98, 2), {"postOnly": True})
    assert ok["postOnly"] and ok["status"] == "open" and ok["info"]["type"] == "LIMIT_MAKER"
    ex.cancel_order(ok["id"], "BTC/USDT")
    with pytest.raises(ccxt.OrderImmediatelyFillable):
        ex.create_order("BTC/USDT", "limit", "buy", 0.001, round(ask * 1.001, 2), {"postOnly": True})


def test_stop_loss_and_take_profit_types(ex: Any) -> None:
    bid, ask = _book(ex)
    cases = [
        ("limit", "sell", round(bid * 0.94, 2), {"triggerPrice": round(bid * 0.95, 2)}, "STOP_LOSS_LIMIT"),
        ("market", "sell", None, {"stopLossPrice": round(bid * 0.95, 2)}, "STOP_LOSS"),
        ("limit", "sell", round(ask * 1.06, 2), {"takeProfitPrice": round(ask * 1.05, 2)}, "TAKE_PROFIT_LIMIT"),
        ("market", "sell", None, {"takeProfitPrice": round(ask * 1.05, 2)}, "TAKE_PROFIT"),
    ]
    for typ, side, price, params, wire_type in cases:
        o = ex.create_order("BTC/USDT", typ, side, 0.001, price, params)
        got = ex.fetch_order(o["id"], "BTC/USDT")
        assert got["info"]["type"] == wire_type and got["status"] == "open", wire_type
        assert got["triggerPrice"] > 0
        ex.cancel_order(o["id"], "BTC/USDT")


def test_an_ioc_stop_limit_waits_untriggered_and_its_time_in_force_applies_at_the_trigger(
    net: Localnet, ex: Any
) -> None:
    """STOP_LOSS_LIMIT with timeInForce IOC: NEW while the market trades above the stop (it expired at
    the next print before); at the trigger it takes what it can at its limit and the rest expires."""
    last = float(ex.fetch_ticker("BTC/USDT")["last"])
    stop = round(last * 0.97, 2)
    o = ex.create_order("BTC/USDT", "limit", "sell", 0.002, round(stop * 0.99, 2),
                        {"triggerPrice": stop, "timeInForce": "IOC"})  # fmt: skip
    assert o["info"]["timeInForce"] == "IOC"
    net.inject_trade("BTCUSDT", round(last * 1.001, 2), "0.5", side="buy")  # prints above the stop
    net.inject_trade("BTCUSDT", round(last * 0.999, 2), "0.5", side="sell")
    net.step(1_000)
    assert ex.fetch_order(o["id"], "BTC/USDT")["status"] == "open"  # still waiting for its trigger
    net.inject_trade("BTCUSDT", round(stop * 0.995, 2), "0.0005", side="sell")  # through the stop
    net.step(1_000)
    done = ex.fetch_order(o["id"], "BTC/USDT")
    assert done["status"] in ("closed", "canceled", "expired") and done["remaining"] < 0.002 + 1e-12
    assert done["info"]["status"] in ("FILLED", "EXPIRED"), done["info"]
    assert o["id"] not in {x["id"] for x in ex.fetch_open_orders("BTC/USDT")}  # nothing of it rests


def test_stop_that_would_trigger_immediately(ex: Any) -> None:
    _, ask = _book(ex)
    with pytest.raises(ccxt.OrderImmediatelyFillable):
        ex.create_order("BTC/USDT", "market", "sell", 0.001, None, {"stopLossPrice": round(ask * 1.05, 2)})


def test_trailing_delta_with_and_without_stop_price(ex: Any) -> None:
    bid, _ = _book(ex)
    a = ex.create_order(
        "BTC/USDT", "market", "sell", 0.001, None, {"trailingPercent": 1.5, "stopLossOrTakeProfit": "stopLoss"}
    )
    info = ex.fetch_order(a["id"], "BTC/USDT")["info"]
    assert info["type"] == "STOP_LOSS" and int(info["trailingDelta"]) == 150
    b = ex.create_order(
        "BTC/USDT",
        "STOP_LOSS_LIMIT",
        "sell",
        0.001,
        round(bid * 0.9, 2),
        {"trailingDelta": 100, "stopPrice": round(bid * 0.97, 2)},
    )
    assert ex.fetch_order(b["id"], "BTC/USDT")["info"]["trailingDelta"] == 100
    with pytest.raises(ccxt.BadRequest, match="TRAILING_DELTA"):
        ex.create_order(
            "BTC/USDT", "market", "sell", 0.001, None, {"trailingDelta": 5000, "stopLossOrTakeProfit": "stopLoss"}
        )
    ex.cancel_all_orders("BTC/USDT")


def test_iceberg(ex: Any) -> None:
    bid, _ = _book(ex)
    o = ex.create_order("BTC/USDT", "limit", "buy", 0.01, round(bid * 0.9, 2), {"icebergQty": 0.002})
    assert ex.fetch_order(o["id"], "BTC/USDT")["info"]["icebergQty"] == "0.00200000"
    ex.cancel_order(o["id"], "BTC/USDT")
    with pytest.raises(ccxt.BadRequest, match="ICEBERG_PARTS"):
        ex.create_order("BTC/USDT", "limit", "buy", 0.01, round(bid * 0.9, 2), {"icebergQty": "0.00001"})


def test_client_order_id_roundtrip_and_duplicate(ex: Any) -> None:
    bid, _ = _book(ex)
    cid = "kit/" + uuid.uuid4().hex[:10] + ":x.y"  # '/' and ':' are percent-encoded on the wire
    o = ex.create_order("BTC/USDT", "limit", "buy", 0.001, round(bid * 0.9, 2), {"clientOrderId": cid})
    assert o["clientOrderId"] == cid
    with pytest.raises(ccxt.InvalidOrder, match="Duplicate order sent"):
        ex.create_order("BTC/USDT", "limit", "buy", 0.001, round(bid * 0.9, 2), {"clientOrderId": cid})
    got = ex.fetch_order(None, "BTC/USDT", {"origClientOrderId": cid})
    assert got["id"] == o["id"]
    c = ex.cancel_order(None, "BTC/USDT", {"origClientOrderId": cid})
    assert c["status"] == "canceled" and c["info"]["origClientOrderId"] == cid


@pytest.mark.parametrize("resp", ["ACK", "RESULT", "FULL"])
def test_new_order_resp_type(ex: Any, resp: str) -> None:
    o = ex.create_order("BTC/USDT", "market", "buy", 0.0002, None, {"newOrderRespType": resp})
    info = o["info"]
    assert info["orderId"] and info["transactTime"]
    assert ("status" in info) == (resp != "ACK")
    assert ("fills" in info) == (resp == "FULL")


def test_order_test_endpoint_changes_nothing(ex: Any) -> None:
    before = len(ex.fetch_orders("BTC/USDT"))
    res = ex.create_order("BTC/USDT", "market", "buy", 0.001, None, {"test": True})
    assert res is not None
    assert len(ex.fetch_orders("BTC/USDT")) == before
    with pytest.raises(ccxt.InvalidOrder):  # filters still apply
        ex.private_post_order_test(
            {
                "symbol": "BTCUSDT",
                "side": "BUY",
                "type": "LIMIT",
                "quantity": "0.000011",
                "price": "100",
                "timeInForce": "GTC",
            }
        )


# ---------------------------------------------------------------------- queries
def test_queries_and_cancel_all(ex: Any) -> None:
    bid, _ = _book(ex, "ETH/USDT")
    ids = [ex.create_order("ETH/USDT", "limit", "buy", 0.01, round(bid * (0.9 - i / 100), 2))["id"] for i in range(3)]
    open_eth = {o["id"] for o in ex.fetch_open_orders("ETH/USDT")}
    assert set(ids) <= open_eth
    everything = {o["id"] for o in ex.fetch_open_orders()}  # no symbol: weight 80
    assert set(ids) <= everything
    canceled = ex.cancel_all_orders("ETH/USDT")
    assert {c["id"] for c in canceled} >= set(ids)
    assert not ex.fetch_open_orders("ETH/USDT")
    closed = ex.fetch_canceled_orders("ETH/USDT")
    assert set(ids) <= {o["id"] for o in closed}
    # GET /api/v3/allOrders without orderId: the most recent orders, oldest first (Binance docs)
    recent = ex.fetch_orders("ETH/USDT", limit=2)
    assert len(recent) == 2
    assert [o["id"] for o in recent] == ids[-2:]


def test_my_trades_and_order_trades(ex: Any) -> None:
    o = ex.create_order("ETH/USDT", "market", "buy", 0.01)
    trades = ex.fetch_my_trades("ETH/USDT")
    mine = [t for t in trades if t["order"] == o["id"]]
    assert mine and all(t["side"] == "buy" and t["takerOrMaker"] == "taker" for t in mine)
    assert sum(t["amount"] for t in mine) == pytest.approx(0.01)
    by_order = ex.fetch_order_trades(o["id"], "ETH/USDT")
    assert {t["id"] for t in by_order} == {t["id"] for t in mine}
    since = mine[0]["timestamp"]
    assert ex.fetch_my_trades("ETH/USDT", since=since)


def test_balance_locks_and_releases(ex: Any) -> None:
    bid, _ = _book(ex)
    before = ex.fetch_balance()["USDT"]
    price = round(bid * 0.9, 2)
    o = ex.create_order("BTC/USDT", "limit", "buy", 0.001, price)
    during = ex.fetch_balance()["USDT"]
    assert during["used"] == pytest.approx(before["used"] + 0.001 * price)
    ex.cancel_order(o["id"], "BTC/USDT")
    assert ex.fetch_balance()["USDT"]["free"] == pytest.approx(before["free"])


def test_partial_fill_visible_after_stepping(net: Localnet, ex: Any) -> None:
    bid, _ = _book(ex)
    price = round(bid * 0.97, 2)
    o = ex.create_order("BTC/USDT", "limit", "buy", 0.02, price)
    assert o["status"] == "open"
    last = net.call(lambda v: str(v.last_price["BTCUSDT"]))
    net.inject_trade("BTCUSDT", round(price - 0.05, 2), "0.005", side="sell")  # trades through by 5 ticks
    net.inject_trade("BTCUSDT", last, "0.001")  # and the market comes back
    net.step(1_000)
    got = ex.fetch_order(o["id"], "BTC/USDT")
    assert got["status"] == "open" and got["info"]["status"] == "PARTIALLY_FILLED"
    assert 0 < got["filled"] < 0.02 and got["info"]["executedQty"] != "0.00000000"
    assert got["remaining"] == pytest.approx(0.02 - got["filled"])
    net.inject_trade("BTCUSDT", round(price - 0.05, 2), "1", side="sell")
    net.step(1_000)
    done = ex.fetch_order(o["id"], "BTC/USDT")
    assert done["status"] == "closed" and done["filled"] == pytest.approx(0.02)
    net.inject_trade("BTCUSDT", last, "0.01")  # put the market back where it was


# ---------------------------------------------------------------------- errors
def test_filter_failures(ex: Any) -> None:
    bid, _ = _book(ex)
    with pytest.raises(ccxt.InvalidOrder, match="LOT_SIZE"):
        ex.private_post_order(
            {
                "symbol": "BTCUSDT",
                "side": "BUY",
                "type": "LIMIT",
                "timeInForce": "GTC",
                "quantity": "0.000015",
                "price": f"{bid * 0.9:.2f}",
            }
        )
    with pytest.raises(ccxt.InvalidOrder, match="PRICE_FILTER"):
        ex.private_post_order(
            {
                "symbol": "BTCUSDT",
                "side": "BUY",
                "type": "LIMIT",
                "timeInForce": "GTC",
                "quantity": "0.001",
                "price": "50000.005",
            }
        )
    with pytest.raises(ccxt.BadRequest, match="NOTIONAL"):
        ex.create_order("BTC/USDT", "limit", "buy", 0.00002, round(bid * 0.9, 2))
    with pytest.raises(ccxt.InvalidOrder, match="MARKET_LOT_SIZE"):
        ex.private_post_order({"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "quantity": "200"})


def test_bad_params(ex: Any) -> None:
    with pytest.raises(ccxt.BadRequest, match="-1102"):
        ex.private_post_order(
            {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.001", "price": "100"}
        )
    with pytest.raises(ccxt.BadRequest, match="-1100"):
        ex.private_post_order({"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "1e-3"})
    with pytest.raises(ccxt.BadRequest, match="-1111"):
        ex.private_post_order({"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.000000001"})
    with pytest.raises(ccxt.BadRequest, match="-1106"):
        ex.private_post_order(
            {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001", "timeInForce": "GTC"}
        )
    with pytest.raises(ccxt.BadSymbol):
        ex.private_post_order({"symbol": "NOPE", "side": "BUY", "type": "MARKET", "quantity": "0.001"})
    with pytest.raises(ccxt.BadRequest, match="-1104"):
        ex.private_post_order(
            {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001", "foo": "true"}
        )


def test_insufficient_funds(ex: Any) -> None:
    with pytest.raises(ccxt.InsufficientFunds):
        ex.create_order("BTC/USDT", "limit", "buy", 5, 50000)
    with pytest.raises(ccxt.InsufficientFunds):
        ex.create_order("ETH/BTC", "limit", "sell", 500, 0.05)


def test_order_not_found(ex: Any) -> None:
    with pytest.raises(ccxt.OrderNotFound):
        ex.cancel_order("987654321", "BTC/USDT")
    with pytest.raises(ccxt.OrderNotFound):
        ex.fetch_order("987654321", "BTC/USDT")
    with pytest.raises(ccxt.OrderNotFound):
        ex.cancel_all_orders("ETH/BTC")


def test_async_client_orders(net: Localnet) -> None:
    async def run() -> dict[str, Any]:
        aex = net.client("trader", async_=True, enableRateLimit=False)
        try:
            o = await aex.create_order("ETH/USDT", "market", "buy", 0.01)
            return await aex.fetch_order(o["id"], "ETH/USDT")
        finally:
            await aex.close()

    assert asyncio.run(run())["status"] == "closed"


def test_stop_loss_triggers_and_fills(net: Localnet, ex: Any) -> None:
    last = net.call(lambda v: v.last_price["ETHUSDT"])
    stop = round(float(last) * 0.99, 2)
    o = ex.create_order("ETH/USDT", "market", "sell", 0.01, None, {"stopLossPrice": stop})
    assert ex.fetch_order(o["id"], "ETH/USDT")["status"] == "open"
    net.inject_trade("ETHUSDT", round(stop - 0.5, 2), "0.3", side="sell")  # the market falls through
    got = ex.fetch_order(o["id"], "ETH/USDT")
    assert got["status"] == "closed" and got["filled"] == pytest.approx(0.01)
    assert got["average"] <= stop
    net.inject_trade("ETHUSDT", str(last), "0.01")  # and comes back


def test_closed_orders_and_trading_fee(ex: Any) -> None:
    o = ex.create_order("ETH/BTC", "market", "buy", 0.01)
    closed = ex.fetch_closed_orders("ETH/BTC")
    assert o["id"] in {c["id"] for c in closed} and all(c["status"] == "closed" for c in closed)
    fee = ex.fetch_trading_fee("ETH/BTC")
    assert fee["maker"] == pytest.approx(0.001) and fee["taker"] == pytest.approx(0.001)


def test_market_order_consumes_the_shown_book(ex: Any) -> None:
    before = ex.fetch_order_book("ETH/USDT", 5)
    ask_px, ask_qty = before["asks"][0]
    take = min(round(ask_qty / 2, 4), 0.2)  # part of the level, affordable
    o = ex.create_order("ETH/USDT", "market", "buy", take)
    assert o["average"] == pytest.approx(ask_px)  # filled at the level the book showed
    after = ex.fetch_order_book("ETH/USDT", 5)
    assert after["asks"][0][0] == ask_px
    assert after["asks"][0][1] == pytest.approx(ask_qty - take)  # and that liquidity is gone
    assert after["nonce"] > before["nonce"]
