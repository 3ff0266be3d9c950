"""The Session's reads: markets, balances, prices, orders, fills, candles and status.

Every read goes through :meth:`~kit.session.base.SessionBase._call` (shared rate budget, retries with
jittered backoff, errors mapped into the kit's tree). Fills a read returns are journaled exactly once;
balances are journaled as snapshots; positions come from journaled fills only.

>>> s = kit.Session("localnet")                  # doctest: +SKIP
>>> s.balances().loc["USDT", "free"]             # doctest: +SKIP
>>> s.open_orders("BTC/USDT")                    # doctest: +SKIP
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from kit.safety.guard import USD_STABLES, at_par, quote_of, reference_rate
from kit.session import frames
from kit.session.base import LATEST_MS, SessionBase, now_ms
from kit.session.ledger import CheckLedger
from kit.session.orders import features_for
from kit.transport.trade_order import in_trade_order

if TYPE_CHECKING:
    from kit.session.candles import SessionCandles


class Reads(SessionBase):
    """Read-only calls of the Session (no order is ever sent from here)."""

    def markets(self) -> pd.DataFrame:
        """Tradable symbols with tick, step and minimums."""
        rows = [
            {
                "symbol": m["symbol"],
                "base": m["base"],
                "quote": m["quote"],
                "active": m.get("active"),
                "tick": m["precision"].get("price"),
                "step": m["precision"].get("amount"),
                "min_amount": m["limits"]["amount"].get("min"),
                "min_cost": m["limits"]["cost"].get("min"),
            }
            for m in self._ex.markets.values()
        ]
        return pd.DataFrame(rows).set_index("symbol")

    def balances(self) -> pd.DataFrame:
        """Balances (free, used, total) from the exchange; also journaled as a snapshot."""
        ex = self._ex
        bal = self._call("fetch_balance", "GET", "/api/v3/account", lambda: ex.fetch_balance())
        snap = {
            a: {"free": str(bal["free"].get(a)), "used": str(bal["used"].get(a)), "total": str(t)}
            for a, t in bal["total"].items()
            if t
        }
        # Time the snapshot on the exchange's clock, at its last balance change when it says: the
        # journal adds fills after the snapshot (by trade time), so local time would count some twice.
        update = (bal.get("info") or {}).get("updateTime") if isinstance(bal.get("info"), dict) else None
        offset = self.clock_report.offset_ms if self.clock_report is not None else 0
        ts = int(update) if update else now_ms() + offset
        self._j("balance", ts_ms=ts, balances=snap, source="balances")
        return frames.balances_frame(bal)

    def ticker(self, symbol: str) -> dict[str, Any]:
        """Last price, bid and ask of ``symbol``."""
        ex = self._ex
        t = self._call(
            "fetch_ticker",
            "GET",
            "/api/v3/ticker/24hr",
            lambda: ex.fetch_ticker(symbol),
            params={"symbol": symbol},
            symbol=symbol,
        )
        if t.get("last") is not None:
            self._last_price[symbol] = Decimal(str(t["last"]))
        return t

    def open_orders(self, symbol: str | None = None) -> pd.DataFrame:
        """Open orders (all symbols when ``symbol`` is None)."""
        ex = self._ex
        params = {"symbol": symbol} if symbol else {}
        rows = self._call(
            "fetch_open_orders",
            "GET",
            "/api/v3/openOrders",
            lambda: ex.fetch_open_orders(symbol),
            params=params,
            symbol=symbol,
        )
        return frames.orders_frame(rows)

    def trades(self, symbol: str, since: int | None = None, limit: int | None = None) -> pd.DataFrame:
        """Your fills in ``symbol`` from the exchange; new ones are journaled (exactly once)."""
        ex = self._ex
        rows = self._call(
            "fetch_my_trades",
            "GET",
            "/api/v3/myTrades",
            lambda: ex.fetch_my_trades(symbol, since, limit),
            params={"symbol": symbol},
            symbol=symbol,
        )
        rows = in_trade_order(rows)  # journaled in the exchange's order
        for t in rows:
            self._record_trade(t)
        return frames.trades_frame(rows)

    def order(self, symbol: str, *, order_id: str | None = None, client_id: str | None = None) -> dict[str, Any]:
        """One order by exchange id or client order id."""
        ex = self._ex
        params = {"clientOrderId": client_id} if client_id else {}
        return self._call(
            "fetch_order",
            "GET",
            "/api/v3/order",
            lambda: ex.fetch_order(order_id, symbol, params),
            params={"symbol": symbol},
            symbol=symbol,
        )

    def candles(
        self, symbol: str, timeframe: str = "1m", start: Any = None, end: Any = None, *,
        limit: int = 500, root: str | Path = "data", fill: Any = None, progress: bool = True,
    ) -> pd.DataFrame:  # fmt: skip
        """Candles with open time in ``[start, end)``, through the candle store (:class:`kit.Store`).

        Only ranges not yet stored under ``root`` are fetched, through this Session's rate
        budget; gaps stay visible (NaN rows) unless ``fill`` is ``"drop"`` or ``"ffill"``.
        Without ``start``, the last ``limit`` candles come straight from the exchange, uncached.

        Examples
        --------
        >>> s.candles("BTC/USDT", "1m", pd.Timestamp("2024-01-01", tz="UTC"))   # doctest: +SKIP
        """
        if start is None:
            ex = self._ex
            rows = self._call(
                "fetch_ohlcv", "GET", "/api/v3/klines", lambda: ex.fetch_ohlcv(symbol, timeframe, None, limit),
                params={"symbol": symbol, "limit": limit}, symbol=symbol,
            )  # fmt: skip
            return frames.candles_frame(rows)
        from kit.store import Store

        return Store(root).candles(symbol, timeframe, start, end, source=self.candle_source(), fill=fill,
                                   progress=progress)  # fmt: skip

    def candle_source(self) -> SessionCandles:
        """The candle source :mod:`kit.store` reads through (same budget, retries and error mapping)."""
        from kit.session.candles import SessionCandles

        return SessionCandles(self)

    def market(self, symbol: str) -> dict[str, Any] | None:
        """Ccxt's market structure for ``symbol`` (tick, step, limits, fees), or ``None``; no request."""
        market: dict[str, Any] | None = self._ex.markets.get(symbol)
        return market

    def features(self) -> dict[str, Any]:
        """What this exchange supports for spot orders (ccxt's ``features`` with the kit's overrides)."""
        return features_for(self.spec.exchange_id, self._ex.features)

    def last_price(self, symbol: str) -> Decimal | None:
        """The last price seen for ``symbol`` (from :meth:`ticker`), without a request."""
        return self._last_price.get(symbol)

    def today(self) -> dict[str, Any]:
        """Open orders, notional sent and PnL today (UTC), from the journal: what the guard's caps see."""
        return self._today()

    def positions(self) -> dict[str, Decimal]:
        """Net base position per symbol, from journaled fills (never from order placement)."""
        return dict(self.journal.state_at(LATEST_MS, venue=self.venue, account=self.account).positions)

    def status(self) -> dict[str, Any]:
        """Stage, clock, rate budget, kill switch and degradation, for a status bar or report."""
        return {
            "venue": self.venue,
            "stage": self.stage.value,
            "key": self.fingerprint,
            "clock_offset_ms": self.clock_report.offset_ms if self.clock_report else None,
            "clock_rtt_ms": self.clock_report.rtt_ms if self.clock_report else None,
            "budget": self.budget.status() if self.budget else None,
            "caps": self.guard.caps.describe() if self.guard.caps != type(self.guard.caps)() else None,
            "kill_switch": self.kill_switch.engaged(),
            "kill_action": self.kill_action,
            "degraded": self.degraded,
            "warnings": list(self.warnings),
        }

    def _today(self, *, fetch: bool = False) -> dict[str, Any]:
        """Open orders, notional sent and realized PnL today (UTC), from the journal (:class:`CheckLedger`).

        Money is in the caps' reference currency (``currency``); PnL per quote currency is converted at
        the exchange's prices (``fetch``: read a ticker for a rate not seen yet). ``pnl`` is ``None`` when
        a day's PnL in some quote currency cannot be converted.
        """
        ledger = self._check_ledger()
        open_n = len(ledger.live())
        day = ledger.day(now_ms())
        notional = day.ref_notional
        for symbol, raw in day.raw_notional.items():  # intents written before caps had a reference currency
            rate = self._reference_rate(symbol, fetch=fetch)
            notional += raw * (rate if rate is not None else 1)
        by_symbol = dict(day.pnl_quote)
        for symbol, qty in day.net.items():  # today's net position change, marked at the last known price
            last = self._last_price.get(symbol)
            if last is not None:
                by_symbol[symbol] += qty * last
        total = Decimal(0)
        converted = True
        for symbol, value in by_symbol.items():
            rate = self._reference_rate(symbol, fetch=fetch) if value else Decimal(1)
            if rate is None:
                converted = False
                break
            total += value * rate
        pnl = total if converted else None
        return {"open_orders": open_n, "notional": notional, "pnl": pnl, "currency": self.guard.caps.currency}

    def _check_ledger(self) -> CheckLedger:
        """The journal's live orders and today's totals for the checks, read incrementally (made on first use)."""
        ledger: CheckLedger | None = getattr(self, "_ledger", None)
        if ledger is None or ledger.journal is not self.journal:

            def quote(symbol: str) -> Any:
                return (self._ex.markets.get(symbol) or {}).get("quote")

            ledger = CheckLedger(self.journal, venue=self.venue, account=self.account, quote_of=quote)
            self._ledger = ledger
        return ledger

    def _reference_rate(self, symbol: str, *, fetch: bool) -> Decimal | None:
        """The value of one unit of ``symbol``'s quote currency in the caps' currency, from the exchange's prices.

        ``None`` when the exchange lists no market between the two, or (``fetch`` False) none was seen yet.
        """
        cur = self.guard.caps.currency
        quote = quote_of(symbol)
        if quote and at_par(quote, cur):
            return Decimal(1)
        refs = sorted(USD_STABLES) if cur in USD_STABLES else [cur]
        prices: dict[str, Decimal] = {}
        for ref in refs:
            for sym in (f"{quote}/{ref}", f"{ref}/{quote}"):
                if sym not in self._ex.markets:
                    continue
                if fetch:
                    self.ticker(sym)
                last = self._last_price.get(sym)
                if last is not None:
                    prices[sym] = last
                    return reference_rate(quote, cur, prices)
        return None
