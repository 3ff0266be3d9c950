"""Fill times stay consistent across a localnet crash and restart.

A fill is never stamped before the order it belongs to was created, trade times never go
backwards within a symbol (in trade-id order), and order and trade ids keep increasing after a
restart. The chaos suite once saw fills up to seconds before their order after a SIGKILL: on
start the venue fed the engine the latest synthetic print *at that print's own time*, which was
older than orders placed just before the crash (and older than their earlier fills), and the
regenerated market path (without the prints injected before the crash) crossed them.
"""

from __future__ import annotations

import json
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from kit.localnet import LimitsConfig, LocalnetConfig
from kit.localnet.ccxt_client import connect
from kit.localnet.server import start
from kit.localnet.venue import Venue
from kit.localnet.wire import decode_order

BIG = LimitsConfig(weight_per_minute=10**9, sapi_weight_per_minute=10**9, orders_per_10s=10**9, orders_per_day=10**9)

#: A real-clock localnet with persistence, in its own process (as the chaos suite runs one).
SERVER = """
import sys, threading
from pathlib import Path
from kit.localnet import LimitsConfig, LocalnetConfig
from kit.localnet.server import start
big = LimitsConfig(weight_per_minute=10**9, sapi_weight_per_minute=10**9, orders_per_10s=10**9, orders_per_day=10**9)
cfg = LocalnetConfig(seed=7, history_minutes=10, state_dir=Path(sys.argv[1]), limits=big)
net = start(port=int(sys.argv[2]), config=cfg)
print("URL", net.url, flush=True)
threading.Event().wait()
"""

#: unified symbol -> (Binance id, order quantity)
SYMBOLS = {"BTC/USDT": ("BTCUSDT", 0.001), "ETH/USDT": ("ETHUSDT", 0.01), "ETH/BTC": ("ETHBTC", 0.01)}


class _Server:
    """One localnet subprocess on a state directory; SIGKILLed and restarted on the same port."""

    def __init__(self, state: Path) -> None:
        self.state = state
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        for attempt in range(20):  # after a crash the port may linger for a moment
            proc = subprocess.Popen(
                [sys.executable, "-c", SERVER, str(self.state), str(self.port)],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
            assert proc.stdout is not None
            line = proc.stdout.readline().decode()
            if line.startswith("URL "):
                self.proc = proc
                self.port = int(line.split()[1].rsplit(":", 1)[1])
                return
            proc.kill()
            proc.wait()
            proc.stdout.close()
            if attempt == 19:
                raise RuntimeError("localnet did not start")
            time.sleep(0.25)

    def kill(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc.stdout.close()
        self.proc = None

    def client(self) -> Any:
        env = {}
        for line in (self.state / "keys.env").read_text().splitlines():
            name, _, value = line.removeprefix("export ").partition("=")
            env[name] = shlex.split(value)[0]
        return connect(self.url, env["KIT_LOCALNET_API_KEY"], env["KIT_LOCALNET_API_SECRET"], enableRateLimit=False)

    def print_trade(self, symbol_id: str, price: Any, qty: Any, side: str) -> None:
        """``POST /_localnet/trade``: a public print (resting orders it crosses fill)."""
        body = json.dumps({"symbol": symbol_id, "price": str(price), "qty": str(qty), "side": side}).encode()
        req = urllib.request.Request(
            self.url + "/_localnet/trade", data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            resp.read()


def _round(server: _Server, ex: Any) -> list[int]:
    """Per symbol: move the market down 2 % with a print, rest a sell above it and a buy below it,
    print through the buy (a partial fill). Returns the new order ids."""
    ids = []
    for sym, (sid, qty) in SYMBOLS.items():
        low = float(ex.price_to_precision(sym, ex.fetch_ticker(sym)["last"] * 0.98))
        server.print_trade(sid, ex.price_to_precision(sym, low), qty, "sell")
        sell = ex.create_order(sym, "limit", "sell", qty, ex.price_to_precision(sym, low * 1.004))
        buy = ex.create_order(sym, "limit", "buy", qty, ex.price_to_precision(sym, low * 0.996))
        server.print_trade(sid, ex.price_to_precision(sym, low * 0.995), qty / 2, "sell")
        ids += [int(sell["id"]), int(buy["id"])]
    return ids


def _trades(ex: Any, sym: str) -> list[dict[str, Any]]:
    return sorted(ex.fetch_my_trades(sym, None, 1000, {"fromId": 0}), key=lambda t: int(t["id"]))


def _time_problems(ex: Any) -> list[str]:
    problems = []
    for sym in SYMBOLS:
        created = {o["id"]: int(o["timestamp"]) for o in ex.fetch_orders(sym, None, 1000)}
        working = {o["id"]: int(o["info"]["workingTime"]) for o in ex.fetch_orders(sym, None, 1000)}
        last = 0
        for t in _trades(ex, sym):
            ts, oid = int(t["timestamp"]), t["order"]
            if ts < created[oid] or ts < working[oid]:
                problems.append(f"{sym} trade {t['id']} at {ts}: {created[oid] - ts} ms before order {oid}")
            if ts < last:
                problems.append(f"{sym} trade {t['id']} at {ts}: {last - ts} ms before the previous trade")
            last = max(last, ts)
    return problems


@pytest.mark.slow  # a localnet process SIGKILLed and restarted
def test_sigkill_restart_keeps_fill_times_after_orders_and_ids_increasing(tmp_path: Path) -> None:
    server = _Server(tmp_path)
    server.start()
    try:
        # trade ids are per symbol, as on Binance (one public tape per symbol, own fills on it)
        max_order, max_trade = 0, dict.fromkeys(SYMBOLS, 0)
        seen: dict[tuple[str, str], tuple[int, str]] = {}  # (symbol, trade id) -> (time, order id) before a crash
        for crash in range(3):
            ex = server.client()
            new_ids = _round(server, ex)
            assert min(new_ids) > max_order, f"order ids restarted after crash {crash}"
            max_order = max(new_ids)
            trades = [t for sym in SYMBOLS for t in _trades(ex, sym)]
            fresh = [t for t in trades if (t["symbol"], t["id"]) not in seen]
            assert fresh, f"no new fill after crash {crash}"
            for t in fresh:
                assert int(t["id"]) > max_trade[t["symbol"]], f"{t['symbol']} trade ids restarted after crash {crash}"
            for t in trades:
                max_trade[t["symbol"]] = max(max_trade[t["symbol"]], int(t["id"]))
            for t in trades:  # trades from before a crash survive it unchanged
                assert seen.setdefault((t["symbol"], t["id"]), (int(t["timestamp"]), t["order"])) == (
                    int(t["timestamp"]),
                    t["order"],
                )
            server.kill()
            server.start()
        ex = server.client()
        assert min(_round(server, ex)) > max_order
        time.sleep(0.3)  # a few market ticks
        assert _time_problems(ex) == []
        trades = [t for sym in SYMBOLS for t in _trades(ex, sym)]
        assert all(int(t["id"]) > max_trade[t["symbol"]] for t in trades if (t["symbol"], t["id"]) not in seen)
        # each crash left a resting sell per symbol that the (regenerated) market crossed: they filled
        # at the restart, not before they were placed
        assert len(trades) >= 4 * len(SYMBOLS) + 3 * len(SYMBOLS)
    finally:
        if server.proc is not None:
            server.kill()


def test_restart_catch_up_print_does_not_fill_before_the_order(tmp_path: Path) -> None:
    """Stepped clock, so it is deterministic: the same root cause without a second process."""
    cfg = LocalnetConfig(
        stepped=True, seed=11, start_ms=1_700_000_000_000, history_minutes=10, state_dir=tmp_path, limits=BIG
    )
    with start(config=cfg) as net:
        net.step(90_000)  # synthetic prints
        ex = net.client("trader", enableRateLimit=False)
        last = net.call(lambda v: v.recent["BTCUSDT"][-1])
        low = (last.price * Decimal("0.95")).quantize(Decimal("0.01"))
        net.inject_trade("BTCUSDT", low, "0.01", side="sell")  # the market drops 5 % ...
        net.step(1_000)
        sell = ex.create_order("BTC/USDT", "limit", "sell", 0.002, float(low * Decimal("1.01")))  # ... a sell rests
        assert sell["status"] == "open" and last.ts_ms < int(sell["timestamp"])
    with start(config=cfg) as net:  # the regenerated market is back at ``last``, through the sell
        ex = net.client("trader", enableRateLimit=False)
        order = ex.fetch_order(sell["id"], "BTC/USDT")
        fills = ex.fetch_my_trades("BTC/USDT")
        now = net.call(lambda v: v.clock.now_ms())
    assert order["status"] == "closed" and fills
    assert all(int(t["timestamp"]) >= int(sell["timestamp"]) for t in fills), (fills, sell["timestamp"])
    assert now == int(sell["timestamp"])  # a stepped clock resumes where it stopped


def test_order_commands_catch_the_market_up_first() -> None:
    """A running clock moves between market ticks: an order is stamped only after the market
    (prints and books up to that time) reached the engine, so no older print can fill it later."""
    v = Venue(LocalnetConfig(speed=500.0, start_ms=1_700_000_000_000, history_minutes=5, limits=BIG))
    time.sleep(0.2)  # 100 simulated seconds, no tick (no server): the market lags the clock
    price = str((v.last_price["BTCUSDT"] * Decimal("0.9")).quantize(Decimal("0.01")))
    params = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.001"}
    req = decode_order({**params, "price": price}, v.symbols)
    order, _ = v.place_order("main", req.request, req.meta)
    assert order is not None
    assert v._tick_ms == order.created_ms  # the market was advanced to the order's time first
    v.cancel_order("main", "BTCUSDT", order_id=order.id, client_id=None)
    assert v._tick_ms > order.created_ms
    v.close()


@pytest.mark.slow  # two servers on one state directory: about 4 s
def test_own_fills_stay_on_the_public_tape_across_a_restart(tmp_path: Path) -> None:
    """On Binance history does not change: after a stop and start of the server, the tape
    (``trades``, ``historicalTrades``, ``aggTrades``) is the same trade for trade, the account's
    own fills included under their original ids, and the klines' volumes and trade counts still
    hold them; ``myTrades`` names the same ids, and new trades continue above them."""
    cfg = LocalnetConfig(
        stepped=True, seed=11, start_ms=1_700_000_000_000, history_minutes=10, state_dir=tmp_path, limits=BIG
    )

    def tape(ex: Any) -> dict[str, Any]:
        q = {"symbol": "BTCUSDT", "limit": 1000}
        return {
            "trades": ex.publicGetTrades(q),
            "historical": ex.publicGetHistoricalTrades(q),
            "agg": ex.publicGetAggTrades(q),
            "klines": ex.publicGetKlines({"symbol": "BTCUSDT", "interval": "1m", "limit": 20}),
            "mine": ex.privateGetMyTrades({"symbol": "BTCUSDT"}),
        }

    with start(config=cfg) as net:
        ex = net.client("trader", enableRateLimit=False)
        net.step(90_000)
        ex.create_order("BTC/USDT", "market", "buy", 0.003)
        net.step(45_000)
        ex.create_order("BTC/USDT", "market", "sell", 0.002)
        net.step(30_000)
        before = tape(ex)
    mine = {int(t["id"]) for t in before["mine"]}
    assert len(mine) >= 2 and mine <= {int(t["id"]) for t in before["trades"]}  # own fills are public trades
    with start(config=cfg) as net:
        ex = net.client("trader", enableRateLimit=False)
        after = tape(ex)
        assert after == before  # the same history, own fills and their ids included
        ex.create_order("BTC/USDT", "market", "buy", 0.001)
        net.step(5_000)
        newest = ex.publicGetTrades({"symbol": "BTCUSDT", "limit": 1000})
    top = max(int(t["id"]) for t in before["trades"])
    fresh = [t for t in newest if int(t["id"]) > top]
    assert fresh and [int(t["id"]) for t in newest] == sorted(int(t["id"]) for t in newest)
    assert len({t["id"] for t in newest}) == len(newest)  # no id names two trades
