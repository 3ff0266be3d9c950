"""``executionReport`` fields against user-data-stream.md ("Order Update" and its tables).

The docs' example event lists the fields every report has; "Conditional Fields in Execution
Report" those that appear only sometimes: ``v`` (prevented match id) only for an order expired
by self-trade prevention (never here), ``W`` only once the order works on the book, ``d`` for
trailing orders, and ``eR`` (Order Expiry Reason) when the order expired: an IOC remainder is
``UNFILLED_IOC_QUANTITY_EXPIRED``, a FOK that cannot fill in full ``UNFILLED_FOK_ORDER_EXPIRED``,
a market order the book cannot fill ``INSUFFICIENT_LIQUIDITY``; order responses carry the same
reason as ``expiryReason`` (rest-api.md, "Conditional fields in Order Responses"). The events
come from the real user data stream of the WebSocket API (``userDataStream.subscribe``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from kit.localnet.server import Localnet
from tests.localnet.test_wsapi import Api, run, signed

D = Decimal
LOCALNET_SEED = 5  # the module's own localnet: ed_net in conftest.py

#: The keys of the docs' example event, without the conditional ``v`` and ``W``.
ALWAYS = set("e E s c S o f q p P F g C x X r i l z L n N T t I w m M O Z Y Q V".split())


async def reports_of(api: Api, n: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for _ in range(50):
        if len([e for e in out if e["e"] == "executionReport"]) >= n:
            break
        data = await api.event()
        if "event" in data:
            out.append(data["event"])
    return [e for e in out if e["e"] == "executionReport"]


def test_ioc_and_fok_expiries_carry_binance_expiry_reasons(ed_net: Localnet) -> None:
    ed = ed_net.keys["ed"]
    got: dict[str, list[dict[str, Any]]] = {}
    reasons: dict[str, tuple[str | None, str | None]] = {}

    async def body(api: Api) -> None:
        assert (await api("session.logon", signed(ed_net, ed)))["status"] == 200
        assert (await api("userDataStream.subscribe"))["status"] == 200
        bid = D((await api("ticker.book", {"symbol": "BTCUSDT"}))["result"]["bidPrice"])
        below = str((bid * D("0.99")).quantize(D("0.01")))  # a buy below the book: nothing to take
        for tif in ("IOC", "FOK"):
            placed = await api("order.place", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": tif,
                                               "quantity": "0.001", "price": below,
                                               "timestamp": ed_net.call(lambda v: v.server_ms())})  # fmt: skip
            assert placed["status"] == 200 and placed["result"]["status"] == "EXPIRED", placed
            why = await api("order.status", {"symbol": "BTCUSDT", "orderId": placed["result"]["orderId"],
                                             "timestamp": ed_net.call(lambda v: v.server_ms())})  # fmt: skip
            reasons[tif] = (placed["result"].get("expiryReason"), why["result"].get("expiryReason"))
            got[tif] = await reports_of(api, 2)
            api.events.clear()

    run(ed_net, body)
    for tif, why in (("IOC", "UNFILLED_IOC_QUANTITY_EXPIRED"), ("FOK", "UNFILLED_FOK_ORDER_EXPIRED")):
        new, expired = got[tif][-2:]
        assert (new["x"], expired["x"], expired["X"], expired["f"]) == ("NEW", "EXPIRED", "EXPIRED", tif)
        assert expired["eR"] == why and "eR" not in new
        assert reasons[tif] == (why, why)  # the order responses' expiryReason (rest-api.md), placed and queried
        for ev in (new, expired):
            assert ALWAYS <= set(ev) and "v" not in ev  # no self-trade prevention happened
            assert set(ev) - ALWAYS <= {"W", "eR"}
            assert ev["W"] == ev["O"]  # it went to the matching engine at once


def test_expiry_reasons_from_engine_events() -> None:
    """A market order the book cannot fill: ``INSUFFICIENT_LIQUIDITY``; a pending stop has no ``W``."""
    from kit.engine import BookSnapshot, Engine, Market, OrderRequest, OrderType, Side
    from kit.localnet import wire

    eng = Engine([Market("BTC/USDT", "BTC", "USDT", tick_size=D("0.01"), step_size=D("0.001"))])
    eng.open_account("a", {"USDT": "100000"})
    eng.on_book("BTC/USDT", BookSnapshot(0, ((D(99), D("0.5")),), ((D(101), D("0.5")),)))
    ev = eng.submit("a", OrderRequest("BTC/USDT", Side.BUY, OrderType.MARKET, quantity=D(2)), ts_ms=1)
    reports = [wire.execution_report(e, {}, "BTCUSDT") for e in ev if e.order is not None]
    assert [(r["x"], r.get("eR")) for r in reports][-1] == ("EXPIRED", "INSUFFICIENT_LIQUIDITY")
    stop = OrderRequest("BTC/USDT", Side.BUY, OrderType.STOP_MARKET, quantity=D(1), trigger_price=D(150))
    ev = eng.submit("a", stop, ts_ms=2)
    report = wire.execution_report(ev[0], {"workingTime": -1}, "BTCUSDT")
    assert report["X"] == "NEW" and "W" not in report  # not on the book until it triggers
