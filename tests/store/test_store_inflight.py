"""Several page requests in flight: the same candles and ledger as one at a time, commits in order,
failures recorded the same way, the number in flight bounded by the budget's slack, and through a
real Session on a localnet with a small weight limit: every window under the limit, zero 429s."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest
from store_helpers import MIN, T0, LocalnetSource, check_failed_then_resume, direct, rows_of, ts

from kit.errors import ExchangeUnavailable
from kit.localnet import LimitsConfig, LocalnetConfig
from kit.localnet.config import DEFAULT_SYMBOLS
from kit.localnet.server import Localnet, start
from kit.session.candles import pages_in_flight
from kit.store import Store
from kit.store.fill import MAX_IN_FLIGHT, in_flight
from kit.transport.limits import WeightBudget

START, END = T0 - 1200 * MIN, T0 - 200 * MIN  # ten pages of 100
LEDGER = "candles/venue=localnet/symbol=BTC_USDT/timeframe=1m/_coverage.json"


class ThreadedSource(LocalnetSource):
    """A LocalnetSource safe to call from several threads (one real ccxt client per thread).

    The first ``max_in_flight`` requests wait for each other at a barrier, so passing it proves that
    many were in flight at once. ``slow_since`` delays the answer for that page; ``fail_since`` fails
    it (as the Session does once its retries are spent). Each request records the ledger file as it
    is at that moment, to check that commits only ever extend a prefix.
    """

    def __init__(
        self,
        net: Localnet,
        *,
        max_in_flight: int,
        root: Path,
        slow_since: int | None = None,
        fail_since: int | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(net, **kw)
        self.max_in_flight = max_in_flight
        self._local = threading.local()
        self._lock = threading.Lock()
        self._barrier = threading.Barrier(max_in_flight, timeout=10)
        self._root = root
        self.slow_since, self.fail_since = slow_since, fail_since
        self.active = self.peak = 0
        self.ledgers: list[list[tuple[int, int, str]]] = []

    def fetch_ohlcv(self, symbol: str, timeframe: str, since_ms: int, limit: int) -> list[list[float]]:
        with self._lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
            first = len(self.calls) < self.max_in_flight
            self.calls.append((symbol, timeframe, since_ms, limit))
            self.ledgers.append(self._ledger())
        try:
            if first:
                self._barrier.wait()
            if since_ms == self.slow_since:
                time.sleep(0.3)
            if since_ms == self.fail_since:
                raise ExchangeUnavailable(f"injected: the page since {since_ms} failed after retries")
            ex = getattr(self._local, "ex", None)
            if ex is None:
                ex = self._local.ex = self.net.client(None, enableRateLimit=False)
                ex.load_markets()
            rows: list[list[float]] = ex.fetch_ohlcv(symbol, timeframe, since=since_ms, limit=limit)
            return rows
        finally:
            with self._lock:
                self.active -= 1

    def _ledger(self) -> list[tuple[int, int, str]]:
        path = self._root / LEDGER
        if not path.exists():
            return []
        return [(a, b, status) for a, b, status, _, _ in json.loads(path.read_text())["spans"]]


def test_three_in_flight_give_the_same_candles_and_ledger_and_commit_in_order(
    synth_net: Localnet, tmp_path: Path
) -> None:
    one = Store(tmp_path / "one", source=LocalnetSource(synth_net, max_page=100))
    expect = one.candles("BTC/USDT", "1m", ts(START), ts(END), progress=False)
    src = ThreadedSource(synth_net, max_in_flight=3, root=tmp_path / "three", max_page=100, slow_since=START)
    three = Store(tmp_path / "three", source=src)
    frame = three.candles("BTC/USDT", "1m", ts(START), ts(END), progress=False)
    assert src.peak == 3  # the barrier let three through together, and never a fourth
    assert sorted(c[2] for c in src.calls) == [START + k * 100 * MIN for k in range(10)]
    assert {c[3] for c in src.calls} == {100}
    pd.testing.assert_frame_equal(frame, expect)
    assert rows_of(frame) == direct(src, "BTC/USDT", "1m", START, END)
    pd.testing.assert_frame_equal(three.coverage("BTC/USDT", "1m"), one.coverage("BTC/USDT", "1m"))
    assert three.verify().empty
    # the first page was the slowest, so later pages were answered first; none was committed before it
    assert all(led == [] or (len(led) == 1 and led[0][0] == START and led[0][2] == "stored") for led in src.ledgers)
    assert [] in src.ledgers[3:]  # requests went out while the first page was still being answered
    # a second call sends nothing
    n = len(src.calls)
    pd.testing.assert_frame_equal(three.candles("BTC/USDT", "1m", ts(START), ts(END), progress=False), expect)
    assert len(src.calls) == n


def test_a_failure_in_flight_is_recorded_like_one_at_a_time_and_resumed(synth_net: Localnet, tmp_path: Path) -> None:
    failing = ThreadedSource(synth_net, max_in_flight=3, root=tmp_path, max_page=100, fail_since=START + 400 * MIN)
    store = Store(tmp_path, source=failing)
    with pytest.raises(ExchangeUnavailable, match="injected"):
        store.candles("BTC/USDT", "1m", ts(START), ts(END), progress=False)
    check_failed_then_resume(store, synth_net, START, END, START + 400 * MIN)  # answers after the failure dropped
    assert store.verify().empty


@pytest.mark.parametrize(("limit", "expect"), [(6000, MAX_IN_FLIGHT), (120, 3), (100, 2), (80, 2), (60, 1), (20, 1)])
def test_in_flight_is_the_budget_slack_over_the_page_weight(tmp_path: Path, limit: int, expect: int) -> None:
    # a klines page weighs 2; the Session spends floor(95 % of the limit) per window; the rest is slack
    budget = WeightBudget(f"t{limit}", limit_per_minute=limit, directory=tmp_path)
    source = SimpleNamespace(max_in_flight=lambda page: pages_in_flight(budget, "binance", page))
    assert in_flight(source, 1000) == expect


def test_in_flight_from_the_source_or_one() -> None:
    assert [in_flight(SimpleNamespace(max_in_flight=k), 1000) for k in (0, 1, 2, 10)] == [1, 1, 2, MAX_IN_FLIGHT]
    assert in_flight(SimpleNamespace(), 1000) == 1  # says nothing: one at a time
    assert in_flight(SimpleNamespace(max_in_flight=None), 1000) == 1
    assert pages_in_flight(None, "binance", 1000) == 1  # a Session without a budget yet


# ---------------------------------------------------------------- through a real Session

SPEED = 15  # the localnet's weight "minute" lasts 4 wall seconds
LIMIT = 80  # the Session spends 76 per window; slack 4 = two klines requests in flight
DAYS = 40  # 57,600 candles, 58 requests, 116 weight: two windows


@pytest.fixture()
def small_limit_net(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    cfg = LocalnetConfig(
        symbols=(DEFAULT_SYMBOLS[0],),
        speed=float(SPEED),
        history_minutes=(DAYS + 1) * 1440,
        limits=LimitsConfig(weight_per_minute=LIMIT, violations_before_ban=1),
        state_dir=tmp_path / "ln",
    )
    with start(port=0, config=cfg) as net:

        def align(v: Any) -> int:  # simulated minute n starts when wall time crosses n x 4 s
            wall = time.time_ns() // 1_000_000
            k = (SPEED * wall - v.clock.now_ms()) // 60_000
            return int(v.clock.set(SPEED * wall - 60_000 * k))

        net.call(align)
        for var in (
            "KIT_KILL",
            "KIT_LOCALNET_API_KEY",
            "KIT_LOCALNET_API_SECRET",
            "KIT_LOCALNET_READER_API_KEY",
            "KIT_LOCALNET_READER_API_SECRET",
        ):
            monkeypatch.delenv(var, raising=False)
        monkeypatch.setenv("KIT_HOME", str(tmp_path / "home"))
        monkeypatch.setenv("KIT_LOCALNET_URL", net.url)
        yield net


@pytest.mark.slow  # several real 1-second weight windows
def test_a_session_backfill_fills_windows_with_zero_429s(small_limit_net: Localnet, tmp_path: Path) -> None:
    from kit.session import Session

    window_ms = 60_000 // SPEED
    with Session(
        "localnet", stage="read_only", dotenv=None, journal=tmp_path / "j.sqlite", weight_window_s=window_ms / 1000
    ) as session:
        source = session.candle_source()
        assert session.budget is not None and session.budget.limit == LIMIT  # read from exchangeInfo
        assert in_flight(source, source.max_page) == 2
        now = int(small_limit_net.call(lambda v: v.clock.now_ms()))
        end = now - now % MIN - 10 * MIN
        start_ms = end - DAYS * 1440 * MIN
        time.sleep((window_ms - time.time() * 1000 % window_ms) / 1000)  # start on a window boundary
        t0 = time.time() * 1000
        frame = Store(tmp_path / "data", source=source).candles(
            "BTC/USDT", "1m", ts(start_ms), ts(end), fill="drop", progress=False
        )
    assert len(frame) == DAYS * 1440 and frame.index[0] == ts(start_ms)
    log = [json.loads(line) for line in (tmp_path / "ln" / "requests.log").read_text().splitlines()]
    assert {r["status"] for r in log} == {200}  # no 429, no 418
    per_window: dict[int, int] = defaultdict(int)
    for r in log:
        arrived = datetime.fromisoformat(r["time"]).timestamp() * 1000 - r["latency_ms"]
        if arrived >= t0 - 5:
            per_window[int(arrived // window_ms)] += r["weight"]
    assert sum(per_window.values()) == 2 * 58
    assert max(per_window.values()) <= LIMIT
    # How full the first window was depends on the machine's load here; the injected-clock test
    # below asserts the throughput (#11.6).


class BudgetedSource(LocalnetSource):
    """Pages through the kit's budget and localnet's limiter in virtual time (one ccxt client per thread).

    Each request takes its weight from a real :class:`WeightBudget` (virtual clock and sleep), then is
    charged by the localnet's own :class:`RateLimiter` at the same virtual time, then fetched for real.
    """

    def __init__(self, net: Localnet, budget: WeightBudget, clock: Any, **kw: Any) -> None:
        super().__init__(net, **kw)
        from kit.localnet.limits import RateLimiter

        self.budget, self.clock = budget, clock
        self.server = RateLimiter(LimitsConfig(weight_per_minute=budget.limit, violations_before_ban=1))
        self.charged: list[tuple[int, int, int]] = []  # (virtual ms, weight, status)
        self._lock = threading.Lock()
        self._local = threading.local()

    def max_in_flight(self, page: int) -> int:
        return pages_in_flight(self.budget, "binance", page)

    def fetch_ohlcv(self, symbol: str, timeframe: str, since_ms: int, limit: int) -> list[list[float]]:
        from kit.transport.limits import endpoint_weight

        weight = endpoint_weight("binance", "GET", "/api/v3/klines", {"symbol": "BTCUSDT", "limit": limit})
        self.budget.acquire(weight)
        with self._lock:
            now = self.clock.now_ms()
            self.charged.append((now, weight, self.server.charge("127.0.0.1", "api", weight, now_ms=now).status))
            self.calls.append((symbol, timeframe, since_ms, limit))
        ex = getattr(self._local, "ex", None)
        if ex is None:
            ex = self._local.ex = self.net.client(None, enableRateLimit=False)
            ex.load_markets()
        rows: list[list[float]] = ex.fetch_ohlcv(symbol, timeframe, since=since_ms, limit=limit)
        self.clock.advance(0.002)  # the round trip
        return rows


VT_LIMIT = 14  # with headroom 0.72 the budget spends 10 per window: slack 4 = two klines pages in flight


def test_a_budgeted_backfill_spends_each_window_to_its_share(synth_net: Localnet, tmp_path: Path) -> None:
    """Two pages in flight (the budget's slack), the first minute spent to the machine's share, the server
    never over its limit, zero 429s: the throughput of the Session's backfill, in virtual time."""
    from lab.vclock import VirtualClock

    clock = VirtualClock(1_800_000_000.0)  # on a minute boundary, as the server's minutes
    budget = WeightBudget("vt", limit_per_minute=VT_LIMIT, headroom=0.72, directory=tmp_path / "limits",
                          clock=clock.now, sleep=clock.sleep)  # fmt: skip
    src = BudgetedSource(synth_net, budget, clock, max_page=100)
    assert in_flight(src, 100) == 2  # slack 14 - 10 = 4: two klines pages of weight 2
    start_ms, end_ms = T0 - 710 * MIN, T0 - 10 * MIN  # 700 candles: 7 pages, 14 weight: two windows
    frame = Store(tmp_path / "data", source=src).candles("BTC/USDT", "1m", ts(start_ms), ts(end_ms),
                                                         fill="drop", progress=False)  # fmt: skip
    budget.close()
    assert len(frame) == (end_ms - start_ms) // MIN
    assert {status for _, _, status in src.charged} == {200}  # no 429, no 418
    per_window: dict[int, int] = defaultdict(int)
    for ms, weight, _ in src.charged:
        per_window[ms // 60_000] += weight
    assert sum(per_window.values()) == 2 * len(src.calls) == 14
    assert max(per_window.values()) <= VT_LIMIT
    first = min(per_window)
    assert per_window[first] == budget.capacity == 10, dict(per_window)  # the budget, not the work, was the limit
