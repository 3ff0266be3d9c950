"""The Session's plumbing: every exchange request and every journal row goes through here.

:class:`SessionBase` holds what the read and order halves of :class:`~kit.session.core.Session` share:
one request path (the shared rate budget, ccxt's errors mapped into the kit's tree, the request
log, retries for reads), the degradation bookkeeping, and the journal helper. It sends nothing by
itself; :class:`~kit.session.core.Session` builds it.

:class:`ExchangeApi` (``session.api``) is the public seam onto that path, for every module that
is not the Session itself (candles, fills, streams, degradation, reconciliation, and later
strategies): "call the exchange through the budget, the error map and the journal", with
whether the call is a write said explicitly, never guessed from the operation's name.

>>> s = kit.Session("localnet")                                                 # doctest: +SKIP
>>> s.api.call("fetch_time", lambda ex: ex.fetch_time(), method="GET", path="/api/v3/time",
...            write=False)                                                     # doctest: +SKIP
1767225600000
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from concurrent.futures import Future
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar, cast

import aiohttp

from kit.errors import ClockSkew, ConfigError, ExchangeUnavailable, KitError, TransientError
from kit.session.loop import BackgroundLoop
from kit.transport.backoff import Backoff, retry_read
from kit.transport.ccxt_errors import ccxt_errors
from kit.transport.limits import WeightBudget, budget_key, default_limit_per_minute, endpoint_group, endpoint_weight
from kit.transport.logs import RequestLog

if TYPE_CHECKING:
    from kit.journal.journal import Journal
    from kit.safety.guard import Guard
    from kit.safety.killswitch import KillSwitch
    from kit.safety.stages import Stage
    from kit.session.venues import VenueSpec
    from kit.transport.clock import ClockReport, ClockWatch

T = TypeVar("T")
H = TypeVar("H")
_log = logging.getLogger("kit.session")
DAY_MS = 86_400_000

#: ``state_at`` time for "everything journaled so far": fills carry the exchange's trade time, which
#: can be ahead of the local clock (offset, or a simulated clock on localnet).
LATEST_MS = 2**62


def now_ms() -> int:
    """Wall-clock time in epoch milliseconds (UTC)."""
    return int(time.time() * 1000)


def never_sent(exc: BaseException) -> bool:
    """True when ``exc`` comes from a connection that was never made (refused, no route, DNS).

    Only then is it certain the exchange saw nothing, so the request's weight can be given back;
    a timeout, a reset or a 5xx may have reached it.

    >>> import ccxt
    >>> def fetch(cause):
    ...     try:
    ...         try:
    ...             raise cause
    ...         except Exception as e:
    ...             raise ccxt.ExchangeNotAvailable("binance GET https://api.binance.com/api/v3/time") from e
    ...     except ccxt.BaseError as err:
    ...         return never_sent(err)
    >>> fetch(aiohttp.ClientConnectorError(None, OSError(111, "Connection refused")))
    True
    >>> fetch(aiohttp.ServerDisconnectedError())
    False
    """
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, aiohttp.ClientConnectorError):
            return True
        e = e.__cause__ or e.__context__
    return False


class SessionBase:
    """State and the request path shared by the Session's reads and orders (see :class:`~kit.session.Session`)."""

    spec: VenueSpec
    stage: Stage
    venue: str
    account: str
    journal: Journal
    guard: Guard
    kill_switch: KillSwitch
    session_id: str
    warnings: list[str]
    degraded: str | None
    fingerprint: str | None
    clock_report: ClockReport | None
    requests: RequestLog
    api: ExchangeApi
    _ex: Any
    _loop: BackgroundLoop
    _host: str
    _failures: int
    _last_price: dict[str, Decimal]
    _rates: dict[str, Decimal | None]
    _kill_lock: threading.RLock
    _kill_unreported: int
    kill_action: str | None
    _client_ids: dict[str, str]
    _free_cache: tuple[float, dict[str, Decimal]] | None  # the funds check's last free-balance read
    _weight_limit: int | None
    _weight_window_s: float
    _backoff: Backoff
    _budgets: dict[str, WeightBudget]
    _ids: int
    _clock_warn_ms: int
    clock_watch: ClockWatch

    def _read_weight_limit(self) -> int:
        """The exchange's published REQUEST_WEIGHT limit per minute (from exchangeInfo), else its default."""
        info = getattr(self, "_exchange_info", None) or {}
        for rule in info.get("rateLimits", []) if isinstance(info, dict) else []:
            if rule.get("rateLimitType") == "REQUEST_WEIGHT" and rule.get("interval") == "MINUTE":
                return int(rule["limit"]) // max(1, int(rule.get("intervalNum", 1)))
        return 6000 if self.spec.exchange_id == "binance" else 1200

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._loop.run(coro)

    def _call(
        self,
        op: str,
        method: str,
        path: str,
        fn: Callable[[], Coroutine[Any, Any, T]],
        *,
        params: dict[str, Any] | None = None,
        read: bool = True,
        symbol: str | None = None,
    ) -> T:
        """The Session's own shorthand for :meth:`ExchangeApi.call`: ``read=False`` is a write (never retried)."""
        return self._request(op, method, path, fn, params=params, write=not read, retry=read, symbol=symbol)

    def _request(
        self,
        op: str,
        method: str,
        path: str,
        fn: Callable[[], Coroutine[Any, Any, T]],
        *,
        params: dict[str, Any] | None,
        write: bool,
        retry: bool,
        symbol: str | None,
        weight: int | None = None,
    ) -> T:
        """One exchange request through the budget, error mapping, request log and (reads) retries."""
        group = endpoint_group(self.spec.exchange_id, path)
        budget = self._budget(group)

        def once() -> T:
            cost = weight if weight is not None else endpoint_weight(self.spec.exchange_id, method, path, params or {})
            window = budget.acquire(cost)
            t0 = time.perf_counter()
            status: int | None = None
            error = None
            try:
                with ccxt_errors(op, symbol=symbol, exchange=self._ex, budget=budget, write=write):
                    result = self._run(fn())
                status = 200
                return result
            except KitError as exc:
                error = type(exc).__name__
                status = getattr(exc, "status", None)
                if never_sent(exc):  # the connection was refused: the exchange counted nothing
                    budget.refund(cost)
                raise
            finally:
                ms = (time.perf_counter() - t0) * 1000
                self._after_request(budget, group, method, path, status, cost, ms, error, window)

        try:
            result = retry_read(once, backoff=self._backoff) if retry else once()
        except ClockSkew:  # -1021: the clock moved since it was measured; measure before the next signed write
            watch = getattr(self, "clock_watch", None)
            if watch is not None:
                watch.stale(f"the exchange answered -1021 to {op}")
            raise
        except ExchangeUnavailable as exc:
            if retry:  # a read that failed after every retry: the exchange is down for us, pause orders
                self._note_failure(op, exc)
            raise
        self._note_success()
        return result

    def _request_many(
        self,
        op: str,
        method: str,
        path: str,
        calls: Sequence[tuple[Callable[[], Coroutine[Any, Any, Any]], dict[str, Any] | None, str | None]],
        *,
        write: bool,
    ) -> list[Any]:
        """Several requests of one endpoint sent together: one hand-off to the loop, no thread per request.

        ``calls``: ``(fn, params, symbol)`` per request, as :meth:`_request` takes them. Their weights
        are taken from the budget first, together (one transaction on the shared budget file), then
        every coroutine runs on the Session's loop at once (ccxt builds and signs each, and it leaves
        while the next is built),
        each with its own error mapping, timing and response headers; the request log gets one line
        per request, with ``sent_ms`` (when ccxt started building it, wall clock). Returns one entry
        per call, in order: ccxt's answer or the :class:`~kit.errors.KitError` it mapped to (not
        raised). A read that failed transiently is tried again through :meth:`_request` (its retries
        and backoff, and the degradation bookkeeping); a write never is.
        """
        group = endpoint_group(self.spec.exchange_id, path)
        budget = self._budget(group)
        ex = self._ex

        async def one(fn: Callable[[], Coroutine[Any, Any, Any]], symbol: str | None) -> tuple[Any, Any, float, int]:
            sent_ms = time.time_ns() // 1_000_000
            t0 = time.perf_counter()
            try:
                with ccxt_errors(op, symbol=symbol, exchange=ex, budget=budget, write=write):
                    result: Any = await fn()
            except KitError as exc:
                result = exc
            headers = dict(getattr(ex, "last_response_headers", None) or {})
            return result, headers, (time.perf_counter() - t0) * 1000, sent_ms

        out: list[Any] = [None] * len(calls)
        costs = [endpoint_weight(self.spec.exchange_id, method, path, params or {}) for _, params, _ in calls]
        charged: list[tuple[int, int, int | None]] = []  # (index, weight, window)
        if 1 < len(calls) and sum(costs) <= budget.capacity:  # one budget transaction for requests sent together
            try:
                start = budget.acquire(sum(costs))
                charged = [(i, cost, start) for i, cost in enumerate(costs)]
            except KitError as exc:  # the budget refused them (a ban, or a wait too long): none is sent
                out = [exc] * len(calls)
        else:
            for i, cost in enumerate(costs):
                try:
                    charged.append((i, cost, budget.acquire(cost)))
                except KitError as exc:  # the budget refused it (a ban, or a wait too long): never sent
                    out[i] = exc

        async def all_of() -> list[tuple[Any, Any, float, int]]:
            return await asyncio.gather(*(one(calls[i][0], calls[i][2]) for i, _, _ in charged))

        answers = self._run(all_of()) if charged else []
        ok = False
        for (i, cost, window), (result, headers, ms, sent_ms) in zip(charged, answers, strict=True):
            failed = isinstance(result, KitError)
            status = getattr(result, "status", None) if failed else 200
            if failed and never_sent(result):
                budget.refund(cost)
            error = type(result).__name__ if failed else None
            self._after_request(budget, group, method, path, status, cost, ms, error, window, headers=headers,
                                sent_ms=sent_ms)  # fmt: skip
            if isinstance(result, ClockSkew):
                watch = getattr(self, "clock_watch", None)
                if watch is not None:
                    watch.stale(f"the exchange answered -1021 to {op}")
            if failed and not write and isinstance(result, TransientError):  # a read: the usual retries, alone
                fn, params, symbol = calls[i]
                try:
                    result = self._request(op, method, path, fn, params=params, write=False, retry=True,
                                           symbol=symbol)  # fmt: skip
                except KitError as exc:
                    result = exc
                failed = isinstance(result, KitError)
            ok = ok or not failed
            out[i] = result
        if ok:
            self._note_success()
        return out

    @property
    def budget(self) -> WeightBudget | None:
        """The shared request-weight budget of this exchange's IP (``api`` group)."""
        return self._budgets.get("api")

    def _budget(self, group: str) -> WeightBudget:
        """The shared budget of an endpoint group (created on first use).

        Every request is charged, the first ``exchangeInfo`` included: before the exchange's published
        limit is known, the limit another process recorded in the shared budget file is used (else the
        documented default), so a process that starts late cannot push the machine over the limit.
        """
        budget = self._budgets.get(group)
        if budget is None:
            limit = self._weight_limit if group == "api" else None
            if limit is None and group == "api" and self._ex.markets:
                limit = self._read_weight_limit()
            budget = self._new_budget(group, limit or default_limit_per_minute(self.spec.exchange_id, group))
            if limit is None:
                recorded = budget.recorded_limit()
                if recorded and recorded != budget.limit:
                    budget = self._new_budget(group, recorded)
            self._budgets[group] = budget
        return budget

    def _new_budget(self, group: str, limit: int) -> WeightBudget:
        key = budget_key(self.spec.exchange_id, self._host, group)
        return WeightBudget(key, limit_per_minute=limit, window_s=self._weight_window_s)

    def _after_request(
        self,
        budget: WeightBudget,
        group: str,
        method: str,
        path: str,
        status: int | None,
        weight: int,
        ms: float,
        error: str | None,
        window_ms: int | None = None,
        *,
        headers: Mapping[str, Any] | None = None,
        sent_ms: int | None = None,
    ) -> None:
        """Budget bookkeeping from the response's headers, and the request log's line.

        ``headers``: the response's own (:meth:`_request_many` keeps each one's); default the client's last.
        """
        if status is not None:  # a response arrived: its headers are this request's, not a previous one's
            if headers is None:
                headers = getattr(self._ex, "last_response_headers", None) or {}
            headers = {str(k).lower(): v for k, v in headers.items()}
            used = headers.get("x-sapi-used-ip-weight-1m" if group == "sapi" else "x-mbx-used-weight-1m")
            retry_after = headers.get("retry-after")
            # The server's count only ever raises ours. While it is under half the machine's share the
            # budget cannot be overrun by what we have not synced yet (at most that half), so the file
            # transaction is skipped on the fast path; from half the share on, every response syncs.
            if (used and int(used) * 2 >= budget.capacity) or status in (429, 418):
                budget.observe(
                    int(used) if used else None,
                    status=status,
                    retry_after_s=float(retry_after) if retry_after else None,
                    window_start_ms=window_ms,
                )
        self.requests.write(
            method,
            path,
            status,
            weight=weight,
            latency_ms=round(ms, 2),
            error=error,
            venue=self.venue,
            key=self.fingerprint,
            **({"sent_ms": sent_ms} if sent_ms is not None else {}),
        )

    def _note_failure(self, op: str, exc: KitError) -> None:
        self._failures += 1
        _log.warning("%s on %s failed after retries: %s", op, self.venue, type(exc).__name__)
        self.journal.append(
            "error",
            venue=self.venue,
            account=self.account,
            stage=self.stage.value,
            op=op,
            error_class=type(exc).__name__,
            message=str(exc)[:500],
        )
        if self.degraded is None:
            self.degraded = (
                f"{op} failed after {self._backoff.max_tries} tries ({type(exc).__name__}); new orders paused"
            )
            self.journal.append(
                "stage",
                venue=self.venue,
                account=self.account,
                stage=self.stage.value,
                from_stage=self.stage.value,
                to_stage="degraded",
                reason=self.degraded,
            )

    def _note_success(self) -> None:
        self._failures = 0
        if self.degraded is not None:
            self.journal.append(
                "stage",
                venue=self.venue,
                account=self.account,
                stage=self.stage.value,
                from_stage="degraded",
                to_stage=self.stage.value,
                reason="requests succeed again",
            )
            self.degraded = None

    def order_window_ms(self, *, margin_ms: int = 2_000) -> int:
        """How long after its intent an order may still appear on the exchange.

        The exchange refuses a signed request whose timestamp is older than ``recvWindow``, and the
        timestamp is taken after the intent is journaled; so once ``recvWindow`` plus the clock's
        error (offset, round trip, Binance's 1 s "ahead" allowance) plus a margin has passed, an
        order that is not on the exchange never will be.
        """
        from kit.transport.clock import AHEAD_LIMIT_MS

        recv = int((getattr(self._ex, "options", None) or {}).get("recvWindow") or 10_000)
        rep = self.clock_report
        clock_err = (abs(rep.offset_ms) + rep.rtt_ms) if rep is not None else 5_000
        return recv + AHEAD_LIMIT_MS + clock_err + margin_ms

    def _j(self, kind: str, **fields: Any) -> int:
        return self.journal.append(kind, venue=self.venue, account=self.account, stage=self.stage.value, **fields)

    # -- fills ---------------------------------------------------------------------------------
    def _client_id_of(self, order_id: str) -> str:
        """Our client id of an exchange order id, from the journal's acks (trade lists carry no client id).

        A fill journaled with its client id belongs to its order whatever its timestamp: the exchange's
        trade time may sort before our (local-clock) ack when the clocks differ.
        """
        if order_id and order_id not in self._client_ids:
            for e in self.journal.events(kinds=["ack", "resolved"], venue=self.venue):
                if e.order_id and e.client_id and e.account == self.account:
                    self._client_ids[e.order_id] = e.client_id
            # not ours (placed elsewhere): remember that too; our own orders enter the map in _ack
            self._client_ids.setdefault(order_id, "")
        return self._client_ids.get(order_id, "")

    def _record_trade(self, t: dict[str, Any], client_id: str | None = None) -> bool:
        fee = t.get("fee") or {}
        order_id = str(t.get("order") or "")
        new = self.journal.record_fill(
            venue=self.venue,
            account=self.account,
            stage=self.stage.value,
            symbol=t.get("symbol") or "",
            client_id=client_id
            or str((t.get("info") or {}).get("clientOrderId") or "")
            or self._client_id_of(order_id),
            order_id=order_id,
            trade_id=str(t.get("id")),
            side=t.get("side") or "",
            price=Decimal(str(t.get("price"))),
            amount=Decimal(str(t.get("amount"))),
            fee_cost=Decimal(str(fee.get("cost") or 0)),
            fee_currency=fee.get("currency") or "",
            ts_ms=int(t.get("timestamp") or now_ms()),
        )
        if new:  # a fill adds to the free balance (a buy's base, a sell's quote): the funds check reads it again
            self._free_cache = None
        return new


class ExchangeApi:
    """The public request seam of a Session: the exchange through its budget, error map and journal.

    Every module that talks to the exchange on a Session's behalf (the candle source, the fill
    sweep, the private streams, the health probe, reconciliation) does it through this object,
    never through the Session's private attributes. One :meth:`call` is one REST request: it
    takes its weight from the rate budget shared by every process of the machine, maps ccxt's
    exceptions into the :class:`~kit.errors.KitError` tree (secrets redacted), writes the request
    log, retries a read on transient errors with jittered backoff, and keeps the Session's
    degradation flag. Whether the request changes state on the venue is said with ``write=``:
    a write that fails in transit is :class:`~kit.errors.OrderUnknown` and is never retried.

    Get it as ``session.api``; the Session builds one per connection.

    Examples
    --------
    >>> api = kit.Session("localnet").api                                      # doctest: +SKIP
    >>> api.call("fetch_ticker", lambda ex: ex.fetch_ticker("BTC/USDT"), method="GET",
    ...          path="/api/v3/ticker/24hr", params={"symbol": "BTC/USDT"}, symbol="BTC/USDT",
    ...          write=False)["last"]                                          # doctest: +SKIP
    60012.5
    >>> api.journal("note", text="rebalanced")                                 # doctest: +SKIP
    """

    def __init__(self, session: SessionBase) -> None:
        self._s = session
        self._helpers: dict[str, Any] = {}
        self._on_close: list[Callable[[], None]] = []

    def __repr__(self) -> str:
        return f"ExchangeApi({self._s.venue!r})"

    # -- requests --------------------------------------------------------------------------------
    def call(
        self,
        op: str,
        fn: Callable[[Any], Coroutine[Any, Any, T]],
        *,
        method: str,
        path: str,
        write: bool,
        params: dict[str, Any] | None = None,
        symbol: str | None = None,
        weight: int | None = None,
        retry: bool | None = None,
    ) -> T:
        """Send one request through the Session's request path and return ccxt's answer.

        Parameters
        ----------
        op
            The operation's name, for errors, logs and the journal (a ccxt method name by convention).
        fn
            Called with the ccxt client; returns the coroutine that sends the request
            (``lambda ex: ex.fetch_time()``). It runs on the Session's background loop.
        method, path
            The HTTP method and the exchange's REST path (``"GET"``, ``"/api/v3/klines"``): they pick
            the rate-budget group and the request's weight.
        write
            True when the request may change state on the venue (an order, a cancel, a transfer).
            It decides the error mapping (a write lost in transit is ``OrderUnknown``, a read
            ``ExchangeUnavailable``) and that the request is never retried.
        params
            The request's wire parameters that its weight depends on (``symbol``, ``limit``...).
        symbol
            Context for a mapped error.
        weight
            The request's weight, when the kit's weight table cannot know it (default: from the table).
        retry
            Retry transient errors with the Session's backoff. Default: reads yes, writes no; a write
            cannot be retried (``ConfigError``). A read that fails after every retry marks the Session
            degraded (new orders pause until a request succeeds).

        Returns
        -------
        Whatever the coroutine returns (ccxt's unified structure).

        Raises
        ------
        KitError
            The mapped error (see :mod:`kit.transport.ccxt_errors`).
        ConfigError
            ``retry=True`` with ``write=True``, before anything is sent.

        Examples
        --------
        >>> ms = session.api.call("fetch_time", lambda ex: ex.fetch_time(), method="GET",
        ...                       path="/api/v3/time", write=False, retry=False)   # doctest: +SKIP
        """
        if not isinstance(write, bool):
            raise ConfigError(
                f"{op}: write= must be True or False, not {type(write).__name__}",
                hint="Say whether the request can change state on the venue: write=True or write=False.",
            )
        if retry is None:
            retry = not write
        if write and retry:
            raise ConfigError(
                f"{op}: a write is never retried",
                hint="Drop retry=True: a write lost in transit may have happened; reconcile instead.",
            )
        ex = self._s._ex
        return self._s._request(
            op, method, path, lambda: fn(ex), params=params, write=write, retry=retry, symbol=symbol, weight=weight
        )

    def call_many(
        self,
        op: str,
        fns: Sequence[Callable[[Any], Coroutine[Any, Any, Any]]],
        *,
        method: str,
        path: str,
        write: bool,
        params: Sequence[dict[str, Any] | None] | None = None,
        symbols: Sequence[str | None] | None = None,
    ) -> list[Any]:
        """Send several requests of one endpoint together (one hand-off to the loop, no thread each).

        Each request goes through what :meth:`call` does (budget, error map, request log; a read that
        fails is retried as :meth:`call` retries it, a write never), but the coroutines run on the
        Session's loop at once: ten klines or ten orders leave within a few milliseconds of each other
        instead of taking turns through ten threads. ``params`` and ``symbols`` are per request, as
        :meth:`call` takes them. Returns one entry per request, in order: ccxt's answer, or the
        :class:`~kit.errors.KitError` it failed with (returned, not raised).

        >>> rows = session.api.call_many(
        ...     "fetch_ohlcv", [lambda ex, s=s: ex.fetch_ohlcv(s, "1m", None, 3) for s in ("BTC/USDT", "ETH/USDT")],
        ...     method="GET", path="/api/v3/klines", write=False)                    # doctest: +SKIP
        """
        if not isinstance(write, bool):
            raise ConfigError(
                f"{op}: write= must be True or False, not {type(write).__name__}",
                hint="Say whether the request can change state on the venue: write=True or write=False.",
            )
        n = len(fns)
        ps = list(params) if params is not None else [None] * n
        ss = list(symbols) if symbols is not None else [None] * n
        if len(ps) != n or len(ss) != n:
            raise ConfigError(f"{op}: {n} requests but {len(ps)} params and {len(ss)} symbols",
                              hint="Give one params dict and one symbol per request (or none).")  # fmt: skip
        ex = self._s._ex
        calls = [((lambda fn=fn: fn(ex)), p, sym) for fn, p, sym in zip(fns, ps, ss, strict=True)]
        return self._s._request_many(op, method, path, calls, write=write)

    async def stream(self, op: str, fn: Callable[[Any], Coroutine[Any, Any, T]]) -> T:
        """Await one WebSocket message (``lambda ex: ex.watch_orders()``) with ccxt's errors mapped.

        Streams carry no request weight; this only maps (and redacts) what breaks. Await it on the
        Session's loop (:meth:`submit`).
        """
        with ccxt_errors(op, exchange=self._s._ex, write=False):
            return await fn(self._s._ex)

    # -- what the client knows without a request ---------------------------------------------------
    @property
    def exchange_id(self) -> str:
        """The exchange's ccxt id (``"binance"`` for localnet too)."""
        return self._s.spec.exchange_id

    @property
    def markets(self) -> dict[str, Any]:
        """The loaded ccxt markets by unified symbol (loaded at connect; no request)."""
        return cast(dict[str, Any], self._s._ex.markets or {})

    @property
    def features(self) -> dict[str, Any]:
        """The exchange's ``features`` as ccxt describes them."""
        return cast(dict[str, Any], self._s._ex.features or {})

    @property
    def client_class(self) -> type:
        """The class of the Session's ccxt client (ccxt.pro's), to open a keyless client on the same venue."""
        return type(self._s._ex)

    def timeframes(self) -> dict[str, int]:
        """Timeframes the exchange serves, in milliseconds (no request)."""
        ex = self._s._ex
        return {tf: int(ex.parse_timeframe(tf) * 1000) for tf in (ex.timeframes or {})}

    # -- the Session's loop and journal ------------------------------------------------------------
    @property
    def running(self) -> bool:
        """True while the Session is open (its background loop runs)."""
        loop = getattr(self._s, "_loop", None)
        return loop is not None and loop.running

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        """Run ``coro`` on the Session's background loop without waiting (streams)."""
        return self._s._loop.submit(coro)

    def journal(self, kind: str, **fields: Any) -> int:
        """Append a journal event stamped with this Session's venue, account and stage; returns its id."""
        return self._s._j(kind, **fields)

    def record_trade(self, trade: dict[str, Any], client_id: str | None = None) -> bool:
        """Journal one ccxt trade as a fill, exactly once (False when the journal had it already)."""
        return self._s._record_trade(trade, client_id)

    # -- helpers bound to the Session ----------------------------------------------------------------
    def helper(self, name: str, factory: Callable[[], H], *, on_close: Callable[[H], None] | None = None) -> H:
        """The Session's one ``name`` helper (its private streams, its health probe), made on first use.

        ``on_close(helper)`` runs when the Session closes, before the exchange connection does.

        >>> probe = session.api.helper("health_probe", lambda: HealthProbe(session))   # doctest: +SKIP
        """
        if name not in self._helpers:
            made = factory()
            self._helpers[name] = made
            if on_close is not None:
                self._on_close.append(lambda: on_close(made))
        return cast(H, self._helpers[name])

    def helper_named(self, name: str) -> Any:
        """The helper made under ``name``, or None."""
        return self._helpers.get(name)

    def close_helpers(self) -> None:
        """Run the helpers' ``on_close`` hooks, last made first (the Session's ``close`` calls it)."""
        while self._on_close:
            hook = self._on_close.pop()
            try:
                hook()
            except Exception:  # closing is best effort; the connection must still close
                _log.exception("closing a session helper failed")
