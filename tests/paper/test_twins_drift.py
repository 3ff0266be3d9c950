"""Shadow twins of testnet orders on localnet (real ccxt), and the drift report's metrics and gates."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from kit.errors import KitError, StageError
from kit.paper.drift import GATES, DriftGateFailed, assert_gates, drift_table
from kit.session import Session


def _trader_env(upstream: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    key, secret = upstream.net.credentials("trader")
    monkeypatch.setenv("KIT_LOCALNET_API_KEY", key)
    monkeypatch.setenv("KIT_LOCALNET_API_SECRET", secret)


@pytest.mark.slow
def test_every_testnet_order_gets_a_twin_on_the_same_market(
    upstream: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _trader_env(upstream, monkeypatch)
    with Session("localnet", journal=tmp_path / "j.sqlite", dotenv=None, twins=True) as s:
        assert s.twins is not None and s.twins.symbols == ["BTC/USDT"]
        s.place("BTC/USDT", "buy", "0.002")
        s.place("BTC/USDT", "sell", "0.001")
        far = s.place("BTC/USDT", "buy", "0.001", price="30000")
        time.sleep(0.5)
        s.cancel("BTC/USDT", order_id=far["id"])
        time.sleep(0.5)
        pairs = s.twins.pairs()
    assert list(pairs["bucket"]) == ["market", "market", "passive_limit"]
    markets = pairs[pairs["bucket"] == "market"]
    assert (markets["real_filled"] == markets["qty"]).all()
    assert (markets["paper_filled"] == markets["qty"]).all()  # the twin found the same book's depth
    for _, r in markets.iterrows():  # same book, so the twin's price is within a few ticks of the real one
        assert abs(r["paper_avg"] - r["real_avg"]) / r["real_avg"] < 0.001
        assert r["paper_ttf_ms"] == 250  # the placeholder latency: twins act at send + 250 ms
    passive = pairs[pairs["bucket"] == "passive_limit"].iloc[0]
    assert passive["real_filled"] == 0 and passive["paper_filled"] == 0 and passive["paper_status"] == "canceled"
    table = drift_table(pairs)
    assert table.loc["market", "pairs"] == 2 and table.loc["market", "verdict"] == "insufficient"
    assert table.loc["post_only", "verdict"] == "none"
    assert_gates(table)  # too few pairs never fails


@pytest.mark.slow
def test_twins_refuse_read_only_and_paper_sessions(upstream: Any, tmp_path: Path) -> None:
    from kit.paper.twins import ShadowTwins

    with Session("localnet", stage="paper", journal=tmp_path / "j.sqlite", dotenv=None) as s:
        assert s.twins is None
        with pytest.raises(StageError, match="testnet and live"):
            ShadowTwins(s)


def _pairs(n: int, bucket: str, **cols: Any) -> pd.DataFrame:
    base = {"bucket": bucket, "side": "buy", "qty": 1.0, "real_filled": 1.0, "real_avg": 100.0,
            "paper_filled": 1.0, "paper_avg": 100.0, "real_ttf_ms": 1000.0, "paper_ttf_ms": 1200.0,
            "spread_bps": 1.0, "tick_bps": 1.0}  # fmt: skip
    return pd.DataFrame([{**base, **cols} for _ in range(n)])


def test_passive_phantoms_fail_the_gate_and_the_report() -> None:
    # 60 passive orders: 4 filled on paper only (6.7 % phantom > 5 %)
    ok = _pairs(56, "passive_limit")
    phantom = _pairs(4, "passive_limit", real_filled=0.0, real_avg=None, real_ttf_ms=None)
    table = drift_table(pd.concat([ok, phantom], ignore_index=True))
    row = table.loc["passive_limit"]
    assert row["phantom_rate"] == pytest.approx(4 / 60) and row["verdict"] == "fail"
    assert "phantom rate 6.7% > 5%" in row["why"]
    with pytest.raises(DriftGateFailed, match="passive_limit") as info:
        assert_gates(table)
    assert isinstance(info.value, KitError) and "never loosen the gates" in info.value.hint


def test_passive_gates_warn_between_the_thresholds_and_pass_when_paper_is_slower() -> None:
    warn = pd.concat([_pairs(97, "post_only"), _pairs(3, "post_only", real_filled=0.0, real_avg=None,
                                                    real_ttf_ms=None)], ignore_index=True)  # fmt: skip
    assert drift_table(warn).loc["post_only", "verdict"] == "warn"  # 3 % phantom: between 2 % and 5 %
    fast = _pairs(60, "passive_limit", paper_ttf_ms=700.0)  # paper fills in 0.7x the real time
    row = drift_table(fast).loc["passive_limit"]
    assert row["ttf_ratio_median"] == pytest.approx(0.7) and row["verdict"] == "fail"
    assert drift_table(_pairs(60, "passive_limit")).loc["passive_limit", "verdict"] == "ok"


def test_taker_gates_use_the_spec_numbers() -> None:
    # paper 0.8 bp better than real on every buy: median > max(0.5 bp, 1 tick = 0.5 bp) warns, and
    # the bootstrap lower bound of the mean optimism is above 0: fail
    better = _pairs(60, "market", paper_avg=100.0 - 0.008, tick_bps=0.5, spread_bps=2.0)
    row = drift_table(better).loc["market"]
    assert row["dp_bps_median"] == pytest.approx(0.8) and row["verdict"] == "fail"
    assert "bootstrap" in row["why"] and "median dp 0.80 bp > 0.50 bp" in row["why"]
    # paper 1 bp worse than real (conservative): ok
    worse = _pairs(60, "market", paper_avg=100.01)
    assert drift_table(worse).loc["market", "verdict"] == "ok"
    # a sell at a lower paper price is conservative too (s = -1)
    sells = _pairs(60, "ioc_fok", side="sell", paper_avg=99.99)
    assert drift_table(sells).loc["ioc_fok", "dp_bps_median"] == pytest.approx(-1.0)
    assert GATES["min_pairs"] == 50


def test_a_gap_on_the_tape_stops_twin_fills_until_the_next_book() -> None:
    from decimal import Decimal as D

    from kit.engine.paperfill import PaperFillModel
    from kit.paper.twins import SymbolRules, simulate_twins

    book = {"k": "book", "s": "BTC/USDT", "b": [["100", "5"]], "a": [["100.01", "2"]]}
    events = [{**book, "t": 0}, {"t": 100, "k": "gap", "s": "BTC/USDT"}, {**book, "t": 2_000}]
    intents = pd.DataFrame([{"client_id": "m", "symbol": "BTC/USDT", "side": "buy", "type": "market", "amount": "1",
                             "price": None, "time_in_force": "GTC", "post_only": False, "ts_ms": 200}])  # fmt: skip
    rules = {"BTC/USDT": SymbolRules(D("0.01"), D("0.001"))}
    no_cancels = pd.DataFrame(columns=["ts_ms", "client_id"])
    twins = simulate_twins(intents, no_cancels, events, rules, model=PaperFillModel(), until_ms=5_000)
    order = twins["m"][0]
    assert order.first_fill_ms == 2_000  # due at 450, but the book was gone until 2000
    assert order.avg_price == D("100.01")


def test_a_mirror_book_shows_nothing_after_a_gap_until_a_full_book() -> None:
    from decimal import Decimal as D

    from kit.localnet.config import DEFAULT_SYMBOLS
    from kit.paper.book import MirrorBook

    book = MirrorBook(DEFAULT_SYMBOLS[0])
    book.feed([(D(100), D(2))], [(D("100.01"), D(1))], ts_ms=0)
    book.refresh(0)
    book.gap()
    book.refresh(10)
    assert book.best() == (None, None) and book.snapshot(5)["asks"] == []
    book.feed([(D(100), D(2))], [(D("100.01"), D(1))], ts_ms=20)
    book.refresh(20)
    assert book.best()[1] == (D("100.01"), D(1))


def test_the_tape_writes_depth_only_changes_at_most_every_250_ms(tmp_path: Path) -> None:
    from decimal import Decimal as D

    from kit.paper.twins import Tape

    tape = Tape(tmp_path / "tape.jsonl")
    sink = tape.book_sink("BTC/USDT")
    top = ([(D(100), D(1)), (D(99), D(1))], [(D(101), D(1))])
    sink.feed(*top, ts_ms=0)
    sink.feed(*top, ts_ms=10)  # identical: never written
    sink.feed([(D(100), D(1)), (D(99), D(2))], top[1], ts_ms=100)  # depth only, 100 ms later: skipped
    sink.feed([(D(100), D(2)), (D(99), D(2))], top[1], ts_ms=120)  # the best bid changed: written
    sink.feed([(D(100), D(2)), (D(99), D(3))], top[1], ts_ms=400)  # depth only, 280 ms later: written
    tape.close()
    assert [e["t"] for e in Tape.read([tape.path])] == [0, 120, 400]


@pytest.mark.slow
def test_twins_that_cannot_start_leave_a_warning_not_a_broken_session(
    upstream: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kit.paper import twins as twins_module

    _trader_env(upstream, monkeypatch)
    monkeypatch.setattr(twins_module, "_default_symbols", lambda session: ["NOPE/USDT"])
    with Session("localnet", journal=tmp_path / "j.sqlite", dotenv=None, twins=True) as s:
        assert s.twins is None
        assert any("shadow twins not started (ConfigError: none of the symbols" in w for w in s.warnings)
        assert s.place("BTC/USDT", "buy", "0.001")["status"] == "closed"  # trading is unaffected


def test_stop_twins_trigger_on_the_tape_and_a_cancelled_stop_never_trades() -> None:
    from decimal import Decimal as D

    from kit.engine.paperfill import PaperFillModel
    from kit.paper.twins import SymbolRules, _bucket, simulate_twins

    book = {"k": "book", "s": "BTC/USDT", "b": [["100", "5"]], "a": [["100.01", "5"]]}
    up = {"k": "book", "s": "BTC/USDT", "b": [["101", "5"]], "a": [["101.01", "5"]]}
    events = [{**book, "t": 0}, {"t": 1_000, "k": "trade", "s": "BTC/USDT", "p": "100.50", "q": "1", "m": False},
              {**up, "t": 1_900}, {"t": 2_000, "k": "trade", "s": "BTC/USDT", "p": "101.00", "q": "1", "m": False},
              {**up, "t": 5_000}]  # fmt: skip
    row = {"symbol": "BTC/USDT", "side": "buy", "amount": "1", "time_in_force": "GTC", "post_only": False}
    intents = pd.DataFrame([
        {**row, "client_id": "stop", "type": "stop_market", "trigger_price": "101", "price": None, "ts_ms": 100},
        {**row, "client_id": "tp", "type": "take_profit_market", "trigger_price": "99", "price": None, "ts_ms": 100},
        {**row, "client_id": "gone", "type": "stop_limit", "trigger_price": "101", "price": "101.5", "ts_ms": 100},
    ])  # fmt: skip
    cancels = pd.DataFrame([{"ts_ms": 1_500, "client_id": "gone", "symbol": "BTC/USDT"}])
    rules = {"BTC/USDT": SymbolRules(D("0.01"), D("0.001"))}
    twins = simulate_twins(intents, cancels, events, rules, model=PaperFillModel(), until_ms=6_000)
    stop = twins["stop"][0]
    assert stop.sent_ms == 2_000  # not at the 100.50 print: triggered by the 101.00 print
    assert stop.filled == D("1") and stop.avg_price == D("101.01")  # then a market buy on the book after latency
    assert twins["tp"][0].filled == 0 and twins["tp"][0].status == "pending"  # a buy take-profit at 99: never
    assert twins["gone"][0].status == "canceled" and twins["gone"][0].filled == 0
    assert _bucket({"type": "stop_limit"}, True) == "stop"
