"""The Session: the one door to an exchange.

Every call goes through the same path: guard (kill switch, stage, caps, checked before any
request) -> validation against the market's filters -> the shared rate budget -> the real ccxt
client, with errors mapped into the kit's tree -> the journal. Orders are journaled before they
are sent, never resent automatically, and a lost acknowledgement leaves an explicit UNKNOWN
order that is resolved by its client order id. Positions come from fills only.

The class is assembled from one module per concern: :mod:`kit.session.base` (the request path),
:mod:`kit.session.reads` (balances, prices, orders, fills, candles), :mod:`kit.session.trading`
(check, place, amend, cancel, resolve); this module connects it (credentials, preflight, clock).

>>> import kit
>>> s = kit.Session("localnet")                                # doctest: +SKIP
>>> s.balances()                                               # doctest: +SKIP
>>> s.place("BTC/USDT", "buy", "0.001", price="50000")         # doctest: +SKIP
>>> s.journal.frame("fill")                                    # doctest: +SKIP
"""

from __future__ import annotations

import threading
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from kit.errors import ConfigError, PermissionRefused
from kit.journal.journal import Journal
from kit.safety import secrets as kit_secrets
from kit.safety.guard import Caps, EvidenceRule, Guard
from kit.safety.killswitch import KillSwitch, KillSwitchWatcher
from kit.safety.stages import Stage
from kit.session.base import ExchangeApi, now_ms
from kit.session.lists import OrderLists
from kit.session.loop import BackgroundLoop
from kit.session.preflight import Preflight, check_venue, judge, unknown
from kit.session.trading import Trading
from kit.session.venues import REHEARSAL, VenueSpec, build_client, find_or_start_localnet, rehearsal_endpoint, resolve
from kit.transport.backoff import Backoff
from kit.transport.clock import ClockReport, ClockWatch, check_clock, measure_clock
from kit.transport.limits import WeightBudget
from kit.transport.logs import RequestLog

__all__ = ["Session"]


class Session(OrderLists):
    """A connection to one exchange account, with the kit's safety rules built in.

    Parameters
    ----------
    exchange:
        ``"localnet"`` (the offline exchange, found or started), a ccxt id such as ``"binance"``,
        or ``"binance-testnet"``.
    stage:
        ``read_only``, ``paper`` (simulated fills on the exchange's public market, no key; see
        :mod:`kit.paper`), ``testnet`` (sandbox endpoints only), ``live_small`` (caps, and journaled
        testnet evidence to enter) or ``live``. Default: ``testnet`` on localnet, else
        ``read_only``.
    account:
        Name under which this account's events are journaled.
    journal:
        A :class:`~kit.journal.journal.Journal` or a path; default ``$KIT_HOME/journal.sqlite``.
    caps, evidence:
        Stage caps and the evidence rule for ``live_small``/``live``.
    allow_withdraw_key:
        Accept a key that can withdraw, in ``read_only`` only. Never needed for trading.
    weight_limit, weight_window_s:
        The exchange's request-weight limit per window (default: what the exchange publishes) and the
        window's length; only a localnet running faster than real time needs another window.
    backoff:
        Retry schedule for reads (default :class:`~kit.transport.backoff.Backoff`); orders are never retried.
    recv_window_ms:
        How long a signed request stays valid after its timestamp (Binance's ``recvWindow``; ccxt
        sends 10000, Binance's own default is 5000, the maximum 60000). Shorter: a request delayed
        in transit is refused rather than executed late, and an unknown order is settled sooner.
    clock_recheck_s:
        Before a signed write (order, amend, cancel), the clock offset is measured again when the last
        measurement is older than this (default 60 s) or the exchange answered -1021 since; a clock
        that drifted out of the exchange's window is then refused with ``ClockSkew`` before sending.
    kill_watch_s:
        How often the kill-switch watcher looks at the switch (default 0.25 s); when it engages, this
        Session cancels its kit's open orders by itself (:meth:`kill`). ``None``: no watcher (the switch
        then acts at the next order only). Sessions whose stage cannot trade run no watcher.

    twins:
        Record the venue's public market so every order gets a paper twin for the drift report
        (:mod:`kit.paper.twins`). Default: on in testnet and live stages on a real exchange, off on
        localnet (the demo turns it on); never in read_only or paper.

    Keys are never arguments: they come from the environment (``KIT_<EXCHANGE>_<STAGE>_API_KEY``
    / ``_API_SECRET``), a ``.env`` file or the OS keyring (see :mod:`kit.safety.secrets`).

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
        clock_recheck_s: float = 60.0,
        recv_window_ms: int | None = None,
        weight_limit: int | None = None,
        weight_window_s: float = 60.0,
        backoff: Backoff | None = None,
        dotenv: str | Path | None = ".env",
        twins: bool | None = None,
        kill_watch_s: float | None = 0.25,
        **unexpected: Any,
    ) -> None:
        kit_secrets.refuse_secret_params(unexpected, "Session()")
        # A key pasted into the wrong argument is refused by name, never repeated (#12.6).
        kit_secrets.refuse_secret_args("Session()", exchange=exchange, stage=stage, account=account)
        if unexpected:
            raise TypeError(f"Session() got unexpected arguments: {sorted(unexpected)}")
        self.spec: VenueSpec = resolve(exchange, Stage.parse(stage) if stage is not None else None)
        self.stage = self.spec.stage
        self.account = account
        self.venue = self.spec.journal_name
        own_journal = not isinstance(journal, Journal)
        self.journal = journal if isinstance(journal, Journal) else Journal(journal or Journal.default_path())
        self.kill_switch = kill_switch or KillSwitch()
        self.session_id = uuid.uuid4().hex[:12]
        self.warnings: list[str] = []
        self.degraded: str | None = None
        self._failures = 0
        self._last_price: dict[str, Decimal] = {}
        self._rates: dict[str, Decimal | None] = {}  # symbol -> its quote's value in the caps' currency
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
        self.clock_watch = ClockWatch(clock_recheck_s)
        self._kill_lock = threading.RLock()
        self._kill_unreported = 0
        self.kill_action: str | None = None
        self._kill_watcher: KillSwitchWatcher | None = None
        self.url: str | None = None
        self.fingerprint: str | None = None
        self._creds: kit_secrets.Credentials | None = None
        self.api = ExchangeApi(self)
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
            self.guard.check_stage(symbols=symbols, now_ms=now_ms())
            url, keys_file = None, None
            if self.spec.paper:  # the paper venue (kit.paper), whose own key is read from its keys file only
                from kit.paper.venue import paper_venue

                upstream_url = find_or_start_localnet()[0] if self.spec.name == "localnet" else None
                url, keys_file, self.venue = paper_venue(self.spec.name, upstream_url=upstream_url)
                self.guard.venue = self.venue
            elif self.spec.is_localnet:
                url, keys_file, self.venue = find_or_start_localnet()
                self.guard.venue = self.venue
            elif self.spec.rehearsal:  # a declared rehearsal localnet, playing a real exchange and its testnet
                url, keys_file = rehearsal_endpoint()
            self.url = url
            cred_name = (
                "localnet" if self.spec.is_localnet else REHEARSAL if self.spec.rehearsal else self.spec.exchange_id
            )
            source = keys_file if keys_file is not None else dotenv
            only_file: dict[str, Any] = {"env": {}, "use_keyring": False} if self.spec.paper else {}
            self._creds = (
                kit_secrets.require_credentials(cred_name, self.stage, dotenv=source, **only_file)
                if self.stage.allows_orders
                else kit_secrets.load_credentials(cred_name, self.stage, dotenv=source, **only_file)
            )
            self.fingerprint = self._creds.fingerprint if self._creds else None
            self._loop = BackgroundLoop()
            self._ex = build_client(
                self.spec,
                self._creds.api_key.reveal() if self._creds else None,
                self._creds.secret.reveal() if self._creds else None,
                url=url,
                password=kit_secrets.require_password(self._creds, cred_name, self.stage) if self._creds else None,
            )
            if recv_window_ms is not None:
                if not isinstance(recv_window_ms, int) or isinstance(recv_window_ms, bool):
                    raise ConfigError(f"recv_window_ms (the exchange's recvWindow) must be a whole number of ms, "
                                      f"got {type(recv_window_ms).__name__}",
                                      hint="Use 1..60000 ms (Binance's limit); 5000 is Binance's default.")  # fmt: skip
                if not 1 <= recv_window_ms <= 60_000:
                    raise ConfigError(f"recv_window_ms={recv_window_ms} (the exchange's recvWindow) is out of range",
                                      hint="Use 1..60000 ms (Binance's limit); 5000 is Binance's default.")  # fmt: skip
                self._ex.options["recvWindow"] = recv_window_ms
            self._host = url or str(self._ex.urls["api"].get("public") or self.spec.exchange_id)
            # ccxt's DEBUG records show each request's headers (the API key) and signed URL: scrub them at
            # the source, whatever handlers a notebook adds (the key is a live Secret, so it is masked).
            kit_secrets.install_redaction(getattr(self._ex, "logger", None) or "ccxt.base.exchange")
            kit_secrets.install_record_redaction()  # every kit and ccxt record, whatever handler prints it
            self._connect()
            self.twins: Any = None
            want_twins = twins if twins is not None else not (self.spec.is_localnet or self.spec.rehearsal)
            if want_twins and self.stage.allows_orders and not self.stage.is_simulated:
                from kit.paper.twins import ShadowTwins

                try:
                    self.twins = ShadowTwins(self)
                except Exception as exc:  # twins measure drift; they never stop a Session from trading
                    self.warnings.append(f"shadow twins not started ({type(exc).__name__}: {exc}); no drift data")
            if kill_watch_s is not None and self.stage.allows_orders:
                self._kill_watcher = KillSwitchWatcher(
                    self.kill_switch, self._on_kill, interval_s=kill_watch_s, name=f"kit-kill-{self.session_id}"
                ).start()
        except BaseException:
            self.close()
            if own_journal:
                self.journal.close()
            raise

    # -- arguments that are never echoed (#12.6) ---------------------------------------------------
    # The order calls refuse a Secret, a PEM key or a live secret passed as an argument before anything
    # is sent, and their errors never repeat an argument that looks like a credential (no_echo).
    check = kit_secrets.no_echo(Trading.check)
    place = kit_secrets.no_echo(Trading.place)
    amend = kit_secrets.no_echo(Trading.amend)
    cancel = kit_secrets.no_echo(OrderLists.cancel)  # type: ignore[arg-type]  # the list-aware override
    order = kit_secrets.no_echo(OrderLists.order)  # type: ignore[arg-type]  # the list-aware override
    bracket = kit_secrets.no_echo(OrderLists.bracket)
    protect = kit_secrets.no_echo(OrderLists.protect)
    cancel_list = kit_secrets.no_echo(OrderLists.cancel_list)
    cancel_all = kit_secrets.no_echo(Trading.cancel_all)
    ticker = kit_secrets.no_echo(Trading.ticker)
    trades = kit_secrets.no_echo(Trading.trades)
    open_orders = kit_secrets.no_echo(Trading.open_orders)

    # -- plumbing --------------------------------------------------------------------------------
    def __repr__(self) -> str:
        key = f"key={self.fingerprint}" if self.fingerprint else "no key"
        return f"Session({self.venue!r}, stage={self.stage.value!r}, account={self.account!r}, {key})"

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
            attestation_seq=self.preflight.details.get("attestation_seq"),
        )
        self.warnings += list(self.preflight.warnings)
        if self.preflight.refusals:
            raise PermissionRefused("; ".join(self.preflight.refusals))
        self._j("stage", from_stage="", to_stage=self.stage.value, reason="session start")

    def _preflight(self) -> Preflight:
        if self._creds is None:
            return unknown(self.spec.exchange_id, "no API key loaded (public data only)")
        ex = self._ex
        if self.spec.exchange_id != "binance":  # OKX, Bybit, Coinbase, KuCoin, Bitget, Kraken; else unknown
            return check_venue(
                self.spec.exchange_id,
                lambda v: self._call("preflight", v.http_method, v.path, lambda: getattr(ex, v.method)()),
                stage=self.stage.value, now_ms=now_ms(), journal=self.journal, fingerprint=self.fingerprint,
                allow_withdraw_key=self._allow_withdraw_key, warn_age_days=self._age[0], refuse_age_days=self._age[1],
            )  # fmt: skip
        if self.spec.sandbox and not (self.spec.is_localnet or self.spec.rehearsal):
            return unknown(self.spec.exchange_id, "Binance's testnet has no permission endpoint")
        raw = self._call(
            "preflight", "GET", "/sapi/v1/account/apiRestrictions", lambda: ex.sapi_get_account_apirestrictions()
        )
        return judge(
            raw,
            stage=self.stage.value,
            now_ms=now_ms(),
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
            now_ms=now_ms,
        )
        self.clock_report = report
        self.clock_watch.measured()
        self._j("clock", offset_ms=report.offset_ms, rtt_ms=report.rtt_ms)
        recv = int(self._ex.options.get("recvWindow") or 10_000)
        fresh = check_clock(report, warn_ms=self._clock_warn_ms, recv_window_ms=recv)
        self.warnings = [w for w in self.warnings if not _is_clock_warning(w)] + fresh  # the latest say only
        return report

    # -- lifecycle -------------------------------------------------------------------------------
    def close(self) -> None:
        """Stop the kill-switch watcher and the private streams, then close the exchange connection and the loop."""
        watcher = getattr(self, "_kill_watcher", None)
        if watcher is not None:
            watcher.stop()
        ex = getattr(self, "_ex", None)
        loop = getattr(self, "_loop", None)
        api = getattr(self, "api", None)
        twins = getattr(self, "twins", None)
        if twins is not None:
            twins.close()
        if api is not None and loop is not None and loop.running:
            api.close_helpers()  # first: a stream reconnecting during close would leave a socket open
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


def _is_clock_warning(text: str) -> bool:
    """True for a warning :func:`kit.transport.clock.check_clock` wrote (replaced at each measurement)."""
    return text.startswith(("local clock is ", "round trip to the exchange is "))
