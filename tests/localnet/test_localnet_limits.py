"""Request weights, the per-IP budget (429 then 418 bans that grow) and unfilled-order counts."""

from __future__ import annotations

from typing import Any

import ccxt
import pytest
import requests

from kit.localnet import LimitsConfig


def test_weight_header_429_then_418_then_recovery(make_localnet: Any) -> None:
    limits = LimitsConfig(weight_per_minute=100, violations_before_ban=2, ban_base_s=120)
    with make_localnet(limits=limits) as net:
        ex = net.client(None, enableRateLimit=False)
        ex.fetch_time()
        assert ex.last_response_headers["X-MBX-USED-WEIGHT-1M"] == "1"
        ex.load_markets()  # exchangeInfo: 20
        assert ex.last_response_headers["X-MBX-USED-WEIGHT-1M"] == "21"
        for _ in range(15):  # depth limit 100: 5 each -> 96
            ex.fetch_order_book("BTC/USDT", 100)
        r = requests.get(f"{net.url}/api/v3/depth?symbol=BTCUSDT", timeout=10)
        assert r.status_code == 429 and r.json()["code"] == -1003 and int(r.headers["Retry-After"]) >= 1
        with pytest.raises(ccxt.DDoSProtection):  # 2nd violation: still 429
            ex.fetch_order_book("BTC/USDT", 100)
        r = requests.get(f"{net.url}/api/v3/time", timeout=10)  # 3rd: banned
        assert r.status_code == 418 and "banned until" in r.json()["msg"]
        assert int(r.headers["Retry-After"]) == 120
        with pytest.raises(ccxt.DDoSProtection):
            ex.fetch_time()
        net.step(121_000)  # the ban ends, a new minute starts
        assert ex.fetch_time() > 0
        for _ in range(25):
            try:
                ex.fetch_order_book("BTC/USDT", 100)
            except ccxt.DDoSProtection:
                pass
        r = requests.get(f"{net.url}/api/v3/time", timeout=10)
        assert r.status_code == 418 and int(r.headers["Retry-After"]) == 240  # repeat offender: doubled


DAY_MS = 86_400_000
#: The order-count test's clock starts here, a minute before a UTC midnight (where its daily count resets).
BEFORE_MIDNIGHT_MS = 1_700_006_400_000 - 60_000  # 2023-11-14T23:59:00Z


def test_order_count_limit(make_localnet: Any) -> None:
    """Unfilled-order counts per 10 s and per UTC day (the venue clock's windows).

    The clock is pinned: started at the wall clock, a run begun in the 10 s before a UTC midnight saw
    its 10 s step start a new day and counted 1 order today instead of 4 (reproduced by starting the
    clock 3 s before midnight). It starts a minute before midnight, so the day's reset is checked on
    every run instead, by stepping to it.
    """
    limits = LimitsConfig(orders_per_10s=3, orders_per_day=1000)
    with make_localnet(limits=limits, start_ms=BEFORE_MIDNIGHT_MS) as net:
        ex = net.client("trader", enableRateLimit=False)
        bid = ex.fetch_order_book("BTC/USDT", 5)["bids"][0][0]
        for i in range(3):
            ex.create_order("BTC/USDT", "limit", "buy", 0.001, round(bid * 0.9, 2))
            assert ex.last_response_headers["X-MBX-ORDER-COUNT-10S"] == str(i + 1)
        assert ex.last_response_headers["X-MBX-ORDER-COUNT-1D"] == "3"
        with pytest.raises(ccxt.DDoSProtection, match="-1015"):  # HTTP 429, as Binance
            ex.create_order("BTC/USDT", "limit", "buy", 0.001, round(bid * 0.9, 2))
        net.step(10_000)
        ex.create_order("BTC/USDT", "limit", "buy", 0.001, round(bid * 0.9, 2))
        counts = ex.private_get_ratelimit_order()
        assert counts[0]["count"] == 1 and counts[1]["count"] == 4
        net.step(DAY_MS - (BEFORE_MIDNIGHT_MS + 10_000) % DAY_MS)  # to the next UTC midnight: a new day counts from 0
        ex.create_order("BTC/USDT", "limit", "buy", 0.001, round(bid * 0.9, 2))
        assert ex.last_response_headers["X-MBX-ORDER-COUNT-1D"] == "1"
        assert ex.last_response_headers["X-MBX-ORDER-COUNT-10S"] == "1"


def test_sapi_has_its_own_budget(make_localnet: Any) -> None:
    limits = LimitsConfig(weight_per_minute=5, sapi_weight_per_minute=1000)
    with make_localnet(limits=limits) as net:
        ex = net.client("trader", enableRateLimit=False)
        for _ in range(10):
            ex.sapi_get_account_apirestrictions()
        assert ex.last_response_headers["X-SAPI-USED-IP-WEIGHT-1M"] == "10"
