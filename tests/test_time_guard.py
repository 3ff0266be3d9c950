"""The time guard in tests/conftest.py: a test not marked slow that runs over the limit fails (or is listed)."""

from __future__ import annotations

from pathlib import Path

import pytest

# Each test runs pytest in-process on a probe module (2-5 s here, mostly plugin start-up and two 0.3 s sleeps).
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import time

import pytest


def test_quick():
    assert True


def test_sleepy():
    time.sleep(0.3)


@pytest.mark.slow
def test_sleepy_but_marked():
    time.sleep(0.3)


@pytest.mark.chaos
def test_sleepy_chaos():
    time.sleep(0.3)
"""


@pytest.fixture()
def probe(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """This suite's conftest.py and four tests: quick, sleepy, sleepy but slow, sleepy but chaos."""
    for var in ("KIT_TEST_TIME_LIMIT_S", "KIT_TEST_TIME_GUARD", "CI"):
        monkeypatch.delenv(var, raising=False)
    pytester.makeconftest((ROOT / "tests" / "conftest.py").read_text(encoding="utf-8"))
    pytester.makeini("[pytest]\nmarkers =\n    slow: slow\n    chaos: chaos\n")
    pytester.makepyfile(test_probe=PROBE)
    return pytester


def test_an_unmarked_test_over_the_limit_fails(probe: pytest.Pytester) -> None:
    result = probe.runpytest("--time-limit", "0.1", "-p", "no:xdist", "-p", "no:randomly")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        ["*test_sleepy took 0.3* s (call phase), over the 0.1 s limit*mark it @pytest.mark.slow*"]
    )


def test_under_the_limit_nothing_happens(probe: pytest.Pytester) -> None:
    probe.runpytest("--time-limit", "5").assert_outcomes(passed=4)


def test_the_limit_comes_from_the_environment(probe: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIT_TEST_TIME_LIMIT_S", "0.1")
    probe.runpytest().assert_outcomes(passed=3, failed=1)


@pytest.mark.parametrize("how", ["option", "ci"])
def test_report_mode_lists_instead_of_failing(
    probe: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """``--time-guard=report`` lists the offenders; it is the default under CI=true."""
    if how == "ci":
        monkeypatch.setenv("CI", "true")
        result = probe.runpytest("--time-limit", "0.1")
    else:
        result = probe.runpytest("--time-limit", "0.1", "--time-guard", "report")
    result.assert_outcomes(passed=4)
    summary = result.stdout.str().split("tests not marked slow over 0.1 s (time guard: report)")[1]
    assert "test_probe.py::test_sleepy" in summary
    assert "test_sleepy_but_marked" not in summary and "test_sleepy_chaos" not in summary


@pytest.mark.parametrize("bad", [("KIT_TEST_TIME_GUARD", "sometimes"), ("KIT_TEST_TIME_LIMIT_S", "two")])
def test_a_bad_setting_is_a_usage_error(
    probe: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, bad: tuple[str, str]
) -> None:
    monkeypatch.setenv(*bad)
    result = probe.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert bad[0] in result.stderr.str()


HUNG = """
import signal
import time


def test_hung():
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})  # pytest-timeout's signal never arrives
    time.sleep(60)


def test_after():
    pass
"""

LONG = """
import time

import pytest


@pytest.mark.timeout(0)
def test_unlimited():
    time.sleep(2)


@pytest.mark.timeout(30)
def test_allowed_longer():
    time.sleep(2)
"""


def test_a_hung_test_prints_every_stack_and_ends_the_run(
    probe: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hang pytest-timeout cannot interrupt still ends the run, with the stacks that say where it hung."""
    probe.makepyfile(test_hung=HUNG)
    monkeypatch.setenv("KIT_TEST_HANG_GRACE_S", "0.5")
    result = probe.runpytest_subprocess("test_hung.py", "--timeout", "1", "-p", "no:xdist", timeout=50)
    assert result.ret != 0
    err = result.stderr.str()
    assert "Timeout (0:00:01.5" in err
    assert "in test_hung" in err
    assert "test_after PASSED" not in result.stdout.str()


def test_the_watchdog_waits_for_a_tests_own_longer_timeout_and_none_for_timeout_0(
    probe: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A test's own timeout (the browser walk: 600 s) or none (the soak) wins over the run's --timeout."""
    probe.makepyfile(test_long=LONG)
    monkeypatch.setenv("KIT_TEST_HANG_GRACE_S", "0.5")
    result = probe.runpytest_subprocess(
        "test_long.py", "--timeout", "1", "-p", "no:xdist", "--time-guard", "off", timeout=50
    )
    result.assert_outcomes(passed=2)
