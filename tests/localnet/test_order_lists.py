"""Order lists on localnet through real ccxt (its implicit Binance methods) and the raw WebSocket API.

Binance's documents are the reference: rest-api.md ("New Order list - OCO / OTO / OTOCO",
"Cancel Order list", "Query Order list", "Query all Order lists", "Query Open Order lists"),
errors.md (-1158, -1165/-1166, -1168, -2010 "The relationship of the prices ..."), and
user-data-stream.md ("ListStatus"). ccxt 4.5 has no unified method for order lists; its
implicit ones (``privatePostOrderListOco`` ...) send exactly Binance's parameters.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from decimal import Decimal
from typing import Any

import aiohttp
import ccxt
import pytest

from kit.localnet import LimitsConfig, LocalnetConfig
from kit.localnet.server import Localnet, start

D = Decimal
LIMITS = LimitsConfig(weight_per_minute=10**9, sapi_weight_per_minute=10**9, orders_per_10s=10**9, orders_per_day=10**9)


LOCALNET_SEED = 11  # the module's own localnet: ed_net in conftest.py


@pytest.fixture()
def ex(ed_net: Localnet) -> Any:
    return ed_net.client("trader", enableRateLimit=False)


def px(x: Decimal) -> str:
    return str(x.quantize(D("0.01")))


def last(ex: Any) -> Decimal:
    return D(str(ex.fetch_ticker("BTC/USDT")["last"]))


def cid() -> str:
    return "L" + uuid.uuid4().hex[:16]


def sell_oco_params(p: Decimal) -> dict[str, Any]:
    """A sell OCO around ``p``: a LIMIT_MAKER 5 % above, a STOP_LOSS_LIMIT at -5 % (limit -6 %)."""
    return {
        "symbol": "BTCUSDT",
        "side": "SELL",
        "quantity": "0.001",
        "aboveType": "LIMIT_MAKER",
        "abovePrice": px(p * D("1.05")),
        "belowType": "STOP_LOSS_LIMIT",
        "belowStopPrice": px(p * D("0.95")),
        "belowPrice": px(p * D("0.94")),
        "belowTimeInForce": "GTC",
    }


def sell_oco(ex: Any, p: Decimal, **extra: Any) -> dict[str, Any]:
    return dict(ex.privatePostOrderListOco({**sell_oco_params(p), "listClientOrderId": cid(), **extra}))


def test_oco_placed_queried_and_canceled_as_binance_answers(ex: Any) -> None:
    p = last(ex)
    before = ex.fetch_balance()["BTC"]
    r = sell_oco(ex, p)
    assert (r["contingencyType"], r["listStatusType"], r["listOrderStatus"]) == ("OCO", "EXEC_STARTED", "EXECUTING")
    # Binance's examples (rest-api.md, web-socket-api.md) list the stop loss first, with the lower id
    assert [o["type"] for o in r["orderReports"]] == ["STOP_LOSS_LIMIT", "LIMIT_MAKER"]
    assert r["orderReports"][0]["orderId"] < r["orderReports"][1]["orderId"]
    assert {o["orderListId"] for o in r["orderReports"]} == {r["orderListId"]}
    assert [o["orderId"] for o in r["orders"]] == [o["orderId"] for o in r["orderReports"]]
    after = ex.fetch_balance()["BTC"]
    assert round(after["used"] - before["used"], 8) == 0.001  # the pair locks its quantity once
    got = ex.privateGetOrderList({"orderListId": r["orderListId"]})
    assert got["listClientOrderId"] == r["listClientOrderId"] and "orderReports" not in got
    assert r["orderListId"] in [x["orderListId"] for x in ex.privateGetOpenOrderList()]
    mine = {x["clientOrderId"] for x in r["orders"]}
    opened = [o for o in ex.fetch_open_orders("BTC/USDT") if o["clientOrderId"] in mine]
    assert len(opened) == 2 and {o["info"]["orderListId"] for o in opened} == {r["orderListId"]}
    c = ex.privateDeleteOrderList({"symbol": "BTCUSDT", "listClientOrderId": r["listClientOrderId"]})
    assert (c["listStatusType"], c["listOrderStatus"]) == ("ALL_DONE", "ALL_DONE")
    assert [o["status"] for o in c["orderReports"]] == ["CANCELED", "CANCELED"]
    assert round(ex.fetch_balance()["BTC"]["used"] - before["used"], 8) == 0
    assert r["orderListId"] in [x["orderListId"] for x in ex.privateGetAllOrderList()]
    assert r["orderListId"] not in [x["orderListId"] for x in ex.privateGetOpenOrderList()]
    with pytest.raises(ccxt.OrderNotFound):
        ex.privateDeleteOrderList({"symbol": "BTCUSDT", "orderListId": r["orderListId"]})
    with pytest.raises(ccxt.OrderNotFound):
        ex.privateGetOrderList({"orderListId": 10**9})


@pytest.mark.parametrize(
    ("change", "code", "msg"),
    [
        ({"abovePrice": None, "aboveStopPrice": "X"}, -1102, None),  # TAKE_PROFIT needs a stop price...
        ({"aboveType": "LIMIT", "aboveTimeInForce": "GTC"}, -1158, "Order type not supported in OCO."),
        ({"belowType": "LIMIT_MAKER", "belowStopPrice": None, "belowTimeInForce": None}, -1168,
         "At least one OCO order must be contingent."),
        ({"aboveType": "STOP_LOSS_LIMIT", "aboveStopPrice": "LOW", "aboveTimeInForce": "GTC",
          "belowType": "LIMIT_MAKER", "belowStopPrice": None, "belowTimeInForce": None}, -1166,
         "A limit order in a sell OCO must be above."),
        ({"abovePrice": "BELOW"}, -2010, "The relationship of the prices for the orders is not correct."),
        ({"bogus": "1"}, -1104, None),
    ],
)  # fmt: skip
def test_oco_refusals_with_binance_codes(
    ed_net: Localnet, ex: Any, change: dict[str, Any], code: int, msg: Any
) -> None:
    p = last(ex)
    names = {"X": None, "LOW": px(p * D("0.95")), "BELOW": px(p * D("0.9"))}
    params = sell_oco_params(p)
    if "aboveStopPrice" in change and change["aboveStopPrice"] == "X":
        change = {"aboveType": "TAKE_PROFIT", "abovePrice": None}
    for k, v in change.items():
        v = names.get(v, v) if isinstance(v, str) else v
        if v is None:
            params.pop(k, None)
        else:
            params[k] = v
    with pytest.raises(ccxt.BaseError) as info:
        ex.privatePostOrderListOco(params)
    body = json.loads(str(info.value).split(" ", 1)[1])
    assert body["code"] == code
    if msg is not None:
        assert body["msg"] == msg
    assert not ex.privateGetOpenOrderList()


def test_stop_trigger_expires_the_limit_maker(ed_net: Localnet, ex: Any) -> None:
    p = last(ex)
    r = sell_oco(ex, p)
    below, above = (o["orderId"] for o in r["orders"])  # the stop loss (below) is listed first
    ed_net.inject_trade("BTCUSDT", p * D("0.95") - 1, "0.5", side="sell")
    ed_net.step(1000)
    maker = ex.fetch_order(str(above), "BTC/USDT")
    stop = ex.fetch_order(str(below), "BTC/USDT")
    assert maker["status"] == "expired"
    assert stop["info"]["status"] in ("NEW", "PARTIALLY_FILLED", "FILLED")
    got = ex.privateGetOrderList({"orderListId": r["orderListId"]})
    assert got["listOrderStatus"] == "ALL_DONE"
    ed_net.inject_trade("BTCUSDT", p, "0.5")  # the market goes back up: nothing triggers again


def test_otoco_pending_orders_go_to_work_after_the_full_fill(ed_net: Localnet, ex: Any) -> None:
    p = last(ex)
    entry = px(p * D("0.99"))
    r = ex.privatePostOrderListOtoco({
        "symbol": "BTCUSDT",
        "listClientOrderId": cid(),
        "workingType": "LIMIT",
        "workingSide": "BUY",
        "workingPrice": entry,
        "workingQuantity": "0.002",
        "workingTimeInForce": "GTC",
        "pendingSide": "SELL",
        "pendingQuantity": "0.001",
        "pendingAboveType": "LIMIT_MAKER",
        "pendingAbovePrice": px(p * D("1.05")),
        "pendingBelowType": "STOP_LOSS",
        "pendingBelowStopPrice": px(p * D("0.95")),
    })  # fmt: skip
    assert r["contingencyType"] == "OTO"  # Binance's answer for an OTOCO
    assert [o["status"] for o in r["orderReports"]] == ["NEW", "PENDING_NEW", "PENDING_NEW"]
    pending = [str(o["orderId"]) for o in r["orderReports"][1:]]
    assert ex.fetch_order(pending[0], "BTC/USDT")["info"]["status"] == "PENDING_NEW"
    ed_net.inject_trade("BTCUSDT", D(entry) - 2, "1", side="sell")  # trades through the entry: it fills
    ed_net.step(1000)
    assert ex.fetch_order(str(r["orders"][0]["orderId"]), "BTC/USDT")["status"] == "closed"
    assert [ex.fetch_order(i, "BTC/USDT")["info"]["status"] for i in pending] == ["NEW", "NEW"]
    ex.privateDeleteOrderList({"symbol": "BTCUSDT", "orderListId": r["orderListId"]})
    assert [ex.fetch_order(i, "BTC/USDT")["status"] for i in pending] == ["canceled", "canceled"]


def test_oto_cancel_of_one_order_cancels_the_list(ex: Any) -> None:
    p = last(ex)
    r = ex.privatePostOrderListOto({
        "symbol": "BTCUSDT",
        "workingType": "LIMIT_MAKER",
        "workingSide": "BUY",
        "workingPrice": px(p * D("0.9")),
        "workingQuantity": "0.001",
        "pendingType": "LIMIT",
        "pendingSide": "SELL",
        "pendingPrice": px(p * D("1.1")),
        "pendingQuantity": "0.0009",
        "pendingTimeInForce": "GTC",
    })  # fmt: skip
    working, pending = (str(o["orderId"]) for o in r["orders"])
    ex.cancel_order(working, "BTC/USDT")
    assert ex.fetch_order(pending, "BTC/USDT")["status"] == "canceled"
    assert ex.privateGetOrderList({"orderListId": r["orderListId"]})["listOrderStatus"] == "ALL_DONE"


def test_weights_as_documented(ed_net: Localnet, ex: Any) -> None:
    from kit.localnet.limits import weight

    assert weight("POST", "/api/v3/orderList/oco", {}) == 1
    assert weight("GET", "/api/v3/orderList", {}) == 4
    assert weight("GET", "/api/v3/allOrderList", {}) == 20
    assert weight("GET", "/api/v3/openOrderList", {}) == 6
    ex.privateGetOpenOrderList()
    used = int(ex.last_response_headers["X-MBX-USED-WEIGHT-1M"])
    ex.privateGetAllOrderList()
    assert int(ex.last_response_headers["X-MBX-USED-WEIGHT-1M"]) - used == 20


# ---------------------------------------------------------------- WebSocket API and listStatus
def test_ws_api_list_methods_and_list_status_events(ed_net: Localnet) -> None:
    import base64

    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from kit.localnet.streams_wsapi import canonical_query

    ed = ed_net.keys["ed"]
    private: Any = load_pem_private_key(ed.secret.reveal().encode(), password=None)

    def signed(**params: Any) -> dict[str, Any]:
        out = {**params, "apiKey": ed.api_key, "timestamp": ed_net.call(lambda v: v.server_ms())}
        out["signature"] = base64.b64encode(private.sign(canonical_query(out).encode())).decode()
        return out

    async def main() -> None:
        async with aiohttp.ClientSession() as http, http.ws_connect(f"{ed_net.ws_url}/ws-api/v3") as ws:
            n = 0
            events: list[dict[str, Any]] = []

            async def call(method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
                nonlocal n
                n += 1
                await ws.send_str(json.dumps({"id": n, "method": method, **({"params": params} if params else {})}))
                while True:
                    data = json.loads((await asyncio.wait_for(ws.receive(), 5)).data)
                    if "event" in data:
                        events.append(data["event"])
                        continue
                    return dict(data)

            assert (await call("session.logon", signed()))["status"] == 200
            assert (await call("userDataStream.subscribe"))["status"] == 200
            book = (await call("ticker.book", {"symbol": "BTCUSDT"}))["result"]
            p = D(book["bidPrice"])
            placed = await call("orderList.place.oco", signed(
                symbol="BTCUSDT", side="SELL", quantity="0.001", aboveType="LIMIT_MAKER", abovePrice=px(p * D("1.05")),
                belowType="STOP_LOSS", belowStopPrice=px(p * D("0.95")), listClientOrderId="ws-list-1"))  # fmt: skip
            assert placed["status"] == 200, placed
            assert [r["rateLimitType"] for r in placed["rateLimits"]] == ["ORDERS", "ORDERS", "REQUEST_WEIGHT"]
            lid = placed["result"]["orderListId"]
            status = await call("orderList.status", signed(orderListId=lid))
            assert status["result"]["listClientOrderId"] == "ws-list-1"
            assert lid in [x["orderListId"] for x in (await call("openOrderLists.status", signed()))["result"]]
            canceled = await call("orderList.cancel", signed(symbol="BTCUSDT", orderListId=lid))
            assert canceled["result"]["listOrderStatus"] == "ALL_DONE"
            assert lid in [x["orderListId"] for x in (await call("allOrderLists", signed()))["result"]]
            for _ in range(20):
                if sum(1 for e in events if e["e"] == "listStatus") >= 2:
                    break
                data = json.loads((await asyncio.wait_for(ws.receive(), 5)).data)
                if "event" in data:
                    events.append(data["event"])
            lists = [e for e in events if e["e"] == "listStatus"]
            assert [(e["l"], e["L"], e["c"], e["C"], e["g"]) for e in lists] == [
                ("EXEC_STARTED", "EXECUTING", "OCO", "ws-list-1", lid),
                ("ALL_DONE", "ALL_DONE", "OCO", "ws-list-1", lid),
            ]
            reports = [e for e in events if e["e"] == "executionReport"]
            assert {e["g"] for e in reports} == {lid}
            assert sorted(e["X"] for e in reports) == ["CANCELED", "CANCELED", "NEW", "NEW"]

    asyncio.run(asyncio.wait_for(main(), 30))


def test_lists_survive_a_restart(tmp_path: Any, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    cfg = LocalnetConfig(stepped=True, seed=11, history_minutes=60, state_dir=tmp_path, limits=LIMITS)
    with start(config=cfg) as net:
        ex = net.client("trader", enableRateLimit=False)
        p = last(ex)
        open_list = sell_oco(ex, p)
        done = sell_oco(ex, p)
        ex.privateDeleteOrderList({"symbol": "BTCUSDT", "orderListId": done["orderListId"]})
        balances = {k: v for k, v in ex.fetch_balance()["total"].items() if v}
        used = ex.fetch_balance()["BTC"]["used"]
    caplog.set_level(logging.WARNING, logger="kit.localnet")
    with start(config=cfg) as net2:
        ex2 = net2.client("trader", enableRateLimit=False)
        assert {k: v for k, v in ex2.fetch_balance()["total"].items() if v} == balances
        assert ex2.fetch_balance()["BTC"]["used"] == used
        assert [x["orderListId"] for x in ex2.privateGetOpenOrderList()] == [open_list["orderListId"]]
        got = ex2.privateGetOrderList({"orderListId": done["orderListId"]})
        assert got["listOrderStatus"] == "ALL_DONE"
        ex2.privateDeleteOrderList({"symbol": "BTCUSDT", "listClientOrderId": open_list["listClientOrderId"]})
        assert not ex2.privateGetOpenOrderList()
    assert not [r for r in caplog.records if "differs" in r.getMessage()]  # the replay matched the snapshots


def test_execution_reports_carry_the_list_id_and_binance_expiry_reason() -> None:
    from kit.engine import Engine, Market, OrderRequest, OrderType, Side, Trade
    from kit.engine.types import Contingency, OrderListRequest
    from kit.localnet import wire

    eng = Engine([Market("BTC/USDT", "BTC", "USDT", tick_size=D("0.01"), step_size=D("0.001"))])
    eng.open_account("a", {"BTC": "1"})
    eng.mark("BTC/USDT", D("100"), 0)
    tp = OrderRequest("BTC/USDT", Side.SELL, OrderType.LIMIT, quantity=D("1"), price=D("110"), post_only=True)
    sl = OrderRequest("BTC/USDT", Side.SELL, OrderType.STOP_MARKET, quantity=D("1"), trigger_price=D("90"))
    eng.submit_list("a", OrderListRequest(Contingency.OCO, (tp, sl), "L"), ts_ms=1)
    ev = eng.on_trade("BTC/USDT", Trade(2, D("89"), D("5"), Side.SELL))
    orders = [e for e in ev if e.order is not None and e.kind.value != "triggered"]
    reports = [wire.execution_report(e, {}, "BTCUSDT") for e in orders]
    assert [(r["X"], r["g"], r.get("eR")) for r in reports] == [("EXPIRED", 1, "OCO_TRIGGER"), ("FILLED", 1, None)]


# ---------------------------------------------------------------- OPO and OPOCO (faqs/opo.md)
def at_price(ed_net: Localnet, price: str) -> None:
    """Move the market to ``price`` (the docs' examples trade BTCUSDT near 102 500)."""
    ed_net.inject_trade("BTCUSDT", price, "0.01")
    ed_net.step(1000)


def test_opo_with_the_docs_example_pays_the_pending_sell_from_the_working_buy(ed_net: Localnet, ex: Any) -> None:
    """rest-api.md "New Order List - OPO": a BUY LIMIT 0.0006 at 102264 and a pending SELL MARKET.

    The placement answers as the docs' example (``contingencyType`` "OTO", the pending report
    ``PENDING_NEW`` with no ``origQty``, ``workingTime`` -1) and locks only the working order's
    funds. When the buy is fully filled the market sell is placed for what it received: the FAQ
    takes the commission from the free BTC balance when it covers it, so the sell is the whole
    0.0006, and it executes. Both trades carry the list's ``orderListId`` in ``myTrades``.
    """
    at_price(ed_net, "102600")
    btc = ex.fetch_balance()["BTC"]
    r = ex.privatePostOrderListOpo({
        "symbol": "BTCUSDT",
        "workingType": "LIMIT",
        "workingSide": "BUY",
        "workingPrice": "102264",
        "workingQuantity": "0.0006",
        "workingTimeInForce": "GTC",
        "pendingType": "MARKET",
        "pendingSide": "SELL",
    })  # fmt: skip
    assert (r["contingencyType"], r["listStatusType"], r["listOrderStatus"]) == ("OTO", "EXEC_STARTED", "EXECUTING")
    working, pending = r["orderReports"]
    assert (working["status"], working["type"], working["side"], working["origQty"]) == (
        "NEW", "LIMIT", "BUY", "0.00060000")  # fmt: skip
    assert (pending["status"], pending["type"], pending["side"], pending["workingTime"]) == (
        "PENDING_NEW", "MARKET", "SELL", -1)  # fmt: skip
    assert "origQty" not in pending and pending["price"] == "0.00000000"
    assert ex.fetch_balance()["BTC"]["used"] == btc["used"]  # the pending sell locks nothing yet
    ed_net.inject_trade("BTCUSDT", "102200", "1", side="sell")  # trades through the buy: it fills in full
    ed_net.step(1000)
    lid = r["orderListId"]
    buy = ex.fetch_order(str(working["orderId"]), "BTC/USDT")
    sell = ex.fetch_order(str(pending["orderId"]), "BTC/USDT")
    assert (buy["status"], buy["filled"]) == ("closed", 0.0006)
    assert (sell["status"], sell["side"], sell["amount"], sell["filled"]) == ("closed", "sell", 0.0006, 0.0006)
    trades = ex.privateGetMyTrades({"symbol": "BTCUSDT", "limit": 50})
    ours = {t["orderId"]: t["orderListId"] for t in trades}
    assert ours[working["orderId"]] == ours[pending["orderId"]] == lid
    fees = [(D(t["commission"]), t["commissionAsset"]) for t in trades if t["orderId"] == working["orderId"]]
    fee = sum(f for f, _ in fees)
    assert fee > 0 and {a for _, a in fees} == {"BTC"}
    after = ex.fetch_balance()["BTC"]
    assert D(str(after["total"])) == D(str(btc["total"])) - fee  # bought 0.0006, sold 0.0006, paid the fee
    assert after["used"] == btc["used"]
    plain = ex.create_order("BTC/USDT", "market", "buy", 0.001)
    mine = ex.privateGetMyTrades({"symbol": "BTCUSDT", "orderId": plain["id"]})
    assert mine and {t["orderListId"] for t in mine} == {-1}  # outside a list: -1, as Binance


def test_opoco_with_the_docs_example_sizes_its_pair_at_the_fill(ed_net: Localnet, ex: Any) -> None:
    """rest-api.md "New Order List - OPOCO": BUY LIMIT 0.0017 at 102496, then a SELL pair: a
    STOP_LOSS_LIMIT (101613, stop 10100 as the example gives it) and a LIMIT_MAKER at 104261.

    The fill places the pair for the received 0.0017 (one shared lock); cancelling the list then
    cancels the pair and unlocks it. (Partial fills: tests/engine/test_order_lists.py, where a
    print's size bounds a fill; here the synthetic book fills the buy at once.)
    """
    at_price(ed_net, "102600")
    btc = ex.fetch_balance()["BTC"]
    r = ex.privatePostOrderListOpoco({
        "symbol": "BTCUSDT",
        "workingType": "LIMIT",
        "workingSide": "BUY",
        "workingPrice": "102496",
        "workingQuantity": "0.0017",
        "workingTimeInForce": "GTC",
        "pendingSide": "SELL",
        "pendingBelowType": "STOP_LOSS_LIMIT",
        "pendingBelowPrice": "101613",
        "pendingBelowStopPrice": "10100",
        "pendingBelowTimeInForce": "GTC",
        "pendingAboveType": "LIMIT_MAKER",
        "pendingAbovePrice": "104261",
    })  # fmt: skip
    assert r["contingencyType"] == "OTO" and len(r["orders"]) == 3
    reports = {o["type"]: o for o in r["orderReports"]}
    assert [reports[t]["status"] for t in ("LIMIT", "STOP_LOSS_LIMIT", "LIMIT_MAKER")] == ["NEW", "PENDING_NEW",
                                                                                            "PENDING_NEW"]  # fmt: skip
    assert reports["STOP_LOSS_LIMIT"]["stopPrice"] == "10100.00000000" and "origQty" not in reports["LIMIT_MAKER"]
    assert ex.fetch_order(str(reports["LIMIT_MAKER"]["orderId"]), "BTC/USDT")["info"]["status"] == "PENDING_NEW"
    ed_net.inject_trade("BTCUSDT", "102400", "1", side="sell")
    ed_net.step(1000)
    pair = [ex.fetch_order(str(reports[t]["orderId"]), "BTC/USDT") for t in ("STOP_LOSS_LIMIT", "LIMIT_MAKER")]
    assert [(o["info"]["status"], o["amount"]) for o in pair] == [("NEW", 0.0017), ("NEW", 0.0017)]
    assert D(str(ex.fetch_balance()["BTC"]["used"])) == D(str(btc["used"])) + D("0.0017")  # locked once
    done = ex.privateDeleteOrderList({"symbol": "BTCUSDT", "orderListId": r["orderListId"]})
    assert done["listOrderStatus"] == "ALL_DONE"
    assert [ex.fetch_order(str(o["id"]), "BTC/USDT")["status"] for o in pair] == ["canceled", "canceled"]
    assert ex.fetch_balance()["BTC"]["used"] == btc["used"]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"workingSide": "SELL"}, -1222),  # errors.md: Working order in an OPO list must be a bid.
        ({"pendingSide": "BUY"}, -1223),  # Pending orders in an OPO list must be asks.
        ({"pendingQuantity": "0.001"}, -1104),  # not a parameter of orderList/opo
    ],
)
def test_opo_refusals_with_binance_codes(ex: Any, change: dict[str, Any], code: int) -> None:
    params = {"symbol": "BTCUSDT", "workingType": "LIMIT_MAKER", "workingSide": "BUY", "workingPrice": "50000",
              "workingQuantity": "0.001", "pendingType": "MARKET", "pendingSide": "SELL", **change}  # fmt: skip
    with pytest.raises(ccxt.BaseError) as err:
        ex.privatePostOrderListOpo(params)
    assert f'"code":{code}' in str(err.value).replace(" ", "")


def test_ws_api_places_an_opo(ed_net: Localnet) -> None:
    """``orderList.place.opo`` on the WebSocket API, framed over the same handler (web-socket-api.md)."""
    import base64

    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from kit.localnet.streams_wsapi import canonical_query

    ed = ed_net.keys["ed"]
    private: Any = load_pem_private_key(ed.secret.reveal().encode(), password=None)
    params: dict[str, Any] = {"symbol": "BTCUSDT", "workingType": "LIMIT_MAKER", "workingSide": "BUY",
                              "workingPrice": "50000", "workingQuantity": "0.001", "pendingType": "LIMIT_MAKER",
                              "pendingSide": "SELL", "pendingPrice": "200000", "apiKey": ed.api_key,
                              "timestamp": ed_net.call(lambda v: v.server_ms())}  # fmt: skip
    params["signature"] = base64.b64encode(private.sign(canonical_query(params).encode())).decode()

    async def main() -> dict[str, Any]:
        async with aiohttp.ClientSession() as http, http.ws_connect(f"{ed_net.ws_url}/ws-api/v3") as ws:
            await ws.send_str(json.dumps({"id": 1, "method": "orderList.place.opo", "params": params}))
            return dict(json.loads((await asyncio.wait_for(ws.receive(), 5)).data))

    got = asyncio.run(main())
    assert got["status"] == 200, got
    assert [o["status"] for o in got["result"]["orderReports"]] == ["NEW", "PENDING_NEW"]
    assert [r["rateLimitType"] for r in got["rateLimits"]] == ["ORDERS", "ORDERS", "REQUEST_WEIGHT"]
    ex = ed_net.client("trader", enableRateLimit=False)
    ex.privateDeleteOrderList({"symbol": "BTCUSDT", "orderListId": got["result"]["orderListId"]})
