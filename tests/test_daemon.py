"""D4: one daemon-thread loop (start, stop, join, errors logged) under the kill-switch watcher, the health probe
and the alert watcher."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from kit.ops.alerts import AlertWatcher
from kit.ops.degrade import HealthProbe
from kit.safety.daemon import DaemonLoop
from kit.safety.killswitch import KillSwitchWatcher


class Ticks(DaemonLoop):
    def __init__(self, plan: list[object], interval_s: float = 0.001) -> None:
        super().__init__(name="kit-test-ticks", interval_s=interval_s)
        self.plan = plan
        self.done: list[object] = []
        self.reached = threading.Event()

    def tick(self) -> bool | None:
        step = self.plan.pop(0) if self.plan else None
        self.done.append(step)
        if not self.plan:
            self.reached.set()
        if isinstance(step, Exception):
            raise step
        return step if isinstance(step, bool) else None


def test_a_failing_tick_is_logged_and_counted_and_the_loop_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    loop = Ticks([None, RuntimeError("boom"), None, False])
    with caplog.at_level(logging.ERROR, logger="kit.safety.daemon"):
        loop.start()
        assert loop.join(2.0)  # False ended it
    assert loop.errors == 1 and len(loop.done) == 4 and not loop.running
    text = caplog.text  # the message and its traceback (the kit's redacting filter may fold exc_info into it)
    assert "kit-test-ticks: tick failed" in text and "RuntimeError: boom" in text


def test_start_is_idempotent_and_stop_ends_a_long_sleep_at_once() -> None:
    loop = Ticks([None], interval_s=60)
    loop.start()
    assert loop.reached.wait(2.0)
    thread = loop._thread
    assert loop.start() is loop and loop._thread is thread  # one thread, not two
    assert thread is not None and thread.daemon and thread.name == "kit-test-ticks"
    t0 = time.monotonic()
    loop.stop()
    # the loop sleeps 60 s between ticks: ending well before that shows stop() cut the sleep short (it
    # takes milliseconds; the bound leaves room for a loaded machine, where 1 s was a wall-clock bet)
    assert time.monotonic() - t0 < 20.0 and not loop.running and loop.stopping
    assert loop.start().running  # it can be started again
    loop.stop()


def test_stop_from_inside_a_tick_does_not_deadlock() -> None:
    class SelfStopping(DaemonLoop):
        def tick(self) -> None:
            self.stop()

    loop = SelfStopping(name="kit-test-self-stop", interval_s=0.001).start()
    assert loop.join(2.0)


def test_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        Ticks([], interval_s=0)


def test_the_three_watchers_share_the_loop() -> None:
    for cls in (KillSwitchWatcher, HealthProbe, AlertWatcher):
        assert issubclass(cls, DaemonLoop)
        for name in ("start", "stop", "join", "_run"):
            assert getattr(cls, name) is getattr(DaemonLoop, name) or name == "start", (cls, name)
