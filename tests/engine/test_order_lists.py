"""Order lists in the engine: OCO, OTO and OTOCO as Binance's REST API page describes them.

Source: binance/binance-spot-api-docs ``rest-api.md`` ("New Order list - OCO / OTO / OTOCO",
"Cancel Order list") and ``user-data-stream.md`` (expiry reasons ``OCO_TRIGGER``,
``OTO_PHASE_ONE_EXPIRED``, ``REJECTED``). Each table row is one documented rule.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kit.engine import Bar, Engine, Market, OrderRequest, OrderStatus, OrderType, RejectCode, Side, Trade
from kit.engine.types import Contingency, EventKind, ListStatus, OrderListRequest

D = Decimal
SYM = "BTC/USDT"
M = Market(SYM, "BTC", "USDT", tick_size=D("0.01"), step_size=D("0.001"))


def engine(btc: str = "2", usdt: str = "10000", last: str = "100") -> Engine:
    eng = Engine([M])
    eng.open_account("a", {"BTC": btc, "USDT": usdt})
    eng.mark(SYM, D(last), 0)
    return eng


def maker(side: Side, qty: str, price: str, cid: str | None = None) -> OrderRequest:
    return OrderRequest(SYM, side, OrderType.LIMIT, quantity=D(qty), price=D(price), post_only=True, client_id=cid)


def limit(side: Side, qty: str, price: str) -> OrderRequest:
    return OrderRequest(SYM, side, OrderType.LIMIT, quantity=D(qty), price=D(price))


def stop(side: Side, qty: str, trigger: str, price: str | None = None) -> OrderRequest:
    typ = OrderType.STOP_LIMIT if price else OrderType.STOP_MARKET
    return OrderRequest(SYM, side, typ, quantity=D(qty), trigger_price=D(trigger), price=D(price) if price else None)


def tp(side: Side, qty: str, trigger: str) -> OrderRequest:
    return OrderRequest(SYM, side, OrderType.TAKE_PROFIT_MARKET, quantity=D(qty), trigger_price=D(trigger))


def bar(o: str, h: str, lo: str, c: str, v: str = "100", k: int = 1) -> Bar:
    return Bar(60_000 * k, D(o), D(h), D(lo), D(c), D(v))


def kinds(events: list) -> list[tuple[str, str]]:
    out = []
    for e in events:
        if e.order_list is not None:
            out.append(("list", e.order_list.status.value))
        else:
            out.append((e.kind.value, e.order.client_id if e.order else ""))
    return out


def oco(eng: Engine, side: Side = Side.SELL, *, qty: str = "1", above: OrderRequest | None = None,
        below: OrderRequest | None = None, cid: str = "L1") -> list:  # fmt: skip
    if side is Side.SELL:
        above = above or maker(Side.SELL, qty, "110", "tp")
        below = below or stop(Side.SELL, qty, "90")
    else:
        above = above or stop(Side.BUY, qty, "110")
        below = below or maker(Side.BUY, qty, "90", "tp")
    return eng.submit_list("a", OrderListRequest(Contingency.OCO, (above, below), cid), ts_ms=1)


# -- placement: Binance's price rules ------------------------------------------------------------
@pytest.mark.parametrize(
    ("side", "above", "below", "last", "code", "reason"),
    [
        # SELL: LIMIT_MAKER price > last > STOP_LOSS stopPrice
        (Side.SELL, maker(Side.SELL, "1", "110"), stop(Side.SELL, "1", "90"), "100", None, ""),
        (Side.SELL, maker(Side.SELL, "1", "110"), stop(Side.SELL, "1", "90"), "111", RejectCode.LIST_PRICES,
         "The relationship of the prices for the orders is not correct."),
        (Side.SELL, maker(Side.SELL, "1", "110"), stop(Side.SELL, "1", "90"), "89", RejectCode.LIST_PRICES,
         "The relationship of the prices for the orders is not correct."),
        # SELL: TAKE_PROFIT stopPrice > last > STOP_LOSS stopPrice
        (Side.SELL, tp(Side.SELL, "1", "105"), stop(Side.SELL, "1", "95", "94"), "100", None, ""),
        # BUY: LIMIT_MAKER price < last < STOP_LOSS stopPrice
        (Side.BUY, stop(Side.BUY, "1", "110"), maker(Side.BUY, "1", "90"), "100", None, ""),
        (Side.BUY, stop(Side.BUY, "1", "110"), maker(Side.BUY, "1", "90"), "85", RejectCode.LIST_PRICES,
         "The relationship of the prices for the orders is not correct."),
        # placement: the limit-type order of a sell OCO is the above one, of a buy OCO the below one
        (Side.SELL, stop(Side.SELL, "1", "90"), maker(Side.SELL, "1", "110"), "100", RejectCode.INVALID,
         "A limit order in a sell OCO must be above."),
        (Side.BUY, maker(Side.BUY, "1", "90"), stop(Side.BUY, "1", "110"), "100", RejectCode.INVALID,
         "A limit order in a buy OCO must be below."),
        (Side.SELL, maker(Side.SELL, "1", "110"), maker(Side.SELL, "1", "90"), "100", RejectCode.INVALID,
         "At least one OCO order must be contingent."),
        (Side.SELL, limit(Side.SELL, "1", "110"), stop(Side.SELL, "1", "90"), "100", RejectCode.INVALID,
         "Order type not supported in OCO."),
        (Side.SELL, maker(Side.SELL, "1", "110"), stop(Side.SELL, "0.5", "90"), "100", RejectCode.INVALID,
         "both orders of an OCO have the same quantity"),
    ],
)  # fmt: skip
def test_oco_placement_rules(side, above, below, last, code, reason) -> None:
    eng = engine(last=last)
    ev = oco(eng, side, above=above, below=below)
    if code is None:
        assert [e.kind for e in ev] == [EventKind.ACCEPTED, EventKind.ACCEPTED, EventKind.LIST_STATUS]
        assert ev[-1].order_list.status is ListStatus.EXECUTING
        assert {e.order.list_id for e in ev[:2]} == {ev[-1].order_list.id}
    else:
        assert [(e.kind, e.code, e.reason) for e in ev] == [(EventKind.REJECTED, code, reason)]
        assert eng.open_orders("a") == [] and eng.order_lists("a") == []


def test_sell_oco_locks_the_quantity_once() -> None:
    eng = engine(btc="1")
    ev = oco(eng)
    assert eng.balances("a")["BTC"] == (D(0), D(1))
    assert sum((c.locked for e in ev for c in e.balance_changes), D(0)) == D(1)


def test_buy_oco_locks_the_larger_need_once() -> None:
    eng = engine(usdt="200")
    oco(eng, Side.BUY, above=stop(Side.BUY, "1", "110", "112"), below=maker(Side.BUY, "1", "90", "tp"))
    assert eng.balances("a")["USDT"] == (D(88), D(112))


def test_oco_short_of_funds_is_refused_whole() -> None:
    eng = engine(btc="0.5")
    ev = oco(eng)
    assert [(e.kind, e.code) for e in ev] == [(EventKind.REJECTED, RejectCode.INSUFFICIENT_FUNDS)]
    assert eng.balances("a")["BTC"] == (D("0.5"), D(0))


def test_duplicate_list_client_id_while_open_then_reusable_when_done() -> None:
    eng = engine(btc="2")
    oco(eng, cid="same")
    again = oco(eng, cid="same", above=maker(Side.SELL, "1", "111", "tp2"))
    assert [(e.kind, e.code) for e in again] == [(EventKind.REJECTED, RejectCode.DUPLICATE_CLIENT_ID)]
    eng.cancel_list("a", client_id="same", ts_ms=2)
    ok = oco(eng, cid="same", above=maker(Side.SELL, "1", "111", "tp3"))
    assert ok[-1].kind is EventKind.LIST_STATUS


# -- OCO: one leg starting cancels the other ----------------------------------------------------------
# A pair's stop loss gets the lower id and is listed first, as in Binance's examples (rest-api.md,
# web-socket-api.md: OCO, OTOCO and OPOCO, buy and sell); unnamed, it is "kit-1".
def test_the_stop_loss_of_a_pair_is_listed_first_with_the_lower_id() -> None:
    for side in (Side.SELL, Side.BUY):
        ev = oco(engine(), side)
        placed = [e.order for e in ev if e.kind is EventKind.ACCEPTED]
        assert [o.request.type.is_conditional for o in placed] == [True, False]
        assert placed[0].id < placed[1].id and ev[-1].order_list.order_ids == (placed[0].id, placed[1].id)


def test_oco_limit_fill_expires_the_stop() -> None:
    eng = engine(btc="1")
    oco(eng)
    ev = eng.on_trade(SYM, Trade(2, D("111"), D("5"), Side.BUY))
    assert kinds(ev) == [("expired", "kit-1"), ("list", "ALL_DONE"), ("filled", "tp")]
    assert "OCO_TRIGGER" in ev[0].reason
    assert eng.balances("a")["BTC"] == (D(0), D(0))
    assert eng.balances("a")["USDT"][0] == D("10000") + D("110") - D("0.11")


def test_oco_partial_fill_of_the_limit_expires_the_stop() -> None:
    eng = engine(btc="1")
    oco(eng)
    ev = eng.on_trade(SYM, Trade(2, D("111"), D("0.4"), Side.BUY))
    assert kinds(ev) == [("expired", "kit-1"), ("list", "ALL_DONE"), ("partially_filled", "tp")]
    assert eng.balances("a")["BTC"] == (D(0), D("0.6"))  # the rest stays locked for the limit
    ev = eng.on_trade(SYM, Trade(3, D("80"), D("5"), Side.SELL))  # the stop is gone: nothing triggers
    assert ev == []


def test_oco_stop_trigger_expires_the_limit_and_keeps_the_lock() -> None:
    eng = engine(btc="1")
    oco(eng)
    ev = eng.on_bar(SYM, bar("100", "101", "85", "88"))
    assert kinds(ev) == [("triggered", "kit-1"), ("expired", "tp"), ("list", "ALL_DONE"), ("filled", "kit-1")]
    assert eng.balances("a")["BTC"] == (D(0), D(0))
    assert eng.get_list("a", client_id="L1").status is ListStatus.ALL_DONE


def test_buy_oco_market_stop_releases_the_lock_and_buys_from_free() -> None:
    eng = engine(usdt="200")
    oco(eng, Side.BUY)  # LIMIT_MAKER buy at 90 locks 90; the stop buys at market
    assert eng.balances("a")["USDT"] == (D(110), D(90))
    ev = eng.on_bar(SYM, bar("100", "115", "99", "112"))
    fills = [e.fill for e in ev if e.fill]
    assert fills and sum(f.quantity for f in fills) == D(1)
    free, locked = eng.balances("a")["USDT"]
    assert locked == 0 and free == D(200) - sum(f.quote_quantity for f in fills)


def test_cancel_one_leg_cancels_the_list() -> None:
    eng = engine(btc="1")
    oco(eng)
    ev = eng.cancel("a", client_id="tp", ts_ms=5)
    assert kinds(ev) == [("canceled", "kit-1"), ("canceled", "tp"), ("list", "ALL_DONE")]  # in list order
    assert eng.balances("a")["BTC"] == (D(1), D(0))
    assert eng.open_orders("a") == [] and eng.order_lists("a", open_only=True) == []


def test_cancel_list_unknown_is_rejected() -> None:
    eng = engine()
    ev = eng.cancel_list("a", list_id=99, ts_ms=1)
    assert [(e.kind, e.code) for e in ev] == [(EventKind.REJECTED, RejectCode.UNKNOWN_LIST)]


def test_list_orders_cannot_be_amended() -> None:
    eng = engine(btc="1")
    oco(eng)
    ev = eng.amend("a", client_id="tp", price=D("120"), ts_ms=2)
    assert ev[0].kind is EventKind.REJECTED and ev[0].code is RejectCode.UNSUPPORTED


# -- OTO / OTOCO: the working order's full fill places the pending ones ------------------------------
def otoco(eng: Engine, qty: str = "1", exit_qty: str = "0.999") -> list:
    working = OrderRequest(SYM, Side.BUY, OrderType.LIMIT, quantity=D(qty), price=D("99"), client_id="entry")
    above = maker(Side.SELL, exit_qty, "110", "take")
    below = OrderRequest(SYM, Side.SELL, OrderType.STOP_MARKET, quantity=D(exit_qty), trigger_price=D("90"),
                         client_id="stop")  # fmt: skip
    return eng.submit_list("a", OrderListRequest(Contingency.OTOCO, (working, above, below), "B1"), ts_ms=1)


def test_otoco_pending_orders_wait_then_work_after_the_full_fill() -> None:
    eng = engine(btc="0", usdt="1000")
    ev = otoco(eng)
    assert [e.order.status for e in ev[:3]] == [OrderStatus.NEW, OrderStatus.PENDING_NEW, OrderStatus.PENDING_NEW]
    assert eng.balances("a")["USDT"] == (D(901), D(99))  # only the working order locks
    # a partial fill places nothing
    ev = eng.on_trade(SYM, Trade(2, D("98"), D("0.5"), Side.SELL))
    assert kinds(ev) == [("partially_filled", "entry")]
    assert {o.client_id: o.status for o in eng.open_orders("a")}["take"] is OrderStatus.PENDING_NEW
    ev = eng.on_trade(SYM, Trade(3, D("98"), D("5"), Side.SELL))
    assert kinds(ev) == [("filled", "entry"), ("accepted", "stop"), ("accepted", "take")]
    assert eng.balances("a")["BTC"] == (D(0), D("0.999"))  # the pair locks its quantity once
    ev = eng.on_trade(SYM, Trade(4, D("89"), D("5"), Side.SELL))
    assert kinds(ev) == [("triggered", "stop"), ("expired", "take"), ("list", "ALL_DONE"), ("filled", "stop")]
    assert eng.balances("a")["BTC"] == (D(0), D(0))


def test_oto_pending_refused_at_placement_expires_with_reason_rejected() -> None:
    eng = engine(btc="0", usdt="1000")
    ev = otoco(eng, exit_qty="1")  # a 1 BTC exit after a 1 BTC buy: the fee left 0.999
    ev = eng.on_trade(SYM, Trade(3, D("98"), D("5"), Side.SELL))
    assert kinds(ev) == [("filled", "entry"), ("expired", "stop"), ("expired", "take"), ("list", "ALL_DONE")]
    assert ev[1].reason.startswith("REJECTED")
    assert eng.balances("a")["BTC"] == (D("0.999"), D(0))


def test_oto_working_cancel_cancels_pending() -> None:
    eng = engine(btc="0", usdt="1000")
    working = limit(Side.BUY, "1", "99")
    pending = OrderRequest(SYM, Side.SELL, OrderType.LIMIT, quantity=D("0.999"), price=D("120"))
    eng.submit_list("a", OrderListRequest(Contingency.OTO, (working, pending), "O1"), ts_ms=1)
    ev = eng.cancel_list("a", client_id="O1", ts_ms=2)
    assert [e.order.status for e in ev if e.order] == [OrderStatus.CANCELED, OrderStatus.CANCELED]
    assert eng.balances("a")["USDT"] == (D(1000), D(0))


def test_oto_working_expiry_expires_pending() -> None:
    eng = engine(btc="0", usdt="1000")
    working = OrderRequest(SYM, Side.BUY, OrderType.LIMIT, quantity=D("1"), price=D("99"))
    pending = OrderRequest(SYM, Side.SELL, OrderType.LIMIT, quantity=D("0.999"), price=D("120"))
    eng.submit_list("a", OrderListRequest(Contingency.OTO, (working, pending), "O1"), ts_ms=1)
    ev = eng.cancel_all("a", SYM, ts_ms=2)
    assert len([e for e in ev if e.kind is EventKind.CANCELED]) == 2
    assert eng.balances("a")["USDT"] == (D(1000), D(0))


def test_oto_working_must_be_a_limit() -> None:
    eng = engine()
    working = OrderRequest(SYM, Side.BUY, OrderType.MARKET, quantity=D("1"))
    pending = limit(Side.SELL, "0.999", "120")
    ev = eng.submit_list("a", OrderListRequest(Contingency.OTO, (working, pending)), ts_ms=1)
    assert ev[0].kind is EventKind.REJECTED and ev[0].code is RejectCode.INVALID


# -- properties ---------------------------------------------------------------------------------------
prices = st.decimals(min_value=D("80"), max_value=D("120"), places=1)


@settings(max_examples=60, deadline=None)
@given(path=st.lists(st.tuples(prices, st.decimals(min_value=D("0.1"), max_value=D("3"), places=1)), max_size=12),
       buy=st.booleans())  # fmt: skip
def test_oco_never_fills_both_legs_and_balances_move_only_by_fills_and_fees(path, buy) -> None:
    eng = engine(btc="1", usdt="300")
    oco(eng, Side.BUY if buy else Side.SELL)
    events = []
    for k, (px, q) in enumerate(path):
        events += eng.on_trade(SYM, Trade(10 + k, px, q, Side.SELL if k % 2 else Side.BUY))
    filled = {f.order_id for f in eng.fills("a")}
    assert len(filled) <= 1  # never both legs of the pair
    # balances: the start plus the fills' moves less their fees; nothing locked once the list is done
    btc = D(1) + sum((f.quantity - f.fee if f.side is Side.BUY else -f.quantity for f in eng.fills("a")), D(0))
    usdt = D(300) + sum((-f.quote_quantity if f.side is Side.BUY else f.quote_quantity - f.fee
                         for f in eng.fills("a")), D(0))  # fmt: skip
    bal = eng.balances("a")
    assert sum(bal["BTC"]) == btc and sum(bal["USDT"]) == usdt
    assert all(v >= 0 for pair in bal.values() for v in pair)
    if not eng.open_orders("a"):
        assert bal["BTC"][1] == 0 and bal["USDT"][1] == 0
    changes = {}
    for e in events:
        for c in e.balance_changes:
            changes[c.asset] = changes.get(c.asset, D(0)) + c.free + c.locked
    assert changes.get("BTC", D(0)) == btc - 1 and changes.get("USDT", D(0)) == usdt - 300


@settings(max_examples=60, deadline=None)
@given(path=st.lists(st.tuples(prices, st.decimals(min_value=D("0.1"), max_value=D("3"), places=1)), max_size=12))
def test_otoco_exits_never_both_fill_and_only_after_the_full_entry(path) -> None:
    eng = engine(btc="0", usdt="1000", last="100")
    working = OrderRequest(SYM, Side.BUY, OrderType.LIMIT, quantity=D("1"), price=D("99"), client_id="entry")
    above = maker(Side.SELL, "0.999", "110", "take")
    below = OrderRequest(SYM, Side.SELL, OrderType.STOP_MARKET, quantity=D("0.999"), trigger_price=D("90"),
                         client_id="stop")  # fmt: skip
    eng.submit_list("a", OrderListRequest(Contingency.OTOCO, (working, above, below), "B"), ts_ms=1)
    for k, (p, q) in enumerate(path):
        eng.on_trade(SYM, Trade(10 + k, p, q, Side.SELL if k % 2 else Side.BUY))
    by_cid = {o.client_id: o for o in eng.orders("a")}
    exits = [by_cid["take"], by_cid["stop"]]
    assert sum(1 for o in exits if o.filled_qty > 0) <= 1
    if by_cid["entry"].status is not OrderStatus.FILLED:
        assert all(o.status is OrderStatus.PENDING_NEW for o in exits)
    fills = eng.fills("a")
    btc = sum((f.quantity - f.fee if f.side is Side.BUY else -f.quantity for f in fills), D(0))
    usdt = D(1000) + sum((-f.quote_quantity if f.side is Side.BUY else f.quote_quantity - f.fee for f in fills), D(0))
    bal = eng.balances("a")
    assert sum(bal.get("BTC", (D(0), D(0)))) == btc and sum(bal["USDT"]) == usdt
    assert all(v >= 0 for pair in bal.values() for v in pair)


# ---------------------------------------------------------------- OPO / OPOCO (faqs/opo.md)
def sized_later(req: OrderRequest) -> OrderRequest:
    """An OPO pending order: no quantity of its own."""
    from dataclasses import replace

    return replace(req, quantity=None)


def opoco(eng: Engine, qty: str = "1") -> list:
    entry = OrderRequest(SYM, Side.BUY, OrderType.LIMIT, quantity=D(qty), price=D("99"), client_id="entry")
    take = sized_later(maker(Side.SELL, "1", "110", "take"))
    stp = sized_later(OrderRequest(SYM, Side.SELL, OrderType.STOP_MARKET, trigger_price=D("90"), client_id="stop"))
    return eng.submit_list("a", OrderListRequest(Contingency.OPOCO, (entry, take, stp), "opoco"), ts_ms=1)


def test_opoco_locks_each_fill_and_sizes_the_pair_from_what_was_received() -> None:
    """The FAQ's rules: the received base is locked fill by fill; the commission comes from the
    free base balance when it covers it; the pair is placed for the received quantity at the
    full fill, one lock for both; a list cancelled before that unlocks what was received."""
    eng = engine(btc="0.5", usdt="1000")
    ev = opoco(eng)
    assert [e.order.status for e in ev[:3]] == [OrderStatus.NEW, OrderStatus.PENDING_NEW, OrderStatus.PENDING_NEW]
    assert eng.balances("a")["BTC"] == (D("0.5"), D(0))  # the pending sells lock nothing at placement
    ev = eng.on_trade(SYM, Trade(2, D("98"), D("0.4"), Side.SELL))
    assert kinds(ev) == [("partially_filled", "entry")]
    fee = ev[0].fill.fee
    assert fee > 0 and eng.balances("a")["BTC"] == (D("0.5") - fee, D("0.4"))  # fee from the free BTC
    ev = eng.on_trade(SYM, Trade(3, D("98"), D("5"), Side.SELL))
    assert kinds(ev) == [("filled", "entry"), ("accepted", "stop"), ("accepted", "take")]
    assert [e.order.quantity for e in ev[1:]] == [D(1), D(1)]
    assert eng.balances("a")["BTC"][1] == D(1)  # the pair shares one lock of the whole fill
    eng.cancel_list("a", client_id="opoco", ts_ms=4)
    assert eng.balances("a")["BTC"][1] == D(0)


def test_opo_without_free_base_pays_the_commission_from_what_it_received_and_cancel_unlocks_it() -> None:
    eng = engine(btc="0", usdt="1000")
    entry = OrderRequest(SYM, Side.BUY, OrderType.LIMIT, quantity=D("2"), price=D("99"), client_id="entry")
    sell = sized_later(OrderRequest(SYM, Side.SELL, OrderType.MARKET, quantity=D(1), client_id="exit"))
    eng.submit_list("a", OrderListRequest(Contingency.OPO, (entry, sell), "opo"), ts_ms=1)
    ev = eng.on_trade(SYM, Trade(2, D("98"), D("1"), Side.SELL))
    received = D(1) - ev[0].fill.fee
    assert eng.balances("a")["BTC"] == (D(0), received)
    ev = eng.cancel_list("a", client_id="opo", ts_ms=3)
    assert [k for k, _ in kinds(ev)] == ["canceled", "canceled", "list"]
    assert eng.balances("a")["BTC"] == (received, D(0))  # unlocked with the pending order


def test_opo_sized_below_one_step_expires_rejected_and_unlocks() -> None:
    """The pending quantity is rounded down to LOT_SIZE's step; nothing left is a refusal, REJECTED."""
    eng = engine(btc="0", usdt="1000")
    entry = OrderRequest(SYM, Side.BUY, OrderType.LIMIT, quantity=D("0.001"), price=D("99"), client_id="entry")
    sell = sized_later(maker(Side.SELL, "1", "110", "exit"))
    eng.submit_list("a", OrderListRequest(Contingency.OPO, (entry, sell), "tiny"), ts_ms=1)
    ev = eng.on_trade(SYM, Trade(2, D("98"), D("5"), Side.SELL))  # 0.001 less the fee: below one 0.001 step
    assert kinds(ev) == [("filled", "entry"), ("expired", "exit"), ("list", "ALL_DONE")]
    assert ev[1].reason.startswith("REJECTED")
    assert eng.balances("a")["BTC"][1] == D(0) and eng.balances("a")["BTC"][0] > 0


@pytest.mark.parametrize(
    ("working_side", "pending_side", "why"),
    [
        (Side.SELL, Side.SELL, "Working order in an OPO list must be a bid."),
        (Side.BUY, Side.BUY, "Pending orders in an OPO list must be asks."),
    ],
)
def test_opo_sides(working_side: Side, pending_side: Side, why: str) -> None:
    eng = engine()
    entry = OrderRequest(SYM, working_side, OrderType.LIMIT, quantity=D("1"), price=D("99"))
    pending = sized_later(maker(pending_side, "1", "110" if pending_side is Side.SELL else "90"))
    ev = eng.submit_list("a", OrderListRequest(Contingency.OPO, (entry, pending)), ts_ms=1)
    assert ev[0].kind is EventKind.REJECTED and ev[0].reason == why
