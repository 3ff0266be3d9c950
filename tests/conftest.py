"""Shared fixtures and hooks for the test suite; add fixtures here only when several test modules need them.

The time guard keeps the fast loop (``make fast``: every test not marked ``slow``, ``chaos``,
``browser``, ``testnet`` or ``soak``) fast: a test the fast loop runs (one carrying none of those
markers) whose call phase takes longer than the limit fails, with a message that says to make it
faster or mark it ``slow``. Setup and teardown (fixtures such as a localnet) do not count.

- ``--time-limit=SECONDS`` or ``KIT_TEST_TIME_LIMIT_S`` (default 2): the limit.
- ``--time-guard=fail|report|off`` or ``KIT_TEST_TIME_GUARD``: what happens to a test over it.
  The default is ``fail``, except under ``CI=true`` where it is ``report``: CI runs the full suite
  on a shared 2-core runner, and a wall-clock figure there says more about the runner than about
  the test, so CI lists the offenders at the end of the run instead of failing on them.
"""

from __future__ import annotations

import faulthandler
import os
from collections.abc import Generator
from typing import Any

import pytest

pytest_plugins = ["pytester"]  # tests/test_time_guard.py runs pytest on a probe module

DEFAULT_TIME_LIMIT_S = 2.0
#: Markers of the tests the fast loop leaves out; the guard does not time them.
UNTIMED_MARKERS = ("slow", "chaos", "browser", "testnet", "soak")
_GUARD_KEY = "time_guard_over_s"
#: A test still running this many seconds past its pytest-timeout (``timeout`` in pyproject, 300 s, or its
#: own marker) is hung where that timeout's signal cannot reach it: a thread holding the GIL, a C call that
#: never returns to Python, or a teardown after the one-shot timer fired. faulthandler's watchdog thread
#: needs no GIL: it writes every thread's stack to the real stderr and exits, so a run says where it hung
#: instead of running into CI's own limit with nothing printed. It is armed exactly when pytest-timeout
#: arms its timer (so never for ``timeout(0)``, the soak). ``KIT_TEST_HANG_GRACE_S`` overrides it
#: (tests/test_time_guard.py).
HANG_GRACE_S = float(os.environ.get("KIT_TEST_HANG_GRACE_S") or 120)
_hang_fd: list[int] = []


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kit", "Tradekit test options")
    group.addoption(
        "--time-limit",
        type=float,
        default=None,
        help=f"seconds a test not marked slow may take (call phase); env KIT_TEST_TIME_LIMIT_S, default "
        f"{DEFAULT_TIME_LIMIT_S:g}",
    )
    group.addoption(
        "--time-guard",
        choices=("fail", "report", "off"),
        default=None,
        help="fail, report or ignore a test not marked slow that is over the limit; env KIT_TEST_TIME_GUARD, "
        "default fail (report under CI=true)",
    )


def pytest_configure(config: pytest.Config) -> None:
    if not _hang_fd:
        _hang_fd.append(os.dup(2))  # before output capture takes fd 2 over for a test


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_timeout_set_timer(item: pytest.Item, settings: Any) -> None:
    """Arm the watchdog past pytest-timeout's own timeout; returning None lets pytest-timeout set its timer."""
    faulthandler.dump_traceback_later(settings.timeout + HANG_GRACE_S, exit=True, file=_hang_fd[0])


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_timeout_cancel_timer(item: pytest.Item) -> None:
    faulthandler.cancel_dump_traceback_later()


def time_guard(config: pytest.Config) -> tuple[str, float]:
    """The guard's mode and limit in seconds, from the options, the environment, then the defaults."""
    mode = config.getoption("--time-guard") or os.environ.get("KIT_TEST_TIME_GUARD", "")
    if not mode:
        mode = "report" if os.environ.get("CI", "").lower() in ("1", "true", "yes") else "fail"
    if mode not in ("fail", "report", "off"):
        raise pytest.UsageError(f"KIT_TEST_TIME_GUARD must be fail, report or off, not {mode!r}")
    limit = config.getoption("--time-limit")
    if limit is None:
        text = os.environ.get("KIT_TEST_TIME_LIMIT_S", "")
        try:
            limit = float(text) if text else DEFAULT_TIME_LIMIT_S
        except ValueError:
            raise pytest.UsageError(f"KIT_TEST_TIME_LIMIT_S must be a number of seconds, not {text!r}") from None
    return mode, float(limit)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Generator[None, Any, Any]:
    report = yield
    if call.when != "call" or not report.passed or any(item.get_closest_marker(m) for m in UNTIMED_MARKERS):
        return report
    mode, limit = time_guard(item.config)
    if mode == "off" or report.duration <= limit:
        return report
    report.user_properties.append((_GUARD_KEY, round(report.duration, 2)))
    if mode == "fail":
        report.outcome = "failed"
        report.longrepr = (
            f"{item.nodeid} took {report.duration:.2f} s (call phase), over the {limit:g} s limit for tests "
            "not marked slow: make it faster, or mark it @pytest.mark.slow so that the fast loop (make fast) "
            "leaves it out. The limit: --time-limit / KIT_TEST_TIME_LIMIT_S; --time-guard=report to list instead."
        )
    return report


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    mode, limit = time_guard(config)
    if mode != "report":
        return
    over = [
        (dict(r.user_properties)[_GUARD_KEY], r.nodeid)
        for r in terminalreporter.stats.get("passed", [])
        if _GUARD_KEY in dict(getattr(r, "user_properties", ()))
    ]
    if over:
        terminalreporter.section(f"tests not marked slow over {limit:g} s (time guard: report)")
        for seconds, nodeid in sorted(over, reverse=True):
            terminalreporter.write_line(f"{seconds:6.2f} s  {nodeid}")


def pytest_sessionstart(session: pytest.Session) -> None:
    """Load the compiled replay kernel once per process (compiling it on a fresh clone), outside any test's time."""
    from kit.engine import jit

    jit.warm()
