"""Alerts: tell the user when a problem persists, once, and tell them again when it is over.

A problem is a *condition* with a kind and a subject (``exchange_down`` on ``localnet``,
``rejects`` on ``BTC/USDT``). :meth:`Alerter.report` records an occurrence; the condition
*fires* when it has lasted ``after_s`` seconds or happened ``after_count`` times (per kind,
:class:`Rule`), and then one alert goes to every channel. While it stays active nothing more is
sent. :meth:`Alerter.clear` ends it: one all-clear goes out (after ``clear_after_s`` of quiet,
so a flapping exchange gives one alert and one all-clear, not a flood). On top of that a global
cap (``max_per_hour``) stops a storm of different conditions. Every alert sent is journaled
(kind ``"alert"``), and a new :class:`Alerter` on the same journal picks up what is still
firing, so a restarted process neither repeats an alert nor forgets its all-clear.

Channels: :class:`WebhookChannel` (JSON POST, Slack-compatible ``{"text": ...}``),
:class:`EmailChannel` (SMTP with :mod:`smtplib`; user and password from the environment only)
and :class:`StatusChannel` (a callback and an in-memory list, for the notebook status bar).
Configuration comes from the environment (:meth:`AlertConfig.from_env`) or the dataclass:

========================================  ==================================================
``KIT_ALERT_WEBHOOK_URL``                 webhook URL (kept out of every log and repr)
``KIT_ALERT_SMTP_HOST`` / ``_PORT``       SMTP server (port default 25; 465 means SSL)
``KIT_ALERT_SMTP_FROM`` / ``_TO``         sender, recipients (comma separated)
``KIT_ALERT_SMTP_STARTTLS``               ``1`` to upgrade with STARTTLS
``KIT_ALERT_SMTP_USER`` / ``_PASSWORD``   SMTP login, read from the environment at send time only
``KIT_ALERT_AFTER_S`` / ``_AFTER_COUNT``  default persistence threshold (seconds / occurrences)
``KIT_ALERT_CLEAR_AFTER_S``               quiet time before the all-clear
========================================  ==================================================

:class:`AlertWatcher` feeds an Alerter from a Session: degradation (exchange down), IP bans,
the kill switch, guard trips, repeated rejects and reconciliation differences.

Examples
--------
>>> status = StatusChannel()
>>> clock = iter([0.0, 30.0, 61.0, 62.0, 63.0]).__next__
>>> al = Alerter(AlertConfig(after_s=60), channels=[status], clock=clock)
>>> al.report("exchange_down", "503 from every request", subject="binance")   # t=0: not yet
>>> al.report("exchange_down", "503 from every request", subject="binance")   # t=30: not yet
>>> al.report("exchange_down", "503 from every request", subject="binance").state   # t=61
'firing'
>>> al.report("exchange_down", "still 503", subject="binance") is None           # t=62: already out
True
>>> al.clear("exchange_down", subject="binance").state                           # t=63
'resolved'
>>> [a.state for a in status.messages]
['firing', 'resolved']
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from kit.errors import ConfigError
from kit.safety.daemon import DaemonLoop
from kit.transport.logs import redact_text

if TYPE_CHECKING:
    from kit.journal.journal import Journal
    from kit.session.core import Session

__all__ = [
    "Alert",
    "AlertConfig",
    "AlertWatcher",
    "Alerter",
    "Channel",
    "EmailChannel",
    "Rule",
    "StatusChannel",
    "WebhookChannel",
    "attach",
]

log = logging.getLogger("kit.ops.alerts")

FIRING = "firing"
RESOLVED = "resolved"


@dataclass(frozen=True)
class Rule:
    """When a condition of one kind fires.

    Parameters
    ----------
    after_s
        Fire once the condition has lasted this long (``0``: at the first occurrence; ``None``:
        time alone never fires it).
    after_count
        Fire at this many occurrences (``None``: count alone never fires it).
    within_s
        Occurrences further apart than this start the count over.
    """

    after_s: float | None = 60.0
    after_count: int | None = None
    within_s: float = 600.0


#: Kinds that need no persistence: one occurrence is worth telling.
IMMEDIATE_KINDS = ("ban", "kill_switch", "guard_trip", "reconcile_diff")
#: Level-triggered kinds (reported on every look while true): only their duration counts.
LEVEL_KINDS = ("exchange_down", "stream_down")


@dataclass(frozen=True)
class AlertConfig:
    """Where alerts go and when conditions fire (see the module docstring for the variables).

    ``rules`` overrides per kind; kinds without one use ``Rule(after_s, after_count)``, except the
    :data:`IMMEDIATE_KINDS`, which fire at once. Credentials are never fields: the SMTP login is
    read from ``KIT_ALERT_SMTP_USER`` / ``KIT_ALERT_SMTP_PASSWORD`` when a mail is sent.
    """

    webhook_url: str | None = field(default=None, repr=False)
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str | None = None
    smtp_to: tuple[str, ...] = ()
    smtp_starttls: bool = False
    smtp_ssl: bool = False
    after_s: float = 60.0
    after_count: int | None = 3
    clear_after_s: float = 0.0
    max_per_hour: int = 30
    timeout_s: float = 10.0
    rules: Mapping[str, Rule] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.webhook_url is not None and urlsplit(self.webhook_url).scheme not in ("http", "https"):
            raise ConfigError("KIT_ALERT_WEBHOOK_URL must be an http(s) URL", hint="Set it to the webhook's full URL.")
        if self.smtp_host and (not self.smtp_from or not self.smtp_to):
            raise ConfigError(
                "email alerts need a sender and at least one recipient",
                hint="Set KIT_ALERT_SMTP_FROM and KIT_ALERT_SMTP_TO (comma separated), or unset KIT_ALERT_SMTP_HOST.",
            )
        if self.after_s < 0 or self.clear_after_s < 0 or self.max_per_hour < 1:
            raise ConfigError("alert thresholds must be >= 0 and max_per_hour >= 1")

    @property
    def webhook_host(self) -> str | None:
        """Host of the webhook (what logs show instead of the URL, which often embeds a token)."""
        return urlsplit(self.webhook_url).hostname if self.webhook_url else None

    def rule(self, kind: str) -> Rule:
        """The :class:`Rule` for ``kind``."""
        if kind in self.rules:
            return self.rules[kind]
        if kind in IMMEDIATE_KINDS:
            return Rule(after_s=0.0, after_count=1)
        if kind in LEVEL_KINDS:
            return Rule(after_s=self.after_s, after_count=None)
        return Rule(after_s=self.after_s, after_count=self.after_count)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> AlertConfig:
        """Build from ``KIT_ALERT_*`` variables (``env`` default ``os.environ``); keywords win."""
        e = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = (e.get(f"KIT_ALERT_{name}") or "").strip()
            return value or None

        def flag(name: str) -> bool:
            return (get(name) or "").lower() in ("1", "true", "yes", "on")

        kw: dict[str, Any] = {}
        try:
            if get("WEBHOOK_URL"):
                kw["webhook_url"] = get("WEBHOOK_URL")
            if get("SMTP_HOST"):
                kw["smtp_host"] = get("SMTP_HOST")
                kw["smtp_port"] = int(get("SMTP_PORT") or 25)
                kw["smtp_from"] = get("SMTP_FROM")
                kw["smtp_to"] = tuple(a.strip() for a in (get("SMTP_TO") or "").split(",") if a.strip())
                kw["smtp_starttls"] = flag("SMTP_STARTTLS")
                kw["smtp_ssl"] = flag("SMTP_SSL") or kw["smtp_port"] == 465
            if get("AFTER_S"):
                kw["after_s"] = float(get("AFTER_S") or 0)
            if get("AFTER_COUNT"):
                kw["after_count"] = int(get("AFTER_COUNT") or 0)
            if get("CLEAR_AFTER_S"):
                kw["clear_after_s"] = float(get("CLEAR_AFTER_S") or 0)
            if get("MAX_PER_HOUR"):
                kw["max_per_hour"] = int(get("MAX_PER_HOUR") or 0)
        except ValueError as exc:
            raise ConfigError(
                f"bad KIT_ALERT_* value: {exc}", hint="Ports and counts are integers, times seconds."
            ) from None
        kw.update(overrides)
        return cls(**kw)


@dataclass(frozen=True)
class Alert:
    """One message: a condition firing, or its all-clear."""

    key: str
    kind: str
    subject: str
    state: str
    message: str
    text: str
    venue: str
    first_seen_ms: int
    at_ms: int
    count: int

    def payload(self) -> dict[str, Any]:
        """The webhook body: Slack's ``{"text": ...}``."""
        return {"text": self.text}


class Channel(Protocol):
    """Something an alert can be sent through; ``send`` raises on failure."""

    name: str

    def send(self, alert: Alert) -> None:
        """Deliver one alert."""


class WebhookChannel:
    """POST ``{"text": ...}`` as JSON (Slack incoming webhooks, Mattermost, Teams-compatible relays).

    The URL often carries a token, so it never appears in ``repr``, logs or errors (only its host).
    """

    name = "webhook"

    def __init__(self, url: str, *, timeout_s: float = 10.0) -> None:
        if urlsplit(url).scheme not in ("http", "https"):
            raise ConfigError("a webhook URL must be http(s)", hint="Set KIT_ALERT_WEBHOOK_URL to the webhook's URL.")
        self._url = url
        self.host = urlsplit(url).hostname or "?"
        self.timeout_s = timeout_s

    def __repr__(self) -> str:
        return f"WebhookChannel(host={self.host!r})"

    def send(self, alert: Alert) -> None:
        """POST the alert; raises ``OSError`` (with the host, not the URL) unless the answer is 2xx."""
        body = json.dumps(alert.payload()).encode()
        req = urllib.request.Request(self._url, data=body, method="POST", headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:  # http(s) only: checked above
                status = resp.status
        except urllib.error.HTTPError as exc:
            raise OSError(f"webhook at {self.host} answered HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise OSError(f"webhook at {self.host} unreachable: {type(reason).__name__}") from None
        if not 200 <= status < 300:
            raise OSError(f"webhook at {self.host} answered HTTP {status}")


class EmailChannel:
    """Send each alert as a plain-text mail with :mod:`smtplib`.

    Login credentials are read from ``KIT_ALERT_SMTP_USER`` / ``KIT_ALERT_SMTP_PASSWORD`` (in
    ``env``, default ``os.environ``) at send time, never stored on the object.
    """

    name = "email"

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        to: Iterable[str],
        *,
        starttls: bool = False,
        ssl: bool = False,
        timeout_s: float = 10.0,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.host, self.port, self.sender, self.to = host, int(port), sender, tuple(to)
        self.starttls, self.ssl, self.timeout_s = starttls, ssl, timeout_s
        self._env = env

    def __repr__(self) -> str:
        return f"EmailChannel({self.host}:{self.port}, to={list(self.to)})"

    def send(self, alert: Alert) -> None:
        """Deliver one mail; raises ``OSError`` / ``smtplib.SMTPException`` on failure."""
        msg = EmailMessage()
        tag = "ALERT" if alert.state == FIRING else "ALL CLEAR"
        msg["Subject"] = f"[kit] {tag}: {alert.kind} {alert.subject}".strip()
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.to)
        msg.set_content(alert.text + "\n")
        env = os.environ if self._env is None else self._env
        user, password = env.get("KIT_ALERT_SMTP_USER"), env.get("KIT_ALERT_SMTP_PASSWORD")
        cls = smtplib.SMTP_SSL if self.ssl else smtplib.SMTP
        with cls(self.host, self.port, timeout=self.timeout_s) as smtp:
            if self.starttls and not self.ssl:
                smtp.starttls()
            if user and password:
                smtp.login(user, password)
            smtp.send_message(msg)


class StatusChannel:
    """Keep alerts in memory (``messages``) and call ``callback(alert)``: the notebook status bar."""

    name = "status"

    def __init__(self, callback: Callable[[Alert], None] | None = None, *, maxlen: int = 200) -> None:
        self.callback = callback
        self.messages: deque[Alert] = deque(maxlen=maxlen)

    def send(self, alert: Alert) -> None:
        """Append, then tell the callback."""
        self.messages.append(alert)
        if self.callback is not None:
            self.callback(alert)

    @property
    def firing(self) -> list[Alert]:
        """The latest message of every key whose last message is a firing one."""
        last: dict[str, Alert] = {}
        for a in self.messages:
            last[a.key] = a
        return [a for a in last.values() if a.state == FIRING]


@dataclass
class _Condition:
    kind: str
    subject: str
    first_seen: float
    last_seen: float
    count: int = 0
    message: str = ""
    fired: bool = False
    silenced: bool = False  # fired while over the hourly cap: nothing was sent, so no all-clear either
    clearing_since: float | None = None


def _key(kind: str, subject: str) -> str:
    return f"{kind}:{subject}" if subject else kind


class Alerter:
    """Turns condition reports into at most one alert and one all-clear per condition.

    Parameters
    ----------
    config
        Thresholds and channel settings (default :meth:`AlertConfig.from_env`).
    channels
        Where to send; default: a webhook and/or email channel from ``config``, plus :attr:`status`.
    journal
        Where sent alerts are recorded (kind ``"alert"``) and firing ones are restored from.
    venue, account
        Journal columns, and the venue named in the messages.
    clock
        Seconds since the epoch (injected in tests).
    """

    def __init__(
        self,
        config: AlertConfig | None = None,
        channels: Iterable[Channel] | None = None,
        *,
        journal: Journal | None = None,
        venue: str = "kit",
        account: str = "default",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config or AlertConfig.from_env()
        self.status = StatusChannel()
        if channels is None:
            built: list[Channel] = []
            if self.config.webhook_url:
                built.append(WebhookChannel(self.config.webhook_url, timeout_s=self.config.timeout_s))
            if self.config.smtp_host and self.config.smtp_from:
                c = self.config
                assert c.smtp_host is not None and c.smtp_from is not None
                built.append(
                    EmailChannel(
                        c.smtp_host,
                        c.smtp_port,
                        c.smtp_from,
                        c.smtp_to,
                        starttls=c.smtp_starttls,
                        ssl=c.smtp_ssl,
                        timeout_s=c.timeout_s,
                    )
                )
            built.append(self.status)
            self.channels: list[Channel] = built
        else:
            self.channels = list(channels)
        self.journal = journal
        self.venue = venue
        self.account = account
        self._clock = clock
        self._lock = threading.RLock()
        self._conds: dict[str, _Condition] = {}
        self._sent_at: deque[float] = deque()
        self.sent: list[Alert] = []
        self.suppressed = 0
        self.failures: list[str] = []
        self._restore()

    # -- public ------------------------------------------------------------------------------------
    def report(self, kind: str, message: str, *, subject: str = "") -> Alert | None:
        """Record one occurrence of a problem; returns the alert if this made the condition fire."""
        with self._lock:
            now = self._clock()
            key = _key(kind, subject)
            c = self._conds.get(key)
            rule = self.config.rule(kind)
            if c is not None and not c.fired and now - c.last_seen > rule.within_s:
                c = None  # the earlier occurrences are too old to count
            if c is None:
                c = self._conds[key] = _Condition(kind, subject, now, now)
            c.count += 1
            c.last_seen = now
            c.message = message
            c.clearing_since = None
            return self._maybe_fire(key, c, now)

    def clear(self, kind: str, *, subject: str = "", message: str = "") -> Alert | None:
        """The problem is over; returns the all-clear if one was sent now."""
        with self._lock:
            now = self._clock()
            key = _key(kind, subject)
            c = self._conds.get(key)
            if c is None:
                return None
            if not c.fired:  # it never reached alert level: forget it quietly
                del self._conds[key]
                return None
            if c.clearing_since is None:
                c.clearing_since = now
            if message:
                c.message = message
            return self._maybe_resolve(key, c, now)

    def set(self, kind: str, active: bool, message: str = "", *, subject: str = "") -> Alert | None:
        """Level-triggered form: :meth:`report` while ``active``, :meth:`clear` otherwise."""
        return self.report(kind, message, subject=subject) if active else self.clear(kind, subject=subject)

    def tick(self) -> list[Alert]:
        """Fire conditions that have now lasted long enough, and send due all-clears."""
        out: list[Alert] = []
        with self._lock:
            now = self._clock()
            for key, c in list(self._conds.items()):
                a = self._maybe_resolve(key, c, now) if c.clearing_since is not None else self._maybe_fire(key, c, now)
                if a is not None:
                    out.append(a)
        return out

    def firing(self) -> list[str]:
        """Keys of the conditions currently alerted (their all-clear not sent yet)."""
        with self._lock:
            return sorted(k for k, c in self._conds.items() if c.fired)

    def status_dict(self) -> dict[str, Any]:
        """For a status bar: what is firing, what is pending, what was sent."""
        with self._lock:
            return {
                "firing": self.firing(),
                "pending": sorted(k for k, c in self._conds.items() if not c.fired),
                "sent": len(self.sent),
                "suppressed": self.suppressed,
                "failures": list(self.failures[-5:]),
            }

    # -- internals ---------------------------------------------------------------------------------
    def _maybe_fire(self, key: str, c: _Condition, now: float) -> Alert | None:
        if c.fired:
            return None
        rule = self.config.rule(c.kind)
        by_time = rule.after_s is not None and now - c.first_seen >= rule.after_s
        by_count = rule.after_count is not None and c.count >= rule.after_count
        if not (by_time or by_count):
            return None
        c.fired = True
        if not self._allow(now):
            c.silenced = True
            self.suppressed += 1
            log.warning("alert %s suppressed: more than %d alerts in the last hour", key, self.config.max_per_hour)
            return None
        since = int(now - c.first_seen)
        text = f"[kit] ALERT {self.venue}: {c.kind}"
        text += f" ({c.subject})" if c.subject else ""
        text += f": {c.message} (for {since}s" + (")" if c.kind in LEVEL_KINDS else f", {c.count}x)")
        return self._send(key, c, FIRING, text, now)

    def _maybe_resolve(self, key: str, c: _Condition, now: float) -> Alert | None:
        assert c.clearing_since is not None
        if now - c.clearing_since < self.config.clear_after_s:
            return None
        del self._conds[key]
        if c.silenced:
            return None
        took = int(now - c.first_seen)
        text = f"[kit] ALL CLEAR {self.venue}: {c.kind}" + (f" ({c.subject})" if c.subject else "")
        text += f" resolved after {took}s" + (f": {c.message}" if c.message else "")
        return self._send(key, c, RESOLVED, text, now)  # an all-clear always follows its alert: no cap

    def _allow(self, now: float) -> bool:
        while self._sent_at and now - self._sent_at[0] > 3600:
            self._sent_at.popleft()
        if len(self._sent_at) >= self.config.max_per_hour:
            return False
        self._sent_at.append(now)
        return True

    def _send(self, key: str, c: _Condition, state: str, text: str, now: float) -> Alert:
        alert = Alert(
            key=key,
            kind=c.kind,
            subject=c.subject,
            state=state,
            message=redact_text(c.message)[:500],
            text=redact_text(text)[:1000],
            venue=self.venue,
            first_seen_ms=int(c.first_seen * 1000),
            at_ms=int(now * 1000),
            count=c.count,
        )
        delivered: list[str] = []
        for ch in self.channels:
            try:
                ch.send(alert)
                delivered.append(ch.name)
            except Exception as exc:  # a broken channel must never break trading
                why = redact_text(f"{ch.name}: {type(exc).__name__}: {exc}")[:300]
                self.failures.append(why)
                log.warning("alert %s not delivered through %s", key, why)
        self.sent.append(alert)
        log.log(logging.WARNING if state == FIRING else logging.INFO, "%s", alert.text)
        if self.journal is not None:
            try:
                self.journal.append(
                    "alert",
                    venue=self.venue,
                    account=self.account,
                    alert_key=key,
                    alert_kind=c.kind,
                    subject=c.subject,
                    state=state,
                    message=alert.message,
                    channels=delivered,
                    first_seen_ms=alert.first_seen_ms,
                )
            except Exception:  # the journal may be closing; the alert itself went out
                log.exception("could not journal alert %s", key)
        return alert

    def _restore(self) -> None:
        """Pick up conditions a previous process alerted and did not clear (no repeat, no lost all-clear)."""
        if self.journal is None:
            return
        last: dict[str, Any] = {}
        for ev in self.journal.events(kinds=["alert"], venue=self.venue):
            last[str(ev.get("alert_key"))] = ev
        for key, ev in last.items():
            if ev.get("state") != FIRING:
                continue
            first = float(ev.get("first_seen_ms") or ev.ts_ms) / 1000
            self._conds[key] = _Condition(
                str(ev.get("alert_kind") or key.split(":")[0]),
                str(ev.get("subject") or ""),
                first,
                first,
                count=1,
                message=str(ev.get("message") or ""),
                fired=True,
            )


# ------------------------------------------------------------------------------------------ watcher


_TRANSIENT_REJECTS = frozenset({"RateLimited", "ExchangeUnavailable", "TransientError"})
# Reconciliation differences worth an alert. Adopted fills and resolved orders are what a restart after a
# crash is expected to find (they are journaled and shown by `kit reconcile`); a balance that does not add
# up, or orders someone else placed on the account, are not.
_ALERTING_DIFFS = frozenset({"balance_diffs", "foreign_orders"})


class AlertWatcher(DaemonLoop):
    """A daemon thread (a :class:`~kit.safety.daemon.DaemonLoop`) that watches a Session and feeds an :class:`Alerter`.

    Conditions (kind: when active):

    - ``exchange_down``: ``session.degraded`` is set (reads failed after every retry);
    - ``ban``: the shared rate budget records an IP ban (HTTP 418);
    - ``kill_switch``: the kill switch is engaged;
    - ``guard_trip``: a ``"guard"`` refusal was journaled (cleared by the next allowed order);
    - ``rejects``: orders journaled as rejected by the exchange (cleared by the next acknowledgement);
    - ``reconcile_diff``: the last reconciliation found balances that do not add up or orders the kit
      did not place (cleared by a reconciliation without them);
    - ``stream_down``: the private streams (if given) are unhealthy.

    Parameters
    ----------
    session
        The Session to watch (read only: its status and its journal).
    alerter
        Where conditions go; default one from the environment, on the Session's journal.
    interval_s
        Polling period.
    streams
        A :class:`kit.session.streams.Streams` to watch too.
    """

    def __init__(
        self, session: Session, alerter: Alerter | None = None, *, interval_s: float = 1.0, streams: Any = None
    ) -> None:
        super().__init__(name="kit-alerts", interval_s=interval_s, logger=log)
        self.session = session
        self.alerter = alerter or Alerter(journal=session.journal, venue=session.venue, account=session.account)
        self.streams = streams
        self._last_seq = 0
        self._since_ms = int(time.time() * 1000) - 1000

    def tick(self) -> None:
        """One poll (the loop keeps watching when a poll fails: it is logged and counted in ``errors``)."""
        self.poll()

    def poll(self) -> list[Alert]:
        """Look once at the Session and its new journal events; returns the alerts sent."""
        s, al = self.session, self.alerter
        venue = s.venue
        out: list[Alert | None] = []
        st = s.status()
        out.append(al.set("exchange_down", bool(st.get("degraded")), str(st.get("degraded") or ""), subject=venue))
        budget = st.get("budget") or {}
        banned = int(budget.get("banned_until_ms") or 0)
        out.append(
            al.set(
                "ban",
                banned > 0,
                f"IP banned (HTTP 418) for {banned and max(0, banned - _ms())} ms more",
                subject=venue,
            )
        )
        ks = st.get("kill_switch")
        out.append(al.set("kill_switch", ks is not None, f"kill switch engaged: {ks}", subject=venue))
        if self.streams is not None:  # a stream that has not broken yet is starting, not down
            healthy = bool(getattr(self.streams, "healthy", True)) or not getattr(self.streams, "last_error", None)
            out.append(
                al.set("stream_down", not healthy, str(getattr(self.streams, "last_error", "") or ""), subject=venue)
            )
        for ev in s.journal.events(
            since_ms=self._since_ms, venue=venue, kinds=["guard", "resolved", "ack", "reconcile"]
        ):
            if ev.seq <= self._last_seq:
                continue
            self._last_seq = ev.seq
            self._since_ms = max(self._since_ms, ev.ts_ms - 60_000)
            out.append(self._on_event(ev))
        out += al.tick()
        return [a for a in out if a is not None]

    def _on_event(self, ev: Any) -> Alert | None:
        al, venue = self.alerter, self.session.venue
        if ev.kind == "guard":
            if ev.get("decision") == "refuse" and ev.get("rule") != "stage_gate":
                return al.report("guard_trip", f"{ev.get('rule')}: {ev.get('detail') or ''}", subject=venue)
            if ev.get("decision") == "allow":
                return al.clear("guard_trip", subject=venue)
        elif ev.kind == "resolved" and ev.get("status") == "rejected":
            if str(ev.get("how") or "") not in _TRANSIENT_REJECTS:
                return al.report(
                    "rejects", f"order rejected ({ev.get('how')}): {ev.get('message') or ''}", subject=venue
                )
        elif ev.kind == "ack":
            return al.clear("rejects", subject=venue)
        elif ev.kind == "reconcile" and ev.get("action") == "summary":
            counts = dict(ev.get("counts") or {})
            diff = {k: v for k, v in counts.items() if v and k in _ALERTING_DIFFS}
            if diff:
                what = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in diff.items())
                return al.report("reconcile_diff", f"reconciliation corrected the journal: {what}", subject=venue)
            if not counts.get("errors"):
                return al.clear("reconcile_diff", subject=venue)
        return None


def _ms() -> int:
    return time.time_ns() // 1_000_000


def with_rules(config: AlertConfig, **rules: Rule) -> AlertConfig:
    """A copy of ``config`` with per-kind rules added (``with_rules(cfg, exchange_down=Rule(after_s=5))``)."""
    return replace(config, rules={**config.rules, **rules})


def attach(
    session: Session, config: AlertConfig | None = None, *, interval_s: float = 1.0, streams: Any = None
) -> AlertWatcher:
    """Alert on a Session's problems: an :class:`Alerter` on its journal, watched by a started :class:`AlertWatcher`.

    ``config`` defaults to :meth:`AlertConfig.from_env`. The Alerter's :attr:`Alerter.status`
    channel is what a notebook status bar reads. Pair it with :func:`kit.ops.degrade.attach`, so the
    all-clear of an outage comes without waiting for a user request.

    >>> from kit.session import Session                    # doctest: +SKIP
    >>> watcher = attach(Session("localnet"))               # doctest: +SKIP
    >>> watcher.alerter.status_dict()                       # doctest: +SKIP
    """
    alerter = Alerter(config, journal=session.journal, venue=session.venue, account=session.account)
    return AlertWatcher(session, alerter, interval_s=interval_s, streams=streams).start()
