"""The entry point, :func:`reconcile`: compare the journal with the exchange, check by check.

It reads the open orders once, walks the journal's orders (unknown outcome, journal-open), lists
open orders the kit did not place, then sweeps fills and compares balances. Each difference is
corrected and journaled by :mod:`kit.ops.reconcile.apply`; see :mod:`kit.ops.reconcile` for the checks.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from kit.errors import KitError
from kit.ops.reconcile.apply import (
    UNRESOLVED,
    _balances,
    _check_live,
    _jrec,
    _note,
    _resolve_unknown,
    adopt_fills,
)
from kit.ops.reconcile.exchange import _Exchange, _now_ms, _num, order_window_ms
from kit.ops.reconcile.report import Finding, ReconcileReport

if TYPE_CHECKING:
    from kit.session.core import Session

__all__ = ["reconcile"]

log = logging.getLogger("kit.ops.reconcile")

#: Statuses the journal treats as live on the exchange.
LIVE = ("open",)


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

    if symbols is not None:
        syms = set(symbols)
    else:
        from kit.session.fills import journal_symbols  # not at import: kit.session pulls in ccxt (`kit --help`)

        syms = journal_symbols(session) | {str(o["symbol"]) for o in opens}
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
