"""What a person reads in the confusing states of issue 11, at 360x740 in Russian: the end of an event while someone
is called, the ended join link and board, "get ready" before the start, the estimate, the console's spot card,
"Call next" and its reason, the log, "Legal help" once, no 404 (favicon)."""
from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import expect

from test_participant import WAIT, console, coord, create_event, join, open_page

pytestmark = [pytest.mark.browser, pytest.mark.server]


def not_found_urls(page) -> list:
    """Collect the URLs that answer 404 while the page lives."""
    seen = []
    page.on("response", lambda r: seen.append(r.url) if r.status == 404 else None)
    return seen


def test_participant_and_board_before_the_start_and_after_the_end(live_server, phone):
    ev = create_event(live_server, ready_at=2, spots=[{"label": "A"}])
    first_ctx = phone()
    first = open_page(first_ctx, live_server, ev)
    missing = not_found_urls(first)
    join(first, "Первый")
    second = open_page(phone(), live_server, ev)
    join(second, "Вторая")

    # Before calls start nobody is told to get ready, and the estimate says it counts from the start.
    expect(first.locator("#ready-banner")).to_be_hidden()
    assert "is-ready" not in (first.locator("body").get_attribute("class") or "")
    expect(first.locator("#wait-eta")).to_contain_text("Вызовы ещё не начались")
    board = phone().new_page()
    board.goto(f"{live_server.url}/e/{ev['slug']}/board")
    expect(board.locator("#b-eta")).to_contain_text("после начала", timeout=WAIT)
    # "Next up" tickets, as queue screens show them, and when the whole line is through.
    expect(board.locator("#b-next-list li")).to_have_text(["№ 1", "№ 2"])
    expect(board.locator("#b-through")).to_have_text(re.compile(r"^примерно к \d{1,2}:\d\d$"))

    # The estimate never reads "from 4 to 4 min".
    for page in (first, second):
        text = page.locator("#s-wait").inner_text()
        for lo, hi in re.findall(r"от (\d+) до (\d+)", text):
            assert lo != hi, text

    # Called, then the event ends: the phone says the event ended, not "you left, join again".
    coord(live_server, ev, "start")
    coord(live_server, ev, "call_next")
    expect(first.locator("#s-called")).to_be_visible(timeout=WAIT)
    coord(live_server, ev, "end")
    expect(first.locator("#s-after")).to_be_visible(timeout=WAIT)
    expect(first.locator("#after-title")).to_have_text("Акция закончилась")
    assert "встать" not in first.locator("#s-after").inner_text().lower()
    expect(first.locator("#btn-rejoin")).to_be_hidden()
    expect(second.locator("#after-title")).to_have_text("Акция закончилась", timeout=WAIT)

    # The join link after the end: one message, and what happens next; the board offers no way to join.
    late = phone().new_page()
    late_missing = not_found_urls(late)
    late.goto(f"{live_server.url}/e/{ev['slug']}")
    expect(late.locator("#s-closed")).to_be_visible(timeout=WAIT)
    expect(late.locator("#ev-state")).to_be_hidden()
    body = late.locator("#pq").inner_text()
    assert len(re.findall(r"(?i)акция (закончилась|завершена|окончена)", body)) == 1, body
    expect(late.locator("#closed-text")).to_contain_text("Больше никого не вызовут")
    board.reload()
    expect(board.locator("#b-state")).to_have_attribute("data-state", "ended", timeout=WAIT)
    expect(board.locator("#b-join")).to_be_hidden()
    expect(board.locator("#b-nextup")).to_be_hidden()
    expect(board.locator("#b-through")).to_have_text("–")
    expect(board.locator("#b-qr")).to_be_hidden()

    # Every page links the favicon, and nothing answers 404.
    poster = phone().new_page()
    poster_missing = not_found_urls(poster)
    poster.goto(f"{live_server.url}/e/{ev['slug']}/print")
    for page in (first, late, board, poster):
        assert page.locator('link[rel="icon"]').count() == 1
    assert requests.get(live_server.url + "/favicon.ico", timeout=10).status_code == 200
    assert missing == late_missing == poster_missing == [], (missing, late_missing, poster_missing)


def test_console_spot_card_call_next_and_log(live_server, phone):
    ev = create_event(live_server, spots=[{"label": "A"}])
    page = phone().new_page()
    page.goto(f"{live_server.url}/c/{ev['slug']}#k={ev['token']}")
    expect(page.locator("#app")).to_be_visible(timeout=WAIT)

    # Before the start "Call next" is disabled, and says why.
    expect(page.locator("#call-next")).to_be_disabled()
    expect(page.locator("#call-hint")).to_contain_text("Начать вызовы")

    tok = requests.post(f"{live_server.url}/api/events/{ev['slug']}/actions/join",
                        json={"op": "op-join-1", "args": {"pseudonym": "Тюльпан"}},
                        headers={"X-Participant-Token": "t" * 43}, timeout=10)
    assert tok.json()["ok"], tok.text
    requests.post(f"{live_server.url}/api/events/{ev['slug']}/actions/join",
                  json={"op": "op-join-2", "args": {"pseudonym": "Роза"}},
                  headers={"X-Participant-Token": "r" * 43}, timeout=10)
    coord(live_server, ev, "start")
    expect(page.locator("#call-next")).to_be_enabled(timeout=WAIT)
    expect(page.locator("#c-through")).to_have_text(re.compile(r"^≈ \d{1,2}:\d\d$"))
    expect(page.locator("#call-hint")).to_be_hidden()
    page.click("#call-next")

    # The spot has someone called: no "nobody" next to it; with every spot taken "Call next" is off, with a reason.
    card = page.locator("#spots li").first
    expect(card).to_contain_text("Тюльпан", timeout=WAIT)
    assert "никого" not in card.inner_text()
    expect(page.locator("#call-next")).to_be_disabled()
    expect(page.locator("#call-hint")).to_contain_text("уже кого-то вызвали")
    called = console(live_server, ev)["active"][0]["id"]
    coord(live_server, ev, "confirm_arrival", entry=called)  # now on the spot: the spot is taken, nobody called
    expect(page.locator("#call-hint")).to_contain_text("Все места заняты", timeout=WAIT)
    expect(page.locator("#call-next")).to_be_disabled()

    # Messages stay few: at most two at a time.
    for name in ("Ива", "Клён", "Дуб"):
        page.fill("#walkin-name", name)
        page.click("#walkin-form button[type=submit]")
        expect(page.locator("#line")).to_contain_text(name)
    assert page.locator("#toasts .toast").count() <= 2

    # The log: the organiser's call names them; nothing ungrammatical; the team list does not repeat the role.
    log = page.locator("#log").text_content()  # folded on a phone: read it anyway
    assert "вызов на место" in log, log
    assert "участник начало" not in log and "(ла)" not in log and "(а)" not in log, log
    team = page.locator("#team").text_content().lower()
    assert team.count("организатор") <= 1, team

    # Undo, right where a mistaken removal, skip or call was made.
    def names():
        return [n.strip() for n in page.locator("#line > li .who strong").all_inner_texts()]
    line = names()
    assert line[:2] == ["Роза", "Ива"], line
    page.click("#line > li:nth-child(2) [data-act=remove]")
    page.click("#confirm-ok")
    expect(page.locator("#undo-bar")).to_contain_text("Ива")
    page.click("#undo-bar .btn.undo")
    expect(page.locator("#undo-bar")).to_be_hidden()
    expect(page.locator("#line > li:nth-child(2) .who strong")).to_have_text("Ива")
    page.click("#line > li:nth-child(1) [data-act=skip]")
    expect(page.locator("#line > li:nth-child(2) .who strong")).to_have_text("Роза")
    page.click("#line > li:nth-child(2) .btn.undo")
    expect(page.locator("#line > li:nth-child(1) .who strong")).to_have_text("Роза")
    page.click("#spots [data-act=call_next]")
    expect(page.locator("#spots .called")).to_contain_text("Роза")
    page.click("#spots .btn.undo")
    expect(page.locator("#spots .called")).to_have_count(0)
    expect(page.locator("#line > li:nth-child(1) .who strong")).to_have_text("Роза")
    assert names() == line


def test_message_to_one_person_running_late_and_legal_help(live_server, phone):
    """The coordinator writes to one person; that person says they need a few more minutes; each side sees it. On
    the spot, "Legal help" is there once."""
    ev = create_event(live_server, spots=[{"label": "A"}])
    anna = open_page(phone(), live_server, ev)
    join(anna, "Анна")
    boris = open_page(phone(), live_server, ev)
    join(boris, "Борис")
    page = phone().new_page()
    page.goto(f"{live_server.url}/c/{ev['slug']}#k={ev['token']}")
    expect(page.locator("#line > li")).to_have_count(2, timeout=WAIT)
    page.click("#line > li:nth-child(1) [data-act=message]")
    page.fill("#message-text", "Подойдите к левому входу")
    page.click("#message-dialog button[value=ok]")
    expect(anna.locator("#dm-text")).to_have_text("Подойдите к левому входу", timeout=WAIT)
    expect(boris.locator("#dm-card")).to_be_hidden()
    expect(anna.locator("#s-wait .btn-late")).to_be_hidden()  # before calls start nobody is late
    coord(live_server, ev, "start")
    anna.click("#s-wait .btn-late")
    expect(anna.locator("#s-wait .late-note")).to_contain_text("ещё около 5 мин", timeout=WAIT)
    expect(anna.locator("#s-wait .btn-late")).to_be_hidden()
    expect(page.locator("#line > li:nth-child(1) .badge.late")).to_contain_text("просит ещё 5 мин", timeout=WAIT)

    # On the spot, "Legal help" appears once (the screen's own button).
    coord(live_server, ev, "call_next")
    anna.click("#btn-arrive")
    expect(anna.locator("#s-spot")).to_be_visible(timeout=WAIT)
    expect(anna.get_by_role("button", name="Юридическая помощь")).to_have_count(1)
    expect(anna.locator("#s-spot .js-help")).to_be_visible()
    expect(anna.locator("#dm-card")).to_be_visible()  # the message stays while the person is in the picket
