"""A strategy's decisions through a Session, journaled so that a restart never sends one twice.

Each decision is journaled (kind ``"decision"``) before anything is sent; the Session then
journals the order's intent (before the request) and its outcome; the link between the two is
journaled last (kind ``"decision_order"``, with the order's client id and the decision latency).
A restart rebuilds the decisions of the run from the journal: a decision already there is never
sent again. Its order is the one linked to it, or, when the process died before the link was
written, the first intent journaled after the decision with the same symbol, side and amount (the
runner is single-threaded: nothing else of the run can come between). No intent after it means
the request was never sent (intents are journaled before sending): then, and only then, it is sent.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING, Any

from kit.strategy.base import Decision

if TYPE_CHECKING:
    from kit.session.core import Session

__all__ = ["SessionBroker"]

_DONE = ("closed", "canceled", "cancelled", "expired", "rejected", "not_placed")


def _dec(value: Any) -> Decimal:
    return Decimal(str(value))


@dataclass
class _Known:
    seq: int
    symbol: str
    action: str
    size: Decimal | None
    client_id: str = ""
    linked: bool = False


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
    latencies_ms: list[int] = field(default_factory=list)
    sent: int = 0
    _fills_seen: int = 0
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
                self.known[did] = _Known(e.seq, e.symbol, str(e.payload["action"]), _dec(size) if size else None)
            elif did in self.known:
                self.known[did].linked = True
                self.known[did].client_id = e.client_id or self.known[did].client_id
        for k in self.known.values():
            if not k.client_id and k.action != "cancel_all":
                k.client_id = self._intent_after(k)
            if k.client_id:
                self.client_ids.add(k.client_id)
        states = s.journal.order_states(venue=s.venue, account=s.account)
        for cid in self.client_ids:
            st = states.get(cid)
            if st is not None and st.status not in _DONE:
                self.open_ids[cid] = st.symbol

    def _intent_after(self, k: _Known) -> str:
        s = self.session
        for e in s.journal.events(kinds=["intent"], venue=s.venue, account=s.account, symbol=k.symbol):
            if e.seq <= k.seq or e.client_id in self.client_ids:
                continue
            same = k.size is not None and _dec(e.payload.get("amount")) == k.size
            if same and str(e.payload.get("side")) == k.action:
                return e.client_id
            return ""  # the next intent of this symbol is another order: this decision was never sent
        return ""

    # -- the Broker protocol --------------------------------------------------------------------------
    def execute(self, decision: Decision) -> str:
        """Journal the decision, then act on it once (see the module docstring)."""
        s = self.session
        prior = self.known.get(decision.id)
        if prior is not None:  # decided before a restart: settle it, never send it twice
            if prior.action == "cancel_all" or prior.size is None:
                return ""
            if prior.client_id:
                if not prior.linked:
                    self._link(decision, prior.client_id, "", "sent before a restart (found by its intent)", None)
                    prior.linked = True
                return prior.client_id
            if prior.linked or decision.candle_ms < self.stale_before_ms:
                if not prior.linked:
                    self._link(decision, "", "", "not sent (its candle passed during a restart)", None)
                    prior.linked = True
                return ""
            seq = prior.seq  # journaled, never sent, still its candle: send it now
        else:
            row = decision.row()
            row.pop("client_id")
            row.pop("symbol")
            seq = self._j("decision", symbol=decision.symbol, **row, stale=decision.candle_ms < self.stale_before_ms)
            self.known[decision.id] = _Known(seq, decision.symbol, decision.action, decision.size)
        if decision.candle_ms < self.stale_before_ms:
            return ""  # catching up after downtime: the moment for this decision has passed
        if decision.action == "cancel_all":
            self._cancel_mine(decision.symbol)
            return ""
        assert decision.size is not None
        mkt = s.market(decision.symbol) or {}
        prec = mkt.get("precision") or {}
        price = None
        if decision.limit is not None:
            tick = _dec(prec.get("price") or "0.00000001")
            rounding = ROUND_FLOOR if decision.action == "buy" else ROUND_CEILING  # passive, as the replay does
            price = (decision.limit / tick).to_integral_value(rounding=rounding) * tick
        order = s.place(decision.symbol, decision.action, decision.size, price=price)
        cid = str(order.get("clientOrderId") or "")
        close_ms = decision.candle_ms + self.interval_ms
        latency: int | None = int(time.time() * 1000) + self._offset_ms() - close_ms
        if latency is not None and 0 <= latency < 2 * self.interval_ms:
            self.latencies_ms.append(latency)
        else:  # the market's clock is not the wall clock (a stepped or replayed localnet): no latency
            latency = None
        self.sent += 1
        self._link(decision, cid, str(order.get("id") or ""), str(order.get("status")), latency)
        self.known[decision.id].client_id = cid
        self.known[decision.id].linked = True
        self.client_ids.add(cid)
        if str(order.get("status")) not in _DONE:
            self.open_ids[cid] = decision.symbol
        return cid

    def _link(self, decision: Decision, cid: str, order_id: str, status: str, latency: int | None) -> None:
        """Journal what became of a decision: its order's client id ("" when none was sent) and status."""
        self._j("decision_order", symbol=decision.symbol, client_id=cid, order_id=order_id, run=self.run,
                decision_id=decision.id, latency_ms=latency, status=status)  # fmt: skip

    def _offset_ms(self) -> int:
        rep = self.session.clock_report
        return int(rep.offset_ms) if rep is not None else 0

    def position(self, symbol: str) -> Decimal:
        """Base from this run's own journaled fills (net of fees taken in base)."""
        self._refresh_position()
        return self._position.get(symbol, Decimal(0))

    def _refresh_position(self) -> None:
        s = self.session
        fills = s.journal.fills(venue=s.venue, account=s.account)
        if len(fills) == self._fills_seen:
            return
        pos: dict[str, Decimal] = {}
        for f in fills:
            if f.client_id not in self.client_ids:
                continue
            m = s.market(f.symbol) or {}
            net = f.amount - (f.fee_cost if f.fee_currency == m.get("base") else 0)
            pos[f.symbol] = pos.get(f.symbol, Decimal(0)) + (net if f.side == "buy" else -f.amount)
        self._position, self._fills_seen = pos, len(fills)

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
