"""Pure replay of journal events into the state of an account at a moment: orders, positions, balances.

No I/O: :class:`kit.journal.journal.Journal` reads the rows, this module folds them. The rules, one per
practice the kit enforces:

- **Position state comes from fills only**, never from intents or acks. ``positions[symbol]`` is the
  net base amount bought minus sold, minus fees charged in the base currency.
- **Balances** start from the last ``"balance"`` snapshot at or before the moment (per venue and
  account) and add the fills *after* it (by trade time): a buy adds base and subtracts quote, a sell
  the reverse, and each fee is subtracted in its own currency. Fills at or before the snapshot's
  time are already in the snapshot. With no snapshot, balances are the net change from fills.
- **Order status** follows intent -> ack / order / unknown / resolved / cancel_ack events in time
  order; ``filled`` is the sum of journaled fills (``exchange_filled`` is what the venue last
  reported, so a gap between the two means fills still to fetch).

Events are applied in ``(ts_ms, seq)`` order: the time each thing happened, then journal order.

Examples
--------
>>> from decimal import Decimal as D
>>> ev = [
...     JournalEvent(1, 1000, "intent", "binance", client_id="c1", symbol="BTC/USDT",
...                  payload={"side": "buy", "type": "limit", "amount": D("2"), "price": D("100")}),
...     JournalEvent(2, 1001, "ack", "binance", client_id="c1", order_id="77", payload={"status": "open"}),
...     JournalEvent(3, 1500, "fill", "binance", client_id="c1", order_id="77", trade_id="t1",
...                  symbol="BTC/USDT", payload={"side": "buy", "price": D("100"), "amount": D("0.5"),
...                  "fee_cost": D("0.05"), "fee_currency": "USDT"}),
... ]
>>> st = replay(ev, at_ms=2000)
>>> st.orders["c1"].status, st.orders["c1"].filled, st.positions["BTC/USDT"]
('open', Decimal('0.5'), Decimal('0.5'))
>>> st.balances["USDT"]
Decimal('-50.05')
>>> replay(ev, at_ms=1200).positions
{}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import Any

import pandas as pd

__all__ = [
    "DECIMAL_KEYS",
    "ORDER_STATUSES",
    "Fill",
    "JournalEvent",
    "JournalState",
    "OrderState",
    "base_quote",
    "replay",
    "replay_orders",
    "to_decimal",
]

#: Payload keys that hold money or quantities; stored as strings, read back as :class:`~decimal.Decimal`.
DECIMAL_KEYS = frozenset(
    {
        "amount", "price", "trigger_price", "stop_price", "filled", "remaining", "average", "cost",
        "fee_cost", "free", "used", "total", "notional", "value", "limit", "allowed", "pnl",
    }
)  # fmt: skip

#: Order statuses an :class:`OrderState` can have.
#: ``foreign``: an order this journal did not place, known only from its fills (adopted by reconciliation);
#: it is not tracked, so it never counts as open.
ORDER_STATUSES = ("intent", "open", "unknown", "closed", "canceled", "rejected", "expired", "not_placed", "foreign")

# kit.errors classes whose appearance in an "error" event means the venue (or the guard) said no:
# the order does not exist. OrderUnknown is the opposite case: it may exist.
_REJECTING_ERRORS = frozenset(
    {"OrderRejected", "InsufficientFunds", "FilterViolation", "GuardRefused", "StageError", "CapExceeded",
     "KillSwitchEngaged"}
)  # fmt: skip
_TERMINAL = frozenset({"closed", "canceled", "rejected", "expired", "not_placed", "foreign"})
# Statuses the exchange itself ends an order with: a later-sorted report of an earlier state (a NEW
# update that arrives after the fill, an ack journaled after a stream's FILLED) never reopens it.
_FINAL = frozenset({"closed", "canceled", "expired"})
_LIVE = frozenset({"intent", "open", "unknown"})
# ccxt's unified statuses plus the journal's own; anything else a venue reports is kept verbatim.
_STATUS_ALIASES = {"cancelled": "canceled", "filled": "closed", "new": "open", "partially_filled": "open"}


def to_decimal(value: Any) -> Decimal | None:
    """Read a journaled number exactly: ``"0.1"`` and ``0.1`` both give ``Decimal("0.1")``; ``None`` stays ``None``.

    Examples
    --------
    >>> to_decimal("0.10"), to_decimal(3), to_decimal(0.1), to_decimal(None)
    (Decimal('0.10'), Decimal('3'), Decimal('0.1'), None)
    """
    if value is None or isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise TypeError(f"a bool is not an amount: {value!r}")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))  # the shortest repr, so 0.1 -> 0.1, not 0.1000000000000000055...
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None


def base_quote(symbol: str) -> tuple[str, str]:
    """Split a ccxt unified symbol into base and quote currency.

    Examples
    --------
    >>> base_quote("BTC/USDT"), base_quote("ETH/USDT:USDT")
    (('BTC', 'USDT'), ('ETH', 'USDT'))
    """
    base, sep, rest = symbol.partition("/")
    if not sep or not base or not rest:
        raise ValueError(f"not a ccxt unified symbol (BASE/QUOTE): {symbol!r}")
    return base, rest.partition(":")[0]


@dataclass(frozen=True)
class JournalEvent:
    """One journal row, as read back.

    ``payload`` values under :data:`DECIMAL_KEYS` (also inside nested dicts) are Decimals again.
    ``recorded_ms`` is when the row was written, ``ts_ms`` when the thing it records happened (a fill's
    trade time can be earlier than the moment it was journaled).
    """

    seq: int
    ts_ms: int
    kind: str
    venue: str
    account: str = "default"
    stage: str = ""
    symbol: str = ""
    client_id: str = ""
    order_id: str = ""
    trade_id: str = ""
    payload: Mapping[str, Any] = field(default_factory=dict)
    recorded_ms: int | None = None

    @property
    def time(self) -> pd.Timestamp:
        """``ts_ms`` as a tz-aware UTC timestamp."""
        return pd.Timestamp(self.ts_ms, unit="ms", tz="UTC")

    def get(self, key: str, default: Any = None) -> Any:
        """A payload value, or ``default``."""
        return self.payload.get(key, default)


@dataclass(frozen=True)
class Fill:
    """One journaled fill (a trade of ours): the only source of position state."""

    seq: int
    ts_ms: int
    venue: str
    account: str
    stage: str
    symbol: str
    client_id: str
    order_id: str
    trade_id: str
    side: str
    price: Decimal
    amount: Decimal
    fee_cost: Decimal
    fee_currency: str

    @property
    def cost(self) -> Decimal:
        """Quote amount exchanged (price x amount), fees excluded."""
        return self.price * self.amount

    @classmethod
    def from_event(cls, ev: JournalEvent) -> Fill:
        """Build from a ``"fill"`` event (as written by :meth:`kit.journal.journal.Journal.record_fill`)."""
        p = ev.payload
        return cls(
            seq=ev.seq, ts_ms=ev.ts_ms, venue=ev.venue, account=ev.account, stage=ev.stage, symbol=ev.symbol,
            client_id=ev.client_id, order_id=ev.order_id, trade_id=ev.trade_id, side=str(p["side"]),
            price=_dec(p["price"]), amount=_dec(p["amount"]), fee_cost=to_decimal(p.get("fee_cost")) or Decimal(0),
            fee_currency=str(p.get("fee_currency") or ""),
        )  # fmt: skip


@dataclass(frozen=True)
class OrderState:
    """What the journal knows about one order at a moment.

    ``filled`` is the sum of journaled fills, ``average`` their volume-weighted price, ``fees`` the
    fees paid per currency; ``exchange_filled`` is the filled amount the venue last reported (ack or
    order update). ``status`` is one of :data:`ORDER_STATUSES` (or a venue status kept verbatim).
    """

    client_id: str
    order_id: str = ""
    symbol: str = ""
    side: str = ""
    type: str = ""
    amount: Decimal | None = None
    price: Decimal | None = None
    status: str = "intent"
    filled: Decimal = Decimal(0)
    average: Decimal | None = None
    fees: Mapping[str, Decimal] = field(default_factory=dict)
    last_ts_ms: int = 0
    venue: str = ""
    account: str = ""
    exchange_filled: Decimal | None = None
    cancel_requested: bool = False

    @property
    def remaining(self) -> Decimal | None:
        """``amount - filled`` when the amount is known."""
        return None if self.amount is None else self.amount - self.filled

    @property
    def is_open(self) -> bool:
        """True unless the order reached a terminal status (closed, canceled, rejected, expired, not_placed, foreign).

        ``not_placed`` (the exchange had no such order when it was looked up) and ``rejected`` give way
        to a later ack or fill, which prove the order exists after all.
        """
        return self.status not in _TERMINAL


@dataclass(frozen=True)
class JournalState:
    """The account as the journal reconstructs it at ``at_ms`` (see :func:`replay`)."""

    at_ms: int
    orders: dict[str, OrderState]
    positions: dict[str, Decimal]
    balances: dict[str, Decimal]
    fills: list[Fill]

    @property
    def time(self) -> pd.Timestamp:
        """``at_ms`` as a tz-aware UTC timestamp."""
        return pd.Timestamp(self.at_ms, unit="ms", tz="UTC")

    @property
    def open_orders(self) -> dict[str, OrderState]:
        """Orders not in a terminal status (including ``intent`` and ``unknown``: they may exist)."""
        return {k: o for k, o in self.orders.items() if o.is_open}


def _dec(value: Any) -> Decimal:
    d = to_decimal(value)
    if d is None:
        raise ValueError("missing amount")
    return d


def _status(value: Any) -> str:
    s = str(value or "").lower()
    return _STATUS_ALIASES.get(s, s)


def _sorted(events: Iterable[JournalEvent], at_ms: int | None) -> list[JournalEvent]:
    evs = [e for e in events if at_ms is None or e.ts_ms <= at_ms]
    evs.sort(key=lambda e: (e.ts_ms, e.seq))
    return evs


class _Orders:
    """Order book-keeping while folding events; orders are keyed by (venue, client id)."""

    def __init__(self) -> None:
        self.by_key: dict[tuple[str, str], OrderState] = {}
        self.client_of: dict[tuple[str, str], str] = {}  # (venue, exchange order id) -> client id
        self.notional: dict[tuple[str, str], Decimal] = {}  # sum of price*amount over fills

    def key(self, ev: JournalEvent) -> tuple[str, str] | None:
        if ev.client_id:
            return ev.venue, ev.client_id
        if ev.order_id:
            # Orders journaled without a client id (e.g. placed elsewhere, seen while reconciling).
            return ev.venue, self.client_of.get((ev.venue, ev.order_id), ev.order_id)
        return None

    def get(self, key: tuple[str, str], ev: JournalEvent) -> OrderState:
        o = self.by_key.get(key)
        if o is None:
            o = OrderState(client_id=key[1], venue=ev.venue, account=ev.account, symbol=ev.symbol, status="unknown")
        return o

    def apply(self, ev: JournalEvent) -> None:
        key = self.key(ev)
        if key is None:
            return
        if ev.kind == "intent":
            p = ev.payload
            o = OrderState(
                client_id=key[1], order_id=ev.order_id, symbol=ev.symbol, side=str(p.get("side") or ""),
                type=str(p.get("type") or ""), amount=to_decimal(p.get("amount")), price=to_decimal(p.get("price")),
                status="intent", venue=ev.venue, account=ev.account, last_ts_ms=ev.ts_ms,
            )  # fmt: skip
            old = self.by_key.get(key)
            if old is not None:  # a fill or update seen before the intent (clock order): keep what it taught us
                o = replace(
                    o,
                    filled=old.filled,
                    average=old.average,
                    fees=old.fees,
                    order_id=old.order_id or o.order_id,
                    status=_later(old.status, "intent"),
                )
                if o.status == "open" and o.amount is not None and o.filled >= o.amount:
                    o = replace(o, status="closed")
            self._put(key, o)
            return
        if ev.kind not in {"ack", "order", "unknown", "resolved", "cancel_intent", "cancel_ack", "fill", "error"}:
            return
        o = self.get(key, ev)
        changes: dict[str, Any] = {"last_ts_ms": max(o.last_ts_ms, ev.ts_ms)}
        if ev.order_id and not o.order_id:
            changes["order_id"] = ev.order_id
        if ev.symbol and not o.symbol:
            changes["symbol"] = ev.symbol
        p = ev.payload
        if ev.kind in {"ack", "order"}:
            if p.get("status"):
                changes["status"] = _status(p["status"])
            elif ev.kind == "ack":
                changes["status"] = "open"
            if o.status in _FINAL and changes.get("status") in _LIVE:
                del changes["status"]
            if p.get("filled") is not None:
                changes["exchange_filled"] = to_decimal(p["filled"])
            for name in ("side", "type"):
                if p.get(name) and not getattr(o, name):
                    changes[name] = str(p[name])
            for name in ("amount", "price"):
                if p.get(name) is not None and getattr(o, name) is None:
                    changes[name] = to_decimal(p[name])
        elif ev.kind == "unknown":
            if o.status in {"intent", "open"}:
                changes["status"] = "unknown"
        elif ev.kind == "resolved":
            status = _status(p.get("status"))
            if not (o.status in _FINAL and status in _LIVE):
                changes["status"] = status
        elif ev.kind == "cancel_intent":
            changes["cancel_requested"] = True
        elif ev.kind == "cancel_ack":
            changes["status"] = _status(p.get("status") or "canceled")
        elif ev.kind == "error":
            if str(p.get("error_class") or "") in _REJECTING_ERRORS and o.status == "intent":
                changes["status"] = "rejected"
        elif ev.kind == "fill":
            fill = Fill.from_event(ev)
            filled = o.filled + fill.amount
            notional = self.notional.get(key, Decimal(0)) + fill.cost
            self.notional[key] = notional
            fees = dict(o.fees)
            if fill.fee_cost:
                fees[fill.fee_currency] = fees.get(fill.fee_currency, Decimal(0)) + fill.fee_cost
            changes.update(filled=filled, average=notional / filled if filled else None, fees=fees)
            if not o.side:
                changes["side"] = fill.side
            if p.get("foreign") and o.status in {"unknown", "foreign"} and o.amount is None:
                changes["status"] = "foreign"  # not ours: its fills count, the order is not tracked
            elif o.status in {"intent", "unknown", "not_placed", "rejected"}:
                changes["status"] = "open"  # a fill proves the order exists
            amount = o.amount
            if amount is not None and filled >= amount and changes.get("status", o.status) in {"open", "unknown"}:
                changes["status"] = "closed"
        self._put(key, replace(o, **changes))

    def _put(self, key: tuple[str, str], o: OrderState) -> None:
        self.by_key[key] = o
        if o.order_id:
            self.client_of[(o.venue, o.order_id)] = key[1]


def _later(old: str, new: str) -> str:
    """Keep a status learnt from a later-recorded event when an earlier-timed one arrives."""
    return old if old not in {"intent", "unknown"} else new


def replay_orders(events: Iterable[JournalEvent], *, at_ms: int | None = None) -> dict[str, OrderState]:
    """Order states by client id as of ``at_ms`` (``None``: everything).

    Examples
    --------
    >>> ev = [JournalEvent(1, 5, "intent", "x", client_id="a", payload={"side": "sell", "amount": "1"}),
    ...       JournalEvent(2, 6, "unknown", "x", client_id="a", payload={"reason": "timeout"})]
    >>> replay_orders(ev)["a"].status, replay_orders(ev, at_ms=5)["a"].status
    ('unknown', 'intent')
    """
    book = _Orders()
    for ev in _sorted(events, at_ms):
        book.apply(ev)
    return {key[1]: o for key, o in book.by_key.items()}


def _snapshot_totals(balances: Any) -> dict[str, Decimal]:
    """``{asset: {free, used, total}}`` (or ``{asset: amount}``) -> ``{asset: total}``."""
    out: dict[str, Decimal] = {}
    if not isinstance(balances, Mapping):
        return out
    for asset, value in balances.items():
        if isinstance(value, Mapping):
            total = to_decimal(value.get("total"))
            if total is None:
                total = (to_decimal(value.get("free")) or Decimal(0)) + (to_decimal(value.get("used")) or Decimal(0))
        else:
            total = to_decimal(value)
        if total is not None:
            out[str(asset)] = total
    return out


def replay(events: Iterable[JournalEvent], *, at_ms: int) -> JournalState:
    """Fold events into the :class:`JournalState` at ``at_ms`` (events with ``ts_ms <= at_ms`` count).

    ``events`` may be any mix of kinds, venues and accounts; balances are kept per (venue, account)
    and summed per asset in the result.
    """
    evs = _sorted(events, at_ms)
    book = _Orders()
    fills: list[Fill] = []
    snapshots: dict[tuple[str, str], JournalEvent] = {}
    for ev in evs:
        book.apply(ev)
        if ev.kind == "fill":
            fills.append(Fill.from_event(ev))
        elif ev.kind == "balance":
            snapshots[(ev.venue, ev.account)] = ev  # sorted by time: the last one wins

    positions: dict[str, Decimal] = {}
    per_account: dict[tuple[str, str], dict[str, Decimal]] = {
        k: _snapshot_totals(ev.payload.get("balances")) for k, ev in snapshots.items()
    }
    for f in fills:
        sign = Decimal(1) if f.side == "buy" else Decimal(-1)
        base, quote = base_quote(f.symbol)
        pos = positions.get(f.symbol, Decimal(0)) + sign * f.amount
        if f.fee_cost and f.fee_currency == base:
            pos -= f.fee_cost
        positions[f.symbol] = pos
        snap = snapshots.get((f.venue, f.account))
        if snap is not None and f.ts_ms <= snap.ts_ms:
            continue  # already inside that snapshot
        bal = per_account.setdefault((f.venue, f.account), {})
        if ":" not in f.symbol:  # spot: the base and quote change hands (derivatives settle as margin/PnL)
            bal[base] = bal.get(base, Decimal(0)) + sign * f.amount
            bal[quote] = bal.get(quote, Decimal(0)) - sign * f.cost
        if f.fee_cost:
            bal[f.fee_currency] = bal.get(f.fee_currency, Decimal(0)) - f.fee_cost

    balances: dict[str, Decimal] = {}
    for bal in per_account.values():
        for asset, amount in bal.items():
            balances[asset] = balances.get(asset, Decimal(0)) + amount
    return JournalState(
        at_ms=at_ms,
        orders={key[1]: o for key, o in book.by_key.items()},
        positions=positions,
        balances=balances,
        fills=fills,
    )
