"""Sharing and looking back over HTTP: QR code, A4 poster, board page data, statistics, charts, CSV export."""
from __future__ import annotations

import csv
import io
import secrets
import uuid
import xml.etree.ElementTree as ET

import pytest

from tests.domain.test_stats import S, run_picket
from coordinator.services import services

SVG = "{http://www.w3.org/2000/svg}"


def act(client, slug, name, args=None, coordinator=None, participant=None):
    """Run an action over HTTP; returns the JSON answer."""
    headers = {}
    if coordinator:
        headers["X-Coordinator-Token"] = coordinator
    if participant:
        headers["X-Participant-Token"] = participant
    r = client.post(f"/api/events/{slug}/actions/{name}", json={"op": uuid.uuid4().hex, "args": args or {}},
                    headers=headers)
    assert r.status_code == 200, r.json
    return r.json


@pytest.fixture
def picket(app, client):
    """The scripted picket of tests/domain/test_stats.py, run on the app's engine and fake clock."""
    return run_picket(services(app).queue)


def coord(token):
    """The coordinator token header."""
    return {"X-Coordinator-Token": token}


# ---------------------------------------------------------------- QR code and poster

def test_qr_svg_holds_the_join_link(client, event):
    """A public SVG with an accessible title; its description is the absolute join link of this host."""
    r = client.get(f"/e/{event['slug']}/qr.svg")
    assert r.status_code == 200 and r.mimetype == "image/svg+xml"
    root = ET.fromstring(r.data)
    assert root.tag == SVG + "svg"
    assert root.find(SVG + "title").text
    assert root.find(SVG + "desc").text == f"http://localhost/e/{event['slug']}"
    assert root.find(SVG + "path") is not None


def test_qr_uses_public_url_when_configured(app, client, event):
    """Behind a proxy the configured PUBLIC_URL is the base of the link, on the QR code and the poster."""
    app.config["PUBLIC_URL"] = "https://picket.example/"
    root = ET.fromstring(client.get(f"/e/{event['slug']}/qr.svg").data)
    assert root.find(SVG + "desc").text == f"https://picket.example/e/{event['slug']}"
    page = client.get(f"/e/{event['slug']}/print").get_data(as_text=True)
    assert f"https://picket.example/e/{event['slug']}<" in page
    assert "http://localhost" not in page


def test_qr_and_poster_of_unknown_event_are_404(client):
    """Unknown events have no QR code and no poster."""
    assert client.get("/e/nosuchevent/qr.svg").status_code == 404
    assert client.get("/e/nosuchevent/print").status_code == 404


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_poster_has_both_languages_whatever_the_locale(client, event, lang):
    """The poster carries the instructions in Russian and in English, Russian first, whatever the reader's language."""
    client.set_cookie("lang", lang)
    page = client.get(f"/e/{event['slug']}/print").get_data(as_text=True)
    ru, en = page.index("Встаньте в очередь на пикет"), page.index("Join the picket line")
    assert ru < en
    assert "Выберите любой псевдоним" in page and "Pick any nickname" in page
    assert 'lang="ru"' in page and 'lang="en"' in page
    assert f'src="/e/{event["slug"]}/qr.svg"' in page
    assert "Test picket" in page and "Square" in page
    assert event["token"] not in page
    assert "style=" not in page and "onclick" not in page


# ---------------------------------------------------------------- the board page's data

def test_board_hides_pseudonyms_unless_the_event_allows_them(client, event):
    """Observers see ticket numbers only; pseudonyms appear only after the coordinators allow it."""
    slug, token = event["slug"], event["token"]
    alice = secrets.token_urlsafe(32)
    act(client, slug, "join", {"pseudonym": "Alice Wonder"}, participant=alice)
    act(client, slug, "start", coordinator=token)
    act(client, slug, "confirm_arrival", participant=alice)
    page = client.get(f"/e/{slug}/board").get_data(as_text=True)
    assert "Alice Wonder" not in page
    assert client.get(f"/api/events/{slug}").json["data"]["public"]["spots"][0]["ticket"] == 1
    act(client, slug, "settings", {"show_pseudonyms": True}, coordinator=token)
    page = client.get(f"/e/{slug}/board").get_data(as_text=True)
    assert "Alice Wonder" in page
    assert client.get(f"/api/events/{slug}").json["data"]["public"]["spots"][0]["name"] == "Alice Wonder"


def test_board_qr_setting(client, event):
    """`board_qr` defaults to on and the settings action switches the board's QR code off."""
    slug = event["slug"]
    assert client.get(f"/api/events/{slug}").json["data"]["public"]["event"]["board_qr"] is True
    page = client.get(f"/e/{slug}/board").get_data(as_text=True)
    assert 'id="b-join" aria-labelledby="b-join-h">' in page
    act(client, slug, "settings", {"board_qr": False}, coordinator=event["token"])
    assert client.get(f"/api/events/{slug}").json["data"]["public"]["event"]["board_qr"] is False
    page = client.get(f"/e/{slug}/board").get_data(as_text=True)
    assert 'id="b-join" aria-labelledby="b-join-h" hidden>' in page
    r = client.post(f"/api/events/{slug}/actions/settings", json={"op": uuid.uuid4().hex, "args": {"board_qr": "no"}},
                    headers=coord(event["token"]))
    assert r.status_code == 400 and r.json["error"]["code"] == "bad_request"


def test_board_page_is_csp_clean(client, event):
    """No inline script code, no inline styles, no third-party resources on the board."""
    r = client.get(f"/e/{event['slug']}/board")
    page = r.get_data(as_text=True)
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert "style=" not in page and " onclick" not in page and "http://" not in page.replace("http://localhost", "")
    for chunk in page.split("<script")[1:]:
        head = chunk.split(">", 1)[0]
        assert "src=" in head or 'type="application/json"' in head


# ---------------------------------------------------------------- coordinator-only endpoints

PROTECTED = ["stats", "export.csv", "stats/chart/line.svg", "stats/chart/waits.svg"]


@pytest.mark.parametrize("path", PROTECTED)
def test_protected_endpoints_refuse_non_coordinators(client, event, path):
    """No token: 401; a bad token: 401; a participant: 403; another event's coordinator: 401; always JSON errors."""
    slug = event["slug"]
    other = client.post("/api/events", json={"title": "Other"}).json["coordinator_token"]
    cases = [({}, 401, "unauthorized"), (coord("x" * 43), 401, "unauthorized"),
             ({"X-Participant-Token": secrets.token_urlsafe(32)}, 403, "forbidden"),
             (coord(other), 401, "unauthorized")]
    for headers, status, code in cases:
        r = client.get(f"/api/events/{slug}/{path}", headers=headers)
        assert r.status_code == status, (headers, r.json)
        assert r.json["ok"] is False and r.json["error"]["code"] == code and r.json["error"]["message"]
    r = client.get(f"/api/events/nosuchevent/{path}", headers=coord(event["token"]))
    assert r.status_code == 404 and r.json["error"]["code"] == "not_found"


def test_unknown_chart_is_a_json_404(client, event):
    """Only the documented charts exist."""
    r = client.get(f"/api/events/{event['slug']}/stats/chart/pie.svg", headers=coord(event["token"]))
    assert r.status_code == 404 and r.json["error"]["code"] == "not_found"


def test_stats_of_the_scripted_picket(client, picket):
    """The numbers worked out by hand in tests/domain/test_stats.py, through HTTP."""
    r = client.get(f"/api/events/{picket['slug']}/stats", headers=coord(picket["token"]))
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    d = r.json["data"]
    t0 = picket["t0"]
    assert (d["held"], d["calls"], d["detentions"], d["noshow_rate"]) == (2, 5, 1, 0.2)
    assert d["total_on_spot_ms"] == 440 * S
    assert (d["wait_median_ms"], d["wait_p90_ms"]) == (530 * S, 690 * S)
    assert d["line_over_time"] == [[t0 + sec * S, n] for sec, n in (
        (0, 1), (10, 2), (20, 3), (30, 4), (60, 3), (330, 2), (600, 1), (700, 0))]


def test_csv_export_of_the_scripted_picket(client, picket):
    """A download with one row per entry, times in ISO 8601 UTC, durations in seconds."""
    r = client.get(f"/api/events/{picket['slug']}/export.csv", headers=coord(picket["token"]))
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert r.headers["Content-Disposition"] == f'attachment; filename="picket-{picket["slug"]}.csv"'
    assert r.headers["Cache-Control"] == "no-store"
    text = r.data.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:])))
    assert rows[0] == ["ticket", "pseudonym", "state", "joined", "called", "started", "finished", "wait_s",
                       "on_spot_s", "misses", "note"]
    assert rows[1] == ["1", "Alice", "done", "2027-01-15T08:00:00Z", "2027-01-15T08:01:00Z", "2027-01-15T08:01:30Z",
                       "2027-01-15T08:06:30Z", "60", "300", "0", ""]
    assert rows[3] == ["3", "Carol", "detained", "2027-01-15T08:00:20Z", "2027-01-15T08:08:30Z",
                       "2027-01-15T08:09:00Z", "2027-01-15T08:10:00Z", "490", "60", "0", "OVD Tverskoy"]
    assert [row[:3] for row in rows[1:]] == [["1", "Alice", "done"], ["2", "Bob", "left"], ["3", "Carol", "detained"],
                                             ["4", "Dan", "done"]]
    assert rows[2][7:10] == ["690", "", "1"]


def test_csv_defuses_formulas_in_pseudonyms(client, event):
    """A pseudonym that a spreadsheet would run as a formula is exported as text."""
    act(client, event["slug"], "join", {"pseudonym": "=HYPERLINK(1)"}, participant=secrets.token_urlsafe(32))
    text = client.get(f"/api/events/{event['slug']}/export.csv", headers=coord(event["token"])).data.decode()
    row = list(csv.reader(io.StringIO(text[1:])))[1]
    assert row[1] == "'=HYPERLINK(1)"


def _svg(client, picket, name, lang):
    """Fetch a chart as a coordinator reading in `lang`; returns the parsed SVG."""
    client.set_cookie("lang", lang)
    r = client.get(f"/api/events/{picket['slug']}/stats/chart/{name}.svg", headers=coord(picket["token"]))
    assert r.status_code == 200 and r.mimetype == "image/svg+xml" and r.headers["Cache-Control"] == "no-store"
    return ET.fromstring(r.data)


def test_line_chart(client, picket):
    """A step line with an accessible title and a description that states the peak, in the reader's language."""
    root = _svg(client, picket, "line", "en")
    assert root.get("role") == "img"
    assert root.find(SVG + "title").text == "Line length over time"
    assert root.find(SVG + "desc").text == "Over 12 minutes the line was at most 4 people long; it is 0 now."
    path = [p for p in root.iter(SVG + "path")]
    assert len(path) == 1 and path[0].get("d").count("V") == 7  # 8 points: a start and 7 changes
    ru = _svg(client, picket, "line", "ru")
    assert ru.find(SVG + "title").text == "Длина очереди во времени"


def test_waits_chart(client, picket):
    """A histogram: waits of 1, 8.2, 9.5 and 11.5 minutes in 2-minute bins."""
    root = _svg(client, picket, "waits", "en")
    assert root.find(SVG + "title").text == "Waiting times"
    assert root.find(SVG + "desc").text == ("4 people waited; the median wait was 8.8 minutes, "
                                            "the longest 11.5 minutes.")
    bars = [r.find(SVG + "title").text for r in root.iter(SVG + "rect") if r.find(SVG + "title") is not None]
    assert bars == ["0 to 2 min: 1", "2 to 4 min: 0", "4 to 6 min: 0", "6 to 8 min: 0", "8 to 10 min: 2",
                    "10 to 12 min: 1"]


def test_charts_of_an_empty_event_say_so(client, event):
    """No joins yet: the charts render and say there is no data."""
    for name in ("line", "waits"):
        r = client.get(f"/api/events/{event['slug']}/stats/chart/{name}.svg",
                       headers={**coord(event["token"]), "Accept-Language": "en"})
        assert ET.fromstring(r.data).find(SVG + "desc").text == "No data yet."
