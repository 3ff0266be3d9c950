"""Real browser (#17, "Done when"): notebook 03 after "Run All Cells", and every HTML report offline.

1. JupyterLab on 127.0.0.1 with a KIT_HOME and no localnet in its environment, as a user starts
   it: notebook 03 starts its own private localnet (``prepare``). The test clicks Run > Run All
   Cells, waits for the last cell, and then uses the ticket and the blotter the notebook leaves on
   screen: place a resting limit order (Place, Confirm), move it with the blotter's Amend, cancel
   it with its Cancel button; the ticket's line follows each step. At 1500 px the Amend and Cancel
   captions fit their buttons. No request leaves 127.0.0.1.
2. ``kit demo`` writes every report; each HTML page is opened from disk with every request that is
   not ``file:`` (or ``data:``/``blob:``) blocked and recorded: none may be made, and every widget
   output (rendered from its saved state) has content.

Set up as in ``shared/specs/browser-testing.md``; without ``/usr/bin/chromium`` these skip locally
and fail under CI (``require_chromium``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser.conftest import CHROMIUM_ARGS, TOKEN, require_chromium

pytestmark = pytest.mark.browser

HERE = Path(__file__).parent
OUT = HERE / "out"
REPO = HERE.parents[1]
LOCAL = ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")


@pytest.mark.timeout(600)
def test_notebook_03_run_all_leaves_a_ticket_and_blotter_that_work(request: pytest.FixtureRequest) -> None:
    chromium = require_chromium()
    from playwright.sync_api import expect, sync_playwright

    url, log, _home = request.getfixturevalue("lab03")
    OUT.mkdir(exist_ok=True)
    outside: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        try:
            page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(LOCAL) else None)
            page.goto(f"{url}/lab/tree/03_testnet_orders.ipynb?token={TOKEN}")
            expect(page.locator("#jp-main-statusbar")).to_contain_text("| Idle", timeout=90_000)
            page.locator(".lm-MenuBar-itemLabel:text-is('Run')").click()
            page.locator(".lm-Menu-itemLabel:text-is('Run All Cells')").click()
            # The last cell prints the kill file: every cell before it ran, and none closed the widgets.
            last_cell = page.locator(".jp-OutputArea-output", has_text=re.compile(r"kill switch: \S+ \(not engaged\)"))
            expect(last_cell).to_be_visible(timeout=180_000)
            errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']",
                                  has_text="Traceback")  # fmt: skip
            expect(errors).to_have_count(0)

            ticket = page.locator(".kt-ticket").first
            status = ticket.locator(".kt-status .widget-html-content")
            expect(page.locator(".kt-statusbar").first).to_contain_text("kill switch off")
            info = ticket.locator(".kt-info")
            expect(info).to_contain_text(re.compile(r"last\s+[\d.]+"), timeout=10_000)
            found = re.search(r"last\s+([\d.]+)", info.text_content() or "")
            assert found, info.text_content()
            last = float(found.group(1))
            bid = f"{last - 1000:.2f}"  # the market moves by itself now (#17.4): far enough not to fill meanwhile

            # Place (then Confirm) a resting limit buy with the ticket the notebook left on screen.
            ticket.locator(".kt-type select").select_option("limit")
            ticket.locator(".kt-qty input").fill("0.001")
            ticket.locator(".kt-qty input").press("Tab")
            ticket.locator(".kt-price input").fill(bid)
            ticket.locator(".kt-price input").press("Tab")
            place = ticket.locator("button.kt-place")
            expect(place).to_be_enabled(timeout=10_000)
            place.click()
            confirm = ticket.locator("button.kt-confirm")
            expect(confirm).to_contain_text("Confirm: BUY 0.001 BTC/USDT", timeout=10_000)
            confirm.click()
            expect(status).to_contain_text("open: BUY BTC/USDT, filled 0 of 0.001", timeout=20_000)
            order_id = status.inner_text().split()[1]

            # The blotter (shown twice by the notebook: two views of one widget) lists it; its buttons fit.
            amend = page.locator(f"button.kt-amend-{order_id}").first
            expect(amend).to_be_visible(timeout=20_000)
            for button in (amend, page.locator(f"button.kt-cancel-{order_id}").first):
                fits = button.evaluate("b => b.scrollWidth <= b.clientWidth")
                assert fits, f"{button.inner_text()!r} is cut at 1500 px"
            page.locator(".kt-blotter").first.screenshot(path=str(OUT / "walk-blotter.png"))

            # Amend in the blotter: the ticket's line follows.
            moved = f"{last - 1005:.2f}"
            page.locator(f".kt-amend-price-{order_id} input").first.fill(moved)
            amend.click()
            message = page.locator(".kt-blotter-message .widget-html-content").first
            expect(message).to_contain_text(f"order {order_id} replaced by ", timeout=20_000)
            new_id = message.inner_text().split("replaced by ")[1].split()[0]
            expect(status).to_contain_text(f"Order {order_id} replaced by {new_id}", timeout=10_000)

            # Cancel it with its button.
            cancel = page.locator(f"button.kt-cancel-{new_id}").first
            expect(cancel).to_be_visible(timeout=20_000)
            cancel.click()
            expect(message).to_contain_text(f"order {new_id} canceled", timeout=20_000)
            expect(status).to_contain_text(f"Order {new_id} canceled", timeout=10_000)
            expect(page.locator(f"button.kt-cancel-{new_id}")).to_have_count(0, timeout=20_000)
            page.screenshot(path=str(OUT / "walk.png"))
        except Exception:
            page.screenshot(path=str(OUT / "walk-failure.png"))
            print(f"JupyterLab log (tail):\n{log.read_text(errors='replace')[-4000:]}")
            raise
        finally:
            browser.close()
    assert outside == [], f"the page requested non-local URLs: {outside[:5]}"


@pytest.mark.timeout(900)
def test_every_report_opens_offline_with_every_widget_shown(tmp_path: Path) -> None:
    chromium = require_chromium()
    from harness import clean_env, environment
    from playwright.sync_api import sync_playwright

    from kit.cli.demo import run

    out = tmp_path / "reports"
    with environment(clean_env(tmp_path / "user-home")):
        run(out, quiet=True)
    pages = sorted(out.rglob("*.html"))
    names = {p.relative_to(out).as_posix() for p in pages}
    assert {"demo.html", "daily.html", "drift.html", "demo/03_testnet_orders.html"} <= names, names
    blocked: dict[str, list[str]] = {}
    widgets: dict[str, list[str]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            for html in pages:
                name = html.relative_to(out).as_posix()
                page = browser.new_page(viewport={"width": 1500, "height": 1000})

                def block(route: object, name: str = name) -> None:
                    url = route.request.url  # type: ignore[attr-defined]
                    if url.startswith(("file:", "data:", "blob:")):
                        route.continue_()  # type: ignore[attr-defined]
                    else:
                        blocked.setdefault(name, []).append(url)
                        route.abort()  # type: ignore[attr-defined]

                page.route("**/*", block)
                page.goto(html.as_uri(), wait_until="load")
                page.wait_for_timeout(300)  # scripts run after load (plotly, any widget manager) would ask now
                texts = page.locator(".jp-OutputArea-output > .kt-static-widget").all_inner_texts()
                widgets[name] = texts
                assert all(t.strip() for t in texts), f"{name}: an empty widget output"
                assert page.locator(".jupyter-widgets-view, .kt-widget-missing").count() == 0, name
                page.close()
        finally:
            browser.close()
    assert blocked == {}, f"reports asked for outside URLs: { {k: v[:3] for k, v in blocked.items()} }"
    walk = " ".join(widgets["demo/03_testnet_orders.html"])
    assert "Order ticket" in walk and "Blotter" in walk and "kill switch" in walk  # the widgets, as they ended
    assert len(widgets["demo/03_testnet_orders.html"]) >= 3
