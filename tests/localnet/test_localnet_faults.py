"""Faults injected on purpose, set in-process and through the loopback admin endpoint."""

from __future__ import annotations

import time
from typing import Any

import ccxt
import pytest
import requests

from kit.localnet.server import Localnet

pytestmark = pytest.mark.chaos


def test_admin_faults_endpoint_roundtrip(net: Localnet) -> None:
    r = requests.post(f"{net.url}/_localnet/faults", json={"latency_ms": 30}, timeout=10)
    assert r.status_code == 200 and r.json()["latency_ms"] == 30
    assert requests.get(f"{net.url}/_localnet/faults", timeout=10).json()["latency_ms"] == 30
    r = requests.post(f"{net.url}/_localnet/faults", json={"bogus": 1}, timeout=10)
    assert r.status_code == 400


def test_latency(net: Localnet, ex: Any) -> None:
    net.set_faults(latency_ms=120)
    t0 = time.perf_counter()
    ex.fetch_time()
    assert time.perf_counter() - t0 >= 0.12


def test_5xx_burst_is_exchange_not_available(net: Localnet, ex: Any) -> None:
    net.set_faults(error_rate=1.0, error_burst=2)
    with pytest.raises(ccxt.ExchangeNotAvailable):
        ex.fetch_time()
    net.set_faults(error_rate=0.0)  # the burst is cleared with the rate
    assert ex.fetch_time() > 0
    net.set_faults(error_rate=1.0, error_burst=2, seed=3)
    with pytest.raises(ccxt.ExchangeNotAvailable):
        ex.fetch_time()
    net.set_faults(error_rate=1e-9)  # the burst continues although the rate is ~0
    for _ in range(2):
        with pytest.raises(ccxt.ExchangeNotAvailable):
            ex.fetch_time()
    assert ex.fetch_time() > 0


def test_maintenance(net: Localnet, ex: Any) -> None:
    net.set_faults(maintenance=True)
    with pytest.raises(ccxt.ExchangeNotAvailable):
        ex.fetch_ticker("BTC/USDT")
    assert ex.fetch_status()["status"] == "maintenance"
    net.set_faults(maintenance=False)
    assert ex.fetch_status()["status"] == "ok"


def test_lost_acknowledgement_order_exists(net: Localnet, ex: Any) -> None:
    bid = ex.fetch_order_book("BTC/USDT", 5)["bids"][0][0]
    cid = f"lost-{time.time_ns()}"
    net.set_faults(drop_ack_rate=1.0)
    with pytest.raises(ccxt.NetworkError):
        ex.create_order("BTC/USDT", "limit", "buy", 0.001, round(bid * 0.9, 2), {"clientOrderId": cid})
    net.set_faults(drop_ack_rate=0.0)
    found = ex.fetch_order(None, "BTC/USDT", {"origClientOrderId": cid})  # the order was accepted
    assert found["status"] == "open"
    ex.cancel_order(found["id"], "BTC/USDT")


def test_clock_skew_then_resync(net: Localnet) -> None:
    net.set_faults(clock_skew_ms=30_000)  # the server runs 30 s ahead
    ex = net.client("trader", enableRateLimit=False)
    with pytest.raises(ccxt.InvalidNonce):
        ex.fetch_balance()
    ex.load_time_difference()  # what adjustForTimeDifference does
    assert ex.fetch_balance()["USDT"]["total"] > 0


def test_ws_disconnect_flag_is_exposed(net: Localnet) -> None:
    net.set_faults(ws_disconnect_rate=1.0, seed=1)
    assert net.call(lambda v: v.faults.should_drop_ws()) is True
    assert net.call(lambda v: v.faults.ws_disconnect_rate) == 1.0


def test_admin_clock_step_and_trade(net: Localnet) -> None:
    before = requests.get(f"{net.url}/_localnet/state", timeout=10).json()["now_ms"]
    after = requests.post(f"{net.url}/_localnet/clock/step", json={"ms": 5000}, timeout=10).json()["now_ms"]
    assert after == before + 5000
    price = net.call(lambda v: str(v.last_price["ETHUSDT"]))
    r = requests.post(
        f"{net.url}/_localnet/trade", json={"symbol": "ETHUSDT", "price": price, "qty": "0.5"}, timeout=10
    )
    assert r.status_code == 200
    state = requests.get(f"{net.url}/_localnet/state", timeout=10).json()
    assert "secret" not in str(state).lower() and set(state["keys"]) >= {"trader", "reader"}
