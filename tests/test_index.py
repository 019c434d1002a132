"""The start page (form with and without JS), the console page's headers, and coordinator passphrases."""
from __future__ import annotations

import re

import pytest

from conftest import new_op
from coordinator.services import services

FORM = {"title": "Lubyanka", "location": "Square", "spots": "A\nB", "slot_min": "5", "grace_min": "2",
        "lead_min": "1", "max_queue": "50", "purge_after_h": "0"}


def csrf_token(client) -> str:
    """The CSRF token the start page hands this browser session."""
    html = client.get("/").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def created_link(html: str) -> tuple[str, str]:
    """Slug and token of the coordinator link shown after creation."""
    m = re.search(r'/c/(\w+)#k=([\w-]+)"', html)
    assert m, "the page shows no coordinator link"
    return m.group(1), m.group(2)


@pytest.mark.parametrize("lang,text", [("ru", "Создать акцию"), ("en", "Create an event")])
def test_start_page_in_both_languages(client, lang, text):
    """The start page explains the product and offers the form, Russian first."""
    client.set_cookie("lang", lang)
    r = client.get("/")
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert text in html
    assert 'name="csrf_token"' in html
    assert "<script>" not in html and " style=" not in html and " onclick=" not in html
    assert html.index("Русский") < html.index("English")


def test_form_creates_event_without_js(client, app):
    """The plain form creates the event with its settings and shows the secret link once (not cached)."""
    r = client.post("/", data=FORM | {"csrf_token": csrf_token(client), "show_pseudonyms": "on"})
    assert r.status_code == 200
    assert r.headers["Cache-Control"] == "no-store"
    slug, token = created_link(r.get_data(as_text=True))
    snap = client.get(f"/api/events/{slug}/snapshot", headers={"X-Coordinator-Token": token}).json["data"]
    ev = snap["public"]["event"]
    assert (ev["title"], ev["location"], ev["slot_ms"], ev["grace_ms"], ev["lead_ms"], ev["max_queue"]) == \
        ("Lubyanka", "Square", 300_000, 120_000, 60_000, 50)
    assert ev["show_pseudonyms"] is True
    assert snap["settings"]["purge_after_ms"] == 0
    assert [s["label"] for s in snap["public"]["spots"]] == ["A", "B"]


def test_form_defaults(client):
    """Observers see no pseudonyms and data is deleted 12 hours after the end unless chosen otherwise."""
    r = client.post("/", data={"title": "X", "csrf_token": csrf_token(client)})
    slug, token = created_link(r.get_data(as_text=True))
    snap = client.get(f"/api/events/{slug}/snapshot", headers={"X-Coordinator-Token": token}).json["data"]
    assert snap["public"]["event"]["show_pseudonyms"] is False
    assert snap["settings"]["purge_after_ms"] == 12 * 3600_000
    assert [s["label"] for s in snap["public"]["spots"]] == ["A"]


def test_form_without_csrf_token_is_refused(client, app):
    """A cross-site form post (no token from this session) creates nothing."""
    from coordinator.domain.models import Event
    r = client.post("/", data=FORM)
    assert r.status_code == 400
    r = client.post("/", data=FORM | {"csrf_token": "forged"})
    assert r.status_code == 400
    with services(app).queue.store.read() as s:
        assert s.query(Event).count() == 0


def test_form_error_is_translated_and_keeps_values(client):
    """A refused value gives a translated message naming the field, and the typed values stay."""
    client.set_cookie("lang", "ru")
    r = client.post("/", data=FORM | {"title": "", "location": "Пушкинская", "csrf_token": csrf_token(client)})
    html = r.get_data(as_text=True)
    assert r.status_code == 400
    assert "Какое-то значение неверно. (Название)" in html
    assert 'value="Пушкинская"' in html


def test_console_page_headers(client, event):
    """The console is never cached, keeps no referrer, allows no inline script, and carries no secret."""
    r = client.get(f"/c/{event['slug']}")
    assert r.status_code == 200
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["Referrer-Policy"] == "no-referrer"
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    html = r.get_data(as_text=True)
    assert event["token"] not in html
    assert f"/e/{event['slug']}/qr.svg" in html
    assert client.get("/c/nosuchevent").status_code == 404


def test_passphrase_checked_over_http(client):
    """With a passphrase set, the coordinator token alone is refused; the header with the right phrase works."""
    r = client.post("/api/events", json={"title": "P", "passphrase": "correct horse"})
    slug, token = r.json["event"]["event"]["slug"], r.json["coordinator_token"]
    url = f"/api/events/{slug}/snapshot"
    r = client.get(url, headers={"X-Coordinator-Token": token})
    assert (r.status_code, r.json["error"]["code"]) == (401, "passphrase_required")
    r = client.get(url, headers={"X-Coordinator-Token": token, "X-Coordinator-Passphrase": "wrong horse"})
    assert (r.status_code, r.json["error"]["code"]) == (401, "passphrase_required")
    r = client.post(f"/api/events/{slug}/actions/start", json={"op": new_op()},
                    headers={"X-Coordinator-Token": token, "X-Coordinator-Passphrase": "wrong horse"})
    assert r.status_code == 401
    r = client.get(url, headers={"X-Coordinator-Token": token, "X-Coordinator-Passphrase": "correct horse"})
    assert r.status_code == 200 and r.json["data"]["role"] == "coordinator"


def test_passphrase_checked_on_socket(app, client):
    """The socket refuses a coordinator without the passphrase and accepts the right one."""
    from coordinator.extensions import socketio
    r = client.post("/api/events", json={"title": "P", "passphrase": "correct horse"})
    slug, token = r.json["event"]["event"]["slug"], r.json["coordinator_token"]
    bad = socketio.test_client(app, auth={"event": slug, "coordinator": token})
    assert not bad.is_connected()
    good = socketio.test_client(app, auth={"event": slug, "coordinator": token, "passphrase": "correct horse"})
    assert good.is_connected()
    assert any(m["name"] == "snapshot" and m["args"][0]["role"] == "coordinator" for m in good.get_received())
    good.disconnect()


def test_passphrase_only_with_coordinator_token(client, event):
    """A passphrase without a coordinator token is a malformed request, not an observer."""
    r = client.get(f"/api/events/{event['slug']}/snapshot", headers={"X-Coordinator-Passphrase": "whatever1"})
    assert r.status_code == 400


def test_form_short_passphrase_names_the_field(client):
    """A too-short passphrase is refused with the field named, and no event is created."""
    client.set_cookie("lang", "en")
    r = client.post("/", data=FORM | {"passphrase": "short", "csrf_token": csrf_token(client)})
    assert r.status_code == 400
    assert "Some value is not valid. (Passphrase)" in r.get_data(as_text=True)
    assert "#k=" not in r.get_data(as_text=True)
