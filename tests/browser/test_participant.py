"""The participant's phone page in headless Chromium against a real eventlet server (fixture `live_server`).

The coordinator is driven through the HTTP API with the X-Coordinator-Token header. Waits are on conditions
(Playwright's expect with generous timeouts), never fixed sleeps; the delay of the turn signal is recorded, not
asserted (speed belongs in bench/).
"""
from __future__ import annotations

import json
import re
import time
import uuid

import pytest
import requests

from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.server]
WAIT = 15_000  # ms: generous, the machine is small and shared


# ---------------------------------------------------------------- helpers (also used by test_participant_screens)

def create_event(server, **settings) -> dict:
    """An open event with spots A and B, no automatic calls unless asked; {'slug', 'token'}."""
    spec = {"title": "Пикет у суда", "location": "Пушкинская площадь", "spots": [{"label": "A"}],
            "auto_call": False, **settings}
    r = requests.post(server.url + "/api/events", json=spec, timeout=10)
    assert r.status_code == 201, r.text
    return {"slug": r.json()["event"]["event"]["slug"], "token": r.json()["coordinator_token"]}


def coord(server, ev: dict, action: str, **args) -> dict:
    """Run a coordinator action over HTTP and return the answer (asserting it succeeded)."""
    r = requests.post(f"{server.url}/api/events/{ev['slug']}/actions/{action}",
                      json={"op": uuid.uuid4().hex, "args": args},
                      headers={"X-Coordinator-Token": ev["token"]}, timeout=10)
    assert r.ok and r.json()["ok"], r.text
    return r.json()


def console(server, ev: dict) -> dict:
    """The coordinator snapshot."""
    r = requests.get(f"{server.url}/api/events/{ev['slug']}/snapshot", headers={"X-Coordinator-Token": ev["token"]},
                     timeout=10)
    assert r.ok, r.text
    return r.json()["data"]


def open_page(ctx, server, ev: dict, requests_seen: list | None = None):
    """A new tab on the event's participant page, recording every request URL."""
    page = ctx.new_page()
    if requests_seen is not None:
        page.on("request", lambda req: requests_seen.append(req.url))
    page.goto(f"{server.url}/e/{ev['slug']}")
    expect(page.locator("#conn")).to_have_attribute("data-status", "live", timeout=WAIT)
    return page


def wait_js(page, expression: str, timeout_ms: int = WAIT):
    """Poll a JS expression (it may return a promise) until it gives a truthy value; return that value."""
    waited = 0
    while True:
        value = page.evaluate(expression)
        if value:
            return value
        assert waited < timeout_ms, f"timed out waiting for: {expression}"
        page.wait_for_timeout(100)
        waited += 100


def join(page, name: str) -> None:
    """Fill the nickname and tap Join; wait for the waiting screen."""
    expect(page.locator("#s-join")).to_be_visible(timeout=WAIT)
    page.fill("#pseudonym", name)
    page.click("#btn-join")
    expect(page.locator("#s-wait")).to_be_visible(timeout=WAIT)


# ---------------------------------------------------------------- tests

def test_join_wait_called_confirm_finish_then_next(live_server, phone, artifacts):
    """Two phones join; the first is called, checks in, holds the spot, hands over; then the second is called."""
    ev = create_event(live_server)
    coord(live_server, ev, "start")
    seen: list[str] = []
    csp_errors: list[str] = []
    ctx1, ctx2 = phone(), phone()
    p1 = open_page(ctx1, live_server, ev, seen)
    p1.on("console", lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None)
    join(p1, "Альфа")
    expect(p1.locator("#place")).to_have_text("1")
    assert "Альфа" in p1.locator("#wait-name").inner_text()
    # The token never reaches the address bar.
    assert p1.url == f"{live_server.url}/e/{ev['slug']}"

    p2 = open_page(ctx2, live_server, ev, seen)
    join(p2, "Браво")
    expect(p2.locator("#place")).to_have_text("2")
    expect(p2.locator("#ready-banner")).to_be_visible()          # ready_at defaults to 2
    expect(p2.locator("body")).to_have_class(re.compile("is-ready"))

    t0 = time.monotonic()
    coord(live_server, ev, "call_next")
    expect(p1.locator("#s-called")).to_be_visible(timeout=WAIT)
    delay = time.monotonic() - t0
    note = f"turn signal shown {delay * 1000:.0f} ms after the call was acknowledged (recorded, not asserted)\n"
    print(note)
    with open(artifacts / "participant-turn-delay.txt", "a") as f:
        f.write(note)
    expect(p1.locator("#called-spot")).to_have_text("A")
    expect(p1.locator("body")).to_have_class(re.compile("is-turn"))
    expect(p1.locator("#called-cd")).to_have_text(re.compile(r"^\d+:\d\d$"))
    # The second phone moved up (applied from the `state` message or a snapshot).
    expect(p2.locator("#place")).to_have_text("1", timeout=WAIT)

    p1.click("#btn-arrive")
    expect(p1.locator("#s-spot")).to_be_visible(timeout=WAIT)
    expect(p1.locator("#spot-label")).to_have_text("A")
    expect(p1.locator("#spot-cd")).to_have_text(re.compile(r"^[45]:\d\d$"))  # a 5-minute slot, counting down
    p1.click("#btn-finish")
    p1.click("#btn-finish-yes")
    expect(p1.locator("#s-after")).to_be_visible(timeout=WAIT)
    expect(p1.locator("#after-title")).to_have_text("Спасибо!")
    expect(p1.locator("#btn-rejoin")).to_be_visible()

    coord(live_server, ev, "call_next")
    expect(p2.locator("#s-called")).to_be_visible(timeout=WAIT)
    expect(p2.locator("#called-spot")).to_have_text("A")

    # No third-party resource: every request went to the server's own origin.
    assert seen, "no request was recorded"
    foreign = [u for u in seen if not u.startswith(live_server.url + "/")]
    assert foreign == [], foreign
    assert csp_errors == [], csp_errors


def test_reload_keeps_the_place(live_server, phone):
    """The token lives in localStorage: a reload (or closing the tab) does not lose the place."""
    ev = create_event(live_server)
    ctx = phone()
    page = open_page(ctx, live_server, ev)
    join(page, "Вега")
    expect(page.locator("#place")).to_have_text("1")
    token = page.evaluate(f"localStorage.getItem('pq:{ev['slug']}:token')")
    assert token and len(token) == 43 and re.fullmatch(r"[A-Za-z0-9_-]{43}", token)
    page.reload()
    expect(page.locator("#conn")).to_have_attribute("data-status", "live", timeout=WAIT)
    expect(page.locator("#s-wait")).to_be_visible(timeout=WAIT)
    expect(page.locator("#place")).to_have_text("1")
    page.close()
    page = open_page(ctx, live_server, ev)  # a new tab in the same browser
    expect(page.locator("#s-wait")).to_be_visible(timeout=WAIT)
    assert [e["pseudonym"] for e in console(live_server, ev)["line"]] == ["Вега"]


def test_offline_and_back_resyncs_and_shows_a_call_made_meanwhile(live_server, phone):
    """While the phone is offline it is called; when the network returns the page shows the turn at once."""
    ev = create_event(live_server)
    coord(live_server, ev, "start")
    ctx = phone()
    page = open_page(ctx, live_server, ev)
    join(page, "Сокол")
    ctx.set_offline(True)
    expect(page.locator("#conn")).to_have_attribute("data-status", "offline", timeout=WAIT)
    expect(page.locator("#conn-text")).to_have_text(re.compile(r"Нет связи с \d\d:\d\d"))
    expect(page.locator("#stale")).to_be_visible()
    coord(live_server, ev, "call_next")
    expect(page.locator("#s-wait")).to_be_visible()  # it cannot know yet
    ctx.set_offline(False)
    expect(page.locator("#conn")).to_have_attribute("data-status", "live", timeout=WAIT)
    expect(page.locator("#s-called")).to_be_visible(timeout=WAIT)
    expect(page.locator("#stale")).to_be_hidden()


def test_turn_that_ended_while_offline_is_not_shown(live_server, phone):
    """Called, then the coordinator finished the turn while the phone was offline: no stale 'your turn' after."""
    ev = create_event(live_server)
    coord(live_server, ev, "start")
    ctx = phone()
    page = open_page(ctx, live_server, ev)
    join(page, "Рысь")
    coord(live_server, ev, "call_next")
    expect(page.locator("#s-called")).to_be_visible(timeout=WAIT)
    ctx.set_offline(True)
    expect(page.locator("#conn")).to_have_attribute("data-status", "offline", timeout=WAIT)
    entry = console(live_server, ev)["active"][0]["id"]
    coord(live_server, ev, "confirm_arrival", entry=entry)
    coord(live_server, ev, "finish", entry=entry)
    ctx.set_offline(False)
    expect(page.locator("#s-after")).to_be_visible(timeout=WAIT)
    expect(page.locator("#s-called")).to_be_hidden()


def test_double_tap_on_join_creates_one_entry(live_server, phone):
    """A double tap, and a second tab of the same phone joining at once, make exactly one entry."""
    ev = create_event(live_server)
    ctx = phone()
    page = open_page(ctx, live_server, ev)
    other = open_page(ctx, live_server, ev)  # same localStorage: same token
    page.fill("#pseudonym", "Дубль")
    other.fill("#pseudonym", "Дубль")
    # A double tap (two clicks in the same task, faster than any ack) and the other tab joining at the same time.
    page.evaluate("() => { const b = document.getElementById('btn-join'); b.click(); b.click(); }")
    other.evaluate("() => document.getElementById('join-form').requestSubmit()")
    expect(page.locator("#s-wait")).to_be_visible(timeout=WAIT)
    expect(other.locator("#s-wait")).to_be_visible(timeout=WAIT)
    expect(page.locator("#place")).to_have_text("1")
    expect(other.locator("#place")).to_have_text("1")
    line = console(live_server, ev)["line"]
    assert [e["pseudonym"] for e in line] == ["Дубль"]


@pytest.mark.parametrize("locale,join_text,lang", [("ru-RU", "Встать в очередь", "ru"), ("en-US", "Join", "en")])
def test_russian_and_english(live_server, phone, locale, join_text, lang):
    """The page follows the browser's language; Russian is the default, English is complete."""
    ev = create_event(live_server)
    page = open_page(phone(locale=locale), live_server, ev)
    assert page.locator("html").get_attribute("lang") == lang
    expect(page.locator("#btn-join")).to_have_text(join_text)
    texts = json.loads(page.locator("#pq-texts").text_content())
    assert texts["lang"] == lang
    join(page, "Name")
    expected = {"ru": "Перед вами", "en": "You are first in line"}[lang]
    if lang == "ru":
        expect(page.locator("#ahead")).to_have_text("Перед вами никого нет")
    else:
        expect(page.locator("#ahead")).to_have_text(expected)
    expect(page.locator("#conn-text")).to_have_text({"ru": "На связи", "en": "Live"}[lang])


def test_step_away_come_back_leave_with_confirmation(live_server, phone):
    """Step away keeps the place; leaving needs a confirmation; delete_me forgets the token on the phone."""
    ev = create_event(live_server)
    ctx = phone()
    page = open_page(ctx, live_server, ev)
    join(page, "Ива")
    page.click("#btn-away")
    expect(page.locator("#away-note")).to_be_visible(timeout=WAIT)
    assert console(live_server, ev)["line"][0]["state"] == "away"
    page.click("#btn-back")
    expect(page.locator("#away-note")).to_be_hidden(timeout=WAIT)
    page.click("#btn-leave")
    expect(page.locator("#leave-confirm")).to_be_visible()
    page.click("#btn-leave-no")
    assert console(live_server, ev)["line"][0]["state"] == "waiting"
    page.click("#btn-leave")
    page.click("#btn-leave-yes")
    expect(page.locator("#s-after")).to_be_visible(timeout=WAIT)
    assert console(live_server, ev)["line"] == []
    page.click("#btn-rejoin")
    expect(page.locator("#s-wait")).to_be_visible(timeout=WAIT)
    page.click("#btn-leave")
    page.click("#btn-leave-yes")
    expect(page.locator("#s-after")).to_be_visible(timeout=WAIT)
    old = page.evaluate(f"localStorage.getItem('pq:{ev['slug']}:token')")
    page.click("#btn-delete")
    page.click("#btn-delete-yes")
    expect(page.locator("#s-join")).to_be_visible(timeout=WAIT)
    expect(page.locator("#join-eta")).to_have_text("Ваши данные удалены с сервера и с этого телефона.")
    snap = console(live_server, ev)
    assert snap["line"] == [] and snap["past"] == []  # nothing about this person is left on the server
    new = page.evaluate(f"localStorage.getItem('pq:{ev['slug']}:token')")
    assert new != old


def test_legal_help_card(live_server, phone):
    """One tap opens the OVD-Info hotline and what to say when detained."""
    ev = create_event(live_server)
    page = open_page(phone(), live_server, ev)
    page.click("#btn-help")
    help_card = page.locator("#help")
    expect(help_card).to_be_visible()
    assert page.locator("#help a.tel").get_attribute("href") == "tel:+78007070528"
    expect(help_card).to_contain_text("@OvdInfoBot")
    expect(help_card).to_contain_text("51")
    page.keyboard.press("Escape")
    expect(help_card).to_be_hidden()


def test_empty_nickname_is_refused_clearly(live_server, phone):
    """An empty nickname gets a translated message and creates nothing."""
    ev = create_event(live_server)
    page = open_page(phone(), live_server, ev)
    page.fill("#pseudonym", "   ")
    page.click("#btn-join")
    expect(page.locator("#error")).to_have_text("Введите псевдоним (от 1 до 32 символов).")
    expect(page.locator("#s-join")).to_be_visible()
    assert console(live_server, ev)["line"] == []


def test_event_not_open_yet_and_event_deleted(live_server, phone):
    """A draft event says the line is not open (joining is refused clearly); a purged event clears the phone."""
    r = requests.post(live_server.url + "/api/events", json={"title": "Черновик", "state": "draft",
                                                             "spots": [{"label": "A"}]}, timeout=10)
    draft = {"slug": r.json()["event"]["event"]["slug"], "token": r.json()["coordinator_token"]}
    page = open_page(phone(), live_server, draft)
    expect(page.locator("#ev-state")).to_have_text("Очередь ещё не открыта.")
    page.fill("#pseudonym", "Рано")
    page.click("#btn-join")
    expect(page.locator("#error")).to_have_text("Сейчас это невозможно.")
    assert console(live_server, draft)["line"] == []

    ev = create_event(live_server)
    ctx = phone()
    page = open_page(ctx, live_server, ev)
    join(page, "Клевер")
    coord(live_server, ev, "panic")
    expect(page.locator("#s-closed")).to_be_visible(timeout=WAIT)
    expect(page.locator("#closed-text")).to_have_text("Эта акция удалена.")
    stored = page.evaluate(f"Object.keys(localStorage).filter(k => k.startsWith('pq:{ev['slug']}:'))")
    assert stored == []


def test_a_closed_page_never_connects_again(live_server, phone):
    """The event is deleted while a snapshot request is in flight: closing the page cuts that request short, and the
    failed answer must not open a new connection (it would make and store a fresh token on a phone that has just
    forgotten everything)."""
    ev = create_event(live_server)
    page = open_page(phone(), live_server, ev)
    join(page, "Клевер")
    active = page.evaluate("""() => {
        const c = PQNet.current;
        c.refresh();                                                   // a snapshot request in flight...
        c.socket.listeners("bye")[0]({code: "not_found", message: "deleted"});  // ...when the event is deleted
        return c.socket.active;                                        // true: it is connecting again
    }""")
    expect(page.locator("#s-closed")).to_be_visible()
    assert active is False
    stored = page.evaluate(f"Object.keys(localStorage).filter(k => k.startsWith('pq:{ev['slug']}:'))")
    assert stored == []


def test_a_connection_refused_as_busy_is_tried_again(live_server, phone):
    """A server too busy to accept the connection answers `busy` (nothing is wrong with the phone): the page keeps
    trying and is live again, with no error shown; any other refusal stops it."""
    ev = create_event(live_server)
    page = open_page(phone(), live_server, ev)
    page.evaluate("""() => {
        const c = PQNet.current;
        c.socket.disconnect();
        c.socket.listeners("connect_error")[0]({data: {code: "busy", message: "busy"}});
    }""")
    assert page.evaluate("!!PQNet.current.stopped") is False
    expect(page.locator("#conn")).to_have_attribute("data-status", "live", timeout=WAIT)
    expect(page.locator("#error")).to_be_hidden()


def test_join_answered_busy_is_sent_again_until_it_lands(server_factory, phone):
    """While another process holds the database's write lock, the join is answered `busy` (nothing changed); the page
    keeps sending it with the same op id, and once the lock is free the person is in line exactly once."""
    import sqlite3
    srv = server_factory(extra_env={"PICKET_SQLALCHEMY_ENGINE_OPTIONS": json.dumps({"connect_args": {"timeout": 0.5}})})
    ev = create_event(srv)
    page = open_page(phone(), srv, ev)
    holder = sqlite3.connect(srv.instance / "picket.db", isolation_level=None, timeout=30)
    try:
        holder.execute("BEGIN IMMEDIATE")  # as a long transaction of another process would hold it
        page.fill("#pseudonym", "Кедр")
        page.click("#btn-join")
        deadline = time.monotonic() + 20
        while srv.output().count("answered `busy`") < 2:  # the first attempt and at least one retry
            assert time.monotonic() < deadline, srv.output()[-2000:]
            page.wait_for_timeout(200)
        expect(page.locator("#s-wait")).to_be_hidden()
    finally:
        holder.close()  # releases the lock (the transaction is rolled back)
    expect(page.locator("#s-wait")).to_be_visible(timeout=WAIT)
    expect(page.locator("#place")).to_have_text("1")
    assert [e["pseudonym"] for e in console(srv, ev)["line"]] == ["Кедр"]
