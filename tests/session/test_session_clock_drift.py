"""Clock drift after connect (#12.8), through real ccxt against localnet's clock-skew fault.

The audit: the offset was measured once, at connect; a clock that drifted later was caught only by the
exchange's -1021, after the order had been sent. Now the Session measures again before a signed write
when the last measurement is older than ``clock_recheck_s`` or the exchange answered -1021 since, and
refuses with ``ClockSkew`` before sending.
"""

from __future__ import annotations

import time
from typing import Any

from lab.lab import Lab

from kit.errors import ClockSkew
from kit.journal.journal import Journal


def _posted(lab: Lab, since: int) -> list[dict[str, Any]]:
    return [r for r in lab.server_log()[since:] if r["method"] in ("POST", "DELETE") and r["path"] == "/api/v3/order"]


def _clock_rows(lab: Lab) -> list[int]:
    with Journal(lab.journal_path) as j:
        return [int(e.payload["offset_ms"]) for e in j.events(kinds=["clock"])]


def test_a_clock_that_drifts_after_connect_is_refused_before_the_order_is_sent(lab: Lab) -> None:
    s = lab.session(clock_recheck_s=0.3)
    assert s.clock_report is not None and abs(s.clock_report.offset_ms) < 500
    o = s.place("BTC/USDT", "buy", "0.001", price="50000")
    lab.net.set_faults(clock_skew_ms=-3000)  # the exchange's clock is now 3 s behind ours: we sign "from the future"
    time.sleep(0.35)
    n = lab.server_count()
    with lab.raises(ClockSkew, match="3... ms ahead of the exchange") as info:
        s.place("BTC/USDT", "buy", "0.001", price="49000")
    assert "Sync the system clock" in str(info.value)  # the hint says how to fix it
    assert _posted(lab, n) == []  # refused before sending
    assert {r["path"] for r in lab.server_log()[n:]} == {"/api/v3/time"}  # only the re-measurement
    assert _clock_rows(lab)[-1] < -2500
    with lab.raises(ClockSkew):  # cancels are signed writes too: refused before sending, not after
        s.cancel("BTC/USDT", order_id=o["id"])
    assert _posted(lab, n) == []
    lab.net.set_faults(clock_skew_ms=0)  # the clock is fixed: the next write measures again and goes through
    time.sleep(0.35)
    assert s.cancel("BTC/USDT", order_id=o["id"])["status"] == "canceled"
    assert abs(_clock_rows(lab)[-1]) < 500


def test_after_a_1021_the_offset_is_measured_again_before_the_next_write(lab: Lab) -> None:
    s = lab.session(clock_recheck_s=3600)  # no periodic re-measure in this test
    lab.net.set_faults(clock_skew_ms=-3000)
    n = lab.server_count()
    with lab.raises(ClockSkew):  # the last measurement looks fresh: a signed request goes out and gets -1021
        s.place("BTC/USDT", "buy", "0.001", price="49000")
    answered = [(r["path"], r["status"]) for r in lab.server_log()[n:]]
    assert answered and answered[-1][1] == 400 and "/api/v3/time" not in {p for p, _ in answered}
    assert (s.clock_watch.due() or "").startswith("the exchange answered -1021 to ")
    n = lab.server_count()
    with lab.raises(ClockSkew, match="ahead of the exchange"):
        s.place("BTC/USDT", "buy", "0.001", price="49000")
    assert _posted(lab, n) == []  # the second one never left: the offset was measured again first
    assert _clock_rows(lab)[-1] < -2500
    assert [w for w in s.warnings if w.startswith("local clock is")] == []  # a refusal, not a stale warning pile
