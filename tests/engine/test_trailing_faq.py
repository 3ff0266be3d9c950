"""Trailing stops against Binance's trailing-stop FAQ, with the FAQ's own numbers.

Source: binance/binance-spot-api-docs, ``faqs/trailing-stop-faq.md``, scenarios A to E. Each
scenario is a "series of linear trades" between the prices the FAQ names; here they are trade
prints 2.5 apart (every price the FAQ names is on that grid), plus one print a tick short of the
trigger, so a trigger one tick early or late fails. The FAQ's Binance types map to the engine's:
STOP_LOSS(_LIMIT) with ``trailingDelta`` -> ``TRAILING_STOP_*``, TAKE_PROFIT(_LIMIT) ->
``TRAILING_TAKE_PROFIT_*``; ``stopPrice`` -> ``trigger_price`` (where tracking starts).

The same scenarios also run as candles (one candle per FAQ minute, its path the FAQ's legs), the
path research replays take.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from kit.engine import Bar, Engine, Market, OrderRequest, OrderType, Side, Trade
from kit.engine.types import EventKind

D = Decimal
SYM = "BTC/USDT"
M = Market(SYM, "BTC", "USDT", tick_size=D("0.01"), step_size=D("0.00001"), min_trailing_bps=10, max_trailing_bps=2000)
T0 = 60_000 * 28_000_000
STEP = D("2.5")
TICK = M.tick_size

# (id, engine type, side, stopPrice, trailingDelta, limit price, FAQ price path, FAQ trigger price)
SCENARIOS = [
    pytest.param(
        OrderType.TRAILING_STOP_LIMIT, Side.BUY, "44000", 500, "45000",
        ["40000", "37000", "45000", "46000", "42000", "44100"], "44100", id="A-stop-loss-limit-buy",
    ),
    pytest.param(
        OrderType.TRAILING_STOP_LIMIT, Side.SELL, "39000", 1000, "38000",
        ["40000", "41500", "37000", "41000", "36900"], "36900", id="B-stop-loss-limit-sell",
    ),
    pytest.param(
        OrderType.TRAILING_TAKE_PROFIT_LIMIT, Side.BUY, "38000", 850, "38500",
        ["40000", "42000", "37000", "39000", "38000", "40145"], "40145", id="C-take-profit-limit-buy",
    ),
    pytest.param(
        OrderType.TRAILING_TAKE_PROFIT_LIMIT, Side.SELL, "42000", 750, "41000",
        ["40000", "41500", "39000", "45000", "44000", "46500", "43012.5"], "43012.5", id="D-take-profit-limit-sell",
    ),
    pytest.param(
        OrderType.TRAILING_STOP_LIMIT, Side.SELL, None, 700, "39000",
        ["40000", "42000", "39500", "45500", "42315"], "42315", id="E-no-stop-price",
    ),
]  # fmt: skip


def _linear(path: list[str], trigger: str, buy: bool) -> list[D]:
    """Prints 2.5 apart along ``path``; the last leg gets one extra print a tick short of the trigger."""
    out = [D(path[0])]
    for a, b in zip(path, path[1:], strict=False):
        x, y = D(a), D(b)
        step = STEP if y > x else -STEP
        p = x
        while p != y:
            p += step
            out.append(p)
    trig = D(trigger)
    near = trig - TICK if buy else trig + TICK
    k = out.index(trig)
    return [*out[:k], near, *out[k:]]


def _engine(last: str) -> Engine:
    e = Engine([M])
    e.open_account("a", {"USDT": "1000000", "BTC": "10"})
    e.on_trade(SYM, Trade(T0 - 1, D(last), D("0.1"), Side.BUY))
    return e


def _request(t: OrderType, side: Side, stop: str | None, delta: int, limit: str) -> OrderRequest:
    return OrderRequest(
        SYM, side, t, quantity=D("0.01"), price=D(limit), trigger_price=D(stop) if stop else None, trailing_bps=delta
    )


@pytest.mark.parametrize(("type_", "side", "stop", "delta", "limit", "path", "trigger"), SCENARIOS)
def test_faq_scenario_on_trade_prints(
    type_: OrderType, side: Side, stop: str | None, delta: int, limit: str, path: list[str], trigger: str
) -> None:
    e = _engine(path[0])
    ev = e.submit("a", _request(type_, side, stop, delta, limit), ts_ms=T0)
    assert ev[0].kind is EventKind.ACCEPTED, ev[0].reason
    prints = _linear(path, trigger, side is Side.BUY)
    hit = None
    for k, p in enumerate(prints):
        evs = e.on_trade(SYM, Trade(T0 + 1 + k, p, D("0.001"), Side.BUY if side is Side.SELL else Side.SELL))
        trig = [x for x in evs if x.kind is EventKind.TRIGGERED]
        if trig:
            hit = (p, trig[0].order.trigger_price)
            break
    assert hit == (D(trigger), D(trigger))  # at the FAQ's print, with the FAQ's trigger price
    assert e.get_order("a", order_id=ev[0].order.id).price == D(limit)


def _bars(path: list[str]) -> list[Bar]:
    """One candle per FAQ leg: open at the leg's start, close at its end (a monotonic path)."""
    out = []
    for i, (a, b) in enumerate(zip(path, path[1:], strict=False)):
        x, y = D(a), D(b)
        out.append(Bar(T0 + i * 60_000, x, max(x, y), min(x, y), y, D("1000")))
    return out


@pytest.mark.parametrize(("type_", "side", "stop", "delta", "limit", "path", "trigger"), SCENARIOS)
def test_faq_scenario_on_candles(
    type_: OrderType, side: Side, stop: str | None, delta: int, limit: str, path: list[str], trigger: str
) -> None:
    e = _engine(path[0])
    ev = e.submit("a", _request(type_, side, stop, delta, limit), ts_ms=T0 - 1)
    assert ev[0].kind is EventKind.ACCEPTED, ev[0].reason
    bars = _bars(path)
    for b in bars[:-1]:
        assert [x for x in e.on_bar(SYM, b) if x.kind is EventKind.TRIGGERED] == [], b
    trig = [x for x in e.on_bar(SYM, bars[-1]) if x.kind is EventKind.TRIGGERED]
    assert [x.order.trigger_price for x in trig] == [D(trigger)]


def test_stop_loss_activation_ignores_moves_before_the_stop_price() -> None:
    # scenario A's first leg: a 7.5 % fall before the price reaches the stop is ignored; the old
    # engine activated a buy stop-loss on the way down (take-profit direction) and triggered at
    # 38,900 (as issue #13 measured)
    e = _engine("40000")
    e.submit("a", _request(OrderType.TRAILING_STOP_LIMIT, Side.BUY, "44000", 500, "45000"), ts_ms=T0)
    evs = []
    for k, p in enumerate(_linear(["40000", "37000", "39000"], "39000", True)):
        evs += e.on_trade(SYM, Trade(T0 + 1 + k, p, D("0.001"), Side.SELL))
    assert [x for x in evs if x.kind is EventKind.TRIGGERED] == []
