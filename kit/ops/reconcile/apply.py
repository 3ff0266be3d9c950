"""The corrections reconciliation makes, each journaled with its reason as a ``"reconcile"`` event.

An unknown order found or declared never placed (:func:`settle_order` does it for one order and
waits), a journal-open order closed on the exchange, fills adopted (:func:`adopt_fills`, built on
:func:`kit.session.fills.sweep_fills`), a balance difference reported and a fresh snapshot. What
to correct is decided by :func:`kit.ops.reconcile.reconcile`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from kit.errors import KitError
from kit.journal.state import OrderState
from kit.ops.reconcile.exchange import _Exchange, _exchange_balances, _now_ms, _num, order_window_ms
from kit.ops.reconcile.report import Finding, ReconcileReport

if TYPE_CHECKING:
    from kit.session.core import Session

__all__ = ["adopt_fills", "settle_order"]

log = logging.getLogger("kit.ops.reconcile")

#: ``state_at`` time that includes everything journaled (fills carry the exchange's clock).
LATEST_MS = 2**62
#: Statuses whose outcome is not established: looked up by client id.
UNRESOLVED = ("intent", "unknown")


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
    ``fill`` finding per adopted trade and the new per-symbol watermarks. The sweep itself is
    :func:`kit.session.fills.sweep_fills`; with ``report`` (a reconcile run) its watermarks go before
    the journal's and are journaled in the run's summary, alone they are journaled at once.
    """
    from kit.session.fills import AdoptedFill, FillSweep, sweep_fills  # not at import: kit.session pulls in ccxt

    rep = report or ReconcileReport(session.venue, session.account, _now_ms())

    def found(f: AdoptedFill) -> None:
        got = f"{f.side} {f.amount} @ {f.price}"
        rep.findings.append(Finding("fill", f.symbol, f.trade_id, "missing", got, "adopted", f.reason))

    # the sweep writes straight into the report's watermarks and symbols (a symbol that fails leaves the others)
    into = FillSweep(watermarks=rep.watermarks, symbols=rep.symbols) if report is not None else None
    sweep = sweep_fills(session, symbols, limit=limit, client_ids=client_ids, into=into, on_adopt=found)
    if report is None:
        rep.watermarks.update(sweep.watermarks)
        rep.symbols.extend(sweep.symbols)
    return rep
