"""The guard: stage gates, caps and the kill switch, checked BEFORE any request is sent.

Two checks, both raising a :class:`~kit.errors.GuardRefused` subclass and sending nothing:

- :meth:`Guard.check_stage`, once when a Session enters its stage: ``testnet`` needs a sandbox
  endpoint; ``live_small`` needs journaled testnet fills for every symbol it will trade; ``live``
  needs journaled ``live_small`` fills and no guard trip in the same window (docs/design.md, Stages).
- :meth:`Guard.check_order`, before every new order: kill switch, stage, symbol allowlist,
  per-order notional, daily notional, daily loss, open orders. Each decision (allow or refuse) is
  journaled as a ``"guard"`` event, so the ``live`` gate can later see every trip.

Money caps are in one reference currency, :attr:`Caps.currency` (``"USD"`` by default: USDT, USDC,
FDUSD and the other USD stablecoins count at par). An order's notional is converted from its quote
currency at ``rate`` (the value of one quote unit in the reference currency, which the Session takes
from the exchange's own prices, e.g. BTC/USDT's last price for an ETH/BTC order). An order whose
notional cannot be converted is refused, never let through.

Cancels are never stopped by caps or the kill switch (cancelling reduces risk), only by the
``read_only`` stage (:meth:`Guard.check_cancel`).

>>> from decimal import Decimal as D
>>> import tempfile, pathlib
>>> ks = KillSwitch(pathlib.Path(tempfile.mkdtemp()) / "KILL", env={})
>>> g = Guard(Stage.TESTNET, sandbox=True, caps=Caps.for_stage(Stage.TESTNET), journal=None,
...           kill_switch=ks, venue="localnet")
>>> g.check_stage(symbols=["BTC/USDT"], now_ms=0)
>>> g.check_order(symbol="BTC/USDT", side="buy", amount=D("0.01"), price=D("30000"), notional=D("300"),
...               open_orders=0, daily_notional=D(0), daily_pnl=D(0), now_ms=0)
>>> ro = Guard(Stage.READ_ONLY, sandbox=False, caps=Caps.for_stage("read_only"), journal=None,
...            kill_switch=ks, venue="binance")
>>> ro.check_order(symbol="BTC/USDT", side="buy", amount=D("0.01"), price=None, notional=D("300"),
...                open_orders=0, daily_notional=D(0), daily_pnl=D(0), now_ms=0)
Traceback (most recent call last):
kit.errors.StageError: stage read_only refuses every order method ...
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from kit.errors import CapExceeded, ConfigError, GuardRefused, KillSwitchEngaged, StageError
from kit.safety.killswitch import KillSwitch
from kit.safety.stages import Stage

__all__ = [
    "ORDER_FIELDS",
    "USD_STABLES",
    "Caps",
    "EvidenceRule",
    "Guard",
    "JournalLike",
    "KillSwitch",
    "OrderValues",
    "Stage",
    "at_par",
    "quote_of",
    "reference_rate",
]

_log = logging.getLogger("kit.safety.guard")

DAY_MS = 86_400_000

#: The ``rule`` of a ``"guard"`` journal event for a stage-gate decision; these are not "trips".
STAGE_GATE = "stage_gate"


class JournalLike(Protocol):
    """What the guard needs from :class:`kit.journal.journal.Journal`."""

    def filled_orders(self, *, stage: str, symbols: Iterable[str], since_ms: int, venue: str | None = None) -> int:
        """Count of orders with at least one journaled fill, in a stage, for the symbols, since a time."""
        ...

    def events(
        self,
        *,
        since_ms: int | None = None,
        until_ms: int | None = None,
        kinds: Iterable[str] | None = None,
        venue: str | None = None,
        symbol: str | None = None,
        client_id: str | None = None,
    ) -> Sequence[Any]:
        """Journal rows matching the filters (objects with ``kind``, ``stage``, ``payload``...)."""
        ...

    def append(
        self,
        kind: str,
        *,
        venue: str,
        account: str = "default",
        stage: str = "",
        symbol: str = "",
        client_id: str = "",
        order_id: str = "",
        trade_id: str = "",
        ts_ms: int | None = None,
        **payload: Any,
    ) -> int:
        """Append one event; returns its sequence number."""
        ...


def _dec(value: Decimal | int | str | float | None, name: str) -> Decimal | None:
    if value is None:
        return None
    try:
        # float via str: Decimal(0.1) would carry the binary expansion into the cap.
        d = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise ConfigError(f"cap {name}={value!r} is not a number", hint="Give caps as Decimal or str: '20'.") from None
    if not d.is_finite() or d <= 0:
        raise ConfigError(f"cap {name}={value!r} must be a positive number", hint="Use None for 'no cap'.")
    return d


#: Assets worth one ``"USD"`` each for the caps (USD itself and the common USD stablecoins).
USD_STABLES = frozenset({"USD", "USDT", "USDC", "FDUSD", "TUSD", "BUSD", "USDP", "DAI"})


def at_par(asset: str, currency: str) -> bool:
    """True if one unit of ``asset`` counts as one unit of the reference ``currency``.

    Examples
    --------
    >>> at_par("USDT", "USD"), at_par("USDC", "USDT"), at_par("BTC", "USD"), at_par("EUR", "EUR")
    (True, True, False, True)
    """
    a, c = asset.upper(), currency.upper()
    return a == c or (a in USD_STABLES and c in USD_STABLES)


def quote_of(symbol: str) -> str:
    """The quote currency of a ccxt symbol (``"ETH/BTC"`` -> ``"BTC"``, ``"BTC/USDT:USDT"`` -> ``"USDT"``).

    Examples
    --------
    >>> quote_of("ETH/BTC"), quote_of("BTC/USDT:USDT"), quote_of("nonsense")
    ('BTC', 'USDT', '')
    """
    _, sep, rest = symbol.partition("/")
    return rest.split(":", 1)[0].upper() if sep else ""


def reference_rate(asset: str, currency: str, last_prices: Mapping[str, Any]) -> Decimal | None:
    """The value of one ``asset`` in ``currency``, from an exchange's last prices; ``None`` if unknown.

    At par (:func:`at_par`) the rate is 1. Otherwise a market ``ASSET/REF`` gives its last price and a
    market ``REF/ASSET`` its inverse, where ``REF`` is the currency or (for ``"USD"``) any USD stablecoin.
    No cross through a third asset: a rate the exchange does not quote directly is unknown.

    Parameters
    ----------
    asset
        The currency to convert from (an order's quote currency).
    currency
        The reference currency of the caps.
    last_prices
        ``{ccxt symbol: last price}`` as the exchange reported them.

    Examples
    --------
    >>> from decimal import Decimal as D
    >>> reference_rate("BTC", "USD", {"BTC/USDT": D("60000")})
    Decimal('60000')
    >>> reference_rate("USDT", "BTC", {"BTC/USDT": D("50000")})
    Decimal('0.00002')
    >>> reference_rate("ETH", "USD", {"BTC/USDT": D("60000")}) is None
    True
    """
    if at_par(asset, currency):
        return Decimal(1)
    refs = sorted(USD_STABLES) if currency.upper() in USD_STABLES else [currency.upper()]
    for ref in refs:
        for sym, invert in ((f"{asset.upper()}/{ref}", False), (f"{ref}/{asset.upper()}", True)):
            raw = last_prices.get(sym)
            if raw is None:
                continue
            try:
                price = Decimal(str(raw))
            except (InvalidOperation, ValueError):
                continue
            if price.is_finite() and price > 0:
                return 1 / price if invert else price
    return None


# live_small defaults, in the caps' reference currency (USD by default).
_LIVE_SMALL = {
    "max_order_notional": Decimal("20"),
    "max_daily_notional": Decimal("100"),
    "max_daily_loss": Decimal("20"),
    "max_open_orders": 3,
}


@dataclass(frozen=True)
class Caps:
    """Limits every order must stay under; ``None`` means "no cap" for that limit.

    Money values are in one reference currency, ``currency`` (``"USD"``: the USD stablecoins count at
    par), whatever the symbol's quote currency: an ETH/BTC order's notional is converted through the
    exchange's BTC price before it is compared. Values given as ``int``/``str``/``float`` are converted
    to :class:`~decimal.Decimal`; zero or negative caps are refused.

    Parameters
    ----------
    max_order_notional
        Largest notional (amount x price) of one order.
    max_daily_notional
        Largest sum of order notionals in one UTC day, this order included.
    max_daily_loss
        Once the day's realized PnL is at or below minus this, every new order is refused.
    max_open_orders
        Most orders open at once, this order included.
    symbols
        Allowlist of symbols (``"BTC/USDT"``); ``None`` allows every symbol (not in live stages).
    currency
        The reference currency of the money caps (default ``"USD"``).

    Examples
    --------
    >>> Caps.for_stage("live_small", symbols=["BTC/USDT"]).max_order_notional
    Decimal('20')
    >>> Caps.for_stage("live_small", symbols=["ETH/BTC"]).describe()
    'per order 20 USD, per day 100 USD, daily loss 20 USD, 3 open orders, symbols ETH/BTC'
    >>> Caps(max_order_notional="0.001", currency="btc").currency
    'BTC'
    >>> Caps(max_order_notional="50", max_daily_notional=None, max_daily_loss=10, max_open_orders=2,
    ...      symbols=["ETH/USDT"]).max_daily_loss
    Decimal('10')
    """

    max_order_notional: Decimal | None = None
    max_daily_notional: Decimal | None = None
    max_daily_loss: Decimal | None = None
    max_open_orders: int | None = None
    symbols: frozenset[str] | None = field(default=None)
    currency: str = "USD"

    def __post_init__(self) -> None:
        cur = self.currency
        if not isinstance(cur, str) or not cur.strip().isalnum() or len(cur.strip()) > 12:
            raise ConfigError(
                f"caps currency={cur!r} is not a currency code", hint="Use an asset code such as 'USD', 'EUR', 'BTC'."
            )
        object.__setattr__(self, "currency", cur.strip().upper())
        for name in ("max_order_notional", "max_daily_notional", "max_daily_loss"):
            object.__setattr__(self, name, _dec(getattr(self, name), name))
        n = self.max_open_orders
        if n is not None:
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise ConfigError(f"cap max_open_orders={n!r} must be a positive int", hint="Use None for 'no cap'.")
        if self.symbols is not None:
            if isinstance(self.symbols, str):
                raise ConfigError("caps symbols must be a list of symbols, not one str", hint="E.g. ['BTC/USDT'].")
            object.__setattr__(self, "symbols", frozenset(str(s) for s in self.symbols))

    def money(self, value: Decimal | None) -> str:
        """A money cap (or amount) with its currency: ``'20 USD'``; ``'none'`` for no cap."""
        return "none" if value is None else f"{value:f} {self.currency}"

    def describe(self) -> str:
        """Every cap in one line, each money cap with its currency (for doctor, status bars, reports)."""
        parts = [
            f"per order {self.money(self.max_order_notional)}",
            f"per day {self.money(self.max_daily_notional)}",
            f"daily loss {self.money(self.max_daily_loss)}",
            f"{self.max_open_orders if self.max_open_orders is not None else 'any'} open orders",
            "symbols " + (", ".join(sorted(self.symbols)) if self.symbols is not None else "any"),
        ]
        return ", ".join(parts)

    @classmethod
    def for_stage(cls, stage: Stage | str, *, symbols: Iterable[str] | None = None, currency: str = "USD") -> Caps:
        """The default caps of a stage.

        Parameters
        ----------
        stage
            ``read_only`` and ``testnet``: no caps (read_only refuses orders anyway; a sandbox has no
            real money). ``live_small``: 20 per order, 100 a day, daily loss 20, 3 open orders, and the
            symbol allowlist ``symbols`` is required. ``live``: no defaults.
        symbols
            The symbol allowlist.
        currency
            The reference currency of the money caps. The live_small defaults are USD figures: with
            another currency, configure the caps explicitly.

        Raises
        ------
        kit.errors.ConfigError
            For ``live`` (its caps must come from explicit configuration), or ``live_small`` without symbols,
            or ``live_small`` defaults asked for in a currency other than USD.
        """
        st = Stage.parse(stage)
        syms = frozenset(symbols) if symbols is not None else None
        if st is Stage.LIVE:
            raise ConfigError(
                "the live stage has no default caps",
                hint="Configure Caps(...) explicitly for live (per-order, daily notional, daily loss, open "
                "orders, symbols), after reviewing your live_small history.",
            )
        if st is Stage.LIVE_SMALL:
            if not syms:
                raise ConfigError(
                    "live_small needs a symbol allowlist",
                    hint="Pass symbols=['BTC/USDT', ...]: the symbols you have testnet evidence for.",
                )
            if not at_par(currency, "USD"):
                raise ConfigError(
                    f"the live_small defaults are USD figures (20 per order, 100 a day), not {currency}",
                    hint="Configure Caps(max_order_notional=..., ..., currency=...) explicitly in your currency.",
                )
            return cls(symbols=syms, currency=currency, **_LIVE_SMALL)  # type: ignore[arg-type]
        return cls(symbols=syms, currency=currency)


@dataclass(frozen=True)
class EvidenceRule:
    """How much journaled history a stage gate asks for.

    Parameters
    ----------
    min_filled_orders
        Orders with at least one fill, per symbol, in the previous stage.
    within_days
        Only history from the last this-many days counts.
    venue
        Count evidence from this journal venue only; ``None`` (default) accepts any sandbox venue,
        e.g. localnet or the exchange's testnet fills before going live on the exchange.
    """

    min_filled_orders: int = 3
    within_days: int = 30
    venue: str | None = None

    def __post_init__(self) -> None:
        if self.min_filled_orders < 1 or self.within_days < 1:
            raise ConfigError(
                f"evidence rule needs positive values, got {self.min_filled_orders} orders "
                f"within {self.within_days} days",
                hint="The stage ladder needs at least one filled order within at least one day.",
            )


class Guard:
    """Refuses, before any request, what the stage, the caps or the kill switch do not allow.

    Parameters
    ----------
    stage
        The Session's stage.
    sandbox
        True when the endpoint is a sandbox (exchange testnet or localnet).
    caps
        The limits; for ``live_small`` and ``live`` the notional, daily and loss caps and the symbol
        allowlist must all be set, and ``live_small`` caps may not exceed :meth:`Caps.for_stage`'s
        (raising them is what the ``live`` stage is for).
    journal
        Where decisions are journaled and evidence is read; required for ``live_small`` and ``live``.
    kill_switch
        Checked before every order.
    evidence
        What the ``live_small`` and ``live`` gates ask for.
    venue
        The journal's venue name for this Session's events.
    account
        The journal's account name.

    Raises
    ------
    kit.errors.ConfigError
        Caps missing or too high for the stage.
    """

    def __init__(
        self,
        stage: Stage | str,
        *,
        sandbox: bool,
        caps: Caps,
        journal: JournalLike | None,
        kill_switch: KillSwitch,
        evidence: EvidenceRule = EvidenceRule(),  # noqa: B008 - frozen, so one shared default is safe
        venue: str,
        account: str = "default",
    ) -> None:
        self.stage = Stage.parse(stage)
        self.sandbox = bool(sandbox)
        self.caps = caps
        self.journal = journal
        self.kill_switch = kill_switch
        self.evidence = evidence
        self.venue = venue
        self.account = account
        # Symbols whose stage gate passed in this process; live orders need it (defence in depth).
        self._gated: set[str] = set()
        self._validate_caps()

    def __repr__(self) -> str:
        return f"Guard(stage={self.stage.value!r}, sandbox={self.sandbox}, venue={self.venue!r}, caps={self.caps!r})"

    # ------------------------------------------------------------ stage gate

    def check_stage(self, *, symbols: Iterable[str], now_ms: int) -> None:
        """Refuse to enter the stage without what it asks for.

        Parameters
        ----------
        symbols
            The symbols the Session will trade; empty means the caps' allowlist.
        now_ms
            Now, in epoch milliseconds UTC (the evidence window ends here).

        Raises
        ------
        kit.errors.StageError
            ``testnet`` on a non-sandbox endpoint; a live stage on a sandbox endpoint, without a
            journal, for a symbol outside the allowlist, with too few filled orders in the previous
            stage (the message says how many exist and how many are needed), or (``live``) after a
            guard trip in ``live_small`` within the window.
        """
        syms = sorted(set(symbols) or (self.caps.symbols or ()))
        try:
            self._gate(syms, now_ms)
        except StageError as exc:
            self._journal(now_ms, "refuse", STAGE_GATE, exc.message, symbol=",".join(syms))
            raise
        if self.stage.is_live:
            self._gated.update(syms)
            self._journal(now_ms, "allow", STAGE_GATE, f"{self.stage.value} gate passed", symbol=",".join(syms))

    def _gate(self, symbols: list[str], now_ms: int) -> None:
        st = self.stage
        if st is Stage.READ_ONLY:
            return
        if st is Stage.PAPER:
            if not self.sandbox:
                raise StageError(
                    f"stage paper sends orders only to the paper venue, but {self.venue} is a real endpoint",
                    hint="No request was sent. Open Session(exchange, stage='paper'): it starts its paper venue.",
                )
            return
        if st is Stage.TESTNET:
            if not self.sandbox:
                raise StageError(
                    "stage testnet needs a sandbox endpoint (an exchange testnet or localnet), "
                    f"but {self.venue} is a live endpoint",
                    hint="No request was sent. Use the exchange's testnet (ccxt sandbox mode) or localnet for testnet.",
                )
            return
        if self.sandbox:
            raise StageError(
                f"stage {st.value} trades real money, but {self.venue} is a sandbox endpoint",
                hint="No request was sent. Use stage testnet on a sandbox; live stages need the live endpoint.",
            )
        if not symbols:
            raise StageError(f"stage {st.value} needs the symbols it will trade", hint="Pass symbols=[...].")
        outside = [s for s in symbols if self.caps.symbols is not None and s not in self.caps.symbols]
        if outside:
            raise StageError(
                f"symbols {outside} are not in the {st.value} allowlist {sorted(self.caps.symbols or ())}",
                hint="No request was sent. Trade only allowlisted symbols, or add them to the caps' symbols "
                "once you have evidence for them.",
            )
        if self.journal is None:
            raise StageError(
                f"stage {st.value} needs a journal to read its evidence from",
                hint="No request was sent. Open the Session with its journal (the default) to enter live stages.",
            )
        previous = Stage.TESTNET if st is Stage.LIVE_SMALL else Stage.LIVE_SMALL
        rule = self.evidence
        since_ms = now_ms - rule.within_days * DAY_MS
        short: list[tuple[str, int]] = []
        for sym in symbols:
            n = self._evidence(previous, sym, since_ms)
            if n < rule.min_filled_orders:
                short.append((sym, n))
        if short:
            found = "; ".join(f"{sym}: {n} of {rule.min_filled_orders}" for sym, n in short)
            raise StageError(
                f"stage {st.value} needs at least {rule.min_filled_orders} filled {previous.value} orders per symbol "
                f"in the last {rule.within_days} days, journaled; found {found}",
                symbol=short[0][0] if len(short) == 1 else None,
                value=min(n for _, n in short),
                allowed=rule.min_filled_orders,
                hint=f"No request was sent. Trade these symbols in stage {previous.value} first; its fills are "
                "journaled and count as evidence.",
            )
        if st is Stage.LIVE:
            trips = self._trips(Stage.LIVE_SMALL, since_ms, now_ms)
            if trips:
                first = trips[0]
                raise StageError(
                    f"stage live needs live_small history without guard trips, but {len(trips)} refusal(s) were "
                    f"journaled in the last {rule.within_days} days (first: {first})",
                    hint="No request was sent. Keep trading in live_small, within its caps, until the window "
                    "holds no trip; then review the caps you configure for live.",
                )

    def _evidence(self, stage: Stage, symbol: str, since_ms: int) -> int:
        """Filled orders of ``stage`` on ``symbol`` that count for this venue.

        The rehearsal venue and real exchanges never count each other's history: a rehearsal counts
        only its own (``rehearsal-testnet`` fills for live_small, ``rehearsal`` ones for live), and a
        real exchange's gate leaves the rehearsal's out.
        """
        assert self.journal is not None
        count = self.journal.filled_orders
        if _rehearsal(self.venue):
            own = f"{REHEARSAL}-testnet" if stage is Stage.TESTNET else REHEARSAL
            return count(stage=stage.value, symbols=[symbol], since_ms=since_ms, venue=own)
        n = count(stage=stage.value, symbols=[symbol], since_ms=since_ms, venue=self.evidence.venue)
        if self.evidence.venue is None:  # "any sandbox venue": but never the rehearsal's
            for other in (REHEARSAL, f"{REHEARSAL}-testnet"):
                n -= count(stage=stage.value, symbols=[symbol], since_ms=since_ms, venue=other)
        return n

    def _trips(self, stage: Stage, since_ms: int, now_ms: int) -> list[str]:
        assert self.journal is not None
        trips: list[str] = []
        venue = REHEARSAL if _rehearsal(self.venue) else self.evidence.venue
        for ev in self.journal.events(since_ms=since_ms, until_ms=now_ms, kinds=["guard"], venue=venue):
            payload = _field(ev, "payload") or {}
            if venue is None and _rehearsal(str(_field(ev, "venue") or "")):
                continue  # a rehearsal's trips are the rehearsal's business
            if (
                _field(ev, "stage") == stage.value
                and payload.get("decision") == "refuse"
                and payload.get("rule") != STAGE_GATE
            ):
                trips.append(f"{payload.get('rule')} on {_field(ev, 'symbol') or '?'} at ts_ms={_field(ev, 'ts_ms')}")
        return trips

    # ------------------------------------------------------------ orders

    def check_order(
        self,
        *,
        symbol: str,
        side: str,
        amount: Decimal,
        price: Decimal | None,
        notional: Decimal,
        open_orders: int,
        daily_notional: Decimal,
        daily_pnl: Decimal | None,
        now_ms: int,
        record: bool = True,
        rate: Decimal | None = None,
    ) -> None:
        """Refuse a new order that the kill switch, the stage or a cap does not allow; journal the decision.

        Checks, first refusal wins: kill switch; ``read_only`` stage; ``testnet`` off a sandbox;
        symbol allowlist; a live stage whose gate has not passed for ``symbol`` (:meth:`check_stage`);
        malformed values; per-order notional; daily notional; daily loss; open orders.

        Parameters
        ----------
        symbol, side, amount, price
            The order (``price`` is ``None`` for a market order).
        notional
            The order's value in its quote currency (for a market order, amount x a recent price). When
            ``price`` is given, ``amount * price`` is used if larger. ``0`` (value unknown) is accepted
            only when no notional cap applies (testnet defaults).
        open_orders
            Orders open now, before this one.
        daily_notional
            Notional already sent today (UTC), before this order, in the caps' currency.
        daily_pnl
            Today's realized PnL in the caps' currency; negative is a loss. ``None`` (it could not be
            converted) refuses the order when a daily loss cap is set.
        now_ms
            Now, in epoch milliseconds UTC (the journal row's time).
        record
            Journal the decision (default). ``False`` for a dry run (an order ticket's preview):
            the same checks, nothing written.
        rate
            The value of one unit of the symbol's quote currency in the caps' currency (the exchange's
            own price). ``None``: 1 when the quote is at par with it (USDT for USD), else the order is
            refused when a notional cap applies: a missing conversion never lets an order through.

        Examples
        --------
        An ETH/BTC order is worth its BTC notional times BTC's price in USD:

        >>> from decimal import Decimal as D
        >>> import tempfile, pathlib
        >>> ks = KillSwitch(pathlib.Path(tempfile.mkdtemp()) / "KILL", env={})
        >>> g = Guard("testnet", sandbox=True, caps=Caps(max_order_notional="20"), journal=None, kill_switch=ks,
        ...           venue="localnet")
        >>> g.check_order(symbol="ETH/BTC", side="buy", amount=D("390"), price=D("0.05"), notional=D("19.5"),
        ...               open_orders=0, daily_notional=D(0), daily_pnl=D(0), now_ms=0, rate=D("60000"))
        Traceback (most recent call last):
        kit.errors.CapExceeded: order notional 1170000 USD (19.5 BTC at 60000 USD/BTC) ... cap 20 USD ...

        Raises
        ------
        kit.errors.KillSwitchEngaged
        kit.errors.StageError
        kit.errors.CapExceeded
            With ``limit`` (what the order asked for) and ``allowed`` (what would have been accepted).
        kit.errors.GuardRefused
            Malformed order values (non-positive amount, unknown side, unusable notional), or a notional
            that cannot be converted to the caps' currency.
        """
        given = locals()
        values: dict[str, Any] = {name: given[name] for name in ORDER_FIELDS}  # the keywords above, once
        order: dict[str, Any] = {name: values[name] for name in _JOURNALED}
        try:
            effective = self._order_refusal(values)
        except GuardRefused as exc:
            numbers: dict[str, Any] = {
                k: v for k, v in (("value", exc.value), ("allowed", exc.allowed)) if isinstance(v, Decimal | int)
            }
            if record:
                self._journal(now_ms, "refuse", _rule_of(exc), exc.message, symbol=symbol, **order, **numbers)
            raise
        if not record:
            return
        order["notional"] = effective[0]
        order["ref_notional"] = effective[1]
        order["ref_currency"] = self.caps.currency
        # Journal the allow BEFORE the caller sends anything: if this write fails the order is not sent.
        self._journal(now_ms, "allow", "ok", "within stage and caps", symbol=symbol, strict=True, **order)

    def check_cancel(self, *, symbol: str, now_ms: int) -> None:
        """Refuse a cancel only in ``read_only``; caps and the kill switch never block a cancel.

        Raises
        ------
        kit.errors.StageError
        """
        if self.stage is Stage.READ_ONLY:
            exc = self._read_only_error("cancel")
            self._journal(now_ms, "refuse", "stage", exc.message, symbol=symbol, op="cancel")
            raise exc

    def _order_refusal(self, values: Mapping[str, Any]) -> tuple[Decimal, Decimal | None]:
        """Raise the first refusal; return the notional (quote, and caps' currency) the caps were checked against.

        ``values`` holds :data:`ORDER_FIELDS`, as given to :meth:`check_order`; they are validated
        (:meth:`OrderValues.parse`) after the kill switch, stage, allowlist and gate checks.
        """
        symbol = str(values["symbol"])
        self.kill_switch.check()
        if self.stage is Stage.READ_ONLY:
            raise self._read_only_error("order", symbol=symbol)
        if self.stage is Stage.TESTNET and not self.sandbox:
            raise StageError(f"stage testnet refuses orders to the live endpoint {self.venue}", symbol=symbol)
        caps = self.caps
        if caps.symbols is not None and symbol not in caps.symbols:
            raise _tag("symbols", CapExceeded(
                f"{symbol} is not in the allowlist of stage {self.stage.value}",
                symbol=symbol,
                allowed=", ".join(sorted(caps.symbols)),
            ))  # fmt: skip
        if self.stage.is_live and symbol not in self._gated:
            raise StageError(
                f"stage {self.stage.value} gate has not passed for {symbol} in this session",
                symbol=symbol,
                hint="No request was sent. Call check_stage(symbols=[...]) (the Session does it on entering "
                "the stage) before sending orders.",
            )

        o = OrderValues.parse(values)
        amount, price, notional, open_orders = o.amount, o.price, o.notional, o.open_orders
        daily_notional, daily_pnl, rate = o.daily_notional, o.daily_pnl, o.rate
        if price is not None:
            notional = max(notional, amount * price)
        cur = caps.currency
        needs_notional = caps.max_order_notional is not None or caps.max_daily_notional is not None
        if notional <= 0 and needs_notional:
            raise GuardRefused(
                f"notional {notional} cannot be checked against the notional caps",
                symbol=symbol,
                hint="No request was sent. Pass the order's estimated value (amount x a recent price).",
            )
        quote = quote_of(symbol)
        conv = _rate(rate, symbol) if rate is not None else (Decimal(1) if quote and at_par(quote, cur) else None)
        if conv is None and (needs_notional or caps.max_daily_loss is not None):
            raise _tag("conversion", GuardRefused(
                f"the caps are in {cur}, and no {quote or '?'}/{cur} price is known to convert this order's "
                f"notional {notional} {quote}",
                symbol=symbol,
                hint=f"No request was sent. The Session converts through the exchange's own prices: trade a symbol "
                f"whose quote currency the exchange prices in {cur} (e.g. a {quote}/USDT market), or set caps in "
                f"{quote} (Caps(currency={quote!r}, ...), stage live).",
            ))  # fmt: skip
        ref = notional * conv if conv is not None else None
        shown = f"{_fmt(ref)} {cur}" if ref is not None else ""
        if ref is not None and conv is not None and conv != 1:
            shown += f" ({_fmt(notional)} {quote} at {_fmt(conv)} {cur}/{quote})"
        if caps.max_order_notional is not None and ref is not None and ref > caps.max_order_notional:
            raise _tag("max_order_notional", CapExceeded(
                f"order notional {shown} is over the per-order cap {caps.money(caps.max_order_notional)}",
                symbol=symbol, value=ref, allowed=caps.max_order_notional,
            ))  # fmt: skip
        if caps.max_daily_notional is not None and ref is not None and daily_notional + ref > caps.max_daily_notional:
            raise _tag("max_daily_notional", CapExceeded(
                f"order ({shown}) would bring today's notional to {caps.money(daily_notional + ref)}, over the "
                f"daily cap {caps.money(caps.max_daily_notional)}",
                symbol=symbol,
                value=ref,
                allowed=max(Decimal(0), caps.max_daily_notional - daily_notional),
            ))  # fmt: skip
        if caps.max_daily_loss is not None and daily_pnl is None:
            raise _tag("conversion", GuardRefused(
                f"today's realized PnL could not be converted to {cur}, so the daily loss cap cannot be checked",
                symbol=symbol,
                hint=f"No request was sent. Fetch a ticker of each quote currency you traded today against {cur} "
                "(session.ticker(...)), then try again.",
            ))  # fmt: skip
        if caps.max_daily_loss is not None and daily_pnl is not None and -daily_pnl >= caps.max_daily_loss:
            raise _tag("max_daily_loss", CapExceeded(
                f"today's realized loss {caps.money(-daily_pnl)} reached the daily loss cap "
                f"{caps.money(caps.max_daily_loss)}; no new orders until the next UTC day",
                symbol=symbol,
                value=-daily_pnl,
                allowed=caps.max_daily_loss,
                hint="No request was sent. Stop and review what happened; cancels still work. The cap resets at "
                "00:00 UTC.",
            ))  # fmt: skip
        if caps.max_open_orders is not None and open_orders + 1 > caps.max_open_orders:
            raise _tag("max_open_orders", CapExceeded(
                f"{open_orders} orders are open; the cap is {caps.max_open_orders}",
                symbol=symbol,
                value=open_orders + 1,
                allowed=caps.max_open_orders,
                hint="No request was sent. Cancel or wait for an open order to finish, or raise the cap in "
                "configuration once you have reviewed the risk.",
            ))  # fmt: skip
        return notional, ref

    def _read_only_error(self, op: str, *, symbol: str | None = None) -> StageError:
        return StageError(
            f"stage read_only refuses every order method ({op})",
            symbol=symbol,
            hint="No request was sent. Open the Session with stage='testnet' on a sandbox to place orders.",
        )

    # ------------------------------------------------------------ internals

    def _validate_caps(self) -> None:
        st, caps = self.stage, self.caps
        if not st.is_live:
            return
        missing = [
            name
            for name in ("max_order_notional", "max_daily_notional", "max_daily_loss", "max_open_orders", "symbols")
            if not getattr(caps, name)
        ]
        if missing:
            raise ConfigError(
                f"stage {st.value} needs every cap set; missing: {', '.join(missing)}",
                hint="Use Caps.for_stage('live_small', symbols=[...]) or configure each cap explicitly for live.",
            )
        if st is Stage.LIVE_SMALL:
            if not at_par(caps.currency, "USD"):
                raise ConfigError(
                    f"live_small caps must be in USD (its limits are USD figures), not {caps.currency}",
                    hint="Use Caps(..., currency='USD') for live_small; stage live takes caps in any currency.",
                )
            over = [f"{k}={getattr(caps, k)} > {v}" for k, v in _LIVE_SMALL.items() if getattr(caps, k) > v]
            if over:
                raise ConfigError(
                    f"live_small caps above the live_small defaults: {', '.join(over)}",
                    hint="live_small is for small size; raising caps is what stage live is for, after journaled "
                    "live_small history.",
                )

    def _journal(self, now_ms: int, decision: str, rule: str, detail: str, *, symbol: str = "",
                 strict: bool = False, **extra: Any) -> None:  # fmt: skip
        if self.journal is None:
            return
        try:
            self.journal.append(
                "guard", venue=self.venue, account=self.account, stage=self.stage.value, symbol=symbol,
                ts_ms=now_ms, decision=decision, rule=rule, detail=detail, **extra,
            )  # fmt: skip
        except Exception:
            if strict:
                raise
            # A refusal stands even if it could not be journaled; nothing is sent either way.
            _log.exception("could not journal guard decision %s/%s", decision, rule)


#: The rehearsal venue's journal name (``kit.session.venues.REHEARSAL``; not imported: the guard stays below session).
REHEARSAL = "rehearsal"


def _rehearsal(venue: str) -> bool:
    return venue == REHEARSAL or venue.startswith(f"{REHEARSAL}-")


def _field(ev: Any, name: str) -> Any:
    if isinstance(ev, Mapping):
        return ev.get(name)
    return getattr(ev, name, None)


def _fmt(d: Decimal) -> str:
    """A Decimal for a message: plain notation, at most 8 decimals, no trailing zeros."""
    exp = d.as_tuple().exponent
    q = d.quantize(Decimal("0.00000001")) if isinstance(exp, int) and exp < -8 else d
    return f"{q.normalize():f}"


def _rate(value: Any, symbol: str) -> Decimal:
    try:
        d = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise GuardRefused(f"conversion rate {value!r} is not a number", symbol=symbol) from None
    if not d.is_finite() or d <= 0:
        raise GuardRefused(f"conversion rate {value!r} must be a positive number", symbol=symbol)
    return d


def _tag(rule: str, exc: GuardRefused) -> GuardRefused:
    """Name the rule that refused (the ``rule`` of the journal's ``"guard"`` row) on the exception."""
    exc.rule = rule  # type: ignore[attr-defined]
    return exc


def _rule_of(exc: GuardRefused) -> str:
    rule = getattr(exc, "rule", None)
    if isinstance(rule, str):
        return rule
    if isinstance(exc, KillSwitchEngaged):
        return "kill_switch"
    if isinstance(exc, StageError):
        return "stage"
    return "invalid"


@dataclass(frozen=True)
class OrderValues:
    """What the guard judges a new order by: :meth:`Guard.check_order`'s keywords, validated.

    Its fields are the one list of those keywords (:data:`ORDER_FIELDS`): ``check_order`` collects
    its arguments by it, and a dry run (the order ticket's preview, ``record=False``) goes through
    the same list and the same checks.

    >>> OrderValues.parse({"symbol": "BTC/USDT", "side": "buy", "amount": "0.01", "price": None, "notional": 300,
    ...                    "open_orders": 0, "daily_notional": 0, "daily_pnl": None, "rate": None}).amount
    Decimal('0.01')
    """

    symbol: str
    side: str
    amount: Decimal
    price: Decimal | None
    notional: Decimal
    open_orders: int
    daily_notional: Decimal
    daily_pnl: Decimal | None
    rate: Decimal | None

    @classmethod
    def parse(cls, values: Mapping[str, Any]) -> OrderValues:
        """Validate and convert the order's numbers; refuse (a :class:`~kit.errors.GuardRefused`, never a crash)."""
        symbol = str(values["symbol"])

        def num(v: Any, name: str) -> Decimal:
            try:
                d = Decimal(str(v)) if isinstance(v, float) else Decimal(v)
            except (InvalidOperation, TypeError, ValueError):
                raise GuardRefused(f"{name}={v!r} is not a number", symbol=symbol) from None
            if not d.is_finite():
                raise GuardRefused(f"{name}={v!r} is not finite", symbol=symbol)
            return d

        side, open_orders = values["side"], values["open_orders"]
        if side not in ("buy", "sell"):
            raise GuardRefused(f"side {side!r} is neither 'buy' nor 'sell'", symbol=symbol)
        a = num(values["amount"], "amount")
        if a <= 0:
            raise GuardRefused(f"amount {a} must be positive", symbol=symbol)
        p = None if values["price"] is None else num(values["price"], "price")
        if p is not None and p <= 0:
            raise GuardRefused(f"price {p} must be positive", symbol=symbol)
        n = num(values["notional"], "notional")
        if n < 0:
            raise GuardRefused(f"notional {n} must not be negative", symbol=symbol)
        if isinstance(open_orders, bool) or not isinstance(open_orders, int) or open_orders < 0:
            raise GuardRefused(f"open_orders={open_orders!r} must be a count", symbol=symbol)
        pnl = None if values["daily_pnl"] is None else num(values["daily_pnl"], "daily_pnl")
        return cls(symbol, str(side), a, p, n, open_orders, num(values["daily_notional"], "daily_notional"), pnl,
                   values["rate"])  # fmt: skip


#: :meth:`Guard.check_order`'s order keywords (``record`` and ``now_ms`` aside): :class:`OrderValues`' fields.
ORDER_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(OrderValues))
#: The ones a guard journal row repeats (the order as asked, before the caps' conversion).
_JOURNALED = ("side", "amount", "price", "notional")
