"""Screenshots of every participant state at 360x740 and 1280x800 (into test-artifacts/), the offline reload that
shows the last known state as stale (service worker + stored snapshot), and the page's transferred size.
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from test_participant import WAIT, console, coord, create_event, join, open_page, wait_js

pytestmark = [pytest.mark.browser, pytest.mark.server]

SIZES = [(360, 740), (1280, 800)]


def shoot(page, artifacts, name: str) -> None:
    """Save the state at a phone size and a laptop size."""
    for w, h in SIZES:
        page.set_viewport_size({"width": w, "height": h})
        page.screenshot(path=str(artifacts / f"participant-{name}-{w}x{h}.png"), full_page=True)
    page.set_viewport_size({"width": 360, "height": 740})


def no_horizontal_scroll(page) -> None:
    """Everything fits at 360 px (and so nothing is cut off)."""
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_screenshots_of_every_state(live_server, phone, artifacts):
    """join, waiting, get ready, your turn, on the spot, afterwards, offline/stale; in Russian."""
    ev = create_event(live_server, spots=[{"label": "A"}, {"label": "Б"}], ready_at=2)
    coord(live_server, ev, "start")
    coord(live_server, ev, "broadcast", text="Переходим на другую сторону площади.")
    ctx = phone()
    other = open_page(phone(), live_server, ev)
    join(other, "Первый")
    page = open_page(ctx, live_server, ev)
    expect(page.locator("#s-join")).to_be_visible()
    no_horizontal_scroll(page)
    shoot(page, artifacts, "1-join")

    join(page, "Сокол 27")
    # Three more people join after us, then people ahead are called: we wait at place 2 ("get ready").
    for name in ("Третий", "Четвёртый"):
        join(open_page(phone(), live_server, ev), name)
    expect(page.locator("#place")).to_have_text("2")
    expect(page.locator("body")).to_have_class(re.compile("is-ready"))
    shoot(page, artifacts, "3-ready")
    page.click("#btn-away")
    expect(page.locator("#away-note")).to_be_visible(timeout=WAIT)
    shoot(page, artifacts, "2-waiting-away")
    page.click("#btn-back")
    expect(page.locator("#away-note")).to_be_hidden(timeout=WAIT)

    coord(live_server, ev, "call_next")  # the first person goes to spot A
    expect(page.locator("#place")).to_have_text("1", timeout=WAIT)
    coord(live_server, ev, "call_next")  # we are called to spot Б
    expect(page.locator("#s-called")).to_be_visible(timeout=WAIT)
    expect(page.locator("#called-spot")).to_have_text("Б")
    no_horizontal_scroll(page)
    shoot(page, artifacts, "4-turn")

    page.click("#btn-arrive")
    expect(page.locator("#s-spot")).to_be_visible(timeout=WAIT)
    no_horizontal_scroll(page)
    shoot(page, artifacts, "5-on-spot")
    expect(page.locator("#btn-help")).to_be_hidden()  # "Legal help" once: the on-spot screen has its own button
    page.click("#s-spot .js-help")
    expect(page.locator("#help")).to_be_visible()
    shoot(page, artifacts, "5b-legal-help")
    page.click("#btn-help-close")

    page.click("#btn-finish")
    page.click("#btn-finish-yes")
    expect(page.locator("#s-after")).to_be_visible(timeout=WAIT)
    shoot(page, artifacts, "6-afterwards")

    page.click("#btn-rejoin")
    expect(page.locator("#s-wait")).to_be_visible(timeout=WAIT)
    ctx.set_offline(True)
    expect(page.locator("#conn")).to_have_attribute("data-status", "offline", timeout=WAIT)
    expect(page.locator("#stale")).to_be_visible()
    shoot(page, artifacts, "7-offline")
    ctx.set_offline(False)
    expect(page.locator("#conn")).to_have_attribute("data-status", "live", timeout=WAIT)


def test_english_screens(live_server, phone, artifacts):
    """The English page, waiting and called."""
    ev = create_event(live_server, title="Picket at the court", location="Pushkin Square")
    coord(live_server, ev, "start")
    page = open_page(phone(locale="en-US"), live_server, ev)
    join(page, "Heron 12")
    expect(page.locator("#ahead")).to_have_text("You are first in line")
    shoot(page, artifacts, "en-waiting")
    coord(live_server, ev, "call_next")
    expect(page.locator("#called-title")).to_have_text("Your turn!", timeout=WAIT)
    shoot(page, artifacts, "en-turn")


def test_reload_without_network_shows_last_state_marked_stale(live_server, phone, artifacts):
    """The service worker keeps the app shell; the page shows the stored snapshot, marked as possibly out of date."""
    ev = create_event(live_server)
    ctx = phone()
    page = open_page(ctx, live_server, ev)
    join(page, "Липа")
    expect(page.locator("#place")).to_have_text("1")
    page.wait_for_function("() => navigator.serviceWorker && navigator.serviceWorker.controller !== null", timeout=WAIT)
    # The worker caches the page and the shell (asynchronously): wait until the page is in its cache.
    wait_js(page, f"caches.match('/e/{ev['slug']}').then(r => !!r)")
    wait_js(page, "caches.match('/static/js/participant.js').then(r => !!r)")
    ctx.set_offline(True)
    page.reload()
    expect(page.locator("#s-wait")).to_be_visible(timeout=WAIT)
    expect(page.locator("#place")).to_have_text("1")
    expect(page.locator("#stale")).to_be_visible(timeout=WAIT)
    expect(page.locator("#stale")).to_contain_text("Обновлено")
    shoot(page, artifacts, "8-reload-offline-stale")
    ctx.set_offline(False)
    expect(page.locator("#conn")).to_have_attribute("data-status", "live", timeout=WAIT * 2)
    expect(page.locator("#stale")).to_be_hidden()
    assert console(live_server, ev)["line"][0]["pseudonym"] == "Липа"


def test_transferred_size_of_the_page(live_server, phone, artifacts):
    """Measure what a first visit downloads (recorded in test-artifacts/participant-weight.txt and docs)."""
    ev = create_event(live_server)
    page = phone().new_page()
    sizes: dict[str, int] = {}

    def record(resp):
        try:
            sizes[resp.url] = len(resp.body())
        except Exception:  # noqa: BLE001 (a redirect or an aborted request has no body)
            pass

    page.on("response", record)
    page.goto(f"{live_server.url}/e/{ev['slug']}")
    expect(page.locator("#conn")).to_have_attribute("data-status", "live", timeout=WAIT)
    page.wait_for_function("() => navigator.serviceWorker && navigator.serviceWorker.controller !== null", timeout=WAIT)
    static = {u: n for u, n in sizes.items() if "/socket.io/" not in u}
    total = sum(static.values())
    lines = [f"{n:>8}  {u.replace(live_server.url, '')}" for u, n in sorted(static.items(), key=lambda x: -x[1])]
    (artifacts / "participant-weight.txt").write_text("\n".join(lines + [f"{total:>8}  total (uncompressed)"]) + "\n")
    assert any(u.endswith("/static/js/participant.js") for u in static)
    assert total < 150_000, lines  # a budget for weak 3G, uncompressed
