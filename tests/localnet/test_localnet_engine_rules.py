"""Issue #13's engine rules end to end: the real ccxt client against localnet, whose fills come
from the engine fed with trade prints and book snapshots (never candles).

- a resting limit order is paid its own price when the market gaps through it;
- trailing STOP_LOSS_LIMIT orders with a stopPrice start tracking only once the price reaches the
  stop price in the stop-loss direction (Binance's trailing-stop FAQ, scenarios A and B, with
  the FAQ's prices);
- an iceberg's visible slice refreshes on prints, so it fills in full over successive prints.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import ccxt
import pytest

from kit.localnet.server import Localnet


def _walk(net: Localnet, path: list[Decimal], step: Decimal, *, until: Any = None) -> Decimal | None:
    """Print trades linearly along ``path``: 100 apart, and ``step`` apart for the last 100 of the
    last leg (where the trigger is); returns the price at which ``until()`` first became true,
    checked after every print."""
    coarse = Decimal(100)
    prev = path[0]
    net.inject_trade("BTCUSDT", prev, "0.001")
    for k, target in enumerate(path[1:], start=2):
        sign = 1 if target > prev else -1
        p = prev
        while p != target:
            near = k == len(path) and abs(target - p) <= coarse
            p += sign * (step if near else coarse)
            net.inject_trade("BTCUSDT", p, "0.001", side="sell" if sign < 0 else "buy")
            if until is not None and until():
                return p
        prev = target
    return None


def test_resting_limit_gapped_through_is_paid_its_own_price(make_localnet: Any) -> None:
    with make_localnet() as net:
        ex = net.client("trader", enableRateLimit=False)
        last = Decimal(net.call(lambda v: str(v.last_price["BTCUSDT"])))
        limit = (last * Decimal("0.98")).quantize(Decimal("0.01"))
        o = ex.create_order("BTC/USDT", "limit", "buy", 0.002, float(limit))
        assert o["status"] == "open"
        gap = (limit * Decimal("0.97")).quantize(Decimal("0.01"))  # the market gaps 3 % below it
        net.inject_trade("BTCUSDT", gap, "0.5", side="sell")
        done = ex.fetch_order(o["id"], "BTC/USDT")
        assert done["status"] == "closed"
        trades = ex.fetch_order_trades(o["id"], "BTC/USDT")
        assert trades and {Decimal(str(t["price"])) for t in trades} == {limit}  # never the better gap price
        assert all(t["takerOrMaker"] == "maker" for t in trades)


@pytest.mark.parametrize(
    ("typ", "side", "stop", "delta", "limit", "path", "trigger", "step"),
    [
        pytest.param(
            "STOP_LOSS_LIMIT", "buy", 44000, 500, 45000, [40000, 37000, 45000, 46000, 42000, 44100], 44100, 100, id="A"
        ),
        pytest.param(
            "STOP_LOSS_LIMIT", "sell", 39000, 1000, 38000, [40000, 41500, 37000, 41000, 36900], 36900, 100, id="B"
        ),
        pytest.param(
            "TAKE_PROFIT_LIMIT", "buy", 38000, 850, 38500, [40000, 42000, 37000, 39000, 38000, 40145], 40145, 5, id="C"
        ),
        pytest.param(
            "TAKE_PROFIT_LIMIT", "sell", 42000, 750, 41000,
            [40000, 41500, 39000, 45000, 44000, 46500, 43012.5], 43012.5, 12.5, id="D",
        ),
        pytest.param(
            "STOP_LOSS_LIMIT", "sell", None, 700, 39000, [40000, 42000, 39500, 45500, 42315], 42315, 5, id="E"
        ),
    ],
)  # fmt: skip
def test_trailing_faq_scenarios_through_ccxt(
    make_localnet: Any,
    typ: str,
    side: str,
    stop: int | None,
    delta: int,
    limit: int,
    path: list[float],
    trigger: float,
    step: float,
) -> None:
    # Binance's trailing-stop FAQ, scenarios A to E, with its prices (``step`` apart near the trigger)
    with make_localnet() as net:
        ex = net.client("trader", enableRateLimit=False)
        net.inject_trade("BTCUSDT", path[0], "0.001")
        # ccxt sends a trailing order's stopPrice from ``trailingTriggerPrice`` (it drops a plain
        # ``stopPrice`` when a trailing delta is given) and trailingDelta from ``trailingPercent``
        params: dict[str, Any] = {"trailingPercent": delta / 100}
        if stop is not None:
            params["trailingTriggerPrice"] = stop
        o = ex.create_order("BTC/USDT", typ, side, 0.001, limit, params)
        info = ex.fetch_order(o["id"], "BTC/USDT")["info"]
        assert info["status"] == "NEW" and info["type"] == typ and info["trailingDelta"] == delta

        def triggered() -> bool:
            return bool(net.call(lambda v: v.engine.get_order(_account(v), order_id=int(o["id"])).triggered))

        assert _walk(net, [Decimal(str(p)) for p in path], Decimal(str(step)), until=triggered) == Decimal(str(trigger))


def _account(v: Any) -> str:
    return str(next(k.account for k in v.config.keys if k.name == "trader"))


def test_iceberg_refreshes_on_prints_and_counts_parts_as_a_ceiling(make_localnet: Any) -> None:
    with make_localnet() as net:
        ex = net.client("trader", enableRateLimit=False)
        last = Decimal(net.call(lambda v: str(v.last_price["BTCUSDT"])))
        price = (last * Decimal("1.01")).quantize(Decimal("0.01"))
        o = ex.create_order("BTC/USDT", "limit", "sell", 0.003, float(price), {"icebergQty": 0.001})
        for _ in range(3):  # each print trades through the limit; one visible slice fills per print
            net.inject_trade("BTCUSDT", price + Decimal("0.5"), "1")
        done = ex.fetch_order(o["id"], "BTC/USDT")
        assert done["status"] == "closed" and done["filled"] == pytest.approx(0.003)
        assert [t["amount"] for t in ex.fetch_order_trades(o["id"], "BTC/USDT")] == pytest.approx([0.001] * 3)
        # 0.1005 / 0.001 is 100.5 parts: 101 shown slices, above localnet's ICEBERG_PARTS limit of 100
        with pytest.raises(ccxt.BadRequest, match="ICEBERG_PARTS"):
            ex.create_order("BTC/USDT", "limit", "sell", 0.1005, float(price), {"icebergQty": 0.001})
        ex.create_order("BTC/USDT", "limit", "sell", 0.1, float(price), {"icebergQty": 0.001})  # 100: fine
