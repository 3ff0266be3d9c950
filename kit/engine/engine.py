"""The engine: accounts, order acceptance, cancel and amend, and queries.

Market data (candles, trades, book snapshots) drives fills in :mod:`kit.engine.matching`; this
module owns the order lifecycle around it. Every call takes the time as an argument and returns
the events it caused, in order. Nothing here reads a clock or does I/O.

>>> from decimal import Decimal as D
>>> from kit.engine import Bar, Engine, Market, OrderRequest, OrderType, Side
>>> eng = Engine([Market("BTC/USDT", "BTC", "USDT", tick_size=D("0.01"), step_size=D("0.001"))])
>>> _ = eng.open_account("alice", {"USDT": "2000"})
>>> ev = eng.submit("alice", OrderRequest("BTC/USDT", Side.BUY, OrderType.LIMIT,
...                 quantity=D("10"), price=D("100")), ts_ms=0)
>>> [e.kind.value for e in ev], eng.balances("alice")["USDT"]
(['accepted'], (Decimal('1000'), Decimal('1000')))
>>> ev = eng.on_bar("BTC/USDT", Bar(60_000, D("101"), D("101"), D("99"), D("100"), D("50")))
>>> [(e.kind.value, e.fill.price, e.fill.quantity) for e in ev]
[('partially_filled', Decimal('100'), Decimal('5.0'))]

The candle traded through 100 (low 99), but only 10 % of its volume (5 of 50) was available.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal, Inexact

from kit.engine.fillmodel import EXACT as X
from kit.engine.fillmodel import PRECISION, FillModel
from kit.engine.filters import Refusal, check, would_cross
from kit.engine.ledger import Account
from kit.engine.lists import Lists
from kit.engine.matching import Matching
from kit.engine.types import (
    BalanceChange,
    Event,
    EventKind,
    Fill,
    Market,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    RejectCode,
    Side,
)
from kit.engine.working import OpenBook, Working

ZERO = Decimal(0)


class Engine(Lists, Matching):
    """A deterministic, pessimistic fill engine for one or more accounts.

    Parameters
    ----------
    markets:
        The tradable symbols and their rules.
    fill_model:
        How fills are derived from market data; the default is conservative.
    """

    #: Binance frees a client order id once its order is no longer open (localnet sets this).
    reuse_client_ids = False

    def __init__(self, markets: Iterable[Market], *, fill_model: FillModel | None = None) -> None:
        super().__init__(fill_model or FillModel())
        self.markets: dict[str, Market] = {m.symbol: m for m in markets}
        self._accounts: dict[str, Account] = {}
        self._orders: dict[int, Working] = {}
        self._history: dict[str, list[int]] = {}
        self._fills: dict[str, list[Fill]] = {}
        self._open: dict[str, dict[int, Working]] = {s: OpenBook() for s in self.markets}
        self._next_id = 1
        self._init_lists()

    # -- accounts --------------------------------------------------------------------------------
    def open_account(
        self,
        account: str,
        balances: Mapping[str, Decimal | str | int] | None = None,
        *,
        ts_ms: int = 0,
        positions: bool = False,
    ) -> list[Event]:
        """Create ``account`` with starting ``balances``; returns its DEPOSIT events."""
        if account in self._accounts:
            raise ValueError(f"account {account!r} already exists")
        self._accounts[account] = Account(account, positions=positions)
        self._history[account] = []
        self._fills[account] = []
        out: list[Event] = []
        for asset, amount in (balances or {}).items():
            out += self.deposit(account, asset, Decimal(amount), ts_ms=ts_ms)
        return out

    def deposit(self, account: str, asset: str, amount: Decimal, *, ts_ms: int) -> list[Event]:
        """Credit ``amount`` of ``asset`` to ``account``'s free balance."""
        if amount < 0 or not amount.is_finite():
            raise ValueError(f"deposit amount must be a non-negative number, got {amount}")
        change = (BalanceChange(asset, free=amount),)
        self._account(account).apply(change)
        return [Event(EventKind.DEPOSIT, ts_ms, account, balance_changes=change)]

    def withdraw(self, account: str, asset: str, amount: Decimal, *, ts_ms: int) -> list[Event]:
        """Move ``amount`` of ``asset`` out of the account; REJECTED if the free balance is short."""
        acct = self._account(account)
        if amount <= 0 or acct.free(asset) < amount:
            return [self._reject(account, ts_ms, None, Refusal(
                RejectCode.INSUFFICIENT_FUNDS,
                f"cannot withdraw {amount} {asset}: free balance is {acct.free(asset)}"))]  # fmt: skip
        change = (BalanceChange(asset, free=amount.copy_negate()),)
        acct.apply(change)
        return [Event(EventKind.DEPOSIT, ts_ms, account, balance_changes=change, reason="withdrawal")]

    def _account(self, account: str) -> Account:
        try:
            return self._accounts[account]
        except KeyError:
            raise KeyError(f"unknown account {account!r}; open it with open_account()") from None

    # -- orders ----------------------------------------------------------------------------------
    def submit(self, account: str, req: OrderRequest, *, ts_ms: int) -> list[Event]:
        """Accept or reject ``req``; an accepted order may fill at once against the current book."""
        acct = self._accounts.get(account)
        if acct is None:
            return [
                self._reject(account, ts_ms, req, Refusal(RejectCode.UNKNOWN_ACCOUNT, f"unknown account {account!r}"))
            ]
        market = self.markets.get(req.symbol)
        if market is None:
            return [
                self._reject(
                    account,
                    ts_ms,
                    req,
                    Refusal(RejectCode.UNKNOWN_SYMBOL, f"unknown symbol {req.symbol!r}; known: {sorted(self.markets)}"),
                )
            ]
        if req.client_id is not None and self._client_id_taken(acct, req.client_id):
            return [
                self._reject(
                    account,
                    ts_ms,
                    req,
                    Refusal(RejectCode.DUPLICATE_CLIENT_ID, f"client order id {req.client_id!r} was already used"),
                )
            ]
        refusal = (
            check(market, req, ref_price=self.last_price(req.symbol))
            or self._exactness(acct, market, req)
            or self._preflight(acct, market, req)
        )
        if refusal is not None:
            return [self._reject(account, ts_ms, req, refusal)]
        oid = self._next_id  # taken only once the order is accepted: rejections get no id
        w = Working(oid, req.client_id or f"kit-{oid}", account, req, market, ts_ms, self._next_seq())
        lock = self._reservation(acct, w)
        if isinstance(lock, Refusal):
            return [self._reject(account, ts_ms, req, lock)]
        self._next_id += 1
        changes: tuple[BalanceChange, ...] = ()
        if lock[1] > 0:
            w.lock_asset, w.lock_left = lock
            changes = (BalanceChange(lock[0], free=lock[1].copy_negate(), locked=lock[1]),)
            acct.apply(changes)
        if self.fill_model.at_touch and req.price is not None:
            w.queue_ahead = self._queue_estimate(req.symbol)
        acct.client_ids[w.client_id] = oid
        self._orders[oid] = w
        self._history[account].append(oid)
        self._open[req.symbol][oid] = w
        if req.expire_at_ms is not None:
            self._gtd[req.symbol] = self._gtd.get(req.symbol, 0) + 1
        out = [Event(EventKind.ACCEPTED, ts_ms, account, w.snapshot(), None, "", None, None, None, changes)]
        self._on_accept(w, ts_ms, out)
        return out

    def _exactness(self, acct: Account, m: Market, req: OrderRequest) -> Refusal | None:
        """Refuse a request whose amounts the engine could not hold exactly (#13: no silent rounding).

        Every amount the order can move (its quantity, its notional at its price, or at the
        trigger or last price, and the balances they are added to) must fit
        :data:`~kit.engine.fillmodel.PRECISION` significant digits. Fees are rounded up to
        ``fee_precision`` on purpose and slippage to the tick; nothing else is rounded.
        """
        q, qq = req.quantity, req.quote_quantity
        ref = req.price or req.trigger_price or self.last_price(req.symbol)
        base, quote = sum(acct.balance(m.base), ZERO), sum(acct.balance(m.quote), ZERO)

        try:
            if q is not None:
                X.add(base, q), X.subtract(base, q)
                if ref is not None:
                    n = X.multiply(q, ref)
                    X.add(quote, n), X.subtract(quote, n)
            if qq is not None:
                X.add(quote, qq), X.subtract(quote, qq)
            return None
        except Inexact:
            pass
        return Refusal(
            RejectCode.INVALID,
            f"the order's amounts need more than {PRECISION} significant digits (quantity {q or qq}, "
            f"price {ref}, balances {base} {m.base} / {quote} {m.quote}) and would be rounded; "
            f"use fewer decimal places (step {m.step_size}, tick {m.tick_size}) or smaller amounts",
        )

    def _preflight(self, acct: Account, market: Market, req: OrderRequest) -> Refusal | None:
        """Account-dependent checks: reduce-only, post-only and immediate triggers."""
        if req.reduce_only:
            if not acct.positions:
                return Refusal(RejectCode.UNSUPPORTED, "reduce_only needs an account with positions; "
                               "spot accounts hold assets, sell the asset instead")  # fmt: skip
            pos = acct.position(req.symbol)
            if pos == 0 or (pos > 0) == (req.side is Side.BUY):
                return Refusal(RejectCode.REDUCE_ONLY, f"reduce_only order would grow the position ({pos})")
        last = self.last_price(req.symbol)
        if req.post_only and req.price is not None:
            best = self.best_opposite(req.symbol, req.side)
            if would_cross(req.side, req.price, best if best is not None else last):
                return Refusal(RejectCode.WOULD_TAKE, "Order would immediately match and take.")
        t = req.type
        if t.is_conditional and not t.is_trailing and last is not None and req.trigger_price is not None:
            up = (t, req.side) in _UP_TYPES
            if (last >= req.trigger_price) if up else (last <= req.trigger_price):
                return Refusal(RejectCode.WOULD_TRIGGER, "Stop price would trigger immediately.")
        return None

    def _reservation(self, acct: Account, w: Working) -> tuple[str, Decimal] | Refusal:
        """Funds to lock for ``w`` as (asset, amount), or a refusal if they are not there."""
        m, req = w.market, w.req
        if acct.positions:
            need = ZERO
            if not req.reduce_only and req.quantity is not None:
                ref = req.price or req.trigger_price or self.last_price(req.symbol)
                need = req.quantity * ref if ref is not None else ZERO
            asset, amount = m.quote, ZERO
            if acct.free(m.quote) < need:
                return self._short(acct, m.quote, need)
            return asset, amount
        if w.buy:
            if req.quote_quantity is not None:
                asset, amount = m.quote, req.quote_quantity
            elif req.price is not None:
                asset, amount = m.quote, X.multiply(req.quantity, req.price) if req.quantity else ZERO
                w.lock_price = req.price
            else:  # market-type buy by quantity: checked against an estimate, charged at fill
                ref = self.estimate_cost(req.symbol, req.quantity or ZERO) if req.type is OrderType.MARKET else None
                if ref is not None and acct.free(m.quote) < ref:
                    return self._short(acct, m.quote, ref)
                return m.quote, ZERO
        else:
            if req.quantity is None:  # market sell by quote amount: checked at fill
                return m.base, ZERO
            asset, amount = m.base, req.quantity
        if acct.free(asset) < amount:
            return self._short(acct, asset, amount)
        return asset, amount

    @staticmethod
    def _short(acct: Account, asset: str, need: Decimal) -> Refusal:
        return Refusal(RejectCode.INSUFFICIENT_FUNDS,
                       "Account has insufficient balance for requested action. "
                       f"Needs {need} {asset}, free {acct.free(asset)}.")  # fmt: skip

    def cancel(self, account: str, *, order_id: int | None = None, client_id: str | None = None,
               ts_ms: int) -> list[Event]:  # fmt: skip
        """Cancel an open order by id or client id; releases its reserved funds."""
        w = self._find(account, order_id, client_id)
        if w is None or not w.status.is_open:
            what = order_id if order_id is not None else client_id
            return [
                self._reject(
                    account,
                    ts_ms,
                    None,
                    Refusal(RejectCode.UNKNOWN_ORDER, f"Unknown order sent: no open order {what!r}"),
                )
            ]
        if w.list_id >= 0:  # canceling one order of a list cancels the list (Binance)
            return self.cancel_list(account, list_id=w.list_id, ts_ms=ts_ms)
        out: list[Event] = []
        self._close(w, OrderStatus.CANCELED, ts_ms, out, "canceled by request")
        return out

    def cancel_all(self, account: str, symbol: str | None = None, *, ts_ms: int) -> list[Event]:
        """Cancel every open order of ``account`` (in ``symbol`` if given)."""
        out: list[Event] = []
        for w in self._open_of(account, symbol):
            if not w.status.is_open:  # canceled with its list meanwhile
                continue
            if w.list_id >= 0:
                out += self.cancel_list(account, list_id=w.list_id, ts_ms=ts_ms)
            else:
                self._close(w, OrderStatus.CANCELED, ts_ms, out, "canceled by request")
        return out

    def amend(self, account: str, *, order_id: int | None = None, client_id: str | None = None,
              quantity: Decimal | None = None, price: Decimal | None = None,
              trigger_price: Decimal | None = None, ts_ms: int) -> list[Event]:  # fmt: skip
        """Change quantity, price or trigger of an open order.

        Reducing the quantity keeps the order's queue priority; a new price loses it. The new
        values pass the same filters and fund checks as a new order.
        """
        w = self._find(account, order_id, client_id)
        if w is None or not w.status.is_open:
            return [
                self._reject(
                    account, ts_ms, None, Refusal(RejectCode.UNKNOWN_ORDER, "Unknown order sent: nothing open to amend")
                )
            ]
        if w.list_id >= 0:  # a list's orders share a lock; amend them by canceling and placing the list again
            why = "an order of an order list cannot be amended; cancel the list and place it again"
            return [self._reject(account, ts_ms, None, Refusal(RejectCode.UNSUPPORTED, why))]
        req = w.req
        new_qty = quantity if quantity is not None else req.quantity
        if (price is not None and req.price is None) or (trigger_price is not None and req.trigger_price is None):
            return [
                self._reject(
                    account, ts_ms, None, Refusal(RejectCode.INVALID, "this order type has no price/trigger to amend")
                )
            ]
        new = _replace(
            req,
            quantity=new_qty,
            price=price if price is not None else w.price,
            trigger_price=trigger_price if trigger_price is not None else w.trigger,
        )
        refusal = check(w.market, new, ref_price=None) or self._exactness(self._accounts[account], w.market, new)
        if refusal is None and new_qty is not None and new_qty <= w.filled:
            refusal = Refusal(RejectCode.INVALID, f"new quantity {new_qty} is not above the filled {w.filled}")
        if refusal is not None:
            return [self._reject(account, ts_ms, None, refusal)]
        acct = self._accounts[account]
        changes: tuple[BalanceChange, ...] = ()
        if w.lock_asset is not None and w.lock_left > 0 or (w.buy and w.lock_price is not None):
            rem = (new_qty or ZERO) - w.filled
            target = X.multiply(rem, new.price) if (w.buy and new.price is not None) else rem
            delta = X.subtract(target, w.lock_left)
            if delta > acct.free(w.lock_asset or ""):
                return [self._reject(account, ts_ms, None, self._short(acct, w.lock_asset or "", delta))]
            if delta:
                changes = (BalanceChange(w.lock_asset or "", free=delta.copy_negate(), locked=delta),)
                acct.apply(changes)
                w.lock_left = X.add(w.lock_left, delta)
            if w.buy and new.price is not None:
                w.lock_price = new.price
        if price is not None and price != w.price or (quantity is not None and quantity > (req.quantity or ZERO)):
            w.seq = self._next_seq()  # loses queue priority
        w.req, w.qty, w.price, w.trigger, w.updated = new, new_qty, new.price, new.trigger_price, ts_ms
        if w.visible_left is not None and req.iceberg_qty is not None:
            w.visible_left = min(w.visible_left, w.remaining)
        return [Event(EventKind.AMENDED, ts_ms, account, order=w.snapshot(), balance_changes=changes)]

    # -- queries ---------------------------------------------------------------------------------
    def balances(self, account: str) -> dict[str, tuple[Decimal, Decimal]]:
        """``asset -> (free, locked)`` for ``account``."""
        return self._account(account).balances()

    def position(self, account: str, symbol: str) -> Decimal:
        """Signed position of ``account`` in ``symbol`` (zero for spot accounts)."""
        return self._account(account).position(symbol)

    def get_order(self, account: str, *, order_id: int | None = None, client_id: str | None = None) -> Order | None:
        """Snapshot of one order of ``account``, or ``None``."""
        w = self._find(account, order_id, client_id)
        return w.snapshot() if w is not None else None

    def open_orders(self, account: str, symbol: str | None = None) -> list[Order]:
        """Open orders of ``account``, oldest first."""
        return [w.snapshot() for w in self._open_of(account, symbol)]

    def orders(self, account: str, symbol: str | None = None) -> list[Order]:
        """Every order ``account`` ever placed (in ``symbol`` if given), oldest first."""
        ws = (self._orders[i] for i in self._history.get(account, ()))
        return [w.snapshot() for w in ws if symbol is None or w.req.symbol == symbol]

    def fills(self, account: str, symbol: str | None = None) -> list[Fill]:
        """Every fill of ``account`` (in ``symbol`` if given), in time order."""
        return [f for f in self._fills.get(account, ()) if symbol is None or f.symbol == symbol]

    def accounts(self) -> list[str]:
        """Names of all accounts."""
        return list(self._accounts)

    # -- helpers ---------------------------------------------------------------------------------
    def _client_id_taken(self, acct: Account, client_id: str) -> bool:
        """Whether ``client_id`` may not be used for a new order of ``acct``.

        By default a client id is used once for ever. With ``reuse_client_ids`` (Binance's rule,
        which localnet follows) only an *open* order holds its id: once it is filled, canceled or
        expired the id is free again, and a lookup by client id finds the newest order.
        """
        prev = acct.client_ids.get(client_id)
        if prev is None:
            return False
        return not self.reuse_client_ids or self._orders[prev].status.is_open

    def _find(self, account: str, order_id: int | None, client_id: str | None) -> Working | None:
        acct = self._accounts.get(account)
        if acct is None:
            return None
        if order_id is None and client_id is not None:
            order_id = acct.client_ids.get(client_id)
        w = self._orders.get(order_id) if order_id is not None else None
        return w if w is not None and w.account == account else None

    def _open_of(self, account: str, symbol: str | None) -> list[Working]:
        books = [self._open[symbol]] if symbol is not None else list(self._open.values())
        found = [w for b in books for w in b.values() if w.account == account]
        found += [w for ol in self._lists.values() if ol.account == account and ol.pending for w in ol.pending
                  if symbol is None or w.req.symbol == symbol]  # fmt: skip
        return sorted(found, key=lambda w: w.id)

    def _reject(self, account: str, ts_ms: int, req: OrderRequest | None, r: Refusal) -> Event:
        order = None
        if req is not None:
            order = Order(
                0,
                req.client_id or "",
                account,
                req,
                OrderStatus.REJECTED,
                ts_ms,
                ts_ms,
                quantity=req.quantity or ZERO,
                price=req.price,
                trigger_price=req.trigger_price,
            )
        return Event(EventKind.REJECTED, ts_ms, account, order=order, reason=r.reason, code=r.code,
                     filter=r.filter, allowed=r.allowed)  # fmt: skip


_UP_TYPES = {
    (OrderType.STOP_MARKET, Side.BUY),
    (OrderType.STOP_LIMIT, Side.BUY),
    (OrderType.TAKE_PROFIT_MARKET, Side.SELL),
    (OrderType.TAKE_PROFIT_LIMIT, Side.SELL),
}


def _replace(req: OrderRequest, **changes: object) -> OrderRequest:
    from dataclasses import replace

    return replace(req, **changes)  # type: ignore[arg-type]
