"""The console on a phone (issue 11): spots and the line first, settings folded away, large targets, no sideways
scrolling at 320-360 px, with 50 people in line, in Russian and English."""
from __future__ import annotations

import uuid

import pytest
import requests
from playwright.sync_api import expect

from test_participant import WAIT, coord, create_event

pytestmark = [pytest.mark.browser, pytest.mark.server]


def fill_line(server, ev: dict, n: int) -> None:
    """n people join over HTTP."""
    for i in range(n):
        r = requests.post(f"{server.url}/api/events/{ev['slug']}/actions/join",
                          json={"op": uuid.uuid4().hex, "args": {"pseudonym": f"Участник {i + 1}"}},
                          headers={"X-Participant-Token": (uuid.uuid4().hex * 2)[:43]}, timeout=10)
        assert r.json()["ok"], r.text


def test_console_on_a_phone_with_50_in_line(live_server, phone, artifacts):
    # 50 joins within a minute would (rightly) raise the flood alarm above everything (tests/browser/test_joining.py);
    # this test is about the layout of a calm picket, so its alarm threshold is out of reach.
    ev = create_event(live_server, spots=[{"label": "A"}, {"label": "Б"}], flood_per_min=1000)
    fill_line(live_server, ev, 50)
    coord(live_server, ev, "start")
    coord(live_server, ev, "call_next")
    for locale, width in (("ru-RU", 360), ("en-GB", 320)):
        page = phone(locale=locale, width=width).new_page()
        page.goto(f"{live_server.url}/c/{ev['slug']}#k={ev['token']}")
        expect(page.locator("#line > li")).to_have_count(49, timeout=WAIT)
        page.screenshot(path=str(artifacts / f"console-phone-{locale}-{width}.png"))

        # Nothing scrolls sideways.
        assert page.evaluate("document.documentElement.scrollWidth") <= width

        # Spots on the first screen; the line before the settings; settings, team, statistics, log folded.
        assert page.locator("#spots-sec").bounding_box()["y"] < 740
        order = page.evaluate("""['spots-sec', 'line-sec', 'settings-sec'].map(id =>
            document.getElementById(id).getBoundingClientRect().top)""")
        assert order == sorted(order), order
        for sec in ("settings", "team", "stats", "log"):
            assert page.locator(f"#{sec}-sec details.fold").evaluate("d => d.open") is False, sec
        expect(page.locator("#settings-form")).to_be_hidden()

        # Every button of the spots and of the line is a large touch target, and no label is cut.
        sizes = page.evaluate("""[...document.querySelectorAll('#spots .btn, #line .btn, #call-next')]
            .map(b => [b.getBoundingClientRect().width, b.getBoundingClientRect().height,
                       b.scrollWidth <= b.clientWidth + 1])""")
        assert len(sizes) > 50 * 3
        assert all(w >= 44 and h >= 44 and fits for w, h, fits in sizes), [s for s in sizes if not s[2] or s[1] < 44]

        # The section link unfolds the settings.
        page.click(".jump a[href='#settings-sec']")
        expect(page.locator("#settings-form")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= width
