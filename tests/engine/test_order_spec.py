"""The one order description (OrderSpec), its strict parsing, and the filters with Binance's own numbers.

The filter numbers are those of Binance's filters.md (binance/binance-spot-api-docs): the
exchangeInfo examples of PRICE_FILTER, PERCENT_PRICE_BY_SIDE, NOTIONAL, ICEBERG_PARTS,
MAX_NUM_ALGO_ORDERS and TRAILING_DELTA.
"""

from __future__ import annotations

import dataclasses
import inspect
from decimal import Decimal as D
from typing import Any

import pytest

from kit.engine.filters import check, counts, fat_finger, funds, iceberg_parts, market_from_ccxt
from kit.engine.order import ENGINE_NAMES, ORDER_KEYWORDS, OrderSpec, engine_request
from kit.engine.types import Market, OrderRequest, OrderType, RejectCode, Side, TimeInForce
from kit.errors import KitError, OrderRejected
from kit.session.trading import Trading

# ---------------------------------------------------------------- one description


def test_place_keywords_are_the_order_description() -> None:
    """place() spells its keywords out for notebook completion: same names and defaults as OrderSpec."""
    params = inspect.signature(Trading.place).parameters
    place_kw = {n: p.default for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}
    spec_kw = {f.name: f.default for f in dataclasses.fields(OrderSpec) if f.name in ORDER_KEYWORDS}
    assert place_kw == spec_kw
    assert [n for n, p in params.items() if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD] == [
        "self",
        "symbol",
        "side",
        "amount",
    ]


def test_order_types_come_from_the_engine() -> None:
    for t in OrderType:
        kw: dict[str, Any] = {"type": t.value}
        if t.has_limit_price:
            kw["price"] = "100"
        if t.is_conditional and not t.is_trailing:
            kw["trigger_price"] = "90"
        if t.is_trailing:
            kw["trailing_bps"] = 50
        spec = OrderSpec.parse("X/Y", "sell", "1", **kw)
        assert spec.kind is t and spec.to_request().type is t
        assert spec.is_market is (not t.has_limit_price)


def test_parse_fills_defaults_and_round_trips_through_keywords() -> None:
    s = OrderSpec.parse("BTC/USDT", "BUY", "0.010", price="60000.50", iceberg_amount="0.002")
    assert (s.side, s.type, s.time_in_force, s.post_only) == (Side.BUY, OrderType.LIMIT, TimeInForce.GTC, False)
    assert OrderSpec.parse(s.symbol, s.side, s.amount, **s.keywords()) == s
    req = s.with_client_id("tk-1").to_request()
    assert (req.quantity, req.iceberg_qty, req.client_id) == (D("0.010"), D("0.002"), "tk-1")


# ---------------------------------------------------------------- strict inputs (#12.2)

BAD = [
    pytest.param({"amount": True}, "not a bool", id="bool-amount"),
    pytest.param({"amount": False}, "not a bool", id="false-amount"),
    pytest.param({"price": True}, "not a bool", id="bool-price"),
    pytest.param({"amount": "0_001"}, "not a plain decimal", id="underscore"),
    pytest.param({"amount": "0_5"}, "not a plain decimal", id="underscore-2"),
    pytest.param({"amount": "1,5"}, "not a plain decimal", id="comma"),
    pytest.param({"amount": "1e30"}, "out of range", id="exponent-high"),
    pytest.param({"price": "1e-30"}, "out of range", id="exponent-low"),
    pytest.param({"amount": "inf"}, "finite", id="inf"),
    pytest.param({"amount": "-Infinity"}, "finite", id="minus-inf"),
    pytest.param({"amount": "sNaN"}, "finite", id="snan"),
    pytest.param({"amount": D("NaN")}, "finite", id="decimal-nan"),
    pytest.param({"amount": float("inf")}, "finite", id="float-inf"),
    pytest.param({"amount": 0}, "positive", id="zero"),
    pytest.param({"amount": [1]}, "must be a number", id="list"),
    pytest.param({"post_only": "no"}, "True or False", id="post-only-string"),
    pytest.param({"post_only": 1}, "True or False", id="post-only-int"),
    pytest.param({"reduce_only": "false"}, "True or False", id="reduce-only-string"),
    pytest.param({"type": "trailing_stop_market", "price": None, "trailing_bps": 25.9}, "whole number", id="bps-frac"),
    pytest.param({"type": "trailing_stop_market", "price": None, "trailing_bps": "25.9"}, "whole number", id="bps-str"),
    pytest.param({"type": "trailing_stop_market", "price": None, "trailing_bps": True}, "not a bool", id="bps-bool"),
    pytest.param({"type": "trailing_stop_market", "price": None, "trailing_bps": -5}, "positive", id="bps-negative"),
    pytest.param({"side": "hold"}, "unknown side", id="side"),
    pytest.param({"side": 1}, "side must be", id="side-int"),
    pytest.param({"type": "oco"}, "unknown order type", id="type"),
    pytest.param({"time_in_force": "DAY"}, "unknown time_in_force", id="tif"),
    pytest.param({"time_in_force": "GTD"}, "GTD needs an expiry", id="gtd"),
    pytest.param({"client_id": "x" * 37}, "client_id", id="client-id-long"),
    pytest.param({"stop": "1"}, "unknown order keyword", id="unknown-keyword"),
    pytest.param({"symbol": ""}, "symbol must be", id="empty-symbol"),
]


@pytest.mark.parametrize(("change", "needle"), BAD)
def test_bad_input_raises_order_rejected_with_a_hint(change: dict[str, Any], needle: str) -> None:
    kw: dict[str, Any] = {"symbol": "BTC/USDT", "side": "buy", "amount": "0.001", "price": "50000", **change}
    with pytest.raises(OrderRejected) as info:
        OrderSpec.parse(kw.pop("symbol"), kw.pop("side"), kw.pop("amount"), **kw)
    assert needle in str(info.value)
    assert info.value.hint.endswith("No request was sent.")


def test_whole_bps_as_text_and_plain_numbers_are_accepted() -> None:
    s = OrderSpec.parse("X/Y", "sell", " 2 ", type="trailing_stop_market", trailing_bps="25")
    assert (s.amount, s.trailing_bps) == (D("2"), 25)
    assert OrderSpec.parse("X/Y", "buy", 0.1, price=1).amount == D("0.1")  # a float's shortest repr, exactly


def test_a_long_value_is_not_echoed() -> None:
    secret = "k" * 40 + "_secret"
    with pytest.raises(KitError) as info:
        OrderSpec.parse("BTC/USDT", "buy", secret)
    assert secret not in str(info.value) and "47 characters" in str(info.value)


# ---------------------------------------------------------------- filters, with filters.md's numbers

# filters.md exchangeInfo examples, as a ccxt market would carry them in `info`
DOC_FILTERS = [
    {"filterType": "PRICE_FILTER", "minPrice": "0.00000100", "maxPrice": "100000.00000000", "tickSize": "0.00000100"},
    {
        "filterType": "PERCENT_PRICE_BY_SIDE",
        "bidMultiplierUp": "1.2",
        "bidMultiplierDown": "0.2",
        "askMultiplierUp": "5",
        "askMultiplierDown": "0.8",
        "avgPriceMins": 1,
    },
    {"filterType": "LOT_SIZE", "minQty": "0.00100000", "maxQty": "100000.00000000", "stepSize": "0.00100000"},
    {
        "filterType": "NOTIONAL",
        "minNotional": "10.00000000",
        "applyMinToMarket": False,
        "maxNotional": "10000.00000000",
        "applyMaxToMarket": False,
        "avgPriceMins": 5,
    },
    {"filterType": "ICEBERG_PARTS", "limit": 10},
    {"filterType": "MARKET_LOT_SIZE", "minQty": "0.00100000", "maxQty": "100000.00000000", "stepSize": "0.00100000"},
    {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 25},
    {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 5},
    {"filterType": "MAX_NUM_ICEBERG_ORDERS", "maxNumIcebergOrders": 5},
    {
        "filterType": "TRAILING_DELTA",
        "minTrailingAboveDelta": 10,
        "maxTrailingAboveDelta": 2000,
        "minTrailingBelowDelta": 10,
        "maxTrailingBelowDelta": 2000,
    },
]
DOC = market_from_ccxt(
    {
        "symbol": "X/Y",
        "base": "X",
        "quote": "Y",
        "precision": {"price": 0.01, "amount": 0.1},
        "info": {"filters": DOC_FILTERS},
    }
)


def test_market_from_ccxt_reads_the_venues_own_filters() -> None:
    assert (DOC.tick_size, DOC.min_price, DOC.max_price) == (D("0.000001"), D("0.000001"), D("100000"))
    assert (DOC.step_size, DOC.min_qty, DOC.market_max_qty) == (D("0.001"), D("0.001"), D("100000"))
    assert (DOC.min_notional, DOC.max_notional, DOC.max_iceberg_parts) == (D("10"), D("10000"), 10)
    assert (DOC.bid_multiplier_up, DOC.bid_multiplier_down) == (D("1.2"), D("0.2"))
    assert (DOC.ask_multiplier_up, DOC.ask_multiplier_down) == (D("5"), D("0.8"))
    assert (DOC.max_num_orders, DOC.max_num_algo_orders, DOC.max_num_iceberg_orders) == (25, 5, 5)
    assert (DOC.min_trailing_bps, DOC.max_trailing_bps) == (10, 2000)


def _req(side: Side, type_: OrderType, qty: str, price: str | None = None, **kw: Any) -> OrderRequest:
    return OrderRequest("X/Y", side, type_, quantity=D(qty), price=None if price is None else D(price), **kw)


BUY, SELL, L = Side.BUY, Side.SELL, OrderType.LIMIT
REFUSED = [
    pytest.param(_req(BUY, L, "0.1", "100000.000001"), D("100"), "PRICE_FILTER", "maxPrice", id="above-maxPrice"),
    pytest.param(_req(BUY, L, "1", "0.0000005"), None, "PRICE_FILTER", "minPrice", id="below-minPrice"),
    pytest.param(
        _req(SELL, OrderType.STOP_MARKET, "1", trigger_price=D("100001")), None, "PRICE_FILTER", "maxPrice", id="stop"
    ),
    # PERCENT_PRICE_BY_SIDE against an average price of 100: buys within [20, 120], sells within [80, 500]
    pytest.param(_req(BUY, L, "1", "120.01"), D("100"), "PERCENT_PRICE_BY_SIDE", "bidMultiplierUp", id="bid-up"),
    pytest.param(_req(BUY, L, "1", "19.99"), D("100"), "PERCENT_PRICE_BY_SIDE", "bidMultiplierDown", id="bid-down"),
    pytest.param(_req(SELL, L, "1", "500.01"), D("100"), "PERCENT_PRICE_BY_SIDE", "askMultiplierUp", id="ask-up"),
    pytest.param(_req(SELL, L, "1", "79.99"), D("100"), "PERCENT_PRICE_BY_SIDE", "askMultiplierDown", id="ask-down"),
    pytest.param(_req(BUY, L, "100.1", "100"), D("100"), "NOTIONAL", "maxNotional", id="max-notional"),
    pytest.param(_req(BUY, L, "0.099", "100"), D("100"), "NOTIONAL", "minNotional", id="min-notional"),
    pytest.param(_req(BUY, L, "1.05", "100", iceberg_qty=D("0.1")), None, "ICEBERG_PARTS", "limit=10", id="parts-ceil"),
    pytest.param(_req(BUY, L, "1", "100", iceberg_qty=D("0.0005")), None, "LOT_SIZE", "stepSize", id="iceberg-size"),
    pytest.param(
        _req(SELL, OrderType.TRAILING_STOP_MARKET, "1", trailing_bps=2001), None, "TRAILING_DELTA", "2000", id="trail"
    ),
]


@pytest.mark.parametrize(("req", "ref", "name", "allowed"), REFUSED)
def test_filters_refuse_with_binance_numbers(req: OrderRequest, ref: D | None, name: str, allowed: str) -> None:
    r = check(DOC, req, ref_price=ref)
    assert r is not None and r.code is RejectCode.FILTER
    assert (r.filter, allowed in (r.allowed or "")) == (name, True), r


ACCEPTED = [
    pytest.param(_req(BUY, L, "0.1", "100000"), D("100000"), id="at-maxPrice"),
    pytest.param(_req(BUY, L, "1", "120"), D("100"), id="bid-up-edge"),
    pytest.param(_req(BUY, L, "1", "20"), D("100"), id="bid-down-edge"),
    pytest.param(_req(SELL, L, "1", "500"), D("100"), id="ask-up-edge"),
    pytest.param(_req(SELL, L, "1", "80"), D("100"), id="ask-down-edge"),
    pytest.param(_req(BUY, L, "100", "100"), D("100"), id="max-notional-edge"),
    pytest.param(_req(BUY, L, "1", "100", iceberg_qty=D("0.1")), None, id="ten-parts"),
]


@pytest.mark.parametrize(("req", "ref"), ACCEPTED)
def test_filters_accept_at_the_bounds(req: OrderRequest, ref: D | None) -> None:
    assert check(DOC, req, ref_price=ref) is None


def test_iceberg_parts_is_a_ceiling() -> None:
    """CEIL(qty / icebergQty) (filters.md); Decimal `//` truncates toward zero, so -(-q // p) was a floor."""
    assert iceberg_parts(D("1.05"), D("0.1")) == 11
    assert -(-D("1.05") // D("0.1")) == 10  # the old formula: one part short
    assert iceberg_parts(D("1"), D("0.1")) == 10 and iceberg_parts(D("0.3"), D("0.2")) == 2


def test_open_order_counts() -> None:
    stop = _req(SELL, OrderType.STOP_LIMIT, "1", "90", trigger_price=D("91"))
    trailing = _req(SELL, OrderType.TRAILING_STOP_MARKET, "1", trailing_bps=100)
    plain = _req(BUY, L, "1", "100")
    assert counts(DOC, stop, open_orders=4, open_algo_orders=4) is None
    assert counts(DOC, stop, open_orders=5, open_algo_orders=5).filter == "MAX_NUM_ALGO_ORDERS"  # type: ignore[union-attr]
    assert counts(DOC, trailing, open_orders=5, open_algo_orders=5).filter == "MAX_NUM_ALGO_ORDERS"  # type: ignore[union-attr]
    assert counts(DOC, plain, open_orders=5, open_algo_orders=5) is None  # algo limit is for stops only
    assert counts(DOC, plain, open_orders=25).filter == "MAX_NUM_ORDERS"  # type: ignore[union-attr]
    ice = _req(BUY, L, "1", "100", iceberg_qty=D("0.5"))
    assert counts(DOC, ice, open_orders=5, open_iceberg_orders=5).filter == "MAX_NUM_ICEBERG_ORDERS"  # type: ignore[union-attr]


def test_fat_finger_band_shows_the_numbers() -> None:
    buy = _req(BUY, L, "1", "66000.01")
    r = fat_finger(buy, last_price=D("60000"), band_pct=D("10"))
    assert r is not None and "10.00 % above the last price 60000" in r.reason and r.filter == "FAT_FINGER"
    assert fat_finger(_req(BUY, L, "1", "66000"), last_price=D("60000"), band_pct=D("10")) is None
    assert fat_finger(_req(SELL, L, "1", "53999.99"), last_price=D("60000"), band_pct=D("10")) is not None
    assert fat_finger(_req(SELL, L, "1", "90000"), last_price=D("60000"), band_pct=D("10")) is None  # not through
    assert fat_finger(buy, last_price=D("60000"), band_pct=None) is None
    assert fat_finger(buy, last_price=None, band_pct=D("10")) is None


def test_free_balance() -> None:
    sell = OrderRequest("BTC/USDT", SELL, OrderType.MARKET, quantity=D("100"))
    r = funds(sell, free_base=D("0.5"), free_quote=D("0"), ref_price=None)
    assert r is not None and r.code is RejectCode.INSUFFICIENT_FUNDS and r.allowed == "0.5 BTC"
    buy = OrderRequest("BTC/USDT", BUY, L, quantity=D("1"), price=D("100"))
    assert funds(buy, free_base=D(0), free_quote=D("100"), ref_price=None) is None
    assert funds(buy, free_base=D(0), free_quote=D("99.99"), ref_price=None) is not None
    mkt = OrderRequest("BTC/USDT", BUY, OrderType.MARKET, quantity=D("1"))
    assert funds(mkt, free_base=D(0), free_quote=D(0), ref_price=None) is None  # no price known: not checked


def test_market_without_venue_filters_uses_ccxt_limits() -> None:
    m = market_from_ccxt(
        {
            "symbol": "A/B",
            "precision": {"price": 0.5, "amount": 1},
            "limits": {"amount": {"min": 2, "max": 10}, "price": {"min": 1, "max": 50}, "cost": {"min": 3}},
        }
    )
    assert isinstance(m, Market) and (m.base, m.quote) == ("A", "B")
    assert (m.tick_size, m.step_size, m.min_qty, m.max_qty, m.min_price, m.max_price, m.min_notional) == (
        D("0.5"),
        D("1"),
        D("2"),
        D("10"),
        D("1"),
        D("50"),
        D("3"),
    )


def test_notional_bounds_for_market_orders_follow_apply_to_market() -> None:
    """filters.md's NOTIONAL example has applyMinToMarket and applyMaxToMarket false."""
    assert (DOC.apply_min_notional_to_market, DOC.apply_max_notional_to_market) == (False, False)
    small = _req(BUY, OrderType.MARKET, "0.001")
    big = _req(BUY, OrderType.MARKET, "200")
    assert check(DOC, small, ref_price=D("100")) is None  # 0.1 < minNotional 10: not applied to MARKET
    assert check(DOC, big, ref_price=D("100")) is None  # 20000 > maxNotional 10000: not applied to MARKET
    assert check(DOC, _req(BUY, L, "0.001", "100"), ref_price=D("100")).filter == "NOTIONAL"  # type: ignore[union-attr]
    strict = dataclasses.replace(DOC, apply_min_notional_to_market=True, apply_max_notional_to_market=True)
    assert check(strict, small, ref_price=D("100")).allowed == "minNotional=10.00000000"  # type: ignore[union-attr]
    assert check(strict, big, ref_price=D("100")).allowed == "maxNotional=10000.00000000"  # type: ignore[union-attr]


def test_to_request_and_the_wire_decoder_agree() -> None:
    """The Session's parse and localnet's wire decoder build the same description, hence the same request."""
    from types import SimpleNamespace

    from kit.localnet.wire import decode_order

    spec = OrderSpec.parse("BTC/USDT", "sell", "0.5", price="61000", iceberg_amount="0.1", time_in_force="GTC")
    req = spec.with_client_id("c-1").to_request()
    assert req == engine_request(spec.with_client_id("c-1"))
    assert (req.quantity, req.iceberg_qty, req.quote_quantity) == (D("0.5"), D("0.1"), None)
    wire = {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.5",
            "price": "61000", "icebergQty": "0.1", "newClientOrderId": "c-1"}  # fmt: skip
    assert decode_order(wire, {"BTCUSDT": SimpleNamespace(symbol="BTC/USDT")}).request == req


def test_a_quote_amount_is_part_of_the_description_and_reaches_the_engine() -> None:
    """Binance's quoteOrderQty (rest-api.md "New order": MARKET orders may give quoteOrderQty instead of
    quantity) is the description's ``quote_amount``: the wire decoder expresses it through OrderSpec."""
    from types import SimpleNamespace

    from kit.localnet.wire import decode_order

    wire = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quoteOrderQty": "100", "newClientOrderId": "q-1"}
    req = decode_order(wire, {"BTCUSDT": SimpleNamespace(symbol="BTC/USDT")}).request
    spec = OrderSpec("BTC/USDT", Side.BUY, None, type=OrderType.MARKET, client_id="q-1", quote_amount=D("100"))
    assert req == spec.to_request()
    assert (req.quantity, req.quote_quantity, req.type) == (None, D("100"), OrderType.MARKET)
    with pytest.raises(OrderRejected, match="by quote amount"):
        _ = spec.base_amount  # the Session's arithmetic is in base amounts: never a silent None


def test_every_field_of_the_description_has_its_engine_field() -> None:
    """engine_request maps each OrderSpec field onto an OrderRequest field (ENGINE_NAMES, else the same name);
    what the engine has beyond the description (GTD expiry, hidden orders) is never set from it."""
    engine_fields = {f.name for f in dataclasses.fields(OrderRequest)}
    mapped = {ENGINE_NAMES.get(f.name, f.name) for f in dataclasses.fields(OrderSpec)}
    assert mapped <= engine_fields and engine_fields - mapped == {"expire_at_ms", "hidden"}
    full = OrderSpec("X/Y", Side.SELL, D("2"), price=D("9"), type=OrderType.STOP_LIMIT, trigger_price=D("10"),
                     trailing_bps=5, time_in_force=TimeInForce.IOC, post_only=True, reduce_only=True,
                     iceberg_amount=D("1"), client_id="c")  # fmt: skip
    req = engine_request(full)
    assert (req.quantity, req.price, req.trigger_price, req.trailing_bps, req.iceberg_qty) == (
        D(2),
        D(9),
        D(10),
        5,
        D(1),
    )
    assert (req.type, req.time_in_force, req.post_only, req.reduce_only, req.client_id) == (
        OrderType.STOP_LIMIT, TimeInForce.IOC, True, True, "c")  # fmt: skip


def test_check_and_place_take_the_descriptions_keywords_and_refuse_a_quote_amount() -> None:
    """check() hands its **order to OrderSpec.parse (the description's keywords, by construction); place()
    spells them out. Neither takes quote_amount: the Session places by base amount, refused before any request."""
    check = inspect.signature(Trading.check).parameters
    assert [n for n, p in check.items() if p.kind is inspect.Parameter.KEYWORD_ONLY] == ["last_price", "read_balance"]
    assert check["order"].kind is inspect.Parameter.VAR_KEYWORD
    assert "quote_amount" not in ORDER_KEYWORDS
    with pytest.raises(OrderRejected, match="unknown order keyword") as info:
        OrderSpec.parse("BTC/USDT", "buy", "1", quote_amount="100")
    assert info.value.hint.endswith("No request was sent.")
