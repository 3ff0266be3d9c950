"""The live stages rehearsed offline (#12.9): a declared rehearsal venue, the whole ladder, through real ccxt.

A second, separate localnet declared a rehearsal venue (``KIT_REHEARSAL_URL``, its own keys and state)
plays a real exchange and its testnet: read_only -> testnet -> live_small with the real evidence gate,
caps in USD and the kill switch. Its journal names (``rehearsal-testnet``, ``rehearsal``) never pass
for a real exchange, and its history never counts as a real exchange's evidence.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from lab.lab import BIG_LIMITS, Lab

from kit.errors import CapExceeded, ConfigError, StageError
from kit.journal.journal import Journal
from kit.localnet.server import Localnet, start
from kit.safety.guard import Caps, Guard
from kit.safety.killswitch import KillSwitch
from kit.session import Session
from kit.session.venues import rehearsal_config

SYMBOLS = ["BTC/USDT", "ETH/BTC"]


@pytest.fixture()
def rehearsal(lab: Lab, tmp_path: Path) -> Iterator[Localnet]:
    cfg = rehearsal_config(tmp_path / "rehearsal", stepped=True, seed=11, history_minutes=30, limits=BIG_LIMITS)
    net = start(port=0, config=cfg)
    lab.monkeypatch.setenv("KIT_REHEARSAL_URL", net.url)
    lab.monkeypatch.setenv("KIT_REHEARSAL_KEYS", str(net.keys_file))
    try:
        yield net
    finally:
        net.stop()


def _open(lab: Lab, stage: str, **kw: Any) -> Session:
    s = Session("rehearsal", stage=stage, journal=lab.journal_path, dotenv=None, **kw)
    lab.sessions.append(s)
    return s


def test_the_whole_ladder_runs_offline_with_the_real_gate_caps_and_kill_switch(lab: Lab, rehearsal: Localnet) -> None:
    caps = Caps.for_stage("live_small", symbols=SYMBOLS)
    # read_only: the reading key of the rehearsal, never a trading one
    ro = _open(lab, "read_only")
    assert ro.venue == "rehearsal" and ro.preflight is not None and ro.preflight.permissions == {
        "reading": True, "spot_trading": False, "withdrawals": False, "internal_transfer": False,
        "universal_transfer": False,
    }  # fmt: skip
    # live_small before any testnet history: the real gate refuses, nothing sent
    with lab.raises(StageError, match="found BTC/USDT: 0 of 3; ETH/BTC: 0 of 3"):
        _open(lab, "live_small", caps=caps)
    # testnet: the rehearsal's testnet account, journaled as rehearsal-testnet
    t = _open(lab, "testnet")
    assert t.venue == "rehearsal-testnet"
    for sym, amount in (("BTC/USDT", "0.0002"), ("ETH/BTC", "0.004")):
        for _ in range(3):
            assert t.buy(sym, amount)["status"] == "closed"
    # live_small: the gate passes on the rehearsal's own testnet history
    live = _open(lab, "live_small", caps=caps)
    assert live.venue == "rehearsal" and live.preflight is not None and live.preflight.verdict == "ok"
    n_live = len(rehearsal.client("live", enableRateLimit=False).fetch_open_orders("BTC/USDT"))
    assert n_live == 0
    # caps in USD: 390 ETH at 0.05 BTC is 19.5 BTC, not "19.5 under a cap of 20"
    with lab.raises(CapExceeded, match="per-order cap 20 USD"):
        live.place("ETH/BTC", "buy", "390", price="0.05")
    btc = Decimal(str(live.ticker("BTC/USDT")["last"]))
    resting = live.place("BTC/USDT", "buy", "0.0002", price=str((btc * Decimal("0.8")).quantize(Decimal("0.01"))))
    assert resting["status"] == "open"
    # the kill switch: the live session cancels its order by itself
    KillSwitch().engage("rehearsal drill")
    t0 = time.monotonic()
    ex = rehearsal.client("live", enableRateLimit=False)
    while ex.fetch_open_orders("BTC/USDT") and time.monotonic() - t0 < 60:
        time.sleep(0.05)
    # gone, and by the live session's own watcher (how fast its looks come is
    # tests/session/test_session_killswitch.py's, counted in looks; a 2 s wall-clock bound here was a bet on the runner)
    assert ex.fetch_open_orders("BTC/USDT") == []

    def live_kills() -> list[Any]:  # journaled once the watcher's cancels are done, a moment after they land
        with Journal(lab.journal_path) as j:
            return [e for e in j.events(kinds=["killswitch"]) if e.venue == "rehearsal" and "cancelled" in e.payload]

    while not live_kills() and time.monotonic() - t0 < 60:
        time.sleep(0.05)
    assert [e.payload["cancelled"] for e in live_kills()] == [1]
    KillSwitch().reset()
    with Journal(lab.journal_path) as j:
        venues = {e.venue for e in j.events(kinds=["intent", "fill", "guard", "killswitch"])}
        assert venues == {"rehearsal-testnet", "rehearsal"}  # never a real exchange's name
        live_fills = j.filled_orders(stage="live_small", symbols=SYMBOLS, since_ms=0)
        assert live_fills == 0  # the resting order never filled; the testnet buys are testnet's
    # last (it journals its refusal under 'binance'): the rehearsal's fills are no evidence for a real exchange
    with Journal(lab.journal_path) as j:
        real = Guard("live_small", sandbox=False, caps=caps, journal=j, kill_switch=KillSwitch(), venue="binance")
        with lab.raises(StageError, match="found BTC/USDT: 0 of 3"):
            real.check_stage(symbols=SYMBOLS, now_ms=int(time.time() * 1000))


def test_the_rehearsal_is_never_the_default_nor_taken_for_localnet(lab: Lab, rehearsal: Localnet) -> None:
    lab.monkeypatch.delenv("KIT_REHEARSAL_URL")
    with lab.raises(ConfigError, match="no rehearsal venue is declared"):
        _open(lab, "testnet")
    lab.monkeypatch.setenv("KIT_REHEARSAL_URL", lab.net.url)  # the default localnet is not a rehearsal
    with lab.raises(ConfigError, match="not a rehearsal venue"):
        _open(lab, "testnet")
    lab.monkeypatch.setenv("KIT_LOCALNET_URL", rehearsal.url)  # nor the rehearsal a localnet
    with lab.raises(ConfigError, match="points at a rehearsal venue"):
        lab.session()
    keys = Path(str(rehearsal.keys_file)).read_text()
    assert "KIT_REHEARSAL_URL=" in keys and "KIT_LOCALNET_URL" not in keys
    assert "KIT_REHEARSAL_LIVE_API_KEY=" in keys and "KIT_REHEARSAL_TESTNET_API_KEY=" in keys


def test_the_rehearsal_keys_are_written_nowhere_but_its_keys_file(lab: Lab, rehearsal: Localnet) -> None:
    t = _open(lab, "testnet")
    t.buy("BTC/USDT", "0.0002")
    t.cancel_all()
    ro = _open(lab, "read_only")
    ro.balances()
    secrets = [v for name in rehearsal.keys for v in rehearsal.credentials(name)]
    assert len(secrets) == 6
    stores = ("keys.env", "localnet.sqlite")  # the localnets' own key stores (its -wal/-shm too)
    written = [p for p in lab.tmp.rglob("*") if p.is_file() and not p.name.startswith(stores)]
    assert any(p.name.startswith("j.sqlite") for p in written) and any("requests" in p.name for p in written)
    leaks = [p.name for p in written for v in secrets if v.encode() in p.read_bytes()]
    leaks += [f"repr {s!r}" for s in (t, ro) for v in secrets if v in repr(s) + str(s.status())]
    assert leaks == []
