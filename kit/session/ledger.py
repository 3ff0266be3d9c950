"""What the pre-send checks read from the journal, kept up to date row by row instead of replayed.

Before every order the Session counts the account's live orders (``MAX_NUM_ORDERS`` per symbol,
the guard's open-order cap) and today's notional and realized PnL (the guard's daily caps). Those
used to come from a replay of the whole journal (:meth:`kit.journal.Journal.state_at`) plus a read
of today's intents and fills, twice per :meth:`~kit.session.Session.place_many` and per
:meth:`~kit.session.Session.place`: a cost that grows with the journal, paid at every candle close
of a forward run. :class:`CheckLedger` reads only the rows appended since its last look
(``Journal.events(after_seq=)``) and gives the same answers:

- **order states** are folded per order (client id) exactly as :func:`kit.journal.state.replay`
  folds them (an order's status depends on its own events only, in ``(ts_ms, seq)`` order): a
  new row re-folds that one order from its events. The events of an order in a final status
  (closed, canceled, expired) are dropped and only its state kept, so memory stays flat over a
  long run; a later row for it (rare: a late cancel acknowledgement) reads its events again by
  client id. A row with no client id (an order known by its exchange id only, seen while
  reconciling), or a row with the exchange id of such a row, makes the look a full replay, which
  assigns it to its order the way the replay does (such an order's events are never dropped).
- **today's totals** (UTC day, by the rows' ``ts_ms`` as :meth:`kit.session.Session.today`
  counts them) are sums kept per symbol in journal order; a new day starts them again from a
  read of that day's rows.

Rows are appended in ``seq`` order by every process (SQLite serializes writers), so reading
``after_seq`` misses nothing another process wrote. ``tests/session/test_ledger.py`` checks the
ledger against the replay on journals with every kind of order event, and that the checks refuse
exactly what they refused before.

>>> import tempfile, pathlib
>>> from kit.journal import Journal
>>> j = Journal(pathlib.Path(tempfile.mkdtemp()) / "j.sqlite")
>>> _ = j.append("intent", venue="x", symbol="BTC/USDT", client_id="a", side="buy", type="limit", amount="1")
>>> ledger = CheckLedger(j, venue="x", account="default")
>>> [o.client_id for o in ledger.live()]
['a']
>>> _ = j.append("ack", venue="x", symbol="BTC/USDT", client_id="a", status="canceled")
>>> ledger.live()
[]
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from kit.journal.state import JournalEvent, OrderState, _Orders

__all__ = ["LIVE", "CheckLedger", "DayTotals"]

#: Order statuses the checks count as live: the order is, or may be, working on the exchange.
LIVE = ("intent", "open", "unknown")
_FINAL = frozenset({"closed", "canceled", "expired"})  # never live again (see the module docstring)
_ORDER_KINDS = ("intent", "ack", "order", "unknown", "resolved", "cancel_intent", "cancel_ack", "fill", "error")
DAY_MS = 86_400_000


@dataclass
class DayTotals:
    """Today's intents and fills of one account, summed per symbol in journal order.

    ``ref_notional``: the intents' notional already in the caps' currency; ``raw_notional``: per
    symbol, the notional of intents written before caps had a reference currency (converted at the
    current rate when read); ``pnl_quote`` and ``net``: per symbol, the fills' quote flow (fees in
    the quote currency included) and base change.
    """

    start_ms: int
    ref_notional: Decimal = Decimal(0)
    raw_notional: dict[str, Decimal] = field(default_factory=dict)
    pnl_quote: dict[str, Decimal] = field(default_factory=dict)
    net: dict[str, Decimal] = field(default_factory=dict)


class CheckLedger:
    """Live orders and today's totals of one venue and account (see the module docstring)."""

    def __init__(self, journal: Any, *, venue: str, account: str, quote_of: Any = None) -> None:
        self.journal = journal
        self.venue = venue
        self.account = account
        self._quote_of = quote_of  # symbol -> its market's quote currency (fees in quote count in PnL)
        self._lock = threading.RLock()
        self._seq = 0
        self._full = True  # the next look replays everything (first look, or an order known by exchange id only)
        self._events: dict[str, list[JournalEvent]] = {}  # per client id, orders not final yet
        self._sticky: set[str] = set()  # orders with rows that carry no client id: their events are kept
        self._anon_oids: set[str] = set()  # exchange ids of rows without a client id
        self._states: dict[str, OrderState] = {}  # orders not final, or whose events are kept
        self._done: set[str] = set()  # final orders whose events (and state) were dropped
        self._day: DayTotals | None = None
        self._day_seq = 0

    # -- orders ------------------------------------------------------------------------------------
    def live(self, symbol: str | None = None) -> list[OrderState]:
        """The orders in a live status (``intent``, ``open``, ``unknown``), of ``symbol`` if given."""
        with self._lock:
            self._refresh_orders()
            return [o for o in self._states.values() if o.status in LIVE and (symbol is None or o.symbol == symbol)]

    def _refresh_orders(self) -> None:
        new = self.journal.events(kinds=_ORDER_KINDS, venue=self.venue, account=self.account, after_seq=self._seq)
        if new:
            self._seq = max(self._seq, new[-1].seq)
        if any((not e.client_id and e.order_id) or (e.order_id and e.order_id in self._anon_oids) for e in new):
            self._full = True  # which order a row without a client id belongs to can change: replay it all
        if self._full:
            self._rebuild()
            return
        touched: dict[str, None] = {}
        for e in new:
            cid = e.client_id
            if not cid:
                continue  # neither client nor exchange id (e.g. an "error" row of a failed read): no order's
            if cid in self._done:  # a final order's events were dropped: read them again
                self._events[cid] = self.journal.events(kinds=_ORDER_KINDS, venue=self.venue, account=self.account,
                                                        client_id=cid)  # fmt: skip
                self._done.discard(cid)
            evs = self._events.setdefault(cid, [])
            if all(x.seq != e.seq for x in evs):
                evs.append(e)
            touched[cid] = None
        for cid in touched:
            self._fold(cid)

    def _rebuild(self) -> None:
        """Everything from the journal, each row assigned to its order as the replay assigns it."""
        rows = self.journal.events(kinds=_ORDER_KINDS, venue=self.venue, account=self.account)
        self._seq = max([self._seq, *(e.seq for e in rows[-1:])])
        book = _Orders()
        events: dict[str, list[JournalEvent]] = {}
        for e in sorted(rows, key=lambda e: (e.ts_ms, e.seq)):
            key = book.key(e)
            book.apply(e)
            if key is not None:
                events.setdefault(key[1], []).append(e)
        self._states = {key[1]: o for key, o in book.by_key.items()}
        self._sticky = {cid for cid, evs in events.items() if any(e.client_id != cid for e in evs)}
        self._anon_oids = {e.order_id for e in rows if not e.client_id and e.order_id}
        self._events = {cid: evs for cid, evs in events.items() if not self._droppable(cid)}
        self._done = {cid for cid in self._states if cid not in self._events}
        self._states = {cid: o for cid, o in self._states.items() if cid in self._events}
        self._full = False

    def _droppable(self, cid: str) -> bool:
        """A final order's events can be read again by its client id (unless some rows had none)."""
        return self._states[cid].status in _FINAL and cid not in self._sticky

    def _fold(self, cid: str) -> None:
        book = _Orders()
        for e in sorted(self._events[cid], key=lambda e: (e.ts_ms, e.seq)):
            book.apply(e if e.client_id == cid else replace(e, client_id=cid))
        state = book.by_key[(self.venue, cid)]
        self._states[cid] = state
        self._done.discard(cid)
        if self._droppable(cid):
            del self._events[cid], self._states[cid]
            self._done.add(cid)

    # -- today ---------------------------------------------------------------------------------------
    def day(self, now_ms: int) -> DayTotals:
        """Today's (UTC, the day of ``now_ms``) intents and fills of this account, summed."""
        start = now_ms - now_ms % DAY_MS
        with self._lock:
            day = self._day
            if day is None or day.start_ms != start:
                day, self._day_seq = DayTotals(start_ms=start), 0
                self._day = day
            new = self.journal.events(since_ms=start, kinds=["intent", "fill"], venue=self.venue,
                                      after_seq=self._day_seq)  # fmt: skip
            for e in new:
                self._day_seq = max(self._day_seq, e.seq)
                if e.account != self.account:
                    continue
                if e.kind == "intent":
                    ref = e.payload.get("ref_notional")
                    if ref is None:  # written before caps had a reference currency: converted when read
                        raw = Decimal(str(e.payload.get("notional") or 0))
                        day.raw_notional[e.symbol] = day.raw_notional.get(e.symbol, Decimal(0)) + raw
                    else:
                        day.ref_notional += Decimal(str(ref))
                    continue
                p = e.payload
                qty, value = Decimal(str(p["amount"])), Decimal(str(p["price"])) * Decimal(str(p["amount"]))
                sign = 1 if p["side"] == "buy" else -1
                pnl_q = -sign * value
                day.net[e.symbol] = day.net.get(e.symbol, Decimal(0)) + sign * qty
                if self._quote_of is not None and self._quote_of(e.symbol) == p.get("fee_currency"):
                    pnl_q -= Decimal(str(p.get("fee_cost") or 0))
                day.pnl_quote[e.symbol] = day.pnl_quote.get(e.symbol, Decimal(0)) + pnl_q
            return DayTotals(day.start_ms, day.ref_notional, dict(day.raw_notional), dict(day.pnl_quote),
                             dict(day.net))  # fmt: skip
