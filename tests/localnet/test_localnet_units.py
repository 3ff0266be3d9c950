"""Pure parts of localnet: decoding tables, auth rules, determinism of the market, the book."""

from __future__ import annotations

import doctest
import importlib
from decimal import Decimal as D

import pytest

from kit.localnet import auth, wire
from kit.localnet.book import Book
from kit.localnet.clock import Clock
from kit.localnet.config import DEFAULT_SYMBOLS, LocalnetConfig
from kit.localnet.market import SyntheticSource
from kit.localnet.venue import Venue

MODULES = [
    "auth",
    "book",
    "ccxt_client",
    "clock",
    "config",
    "faults",
    "hub",
    "limits",
    "market",
    "persist",
    "reqlog",
    "wire",
    "wire_market",
    "app",
]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    module = importlib.import_module(f"kit.localnet.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


BASE = {"symbol": "BTCUSDT", "side": "BUY"}
CASES = [
    ({"type": "LIMIT", "quantity": "1", "price": "1"}, -1102),  # no timeInForce
    ({"type": "LIMIT", "quantity": "1", "price": "1", "timeInForce": "GTD"}, -1115),
    ({"type": "MARKET"}, -1102),
    ({"type": "MARKET", "quantity": "1", "quoteOrderQty": "1"}, -1106),
    ({"type": "MARKET", "quantity": "1", "price": "1"}, -1106),
    ({"type": "STOP_LOSS", "quantity": "1"}, -1102),
    ({"type": "LIMIT_MAKER", "quantity": "1", "price": "1", "timeInForce": "GTC"}, -1106),
    ({"type": "LIMIT", "quantity": "1", "price": "1", "timeInForce": "IOC", "icebergQty": "0.1"}, -1014),
    ({"type": "OCO", "quantity": "1"}, -1116),
    ({"type": "MARKET", "quantity": "1", "newClientOrderId": "has space"}, -1100),
    ({"type": "MARKET", "quantity": "-1"}, -1100),
    ({"type": "MARKET", "quantity": "1", "newOrderRespType": "XML"}, -1100),
    ({"type": "MARKET", "quantity": "1", "side": "HOLD"}, -1117),
    ({"type": "MARKET", "quantity": "1", "symbol": "XYZ"}, -1121),
]


@pytest.mark.parametrize(("extra", "code"), CASES)
def test_decode_order_errors(extra: dict[str, str], code: int) -> None:
    venue_symbols = {"BTCUSDT": type("S", (), {"symbol": "BTC/USDT"})()}
    with pytest.raises(wire.VenueError) as err:
        wire.decode_order({**BASE, **extra}, venue_symbols)
    assert err.value.code == code


def test_decode_order_mapping() -> None:
    from kit.engine import OrderType

    syms = {"BTCUSDT": type("S", (), {"symbol": "BTC/USDT"})()}
    table = [
        ({"type": "LIMIT_MAKER", "quantity": "1", "price": "2"}, OrderType.LIMIT, True),
        ({"type": "STOP_LOSS", "quantity": "1", "stopPrice": "2"}, OrderType.STOP_MARKET, False),
        (
            {"type": "STOP_LOSS_LIMIT", "quantity": "1", "price": "2", "stopPrice": "3", "timeInForce": "GTC"},
            OrderType.STOP_LIMIT,
            False,
        ),
        ({"type": "TAKE_PROFIT", "quantity": "1", "stopPrice": "2"}, OrderType.TAKE_PROFIT_MARKET, False),
        (
            {"type": "TAKE_PROFIT", "quantity": "1", "trailingDelta": "100"},
            OrderType.TRAILING_TAKE_PROFIT_MARKET,
            False,
        ),
        ({"type": "STOP_LOSS", "quantity": "1", "trailingDelta": "100"}, OrderType.TRAILING_STOP_MARKET, False),
        (
            {"type": "STOP_LOSS_LIMIT", "quantity": "1", "price": "2", "trailingDelta": "50", "timeInForce": "GTC"},
            OrderType.TRAILING_STOP_LIMIT,
            False,
        ),
    ]
    for params, etype, post_only in table:
        d = wire.decode_order({**BASE, **params}, syms)
        assert d.request.type is etype and d.request.post_only is post_only
        assert d.meta["type"] == params["type"]
        back = wire.request_from_json(wire.request_to_json(d.request))
        assert back == d.request


def test_timestamp_rule_boundaries() -> None:
    assert auth.check_timestamp(1000, 5000, server_ms=6000) is None
    assert auth.check_timestamp(999, 5000, server_ms=6000) == auth.TS_OUTSIDE
    assert auth.check_timestamp(6999, 5000, server_ms=6000) is None
    assert auth.check_timestamp(7000, 5000, server_ms=6000) == auth.TS_AHEAD
    assert auth.check_timestamp(1, 60_001, server_ms=2) == auth.BAD_RECV_WINDOW


def test_split_signature_variants() -> None:
    assert auth.split_signature("a=1&signature=ff") == ("a=1", "ff")
    assert auth.split_signature("signature=ff") == ("", "ff")
    assert auth.split_signature("a=1") == ("a=1", None)
    # a parameter after the signature is in totalParams but was not signed: it must fail verification (-1022)
    assert auth.split_signature("a=1&signature=ff&b=2") == ("a=1&b=2", "ff")


def test_ip_allowlist_cidr() -> None:
    key = auth.new_api_key("k", "a", ip_allowlist=("10.0.0.0/8", "192.0.2.1"), created_ms=0)
    assert key.ip_allowed("10.1.2.3") and key.ip_allowed("192.0.2.1")
    assert not key.ip_allowed("127.0.0.1") and not key.ip_allowed("garbage")


def test_synthetic_prints_do_not_depend_on_tick_partition() -> None:
    spec = DEFAULT_SYMBOLS[0]
    start = 1_700_000_040_000
    a = SyntheticSource(spec, seed=3, live_start_ms=start, history_minutes=10)
    b = SyntheticSource(spec, seed=3, live_start_ms=start, history_minutes=10)
    whole = a.prints_until(start + 300_000)
    pieces = []
    for t in range(start, start + 300_001, 7_777):
        pieces += b.prints_until(t)
    pieces += b.prints_until(start + 300_000)
    assert whole == pieces and len(whole) > 50
    c = SyntheticSource(spec, seed=4, live_start_ms=start, history_minutes=10)
    assert c.prints_until(start + 300_000) != whole
    assert a.candles.bars == b.candles.bars


def test_synthetic_volatility_clusters() -> None:
    import numpy as np

    spec = DEFAULT_SYMBOLS[1]
    src = SyntheticSource(spec, seed=1, live_start_ms=1_700_000_040_000, history_minutes=20_000)
    bars = [src.candles.bars[t] for t in sorted(src.candles.bars)]
    r = np.diff(np.log([float(b[3]) for b in bars]))
    a = np.abs(r - r.mean())
    lag1 = np.corrcoef(a[:-1], a[1:])[0, 1]
    assert lag1 > 0.1  # absolute returns are autocorrelated: volatility clusters
    daily = r.std() * np.sqrt(1440)
    assert 0.01 < daily < 0.1


def test_book_deltas_chain_and_consume() -> None:
    book = Book(DEFAULT_SYMBOLS[0], seed=1)
    d1 = book.rebuild(D("60000.00"), 0)
    d2 = book.rebuild(D("60010.00"), 1)
    assert d1 is not None and d2 is not None and d2[0] == d1[1] + 1
    (bid_px, _), (ask_px, ask_qty) = book.best()  # type: ignore[misc]
    assert bid_px < ask_px
    d3 = book.consume(bids_hit=False, price=ask_px, qty=ask_qty, ts_ms=2)
    assert d3 is not None and [ask_px, "0.00000000"] in [[D(p), q] for p, q in d3[3]]
    assert book.best()[1][0] > ask_px  # type: ignore[index]
    d4 = book.refresh(2 + book.replenish_ms + 1)
    assert d4 is not None and book.best()[1][0] == ask_px  # type: ignore[index]


def test_venue_depth_ids_are_shared_with_snapshot() -> None:
    v = Venue(LocalnetConfig(stepped=True, start_ms=1_700_000_000_000, history_minutes=5))
    seen: list[dict] = []
    import asyncio

    async def run() -> None:
        q = v.hub.subscribe(("depth", "BTCUSDT", "100ms"))
        snap = v.depth("BTCUSDT", 1000)
        for _ in range(30):
            v.step(2_000)
        while not q.empty():
            seen.append(q.get_nowait())
        assert seen and seen[0]["U"] == snap["lastUpdateId"] + 1
        assert all(b["U"] == a["u"] + 1 for a, b in zip(seen, seen[1:], strict=False))
        assert seen[-1]["u"] == v.books["BTCUSDT"].update_id

    asyncio.run(run())
    v.close()


def test_clock_modes() -> None:
    c = Clock(start_ms=0, stepped=True)
    assert c.mode == "stepped" and c.step(10) == 10
    with pytest.raises(ValueError):
        c.step(-1)
    with pytest.raises(ValueError):
        c.set(5)
    c.configure(stepped=False, speed=1000.0)
    assert c.mode == "speed"
