"""Spending the budget's headroom on the server's word (#18), through real ccxt against localnet.

Every request here is a real ``GET /api/v3/klines`` (weight 2) from a real ``ccxt.binance`` to an
in-process localnet whose own limiter answers 429 on the first weight over 120 in its minute. The
localnet's clock is stepped, and the budgets read and move that same clock, so the windows of the
client and the server are the same minutes and a test's minutes pass in milliseconds. The answers'
``X-MBX-USED-WEIGHT-1M`` headers are fed back as a Session does (``observe`` from the thread that
sent the request, with the window it was charged to).

The rules under test (``kit.transport.limits.WeightBudget``): a request beyond ``headroom * limit``
(114 of 120 here) may go when the server's count, plus every charge not known to be inside it, plus
the request fits 120; not after the server showed traffic the budget does not see, nor after a 429,
nor in a window's first or last second; a request in a window's first second must also fit the
previous window's count; requests unanswered at a window's end count in the next one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ccxt
import pytest
from lab.lab import Lab, open_lab, request_for

from kit.localnet import LimitsConfig
from kit.transport.limits import WeightBudget

LIMIT = 120
MIN = 60_000
KLINES = 2  # GET /api/v3/klines weight (Binance rest-api.md; kit.transport.limits.WEIGHTS)


@pytest.fixture()
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Lab]:
    limits = LimitsConfig(weight_per_minute=LIMIT, violations_before_ban=5, ban_base_s=600)
    with open_lab(tmp_path, monkeypatch, limits=limits) as lab:
        yield lab


def next_minute(lab: Lab) -> None:
    """Move the server's clock to the next minute boundary (after the clients loaded their markets)."""
    now = lab.net.call(lambda v: v.clock.now_ms())
    lab.net.call(lambda v: v.clock.set(now - now % MIN + MIN))


def client(lab: Lab) -> Any:
    """A real ccxt client with its markets loaded (``exchangeInfo`` weighs 20: not inside the tests' minutes)."""
    ex = lab.client("reader")
    ex.load_markets()
    return ex


class Client:
    """A ccxt client whose requests go through one budget, as a Session sends them."""

    def __init__(self, lab: Lab, budget_dir: Path, *, observe: bool = True) -> None:
        self.lab = lab
        self.ex = client(lab)
        self.budget = WeightBudget(
            "localnet-api", limit_per_minute=LIMIT, directory=budget_dir, clock=self.now, sleep=self.sleep
        )
        self.observe = observe
        self.sent: list[tuple[int, int, int]] = []  # (server time ms, status, the server's count)

    def now(self) -> float:
        return float(self.lab.net.call(lambda v: v.clock.now_ms())) / 1000

    def sleep(self, s: float) -> None:
        self.lab.net.call(lambda v: v.clock.step(max(1, round(s * 1000))))

    def step(self, ms: int) -> None:
        self.lab.net.call(lambda v: v.clock.step(ms))

    def charge(self) -> int:
        return self.budget.acquire(KLINES, max_wait_s=600)

    def send(self, window: int) -> int:
        """The request charged to ``window``; its answer is fed back; returns the server's count."""
        at = int(self.now() * 1000)
        status = 200
        try:
            self.ex.fetch_ohlcv("BTC/USDT", "1m", limit=1)
        except ccxt.DDoSProtection:
            status = 429
        headers = {k.lower(): v for k, v in (self.ex.last_response_headers or {}).items()}
        used = int(headers["x-mbx-used-weight-1m"])
        if self.observe:
            self.budget.observe(used, status=status if status != 200 else None, window_start_ms=window)
        self.sent.append((at, status, used))
        return used

    def request(self) -> int:
        return self.send(self.charge())

    def per_minute(self) -> dict[int, int]:
        """The server's largest count in each minute, as its answers told it."""
        top: dict[int, int] = defaultdict(int)
        for at, _, used in self.sent:
            top[at // MIN] = max(top[at // MIN], used)
        return dict(top)


def foreign(ex: Any, n: int) -> None:
    """``n`` klines requests from a client the budget does not see (another machine behind the IP)."""
    for _ in range(n):
        ex.fetch_ohlcv("BTC/USDT", "1m", limit=1)


def statuses(lab: Lab) -> set[int]:
    return {r["status"] for r in lab.server_log() if r["path"].startswith("/api/")}


def fill_minutes(c: Client, minutes: int, gap_ms: int = 50) -> None:
    """Request back to back (``gap_ms`` of round trip each) until ``minutes`` whole minutes have passed."""
    first = int(c.now() * 1000) // MIN
    while int(c.now() * 1000) // MIN < first + minutes:
        c.request()
        c.step(gap_ms)


def test_the_headroom_is_spent_when_the_server_says_it_is_free(lab: Lab, tmp_path: Path) -> None:
    c = Client(lab, tmp_path / "budgets")
    next_minute(lab)
    assert c.budget.capacity == 114
    fill_minutes(c, 3)
    per_minute = c.per_minute()
    assert statuses(lab) == {200}  # no 429, no 418
    full = sorted(per_minute)[:3]
    assert [per_minute[m] for m in full] == [LIMIT] * 3  # 120 of 120, not 114: the 5 % headroom spent
    # beyond 114, nothing went in a minute's first or last second
    beyond = [at % MIN for at, _, used in c.sent if used > c.budget.capacity]
    assert beyond and all(1_000 <= t < MIN - 1_000 for t in beyond)


def test_without_the_server_s_count_the_budget_keeps_its_headroom(lab: Lab, tmp_path: Path) -> None:
    c = Client(lab, tmp_path / "budgets", observe=False)  # a client that never reads the header
    off = Client(lab, tmp_path / "off")
    off.budget = WeightBudget("x", limit_per_minute=LIMIT, directory=tmp_path / "off", clock=off.now,
                              sleep=off.sleep, spend_headroom=False)  # fmt: skip
    next_minute(lab)
    fill_minutes(c, 2)
    assert statuses(lab) == {200}
    assert [u for _, u in sorted(c.per_minute().items())][:2] == [114, 114]
    next_minute(lab)
    fill_minutes(off, 2)  # reads the header, but told not to spend the headroom
    assert [u for _, u in sorted(off.per_minute().items())][:2] == [114, 114]
    assert statuses(lab) == {200}


def test_traffic_the_budget_does_not_see_closes_the_headroom_for_the_window(lab: Lab, tmp_path: Path) -> None:
    c = Client(lab, tmp_path / "budgets")
    other = client(lab)
    next_minute(lab)
    first = int(c.now() * 1000) // MIN
    for _ in range(20):  # 40 weight in the first half of the minute
        c.request()
        c.step(50)
    foreign(other, 10)  # 20 weight from elsewhere behind the same IP: the server's count runs ahead
    assert c.request() == 40 + 20 + KLINES
    status = c.budget.status()
    assert status["used"] == 62 and not status["spending_headroom"]
    while int(c.now() * 1000) // MIN == first:
        c.request()
        c.step(50)
    per_minute = c.per_minute()
    assert statuses(lab) == {200}
    assert per_minute[first] == 114  # back to headroom * limit, the unseen traffic counted in it
    fill_minutes(c, 1)
    assert c.per_minute()[first + 1] == LIMIT  # the next minute trusts the server again


def test_weight_charged_elsewhere_and_not_yet_counted_is_kept_free(lab: Lab, tmp_path: Path) -> None:
    """Another process (here: another budget on the same file) charged 20 weight it has not sent yet:
    the server's count is behind the machine's, and the estimate keeps those 20 free."""
    d = tmp_path / "budgets"
    a, b = Client(lab, d), Client(lab, d)
    next_minute(lab)
    a.step(5_000)  # out of the first edge
    held = [b.charge() for _ in range(10)]  # 20 weight on the way from process b
    for _ in range(200):
        try:
            a.budget.acquire(KLINES, max_wait_s=0)
        except Exception:  # the window is full for a: RateLimited (wait for the next window)
            break
        a.send(a.budget.status()["window_start_ms"])
        a.step(50)
    assert max(u for _, _, u in a.sent) == LIMIT - 20  # a stopped where b's 20 still fit
    for w in held:
        b.send(w)
        b.step(10)
    assert max(u for _, _, u in b.sent) == LIMIT and statuses(lab) == {200}


def test_a_429_closes_the_headroom_until_the_next_window_ends(lab: Lab, tmp_path: Path) -> None:
    c = Client(lab, tmp_path / "budgets")
    other = client(lab)
    next_minute(lab)
    first = int(c.now() * 1000) // MIN
    c.step(5_000)
    foreign(other, 60)  # 120 weight from elsewhere: the next request is over the limit
    assert c.request() > LIMIT
    assert c.sent[-1][1] == 429
    assert c.budget.status()["blocked_until_ms"] > 0
    fill_minutes(c, 3)  # waits out the Retry-After (the rest of this minute), then two whole minutes
    per_minute = c.per_minute()
    assert per_minute[first + 1] == 114  # the minute after a 429: no headroom
    assert per_minute[first + 2] == LIMIT  # then the server is trusted again
    assert {s for at, s, _ in c.sent if at // MIN > first} == {200}


def test_a_request_in_the_first_second_must_fit_the_previous_minute_too(lab: Lab, tmp_path: Path) -> None:
    """The server's minute may turn a moment after ours: after a full minute, the next one's first
    request waits out the edge (one second of a minute)."""
    c = Client(lab, tmp_path / "budgets")
    next_minute(lab)
    first = int(c.now() * 1000) // MIN
    fill_minutes(c, 1)
    assert c.per_minute()[first] == LIMIT
    second = [at for at, _, _ in c.sent if at // MIN == first + 1]
    assert second and second[0] - (first + 1) * MIN >= 1_000
    assert statuses(lab) == {200}


def test_requests_unanswered_at_the_window_end_count_in_the_next(lab: Lab, tmp_path: Path) -> None:
    c = Client(lab, tmp_path / "budgets")
    next_minute(lab)
    c.step(MIN - 2_000)  # two seconds before the minute ends, under the headroom
    w = c.charge()
    c.step(2_500)  # on the wire across the boundary
    assert c.budget.status()["estimate"] == KLINES  # the new minute starts with it
    assert c.send(w) == KLINES  # and the server did count it in the new minute
    assert statuses(lab) == {200}


# ---------------------------------------------------------------- several processes, real time

SPEED = 60  # the localnet's minute lasts one wall second; the Sessions are told (weight_window_s=1)


def _pages(env: dict[str, str], seconds: float, out: Any) -> None:  # pragma: no cover - child process
    import os
    import time

    os.environ.update(env)
    from kit.session import Session

    s = Session("localnet", stage="read_only", dotenv=None, weight_window_s=60 / SPEED)
    src = s.candle_source()
    since = int(time.time() * 1000) - 10 * MIN
    try:  # weight 2 a page, through the shared budget
        n, errors = request_for(lambda: src.fetch_ohlcv("BTC/USDT", "1m", since, 5), seconds)
    finally:
        s.close()
    out.put((n, errors))


@pytest.mark.slow  # three spawned processes requesting for 4 s of wall time
def test_three_processes_spend_the_headroom_together_without_a_429(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import multiprocessing as mp
    import os
    from datetime import datetime

    from lab.lab import align_minute

    spawn = mp.get_context("spawn")
    limits = LimitsConfig(weight_per_minute=LIMIT, violations_before_ban=1, ban_base_s=600)
    with open_lab(tmp_path, monkeypatch, stepped=False, speed=float(SPEED), limits=limits) as lab:
        align_minute(lab.net, SPEED)
        env = {k: v for k, v in os.environ.items() if k.startswith("KIT_")}
        out = spawn.Queue()
        procs = [spawn.Process(target=_pages, args=(env, 4.0, out)) for _ in range(3)]
        for p in procs:
            p.start()
        results = [out.get(timeout=120) for _ in procs]
        for p in procs:
            p.join(30)
        assert [p.exitcode for p in procs] == [0, 0, 0]
        assert [errors for _, errors in results] == [[], [], []]
        log = [r for r in lab.server_log() if r["path"].startswith("/api/")]
    assert {r["status"] for r in log} == {200}  # no 429, no 418, from three processes sharing one budget
    per_window: dict[int, int] = defaultdict(int)
    for r in log:  # the server's windows: the localnet's minutes are wall seconds here
        arrived = datetime.fromisoformat(r["time"]).timestamp() * 1000 - float(r["latency_ms"])
        per_window[int(arrived // (MIN // SPEED))] += int(r["weight"])
    assert max(per_window.values()) <= LIMIT
    assert sum(n for n, _ in results) * KLINES > 2 * LIMIT  # together they asked for more than the windows hold
    # the headroom was spent in at least one window, by processes that each saw only part of it
    assert max(per_window.values()) > 114, dict(per_window)
