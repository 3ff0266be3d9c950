"""``POST /api/v3/order/cancelReplace`` through the real ccxt client (``edit_order``).

Binance's rules (rest-api.md "Cancel an Existing Order and Send a New Order"): the cancel comes
first; a failed cancel with ``STOP_ON_FAILURE`` stops there (-2022, HTTP 400); one part failing
is -2021 (HTTP 409), both -2022 (400); filters and the order count are checked before anything
happens. With the local URL ccxt looks codes up in its common table only, where -2021/-2022 are
missing, so it raises a plain ``ExchangeError`` carrying the body (``BadResponse`` against
``api.binance.com``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import ccxt
import pytest

from kit.localnet import LimitsConfig, LocalnetConfig
from kit.localnet.server import Localnet, start


def _book(ex: Any, symbol: str = "BTC/USDT") -> tuple[float, float]:
    ob = ex.fetch_order_book(symbol, 5)
    return ob["bids"][0][0], ob["asks"][0][0]


def _cid() -> str:
    return "cr-" + uuid.uuid4().hex[:20]


def _last_status(net_state: Path, path: str = "/api/v3/order/cancelReplace") -> int:
    """HTTP status of the latest logged request to ``path`` (ccxt does not keep it)."""
    lines = (net_state / "requests.log").read_text().splitlines()
    return next(e["status"] for e in map(json.loads, reversed(lines)) if e["path"] == path)


def _data(exc: BaseException) -> dict[str, Any]:
    """The JSON body ccxt put in the message (``"binance {...}"``)."""
    return dict(json.loads(str(exc).split(" ", 1)[1]))


def _open_ids(ex: Any, symbol: str = "BTC/USDT") -> set[str]:
    return {o["id"] for o in ex.fetch_open_orders(symbol)}


def _gone(ex: Any, cid: str, symbol: str = "BTC/USDT") -> bool:
    try:
        ex.fetch_order(None, symbol, {"origClientOrderId": cid})
    except ccxt.OrderNotFound:
        return True
    return False


def _partially_filled(net: Localnet, ex: Any) -> tuple[dict[str, Any], str]:
    """A BTC/USDT buy of 0.02 with part of it filled; returns it and the price to restore."""
    bid, _ = _book(ex)
    price = round(bid * 0.97, 2)
    o = ex.create_order("BTC/USDT", "limit", "buy", 0.02, price)
    last = net.call(lambda v: str(v.last_price["BTCUSDT"]))
    net.inject_trade("BTCUSDT", round(price - 0.05, 2), "0.005", side="sell")  # trades through
    net.inject_trade("BTCUSDT", last, "0.001")  # and the market comes back
    net.step(1_000)
    got = ex.fetch_order(o["id"], "BTC/USDT")
    assert got["info"]["status"] == "PARTIALLY_FILLED" and 0 < got["filled"] < 0.02
    return got, last


# ---------------------------------------------------------------------- success
def test_edit_resting_limit_moves_the_lock(ex: Any) -> None:
    assert ex.load_markets()["BTC/USDT"]["info"]["cancelReplaceAllowed"] is True
    bid, _ = _book(ex)
    p1, p2 = round(bid * 0.9, 2), round(bid * 0.91, 2)
    before = ex.fetch_balance()["USDT"]["used"]
    old = ex.create_order("BTC/USDT", "limit", "buy", 0.001, p1)
    assert ex.fetch_balance()["USDT"]["used"] == pytest.approx(before + 0.001 * p1)
    cid = _cid()
    new = ex.edit_order(old["id"], "BTC/USDT", "limit", "buy", 0.002, p2, {"clientOrderId": cid})
    assert (new["status"], new["clientOrderId"], new["amount"], new["price"]) == ("open", cid, 0.002, p2)
    assert new["id"] != old["id"] and new["filled"] == 0
    body = json.loads(ex.last_http_response)
    assert (body["cancelResult"], body["newOrderResult"]) == ("SUCCESS", "SUCCESS")
    cancel = body["cancelResponse"]
    assert (cancel["orderId"], cancel["status"], cancel["origClientOrderId"]) == (
        int(old["id"]),
        "CANCELED",
        old["clientOrderId"],
    )
    assert {"transactTime", "origQty", "executedQty", "cummulativeQuoteQty", "type", "side"} <= set(cancel)
    assert body["newOrderResponse"]["clientOrderId"] == cid and "fills" in body["newOrderResponse"]  # FULL
    assert ex.fetch_order(old["id"], "BTC/USDT")["status"] == "canceled"
    assert ex.fetch_order(new["id"], "BTC/USDT")["price"] == p2
    open_ids = _open_ids(ex)
    assert new["id"] in open_ids and old["id"] not in open_ids
    assert ex.fetch_balance()["USDT"]["used"] == pytest.approx(before + 0.002 * p2)
    ex.cancel_order(new["id"], "BTC/USDT")
    assert ex.fetch_balance()["USDT"]["used"] == pytest.approx(before)


def test_edit_by_client_ids_and_cancel_client_id(ex: Any) -> None:
    bid, _ = _book(ex)
    old_cid, cancel_cid, new_cid = _cid(), _cid(), _cid()
    old = ex.create_order("BTC/USDT", "limit", "buy", 0.001, round(bid * 0.9, 2), {"clientOrderId": old_cid})
    raw = ex.private_post_order_cancelreplace(
        {
            "symbol": "BTCUSDT",
            "side": "BUY",
            "type": "LIMIT_MAKER",
            "quantity": "0.001",
            "price": f"{bid * 0.92:.2f}",
            "cancelReplaceMode": "STOP_ON_FAILURE",
            "cancelOrigClientOrderId": old_cid,
            "cancelNewClientOrderId": cancel_cid,
            "newClientOrderId": new_cid,
        }
    )
    assert raw["cancelResponse"]["clientOrderId"] == cancel_cid
    assert raw["cancelResponse"]["origClientOrderId"] == old_cid
    ack = raw["newOrderResponse"]  # LIMIT_MAKER answers ACK by default
    assert set(ack) == {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}
    assert ex.fetch_order(old["id"], "BTC/USDT")["status"] == "canceled"
    assert ex.fetch_order(str(ack["orderId"]), "BTC/USDT")["info"]["type"] == "LIMIT_MAKER"
    ex.cancel_order(str(ack["orderId"]), "BTC/USDT")


def test_edit_that_crosses_fills_at_once(ex: Any) -> None:
    bid, ask = _book(ex)
    bal = ex.fetch_balance()
    old = ex.create_order("BTC/USDT", "limit", "buy", 0.001, round(bid * 0.9, 2))
    new = ex.edit_order(old["id"], "BTC/USDT", "limit", "buy", 0.001, round(ask * 1.01, 2))
    assert new["status"] == "closed" and new["filled"] == 0.001 and new["trades"]
    assert new["average"] <= ask * 1.01
    assert ex.fetch_order(old["id"], "BTC/USDT")["status"] == "canceled"
    after = ex.fetch_balance()
    assert after["USDT"]["used"] == pytest.approx(bal["USDT"]["used"])  # nothing left locked
    assert after["BTC"]["total"] > bal["BTC"]["total"]


def test_edit_partially_filled_order(net: Localnet, ex: Any) -> None:
    old, last = _partially_filled(net, ex)
    bid, _ = _book(ex)
    new = ex.edit_order(old["id"], "BTC/USDT", "limit", "buy", 0.01, round(bid * 0.95, 2))
    assert (new["status"], new["amount"], new["filled"]) == ("open", 0.01, 0)  # a fresh order
    cancel = json.loads(ex.last_http_response)["cancelResponse"]
    assert cancel["status"] == "CANCELED" and float(cancel["executedQty"]) == pytest.approx(old["filled"])
    again = ex.fetch_order(old["id"], "BTC/USDT")
    assert again["status"] == "canceled" and again["filled"] == pytest.approx(old["filled"])
    ex.cancel_order(new["id"], "BTC/USDT")
    net.inject_trade("BTCUSDT", last, "0.001")


# ---------------------------------------------------------------------- failures
def test_cancel_fails_new_order_not_attempted(net: Localnet, net_state: Path, ex: Any) -> None:
    filled = ex.create_order("BTC/USDT", "market", "buy", 0.001)
    bid, _ = _book(ex)
    before = _open_ids(ex)
    for target in (filled["id"], "987654321"):
        cid = _cid()
        with pytest.raises(ccxt.ExchangeError) as info:
            ex.edit_order(target, "BTC/USDT", "limit", "buy", 0.001, round(bid * 0.9, 2), {"clientOrderId": cid})
        assert type(info.value) is ccxt.ExchangeError  # -2022 is not in ccxt's common table
        body = _data(info.value)
        assert (body["code"], body["msg"]) == (-2022, "Order cancel-replace failed.")
        assert body["data"] == {
            "cancelResult": "FAILURE",
            "newOrderResult": "NOT_ATTEMPTED",
            "cancelResponse": {"code": -2011, "msg": "Unknown order sent."},
            "newOrderResponse": None,
        }
        assert _last_status(net_state) == 400
        assert _gone(ex, cid) and _open_ids(ex) == before


def test_cancel_ok_new_order_rejected(net_state: Path, ex: Any) -> None:
    bid, ask = _book(ex)
    cases = [
        ("limit", 5, round(bid * 0.9, 2), {}, -2010, "Account has insufficient balance for requested action."),
        ("limit", 0.001, round(ask * 1.01, 2), {"postOnly": True}, -2010, "Order would immediately match and take."),
    ]
    for typ, amount, price, extra, code, msg in cases:
        old = ex.create_order("BTC/USDT", "limit", "buy", 0.001, round(bid * 0.9, 2))
        cid = _cid()
        with pytest.raises(ccxt.ExchangeError) as info:
            ex.edit_order(old["id"], "BTC/USDT", typ, "buy", amount, price, {"clientOrderId": cid, **extra})
        assert type(info.value) is ccxt.ExchangeError
        body = _data(info.value)
        assert (body["code"], body["msg"]) == (-2021, "Order cancel-replace partially failed.")
        data = body["data"]
        assert (data["cancelResult"], data["newOrderResult"]) == ("SUCCESS", "FAILURE")
        assert data["cancelResponse"]["status"] == "CANCELED"
        assert data["newOrderResponse"] == {"code": code, "msg": msg}
        assert _last_status(net_state) == 409
        assert ex.fetch_order(old["id"], "BTC/USDT")["status"] == "canceled"  # the cancel stays
        assert _gone(ex, cid) and old["id"] not in _open_ids(ex)


def test_filters_are_checked_before_the_cancel(ex: Any) -> None:
    bid, _ = _book(ex)
    old = ex.create_order("BTC/USDT", "limit", "buy", 0.001, round(bid * 0.9, 2))
    base = {"symbol": "BTCUSDT", "side": "BUY", "cancelReplaceMode": "STOP_ON_FAILURE", "cancelOrderId": old["id"]}
    limit = {"type": "LIMIT", "timeInForce": "GTC", "price": f"{bid * 0.9:.2f}"}
    with pytest.raises(ccxt.InvalidOrder, match="LOT_SIZE"):
        ex.private_post_order_cancelreplace({**base, **limit, "quantity": "0.000015"})
    with pytest.raises(ccxt.BadRequest, match="-1102"):
        ex.private_post_order_cancelreplace({**base, "type": "LIMIT", "quantity": "0.001"})
    with pytest.raises(ccxt.BadRequest, match="-1102"):  # no order to cancel named
        ex.private_post_order_cancelreplace({**base, **limit, "quantity": "0.001", "cancelOrderId": ""})
    with pytest.raises(ccxt.BadRequest, match="-1102.*cancelReplaceMode"):
        ex.private_post_order_cancelreplace({**base, **limit, "quantity": "0.001", "cancelReplaceMode": ""})
    with pytest.raises(ccxt.ExchangeError, match="-1145"):  # BadRequest only in ccxt's binance.com table
        ex.private_post_order_cancelreplace({**base, **limit, "quantity": "0.001", "cancelRestrictions": "NEVER"})
    with pytest.raises(ccxt.BadRequest, match="-1104"):
        ex.private_post_order_cancelreplace({**base, **limit, "quantity": "0.001", "computeCommissionRates": "1"})
    assert ex.fetch_order(old["id"], "BTC/USDT")["status"] == "open"  # untouched by all of these
    ex.cancel_order(old["id"], "BTC/USDT")


def test_allow_failure_modes(net_state: Path, ex: Any) -> None:
    bid, ask = _book(ex)
    cid = _cid()
    allow = {"cancelReplaceMode": "ALLOW_FAILURE", "clientOrderId": cid}
    with pytest.raises(ccxt.ExchangeError) as info:  # nothing to cancel, the new order goes in
        ex.edit_order("987654321", "BTC/USDT", "limit", "buy", 0.001, round(bid * 0.9, 2), allow)
    body = _data(info.value)
    assert body["code"] == -2021 and _last_status(net_state) == 409
    assert (body["data"]["cancelResult"], body["data"]["newOrderResult"]) == ("FAILURE", "SUCCESS")
    placed = ex.fetch_order(None, "BTC/USDT", {"origClientOrderId": cid})
    assert placed["status"] == "open" and body["data"]["newOrderResponse"]["orderId"] == int(placed["id"])
    ex.cancel_order(placed["id"], "BTC/USDT")
    both = {"cancelReplaceMode": "ALLOW_FAILURE", "postOnly": True}
    with pytest.raises(ccxt.ExchangeError) as info:
        ex.edit_order("987654321", "BTC/USDT", "limit", "buy", 0.001, round(ask * 1.01, 2), both)
    body = _data(info.value)
    assert (body["code"], body["msg"]) == (-2022, "Order cancel-replace failed.") and _last_status(net_state) == 400
    assert (body["data"]["cancelResult"], body["data"]["newOrderResult"]) == ("FAILURE", "FAILURE")
    assert body["data"]["newOrderResponse"]["code"] == -2010


def test_cancel_restrictions(net: Localnet, ex: Any) -> None:
    old, last = _partially_filled(net, ex)
    bid, _ = _book(ex)
    cid = _cid()
    with pytest.raises(ccxt.ExchangeError) as info:
        ex.edit_order(
            old["id"], "BTC/USDT", "limit", "buy", 0.01, round(bid * 0.95, 2), {"cancelRestrictions": "ONLY_NEW"}
        )
    assert _data(info.value)["data"]["cancelResponse"] == {
        "code": -2011,
        "msg": "Order was not canceled due to cancel restrictions.",
    }
    still = ex.fetch_order(old["id"], "BTC/USDT")
    assert still["status"] == "open" and still["filled"] == pytest.approx(old["filled"]) and _gone(ex, cid)
    new = ex.edit_order(
        old["id"],
        "BTC/USDT",
        "limit",
        "buy",
        0.01,
        round(bid * 0.95, 2),
        {"cancelRestrictions": "ONLY_PARTIALLY_FILLED", "clientOrderId": cid},
    )
    assert new["clientOrderId"] == cid and ex.fetch_order(old["id"], "BTC/USDT")["status"] == "canceled"
    with pytest.raises(ccxt.ExchangeError, match="cancel restrictions"):  # the new one is NEW, not partial
        ex.edit_order(
            new["id"],
            "BTC/USDT",
            "limit",
            "buy",
            0.01,
            round(bid * 0.94, 2),
            {"cancelRestrictions": "ONLY_PARTIALLY_FILLED"},
        )
    with pytest.raises(ccxt.OrderNotFound, match="cancel restrictions"):  # DELETE order knows them too
        ex.cancel_order(new["id"], "BTC/USDT", {"cancelRestrictions": "ONLY_PARTIALLY_FILLED"})
    assert ex.cancel_order(new["id"], "BTC/USDT", {"cancelRestrictions": "ONLY_NEW"})["status"] == "canceled"
    net.inject_trade("BTCUSDT", last, "0.001")


# ---------------------------------------------------------------------- limits, faults
def test_weight_one_and_one_unfilled_order(ex: Any) -> None:
    bid, ask = _book(ex)
    old = ex.create_order("BTC/USDT", "limit", "buy", 0.001, round(bid * 0.9, 2))
    h = ex.last_response_headers
    weight, count = int(h["X-MBX-USED-WEIGHT-1M"]), int(h["X-MBX-ORDER-COUNT-10S"])
    new = ex.edit_order(old["id"], "BTC/USDT", "limit", "buy", 0.001, round(bid * 0.91, 2))
    h = ex.last_response_headers
    assert int(h["X-MBX-USED-WEIGHT-1M"]) == weight + 1
    assert int(h["X-MBX-ORDER-COUNT-10S"]) == count + 1
    assert int(h["X-MBX-ORDER-COUNT-1D"]) >= count + 1
    ex.edit_order(new["id"], "BTC/USDT", "limit", "buy", 0.001, round(ask * 1.01, 2))  # trades at once
    h = ex.last_response_headers
    assert int(h["X-MBX-USED-WEIGHT-1M"]) == weight + 2 and int(h["X-MBX-ORDER-COUNT-10S"]) == count + 1


def test_order_count_limit_comes_first(make_localnet: Any) -> None:
    limits = LimitsConfig(weight_per_minute=10**6, orders_per_10s=2, orders_per_day=1000)
    with make_localnet(limits=limits) as net:
        ex = net.client("trader", enableRateLimit=False)
        bid, _ = _book(ex)
        a = ex.create_order("BTC/USDT", "limit", "buy", 0.001, round(bid * 0.9, 2))
        b = ex.edit_order(a["id"], "BTC/USDT", "limit", "buy", 0.001, round(bid * 0.91, 2))
        with pytest.raises(ccxt.DDoSProtection, match="-1015"):  # DO_NOTHING: nothing happens (HTTP 429, as Binance)
            ex.edit_order(b["id"], "BTC/USDT", "limit", "buy", 0.001, round(bid * 0.92, 2))
        assert ex.fetch_order(b["id"], "BTC/USDT")["status"] == "open"
        with pytest.raises(ccxt.DDoSProtection, match="-2021"):  # CANCEL_ONLY + STOP_ON_FAILURE: 429
            ex.edit_order(
                b["id"],
                "BTC/USDT",
                "limit",
                "buy",
                0.001,
                round(bid * 0.92, 2),
                {"orderRateLimitExceededMode": "CANCEL_ONLY"},
            )
        assert ex.fetch_order(b["id"], "BTC/USDT")["status"] == "canceled"
        assert not ex.fetch_open_orders("BTC/USDT")


def test_dropped_ack_the_edit_still_happens(net: Localnet, ex: Any) -> None:
    bid, _ = _book(ex)
    old = ex.create_order("BTC/USDT", "limit", "buy", 0.001, round(bid * 0.9, 2))
    cid = _cid()
    net.set_faults(drop_ack_rate=1.0)
    with pytest.raises(ccxt.NetworkError) as info:
        ex.edit_order(old["id"], "BTC/USDT", "limit", "buy", 0.001, round(bid * 0.91, 2), {"clientOrderId": cid})
    assert type(info.value) is ccxt.NetworkError
    with pytest.raises(ccxt.NetworkError):  # also when the cancel failed but the new order went in (409)
        ex.edit_order(
            "987654321",
            "BTC/USDT",
            "limit",
            "buy",
            0.001,
            round(bid * 0.9, 2),
            {"cancelReplaceMode": "ALLOW_FAILURE", "clientOrderId": cid + "b"},
        )
    net.set_faults(drop_ack_rate=0.0)
    assert ex.fetch_order(old["id"], "BTC/USDT")["status"] == "canceled"
    for c in (cid, cid + "b"):
        found = ex.fetch_order(None, "BTC/USDT", {"origClientOrderId": c})
        assert found["status"] == "open"
        ex.cancel_order(found["id"], "BTC/USDT")


# ---------------------------------------------------------------------- user stream, restart
async def _until(check: Callable[[], Awaitable[bool]] | Callable[[], bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while True:
        ok = check()
        if asyncio.iscoroutine(ok):
            ok = await ok
        if ok:
            return
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def test_user_stream_sees_canceled_then_new(net: Localnet) -> None:
    queue = net.call(lambda v: v.hub.subscribe(("user", "main")))  # the raw reports, server side

    async def body(pro: Any) -> None:
        await pro.load_markets()
        watch = asyncio.ensure_future(pro.watch_orders("BTC/USDT"))
        await _until(lambda: "orders:BTC/USDT" in {h for c in pro.clients.values() for h in c.futures}, "watch")
        await asyncio.to_thread(net.call, lambda v: [queue.get_nowait() for _ in range(queue.qsize())])
        bid = (await pro.fetch_order_book("BTC/USDT", 5))["bids"][0][0]
        old = await pro.create_order("BTC/USDT", "limit", "buy", 0.001, round(bid * 0.9, 2))
        assert (await watch)[-1]["id"] == old["id"]
        watch = asyncio.ensure_future(pro.watch_orders("BTC/USDT"))
        await _until(lambda: "orders:BTC/USDT" in {h for c in pro.clients.values() for h in c.futures}, "watch")
        new = await pro.edit_order(old["id"], "BTC/USDT", "limit", "buy", 0.002, round(bid * 0.91, 2))
        first = (await watch)[0]
        assert (first["id"], first["status"]) == (old["id"], "canceled")

        def both_seen() -> bool:
            ids = [o["id"] for o in pro.orders]
            return new["id"] in ids and ids.index(new["id"]) > ids.index(old["id"])

        await _until(both_seen, "the new order after the canceled one")
        streamed = next(o for o in pro.orders if o["id"] == new["id"])
        assert (streamed["status"], streamed["amount"], streamed["price"]) == ("open", 0.002, round(bid * 0.91, 2))
        await pro.cancel_order(new["id"], "BTC/USDT")

    async def main() -> None:
        pro = net.client("trader", pro=True, enableRateLimit=False)
        try:
            await asyncio.wait_for(body(pro), 60)
        finally:
            await pro.close()

    try:
        asyncio.run(main())
        reports = net.call(lambda v: [queue.get_nowait() for _ in range(queue.qsize())])
    finally:
        net.call(lambda v: v.hub.unsubscribe(("user", "main"), queue))
    seq = [(r["i"], r["x"], r["X"]) for r in reports if r["e"] == "executionReport"]
    old_id, new_id = seq[0][0], seq[2][0]
    assert seq[:3] == [(old_id, "NEW", "NEW"), (old_id, "CANCELED", "CANCELED"), (new_id, "NEW", "NEW")]
    assert new_id > old_id


def test_edit_survives_a_restart(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    big = LimitsConfig(weight_per_minute=10**9, orders_per_10s=10**9, orders_per_day=10**9)
    cfg = LocalnetConfig(stepped=True, seed=11, history_minutes=60, state_dir=tmp_path, limits=big)
    cid = _cid()
    with start(config=cfg) as net:
        ex = net.client("trader", enableRateLimit=False)
        bid, ask = _book(ex)
        old = ex.create_order("BTC/USDT", "limit", "buy", 0.003, round(bid * 0.97, 2))
        new = ex.edit_order(old["id"], "BTC/USDT", "limit", "buy", 0.002, round(bid * 0.96, 2), {"clientOrderId": cid})
        crossed = ex.create_order("ETH/USDT", "limit", "buy", 0.01, round(_book(ex, "ETH/USDT")[0] * 0.9, 2))
        filled = ex.edit_order(
            crossed["id"], "ETH/USDT", "limit", "buy", 0.01, round(_book(ex, "ETH/USDT")[1] * 1.01, 2)
        )
        balances = ex.fetch_balance()
    caplog.set_level(logging.WARNING, logger="kit.localnet")
    with start(config=cfg) as net2:
        ex2 = net2.client("trader", enableRateLimit=False)
        assert ex2.fetch_order(old["id"], "BTC/USDT")["status"] == "canceled"
        again = ex2.fetch_order(None, "BTC/USDT", {"origClientOrderId": cid})
        assert (again["id"], again["status"], again["amount"], again["price"]) == (
            new["id"],
            "open",
            0.002,
            new["price"],
        )
        assert ex2.fetch_order(crossed["id"], "ETH/USDT")["status"] == "canceled"
        assert ex2.fetch_order(filled["id"], "ETH/USDT")["status"] == "closed"
        now = ex2.fetch_balance()
        for asset in ("BTC", "ETH", "USDT"):
            assert (now[asset]["free"], now[asset]["used"]) == (balances[asset]["free"], balances[asset]["used"])
    assert not [r for r in caplog.records if "differs" in r.getMessage()]
