"""Weights, the shared weight budget (one process with a fake clock, then real processes), backoff."""

from __future__ import annotations

import doctest
import json
import multiprocessing as mp
import random
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

import kit.transport.backoff
import kit.transport.limits
from kit.errors import ConfigError, ExchangeUnavailable, OrderRejected, RateLimited
from kit.transport.backoff import Backoff, is_write_op, retry_read
from kit.transport.limits import (
    CCXT_COST_FACTOR,
    WeightBudget,
    budget_key,
    ccxt_request_weight,
    default_limit_per_minute,
    endpoint_group,
    endpoint_weight,
)

# Child processes are spawned (a fresh interpreter, like a second notebook), and import this module:
# keep ccxt out of its top level so they start fast. Under --import-mode=importlib this module is
# "tests.test_limits", which a child (given the parent's sys.path) can import only with the repository
# root on its path; appended, so it never shadows anything the parent imports.
SPAWN = mp.get_context("spawn")
_REPO = str(Path(__file__).resolve().parents[1])
if _REPO not in sys.path:
    sys.path.append(_REPO)


class FakeClock:
    """Wall clock in seconds that only moves when someone sleeps."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.t = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.t += s


def make_budget(tmp_path: Path, clock: FakeClock, limit: int = 100, **kw: Any) -> WeightBudget:
    return WeightBudget("test", limit_per_minute=limit, directory=tmp_path, clock=clock, sleep=clock.sleep, **kw)


# ---------------------------------------------------------------- weights

BINANCE_WEIGHTS: list[tuple[str, str, dict[str, Any], int]] = [
    ("GET", "/api/v3/time", {}, 1),
    ("GET", "/api/v3/exchangeInfo", {}, 20),
    ("GET", "/api/v3/depth", {"symbol": "BTCUSDT"}, 5),
    ("GET", "/api/v3/depth", {"symbol": "BTCUSDT", "limit": 100}, 5),
    ("GET", "/api/v3/depth", {"symbol": "BTCUSDT", "limit": "101"}, 25),
    ("GET", "/api/v3/depth", {"symbol": "BTCUSDT", "limit": 500}, 25),
    ("GET", "/api/v3/depth", {"symbol": "BTCUSDT", "limit": 1000}, 50),
    ("GET", "/api/v3/depth", {"symbol": "BTCUSDT", "limit": 5000}, 250),
    ("GET", "/api/v3/klines", {"symbol": "BTCUSDT", "interval": "1m", "limit": 1000}, 2),
    ("GET", "/api/v3/aggTrades", {"symbol": "BTCUSDT"}, 4),
    ("GET", "/api/v3/trades", {"symbol": "BTCUSDT"}, 25),
    ("GET", "/api/v3/ticker/24hr", {"symbol": "BTCUSDT"}, 2),
    ("GET", "/api/v3/ticker/24hr", {}, 80),
    ("GET", "/api/v3/ticker/24hr", {"symbols": '["BTCUSDT","ETHUSDT"]'}, 2),
    ("GET", "/api/v3/ticker/24hr", {"symbols": [f"S{i}" for i in range(21)]}, 40),
    ("GET", "/api/v3/ticker/24hr", {"symbols": json.dumps([f"S{i}" for i in range(101)])}, 80),
    ("GET", "/api/v3/ticker", {"symbols": '["A","B","C"]'}, 12),
    ("GET", "/api/v3/ticker", {"symbols": json.dumps([f"S{i}" for i in range(51)])}, 200),
    ("GET", "/api/v3/ticker/price", {}, 4),
    ("GET", "/api/v3/ticker/bookTicker", {"symbol": "BTCUSDT"}, 2),
    ("GET", "/api/v3/account", {}, 20),
    ("POST", "/api/v3/order", {"symbol": "BTCUSDT"}, 1),
    ("POST", "/api/v3/order/test", {}, 1),
    ("POST", "/api/v3/order/test", {"computeCommissionRates": "true"}, 20),
    ("DELETE", "/api/v3/order", {}, 1),
    ("DELETE", "/api/v3/openOrders", {"symbol": "BTCUSDT"}, 1),
    ("GET", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": 1}, 4),
    ("GET", "/api/v3/openOrders", {"symbol": "BTCUSDT"}, 6),
    ("GET", "/api/v3/openOrders", {}, 80),
    ("GET", "/api/v3/allOrders", {"symbol": "BTCUSDT"}, 20),
    ("GET", "/api/v3/myTrades", {"symbol": "BTCUSDT"}, 20),
    ("GET", "/api/v3/myTrades", {"symbol": "BTCUSDT", "orderId": 7}, 5),
    ("GET", "/sapi/v1/account/apiRestrictions", {}, 1),
    ("GET", "/sapi/v1/system/status", {}, 1),
    ("GET", "/sapi/v1/capital/config/getall", {}, 10),
    ("GET", "/api/v3/somethingNew", {}, 20),  # unknown GET: heavy until the server header corrects it
    ("get", "https://api.binance.com/api/v3/depth?symbol=BTCUSDT&limit=1000", {"limit": 1000}, 50),
    ("GET", "api/v3/exchangeInfo", {}, 20),
]


@pytest.mark.parametrize(("method", "path", "params", "weight"), BINANCE_WEIGHTS)
def test_binance_weights(method: str, path: str, params: dict[str, Any], weight: int) -> None:
    assert endpoint_weight("binance", method, path, params) == weight


# (ccxt method args) -> expected (group, weight); ccxt 4.5.90 cost x 5 agrees with Binance's docs for all of
# these except GET trades (ccxt cost 2 -> 10, Binance documents 25) and sapi (cost x 10: separate budget).
CCXT_CALLS = [
    ("depth", ["public"], "GET", {"symbol": "BTCUSDT", "limit": 1000}, "api", 50),
    ("klines", ["public"], "GET", {"symbol": "BTCUSDT", "interval": "1m"}, "api", 2),
    ("exchangeInfo", ["public"], "GET", {}, "api", 20),
    ("ticker/24hr", ["public"], "GET", {}, "api", 80),
    ("account", ["private"], "GET", {}, "api", 20),
    ("openOrders", ["private"], "GET", {}, "api", 80),
    ("openOrders", ["private"], "GET", {"symbol": "BTCUSDT"}, "api", 6),
    ("order", ["private"], "POST", {"symbol": "BTCUSDT"}, "api", 1),
    ("order", ["private"], "GET", {"symbol": "BTCUSDT"}, "api", 4),
    ("account/apiRestrictions", ["sapi"], "GET", {}, "sapi", 1),
]


@pytest.mark.parametrize(("path", "api", "method", "params", "group", "weight"), CCXT_CALLS)
def test_ccxt_request_weight_binance_agrees_with_ccxt_cost(
    path: str, api: list[str], method: str, params: dict[str, Any], group: str, weight: int
) -> None:
    import ccxt

    ex = ccxt.binance()
    assert ccxt_request_weight(ex, path, api, method, params, {}) == (group, weight)
    config = ex.api[api[0]][method.lower()][path]
    cost = ex.calculate_rate_limiter_cost(api, method, path, params, config)
    assert cost * (10 if group == "sapi" else CCXT_COST_FACTOR) == pytest.approx(weight)


def test_ccxt_request_weight_follows_url_overrides() -> None:
    import ccxt

    ex = ccxt.binance()
    ex.urls["api"]["public"] = "http://127.0.0.1:9/api/v3"
    assert ccxt_request_weight(ex, "depth", ["public"], "GET", {"limit": 5000}, {}) == ("api", 250)


def test_other_exchanges_use_ccxt_cost() -> None:
    import ccxt

    kraken = ccxt.kraken()
    depth_cost = kraken.api["public"]["get"]["Depth"]["cost"]
    assert endpoint_weight("kraken", "GET", "https://api.kraken.com/0/public/Depth", {}) == round(depth_cost * 5)
    assert ccxt_request_weight(kraken, "Depth", ["public"], "GET", {}, kraken.api["public"]["get"]["Depth"]) == (
        "api",
        round(depth_cost * 5),
    )
    assert default_limit_per_minute("kraken") == int(CCXT_COST_FACTOR * 60_000 / kraken.rateLimit)
    assert default_limit_per_minute("binance") == 6000
    with pytest.raises(ConfigError):
        endpoint_weight("nosuchexchange", "GET", "/x", {})


def test_budget_key_and_group() -> None:
    assert budget_key("binance", "https://testnet.binance.vision/api") == "binance-testnet.binance.vision-api"
    assert budget_key("binance", "http://127.0.0.1:8765/sapi/v1", "sapi") == "binance-127.0.0.1_8765-sapi"
    assert endpoint_group("binance", "/sapi/v1/asset/tradeFee") == "sapi"
    assert endpoint_group("binance", "/api/v3/order") == "api"
    assert endpoint_group("kraken", "/sapi/v1/x") == "api"


def test_weights_match_localnet_enforcement() -> None:
    """The client-side table agrees with what kit.localnet charges for the endpoints ccxt uses."""
    import kit.localnet.limits as localnet_limits

    for method, path, params, weight in BINANCE_WEIGHTS:
        if (
            path.startswith("/api/v3/")
            and path not in ("/api/v3/ticker", "/api/v3/somethingNew")
            and ("orderId" not in params or path != "/api/v3/myTrades")
        ):
            sparams = {
                k: v if isinstance(v, str) else json.dumps(v) if isinstance(v, list) else str(v)
                for k, v in params.items()
            }
            assert localnet_limits.weight(method, path, sparams) == weight, (method, path, params)


# ---------------------------------------------------------------- one process, fake clock


def test_budget_never_exceeded_within_a_window(tmp_path: Path) -> None:
    clock = FakeClock(start=1_700_000_030.0)  # mid-minute: the first window is half over
    budget = make_budget(tmp_path, clock, limit=100, headroom=0.9)
    rng = random.Random(3)
    per_window: dict[int, int] = defaultdict(int)
    for _ in range(400):
        w = rng.randint(1, 20)
        window = budget.acquire(w)
        assert window == int(clock() * 1000) // 60_000 * 60_000  # charged to the window we are in
        per_window[window] += w
    assert max(per_window.values()) <= 90
    assert len(per_window) > 10
    # it only ever sleeps to the next window boundary
    for s in clock.sleeps:
        assert 0 < s <= 60.001


def test_budget_is_shared_by_instances_on_one_directory(tmp_path: Path) -> None:
    clock = FakeClock()
    a, b = make_budget(tmp_path, clock), make_budget(tmp_path, clock)
    a.acquire(60)
    assert b.status()["used"] == 60
    with pytest.raises(RateLimited) as err:
        b.acquire(40, max_wait_s=1)
    reset_ms = b.status()["window_reset_ms"]
    assert err.value.retry_after_ms == pytest.approx(reset_ms - clock() * 1000, abs=5)
    assert b.status()["used"] == 60  # a refused acquire spends nothing


def test_weight_larger_than_capacity_is_a_config_error(tmp_path: Path) -> None:
    budget = make_budget(tmp_path, FakeClock(), limit=100, headroom=0.5)
    with pytest.raises(ConfigError) as err:
        budget.acquire(51)
    assert err.value.allowed == 50


def test_invalid_budget_arguments(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        WeightBudget("../escape", limit_per_minute=10, directory=tmp_path)
    with pytest.raises(ConfigError):
        WeightBudget("ok", limit_per_minute=0, directory=tmp_path)
    with pytest.raises(ConfigError):
        WeightBudget("ok", limit_per_minute=10, directory=tmp_path, headroom=1.5)


def test_default_directory_is_under_kit_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIT_HOME", str(tmp_path / "home"))
    budget = WeightBudget("binance-api.binance.com-api", limit_per_minute=6000)
    budget.acquire(5)
    assert budget.path == tmp_path / "home" / "limits" / "binance-api.binance.com-api.lock"
    assert budget.path.exists()  # the lock file holds the shared state
    assert budget.recorded_limit() == 6000


def test_observe_takes_the_larger_count(tmp_path: Path) -> None:
    clock = FakeClock()
    budget = make_budget(tmp_path, clock, limit=100, headroom=1.0)
    budget.acquire(10)
    budget.observe(70)  # another machine behind the same IP spent weight too
    assert budget.status()["used"] == 70
    budget.observe(20)  # an older response: never lowers the count
    assert budget.status()["used"] == 70
    budget.acquire(30)
    before = clock()
    budget.acquire(1)  # full: waits for the next window, and for its first edge (1 s of a minute)
    # The previous window ended at the limit: while the server's minute may not have turned yet,
    # a request must fit the previous count too (#18), so it goes once the edge is over.
    assert clock() - before == pytest.approx(60 - (before % 60) + 1, abs=0.01)


def test_429_blocks_until_retry_after(tmp_path: Path) -> None:
    clock = FakeClock(start=1_700_000_000.0)  # at a window start
    budget = make_budget(tmp_path, clock)
    budget.observe(None, status=429, retry_after_s=7)
    assert budget.status()["blocked_until_ms"] == 1_700_000_007_000
    with pytest.raises(RateLimited) as err:  # a wait longer than max_wait_s is refused, not slept
        budget.acquire(1, max_wait_s=5)
    assert err.value.retry_after_ms == 7001
    budget.acquire(1)
    assert clock() == pytest.approx(1_700_000_007.001)


def test_429_without_retry_after_blocks_to_the_next_window(tmp_path: Path) -> None:
    clock = FakeClock(start=1_700_000_010.0)
    budget = make_budget(tmp_path, clock)
    budget.observe(None, status=429)
    budget.acquire(1)
    assert clock() == pytest.approx(1_700_000_040.001)  # 1_700_000_040 is a minute boundary


def test_418_ban_refuses_at_once_until_it_lifts(tmp_path: Path) -> None:
    clock = FakeClock()
    budget = make_budget(tmp_path, clock)
    budget.observe(None, status=418, retry_after_s=300)
    for _ in range(3):
        with pytest.raises(RateLimited) as err:
            budget.acquire(1, max_wait_s=10_000)  # never sleeps through a ban
        assert err.value.retry_after_ms == 300_000
    assert clock.sleeps == []
    assert budget.status()["banned_until_ms"] == int(clock() * 1000) + 300_000
    clock.t += 300
    budget.acquire(1)
    assert budget.status()["banned_until_ms"] == 0


def test_418_without_retry_after_bans_for_two_minutes(tmp_path: Path) -> None:
    clock = FakeClock()
    budget = make_budget(tmp_path, clock)
    budget.observe(None, status=418)
    with pytest.raises(RateLimited) as err:
        budget.acquire(1)
    assert err.value.retry_after_ms == 120_000


def test_corrupt_state_starts_fresh(tmp_path: Path) -> None:
    clock = FakeClock()
    budget = make_budget(tmp_path, clock)
    budget.acquire(50)
    budget.close()
    budget.path.write_bytes(b"{not a record")
    budget.acquire(3)
    assert budget.status()["used"] == 3
    assert make_budget(tmp_path, clock).status()["used"] == 3  # what was written back is readable


# ---------------------------------------------------------------- real processes, real locks


def _hammer(directory: str, out: str, seed: int, n: int, limit: int, window_s: float) -> None:
    budget = WeightBudget("shared", limit_per_minute=limit, directory=directory, headroom=1.0, window_s=window_s)
    rng = random.Random(seed)
    with open(out, "w") as fh:
        for _ in range(n):
            w = rng.randint(1, 4)
            before = time.time()
            window = budget.acquire(w, max_wait_s=30)
            fh.write(f"{window} {w} {before:.6f} {time.time():.6f}\n")


def _run_all(procs: list[Any], timeout: float = 60) -> None:
    try:
        for p in procs:
            p.start()
        deadline = time.monotonic() + timeout
        for p in procs:
            p.join(max(0.1, deadline - time.monotonic()))
        assert all(p.exitcode == 0 for p in procs), [p.exitcode for p in procs]
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join(5)


@pytest.mark.timeout(90)
@pytest.mark.slow
def test_four_processes_share_one_budget(tmp_path: Path) -> None:
    limit, window_s = 60, 1.0
    outs = [tmp_path / f"p{i}.log" for i in range(4)]
    procs = [
        SPAWN.Process(target=_hammer, args=(str(tmp_path / "limits"), str(out), i, 25, limit, window_s))
        for i, out in enumerate(outs)
    ]
    _run_all(procs)
    per_window: dict[int, int] = defaultdict(int)
    rows = 0
    for out in outs:
        for line in out.read_text().splitlines():
            window, w, before, after = line.split()
            start_s = int(window) / 1000
            # the window charged overlaps the acquire call
            assert start_s <= float(after) + 1e-3 and start_s + window_s >= float(before) - 1e-3
            per_window[int(window)] += int(w)
            rows += 1
    assert rows == 100
    assert max(per_window.values()) <= limit
    assert len(per_window) >= 4  # ~250 weight at 60 per window: the processes really had to wait


ONE_WINDOW_S = 10**9  # windows of ~31 years: every acquire lands in the same one


def _count(directory: str, n: int) -> None:
    budget = WeightBudget("counter", limit_per_minute=10**6, directory=directory, window_s=ONE_WINDOW_S)
    for _ in range(n):
        budget.acquire(1)


@pytest.mark.timeout(90)
@pytest.mark.slow
def test_no_lost_updates_under_contention(tmp_path: Path) -> None:
    directory = tmp_path / "limits"
    procs = [SPAWN.Process(target=_count, args=(str(directory), 100)) for _ in range(4)]
    _run_all(procs)
    budget = WeightBudget("counter", limit_per_minute=10**6, directory=directory, window_s=ONE_WINDOW_S)
    assert budget.status()["used"] == 400  # every read-modify-write happened under the lock


def _worker_until_refused(directory: str, out: str, stop_after_s: float) -> None:
    budget = WeightBudget("banme", limit_per_minute=10**6, directory=directory)
    deadline = time.time() + stop_after_s
    with open(out, "w") as fh:
        while time.time() < deadline:
            before = time.time()
            try:
                budget.acquire(1)
            except RateLimited as exc:
                fh.write(f"refused {time.time():.6f} {exc.retry_after_ms}\n")
                return
            fh.write(f"ok {before:.6f}\n")
            fh.flush()
            time.sleep(0.005)
        fh.write("timeout\n")


def _ban(directory: str, out: str, worker_logs: list[str]) -> None:
    budget = WeightBudget("banme", limit_per_minute=10**6, directory=directory)
    deadline = time.time() + 30
    while time.time() < deadline and not all(Path(w).exists() and "ok" in Path(w).read_text() for w in worker_logs):
        time.sleep(0.01)  # ban only once every worker is sending
    time.sleep(0.1)
    budget.observe(None, status=418, retry_after_s=30)
    Path(out).write_text(f"{time.time():.6f}\n")


@pytest.mark.timeout(90)
@pytest.mark.slow
def test_a_ban_written_by_one_process_stops_the_others(tmp_path: Path) -> None:
    directory = str(tmp_path / "limits")
    outs = [tmp_path / f"w{i}.log" for i in range(3)]
    ban_out = tmp_path / "ban.log"
    procs = [SPAWN.Process(target=_worker_until_refused, args=(directory, str(out), 30.0)) for out in outs]
    procs.append(SPAWN.Process(target=_ban, args=(directory, str(ban_out), [str(o) for o in outs])))
    _run_all(procs)
    banned_at = float(ban_out.read_text())
    for out in outs:
        lines = out.read_text().splitlines()
        kind, when, retry_after_ms = lines[-1].split()
        assert kind == "refused"
        assert float(when) - banned_at < 2.0  # stopped promptly
        assert 25_000 < int(retry_after_ms) <= 30_000
        oks = [float(line.split()[1]) for line in lines if line.startswith("ok")]
        assert oks, "worker never ran before the ban"
        assert all(t < banned_at + 0.05 for t in oks)  # no request was let through after the ban


def _block_429(directory: str, out: str) -> None:
    WeightBudget("blocked", limit_per_minute=10**6, directory=directory).observe(None, status=429, retry_after_s=1.5)
    Path(out).write_text(f"{time.time():.6f}")


@pytest.mark.timeout(60)
@pytest.mark.slow
def test_a_429_in_one_process_makes_another_wait(tmp_path: Path) -> None:
    directory, out = str(tmp_path / "limits"), tmp_path / "blocked.log"
    _run_all([SPAWN.Process(target=_block_429, args=(directory, str(out)))])
    budget = WeightBudget("blocked", limit_per_minute=10**6, directory=directory)
    assert budget.status()["blocked_until_ms"] > 0
    budget.acquire(1)
    assert time.time() >= float(out.read_text()) + 1.5 - 0.01


# ---------------------------------------------------------------- backoff and retry_read


def test_backoff_bounds_and_determinism() -> None:
    b1 = list(Backoff(base_s=0.5, cap_s=4, max_tries=8, rng=random.Random(42)).delays())
    b2 = list(Backoff(base_s=0.5, cap_s=4, max_tries=8, rng=random.Random(42)).delays())
    assert b1 == b2 and len(b1) == 7
    for n, d in enumerate(b1):
        assert 0 <= d <= min(4, 0.5 * 2**n)
    with_retry_after = list(Backoff(base_s=0.5, cap_s=4, max_tries=8, rng=random.Random(42)).delays(10))
    assert [round(a - 10, 9) for a in with_retry_after] == [round(a, 9) for a in b1]  # floor + same jitter
    many = [Backoff(base_s=1, cap_s=30, rng=random.Random(s)).delay(10) for s in range(200)]
    assert max(many) <= 30 and min(many) >= 0 and len(set(many)) > 150  # spread out, capped


def test_backoff_rejects_bad_arguments() -> None:
    with pytest.raises(ConfigError):
        Backoff(max_tries=0)


def test_retry_read_retries_transient_errors_with_retry_after() -> None:
    slept: list[float] = []
    retries: list[tuple[int, str, float]] = []
    errors = [RateLimited("429", retry_after_ms=2000), ExchangeUnavailable("503")]

    def read() -> str:
        if errors:
            raise errors.pop(0)
        return "ok"

    out = retry_read(
        read,
        backoff=Backoff(base_s=0.1, rng=random.Random(1)),
        sleep=slept.append,
        on_retry=lambda n, e, d: retries.append((n, type(e).__name__, d)),
    )
    assert out == "ok"
    assert slept[0] >= 2.0 and slept[1] <= 0.2
    assert [(n, name) for n, name, _ in retries] == [(1, "RateLimited"), (2, "ExchangeUnavailable")]


def test_retry_read_gives_up_after_max_tries() -> None:
    calls: list[int] = []

    def read() -> None:
        calls.append(1)
        raise ExchangeUnavailable("down")

    with pytest.raises(ExchangeUnavailable):
        retry_read(read, backoff=Backoff(max_tries=3, rng=random.Random(0)), sleep=lambda s: None)
    assert len(calls) == 3


def test_retry_read_does_not_sleep_through_a_ban_or_retry_rejections() -> None:
    slept: list[float] = []

    def banned() -> None:
        raise RateLimited("418", retry_after_ms=3_600_000)

    with pytest.raises(RateLimited):
        retry_read(banned, backoff=Backoff(), sleep=slept.append)

    def rejected() -> None:
        raise OrderRejected("no")

    with pytest.raises(OrderRejected):
        retry_read(rejected, backoff=Backoff(), sleep=slept.append)
    assert slept == []


@pytest.mark.parametrize(
    "op",
    [
        "create_order",
        "cancel_order",
        "cancel_all_orders",
        "edit_order",
        "private_post_order",
        "create_market_buy_order_with_cost",
    ],
)
def test_retry_read_refuses_writes(op: str) -> None:
    assert is_write_op(op)
    with pytest.raises(ConfigError):
        retry_read(lambda: None, backoff=Backoff(), op=op)


@pytest.mark.parametrize(
    "op",
    [
        "fetch_order",
        "fetch_open_orders",
        "fetch_ticker",
        "watch_orders",
        "load_markets",
        "public_get_depth",
        "sapi_get_account_apirestrictions",
    ],
)
def test_reads_are_reads(op: str) -> None:
    assert not is_write_op(op)


@pytest.mark.parametrize("module", [kit.transport.limits, kit.transport.backoff])
def test_docstring_examples(module: Any) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
