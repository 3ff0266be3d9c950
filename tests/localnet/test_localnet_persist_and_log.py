"""State survives a restart (SQLite, WAL); the request log never contains secrets or signatures."""

from __future__ import annotations

import json
import logging
import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest

from kit.localnet import LimitsConfig, LocalnetConfig
from kit.localnet.server import Localnet, start

BIG = LimitsConfig(weight_per_minute=10**9, orders_per_10s=10**9, orders_per_day=10**9)


def _cfg(state: Path) -> LocalnetConfig:
    return LocalnetConfig(stepped=True, seed=11, history_minutes=60, state_dir=state, limits=BIG)


def test_restart_keeps_accounts_orders_fills_and_keys(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with start(config=_cfg(tmp_path)) as net:
        creds = net.credentials("trader")
        ex = net.client("trader", enableRateLimit=False)
        bought = ex.create_order("BTC/USDT", "market", "buy", 0.002)
        bid = ex.fetch_order_book("BTC/USDT", 5)["bids"][0][0]
        resting = ex.create_order("BTC/USDT", "limit", "buy", 0.003, round(bid * 0.97, 2))
        partial = ex.create_order(
            "ETH/USDT", "limit", "buy", 0.5, round(ex.fetch_order_book("ETH/USDT", 5)["bids"][0][0] * 0.98, 2)
        )
        eth_last = net.call(lambda v: str(v.last_price["ETHUSDT"]))
        net.inject_trade("ETHUSDT", round(partial["price"] - 0.05, 2), "0.2", side="sell")
        net.inject_trade("ETHUSDT", eth_last, "0.01")  # the market comes back
        net.step(2_000)
        wd = net.client("withdrawer", enableRateLimit=False)
        wd.withdraw("USDT", 10, "0xdead")
        balances = {k: v for k, v in ex.fetch_balance()["total"].items() if v}
        partial_state = ex.fetch_order(partial["id"], "ETH/USDT")
        trades = ex.fetch_my_trades("BTC/USDT")
        clock_ms = net.call(lambda v: v.clock.now_ms())
    assert partial_state["info"]["status"] == "PARTIALLY_FILLED"
    db = sqlite3.connect(tmp_path / "localnet.sqlite")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()

    caplog.set_level(logging.WARNING, logger="kit.localnet")
    with start(config=_cfg(tmp_path)) as net2:
        assert net2.credentials("trader") == creds  # same keys
        ex2 = net2.client("trader", enableRateLimit=False)
        assert {k: v for k, v in ex2.fetch_balance()["total"].items() if v} == balances
        assert ex2.fetch_order(bought["id"], "BTC/USDT")["status"] == "closed"
        open_ids = {o["id"] for o in ex2.fetch_open_orders()}
        assert {resting["id"], partial["id"]} <= open_ids
        again = ex2.fetch_order(partial["id"], "ETH/USDT")
        assert again["filled"] == partial_state["filled"] and again["info"]["status"] == "PARTIALLY_FILLED"
        assert [t["id"] for t in ex2.fetch_my_trades("BTC/USDT")] == [t["id"] for t in trades]
        assert net2.call(lambda v: v.clock.now_ms()) >= clock_ms  # time never goes backwards
        assert ex2.cancel_order(resting["id"], "BTC/USDT")["status"] == "canceled"
        new = ex2.create_order("BTC/USDT", "market", "buy", 0.001)
        assert int(new["id"]) > int(partial["id"])  # ids continue
    assert not [r for r in caplog.records if "differs" in r.getMessage()]  # replay matched the snapshots


def test_request_log_has_no_secrets(net: Localnet, net_state: Path) -> None:
    api_key, secret = net.credentials("trader")
    ex = net.client("trader", enableRateLimit=False)
    ex.fetch_balance()
    ex.create_order("ETH/USDT", "market", "buy", 0.01)
    sigs = []
    for name in ("trader", "withdrawer", "reader"):
        c = net.client(name, enableRateLimit=False)
        c.fetch_balance()
        sigs.append(c.last_request_url.rsplit("signature=", 1)[1])
    log_path = net_state / "requests.log"
    text = log_path.read_text()
    assert stat.S_IMODE(log_path.stat().st_mode) == 0o600
    for name, key in net.keys.items():
        assert key.api_key not in text, name
        assert key.secret.reveal() not in text, name
    assert secret not in text and api_key not in text
    for s in sigs:
        assert s not in text
    assert "signature=" not in text and '"signature"' not in text  # (the WS-API method names may say it)
    lines = [json.loads(line) for line in text.splitlines()]
    acct = [e for e in lines if e["path"] == "/api/v3/account" and e["status"] == 200]
    assert acct and all(len(e["key"]) == 8 and e["weight"] == 20 and e["latency_ms"] >= 0 for e in acct)
    assert {"time", "method", "path", "params", "key", "ip", "status", "weight", "latency_ms"} <= set(lines[-1])


def test_keys_file_is_private_and_reprs_redact(net: Localnet, net_state: Path) -> None:
    keys_file = net_state / "keys.env"
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    assert "KIT_LOCALNET_API_KEY=" in keys_file.read_text()
    key: Any = net.keys["trader"]
    assert key.secret.reveal() not in repr(key) and key.api_key not in repr(key)
    assert key.secret.reveal() not in f"{key.secret} {key.secret!r}"
