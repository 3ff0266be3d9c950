"""The bad-input catalogue (#12, "Done when"): every bad order input is refused before any order request.

Each case goes through a Session's check / place / amend / cancel against a localnet, through real
ccxt. For each: a :class:`~kit.errors.KitError` subclass (never a raw ``InvalidOperation``,
``ValueError`` or ``TypeError``) whose message ends with a hint, and zero requests to the order
endpoints in localnet's own request log. Reads (a ticker, the balance for the funds check) may be
sent; the cases that need them say so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal as D
from typing import Any

from lab.lab import Lab

from kit.errors import FilterViolation, InsufficientFunds, KitError, OrderRejected
from kit.journal.journal import Journal
from kit.session import Session

ORDER_PATHS = ("/api/v3/order", "/api/v3/openOrders")  # order, order/test, orderList, cancelReplace, openOrders


@dataclass(frozen=True)
class Case:
    id: str
    call: Callable[[Session, dict[str, Any]], Any]
    error: type[KitError] = OrderRejected
    needle: str = ""


def _place(side: str = "buy", amount: Any = "0.001", **kw: Any) -> Callable[[Session, dict[str, Any]], Any]:
    kw.setdefault("price", "50000")
    return lambda s, ctx: s.place(kw.pop("symbol", "BTC/USDT"), side, amount, **kw)


def _check(side: str = "buy", amount: Any = "0.001", **kw: Any) -> Callable[[Session, dict[str, Any]], Any]:
    kw.setdefault("price", "50000")
    return lambda s, ctx: s.check(kw.pop("symbol", "BTC/USDT"), side, amount, **kw)


# (id, keywords to change, error, needle): each goes through both place() and check()
INPUTS: list[tuple[str, dict[str, Any], type[KitError], str]] = [
    ("amount-true", {"amount": True}, OrderRejected, "not a bool"),
    ("amount-false", {"amount": False}, OrderRejected, "not a bool"),
    ("amount-underscore", {"amount": "0_001"}, OrderRejected, "not a plain decimal"),
    ("amount-underscore-half", {"amount": "0_5"}, OrderRejected, "not a plain decimal"),
    ("amount-1e30", {"amount": "1e30"}, OrderRejected, "out of range"),
    ("amount-nan", {"amount": "NaN"}, OrderRejected, "finite"),
    ("amount-float-inf", {"amount": float("inf")}, OrderRejected, "finite"),
    ("amount-negative", {"amount": "-0.001"}, OrderRejected, "positive"),
    ("amount-zero", {"amount": 0}, OrderRejected, "positive"),
    ("amount-list", {"amount": [1]}, OrderRejected, "must be a number"),
    ("amount-words", {"amount": "one"}, OrderRejected, "must be a number"),
    ("price-true", {"price": True}, OrderRejected, "not a bool"),
    ("price-1e30", {"price": "1e30"}, OrderRejected, "out of range"),
    ("price-underscore", {"price": "50_000"}, OrderRejected, "not a plain decimal"),
    ("price-inf", {"price": float("inf")}, OrderRejected, "finite"),
    ("post-only-no", {"post_only": "no"}, OrderRejected, "True or False"),
    ("reduce-only-str", {"reduce_only": "false"}, OrderRejected, "True or False"),
    ("trailing-fraction", {"type": "trailing_stop_market", "price": None, "trailing_bps": 25.9}, OrderRejected,
     "whole number"),
    ("trailing-bool", {"type": "trailing_stop_market", "price": None, "trailing_bps": True}, OrderRejected,
     "not a bool"),
    ("side-hold", {"side": "hold"}, OrderRejected, "side"),
    ("type-unknown", {"type": "oco"}, OrderRejected, "order type"),
    ("tif-day", {"time_in_force": "DAY"}, OrderRejected, "time_in_force"),
    ("market-with-price", {"type": "market"}, OrderRejected, "no limit price"),
    ("stop-limit-no-trigger", {"type": "stop_limit"}, OrderRejected, "trigger_price"),
    ("post-only-ioc", {"post_only": True, "time_in_force": "IOC"}, OrderRejected, "IOC"),
    ("unknown-keyword", {"stop": "1"}, OrderRejected, "unknown order keyword"),
    ("unknown-symbol", {"symbol": "DOGE/USDT", "price": "0.1", "amount": "100"}, OrderRejected, "unknown symbol"),
    ("reduce-only-spot", {"reduce_only": True}, OrderRejected, "reduce-only"),
    ("off-tick", {"price": "50000.005"}, FilterViolation, "tick size"),
    ("off-step", {"amount": "0.0000101"}, FilterViolation, "step size"),
    ("below-min-notional", {"amount": "0.00001"}, FilterViolation, "below the minimum"),
    ("above-max-price", {"price": "2000000", "amount": "0.00001"}, FilterViolation, "above the maximum price"),
    ("above-max-qty", {"amount": "9000.1"}, FilterViolation, "LOT_SIZE"),
    ("market-above-market-max", {"type": "market", "price": None, "amount": "121"}, FilterViolation,
     "MARKET_LOT_SIZE"),
    ("iceberg-too-many-parts", {"amount": "0.101", "iceberg_amount": "0.001"}, FilterViolation, "ICEBERG_PARTS"),
    ("iceberg-off-step", {"iceberg_amount": "0.0000005"}, FilterViolation, "step size"),
    ("trailing-out-of-range", {"type": "trailing_stop_market", "price": None, "trailing_bps": 5000},
     FilterViolation, "TRAILING_DELTA"),
]  # fmt: skip


def _bps_cases() -> list[Case]:
    out: list[Case] = []
    for name, change, error, needle in INPUTS:
        kw = dict(change)
        side = kw.pop("side", "buy")
        amount = kw.pop("amount", "0.001")
        out.append(Case(f"place-{name}", _place(side, amount, **dict(kw)), error, needle))
        out.append(Case(f"check-{name}", _check(side, amount, **dict(kw)), error, needle))
    return out


def _last(s: Session, ctx: dict[str, Any], symbol: str = "BTC/USDT") -> D:
    if symbol not in ctx:
        ctx[symbol] = D(str(s.ticker(symbol)["last"]))  # a read: not an order endpoint
    return D(ctx[symbol])


def _px(x: D) -> str:
    return str(x.quantize(D("0.01")))


MARKET_CASES = [
    # PERCENT_PRICE_BY_SIDE (BTCUSDT's 5 / 0.2 of the last price) and the fat-finger band (10 %)
    Case("place-percent-price-bid-up", lambda s, c: s.place("BTC/USDT", "buy", "0.00001", price=_px(_last(s, c) * 6)),
         FilterViolation, "PERCENT_PRICE_BY_SIDE"),
    Case("check-percent-price-ask-down", lambda s, c: s.check("BTC/USDT", "sell", "0.01", price=_px(_last(s, c) / 6)),
         FilterViolation, "PERCENT_PRICE_BY_SIDE"),
    Case("place-fat-finger-buy", lambda s, c: s.place("BTC/USDT", "buy", "0.001", price=_px(_last(s, c) * D("1.15"))),
         FilterViolation, "above the last price"),
    Case("check-fat-finger-sell", lambda s, c: s.check("BTC/USDT", "sell", "0.001", price=_px(_last(s, c) * D("0.8"))),
         FilterViolation, "below the last price"),
    # the free balance: the account holds 0.5 BTC
    Case("place-sell-100-btc", lambda s, c: s.place("BTC/USDT", "sell", "100", price=_px(_last(s, c))),
         InsufficientFunds, "selling 100 BTC needs 100, free 0.5"),
    Case("check-sell-100-btc", lambda s, c: (s.free_balances(), s.check("BTC/USDT", "sell", "100",
         price=_px(_last(s, c))))[1], InsufficientFunds, "free 0.5"),
    Case("place-buy-beyond-usdt", lambda s, c: s.place("ETH/USDT", "buy", "10", price=_px(_last(s, c, "ETH/USDT"))),
         InsufficientFunds, "buying 10 ETH needs"),
]  # fmt: skip

AMEND_CANCEL_CASES = [
    Case("amend-nothing", lambda s, c: s.amend("BTC/USDT", client_id=c["cid"]), OrderRejected, "nothing to amend"),
    Case("amend-no-id", lambda s, c: s.amend("BTC/USDT", price="40000"), OrderRejected, "order_id or client_id"),
    Case("amend-not-ours", lambda s, c: s.amend("BTC/USDT", client_id="someone-else", price="40000"), OrderRejected,
         "not placed by this kit"),
    Case("amend-amount-true", lambda s, c: s.amend("BTC/USDT", client_id=c["cid"], amount=True), OrderRejected,
         "not a bool"),
    Case("amend-amount-underscore", lambda s, c: s.amend("BTC/USDT", client_id=c["cid"], amount="0_002"),
         OrderRejected, "not a plain decimal"),
    Case("amend-price-1e30", lambda s, c: s.amend("BTC/USDT", client_id=c["cid"], price="1e30"), OrderRejected,
         "out of range"),
    Case("amend-price-nan", lambda s, c: s.amend("BTC/USDT", client_id=c["cid"], price=float("nan")), OrderRejected,
         "finite"),
    Case("amend-trigger-negative", lambda s, c: s.amend("BTC/USDT", client_id=c["cid"], trigger_price="-1"),
         OrderRejected, "positive"),
    Case("cancel-no-id", lambda s, c: s.cancel("BTC/USDT"), OrderRejected, "order_id or client_id"),
]  # fmt: skip

CASES = _bps_cases() + MARKET_CASES + AMEND_CANCEL_CASES


def _order_requests(lab: Lab, since: int) -> list[dict[str, Any]]:
    return [r for r in lab.server_log()[since:] if str(r["path"]).startswith(ORDER_PATHS)]


def test_the_catalogue_has_at_least_60_cases() -> None:
    assert len(CASES) >= 60
    assert len({c.id for c in CASES}) == len(CASES)


def test_every_bad_input_is_refused_before_any_order_request(lab: Lab) -> None:
    s = lab.session()
    bid = D(str(s.ticker("BTC/USDT")["bid"]))
    resting = s.place("BTC/USDT", "buy", "0.001", price=_px(bid * D("0.9")))  # what the amend cases amend
    ctx: dict[str, Any] = {"cid": resting["clientOrderId"]}
    with Journal(lab.journal_path) as j:
        intents = len(j.events(kinds=["intent"]))
    failures: list[str] = []
    for case in CASES:
        n = lab.server_count()
        try:
            case.call(s, ctx)
        except KitError as exc:
            lab.caught.append(exc)
            text = str(exc)
            if not isinstance(exc, case.error):
                failures.append(f"{case.id}: {type(exc).__name__} (wanted {case.error.__name__}): {text}")
            elif case.needle not in text:
                failures.append(f"{case.id}: {case.needle!r} not in {text!r}")
            elif not exc.hint or not text.endswith(exc.hint.rstrip()):
                failures.append(f"{case.id}: no hint at the end of {text!r}")
        except Exception as exc:  # noqa: BLE001 - a raw error is exactly what this test looks for
            failures.append(f"{case.id}: raw {type(exc).__name__}: {exc}")
        else:
            failures.append(f"{case.id}: accepted")
        sent = _order_requests(lab, n)
        if sent:
            failures.append(f"{case.id}: {len(sent)} order request(s) reached the exchange: {sent}")
    assert failures == []
    with Journal(lab.journal_path) as j:
        assert len(j.events(kinds=["intent"])) == intents  # nothing was journaled as an order either
    assert [o["clientOrderId"] for o in lab.client().fetch_open_orders("BTC/USDT")] == [ctx["cid"]]
