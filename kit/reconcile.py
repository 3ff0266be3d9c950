"""Reconciliation: make the journal agree with the exchange, and say what differed.

Run it when a Session starts (the process may have died with orders in flight) and whenever the
journal may have missed something (a stream was down, the exchange was unreachable).
:func:`reconcile` compares, in this order:

1. **Orders whose outcome is unknown** (journal status ``intent``: the process died between
   journaling and the acknowledgement, or ``unknown``: the request failed in transit). Each is
   looked up by its client order id, never resent. Found: journaled as ``resolved`` + ``ack``.
   Not found once the order's time window has passed (the exchange refuses a request whose
   signed timestamp is older than ``recvWindow``, so after ``intent + recvWindow + clock error``
   it can never appear): journaled ``resolved`` with status ``not_placed``. Not found inside the
   window: left alone and reported as ``pending``.
2. **Orders the journal thinks are open** but the exchange has closed, cancelled or expired
   (filled or cancelled while the process was down, or a cancel whose acknowledgement was lost):
   journaled as an ``order`` update with the exchange's status.
3. **Orders on the exchange the kit did not place** (open orders whose client id is not in the
   journal): reported, never touched.
4. **Fills**: per symbol, every trade since the watermark (the last exchange trade seen by the
   previous reconcile, less a few minutes of overlap for trades published late; for the first
   one, the first intent or fill of the symbol, minus a margin for clock error) is fetched,
   paging through windows of at most 24 hours and through full pages, so there is no gap.
   Missing ones are journaled with :meth:`~kit.journal.Journal.record_fill` (exactly once,
   whoever else is writing). The watermark is the *exchange's* last trade time, not the local
   clock, and not the last fill the journal holds: a stream can journal a later fill while an
   earlier one was lost.
5. **Balances**: where the journal has a balance snapshot, the exchange's totals are compared
   with :meth:`~kit.journal.Journal.state_at` balances and each difference is reported; a fresh
   snapshot (timed by the exchange's account update time) is journaled either way.

Every correction is also journaled as a ``"reconcile"`` event with its reason, and a final
``"reconcile"`` event (``action="summary"``) carries the counts and the per-symbol watermarks.

>>> from kit.session import Session              # doctest: +SKIP
>>> report = reconcile(Session("localnet"))      # doctest: +SKIP
>>> print(report.table())                        # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from kit.errors import DataError, KitError, OrderUnknown
from kit.journal_state import OrderState, to_decimal

if TYPE_CHECKING:
    from kit.session.core import Session

__all__ = ["Finding", "ReconcileReport", "adopt_fills", "order_window_ms", "reconcile", "settle_order"]

log = logging.getLogger("kit.reconcile")

DAY_MS = 86_400_000
#: ``state_at`` time that includes everything journaled (fills carry the exchange's clock).
LATEST_MS = 2**62
#: Statuses whose outcome is not established: looked up by client id.
UNRESOLVED = ("intent", "unknown")
#: Statuses the journal treats as live on the exchange.
LIVE = ("open",)
#: How far before the first intent the first fill sweep starts (absorbs clock offsets).
FIRST_SWEEP_MARGIN_MS = 10 * 60_000
#: How far before the watermark each later sweep starts again. Exchange trade times should never go back,
#: but a trade published late with an older time (an exchange recovering from an incident; localnet after a
#: crash) would otherwise fall behind the watermark for good. Re-reading a few minutes costs one page.
SWEEP_OVERLAP_MS = 10 * 60_000
_MAX_PAGES = 100_000


@dataclass(frozen=True)
class Finding:
    """One difference between the journal and the exchange, and what was done about it.

    ``check`` is ``unknown_order``, ``order_status``, ``foreign_order``, ``fill`` or ``balance``;
    ``ref`` the client id, trade id or asset; ``action`` what reconcile did (``resolved``,
    ``not_placed``, ``pending``, ``updated``, ``adopted``, ``reported``).
    """

    check: str
    symbol: str
    ref: str
    journal: str
    exchange: str
    action: str
    reason: str

    def row(self) -> dict[str, str]:
        """The finding as a dict (one table row)."""
        return {
            "check": self.check,
            "symbol": self.symbol,
            "ref": self.ref,
            "journal": self.journal,
            "exchange": self.exchange,
            "action": self.action,
            "reason": self.reason,
        }


@dataclass
class ReconcileReport:
    """What :func:`reconcile` found and did (see the module docstring)."""

    venue: str
    account: str
    started_ms: int
    finished_ms: int = 0
    findings: list[Finding] = field(default_factory=list)
    symbols: list[str] = field(default_factory=list)
    watermarks: dict[str, int] = field(default_factory=dict)
    balances_compared: bool = False
    errors: list[str] = field(default_factory=list)

    def _of(self, check: str, *actions: str) -> list[Finding]:
        return [f for f in self.findings if f.check == check and (not actions or f.action in actions)]

    @property
    def adopted_fills(self) -> list[Finding]:
        """Fills journaled now (they happened while the journal was not listening)."""
        return self._of("fill", "adopted")

    @property
    def resolved(self) -> list[Finding]:
        """Unknown orders found on the exchange (journaled as acknowledged)."""
        return self._of("unknown_order", "resolved")

    @property
    def not_placed(self) -> list[Finding]:
        """Unknown orders the exchange never received (journaled as not placed)."""
        return self._of("unknown_order", "not_placed")

    @property
    def pending(self) -> list[Finding]:
        """Unknown orders not found yet, still inside their time window (reconcile again later)."""
        return self._of("unknown_order", "pending")

    @property
    def status_updates(self) -> list[Finding]:
        """Orders whose status the journal had wrong (updated from the exchange)."""
        return self._of("order_status")

    @property
    def foreign_orders(self) -> list[Finding]:
        """Open orders on the exchange that the kit did not place (reported, untouched)."""
        return self._of("foreign_order")

    @property
    def balance_diffs(self) -> list[Finding]:
        """Assets whose exchange total differs from the journal's."""
        return self._of("balance")

    @property
    def clean(self) -> bool:
        """True when the journal already agreed with the exchange and every lookup worked."""
        return not self.findings and not self.errors

    @property
    def settled(self) -> bool:
        """True when no order is left pending and no lookup failed (differences may have been fixed)."""
        return not self.pending and not self.errors

    def counts(self) -> dict[str, int]:
        """Findings per kind of outcome, for the journal summary and alerts."""
        return {
            "adopted_fills": len(self.adopted_fills),
            "resolved": len(self.resolved),
            "not_placed": len(self.not_placed),
            "pending": len(self.pending),
            "status_updates": len(self.status_updates),
            "foreign_orders": len(self.foreign_orders),
            "balance_diffs": len(self.balance_diffs),
            "errors": len(self.errors),
        }

    def frame(self) -> Any:
        """The findings as a pandas DataFrame (one row per finding)."""
        import pandas as pd

        cols = ["check", "symbol", "ref", "journal", "exchange", "action", "reason"]
        return pd.DataFrame([f.row() for f in self.findings], columns=cols)

    def table(self, *, width: int = 40) -> str:
        """A plain-text table of the findings and a summary line (what ``kit reconcile`` prints)."""
        cols = ["check", "symbol", "ref", "journal", "exchange", "action", "reason"]
        rows = [[_cut(f.row()[c], width) for c in cols] for f in self.findings]
        lines: list[str] = []
        if rows:
            widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(cols)]
            lines.append("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip())
            lines.append("  ".join("-" * w for w in widths))
            lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows]
        else:
            lines.append("journal and exchange agree: nothing to do")
        lines += [f"error: {e}" for e in self.errors]
        lines.append(self.summary())
        return "\n".join(lines)

    def summary(self) -> str:
        """One line: what was checked and done."""
        c = self.counts()
        parts = [f"{v} {k.replace('_', ' ')}" for k, v in c.items() if v]
        what = ", ".join(parts) if parts else "no differences"
        bal = "balances compared" if self.balances_compared else "no balance snapshot to compare"
        took = max(0, self.finished_ms - self.started_ms)
        return f"reconciled {self.venue}/{self.account} ({len(self.symbols)} symbols, {bal}) in {took} ms: {what}"

    def __str__(self) -> str:
        return self.table()


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


# ------------------------------------------------------------------------------- exchange access


class _Exchange:
    """The few reads reconcile needs, each through the Session's request path.

    The path (``Session._call``) applies the shared rate budget, the ccxt error mapping, the
    request log and read retries with backoff; nothing here talks to ccxt on its own.
    """

    def __init__(self, session: Session) -> None:
        self.s = session
        self.ex = session._ex

    def _read(self, op: str, method: str, path: str, fn: Any, params: dict[str, Any], symbol: str | None) -> Any:
        return self.s._call(op, method, path, fn, params=params, symbol=symbol)

    def open_orders(self) -> list[dict[str, Any]]:
        ex = self.ex
        # All symbols in one call (weight 80 on Binance, charged to the budget as such): orders the kit did not
        # place can be on any symbol. ccxt refuses it unless told that the weight is known.
        opts = ex.options.setdefault("fetchOpenOrders", {})
        if isinstance(opts, dict):
            opts["warnWithoutSymbol"] = False
        return list(
            self._read("fetch_open_orders", "GET", "/api/v3/openOrders", lambda: ex.fetch_open_orders(), {}, None)
        )

    def order(self, symbol: str, client_id: str) -> dict[str, Any] | None:
        """The order with this client id, or None if the exchange says it does not exist."""
        try:
            return self.s.order(symbol, client_id=client_id)
        except OrderUnknown:
            return None

    def my_trades(
        self, symbol: str, since: int | None, limit: int, *, end_ms: int | None = None, from_id: int | None = None
    ) -> list[dict[str, Any]]:
        ex = self.ex
        params: dict[str, Any] = {}
        binance = self.s.spec.exchange_id == "binance"
        if end_ms is not None:
            params["until"] = end_ms  # ccxt's unified name (Binance: endTime)
        if from_id is not None:
            if not binance:
                raise DataError(f"{symbol}: more than {limit} trades in one millisecond and no trade-id paging here")
            params["fromId"] = from_id
        wire = {"symbol": symbol, "limit": limit, **params}  # what the request weight depends on
        return list(
            self._read(
                "fetch_my_trades",
                "GET",
                "/api/v3/myTrades",
                lambda: ex.fetch_my_trades(symbol, since, limit, dict(params)),
                wire,
                symbol,
            )
        )

    def balance(self) -> dict[str, Any]:
        ex = self.ex
        return dict(self._read("fetch_balance", "GET", "/api/v3/account", lambda: ex.fetch_balance(), {}, None))

    def server_now_ms(self) -> int:
        rep = self.s.clock_report
        return _now_ms() + (rep.offset_ms if rep is not None else 0)


# ------------------------------------------------------------------------------- journal helpers


def order_window_ms(session: Session, *, margin_ms: int = 2_000) -> int:
    """How long after its last journaled event an order may still appear on the exchange.

    The exchange refuses a signed request whose timestamp is older than ``recvWindow``, and the
    timestamp is taken after the intent is journaled; so once ``recvWindow`` plus the clock's
    error (offset, round trip, Binance's 1 s "ahead" allowance) plus a margin has passed, an order
    that is not on the exchange never will be.
    """
    from kit.clock import AHEAD_LIMIT_MS

    recv = int((getattr(session._ex, "options", None) or {}).get("recvWindow") or 10_000)
    rep = session.clock_report
    clock_err = (abs(rep.offset_ms) + rep.rtt_ms) if rep is not None else 5_000
    return recv + AHEAD_LIMIT_MS + clock_err + margin_ms


def _jrec(session: Session, kind: str, **fields: Any) -> int:
    return session.journal.append(
        kind, venue=session.venue, account=session.account, stage=session.stage.value, **fields
    )


def _correction(session: Session, action: str, reason: str, **fields: Any) -> None:
    """Journal one correction as a ``"reconcile"`` event with its reason."""
    _jrec(session, "reconcile", action=action, reason=reason, **fields)


def _note(session: Session, rep: ReconcileReport, finding: Finding, action: str, **columns: Any) -> None:
    """Add ``finding`` to the report and journal it as a correction (a ``"reconcile"`` event with its reason)."""
    rep.findings.append(finding)
    _correction(session, action, finding.reason, **columns)


def _watermarks(session: Session) -> dict[str, int]:
    """The latest journaled watermark per symbol (from reconcile summaries and standalone fill adoptions)."""
    out: dict[str, int] = {}
    for ev in session.journal.events(kinds=["reconcile"], venue=session.venue, account=session.account):
        for symbol, ts in (ev.get("watermarks") or {}).items():
            out[str(symbol)] = int(ts)
    return out


def _record_trade(session: Session, t: dict[str, Any], client_id: str) -> bool:
    fee = t.get("fee") or {}
    return session.journal.record_fill(
        venue=session.venue,
        account=session.account,
        stage=session.stage.value,
        symbol=str(t.get("symbol") or ""),
        client_id=client_id,
        order_id=str(t.get("order") or ""),
        trade_id=str(t.get("id")),
        side=str(t.get("side") or ""),
        price=Decimal(str(t.get("price"))),
        amount=Decimal(str(t.get("amount"))),
        fee_cost=Decimal(str(fee.get("cost") or 0)),
        fee_currency=str(fee.get("currency") or ""),
        ts_ms=int(t.get("timestamp") or _now_ms()),
    )


def _trade_key(t: dict[str, Any]) -> tuple[str, str]:
    return str(t.get("id")), str(t.get("side") or "")


# ------------------------------------------------------------------------------- fills


def _sweep(api: _Exchange, symbol: str, since: int, *, limit: int, horizon_ms: int) -> list[dict[str, Any]]:
    """Every trade of ours in ``symbol`` from ``since`` on, with no gap.

    Windows of at most 24 hours (Binance refuses longer ``startTime``..``endTime`` spans) up to
    ``horizon_ms``; a full page continues from its last trade time (and by ``fromId`` when a full
    page is all one millisecond); then open-ended pages from the last time, for an exchange
    clock that runs ahead of ours.
    """
    out: dict[tuple[str, str], dict[str, Any]] = {}
    t = since
    pages = 0

    def take(rows: list[dict[str, Any]]) -> None:
        for r in rows:
            out.setdefault(_trade_key(r), r)

    def bump() -> None:
        nonlocal pages
        pages += 1
        if pages > _MAX_PAGES:
            raise DataError(f"reconcile: more than {_MAX_PAGES} pages of trades for {symbol}; giving up")

    def by_id(rows: list[dict[str, Any]]) -> int | None:
        """Page by trade id from a full page whose trades share one millisecond.

        Returns the time to go on from, or None when a page came back short: pages by id are not
        bounded in time, so every later trade has been seen.
        """
        last = rows
        while True:
            bump()
            last = api.my_trades(symbol, None, limit, from_id=max(int(r["id"]) for r in last) + 1)
            take(last)
            if len(last) < limit:
                return None
            stamps = [int(r["timestamp"]) for r in last]
            if min(stamps) != max(stamps):
                return max(stamps)

    open_ended = False
    while True:
        bump()
        end = None if open_ended else min(t + DAY_MS - 1, max(horizon_ms, t))
        rows = api.my_trades(symbol, t, limit, end_ms=end)
        take(rows)
        if len(rows) >= limit:
            last_ts = max(int(r["timestamp"]) for r in rows)
            if last_ts > t:
                t = last_ts
                continue
            nxt = by_id(rows)  # a full page, all in millisecond t: no time-based way forward
            if nxt is None:
                break
            t = nxt
            continue
        if open_ended:
            break
        if end is not None and end >= horizon_ms:
            open_ended, t = True, max(t, max((int(r["timestamp"]) for r in rows), default=t), end)
            continue
        t = (end if end is not None else t) + 1
    return sorted(out.values(), key=lambda r: (int(r["timestamp"]), str(r.get("id"))))


def adopt_fills(
    session: Session,
    symbols: Iterable[str] | None = None,
    *,
    limit: int = 1000,
    report: ReconcileReport | None = None,
    client_ids: dict[str, str] | None = None,
) -> ReconcileReport:
    """Journal every fill the exchange has that the journal lacks (exactly once), gap-free.

    The fill part of :func:`reconcile`, usable alone (e.g. after a stream reconnects). Symbols
    default to every symbol the journal has intents or fills for. Returns the report with one
    ``fill`` finding per adopted trade and the new per-symbol watermarks.
    """
    api = _Exchange(session)
    standalone = report is None
    rep = report or ReconcileReport(session.venue, session.account, _now_ms())
    j = session.journal
    states = j.order_states(venue=session.venue, account=session.account)
    cids = dict(client_ids or {})
    for cid, o in states.items():
        if o.order_id:
            cids.setdefault(o.order_id, cid)
    marks = _watermarks(session)
    syms = sorted(set(symbols) if symbols is not None else _journal_symbols(session))
    horizon = max(api.server_now_ms(), _now_ms()) + 60_000
    for symbol in syms:
        mark = rep.watermarks.get(symbol, marks.get(symbol))
        since = mark - SWEEP_OVERLAP_MS if mark is not None else None
        if since is None:
            firsts = [
                e.ts_ms
                for e in j.events(
                    kinds=["intent", "fill"], venue=session.venue, symbol=symbol, account=session.account
                )[:1]
            ]
            since = (firsts[0] - FIRST_SWEEP_MARGIN_MS) if firsts else horizon - DAY_MS
        trades = _sweep(api, symbol, max(0, since), limit=limit, horizon_ms=horizon)
        for t in trades:
            t.setdefault("symbol", symbol)
            oid = str(t.get("order") or "")
            cid = cids.get(oid, "")
            if _record_trade(session, t, cid):
                tid, side = str(t.get("id")), str(t.get("side") or "")
                foreign = "" if cid else " (order not placed by the kit)"
                why = f"fill missing from the journal (happened while it was not listening){foreign}"
                got = f"{side} {t.get('amount')} @ {t.get('price')}"
                _note(session, rep, Finding("fill", symbol, tid, "missing", got, "adopted", why), "adopt_fill",
                      symbol=symbol, client_id=cid, order_id=oid, trade_id=tid, side=side)  # fmt: skip
        newest = max((int(t["timestamp"]) for t in trades), default=None)
        floor = mark if mark is not None else since
        rep.watermarks[symbol] = max(floor, newest) if newest is not None else floor
        if symbol not in rep.symbols:
            rep.symbols.append(symbol)
    if standalone:  # reconcile() journals them in its summary; alone (a stream backfill), journal them here
        _jrec(session, "reconcile", action="adopt_fills", reason="fills adopted", watermarks=dict(rep.watermarks),
              adopted=len(rep.adopted_fills))  # fmt: skip
    return rep


def _journal_symbols(session: Session) -> set[str]:
    j = session.journal
    evs = j.events(kinds=["intent", "fill"], venue=session.venue, account=session.account)
    return {e.symbol for e in evs if e.symbol}


# ------------------------------------------------------------------------------- orders


def _journal_found(session: Session, cid: str, symbol: str, order: dict[str, Any], prior: str) -> str:
    """Journal that an order whose outcome was not established is on the exchange; returns the reason."""
    status = str(order.get("status"))
    oid = str(order.get("id"))
    if prior == "not_placed":
        reason = "was journaled as not placed, but it reached the exchange (found by client id): corrected"
    else:
        reason = f"outcome was {prior} (no acknowledgement journaled); found on the exchange by client id"
    how = "reconcile: lookup by client id"
    _jrec(session, "resolved", symbol=symbol, client_id=cid, order_id=oid, status=status, how=how)
    _jrec(session, "ack", symbol=symbol, client_id=cid, order_id=oid, status=status, filled=_num(order.get("filled")),
          average=_num(order.get("average")))  # fmt: skip
    _correction(session, "resolve", reason, symbol=symbol, client_id=cid, order_id=oid, status=status)
    return reason


def _journal_not_placed(session: Session, cid: str, symbol: str, prior: str, age: int, window: int) -> str:
    reason = f"outcome was {prior}; not on the exchange {age} ms later (window {window} ms): never placed"
    _jrec(session, "resolved", symbol=symbol, client_id=cid, status="not_placed", how="reconcile: lookup by client id")
    _correction(session, "not_placed", reason, symbol=symbol, client_id=cid)
    return reason


def _resolve_unknown(
    session: Session, api: _Exchange, cid: str, o: OrderState, now: int, window: int, rep: ReconcileReport
) -> None:
    symbol = o.symbol
    order = api.order(symbol, cid)
    if order is not None:
        reason = _journal_found(session, cid, symbol, order, o.status)
        got = f"{order.get('status')} (id {order.get('id')})"
        rep.findings.append(Finding("unknown_order", symbol, cid, o.status, got, "resolved", reason))
        return
    if o.status == "not_placed":  # re-checked while young: still absent, nothing to change
        return
    age = now - o.last_ts_ms
    if age < window:
        why = f"inside its time window ({age} of {window} ms); reconcile again later"
        rep.findings.append(Finding("unknown_order", symbol, cid, o.status, "not found (yet)", "pending", why))
        return
    reason = _journal_not_placed(session, cid, symbol, o.status, age, window)
    rep.findings.append(Finding("unknown_order", symbol, cid, o.status, "not found", "not_placed", reason))


def settle_order(
    session: Session,
    client_id: str,
    *,
    symbol: str,
    timeout_s: float = 60.0,
    window_ms: int | None = None,
    poll_s: float = 0.5,
) -> str:
    """Establish, by client id, whether one order reached the exchange; never resends it.

    Looks the order up until it is found (``"placed"``; journaled ``resolved`` + ``ack`` unless the
    journal already knew) or its time window (:func:`order_window_ms`, counted from its last
    journaled event) has passed without it (``"not_placed"``; journaled, and then it is safe to
    place it again). An order journaled as not placed too early (a lookup right after a timeout)
    is checked again and corrected if it turns up. Gives ``"unresolved"`` after ``timeout_s``
    (the exchange could not be asked): leave it to :func:`reconcile`.
    """
    window = window_ms if window_ms is not None else order_window_ms(session)
    api = _Exchange(session)
    deadline = time.monotonic() + timeout_s
    first_seen = _now_ms()
    while True:
        st = session.journal.order_states(venue=session.venue).get(client_id)
        prior = st.status if st is not None else "intent"
        last_ts = st.last_ts_ms if st is not None else first_seen
        try:
            order = api.order(symbol, client_id)
            looked = True
        except KitError as exc:
            order, looked = None, False
            log.info("settle %s: lookup failed (%s); retrying", client_id, type(exc).__name__)
        if order is not None:
            if prior in (*UNRESOLVED, "not_placed"):
                _journal_found(session, client_id, symbol, order, prior)
            return "placed"
        age = _now_ms() - last_ts
        if looked and age >= window:
            if prior != "not_placed":
                _journal_not_placed(session, client_id, symbol, prior, age, window)
            return "not_placed"
        if time.monotonic() > deadline:
            return "unresolved"
        time.sleep(poll_s)


def _num(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return to_decimal(value)
    except (TypeError, ValueError):
        return None


def _check_live(
    session: Session, api: _Exchange, cid: str, o: OrderState, open_ids: set[str], rep: ReconcileReport
) -> None:
    """A journal-open order that is not open on the exchange: learn and journal its final status."""
    if cid in open_ids or (o.order_id and o.order_id in open_ids):
        return
    order = api.order(o.symbol, cid)
    if order is None:
        why = "journal says open; the exchange has no record of it (archived or lost): marked expired"
        _jrec(session, "order", symbol=o.symbol, client_id=cid, order_id=o.order_id, status="expired", filled=o.filled,
              reconcile=True)  # fmt: skip
        _note(session, rep, Finding("order_status", o.symbol, cid, o.status, "not found", "updated", why),
              "order_status", symbol=o.symbol, client_id=cid, status="expired")  # fmt: skip
        return
    status = str(order.get("status"))
    if status == "open":  # it became open between the two reads
        return
    oid = str(order.get("id"))
    why = f"journal says open; the exchange says {status} (changed while the journal was not listening)"
    _jrec(session, "order", symbol=o.symbol, client_id=cid, order_id=oid, status=status,
          filled=_num(order.get("filled")), remaining=_num(order.get("remaining")),
          average=_num(order.get("average")), reconcile=True)  # fmt: skip
    _note(session, rep, Finding("order_status", o.symbol, cid, o.status, status, "updated", why), "order_status",
          symbol=o.symbol, client_id=cid, order_id=oid, status=status)  # fmt: skip


# ------------------------------------------------------------------------------- balances


def _exchange_balances(bal: dict[str, Any]) -> tuple[dict[str, dict[str, Decimal]], int | None]:
    """``{asset: {free, used, total}}`` exactly (from the raw Binance body when present), and its update time."""
    info = bal.get("info") if isinstance(bal.get("info"), dict) else {}
    out: dict[str, dict[str, Decimal]] = {}
    raw = info.get("balances") if isinstance(info, dict) else None
    if isinstance(raw, list) and raw and all(isinstance(r, dict) and "asset" in r for r in raw):
        for r in raw:
            free, used = to_decimal(r.get("free")) or Decimal(0), to_decimal(r.get("locked")) or Decimal(0)
            out[str(r["asset"])] = {"free": free, "used": used, "total": free + used}
    else:
        for asset, total in (bal.get("total") or {}).items():
            if total is None:
                continue
            free = _num((bal.get("free") or {}).get(asset)) or Decimal(0)
            used = _num((bal.get("used") or {}).get(asset)) or Decimal(0)
            out[str(asset)] = {"free": free, "used": used, "total": _num(total) or Decimal(0)}
    upd = info.get("updateTime") if isinstance(info, dict) else None
    ts = bal.get("timestamp") or upd
    return out, int(ts) if ts else None


def _compare_balances(session: Session, exchange: dict[str, dict[str, Decimal]]) -> list[tuple[str, Decimal, Decimal]]:
    state = session.journal.state_at(LATEST_MS, venue=session.venue, account=session.account)
    assets = {a for a, v in exchange.items() if v["total"]} | {a for a, v in state.balances.items() if v}
    diffs = []
    for a in sorted(assets):
        ex_total = exchange.get(a, {}).get("total", Decimal(0))
        j_total = state.balances.get(a, Decimal(0))
        if ex_total != j_total:
            diffs.append((a, ex_total, j_total))
    return diffs


def _balances(session: Session, api: _Exchange, rep: ReconcileReport, symbols: list[str], limit: int) -> None:
    j = session.journal
    has_snapshot = bool(j.events(kinds=["balance"], venue=session.venue, account=session.account)[-1:])
    exchange, upd = _exchange_balances(api.balance())
    diffs: list[tuple[str, Decimal, Decimal]] = []
    if has_snapshot:
        diffs = _compare_balances(session, exchange)
        if diffs:  # a fill may have landed between the fill sweep and the balance read: sweep once more
            adopt_fills(session, symbols, limit=limit, report=rep)
            exchange, upd = _exchange_balances(api.balance())
            diffs = _compare_balances(session, exchange)
        rep.balances_compared = True
    for asset, ex_total, j_total in diffs:
        why = f"exchange total differs from the journal's (snapshot + fills since) by {ex_total - j_total}"
        _note(session, rep, Finding("balance", "", asset, str(j_total), str(ex_total), "reported", why),
              "balance_diff", asset=asset, exchange_total=str(ex_total), journal_total=str(j_total))  # fmt: skip
    # The snapshot holds every fill up to the exchange's last balance change; time it there (not by the
    # local clock), so state_at never counts a fill twice or drops one when the clocks disagree.
    fills = j.fills(venue=session.venue, account=session.account)
    ts = max([upd or 0, *(f.ts_ms for f in fills)]) or api.server_now_ms()
    snap = {a: {k: str(v) for k, v in row.items()} for a, row in exchange.items() if row["total"]}
    _jrec(session, "balance", ts_ms=int(ts), balances=snap, source="reconcile")


# ------------------------------------------------------------------------------- the entry point


def reconcile(
    session: Session,
    *,
    symbols: Iterable[str] | None = None,
    balances: bool = True,
    page_limit: int = 1000,
    window_ms: int | None = None,
    now_ms: int | None = None,
) -> ReconcileReport:
    """Compare the journal with the exchange, fix the journal, and report every difference.

    Parameters
    ----------
    session
        An open Session (any stage; reconcile only reads from the exchange).
    symbols
        Symbols whose fills to sweep; default: every symbol with journaled intents or fills, or
        open orders on the exchange.
    balances
        Also compare balances and journal a fresh snapshot.
    page_limit
        Trades per ``myTrades`` page (Binance allows up to 1000).
    window_ms
        An unknown order not found on the exchange is declared never placed only this long after
        its last journaled event (default :func:`order_window_ms`).
    now_ms
        The local time to judge windows by (tests).

    Returns
    -------
    ReconcileReport
        Findings (each also journaled as a ``"reconcile"`` event), watermarks, errors.

    Notes
    -----
    Nothing is ever sent but reads: no order is placed, resent or cancelled, and orders that the
    kit did not place are only reported. A lookup that fails (exchange down) is listed in
    ``errors`` and leaves that item for the next run; a :class:`~kit.errors.KitError` from the
    first exchange read propagates.
    """
    rep = ReconcileReport(session.venue, session.account, _now_ms())
    api = _Exchange(session)
    j = session.journal
    window = window_ms if window_ms is not None else order_window_ms(session)
    now = now_ms if now_ms is not None else _now_ms()

    opens = api.open_orders()
    states = j.order_states(venue=session.venue)
    placed = {e.client_id for e in j.events(kinds=["intent"], venue=session.venue) if e.client_id}
    mine = {cid: o for cid, o in states.items() if cid in placed and o.account == session.account}
    open_ids = {str(o.get("clientOrderId") or "") for o in opens} | {str(o.get("id")) for o in opens}
    for cid, o in sorted(mine.items(), key=lambda kv: kv[1].last_ts_ms):
        if not o.symbol:
            continue
        try:
            young = now - o.last_ts_ms < 2 * window
            if o.status in UNRESOLVED or (o.status == "not_placed" and young):
                _resolve_unknown(session, api, cid, o, now, window, rep)
            elif o.status in LIVE:
                _check_live(session, api, cid, o, open_ids, rep)
        except KitError as exc:
            rep.errors.append(f"{cid} ({o.symbol}): {type(exc).__name__}: {exc}"[:300])
    for x in opens:
        cid, sym, oid = str(x.get("clientOrderId") or ""), str(x.get("symbol")), str(x.get("id"))
        if cid and cid in placed:
            known = states[cid]
            if known.status not in ("open", *UNRESOLVED):
                why = f"journal says {known.status}; the exchange has it open"
                _jrec(session, "order", symbol=sym, client_id=cid, order_id=oid, status="open",
                      filled=_num(x.get("filled")), reconcile=True)  # fmt: skip
                _note(session, rep, Finding("order_status", sym, cid, known.status, "open", "updated", why),
                      "order_status", symbol=sym, client_id=cid, status="open")  # fmt: skip
            continue
        why = "open on the exchange but not placed by the kit (client id not in the journal); left untouched"
        got = f"{x.get('side')} {x.get('amount')} @ {x.get('price')} {x.get('status')}"
        _note(session, rep, Finding("foreign_order", sym, cid or oid, "absent", got, "reported", why), "foreign_order",
              symbol=sym, client_id=cid, order_id=oid)  # fmt: skip

    syms = set(symbols) if symbols is not None else _journal_symbols(session) | {str(o["symbol"]) for o in opens}
    try:
        adopt_fills(session, sorted(syms), limit=page_limit, report=rep)
        if balances:
            _balances(session, api, rep, sorted(syms), page_limit)
    except KitError as exc:
        rep.errors.append(f"fills/balances: {type(exc).__name__}: {exc}"[:300])
    rep.finished_ms = _now_ms()
    _jrec(session, "reconcile", action="summary", reason="reconcile finished", counts=rep.counts(),
          watermarks=dict(rep.watermarks), symbols=sorted(rep.symbols), balances_compared=rep.balances_compared,
          errors=list(rep.errors))  # fmt: skip
    level = logging.INFO if rep.clean else logging.WARNING
    log.log(level, "%s", rep.summary())
    return rep
