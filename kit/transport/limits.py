"""One request-weight budget per exchange API host, shared by every process on the machine.

Exchanges limit request *weight* per public IP, not per process or per key (Binance rest-api.md,
"IP Limits": "The limits on the API are based on the IPs, not the API keys"). A notebook, a
``kit candles`` download and a report running side by side all spend the same budget, so the
budget lives in a 64-byte binary record in ``$KIT_HOME/limits/<key>.lock``, read and rewritten in
place (``pread``/``pwrite``) under an exclusive ``flock`` of that same file: a few system calls per
request. A missing, short or corrupt record starts the window afresh. Rules:

- Fixed one-minute windows aligned to the wall-clock minute, as Binance counts them. A request
  may go when its weight fits under ``headroom * limit`` in the current window; otherwise the
  caller sleeps until the next window (or raises :class:`~kit.errors.RateLimited` if that is
  longer than ``max_wait_s``).
- The server is the authority: :meth:`WeightBudget.observe` raises the local count to the
  server's ``X-MBX-USED-WEIGHT-1M`` (never lowers it), so traffic from other machines behind the
  same IP, or from code that bypassed the budget, is accounted for. Binance: "Every request will
  contain X-MBX-USED-WEIGHT-(intervalNum)(intervalLetter) in the response headers which has the
  current used weight for the IP for all request rate limiters defined" (rest-api.md, "IP Limits").
- The headroom is spent on the server's word (#18): beyond ``headroom * limit`` a request may go
  while the window's estimate of the server's count (its largest reported count, plus every charge
  of every process not known to be inside that count) plus the request fits the full limit, the
  count is fresh (read within the window's edge, a second of a minute), no count above all the
  window's charges (traffic the budget does not see) and no 429/418 was seen lately, and the
  window is not in its first or last second. A request answered before another was sent reached
  the server first, so it is inside that one's count: that is how charges become known. In a
  window's first second a request must also fit the previous window's count (the server's minute
  may turn a moment after ours), and requests unanswered when a window ends are charged to the next
  one as well. Every rule only ever holds weight back from what the full limit would allow.
- A 429 blocks every process until ``Retry-After``; a 418 (IP ban, 2 minutes to 3 days) makes every
  process's :meth:`WeightBudget.acquire` raise at once until the ban lifts. Nothing retries into a
  ban, so one process's mistake is not amplified into a longer ban for all.
- A request that never reached the exchange (connection refused, refused before sending) gives its
  weight back with :meth:`WeightBudget.refund`.

Weights come from :func:`endpoint_weight`: Binance Spot from its documentation (table below, see
``WEIGHTS``), other exchanges from ccxt's per-endpoint ``cost`` times :data:`CCXT_COST_FACTOR`.

Examples
--------
>>> import tempfile
>>> tmp = tempfile.TemporaryDirectory()
>>> budget = WeightBudget("binance-api.binance.com-api", limit_per_minute=6000, directory=tmp.name)
>>> w = endpoint_weight("binance", "GET", "/api/v3/depth", {"symbol": "BTCUSDT", "limit": 1000})
>>> w
50
>>> _ = budget.acquire(w)
>>> budget.status()["used"]
50
>>> budget.observe(1200)            # X-MBX-USED-WEIGHT-1M from the response
>>> budget.status()["used"]
1200
>>> tmp.cleanup()
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import math
import os
import re
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kit.errors import ConfigError, RateLimited

__all__ = [
    "BINANCE_LIMITS",
    "CCXT_COST_FACTOR",
    "WEIGHTS",
    "WeightBudget",
    "budget_key",
    "ccxt_request_weight",
    "default_limit_per_minute",
    "endpoint_group",
    "endpoint_weight",
]

#: Binance's IP limits per minute: ``api`` (REQUEST_WEIGHT in exchangeInfo ``rateLimits``) and the
#: separate ``/sapi`` IP budget (``X-SAPI-USED-IP-WEIGHT-1M``).
BINANCE_LIMITS: dict[str, int] = {"api": 6000, "sapi": 12000}

#: Weight units per ccxt cost unit for exchanges without a documented table. ccxt's limiter lets one
#: cost unit pass every ``rateLimit`` ms; Binance's own ratio is 5 weight per unit (6000 weight per
#: minute at ``rateLimit`` 50 ms), so the same factor keeps weights integers for fractional costs.
CCXT_COST_FACTOR = 5

#: Binance Spot weights that do not depend on parameters, from
#: https://github.com/binance/binance-spot-api-docs/blob/master/rest-api.md (each endpoint's
#: "Weight") and the wallet docs for ``/sapi``. Parameter-dependent ones are in ``_binance_weight``.
WEIGHTS: dict[tuple[str, str], int] = {
    ("GET", "/api/v3/ping"): 1,
    ("GET", "/api/v3/time"): 1,
    ("GET", "/api/v3/exchangeInfo"): 20,
    ("GET", "/api/v3/trades"): 25,
    ("GET", "/api/v3/historicalTrades"): 25,
    ("GET", "/api/v3/historicalBlockTrades"): 25,
    ("GET", "/api/v3/aggTrades"): 4,
    ("GET", "/api/v3/klines"): 2,
    ("GET", "/api/v3/uiKlines"): 2,
    ("GET", "/api/v3/avgPrice"): 2,
    ("GET", "/api/v3/referencePrice"): 2,
    ("GET", "/api/v3/referencePrice/calculation"): 2,
    ("POST", "/api/v3/order"): 1,
    ("DELETE", "/api/v3/order"): 1,
    ("DELETE", "/api/v3/openOrders"): 1,
    ("POST", "/api/v3/order/cancelReplace"): 1,
    ("PUT", "/api/v3/order/amend/keepPriority"): 4,
    ("POST", "/api/v3/order/oco"): 1,
    ("POST", "/api/v3/orderList/oco"): 1,
    ("POST", "/api/v3/orderList/oto"): 1,
    ("POST", "/api/v3/orderList/otoco"): 1,
    ("POST", "/api/v3/orderList/opo"): 1,
    ("POST", "/api/v3/orderList/opoco"): 1,
    ("DELETE", "/api/v3/orderList"): 1,
    ("POST", "/api/v3/sor/order"): 1,
    ("GET", "/api/v3/account"): 20,
    ("GET", "/api/v3/order"): 4,
    ("GET", "/api/v3/allOrders"): 20,
    ("GET", "/api/v3/orderList"): 4,
    ("GET", "/api/v3/allOrderList"): 20,
    ("GET", "/api/v3/openOrderList"): 6,
    ("GET", "/api/v3/rateLimit/order"): 40,
    ("GET", "/api/v3/myAllocations"): 20,
    ("GET", "/api/v3/account/commission"): 20,
    ("GET", "/api/v3/order/amendments"): 4,
    ("GET", "/api/v3/myFilters"): 40,
    ("GET", "/sapi/v1/system/status"): 1,
    ("GET", "/sapi/v1/account/status"): 1,
    ("GET", "/sapi/v1/account/apiRestrictions"): 1,
    ("GET", "/sapi/v1/asset/tradeFee"): 1,
    ("GET", "/sapi/v1/capital/config/getall"): 10,
}

#: Weight assumed for a Binance ``GET`` missing from the table: heavy, so an unknown endpoint cannot
#: overspend the budget (the server's used-weight header corrects it after the first response).
_UNKNOWN_GET_WEIGHT = 20


def _symbol_count(params: Mapping[str, Any]) -> int | None:
    """Number of symbols a request names (``symbol`` or ``symbols``), ``None`` for all symbols."""
    if params.get("symbol"):
        return 1
    raw = params.get("symbols")
    if raw is None or raw == "" or raw == []:
        return None
    if isinstance(raw, (list, tuple)):
        return len(raw)
    text = str(raw)
    try:
        parsed = json.loads(text)
        return len(parsed) if isinstance(parsed, list) else 1
    except ValueError:
        return len([s for s in text.strip("[]").split(",") if s.strip()])


def _int_param(params: Mapping[str, Any], name: str, default: int) -> int:
    try:
        return int(params.get(name) or default)
    except (TypeError, ValueError):
        return default


def _flag(params: Mapping[str, Any], name: str) -> bool:
    return str(params.get(name, "")).lower() in ("true", "1")


def _binance_weight(method: str, path: str, params: Mapping[str, Any]) -> int:
    if path == "/api/v3/depth":  # limit 1-100: 5, -500: 25, -1000: 50, -5000: 250; default 100
        limit = _int_param(params, "limit", 100)
        return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250
    if path == "/api/v3/ticker/24hr":  # symbol: 2; symbols 1-20: 2, 21-100: 40, more or none: 80
        n = _symbol_count(params)
        return 80 if n is None or n > 100 else 40 if n > 20 else 2
    if path in ("/api/v3/ticker", "/api/v3/ticker/tradingDay"):  # 4 per symbol, 200 above 50 symbols
        n = _symbol_count(params)
        return 200 if n is None or n > 50 else 4 * n
    if path in ("/api/v3/ticker/price", "/api/v3/ticker/bookTicker"):  # symbol: 2; symbols or all: 4
        return 2 if params.get("symbol") else 4
    if path == "/api/v3/executionRules":  # symbol: 2; symbols: 2 each up to 40; none: 40
        n = _symbol_count(params)
        return 40 if n is None else min(2 * n, 40)
    if path == "/api/v3/openOrders" and method == "GET":  # careful without a symbol: 80
        return 6 if params.get("symbol") else 80
    if path == "/api/v3/myTrades":
        return 5 if params.get("orderId") not in (None, "") else 20
    if path == "/api/v3/myPreventedMatches":
        return 20 if params.get("orderId") not in (None, "") else 2
    if path in ("/api/v3/order/test", "/api/v3/sor/order/test"):
        return 20 if _flag(params, "computeCommissionRates") else 1
    known = WEIGHTS.get((method, path))
    if known is not None:
        return known
    return _UNKNOWN_GET_WEIGHT if method == "GET" else 1


def _url_path(path: str) -> str:
    """``/api/v3/depth`` from a URL, a path with a query, or a path without its leading slash."""
    parts = urlsplit(path)
    p = parts.path if (parts.scheme or parts.netloc) else path.split("?", 1)[0]
    return "/" + p.lstrip("/")


def endpoint_group(exchange_id: str, path: str) -> str:
    """Which IP budget a request draws from: ``"sapi"`` for Binance ``/sapi`` paths, else ``"api"``.

    Examples
    --------
    >>> endpoint_group("binance", "https://api.binance.com/sapi/v1/system/status")
    'sapi'
    """
    if exchange_id == "binance" and _url_path(path).startswith("/sapi/"):
        return "sapi"
    return "api"


def endpoint_weight(exchange_id: str, method: str, path: str, params: Mapping[str, Any]) -> int:
    """Request weight of one REST call, in units of the exchange's per-minute IP budget.

    Parameters
    ----------
    exchange_id
        ccxt id, e.g. ``"binance"`` (localnet is ``"binance"`` too: it enforces the same weights).
    method
        HTTP method, any case.
    path
        URL path (``/api/v3/depth``), full URL, or path with a query string.
    params
        Request parameters as sent (strings or numbers; ``symbols`` as a list or a JSON array).

    Returns
    -------
    int
        Binance: the documented weight (depth by ``limit``, tickers by symbol count, ``openOrders``
        with or without ``symbol``, ...); unknown Binance ``GET`` endpoints count 20, other methods 1.
        Other exchanges: ``ceil(ccxt cost * CCXT_COST_FACTOR)``, at least 1, where the cost comes
        from the exchange's ccxt ``api`` definition via its ``calculate_rate_limiter_cost``.

    Examples
    --------
    >>> endpoint_weight("binance", "GET", "/api/v3/openOrders", {})
    80
    >>> endpoint_weight("binance", "GET", "/api/v3/ticker/24hr", {"symbols": '["BTCUSDT","ETHUSDT"]'})
    2
    """
    method = method.upper()
    if exchange_id == "binance":
        return _binance_weight(method, _url_path(path), params)
    return _ccxt_weight(exchange_id, method, path, params)


def default_limit_per_minute(exchange_id: str, group: str = "api") -> int:
    """The per-minute budget that matches :func:`endpoint_weight`'s units.

    Binance: :data:`BINANCE_LIMITS` (prefer the ``REQUEST_WEIGHT`` entry of exchangeInfo
    ``rateLimits`` when you have it). Others: ``CCXT_COST_FACTOR * 60000 / rateLimit``, the pace
    ccxt's own limiter keeps.

    Examples
    --------
    >>> default_limit_per_minute("binance", "sapi")
    12000
    """
    if exchange_id == "binance":
        return BINANCE_LIMITS.get(group, BINANCE_LIMITS["api"])
    rate_limit_ms = float(_ccxt_exchange(exchange_id).rateLimit or 1000)
    return max(1, int(CCXT_COST_FACTOR * 60_000 / rate_limit_ms))


def budget_key(exchange_id: str, host: str, group: str = "api") -> str:
    """File-name-safe key for one budget: exchange, API host, group.

    Keying by host gives live and testnet (different hosts, separate limits) separate budgets,
    while every process on this machine (one public IP) shares each.

    Examples
    --------
    >>> budget_key("binance", "https://api.binance.com/api/v3")
    'binance-api.binance.com-api'
    >>> budget_key("binance", "http://127.0.0.1:8765/api/v3")
    'binance-127.0.0.1_8765-api'
    """
    netloc = urlsplit(host).netloc or host
    return re.sub(r"[^A-Za-z0-9._-]", "_", f"{exchange_id}-{netloc}-{group}")


# ---------------------------------------------------------------- ccxt-derived weights


@functools.lru_cache(maxsize=32)
def _ccxt_exchange(exchange_id: str) -> Any:
    import ccxt  # heavy: only for exchanges without a documented table

    cls = getattr(ccxt, exchange_id, None)
    if cls is None:
        raise ConfigError(f"unknown ccxt exchange id {exchange_id!r}", hint="Use an id from ccxt.exchanges.")
    return cls()  # no credentials, no network: only the api definitions are read


@functools.lru_cache(maxsize=32)
def _ccxt_routes(exchange_id: str) -> list[tuple[re.Pattern[str], str, list[str], str, dict[str, Any]]]:
    """(pattern, METHOD, api path, endpoint, config) for every endpoint, longest endpoint first."""
    routes: list[tuple[re.Pattern[str], str, list[str], str, dict[str, Any]]] = []
    methods = {"get", "post", "put", "delete", "patch"}

    def walk(node: Any, api: list[str]) -> None:
        if not isinstance(node, dict):
            return
        for key, value in node.items():
            if key.lower() in methods:
                entries = value.items() if isinstance(value, dict) else ((p, {}) for p in value or [])
                for endpoint, cfg in entries:
                    config = cfg if isinstance(cfg, dict) else {"cost": cfg}
                    body = re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(endpoint.strip("/")))
                    routes.append((re.compile(rf"(?:^|/){body}$"), key.upper(), api, endpoint, config))
            else:
                walk(value, [*api, key])

    walk(_ccxt_exchange(exchange_id).api, [])
    routes.sort(key=lambda r: len(r[3]), reverse=True)
    return routes


def _ccxt_weight(exchange_id: str, method: str, path: str, params: Mapping[str, Any]) -> int:
    ex = _ccxt_exchange(exchange_id)
    target = _url_path(path).strip("/")
    for pattern, route_method, api, endpoint, config in _ccxt_routes(exchange_id):
        if route_method == method and pattern.search(target):
            try:
                cost = float(ex.calculate_rate_limiter_cost(api, method, endpoint, dict(params), config))
            except (TypeError, ValueError):
                cost = float(config.get("cost", 1))
            return max(1, math.ceil(cost * CCXT_COST_FACTOR - 1e-9))
    return CCXT_COST_FACTOR  # unknown endpoint: ccxt's default cost of 1


def ccxt_request_weight(
    exchange: Any, path: str, api: Any, method: str, params: Mapping[str, Any], config: Mapping[str, Any]
) -> tuple[str, int]:
    """``(group, weight)`` for the arguments ccxt passes to ``fetch2``/``request``.

    For a hook around ``exchange.fetch2(path, api, method, params, config)``: Binance paths are
    resolved through ``exchange.urls['api']`` (so localnet overrides keep working), other exchanges
    use ccxt's own cost for that endpoint.

    Examples
    --------
    >>> import ccxt
    >>> ccxt_request_weight(ccxt.binance(), "depth", ["public"], "GET", {"symbol": "BTCUSDT", "limit": 500}, {})
    ('api', 25)
    """
    ex_id = str(exchange.id)
    group_name = api[0] if isinstance(api, (list, tuple)) else str(api)
    if ex_id == "binance":
        base = exchange.urls.get("api", {}).get(group_name, "")
        full = _url_path(base).rstrip("/") + "/" + path.lstrip("/")
        return endpoint_group(ex_id, full), endpoint_weight(ex_id, method, full, params)
    api_list = list(api) if isinstance(api, (list, tuple)) else [api]
    cost = float(exchange.calculate_rate_limiter_cost(api_list, method, path, dict(params), dict(config)))
    return "api", max(1, math.ceil(cost * CCXT_COST_FACTOR - 1e-9))


# ---------------------------------------------------------------- the shared budget


def _kit_home() -> Path:
    return Path(os.environ.get("KIT_HOME") or "~/.tradekit").expanduser()


@dataclass(slots=True)
class _State:
    window_start_ms: int = 0
    #: Weight counted in this window: every charge, raised to the server's count (the headroom rule).
    used: int = 0
    blocked_until_ms: int = 0
    banned_until_ms: int = 0
    limit: int = 0
    #: The largest used weight the server reported for this window: a refund never goes below it.
    server_used: int = 0
    #: Weight charged to this window by every process (plus what was in flight when it began).
    charged: int = 0
    #: The part of ``charged`` known to be inside ``server_used`` (see :meth:`WeightBudget.observe`).
    confirmed: int = 0
    #: Weight charged to this window whose answer no process has seen yet.
    pending: int = 0
    #: The previous window's count, raised by what is charged in this window's first edge.
    prev_used: int = 0
    #: When the server's count was last read in this window (0: not yet).
    synced_ms: int = 0
    #: Until then the headroom is not spent (after a 429 or 418, or a server count ahead of ours).
    calm_until_ms: int = 0

    def fields(self) -> tuple[int, ...]:
        return (self.window_start_ms, self.used, self.blocked_until_ms, self.banned_until_ms, self.limit,
                self.server_used, self.charged, self.confirmed, self.pending, self.prev_used, self.synced_ms,
                self.calm_until_ms)  # fmt: skip

    def estimate(self) -> int:
        """Upper bound of the server's count for this window, traffic the budget does not see aside."""
        return self.server_used + max(0, self.charged - self.confirmed)


# The shared state: one fixed-size little-endian record at offset 0 of ``<key>.lock``, read with
# ``pread`` and written with ``pwrite`` while the ``flock`` on that same file is held.
#
#   offset size  field
#        0    4  magic b"KWB\0"
#        4    2  record version (3; 2 was the 64-byte record without the fields from charged on)
#        6    2  record size in bytes (128)
#        8    8  window_start_ms      int64
#       16    8  used                 int64
#       24    8  blocked_until_ms     int64 (429 Retry-After end)
#       32    8  banned_until_ms      int64 (418 ban end)
#       40    8  limit                int64 (limit_per_minute of the last writer)
#       48    8  server_used          int64 (largest server-reported weight in the window)
#       56    8  charged              int64 (weight charged to the window, carried in-flight included)
#       64    8  confirmed            int64 (of charged, weight known to be in server_used)
#       72    8  pending              int64 (of charged, weight not answered yet)
#       80    8  prev_used            int64 (previous window's count, plus this window's first edge)
#       88    8  synced_ms            int64 (time of the last server count read in the window)
#       96    8  calm_until_ms        int64 (no headroom spending before it)
#      104   20  reserved (0)
#      124    4  CRC-32 of bytes 0-123
#
# Anything else (empty, short, torn, another version, bad checksum, negative counts) is read as
# "no state": the budget starts fresh, as it did for a torn JSON file. A process of an older kit
# (record version 2) sharing the directory would do the same with this one: upgrade every process
# of a machine together.
_MAGIC = b"KWB\0"
_VERSION = 3
_BODY = struct.Struct("<4sHH12q20x")
_RECORD_SIZE = _BODY.size + 4
_CRC = struct.Struct("<I")
assert _RECORD_SIZE == 128

#: What this process charged to each budget file in its current window, for :meth:`WeightBudget.refund`:
#: ``lock file -> (pid, window_start_ms, weight)``. Only changed while that file's lock is held.
_CHARGED: dict[str, tuple[int, int, int]] = {}


def _encode(state: _State) -> bytes:
    body = _BODY.pack(_MAGIC, _VERSION, _RECORD_SIZE, *state.fields())
    return body + _CRC.pack(zlib.crc32(body))


def _decode(raw: bytes) -> _State | None:
    """The state in a record, or ``None`` if it is not a valid record of this version."""
    if len(raw) < _RECORD_SIZE or raw[:4] != _MAGIC:
        return None
    magic, version, size, *values = _BODY.unpack_from(raw)
    if version != _VERSION or size != _RECORD_SIZE:
        return None
    if _CRC.unpack_from(raw, _BODY.size)[0] != zlib.crc32(raw[: _BODY.size]):
        return None
    if min(values) < 0:
        return None
    return _State(*values)


@dataclass(slots=True)
class _Request:
    """One request this process charged: for :meth:`WeightBudget.observe` to tell what the server has counted."""

    window_start_ms: int
    weight: int
    charged_ns: int  # time.monotonic_ns() at the charge (before the request was sent)
    edge: bool  # charged in a window edge: the server may count it in the neighbouring window
    pid: int
    answered_ns: int = 0  # when this process knew the answer had arrived (0: not yet)
    confirmed: bool = False


def _lock_fd(fd: int) -> None:
    fcntl.flock(fd, fcntl.LOCK_EX)


def _unlock_fd(fd: int) -> None:
    fcntl.flock(fd, fcntl.LOCK_UN)


_pread = os.pread
_pwrite = os.pwrite


class WeightBudget:
    """A per-minute request-weight budget shared through a file by every process on this machine.

    The state is one 128-byte record in ``<key>.lock`` (see the layout above ``_MAGIC`` in the source),
    read and written in place under an exclusive ``flock`` of that file, which each instance opens
    once and keeps open (reopened after a ``fork`` or if the file is deleted). A request costs one
    lock, one 128-byte read and one 128-byte write: no JSON, no temporary file, no rename.

    Spending the headroom (#18): a request that does not fit under ``headroom * limit`` may still
    go when the server's own count says the room is there: the window's estimate (the largest
    ``X-MBX-USED-WEIGHT-1M`` seen, plus every charge not known to be inside it, by any process) plus
    the weight fits under the full limit, the server's count was read within the last edge, no
    429/418 and no server count above all charges was seen lately, and the window is not in its
    first or last edge. See :meth:`observe` for how a charge becomes "known to be inside" the
    server's count, and docs/store.md ("Backfill") for the argument and the measurements.

    Parameters
    ----------
    key
        Budget name, one per (exchange, API host, group); see :func:`budget_key`. Used as a file name.
    limit_per_minute
        The exchange's limit for one window, e.g. 6000 for Binance ``api``.
    directory
        Where ``<key>.lock`` lives; default ``$KIT_HOME/limits`` (``~/.tradekit``).
    headroom
        Fraction of the limit this machine spends, leaving slack for clock offsets between the local
        and the server minute and for requests the budget does not see.
    clock
        Wall-clock seconds; pass a server-aligned clock (:func:`kit.transport.clock.offset_clock`) to align
        windows with the server's minute.
    sleep
        How to wait (injected in tests).
    window_s
        Window length; Binance counts weight per 60-second minute. Shorter only in tests.
    spend_headroom
        Spend the headroom when the server's count shows it is free (above); ``False``: never
        charge more than ``headroom * limit`` in a window.
    edge_s
        Width of a window's edges (default ``window_s / 60``: one second of a minute): requests in
        them may be counted by the server in the neighbouring window (clock offset, time on the
        wire), so a charge in the first edge must also fit the previous window's count, the headroom
        is not spent in either edge, and a count read from a request sent in an edge does not vouch
        for the window. The server's count is trusted for this long after it was read.

    Examples
    --------
    >>> import tempfile
    >>> tmp = tempfile.TemporaryDirectory()
    >>> b = WeightBudget("demo", limit_per_minute=100, directory=tmp.name, headroom=0.5)
    >>> _ = b.acquire(50)
    >>> b.acquire(1, max_wait_s=0)
    Traceback (most recent call last):
    ...
    kit.errors.RateLimited: ...
    >>> b.refund(50)                    # that request never reached the exchange
    50
    >>> b.recorded_limit()
    100
    >>> b.close()
    >>> tmp.cleanup()
    """

    def __init__(
        self,
        key: str,
        *,
        limit_per_minute: int,
        directory: str | Path | None = None,
        headroom: float = 0.95,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        window_s: float = 60.0,
        spend_headroom: bool = True,
        edge_s: float | None = None,
    ) -> None:
        if not re.fullmatch(r"[A-Za-z0-9._-]+", key):
            raise ConfigError(f"budget key {key!r} is not a safe file name", hint="Build it with budget_key().")
        edge = window_s / 60 if edge_s is None else edge_s
        if limit_per_minute < 1 or not 0 < headroom <= 1 or window_s <= 0 or not 0 <= edge < window_s / 2:
            raise ConfigError(
                f"invalid budget: limit_per_minute={limit_per_minute}, headroom={headroom}, window_s={window_s}, "
                f"edge_s={edge_s}",
                hint="Use a positive limit, 0 < headroom <= 1, a positive window and 0 <= edge_s < window_s / 2.",
            )
        self.key = key
        self.limit = int(limit_per_minute)
        self.capacity = max(1, math.floor(self.limit * headroom))
        self.spend_headroom = bool(spend_headroom)
        self.directory = Path(directory) if directory is not None else _kit_home() / "limits"
        self.directory.mkdir(parents=True, exist_ok=True)
        #: The lock file, which also holds the shared state record.
        self.lock_path = self.directory / f"{key}.lock"
        self.path = self.lock_path
        self._charged_key = os.path.realpath(self.lock_path)
        self._clock = clock
        self._sleep = sleep
        self._window_ms = int(window_s * 1000)
        self._edge_ms = int(edge * 1000)
        #: How often a request waiting only for answers in flight looks again (20 ms on a minute).
        self._poll_s = max(0.002, min(0.02, window_s / 3000))
        self._init_handle()

    def _init_handle(self) -> None:
        self._fd = -1
        self._fd_pid = 0
        # flock belongs to the open file description, which threads of a process share: this mutex
        # keeps two threads using this instance from being inside the file lock together.
        self._mutex = threading.Lock()
        # The request each thread charged last and has not seen answered (a thread sends one at a
        # time: its next acquire, or the observe of its answer, means the answer came), and this
        # process's answered requests of the current window not yet known to be in the server's count.
        self._local = threading.local()
        self._answered: list[_Request] = []

    def __repr__(self) -> str:
        return f"WeightBudget({self.key!r}, limit_per_minute={self.limit}, capacity={self.capacity})"

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for name in ("_fd", "_fd_pid", "_mutex", "_local", "_answered"):
            state.pop(name, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._init_handle()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    def close(self) -> None:
        """Close the state file (the next use reopens it). The budget itself lives on in the file."""
        fd, self._fd = getattr(self, "_fd", -1), -1
        if fd >= 0:
            os.close(fd)

    # ------------------------------------------------------------ file state
    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def _lock(self) -> int:
        """Lock the state file and return this process's descriptor of it (the caller holds the mutex).

        The descriptor is opened on first use, again after a fork (the inherited one shares the parent's
        lock) and again if the file was deleted while open.
        """
        while True:
            pid = os.getpid()
            if self._fd < 0 or self._fd_pid != pid:
                if self._fd >= 0:  # inherited over fork: shares the parent's lock, so never use it
                    os.close(self._fd)
                    self._fd = -1
                self._fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
                self._fd_pid = pid
            fd = self._fd
            _lock_fd(fd)
            if os.fstat(fd).st_nlink > 0:
                return fd
            _unlock_fd(fd)  # deleted under us: others now share a new file at that path
            self.close()

    def _read(self, fd: int, now: int) -> tuple[_State, bytes]:
        """The state rolled to the current window, and the record as read (to skip unchanged writes)."""
        raw = _pread(fd, _RECORD_SIZE, 0)
        state = _decode(raw)
        if state is None:
            # Empty (new file), short, torn or foreign: start fresh. The next used-weight header from
            # the server corrects counts.
            state = _State()
            raw = b""
        window = now - now % self._window_ms
        if state.window_start_ms != window:
            follows = state.window_start_ms == window - self._window_ms
            # Requests still unanswered when a window ends may be counted by the server in the next
            # one: they start the new window's charges (never confirmed, so the estimate keeps them).
            carry = state.pending if follows else 0
            prev = max(state.used, state.estimate()) if follows else 0
            state.window_start_ms, state.used, state.server_used = window, 0, 0
            state.charged, state.confirmed, state.pending, state.synced_ms = carry, 0, 0, 0
            state.prev_used = prev
        state.limit = self.limit
        return state, raw

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[tuple[_State, int]]:
        """Lock, read (rolled to the current window), yield, write back if anything changed."""
        with self._mutex:
            fd = self._lock()
            try:
                now = self._now_ms()
                state, raw = self._read(fd, now)
                yield state, now
                record = _encode(state)
                if record != raw:
                    _pwrite(fd, record, 0)
            finally:
                _unlock_fd(fd)

    def _note_charged(self, window_start_ms: int, weight: int) -> None:
        pid = os.getpid()
        prev_pid, prev_window, charged = _CHARGED.get(self._charged_key, (0, 0, 0))
        if prev_pid != pid or prev_window != window_start_ms:
            charged = 0
        _CHARGED[self._charged_key] = (pid, window_start_ms, charged + weight)

    # ------------------------------------------------------------ requests of this process
    def _settle(self, state: _State) -> _Request | None:
        """Mark the calling thread's last request answered (it is sending the next one, or reading the answer)."""
        req: _Request | None = getattr(self._local, "request", None)
        self._local.request = None
        if req is None or req.pid != os.getpid():
            return None
        req.answered_ns = time.monotonic_ns()
        if req.window_start_ms == state.window_start_ms:
            state.pending = max(0, state.pending - req.weight)
            if self._answered and self._answered[0].window_start_ms != state.window_start_ms:
                self._answered = []  # a new window: the old one's requests vouch for nothing here
            self._answered.append(req)
        return req

    def _confirm(self, req: _Request) -> int:
        """Weight of this process's requests now known to be inside the server's count read from ``req``'s answer.

        ``req`` itself, and every request of the window whose answer this process had before
        ``req`` was charged: it reached the server before ``req`` was sent, so the server counted it
        before it counted ``req`` (in this window, or in the one before, where it no longer matters).
        """
        total = 0
        keep: list[_Request] = []
        for q in self._answered:
            if q.confirmed or q.window_start_ms != req.window_start_ms:
                continue
            if q is req or q.answered_ns < req.charged_ns:
                q.confirmed = True
                total += q.weight
            else:
                keep.append(q)
        self._answered = keep
        return total

    def _room(self, state: _State, now: int, weight: int) -> tuple[bool, int, str]:
        """Whether ``weight`` may be charged now; if not, when to look again and why."""
        start, end = state.window_start_ms, state.window_start_ms + self._window_ms
        if now < start + self._edge_ms and state.prev_used + weight > self.limit:
            # The server's minute may not have turned yet: the previous window's count must hold it too.
            return False, start + self._edge_ms, "for the previous window to close on the server"
        if state.used + weight <= self.capacity:
            return True, 0, ""
        if not self._headroom_open(state, now):
            return False, end, "for the next weight window"
        if state.estimate() + weight <= self.limit:
            return True, 0, ""
        if state.pending > 0:  # answers on their way may show that some of it was counted already
            return False, min(end, now + max(1, int(self._poll_s * 1000))), "for the answers in flight"
        return False, end, "for the next weight window"

    def _headroom_open(self, state: _State, now: int) -> bool:
        """Whether this window may spend beyond ``capacity`` now (see the class docstring)."""
        start, end = state.window_start_ms, state.window_start_ms + self._window_ms
        return (
            self.spend_headroom
            and self.capacity < self.limit
            and state.synced_ms > 0
            and now - state.synced_ms <= max(self._edge_ms, 1)
            and state.calm_until_ms <= now
            and start + self._edge_ms <= now < end - self._edge_ms
        )

    # ------------------------------------------------------------ public
    def acquire(self, weight: int, *, max_wait_s: float = 120) -> int:
        """Spend ``weight`` in the current window, sleeping until it fits.

        It fits under ``headroom * limit``, or under the full limit when the server's count shows
        the room is free (see the class docstring); in a window's first edge it must also fit under
        the limit on top of the previous window's count.

        Parameters
        ----------
        weight
            Weight of the request about to be sent (:func:`endpoint_weight`).
        max_wait_s
            Longest total wait before giving up.

        Returns
        -------
        int
            Start (ms) of the window the weight was charged to.

        Raises
        ------
        RateLimited
            At once while an IP ban (418) is recorded, with ``retry_after_ms`` until it lifts; or
            when the wait for room (next window, or a 429's ``Retry-After``) would exceed ``max_wait_s``.
        ConfigError
            If ``weight`` can never fit (larger than ``headroom * limit``).
        """
        if weight < 0 or weight > self.capacity:
            raise ConfigError(
                f"request weight {weight} can never fit budget {self.key!r}",
                value=weight,
                allowed=self.capacity,
                hint="Split the request (e.g. a smaller depth limit) or raise headroom.",
            )
        deadline = self._clock() + max_wait_s
        while True:
            with self._transaction() as (state, now):
                self._settle(state)  # this thread sends one request at a time: the last one was answered
                if state.banned_until_ms > now:
                    raise RateLimited(
                        f"{self.key}: the exchange banned this IP (HTTP 418); no request may be sent by any process",
                        retry_after_ms=state.banned_until_ms - now,
                    )
                if state.blocked_until_ms > now:
                    wake_ms, why = state.blocked_until_ms, "after HTTP 429 (Retry-After)"
                else:
                    fits, wake_ms, why = self._room(state, now, weight)
                    if fits:
                        start = state.window_start_ms
                        edge = now < start + self._edge_ms or now >= start + self._window_ms - self._edge_ms
                        state.used += weight
                        state.charged += weight
                        state.pending += weight
                        if now < start + self._edge_ms:
                            state.prev_used += weight
                        self._note_charged(start, weight)
                        self._local.request = _Request(start, weight, time.monotonic_ns(), edge, os.getpid())
                        return start
            wait_s = (wake_ms - now) / 1000 + 0.001
            if self._clock() + wait_s > deadline:
                raise RateLimited(
                    f"{self.key}: weight {weight} needs a wait of {wait_s:.1f}s {why}, over max_wait_s={max_wait_s}",
                    retry_after_ms=math.ceil(wait_s * 1000),
                )
            self._sleep(wait_s)

    def refund(self, weight: int) -> int:
        """Give back the weight of a request that never reached the exchange.

        For a request refused before it was sent, or that failed to connect (connection refused, DNS
        failure): the exchange did not count it, so neither should the budget. Do not refund a request
        that got any response, or that may have been sent (a timeout): the exchange counted it.

        Parameters
        ----------
        weight
            The weight passed to :meth:`acquire` for that request.

        Returns
        -------
        int
            The weight actually removed from the current window. It is at most what this process
            charged to this budget (through any instance) in the current window and not yet refunded,
            never takes the window's count below zero nor below the largest count the server reported
            for the window (:meth:`observe`), and is 0 once the window has ended: a new window already
            starts from zero.

        Raises
        ------
        ConfigError
            If ``weight`` is negative.
        """
        if weight < 0:
            raise ConfigError(f"cannot refund a negative weight ({weight}) to budget {self.key!r}")
        if weight == 0:
            return 0
        with self._transaction() as (state, now):
            req: _Request | None = getattr(self._local, "request", None)
            if req is not None and req.pid == os.getpid() and req.window_start_ms == state.window_start_ms:
                self._local.request = None  # never sent: nothing to wait for, nothing the server counted
                state.pending = max(0, state.pending - req.weight)
            pid, window, charged = _CHARGED.get(self._charged_key, (0, 0, 0))
            if pid != os.getpid() or window != state.window_start_ms:
                return 0
            amount = max(0, min(weight, charged, state.used - state.server_used))
            state.used -= amount
            state.charged = max(0, state.charged - amount)
            if now < state.window_start_ms + self._edge_ms:  # charged in the first edge, to both windows
                state.prev_used = max(0, state.prev_used - amount)
            _CHARGED[self._charged_key] = (pid, window, charged - amount)
            return amount

    def observe(
        self,
        used_weight: int | None,
        *,
        status: int | None = None,
        retry_after_s: float | None = None,
        window_start_ms: int | None = None,
    ) -> None:
        """Feed back what the server said, for every process.

        Call it from the thread that acquired the request, after its answer (as the Session does):
        the budget then knows which request the count was read from.

        Parameters
        ----------
        used_weight
            ``X-MBX-USED-WEIGHT-1M`` (or the sapi header) of the response; the window's count becomes
            the larger of ours and the server's. Unless the request was sent in a window edge (the
            server may have counted it in the neighbouring minute), the count is also a fresh reading
            for spending the headroom: the request, and every earlier one of this process answered
            before it was sent, are then known to be inside it. A count above everything charged to
            the window shows traffic the budget does not see (another machine behind the same IP, a
            client that bypasses the budget): the headroom is then not spent for the rest of the
            window.
        status
            HTTP status: 429 blocks every process until ``Retry-After`` (default: the next window,
            Binance's own Retry-After for a weight 429);
            418 records an IP ban until ``Retry-After`` (default: 2 minutes, Binance's shortest ban).
            After either the headroom is not spent until the end of the next window.
        retry_after_s
            The ``Retry-After`` header, in seconds.
        window_start_ms
            The window the request was charged to (what :meth:`acquire` returned). When the window
            has rolled over since, ``used_weight`` is the old window's count and is ignored: applied
            to the new window it would hold back weight that is free.
        """
        with self._transaction() as (state, now):
            req = self._settle(state)
            stale = window_start_ms is not None and window_start_ms != state.window_start_ms
            if used_weight is not None and not stale:
                seen = int(used_weight)
                mine = req is not None and req.window_start_ms == state.window_start_ms
                if not (mine and req is not None and req.edge):
                    if seen > state.charged:  # more than every process charged: someone else spends here too
                        state.calm_until_ms = max(state.calm_until_ms, state.window_start_ms + self._window_ms)
                    state.synced_ms = now
                    if mine and req is not None:
                        state.confirmed = min(state.charged, state.confirmed + self._confirm(req))
                # Raising both counts is safe whichever minute the server counted it in (it only
                # holds back more); only a count from outside the edges vouches for the window.
                state.used = max(state.used, seen)
                state.server_used = max(state.server_used, seen)
            if status == 429:
                until = (
                    now + int(retry_after_s * 1000)
                    if retry_after_s is not None
                    else (state.window_start_ms + self._window_ms)
                )
                state.blocked_until_ms = max(state.blocked_until_ms, until)
            elif status == 418:
                until = now + int((retry_after_s if retry_after_s is not None else 120) * 1000)
                state.banned_until_ms = max(state.banned_until_ms, until)
            if status in (429, 418):
                state.calm_until_ms = max(state.calm_until_ms, state.window_start_ms + 2 * self._window_ms)

    def recorded_limit(self) -> int | None:
        """The ``limit_per_minute`` last written to the shared state by any process, or ``None``.

        For a process that does not know the exchange's published limit yet: the one another
        process recorded. Reads under the lock and writes nothing (so this instance's own limit does
        not replace the recorded one); ``None`` if no valid state has been written yet.
        """
        with self._mutex:
            fd = self._lock()
            try:
                state = _decode(_pread(fd, _RECORD_SIZE, 0))
            finally:
                _unlock_fd(fd)
        return state.limit if state is not None and state.limit > 0 else None

    def status(self) -> dict[str, Any]:
        """The current window as a dict.

        Keys: ``key``, ``used``, ``limit``, ``capacity``, ``window_start_ms``, ``window_reset_ms``,
        ``blocked_until_ms`` and ``banned_until_ms`` (0 when none), ``estimate`` (upper bound of the
        server's count, see :meth:`observe`), ``server_used`` (the largest count the server reported
        in the window) and ``spending_headroom`` (whether a request beyond ``capacity`` may go now).
        """
        with self._transaction() as (state, now):
            return {
                "key": self.key,
                "used": state.used,
                "limit": self.limit,
                "capacity": self.capacity,
                "window_start_ms": state.window_start_ms,
                "window_reset_ms": state.window_start_ms + self._window_ms,
                "blocked_until_ms": state.blocked_until_ms if state.blocked_until_ms > now else 0,
                "banned_until_ms": state.banned_until_ms if state.banned_until_ms > now else 0,
                "estimate": state.estimate(),
                "server_used": state.server_used,
                "spending_headroom": self._headroom_open(state, now),
            }
