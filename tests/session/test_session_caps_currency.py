"""Caps in one reference currency (#12.1), through real ccxt against localnet.

The audit: on ETH/BTC a "20 per order" cap allowed 390 ETH at 0.05 BTC (19.5 BTC), because caps were
compared in the symbol's quote currency. Caps are USD; ETH/BTC is converted at BTC/USDT's last price.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from lab.lab import Lab

from kit.errors import CapExceeded, GuardRefused
from kit.journal.journal import Journal
from kit.safety.guard import Caps


def _posted(lab: Lab, since: int) -> list[dict[str, Any]]:
    return [r for r in lab.server_log()[since:] if r["method"] == "POST" and r["path"] == "/api/v3/order"]


def _caps(**kw: Any) -> Caps:
    kw.setdefault("max_order_notional", "20")
    kw.setdefault("max_daily_notional", "100")
    return Caps(**kw)


def test_a_20_usd_cap_refuses_390_eth_at_0_05_btc(lab: Lab) -> None:
    s = lab.session(caps=_caps())
    btc_usd = Decimal(str(s.ticker("BTC/USDT")["last"]))
    n = lab.server_count()
    with lab.raises(CapExceeded, match="per-order cap 20 USD") as info:
        s.place("ETH/BTC", "buy", "390", price="0.05")
    text = str(info.value)
    assert "19.5 BTC" in text and "USD/BTC" in text and "No request was sent" in text
    assert info.value.value == Decimal("19.5") * btc_usd  # the order's value in USD, at BTC/USDT's last price
    assert info.value.allowed == Decimal("20")
    assert _posted(lab, n) == []
    # the conversion price was read from the exchange (a ticker), nothing was sent to the order endpoint
    assert any(r["path"] == "/api/v3/ticker/24hr" for r in lab.server_log()[n:])


def test_a_small_eth_btc_order_within_the_usd_cap_is_placed_and_counts_in_usd(lab: Lab) -> None:
    s = lab.session(caps=_caps())
    btc_usd = Decimal(str(s.ticker("BTC/USDT")["last"]))
    eth_btc = Decimal(str(s.ticker("ETH/BTC")["last"]))
    price = (eth_btc * Decimal("0.9")).quantize(Decimal("0.00001"))
    amount = Decimal("0.005")
    o = s.place("ETH/BTC", "buy", str(amount), price=str(price))
    assert o["status"] == "open"
    with Journal(lab.journal_path) as j:
        (intent,) = j.events(kinds=["intent"], client_id=o["clientOrderId"])
    usd = amount * price * btc_usd
    assert Decimal(str(intent.payload["ref_notional"])) == usd and intent.payload["ref_currency"] == "USD"
    assert s.today()["notional"] == usd and s.today()["currency"] == "USD"
    assert usd < 20


def test_the_daily_cap_adds_orders_of_different_quotes_in_usd(lab: Lab) -> None:
    s = lab.session(caps=_caps(max_order_notional="20", max_daily_notional="30"))
    btc_usd = Decimal(str(s.ticker("BTC/USDT")["last"]))
    s.place("BTC/USDT", "buy", "0.0003", price=str((btc_usd * Decimal("0.9")).quantize(Decimal("0.01"))))
    eth_btc = Decimal(str(s.ticker("ETH/BTC")["last"]))
    price = (eth_btc * Decimal("0.9")).quantize(Decimal("0.00001"))
    usd_per_eth = price * btc_usd
    amount = (Decimal("15") / usd_per_eth).quantize(Decimal("0.001"))  # about 15 USD: over 30 with the first
    n = lab.server_count()
    with lab.raises(CapExceeded, match="over the daily cap 30 USD"):
        s.place("ETH/BTC", "buy", str(amount), price=str(price))
    assert _posted(lab, n) == []


def test_a_missing_conversion_refuses_the_order(lab: Lab) -> None:
    # caps in EUR: localnet lists no EUR market, so no order can be valued; it is refused, never allowed
    s = lab.session(caps=_caps(currency="EUR"))
    n = lab.server_count()
    with lab.raises(GuardRefused, match="no USDT/EUR price is known") as info:
        s.place("BTC/USDT", "buy", "0.0001", price="50000")
    assert "No request was sent" in str(info.value)
    assert _posted(lab, n) == []
    with Journal(lab.journal_path) as j:
        (refusal,) = [e for e in j.events(kinds=["guard"]) if e.payload.get("decision") == "refuse"]
    assert refusal.payload["rule"] == "conversion"


def test_amend_added_notional_counts_toward_the_daily_cap_in_usd(lab: Lab) -> None:
    s = lab.session(caps=_caps(max_order_notional="20", max_daily_notional="25"))
    o = s.place("BTC/USDT", "buy", "0.0002", price="50000")  # 10 USD
    o = s.amend("BTC/USDT", order_id=o["id"], amount="0.0003")  # 15 USD: adds 5
    assert s.today()["notional"] == Decimal("15")
    with lab.raises(CapExceeded, match="over the daily cap 25 USD"):
        s.place("BTC/USDT", "buy", "0.0003", price="50000")  # 15 more: 30 > 25


def test_status_bar_names_the_caps_currency(lab: Lab) -> None:
    from kit.views.ui.status import status_html

    s = lab.session(caps=_caps())
    assert s.status()["caps"].startswith("per order 20 USD, per day 100 USD")
    assert "caps: per order 20 USD" in status_html(s.status())
    assert lab.session().status()["caps"] is None  # testnet defaults: no caps, no chip
