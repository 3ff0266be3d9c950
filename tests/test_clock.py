"""Clock offset measurement and the skew check, with fake server clocks and against localnet."""

from __future__ import annotations

import doctest
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import kit.transport.clock
from kit.errors import AuthError, ClockSkew, ConfigError
from kit.transport.clock import AHEAD_LIMIT_MS, ClockReport, check_clock, measure_clock, offset_clock, sync_hint


class FakeWire:
    """A local clock and a server whose clock runs ``offset_ms`` ahead, with per-sample latencies."""

    def __init__(self, offset_ms: int, latencies: list[tuple[int, int]], start_ms: int = 1_700_000_000_000) -> None:
        self.local = start_ms
        self.offset_ms = offset_ms
        self.latencies = list(latencies)  # (to server, back) per request

    def now_ms(self) -> int:
        return self.local

    def fetch_server_ms(self) -> int:
        out, back = self.latencies.pop(0)
        self.local += out
        server = self.local + self.offset_ms
        self.local += back
        return server


def test_picks_the_sample_with_the_smallest_round_trip() -> None:
    wire = FakeWire(offset_ms=700, latencies=[(300, 20), (5, 5), (40, 200)])
    report = measure_clock(wire.fetch_server_ms, samples=3, now_ms=wire.now_ms)
    assert report.rtt_ms == 10 and report.samples == 3
    assert report.offset_ms == 700  # symmetric sample: exact
    assert report.skew_ms == -700
    assert report.server_ms == 1_700_000_000_000 + 300 + 20 + 5 + 700


@given(
    offset=st.integers(-60_000, 60_000),
    latencies=st.lists(st.tuples(st.integers(0, 2_000), st.integers(0, 2_000)), min_size=1, max_size=8),
)
def test_offset_error_is_at_most_half_the_round_trip(offset: int, latencies: list[tuple[int, int]]) -> None:
    wire = FakeWire(offset, latencies)
    report = measure_clock(wire.fetch_server_ms, samples=len(latencies), now_ms=wire.now_ms)
    assert report.rtt_ms == min(a + b for a, b in latencies)
    assert abs(report.offset_ms - offset) <= report.rtt_ms / 2 + 1


def test_samples_must_be_positive() -> None:
    with pytest.raises(ConfigError):
        measure_clock(lambda: 0, samples=0)


def report(offset_ms: int, rtt_ms: int = 20) -> ClockReport:
    return ClockReport(offset_ms=offset_ms, rtt_ms=rtt_ms, samples=5, server_ms=0)


@pytest.mark.parametrize("offset", [0, 100, -100, 250, -250])
def test_small_offsets_pass_silently(offset: int) -> None:
    assert check_clock(report(offset)) == []


def test_warns_above_warn_ms() -> None:
    (warning,) = check_clock(report(-400))
    assert "400 ms ahead of the exchange" in warning
    (warning,) = check_clock(report(3_000))
    assert "3000 ms behind the exchange" in warning
    assert "timedatectl set-ntp true" in warning or "w32tm" in warning or "sntp" in warning


def test_warns_about_a_slow_round_trip() -> None:
    (warning,) = check_clock(report(0, rtt_ms=900))
    assert "round trip" in warning and "900" in warning


def test_ahead_by_a_second_is_rejected() -> None:
    with pytest.raises(ClockSkew) as err:
        check_clock(report(-(AHEAD_LIMIT_MS - 10), rtt_ms=20))  # 990 ms ahead + 20 ms uncertainty
    assert err.value.skew_ms == AHEAD_LIMIT_MS - 10
    assert isinstance(err.value, AuthError)
    assert sync_hint() in str(err.value)


def test_behind_by_the_recv_window_is_rejected() -> None:
    check_clock(report(9_000), recv_window_ms=10_000)  # warns only
    with pytest.raises(ClockSkew) as err:
        check_clock(report(9_990), recv_window_ms=10_000)
    assert err.value.skew_ms == -9_990
    assert err.value.allowed == 10_000
    with pytest.raises(ClockSkew):
        check_clock(report(5_000), recv_window_ms=5_000)


@pytest.mark.parametrize(("platform", "needle"), [("linux", "timedatectl set-ntp true"), ("darwin", "sntp")])
def test_sync_hint_per_platform(platform: str, needle: str) -> None:
    assert needle in sync_hint(platform)


def test_offset_clock() -> None:
    assert offset_clock(-250, base=lambda: 10.0)() == pytest.approx(9.75)


def test_docstring_examples() -> None:
    result = doctest.testmod(kit.transport.clock, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 5


@pytest.mark.timeout(120)
def test_against_localnet_through_ccxt(make_localnet_any: Any) -> None:
    """Real ccxt fetch_time over loopback; localnet's clock-skew fault shifts the server clock."""
    with make_localnet_any() as net:
        ex = net.client(None, enableRateLimit=False)
        ok = measure_clock(ex.fetch_time, samples=3)
        assert abs(ok.offset_ms) <= ok.rtt_ms / 2 + 50
        assert check_clock(ok) == [] or ok.rtt_ms > 250
        net.set_faults(clock_skew_ms=-5_000)  # server 5 s behind: our timestamps are 5 s ahead
        skewed = measure_clock(ex.fetch_time, samples=3)
        assert skewed.offset_ms == pytest.approx(-5_000, abs=skewed.rtt_ms / 2 + 50)
        with pytest.raises(ClockSkew):
            check_clock(skewed)


@pytest.fixture()
def make_localnet_any() -> Any:
    import kit.localnet as localnet
    import kit.localnet.server as server

    def make() -> Any:
        cfg = localnet.LocalnetConfig(stepped=False, seed=7, history_minutes=10)
        return server.start(port=0, config=cfg)

    return make
