"""ccxt_errors(): every real ccxt exception class, Binance's code quirks, redaction, real localnet errors."""

from __future__ import annotations

import doctest
from decimal import Decimal
from pathlib import Path
from typing import Any

import ccxt
import pytest

import kit.transport.ccxt_errors
from kit import errors as kerr
from kit.transport.ccxt_errors import ccxt_errors, map_ccxt_error, redact_text
from kit.transport.limits import WeightBudget

READ, WRITE = "fetch_order_book", "create_order"

# (ccxt class, message, kit class for a read, kit class for a write)
CLASSES: list[tuple[type[Exception], str, type[Exception], type[Exception]]] = [
    (ccxt.ChecksumError, "binance order book checksum", kerr.ExchangeUnavailable, kerr.ExchangeUnavailable),
    (
        ccxt.InvalidNonce,
        'binance {"code":-1021,"msg":"Timestamp for this request is outside of the recvWindow."}',
        kerr.ClockSkew,
        kerr.ClockSkew,
    ),
    (
        ccxt.RateLimitExceeded,
        'binance {"code":-1003,"msg":"Too much request weight used"}',
        kerr.RateLimited,
        kerr.RateLimited,
    ),
    (ccxt.DDoSProtection, "binance 429 Too Many Requests {}", kerr.RateLimited, kerr.RateLimited),
    (ccxt.PermissionDenied, "binance permission denied", kerr.PermissionRefused, kerr.PermissionRefused),
    (ccxt.AccountNotEnabled, "binance account not enabled", kerr.PermissionRefused, kerr.PermissionRefused),
    (ccxt.AccountSuspended, "binance account suspended", kerr.AuthError, kerr.AuthError),
    (
        ccxt.AuthenticationError,
        'binance {"code":-1022,"msg":"Signature for this request is not valid."}',
        kerr.AuthError,
        kerr.AuthError,
    ),
    (ccxt.RestrictedLocation, "binance restricted location", kerr.AuthError, kerr.AuthError),
    (
        ccxt.InsufficientFunds,
        "binance Account has insufficient balance for requested action.",
        kerr.InsufficientFunds,
        kerr.InsufficientFunds,
    ),
    (ccxt.OrderNotFound, "binance Unknown order sent.", kerr.OrderUnknown, kerr.OrderUnknown),
    (ccxt.OrderNotCached, "binance order not cached", kerr.OrderUnknown, kerr.OrderUnknown),
    (ccxt.BadSymbol, "binance does not have market symbol FOO/BAR", kerr.ConfigError, kerr.OrderRejected),
    (
        ccxt.InvalidOrder,
        'binance {"code":-1013,"msg":"Filter failure: LOT_SIZE"}',
        kerr.FilterViolation,
        kerr.FilterViolation,
    ),
    (
        ccxt.BadRequest,
        'binance {"code":-1013,"msg":"Filter failure: NOTIONAL"}',
        kerr.FilterViolation,
        kerr.FilterViolation,
    ),
    (
        ccxt.BadRequest,
        'binance {"code":-1111,"msg":"Precision is over the maximum defined for this asset."}',
        kerr.FilterViolation,
        kerr.FilterViolation,
    ),
    (
        ccxt.InvalidOrder,
        "binance amount of BTC/USDT must be greater than minimum amount precision of 0.00001",
        kerr.FilterViolation,
        kerr.FilterViolation,
    ),
    (
        ccxt.BadRequest,
        'binance {"code":-1013,"msg":"Filter failure: MAX_NUM_ORDERS"}',
        kerr.ConfigError,
        kerr.OrderRejected,
    ),
    (
        ccxt.OrderImmediatelyFillable,
        "binance Order would immediately match and take.",
        kerr.OrderRejected,
        kerr.OrderRejected,
    ),
    (ccxt.OrderNotFillable, "binance not fillable", kerr.OrderRejected, kerr.OrderRejected),
    (ccxt.DuplicateOrderId, "binance duplicate client order id", kerr.OrderRejected, kerr.OrderRejected),
    (ccxt.ContractUnavailable, "binance contract unavailable", kerr.OrderRejected, kerr.OrderRejected),
    (ccxt.InvalidOrder, "binance Duplicate order sent.", kerr.OrderRejected, kerr.OrderRejected),
    (ccxt.MarketClosed, "binance Market is closed.", kerr.OrderRejected, kerr.OrderRejected),
    (ccxt.OperationRejected, "binance rejected", kerr.OrderRejected, kerr.OrderRejected),
    (ccxt.NoChange, "binance no change", kerr.OrderRejected, kerr.OrderRejected),
    (ccxt.ManualInteractionNeeded, "binance manual", kerr.OrderRejected, kerr.OrderRejected),
    (ccxt.NotSupported, "binance fetchFoo() is not supported yet", kerr.ConfigError, kerr.ConfigError),
    (ccxt.ArgumentsRequired, "binance fetchOrders() requires a symbol argument", kerr.ConfigError, kerr.ConfigError),
    (ccxt.InvalidAddress, "binance invalid address", kerr.ConfigError, kerr.ConfigError),
    (ccxt.InvalidProxySettings, "binance proxies", kerr.ConfigError, kerr.ConfigError),
    (ccxt.ExchangeClosedByUser, "binance closed", kerr.ConfigError, kerr.ConfigError),
    (
        ccxt.RequestTimeout,
        "binance POST https://api.binance.com/api/v3/order request timeout",
        kerr.ExchangeUnavailable,
        kerr.OrderUnknown,
    ),
    (ccxt.ExchangeNotAvailable, "binance 503 Service Unavailable", kerr.ExchangeUnavailable, kerr.OrderUnknown),
    (ccxt.OnMaintenance, "binance on maintenance", kerr.ExchangeUnavailable, kerr.OrderUnknown),
    (ccxt.NetworkError, "binance connection reset", kerr.ExchangeUnavailable, kerr.OrderUnknown),
    (ccxt.BadResponse, "binance unparsable", kerr.ExchangeUnavailable, kerr.OrderUnknown),
    (ccxt.NullResponse, "binance null", kerr.ExchangeUnavailable, kerr.OrderUnknown),
    (ccxt.CancelPending, "binance cancel pending", kerr.ExchangeUnavailable, kerr.OrderUnknown),
    (
        ccxt.OperationFailed,
        'binance {"code":-1000,"msg":"An unknown error occurred"}',
        kerr.ExchangeUnavailable,
        kerr.OrderUnknown,
    ),
    (
        ccxt.BadRequest,
        'binance {"code":-1102,"msg":"Mandatory parameter was not sent"}',
        kerr.ConfigError,
        kerr.OrderRejected,
    ),
    (ccxt.ExchangeError, 'binance {"code":-9999,"msg":"something new"}', kerr.ConfigError, kerr.OrderRejected),
    (ccxt.BaseError, "binance something", kerr.ExchangeUnavailable, kerr.OrderUnknown),
    (ccxt.UnsubscribeError, "binance unsubscribe", kerr.ExchangeUnavailable, kerr.OrderUnknown),
]


@pytest.mark.parametrize(("cls", "text", "read_cls", "write_cls"), CLASSES, ids=lambda v: getattr(v, "__name__", ""))
def test_each_ccxt_class(
    cls: type[Exception], text: str, read_cls: type[Exception], write_cls: type[Exception]
) -> None:
    for op, expected in ((READ, read_cls), (WRITE, write_cls)):
        with pytest.raises(kerr.KitError) as err:
            with ccxt_errors(op, symbol="BTC/USDT", order_id="42"):
                raise cls(text)
        assert type(err.value) is expected, (op, cls.__name__, type(err.value).__name__)
        assert isinstance(err.value.__cause__, cls)
        assert err.value.symbol == "BTC/USDT" and err.value.order_id == "42"
        assert text.rstrip(".") in str(err.value) and op in str(err.value)


def test_every_ccxt_exception_class_is_covered() -> None:
    import inspect

    from ccxt.base import errors as ccxt_errors_module

    covered = {cls for cls, *_ in CLASSES}
    all_classes = {
        c
        for c in vars(ccxt_errors_module).values()
        if inspect.isclass(c) and issubclass(c, Exception) and c.__module__ == ccxt_errors_module.__name__
    }
    missing = {c.__name__ for c in all_classes - covered} - {"ExchangeError", "MarginModeAlreadySet", "AddressPending"}
    assert missing == set()


# Real Binance (api.binance.com) uses ccxt's spot table: classes differ from localnet's, codes decide.
SPOT_TABLE = [
    (
        ccxt.BadRequest,
        'binance {"code":-1021,"msg":"Timestamp for this request is outside of the recvWindow."}',
        READ,
        kerr.ClockSkew,
    ),
    (
        ccxt.BadRequest,
        "binance Timestamp for this request was 1000ms ahead of the server's time.",
        WRITE,
        kerr.ClockSkew,
    ),
    (
        ccxt.InvalidOrder,
        'binance {"code":-1015,"msg":"Too many new orders; current limit is 50 orders per 10 SECOND."}',
        WRITE,
        kerr.RateLimited,
    ),
    (
        ccxt.BadResponse,
        'binance {"code":-1007,"msg":"Timeout waiting for response from backend server."}',
        WRITE,
        kerr.OrderUnknown,
    ),
    (
        ccxt.ExchangeError,
        'binance {"code":-1001,"msg":"Internal error; unable to process your request."}',
        WRITE,
        kerr.OrderUnknown,
    ),
    (
        ccxt.ExchangeError,
        'binance {"code":-1001,"msg":"Internal error; unable to process your request."}',
        READ,
        kerr.ExchangeUnavailable,
    ),
    (
        ccxt.DDoSProtection,
        'binance {"code":-2015,"msg":"Invalid API-key, IP, or permissions for action."}',
        READ,
        kerr.AuthError,
    ),
    (
        ccxt.DDoSProtection,
        'binance 418 I\'m a teapot {"code":-1003,"msg":"Way too much request weight used; IP '
        'banned until 1700000120000."}',
        READ,
        kerr.RateLimited,
    ),
]


@pytest.mark.parametrize(("cls", "text", "op", "expected"), SPOT_TABLE)
def test_binance_codes_decide_over_ccxt_class(
    cls: type[Exception], text: str, op: str, expected: type[Exception]
) -> None:
    assert type(map_ccxt_error(cls(text), op)) is expected


def test_retry_after_from_response_headers_and_budget(tmp_path: Path) -> None:
    ex = ccxt.binance()
    ex.last_response_headers = {"retry-after": "7", "x-mbx-used-weight-1m": "6100"}  # ccxt's own attribute
    budget = WeightBudget("binance-test-api", limit_per_minute=6000, directory=tmp_path)
    import time

    before_ms = time.time() * 1000
    with pytest.raises(kerr.RateLimited) as err:
        with ccxt_errors("fetch_ticker", exchange=ex, budget=budget):
            raise ccxt.DDoSProtection('binance 418 I\'m a teapot {"code":-1003,"msg":"Way too much request weight"}')
    assert err.value.retry_after_ms == 7000
    after_ms = time.time() * 1000
    status = budget.status()
    # the 418: a ban of Retry-After from when it was seen, bracketed by the wall clock read around it
    # (not "now + 7 s within 2 s", which a pause of 2 s before this line would fail)
    assert before_ms + 7000 - 1 <= status["banned_until_ms"] <= after_ms + 7000 + 1
    assert status["used"] == 6100
    with pytest.raises(kerr.RateLimited):  # every process now refuses to send
        budget.acquire(1)


def test_429_blocks_the_budget_but_the_order_count_limit_does_not(tmp_path: Path) -> None:
    budget = WeightBudget("binance-test-api", limit_per_minute=6000, directory=tmp_path)
    with pytest.raises(kerr.RateLimited):
        with ccxt_errors("create_order", budget=budget):
            raise ccxt.DDoSProtection('binance 429 Too Many Requests {"code":-1015,"msg":"Too many new orders"}')
    assert budget.status()["blocked_until_ms"] == 0  # per-account order limit: reads may go on
    with pytest.raises(kerr.RateLimited) as err:
        with ccxt_errors("fetch_ticker", budget=budget):
            raise ccxt.DDoSProtection('binance 429 Too Many Requests {"code":-1003,"msg":"Too much request weight"}')
    assert budget.status()["blocked_until_ms"] > 0
    assert err.value.retry_after_ms is not None and 0 < err.value.retry_after_ms <= 60_000


def test_banned_until_in_the_message() -> None:
    import time

    until = time.time_ns() // 1_000_000 + 90_000
    err = map_ccxt_error(ccxt.DDoSProtection(f"binance 418 x IP banned until {until}."), READ)
    assert isinstance(err, kerr.RateLimited)
    assert err.retry_after_ms is not None and 85_000 < err.retry_after_ms <= 90_000


def test_secrets_are_redacted_from_the_kit_error_and_the_chained_ccxt_error() -> None:
    ex = ccxt.binance({"apiKey": "AK" + "x" * 30, "secret": "SK" + "y" * 30})
    text = (
        f"binance GET https://api.binance.com/api/v3/order?symbol=BTCUSDT&timestamp=1&signature=deadbeef99 "
        f"headers X-MBX-APIKEY: {ex.apiKey} secret {ex.secret}"
    )
    with pytest.raises(kerr.ExchangeUnavailable) as err:
        with ccxt_errors("fetch_order", exchange=ex):
            raise ccxt.RequestTimeout(text)
    for shown in (str(err.value), repr(err.value), str(err.value.__cause__), repr(err.value.__cause__)):
        assert "deadbeef99" not in shown and ex.apiKey not in shown and ex.secret not in shown
        assert "signature=***" in shown


def test_redact_text_param_forms() -> None:
    assert redact_text('{"apiKey": "abcdef123456", "x": 1}') == '{"apiKey": "***", "x": 1}'
    assert redact_text("listenKey=abc&symbol=X") == "listenKey=***&symbol=X"


def test_kit_errors_and_other_exceptions_pass_through() -> None:
    original = kerr.CapExceeded("too big")
    with pytest.raises(kerr.CapExceeded) as err:
        with ccxt_errors(WRITE):
            raise original
    assert err.value is original
    with pytest.raises(ZeroDivisionError):
        with ccxt_errors(READ):
            raise ZeroDivisionError


def test_ws_api_login_keyerror_carries_the_auth_error() -> None:
    """A failed WS-API login surfaces (ccxt 4.5.90) as KeyError('spot') with the real error as context."""
    with pytest.raises(kerr.AuthError) as err:
        with ccxt_errors("watch_orders"):
            try:
                raise ccxt.AuthenticationError('binance {"code":-1022,"msg":"Signature is not valid."}')
            except ccxt.AuthenticationError:
                raise KeyError("spot") from None
    assert isinstance(err.value.__cause__, ccxt.AuthenticationError)
    with pytest.raises(KeyError):
        with ccxt_errors(READ):
            raise KeyError("plain")


def test_docstring_examples() -> None:
    result = doctest.testmod(kit.transport.ccxt_errors, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 3


# ---------------------------------------------------------------- real errors from ccxt against localnet


@pytest.fixture(scope="module")
def localnet() -> Any:
    import kit.localnet as config
    import kit.localnet.server as server

    cfg = config.LocalnetConfig(stepped=False, seed=7, history_minutes=10)
    net = server.start(port=0, config=cfg)
    try:
        yield net
    finally:
        net.stop()


def run(op: str, fn: Any, **ctx: Any) -> kerr.KitError:
    with pytest.raises(kerr.KitError) as err:
        with ccxt_errors(op, **ctx):
            fn()
    return err.value


@pytest.mark.timeout(120)
def test_real_errors_from_localnet(localnet: Any) -> None:
    ex = localnet.client("trader", enableRateLimit=False)
    ex.load_markets()
    err = run("create_order", lambda: ex.create_order("BTC/USDT", "limit", "buy", 100, 50_000), symbol="BTC/USDT")
    assert isinstance(err, kerr.InsufficientFunds)
    err = run("create_order", lambda: ex.create_order("BTC/USDT", "limit", "buy", 0.001, 1), symbol="BTC/USDT")
    assert isinstance(err, kerr.FilterViolation), repr(err)  # notional 0.001 USDT < min notional 5
    err = run("cancel_order", lambda: ex.cancel_order("999999999", "BTC/USDT"), order_id="999999999")
    assert isinstance(err, kerr.OrderUnknown)
    err = run("fetch_ticker", lambda: ex.fetch_ticker("FOO/BAR"))
    assert isinstance(err, kerr.ConfigError)
    reader = localnet.client("reader", enableRateLimit=False)
    reader.load_markets()
    err = run("create_order", lambda: reader.create_order("BTC/USDT", "limit", "buy", 0.001, 50_000))
    assert isinstance(err, kerr.AuthError)
    assert reader.secret not in str(err) and reader.secret not in str(err.__cause__)


@pytest.mark.timeout(120)
def test_real_clock_skew_from_localnet(localnet: Any) -> None:
    ex = localnet.client("trader", enableRateLimit=False)
    ex.load_markets()
    localnet.set_faults(clock_skew_ms=-30_000)
    try:
        err = run("fetch_balance", ex.fetch_balance)
    finally:
        localnet.set_faults(clock_skew_ms=0)
    assert isinstance(err, kerr.ClockSkew)


@pytest.mark.timeout(120)
def test_real_429_and_418_from_localnet_reach_the_budget(tmp_path: Path) -> None:
    import kit.localnet as config
    import kit.localnet.server as server

    limits = config.LimitsConfig(weight_per_minute=60, violations_before_ban=1, ban_base_s=120)
    cfg = config.LocalnetConfig(stepped=False, seed=7, history_minutes=10, limits=limits)
    budget = WeightBudget("binance-localnet-api", limit_per_minute=10**6, directory=tmp_path)
    with server.start(port=0, config=cfg) as net:
        ex = net.client(None, enableRateLimit=False)
        seen: list[kerr.RateLimited] = []
        for _ in range(10):  # exchangeInfo weighs 20: the 4th is over 60, the 5th earns a ban
            try:
                with ccxt_errors("fetch_markets", exchange=ex, budget=budget):
                    ex.public_get_exchangeinfo()
            except kerr.RateLimited as exc:
                seen.append(exc)
                if budget.status()["banned_until_ms"]:
                    break
    assert seen and all(e.retry_after_ms is not None and e.retry_after_ms > 0 for e in seen)
    assert budget.status()["banned_until_ms"] > 0
    with pytest.raises(kerr.RateLimited):
        budget.acquire(1)
    assert Decimal(seen[-1].retry_after_ms or 0) > 60_000  # the ban, not just the window


@pytest.mark.parametrize(
    ("op", "write", "expected"),
    [
        ("create_order", False, kerr.ExchangeUnavailable),  # a read named like a write
        ("fetch_order_book", True, kerr.OrderUnknown),  # a write named like a read
        ("submit_plan", True, kerr.OrderUnknown),  # a name the guess does not know
        ("submit_plan", False, kerr.ExchangeUnavailable),
    ],
)
def test_the_explicit_write_flag_beats_the_name(op: str, write: bool, expected: type[Exception]) -> None:
    with pytest.raises(expected):
        with ccxt_errors(op, write=write):
            raise ccxt.RequestTimeout("binance GET https://h/api/v3/x timed out")
    assert type(map_ccxt_error(ccxt.NetworkError("reset"), op, write=write)) is expected
