"""Real browser: JupyterLab + ipywidgets + Debian chromium (Playwright), trading on a localnet.

The test starts a localnet, then JupyterLab on 127.0.0.1 whose kernels get the localnet's URL and
trade key through the environment, opens the fixture notebook ``ticket.ipynb``, runs it, fills
the order ticket (symbol, type market, qty), clicks Place then Confirm, and checks that the
blotter lists the fill, and that the localnet has the trade. Then a resting limit order is filled
by a trade printed on the localnet from outside the kernel (the blotter must show it live), and
another one is moved with the blotter's amend (new price, Amend) and then cancelled with its cancel
button. A screenshot goes to
``tests/browser/out/`` (git-ignored output).

Set up as in ``shared/specs/browser-testing.md``: ``apt-get install -y chromium`` (never
``playwright install``). Without ``/usr/bin/chromium`` the test skips locally and fails under CI.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import CHROMIUM_ARGS, TOKEN, require_chromium

pytestmark = pytest.mark.browser

HERE = Path(__file__).parent
OUT = HERE / "out"


def test_ticket_places_a_market_order_and_the_blotter_shows_the_fill(request: pytest.FixtureRequest) -> None:
    # Checked in the test body (not a fixture) so that a missing browser under CI is a FAILED test.
    chromium = require_chromium()
    from playwright.sync_api import expect, sync_playwright

    t_setup = time.monotonic()
    localnet: Any = request.getfixturevalue("localnet")
    url, _log = request.getfixturevalue("lab")
    OUT.mkdir(exist_ok=True)
    outside: list[str] = []
    t0 = time.monotonic()
    timings: dict[str, float] = {"localnet + lab up": t0 - t_setup}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1050})
        try:
            page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(
                ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")) else None)  # fmt: skip
            page.goto(f"{url}/lab/tree/ticket.ipynb?token={TOKEN}")
            expect(page.locator("#jp-main-statusbar")).to_contain_text("| Idle", timeout=60_000)
            timings["kernel idle"] = time.monotonic() - t0
            page.locator(".lm-MenuBar-itemLabel:text-is('Run')").click()
            page.locator(".lm-Menu-itemLabel:text-is('Run All Cells')").click()
            status = page.locator(".kt-status .widget-html-content")
            expect(status).to_have_text("No order placed yet.", timeout=60_000)
            expect(page.locator(".jp-OutputArea-output", has_text="ready")).to_be_visible(timeout=30_000)
            timings["widgets shown"] = time.monotonic() - t0

            message = page.locator(".kt-message .widget-html-content")
            place = page.locator("button.kt-place")
            confirm = page.locator("button.kt-confirm")
            # As you type: an off-tick limit price is refused before anything is sent.
            page.locator(".kt-symbol select").select_option("BTC/USDT")
            page.locator(".kt-type select").select_option("limit")
            page.locator(".kt-qty input").fill("0.001")
            page.locator(".kt-price input").fill("60000.005")
            expect(message).to_contain_text("PRICE_FILTER", timeout=10_000)
            expect(place).to_be_disabled()

            # The market order: symbol, type, quantity; Place, then Confirm.
            page.locator(".kt-type select").select_option("market")
            page.locator(".kt-qty input").fill("0.001")
            page.locator(".kt-qty input").press("Tab")
            expect(page.locator(".kt-preview .widget-html-content")).to_contain_text("notional", timeout=10_000)
            expect(message).to_have_text("")
            expect(place).to_be_enabled()
            place.click()
            expect(confirm).to_have_text("Confirm: BUY 0.001 BTC/USDT @ market", timeout=10_000)
            page.screenshot(path=str(OUT / "ticket-confirm.png"))
            confirm.click()
            expect(status).to_contain_text("closed: BUY BTC/USDT, filled 0.001 of 0.001", timeout=20_000)
            order_id = status.inner_text().split()[1]

            fills = page.locator(".kt-fills tr.kt-fill")
            expect(fills).to_have_count(1, timeout=20_000)
            expect(fills.first).to_contain_text("BTC/USDT")
            expect(fills.first).to_contain_text("BUY")
            expect(fills.first).to_contain_text(order_id)
            expect(page.locator(".kt-statusbar")).to_contain_text("localnet · testnet")
            timings["filled and shown"] = time.monotonic() - t0

            # A resting limit buy, filled later by a trade printed on the localnet from outside the
            # kernel: only the blotter's live updates (private streams, or polling) can show that fill.
            ex = localnet.client("trader", enableRateLimit=False)
            bid = round(float(ex.fetch_ticker("BTC/USDT")["last"]) - 100, 2)
            page.locator(".kt-type select").select_option("limit")
            page.locator(".kt-price input").fill(f"{bid:.2f}")
            page.locator(".kt-price input").press("Tab")
            expect(place).to_be_enabled(timeout=10_000)
            place.click()
            expect(confirm).to_have_text(f"Confirm: BUY 0.001 BTC/USDT @ {bid:.2f}", timeout=10_000)
            confirm.click()
            expect(status).to_contain_text("open: BUY BTC/USDT, filled 0 of 0.001", timeout=20_000)
            resting_id = status.inner_text().split()[1]
            expect(page.locator(f"button.kt-cancel-{resting_id}")).to_be_visible(timeout=10_000)
            localnet.inject_trade("BTCUSDT", round(bid - 100, 2), "1", side="sell")
            expect(fills).to_have_count(2, timeout=20_000)
            expect(fills.first).to_contain_text(resting_id)
            expect(page.locator(".kt-orders")).to_contain_text("no open orders", timeout=10_000)
            timings["later fill shown live"] = time.monotonic() - t0
            page.screenshot(path=str(OUT / "ticket.png"))
            page.locator(".kt-panel").screenshot(path=str(OUT / "ticket-panel.png"))

            # The blotter's cancel button cancels on the exchange (a new bid: the print moved the price).
            bid = round(float(ex.fetch_ticker("BTC/USDT")["last"]) - 100, 2)
            page.locator(".kt-price input").fill(f"{bid:.2f}")
            page.locator(".kt-price input").press("Tab")
            place.click()
            expect(confirm).to_have_text(f"Confirm: BUY 0.001 BTC/USDT @ {bid:.2f}", timeout=10_000)
            confirm.click()
            expect(status).not_to_contain_text(f"Order {resting_id} ", timeout=20_000)  # the new order's line
            expect(status).to_contain_text("open: BUY BTC/USDT", timeout=20_000)
            first_id = status.inner_text().split()[1]
            # The blotter's amend: type a new price in the order's row, click Amend (cancel-replace).
            blotter_message = page.locator(".kt-blotter-message .widget-html-content")
            moved = f"{bid - 5:.2f}"
            page.locator(f".kt-amend-price-{first_id} input").fill(moved)
            page.locator(f"button.kt-amend-{first_id}").click()
            expect(blotter_message).to_contain_text(f"order {first_id} replaced by ", timeout=10_000)
            cancel_id = blotter_message.inner_text().split("replaced by ")[1].split()[0]
            expect(page.locator(f"button.kt-cancel-{cancel_id}")).to_be_visible(timeout=10_000)
            timings["amended"] = time.monotonic() - t0
            page.locator(f"button.kt-cancel-{cancel_id}").click()
            expect(blotter_message).to_contain_text(f"order {cancel_id} canceled", timeout=10_000)
            expect(page.locator(".kt-orders")).to_contain_text("no open orders", timeout=10_000)
            timings["cancelled"] = time.monotonic() - t0
        except Exception:
            page.screenshot(path=str(OUT / "failure.png"))
            print(f"JupyterLab log (tail):\n{_log.read_text(errors='replace')[-4000:]}")  # shown on failure
            raise
        finally:
            browser.close()

    # The exchange agrees (read with a separate ccxt client, not through the kernel).
    # In trade-id order: on this stepped clock both fills share one millisecond, and ccxt sorts
    # trades by (timestamp, id as a string), so ids 9 and 11 would come back as "11", "9".
    trades = sorted(ex.fetch_my_trades("BTC/USDT"), key=lambda t: int(t["id"]))
    assert [str(t["order"]) for t in trades] == [order_id, resting_id]
    assert ex.fetch_open_orders("BTC/USDT") == []
    assert ex.fetch_order(first_id, "BTC/USDT")["status"] == "canceled"  # replaced by the amend
    amended = ex.fetch_order(cancel_id, "BTC/USDT")
    assert amended["status"] == "canceled" and f"{amended['price']:.2f}" == moved
    assert outside == [], f"the page requested non-local URLs: {outside[:5]}"
    (OUT / "timings.json").write_text(json.dumps({k: round(v, 2) for k, v in timings.items()}, indent=1))
