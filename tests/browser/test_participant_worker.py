"""The service worker: a push delivered to it shows a generic notification in the page's language; the manifest and
touch targets of the page are fit for a phone at 320 px.
"""
from __future__ import annotations

import json

import pytest
import requests
from playwright.sync_api import expect

from test_participant import WAIT, create_event, join, open_page, wait_js

pytestmark = [pytest.mark.browser, pytest.mark.server]


def worker_registration_id(cdp, origin: str) -> str:
    """The registration id of the page's service worker (Chrome DevTools Protocol)."""
    found: dict = {}
    cdp.on("ServiceWorker.workerRegistrationUpdated",
           lambda e: found.update({r["scopeURL"]: r["registrationId"] for r in e["registrations"]}))
    cdp.send("ServiceWorker.enable")
    return found


def test_push_shows_a_generic_notification_in_the_page_language(live_server, phone):
    """A push (as the server sends it) reaches the worker, which shows the Russian text the page asked for."""
    ev = create_event(live_server)
    ctx = phone()
    ctx.grant_permissions(["notifications"], origin=live_server.url)
    page = open_page(ctx, live_server, ev)
    page.wait_for_function("() => navigator.serviceWorker && navigator.serviceWorker.controller !== null", timeout=WAIT)
    # The page told the worker its language (kept in the worker's cache).
    wait_js(page, "caches.open('pq-settings').then(c => c.match('/__pq_lang')).then(r => !!r)")
    cdp = ctx.new_cdp_session(page)
    regs = worker_registration_id(cdp, live_server.url)
    deadline_ms = 0
    while not regs and deadline_ms < WAIT:
        page.wait_for_timeout(100)
        deadline_ms += 100
    reg_id = regs.get(live_server.url + "/")
    assert reg_id, regs
    data = {"kind": "called", "url": f"/e/{ev['slug']}",
            "texts": {"ru": {"title": "Очередь на пикет", "body": "Ваша очередь подходит"},
                      "en": {"title": "Picket Queue", "body": "Your turn is coming"}}}
    cdp.send("ServiceWorker.deliverPushMessage", {"origin": live_server.url, "registrationId": reg_id,
                                                  "data": json.dumps(data)})
    shown = wait_js(page, "navigator.serviceWorker.ready.then(r => r.getNotifications())"
                          ".then(n => n.length && n.map(x => ({title: x.title, body: x.body, tag: x.tag})))")
    assert shown == [{"title": "Очередь на пикет", "body": "Ваша очередь подходит", "tag": "pq-alert"}]


def test_manifest_is_installable_and_own(live_server):
    """Standalone display, start on the event, icons served by the app itself."""
    ev = create_event(live_server)
    r = requests.get(f"{live_server.url}/manifest.webmanifest", params={"start": f"/e/{ev['slug']}"}, timeout=10)
    assert r.ok and r.headers["Content-Type"].startswith("application/manifest+json")
    m = r.json()
    assert m["display"] == "standalone" and m["start_url"] == f"/e/{ev['slug']}"
    sizes = {i["sizes"] for i in m["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in m["icons"]:
        assert icon["src"].startswith("/static/icons/")
        got = requests.get(live_server.url + icon["src"], timeout=10)
        assert got.ok and got.content[:8] == b"\x89PNG\r\n\x1a\n"
    bad = requests.get(f"{live_server.url}/manifest.webmanifest", params={"start": "https://evil.example/"}, timeout=10)
    assert bad.json()["start_url"] == "/"
    sw = requests.get(f"{live_server.url}/sw.js", timeout=10)
    assert sw.ok and sw.headers["Service-Worker-Allowed"] == "/"


def test_320px_wide_large_targets_and_live_regions(live_server, phone):
    """At 320 px nothing scrolls sideways, every visible button and field is at least 44 px high, and the place and
    the call are announced to screen readers."""
    ev = create_event(live_server)
    page = open_page(phone(width=320, height=640), live_server, ev)

    def check():
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        small = page.evaluate("""() => [...document.querySelectorAll('#pq button, #pq input, #pq a.btn')]
            .filter(e => e.offsetParent !== null)
            .map(e => [e.id || e.textContent.trim(), e.getBoundingClientRect().height])
            .filter(([, h]) => h < 44)""")
        assert small == [], small

    check()
    join(page, "Длинный псевдоним для узкого")
    check()
    assert page.locator("#place-live").get_attribute("aria-live") == "polite"
    assert page.locator("#s-called [aria-live]").get_attribute("aria-live") == "assertive"
    assert page.locator("#conn-text").get_attribute("role") == "status"
    page.keyboard.press("Tab")  # keyboard reaches the controls
    focused = page.evaluate("document.activeElement && document.activeElement.tagName")
    assert focused in ("A", "BUTTON", "INPUT")
    expect(page.locator("#btn-away")).to_be_visible()
