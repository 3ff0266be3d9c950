"""The Session: the one door to an exchange.

Every call goes through the same path: guard (kill switch, stage, caps, checked before any
request) -> validation against the market's filters -> the shared rate budget -> the real ccxt
client, with errors mapped into the kit's tree -> the journal. Orders are journaled before they
are sent, never resent automatically, and a lost acknowledgement leaves an explicit UNKNOWN
order that is resolved by its client order id. Positions come from fills only.

>>> import kit
>>> s = kit.Session("localnet")                                # doctest: +SKIP
>>> s.balances()                                               # doctest: +SKIP
>>> s.place("BTC/USDT", "buy", "0.001", price="50000")         # doctest: +SKIP
>>> s.journal.frame("fill")                                    # doctest: +SKIP
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Coroutine
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pandas as pd

from kit import secrets as kit_secrets
from kit.backoff import Backoff, retry_read
from kit.ccxt_errors import ccxt_errors
from kit.clock import ClockReport, check_clock, measure_clock
from kit.errors import ExchangeUnavailable, KillSwitchEngaged, KitError, OrderUnknown, PermissionRefused, StageError
from kit.guard import Caps, EvidenceRule, Guard
from kit.journal import Journal
from kit.killswitch import KillSwitch
from kit.limits import WeightBudget, budget_key, default_limit_per_minute, endpoint_group, endpoint_weight
from kit.logs import RequestLog
from kit.session import frames
from kit.session.loop import BackgroundLoop
from kit.session.orders import OrderIntent, client_order_id, features_for, to_ccxt, validate
from kit.session.preflight import Preflight, judge, unknown
from kit.session.venues import VenueSpec, build_client, find_or_start_localnet, resolve
from kit.stages import Stage

if TYPE_CHECKING:
    from kit.session.candles import SessionCandles

T = TypeVar("T")
DAY_MS = 86_400_000


def _now_ms() -> int:
    return int(time.time() * 1000)


#: ``state_at`` time for "everything journaled so far": fills carry the exchange's trade time, which
#: can be ahead of the local clock (offset, or a simulated clock on localnet).
_LATEST_MS = 2**62


def _recorded_limit(budget: WeightBudget) -> int | None:
    """The limit another process recorded in a shared budget file, if any (read without locking)."""
    try:
        value = json.loads(budget.path.read_text()).get("limit")
    except (OSError, ValueError, AttributeError):
        return None
    return int(value) if isinstance(value, int) and value > 0 else None


class Session:
    """A connection to one exchange account, with the kit's safety rules built in.

    Parameters
    ----------
    exchange:
        ``"localnet"`` (the offline exchange, found or started), a ccxt id such as ``"binance"``,
        or ``"binance-testnet"``.
    stage:
        ``read_only``, ``testnet`` (sandbox endpoints only), ``live_small`` (caps, and journaled
        testnet evidence to enter) or ``live``. Default: ``testnet`` on localnet, else
        ``read_only``.
    account:
        Name under which this account's events are journaled.
    journal:
        A :class:`~kit.journal.Journal` or a path; default ``$KIT_HOME/journal.sqlite``.
    caps, evidence:
        Stage caps and the evidence rule for ``live_small``/``live``.
    allow_withdraw_key:
        Accept a key that can withdraw, in ``read_only`` only. Never needed for trading.
    weight_limit, weight_window_s:
        The exchange's request-weight limit per window (default: what the exchange publishes) and the
        window's length; only a localnet running faster than real time needs another window.
    backoff:
        Retry schedule for reads (default :class:`~kit.backoff.Backoff`); orders are never retried.

    Keys are never arguments: they come from the environment (``KIT_<EXCHANGE>_<STAGE>_API_KEY``
    / ``_API_SECRET``), a ``.env`` file or the OS keyring (see :mod:`kit.secrets`).

    Examples
    --------
    >>> s = Session("localnet")                      # doctest: +SKIP
    >>> s.stage, s.clock_report.offset_ms            # doctest: +SKIP
    (<Stage.TESTNET: 'testnet'>, 0)
    """

    def __init__(
        self,
        exchange: str = "localnet",
        *,
        stage: Stage | str | None = None,
        account: str = "default",
        journal: Journal | str | Path | None = None,
        caps: Caps | None = None,
        evidence: EvidenceRule | None = None,
        kill_switch: KillSwitch | None = None,
        allow_withdraw_key: bool = False,
        key_age_warn_days: int = 180,
        key_age_refuse_days: int = 365,
        clock_warn_ms: int = 250,
        weight_limit: int | None = None,
        weight_window_s: float = 60.0,
        backoff: Backoff | None = None,
        dotenv: str | Path | None = ".env",
        **unexpected: Any,
    ) -> None:
        kit_secrets.refuse_secret_params(unexpected, "Session()")
        if unexpected:
            raise TypeError(f"Session() got unexpected arguments: {sorted(unexpected)}")
        self.spec: VenueSpec = resolve(exchange, Stage.parse(stage) if stage is not None else None)
        self.stage = self.spec.stage
        self.account = account
        self.venue = self.spec.name if not self.spec.sandbox or self.spec.is_localnet else f"{self.spec.name}-testnet"
        own_journal = not isinstance(journal, Journal)
        self.journal = journal if isinstance(journal, Journal) else Journal(journal or Journal.default_path())
        self.kill_switch = kill_switch or KillSwitch()
        self.session_id = uuid.uuid4().hex[:12]
        self.warnings: list[str] = []
        self.degraded: str | None = None
        self._failures = 0
        self._last_price: dict[str, Decimal] = {}
        self._client_ids: dict[str, str] = {}
        self._weight_limit = weight_limit
        self._weight_window_s = float(weight_window_s)
        self._backoff = backoff or Backoff()
        self._budgets: dict[str, WeightBudget] = {}
        self.requests = RequestLog(Path(self.journal.path).parent / "logs")
        self.clock_report: ClockReport | None = None
        self.preflight: Preflight | None = None
        self._ids = 0
        self._allow_withdraw_key = allow_withdraw_key
        self._age = (key_age_warn_days, key_age_refuse_days)
        self._clock_warn_ms = clock_warn_ms
        self.url: str | None = None
        self.fingerprint: str | None = None
        self._creds: kit_secrets.Credentials | None = None
        try:
            # The stage gate and the credentials are local checks: both run before anything is sent,
            # so a session that may not trade never reaches the exchange (and needs no network to say so).
            self.guard = Guard(
                self.stage,
                sandbox=self.spec.sandbox,
                caps=caps or Caps.for_stage(self.stage),
                journal=self.journal,
                kill_switch=self.kill_switch,
                evidence=evidence or EvidenceRule(),
                venue=self.venue,
                account=account,
            )
            symbols = sorted(self.guard.caps.symbols) if self.guard.caps.symbols else []
            self.guard.check_stage(symbols=symbols, now_ms=_now_ms())
            url, keys_file = None, None
            if self.spec.is_localnet:
                url, keys_file, self.venue = find_or_start_localnet()
                self.guard.venue = self.venue
            self.url = url
            cred_name = "localnet" if self.spec.is_localnet else self.spec.exchange_id
            source = keys_file if keys_file is not None else dotenv
            self._creds = (
                kit_secrets.require_credentials(cred_name, self.stage, dotenv=source)
                if self.stage.allows_orders
                else kit_secrets.load_credentials(cred_name, self.stage, dotenv=source)
            )
            self.fingerprint = self._creds.fingerprint if self._creds else None
            self._loop = BackgroundLoop()
            self._ex = build_client(
                self.spec,
                self._creds.api_key.reveal() if self._creds else None,
                self._creds.secret.reveal() if self._creds else None,
                url=url,
            )
            self._host = url or str(self._ex.urls["api"].get("public") or self.spec.exchange_id)
            # ccxt's DEBUG records show each request's headers (the API key) and signed URL: scrub them at
            # the source, whatever handlers a notebook adds (the key is a live Secret, so it is masked).
            kit_secrets.install_redaction(getattr(self._ex, "logger", None) or "ccxt.base.exchange")
            self._connect()
        except BaseException:
            self.close()
            if own_journal:
                self.journal.close()
            raise

    # -- plumbing --------------------------------------------------------------------------------
    def __repr__(self) -> str:
        key = f"key={self.fingerprint}" if self.fingerprint else "no key"
        return f"Session({self.venue!r}, stage={self.stage.value!r}, account={self.account!r}, {key})"

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
        """One exchange request through the budget, error mapping, request log and (reads) retries."""
        group = endpoint_group(self.spec.exchange_id, path)
        budget = self._budget(group)

        def once() -> T:
            weight = endpoint_weight(self.spec.exchange_id, method, path, params or {})
            budget.acquire(weight)
            t0 = time.perf_counter()
            status: int | None = None
            error = None
            try:
                with ccxt_errors(op, symbol=symbol, exchange=self._ex, budget=budget):
                    result = self._run(fn())
                status = 200
                return result
            except KitError as exc:
                error = type(exc).__name__
                status = getattr(exc, "status", None)
                raise
            finally:
                ms = (time.perf_counter() - t0) * 1000
                self._after_request(budget, group, method, path, status, weight, ms, error)

        try:
            result = retry_read(once, backoff=self._backoff, op=op) if read else once()
        except ExchangeUnavailable as exc:
            if read:  # a read that failed after every retry: the exchange is down for us, pause orders
                self._note_failure(op, exc)
            raise
        self._note_success()
        return result

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
                recorded = _recorded_limit(budget)
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
    ) -> None:
        if status is not None:  # a response arrived: its headers are this request's, not a previous one's
            headers = {str(k).lower(): v for k, v in (getattr(self._ex, "last_response_headers", None) or {}).items()}
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
        )

    def _note_failure(self, op: str, exc: KitError) -> None:
        self._failures += 1
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

    def _j(self, kind: str, **fields: Any) -> int:
        return self.journal.append(kind, venue=self.venue, account=self.account, stage=self.stage.value, **fields)

    # -- connect ---------------------------------------------------------------------------------
    def _connect(self) -> None:
        ex = self._ex
        # ccxt keeps the raw exchangeInfo (with its published rateLimits) only when asked to.
        ex.enableLastJsonResponse = True
        try:
            self._call("load_markets", "GET", "/api/v3/exchangeInfo", lambda: ex.load_markets())
            info = getattr(ex, "last_json_response", None)
            self._exchange_info = {"rateLimits": info.get("rateLimits", [])} if isinstance(info, dict) else None
        finally:
            ex.enableLastJsonResponse = False
            ex.last_json_response = None
        provisional = self._budgets.get("api")
        if provisional is not None and self._weight_limit is None:
            published = self._read_weight_limit()
            if published != provisional.limit:  # now the exchange's own figure is known
                self._budgets["api"] = self._new_budget("api", published)
        self._j("session", session_id=self.session_id, url=self.url or "", fingerprint=self.fingerprint or "none")
        self.measure_clock()
        self.preflight = self._preflight()
        self._j(
            "preflight",
            fingerprint=self.fingerprint or "none",
            permissions=self.preflight.permissions,
            ip_restricted=self.preflight.ip_restricted,
            key_age_days=self.preflight.key_age_days,
            verdict=self.preflight.verdict,
            warnings=list(self.preflight.warnings),
            refusals=list(self.preflight.refusals),
            source=self.preflight.source,
        )
        self.warnings += list(self.preflight.warnings)
        if self.preflight.refusals:
            raise PermissionRefused("; ".join(self.preflight.refusals))
        self._j("stage", from_stage="", to_stage=self.stage.value, reason="session start")

    def _read_weight_limit(self) -> int:
        info = getattr(self, "_exchange_info", None) or {}
        for rule in info.get("rateLimits", []) if isinstance(info, dict) else []:
            if rule.get("rateLimitType") == "REQUEST_WEIGHT" and rule.get("interval") == "MINUTE":
                return int(rule["limit"]) // max(1, int(rule.get("intervalNum", 1)))
        return 6000 if self.spec.exchange_id == "binance" else 1200

    def _preflight(self) -> Preflight:
        if self._creds is None:
            return unknown(self.spec.exchange_id, "no API key loaded (public data only)")
        if self.spec.exchange_id != "binance" or (self.spec.sandbox and not self.spec.is_localnet):
            why = "Binance's testnet has no permission endpoint" if self.spec.sandbox else "ccxt exposes no endpoint"
            return unknown(self.spec.exchange_id, why)
        ex = self._ex
        raw = self._call(
            "preflight", "GET", "/sapi/v1/account/apiRestrictions", lambda: ex.sapi_get_account_apirestrictions()
        )
        return judge(
            raw,
            stage=self.stage.value,
            now_ms=_now_ms(),
            allow_withdraw_key=self._allow_withdraw_key,
            warn_age_days=self._age[0],
            refuse_age_days=self._age[1],
        )

    def measure_clock(self, samples: int = 5) -> ClockReport:
        """Measure clock offset and round trip against the exchange; journal it; warn or refuse."""
        ex = self._ex
        report = measure_clock(
            lambda: int(self._call("fetch_time", "GET", "/api/v3/time", lambda: ex.fetch_time())),
            samples=samples,
            now_ms=_now_ms,
        )
        self.clock_report = report
        self._j("clock", offset_ms=report.offset_ms, rtt_ms=report.rtt_ms)
        recv = int(self._ex.options.get("recvWindow") or 10_000)
        self.warnings += check_clock(report, warn_ms=self._clock_warn_ms, recv_window_ms=recv)
        return report

    # -- reads -----------------------------------------------------------------------------------
    def markets(self) -> pd.DataFrame:
        """Tradable symbols with tick, step and minimums."""
        rows = [
            {
                "symbol": m["symbol"],
                "base": m["base"],
                "quote": m["quote"],
                "active": m.get("active"),
                "tick": m["precision"].get("price"),
                "step": m["precision"].get("amount"),
                "min_amount": m["limits"]["amount"].get("min"),
                "min_cost": m["limits"]["cost"].get("min"),
            }
            for m in self._ex.markets.values()
        ]
        return pd.DataFrame(rows).set_index("symbol")

    def balances(self) -> pd.DataFrame:
        """Balances (free, used, total) from the exchange; also journaled as a snapshot."""
        ex = self._ex
        bal = self._call("fetch_balance", "GET", "/api/v3/account", lambda: ex.fetch_balance())
        snap = {
            a: {"free": str(bal["free"].get(a)), "used": str(bal["used"].get(a)), "total": str(t)}
            for a, t in bal["total"].items()
            if t
        }
        self._j("balance", balances=snap)
        return frames.balances_frame(bal)

    def ticker(self, symbol: str) -> dict[str, Any]:
        """Last price, bid and ask of ``symbol``."""
        ex = self._ex
        t = self._call(
            "fetch_ticker",
            "GET",
            "/api/v3/ticker/24hr",
            lambda: ex.fetch_ticker(symbol),
            params={"symbol": symbol},
            symbol=symbol,
        )
        if t.get("last") is not None:
            self._last_price[symbol] = Decimal(str(t["last"]))
        return t

    def open_orders(self, symbol: str | None = None) -> pd.DataFrame:
        """Open orders (all symbols when ``symbol`` is None)."""
        ex = self._ex
        params = {"symbol": symbol} if symbol else {}
        rows = self._call(
            "fetch_open_orders",
            "GET",
            "/api/v3/openOrders",
            lambda: ex.fetch_open_orders(symbol),
            params=params,
            symbol=symbol,
        )
        return frames.orders_frame(rows)

    def trades(self, symbol: str, since: int | None = None, limit: int | None = None) -> pd.DataFrame:
        """Your fills in ``symbol`` from the exchange; new ones are journaled (exactly once)."""
        ex = self._ex
        rows = self._call(
            "fetch_my_trades",
            "GET",
            "/api/v3/myTrades",
            lambda: ex.fetch_my_trades(symbol, since, limit),
            params={"symbol": symbol},
            symbol=symbol,
        )
        for t in rows:
            self._record_trade(t)
        return frames.trades_frame(rows)

    def order(self, symbol: str, *, order_id: str | None = None, client_id: str | None = None) -> dict[str, Any]:
        """One order by exchange id or client order id."""
        ex = self._ex
        params = {"clientOrderId": client_id} if client_id else {}
        return self._call(
            "fetch_order",
            "GET",
            "/api/v3/order",
            lambda: ex.fetch_order(order_id, symbol, params),
            params={"symbol": symbol},
            symbol=symbol,
        )

    def candles(
        self, symbol: str, timeframe: str = "1m", start: Any = None, end: Any = None, *,
        limit: int = 500, root: str | Path = "data", fill: Any = None, progress: bool = True,
    ) -> pd.DataFrame:  # fmt: skip
        """Candles with open time in ``[start, end)``, through the candle store (:class:`kit.Store`).

        Only ranges not yet stored under ``root`` are fetched, through this Session's rate
        budget; gaps stay visible (NaN rows) unless ``fill`` is ``"drop"`` or ``"ffill"``.
        Without ``start``, the last ``limit`` candles come straight from the exchange, uncached.

        Examples
        --------
        >>> s.candles("BTC/USDT", "1m", pd.Timestamp("2024-01-01", tz="UTC"))   # doctest: +SKIP
        """
        if start is None:
            ex = self._ex
            rows = self._call(
                "fetch_ohlcv", "GET", "/api/v3/klines", lambda: ex.fetch_ohlcv(symbol, timeframe, None, limit),
                params={"symbol": symbol, "limit": limit}, symbol=symbol,
            )  # fmt: skip
            return frames.candles_frame(rows)
        from kit.store import Store

        return Store(root).candles(symbol, timeframe, start, end, source=self.candle_source(), fill=fill,
                                   progress=progress)  # fmt: skip

    def candle_source(self) -> SessionCandles:
        """The candle source :mod:`kit.store` reads through (same budget, retries and error mapping)."""
        from kit.session.candles import SessionCandles

        return SessionCandles(self)

    def market(self, symbol: str) -> dict[str, Any] | None:
        """Ccxt's market structure for ``symbol`` (tick, step, limits, fees), or ``None``; no request."""
        market: dict[str, Any] | None = self._ex.markets.get(symbol)
        return market

    def features(self) -> dict[str, Any]:
        """What this exchange supports for spot orders (ccxt's ``features`` with the kit's overrides)."""
        return features_for(self.spec.exchange_id, self._ex.features)

    def last_price(self, symbol: str) -> Decimal | None:
        """The last price seen for ``symbol`` (from :meth:`ticker`), without a request."""
        return self._last_price.get(symbol)

    def today(self) -> dict[str, Any]:
        """Open orders, notional sent and PnL today (UTC), from the journal: what the guard's caps see."""
        return self._today()

    def positions(self) -> dict[str, Decimal]:
        """Net base position per symbol, from journaled fills (never from order placement)."""
        return dict(self.journal.state_at(_LATEST_MS, venue=self.venue, account=self.account).positions)

    def status(self) -> dict[str, Any]:
        """Stage, clock, rate budget, kill switch and degradation, for a status bar or report."""
        return {
            "venue": self.venue,
            "stage": self.stage.value,
            "key": self.fingerprint,
            "clock_offset_ms": self.clock_report.offset_ms if self.clock_report else None,
            "clock_rtt_ms": self.clock_report.rtt_ms if self.clock_report else None,
            "budget": self.budget.status() if self.budget else None,
            "kill_switch": self.kill_switch.engaged(),
            "degraded": self.degraded,
            "warnings": list(self.warnings),
        }

    # -- orders ----------------------------------------------------------------------------------
    def buy(self, symbol: str, amount: Any, *, price: Any = None, **kw: Any) -> dict[str, Any]:
        """Buy ``amount`` of ``symbol`` at market, or at limit ``price``; see :meth:`place`."""
        return self.place(symbol, "buy", amount, price=price, **kw)

    def sell(self, symbol: str, amount: Any, *, price: Any = None, **kw: Any) -> dict[str, Any]:
        """Sell ``amount`` of ``symbol`` at market, or at limit ``price``; see :meth:`place`."""
        return self.place(symbol, "sell", amount, price=price, **kw)

    def place(
        self,
        symbol: str,
        side: str,
        amount: Any,
        *,
        price: Any = None,
        type: str | None = None,
        trigger_price: Any = None,
        trailing_bps: int | None = None,
        time_in_force: str = "GTC",
        post_only: bool = False,
        reduce_only: bool = False,
        iceberg_amount: Any = None,
    ) -> dict[str, Any]:
        """Place one order, after every check, journaling it before it is sent.

        Returns ccxt's unified order. Raises a :class:`~kit.errors.GuardRefused` or
        :class:`~kit.errors.OrderRejected` before any request for bad input or a guard rule, and
        :class:`~kit.errors.OrderUnknown` if the outcome could not be established (the order is
        then journaled as UNKNOWN; resolve it with :meth:`resolve`, never by resending).
        """
        self._check_kill_switch()
        if not self.stage.allows_orders:
            raise StageError("orders are not allowed in the read_only stage", symbol=symbol)
        it = OrderIntent.build(
            symbol,
            side,
            amount,
            price=price,
            type=type,
            trigger_price=trigger_price,
            trailing_bps=trailing_bps,
            time_in_force=time_in_force,
            post_only=post_only,
            reduce_only=reduce_only,
            iceberg_amount=iceberg_amount,
        )
        market = self._ex.markets.get(symbol)
        validate(
            it, market, features_for(self.spec.exchange_id, self._ex.features), last_price=self._last_price.get(symbol)
        )
        ref = it.price or it.trigger_price or self._last_price.get(symbol)
        if ref is None and self.guard.caps.max_order_notional is not None:
            ref = Decimal(str(self.ticker(symbol)["last"]))
        notional = it.amount * ref if ref is not None else Decimal(0)
        if self.degraded:
            raise ExchangeUnavailable(
                f"session degraded: {self.degraded}",
                symbol=symbol,
                hint="No request was sent. The session resumes by itself when a read succeeds again (e.g. "
                "session.ticker(...)); check session.status().",
            )
        day = self._today()
        self.guard.check_order(
            symbol=symbol,
            side=it.side,
            amount=it.amount,
            price=it.price,
            notional=notional,
            open_orders=day["open_orders"],
            daily_notional=day["notional"],
            daily_pnl=day["pnl"],
            now_ms=_now_ms(),
        )
        if self.clock_report is not None:
            recv = int(self._ex.options.get("recvWindow") or 10_000)
            check_clock(self.clock_report, warn_ms=self._clock_warn_ms, recv_window_ms=recv)
        cid = self._next_client_id()
        kind, side_, amt, px, params = to_ccxt(it, cid)
        self._j(
            "intent",
            symbol=symbol,
            client_id=cid,
            side=it.side,
            type=it.type,
            amount=it.amount,
            price=it.price,
            trigger_price=it.trigger_price,
            notional=notional,
            params={k: v for k, v in params.items()},
        )
        ex = self._ex
        try:
            order = self._call(
                "create_order",
                "POST",
                "/api/v3/order",
                lambda: ex.create_order(symbol, kind, side_, amt, px, params),
                read=False,
                symbol=symbol,
            )
        except OrderUnknown as exc:  # lost in transit: it may or may not be on the exchange
            self._j("unknown", symbol=symbol, client_id=cid, reason=f"{exc.__class__.__name__}: {exc}"[:300])
            return self.resolve(cid, symbol=symbol, error=exc)
        except KitError as exc:
            self._j(
                "resolved",
                symbol=symbol,
                client_id=cid,
                status="rejected",
                how=exc.__class__.__name__,
                message=str(exc)[:300],
            )
            raise
        self._ack(order, cid, symbol)
        return order

    def resolve(self, client_id: str, *, symbol: str, error: BaseException | None = None) -> dict[str, Any]:
        """Establish what happened to an order whose outcome is unknown, by its client order id.

        Never resends. If the exchange has the order, it is journaled as acknowledged and
        returned; if the exchange says it does not exist, it is journaled as not placed and
        :class:`~kit.errors.OrderUnknown` is raised saying it is safe to place again.
        """
        from kit.errors import OrderRejected

        try:
            order = self.order(symbol, client_id=client_id)
        except OrderUnknown:
            self._j("resolved", symbol=symbol, client_id=client_id, status="not_placed", how="lookup by client id")
            raise OrderUnknown(
                f"order {client_id} was not placed (the exchange has no such order)",
                symbol=symbol,
                order_id=client_id,
                hint="Nothing is working on the exchange; you may place it again.",
            ) from error
        except (ExchangeUnavailable, OrderRejected) as exc:
            raise OrderUnknown(
                f"the outcome of order {client_id} is unknown and could not be looked up",
                symbol=symbol,
                order_id=client_id,
            ) from exc
        self._j(
            "resolved",
            symbol=symbol,
            client_id=client_id,
            order_id=str(order.get("id")),
            status=str(order.get("status")),
            how="lookup by client id",
        )
        self._ack(order, client_id, symbol)
        return order

    def _ack(self, order: dict[str, Any], cid: str, symbol: str) -> None:
        if order.get("id") is not None:
            self._client_ids[str(order["id"])] = cid
        self._j(
            "ack",
            symbol=symbol,
            client_id=cid,
            order_id=str(order.get("id")),
            status=str(order.get("status")),
            filled=order.get("filled"),
            average=order.get("average"),
        )
        for t in order.get("trades") or []:
            full = {
                **t,
                "order": t.get("order") or order.get("id"),
                "symbol": symbol,
                "side": t.get("side") or order.get("side"),
                "timestamp": t.get("timestamp") or order.get("timestamp"),
            }
            self._record_trade(full, client_id=cid)

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
        return self.journal.record_fill(
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
            ts_ms=int(t.get("timestamp") or _now_ms()),
        )

    def cancel(self, symbol: str, *, order_id: str | None = None, client_id: str | None = None) -> dict[str, Any]:
        """Cancel one order by exchange id or client order id (no automatic resend).

        Refused before any request in ``read_only``; caps and the kill switch never block a cancel.
        """
        self.guard.check_cancel(symbol=symbol, now_ms=_now_ms())
        if order_id is None and client_id is None:
            raise OrderUnknown("give order_id or client_id to cancel", symbol=symbol)
        ex = self._ex
        params = {"clientOrderId": client_id} if client_id and not order_id else {}
        self._j("cancel_intent", symbol=symbol, client_id=client_id or "", order_id=order_id or "")
        result = self._call(
            "cancel_order",
            "DELETE",
            "/api/v3/order",
            lambda: ex.cancel_order(order_id, symbol, params),
            read=False,
            symbol=symbol,
        )
        self._j(
            "cancel_ack",
            symbol=symbol,
            client_id=client_id or str(result.get("clientOrderId") or ""),
            order_id=str(result.get("id") or order_id or ""),
            status=str(result.get("status")),
        )
        return result

    def cancel_all(self, symbol: str | None = None) -> int:
        """Cancel every open order (in ``symbol``, or everywhere); returns how many.

        Each order is journaled (``cancel_intent`` before, ``cancel_ack`` after) under its own client
        id, so the journal's open-order count stays right. Refused before any request in ``read_only``.
        """
        self.guard.check_cancel(symbol=symbol or "*", now_ms=_now_ms())
        ex = self._ex
        opens = self._call(
            "fetch_open_orders",
            "GET",
            "/api/v3/openOrders",
            lambda: ex.fetch_open_orders(symbol),
            params={"symbol": symbol} if symbol else {},
            symbol=symbol,
        )
        n = 0
        for sym in sorted({o["symbol"] for o in opens}):
            mine = [o for o in opens if o["symbol"] == sym]
            for o in mine:
                self._j("cancel_intent", symbol=sym, client_id=str(o.get("clientOrderId") or ""), order_id=str(o["id"]))
            self._cancel_symbol(sym)
            for o in mine:
                self._j(
                    "cancel_ack",
                    symbol=sym,
                    client_id=str(o.get("clientOrderId") or ""),
                    order_id=str(o["id"]),
                    status="canceled",
                )
            n += len(mine)
        return n

    def _cancel_symbol(self, symbol: str) -> None:
        ex = self._ex
        self._call(
            "cancel_all_orders",
            "DELETE",
            "/api/v3/openOrders",
            lambda: ex.cancel_all_orders(symbol),
            read=False,
            symbol=symbol,
        )

    def _check_kill_switch(self) -> None:
        reason = self.kill_switch.engaged()
        if reason is None:
            return
        self._j("killswitch", engaged=True, reason=reason)
        cancelled = 0
        if self.stage.allows_orders:
            try:
                cancelled = self.cancel_all()
            except KitError as exc:
                self.warnings.append(f"kill switch: cancelling open orders failed: {exc}")
        raise KillSwitchEngaged(
            f"kill switch engaged ({reason}); {cancelled} open orders cancelled, new orders blocked",
            hint="No new order was sent. Find out why it tripped, then reset it: KillSwitch().reset() (or delete "
            f"{self.kill_switch.path}) and unset {self.kill_switch.env_var} if it is set.",
        )

    def _next_client_id(self) -> str:
        self._ids += 1
        return client_order_id(self.venue, self.account, self._ids, salt=self.session_id)

    def _today(self) -> dict[str, Any]:
        """Open orders, notional sent and realized PnL today (UTC), from the journal."""
        now = _now_ms()
        start = now - now % DAY_MS
        st = self.journal.state_at(_LATEST_MS, venue=self.venue, account=self.account)
        open_n = sum(1 for o in st.orders.values() if o.status in ("intent", "open", "unknown"))
        notional = Decimal(0)
        for e in self.journal.events(since_ms=start, kinds=["intent"], venue=self.venue):
            if e.account != self.account:
                continue
            notional += Decimal(str(e.payload.get("notional") or 0))
        pnl = Decimal(0)
        net: dict[str, Decimal] = {}
        for f in self.journal.events(since_ms=start, kinds=["fill"], venue=self.venue):
            if f.account != self.account:
                continue
            p = f.payload
            qty, value = Decimal(str(p["amount"])), Decimal(str(p["price"])) * Decimal(str(p["amount"]))
            sign = 1 if p["side"] == "buy" else -1
            pnl -= sign * value
            net[f.symbol] = net.get(f.symbol, Decimal(0)) + sign * qty
            if self._ex.markets.get(f.symbol, {}).get("quote") == p.get("fee_currency"):
                pnl -= Decimal(str(p.get("fee_cost") or 0))
        for symbol, qty in net.items():  # today's net position change, marked at the last known price
            last = self._last_price.get(symbol)
            if last is not None:
                pnl += qty * last
        return {"open_orders": open_n, "notional": notional, "pnl": pnl}

    # -- lifecycle -------------------------------------------------------------------------------
    def close(self) -> None:
        """Stop the private streams, then close the exchange connection and the background loop."""
        ex = getattr(self, "_ex", None)
        loop = getattr(self, "_loop", None)
        streams = getattr(self, "_streams", None)
        if streams is not None and loop is not None and loop.running:
            streams.stop()  # first: a stream reconnecting during close would leave a socket open
        if ex is not None and loop is not None and loop.running:
            try:
                loop.run(ex.close(), timeout=10)
            except Exception:  # closing is best effort
                pass
        if loop is not None:
            loop.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
