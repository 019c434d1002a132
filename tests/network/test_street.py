"""A participant's phone on street networks: a real Chromium page at 360x740 reaches the real server through the
street proxy (tests/network/proxy.py) under each profile of issue 10, and must get "get ready" and "your turn", lose
and duplicate no action, show the truth after the link returns, and say honestly how long it has not heard from the
server. Behaviour only: waits are on conditions, nothing here asserts a duration (figures: bench/street.py).

Stalls and cuts are shorter than in the benchmark (the server pings every 2 s here, see conftest.py), so that the
whole file stays within its CI budget.
"""
from __future__ import annotations

import re
import time

import pytest
import requests
from playwright.sync_api import expect

from network.proxy import PROFILES
from tests.browser.test_participant import console, coord, create_event

pytestmark = [pytest.mark.browser, pytest.mark.server]
WAIT = 30_000  # ms: a congested cell at 128 kbit/s with stalls, on a small shared machine

# The profiles as the tests run them: the benchmark's delays and rates, shorter stalls.
TEST_PROFILES = {
    "3g": PROFILES["3g"],
    "congested": PROFILES["congested"].scaled(stall_every_s=6, stall_min_s=1, stall_max_s=3),
    "cut": PROFILES["cut"],
    "no_websocket": PROFILES["no_websocket"],
}
CUT_S = {"cut": 10}  # s; other profiles end their cut as soon as the page has shown the offline state


# ---------------------------------------------------------------- the coordinator (straight to the server)

def street_event(server) -> dict:
    """A started event with one spot, manual calls, 'get ready' at place 2."""
    ev = create_event(server, title="Пикет", location="", ready_at=2)
    coord(server, ev, "start")
    return ev


def entry_of(server, ev: dict, name: str) -> dict:
    """The console's entry of a person (in line or at a spot)."""
    snap = console(server, ev)
    return next(e for e in snap["line"] + snap["active"] if e["pseudonym"] == name)


def actions_of(server, ev: dict, ticket: int, action: str) -> int:
    """How many times the log records `action` for a ticket."""
    return sum(1 for row in console(server, ev)["log"] if row["ticket"] == ticket and row["action"] == action)


def wait_until(check, what: str, timeout: float = WAIT / 1000) -> None:
    """Poll a condition (no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def finish_turn(server, ev: dict) -> None:
    """The person at the spot arrives and finishes (frees spot A)."""
    entry = console(server, ev)["active"][0]["id"]
    coord(server, ev, "confirm_arrival", entry=entry)
    coord(server, ev, "finish", entry=entry)


# ---------------------------------------------------------------- the phone

def assert_clock_not_behind(page) -> None:
    """The page's estimate of the server's time is never behind the real time (same machine, same clock), so a
    countdown never shows more time than remains, however late the message came."""
    lag = page.evaluate("() => Date.now() - PQNet.current.now()")
    assert lag <= 2, f"the page's server clock is {lag} ms behind"


@pytest.mark.parametrize("name", list(TEST_PROFILES))
def test_a_phone_on_a_street_network(name, street_server, street, phone):
    """Get ready, a cut with a tap while offline, the turn, and the truth after the link returns."""
    server, proxy = street_server, street(TEST_PROFILES[name])
    ev = street_event(server)
    coord(server, ev, "add_walk_in", pseudonym="Первый")
    coord(server, ev, "add_walk_in", pseudonym="Второй")
    page = phone().new_page()
    page.goto(f"{proxy.url}/e/{ev['slug']}", timeout=WAIT * 2)
    expect(page.locator("#s-join")).to_be_visible(timeout=WAIT * 2)
    page.fill("#pseudonym", "Клён")
    page.click("#btn-join")
    expect(page.locator("#place")).to_have_text("3", timeout=WAIT)
    me = entry_of(server, ev, "Клён")
    if name == "no_websocket":  # the upgrade was refused: the page lives on long-polling
        assert page.evaluate("() => PQNet.current.socket.io.engine.transport.name") == "polling"
        assert proxy.stats["upgrades_refused"] >= 1

    # "Get ready": one person ahead of the page goes to the spot.
    coord(server, ev, "call_next")
    expect(page.locator("#ready-banner")).to_be_visible(timeout=WAIT)
    expect(page.locator("#place")).to_have_text("2")

    # The link goes down. The page says how long it has not heard from the server and how old its view is; a tap
    # meanwhile waits, marked as pending; a change made meanwhile is shown once the link is back.
    cut_at = time.monotonic()
    proxy.cut(600)  # until restored below, once the page has shown what it must
    expect(page.locator("#stale")).to_be_visible(timeout=WAIT)
    expect(page.locator("#stale")).to_have_text(re.compile(r"Обновлено в \d\d:\d\d \(\d+ с назад\)"))
    expect(page.locator("#conn-text")).to_have_text(re.compile(r"Нет связи с \d\d:\d\d \(уже \d+ с\)"),
                                                    timeout=WAIT)
    page.click("#btn-away")
    expect(page.locator("#pending")).to_be_visible()
    expect(page.locator("#pending")).to_contain_text("Ещё не отправлено")
    finish_turn(server, ev)
    coord(server, ev, "call_next")  # "Второй" is called while the phone cannot hear it
    if name == "cut":  # the whole cut, as long as the test bed's cut lasts
        wait_until(lambda: time.monotonic() - cut_at >= CUT_S[name], "the end of the cut")
    proxy.restore()
    expect(page.locator("#pending")).to_be_hidden(timeout=WAIT)
    expect(page.locator("#btn-back")).to_be_visible(timeout=WAIT)  # the step away went through ...
    expect(page.locator("#place")).to_have_text("1")               # ... and the call made meanwhile shows
    expect(page.locator("#stale")).to_be_hidden(timeout=WAIT)
    expect(page.locator("#conn")).to_have_attribute("data-status", "live")
    assert entry_of(server, ev, "Клён")["state"] == "away"
    page.click("#btn-back")
    expect(page.locator("#btn-away")).to_be_visible(timeout=WAIT)

    # "Your turn", and the countdown counts from the server's deadline.
    finish_turn(server, ev)
    coord(server, ev, "call_next")
    expect(page.locator("#s-called")).to_be_visible(timeout=WAIT)
    expect(page.locator("#called-cd")).to_have_text(re.compile(r"\d+:\d\d"))
    assert_clock_not_behind(page)
    page.click("#btn-arrive")
    expect(page.locator("#s-spot")).to_be_visible(timeout=WAIT)  # the spot was free: the slot starts

    # Nothing lost, nothing twice.
    ticket = me["ticket"]
    assert actions_of(server, ev, ticket, "away") == 1
    assert actions_of(server, ev, ticket, "back") == 1
    assert actions_of(server, ev, ticket, "arrive") == 1
    assert entry_of(server, ev, "Клён")["state"] == "on_spot"
