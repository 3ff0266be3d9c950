"""Fill adoption: journal every fill the exchange has that the journal lacks, exactly once, gap-free.

Used by the private streams after a reconnect (:mod:`kit.session.streams`) and by reconciliation
(:func:`kit.ops.reconcile.adopt_fills`), which sits above the session and builds its report on it.

Per symbol, every trade of ours is read from the watermark on: the *exchange's* last trade time
seen by the previous sweep, less :data:`SWEEP_OVERLAP_MS` for trades published late (the first
sweep starts :data:`FIRST_SWEEP_MARGIN_MS` before the symbol's first intent or fill). It is not the
journal's last fill: a stream can journal a later fill while an earlier one was lost. Paging goes
through windows of at most 24 hours (Binance refuses longer ``startTime``..``endTime`` spans) and
through full pages, so there is no gap. Each missing trade is journaled with
:meth:`~kit.journal.journal.Journal.record_fill` (exactly once, whoever else is writing) and, with its
reason, as a ``"reconcile"`` event (``action="adopt_fill"``). Watermarks live in the journal, in
the ``watermarks`` field of ``"reconcile"`` events: a sweep on its own journals them
(``action="adopt_fills"``); :func:`kit.ops.reconcile.reconcile` puts them in its summary instead.

>>> from kit.session import Session                      # doctest: +SKIP
>>> sweep = sweep_fills(Session("localnet"), ["BTC/USDT"])   # doctest: +SKIP
>>> len(sweep.adopted), sweep.watermarks                 # doctest: +SKIP
(0, {'BTC/USDT': 1767225600000})
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from kit.errors import DataError

if TYPE_CHECKING:
    from kit.session.core import Session

__all__ = ["FIRST_SWEEP_MARGIN_MS", "SWEEP_OVERLAP_MS", "AdoptedFill", "FillSweep", "sweep_fills"]

DAY_MS = 86_400_000
#: How far before the first intent the first fill sweep starts (absorbs clock offsets).
FIRST_SWEEP_MARGIN_MS = 10 * 60_000
#: How far before the watermark each later sweep starts again. Exchange trade times should never go back,
#: but a trade published late with an older time (an exchange recovering from an incident; localnet after a
#: crash) would otherwise fall behind the watermark for good. Re-reading a few minutes costs one page.
SWEEP_OVERLAP_MS = 10 * 60_000
_MAX_PAGES = 100_000


@dataclass(frozen=True)
class AdoptedFill:
    """One trade the journal lacked and that a sweep journaled (``amount``/``price`` as ccxt gave them)."""

    symbol: str
    trade_id: str
    order_id: str
    client_id: str
    side: str
    amount: Any
    price: Any
    reason: str


@dataclass
class FillSweep:
    """What :func:`sweep_fills` did: the adopted fills, the symbols swept and their new watermarks."""

    watermarks: dict[str, int] = field(default_factory=dict)
    symbols: list[str] = field(default_factory=list)
    adopted: list[AdoptedFill] = field(default_factory=list)


class TradeSource(Protocol):
    """Where a sweep reads trades from (the Session's request path; an in-memory book in tests)."""

    def my_trades(
        self, symbol: str, since: int | None, limit: int, *, end_ms: int | None = None, from_id: int | None = None
    ) -> list[dict[str, Any]]: ...


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def server_now_ms(session: Session) -> int:
    """The exchange's time now, by the Session's last clock measurement (local time if none)."""
    rep = session.clock_report
    return _now_ms() + (rep.offset_ms if rep is not None else 0)


class _Trades:
    """``myTrades`` through the Session's request seam (rate budget, error mapping, request log, retries)."""

    def __init__(self, session: Session) -> None:
        self.s = session

    def my_trades(
        self, symbol: str, since: int | None, limit: int, *, end_ms: int | None = None, from_id: int | None = None
    ) -> list[dict[str, Any]]:
        params: dict[str, Any] = {}
        if end_ms is not None:
            params["until"] = end_ms  # ccxt's unified name (Binance: endTime)
        if from_id is not None:
            if self.s.spec.exchange_id != "binance":
                raise DataError(f"{symbol}: more than {limit} trades in one millisecond and no trade-id paging here")
            params["fromId"] = from_id
        wire = {"symbol": symbol, "limit": limit, **params}  # what the request weight depends on
        rows = self.s.api.call(
            "fetch_my_trades",
            lambda ex: ex.fetch_my_trades(symbol, since, limit, dict(params)),
            method="GET",
            path="/api/v3/myTrades",
            params=wire,
            symbol=symbol,
            write=False,
        )
        return list(rows)


def journal_watermarks(session: Session) -> dict[str, int]:
    """The latest journaled watermark per symbol (from reconcile summaries and standalone sweeps)."""
    out: dict[str, int] = {}
    for ev in session.journal.events(kinds=["reconcile"], venue=session.venue, account=session.account):
        for symbol, ts in (ev.get("watermarks") or {}).items():
            out[str(symbol)] = int(ts)
    return out


def journal_symbols(session: Session) -> set[str]:
    """Every symbol the journal has intents or fills for (in this Session's venue and account)."""
    evs = session.journal.events(kinds=["intent", "fill"], venue=session.venue, account=session.account)
    return {e.symbol for e in evs if e.symbol}


def _jrec(session: Session, kind: str, **fields: Any) -> int:
    return session.journal.append(
        kind, venue=session.venue, account=session.account, stage=session.stage.value, **fields
    )


def _record(session: Session, t: dict[str, Any], client_id: str) -> bool:
    """Journal one trade as a fill (False when the journal already had it); without a client id it is foreign."""
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
        foreign=not client_id,
    )


def _trade_key(t: dict[str, Any]) -> tuple[str, str]:
    return str(t.get("id")), str(t.get("side") or "")


def _sweep(api: TradeSource, symbol: str, since: int, *, limit: int, horizon_ms: int) -> list[dict[str, Any]]:
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


def sweep_fills(
    session: Session,
    symbols: Iterable[str] | None = None,
    *,
    limit: int = 1000,
    client_ids: Mapping[str, str] | None = None,
    into: FillSweep | None = None,
    on_adopt: Callable[[AdoptedFill], None] | None = None,
) -> FillSweep:
    """Journal every fill the exchange has that the journal lacks (exactly once), gap-free.

    Parameters
    ----------
    session
        An open Session; only ``myTrades`` is read, through its request path.
    symbols
        Symbols to sweep; default: every symbol the journal has intents or fills for.
    limit
        Trades per ``myTrades`` page (Binance allows up to 1000).
    client_ids
        Extra ``{exchange order id: client id}`` pairs; the journal's acknowledged orders are known already.
    into
        Add to this sweep (its watermarks go before the journal's) and journal no watermark event: the
        caller journals the watermarks itself (a reconcile run, which may sweep twice, in its summary).
        Without it, the new watermarks are journaled (``"reconcile"``, ``action="adopt_fills"``).
    on_adopt
        Called with each fill adopted, right after the fill is journaled (before its ``adopt_fill`` event).

    Returns
    -------
    FillSweep
        ``into`` (or a new one) with the adopted fills, the symbols swept and their watermarks.
    """
    api = _Trades(session)
    standalone = into is None
    sweep = into if into is not None else FillSweep()
    j = session.journal
    states = j.order_states(venue=session.venue, account=session.account)
    cids = dict(client_ids or {})
    for cid, o in states.items():
        if o.order_id:
            cids.setdefault(o.order_id, cid)
    marks = journal_watermarks(session)
    syms = sorted(set(symbols) if symbols is not None else journal_symbols(session))
    horizon = max(server_now_ms(session), _now_ms()) + 60_000
    for symbol in syms:
        mark = sweep.watermarks.get(symbol, marks.get(symbol))
        since = mark - SWEEP_OVERLAP_MS if mark is not None else None
        if since is None:
            first = j.events(kinds=["intent", "fill"], venue=session.venue, symbol=symbol, account=session.account)[:1]
            since = (first[0].ts_ms - FIRST_SWEEP_MARGIN_MS) if first else horizon - DAY_MS
        trades = _sweep(api, symbol, max(0, since), limit=limit, horizon_ms=horizon)
        for t in trades:
            t.setdefault("symbol", symbol)
            oid = str(t.get("order") or "")
            cid = cids.get(oid, "")
            if not _record(session, t, cid):
                continue  # the journal has it already (a stream, a REST answer, another sweep)
            foreign = "" if cid else " (order not placed by the kit)"
            why = f"fill missing from the journal (happened while it was not listening){foreign}"
            side = str(t.get("side") or "")
            fill = AdoptedFill(symbol, str(t.get("id")), oid, cid, side, t.get("amount"), t.get("price"), why)
            sweep.adopted.append(fill)
            if on_adopt is not None:
                on_adopt(fill)
            _jrec(session, "reconcile", action="adopt_fill", reason=why, symbol=symbol, client_id=cid, order_id=oid,
                  trade_id=fill.trade_id, side=side)  # fmt: skip
        newest = max((int(t["timestamp"]) for t in trades), default=None)
        floor = mark if mark is not None else since
        sweep.watermarks[symbol] = max(floor, newest) if newest is not None else floor
        if symbol not in sweep.symbols:
            sweep.symbols.append(symbol)
    if standalone:  # a reconcile run journals them in its summary; alone (a stream backfill), journal them here
        _jrec(session, "reconcile", action="adopt_fills", reason="fills adopted", watermarks=dict(sweep.watermarks),
              adopted=len(sweep.adopted))  # fmt: skip
    return sweep
