"""Localnet REST behaviour that independent clients rely on (#15 items 2, 8, 9), through real ccxt."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from decimal import Decimal as D
from typing import Any

import ccxt
import pytest

from kit.localnet.ccxt_client import rewrite_urls
from kit.localnet.server import Localnet


def _far_bid(ex: Any) -> float:
    return round(ex.fetch_order_book("BTC/USDT", 5)["bids"][0][0] * 0.9, 2)


# ---------------------------------------------------------------------- #15.2 client order ids
def test_client_order_id_reuse_follows_binance(ex: Any) -> None:
    """A client id is unique among *open* orders only.

    Binance's docs (binance/binance-spot-api-docs): rest-api.md "New order", ``newClientOrderId``:
    "Orders with the same newClientOrderID can be accepted only when the previous one is filled,
    otherwise the order will be rejected"; web-socket-api.md ``order.place``: "A new order with the
    same clientOrderId is accepted only when the previous one is filled or expired"; and
    ``order.cancel`` / ``order.cancelReplace``: the cancel "will replace clientOrderId of the
    canceled order, freeing it up for new orders" / "The new order can reuse old clientOrderId of
    the canceled order". So: open -> refused (-2010 Duplicate order sent.); filled, canceled or
    expired -> accepted, and a query by client id finds the newest order.
    """
    cid = "reuse-" + uuid.uuid4().hex[:10]
    px = _far_bid(ex)
    first = ex.create_order("BTC/USDT", "limit", "buy", 0.001, px, {"clientOrderId": cid})
    with pytest.raises(ccxt.InvalidOrder, match="Duplicate order sent"):  # still open
        ex.create_order("BTC/USDT", "limit", "buy", 0.001, px, {"clientOrderId": cid})
    ex.cancel_order(first["id"], "BTC/USDT")
    second = ex.create_order("BTC/USDT", "limit", "buy", 0.001, px, {"clientOrderId": cid})  # canceled: free
    assert second["id"] != first["id"]
    assert ex.fetch_order(None, "BTC/USDT", {"origClientOrderId": cid})["id"] == second["id"]
    ex.cancel_order(second["id"], "BTC/USDT")
    filled = ex.create_order("BTC/USDT", "market", "buy", 0.001, None, {"clientOrderId": cid})
    assert filled["status"] == "closed"
    again = ex.create_order("BTC/USDT", "market", "buy", 0.001, None, {"clientOrderId": cid})  # filled: free
    assert again["status"] == "closed" and again["id"] != filled["id"]
    expired = ex.create_order(
        "BTC/USDT", "limit", "buy", 0.001, px, {"clientOrderId": cid, "timeInForce": "IOC"}
    )  # far below the ask: an IOC expires at once
    assert expired["status"] in ("expired", "canceled")
    last = ex.create_order("BTC/USDT", "limit", "buy", 0.001, px, {"clientOrderId": cid})  # expired: free
    assert ex.fetch_order(None, "BTC/USDT", {"origClientOrderId": cid})["id"] == last["id"]
    ex.cancel_order(last["id"], "BTC/USDT")
    # the orders that used the id before are still there under their order ids
    assert ex.fetch_order(first["id"], "BTC/USDT")["clientOrderId"] == cid


# ---------------------------------------------------------------------- #15.8 endpoints
def _get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode()


@pytest.mark.parametrize("path", ["/api/v3/nope", "/sapi/v1/nope", "/wapi/v3/account.html", "/"])
def test_unknown_paths_answer_json(net: Localnet, path: str) -> None:
    status, ctype, body = _get(net.url + path)
    assert status == 404 and ctype.startswith("application/json")
    assert json.loads(body)["code"] == -1


def test_default_load_markets_with_keys(net: Localnet) -> None:
    """ccxt's default ``fetchMargins`` (True) calls margin/allPairs and margin/isolated/allPairs."""
    key, secret = net.credentials("trader")
    ex = rewrite_urls(
        ccxt.binance({"apiKey": key, "secret": secret, "options": {"fetchMarkets": {"types": ["spot"]}}}), net.url
    )
    assert ex.options.get("fetchMargins") is True
    markets = ex.load_markets()
    assert {"BTC/USDT", "ETH/USDT", "ETH/BTC"} <= set(markets)
    assert markets["BTC/USDT"]["margin"] is False  # no margin pairs, as exchangeInfo says


def test_account_endpoints_clients_call(ex: Any) -> None:
    assert ex.sapiGetAccountApiTradingStatus()["data"]["isLocked"] is False
    c = ex.privateGetAccountCommission({"symbol": "BTCUSDT"})
    assert c["symbol"] == "BTCUSDT" and D(c["standardCommission"]["taker"]) == D("0.001")
    assert {r["interval"] for r in ex.privateGetRateLimitOrder()} == {"SECOND", "DAY"}
    addr = ex.fetch_deposit_address("USDT", {"network": "TRX"})
    assert addr["address"] and addr["currency"] == "USDT"
    with pytest.raises(ccxt.BadRequest):
        ex.sapiGetCapitalDepositAddress({"coin": "USDT", "network": "NOPE"})


def test_deposit_and_withdraw_history(make_localnet: Any) -> None:
    with make_localnet() as n:
        wd = n.client("withdrawer", enableRateLimit=False)
        req = urllib.request.Request(
            n.url + "/_localnet/deposit",
            data=json.dumps({"account": "alt", "asset": "USDT", "amount": "25"}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        urllib.request.urlopen(req, timeout=5).read()
        deps = wd.fetch_deposits("USDT")
        assert [(d["amount"], d["status"]) for d in deps] == [(25.0, "ok")]
        with pytest.raises(ccxt.ExchangeError):
            wd.withdraw("USDT", 1, "0xabc", params={"network": "ETH"})  # below the network minimum (3)
        wid = wd.withdraw("USDT", 10, "0xabc", params={"network": "TRX"})["id"]
        (row,) = wd.sapiGetCapitalWithdrawHistory()
        assert row["id"] == wid and row["network"] == "TRX" and row["transactionFee"] == "1.00000000"
        assert row["status"] == 4 and row["txId"] == ""  # processing
        assert time.strptime(row["applyTime"], "%Y-%m-%d %H:%M:%S")  # Binance's wallet time text
        n.step(61_000)
        (row,) = wd.sapiGetCapitalWithdrawHistory()
        assert row["status"] == 6 and row["txId"] and row["completeTime"] >= row["applyTime"]
        (w,) = wd.fetch_withdrawals("USDT")
        assert w["status"] == "ok" and w["fee"]["cost"] == 1.0 and w["network"] == "TRC20"  # ccxt: TRX -> TRC20


# ---------------------------------------------------------------------- #15.9 weights
def test_my_trades_weight_follows_the_docs(make_localnet: Any) -> None:
    """rest-api.md "Account trade list": weight 20 without orderId, 5 with it."""
    with make_localnet() as n:
        ex = n.client("trader", enableRateLimit=False)
        o = ex.create_order("BTC/USDT", "market", "buy", 0.001)

        def used() -> int:
            return int(ex.last_response_headers["X-MBX-USED-WEIGHT-1M"])

        ex.privateGetMyTrades({"symbol": "BTCUSDT"})
        before = used()
        ex.privateGetMyTrades({"symbol": "BTCUSDT", "orderId": o["id"]})
        assert used() - before == 5
        ex.privateGetMyTrades({"symbol": "BTCUSDT"})
        assert used() - before == 25
