"""The Session's orders: check, place, amend, cancel, and the resolution of unknown outcomes.

Every order runs the same checks before anything is sent (:meth:`Trading.check` runs them alone, as a
dry run, for an order ticket's preview): kill switch, stage, parsing, the market's filters, the
venue's features, degradation, the guard's caps, the clock. An order is journaled as an ``intent``
under a deterministic client id before it is sent, never resent automatically, and a lost
acknowledgement leaves an UNKNOWN order that :meth:`Trading.resolve` settles by that client id.

>>> s = kit.Session("localnet")                                          # doctest: +SKIP
>>> s.check("BTC/USDT", "buy", "0.001", price="50000").notional          # doctest: +SKIP
Decimal('50.000')
>>> o = s.buy("BTC/USDT", "0.001", price="50000")                        # doctest: +SKIP
>>> o = s.amend("BTC/USDT", order_id=o["id"], price="50100")             # doctest: +SKIP
>>> s.cancel("BTC/USDT", order_id=o["id"])                               # doctest: +SKIP
"""

from __future__ import annotations

import inspect
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Any

import pandas as pd

from kit.engine.filters import counts, funds, funds_needed, market_from_ccxt
from kit.engine.order import ORDER_KEYWORDS, OrderSpec, bad_order
from kit.engine.types import OrderType
from kit.errors import (
    AmendFailed,
    ConfigError,
    ExchangeUnavailable,
    KillSwitchEngaged,
    KitError,
    OrderRejected,
    OrderUnknown,
    StageError,
    TransientError,
)
from kit.session.amend import edit_call, intent_fields, precheck, replacement
from kit.session.base import now_ms
from kit.session.orders import client_order_id, refusal_error, to_ccxt, validate
from kit.session.reads import Reads
from kit.transport.clock import check_clock

__all__ = ["KIT_ID_PREFIX", "OrderCheck", "PreparedOrders", "Trading", "is_kit_order"]

#: Client order ids of orders the kit placed start with this (:func:`kit.session.orders.client_order_id`).
KIT_ID_PREFIX = "tk-"


def is_kit_order(order: dict[str, Any]) -> bool:
    """True if a ccxt order was placed by the kit (its client order id starts with ``tk-``).

    >>> is_kit_order({"clientOrderId": "tk-000001-29dafa12e8ad8e01"}), is_kit_order({"clientOrderId": "web_9"})
    (True, False)
    """
    cid = order.get("clientOrderId") or (order.get("info") or {}).get("clientOrderId") or ""
    return str(cid).startswith(KIT_ID_PREFIX)


_CONDITIONAL = frozenset(t.value for t in OrderType if t.is_conditional)
#: Binance's newClientOrderId alphabet and length (``^[\.A-Z\:/a-z0-9_-]{1,36}$``, trade endpoints).
_CLIENT_ID = re.compile(r"[.A-Z:/a-z0-9_-]{1,36}")


@dataclass(frozen=True)
class OrderCheck:
    """What :meth:`Trading.check` found: the order as it would be sent, and what it is worth.

    Attributes
    ----------
    intent
        The parsed order, an :class:`~kit.engine.order.OrderSpec` (exact Decimals, defaults filled in).
    reference_price
        Limit price, else trigger price, else the last traded price known.
    notional
        ``amount x reference_price`` in the quote currency, or ``None`` when no price is known.
    warnings
        Checks that could not run without a request (e.g. notional caps with no known price).
    """

    intent: OrderSpec
    reference_price: Decimal | None
    notional: Decimal | None
    warnings: tuple[str, ...] = field(default_factory=tuple)


@dataclass
class _BatchMemo:
    """What the checks of one :meth:`Trading.place_many` batch read once and add to as it goes.

    Inside the batch's journal transaction nothing else writes to the journal, so the account state
    and today's counts read for its first order, plus the intents the batch journaled since (``added``:
    symbol, order type, notional in the caps' currency), are what a fresh read would give.
    """

    owner: object
    state: Any = None
    day: dict[str, Any] | None = None
    added: list[tuple[str, str, Decimal]] = field(default_factory=list)
    #: What the batch's earlier orders need free (asset -> amount): the funds check of the next one
    #: subtracts it from the free balance, as the exchange will have locked it by then.
    committed: dict[str, Decimal] = field(default_factory=dict)


@dataclass(eq=False)
class PreparedOrders:
    """Orders :meth:`Trading.prepare_many` checked and journaled, for :meth:`Trading.send_prepared`.

    ``results``: one entry per order given, the refusal (a :class:`~kit.errors.KitError`) or ``{}``
    for an order to send; ``ready``: those orders' positions and what sending them takes.
    """

    owner: object
    results: list[dict[str, Any] | KitError]
    ready: list[tuple[int, tuple[str, str, tuple[Any, ...]]]]
    sent: bool = False

    def __repr__(self) -> str:
        refused = len(self.results) - len(self.ready)
        return f"PreparedOrders({len(self.ready)} to send, {refused} refused, sent={self.sent})"


class Trading(Reads):
    """Orders of the Session (see the module docstring); reads come from :class:`~kit.session.reads.Reads`."""

    def buy(self, symbol: str, amount: Any, *, price: Any = None, **kw: Any) -> dict[str, Any]:
        """Buy ``amount`` of ``symbol`` at market, or at limit ``price``; see :meth:`place`."""
        return self.place(symbol, "buy", amount, price=price, **kw)

    def sell(self, symbol: str, amount: Any, *, price: Any = None, **kw: Any) -> dict[str, Any]:
        """Sell ``amount`` of ``symbol`` at market, or at limit ``price``; see :meth:`place`."""
        return self.place(symbol, "sell", amount, price=price, **kw)

    def check(
        self, symbol: str, side: str, amount: Any, *, last_price: Any = None, read_balance: bool = True, **order: Any
    ) -> OrderCheck:
        """Run every check :meth:`place` runs before sending, and send no order, journal nothing.

        ``order`` takes :meth:`place`'s keywords. Raises the error ``place`` would raise before
        sending (a :class:`~kit.errors.GuardRefused`, :class:`~kit.errors.OrderRejected`,
        :class:`~kit.errors.FilterViolation`, :class:`~kit.errors.InsufficientFunds` ...).
        ``last_price`` is the reference for a market order and the fat-finger band (default: the
        last price this Session saw); with none known, notional caps cannot be checked and a
        warning says so (``place`` fetches a ticker).

        The free balance is checked as :meth:`place` checks it: with a read younger than
        :attr:`balance_max_age_s` (from :meth:`free_balances` or :meth:`balances`) if there is one,
        else ``check`` reads it once (one ``GET /api/v3/account``: a read, never an order). A buy
        with no known price cannot be funds-checked, so nothing is read for it. ``read_balance=False``
        sends nothing at all (the order ticket's preview, which refreshes the balance itself): the
        funds are then checked only against a recent read, if any.

        Examples
        --------
        >>> s.check("BTC/USDT", "buy", "0.001", price="60000.005")    # doctest: +SKIP
        Traceback (most recent call last):
        kit.errors.FilterViolation: price 60000.005 is not a multiple of the tick size ...
        >>> s.check("BTC/USDT", "sell", "100", price="60000")           # doctest: +SKIP
        Traceback (most recent call last):
        kit.errors.InsufficientFunds: Account has insufficient balance ...: selling 100 BTC needs 100, free 0.5 ...
        """
        last = None
        if last_price is not None:
            from kit.engine.order import parse_decimal

            last = parse_decimal(last_price, "last_price", symbol=symbol if isinstance(symbol, str) else None)
        if not isinstance(read_balance, bool):
            raise bad_order("read_balance must be True or False", symbol=symbol if isinstance(symbol, str) else None,
                            hint="Pass read_balance=False to send nothing at all (the preview's mode).")  # fmt: skip
        return self._checked(symbol, side, amount, order, dry=True, last_price=last, read_balance=read_balance)

    def _checked(
        self,
        symbol: str,
        side: str,
        amount: Any,
        order: dict[str, Any],
        *,
        dry: bool,
        last_price: Decimal | None,
        read_balance: bool = True,
    ) -> OrderCheck:
        """The checks before an order; ``dry``: no kill-switch cancel, no journal row, no order sent.

        A dry run reads at most the free balance, and only with ``read_balance`` (see :meth:`check`).
        """
        if dry:
            reason = self.kill_switch.engaged()
            if reason is not None:
                raise KillSwitchEngaged(f"kill switch engaged ({reason}); new orders are blocked", symbol=symbol)
        else:
            self._check_kill_switch()
        if not self.stage.allows_orders:
            raise StageError(f"orders are not allowed in the {self.stage.value} stage", symbol=symbol)
        it = OrderSpec.parse(symbol, side, amount, **order)
        last = last_price if last_price is not None else self._last_price.get(symbol)
        validate(it, self._ex.markets.get(symbol), self.features(), last_price=last, fat_finger_pct=self.fat_finger_pct)
        self._check_counts(it)
        caps = self.guard.caps
        needs_notional = caps.max_order_notional is not None or caps.max_daily_notional is not None
        ref = it.price or it.trigger_price or last
        warnings: list[str] = []
        if ref is None and needs_notional and not dry:
            ref = Decimal(str(self.ticker(symbol)["last"]))
        notional = it.base_amount * ref if ref is not None else None
        self._refuse_if_degraded(symbol)
        if notional is None and needs_notional:
            warnings.append("no recent price: the notional caps are checked when the order is placed")
        else:
            self._guard_order(it, notional or Decimal(0), record=not dry)
        self._check_clock(remeasure=not dry)
        if notional is None:
            warnings.append("no recent price: notional and fee are unknown until the price is fetched")
        # Last, so a cap refusal (the stage's rule) wins over a funds refusal of the same order.
        self._check_funds(it, ref, dry=dry, read_balance=read_balance, warnings=warnings)
        return OrderCheck(intent=it, reference_price=ref, notional=notional, warnings=tuple(warnings))

    #: A limit price more than this many percent through the last price is refused (``None``: off).
    fat_finger_pct: Decimal | None = Decimal(10)
    #: How long a free balance read is used by the funds check before it is read again, in seconds.
    balance_max_age_s: float = 10.0
    #: The last free balance read (monotonic time, asset -> amount), set per instance.
    _free_cache: tuple[float, dict[str, Decimal]] | None = None

    def _check_counts(self, it: OrderSpec) -> None:
        """MAX_NUM_ORDERS / MAX_NUM_ALGO_ORDERS against the kit's own open orders on the symbol (journal).

        Orders placed outside the kit are the exchange's to count (it refuses with the same filter).
        """
        market = self._ex.markets.get(it.symbol)
        if market is None:
            return
        memo = self._batch_memo()
        if memo is not None:  # inside place_many: the live orders read once per batch, plus the batch's own intents
            if memo.state is None:
                memo.state = self._check_ledger().live()
            live = memo.state
        else:
            live = self._check_ledger().live()
        mine = [o for o in live if o.symbol == it.symbol]
        algo = sum(1 for o in mine if o.type in _CONDITIONAL)
        open_n = len(mine)
        if memo is not None:
            added = [kind for sym, kind, _ in memo.added if sym == it.symbol]
            open_n += len(added)
            algo += sum(1 for kind in added if kind in _CONDITIONAL)
        refusal = counts(market_from_ccxt(market), it.to_request(), open_orders=open_n, open_algo_orders=algo)
        if refusal is not None:
            raise refusal_error(refusal, it.symbol)

    def free_balances(self, *, max_age_s: float | None = None) -> dict[str, Decimal]:
        """Free balance per asset, read from the exchange unless a read younger than ``max_age_s`` is known.

        The funds check before an order uses it: :meth:`place` and :meth:`check` read it (at most
        every :attr:`balance_max_age_s` seconds); the ticket's preview uses the last read only if it
        is that recent (the ticket refreshes it as you type), and reads nothing.

        >>> s.free_balances()["BTC"]                                   # doctest: +SKIP
        Decimal('0.5')
        """
        cached = self._free_cache
        if cached is not None and max_age_s is not None and time.monotonic() - cached[0] <= max_age_s:
            return dict(cached[1])
        ex = self._ex
        bal = self._call("fetch_balance", "GET", "/api/v3/account", lambda: ex.fetch_balance())
        free = {str(k): Decimal(str(v)) for k, v in (bal.get("free") or {}).items() if v is not None}
        self._free_cache = (time.monotonic(), free)
        return dict(free)

    def balances(self) -> pd.DataFrame:
        """Balances (free, used, total) from the exchange; the funds check of :meth:`check` reuses this read.

        >>> s.balances()                                                 # doctest: +SKIP
        >>> s.check("BTC/USDT", "sell", "100", price="60000")              # doctest: +SKIP
        Traceback (most recent call last):
        kit.errors.InsufficientFunds: Account has insufficient balance ...: selling 100 BTC needs 100, free 0.5 ...
        """
        frame = super().balances()
        # zero balances are not in the frame: an asset it does not list has nothing free
        self._free_cache = (time.monotonic(), {str(a): Decimal(str(v or 0)) for a, v in frame["free"].items()})
        return frame

    def _known_free(self) -> dict[str, Decimal] | None:
        cached = self._free_cache
        if cached is None or time.monotonic() - cached[0] > self.balance_max_age_s:
            return None
        return dict(cached[1])

    def _forget_balances(self) -> None:
        self._free_cache = None

    def _check_funds(
        self,
        it: OrderSpec,
        ref: Decimal | None,
        *,
        dry: bool,
        read_balance: bool = True,
        warnings: list[str] | None = None,
    ) -> None:
        """Refuse an order the free balance cannot cover (a sell of 100 BTC while holding 0.5).

        A free balance read in the last :attr:`balance_max_age_s` seconds is used as it is; without
        one, it is read once (an order about to be sent, or :meth:`check`), except in a dry run
        without ``read_balance`` (the ticket's preview), which leaves the funds to :meth:`place`.
        A buy with no known price cannot be checked, so nothing is read for it. A transient failure
        of the read leaves the funds to the exchange, with a warning.
        """
        free = self._known_free()
        checkable = it.side.value == "sell" or (it.price or it.trigger_price or ref) is not None
        if free is None and (read_balance or not dry) and checkable:
            try:
                free = self.free_balances(max_age_s=self.balance_max_age_s)
            except TransientError as exc:  # the exchange checks the funds too; the order path decides
                note = f"free balance unreadable ({type(exc).__name__}); funds left to the exchange"
                self.warnings.append(note)
                if warnings is not None:
                    warnings.append(note)
                free = None
        if free is None:
            return None
        market = self._ex.markets.get(it.symbol) or {}
        base, quote = str(market.get("base") or ""), str(market.get("quote") or "")
        memo = None if dry else self._batch_memo()
        if memo is not None and memo.committed:  # inside place_many: the batch's earlier orders come first
            free = {a: free.get(a, Decimal(0)) - memo.committed.get(a, Decimal(0)) for a in {*free, *memo.committed}}
        refusal = funds(
            it.to_request(),
            free_base=free.get(base, Decimal(0)),
            free_quote=free.get(quote, Decimal(0)),
            ref_price=ref,
        )
        if refusal is not None:
            raise refusal_error(refusal, it.symbol)

    def _refuse_if_degraded(self, symbol: str) -> None:
        if self.degraded:
            raise ExchangeUnavailable(
                f"session degraded: {self.degraded}",
                symbol=symbol,
                hint="No request was sent. The session resumes by itself when a read succeeds again (e.g. "
                "session.ticker(...)); check session.status().",
            )

    def _guard_order(
        self, it: OrderSpec, notional: Decimal, *, record: bool, replaces: Decimal = Decimal(0), replaced: int = 0
    ) -> None:
        """The guard's verdict on ``it``; ``replaces``/``replaced``: notional and orders an amend takes away.

        Money is compared in the caps' reference currency, converted at the exchange's own price (read
        fresh when ``record``, i.e. an order about to be sent); a conversion that is missing refuses.
        """
        caps = self.guard.caps
        money_caps = (caps.max_order_notional, caps.max_daily_notional, caps.max_daily_loss)
        rate = self._reference_rate(it.symbol, fetch=record) if any(c is not None for c in money_caps) else None
        self._rates[it.symbol] = rate
        memo = self._batch_memo() if record else None
        if memo is None:
            day = self._today(fetch=record)
        else:  # inside place_many: today's counts read once per batch, plus the batch's own intents
            if memo.day is None:
                memo.day = self._today(fetch=True)
            day = dict(memo.day)
            day["open_orders"] = int(day["open_orders"]) + len(memo.added)
            day["notional"] = Decimal(day["notional"]) + sum((ref for _, _, ref in memo.added), Decimal(0))
        self.guard.check_order(
            symbol=it.symbol,
            side=it.side.value,
            amount=it.base_amount,
            price=it.price,
            notional=notional,
            open_orders=max(0, int(day["open_orders"]) - replaced),
            daily_notional=max(Decimal(0), Decimal(day["notional"]) - replaces * (rate or 0)),
            daily_pnl=day["pnl"],
            now_ms=now_ms(),
            record=record,
            rate=rate,
        )

    def place(
        self,
        symbol: str,
        side: str,
        amount: Any,
        *,
        price: Any = None,
        type: str | None = None,
        trigger_price: Any = None,
        trailing_bps: int | None = None,
        time_in_force: str = "GTC",
        post_only: bool = False,
        reduce_only: bool = False,
        iceberg_amount: Any = None,
        **unknown: Any,
    ) -> dict[str, Any]:
        """Place one order, after every check, journaling it before it is sent.

        Returns ccxt's unified order. Raises a :class:`~kit.errors.GuardRefused` or
        :class:`~kit.errors.OrderRejected` before any request for bad input or a guard rule, and
        :class:`~kit.errors.OrderUnknown` if the outcome could not be established (the order is
        then journaled as UNKNOWN; resolve it with :meth:`resolve`, never by resending).

        Examples
        --------
        >>> o = s.place("BTC/USDT", "buy", "0.001", price="50000", post_only=True)   # doctest: +SKIP
        >>> o["status"], o["clientOrderId"][:3]                                     # doctest: +SKIP
        ('open', 'tk-')
        """
        if unknown:  # a misspelt keyword, refused like the description refuses it (never a raw TypeError)
            raise bad_order(f"unknown order keyword(s) {sorted(unknown)}", symbol=str(symbol),
                            hint=f"Use place()'s keywords: {', '.join(sorted(ORDER_KEYWORDS))}.")  # fmt: skip
        given = locals()
        order = {name: given[name] for name in ORDER_KEYWORDS}  # the keywords above are OrderSpec's fields
        return self._send_order(*self._prepare_order(symbol, side, amount, order, client_id=None))

    def _prepare_order(
        self, symbol: str, side: str, amount: Any, order: dict[str, Any], *, client_id: str | None
    ) -> tuple[str, str, tuple[Any, ...]]:
        """Every check, then the intent journaled under its client id: what is left is to send it."""
        checked = self._checked(symbol, side, amount, order, dry=False, last_price=None)
        it = checked.intent
        cid = self._next_client_id() if client_id is None else self._fresh_client_id(client_id, symbol)
        args = to_ccxt(it, cid)
        notional = checked.notional or Decimal(0)
        self._journal_intent(it, cid, notional, args[4])
        memo = self._batch_memo()
        if memo is not None:
            rate = self._rates.get(it.symbol)
            memo.added.append((it.symbol, it.kind.value, notional * rate if rate is not None else notional))
            needed = funds_needed(it.to_request(), checked.reference_price)
            if needed is not None:
                memo.committed[needed[0]] = memo.committed.get(needed[0], Decimal(0)) + needed[1]
        return symbol, cid, args

    #: The batch :meth:`place_many` is preparing on this thread (``None`` outside one).
    _batches: threading.local = threading.local()

    def _batch_memo(self) -> _BatchMemo | None:
        memo: _BatchMemo | None = getattr(self._batches, "memo", None)
        return memo if memo is not None and memo.owner is self else None

    def _fresh_client_id(self, cid: Any, symbol: str) -> str:
        """A caller's client id, refused before any request unless it is the kit's and never journaled."""
        if not isinstance(cid, str) or not _CLIENT_ID.fullmatch(cid) or not cid.startswith(KIT_ID_PREFIX):
            raise bad_order(
                f"client_id {str(cid)[:40]!r} is not a kit client order id",
                symbol=symbol,
                hint=f"Use at most 36 characters of Binance's alphabet starting with {KIT_ID_PREFIX!r}.",
            )
        if self.journal.events(kinds=["intent"], venue=self.venue, client_id=cid):
            raise OrderRejected(
                f"client_id {cid} was already sent from this journal: never sent twice",
                symbol=symbol,
                order_id=cid,
                hint="No request was sent. Resolve it with session.resolve(client_id) instead.",
            )
        return cid

    def _send_order(self, symbol: str, cid: str, args: tuple[Any, ...]) -> dict[str, Any]:
        """Send a prepared order and journal its outcome (an unknown outcome is resolved, never resent)."""
        ex = self._ex
        call = self._create_call(symbol, args)
        try:
            result: dict[str, Any] | KitError = self._call(
                "create_order", "POST", "/api/v3/order", lambda: call(ex), read=False, symbol=symbol
            )
        except KitError as exc:
            result = exc
        return self._order_outcome(symbol, cid, result)

    @staticmethod
    def _create_call(symbol: str, args: tuple[Any, ...]) -> Callable[[Any], Any]:
        kind, side_, amt, px, params = args
        return lambda ex: ex.create_order(symbol, kind, side_, amt, px, params)

    def _order_outcome(self, symbol: str, cid: str, result: dict[str, Any] | KitError) -> dict[str, Any]:
        """Journal what became of a sent order: its ack, or why it failed (raised); unknown: resolved by id."""
        if isinstance(result, OrderUnknown):  # lost in transit: it may or may not be on the exchange
            self._j("unknown", symbol=symbol, client_id=cid, reason=f"{result.__class__.__name__}: {result}"[:300])
            return self.resolve(cid, symbol=symbol, error=result)
        if isinstance(result, KitError):
            self._j(
                "resolved",
                symbol=symbol,
                client_id=cid,
                status="rejected",
                how=result.__class__.__name__,
                message=str(result)[:300],
            )
            raise result
        self._ack(result, cid, symbol)  # the free balance read is kept unless the ack journals a fill (_record_trade)
        return result

    def place_many(self, orders: Sequence[Mapping[str, Any]]) -> list[dict[str, Any] | KitError]:
        """Place several orders at once: every check and intent in one journal transaction, then all sent together.

        Each mapping holds :meth:`place`'s arguments (``symbol``, ``side``, ``amount`` and its
        keywords) and may give ``client_id``: a ``tk-`` id of the caller's (a forward run derives it
        from the decision, so a restart can never send it twice; one already journaled is refused).
        The orders are checked one after the other exactly as :meth:`place` checks them (the guard's
        daily counts include the orders before it in the batch), their guard verdicts and intents are
        written in one durable transaction (:meth:`kit.journal.Journal.batch`: one fsync, not two per
        order), and only then are they sent, concurrently. Returns one entry per order, in order: the
        ccxt order, or the :class:`~kit.errors.KitError` that refused it (not raised).

        >>> s.place_many([{"symbol": "BTC/USDT", "side": "buy", "amount": "0.001"},
        ...               {"symbol": "ETH/USDT", "side": "buy", "amount": "0.01", "price": "2000"}])  # doctest: +SKIP
        """
        with self.journal.batch():
            prepared = self.prepare_many(orders)
        return self.send_prepared(prepared)

    def prepare_many(self, orders: Sequence[Mapping[str, Any]]) -> PreparedOrders:
        """The first half of :meth:`place_many`: every check and intent, in one journal transaction; nothing sent.

        Called inside a :meth:`kit.journal.Journal.batch` block, the intents join that block's
        transaction (a forward run journals a close's decisions and their orders' intents together:
        one fsync before the orders leave, not two); otherwise they are durable when this returns.
        Send them with :meth:`send_prepared` once the block has ended: it refuses to send while
        the intents are not durable yet, and it sends a prepared batch once only.

        >>> with s.journal.batch():                                              # doctest: +SKIP
        ...     s.journal.append("note", venue=s.venue, text="why these orders")
        ...     p = s.prepare_many([{"symbol": "BTC/USDT", "side": "buy", "amount": "0.001"}])
        >>> s.send_prepared(p)                                                   # doctest: +SKIP
        """
        out: list[dict[str, Any] | KitError] = []
        ready: list[tuple[int, tuple[str, str, tuple[Any, ...]]]] = []
        with self.journal.batch(), self._batch_scope():
            for i, spec in enumerate(orders):
                spec = dict(spec)
                symbol = spec.pop("symbol", None)
                try:
                    side, amount, cid = spec.pop("side", None), spec.pop("amount", None), spec.pop("client_id", None)
                    if unknown := set(spec) - ORDER_KEYWORDS:
                        raise bad_order(
                            f"unknown order keyword(s) {sorted(unknown)}",
                            symbol=str(symbol),
                            hint=f"Use place()'s keywords: {', '.join(sorted(ORDER_KEYWORDS))}.",
                        )
                    order = {**_PLACE_DEFAULTS, **spec}
                    ready.append((i, self._prepare_order(symbol, side, amount, order, client_id=cid)))
                    out.append({})
                except KitError as exc:
                    out.append(exc)
        return PreparedOrders(owner=self, results=out, ready=ready)

    def send_prepared(self, prepared: PreparedOrders) -> list[dict[str, Any] | KitError]:
        """Send what :meth:`prepare_many` checked and journaled; one entry per order, as :meth:`place_many`.

        Refused, with nothing sent, while this thread's journal transaction is still open (the
        intents would not survive a crash: the orders could be sent again after a restart), for a
        batch prepared by another Session, and for a batch sent before.
        """
        if prepared.owner is not self:
            raise ConfigError("these orders were prepared by another Session",
                              hint="No request was sent. Send them with the Session that prepared them.")  # fmt: skip
        if self.journal.in_batch():
            raise ConfigError(
                "the orders' intents are not durable yet (the journal batch is still open)",
                hint="No request was sent. Call send_prepared() after the `with journal.batch():` block.",
            )
        if prepared.sent:
            raise OrderRejected("this batch of orders was sent already: never sent twice",
                                hint="No request was sent. Read its outcome from the journal.")  # fmt: skip
        prepared.sent = True
        out = list(prepared.results)
        for i, res in zip([i for i, _ in prepared.ready], self._send_many([p for _, p in prepared.ready]), strict=True):
            out[i] = res
        return out

    def _send_many(self, prepared: list[tuple[str, str, tuple[Any, ...]]]) -> list[dict[str, Any] | KitError]:
        """Send prepared orders together from the Session's loop, then journal their outcomes.

        One hand-off of every request to the loop (:meth:`~kit.session.base.SessionBase._request_many`):
        ccxt builds and signs each order and it leaves while the next one is built. A pool of
        threads, one per order, was slower (``benchmarks/bench_place_many.py``): the threads took
        turns on the one interpreter to reach the loop. The acks are journaled in one transaction;
        an order whose outcome is unknown is resolved afterwards, by its client id, never resent.
        """
        if not prepared:
            return []
        ex = self._ex
        calls = [(partial(self._create_call(sym, args), ex), None, sym) for sym, _, args in prepared]
        sent = self._request_many("create_order", "POST", "/api/v3/order", calls, write=True)
        out: list[dict[str, Any] | KitError] = [{} for _ in prepared]
        later: list[int] = []
        with self.journal.batch():  # the acks (and the refusals) of the batch: one durable transaction
            for k, ((symbol, cid, _), result) in enumerate(zip(prepared, sent, strict=True)):
                if isinstance(result, OrderUnknown):
                    later.append(k)  # resolving reads the exchange: not while holding the journal
                    continue
                try:
                    out[k] = self._order_outcome(symbol, cid, result)
                except KitError as exc:
                    out[k] = exc
        for k in later:
            symbol, cid, _ = prepared[k]
            try:
                out[k] = self._order_outcome(symbol, cid, sent[k])
            except KitError as exc:
                out[k] = exc
        return out

    @contextmanager
    def _batch_scope(self) -> Iterator[None]:
        self._batches.memo = _BatchMemo(owner=self)
        try:
            yield
        finally:
            self._batches.memo = None

    def _journal_intent(self, it: OrderSpec, cid: str, notional: Decimal, params: dict[str, Any], **extra: Any) -> None:
        self._j(
            "intent",
            symbol=it.symbol,
            client_id=cid,
            side=it.side.value,
            type=it.kind.value,
            amount=it.amount,
            price=it.price,
            trigger_price=it.trigger_price,
            trailing_bps=it.trailing_bps,
            time_in_force=it.time_in_force.value,
            post_only=it.post_only,
            iceberg_amount=it.iceberg_amount,
            notional=notional,
            ref_notional=notional * rate if (rate := self._rates.get(it.symbol)) is not None else None,
            ref_currency=self.guard.caps.currency,
            params=dict(params),
            **extra,
        )

    def amend(
        self,
        symbol: str,
        *,
        order_id: str | None = None,
        client_id: str | None = None,
        amount: Any = None,
        price: Any = None,
        trigger_price: Any = None,
    ) -> dict[str, Any]:
        """Change a working order's price, trigger price or total amount (the exchange's cancel-replace).

        ``amount`` is the order's new **total** size, as given to :meth:`place`: what already filled
        stays filled, and the replacement works ``amount - filled``. The replacement is a new order
        with a new client id, checked like any order (filters, caps: only the added notional counts
        toward the daily cap) and journaled before it is sent (its ``intent`` names the order it
        ``replaces``; the old order's ``cancel_intent`` names what it was ``replaced_by``).

        An amend never leaves more working than you asked for: an unfilled order is canceled only if
        it is still unfilled when the request arrives (else the amend is refused as a whole,
        :class:`~kit.errors.AmendFailed` with ``canceled=False``: amend again); for a partly filled
        one, a fill that slips in between the kit's read and the exchange's cancel is taken off the
        replacement right after (amended down, or canceled), with a warning.

        Returns ccxt's unified order of the replacement. Raises before any request for bad input, an
        order the kit did not place, or one that is no longer open; :class:`~kit.errors.AmendFailed`
        when the exchange refused part of it (``canceled``/``placed`` say which part);
        :class:`~kit.errors.OrderUnknown` when the outcome could not be established (never resent).

        Examples
        --------
        >>> o = s.buy("BTC/USDT", "0.010", price="50000")                      # doctest: +SKIP
        >>> o = s.amend("BTC/USDT", order_id=o["id"], price="50100")           # doctest: +SKIP
        >>> o = s.amend("BTC/USDT", client_id=o["clientOrderId"], amount="0.004")  # doctest: +SKIP
        """
        self._check_kill_switch()
        if not self.stage.allows_orders:
            raise StageError(f"orders are not allowed in the {self.stage.value} stage", symbol=symbol)
        if order_id is None and client_id is None:
            raise OrderRejected("give order_id or client_id of the order to amend", symbol=symbol,
                                hint="No request was sent. See session.open_orders() for the ids.")  # fmt: skip
        old_cid = client_id or self._client_id_of(str(order_id))
        intents = self.journal.events(kinds=["intent"], venue=self.venue, client_id=old_cid) if old_cid else []
        mine = [e for e in intents if e.account == self.account and e.symbol == symbol]
        if not mine:
            raise OrderRejected(
                f"order {client_id or order_id} in {symbol} was not placed by this kit's account {self.account!r}",
                symbol=symbol,
                hint="No request was sent. Only orders placed through a Session can be amended; cancel this one "
                "and place a new order instead.",
            )
        old = intent_fields(mine[-1].payload)
        precheck(symbol, old, amount=amount, price=price, trigger_price=trigger_price)  # before any request
        live = self.order(symbol, client_id=old_cid)  # the exchange's view now: status and what filled
        if live.get("status") != "open":
            raise OrderRejected(
                f"order {old_cid} is {live.get('status')} on the exchange; there is nothing to amend",
                symbol=symbol,
                hint="No amend was sent (the order was only read). Place a new order if you still want one.",
            )
        try:  # every refusal from here on comes after the read: it says that no *amend* was sent
            filled = Decimal(str(live.get("filled") or 0))
            it = replacement(symbol, old, filled=filled, amount=amount, price=price, trigger_price=trigger_price)
            last = self._last_price.get(symbol)
            validate(it, self._ex.markets.get(symbol), self.features(), last_price=last,
                     fat_finger_pct=self.fat_finger_pct)  # fmt: skip
            self._refuse_if_degraded(symbol)
            ref = it.price or it.trigger_price or last
            old_ref = old["price"] or old["trigger_price"] or last
            notional = it.base_amount * ref if ref is not None else Decimal(0)
            old_rest = (
                (Decimal(str(old["amount"])) - filled) * Decimal(str(old_ref)) if old_ref is not None else Decimal(0)
            )
            self._guard_order(it, notional, record=True, replaces=old_rest, replaced=1)
            self._check_clock(remeasure=True)
        except KitError as exc:
            exc.hint = exc.hint.replace("No request was sent.", "No amend was sent (the order was only read).")
            raise
        return self._send_amend(symbol, it, old_cid, str(live["id"]), filled, notional, old_rest)

    def _send_amend(
        self, symbol: str, it: OrderSpec, old_cid: str, old_id: str, filled: Decimal, notional: Decimal,
        old_rest: Decimal,
    ) -> dict[str, Any]:  # fmt: skip
        cid = self._next_client_id()
        restriction = "ONLY_NEW" if filled == 0 else "ONLY_PARTIALLY_FILLED"
        kind, side_, amt, px, params = edit_call(it, cid, cancel_restriction=restriction)
        # Daily notional counts what the amend adds; the old order's intent already counted the rest.
        added = max(Decimal(0), notional - old_rest)
        self._journal_intent(it, cid, added, params, replaces=old_cid, order_notional=notional)
        self._j("cancel_intent", symbol=symbol, client_id=old_cid, order_id=old_id, reason="amend", replaced_by=cid)
        ex = self._ex
        try:
            result = self._call(
                "edit_order",
                "POST",
                "/api/v3/order/cancelReplace",
                lambda: ex.edit_order(old_id, symbol, kind, side_, amt, px, params),
                read=False,
                symbol=symbol,
            )
        except OrderUnknown as exc:  # lost in transit: either both happened or neither
            self._j("unknown", symbol=symbol, client_id=cid, reason=f"{exc.__class__.__name__}: {exc}"[:300])
            return self._settle_amend(symbol, cid, old_cid, old_id, exc)
        except KitError as exc:
            self._j("resolved", symbol=symbol, client_id=cid, status="rejected", how=exc.__class__.__name__,
                    message=str(exc)[:300])  # fmt: skip
            if isinstance(exc, AmendFailed) and exc.canceled:
                self._j("cancel_ack", symbol=symbol, client_id=old_cid, order_id=old_id, status="canceled",
                        reason="amend: old order canceled, replacement refused")  # fmt: skip
            raise
        self._forget_balances()
        self._j("cancel_ack", symbol=symbol, client_id=old_cid, order_id=old_id, status="canceled", replaced_by=cid)
        self._ack(result, cid, symbol)
        return self._trim(symbol, result, cid, it, old_cid, filled) if filled > 0 else result

    def _trim(
        self, symbol: str, result: dict[str, Any], cid: str, it: OrderSpec, old_cid: str, filled: Decimal
    ) -> dict[str, Any]:
        """Take fills that reached the old order after the kit read it off the replacement."""
        final = self.order(symbol, client_id=old_cid)
        extra = Decimal(str(final.get("filled") or 0)) - filled
        if extra <= 0:
            return result
        self._j("order", symbol=symbol, client_id=old_cid, order_id=str(final.get("id")),
                status=str(final.get("status")), filled=final.get("filled"), how="read after an amend")  # fmt: skip
        self.warnings.append(f"{extra} of {old_cid} filled while it was being amended; {cid} reduced by as much")
        try:
            return self.amend(symbol, client_id=cid, amount=it.base_amount - extra)
        except OrderRejected:  # the replacement filled past that already, or is gone: stop what is left
            try:
                return self.cancel(symbol, client_id=cid)
            except KitError as exc:
                self.warnings.append(f"could not cancel {cid} after an amend race: {exc}")
                return result

    def _settle_amend(self, symbol: str, cid: str, old_cid: str, old_id: str, error: OrderUnknown) -> dict[str, Any]:
        """After a lost cancel-replace reply: find the replacement by client id, and the old order's state."""
        try:
            result = self.resolve(cid, symbol=symbol, error=error)
        except OrderUnknown as exc:
            status = self._refresh(symbol, old_cid)
            if status in ("canceled", "expired"):
                raise AmendFailed(
                    f"the amend of {old_cid} canceled it but its replacement {cid} was not placed",
                    symbol=symbol,
                    order_id=old_cid,
                    canceled=True,
                    placed=False,
                ) from exc
            raise
        self._j("cancel_ack", symbol=symbol, client_id=old_cid, order_id=old_id, status="canceled", replaced_by=cid)
        return result

    def _refresh(self, symbol: str, client_id: str) -> str | None:
        """Read one order from the exchange and journal what it says (``order`` event); ``None`` if unreadable."""
        try:
            o = self.order(symbol, client_id=client_id)
        except KitError as exc:
            self.warnings.append(f"could not read order {client_id}: {exc}")
            return None
        status = str(o.get("status"))
        self._j("order", symbol=symbol, client_id=client_id, order_id=str(o.get("id")), status=status,
                filled=o.get("filled"), how="read after an amend")  # fmt: skip
        return status

    def _look_up_within_window(
        self, client_id: str, *, symbol: str, error: BaseException | None, wait: bool, noun: str, key: str,
        window: str, lookup: Callable[[], dict[str, Any]],
    ) -> dict[str, Any]:  # fmt: skip
        """``lookup()`` until it finds the ``noun`` (an order, an order list) or its request can no longer arrive.

        The one rule of :meth:`resolve` and ``resolve_list``: never resend; "not found" is final only
        after :meth:`order_window_ms` from the intent (then journaled as not placed); until then the
        lookup is repeated (``wait``) or :class:`~kit.errors.OrderUnknown` says when to ask again.
        """
        intents = self.journal.events(kinds=["intent"], venue=self.venue, client_id=client_id)
        deadline = (intents[-1].ts_ms if intents else now_ms()) + self.order_window_ms()
        while True:
            try:
                return lookup()
            except OrderUnknown as exc:
                left = deadline - now_ms()
                if left <= 0:
                    self._j("resolved", symbol=symbol, client_id=client_id, status="not_placed",
                            how=f"lookup by {key}, after {window}")  # fmt: skip
                    raise OrderUnknown(
                        f"{noun} {client_id} was not placed (the exchange has no such {noun}, and its request "
                        "can no longer arrive)",
                        symbol=symbol,
                        order_id=client_id,
                        hint="Nothing is working on the exchange; you may place it again.",
                    ) from error
                if not wait:
                    raise OrderUnknown(
                        f"{noun} {client_id} is not on the exchange yet, but its request may still arrive for "
                        f"{left / 1000:.1f} s",
                        symbol=symbol,
                        order_id=client_id,
                        hint=f"Do not place it again yet: resolve it again in {left / 1000:.0f} s.",
                    ) from exc
                time.sleep(min(1.0, left / 1000))
            except (ExchangeUnavailable, OrderRejected) as exc:
                raise OrderUnknown(
                    f"the outcome of {noun} {client_id} is unknown and could not be looked up",
                    symbol=symbol,
                    order_id=client_id,
                ) from exc

    def resolve(
        self, client_id: str, *, symbol: str, error: BaseException | None = None, wait: bool = True
    ) -> dict[str, Any]:
        """Establish what happened to an order whose outcome is unknown, by its client order id.

        Never resends. If the exchange has the order, it is journaled as acknowledged and returned.
        "Not found" is final only once the order can no longer arrive (its signed request expired:
        :meth:`order_window_ms` after its intent): until then the lookup is repeated (``wait``), or
        :class:`~kit.errors.OrderUnknown` says when to ask again (``wait=False``). Once final, it is
        journaled as not placed and :class:`~kit.errors.OrderUnknown` says it is safe to place again.
        """
        order = self._look_up_within_window(
            client_id, symbol=symbol, error=error, wait=wait, noun="order", key="client id",
            window="the order's window",
            lookup=lambda: self.order(symbol, client_id=client_id),
        )  # fmt: skip
        self._j(
            "resolved",
            symbol=symbol,
            client_id=client_id,
            order_id=str(order.get("id")),
            status=str(order.get("status")),
            how="lookup by client id",
        )
        self._ack(order, client_id, symbol)
        return order

    def _ack(self, order: dict[str, Any], cid: str, symbol: str) -> None:
        if order.get("id") is not None:
            self._client_ids[str(order["id"])] = cid
        self._j(
            "ack",
            symbol=symbol,
            client_id=cid,
            order_id=str(order.get("id")),
            status=str(order.get("status")),
            filled=order.get("filled"),
            average=order.get("average"),
        )
        for t in order.get("trades") or []:
            full = {
                **t,
                "order": t.get("order") or order.get("id"),
                "symbol": symbol,
                "side": t.get("side") or order.get("side"),
                "timestamp": t.get("timestamp") or order.get("timestamp"),
            }
            self._record_trade(full, client_id=cid)

    def cancel(self, symbol: str, *, order_id: str | None = None, client_id: str | None = None) -> dict[str, Any]:
        """Cancel one order by exchange id or client order id (no automatic resend).

        Refused before any request in ``read_only``; caps and the kill switch never block a cancel.
        The cancel is journaled under the order's own client id (Binance answers a cancel with a new
        ``clientOrderId``, the cancel request's, and the order's in ``origClientOrderId``), so the
        journal's open-order count follows the exchange.
        """
        self.guard.check_cancel(symbol=symbol, now_ms=now_ms())
        if order_id is None and client_id is None:
            raise OrderRejected("give order_id or client_id of the order to cancel", symbol=symbol,
                                hint="No request was sent. See session.open_orders() for the ids; "
                                "session.cancel_all(symbol) cancels every open order.")  # fmt: skip
        self._check_clock(remeasure=True)
        ex = self._ex
        params = {"clientOrderId": client_id} if client_id and not order_id else {}
        known = client_id or (self._client_id_of(str(order_id)) if order_id else "")
        self._j("cancel_intent", symbol=symbol, client_id=known, order_id=order_id or "")
        result = self._call(
            "cancel_order",
            "DELETE",
            "/api/v3/order",
            lambda: ex.cancel_order(order_id, symbol, params),
            read=False,
            symbol=symbol,
        )
        info = result.get("info") if isinstance(result.get("info"), dict) else {}
        original = str(info.get("origClientOrderId") or "")
        # An order this kit did not place stays keyed by its exchange id, as its cancel_intent was.
        self._forget_balances()
        self._j(
            "cancel_ack",
            symbol=symbol,
            client_id=known or (original if client_id else ""),
            order_id=str(result.get("id") or order_id or ""),
            status=str(result.get("status")),
            orig_client_id=original,
            cancel_client_id=str(result.get("clientOrderId") or ""),
        )
        return result

    def cancel_all(self, symbol: str | None = None) -> int:
        """Cancel every open order (in ``symbol``, or everywhere); returns how many.

        Each order is journaled (``cancel_intent`` before, ``cancel_ack`` after) under its own client
        id, so the journal's open-order count stays right. Refused before any request in ``read_only``.
        """
        self.guard.check_cancel(symbol=symbol or "*", now_ms=now_ms())
        opens = self.open_orders_raw(symbol)
        n = 0
        for sym in sorted({o["symbol"] for o in opens}):
            mine = [o for o in opens if o["symbol"] == sym]
            for o in mine:
                self._j("cancel_intent", symbol=sym, client_id=str(o.get("clientOrderId") or ""), order_id=str(o["id"]))
            self._cancel_symbol(sym)
            for o in mine:
                self._j(
                    "cancel_ack",
                    symbol=sym,
                    client_id=str(o.get("clientOrderId") or ""),
                    order_id=str(o["id"]),
                    status="canceled",
                )
            n += len(mine)
        return n

    def _cancel_symbol(self, symbol: str) -> None:
        ex = self._ex
        self._call(
            "cancel_all_orders",
            "DELETE",
            "/api/v3/openOrders",
            lambda: ex.cancel_all_orders(symbol),
            read=False,
            symbol=symbol,
        )

    def _check_clock(self, *, remeasure: bool) -> None:
        """Refuse a signed write with ``ClockSkew`` when the clock is outside the exchange's window.

        ``remeasure``: measure the offset again first when it is due (:class:`~kit.transport.clock.ClockWatch`:
        older than ``clock_recheck_s``, or the exchange answered -1021 since); a dry run uses the last one.
        """
        if remeasure and self.clock_watch.due() is not None:
            self.measure_clock(samples=3)  # type: ignore[attr-defined]  # Session's; raises ClockSkew when out
            return
        if self.clock_report is not None:
            recv = int(self._ex.options.get("recvWindow") or 10_000)
            check_clock(self.clock_report, warn_ms=self._clock_warn_ms, recv_window_ms=recv)

    def kill(self, reason: str | None = None, *, include_foreign: bool = False) -> list[dict[str, Any]]:
        """Cancel this kit's open orders on the venue now (the kill switch's action); returns what was cancelled.

        Reads every open order of the account, and cancels, one by one and each journaled, those the kit
        placed (client ids ``tk-...``, whichever kit process placed them). Orders placed by hand or by
        another program are left alone unless ``include_foreign`` (``kit kill --all``). An order that is
        already gone (another process cancelled it first, or it filled) is skipped. Safe to call from
        any thread; the Session's kill-switch watcher calls it when the switch engages.

        Parameters
        ----------
        reason
            Journaled with the ``killswitch`` event (default: the switch's own reason).
        include_foreign
            Also cancel orders the kit did not place.

        Returns
        -------
        list of dict
            ccxt's unified reply of each cancel.

        Examples
        --------
        >>> s.kill("drawdown alarm")                        # doctest: +SKIP
        [{'id': '7', 'status': 'canceled', ...}]
        """
        with self._kill_lock:
            why = reason or self.kill_switch.engaged() or "kill requested"
            opens = self.open_orders_raw()
            targets = [o for o in opens if include_foreign or is_kit_order(o)]
            done: list[dict[str, Any]] = []
            for o in targets:
                try:
                    done.append(self.cancel(str(o["symbol"]), order_id=str(o["id"])))
                except (OrderUnknown, OrderRejected) as exc:  # gone meanwhile: filled, or cancelled elsewhere
                    self.warnings.append(f"kill switch: {o.get('clientOrderId') or o['id']} was already gone: {exc}")
            left = len(opens) - len(targets)
            self._kill_unreported += len(done)
            stamp = time.strftime("%H:%M:%S", time.gmtime())
            self.kill_action = f"{len(done)} kit orders cancelled at {stamp} UTC" + (
                f"; {left} orders not placed by the kit left open (kit kill --all cancels them)" if left else ""
            )
            self._j("killswitch", engaged=True, reason=why, action="cancel", cancelled=len(done),
                    foreign_left=left, include_foreign=include_foreign,
                    client_ids=[str(o.get("clientOrderId") or "") for o in done])  # fmt: skip
            return done

    def open_orders_raw(self, symbol: str | None = None) -> list[dict[str, Any]]:
        """The exchange's open orders (every symbol when ``symbol`` is None) as ccxt's unified dicts."""
        ex = self._ex
        rows = self._call(
            "fetch_open_orders",
            "GET",
            "/api/v3/openOrders",
            lambda: ex.fetch_open_orders(symbol),
            params={"symbol": symbol} if symbol else {},
            symbol=symbol,
        )
        return list(rows)

    def _on_kill(self, reason: str) -> bool:
        """The watcher's action: cancel this kit's orders; True when none is left to cancel."""
        if not self.stage.allows_orders:
            return True
        self.kill(reason)
        return True

    def _check_kill_switch(self) -> None:
        reason = self.kill_switch.engaged()
        if reason is None:
            return
        self._j("killswitch", engaged=True, reason=reason)
        if self.stage.allows_orders:
            try:
                self.kill(reason)
            except KitError as exc:
                self.warnings.append(f"kill switch: cancelling open orders failed: {exc}")
        with self._kill_lock:  # what the watcher cancelled since the last report counts too
            cancelled, self._kill_unreported = self._kill_unreported, 0
        raise KillSwitchEngaged(
            f"kill switch engaged ({reason}); {cancelled} open orders cancelled, new orders blocked",
            hint="No new order was sent. Find out why it tripped, then reset it: KillSwitch().reset() (or delete "
            f"{self.kill_switch.path}) and unset {self.kill_switch.env_var} if it is set.",
        )

    def _next_client_id(self) -> str:
        self._ids += 1
        return client_order_id(self.venue, self.account, self._ids, salt=self.session_id)


#: :meth:`Trading.place`'s keyword defaults, which :meth:`Trading.place_many` fills in.
_PLACE_DEFAULTS = {n: p.default for n, p in inspect.signature(Trading.place).parameters.items() if n in ORDER_KEYWORDS}
