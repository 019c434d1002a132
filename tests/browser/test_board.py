"""The observer board in Chromium against a real server: live updates, the polling fallback, privacy, big screen,
screenshots, and the join QR code decoded back into its link."""
from __future__ import annotations

import base64
import re
import secrets
import uuid
from pathlib import Path

import pytest
import requests

pytestmark = [pytest.mark.browser, pytest.mark.server]

WAIT = 30_000  # ms; generous, the machine is small and shared
ROOT = Path(__file__).resolve().parents[2]
JSQR = ROOT / "node_modules" / "jsqr" / "dist" / "jsQR.js"


class Api:
    """A coordinator and participants driving one event over HTTP."""

    def __init__(self, base: str, **spec):
        """Create the event."""
        self.base = base
        spec = {"title": "Пикет у Лубянки", "location": "Лубянская площадь",
                "spots": [{"label": "A"}, {"label": "B"}], **spec}
        r = requests.post(f"{base}/api/events", json=spec, timeout=10)
        assert r.status_code == 201, r.text
        self.slug = r.json()["event"]["event"]["slug"]
        self.token = r.json()["coordinator_token"]
        self.people: dict[str, str] = {}

    def _post(self, name: str, args: dict, headers: dict) -> dict:
        """POST an action with a fresh op id; it must succeed."""
        r = requests.post(f"{self.base}/api/events/{self.slug}/actions/{name}",
                          json={"op": uuid.uuid4().hex, "args": args}, headers=headers, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()

    def c(self, name: str, **args) -> dict:
        """A coordinator action."""
        return self._post(name, args, {"X-Coordinator-Token": self.token})

    def p(self, who: str, name: str, **args) -> dict:
        """A participant action (`who` is a pseudonym; the token is made on first use)."""
        token = self.people.setdefault(who, secrets.token_urlsafe(32))
        return self._post(name, args, {"X-Participant-Token": token})

    def entry_id(self, pseudonym: str) -> int:
        """The coordinator's id of a person's entry."""
        snap = requests.get(f"{self.base}/api/events/{self.slug}/snapshot",
                            headers={"X-Coordinator-Token": self.token}, timeout=10).json()["data"]
        return [e for e in snap["line"] + snap["active"] + snap["past"] if e["pseudonym"] == pseudonym][0]["id"]


def expect():
    """Playwright's expect (imported late: Playwright is only needed when Chromium is there)."""
    from playwright.sync_api import expect as pw_expect
    return pw_expect


def spot(page, n: int):
    """The n-th spot card (0-based)."""
    return page.locator("#b-spot-list > li").nth(n)


def test_board_updates_live_and_keeps_pseudonyms_private(live_server, phone, browser, artifacts):
    """Joins, calls, arrivals, an announcement, a detention and the pseudonym setting reach an open board live."""
    ex = expect()
    api = Api(live_server.url, slot_ms=600_000)
    ctx = phone()
    page = ctx.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto(f"{live_server.url}/e/{api.slug}/board")
    board = page.locator("#board")
    ex(board).to_have_attribute("data-mode", "live", timeout=WAIT)
    ex(page.locator("#b-waiting")).to_have_text("0")
    ex(page.locator("#b-state")).to_have_text("Очередь открыта; пикеты ещё не начались.")

    for name in ("Alice", "Bob", "Carol"):
        api.p(name, "join", pseudonym=name)
    ex(page.locator("#b-waiting")).to_have_text("3", timeout=WAIT)

    api.c("start")  # automatic calls: Alice to A, Bob to B
    ex(page.locator("#b-waiting")).to_have_text("1", timeout=WAIT)
    ex(spot(page, 0)).to_have_attribute("data-status", "called")
    ex(spot(page, 0)).to_contain_text("№ 1 идёт на место")
    ex(page.locator("#b-eta")).to_have_text(re.compile(r"\d+(–\d+)? мин|около \d+ мин"))

    api.p("Alice", "confirm_arrival")
    ex(spot(page, 0)).to_have_attribute("data-status", "busy", timeout=WAIT)
    ex(spot(page, 0).locator(".b-holder")).to_have_text("№ 1")
    left = spot(page, 0).locator(".b-left")
    ex(left).to_have_text(re.compile(r"осталось \d{1,2}:\d\d"))
    ex(left).not_to_have_text(left.text_content(), timeout=WAIT)  # the countdown runs
    assert "Alice" not in page.content() and "Bob" not in page.content()

    api.c("broadcast", text="Переходим на другую сторону площади")
    ex(page.locator("#b-news")).to_contain_text("Переходим на другую сторону площади", timeout=WAIT)

    # Screenshots while spot A is taken and B has its next person on the way: phone, then a laptop in English.
    page.screenshot(path=str(artifacts / "board-360x740.png"), full_page=True)
    page.locator("#b-big").click()
    ex(page.locator("html")).to_have_class(re.compile(r"\bbig\b"))
    ex(page.locator("#b-big")).to_have_attribute("aria-pressed", "true")
    page.screenshot(path=str(artifacts / "board-360x740-big.png"), full_page=True)
    page.locator("#b-big").click()
    ex(page.locator("#b-big")).to_have_attribute("aria-pressed", "false")
    laptop = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US").new_page()
    laptop.goto(f"{live_server.url}/e/{api.slug}/board")
    ex(laptop.locator("#board")).to_have_attribute("data-mode", "live", timeout=WAIT)
    ex(laptop.locator("h2#b-figures-h")).to_have_text("The line in numbers")
    ex(laptop.locator(".b-fig-wait dt")).to_have_text("Waiting in line")
    ex(spot(laptop, 0).locator(".b-left")).to_have_text(re.compile(r"\d{1,2}:\d\d left"))
    laptop.screenshot(path=str(artifacts / "board-1280x800.png"), full_page=True)
    laptop.locator("#b-big").focus()
    laptop.keyboard.press("Enter")  # keyboard usable
    ex(laptop.locator("#b-big")).to_have_text("Exit big screen")
    laptop.screenshot(path=str(artifacts / "board-1280x800-big.png"))

    api.c("pause")  # countdowns and the estimate freeze
    ex(page.locator("#b-state")).to_have_text("Координаторы поставили очередь на паузу.", timeout=WAIT)
    ex(page.locator("#b-eta")).to_have_text("пауза")
    api.c("resume")
    ex(page.locator("#b-state")).to_be_hidden(timeout=WAIT)

    api.c("settings", show_pseudonyms=True)
    ex(spot(page, 0).locator(".b-holder")).to_have_text("Alice", timeout=WAIT)

    api.c("detain", entry=api.entry_id("Alice"), note="ОВД Мещанский", pause=False)
    ex(page.locator("#b-detained")).to_have_text("1", timeout=WAIT)
    ex(laptop.locator("#b-detained")).to_have_text("1", timeout=WAIT)
    assert "ОВД" not in page.content()  # the note is for coordinators only
    ex(page.locator("#b-qr")).to_be_visible()
    assert not errors, errors

    # Turning the QR code off hides it live; deleting the event tells the board.
    api.c("settings", board_qr=False)
    ex(laptop.locator("#b-join")).to_be_hidden(timeout=WAIT)
    api.c("panic")
    ex(page.locator("#board")).to_have_attribute("data-mode", "gone", timeout=WAIT)
    ex(page.locator("#b-conn-text")).to_have_text("Этого события больше нет.")
    laptop.context.close()


def test_board_falls_back_to_polling_when_socket_io_is_blocked(live_server, phone):
    """With every Socket.IO request refused, the board still follows the line by polling the public snapshot;
    its countdowns follow the server's clock even on a device whose clock is two hours fast."""
    ex = expect()
    api = Api(live_server.url)  # 5-minute slots
    ctx = phone(locale="en-US", width=320, height=640)
    ctx.add_init_script("(() => { const real = Date.now; Date.now = () => real() + 2 * 3600 * 1000; })();")
    page = ctx.new_page()
    socket_requests = []

    def block(route):
        """Refuse a Socket.IO request, as a hostile network would."""
        socket_requests.append(route.request.url)
        route.abort()

    page.route(re.compile(r".*/socket\.io/.*"), block)
    page.goto(f"{live_server.url}/e/{api.slug}/board")
    ex(page.locator("#b-waiting")).to_have_text("0")  # the first paint comes with the page
    api.p("Ann", "join", pseudonym="Ann")
    api.p("Ben", "join", pseudonym="Ben")
    ex(page.locator("#board")).to_have_attribute("data-mode", "polling", timeout=WAIT)
    ex(page.locator("#b-conn-text")).to_have_text("Updating every 10 seconds")
    ex(page.locator("#b-waiting")).to_have_text("2", timeout=WAIT)
    api.c("start")
    ex(spot(page, 0)).to_have_attribute("data-status", "called", timeout=WAIT)
    ex(page.locator("#b-waiting")).to_have_text("0")
    api.p("Ann", "confirm_arrival")
    ex(spot(page, 0).locator(".b-left")).to_have_text(re.compile(r"^[345]:\d\d left$"), timeout=WAIT)
    assert socket_requests, "the board never tried Socket.IO"
    assert page.evaluate("document.documentElement.scrollWidth") <= 320  # no sideways scrolling at 320 px
    assert page.locator("#board").get_attribute("data-mode") == "polling"


def _decode_qr(page, svg: bytes) -> str | None:
    """Decode a QR code SVG with jsQR on a canvas in a blank page (no app CSP there)."""
    page.goto("about:blank")
    page.add_script_tag(content=JSQR.read_text())
    return page.evaluate("""async (b64) => {
        const img = new Image();
        img.src = "data:image/svg+xml;base64," + b64;
        await img.decode();
        const c = document.createElement("canvas");
        c.width = c.height = 400;
        const g = c.getContext("2d");
        g.fillStyle = "#fff";
        g.fillRect(0, 0, 400, 400);
        g.drawImage(img, 0, 0, 400, 400);
        const d = g.getImageData(0, 0, 400, 400);
        const code = jsQR(d.data, 400, 400);
        return code ? code.data : null;
    }""", base64.b64encode(svg).decode())


def test_join_qr_code_decodes_to_the_join_link(live_server, browser, app, client, event):
    """The served QR code holds the absolute join link: of the server's host, or of PUBLIC_URL when set."""
    assert JSQR.exists(), "run `npm ci` (jsqr is a pinned dev dependency)"
    api = Api(live_server.url)
    ctx = browser.new_context()
    try:
        page = ctx.new_page()
        svg = requests.get(f"{live_server.url}/e/{api.slug}/qr.svg", timeout=10).content
        assert _decode_qr(page, svg) == f"{live_server.url}/e/{api.slug}"
        app.config["PUBLIC_URL"] = "https://picket.example"
        svg = client.get(f"/e/{event['slug']}/qr.svg").data
        assert _decode_qr(page, svg) == f"https://picket.example/e/{event['slug']}"
        # The board shows the same code, as an image served by the app.
        page.goto(f"{live_server.url}/e/{api.slug}/board")
        src = page.locator("#b-qr").get_attribute("src")
        assert src == f"/e/{api.slug}/qr.svg"
        assert page.locator("#b-qr").evaluate("img => img.complete && img.naturalWidth > 0")
    finally:
        ctx.close()


def test_poster_page_prints_on_one_a4_page(live_server, browser, artifacts):
    """The poster renders with its QR code; printed to PDF it is one A4 page."""
    api = Api(live_server.url)
    ctx = browser.new_context(viewport={"width": 900, "height": 1200}, locale="en-US")
    try:
        page = ctx.new_page()
        page.goto(f"{live_server.url}/e/{api.slug}/print")
        expect()(page.locator(".p-qr")).to_be_visible()
        assert page.locator(".p-qr").evaluate("img => img.complete && img.naturalWidth > 0")
        page.screenshot(path=str(artifacts / "poster-screen.png"), full_page=True)
        pdf = page.pdf(format="A4", print_background=True)
        assert len(re.findall(rb"/Type\s*/Page(?!s)", pdf)) == 1
    finally:
        ctx.close()
