"""Crash and resume: a SIGKILLed runner restarts from the journal and never sends an order twice.

The runner runs as ``kit run`` in a child process against the test's stepped localnet (real
ccxt); the test steps the market clock and kills the child with SIGKILL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from lab.lab import Lab

from kit.journal.journal import Journal
from kit.run import Runner
from kit.run.broker import client_id_for
from kit.strategy import load_strategy

pytestmark = pytest.mark.slow  # a kit run child process per test (several seconds each)

SYM = "BTC/USDT"
HERE = Path(__file__).resolve().parent
STRATEGY = f"{HERE / 'strategies.py'}:Flip"


def run_args(lab: Lab, strategy: str = STRATEGY, symbols: str = SYM) -> list[str]:
    """``kit run``'s arguments (after ``kit``) for the test's run named ``crash`` on the lab's journal."""
    return ["run", strategy, "--symbols", symbols, "--poll", "0.05", "--schedule", "poll", "--name", "crash",
            "--journal", str(lab.journal_path)]  # fmt: skip


def child(lab: Lab, *extra: str, strategy: str = STRATEGY, symbols: str = SYM) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "kit", *run_args(lab, strategy, symbols), *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ))


def reap(p: subprocess.Popen[bytes]) -> None:
    """Kill ``p`` if it is still running (a test that failed half-way), and wait for it."""
    if p.poll() is None:
        p.kill()
        p.communicate(timeout=30)


def killed_at_the_first_close(lab: Lab, tmp_path: Path, patch: str, *, strategy: str = STRATEGY,
                              symbols: str = SYM) -> None:  # fmt: skip
    """Run ``kit run`` with ``patch`` applied first (it SIGKILLs its own process at the chosen point), let
    one candle close, and wait for the kill."""
    script = tmp_path / "die.py"
    script.write_text(
        f"import os, signal, sys\n{patch}from kit.cli.main import main\nsys.argv = ['kit'] + sys.argv[1:]\nmain()\n"
    )
    cmd = [sys.executable, str(script), *run_args(lab, strategy, symbols)]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ))
    try:
        wait_for(lambda: len(rows(lab, "run")) == 1, "the run to start")
        lab.net.step(60_000)
        p.communicate(timeout=60)
    finally:
        reap(p)
    assert p.returncode == -signal.SIGKILL


def wait_for(pred, what: str, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def rows(lab: Lab, kind: str) -> list:  # type: ignore[type-arg]
    with Journal(lab.journal_path) as j:
        return [e for e in j.events(kinds=[kind]) if e.payload.get("run") == "crash"]


@pytest.mark.slow  # a runner process SIGKILLed and restarted
def test_sigkill_mid_run_then_restart_no_duplicate_order_journal_continuous(lab: Lab) -> None:
    p = child(lab)
    try:
        wait_for(lambda: len(rows(lab, "run")) == 1, "the run to start")
        for n in range(1, 4):
            lab.net.step(60_000)
            wait_for(lambda n=n: len(rows(lab, "decision_order")) == n, f"order {n}")
        lab.net.step(60_000)  # a candle closes; kill the runner while it may be acting on it
        time.sleep(0.02)
        p.send_signal(signal.SIGKILL)
        p.communicate(timeout=30)
    finally:
        reap(p)
    assert p.returncode == -signal.SIGKILL
    lab.net.step(60_000)  # and one more closes while it is down
    q = child(lab)
    try:
        wait_for(lambda: [e.payload["state"] for e in rows(lab, "run")][-1:] == ["resumed"], "the resume")
        wait_for(lambda: len(rows(lab, "decision")) == 5, "the catch-up (candles 4 and 5)")
        for n in (6, 7):
            lab.net.step(60_000)
            wait_for(lambda n=n: len(rows(lab, "decision")) == n, f"decision {n}")
        q.send_signal(signal.SIGTERM)
        out, err = q.communicate(timeout=30)
    finally:
        reap(q)
    assert q.returncode == 0, err.decode()[-2000:]
    assert b"stopped" in out
    decisions = rows(lab, "decision")
    ids = [e.payload["decision_id"] for e in decisions]
    assert len(ids) == len(set(ids))  # each decision journaled once, across the crash
    candles = sorted({int(e.payload["candle_ms"]) for e in decisions})
    assert [b - a for a, b in zip(candles, candles[1:], strict=False)] == [60_000] * (len(candles) - 1)
    orders = lab.client().fetch_orders(SYM)
    per_cid = Counter(o["clientOrderId"] for o in orders)
    links = rows(lab, "decision_order")
    assert all(v == 1 for v in per_cid.values())
    linked = Counter(e.payload["decision_id"] for e in links)
    assert all(v == 1 for v in linked.values())  # each decision settled once: no decision has two orders
    sent = {e.payload["decision_id"] for e in links if e.client_id}
    unsent = {e.payload["decision_id"] for e in links if not e.client_id}
    stale = {e.payload["decision_id"] for e in decisions if e.payload.get("stale")}
    # every decision has its one order, or was journaled as not sent (a catch-up, or its candle passed)
    assert sent | unsent | stale == set(ids) and not sent & (stale | unsent)
    assert len(orders) == len(sent)
    # every order's client id is its decision's own (tk- + the decision id): a restart derives the same one
    assert {e.client_id for e in links if e.client_id} == {client_id_for(d) for d in sent}
    states = [e.payload["state"] for e in rows(lab, "run")]
    assert states[0] == "started" and "resumed" in states and states[-1] == "stopped"


@pytest.mark.slow  # a child process SIGKILLed mid-send
def test_killed_between_the_send_and_the_link_the_restart_finds_the_order(lab: Lab, tmp_path: Path) -> None:
    patch = (
        "from kit.run import broker\n"
        "orig = broker.SessionBroker._j\n"
        "def _j(self, kind, **kw):\n"
        "    if kind == 'decision_order':\n"
        "        os.kill(os.getpid(), signal.SIGKILL)  # the order is on the exchange; its link is not journaled\n"
        "    return orig(self, kind, **kw)\n"
        "broker.SessionBroker._j = _j\n"
    )
    killed_at_the_first_close(lab, tmp_path, patch)
    assert len(rows(lab, "decision")) == 1 and rows(lab, "decision_order") == []
    assert len(lab.client().fetch_orders(SYM)) == 1  # it was sent
    s = lab.session()
    r = Runner(s, load_strategy(STRATEGY), [SYM], name="crash", poll_s=0.05, schedule="poll")
    r.prepare()
    assert r.poll_once() == 1  # the same candle again: the same decision, recognised
    assert len(lab.client().fetch_orders(SYM)) == 1  # not sent twice
    dec = r.decisions()
    assert len(dec) == 1 and r.broker.client_ids == {lab.client().fetch_orders(SYM)[0]["clientOrderId"]}
    lab.net.step(60_000)
    assert r.poll_once() == 1
    assert [o["side"] for o in lab.client().fetch_orders(SYM)] == ["buy", "sell"]  # it knew it held the buy


@pytest.mark.slow  # a child process SIGKILLed between the batch's journal commit and its sends
def test_killed_after_the_batch_was_journaled_before_it_was_sent_nothing_is_ever_sent_twice(
    lab: Lab, tmp_path: Path
) -> None:
    syms = "BTC/USDT,ETH/USDT"
    patch = (
        "from kit.session import trading\n"
        "def _send_many(self, prepared):\n"
        "    os.kill(os.getpid(), signal.SIGKILL)  # the intents are journaled; no request has gone out\n"
        "trading.Trading._send_many = _send_many\n"
    )
    two = f"{HERE / 'strategies.py'}:FlipTwo"
    killed_at_the_first_close(lab, tmp_path, patch, strategy=two, symbols=syms)
    with Journal(lab.journal_path) as j:
        intents = [e.client_id for e in j.events(kinds=["intent"])]
    decided = [client_id_for(e.payload["decision_id"]) for e in rows(lab, "decision")]
    # journaled, under the decisions' own ids (a symbol whose candle had not shown yet decides at the next poll)
    assert 1 <= len(decided) <= 2 and sorted(intents) == sorted(decided)
    assert lab.client().fetch_orders("BTC/USDT") + lab.client().fetch_orders("ETH/USDT") == []  # none sent
    q = child(lab, strategy=two, symbols=syms)  # the same run restarts, without the crash, and goes on
    try:
        wait_for(lambda: [e.payload["state"] for e in rows(lab, "run")][-1:] == ["resumed"], "the resume")
        for n in (2, 3):
            lab.net.step(60_000)
            wait_for(lambda n=n: len({e.payload["candle_ms"] for e in rows(lab, "decision")}) == n, f"close {n}")
        # every decision after the restart settled (the crashed ones too, when the restart saw their candle again)
        wait_for(lambda: len(rows(lab, "decision_order")) >= len(rows(lab, "decision")) - len(decided),
                 "the decisions after the restart settled")  # fmt: skip
        q.send_signal(signal.SIGTERM)
        q.communicate(timeout=30)
    except AssertionError:
        q.kill()
        got = [(e.client_id, e.payload.get("status")) for e in rows(lab, "decision_order")]
        raise AssertionError(f"{got}\n{q.communicate(timeout=30)[1].decode()[-3000:]}") from None
    finally:
        reap(q)
    orders = lab.client().fetch_orders("BTC/USDT") + lab.client().fetch_orders("ETH/USDT")
    per_cid = Counter(o["clientOrderId"] for o in orders)
    assert per_cid and all(v == 1 for v in per_cid.values())
    assert not set(per_cid) & set(decided)  # the crashed batch's ids were never sent, and never re-sent after
    assert all(cid.startswith("tk-d-") for cid in per_cid)
