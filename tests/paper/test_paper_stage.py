"""The ``paper`` stage: no key, nothing reaches the venue's accounts, the usual order path (real ccxt)."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from kit.errors import ConfigError, StageError
from kit.safety.guard import Caps, Guard
from kit.safety.killswitch import KillSwitch
from kit.safety.stages import Stage
from kit.session import Session
from kit.session.venues import resolve


def test_paper_sits_between_read_only_and_testnet() -> None:
    assert [s.value for s in sorted(Stage, key=lambda s: s.rank)] == [
        "read_only", "paper", "testnet", "live_small", "live",
    ]  # fmt: skip
    assert Stage.parse("PAPER") is Stage.PAPER
    assert Stage.PAPER.allows_orders and Stage.PAPER.is_simulated and not Stage.PAPER.is_live
    assert not Stage.TESTNET.is_simulated


def test_resolve_paper_specs() -> None:
    spec = resolve("binance", "paper")
    assert (spec.name, spec.exchange_id, spec.paper, spec.sandbox, spec.stage) == (
        "binance", "binance", True, True, Stage.PAPER,
    )  # fmt: skip
    assert resolve("localnet", "paper").paper
    with pytest.raises(StageError, match="not a testnet") as info:
        resolve("binance-testnet", "paper")
    assert "No request was sent" in info.value.hint
    with pytest.raises(ConfigError, match="unknown exchange"):
        resolve("nosuchexchange", "paper")


def test_guard_refuses_paper_on_a_real_endpoint(tmp_path: Path) -> None:
    ks = KillSwitch(tmp_path / "KILL", env={})
    guard = Guard(
        Stage.PAPER, sandbox=False, caps=Caps.for_stage("paper"), journal=None, kill_switch=ks, venue="binance"
    )
    with pytest.raises(StageError, match="only to the paper venue"):
        guard.check_stage(symbols=[], now_ms=0)
    ok = Guard(Stage.PAPER, sandbox=True, caps=Caps(), journal=None, kill_switch=ks, venue="paper-binance")
    ok.check_stage(symbols=[], now_ms=0)  # the paper venue is where paper orders belong


def _wait(cond: object, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


@pytest.mark.slow
def test_localnet_paper_session_needs_no_key_and_never_touches_the_accounts(upstream: Any, tmp_path: Path) -> None:
    before = upstream.net.call(lambda v: v.engine.balances("main"))
    with Session("localnet", stage="paper", journal=tmp_path / "j.sqlite", dotenv=None) as s:
        assert s.stage is Stage.PAPER and s.venue.startswith("paper-localnet")
        assert s.url != upstream.net.url
        bought = s.place("BTC/USDT", "buy", "0.001")
        assert bought["status"] == "closed" and Decimal(str(bought["filled"])) == Decimal("0.001")
        # the fill priced on the mirrored book: within the upstream's current spread region
        ask = Decimal(upstream.net.call(lambda v: v.books["BTCUSDT"].best()[1][0]))
        assert abs(Decimal(str(bought["average"])) - ask) / ask < Decimal("0.002")
        resting = s.place("BTC/USDT", "sell", "0.001", price=str((ask * 2).quantize(Decimal("0.01"))))
        assert resting["status"] == "open"
        s.cancel("BTC/USDT", order_id=resting["id"])
        assert s.positions()["BTC/USDT"] == Decimal("0.000999")  # from the journaled fill, net of its base fee
        from kit.ops.reconcile import reconcile

        rep = reconcile(s, symbols=["BTC/USDT"])  # the paper venue agrees with the journal: nothing to fix
        assert rep.errors == [] and rep.adopted_fills == [] and rep.resolved == []
        fills = s.journal.frame("fill")
        assert list(fills["stage"]) == ["paper"] and list(fills["venue"]) == [s.venue]
        intents = s.journal.frame("intent")
        assert set(intents["stage"]) == {"paper"} and len(intents) == 2
    log = upstream.log()
    assert log, "the paper venue read the upstream's public market"
    private = [r for r in log if r.get("key") or "/order" in r["path"] or "account" in r["path"]]
    assert private == [], f"the paper venue sent private requests upstream: {private[:3]}"
    assert upstream.net.call(lambda v: v.engine.balances("main")) == before
    assert upstream.net.call(lambda v: v.engine.orders("main")) == []


@pytest.mark.slow
def test_feed_falls_back_to_rest_through_the_budget_when_streams_fail(upstream: Any) -> None:
    from kit.paper.venue import PaperConfig, start_paper_venue

    upstream.net.set_faults(ws_disconnect_rate=1.0)
    pv = start_paper_venue("localnet", upstream_url=upstream.net.url, config=PaperConfig(symbols=("BTC/USDT",)))
    try:
        _wait(lambda: pv.feed.stats.rest_books >= 2)
        assert pv.feed.stats.stream_errors >= 1
        assert pv.mirror.books["BTCUSDT"].has_data
        depth = [r for r in upstream.log() if r["path"].endswith("/depth")]
        assert len(depth) >= 2 and all(r["weight"] >= 1 for r in depth)
    finally:
        pv.close()


@pytest.mark.slow
def test_doctor_checks_the_paper_stage_without_a_key(upstream: Any, tmp_path: Path) -> None:
    from kit.ops.doctor import run_checks

    checks = {c.name: c for c in run_checks("localnet", "paper", journal=tmp_path / "j.sqlite", dotenv=None)}
    assert checks["credentials"].ok is True and "paper needs no key" in checks["credentials"].detail
    assert checks["stage"].ok is True and "paper venue" in checks["stage"].detail
    assert all(c.ok is not False for c in checks.values()), [c.line() for c in checks.values() if c.ok is False]
