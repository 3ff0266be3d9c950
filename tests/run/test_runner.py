"""The runner through real ccxt against a stepped localnet: decisions, orders, identity with replay,
strategy errors, the kill switch, candle gaps, and resume without a duplicate order."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest
from lab.lab import Lab

from kit.engine import replay
from kit.errors import ConfigError
from kit.run import Runner, heartbeats
from kit.run.compare import market_from_session, replay_vs_forward
from kit.strategy import Strategy
from kit.strategy.examples import SmaCross
from kit.transport.backoff import Backoff

SYM = "BTC/USDT"


class Flip(Strategy):
    """Buys when flat, sells the position otherwise: one order per candle."""

    lookback = 10
    size = Decimal("0.001")

    def next(self) -> None:
        if self.flat:
            self.buy(self.size)
        else:
            self.close_position()


class Fast(SmaCross):
    lookback = 30
    fast = 3
    slow = 8


def steps(lab: Lab, r: Runner, n: int) -> None:
    r.prepare()  # history first: the candles closing from now on are the run's
    for _ in range(n):
        lab.net.step(60_000)
        assert r.poll_once() == 1, r.reason


def exchange_orders(lab: Lab) -> list[dict[str, Any]]:
    c = lab.client()
    return c.fetch_orders(SYM) + []


def test_candle_closes_become_orders_with_a_heartbeat(lab: Lab) -> None:
    s = lab.session()
    r = Runner(s, Flip, [SYM], poll_s=0.05, schedule="poll")
    r.prepare()
    assert len(r.feeds[SYM]) == 10  # lookback loaded as history, next() not called on it
    steps(lab, r, 4)
    dec = r.decisions()
    assert dec["action"].tolist() == ["buy", "sell", "buy", "sell"]
    assert dec["status"].tolist() == ["closed"] * 4 and dec["client_id"].str.len().gt(0).all()
    on_exchange = exchange_orders(lab)
    assert sorted(o["clientOrderId"] for o in on_exchange) == sorted(dec["client_id"])
    assert r.broker.position(SYM) < Decimal("0.00001")  # bought and sold back (fee dust only)
    hb = json.loads(r.heartbeat_path.read_text())
    assert hb["state"] == "running" and hb["orders_sent"] == 4 and hb["name"] == r.name
    assert [h["name"] for h in heartbeats()] == [r.name]
    assert lab.net.step(0) and r.poll_once() == 0  # no new candle: nothing done
    r.stop()
    assert r.state == "stopped" and r.journal("run")["state"].tolist() == ["started", "stopped"]


@pytest.mark.slow  # 90 candle closes stepped through real ccxt
@pytest.mark.slow  # 90 candles through real ccxt: about 1.5 s idle, over the fast loop's 2 s when loaded
def test_same_candles_same_decisions_in_replay_and_forward(lab: Lab) -> None:
    s = lab.session()
    r = Runner(s, Fast, [SYM], poll_s=0.05, schedule="poll")
    r.prepare()
    history = r.feeds[SYM].frame()
    steps(lab, r, 90)
    forward = r.strategies[SYM].decisions
    assert sum(d.action == "buy" for d in forward) >= 2 and sum(d.action == "sell" for d in forward) >= 2
    live = s.candles(SYM, "1m", limit=200).iloc[:-1]
    live = live[live.index > history.index[-1]]
    assert len(live) == 90
    candles = pd.concat([history, live])
    again = Fast()
    market = market_from_session(s, SYM)
    res = replay.run(candles, market, strategy=again.as_replay_callback(candles, market, warmup=len(history)))
    assert [d.key() for d in again.decisions] == [d.key() for d in forward]
    # the replay fills an order in the candle after its decision: all but one decided at the last close
    before_last = [d for d in forward if d.candle_ms < int(candles.index[-1].value // 1_000_000)]
    assert len(res.fills) >= len(before_last)
    # the journal-based comparison says the same, decision by decision
    cmp = replay_vs_forward(s, Fast, r.name, SYM, candles=candles)
    assert len(cmp) == len(forward) and (cmp["explanation"] == "same").all()
    # a decision at the last close has no next candle for the replay to fill it in (its price is NaN)
    filled = [d.candle_ms < int(candles.index[-1].value // 1_000_000) for d in forward]
    assert cmp["forward_price"].notna().all() and cmp["replay_price"][filled].notna().all()
    assert cmp["price_delta_bps"][filled].abs().lt(100).all()


class Boom(Strategy):
    """Rests a limit buy far below the market, then raises at the third candle."""

    lookback = 5
    calls = 0

    def next(self) -> None:
        type(self).calls += 1
        if type(self).calls == 1:
            self.buy("0.001", limit=self.close * 0.9)
        if type(self).calls == 3:
            raise ZeroDivisionError("bad indicator")


@pytest.mark.parametrize("policy", ["cancel", "keep"])
def test_a_strategy_that_raises_stops_trading_alerts_once_and_is_never_called_again(lab: Lab, policy: str) -> None:
    Boom.calls = 0
    s = lab.session()
    r = Runner(s, Boom, [SYM], poll_s=0.05, schedule="poll", on_error=policy)
    steps(lab, r, 2)
    assert len(lab.client().fetch_open_orders(SYM)) == 1
    lab.net.step(60_000)
    assert r.poll_once() == 0 and r.state == "failed"
    assert "ZeroDivisionError: bad indicator (at test_runner.py:" in r.error
    assert len(lab.client().fetch_open_orders(SYM)) == (0 if policy == "cancel" else 1)
    for _ in range(3):
        lab.net.step(60_000)
        assert r.poll_once() == 0
    assert Boom.calls == 3  # never retried
    sent = [a for a in r.alerter.sent if a.kind == "strategy_error"]
    assert len(sent) == 1 and "trading stopped" in sent[0].message
    assert r.journal("run")["state"].tolist()[-1] == "failed"
    assert json.loads(r.heartbeat_path.read_text())["state"] == "failed"


def test_kill_switch_during_a_run_cancels_its_orders_and_stops_it(lab: Lab) -> None:
    class Rest(Strategy):
        lookback = 5

        def next(self) -> None:
            self.buy("0.001", limit=self.close * 0.95)

    s = lab.session()
    r = Runner(s, Rest, [SYM], poll_s=0.05, schedule="poll")
    steps(lab, r, 2)
    assert len(lab.client().fetch_open_orders(SYM)) == 2
    s.kill_switch.engage("test: stop everything")
    lab.net.step(60_000)
    assert r.poll_once() == 0 and r.state == "killed"
    assert lab.client().fetch_open_orders(SYM) == []
    # cancelled by the run, or already by the Session's own kill-switch watcher: none left either way
    assert "kill switch engaged (test: stop everything)" in r.reason and "orders of this run cancelled" in r.reason
    s.kill_switch.reset()
    lab.net.step(60_000)
    assert r.poll_once() == 0 and len(r.decisions()) == 2  # a killed run stays stopped


@pytest.mark.slow  # a real data outage and its backfill
def test_a_data_outage_is_backfilled_before_the_strategy_sees_the_next_candle(lab: Lab) -> None:
    seen: list[int] = []

    class Watch(Flip):
        def next(self) -> None:
            seen.append(int(self.time.value // 1_000_000))
            super().next()

    s = lab.session(backoff=Backoff(base_s=0.01, cap_s=0.01, max_tries=1))
    r = Runner(s, Watch, [SYM], poll_s=0.05, schedule="poll")
    steps(lab, r, 1)
    lab.net.set_faults(maintenance=True)
    for _ in range(3):
        lab.net.step(60_000)
        assert r.poll_once() == 0
    assert r.state == "degraded"
    lab.net.set_faults(maintenance=False)
    lab.net.step(60_000)
    assert r.poll_once() == 4 and r.state == "running"
    assert [b - a for a, b in zip(seen, seen[1:], strict=False)] == [60_000] * 4  # every candle, in order
    dec = r.decisions()
    assert dec["stale"].tolist() == [False, True, True, True, False]  # only the newest candle's decision sent
    assert dec["client_id"].notna().tolist() == [True, False, False, False, True]


def test_bad_runner_input_is_refused_before_any_request(lab: Lab) -> None:
    s = lab.session()
    before = lab.server_count()
    with pytest.raises(ConfigError, match="unknown symbols"):
        Runner(s, Flip, ["NOPE/USDT"])
    with pytest.raises(ConfigError, match="on_error"):
        Runner(s, Flip, [SYM], on_error="retry")
    with pytest.raises(ConfigError, match="not a kit.strategy.Strategy"):
        Runner(s, int, [SYM])  # type: ignore[arg-type]
    assert lab.server_count() == before
