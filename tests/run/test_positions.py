"""A forward run's position against the exchange's balance, and a sell of it right after its buy.

Real ccxt against a stepped localnet (``lab.lab``) with BTC/USDT and two synthetic symbols copied
from its config under other base names (``S1/USDT``, ``S2/USDT``, as ``tests/run/test_memory.py``
has them). A strategy buys when flat and sells its position on the next candle.

What was reported: the run stopped with ``InsufficientFunds`` on a sell, its position (0.0200799)
above the "free" balance the refusal named (0.01998). What it was: not the position. The journal's
fills match the exchange's own trades (amount, commission and commission asset, the base fee on a
buy deducted on both sides, every symbol alike), and the position equals what the account
received. The refusal was the Session's own funds check, sent nothing, and compared the sell with
a free balance read before the buy had filled: the read is reused for ``balance_max_age_s``
(10 s), and a stepped localnet closes many candles within that. The reuse assumed a placed order
only takes from the free balance; a filled buy adds base (a filled sell adds quote). Now a fill
the Session journals drops the read (``SessionBase._record_trade``): the next check reads again.
"""

from __future__ import annotations

import dataclasses
from decimal import ROUND_UP, Decimal
from typing import Any

import pytest
from lab.lab import Lab

from kit.errors import InsufficientFunds
from kit.run import Runner
from kit.strategy import Strategy

SYMS = ["BTC/USDT", "S1/USDT", "S2/USDT"]


@pytest.fixture()
def lab_config() -> dict[str, Any]:
    from kit.localnet.config import DEFAULT_SYMBOLS

    btc = DEFAULT_SYMBOLS[0]
    extra = tuple(
        dataclasses.replace(btc, symbol=f"S{i}USDT", base=f"S{i}", price=Decimal(1000 + 100 * i)) for i in (1, 2)
    )
    return {"history_minutes": 30, "symbols": (btc, *extra)}


class Flip(Strategy):
    """Buy about 20 USDT when flat (amount rounded up to 0.0001); sell the position on the next candle."""

    lookback = 3

    def next(self) -> None:
        if self.flat:
            self.buy((Decimal(20) / Decimal(repr(self.close))).quantize(Decimal("0.0001"), rounding=ROUND_UP))
        else:
            self.close_position()


def _dec(v: Any) -> Decimal:
    return Decimal(repr(v)) if isinstance(v, float) else Decimal(str(v or 0))


@pytest.mark.slow  # 8 closes of 3 orders through real ccxt, trades read back: 1.1 s here (load 1.7), 2-4 s loaded
def test_a_sell_of_the_position_after_its_buy_is_sent_and_the_position_is_what_the_account_received(
    lab: Lab,
) -> None:
    s = lab.session()
    start = {a: _dec(v) for a, v in s.free_balances().items()}  # a read the funds check reuses for 10 s
    r = Runner(s, Flip, SYMS, poll_s=0.05, schedule="poll", reconcile=False)
    r.prepare()
    for _ in range(8):
        lab.net.step(60_000)
        assert r.poll_once() == len(SYMS), r.reason  # every close sends one order per symbol: none refused
        assert not r.reason
    assert r.broker.sent == 8 * len(SYMS)
    ex = lab.client()  # the exchange's own view, through a plain ccxt client
    free = {a: _dec(v) for a, v in ex.fetch_balance()["free"].items()}
    fills = [e for e in s.journal.events(kinds=["fill"]) if e.symbol in SYMS]
    for sym in SYMS:
        base = str(s.market(sym)["base"])
        # the position is exactly what the account received: bought, less the base fees, less sold
        assert r.broker.position(sym) == free.get(base, Decimal(0)) - start.get(base, Decimal(0)), sym
        assert Decimal(0) <= r.broker.position(sym) < Decimal("0.00001")  # after a sell: dust below one step
        theirs = {str(t["id"]): t for t in ex.fetch_my_trades(sym)}
        mine = {e.trade_id: e.payload for e in fills if e.symbol == sym}
        assert sorted(mine) == sorted(theirs) and len(mine) == 8, sym
        for tid, p in mine.items():
            raw = theirs[tid]["info"]  # Binance's myTrades row: qty, commission, commissionAsset
            exchange = (Decimal(raw["qty"]), Decimal(raw["commission"]), raw["commissionAsset"])
            assert (_dec(p["amount"]), _dec(p["fee_cost"]), p["fee_currency"]) == exchange, (sym, tid)
            assert p["fee_currency"] == (base if p["side"] == "buy" else "USDT")  # Binance: fee in what you receive


def _account_reads(lab: Lab) -> int:
    """``GET /api/v3/account`` requests the localnet has answered (its own request log)."""
    return (lab.tmp / "ln" / "requests.log").read_text().count('"path":"/api/v3/account"')


@pytest.mark.slow  # a localnet, a Session and a few requests through real ccxt: 1 s here (load 1.7), 1-3 s loaded
def test_a_fill_drops_the_free_balance_read_the_funds_check_reuses(lab: Lab) -> None:
    """A read from before a buy's fill understates the base: after the fill, the funds check reads again.

    Then the new read is reused as before (an order it covers, and a refusal it supports, cost no
    request: ``tests/session/test_session_order_rules.py``); the ticket's preview
    (``read_balance=False``) reads nothing, and with no read since the fill leaves the funds to
    :meth:`place`.
    """
    s = lab.session()
    assert s.free_balances().get("S1", Decimal(0)) == 0  # read now, reused for balance_max_age_s
    s.place("S1/USDT", "buy", "0.02")  # fills at once: the account now holds 0.01998 S1 (0.1 % fee in S1)
    reads = _account_reads(lab)
    assert s.check("S1/USDT", "sell", "0.01998").intent.amount == Decimal("0.01998")  # was: refused, free 0
    assert _account_reads(lab) == reads + 1  # the fill dropped the old read: one new read
    s.check("S1/USDT", "sell", "0.01")  # the new read is reused: no request
    with pytest.raises(InsufficientFunds, match="free 0.01998"):  # a real shortfall is still refused
        s.check("S1/USDT", "sell", "0.02")
    assert _account_reads(lab) == reads + 1
    s.place("S1/USDT", "buy", "0.02")  # another fill: 0.03996 S1
    preview = s.check("S1/USDT", "sell", "0.03", read_balance=False)  # the preview reads nothing, refuses nothing
    assert preview.intent.amount == Decimal("0.03") and not any("balance" in w for w in preview.warnings)
    assert _account_reads(lab) == reads + 1
    assert s.check("S1/USDT", "sell", "0.03996").intent.amount == Decimal("0.03996")
    assert _account_reads(lab) == reads + 2
