"""Keys, permissions, IP allowlists, signatures, timestamps, API restrictions and withdrawals."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import ccxt
import pytest
import requests

from kit.localnet.auth import new_api_key
from kit.localnet.ccxt_client import connect
from kit.localnet.server import Localnet


def test_api_restrictions_per_key(net: Localnet) -> None:
    seen = {}
    for name in ("trader", "reader", "withdrawer", "restricted"):
        if name == "restricted":
            continue  # its IP allowlist refuses loopback
        r = net.client(name, enableRateLimit=False).sapi_get_account_apirestrictions()
        seen[name] = r
        assert set(r) >= {
            "ipRestrict",
            "createTime",
            "enableReading",
            "enableSpotAndMarginTrading",
            "enableWithdrawals",
            "enableInternalTransfer",
            "permitsUniversalTransfer",
        }
    assert seen["trader"]["enableSpotAndMarginTrading"] and not seen["trader"]["enableWithdrawals"]
    assert not seen["reader"]["enableSpotAndMarginTrading"]
    assert seen["withdrawer"]["enableWithdrawals"]
    assert all(r["ipRestrict"] is False and r["createTime"] > 0 for r in seen.values())


def test_ip_allowlist_refuses_other_ips(net: Localnet) -> None:
    ex = net.client("restricted", enableRateLimit=False)
    with pytest.raises(ccxt.AuthenticationError, match="-2015"):
        ex.fetch_balance()
    key = net.keys["restricted"]
    assert key.ip_allowlist and key.ip_allowed("203.0.113.7") and not key.ip_allowed("127.0.0.1")


def test_reader_key_cannot_trade(net: Localnet) -> None:
    ex = net.client("reader", enableRateLimit=False)
    with pytest.raises(ccxt.AuthenticationError, match="-2015"):  # first private call: AuthenticationError
        ex.create_order("BTC/USDT", "market", "buy", 0.001)
    assert ex.fetch_balance()["USDT"]["total"] > 0  # reading works
    with pytest.raises(ccxt.DDoSProtection):  # ccxt quirk after a successful private call
        ex.create_order("BTC/USDT", "market", "buy", 0.001)


def test_unknown_key_and_bad_signature(net: Localnet) -> None:
    stranger = connect(net.url, "A" * 64, "B" * 64, enableRateLimit=False)
    with pytest.raises(ccxt.AuthenticationError, match="-2015"):
        stranger.fetch_balance()
    malformed = connect(net.url, "short", "x", enableRateLimit=False)
    with pytest.raises(ccxt.AuthenticationError, match="-2014"):
        malformed.fetch_balance()
    api_key, _ = net.credentials("trader")
    wrong = connect(net.url, api_key, "not-the-secret", enableRateLimit=False)
    with pytest.raises(ccxt.AuthenticationError, match="-1022"):
        wrong.fetch_balance()


def test_signature_covers_raw_query(net: Localnet) -> None:
    """A re-encoded query would not verify; the server must use the raw bytes (spec 2.1)."""
    api_key, secret = net.credentials("trader")
    query = f"symbol=BTCUSDT&origClientOrderId=a%2Fb%3Ac&timestamp={int(time.time() * 1000)}&recvWindow=5000"
    sig = hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()
    r = requests.get(f"{net.url}/api/v3/order?{query}&signature={sig}", headers={"X-MBX-APIKEY": api_key}, timeout=10)
    assert r.status_code == 400 and r.json()["code"] == -2013  # authenticated; the order just does not exist
    bad = hmac.new(secret.encode(), query.replace("%2F", "/").encode(), hashlib.sha256).hexdigest()
    r = requests.get(f"{net.url}/api/v3/order?{query}&signature={bad}", headers={"X-MBX-APIKEY": api_key}, timeout=10)
    assert r.json()["code"] == -1022


def test_timestamp_window(net: Localnet) -> None:
    ex = net.client("trader", enableRateLimit=False)
    ex.options["timeDifference"] = 20_000  # client clock 20 s behind: outside recvWindow 10000
    with pytest.raises(ccxt.InvalidNonce, match="recvWindow"):
        ex.fetch_balance()
    ex.options["timeDifference"] = -5_000  # 5 s ahead of the server
    with pytest.raises(ccxt.InvalidNonce, match="ahead"):
        ex.fetch_balance()
    ex.options["timeDifference"] = 0
    with pytest.raises(ccxt.ExchangeError, match="-1131"):  # -1131 is only in ccxt's binance.com table
        ex.fetch_balance({"recvWindow": 70_000})
    assert ex.fetch_balance({"recvWindow": 60_000})["info"]["accountType"] == "SPOT"


def test_missing_key_header_on_signed_endpoint(net: Localnet) -> None:
    r = requests.get(f"{net.url}/api/v3/account?timestamp=1&signature=00", timeout=10)
    assert r.status_code == 401 and r.json()["code"] == -2014


def test_default_load_markets_with_keys_calls_capital_config(net: Localnet) -> None:
    api_key, secret = net.credentials("trader")
    ex = ccxt.binance(
        {
            "apiKey": api_key,
            "secret": secret,
            "enableRateLimit": False,
            "options": {"fetchMarkets": {"types": ["spot"]}, "fetchMargins": False},
        }
    )
    from kit.localnet.ccxt_client import rewrite_urls

    rewrite_urls(ex, net.url)
    ex.load_markets()
    assert ex.currencies["BTC"]["networks"] and ex.currencies["USDT"]["active"]


def test_withdraw_moves_funds_only_with_permission(net: Localnet) -> None:
    wd = net.client("withdrawer", enableRateLimit=False)
    before = wd.fetch_balance()["USDT"]["free"]
    res = wd.withdraw("USDT", 123.45, "0x000000000000000000000000000000000000dEaD", params={"network": "ETH"})
    assert res["id"]
    after = wd.fetch_balance()["USDT"]["free"]
    assert after == pytest.approx(before - 123.45)
    with pytest.raises(ccxt.InsufficientFunds):
        wd.withdraw("USDT", 10**9, "0xdead")
    trader = net.client("trader", enableRateLimit=False)
    with pytest.raises(ccxt.AuthenticationError, match="-2015"):  # a trade-only key cannot move funds
        trader.withdraw("USDT", 1, "0xdead")
    history = wd.fetch_withdrawals("USDT")
    assert any(float(w["amount"]) == pytest.approx(123.45) for w in history)


def test_ed25519_key(net: Localnet) -> None:
    key = new_api_key("ed", "main", spot_trading=True, created_ms=0, kind="ed25519")
    net.call(lambda v: v.add_key(key))
    ex: Any = connect(net.url, key.api_key, key.secret.reveal(), enableRateLimit=False)
    assert ex.fetch_balance()["info"]["accountType"] == "SPOT"
    o = ex.create_order("ETH/USDT", "market", "buy", 0.01)
    assert o["status"] == "closed"
