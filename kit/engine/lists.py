"""Order lists: OCO, OTO, OTOCO, OPO and OPOCO, as Binance Spot runs them (``POST /api/v3/orderList/*``).

A mixin of :class:`~kit.engine.Engine`. The rules, from Binance's REST API documentation
("New Order list - OCO / OTO / OTOCO", "Cancel Order list") and its user-data-stream page
(expiry reasons ``OCO_TRIGGER``, ``OTO_PHASE_ONE_EXPIRED``, ``REJECTED``):

- **OCO**: two orders on one side, an *above* and a *below* one; one of them is a limit-type
  order (LIMIT_MAKER, TAKE_PROFIT, TAKE_PROFIT_LIMIT), the other a stop loss. For a sell, the
  limit-type price is above the last price and the stop below it; for a buy, the other way round
  ("The relationship of the prices for the orders is not correct."). The first order to start
  working (its first fill, even a partial one, or its trigger) expires the other at once.
- **OTO**: a *working* order (LIMIT or LIMIT_MAKER) and a *pending* one (status ``PENDING_NEW``,
  not on the book, nothing locked) that is placed when the working order is **fully** filled. A
  partial fill places nothing. If the pending order cannot be placed then (funds, filters) it
  expires (Binance's expiry reason ``REJECTED``).
- **OTOCO**: a working order and a pending OCO pair, placed together when it is fully filled.
- **OPO / OPOCO** (One Pays the Other, Binance's ``faqs/opo.md``): an OTO / OTOCO whose working
  order is a buy and whose pending sell order(s) have no quantity: each fill of the working order
  locks the base it received for them (its commission is taken from the free base balance when
  that covers it, else from what was received), and when the working order is fully filled the
  pending orders are placed for the locked amount rounded down to the LOT_SIZE step (at most
  the maximum quantity); the remainder is unlocked. The pending orders' filters are checked then
  (at placement only their prices, against the working quantity). Canceling or expiring the list
  before that unlocks what was received.
- Canceling any order of a list cancels the whole list (every open order ``CANCELED``). The
  working order expiring (IOC remainder, post-only that would take) expires the pending ones.
- Funds: an OCO pair locks its funds once, the larger of its two legs' needs (a sell: the
  quantity of base; a buy: quantity x the higher limit price). Both legs carry that lock; the
  first to start working keeps it and the other expires without releasing anything.
- The list is ``ALL_DONE`` when nothing in it can act on another any more: no pending order
  waits and no two of its orders are open (so an OCO is done once a leg started working, while
  that leg may still be filling; the same order Binance sends ``listStatus`` ALL_DONE in).

Every change of a list's status is a ``LIST_STATUS`` event carrying an
:class:`~kit.engine.types.OrderList` snapshot.

>>> from decimal import Decimal as D
>>> from kit.engine import Bar, Engine, Market, OrderRequest, OrderType, Side
>>> from kit.engine.types import Contingency, OrderListRequest
>>> eng = Engine([Market("BTC/USDT", "BTC", "USDT", tick_size=D("0.01"), step_size=D("0.001"))])
>>> _ = eng.open_account("me", {"BTC": "1"})
>>> _ = eng.mark("BTC/USDT", D("100"), 0)
>>> tp = OrderRequest("BTC/USDT", Side.SELL, OrderType.LIMIT, quantity=D("1"), price=D("110"), post_only=True)
>>> sl = OrderRequest("BTC/USDT", Side.SELL, OrderType.STOP_MARKET, quantity=D("1"), trigger_price=D("90"))
>>> ev = eng.submit_list("me", OrderListRequest(Contingency.OCO, (tp, sl), "bracket-1"), ts_ms=1)
>>> [e.kind.value for e in ev], eng.balances("me")["BTC"]
(['accepted', 'accepted', 'list_status'], (Decimal('0'), Decimal('1')))
>>> ev = eng.on_bar("BTC/USDT", Bar(60_000, D("100"), D("101"), D("85"), D("88"), D("50")))
>>> [(e.kind.value, e.order.request.type.value if e.order else e.order_list.status.value) for e in ev]
[('triggered', 'stop_market'), ('expired', 'limit'), ('list_status', 'ALL_DONE'), ('filled', 'stop_market')]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING

from kit.engine.filters import Refusal, check
from kit.engine.types import (
    BalanceChange,
    Contingency,
    Event,
    EventKind,
    ListStatus,
    OrderList,
    OrderListRequest,
    OrderRequest,
    OrderStatus,
    OrderType,
    RejectCode,
    Side,
)
from kit.engine.working import Working

if TYPE_CHECKING:  # pragma: no cover
    from kit.engine.ledger import Account
    from kit.engine.types import Market

ZERO = Decimal(0)

#: Types an OCO leg may have, as the engine spells them (LIMIT_MAKER is LIMIT + post_only).
_LIMIT_LIKE = frozenset({OrderType.LIMIT, OrderType.TAKE_PROFIT_MARKET, OrderType.TAKE_PROFIT_LIMIT,
                         OrderType.TRAILING_TAKE_PROFIT_MARKET, OrderType.TRAILING_TAKE_PROFIT_LIMIT})  # fmt: skip
_STOP_LIKE = frozenset({OrderType.STOP_MARKET, OrderType.STOP_LIMIT,
                        OrderType.TRAILING_STOP_MARKET, OrderType.TRAILING_STOP_LIMIT})  # fmt: skip
BAD_PRICES = "The relationship of the prices for the orders is not correct."


class _List:
    """The engine's mutable view of one order list."""

    __slots__ = ("id", "client_id", "account", "symbol", "contingency", "legs", "pending", "status", "created",
                 "updated", "busy", "received")  # fmt: skip

    def __init__(self, lid: int, client_id: str, account: str, symbol: str, contingency: Contingency,
                 ts: int) -> None:  # fmt: skip
        self.id = lid
        self.client_id = client_id
        self.account = account
        self.symbol = symbol
        self.contingency = contingency
        self.legs: list[Working] = []
        self.pending: list[Working] = []  # PENDING_NEW orders, placed when the working one fills
        self.status = ListStatus.EXECUTING
        self.created = self.updated = ts
        self.busy = False  # while the list itself closes its orders (no cascading)
        self.received = ZERO  # OPO/OPOCO: base the working buy received, locked for the pending orders

    def snapshot(self) -> OrderList:
        return OrderList(self.id, self.client_id, self.account, self.symbol, self.contingency, self.status,
                         tuple(w.id for w in self.legs), self.created, self.updated)  # fmt: skip


def leg_order(lst: OrderListRequest) -> list[int]:
    """The order in which a list's orders get their ids and are listed: a pair's stop loss first.

    A list is requested with its pair as (above, below); Binance's examples (OCO, OTOCO and OPOCO,
    buy and sell, in rest-api.md and web-socket-api.md) give the pair's stop-loss order the lower
    ``orderId`` and list it first, whichever side of the price it is on.

    >>> from decimal import Decimal as D
    >>> tp = OrderRequest("X/Y", Side.SELL, OrderType.LIMIT, quantity=D(1), price=D(90), post_only=True)
    >>> sl = OrderRequest("X/Y", Side.SELL, OrderType.STOP_MARKET, quantity=D(1), trigger_price=D(80))
    >>> leg_order(OrderListRequest(Contingency.OCO, (tp, sl)))
    [1, 0]
    """
    n = len(lst.orders)
    first = 0 if lst.contingency is Contingency.OCO else 1
    pair = sorted(range(first, n), key=lambda i: lst.orders[i].type not in _STOP_LIKE)
    return list(range(first)) + pair


def oco_refusal(side: Side, above: OrderRequest, below: OrderRequest, last: Decimal | None, *,
                sized_later: bool = False) -> Refusal | None:  # fmt: skip
    """Why an OCO pair is refused (Binance's price rules), or ``None``.

    One leg is limit-type (LIMIT_MAKER, TAKE_PROFIT(_LIMIT)), the other a stop loss; for a sell
    the limit-type leg is the above one and both lie on their sides of the last price; for a buy
    the stop loss is above. With ``sized_later`` (an OPOCO's pair) both legs have no quantity yet.

    >>> from decimal import Decimal as D
    >>> tp = OrderRequest("X/Y", Side.SELL, OrderType.LIMIT, quantity=D(1), price=D(90), post_only=True)
    >>> sl = OrderRequest("X/Y", Side.SELL, OrderType.STOP_MARKET, quantity=D(1), trigger_price=D(80))
    >>> oco_refusal(Side.SELL, tp, sl, D(100)).reason
    'The relationship of the prices for the orders is not correct.'
    >>> oco_refusal(Side.SELL, tp, sl, D(85)) is None
    True
    """
    legs = (above, below)
    for r in legs:
        if r.side is not side or r.symbol != above.symbol:
            return Refusal(RejectCode.INVALID, "both orders of an OCO have the same symbol and side")
        if r.quantity != above.quantity or (r.quantity is None) != sized_later:
            return Refusal(RejectCode.INVALID, "both orders of an OCO have the same quantity")
        if r.type is OrderType.LIMIT and not r.post_only:
            return Refusal(RejectCode.INVALID, "Order type not supported in OCO.")
        if r.type is OrderType.MARKET:
            return Refusal(RejectCode.INVALID, "Order type not supported in OCO.")
    limits = [r for r in legs if r.type in _LIMIT_LIKE]
    stops = [r for r in legs if r.type in _STOP_LIKE]
    if len(limits) != 1 or len(stops) != 1:
        return Refusal(RejectCode.INVALID, "At least one OCO order must be contingent." if len(limits) == 2
                       else "An OCO has one limit-type order and one stop loss.")  # fmt: skip
    lim, stop = limits[0], stops[0]
    if (side is Side.SELL) != (lim is above):
        where = "above" if side is Side.SELL else "below"
        return Refusal(RejectCode.INVALID, f"A limit order in a {side.value} OCO must be {where}.")
    lim_px = lim.price if lim.type is OrderType.LIMIT else lim.trigger_price
    stop_px = stop.trigger_price
    if lim_px is None or stop_px is None:
        return None  # trailing legs without a stop price: nothing to compare
    if side is Side.SELL:
        ok = lim_px > stop_px and (last is None or lim_px > last > stop_px)
    else:
        ok = lim_px < stop_px and (last is None or lim_px < last < stop_px)
    return None if ok else Refusal(RejectCode.LIST_PRICES, BAD_PRICES)


class Lists:
    """Order-list side of :class:`~kit.engine.Engine` (a mixin; state lives on the engine)."""

    if TYPE_CHECKING:  # provided by Engine / Matching
        markets: dict[str, Market]
        _accounts: dict[str, Account]
        _orders: dict[int, Working]
        _history: dict[str, list[int]]
        _open: dict[str, dict[int, Working]]
        _next_id: int

        def last_price(self, symbol: str) -> Decimal | None: ...  # noqa: D102
        def _reject(self, account: str, ts_ms: int, req: OrderRequest | None, r: Refusal) -> Event: ...
        def _exactness(self, acct: Account, m: Market, req: OrderRequest) -> Refusal | None: ...
        def _preflight(self, acct: Account, market: Market, req: OrderRequest) -> Refusal | None: ...
        def _reservation(self, acct: Account, w: Working) -> tuple[str, Decimal] | Refusal: ...
        def _next_seq(self) -> int: ...
        def _client_id_taken(self, acct: Account, client_id: str) -> bool: ...
        def _on_accept(self, w: Working, ts: int, out: list[Event]) -> None: ...
        def _close(self, w: Working, status: OrderStatus, t: int, out: list[Event], reason: str) -> None: ...

    def _init_lists(self) -> None:
        self._lists: dict[int, _List] = {}
        self._list_history: dict[str, list[int]] = {}
        self._next_list_id = 1

    # -- placing ---------------------------------------------------------------------------------
    def submit_list(self, account: str, lst: OrderListRequest, *, ts_ms: int) -> list[Event]:
        """Accept or reject an order list as one unit: every order is accepted, or none.

        Returns the ACCEPTED events of its orders (pending ones with status ``PENDING_NEW``), a
        ``LIST_STATUS`` event, and whatever the working order did at once; or one REJECTED event.
        """
        acct = self._accounts.get(account)
        reqs = lst.orders
        want = {Contingency.OCO: 2, Contingency.OTO: 2, Contingency.OTOCO: 3, Contingency.OPO: 2,
                Contingency.OPOCO: 3}[lst.contingency]  # fmt: skip
        if acct is None or len(reqs) != want:
            why = f"unknown account {account!r}" if acct is None else f"an {lst.contingency.value} has {want} orders"
            code = RejectCode.UNKNOWN_ACCOUNT if acct is None else RejectCode.INVALID
            return [self._reject(account, ts_ms, reqs[0] if reqs else None, Refusal(code, why))]
        refusal = self._list_refusal(acct, lst)
        if refusal is not None:
            return [self._reject(account, ts_ms, reqs[0], refusal)]
        order = leg_order(lst)
        if lst.contingency is Contingency.OCO:
            working, pending = [reqs[i] for i in order], []
        else:
            working, pending = [reqs[0]], [reqs[i] for i in order[1:]]
        market = self.markets[reqs[0].symbol]
        ws = [self._new_working(account, r, market, ts_ms, i) for i, r in enumerate(working)]
        lock = self._shared_lock(acct, ws)
        if isinstance(lock, Refusal):
            return [self._reject(account, ts_ms, reqs[0], lock)]
        ps = [self._new_working(account, r, market, ts_ms, len(ws) + i) for i, r in enumerate(pending)]
        self._next_id += len(ws) + len(ps)
        lid = self._next_list_id
        self._next_list_id += 1
        cid = lst.client_id or f"kit-list-{lid}"
        ol = _List(lid, cid, account, market.symbol, lst.contingency, ts_ms)
        ol.legs, ol.pending = ws + ps, ps
        self._lists[lid] = ol
        self._list_history.setdefault(account, []).append(lid)
        out: list[Event] = []
        changes: tuple[BalanceChange, ...] = ()
        if lock[1] > 0:
            changes = (BalanceChange(lock[0], free=lock[1].copy_negate(), locked=lock[1]),)
            acct.apply(changes)
        for w in ws + ps:
            w.list_id = lid
            if w in ps:
                w.status = OrderStatus.PENDING_NEW
            acct.client_ids[w.client_id] = w.id
            self._orders[w.id] = w
            self._history[account].append(w.id)
            if w in ws:
                self._open[w.req.symbol][w.id] = w
            out.append(Event(EventKind.ACCEPTED, ts_ms, account, order=w.snapshot(),
                             balance_changes=changes if w is ws[0] else ()))  # fmt: skip
        out.append(self._list_event(ol, ts_ms))
        for w in ws:
            if w.status.is_open:
                self._on_accept(w, ts_ms, out)
        return out

    def _new_working(self, account: str, req: OrderRequest, m: Market, ts: int, k: int) -> Working:
        oid = self._next_id + k
        return Working(oid, req.client_id or f"kit-{oid}", account, req, m, ts, self._next_seq())

    def _list_refusal(self, acct: Account, lst: OrderListRequest) -> Refusal | None:
        reqs = lst.orders
        symbol = reqs[0].symbol
        market = self.markets.get(symbol)
        if market is None:
            return Refusal(RejectCode.UNKNOWN_SYMBOL, f"unknown symbol {symbol!r}; known: {sorted(self.markets)}")
        if any(r.symbol != symbol for r in reqs):
            return Refusal(RejectCode.INVALID, "every order of a list has the list's symbol")
        if lst.client_id is not None and any(
            ol.client_id == lst.client_id and ol.status is ListStatus.EXECUTING
            for ol in (self._lists[i] for i in self._list_history.get(acct.name, ()))
        ):
            return Refusal(RejectCode.DUPLICATE_CLIENT_ID, "Duplicate order sent.")
        ids = [r.client_id for r in reqs if r.client_id is not None]
        if len(set(ids)) != len(ids) or any(self._client_id_taken(acct, c) for c in ids):
            return Refusal(RejectCode.DUPLICATE_CLIENT_ID, "Duplicate order sent.")
        last = self.last_price(symbol)
        pays = lst.contingency.pays
        if lst.contingency is not Contingency.OCO:
            head = reqs[0]
            if head.type is not OrderType.LIMIT:
                return Refusal(RejectCode.INVALID, "the working order of a list is LIMIT or LIMIT_MAKER")
            if pays and head.side is not Side.BUY:
                return Refusal(RejectCode.INVALID, "Working order in an OPO list must be a bid.")
            if pays and any(r.side is not Side.SELL for r in reqs[1:]):
                return Refusal(RejectCode.INVALID, "Pending orders in an OPO list must be asks.")
            if pays and any(r.quantity is not None or r.quote_quantity is not None for r in reqs[1:]):
                return Refusal(RejectCode.INVALID, "the pending orders of an OPO have no quantity of their own")
            if lst.contingency is Contingency.OTO and reqs[1].type is OrderType.MARKET and reqs[1].quantity is None:
                return Refusal(RejectCode.INVALID, "a pending MARKET order needs a quantity, not a quote amount")
        pair = reqs if lst.contingency is Contingency.OCO else reqs[1:] if len(reqs) == 3 else ()
        if pair:
            # a pending pair is checked against the working order's price: the last price then
            ref = last if lst.contingency is Contingency.OCO else reqs[0].price
            refusal = oco_refusal(pair[0].side, pair[0], pair[1], ref, sized_later=pays)
            if refusal is not None:
                return refusal
        for i, r in enumerate(reqs):
            live = lst.contingency is Contingency.OCO or i == 0
            if pays and i > 0:  # sized when the working order fills: its quantity stands in until then
                r = replace(r, quantity=reqs[0].quantity)
            refusal = check(market, r, ref_price=last if live else None) or self._exactness(acct, market, r)
            if refusal is None and live:
                refusal = self._preflight(acct, market, r)
            if refusal is not None:
                return refusal
        return None

    def _shared_lock(self, acct: Account, ws: list[Working]) -> tuple[str, Decimal] | Refusal:
        """The one lock of the orders that start working (an OCO pair shares the larger need)."""
        best: tuple[str, Decimal] | None = None
        for w in ws:
            lock = self._reservation(acct, w)
            if isinstance(lock, Refusal):
                return lock
            if best is None or lock[1] > best[1]:
                best = lock
        assert best is not None
        for w in ws:
            w.lock_asset, w.lock_left, w.lock_price = None, ZERO, None
            if best[1] > 0:
                w.lock_asset, w.lock_left = best
                if w.buy and w.price is not None:  # released at the pair's rate; the excess returns at fill
                    w.lock_price = best[1] / (w.req.quantity or 1)
        return best

    # -- hooks from the matching code ------------------------------------------------------------
    def _list_started(self, w: Working, t: int, out: list[Event]) -> None:
        """``w`` starts working (first fill, or trigger): in an OCO pair, the other leg expires.

        Called before the fill is booked (so the pair's lock is ``w``'s alone) and after a
        trigger. A market-type buy leg leaves the pair's lock to the expiring leg, which releases
        it: the stop is charged at its fill price, from free funds, not at a limit.
        """
        ol = self._lists.get(w.list_id)
        if ol is None or ol.busy:
            return
        others = [o for o in ol.legs if o is not w and o.status.is_open and o.status is not OrderStatus.PENDING_NEW]
        if not others or (ol.contingency is not Contingency.OCO and w is ol.legs[0]):
            return
        if w.buy and w.price is None and w.filled == 0:
            w.lock_asset, w.lock_left = None, ZERO
        ol.busy = True
        for o in others:
            self._close(o, OrderStatus.EXPIRED, t, out, "OCO_TRIGGER: the other order of the pair started working")
        ol.busy = False
        self._list_update(ol, t, out)

    def _list_closing(self, w: Working) -> None:
        """Before ``w`` closes: a lock another open order of its list shares is not released twice."""
        ol = self._lists.get(w.list_id)
        if (
            ol is not None
            and w.lock_left > 0
            and any(
                o is not w and o.status.is_open and o.lock_left > 0 and o.lock_asset == w.lock_asset for o in ol.legs
            )
        ):
            w.lock_left = ZERO

    def _list_filled(self, w: Working, t: int, out: list[Event]) -> None:
        """``w`` is fully filled: an OTO/OTOCO's pending orders go to work."""
        ol = self._lists.get(w.list_id)
        if ol is None:
            return
        if ol.pending and w is ol.legs[0]:
            self._place_pending(ol, t, out)
        self._list_update(ol, t, out)

    def _list_closed(self, w: Working, status: OrderStatus, t: int, out: list[Event]) -> None:
        """``w`` was canceled or expired by the market: a cancel cancels the list, an expiry what waits."""
        ol = self._lists.get(w.list_id)
        if ol is None or ol.busy:
            return
        rest = [o for o in ol.legs if o is not w and o.status.is_open]
        if status is OrderStatus.CANCELED:
            self._close_all(ol, rest, t, out, "the order list was canceled", OrderStatus.CANCELED)
        elif w is ol.legs[0] and ol.pending:
            self._close_all(ol, rest, t, out, "OTO_PHASE_ONE_EXPIRED: the working order expired", OrderStatus.EXPIRED)
        elif not w.triggered and w.filled == 0:  # an OCO leg that expired before it started working
            rest = [o for o in rest if o.status is not OrderStatus.PENDING_NEW]
            self._close_all(ol, rest, t, out, "OCO_TRIGGER: the other order of the pair expired", OrderStatus.EXPIRED)
        self._list_update(ol, t, out)

    def _close_all(self, ol: _List, rest: list[Working], t: int, out: list[Event], why: str,
                   status: OrderStatus) -> None:  # fmt: skip
        waiting = [o for o in rest if o.status is OrderStatus.PENDING_NEW]
        if ol.received > 0 and waiting:  # OPO: what the working order received is unlocked with them
            waiting[0].lock_asset, waiting[0].lock_left = waiting[0].market.base, ol.received
            ol.received = ZERO
        ol.busy = True
        for o in rest:
            if o.status.is_open:
                if o.status is OrderStatus.PENDING_NEW and o in ol.pending:
                    ol.pending.remove(o)
                self._close(o, status, t, out, why)
        ol.busy = False

    def _place_pending(self, ol: _List, t: int, out: list[Event]) -> None:
        """Put the pending order(s) on the book: funds locked now, filters and triggers checked now."""
        ps, ol.pending = ol.pending, []
        acct = self._accounts[ol.account]
        m = self.markets[ol.symbol]
        refusal: Refusal | None = None
        if ol.contingency.pays:
            refusal = self._size_pending(ol, ps, m)
            for p in ps:
                refusal = refusal or check(m, p.req, ref_price=self.last_price(m.symbol))
        refusal = refusal or next((r for r in (self._preflight(acct, m, p.req) for p in ps) if r is not None), None)
        if ol.contingency.pays:
            lock = self._paid_lock(ol, ps, m) if refusal is None else refusal
        else:
            lock = self._shared_lock(acct, ps) if refusal is None else refusal
        if isinstance(lock, Refusal):
            for p in ps:
                p.lock_asset, p.lock_left = None, ZERO
            ol.pending = list(ps)  # _close_all unlocks what an OPO received
            self._close_all(ol, ps, t, out, f"REJECTED: the pending order was refused: {lock.reason}",
                            OrderStatus.EXPIRED)  # fmt: skip
            ol.pending = []
            return
        changes: tuple[BalanceChange, ...] = ()
        if ol.contingency.pays:
            excess = lock[1]  # what the rounding to the step left over goes back to the free balance
            if excess > 0:
                changes = (BalanceChange(m.base, free=excess, locked=excess.copy_negate()),)
                acct.apply(changes)
        elif lock[1] > 0:
            changes = (BalanceChange(lock[0], free=lock[1].copy_negate(), locked=lock[1]),)
            acct.apply(changes)
        for p in ps:
            p.status = OrderStatus.PENDING if p.cond else OrderStatus.NEW
            p.created = p.updated = t
            p.seq = self._next_seq()
            self._open[ol.symbol][p.id] = p
            out.append(Event(EventKind.ACCEPTED, t, ol.account, order=p.snapshot(),
                             balance_changes=changes if p is ps[0] else ()))  # fmt: skip
        for p in ps:
            if p.status.is_open:
                self._on_accept(p, t, out)

    def _size_pending(self, ol: _List, ps: list[Working], m: Market) -> Refusal | None:
        """OPO: give the pending orders the quantity the working order received (LOT_SIZE step, max)."""
        qty = (ol.received // m.step_size) * m.step_size
        cap = m.market_max_qty if any(not p.req.type.has_limit_price for p in ps) else None
        for limit in (m.max_qty, cap):
            if limit is not None and qty > limit:
                qty = limit
        if qty <= 0:
            why = "the working order received less than one step"
            return Refusal(RejectCode.FILTER, f"Filter failure: LOT_SIZE ({why})", "LOT_SIZE", str(m.step_size), why)
        for p in ps:
            p.req = replace(p.req, quantity=qty)
            p.qty = qty
        return None

    def _paid_lock(self, ol: _List, ps: list[Working], m: Market) -> tuple[str, Decimal]:
        """OPO: the pending orders share the received base already locked; returns the excess to unlock."""
        qty = ps[0].qty or ZERO
        excess, ol.received = ol.received - qty, ZERO
        for p in ps:
            p.lock_asset, p.lock_left = m.base, qty
        return m.base, excess

    def _list_received(self, w: Working, qty: Decimal, fee: Decimal, free_base: Decimal,
                       move: Callable[..., None]) -> None:  # fmt: skip
        """A fill of an OPO's working buy: lock the base it received for the pending orders.

        The commission comes out of the free base balance when that covers it (Binance's OPO
        FAQ), so the whole fill goes to the pending orders; else out of what was received.
        """
        ol = self._lists.get(w.list_id)
        if ol is None or not ol.contingency.pays or w is not ol.legs[0] or not ol.pending:
            return
        received = qty if free_base >= fee else qty - fee
        if received > 0:
            move(w.market.base, free=received.copy_negate(), locked=received)
            ol.received += received

    def _list_update(self, ol: _List, t: int, out: list[Event]) -> None:
        if ol.status is ListStatus.ALL_DONE:
            return
        open_ = [o for o in ol.legs if o.status.is_open]
        if not ol.pending and len(open_) <= 1:
            ol.status, ol.updated = ListStatus.ALL_DONE, t
            out.append(self._list_event(ol, t))

    def _list_event(self, ol: _List, t: int) -> Event:
        return Event(EventKind.LIST_STATUS, t, ol.account, order_list=ol.snapshot())

    # -- cancel and queries ----------------------------------------------------------------------
    def cancel_list(self, account: str, *, list_id: int | None = None, client_id: str | None = None,
                    ts_ms: int) -> list[Event]:  # fmt: skip
        """Cancel every open order of a list (by id or list client id); REJECTED if none is open."""
        ol = self._find_list(account, list_id, client_id)
        if ol is None or ol.status is ListStatus.ALL_DONE and not any(o.status.is_open for o in ol.legs):
            what = list_id if list_id is not None else client_id
            return [self._reject(account, ts_ms, None,
                                 Refusal(RejectCode.UNKNOWN_LIST, f"Order list does not exist: {what!r}"))]  # fmt: skip
        out: list[Event] = []
        self._close_all(ol, [o for o in ol.legs if o.status.is_open], ts_ms, out, "the order list was canceled",
                        OrderStatus.CANCELED)  # fmt: skip
        self._list_update(ol, ts_ms, out)
        return out

    def get_list(self, account: str, *, list_id: int | None = None, client_id: str | None = None) -> OrderList | None:
        """Snapshot of one order list of ``account`` (the latest one with that client id), or ``None``."""
        ol = self._find_list(account, list_id, client_id)
        return ol.snapshot() if ol is not None else None

    def order_lists(self, account: str, *, open_only: bool = False) -> list[OrderList]:
        """Every order list of ``account`` (only the executing ones with ``open_only``), oldest first."""
        ls = (self._lists[i] for i in self._list_history.get(account, ()))
        return [ol.snapshot() for ol in ls if not open_only or ol.status is ListStatus.EXECUTING]

    def _find_list(self, account: str, list_id: int | None, client_id: str | None) -> _List | None:
        if list_id is not None:
            ol = self._lists.get(list_id)
            if ol is None or ol.account != account or (client_id is not None and ol.client_id != client_id):
                return None
            return ol
        for i in reversed(self._list_history.get(account, ())):
            if self._lists[i].client_id == client_id:
                return self._lists[i]
        return None
