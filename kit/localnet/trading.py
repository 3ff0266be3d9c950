"""Orders, balances and withdrawals of a :class:`~kit.localnet.venue.Venue`, through the engine.

Every engine call goes through :meth:`Trading.run_command`, which appends it to the persistent
command log (see :mod:`kit.localnet.persist`), runs it, records snapshots, and publishes the
resulting user events (``executionReport``, ``outboundAccountPosition``, ``balanceUpdate``).
Market inputs (trade prints, books) are logged only while a symbol has open orders; otherwise
the latest one is kept and flushed right before the next command, so a replay on restart gives
the engine the same inputs that mattered.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import secrets
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from kit.localnet import wire

if TYPE_CHECKING:  # pragma: no cover
    from kit.engine import Engine, Event, Fill, Order, OrderRequest
    from kit.localnet.book import Book, Delta
    from kit.localnet.clock import Clock
    from kit.localnet.hub import Hub
    from kit.localnet.persist import Store
    from kit.localnet.venue import SymbolInfo

_MARKET_KINDS = ("trade", "book")
#: The venue's logger (``kit.localnet``), named here so that this mixin does not import its Venue.
log = logging.getLogger("kit.localnet")


class Trading:
    """Mixin of :class:`~kit.localnet.venue.Venue` holding the order-side state and operations."""

    # provided by Venue
    engine: Engine
    store: Store
    hub: Hub
    clock: Clock
    symbols: dict[str, SymbolInfo]
    by_unified: dict[str, SymbolInfo]
    books: dict[str, Book]

    def publish_user(self, account: str, payload: dict[str, Any]) -> None:  # pragma: no cover
        """Provided by Venue."""
        raise NotImplementedError

    def _publish_depth(self, sid: str, delta: Delta, now: int) -> None:  # pragma: no cover
        raise NotImplementedError

    def advance(self, now: int) -> None:  # pragma: no cover
        """Provided by Venue: feed the market (prints, books) up to ``now`` to the engine."""
        raise NotImplementedError

    def print_own_fill(self, account: str, fill: Fill, ts_ms: int) -> None:  # pragma: no cover
        """Provided by Venue: the account's fill as a public trade (tape, candles, trade streams)."""
        raise NotImplementedError

    def _track_own_order(self, order: Order) -> bool:
        """Keep the book's own-order levels in step with ``order``; True if they changed.

        A limit order (or a triggered stop-limit) that rests adds its remaining quantity to its
        price level (an iceberg only its visible slice) in REST depth and the ``depthUpdate``
        stream. The engine still fills market orders against the synthetic levels only: an
        account never trades with itself here (Binance's default STP mode would expire the maker).
        """
        info = self.by_unified.get(order.request.symbol)
        book = self.books[info.id] if info is not None else None
        if book is None or not hasattr(book, "adjust_own"):  # the paper venue mirrors another book
            return False
        now: tuple[bool, Decimal, Decimal] | None = None
        if order.status.is_open and order.price is not None and order.status.value != "pending":
            if not order.request.type.is_conditional or order.triggered:
                qty = order.remaining
                if order.request.iceberg_qty is not None:
                    qty = min(qty, order.request.iceberg_qty)
                now = (order.request.side.value == "buy", order.price, qty)
        before = self._own_levels.pop(order.id, None)
        if now is not None:
            self._own_levels[order.id] = now
        if before == now:
            return False
        if before is not None:
            book.adjust_own(before[0], before[1], -before[2])
        if now is not None:
            book.adjust_own(now[0], now[1], now[2])
        return True

    def _expiry_meta(self, order_id: int) -> dict[str, Any]:
        """The ``expiryReason`` already recorded for an order (it may expire while being placed)."""
        why = self.order_meta.get(order_id, {}).get("expiryReason")
        return {"expiryReason": why} if why else {}

    def _record_expiry(self, order: Order, reason: str) -> None:
        """Keep Binance's ``expiryReason`` of an expired order for its order responses (rest-api.md)."""
        why = wire.expiry_reason(order, reason)
        if why is None:
            return
        meta = {**self.order_meta.get(order.id, {}), "expiryReason": why}
        self.order_meta[order.id] = meta
        if not self._replaying:
            self.store.save_order_meta(order.id, meta)

    def public_fill(self, fill: Fill) -> Fill:
        """``fill`` under its public trade id (the id ``/trades`` and the trade streams show)."""
        pid = self.public_ids.get(fill.trade_id)
        return fill if pid is None or pid == fill.trade_id else dataclasses.replace(fill, trade_id=pid)

    def _now(self) -> int:
        """The time of an order command, with the market caught up to it first.

        A real or fast clock runs between market ticks, so prints older than the command may not
        have reached the engine yet. Fed after the command, such a print could fill an order
        stamped after it (a fill before the order existed, trade times going backwards). A
        stepped clock is always caught up, so this changes nothing there.
        """
        now = self.clock.now_ms()
        self.advance(now)
        return now

    def __init__(self) -> None:
        self.order_meta: dict[int, dict[str, Any]] = self.store.load_order_meta()
        self.open_ids: dict[str, set[int]] = {i.symbol: set() for i in self.symbols.values()}
        self._pending: dict[str, dict[str, tuple[int, int, dict[str, Any]]]] = {}
        self._pending_seq = 0
        self._replaying = False
        self.account_update_ms: dict[str, int] = {}
        #: engine trade id -> public trade id (one id sequence per symbol with the market's prints)
        self.public_ids: dict[int, int] = self.store.load_public_ids()
        #: open resting orders shown in depth: order id -> (buy, price, shown quantity)
        self._own_levels: dict[int, tuple[bool, Decimal, Decimal]] = {}

    # ------------------------------------------------------------------ command log
    def run_command(
        self, kind: str, ts: int, payload: dict[str, Any], *, consume: bool = False, request: OrderRequest | None = None
    ) -> list[Event]:
        """Log (unless replaying), execute and publish one engine command.

        ``request`` is the already-built order request of a ``submit`` (saves decoding the
        logged JSON again).
        """
        if not self._replaying:
            if kind in _MARKET_KINDS:
                sym = payload["symbol"]
                if not self.open_ids.get(sym):
                    self._pending_seq += 1
                    self._pending.setdefault(sym, {})[kind] = (self._pending_seq, ts, payload)
                    return self._handle(self._execute(kind, ts, payload), consume=consume)
                self._pending.pop(sym, None)
            else:
                self._flush(payload.get("symbol"))
            self.store.append(kind, ts, payload)
        if request is not None:
            return self._handle(self._submit(payload, request, ts), consume=consume)
        return self._handle(self._execute(kind, ts, payload), consume=consume)

    def _submit(self, p: dict[str, Any], req: OrderRequest, ts: int) -> list[Event]:
        """Submit to the engine; the paper venue's engine also gets the decision book logged with it."""
        if "decision" in p:
            return self.engine.submit(p["account"], req, ts_ms=ts, decision=p["decision"])  # type: ignore[call-arg]
        return self.engine.submit(p["account"], req, ts_ms=ts)

    def _flush(self, symbol: str | None) -> None:
        syms = [symbol] if symbol else list(self._pending)
        items = []
        for s in syms:
            items += list(self._pending.pop(s, {}).items())
        for kind, (_, ts, payload) in sorted(items, key=lambda kv: kv[1][0]):
            self.store.append(kind, ts, payload)

    def _execute(self, kind: str, ts: int, p: dict[str, Any]) -> list[Event]:
        from kit.engine import BookSnapshot, Side, Trade

        e = self.engine
        if kind == "open_account":
            return e.open_account(p["account"], {a: Decimal(v) for a, v in p["balances"].items()}, ts_ms=ts)
        if kind == "deposit":
            return e.deposit(p["account"], p["asset"], Decimal(p["amount"]), ts_ms=ts)
        if kind == "withdraw":
            return e.withdraw(p["account"], p["asset"], Decimal(p["amount"]), ts_ms=ts)
        if kind == "submit":
            return self._submit(p, wire.request_from_json(p["req"]), ts)
        if kind == "cancel":
            return e.cancel(p["account"], order_id=p.get("order_id"), client_id=p.get("client_id"), ts_ms=ts)
        if kind in ("submit_list", "cancel_list"):
            from kit.localnet import orderlists

            return orderlists.execute(e, kind, ts, p)
        if kind == "cancel_all":
            return e.cancel_all(p["account"], p.get("symbol"), ts_ms=ts)
        if kind == "trade":
            side = Side.SELL if p["buyer_maker"] else Side.BUY
            return e.on_trade(p["symbol"], Trade(ts, Decimal(p["price"]), Decimal(p["qty"]), side))
        if kind == "book":
            book = self.books[self.by_unified[p["symbol"]].id]
            if self._replaying:
                book.load_state(p["state"], ts)
            bids, asks = book.levels_sorted()
            return e.on_book(p["symbol"], BookSnapshot(ts, tuple(bids), tuple(asks)))
        if kind == "advance":
            return e.advance(ts)
        raise ValueError(f"unknown command {kind!r}")

    def replay_commands(self) -> int:
        """Rebuild the engine from the stored command log; returns the number of commands."""
        self._replaying = True
        n = 0
        try:
            for _, kind, ts, payload in self.store.commands():
                self._handle(self._execute(kind, ts, payload), consume=False)
                n += 1
        finally:
            self._replaying = False
        self._check_balances()
        return n

    def _check_balances(self) -> None:
        stored = self.store.load_balances()
        for account, assets in stored.items():
            live = self.engine.balances(account) if account in self.engine.accounts() else {}
            for asset, (free, locked) in assets.items():
                f, lk = live.get(asset, (Decimal(0), Decimal(0)))
                if Decimal(free) != f or Decimal(locked) != lk:
                    log.warning(
                        "restored balance differs from the snapshot: %s %s %s/%s vs %s/%s",
                        account,
                        asset,
                        f,
                        lk,
                        free,
                        locked,
                    )

    def engine_trade(self, sid: str, p: Any) -> None:
        """Feed one trade print to the engine."""
        info = self.symbols[sid]
        self.run_command(
            "trade",
            p.ts_ms,
            {"symbol": info.symbol, "price": str(p.price), "qty": str(p.qty), "buyer_maker": p.buyer_maker},
        )

    def engine_book(self, sid: str, ts: int) -> None:
        """Feed the symbol's current synthetic book to the engine."""
        info = self.symbols[sid]
        self.run_command("book", ts, {"symbol": info.symbol, "state": self.books[sid].state()}, consume=True)

    def has_gtd(self) -> bool:
        """Binance spot has no GTD orders; kept for engines that expire by time."""
        return False

    # ------------------------------------------------------------------ events
    def _handle(self, events: list[Event], *, consume: bool) -> list[Event]:
        from kit.engine import EventKind, Liquidity

        touched: dict[str, set[str]] = {}
        booked: set[str] = set()
        for ev in events:
            order = ev.order
            if order is not None and order.id:
                if self._track_own_order(order):
                    booked.add(order.request.symbol)
                ids = self.open_ids.setdefault(order.request.symbol, set())
                (ids.add if order.status.is_open else ids.discard)(order.id)
                if ev.kind is EventKind.EXPIRED:
                    self._record_expiry(order, ev.reason)
                if not self._replaying:
                    self.store.save_order(wire.order_row(order))
            if ev.fill is not None:
                if not self._replaying:
                    self.store.save_fill(wire.fill_row(ev.account, ev.fill))
                    self.print_own_fill(ev.account, ev.fill, ev.ts_ms)
                if consume and ev.fill.liquidity is Liquidity.TAKER:
                    info = self.by_unified[ev.fill.symbol]
                    delta = self.books[info.id].consume(
                        bids_hit=ev.fill.side.value == "sell", price=ev.fill.price, qty=ev.fill.quantity, ts_ms=ev.ts_ms
                    )
                    if delta is not None and not self._replaying:
                        self._publish_depth(info.id, delta, ev.ts_ms)
            if ev.balance_changes:
                touched.setdefault(ev.account, set()).update(c.asset for c in ev.balance_changes)
                self.account_update_ms[ev.account] = ev.ts_ms
            if self._replaying or not self.hub.has_subscribers(("user", ev.account)):
                continue
            if ev.kind is EventKind.DEPOSIT:
                for c in ev.balance_changes:
                    self.publish_user(ev.account, wire.balance_update(c.asset, c.free, ev.ts_ms))
            elif ev.order_list is not None:
                from kit.localnet.orderlists import list_status_event

                self.publish_user(ev.account, list_status_event(self, ev.order_list, ev.ts_ms))
            elif order is not None and order.id and ev.kind not in (EventKind.REJECTED, EventKind.TRIGGERED):
                meta = self.order_meta.get(order.id, {})
                if ev.fill is not None:
                    ev = dataclasses.replace(ev, fill=self.public_fill(ev.fill))
                self.publish_user(ev.account, wire.execution_report(ev, meta, self.by_unified[order.request.symbol].id))
        for symbol in booked:
            sid = self.by_unified[symbol].id
            delta = self.books[sid].show()
            if delta is not None and not self._replaying:
                self._publish_depth(sid, delta, events[-1].ts_ms)
        if touched and not self._replaying:
            for account, assets in touched.items():
                bal = self.engine.balances(account)
                for asset in assets:
                    free, locked = bal.get(asset, (Decimal(0), Decimal(0)))
                    self.store.save_balance(account, asset, str(free), str(locked))
                if self.hub.has_subscribers(("user", account)):
                    ts = self.account_update_ms.get(account, 0)
                    self.publish_user(account, wire.account_position(bal, assets, ts))
        return events

    # ------------------------------------------------------------------ orders
    def place_order(
        self, account: str, req: OrderRequest, meta: dict[str, Any], *, test: bool = False
    ) -> tuple[Order | None, list[Fill]]:
        """Submit ``req``; returns the order's latest snapshot and its fills so far.

        Raises :class:`~kit.localnet.venue.VenueError` with Binance's code and wording if the
        engine rejects it. With ``test`` the order is checked on a copy of the engine (funds are
        not checked, like Binance's ``order/test``) and nothing changes.
        """
        from kit.engine import EventKind, RejectCode
        from kit.engine.filters import counts

        info = self.by_unified.get(req.symbol)
        if (
            info is not None
        ):  # MAX_NUM_ORDERS / MAX_NUM_ALGO_ORDERS / MAX_NUM_ICEBERG_ORDERS, as the Session checks them
            opens = self.engine.open_orders(account, req.symbol)
            refusal = counts(
                info.market,
                req,
                open_orders=len(opens),
                open_algo_orders=sum(1 for o in opens if o.request.type.is_conditional),
                open_iceberg_orders=sum(1 for o in opens if o.request.iceberg_qty is not None),
            )
            if refusal is not None:
                raise wire.reject_error(refusal)
        now = self.clock.now_ms() if test else self._now()
        if test:
            events = copy.deepcopy(self.engine).submit(account, req, ts_ms=now)
            if events and events[0].kind is EventKind.REJECTED and events[0].code is not RejectCode.INSUFFICIENT_FUNDS:
                raise wire.reject_error(events[0])
            return None, []
        payload: dict[str, Any] = {"account": account, "symbol": req.symbol, "req": wire.request_to_json(req)}
        decide = getattr(self.engine, "decision", None)  # the paper venue's engine (kit.engine.paperengine)
        if decide is not None:  # logged, so a replay meets the same decision-time book
            payload["decision"] = decide(req, now)
        events = self.run_command("submit", now, payload, consume=True, request=req)
        if not events or events[0].kind is EventKind.REJECTED:
            raise wire.reject_error(events[0]) if events else RuntimeError("engine returned no events")
        oid = events[0].order.id if events[0].order else 0
        meta = {**meta, "workingTime": now if not req.type.is_conditional else -1, **self._expiry_meta(oid)}
        self.order_meta[oid] = meta
        self.store.save_order_meta(oid, meta)
        self.store.commit()
        order = self.engine.get_order(account, order_id=oid)
        fills = [self.public_fill(e.fill) for e in events if e.fill is not None and e.fill.order_id == oid]
        return order, fills

    def cancel_order(
        self, account: str, sid: str, *, order_id: int | None, client_id: str | None, restriction: str | None = None
    ) -> Order:
        """Cancel one open order of ``account`` in ``sid``; -2011 if there is none.

        With both ids, the order found by ``order_id`` must carry ``client_id`` (Binance). A
        ``restriction`` (``ONLY_NEW`` / ``ONLY_PARTIALLY_FILLED``) the order's status does not
        meet leaves it alone: -2011 "Order was not canceled due to cancel restrictions."
        """
        from kit.engine import EventKind

        info = self.symbols[sid]
        now = self._now()  # an order the market filled meanwhile is no longer open
        existing = self.engine.get_order(account, order_id=order_id, client_id=client_id)
        if existing is None or existing.request.symbol != info.symbol or not existing.status.is_open:
            raise wire.error(-2011, "Unknown order sent.")
        if order_id is not None and client_id is not None and existing.client_id != client_id:
            raise wire.error(-2011, "Unknown order sent.")
        if restriction is not None:
            status = wire.order_body(existing, self.order_meta.get(existing.id, {}), sid)["status"]
            if status != restriction.removeprefix("ONLY_"):
                raise wire.error(-2011, "Order was not canceled due to cancel restrictions.")
        events = self.run_command("cancel", now, {"account": account, "symbol": info.symbol, "order_id": existing.id})
        self.store.commit()
        if not events or events[0].kind is EventKind.REJECTED:
            raise wire.error(-2011, "Unknown order sent.")
        got = self.engine.get_order(account, order_id=existing.id)
        assert got is not None
        return got

    def cancel_all(self, account: str, sid: str) -> list[Order]:
        """Cancel every open order of ``account`` in ``sid``; -2011 if there are none."""
        info = self.symbols[sid]
        now = self._now()
        if not self.engine.open_orders(account, info.symbol):
            raise wire.error(-2011, "Unknown order sent.")
        events = self.run_command("cancel_all", now, {"account": account, "symbol": info.symbol})
        self.store.commit()
        ids = [e.order.id for e in events if e.order is not None]
        return [o for o in (self.engine.get_order(account, order_id=i) for i in ids) if o is not None]

    def find_order(self, account: str, sid: str, *, order_id: int | None, client_id: str | None) -> Order:
        """One order of ``account`` in ``sid``; -2013 if it does not exist."""
        info = self.symbols[sid]
        order = self.engine.get_order(account, order_id=order_id, client_id=client_id)
        if order is None or order.request.symbol != info.symbol:
            raise wire.error(-2013, "Order does not exist.")
        return order

    def withdraw(
        self, account: str, asset: str, amount: Decimal, address: str, *, network: str = "", fee: Decimal | None = None
    ) -> str:
        """Move ``amount`` of ``asset`` out of ``account`` (``fee`` included); returns the withdrawal id."""
        from kit.engine import EventKind

        now = self._now()
        events = self.run_command("withdraw", now, {"account": account, "asset": asset, "amount": str(amount)})
        if not events or events[0].kind is EventKind.REJECTED:
            self.store.commit()
            # Binance's sapi code, with the -2010 wording that ccxt maps to InsufficientFunds
            raise wire.error(-4026, "Account has insufficient balance for requested action.")
        wid = secrets.token_hex(16)
        self.store.save_withdrawal(wid, account, asset, str(amount), address, now, network, str(fee or 0))
        self.store.commit()
        return wid
