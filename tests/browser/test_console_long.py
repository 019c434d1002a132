"""The console of a long line in headless Chromium (issue 13, part 6): after each change the page, which now gets
patches rather than the whole line, draws the line as a fresh snapshot has it (its first LINE_WINDOW people), also
after a reconnect that missed a change; someone further back is found by name and acted on."""
from __future__ import annotations

import time

import pytest
import requests
from playwright.sync_api import expect

from conftest import new_op
from coordinator.domain.views import LINE_WINDOW

pytestmark = [pytest.mark.browser, pytest.mark.server]
expect.set_options(timeout=20_000)

PEOPLE = 150


def wait_for(condition, timeout: float = 30.0, what: str = "condition") -> None:
    """Poll a condition until it holds (generous: the machine may be loaded)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_long_line_console_draws_every_change(server_factory, browser):
    """Calls, moves to the front and the back, removals and a walk-in: the drawn line (order, places, names) is the
    snapshot's after each, the messages after the first view are patches, and a page that was offline during a
    change shows the truth again after it reconnects, then follows patches again."""
    url = server_factory(extra_env={"PICKET_ACTION_BURST": "100000"}).url
    r = requests.post(url + "/api/events", json={"title": "Long", "spots": [{"label": "A"}, {"label": "B"}],
                                                 "auto_call": False, "max_queue": 1000}, timeout=30)
    slug, token = r.json()["event"]["event"]["slug"], r.json()["coordinator_token"]

    def act(name: str, **args) -> dict:
        """A coordinator action over HTTP."""
        out = requests.post(f"{url}/api/events/{slug}/actions/{name}", json={"op": new_op(), "args": args},
                            headers={"X-Coordinator-Token": token}, timeout=30).json()
        assert out["ok"], out
        return out

    def snapshot() -> dict:
        """The coordinator's view over HTTP."""
        return requests.get(f"{url}/api/events/{slug}/snapshot", headers={"X-Coordinator-Token": token},
                            timeout=30).json()["data"]

    act("start")
    for i in range(PEOPLE):
        act("add_walk_in", pseudonym=f"W{i:03d}")
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = ctx.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{url}/c/{slug}#k={token}")
    expect(page.locator("#line > li")).to_have_count(LINE_WINDOW)
    expect(page.locator("#line-count")).to_have_text(f"({PEOPLE})")
    expect(page.locator("#line-more-text")).to_contain_text(str(PEOPLE - LINE_WINDOW))
    page.evaluate("""() => { window.pqGot = [];
        PQNet.current.socket.on("console", m => window.pqGot.push("patch" in m ? "patch" : "whole")); }""")

    def drawn() -> list:
        """(entry id, place, name) of each row of the drawn line."""
        return page.evaluate("""() => Array.from(document.querySelectorAll("#line > li")).map(li =>
            [+li.dataset.entry, +li.dataset.position, li.textContent.match(/W\\d{3}|Late\\d/)[0]])""")

    def shows_snapshot() -> None:
        """The drawn line is the snapshot's (waits for the page to get there)."""
        snap = snapshot()
        want = [[e["id"], e["position"], e["pseudonym"]] for e in snap["line"]]
        wait_for(lambda: drawn() == want, what=f"the line of version {snap['v']}")

    line = lambda: snapshot()["line"]  # noqa: E731
    first = act("call_next")["result"]["entry"]
    shows_snapshot()
    act("move", entry=line()[-1]["id"], to=1)
    shows_snapshot()
    back = line()[0]
    act("move", entry=back["id"], to=PEOPLE - 1)  # far beyond the listed window: found by name below
    shows_snapshot()
    act("remove", entry=line()[PEOPLE // 2]["id"])
    act("add_walk_in", pseudonym="Late1", to=2)
    act("skip", entry=first)
    shows_snapshot()
    got = page.evaluate("window.pqGot")
    assert got and set(got) == {"patch"}, got

    # Offline during a change: the page misses its patch, and the next one names a base it does not hold.
    page.evaluate("PQNet.current.socket.disconnect()")
    act("remove", entry=line()[3]["id"])
    page.evaluate("PQNet.current.socket.connect()")
    expect(page.locator("#conn.conn-live")).to_be_visible()
    shows_snapshot()
    act("add_walk_in", pseudonym="Late2", to=1)
    shows_snapshot()
    act("move", entry=line()[0]["id"], to=10)
    shows_snapshot()
    assert page.evaluate("window.pqGot").count("whole") == 0  # the reconnect's view came as the snapshot

    # Someone beyond the listed window: found by part of the name in another case, shown at their place, removed
    # from the search result; the result follows the line as it moves.
    snap = snapshot()
    assert len(snap["line"]) == LINE_WINDOW and snap["public"]["counts"]["line"] > LINE_WINDOW
    target = back["pseudonym"]
    assert target not in {e["pseudonym"] for e in snap["line"]}
    page.fill("#find-q", target.lower())
    page.click("#find-form button[type=submit]")
    found = page.locator("#found > li")
    expect(found).to_have_count(1)
    expect(found.first).to_contain_text(target)
    place = int(found.first.get_attribute("data-position"))
    assert place > LINE_WINDOW
    act("call_next")  # the line moves up: the result is asked again and shows the new place
    expect(found.first).to_have_attribute("data-position", str(place - 1))
    found.first.locator("[data-act=remove]").click()
    expect(page.locator("#confirm-dialog")).to_be_visible()
    page.click("#confirm-ok")
    expect(page.locator("#find-status")).to_contain_text(target.lower())  # "nobody in line matches"
    expect(found).to_have_count(0)
    assert requests.post(f"{url}/api/events/{slug}/find", json={"q": target}, headers={"X-Coordinator-Token": token},
                         timeout=30).json()["data"]["found"] == 0
    assert errors == []
    ctx.close()

