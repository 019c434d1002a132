"""A real phone (headless Chromium at 360x740) joins with the proof of work solved in its worker, while a script
floods the same event from another address; the "checking" state is shown while it solves."""
from __future__ import annotations

import json
import secrets
import sys
import threading
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from flood import Api, flood  # noqa: E402  the benchmark's attacker, shortened

POW_ENV = {"PICKET_POW_REQUIRED": "true", "PICKET_POW_COST": "1000", "PICKET_ADDR_LIMITS": "true"}


def test_phone_joins_during_a_flood(server_factory, phone, artifacts):
    srv = server_factory(extra_env=POW_ENV)
    r = requests.post(srv.url + "/api/events", json={"title": "Пикет", "spots": [{"label": "A"}]}, timeout=10)
    slug, ctok = r.json()["event"]["event"]["slug"], r.json()["coordinator_token"]
    port = int(srv.url.rsplit(":", 1)[1])

    stop = threading.Event()
    results = []

    def attacker():
        api = Api(port, "127.0.0.2")
        while not stop.is_set():
            results.append(flood(api, slug, 1.0))
    t = threading.Thread(target=attacker, daemon=True)
    t.start()
    try:
        page = phone().new_page()
        page.goto(f"{srv.url}/e/{slug}")
        page.wait_for_selector("#s-join:not([hidden])")
        page.fill("#pseudonym", "Настоящая Лиса")
        # Slow the challenge answer a little so the "checking" state can be seen and photographed.
        page.route("**/challenge", lambda route: (time.sleep(0.3), route.continue_()))
        page.click("#btn-join")
        page.wait_for_selector("#join-solving:not([hidden])")
        assert "телефон" in page.inner_text("#join-solving")
        page.screenshot(path=str(artifacts / "join-solving-360.png"))
        page.wait_for_selector("#s-wait:not([hidden])", timeout=60_000)
        page.screenshot(path=str(artifacts / "join-done-360.png"))
    finally:
        stop.set()
        t.join(30)
    snap = requests.get(f"{srv.url}/api/events/{slug}/snapshot", headers={"X-Coordinator-Token": ctok},
                        timeout=10).json()["data"]
    names = [e["pseudonym"] for e in snap["line"]]
    assert "Настоящая Лиса" in names
    assert sum(x["attempts"] for x in results) > 0  # the flood really ran


def test_plain_script_without_proof_of_work_gets_no_place(server_factory):
    srv = server_factory(extra_env=POW_ENV)
    r = requests.post(srv.url + "/api/events", json={"title": "Picket"}, timeout=10)
    slug = r.json()["event"]["event"]["slug"]
    codes = set()
    for i in range(20):
        r = requests.post(f"{srv.url}/api/events/{slug}/actions/join",
                          data=json.dumps({"op": secrets.token_urlsafe(12), "args": {"pseudonym": f"Bot {i}"}}),
                          headers={"Content-Type": "application/json",
                                   "X-Participant-Token": secrets.token_urlsafe(32)}, timeout=10)
        codes.add(r.json()["error"]["code"])
    assert codes == {"pow_required"}
    assert requests.get(f"{srv.url}/api/events/{slug}", timeout=10).json()["data"]["public"]["counts"]["line"] == 0
