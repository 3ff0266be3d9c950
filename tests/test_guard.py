"""kit.safety (guard, killswitch, stages): refusals happen before any request, and the ladder needs evidence."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from kit.errors import CapExceeded, ConfigError, GuardRefused, KillSwitchEngaged, StageError
from kit.journal.journal import Journal
from kit.safety.guard import DAY_MS, Caps, EvidenceRule, Guard
from kit.safety.killswitch import KillSwitch, kit_home
from kit.safety.stages import Stage

NOW = 1_720_000_000_000  # 2024-07-03 UTC
D = Decimal


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    j = Journal(tmp_path / "journal.sqlite")
    try:
        yield j
    finally:
        j.close()


@pytest.fixture
def kill(tmp_path: Path) -> KillSwitch:
    return KillSwitch(tmp_path / "KILL", env={})


def order(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = dict(
        symbol="BTC/USDT", side="buy", amount=D("0.0002"), price=D("50000"), notional=D("10"),
        open_orders=0, daily_notional=D(0), daily_pnl=D(0), now_ms=NOW,
    )  # fmt: skip
    base.update(over)
    return base


def add_fills(
    journal: Journal, stage: str, symbol: str, n: int, *, ts_ms: int = NOW - DAY_MS, venue: str = "x"
) -> None:
    for i in range(n):
        oid = f"{stage}-{symbol}-{ts_ms}-{i}"
        journal.record_fill(
            venue=venue, account="default", stage=stage, symbol=symbol, client_id=f"c{oid}", order_id=oid,
            trade_id=f"t{oid}", side="buy", price=D("50000"), amount=D("0.0002"), fee_cost=D("0.01"),
            fee_currency="USDT", ts_ms=ts_ms,
        )  # fmt: skip


def guards(journal: Journal) -> list[Any]:
    return [(e.stage, e.payload["decision"], e.payload["rule"]) for e in journal.events(kinds=["guard"])]


# ---------------------------------------------------------------- stages


def test_stage_ladder_values() -> None:
    assert [s.value for s in Stage] == ["read_only", "paper", "testnet", "live_small", "live"]
    assert [s.rank for s in Stage] == [0, 1, 2, 3, 4]
    assert Stage.parse(" Live-Small ") is Stage.LIVE_SMALL
    assert f"{Stage.TESTNET}" == "testnet" and Stage.TESTNET == "testnet"
    assert not Stage.READ_ONLY.allows_orders and Stage.LIVE_SMALL.is_live and not Stage.TESTNET.is_live
    with pytest.raises(ConfigError, match="unknown stage"):
        Stage.parse("dry_run")


# ---------------------------------------------------------------- kill switch


def test_kill_switch_file_engage_and_reset(kill: KillSwitch) -> None:
    assert kill.engaged() is None
    kill.check()
    kill.engage("  fat finger\n on ETH  ")
    assert kill.engaged() == "fat finger on ETH"
    with pytest.raises(KillSwitchEngaged, match="fat finger on ETH") as info:
        kill.check()
    assert str(kill.path) in str(info.value)  # says how to reset
    kill.reset()
    assert kill.engaged() is None
    kill.reset()  # idempotent


def test_kill_switch_empty_file_and_unreadable_path_are_engaged(tmp_path: Path) -> None:
    path = tmp_path / "KILL"
    path.touch()  # `touch ~/.tradekit/KILL` from a terminal
    assert KillSwitch(path, env={}).engaged() == f"kill file {path} present"
    weird = tmp_path / "dir-KILL"
    weird.mkdir()  # exists but cannot be read as a file: fail closed
    assert "unreadable" in (KillSwitch(weird, env={}).engaged() or "")


@pytest.mark.parametrize(
    ("value", "engaged"),
    [("1", True), ("true", True), ("yes", True), ("panic", True), ("0", False), ("", False), ("false", False),
     ("off", False)],
)  # fmt: skip
def test_kill_switch_env_var(tmp_path: Path, value: str, engaged: bool) -> None:
    ks = KillSwitch(tmp_path / "KILL", env={"KIT_KILL": value})
    assert (ks.engaged() is not None) is engaged
    if engaged:
        assert ks.engaged() == f"env KIT_KILL={value}"
        ks.reset()  # removing the file does not override the variable
        assert ks.engaged() is not None


def test_kill_switch_reads_process_env_and_kit_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KIT_KILL", raising=False)
    ks = KillSwitch()
    assert ks.path == tmp_path / "home" / "KILL" == kit_home() / "KILL"
    assert ks.engaged() is None
    monkeypatch.setenv("KIT_KILL", "1")
    assert ks.engaged() == "env KIT_KILL=1"


def test_kill_switch_engaged_by_another_process_stops_this_one(tmp_path: Path, kill: KillSwitch) -> None:
    code = textwrap.dedent(
        f"""
        from kit.safety.killswitch import KillSwitch
        KillSwitch({str(kill.path)!r}, env={{}}).engage("engaged from another process")
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    assert kill.engaged() == "engaged from another process"
    g = Guard("testnet", sandbox=True, caps=Caps(), journal=None, kill_switch=kill, venue="localnet")
    with pytest.raises(KillSwitchEngaged, match="another process"):
        g.check_order(**order())
    g.check_cancel(symbol="BTC/USDT", now_ms=NOW)  # cancels still go through


# ---------------------------------------------------------------- caps


def test_caps_defaults_per_stage() -> None:
    assert Caps.for_stage("read_only") == Caps()
    assert Caps.for_stage(Stage.TESTNET).max_order_notional is None
    small = Caps.for_stage("live_small", symbols=["BTC/USDT"])
    assert (small.max_order_notional, small.max_daily_notional, small.max_daily_loss, small.max_open_orders) == (
        D(20), D(100), D(20), 3)  # fmt: skip
    assert small.symbols == frozenset({"BTC/USDT"})
    with pytest.raises(ConfigError, match="symbol allowlist"):
        Caps.for_stage("live_small")
    with pytest.raises(ConfigError, match="no default caps"):
        Caps.for_stage("live", symbols=["BTC/USDT"])


def test_caps_coerce_and_validate() -> None:
    # config files and notebooks give numbers as str/int/float and lists: all are converted
    raw: dict[str, Any] = dict(max_order_notional="50", max_daily_notional=200, max_daily_loss=0.1, max_open_orders=2,
                               symbols=["ETH/USDT"])  # fmt: skip
    caps = Caps(**raw)
    assert caps.max_order_notional == D("50") and caps.max_daily_loss == D("0.1")
    assert caps.symbols == frozenset({"ETH/USDT"})
    for bad in ({"max_order_notional": "0"}, {"max_daily_loss": "-5"}, {"max_daily_notional": "lots"},
                {"max_open_orders": 0}, {"max_open_orders": True}, {"symbols": "BTC/USDT"},
                {"max_order_notional": "NaN"}):  # fmt: skip
        with pytest.raises(ConfigError):
            Caps(**bad)


def test_live_stages_need_every_cap_and_live_small_cannot_raise_them(kill: KillSwitch, journal: Journal) -> None:
    with pytest.raises(ConfigError, match="missing: max_daily_loss"):
        no_loss_cap = Caps(max_order_notional=D(1000), max_daily_notional=D(5000), max_open_orders=5,
                           symbols=frozenset({"BTC/USDT"}))  # fmt: skip
        Guard("live", sandbox=False, caps=no_loss_cap, journal=journal, kill_switch=kill, venue="x")
    too_big = Caps(max_order_notional=D(500), max_daily_notional=D(100), max_daily_loss=D(20), max_open_orders=3,
                   symbols=frozenset({"BTC/USDT"}))  # fmt: skip
    with pytest.raises(ConfigError, match="max_order_notional=500 > 20"):
        Guard("live_small", sandbox=False, caps=too_big, journal=journal, kill_switch=kill, venue="x")
    smaller = Caps(max_order_notional=D(5), max_daily_notional=D(10), max_daily_loss=D(5), max_open_orders=1,
                   symbols=frozenset({"BTC/USDT"}))  # fmt: skip
    Guard("live_small", sandbox=False, caps=smaller, journal=journal, kill_switch=kill, venue="x")


@pytest.fixture
def capped(kill: KillSwitch, journal: Journal) -> Guard:
    """A testnet guard with explicit caps (testnet defaults have none), journaling to a real journal."""
    caps = Caps(max_order_notional=D(20), max_daily_notional=D(100), max_daily_loss=D(20), max_open_orders=3,
                symbols=frozenset({"BTC/USDT", "ETH/USDT"}))  # fmt: skip
    return Guard(Stage.TESTNET, sandbox=True, caps=caps, journal=journal, kill_switch=kill, venue="localnet")


@pytest.mark.parametrize(
    ("over", "rule", "value", "allowed"),
    [
        ({"notional": D("20.01")}, "max_order_notional", D("20.01"), D(20)),
        # the caller understated the notional: amount x price is what counts
        ({"notional": D("1"), "amount": D("0.001"), "price": D("50000")}, "max_order_notional", D("50.000"), D(20)),
        ({"notional": D(15), "daily_notional": D(90)}, "max_daily_notional", D(15), D(10)),
        ({"notional": D(1), "price": None, "daily_notional": D(120)}, "max_daily_notional", D(1), D(0)),
        ({"daily_pnl": D(-20)}, "max_daily_loss", D(20), D(20)),
        ({"open_orders": 3}, "max_open_orders", 4, 3),
    ],
)
def test_every_cap_refuses_with_value_and_allowed(
    capped: Guard, journal: Journal, over: dict[str, Any], rule: str, value: Any, allowed: Any
) -> None:
    with pytest.raises(CapExceeded) as info:
        capped.check_order(**order(**over))
    err = info.value
    assert (err.value, err.allowed, err.symbol) == (value, allowed, "BTC/USDT")
    assert "No request was sent" in str(err)
    [ev] = journal.events(kinds=["guard"])
    assert ev.payload["decision"] == "refuse" and ev.payload["rule"] == rule
    assert ev.stage == "testnet" and ev.symbol == "BTC/USDT" and ev.ts_ms == NOW
    assert ev.payload["value"] == value and ev.payload["allowed"] == allowed


def test_orders_just_inside_the_caps_are_allowed_and_journaled(capped: Guard, journal: Journal) -> None:
    capped.check_order(**order(notional=D(20), price=None, daily_notional=D(80), daily_pnl=D("-19.99"),
                               open_orders=2, symbol="ETH/USDT"))  # fmt: skip
    [ev] = journal.events(kinds=["guard"])
    assert ev.payload["decision"] == "allow" and ev.payload["notional"] == D(20) and ev.symbol == "ETH/USDT"


def test_symbol_allowlist(capped: Guard, journal: Journal) -> None:
    with pytest.raises(CapExceeded, match="not in the allowlist") as info:
        capped.check_order(**order(symbol="DOGE/USDT"))
    assert info.value.allowed == "BTC/USDT, ETH/USDT"
    assert guards(journal) == [("testnet", "refuse", "symbols")]


@pytest.mark.parametrize(
    "over",
    [{"side": "hold"}, {"amount": D(0)}, {"amount": D(-1)}, {"price": D(0)}, {"amount": "abc"},
     {"notional": D(0), "price": None}, {"notional": D(-1)}, {"open_orders": -1}, {"daily_pnl": D("NaN")}],
)  # fmt: skip
def test_malformed_orders_are_refused_not_sent(capped: Guard, journal: Journal, over: dict[str, Any]) -> None:
    with pytest.raises(GuardRefused) as info:
        capped.check_order(**order(**over))
    assert type(info.value) is GuardRefused
    assert guards(journal) == [("testnet", "refuse", "invalid")]


def test_testnet_has_no_notional_caps_by_default(kill: KillSwitch) -> None:
    g = Guard("testnet", sandbox=True, caps=Caps.for_stage("testnet"), journal=None, kill_switch=kill, venue="l")
    g.check_order(**order(notional=D(10**9), open_orders=500, daily_pnl=D(-(10**6))))
    # a market order whose value is unknown passes when no notional cap applies...
    g.check_order(**order(notional=D(0), price=None))
    # ...and is refused when one does
    capped = Guard("testnet", sandbox=True, caps=Caps(max_daily_notional=D(100)), journal=None, kill_switch=kill,
                   venue="l")  # fmt: skip
    with pytest.raises(GuardRefused, match="cannot be checked"):
        capped.check_order(**order(notional=D(0), price=None))


# ---------------------------------------------------------------- read_only and testnet gates


def test_read_only_refuses_every_order_method(kill: KillSwitch, journal: Journal) -> None:
    g = Guard("read_only", sandbox=False, caps=Caps(), journal=journal, kill_switch=kill, venue="binance")
    g.check_stage(symbols=["BTC/USDT"], now_ms=NOW)  # entering read_only needs nothing
    with pytest.raises(StageError, match="read_only refuses every order method"):
        g.check_order(**order())
    with pytest.raises(StageError, match="cancel"):
        g.check_cancel(symbol="BTC/USDT", now_ms=NOW)
    assert guards(journal) == [("read_only", "refuse", "stage")] * 2


def test_kill_switch_is_checked_first(kill: KillSwitch, journal: Journal) -> None:
    kill.engage("stop")
    g = Guard("read_only", sandbox=False, caps=Caps(), journal=journal, kill_switch=kill, venue="binance")
    with pytest.raises(KillSwitchEngaged):
        g.check_order(**order())
    assert guards(journal) == [("read_only", "refuse", "kill_switch")]


def test_testnet_needs_a_sandbox(kill: KillSwitch, journal: Journal) -> None:
    Guard("testnet", sandbox=True, caps=Caps(), journal=journal, kill_switch=kill, venue="l").check_stage(
        symbols=["BTC/USDT"], now_ms=NOW)  # fmt: skip
    live_endpoint = Guard("testnet", sandbox=False, caps=Caps(), journal=journal, kill_switch=kill, venue="binance")
    with pytest.raises(StageError, match="needs a sandbox endpoint"):
        live_endpoint.check_stage(symbols=["BTC/USDT"], now_ms=NOW)
    with pytest.raises(StageError, match="live endpoint"):
        live_endpoint.check_order(**order())


# ---------------------------------------------------------------- live_small gate (real journal)


def small_guard(journal: Journal | None, kill: KillSwitch, *, sandbox: bool = False, **kw: Any) -> Guard:
    caps = Caps.for_stage("live_small", symbols=["BTC/USDT", "ETH/USDT"])
    return Guard("live_small", sandbox=sandbox, caps=caps, journal=journal, kill_switch=kill, venue="binance", **kw)


def test_live_small_refused_without_testnet_fills(journal: Journal, kill: KillSwitch) -> None:
    add_fills(journal, "testnet", "BTC/USDT", 2)
    g = small_guard(journal, kill)
    with pytest.raises(StageError) as info:
        g.check_stage(symbols=["BTC/USDT"], now_ms=NOW)
    text = str(info.value)
    assert "at least 3 filled testnet orders" in text and "BTC/USDT: 2 of 3" in text
    assert (info.value.value, info.value.allowed) == (2, 3)
    # and orders are refused until the gate has passed
    with pytest.raises(StageError, match="gate has not passed"):
        g.check_order(**order())
    assert guards(journal) == [("live_small", "refuse", "stage_gate"), ("live_small", "refuse", "stage")]


def test_live_small_needs_evidence_for_every_symbol(journal: Journal, kill: KillSwitch) -> None:
    add_fills(journal, "testnet", "BTC/USDT", 3)
    add_fills(journal, "testnet", "ETH/USDT", 1)
    g = small_guard(journal, kill)
    with pytest.raises(StageError, match=r"ETH/USDT: 1 of 3") as info:
        g.check_stage(symbols=["BTC/USDT", "ETH/USDT"], now_ms=NOW)
    assert "BTC/USDT:" not in str(info.value)
    g.check_stage(symbols=["BTC/USDT"], now_ms=NOW)
    g.check_order(**order())
    with pytest.raises(StageError, match="gate has not passed for ETH/USDT"):
        g.check_order(**order(symbol="ETH/USDT"))


def test_live_small_evidence_window_and_stage(journal: Journal, kill: KillSwitch) -> None:
    add_fills(journal, "testnet", "BTC/USDT", 3, ts_ms=NOW - 31 * DAY_MS)  # too old
    add_fills(journal, "live_small", "BTC/USDT", 3)  # wrong stage
    add_fills(journal, "read_only", "BTC/USDT", 3)
    with pytest.raises(StageError, match="BTC/USDT: 0 of 3"):
        small_guard(journal, kill).check_stage(symbols=["BTC/USDT"], now_ms=NOW)
    # a longer window accepts the old fills
    small_guard(journal, kill, evidence=EvidenceRule(within_days=40)).check_stage(symbols=["BTC/USDT"], now_ms=NOW)


def test_live_small_passes_with_evidence_then_enforces_its_caps(journal: Journal, kill: KillSwitch) -> None:
    add_fills(journal, "testnet", "BTC/USDT", 3, venue="localnet")
    add_fills(journal, "testnet", "ETH/USDT", 5, venue="binance")
    g = small_guard(journal, kill)
    g.check_stage(symbols=[], now_ms=NOW)  # empty = the whole allowlist
    g.check_order(**order(notional=D(20)))
    with pytest.raises(CapExceeded):
        g.check_order(**order(notional=D(21)))
    with pytest.raises(CapExceeded, match="allowlist"):
        g.check_order(**order(symbol="SOL/USDT"))
    assert guards(journal) == [
        ("live_small", "allow", "stage_gate"),
        ("live_small", "allow", "ok"),
        ("live_small", "refuse", "max_order_notional"),
        ("live_small", "refuse", "symbols"),
    ]


def test_evidence_from_one_venue_only(journal: Journal, kill: KillSwitch) -> None:
    add_fills(journal, "testnet", "BTC/USDT", 3, venue="localnet")
    g = small_guard(journal, kill, evidence=EvidenceRule(venue="binance"))
    with pytest.raises(StageError, match="0 of 3"):
        g.check_stage(symbols=["BTC/USDT"], now_ms=NOW)


def test_live_small_refused_on_a_sandbox_without_journal_or_off_allowlist(journal: Journal, kill: KillSwitch) -> None:
    add_fills(journal, "testnet", "BTC/USDT", 3)
    with pytest.raises(StageError, match="sandbox endpoint"):
        small_guard(journal, kill, sandbox=True).check_stage(symbols=["BTC/USDT"], now_ms=NOW)
    with pytest.raises(StageError, match="needs a journal"):
        small_guard(None, kill).check_stage(symbols=["BTC/USDT"], now_ms=NOW)
    with pytest.raises(StageError, match="not in the live_small allowlist"):
        small_guard(journal, kill).check_stage(symbols=["BTC/USDT", "SOL/USDT"], now_ms=NOW)


# ---------------------------------------------------------------- live gate


def live_guard(journal: Journal, kill: KillSwitch) -> Guard:
    caps = Caps(max_order_notional=D(500), max_daily_notional=D(2000), max_daily_loss=D(100), max_open_orders=5,
                symbols=frozenset({"BTC/USDT"}))  # fmt: skip
    return Guard("live", sandbox=False, caps=caps, journal=journal, kill_switch=kill, venue="binance")


def test_live_needs_live_small_fills(journal: Journal, kill: KillSwitch) -> None:
    add_fills(journal, "testnet", "BTC/USDT", 10)
    with pytest.raises(StageError, match="filled live_small orders.*BTC/USDT: 0 of 3"):
        live_guard(journal, kill).check_stage(symbols=["BTC/USDT"], now_ms=NOW)
    add_fills(journal, "live_small", "BTC/USDT", 3)
    g = live_guard(journal, kill)
    g.check_stage(symbols=["BTC/USDT"], now_ms=NOW)
    g.check_order(**order(notional=D(400)))  # live caps, above live_small's


def test_live_refused_after_a_guard_trip_in_live_small(journal: Journal, kill: KillSwitch) -> None:
    add_fills(journal, "testnet", "BTC/USDT", 3, ts_ms=NOW - 20 * DAY_MS)
    small = small_guard(journal, kill)
    # a failed gate attempt is not a trip...
    with pytest.raises(StageError):
        small.check_stage(symbols=["ETH/USDT"], now_ms=NOW - 10 * DAY_MS)
    small.check_stage(symbols=["BTC/USDT"], now_ms=NOW - 10 * DAY_MS)
    add_fills(journal, "live_small", "BTC/USDT", 3, ts_ms=NOW - 9 * DAY_MS)
    live_guard(journal, kill).check_stage(symbols=["BTC/USDT"], now_ms=NOW)
    # ...a cap refusal in live_small is
    with pytest.raises(CapExceeded):
        small.check_order(**order(notional=D(25), now_ms=NOW - 5 * DAY_MS))
    with pytest.raises(StageError, match=r"1 refusal\(s\).*max_order_notional on BTC/USDT"):
        live_guard(journal, kill).check_stage(symbols=["BTC/USDT"], now_ms=NOW)
    # and it ages out of the window (with fresh live_small fills inside it)
    add_fills(journal, "live_small", "BTC/USDT", 3, ts_ms=NOW + 20 * DAY_MS)
    live_guard(journal, kill).check_stage(symbols=["BTC/USDT"], now_ms=NOW + 26 * DAY_MS)


def test_a_kill_switch_refusal_in_live_small_is_a_trip(journal: Journal, kill: KillSwitch) -> None:
    add_fills(journal, "testnet", "BTC/USDT", 3)
    add_fills(journal, "live_small", "BTC/USDT", 3)
    small = small_guard(journal, kill)
    small.check_stage(symbols=["BTC/USDT"], now_ms=NOW)
    kill.engage("manual stop")
    with pytest.raises(KillSwitchEngaged):
        small.check_order(**order())
    kill.reset()
    with pytest.raises(StageError, match="kill_switch"):
        live_guard(journal, kill).check_stage(symbols=["BTC/USDT"], now_ms=NOW + 1)


# ---------------------------------------------------------------- journaling


class UnwritableJournal:
    """Implements the guard's journal protocol; every write fails like a full disk."""

    def filled_orders(self, *, stage: str, symbols: Any, since_ms: int, venue: str | None = None) -> int:
        return 0

    def events(self, **filters: Any) -> list[Any]:
        return []

    def append(self, kind: str, **fields: Any) -> int:
        raise OSError(28, "No space left on device")


def test_an_allow_that_cannot_be_journaled_stops_the_order(kill: KillSwitch) -> None:
    g = Guard("testnet", sandbox=True, caps=Caps(), journal=UnwritableJournal(), kill_switch=kill, venue="l")
    with pytest.raises(OSError, match="No space"):
        g.check_order(**order())
    # a refusal still raises the refusal, even when it cannot be journaled
    with pytest.raises(GuardRefused):
        g.check_order(**order(side="hold"))


def test_guard_rows_read_back_as_a_frame(capped: Guard, journal: Journal) -> None:
    capped.check_order(**order())
    with pytest.raises(CapExceeded):
        capped.check_order(**order(open_orders=3))
    frame = journal.frame("guard")
    assert list(frame["decision"]) == ["allow", "refuse"]
    assert list(frame["rule"]) == ["ok", "max_open_orders"]
    assert isinstance(frame.index, pd.DatetimeIndex) and str(frame.index.tz) == "UTC"


def test_check_order_keywords_are_the_one_list_of_order_fields() -> None:
    """D7: the guard's order keywords are written once (OrderValues' fields), not in each check."""
    import inspect

    from kit.safety.guard import ORDER_FIELDS, Guard, OrderValues

    params = inspect.signature(Guard.check_order).parameters
    keywords = [n for n, p in params.items() if p.kind is p.KEYWORD_ONLY and n not in ("now_ms", "record")]
    assert keywords == list(ORDER_FIELDS)
    assert list(inspect.signature(Guard._order_refusal).parameters) == ["self", "values"]
    parsed = OrderValues.parse(
        dict.fromkeys(ORDER_FIELDS)
        | {"symbol": "BTC/USDT", "side": "sell", "amount": 1, "notional": 0, "open_orders": 0, "daily_notional": 0}
    )
    assert parsed.amount == 1 and parsed.price is None and parsed.rate is None
