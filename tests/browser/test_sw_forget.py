"""The service worker's offline copy of an event page (title and place) goes away with the event (issue 9)."""
from __future__ import annotations

import pytest
import requests

from test_participant import WAIT, create_event, open_page, wait_js

pytestmark = [pytest.mark.browser, pytest.mark.server]

CACHED = "caches.open('pq-shell-v1').then(c => c.match('{path}')).then(r => !!r)"


def test_panic_drops_the_cached_event_page(live_server, phone):
    """The worker keeps a copy of /e/<slug> for reloads without network; after the owner's panic the page hears
    `bye` and the worker drops that copy."""
    ev = create_event(live_server)
    page = open_page(phone(), live_server, ev)
    page.wait_for_function("() => navigator.serviceWorker && navigator.serviceWorker.controller !== null",
                           timeout=WAIT)
    path = f"/e/{ev['slug']}"
    assert wait_js(page, CACHED.format(path=path))
    r = requests.post(f"{live_server.url}/api/events/{ev['slug']}/actions/panic", json={"op": "panicpanic1"},
                      headers={"X-Coordinator-Token": ev["token"]}, timeout=10)
    assert r.json()["ok"], r.text
    assert wait_js(page, f"({CACHED.format(path=path)}).then(x => !x)")
