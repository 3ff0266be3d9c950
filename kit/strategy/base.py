"""The strategy class, the decisions it makes and the broker they go to.

A decision's id is a pure function of the run's name, the symbol, the candle and the decision's
place among that candle's decisions, so a runner that restarts after a crash recognises a
decision it already acted on and never sends its order twice.

>>> decision_id("sma", "BTC/USDT", 1_704_067_200_000, 0)
'd-a845c2b81213024c365f'
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np
import pandas as pd

from kit.errors import ConfigError, KitError, OrderRejected
from kit.strategy.feed import Feed

if TYPE_CHECKING:
    from kit.engine.replay import Context
    from kit.engine.types import Market

__all__ = ["ACTIONS", "Broker", "Decision", "Strategy", "decision_id"]

ACTIONS = ("buy", "sell", "cancel_all")
_PARAM_TYPES = (bool, int, float, str, Decimal)
_NOT_TRADING = "a strategy trades only inside next(), while a replay or a runner drives it"


def decision_id(run: str, symbol: str, candle_ms: int, seq: int) -> str:
    """The deterministic id of the ``seq``-th decision taken at the close of candle ``candle_ms``."""
    digest = hashlib.sha256(f"{run}|{symbol}|{int(candle_ms)}|{int(seq)}".encode()).hexdigest()
    return "d-" + digest[:20]


@dataclass(frozen=True)
class Decision:
    """One thing a strategy decided at a candle's close.

    Attributes
    ----------
    id:
        :func:`decision_id` of (run, symbol, candle_ms, seq).
    run, symbol, candle_ms, seq:
        Which run, which symbol, the open time (ms UTC) of the candle that just closed, and the
        decision's position among that candle's decisions.
    action:
        ``"buy"``, ``"sell"`` or ``"cancel_all"``.
    size, limit:
        Base quantity and limit price (``None``: market order / not an order).
    close:
        The candle's close when the decision was taken.
    client_id:
        The order's client id once a broker took it ("" when it placed nothing).
    """

    id: str
    run: str
    symbol: str
    candle_ms: int
    seq: int
    action: str
    size: Decimal | None = None
    limit: Decimal | None = None
    close: float = 0.0
    client_id: str = field(default="", compare=False)

    def key(self) -> tuple[Any, ...]:
        """What identity tests compare: everything but the client id and the run name."""
        return (self.symbol, self.candle_ms, self.seq, self.action, self.size, self.limit)

    def row(self) -> dict[str, Any]:
        """A flat dict for journals and frames."""
        return {"decision_id": self.id, "run": self.run, "symbol": self.symbol, "candle_ms": self.candle_ms,
                "nth": self.seq, "action": self.action, "size": self.size, "limit": self.limit,
                "close": self.close, "client_id": self.client_id}  # fmt: skip


class Broker(Protocol):
    """Where a strategy's decisions go and what it may ask about its account (replay or a Session)."""

    def execute(self, decision: Decision) -> str:
        """Act on a decision; return the order's client id ("" when nothing was placed)."""
        ...

    def position(self, symbol: str) -> Decimal:
        """Base held by this strategy's own fills."""
        ...

    def cash(self, symbol: str) -> Decimal:
        """Free quote balance."""
        ...

    def open_orders(self, symbol: str) -> int:
        """Working orders of this strategy."""
        ...

    def step_size(self, symbol: str) -> Decimal:
        """The market's quantity step (what counts as dust)."""
        ...


def _coerce(name: str, default: Any, value: Any) -> Any:
    """``value`` as the type of the parameter's default (strings from ``--param k=v`` are parsed)."""
    kind = type(default)
    try:
        if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
            return value
        if kind is bool:
            if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
                return value.lower() in ("1", "true", "yes", "on")
            raise ValueError(value)
        if isinstance(value, bool):
            raise ValueError(value)
        if kind is int:
            d = Decimal(str(value))
            if d != d.to_integral_value():
                raise ValueError(value)
            return int(d)
        if kind is Decimal:
            d = Decimal(str(value))
            if not d.is_finite():
                raise ValueError(value)
            return d
        if kind is float:
            f = float(value)
            if not np.isfinite(f):
                raise ValueError(value)
            return f
        return str(value)
    except (ValueError, InvalidOperation, TypeError):
        raise ConfigError(
            f"parameter {name}={value!r} is not a {kind.__name__}",
            hint=f"Give {name} a {kind.__name__} value like its default {default!r}.",
        ) from None


class Strategy:
    """Base class of a strategy: parameters are class attributes, ``next()`` runs at every close.

    Class settings (not parameters): ``timeframe`` (candle size, default ``"1m"``) and
    ``lookback`` (how many closed candles a forward run loads before its first ``next()``, and
    keeps; default 500). Every other public class attribute of type bool, int, float, str or
    Decimal is a parameter: ``SmaCross(fast=5)`` overrides it, ``--param fast=5`` too.

    Inside ``next()``: :attr:`closes` (and :attr:`opens`, :attr:`highs`, :attr:`lows`,
    :attr:`volumes`; numpy views, cheap), :attr:`candles` (a DataFrame of the last ``lookback``),
    :attr:`close`, :attr:`time`, :attr:`symbol`; :attr:`position` (base from this strategy's own
    fills), :attr:`flat` (position below one quantity step), :attr:`cash`, :attr:`open_orders`;
    and :meth:`buy`, :meth:`sell`, :meth:`close_position`, :meth:`cancel_all`. Orders placed
    now work from the next candle in replay, at once forward.

    Derive state from the candles and the position, as freqtrade's strategies do: after a
    restart a forward run calls ``init()`` and ``next()`` again on a fresh instance.

    Examples
    --------
    >>> from decimal import Decimal
    >>> class Breakout(Strategy):
    ...     window = 20
    ...     size = Decimal("0.001")
    ...     def next(self) -> None:
    ...         if len(self.closes) > self.window and self.flat and self.close > self.highs[-self.window - 1:-1].max():
    ...             self.buy(self.size)
    >>> Breakout(window="10").window
    10
    >>> Breakout(windw=10)
    Traceback (most recent call last):
    ...
    kit.errors.ConfigError: unknown parameter 'windw' for Breakout. Parameters of Breakout: size, window.
    """

    timeframe: ClassVar[str] = "1m"
    lookback: ClassVar[int] = 500
    _SETTINGS: ClassVar[frozenset[str]] = frozenset({"timeframe", "lookback"})

    def __init__(self, **params: Any) -> None:
        defaults = self.defaults()
        for name, value in params.items():
            if name not in defaults:
                known = ", ".join(sorted(defaults)) or "none"
                raise ConfigError(f"unknown parameter {name!r} for {type(self).__name__}",
                                  hint=f"Parameters of {type(self).__name__}: {known}.")  # fmt: skip
            setattr(self, name, _coerce(name, defaults[name], value))
        self.decisions: list[Decision] = []
        self.run_name = ""
        self._symbol = ""
        self._feed: Feed | None = None
        self._broker: Broker | None = None
        self._started = False
        self._candle_ms: int | None = None
        self._seq = 0

    # -- description -------------------------------------------------------------------------------
    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Parameter names and default values (public class attributes of a parameter type)."""
        out: dict[str, Any] = {}
        for klass in reversed(cls.__mro__):
            if klass is object or klass is Strategy:
                continue
            for name, value in vars(klass).items():
                if name.startswith("_") or name in cls._SETTINGS:
                    continue
                if isinstance(value, _PARAM_TYPES):
                    out[name] = value
                else:
                    out.pop(name, None)
        return out

    @property
    def params(self) -> dict[str, Any]:
        """Parameter values of this instance, sorted by name."""
        return {name: getattr(self, name) for name in sorted(self.defaults())}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"

    def default_run_name(self) -> str:
        """``ClassName(k=v, ...)``: a run's name when none is given (decision ids derive from it)."""
        return repr(self)

    # -- what the user writes ------------------------------------------------------------------------
    def init(self) -> None:
        """Called once, before the first ``next()`` (the candles loaded so far are visible)."""

    def next(self) -> None:
        """Called at every candle's close; decide here."""
        raise NotImplementedError(f"{type(self).__name__} must define next(self)")

    # -- what next() reads ----------------------------------------------------------------------------
    def _need_feed(self) -> Feed:
        if self._feed is None:
            raise ConfigError(f"{type(self).__name__} has no candles yet", hint="Read candles inside next().")
        return self._feed

    def _need_broker(self) -> Broker:
        if self._broker is None or self._candle_ms is None:
            raise ConfigError(f"{type(self).__name__}: {_NOT_TRADING}",
                              hint="Call buy/sell/cancel_all from next(); run it with kit.engine.replay.run or "
                                   "kit.run.start.")  # fmt: skip
        return self._broker

    @property
    def symbol(self) -> str:
        """The symbol this instance trades."""
        return self._symbol

    @property
    def closes(self) -> np.ndarray:
        """Closes so far, oldest first."""
        return self._need_feed().close

    @property
    def opens(self) -> np.ndarray:
        """Opens so far."""
        return self._need_feed().open

    @property
    def highs(self) -> np.ndarray:
        """Highs so far."""
        return self._need_feed().high

    @property
    def lows(self) -> np.ndarray:
        """Lows so far."""
        return self._need_feed().low

    @property
    def volumes(self) -> np.ndarray:
        """Volumes so far."""
        return self._need_feed().volume

    @property
    def candles(self) -> pd.DataFrame:
        """The last ``lookback`` candles as a DataFrame (a copy; prefer the arrays in hot loops)."""
        return self._need_feed().frame(last=self.lookback)

    @property
    def close(self) -> float:
        """The close of the candle that just closed."""
        return float(self._need_feed().close[-1])

    @property
    def time(self) -> pd.Timestamp:
        """Open time of the candle that just closed (UTC)."""
        return pd.Timestamp(self._need_feed().last_ms, unit="ms", tz="UTC")

    @property
    def position(self) -> Decimal:
        """Base held from this strategy's own fills (exact)."""
        return self._need_broker().position(self._symbol)

    @property
    def flat(self) -> bool:
        """True when the position is below one quantity step (fee dust counts as flat)."""
        b = self._need_broker()
        return abs(b.position(self._symbol)) < b.step_size(self._symbol)

    @property
    def cash(self) -> Decimal:
        """Free quote balance."""
        return self._need_broker().cash(self._symbol)

    @property
    def open_orders(self) -> int:
        """Working orders of this strategy in its symbol."""
        return self._need_broker().open_orders(self._symbol)

    # -- how next() acts --------------------------------------------------------------------------------
    def buy(self, size: Decimal | str | float, limit: Decimal | str | float | None = None) -> str:
        """Buy ``size`` base at market, or at ``limit``; returns the client order id ("" if none)."""
        return self._decide("buy", size, limit)

    def sell(self, size: Decimal | str | float, limit: Decimal | str | float | None = None) -> str:
        """Sell ``size`` base at market, or at ``limit``; returns the client order id ("" if none)."""
        return self._decide("sell", size, limit)

    def close_position(self, limit: Decimal | str | float | None = None) -> str:
        """Sell the position rounded down to the quantity step; "" (no order) when flat."""
        b = self._need_broker()
        step = b.step_size(self._symbol)
        qty = (b.position(self._symbol) / step).to_integral_value(rounding=ROUND_FLOOR) * step
        if qty <= 0:
            return ""
        return self._decide("sell", qty, limit)

    def cancel_all(self) -> None:
        """Cancel this strategy's working orders in its symbol."""
        self._decide("cancel_all", None, None)

    def _decide(self, action: str, size: Any, limit: Any) -> str:
        broker = self._need_broker()
        assert self._candle_ms is not None
        qty = _amount("size", size) if size is not None else None
        px = _amount("limit", limit) if limit is not None else None
        d = Decision(decision_id(self.run_name, self._symbol, self._candle_ms, self._seq), self.run_name,
                     self._symbol, self._candle_ms, self._seq, action, qty, px,
                     float(self._need_feed().close[-1]))  # fmt: skip
        self._seq += 1
        cid = broker.execute(d)
        self.decisions.append(replace(d, client_id=cid or ""))
        return cid or ""

    # -- how a driver runs it -----------------------------------------------------------------------------
    def attach(self, symbol: str, feed: Feed, broker: Broker, *, run: str | None = None) -> None:
        """Bind to a symbol's candles and a broker (a replay or :mod:`kit.run` does this)."""
        self._symbol = symbol
        self._feed = feed
        self._broker = broker
        self.run_name = run if run is not None else self.default_run_name()

    def step(self) -> list[Decision]:
        """Run ``next()`` for the feed's newest candle; return the decisions it took."""
        feed = self._need_feed()
        if self._broker is None:
            raise ConfigError(f"{type(self).__name__} is not attached", hint="Call attach() first.")
        before = len(self.decisions)
        self._candle_ms, self._seq = feed.last_ms, 0
        try:
            if not self._started:
                self._started = True
                self.init()
            self.next()
        finally:
            self._candle_ms = None
        return self.decisions[before:]

    def as_replay_callback(self, candles: pd.DataFrame, market: Market, *, warmup: int = 0,
                           run: str | None = None) -> Callable[[Context], None]:  # fmt: skip
        """A ``strategy(ctx)`` callback for :func:`kit.engine.replay.run` driving this instance.

        ``warmup`` leading candles are visible to the strategy but ``next()`` is not called on
        them (what a forward run's ``lookback`` load does), so replay and forward agree.
        """
        feed = Feed.from_frame(candles)
        broker = _ReplayBroker(market)
        self.attach(market.symbol, feed, broker, run=run)

        def callback(ctx: Context) -> None:
            feed.cut(ctx.i + 1)
            if ctx.i < warmup:
                return
            broker.ctx = ctx
            self.step()

        return callback


def _amount(name: str, value: Any) -> Decimal:
    if isinstance(value, bool):
        raise OrderRejected(f"{name}={value!r} is a bool, not an amount",
                            hint="Pass a number or a decimal string. No request was sent.")  # fmt: skip
    try:
        d = value if isinstance(value, Decimal) else Decimal(repr(value) if isinstance(value, float) else str(value))
    except (InvalidOperation, ValueError, TypeError):
        raise OrderRejected(f"{name}={value!r} is not a number",
                            hint="Pass a number or a decimal string. No request was sent.") from None  # fmt: skip
    if not d.is_finite() or d <= 0:
        raise OrderRejected(f"{name}={value!r} must be a positive finite number",
                            hint="Pass a positive amount. No request was sent.")  # fmt: skip
    return d


class _ReplayBroker:
    """The replay's :class:`~kit.engine.replay.Context` seen as a :class:`Broker`."""

    def __init__(self, market: Market) -> None:
        self.market = market
        self.ctx: Context | None = None

    def _ctx(self) -> Context:
        if self.ctx is None:
            raise KitError("the replay has not reached the strategy yet")
        return self.ctx

    def execute(self, decision: Decision) -> str:
        ctx = self._ctx()
        if decision.action == "cancel_all":
            ctx.cancel_all()
            return ""
        assert decision.size is not None
        fn = ctx.buy if decision.action == "buy" else ctx.sell
        return fn(decision.size, decision.limit)

    def position(self, symbol: str) -> Decimal:
        return self._ctx().position

    def cash(self, symbol: str) -> Decimal:
        return self._ctx().cash

    def open_orders(self, symbol: str) -> int:
        return self._ctx().open_orders

    def step_size(self, symbol: str) -> Decimal:
        return self.market.step_size
