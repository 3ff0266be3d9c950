"""A strategy's decisions through a Session, journaled so that a restart never sends one twice.

Each decision is journaled (kind ``"decision"``) before anything is sent; its order's client id is
derived from the decision (:func:`client_id_for`: ``tk-`` + the decision id, itself a hash of the
run, the symbol, the candle's open time and the decision's index), so the same decision has the
same client id in every process. The Session journals the order's intent under that id (before the
request) and its outcome; the link between the two is journaled last (kind ``"decision_order"``,
with the latencies). A restart rebuilds the decisions of the run from the journal: a decision
already there is never sent again. Its order is the intent with its client id (older journals,
written before client ids were derived: the first intent after the decision with the same symbol,
side and amount). No intent means the request was never sent (intents are journaled before
sending): then, and only then, it is sent. The Session itself refuses a client id it has journaled
before (:meth:`kit.session.Session.place_many`), a second line of defence.

A forward run defers the orders of one candle close (:attr:`SessionBroker.deferred`): every
strategy decides, and in the same journal transaction as the decisions :meth:`SessionBroker.prepare`
checks the orders and journals their intents (:meth:`kit.session.Session.prepare_many`); once it
committed, :meth:`SessionBroker.flush` sends them together (:meth:`kit.session.Session.send_prepared`:
one hand-off to the Session's loop). With ten symbols that is what brings the last symbol's order
within tens of milliseconds of the close (``benchmarks/bench_runner.py``, ``bench_close.py``).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING, Any

from kit.errors import KitError
from kit.journal.state import Fill
from kit.strategy.base import Decision

if TYPE_CHECKING:
    from kit.session.core import Session
    from kit.session.trading import PreparedOrders

__all__ = ["SessionBroker", "client_id_for"]

_DONE = ("closed", "canceled", "cancelled", "expired", "rejected", "not_placed")


def _dec(value: Any) -> Decimal:
    return Decimal(str(value))


def client_id_for(decision_id: str) -> str:
    """The client order id of a decision's order: ``tk-`` + the decision id (25 characters).

    >>> from kit.strategy.base import decision_id
    >>> client_id_for(decision_id("run", "BTC/USDT", 1_700_000_000_000, 0))
    'tk-d-80f5664a636f1fab62d7'
    """
    return f"tk-{decision_id}"


@dataclass
class _Known:
    seq: int
    symbol: str
    action: str
    size: Decimal | None
    client_id: str = ""
    linked: bool = False
    candle_ms: int = 0


#: Latencies kept for :meth:`kit.run.Runner.status` (the last ones; the journal has every one).
LATENCIES_KEPT = 1000


@dataclass
class SessionBroker:
    """The :class:`kit.strategy.Broker` of a forward run: one Session, one run name.

    Parameters
    ----------
    session:
        Any stage (paper, testnet, live_small, live): only its public API is used.
    run:
        The run's name; decisions and orders are journaled under it.
    clock_ms:
        The exchange's time in ms (default: local time plus the Session's measured offset).
    """

    session: Session
    run: str
    interval_ms: int = 60_000
    known: dict[str, _Known] = field(default_factory=dict)
    client_ids: set[str] = field(default_factory=set)
    open_ids: dict[str, str] = field(default_factory=dict)  # client id -> symbol, orders that may still work
    stale_before_ms: int = 0  # decisions on candles older than this are journaled, not sent (catch-up)
    latencies_ms: deque[int] = field(default_factory=lambda: deque(maxlen=LATENCIES_KEPT))
    sent: int = 0
    decided: int = 0  # decisions of this run, those forgotten by forget_before() included
    deferred: bool = False  # queue orders until flush() (a runner's candle close), else send at once
    queue: list[Decision] = field(default_factory=list)
    _fills_seen: int = 0  # seq of the last fill row read
    _fills: deque[Fill] = field(default_factory=lambda: deque(maxlen=10_000))  # fills not (yet) this run's
    _pending_ids: set[str] = field(default_factory=set)  # client ids that became this run's after their fills
    _position: dict[str, Decimal] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._load()

    # -- the journal -------------------------------------------------------------------------------
    def _j(self, kind: str, **fields: Any) -> int:
        s = self.session
        return s.journal.append(kind, venue=s.venue, account=s.account, stage=s.stage.value, **fields)

    def _load(self) -> None:
        """Rebuild this run's decisions, their orders and the orders that may still work."""
        s = self.session
        for e in s.journal.events(kinds=["decision", "decision_order"], venue=s.venue, account=s.account):
            if e.payload.get("run") != self.run:
                continue
            did = str(e.payload["decision_id"])
            if e.kind == "decision":
                size = e.payload.get("size")
                self.known[did] = _Known(e.seq, e.symbol, str(e.payload["action"]), _dec(size) if size else None,
                                         candle_ms=int(e.payload.get("candle_ms") or 0))  # fmt: skip
            elif did in self.known:
                self.known[did].linked = True
                self.known[did].client_id = e.client_id or self.known[did].client_id
        self.decided = len(self.known)
        for did, k in self.known.items():
            if not k.client_id and k.action != "cancel_all":
                k.client_id = self._intent_of(did) or ("" if k.linked else self._intent_after(k))
            if k.client_id:
                self.client_ids.add(k.client_id)
        states = s.journal.order_states(venue=s.venue, account=s.account)
        for cid in self.client_ids:
            st = states.get(cid)
            if st is not None and st.status not in _DONE:
                self.open_ids[cid] = st.symbol

    def _intent_of(self, decision_id: str) -> str:
        """The derived client id, if an intent was journaled under it (the order was sent, or tried)."""
        s, cid = self.session, client_id_for(decision_id)
        return cid if s.journal.events(kinds=["intent"], venue=s.venue, client_id=cid) else ""

    def _intent_after(self, k: _Known) -> str:
        """Journals written before client ids were derived: the first matching intent after the decision."""
        s = self.session
        for e in s.journal.events(kinds=["intent"], venue=s.venue, account=s.account, symbol=k.symbol):
            if e.seq <= k.seq or e.client_id in self.client_ids:
                continue
            if e.client_id.startswith("tk-d-"):  # another decision's own client id: this one was never sent
                return ""
            same = k.size is not None and _dec(e.payload.get("amount")) == k.size
            if same and str(e.payload.get("side")) == k.action:
                return e.client_id
            return ""  # the next intent of this symbol is another order: this decision was never sent
        return ""

    # -- the Broker protocol --------------------------------------------------------------------------
    def execute(self, decision: Decision) -> str:
        """Journal the decision, then act on it once (see the module docstring).

        Returns the order's client id (derived from the decision), or "" when nothing is sent. When
        :attr:`deferred`, the order is queued for :meth:`flush` instead of being sent now.
        """
        prior = self.known.get(decision.id)
        if prior is not None:  # decided before a restart: settle it, never send it twice
            if prior.action == "cancel_all" or prior.size is None:
                return ""
            if prior.client_id:
                if not prior.linked:
                    why = "journaled before a restart (found by its intent): not sent again"
                    self._link(decision, prior.client_id, "", why, None)
                    prior.linked = True
                return prior.client_id
            if prior.linked or decision.candle_ms < self.stale_before_ms:
                if not prior.linked:
                    self._link(decision, "", "", "not sent (its candle passed during a restart)", None)
                    prior.linked = True
                return ""
            # journaled, never sent, still its candle: send it now
        else:
            row = decision.row()
            row.pop("client_id")
            row.pop("symbol")
            seq = self._j("decision", symbol=decision.symbol, **row, stale=decision.candle_ms < self.stale_before_ms)
            self.known[decision.id] = _Known(seq, decision.symbol, decision.action, decision.size,
                                             candle_ms=decision.candle_ms)  # fmt: skip
            self.decided += 1
        if decision.candle_ms < self.stale_before_ms:
            return ""  # catching up after downtime: the moment for this decision has passed
        if decision.action == "cancel_all":
            if self.deferred:
                self.queue.append(decision)
            else:
                self._cancel_mine(decision.symbol)
            return ""
        self.queue.append(decision)
        if not self.deferred:
            failed = self.flush()
            if failed:
                raise failed[0][1]
        return client_id_for(decision.id)

    def forget_before(self, candle_ms: int) -> int:
        """Forget the decisions on candles older than ``candle_ms`` (none queued); returns how many.

        A running strategy decides on each candle once, so a decision of an older candle is never
        looked up again in this process (a restart reads them back from the journal, which keeps
        every one). The forward runner calls this after each close with its oldest symbol's previous
        candle: memory stays flat over days.
        """
        queued = {d.id for d in self.queue}
        old = [did for did, k in self.known.items() if k.candle_ms < candle_ms and did not in queued]
        for did in old:
            del self.known[did]
        return len(old)

    def prepare(self) -> tuple[list[Decision], PreparedOrders] | None:
        """Check and journal the queued orders up to the first ``cancel_all``, sending nothing.

        Called inside the close's journal transaction (:meth:`kit.run.Runner.poll_once`): the
        decisions and their orders' intents become durable together, with one fsync; the orders
        leave at :meth:`flush`, after the transaction (:meth:`kit.session.Session.send_prepared`
        refuses before). A ``cancel_all`` and what follows it stay queued for :meth:`flush`: a
        cancel is a request, never sent from inside a transaction.
        """
        lead = 0
        while lead < len(self.queue) and self.queue[lead].action != "cancel_all":
            lead += 1
        batch = [d for d in self.queue[:lead] if not self.known[d.id].client_id]
        self.queue = self.queue[lead:]
        if not batch:
            return None
        return batch, self.session.prepare_many([self._order(d) for d in batch])

    def flush(self, prepared: tuple[list[Decision], PreparedOrders] | None = None) -> list[tuple[Decision, KitError]]:
        """Send the queued orders (consecutive orders together, a ``cancel_all`` in its place).

        ``prepared``: what :meth:`prepare` checked and journaled, sent first. Returns the decisions
        whose order was refused, each with its error (the runner decides what that means for the
        run); what was sent is linked to its decision in the journal.
        """
        failed: list[tuple[Decision, KitError]] = []
        if prepared is not None:
            failed += self._settle_all(prepared[0], self.session.send_prepared(prepared[1]))
        queue, self.queue = self.queue, []
        i = 0
        while i < len(queue):
            if queue[i].action == "cancel_all":
                self._cancel_mine(queue[i].symbol)
                i += 1
                continue
            j = i
            while j < len(queue) and queue[j].action != "cancel_all":
                j += 1
            failed += self._send([d for d in queue[i:j] if not self.known[d.id].client_id])
            i = j
        return failed

    def _send(self, batch: list[Decision]) -> list[tuple[Decision, KitError]]:
        orders = [self._order(d) for d in batch]
        return self._settle_all(batch, self.session.place_many(orders) if orders else [])

    def _settle_all(
        self, batch: list[Decision], results: list[dict[str, Any] | KitError]
    ) -> list[tuple[Decision, KitError]]:
        s = self.session
        now = int(time.time() * 1000) + self._offset_ms()
        failed: list[tuple[Decision, KitError]] = []
        with s.journal.batch():  # what became of each decision: one durable transaction for the close
            for decision, order in zip(batch, results, strict=True):
                self._settle(decision, order, now, failed)
        return failed

    def _settle(self, decision: Decision, order: dict[str, Any] | KitError, now: int,
                failed: list[tuple[Decision, KitError]]) -> None:  # fmt: skip
        """Link a sent (or refused) order to its decision; a refusal goes to ``failed``."""
        s = self.session
        cid = client_id_for(decision.id)
        if isinstance(order, KitError):
            if s.journal.events(kinds=["intent"], venue=s.venue, client_id=cid):
                self._note_sent(decision, cid, "", f"failed: {type(order).__name__}", None, None)
            else:
                self._link(decision, "", "", f"not sent: {type(order).__name__}", None)
                self.known[decision.id].linked = True
            failed.append((decision, order))
            return
        close_ms = decision.candle_ms + self.interval_ms
        latency: int | None = now - close_ms
        at_exchange = order.get("timestamp")
        arrived = int(at_exchange) - close_ms if isinstance(at_exchange, int | float) else None
        if latency is not None and 0 <= latency < 2 * self.interval_ms:
            self.latencies_ms.append(latency)
        else:  # the market's clock is not the wall clock (a stepped or replayed localnet): no latency
            latency = arrived = None
        self.sent += 1
        self._note_sent(decision, str(order.get("clientOrderId") or cid), str(order.get("id") or ""),
                        str(order.get("status")), latency, arrived)  # fmt: skip

    def _order(self, decision: Decision) -> dict[str, Any]:
        """``place_many``'s entry for a decision: a limit rounded passively to the tick, as the replay does."""
        assert decision.size is not None
        prec = (self.session.market(decision.symbol) or {}).get("precision") or {}
        price = None
        if decision.limit is not None:
            tick = _dec(prec.get("price") or "0.00000001")
            rounding = ROUND_FLOOR if decision.action == "buy" else ROUND_CEILING
            price = (decision.limit / tick).to_integral_value(rounding=rounding) * tick
        return {"symbol": decision.symbol, "side": decision.action, "amount": decision.size, "price": price,
                "client_id": client_id_for(decision.id)}  # fmt: skip

    def _note_sent(self, decision: Decision, cid: str, order_id: str, status: str, latency: int | None,
                   arrived: int | None) -> None:  # fmt: skip
        self._link(decision, cid, order_id, status, latency, arrived)
        k = self.known[decision.id]
        k.client_id, k.linked = cid, True
        if cid not in self.client_ids:
            self.client_ids.add(cid)
            self._pending_ids.add(cid)
        if status not in _DONE and not status.startswith("failed"):
            self.open_ids[cid] = decision.symbol

    def _link(self, decision: Decision, cid: str, order_id: str, status: str, latency: int | None,
              arrived: int | None = None) -> None:  # fmt: skip
        """Journal what became of a decision: its order's client id ("" when none was sent) and status.

        ``latency_ms``: from the candle's close to the acknowledgement (exchange clock: local time plus
        the measured offset); ``arrival_ms``: from the close to the exchange's own timestamp of the order.
        """
        self._j("decision_order", symbol=decision.symbol, client_id=cid, order_id=order_id, run=self.run,
                decision_id=decision.id, latency_ms=latency, arrival_ms=arrived, status=status)  # fmt: skip

    def _offset_ms(self) -> int:
        rep = self.session.clock_report
        return int(rep.offset_ms) if rep is not None else 0

    def position(self, symbol: str) -> Decimal:
        """Base from this run's own journaled fills (net of fees taken in base)."""
        self._refresh_position()
        return self._position.get(symbol, Decimal(0))

    def _refresh_position(self) -> None:
        """Add the fills journaled since the last look (only new rows are read: a long run stays cheap)."""
        s = self.session
        new = s.journal.events(kinds=["fill"], venue=s.venue, account=s.account, after_seq=self._fills_seen)
        if self._pending_ids:  # orders that became this run's after some fills were read: count those fills
            ids, self._pending_ids = self._pending_ids, set()
            keep: deque[Fill] = deque(maxlen=self._fills.maxlen)
            for f in self._fills:
                if f.client_id in ids:
                    self._add_fill(f)
                else:
                    keep.append(f)
            self._fills = keep
        for e in new:
            self._fills_seen = max(self._fills_seen, e.seq)
            f = Fill.from_event(e)
            if f.client_id in self.client_ids:
                self._add_fill(f)
            else:
                self._fills.append(f)  # another run's, or an order of this run not linked yet

    def _add_fill(self, f: Fill) -> None:
        m = self.session.market(f.symbol) or {}
        net = f.amount - (f.fee_cost if f.fee_currency == m.get("base") else 0)
        self._position[f.symbol] = self._position.get(f.symbol, Decimal(0)) + (net if f.side == "buy" else -f.amount)

    def cash(self, symbol: str) -> Decimal:
        """Free quote balance (one request)."""
        quote = str((self.session.market(symbol) or {}).get("quote"))
        bal = self.session.balances()
        if quote not in bal.index:
            return Decimal(0)
        return _dec(bal.loc[quote, "free"] or 0)

    def open_orders(self, symbol: str) -> int:
        """Working orders of this run in ``symbol``, as the exchange has them now."""
        self.sync(symbol)
        return sum(1 for sym in self.open_ids.values() if sym == symbol)

    def step_size(self, symbol: str) -> Decimal:
        """The market's amount step."""
        prec = (self.session.market(symbol) or {}).get("precision") or {}
        return _dec(prec.get("amount") or "0.00000001")

    # -- upkeep ------------------------------------------------------------------------------------------
    def has_open(self, symbol: str) -> bool:
        """True when an order of this run in ``symbol`` may still be working (no request)."""
        return symbol in self.open_ids.values()

    def sync(self, symbol: str) -> None:
        """Journal fills of this run's resting orders in ``symbol`` and forget those no longer open."""
        mine = [cid for cid, sym in self.open_ids.items() if sym == symbol]
        if not mine:
            return
        s = self.session
        opened = s.open_orders(symbol)
        still = set(opened["clientOrderId"].astype(str)) if len(opened) else set()
        states = s.journal.order_states(venue=s.venue, account=s.account)
        since = min((states[c].last_ts_ms for c in mine if c in states), default=None)
        s.trades(symbol, since=max(0, since - 60_000) if since else None)  # journals their fills (once each)
        for cid in mine:
            if cid not in still:
                self.open_ids.pop(cid, None)

    def _cancel_mine(self, symbol: str) -> int:
        self.sync(symbol)
        n = 0
        for cid in [c for c, sym in self.open_ids.items() if sym == symbol]:
            self.session.cancel(symbol, client_id=cid)
            self.open_ids.pop(cid, None)
            n += 1
        return n

    def cancel_all_mine(self) -> int:
        """Cancel every working order of this run (the kill switch and the strategy-error policy)."""
        return sum(self._cancel_mine(sym) for sym in sorted(set(self.open_ids.values())))
