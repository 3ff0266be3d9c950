"""The cheaper per-order path (#18) gives the same answers as the rules it shortcuts.

* ``filters.shape`` answers a plain market or limit order with a fast exit; every request it lets
  through that way must pass the full rules (``_shape_rules``), and any other request gets the
  full rules' own refusal.
* ``engine_request`` builds the engine's request positionally: the same request as the keyword
  mapping of ``ENGINE_NAMES``.
* ``replay`` reuses the (immutable) request of a market order placed before with the same fields: the
  events, fills and balances must be those of a run that builds every request afresh, and two
  amounts that are equal but written differently (``0.010`` and ``0.01``) must not share one.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kit.engine import Market, replay
from kit.engine.filters import _shape_rules, shape
from kit.engine.order import _TO_ENGINE, OrderSpec, engine_request
from kit.engine.types import OrderRequest, OrderType, Side, TimeInForce

D = Decimal
M = Market("BTC/USDT", "BTC", "USDT", tick_size=D("0.01"), step_size=D("0.001"), min_notional=D("0.5"))

amounts = st.one_of(
    st.none(),
    st.sampled_from([D("0"), D("-1"), D("NaN"), D("Infinity"), D("0.010"), D("1E+1"), D("0.5")]),
    st.decimals(min_value=D("-5"), max_value=D("50"), places=3, allow_nan=False),
)
requests = st.builds(
    OrderRequest,
    symbol=st.just("BTC/USDT"),
    side=st.sampled_from(Side),
    type=st.sampled_from([OrderType.MARKET, OrderType.LIMIT, OrderType.LIMIT, OrderType.STOP_LIMIT]),
    quantity=amounts,
    quote_quantity=st.one_of(st.none(), st.none(), st.just(D("10"))),
    price=amounts,
    trigger_price=st.one_of(st.none(), st.none(), st.just(D("99"))),
    trailing_bps=st.one_of(st.none(), st.none(), st.just(50)),
    time_in_force=st.sampled_from(TimeInForce),
    expire_at_ms=st.one_of(st.none(), st.none(), st.just(10)),
    post_only=st.booleans(),
    hidden=st.booleans(),
    iceberg_qty=st.one_of(st.none(), st.none(), st.just(D("0.1"))),
    client_id=st.one_of(st.none(), st.just(""), st.just("c1"), st.just("x" * 37)),
)


@settings(max_examples=150, deadline=None)
@given(requests)
def test_shape_fast_exit_gives_the_full_rules_answer(req: OrderRequest) -> None:
    assert shape(req) == _shape_rules(req)


def _candles(n: int = 300, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 10000 + np.cumsum(rng.integers(-40, 41, n))
    open_ = np.concatenate([[close[0]], close[:-1]])
    high = np.maximum(open_, close) + rng.integers(0, 30, n)
    low = np.minimum(open_, close) - rng.integers(0, 30, n)
    idx = pd.date_range("2024-01-01", periods=n, freq="1min", tz="UTC")
    return pd.DataFrame(
        {"open": open_ / 100, "high": high / 100, "low": low / 100, "close": close / 100, "volume": 50.0}, index=idx
    ).round(2)


CANDLES = _candles()
SIZES = [D("0.010"), D("0.01"), D("0.1"), D("1E-2"), D("0.02")]


def _run(plan: list[tuple[int, int, int, int]], reuse: bool, monkeypatch: pytest.MonkeyPatch) -> replay.Result:
    """Replay ``plan``: at candle ``i`` place (side, size index, limit offset in ticks or -1 for market)."""
    monkeypatch.setattr(replay._Runner, "reuse_requests", reuse)
    by_candle: dict[int, list[tuple[int, int, int]]] = {}
    for i, side, k, off in plan:
        by_candle.setdefault(i, []).append((side, k, off))

    def strategy(ctx: replay.Context) -> None:
        for side, k, off in by_candle.get(ctx.i, ()):
            limit = None if off < 0 else D(str(ctx.close)) + (off - 10) * M.tick_size
            if side:
                ctx.buy(SIZES[k], limit=limit)
            elif ctx.position >= SIZES[k]:
                ctx.sell(SIZES[k], limit=limit)
        if ctx.i % 97 == 96:
            ctx.cancel_all()

    return replay.run(CANDLES, M, cash="100000", strategy=strategy, path="engine")


@settings(max_examples=10, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 299), st.integers(0, 1), st.integers(0, 4), st.integers(-1, 20)),
                max_size=40))  # fmt: skip
def test_reused_requests_give_the_same_run_as_fresh_ones(plan: list[tuple[int, int, int, int]]) -> None:
    with pytest.MonkeyPatch.context() as mp:
        fresh = _run(plan, False, mp)
        reused = _run(plan, True, mp)
    assert [repr(e) for e in reused.events] == [repr(e) for e in fresh.events]
    pd.testing.assert_frame_equal(reused.fills, fresh.fills)
    pd.testing.assert_frame_equal(reused.orders, fresh.orders)
    assert reused.balances == fresh.balances


def test_equal_amounts_written_differently_keep_their_own_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    res = _run([(5, 1, 0, -1), (5, 1, 1, -1), (5, 1, 3, -1)], True, monkeypatch)
    accepted = [e.order.request.quantity for e in res.events if e.kind.value == "accepted" and e.order is not None]
    assert [str(q) for q in accepted] == ["0.010", "0.01", "0.01"]
    assert [q.as_tuple().exponent for q in accepted] == [-3, -2, -2]


specs = st.builds(
    OrderSpec,
    symbol=st.sampled_from(["BTC/USDT", "ETH/BTC"]),
    side=st.sampled_from(Side),
    amount=st.one_of(st.none(), st.decimals(min_value=D("0.001"), max_value=D("9"), places=3)),
    price=st.one_of(st.none(), st.decimals(min_value=D("0.01"), max_value=D("999"), places=2)),
    type=st.one_of(st.none(), st.sampled_from(OrderType)),
    trigger_price=st.one_of(st.none(), st.just(D("5"))),
    trailing_bps=st.one_of(st.none(), st.integers(1, 500)),
    time_in_force=st.sampled_from(TimeInForce),
    post_only=st.booleans(),
    reduce_only=st.booleans(),
    iceberg_amount=st.one_of(st.none(), st.just(D("0.1"))),
    client_id=st.one_of(st.none(), st.text(min_size=1, max_size=5)),
    quote_amount=st.one_of(st.none(), st.just(D("10"))),
)


@settings(max_examples=60, deadline=None)
@given(specs)
def test_engine_request_maps_every_field_by_its_engine_name(spec: OrderSpec) -> None:
    """The positional constructor gives what the keyword mapping (``ENGINE_NAMES``) gives."""
    by_name = OrderRequest(type=spec.kind, **{engine: getattr(spec, name) for name, engine in _TO_ENGINE})
    assert engine_request(spec) == by_name
    # and the engine's fields the description does not have keep their defaults
    assert {f.name for f in dataclasses.fields(OrderRequest)} - {e for _, e in _TO_ENGINE} - {"type"} == {
        "expire_at_ms",
        "hidden",
    }
