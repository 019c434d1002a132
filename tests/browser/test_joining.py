"""Joining under a flood, in headless Chromium at 360x740 against a real server (issue 8): the console's alarm and
its three-tap clearing with undo, paused joining on the phone, the approval gate ("waiting to be admitted") and the
on-site code shown on the big screen and typed on a phone. The observer board shows none of the alarm."""
from __future__ import annotations

import re
import secrets

import pytest
import requests
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.server]
expect.set_options(timeout=20_000)


def make_event(url: str, **spec) -> tuple[str, str]:
    r = requests.post(url + "/api/events", json={"title": "Пикет", "spots": [{"label": "A"}], **spec}, timeout=10)
    return r.json()["event"]["event"]["slug"], r.json()["coordinator_token"]


def api_join(url: str, slug: str, name: str) -> dict:
    return requests.post(f"{url}/api/events/{slug}/actions/join",
                         json={"op": secrets.token_urlsafe(12), "args": {"pseudonym": name}},
                         headers={"X-Participant-Token": secrets.token_urlsafe(32)}, timeout=10).json()


def settings(url: str, slug: str, tok: str, **args) -> None:
    r = requests.post(f"{url}/api/events/{slug}/actions/settings", json={"op": secrets.token_urlsafe(12),
                                                                          "args": args},
                      headers={"X-Coordinator-Token": tok}, timeout=10)
    assert r.json()["ok"], r.json()


def line(url: str, slug: str, tok: str) -> list[str]:
    r = requests.get(f"{url}/api/events/{slug}/snapshot", headers={"X-Coordinator-Token": tok}, timeout=10)
    return [e["pseudonym"] for e in r.json()["data"]["line"]]


def test_flood_alarm_and_clearing_in_three_taps(live_server, phone, artifacts):
    url = live_server.url
    slug, tok = make_event(url)
    api_join(url, slug, "Настоящая")
    page = phone().new_page()
    page.goto(f"{url}/c/{slug}#k={tok}")
    expect(page.locator("#app")).to_be_visible()
    for i in range(25):
        assert api_join(url, slug, f"Bot {i}")["ok"]
    expect(page.locator("#flood-alarm")).to_be_visible()
    expect(page.locator("#flood-text")).to_contain_text("26")
    page.locator("#flood-alarm").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "console-flood-alarm-360.png"))
    # the board shows nothing of it
    board = phone().new_page()
    board.goto(f"{url}/e/{slug}/board")
    expect(board.locator("#b-waiting")).to_have_text("26")
    assert board.locator("#flood-alarm").count() == 0 and "программа" not in board.inner_text("body")
    # tap 1: "Remove the flood…" (chooses who joined lately and counts them); tap 2: "Remove n"; tap 3: confirm
    page.click("#flood-clear")
    expect(page.locator("#bulk-remove")).to_be_visible()
    # the window starts at the first join of the last 15 minutes: the real person is in it as well here
    expect(page.locator("#bulk-remove")).to_contain_text("26")
    page.screenshot(path=str(artifacts / "console-bulk-count-360.png"))
    page.click("#bulk-remove")
    expect(page.locator("#confirm-dialog")).to_be_visible()
    page.click("#confirm-ok")
    done = page.locator(".toast.ok").filter(has=page.locator("button", has_text="Отменить"))
    expect(done).to_contain_text("Убрано: 26")
    assert line(url, slug, tok) == []
    # undo, as one step
    page.screenshot(path=str(artifacts / "console-bulk-done-360.png"))
    done.locator("button", has_text="Отменить").click()
    expect(page.locator(".toast.ok", has_text="Вернулись в очередь: 26")).to_be_visible()
    assert len(line(url, slug, tok)) == 26


def test_paused_joining_and_approval_on_the_phone(live_server, phone, artifacts):
    url = live_server.url
    slug, tok = make_event(url)
    settings(url, slug, tok, joining_paused=True)
    page = phone().new_page()
    page.goto(f"{url}/e/{slug}")
    expect(page.locator("#join-paused")).to_be_visible()
    expect(page.locator("#btn-join")).to_be_disabled()
    page.screenshot(path=str(artifacts / "join-paused-360.png"))
    settings(url, slug, tok, joining_paused=False, gate="approval")
    expect(page.locator("#join-paused")).to_be_hidden()
    page.fill("#pseudonym", "Лиса")
    page.click("#btn-join")
    expect(page.locator("#s-pending")).to_be_visible()
    page.screenshot(path=str(artifacts / "join-waiting-admission-360.png"))
    console = phone().new_page()
    console.goto(f"{url}/c/{slug}#k={tok}")
    expect(console.locator("#requests li")).to_have_count(1)
    console.locator("#requests li button", has_text="Впустить").click()
    expect(page.locator("#s-wait")).to_be_visible()
    assert line(url, slug, tok) == ["Лиса"]


def test_onsite_code_on_the_big_screen_and_the_phone(live_server, phone, browser, artifacts):
    url = live_server.url
    slug, tok = make_event(url, gate="onsite")
    console = phone().new_page()
    console.goto(f"{url}/c/{slug}#k={tok}")
    expect(console.locator("#gate-code")).to_have_text(re.compile(r"^\d{3} \d{3}$"))
    board_link = console.locator("#gate-board").get_attribute("href")
    big = browser.new_page(viewport={"width": 1280, "height": 800})
    big.goto(url + board_link)
    expect(big.locator("#b-code-digits")).to_have_text(re.compile(r"^\d{3} \d{3}$"))
    expect(big.locator("#b-code-qr svg")).to_be_visible()
    assert "#d=" not in big.url  # the display key left the address bar
    big.screenshot(path=str(artifacts / "board-code-1280.png"))
    code = big.inner_text("#b-code-digits").replace(" ", "")
    # a plain board link shows no code
    plain = browser.new_page()
    plain.goto(f"{url}/e/{slug}/board")
    expect(plain.locator("#b-code")).to_be_hidden()
    plain.close()
    page = phone().new_page()
    page.goto(f"{url}/e/{slug}")
    expect(page.locator("#join-code-row")).to_be_visible()
    page.fill("#pseudonym", "Ёж")
    page.fill("#join-code", "000000" if code != "000000" else "111111")
    page.click("#btn-join")
    expect(page.locator("#error")).to_be_visible()
    page.fill("#join-code", code)
    page.click("#btn-join")
    expect(page.locator("#s-wait")).to_be_visible()
    assert line(url, slug, tok) == ["Ёж"]
    big.close()
