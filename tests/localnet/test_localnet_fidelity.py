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


# ---------------------------------------------------------------------- #15.3 own trades and orders in the market
def test_own_trades_are_public_trades(make_localnet: Any) -> None:
    """An account's fill is a trade of the market: /trades, aggTrades, klines, ticker, one id sequence."""
    with make_localnet() as n:
        n.step(60_000)
        ex = n.client("trader", enableRateLimit=False)
        before_ticker = ex.publicGetTicker24hr({"symbol": "BTCUSDT"})
        before_kline = ex.publicGetKlines({"symbol": "BTCUSDT", "interval": "1m", "limit": 1})[-1]
        o = ex.create_order("BTC/USDT", "market", "buy", 0.1)
        mine = ex.privateGetMyTrades({"symbol": "BTCUSDT", "orderId": o["id"]})
        assert mine and all(t["isBuyer"] and not t["isMaker"] for t in mine)
        tape = {t["id"]: t for t in ex.publicGetTrades({"symbol": "BTCUSDT", "limit": 50})}
        for t in mine:  # the same id on the public tape, same price and quantity, the seller was the maker
            pub = tape[t["id"]]
            assert (pub["price"], pub["qty"], pub["isBuyerMaker"]) == (t["price"], t["qty"], False)
        hist = ex.publicGetHistoricalTrades({"symbol": "BTCUSDT", "fromId": mine[0]["id"], "limit": 1})
        assert hist[0]["id"] == mine[0]["id"] and hist[0]["qty"] == mine[0]["qty"]  # no other trade under that id
        ids = [int(t) for t in tape]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)
        agg = ex.publicGetAggTrades({"symbol": "BTCUSDT", "fromId": mine[0]["id"], "limit": len(mine)})
        assert [a["a"] for a in agg] == [t["id"] for t in mine]
        bought = sum(D(t["qty"]) for t in mine)
        after_ticker = ex.publicGetTicker24hr({"symbol": "BTCUSDT"})
        assert D(after_ticker["volume"]) - D(before_ticker["volume"]) == bought
        assert after_ticker["lastId"] == mine[-1]["id"] and after_ticker["lastPrice"] == mine[-1]["price"]
        after_kline = ex.publicGetKlines({"symbol": "BTCUSDT", "interval": "1m", "limit": 1})[-1]
        assert after_kline[0] == before_kline[0] and D(after_kline[5]) - D(before_kline[5]) == bought
        n.step(30_000)  # the market goes on printing after the account's trades, in the same sequence
        later = ex.publicGetTrades({"symbol": "BTCUSDT", "limit": 1000})
        later_ids = [t["id"] for t in later]
        assert later_ids == sorted(later_ids) and later_ids[-1] > mine[-1]["id"]


def test_own_trade_on_the_trade_stream(make_localnet: Any) -> None:
    import asyncio

    import aiohttp

    with make_localnet() as n:
        ex = n.client("trader", enableRateLimit=False)

        async def run() -> list[dict[str, Any]]:
            async with aiohttp.ClientSession() as s, s.ws_connect(n.ws_url + "/ws/btcusdt@trade") as ws:
                await asyncio.sleep(0.1)
                o = await asyncio.to_thread(ex.create_order, "BTC/USDT", "market", "sell", 0.01)
                mine = await asyncio.to_thread(ex.privateGetMyTrades, {"symbol": "BTCUSDT", "orderId": o["id"]})
                got: list[dict[str, Any]] = []
                while len(got) < len(mine):
                    msg = await asyncio.wait_for(ws.receive_json(), 2.0)
                    if msg.get("e") == "trade":
                        got.append(msg)
                assert [m["t"] for m in got] == [t["id"] for t in mine]
                assert all(m["m"] is True for m in got)  # a market sell: the buyer was the maker
                return got

        assert asyncio.run(run())


def test_own_resting_orders_show_in_depth(make_localnet: Any) -> None:
    with make_localnet() as n:
        ex = n.client("trader", enableRateLimit=False)
        book = ex.publicGetDepth({"symbol": "BTCUSDT", "limit": 5})
        bid, ask = D(book["bids"][0][0]), D(book["asks"][0][0])
        inside = (bid + D("0.01")).quantize(D("0.01"))
        assert inside < ask, "the synthetic spread is at least two ticks"
        o = ex.create_order("BTC/USDT", "limit", "buy", 0.003, float(inside))
        shown = ex.publicGetDepth({"symbol": "BTCUSDT", "limit": 5})
        assert shown["bids"][0] == [format(inside, ".8f"), "0.00300000"]
        assert int(shown["lastUpdateId"]) > int(book["lastUpdateId"])
        assert ex.publicGetTickerBookTicker({"symbol": "BTCUSDT"})["bidPrice"] == format(inside, ".8f")
        # at a level the market already has, the quantities add up
        lvl_px, lvl_qty = (D(x) for x in book["bids"][2])
        o2 = ex.create_order("BTC/USDT", "limit", "buy", 0.002, float(lvl_px))
        levels = {D(p): D(q) for p, q in ex.publicGetDepth({"symbol": "BTCUSDT", "limit": 5})["bids"]}
        assert levels[lvl_px] == lvl_qty + D("0.002")
        ex.cancel_order(o["id"], "BTC/USDT")
        ex.cancel_order(o2["id"], "BTC/USDT")
        after = ex.publicGetDepth({"symbol": "BTCUSDT", "limit": 5})
        assert after["bids"][:3] == book["bids"][:3]


# ---------------------------------------------------------------------- #15.7 depth and history
def test_depth_serves_up_to_5000_levels_and_the_stream_keeps_them(make_localnet: Any) -> None:
    """rest-api.md "Order book": limit up to 5000 (weight 250); the diff stream maintains every level."""
    from kit.localnet.book import Book

    with make_localnet() as n:
        ex = n.client("trader", enableRateLimit=False)
        deep = ex.publicGetDepth({"symbol": "BTCUSDT", "limit": 5000})
        assert ex.last_response_headers["X-MBX-USED-WEIGHT-1M"] == "250"
        assert len(deep["bids"]) == 5000 and len(deep["asks"]) == 5000
        bids = [D(p) for p, _ in deep["bids"]]
        asks = [D(p) for p, _ in deep["asks"]]
        assert bids == sorted(bids, reverse=True) and asks == sorted(asks) and bids[0] < asks[0]
        assert all(D(q) > 0 for _, q in deep["bids"] + deep["asks"])
        assert len(ex.publicGetDepth({"symbol": "BTCUSDT", "limit": 6000})["bids"]) == 5000  # capped, as Binance

        # a 5000-level snapshot plus the deltas (what depthUpdate carries) stays equal to the book,
        # through moves of hundreds of levels, own resting orders near and deep included
        fresh = Book(n.call(lambda v: v.symbols["BTCUSDT"].spec), seed=7)
        fresh.rebuild(D("60000"), 0)
        mirror = {"b": dict(fresh.snapshot(5000)["bids"]), "a": dict(fresh.snapshot(5000)["asks"])}
        for px in ("60400", "59700", "61000", "60010.5", "own"):
            if px == "own":
                fresh.adjust_own(True, D("60010.00"), D("0.5"))  # at the touch
                fresh.adjust_own(True, D(deep["bids"][-1][0]), D("0.25"))  # far down, maybe beyond the grid
                delta = fresh.show()
            else:
                delta = fresh.rebuild(D(px), 1, seller_aggressor=False)
            assert delta is not None
            for side, changes in (("b", delta[2]), ("a", delta[3])):
                for p, q in changes:
                    if q == "0.00000000":
                        mirror[side].pop(p, None)
                    else:
                        mirror[side][p] = q
            snap = fresh.snapshot(5000)
            got_b = sorted(mirror["b"].items(), key=lambda kv: -float(kv[0]))[:5000]
            got_a = sorted(mirror["a"].items(), key=lambda kv: float(kv[0]))[:5000]
            assert [list(x) for x in got_b] == snap["bids"] and [list(x) for x in got_a] == snap["asks"]


def test_kline_intervals_1s_1w_and_1M(make_localnet: Any) -> None:
    from datetime import UTC, datetime

    with make_localnet() as n:
        n.step(120_000)
        ex = n.client(None, enableRateLimit=False)
        secs = ex.publicGetKlines({"symbol": "BTCUSDT", "interval": "1s", "limit": 50})
        assert 0 < len(secs) <= 50 and all(r[6] - r[0] == 999 for r in secs)
        assert [r[0] for r in secs] == list(range(secs[0][0], secs[-1][0] + 1, 1000))  # every second, gaps flat
        tape = ex.publicGetTrades({"symbol": "BTCUSDT", "limit": 1000})
        in_secs = [t for t in tape if secs[0][0] <= t["time"] <= secs[-1][6]]
        assert sum(r[8] for r in secs) == len(in_secs)  # trade counts add up to the tape's
        weeks = ex.publicGetKlines({"symbol": "BTCUSDT", "interval": "1w", "limit": 2})
        assert all(datetime.fromtimestamp(r[0] / 1000, UTC).strftime("%a %H:%M") == "Mon 00:00" for r in weeks)
        months = ex.publicGetKlines({"symbol": "BTCUSDT", "interval": "1M", "limit": 3})
        opens = [datetime.fromtimestamp(r[0] / 1000, UTC) for r in months]
        assert all((d.day, d.hour, d.minute) == (1, 0, 0) for d in opens)
        last = datetime.fromtimestamp((months[-1][6] + 1) / 1000, UTC)
        assert (last.day, last.hour) == (1, 0) and last > opens[-1]
        minutes = ex.publicGetKlines({"symbol": "BTCUSDT", "interval": "1m", "limit": 1000})
        month_vol = sum(D(r[5]) for r in months)
        assert month_vol >= sum(D(r[5]) for r in minutes)  # the months hold every minute
        with pytest.raises(ccxt.BadRequest):
            ex.publicGetKlines({"symbol": "BTCUSDT", "interval": "2M"})


@pytest.mark.slow  # a store, a replay catch-up and a server: about 2 s
def test_history_from_the_candle_store(tmp_path: Any) -> None:
    """``kit localnet serve --store DIR --history-minutes N``: N minutes of real stored candles behind."""
    import numpy as np
    import pandas as pd

    from kit.cli.localnet import replay_start_ms, store_candles
    from kit.localnet import LocalnetConfig
    from kit.localnet.server import start
    from kit.store import Store

    idx = pd.date_range("2024-03-01 12:00", periods=720, freq="1min", tz="UTC")
    px = np.round(60000 + np.cumsum(np.random.default_rng(1).normal(0, 10, len(idx))), 2)
    frame = pd.DataFrame({"open": px, "high": px + 5, "low": px - 5, "close": px, "volume": 1.5}, index=idx)
    Store(tmp_path).put(frame, "BTC/USDT", "1m", venue="binance")
    frames = store_candles(tmp_path)
    assert list(frames) == ["BTCUSDT"]
    begin = replay_start_ms(frames, 600)  # 10 hours of history, 2 still to replay
    cfg = LocalnetConfig(stepped=True, candles=frames, start_ms=begin, history_minutes=600)
    with start(port=0, config=cfg) as n:
        ex = n.client(None, enableRateLimit=False)
        rows = ex.publicGetKlines(
            {"symbol": "BTCUSDT", "interval": "1m", "startTime": int(idx[0].value // 10**6), "limit": 1000}
        )
        assert rows[0][0] == int(idx[0].value // 10**6)  # the history reaches back to the first stored candle
        assert [D(r[4]) for r in rows[:50]] == [D(str(x)).quantize(D("0.01")) for x in px[:50]]  # and is the data
        day = ex.publicGetKlines({"symbol": "BTCUSDT", "interval": "1d", "limit": 5})[0]
        assert day[0] == int(pd.Timestamp("2024-03-01", tz="UTC").value // 10**6)
        assert D("1.5") * 600 <= D(day[5]) < D("1.5") * 601  # the ten hours replayed so far (and a first print)
