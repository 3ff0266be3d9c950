"""The scripted trading workload of a chaos run: one process with its own Session, killed at will.

``python -m lab.workload --home DIR --keys-file FILE --seed N`` trades on the localnet at
``KIT_LOCALNET_URL`` until the file ``DIR/STOP`` appears: limit, market, stop and iceberg
orders, amends (cancel-replace of a resting order's price, trigger or total), cancels, trades
printed through resting orders (partial fills), and reconciliations, in
a sequence fixed by the seed (:func:`plan`). It journals each step's start and end (kind
``"chaos"``), so after a SIGKILL the next process knows where it was: it reconciles first
(:func:`kit.ops.reconcile.reconcile`), then decides about the interrupted step from the journal
alone: done if its order reached the exchange, repeated only if the order provably never did.

The rules it follows are the ones a careful user follows, and what the invariants check:

- never resend an order whose outcome is unknown: look it up by client id
  (:func:`kit.ops.reconcile.settle_order`) and place it again only once it is known not placed;
- during an outage (Session degraded) send nothing new; the :class:`~kit.ops.degrade.HealthProbe`
  clears the flag when the exchange answers again;
- respect bans (:class:`~kit.errors.RateLimited` carries the wait), re-measure a drifting clock.

It prints one marker line per event on stdout (``M START``, ``M RECOVERED <ms>``, ``M STEP n``,
``M REQ`` before an order request, ``M JW`` before a journal write, ``M DONE``), which the fault
driver uses to kill it mid request or mid journal write.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import time
import urllib.request
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

from kit.errors import (
    ClockSkew,
    ConfigError,
    ExchangeUnavailable,
    KitError,
    OrderRejected,
    OrderUnknown,
    PermissionRefused,
    RateLimited,
)
from kit.journal.journal import Journal
from kit.transport.backoff import Backoff

__all__ = ["Action", "MarkingJournal", "Workload", "main", "plan"]

log = logging.getLogger("lab.workload")

ORDER_KINDS = ("limit", "market", "stop", "iceberg")
#: Outcomes of an order step.
PLACED, NOT_PLACED, REJECTED, UNRESOLVED = "placed", "not_placed", "rejected", "unresolved"
SYMBOLS = {
    "BTC/USDT": ("BTCUSDT", Decimal("0.01"), Decimal("0.00001")),
    "ETH/USDT": ("ETHUSDT", Decimal("0.01"), Decimal("0.0001")),
}


def mark(name: str, *args: Any) -> None:
    """One marker line for the fault driver (stdout, flushed)."""
    sys.stdout.write(" ".join(["M", name, *map(str, args)]) + "\n")
    sys.stdout.flush()


class MarkingJournal(Journal):
    """A Journal that announces each write on stdout (``M JW``), so a kill can land in the middle of one."""

    def append(self, kind: str, **kw: Any) -> int:
        """Mark, then append."""
        mark("JW", kind)
        return super().append(kind, **kw)

    def record_fill(self, **kw: Any) -> bool:
        """Mark, then record the fill."""
        mark("JW", "fill")
        return super().record_fill(**kw)


@dataclass(frozen=True)
class Action:
    """One step of the plan."""

    kind: str  # limit | market | stop | iceberg | drive | amend | cancel | reconcile
    symbol: str
    side: str
    size: float  # fraction of the symbol's unit size, 1.0 .. 2.0
    offset: float  # price distance from the market, as a fraction
    frac: float  # drive: fraction of the remaining amount to fill
    pick: int  # which open order (drive, amend, cancel)


_WEIGHTS = (
    ("limit", 24), ("market", 10), ("stop", 10), ("iceberg", 10), ("drive", 30), ("amend", 12), ("cancel", 12)
)  # fmt: skip
#: Order types the workload amends (those with a price or trigger resting on the book).
AMENDABLE = ("limit", "stop_limit")


def plan(seed: int, n: int) -> Action:
    """Step ``n`` of the workload for ``seed`` (the same on every run and after every restart)."""
    rng = random.Random(f"chaos:{seed}:{n}")
    if n % 25 == 24:
        kind = "reconcile"
    else:
        kind = rng.choices([k for k, _ in _WEIGHTS], weights=[w for _, w in _WEIGHTS])[0]
    symbol = "BTC/USDT" if rng.random() < 0.7 else "ETH/USDT"
    return Action(
        kind=kind,
        symbol=symbol,
        side=rng.choice(("buy", "sell")),
        size=1 + rng.random(),
        offset=0.001 + 0.004 * rng.random(),
        frac=0.2 + 0.6 * rng.random(),
        pick=rng.randrange(1_000_000),
    )


def _q(value: Decimal, unit: Decimal) -> Decimal:
    return (value / unit).to_integral_value(rounding=ROUND_DOWN) * unit


class Workload:
    """The workload loop (see the module docstring)."""

    def __init__(
        self,
        home: Path,
        keys_file: Path,
        *,
        seed: int,
        pause_s: float = 0.05,
        max_steps: int | None = None,
        admin_url: str,
    ) -> None:
        self.home = Path(home)
        self.keys_file = keys_file
        self.seed = seed
        self.pause_s = pause_s
        self.max_steps = max_steps
        self.admin_url = admin_url.rstrip("/")
        self.journal = MarkingJournal(self.home / "journal.sqlite")
        self.session: Any = None
        self.alerter: Any = None
        self.watcher: Any = None
        self.probe: Any = None
        self.streams: Any = None
        self.t0 = time.monotonic()
        self._begin_seq = 0
        self._begin_ms = 0

    # -- setup -------------------------------------------------------------------------------------
    def stop_requested(self) -> bool:
        """True once the driver asked the workload to finish (``home/STOP`` exists)."""
        return (self.home / "STOP").exists()

    def connect(self) -> None:
        """Open the Session, retrying while the exchange is down or banning us."""
        from kit.ops.alerts import Alerter, AlertWatcher
        from kit.session import Session

        self.alerter = Alerter(journal=self.journal, venue="localnet", account="default")
        attempt = 0
        while True:
            try:
                self.session = Session(
                    "localnet",
                    journal=self.journal,
                    dotenv=self.keys_file,
                    backoff=Backoff(base_s=0.2, cap_s=1.0, max_tries=4),
                    # Binance's default window; ccxt sends 10 s. Shorter: unknown orders settle sooner.
                    recv_window_ms=5000,
                )
                break
            except (ConfigError, PermissionRefused):
                raise
            except KitError as exc:
                if isinstance(exc, ExchangeUnavailable):
                    self.alerter.report("exchange_down", f"cannot connect: {exc}"[:200], subject="localnet")
                self.alerter.tick()
                attempt += 1
                wait = getattr(exc, "retry_after_ms", None)
                time.sleep(min(2.0, 0.2 * attempt) + (wait / 1000 if wait else 0))
        from kit.ops import degrade
        from kit.session.streams import watch

        self.probe = degrade.attach(self.session, backoff=Backoff(base_s=0.2, cap_s=1.0, max_tries=10**6))
        self.streams = watch(self.session)
        self.watcher = AlertWatcher(self.session, self.alerter, interval_s=0.25, streams=self.streams).start()

    def recover(self) -> None:
        """Reconcile until nothing is pending (bounded), then report the recovery time."""
        from kit.ops.reconcile import reconcile

        deadline = time.monotonic() + 60
        while True:  # one complete pass; orders still inside their window are settled by resume_point
            try:
                reconcile(self.session)
                break
            except KitError as exc:
                if time.monotonic() > deadline:
                    log.warning("startup reconcile gave up: %s", exc)
                    break
            time.sleep(0.5)
        mark("RECOVERED", int((time.monotonic() - self.t0) * 1000))

    # -- the loop ----------------------------------------------------------------------------------
    def resume_point(self) -> int:
        """The step to run next, from the journal's ``chaos`` events and the interrupted step's orders."""
        from kit.ops.reconcile import settle_order

        evs = self.journal.events(kinds=["chaos"], venue="localnet")
        begun = {int(e.get("step")): e for e in evs if e.get("phase") == "begin"}
        done = {int(e.get("step")) for e in evs if e.get("phase") == "done"}
        if not begun:
            return 0
        n = max(begun)
        if n in done:
            return n + 1
        action = plan(self.seed, n)
        if action.kind not in ORDER_KINDS:
            return n  # drive, cancel, reconcile: safe to run again
        cids = [e.client_id for e in self.journal.events(kinds=["intent"], venue="localnet") if e.seq > begun[n].seq]
        states = self.journal.order_states(venue="localnet")
        outcomes = []
        for cid in cids:
            status = states[cid].status if cid in states else "intent"
            if status in ("intent", "unknown"):  # reconciliation left it pending: wait for its window
                outcomes.append(settle_order(self.session, cid, symbol=action.symbol, timeout_s=60))
            else:
                outcomes.append(NOT_PLACED if status in ("rejected", "not_placed") else PLACED)
        if any(o == PLACED for o in outcomes):
            self._done(n, "placed before the restart")
            return n + 1
        return n

    def run(self) -> None:
        """Connect, recover, then run steps until asked to stop."""
        mark("START")
        self.connect()
        self.recover()
        n = self.resume_point()
        mark("RESUMED", n, int((time.monotonic() - self.t0) * 1000))
        while not self.stop_requested() and (self.max_steps is None or n < self.max_steps):
            mark("STEP", n)
            if self.step(n):
                n += 1
            time.sleep(self.pause_s)
        self.close()
        mark("DONE", n)

    def close(self) -> None:
        """Stop the helpers and close the Session (the journal stays readable)."""
        for part in (self.watcher, self.probe, self.streams):
            if part is not None:
                part.stop()
        if self.session is not None:
            self.session.close()

    def _j(self, n: int, phase: str, **kw: Any) -> int:
        return self.journal.append("chaos", venue="localnet", account="default", step=n, phase=phase, **kw)

    def _done(self, n: int, outcome: str) -> None:
        self._j(n, "done", outcome=outcome)

    def step(self, n: int) -> bool:
        """Run step ``n``; True when it is finished (done or given up), False to run it again."""
        a = plan(self.seed, n)
        self._begin_ms = int(time.time() * 1000)
        self._begin_seq = self._j(n, "begin", action=a.kind, symbol=a.symbol)
        try:
            if a.kind in ORDER_KINDS:
                outcome = self.order_step(a)
            elif a.kind == "drive":
                outcome = self.drive(a)
            elif a.kind == "amend":
                outcome = self.amend(a)
            elif a.kind == "cancel":
                outcome = self.cancel(a)
            else:
                from kit.ops.reconcile import reconcile

                outcome = reconcile(self.session).summary()[:200]
        except RateLimited as exc:
            time.sleep(min(10.0, (exc.retry_after_ms or 1000) / 1000))
            return False
        except ClockSkew:
            self._resync()
            return False
        except ExchangeUnavailable:
            self._wait_healthy()
            return False
        except KitError as exc:
            outcome = f"error {type(exc).__name__}"
            log.warning("step %d (%s) failed: %s", n, a.kind, exc)
        except Exception as exc:  # a bug: say so loudly, but keep trading (the run reports it)
            outcome = f"bug {type(exc).__name__}"
            log.exception("step %d (%s) raised %s", n, a.kind, type(exc).__name__)
            mark("BUG", n, type(exc).__name__)
        self._done(n, outcome)
        return True

    def _wait_healthy(self, limit_s: float = 30.0) -> None:
        """While the Session is degraded, leave the reads to the health probe (no hammering, no weight burnt)."""
        deadline = time.monotonic() + limit_s
        time.sleep(0.2)
        while self.session.degraded and not self.stop_requested() and time.monotonic() < deadline:
            time.sleep(0.2)

    def _resync(self) -> None:
        try:
            self.session.measure_clock(samples=3)
        except KitError:
            pass
        time.sleep(0.5)

    # -- actions -----------------------------------------------------------------------------------
    def _price(self, symbol: str) -> Decimal:
        return Decimal(str(self.session.ticker(symbol)["last"]))

    def _open_orders(self, symbol: str | None = None) -> list[Any]:
        states = self.journal.order_states(venue="localnet", account="default")
        return [
            o
            for o in states.values()
            if o.status == "open" and (symbol is None or o.symbol == symbol) and o.amount is not None and o.side
        ]

    def order_step(self, a: Action) -> str:
        """Place the step's order under the rules; never a second one while the first may exist."""
        from kit.ops.reconcile import settle_order

        if len(self._open_orders()) >= 12:  # keep funds free: cancel instead
            return self.cancel(a)
        _, tick, step = SYMBOLS[a.symbol]
        unit = Decimal("0.001") if a.symbol == "BTC/USDT" else Decimal("0.02")
        amount = _q(unit * Decimal(str(a.size)), step)
        last = self._price(a.symbol)
        sign = Decimal(-1) if a.side == "buy" else Decimal(1)
        kw: dict[str, Any] = {}
        if a.kind == "limit":
            kw["price"] = _q(last * (1 + sign * Decimal(str(a.offset))), tick)
        elif a.kind == "iceberg":
            amount = _q(amount * 4, step)
            kw["price"] = _q(last * (1 + sign * Decimal(str(a.offset / 2))), tick)
            kw["iceberg_amount"] = _q(amount / 4, step)
        elif a.kind == "stop":  # a stop loss below the market for a sell, above for a buy
            trigger = _q(last * (1 - sign * Decimal(str(a.offset))), tick)
            kw.update(type="stop_limit", trigger_price=trigger, price=_q(trigger * (1 - sign * Decimal("0.001")), tick))
        for _attempt in range(20):
            mark("REQ", a.kind)
            try:
                self.session.place(a.symbol, a.side, amount, **kw)
                return PLACED
            except OrderUnknown:
                cid = self._last_intent()
                outcome = settle_order(self.session, cid, symbol=a.symbol, timeout_s=60) if cid else NOT_PLACED
                if outcome == PLACED:
                    return PLACED
                if outcome != NOT_PLACED:
                    return UNRESOLVED  # left to reconciliation; never resent blind
            except RateLimited as exc:  # refused before sending, or by the exchange: not placed
                time.sleep(min(10.0, (exc.retry_after_ms or 1000) / 1000))
            except ClockSkew:
                self._resync()
            except ExchangeUnavailable:  # degraded: nothing was sent; wait for the probe
                self._wait_healthy()
            except OrderRejected as exc:
                return f"{REJECTED} {type(exc).__name__}"
            if self.stop_requested():
                break
        return UNRESOLVED

    def _last_intent(self) -> str | None:
        """Client id of the latest intent journaled since this step began (the attempt that just failed)."""
        evs = self.journal.events(kinds=["intent"], venue="localnet", since_ms=self._begin_ms - 1000)
        mine = [e for e in evs if e.seq > self._begin_seq]
        return mine[-1].client_id if mine else None

    def drive(self, a: Action) -> str:
        """Print a trade through one of our resting orders (a partial fill), or near the market."""
        opens = self._open_orders(a.symbol)
        sid, tick, step = SYMBOLS[a.symbol]
        if not opens:
            last = self._price(a.symbol)
            self._admin_trade(sid, last, Decimal("0.001") if sid == "BTCUSDT" else Decimal("0.01"), "buy")
            return "market print"
        o = opens[a.pick % len(opens)]
        if o.price is None and not o.type.startswith("stop"):
            return f"no price to print through for {o.client_id} ({o.type})"
        remaining = (o.amount or Decimal(0)) - o.filled
        qty = max(step, _q(remaining * Decimal(str(a.frac)), step))
        if o.type.startswith("stop"):
            trigger = self._trigger_of(o.client_id)
            if trigger is None:
                return "no trigger"
            px = trigger - tick if o.side == "sell" else trigger + tick
        else:
            assert o.price is not None
            px = o.price - tick if o.side == "buy" else o.price + tick
        self._admin_trade(sid, px, qty, "sell" if o.side == "buy" else "buy")
        return f"print {qty} through {o.client_id}"

    def _trigger_of(self, cid: str) -> Decimal | None:
        for e in self.journal.events(kinds=["intent"], venue="localnet", client_id=cid):
            tp = e.get("trigger_price")
            if tp is not None:
                return Decimal(str(tp))
        return None

    def _admin_trade(self, sid: str, price: Decimal, qty: Decimal, side: str) -> None:
        body = json.dumps({"symbol": sid, "price": str(price), "qty": str(qty), "side": side}).encode()
        req = urllib.request.Request(
            self.admin_url + "/_localnet/trade", data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                resp.read()
        except OSError as exc:  # the exchange is down (restart, crash): nothing printed
            raise ExchangeUnavailable(f"admin trade print failed: {type(exc).__name__}") from None

    def amend(self, a: Action) -> str:
        """Move one of our resting orders away from the market (price, trigger), sometimes growing its total.

        Safe to run again after a kill: an amend that went through left a new order under a new client
        id (the old one canceled), one whose reply was lost is settled by reconciliation.
        """
        opens = [o for o in self._open_orders() if o.type in AMENDABLE and o.price is not None]
        if not opens:
            return "nothing to amend"
        o = opens[a.pick % len(opens)]
        assert o.price is not None and o.amount is not None
        _, tick, step = SYMBOLS[o.symbol]
        away = Decimal(str(a.offset / 2)) * (Decimal(-1) if o.side == "buy" else Decimal(1))
        kw: dict[str, Any] = {"price": _q(o.price * (1 + away), tick)}
        if o.type == "stop_limit":
            trigger = self._trigger_of(o.client_id)
            if trigger is None:
                return "no trigger"
            kw["trigger_price"] = _q(trigger * (1 + away), tick)
        if a.frac > 0.6:  # also grow the order's total by half of what it still works
            kw["amount"] = _q(o.amount + (o.amount - o.filled) / 2, step)
        mark("REQ", "amend")
        try:
            new = self.session.amend(o.symbol, client_id=o.client_id, **kw)
        except OrderUnknown:
            return f"amend {o.client_id}: unknown (reconciliation will tell)"
        except OrderRejected as exc:  # AmendFailed included: the exchange refused part or all of it
            return f"amend {o.client_id}: {REJECTED} {type(exc).__name__}"
        return f"amended {o.client_id} -> {new.get('clientOrderId')}"

    def cancel(self, a: Action) -> str:
        """Cancel one of our open orders, by client id."""
        opens = self._open_orders()
        if not opens:
            return "nothing to cancel"
        o = opens[a.pick % len(opens)]
        mark("REQ", "cancel")
        try:
            self.session.cancel(o.symbol, client_id=o.client_id)
        except OrderUnknown:
            return f"cancel {o.client_id}: unknown (reconciliation will tell)"
        return f"cancelled {o.client_id}"


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m lab.workload``."""
    ap = argparse.ArgumentParser(prog="python -m lab.workload")
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--keys-file", type=Path, required=True)
    ap.add_argument("--admin-url", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--pause-ms", type=int, default=50)
    ap.add_argument("--max-steps", type=int, default=None)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    w = Workload(
        args.home,
        args.keys_file,
        seed=args.seed,
        pause_s=args.pause_ms / 1000,
        max_steps=args.max_steps,
        admin_url=args.admin_url,
    )
    w.run()


if __name__ == "__main__":
    main()
