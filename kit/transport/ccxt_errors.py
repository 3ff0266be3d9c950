"""Translate ccxt exceptions into the kit's error tree, so callers handle one hierarchy.

``with ccxt_errors("fetch_ticker", symbol="BTC/USDT"): ...`` re-raises any ccxt exception as a
:class:`~kit.errors.KitError` (``raise mapped from exc``), keeping ccxt's text with secrets and
request signatures redacted (in the chained ccxt exception too). Rules, most specific first:

================================================  ===================================================
ccxt class (or Binance code / text)                kit class
================================================  ===================================================
``ChecksumError`` (order-book sequence gap)        ``ExchangeUnavailable`` (resubscribe)
``InvalidNonce``, ``-1021``, "outside recvWindow"  ``ClockSkew`` (real Binance maps -1021 to BadRequest)
``DDoSProtection`` carrying ``-2015``              ``AuthError`` (ccxt guesses "temporary ban"; a key,
                                                   IP allowlist or permission problem is likelier)
``RateLimitExceeded``, ``DDoSProtection``,         ``RateLimited``, ``retry_after_ms`` from
``-1003``, ``-1015`` "Too many new orders"          ``Retry-After``, "banned until", or the next minute
``PermissionDenied`` (``AccountNotEnabled``)       ``PermissionRefused``
``AuthenticationError``, ``RestrictedLocation``    ``AuthError``
``InsufficientFunds``                              ``InsufficientFunds``
``OrderNotFound``, ``OrderNotCached``              ``OrderUnknown``
``BadSymbol``                                      write: ``OrderRejected``; read: ``ConfigError``
``InvalidOrder``/``BadRequest`` with filter text   ``FilterViolation`` (LOT_SIZE, PRICE_FILTER,
                                                   NOTIONAL, precision, minimum amount ...)
other ``InvalidOrder``, ``OperationRejected``      ``OrderRejected`` (OrderImmediatelyFillable,
                                                   MarketClosed, DuplicateOrderId, MAX_NUM_ORDERS)
``NotSupported``, ``ArgumentsRequired`` ...        ``ConfigError``
``NetworkError``/``RequestTimeout``/               write: ``OrderUnknown`` (it may have executed);
``ExchangeNotAvailable``/``BadResponse``/          read: ``ExchangeUnavailable``
other ``OperationFailed``; ``-1000/1/6/7/8``
other ``ExchangeError`` (``BadRequest`` ...)       write: ``OrderRejected``; read: ``ConfigError``
================================================  ===================================================

Decisions:

- **Writes that fail in transit are OrderUnknown, never ExchangeUnavailable.** Binance: "HTTP 5XX
  ... the execution status is UNKNOWN and could have been a success" (rest-api.md); ``-1007`` says
  "execution status unknown". A retryable class would invite a resend and a double order; the
  session must reconcile (journal kind ``unknown``) instead. Only replies that prove the request
  was refused (rate limit, clock, auth, order rejections) keep their definite class.
- **BadSymbol** depends on the operation: on an order it is the venue refusing that order
  (``OrderRejected``, so the order path needs one ``except`` for every refusal); on a read it is a
  wrong symbol in the caller's input or configuration (``ConfigError``, never retried).
- Other unclassified ``ExchangeError``: ``OrderRejected`` for writes (the venue said no),
  ``ConfigError`` for reads (retrying an unknown refusal does not help; the text says why).

Whether a request was a write is the caller's ``write=`` flag (the Session's request path,
:meth:`kit.session.base.ExchangeApi.call`, always passes it). Only a caller that leaves it out
gets a guess from the operation's name (:func:`kit.transport.backoff.is_write_op`: ``create_*``,
``cancel_*``, ``edit_*``, implicit ``*_post_*`` ...).

Examples
--------
>>> import ccxt
>>> try:
...     with ccxt_errors("create_order", symbol="BTC/USDT"):
...         raise ccxt.InsufficientFunds("binance Account has insufficient balance for requested action.")
... except InsufficientFunds as err:
...     print(type(err).__name__, err.symbol, type(err.__cause__).__name__)
InsufficientFunds BTC/USDT InsufficientFunds
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import ccxt

from kit.errors import (
    AmendFailed,
    AuthError,
    ClockSkew,
    ConfigError,
    ExchangeUnavailable,
    FilterViolation,
    InsufficientFunds,
    KitError,
    OrderRejected,
    OrderUnknown,
    PermissionRefused,
    RateLimited,
)
from kit.redact import exception_chain
from kit.redact import redact_text as _redact_text
from kit.transport.backoff import is_write_op
from kit.transport.clock import sync_hint

__all__ = ["ccxt_errors", "map_ccxt_error", "redact_text"]

_CODE = re.compile(r'"code"\s*:\s*"?(-?\d+)')
_BANNED_UNTIL = re.compile(r"banned until (\d{12,14})")
_STATUS = re.compile(r"^\S+ (418|429) ")
_FILTER = re.compile(
    r"(?i)filter failure|LOT_SIZE|PRICE_FILTER|\bNOTIONAL\b|MIN_NOTIONAL|PERCENT_PRICE|ICEBERG_PARTS|TRAILING_DELTA"
    r"|too much precision|precision is over|must be greater than minimum|minimum (amount|cost|price)|tick size"
    r"|step size|lot size|price \* qty is zero|cost = amount \* price is zero"
)
_FILTER_NAME = re.compile(r"Filter failure: ([A-Z_]+)")
_COUNT_FILTERS = {
    "MAX_NUM_ORDERS",
    "MAX_NUM_ALGO_ORDERS",
    "MAX_NUM_ICEBERG_ORDERS",
    "MAX_POSITION",
    "EXCHANGE_MAX_NUM_ORDERS",
    "EXCHANGE_MAX_NUM_ALGO_ORDERS",
    "EXCHANGE_MAX_NUM_ICEBERG_ORDERS",
    "MAX_NUM_ORDER_LISTS",
    "MAX_NUM_ORDER_AMENDS",
}
#: Binance codes whose outcome is unknown or transient: unknown error, disconnected, unexpected
#: response, timeout, server busy (errors.md).
_TRANSIENT_CODES = {-1000, -1001, -1006, -1007, -1008}


def _credentials_of(exchange: Any) -> list[str]:
    """The credential values a ccxt client holds, to mask wherever they show.

    ccxt names them in ``requiredCredentials`` (``apiKey``, ``secret``, ``uid``, ``password``,
    ``privateKey``, ``walletAddress``, ``token`` ...), so the list follows ccxt.
    """
    if exchange is None:
        return []
    names = getattr(exchange, "requiredCredentials", None)
    values = (getattr(exchange, attr, None) for attr in (names if isinstance(names, dict) else {}))
    return [v for v in values if isinstance(v, str) and len(v) >= 6]


def redact_text(text: str, exchange: Any = None) -> str:
    """``text`` through the kit's one redactor (:func:`kit.redact.redact_text`), plus the exchange's credentials.

    Examples
    --------
    >>> redact_text("GET https://h/api/v3/order?symbol=X&timestamp=1&signature=abc123")
    'GET https://h/api/v3/order?symbol=X&timestamp=1&signature=***'
    """
    return _redact_text(text, _credentials_of(exchange))


def _header(exchange: Any, name: str) -> str | None:
    headers = getattr(exchange, "last_response_headers", None) or {}
    try:
        items = headers.items()
    except AttributeError:
        return None
    for key, value in items:
        if str(key).lower() == name.lower():
            return str(value)
    return None


def _retry_after_ms(text: str, exchange: Any, code: int | None) -> int | None:
    """From ``Retry-After`` (s), "IP banned until <ms>", or the next minute for a weight limit."""
    header = _header(exchange, "Retry-After") if exchange is not None else None
    if header is not None:
        try:
            return max(0, int(float(header) * 1000))
        except ValueError:
            pass
    now_ms = time.time_ns() // 1_000_000
    banned = _BANNED_UNTIL.search(text)
    if banned:
        return max(0, int(banned.group(1)) - now_ms)
    if code == -1003 or "too much request weight" in text.lower():
        return 60_000 - now_ms % 60_000
    return None


def map_ccxt_error(
    exc: BaseException,
    op: str,
    *,
    symbol: str | None = None,
    order_id: str | None = None,
    exchange: Any = None,
    write: bool | None = None,
) -> KitError:
    """The kit error for one ccxt exception (see the module table); does not raise.

    Parameters
    ----------
    exc
        A ccxt exception (``ccxt.BaseError`` subclass).
    op
        The operation, a ccxt method name (``"create_order"``), named in the message.
    symbol, order_id
        Context copied onto the kit error.
    exchange
        The ccxt exchange, for ``last_response_headers`` (``Retry-After``) and credential redaction.
    write
        True if the request may have changed state on the venue (decides the write/read rows of the
        table); None guesses it from ``op``'s name.

    Returns
    -------
    KitError

    Examples
    --------
    >>> import ccxt
    >>> type(map_ccxt_error(ccxt.RequestTimeout("binance POST /api/v3/order timed out"), "create_order")).__name__
    'OrderUnknown'
    >>> type(map_ccxt_error(ccxt.RequestTimeout("binance GET /api/v3/depth timed out"), "fetch_order_book")).__name__
    'ExchangeUnavailable'
    >>> type(map_ccxt_error(ccxt.RequestTimeout("timed out"), "submit_plan", write=True)).__name__
    'OrderUnknown'
    """
    text = redact_text(str(exc), exchange)
    if write is None:
        write = is_write_op(op)
    message = f"{op} failed: {text}" if text else f"{op} failed: {type(exc).__name__}"
    ctx: dict[str, Any] = {"symbol": symbol, "order_id": order_id}
    found = _CODE.search(text)
    code = int(found.group(1)) if found else None
    low = text.lower()

    if code in (-2021, -2022) and op.startswith("edit"):
        return _amend_failed(text, op, ctx)
    if isinstance(exc, ccxt.ChecksumError):
        return ExchangeUnavailable(message, hint="The order-book stream lost sync; watch it again to resync.", **ctx)
    if (
        isinstance(exc, ccxt.InvalidNonce)
        or code == -1021
        or "outside of the recvwindow" in low
        or ("ahead of the server" in low)
    ):
        return ClockSkew(message, hint=sync_hint() + " Then retry; check it with `kit doctor`.", **ctx)
    if isinstance(exc, ccxt.DDoSProtection) and (code == -2015 or "invalid api-key, ip, or permissions" in low):
        return AuthError(
            message,
            hint="Binance refused the key (-2015): check the key's IP allowlist against this host's public IP and its "
            "permissions; if it worked minutes ago, wait before retrying.",
            **ctx,
        )
    if (
        isinstance(exc, (ccxt.RateLimitExceeded, ccxt.DDoSProtection))
        or code in (-1003, -1015)
        or ("too many new orders" in low or "too much request weight" in low)
    ):
        return RateLimited(message, retry_after_ms=_retry_after_ms(text, exchange, code), **ctx)
    if isinstance(exc, ccxt.PermissionDenied):
        return PermissionRefused(message, **ctx)
    if isinstance(exc, ccxt.RestrictedLocation):
        return AuthError(
            message, hint="The exchange refuses requests from this location; use a venue you may use.", **ctx
        )
    if isinstance(exc, ccxt.AuthenticationError):
        return AuthError(message, **ctx)
    if isinstance(exc, ccxt.InsufficientFunds):
        return InsufficientFunds(message, **ctx)
    if isinstance(exc, (ccxt.OrderNotFound, ccxt.OrderNotCached)):
        return OrderUnknown(message, **ctx)
    if isinstance(exc, ccxt.BadSymbol):
        hint = "Check the symbol against the exchange's markets (unified form BASE/QUOTE, e.g. BTC/USDT)."
        return OrderRejected(message, hint=hint, **ctx) if write else ConfigError(message, hint=hint, **ctx)
    if isinstance(exc, (ccxt.InvalidOrder, ccxt.BadRequest)) and _FILTER.search(text):
        name = _FILTER_NAME.search(text)
        if name is None or name.group(1) not in _COUNT_FILTERS:
            return FilterViolation(message, **ctx)
    if isinstance(exc, ccxt.DuplicateOrderId) or "duplicate order" in low:
        return OrderRejected(message, hint="An order with this client id exists: fetch it instead of resending.", **ctx)
    if isinstance(exc, (ccxt.InvalidOrder, ccxt.OperationRejected)):
        return OrderRejected(message, **ctx)
    if isinstance(
        exc,
        (
            ccxt.NotSupported,
            ccxt.ArgumentsRequired,
            ccxt.InvalidProxySettings,
            ccxt.InvalidAddress,
            ccxt.ExchangeClosedByUser,
        ),
    ):
        return ConfigError(message, **ctx)
    if isinstance(exc, ccxt.OperationFailed) or code in _TRANSIENT_CODES:
        if write:
            return OrderUnknown(
                message,
                hint="The request may have reached the exchange, so the outcome is unknown. Do not resend: fetch the "
                "order by its client id (or open orders and recent trades) to reconcile.",
                **ctx,
            )
        return ExchangeUnavailable(message, **ctx)
    if isinstance(exc, ccxt.ExchangeError):
        return (
            OrderRejected(message, **ctx)
            if write
            else ConfigError(message, hint="The exchange refused the request; fix the parameter it names.", **ctx)
        )
    return OrderUnknown(message, **ctx) if write else ExchangeUnavailable(message, **ctx)


def _amend_failed(text: str, op: str, ctx: dict[str, Any]) -> AmendFailed:
    """Binance's cancel-replace failure (-2021 one part failed, -2022 both): which part, and why.

    >>> t = 'binance {"code":-2021,"msg":"x","data":{"cancelResult":"SUCCESS","newOrderResult":"FAILURE",'
    >>> t += '"cancelResponse":{},"newOrderResponse":{"code":-2010,"msg":"insufficient balance."}}}'
    >>> e = _amend_failed(t, "edit_order", {})
    >>> e.canceled, e.placed, e.message
    (True, False, 'edit_order failed: old order canceled, new order refused (-2010 insufficient balance.)')
    """
    data: dict[str, Any] = {}
    start = text.find("{")
    if start >= 0:
        try:
            data = json.loads(text[start:]).get("data") or {}
        except ValueError:
            data = {}
    canceled = data.get("cancelResult") == "SUCCESS" if data else None
    placed = data.get("newOrderResult") == "SUCCESS" if data else None
    if not data:
        return AmendFailed(f"{op} failed: {text}", **ctx)

    def why(part: str) -> str:
        r = data.get(part) or {}
        return f" ({r.get('code')} {r.get('msg')})" if isinstance(r, dict) and r.get("msg") else ""

    old = "old order canceled" if canceled else "old order not canceled" + why("cancelResponse")
    if placed:
        new = "new order placed"
    elif data.get("newOrderResult") == "NOT_ATTEMPTED":
        new = "new order not attempted"
    else:
        new = "new order refused" + why("newOrderResponse")
    return AmendFailed(f"{op} failed: {old}, {new}", canceled=canceled, placed=placed, **ctx)


@contextmanager
def ccxt_errors(
    op: str,
    *,
    symbol: str | None = None,
    order_id: str | None = None,
    exchange: Any = None,
    budget: Any = None,
    write: bool | None = None,
) -> Iterator[None]:
    """Re-raise ccxt exceptions from the block as kit errors (``raise mapped from exc``).

    Parameters
    ----------
    op
        The operation, a ccxt method name.
    symbol, order_id
        Context for the kit error.
    exchange
        The ccxt exchange: ``Retry-After`` from its ``last_response_headers``, credential redaction.
    budget
        A :class:`kit.transport.limits.WeightBudget`: a 429/418 is recorded there so every process backs off.
    write
        True for a request that may change state on the venue: its in-transit failures become
        ``OrderUnknown``. None guesses from ``op``'s name (``create_order``...).

    Raises
    ------
    KitError
        The mapped error; kit errors raised inside the block pass through unchanged, and so does
        anything that is not a ccxt exception (except ccxt 4.5.90's ``KeyError`` from a failed WS-API
        login, which carries the real ``AuthenticationError`` as its context).

    Examples
    --------
    >>> import ccxt
    >>> with ccxt_errors("fetch_ticker", symbol="FOO/BAR"):
    ...     raise ccxt.BadSymbol("binance does not have market symbol FOO/BAR")
    Traceback (most recent call last):
    ...
    kit.errors.ConfigError: fetch_ticker failed: binance does not have market symbol FOO/BAR ...
    """
    try:
        yield
    except KitError:
        raise
    except ccxt.BaseError as exc:
        mapped = _translate(exc, op, symbol, order_id, exchange, budget, write)
        _scrub(exc, exchange)
        raise mapped from exc
    except KeyError as exc:
        inner = exc.__context__
        if isinstance(inner, ccxt.BaseError):
            mapped = _translate(inner, op, symbol, order_id, exchange, budget, write)
            _scrub(exc, exchange)
            raise mapped from inner
        raise


def _scrub(exc: BaseException, exchange: Any) -> None:
    """Cut the frames off ``exc`` and every exception chained to it, and redact their text.

    ccxt's frames hold the request's headers (``X-MBX-APIKEY``) and the signed query in their
    locals, and so do aiohttp's below them; a verbose traceback printer (IPython's ``%xmode
    Verbose``, ``traceback`` with ``capture_locals``, an error reporter) shows them. The kit error
    keeps ccxt's exception as its cause, with its (redacted) message and class, without the frames.
    """
    for e in exception_chain(exc):
        e.__traceback__ = None
        if e.args and all(isinstance(a, str) for a in e.args):
            try:
                e.args = tuple(redact_text(a, exchange) for a in e.args)
            except (AttributeError, TypeError):  # an exception type that fixes its args
                pass


def _translate(
    exc: ccxt.BaseError,
    op: str,
    symbol: str | None,
    order_id: str | None,
    exchange: Any,
    budget: Any,
    write: bool | None = None,
) -> KitError:
    mapped = map_ccxt_error(exc, op, symbol=symbol, order_id=order_id, exchange=exchange, write=write)
    exc.args = (redact_text(str(exc), exchange),)  # the chained original shows in tracebacks too
    text = str(exc)
    orders_limit = "too many new orders" in text.lower() or '"code":-1015' in text.replace(" ", "")
    if budget is not None and isinstance(mapped, RateLimited) and not orders_limit:
        # The unfilled-order count is per account, not the IP weight budget: only weight limits go there.
        status = _STATUS.match(text)
        retry_s = mapped.retry_after_ms / 1000 if mapped.retry_after_ms is not None else None
        used = _header(exchange, "X-MBX-USED-WEIGHT-1M") if exchange is not None else None
        budget.observe(
            int(used) if used and used.isdigit() else None,
            status=int(status.group(1)) if status else 429,
            retry_after_s=retry_s,
        )
    return mapped
