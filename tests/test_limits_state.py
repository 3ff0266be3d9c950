"""The shared budget's binary state record: layout, recovery, refunds, processes, fork, threads."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import pickle
import struct
import sys
import threading
import zlib
from pathlib import Path
from typing import Any

import pytest

from kit.errors import ConfigError, RateLimited
from kit.transport.limits import WeightBudget

# Spawned children import this module as "tests.test_limits_state" (--import-mode=importlib): they need
# the repository root on the sys.path they inherit.
SPAWN = mp.get_context("spawn")
_REPO = str(Path(__file__).resolve().parents[1])
if _REPO not in sys.path:
    sys.path.append(_REPO)

ONE_WINDOW_S = 10**9  # windows of ~31 years: every call lands in the same one
T0 = 1_700_000_040.0  # a window start (minute boundary)
BODY = struct.Struct("<4sHH12q20x")
FIELDS = ["window_start_ms", "used", "blocked_until_ms", "banned_until_ms", "limit", "server_used", "charged",
          "confirmed", "pending", "prev_used", "synced_ms", "calm_until_ms"]  # fmt: skip


class FakeClock:
    def __init__(self, start: float = T0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += s


def make(tmp_path: Path, clock: FakeClock, limit: int = 100, key: str = "test", **kw: Any) -> WeightBudget:
    kw.setdefault("headroom", 1.0)
    return WeightBudget(key, limit_per_minute=limit, directory=tmp_path, clock=clock, sleep=clock.sleep, **kw)


def record(path: Path) -> tuple[Any, ...]:
    raw = path.read_bytes()
    assert len(raw) == 128
    assert struct.unpack_from("<I", raw, 124)[0] == zlib.crc32(raw[:124])
    return BODY.unpack_from(raw)


def forge(values: dict[str, int], *, version: int = 3, crc: bool = True) -> bytes:
    """A record with the given fields (the others 0) and, unless told otherwise, a valid checksum."""
    body = BODY.pack(b"KWB\0", version, 128, *(values.get(k, 0) for k in FIELDS))
    return body + struct.pack("<I", zlib.crc32(body) if crc else 0)


# ---------------------------------------------------------------- the record


def test_state_is_one_128_byte_record_in_the_lock_file(tmp_path: Path) -> None:
    clock = FakeClock(T0 + 12.5)
    budget = make(tmp_path, clock, limit=6000, headroom=0.95)
    budget.acquire(25)
    budget.observe(30, status=429, retry_after_s=2)
    magic, version, size, *values = record(budget.path)
    assert (magic, version, size) == (b"KWB\0", 3, 128)
    got = dict(zip(FIELDS, values, strict=True))
    assert got["window_start_ms"] == int(T0 * 1000) and got["limit"] == 6000 and got["banned_until_ms"] == 0
    assert (got["used"], got["server_used"], got["charged"], got["confirmed"], got["pending"]) == (30, 30, 25, 25, 0)
    assert got["blocked_until_ms"] == int((T0 + 14.5) * 1000)
    assert got["synced_ms"] == int((T0 + 12.5) * 1000)
    assert got["calm_until_ms"] == int((T0 + 120) * 1000)  # after a 429: no headroom spent this window and next
    assert budget.path == budget.lock_path
    assert sorted(p.name for p in tmp_path.iterdir()) == ["test.lock"]  # no JSON, no temporary files


def test_unchanged_state_is_not_rewritten(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    budget = make(tmp_path, clock)
    budget.acquire(1)
    budget.observe(None)  # its answer came: the request is no longer in flight (a change, written)
    writes: list[int] = []
    real = os.pwrite

    def counting(fd: int, data: bytes, offset: int) -> int:
        writes.append(len(data))
        return real(fd, data, offset)

    monkeypatch.setattr("kit.transport.limits._pwrite", counting)
    budget.status()
    budget.recorded_limit()
    budget.observe(None)
    assert writes == []
    budget.acquire(1)
    assert writes == [128]


BAD_RECORDS = {
    "empty": b"",
    "short": forge({"used": 50, "limit": 100})[:40],
    "garbage": os.urandom(128),
    "json text": json.dumps({"used": 50}).encode(),
    "bad checksum": forge({"window_start_ms": int(T0 * 1000), "used": 50, "limit": 100}, crc=False),
    "flipped byte": bytes(b ^ (0xFF if i == 17 else 0) for i, b in enumerate(forge({"used": 50, "limit": 100}))),
    "future version": forge({"window_start_ms": int(T0 * 1000), "used": 50, "limit": 100}, version=4),
    "older version": forge({"window_start_ms": int(T0 * 1000), "used": 50, "limit": 100}, version=2),
    "negative count": forge({"window_start_ms": int(T0 * 1000), "used": -5, "limit": 100}),
}


@pytest.mark.parametrize("name", list(BAD_RECORDS))
def test_a_bad_record_starts_the_window_fresh(tmp_path: Path, name: str) -> None:
    clock = FakeClock()
    budget = make(tmp_path, clock)
    budget.path.write_bytes(BAD_RECORDS[name])
    assert budget.recorded_limit() is None
    assert budget.status()["used"] == 0
    assert budget.acquire(7) == int(T0 * 1000)
    assert budget.status()["used"] == 7
    assert record(budget.path)[4] == 7  # rewritten as a valid record
    assert budget.recorded_limit() == 100


def test_a_record_corrupted_while_open_is_recovered(tmp_path: Path) -> None:
    clock = FakeClock()
    budget = make(tmp_path, clock)
    budget.acquire(40)
    with open(budget.path, "r+b") as fh:  # scribbled over behind the open descriptor
        fh.write(b"\xff" * 128)
    budget.acquire(3)
    assert budget.status()["used"] == 3


def test_trailing_bytes_after_a_valid_record_are_ignored(tmp_path: Path) -> None:
    clock = FakeClock()
    budget = make(tmp_path, clock)
    budget.path.write_bytes(forge({"window_start_ms": int(T0 * 1000), "used": 20, "limit": 100}) + b"junk")
    assert budget.status()["used"] == 20


def test_recorded_limit_reads_what_another_process_wrote_without_replacing_it(tmp_path: Path) -> None:
    clock = FakeClock()
    fresh = make(tmp_path, clock, limit=6000)
    assert fresh.recorded_limit() is None  # nothing written yet
    make(tmp_path, clock, limit=1200).acquire(1)
    late = make(tmp_path, clock, limit=6000)
    assert late.recorded_limit() == 1200
    assert late.recorded_limit() == 1200  # reading did not write 6000
    late.acquire(1)
    assert late.recorded_limit() == 6000  # a write records the writer's limit


def test_a_deleted_state_file_is_recreated_and_shared_again(tmp_path: Path) -> None:
    clock = FakeClock()
    a = make(tmp_path, clock)
    a.acquire(30)
    a.path.unlink()  # e.g. someone cleaned $KIT_HOME while a process was running
    a.acquire(5)  # reopens the new file instead of writing to the deleted one
    b = make(tmp_path, clock)
    assert b.status()["used"] == 5
    b.acquire(1)
    assert a.status()["used"] == 6


def test_close_and_pickle(tmp_path: Path) -> None:
    clock = FakeClock()
    budget = make(tmp_path, clock)
    budget.acquire(4)
    budget.close()
    budget.close()  # idempotent
    budget.acquire(1)  # reopens on use
    copy = pickle.loads(pickle.dumps(WeightBudget("pickled", limit_per_minute=10, directory=tmp_path)))
    assert copy.acquire(1) > 0 and copy.status()["used"] == 1


def test_acquire_is_one_lock_one_read_one_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each acquire costs one ``flock``, one 128-byte read and at most one 128-byte write of the kept-open file.

    The contract that makes it cheap (the JSON file it replaced cost ~400 us a call: open, parse,
    temporary file, rename), checked by counting the calls rather than timing them: a timed check
    measured the machine (it failed at 571 us of CPU per call under load). The time itself is a
    benchmark: ``benchmarks/bench_session.py`` (acquire).
    """
    from kit.transport import limits

    budget = WeightBudget("fast", limit_per_minute=10**9, directory=tmp_path, window_s=ONE_WINDOW_S)
    budget.acquire(1)  # opens the file once and keeps it
    calls: dict[str, list[int]] = {"lock": [], "read": [], "write": [], "open": []}

    def counted(name: str, real: Any) -> Any:
        def call(*args: Any, **kw: Any) -> Any:
            calls[name].append(len(args[1]) if name == "write" else (args[1] if name == "read" else 0))
            return real(*args, **kw)

        return call

    monkeypatch.setattr(limits, "_lock_fd", counted("lock", limits._lock_fd))
    monkeypatch.setattr(limits, "_pread", counted("read", limits._pread))
    monkeypatch.setattr(limits, "_pwrite", counted("write", limits._pwrite))
    monkeypatch.setattr(limits.os, "open", counted("open", os.open))
    for _ in range(1000):
        budget.acquire(1)
    assert len(calls["lock"]) == 1000 and calls["read"] == [128] * 1000
    assert len(calls["write"]) <= 1000 and set(calls["write"]) == {128}  # written in place, only when changed
    assert calls["open"] == []  # no file opened, written anew or renamed per request
    assert budget.status()["used"] == 1001


# ---------------------------------------------------------------- refund


def test_refund_gives_back_this_process_s_charge(tmp_path: Path) -> None:
    clock = FakeClock()
    budget = make(tmp_path, clock, limit=100)
    budget.acquire(60)
    with pytest.raises(RateLimited):
        budget.acquire(50, max_wait_s=0)
    assert budget.refund(20) == 20  # that request never reached the exchange
    assert budget.status()["used"] == 40
    budget.acquire(50, max_wait_s=0)  # fits now, without waiting for the next window
    assert budget.status()["used"] == 90


def test_refund_is_capped_by_what_this_process_charged(tmp_path: Path) -> None:
    clock = FakeClock()
    budget = make(tmp_path, clock)
    budget.acquire(10)
    assert budget.refund(25) == 10
    assert budget.refund(1) == 0
    assert budget.status()["used"] == 0
    assert budget.refund(0) == 0
    with pytest.raises(ConfigError):
        budget.refund(-1)


def test_refund_never_goes_below_zero_nor_below_the_server_count(tmp_path: Path) -> None:
    clock = FakeClock()
    budget = make(tmp_path, clock)
    budget.acquire(30)
    budget.observe(18)  # the server counted 18: a request that never arrived is not among them
    assert budget.refund(30) == 12
    assert budget.status()["used"] == 18
    budget.close()
    budget.path.write_bytes(b"")  # the record was lost: the window restarts from zero
    assert budget.refund(10) == 0
    assert budget.status()["used"] == 0


def test_refund_after_the_window_ended_does_nothing(tmp_path: Path) -> None:
    clock = FakeClock()
    budget = make(tmp_path, clock)
    budget.acquire(30)
    clock.t += 60
    budget.acquire(5)
    assert budget.refund(30) == 5  # only this window's charge
    assert budget.status()["used"] == 0


def test_refund_spans_instances_of_one_process_but_not_other_charges(tmp_path: Path) -> None:
    clock = FakeClock()
    a, b = make(tmp_path, clock), make(tmp_path, clock)
    a.acquire(10)
    b.observe(50)  # the server reports weight spent elsewhere
    assert b.refund(10) == 0  # the server's 50 already exceed what we hold: nothing of ours is left
    a.acquire(20)  # 70
    assert b.refund(100) == 20  # same process, same file: its charges, down to the server's 50
    assert a.status()["used"] == 50


def _charge(directory: str, key: str, weight: int) -> None:
    WeightBudget(key, limit_per_minute=10**6, directory=directory, window_s=ONE_WINDOW_S).acquire(weight)


@pytest.mark.timeout(60)
def test_refund_cannot_take_back_another_process_s_weight(tmp_path: Path) -> None:
    p = SPAWN.Process(target=_charge, args=(str(tmp_path), "other", 40))
    p.start()
    p.join(30)
    assert p.exitcode == 0
    budget = WeightBudget("other", limit_per_minute=10**6, directory=tmp_path, window_s=ONE_WINDOW_S)
    assert budget.status()["used"] == 40
    assert budget.refund(40) == 0
    budget.acquire(5)
    assert budget.refund(40) == 5
    assert budget.status()["used"] == 40


# ---------------------------------------------------------------- processes, fork, threads


def _spend_and_refund(directory: str, n: int, out: Any) -> None:
    budget = WeightBudget("pair", limit_per_minute=10**6, directory=directory, window_s=ONE_WINDOW_S)
    refunded = 0
    for i in range(n):
        budget.acquire(2)
        if i % 2:
            refunded += budget.refund(1)
    out.put(refunded)


@pytest.mark.timeout(90)
@pytest.mark.slow
def test_two_processes_share_the_record_with_refunds(tmp_path: Path) -> None:
    out = SPAWN.Queue()
    procs = [SPAWN.Process(target=_spend_and_refund, args=(str(tmp_path), 300, out)) for _ in range(2)]
    for p in procs:
        p.start()
    refunded = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(30)
    assert [p.exitcode for p in procs] == [0, 0]
    assert refunded == [150, 150]
    budget = WeightBudget("pair", limit_per_minute=10**6, directory=tmp_path, window_s=ONE_WINDOW_S)
    assert budget.status()["used"] == 2 * (300 * 2 - 150)  # no lost update, no refund lost


@pytest.mark.timeout(60)
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_an_instance_used_across_fork_still_excludes(tmp_path: Path) -> None:
    budget = WeightBudget("forked", limit_per_minute=10**6, directory=tmp_path, window_s=ONE_WINDOW_S)
    budget.acquire(1)  # the descriptor is open before the fork: the child must not share its lock
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        code = 1
        try:
            for _ in range(2000):
                budget.acquire(1)
            assert budget.refund(5) == 5  # the parent's charge is not the child's, its own is
            code = 0
        finally:
            os._exit(code)
    for _ in range(2000):
        budget.acquire(1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert budget.status()["used"] == 1 + 2000 + 2000 - 5


def test_threads_on_one_instance_lose_no_update(tmp_path: Path) -> None:
    budget = WeightBudget("threads", limit_per_minute=10**6, directory=tmp_path, window_s=ONE_WINDOW_S)
    other = WeightBudget("threads", limit_per_minute=10**6, directory=tmp_path, window_s=ONE_WINDOW_S)

    def work(b: WeightBudget) -> None:
        for _ in range(500):
            b.acquire(1)

    threads = [threading.Thread(target=work, args=(b,)) for b in (budget, budget, budget, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert budget.status()["used"] == 2000


def test_a_reply_that_lands_in_the_next_window_does_not_charge_it(tmp_path: Path) -> None:
    clock = FakeClock()
    b = make(tmp_path, clock, limit=120)
    window = b.acquire(10)
    b.observe(100, window_start_ms=window)  # the reply in the same window: the server's count holds
    assert b.status()["used"] == 100
    clock.t += 60.05  # the next reply arrives just after the boundary, with the old window's count
    late = b.acquire(10)
    assert late != window
    b.observe(110, window_start_ms=window)
    assert b.status()["used"] == 10  # only what this window was charged
    b.observe(15, window_start_ms=late)
    assert b.status()["used"] == 15
