"""Proof of work on joins over HTTP and Socket.IO: missing, malformed, tampered, for another event, expired, replayed;
a priced challenge; junk cannot use up the event-creation budget; the address limits."""
from __future__ import annotations

import base64
import json

import altcha
import pytest

from coordinator.extensions import db, socketio
from coordinator.addrlimit import AddressLimiter
from coordinator.services import services
from conftest import new_op, new_token, app_with


@pytest.fixture
def app(tmp_path):
    """The app with proof of work required (cheap: 16 attempts of 1 iteration) and address limits on."""
    with app_with(tmp_path, POW_REQUIRED=True, POW_COST=1, POW_PREFIX="0", ADDR_LIMITS=True, ADDR_BURST=50) as app:
        yield app


def make_event(client, **spec) -> dict:
    r = client.post("/api/events", json={"title": "Picket", **spec})
    assert r.status_code == 201, r.json
    return {"slug": r.json["event"]["event"]["slug"], "token": r.json["coordinator_token"]}


def get_challenge(client, slug) -> dict:
    r = client.post(f"/api/events/{slug}/challenge")
    assert r.status_code == 200, r.json
    assert r.headers["Cache-Control"] == "no-store"
    return r.json["challenge"]


def solve(ch: dict) -> dict:
    """What a client sends: {challenge, solution}, solved with the ALTCHA library (hashlib underneath)."""
    sol = altcha.solve_challenge(altcha.Challenge.from_dict(ch))
    return {"challenge": ch, "solution": sol.to_dict()}


def join(client, slug, token, pow_=None, op=None):
    args = {"pseudonym": "Fox"}
    if pow_ is not None:
        args["pow"] = pow_
    return client.post(f"/api/events/{slug}/actions/join", json={"op": op or new_op(), "args": args},
                       headers={"X-Participant-Token": token})


def line_length(client, ev) -> int:
    r = client.get(f"/api/events/{ev['slug']}/snapshot", headers={"X-Coordinator-Token": ev["token"]})
    return len(r.json["data"]["line"])


def code_of(resp) -> str:
    assert resp.json["ok"] is False, resp.json
    return resp.json["error"]["code"]


def test_challenge_is_signed_and_bound_to_the_event(client):
    ev = make_event(client)
    ch = get_challenge(client, ev["slug"])
    p = ch["parameters"]
    assert p["algorithm"] == "PBKDF2/SHA-256" and p["keyPrefix"] == "0" and p["cost"] == 1
    assert p["data"] == {"event": ev["slug"]} and isinstance(p["expiresAt"], int) and ch["signature"]
    assert code_of(client.post("/api/events/nosuchev/challenge")) == "not_found"


def test_join_needs_a_valid_unspent_proof_of_work(app, client):
    ev, other = make_event(client), make_event(client)
    slug = ev["slug"]
    # missing
    r = join(client, slug, new_token())
    assert r.status_code == 403 and code_of(r) == "pow_required"
    # malformed
    for junk in ("x", 5, {"challenge": {}}, base64.b64encode(b"[]").decode(), {"challenge": 1, "solution": 2}):
        assert code_of(join(client, slug, new_token(), junk)) == "pow_invalid", junk
    # tampered: a wrong counter, a key that was not derived, a cheaper (unsigned) price
    good = solve(get_challenge(client, slug))
    bad = json.loads(json.dumps(good))
    bad["solution"]["counter"] += 1
    assert code_of(join(client, slug, new_token(), bad)) == "pow_invalid"
    bad = json.loads(json.dumps(good))
    bad["challenge"]["parameters"]["keyPrefix"] = ""
    assert code_of(join(client, slug, new_token(), bad)) == "pow_invalid"
    # made for another event
    assert code_of(join(client, slug, new_token(), solve(get_challenge(client, other["slug"])))) == "pow_invalid"
    assert line_length(client, ev) == 0  # nothing above changed anything
    # valid: in; the same solution again (another phone) is refused; base64 (the ALTCHA widget's form) works too
    r = join(client, slug, new_token(), good)
    assert r.status_code == 200, r.json
    assert code_of(join(client, slug, new_token(), good)) == "pow_replayed"
    fresh = solve(get_challenge(client, slug))
    assert join(client, slug, new_token(), base64.b64encode(json.dumps(fresh).encode()).decode()).status_code == 200
    assert line_length(client, ev) == 2


def test_a_challenge_gets_three_wrong_tries_then_is_refused_unchecked(app, client, monkeypatch):
    ev = make_event(client)
    good = solve(get_challenge(client, ev["slug"]))
    calls = []
    real = altcha.verify_solution
    monkeypatch.setattr(altcha, "verify_solution", lambda *a, **k: calls.append(1) or real(*a, **k))
    for i in range(5):
        bad = json.loads(json.dumps(good))
        bad["solution"]["counter"] += i + 1
        assert code_of(join(client, ev["slug"], new_token(), bad)) == "pow_invalid"
    assert len(calls) == 3  # the 4th and 5th cost the server no derivation
    assert code_of(join(client, ev["slug"], new_token(), good)) == "pow_invalid"  # the challenge is burnt


def test_expired_challenge_is_refused_but_a_retry_of_a_done_join_is_answered(app, client):
    ev = make_event(client)
    token, op = new_token(), new_op()
    pw = solve(get_challenge(client, ev["slug"]))
    old = solve(get_challenge(client, ev["slug"]))
    assert join(client, ev["slug"], token, pw, op).status_code == 200
    app.config["CLOCK"].advance(301_000)
    assert code_of(join(client, ev["slug"], new_token(), old)) == "pow_expired"
    again = join(client, ev["slug"], token, pw, op)  # the same op after the expiry: the stored answer
    assert again.status_code == 200 and again.json["replay"] is True
    assert line_length(client, ev) == 1


def test_socket_join_needs_proof_of_work(app, client):
    ev = make_event(client)
    sio = socketio.test_client(app, auth={"event": ev["slug"], "participant": new_token()}, flask_test_client=client)
    assert sio.is_connected()
    ack = sio.emit("action", {"action": "join", "op": new_op(), "args": {"pseudonym": "Owl"}}, callback=True)
    assert ack["ok"] is False and ack["error"]["code"] == "pow_required"
    pw = solve(get_challenge(client, ev["slug"]))
    ack = sio.emit("action", {"action": "join", "op": new_op(), "args": {"pseudonym": "Owl", "pow": pw}},
                   callback=True)
    assert ack["ok"] is True, ack
    sio2 = socketio.test_client(app, auth={"event": ev["slug"], "participant": new_token()}, flask_test_client=client)
    ack = sio2.emit("action", {"action": "join", "op": new_op(), "args": {"pseudonym": "Elk", "pow": pw}},
                    callback=True)
    assert ack["ok"] is False and ack["error"]["code"] == "pow_replayed"
    assert line_length(client, ev) == 1


def test_the_price_rises_with_the_events_joins_and_falls_after(app, client):
    app.config["ADDR_LIMITS"] = False
    ev = make_event(client)
    base = get_challenge(client, ev["slug"])["parameters"]
    for _ in range(app.config["POW_CALM_PER_MINUTE"] + app.config["POW_STEP"]):
        assert join(client, ev["slug"], new_token(), solve(get_challenge(client, ev["slug"]))).status_code == 200
    busy = get_challenge(client, ev["slug"])["parameters"]
    assert busy["cost"] == 4 * base["cost"] and busy["keyPrefix"] == base["keyPrefix"]
    app.config["CLOCK"].advance(61_000)
    assert get_challenge(client, ev["slug"])["parameters"]["cost"] == base["cost"]


def test_an_address_that_asks_too_often_pays_more_then_waits(app, client):
    services(app).address_limiter = AddressLimiter(burst=2, per_minute=1, max_debt=2, step=4)
    ev = make_event(client)
    costs = [get_challenge(client, ev["slug"])["parameters"]["cost"] for _ in range(4)]
    assert costs == [1, 1, 4, 16]
    r = client.post(f"/api/events/{ev['slug']}/challenge")
    assert r.status_code == 429 and code_of(r) == "rate_limited" and int(r.headers["Retry-After"]) >= 1
    # another address is not affected
    r = client.post(f"/api/events/{ev['slug']}/challenge", environ_base={"REMOTE_ADDR": "10.0.0.7"})
    assert r.status_code == 200 and r.json["challenge"]["parameters"]["cost"] == 1


def test_the_current_on_site_code_waives_the_address_price(app, client):
    from coordinator.domain import gate
    services(app).address_limiter = AddressLimiter(burst=1, per_minute=1, max_debt=1, step=4)
    ev = make_event(client, gate="onsite")
    with app.app_context():
        from coordinator.domain.models import Event
        row = db.session.query(Event).filter_by(slug=ev["slug"]).one()
        code = gate.current(row.gate_secret, row.gate_epoch, app.config["CLOCK"].now())["code"]
    path = f"/api/events/{ev['slug']}/challenge"
    for _ in range(5):  # a group behind one carrier address, at the picket
        r = client.post(path, json={"code": code})
        assert r.status_code == 200 and r.json["challenge"]["parameters"]["cost"] == 1
    assert client.post(path, json={"code": "000000" if code != "000000" else "111111"}).json["challenge"][
        "parameters"]["cost"] == 1  # a wrong code pays as usual: the bucket's first
    assert client.post(path).json["challenge"]["parameters"]["cost"] == 4
    assert code_of(client.post(path, json={"x": 1})) == "bad_request"


def test_junk_cannot_use_up_event_creation(app, client):
    services(app).create_limiter.limit = 3
    for _ in range(30):
        r = client.post("/api/events", data="x", headers={"Content-Type": "text/plain"})
        assert r.status_code == 400
        r = client.post("/api/events", json={"title": ""})  # a JSON object that does not check out
        assert r.status_code == 400
    assert client.post("/api/events", json={"title": "Real"}).status_code == 201
