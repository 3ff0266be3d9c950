"""replay.run and the garbage collector (#18): older objects frozen for the run, nothing else changed.

``replay.run`` wraps the replay in ``gc.freeze()`` / ``gc.unfreeze()`` so that the collector's
full passes walk only the objects the replay creates. These tests pin down what that must not
change: a caller's own freeze and a disabled collector are left alone, the freeze ends with the
run (also when the strategy raises), reference cycles made during the run are still collected,
and the result is the same as with the collector off. They run the engine path (``path="engine"``),
which keeps an event record of every order; the callback lane (``kit.engine.lane``) keeps none.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from kit.engine import replay
from tests.engine.test_replay import M, _candles


@pytest.fixture(autouse=True)
def _collector_restored() -> Iterator[None]:
    was_enabled = gc.isenabled()
    assert gc.get_freeze_count() == 0, "a test before this one left objects frozen"
    yield
    gc.unfreeze()
    if was_enabled:
        gc.enable()


def _buy_then_sell(ctx: replay.Context) -> None:
    if ctx.i == 10:
        ctx.buy(Decimal("0.5"))
    elif ctx.i == 200 and ctx.position > 0:
        ctx.sell((ctx.position // M.step_size) * M.step_size)


def test_older_objects_are_frozen_during_the_run_and_released_after() -> None:
    seen: list[int] = []

    def strategy(ctx: replay.Context) -> None:
        if ctx.i in (0, 299):  # get_freeze_count() walks the frozen objects: not at every candle
            seen.append(gc.get_freeze_count())
        _buy_then_sell(ctx)

    replay.run(_candles(300), M, cash="100000", strategy=strategy, path="engine")
    # the candles, this module and the libraries were out of the collector's reach
    assert len(seen) == 2 and min(seen) > 0
    assert gc.get_freeze_count() == 0


def test_the_freeze_ends_when_the_strategy_raises() -> None:
    def strategy(ctx: replay.Context) -> None:
        if ctx.i == 5:
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        replay.run(_candles(50), M, cash="1000", strategy=strategy, path="engine")
    assert gc.get_freeze_count() == 0


def test_a_callers_freeze_is_left_as_it_is() -> None:
    gc.freeze()
    frozen = gc.get_freeze_count()
    assert frozen > 0
    replay.run(_candles(100), M, cash="100000", strategy=_buy_then_sell, path="engine")
    # not unfrozen by the replay (unfreezing empties the permanent generation); the count may
    # drop a little: frozen objects that die meanwhile (temporaries of the test) leave it
    assert gc.get_freeze_count() > 0.9 * frozen


def test_a_disabled_collector_is_left_disabled_and_nothing_is_frozen() -> None:
    seen: list[int] = []

    def strategy(ctx: replay.Context) -> None:
        if ctx.i in (0, 49):
            seen.append(gc.get_freeze_count())

    gc.disable()
    replay.run(_candles(50), M, cash="1000", strategy=strategy, path="engine")
    assert not gc.isenabled()
    assert seen == [0, 0]


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def test_cycles_made_during_the_run_are_collected_during_the_run() -> None:
    """Memory stays bounded: garbage cycles the strategy makes do not wait for the run's end."""
    refs: list[weakref.ref[_Node]] = []

    def strategy(ctx: replay.Context) -> None:
        a, b = _Node(), _Node()
        a.other, b.other = b, a  # a cycle: only the collector frees it
        refs.append(weakref.ref(a))

    replay.run(_candles(3000), M, cash="1000", strategy=strategy, path="engine")
    alive = sum(r() is not None for r in refs)
    assert len(refs) == 3000
    assert alive < 1000, f"{alive} of 3000 cycles still alive at the end of the run"


def test_same_result_as_with_the_collector_off() -> None:
    df = _candles(400)
    on = replay.run(df, M, cash="100000", strategy=_buy_then_sell, path="engine")
    gc.disable()
    off = replay.run(df, M, cash="100000", strategy=_buy_then_sell, path="engine")
    gc.enable()
    assert len(on.fills) == 2
    assert on.fills.equals(off.fills) and on.orders.equals(off.orders)
    assert on.balances == off.balances and on.equity.equals(off.equity)
    assert [e.kind for e in on.events] == [e.kind for e in off.events]


def _buying_and_counting_freezes(seen: list[int]) -> Any:
    """A strategy that buys every 10th candle and notes the frozen-object count every 50th."""

    def strategy(ctx: replay.Context) -> None:
        if ctx.i % 10 == 0:
            ctx.buy(Decimal("0.01"))
        if ctx.i % 50 == 1:
            seen.append(gc.get_freeze_count())

    return strategy


def test_what_the_replay_keeps_is_frozen_as_it_goes_and_released_after(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every ``FREEZE_EVERY`` events, the objects the replay kept leave the collector's reach too."""
    monkeypatch.setattr(replay, "FREEZE_EVERY", 4)
    seen: list[int] = []
    res = replay.run(_candles(300), M, cash="100000", strategy=_buying_and_counting_freezes(seen), path="engine")
    assert len(res.fills) == 30
    # each freeze adds what the replay made since: the count grows during the run
    assert seen[-1] > seen[0]
    assert gc.get_freeze_count() == 0


def test_nothing_is_frozen_as_it_goes_with_the_collector_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(replay, "FREEZE_EVERY", 4)
    gc.disable()
    seen: list[int] = []
    replay.run(_candles(300), M, cash="100000", strategy=_buying_and_counting_freezes(seen), path="engine")
    assert set(seen) == {0}
    assert not gc.isenabled()
