"""The HTTP JSON API end to end: create, snapshots per role, every action, replays, errors and status codes."""
from __future__ import annotations

import pytest

from conftest import new_op, new_token
from coordinator.domain.actions import ACTIONS
from coordinator.ratelimit import ActionLimiter
from coordinator.services import services


def crd(event) -> dict:
    """Headers of the event's owner."""
    return {"X-Coordinator-Token": event["token"]}


def par(token) -> dict:
    """Headers of a participant."""
    return {"X-Participant-Token": token}


def post(client, slug, name, headers, args=None, op=None):
    """POST an action; returns the response."""
    body = {"op": op or new_op()}
    if args is not None:
        body["args"] = args
    return client.post(f"/api/events/{slug}/actions/{name}", json=body, headers=headers)


def ok(resp) -> dict:
    """A 200 success answer's body."""
    assert resp.status_code == 200, (resp.status_code, resp.json)
    assert resp.json["ok"] is True and isinstance(resp.json["result"], dict) and isinstance(resp.json["v"], int)
    return resp.json


def err(resp, status, code) -> dict:
    """A JSON error answer with the given status and code."""
    assert resp.status_code == status, (resp.status_code, resp.get_data(as_text=True)[:300])
    assert resp.is_json, resp.content_type
    assert resp.json["ok"] is False and resp.json["error"]["code"] == code, resp.json
    assert isinstance(resp.json["error"]["message"], str) and resp.json["error"]["message"]
    assert "Traceback" not in resp.get_data(as_text=True)
    return resp.json


def observer_view(client, slug) -> dict:
    """The public snapshot, without its clock."""
    data = client.get(f"/api/events/{slug}").json["data"]
    data.pop("server_now")
    return data


# ---------------------------------------------------------------- create and read

def test_create_event(client):
    """Creating answers 201 with the public block, the coordinator token once, links without secrets, no-store."""
    r = client.post("/api/events", json={"title": "Lubyanka", "location": "Square", "spots": [{"label": "A"}],
                                         "slot_ms": 240_000})
    assert r.status_code == 201
    assert r.headers["Cache-Control"] == "no-store"
    body = r.json
    assert body["ok"] is True and len(body["coordinator_token"]) >= 43
    assert body["event"]["event"]["title"] == "Lubyanka" and body["event"]["event"]["slot_ms"] == 240_000
    slug = body["event"]["event"]["slug"]
    assert body["links"] == {"join": f"/e/{slug}", "board": f"/e/{slug}/board", "console": f"/c/{slug}"}
    assert body["coordinator_token"] not in str(body["links"])
    # The token is never shown again.
    assert body["coordinator_token"] not in client.get(f"/api/events/{slug}").get_data(as_text=True)


@pytest.mark.parametrize("payload,raw", [
    (None, b"[1, 2]"), (None, b"not json"), ({"title": ""}, None), ({"title": "x" * 121}, None),
    ({"title": "T", "unknown": 1}, None), ({"title": "T", "slot_ms": "300000"}, None),
    ({"title": "T", "spots": []}, None), ({"title": "T", "state": "live"}, None), ({"title": 5}, None),
])
def test_create_event_bad_input(client, payload, raw):
    """A bad creation request is a 400 with a clear message, and creates nothing."""
    if raw is not None:
        r = client.post("/api/events", data=raw, content_type="application/json")
    else:
        r = client.post("/api/events", json=payload)
    err(r, 400, "bad_request")


def test_create_is_rate_limited(app, client):
    """Event creation has a per-process limit per minute."""
    services(app).create_limiter.limit = 2
    assert client.post("/api/events", json={"title": "1"}).status_code == 201
    assert client.post("/api/events", json={"title": "2"}).status_code == 201
    r = client.post("/api/events", json={"title": "3"})
    err(r, 429, "rate_limited")
    assert r.headers["Retry-After"] == "60"


def test_snapshot_per_role(client, event):
    """The snapshot's role follows the token header: none, participant, coordinator."""
    token = new_token()
    ok(post(client, event["slug"], "join", par(token), {"pseudonym": "Tulip"}))
    url = f"/api/events/{event['slug']}/snapshot"
    obs = client.get(url).json["data"]
    me = client.get(url, headers=par(token)).json["data"]
    boss = client.get(url, headers=crd(event)).json["data"]
    assert (obs["role"], me["role"], boss["role"]) == ("observer", "participant", "coordinator")
    assert "Tulip" not in str(obs) and me["me"]["pseudonym"] == "Tulip" and boss["line"][0]["pseudonym"] == "Tulip"
    assert obs["v"] == me["v"] == boss["v"]
    assert client.get(url).headers["Cache-Control"] == "no-store"
    assert client.get(f"/api/events/{event['slug']}").json["data"]["role"] == "observer"
    # A fresh participant token (not joined yet) is a participant without `me`.
    assert client.get(url, headers=par(new_token())).json["data"]["me"] is None


def test_find_in_line(client, event):
    """POST /find: a coordinator finds people in line by ticket or name (the query in the body, never the URL);
    participants, observers and bad bodies get clear errors."""
    token = new_token()
    ok(post(client, event["slug"], "join", par(token), {"pseudonym": "Tulip"}))
    ok(post(client, event["slug"], "add_walk_in", crd(event), {"pseudonym": "Rose"}))
    url = f"/api/events/{event['slug']}/find"
    r = client.post(url, json={"q": "ROSE"}, headers=crd(event))
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    assert [(x["pseudonym"], x["position"]) for x in r.json["data"]["line"]] == [("Rose", 2)]
    assert client.post(url, json={"q": "#1"}, headers=crd(event)).json["data"]["line"][0]["pseudonym"] == "Tulip"
    err(client.post(url, json={"q": "Rose"}, headers=par(token)), 403, "forbidden")
    err(client.post(url, json={"q": "Rose"}), 403, "forbidden")
    err(client.post(url, json={"q": ""}, headers=crd(event)), 400, "bad_request")
    err(client.post(url, json={"q": "Rose", "x": 1}, headers=crd(event)), 400, "bad_request")
    err(client.post(url, data="not json", headers=crd(event)), 400, "bad_request")
    err(client.get(url, headers=crd(event)), 405, "bad_request")


@pytest.mark.parametrize("headers,status,code", [
    ({"X-Coordinator-Token": "A" * 43}, 401, "unauthorized"),
    ({"X-Coordinator-Token": "short"}, 401, "unauthorized"),
    ({"X-Participant-Token": "short"}, 401, "unauthorized"),
    ({"X-Participant-Token": "P" * 43, "X-Coordinator-Token": "C" * 43}, 400, "bad_request"),
])
def test_snapshot_bad_tokens(client, event, headers, status, code):
    """Bad or conflicting token headers are refused."""
    err(client.get(f"/api/events/{event['slug']}/snapshot", headers=headers), status, code)


def test_unknown_event(client):
    """An unknown slug is 404 not_found everywhere in the API."""
    err(client.get("/api/events/nonexistent"), 404, "not_found")
    err(client.get("/api/events/nonexistent/snapshot"), 404, "not_found")
    err(post(client, "nonexistent", "join", par(new_token()), {"pseudonym": "X"}), 404, "not_found")


# ---------------------------------------------------------------- every action route

def test_every_action_route(client):
    """Every registered action works over HTTP and answers {ok, result, v, replay}."""
    r = client.post("/api/events", json={"title": "All", "spots": [{"label": "A"}, {"label": "B"}],
                                         "auto_call": False, "state": "draft"})
    ev = {"slug": r.json["event"]["event"]["slug"], "token": r.json["coordinator_token"],
          "spots": [s["id"] for s in r.json["event"]["spots"]]}
    slug, c = ev["slug"], crd(ev)
    p1, p2 = par(new_token()), par(new_token())
    done: set = set()
    versions = []

    def run(headers, role, name, args=None):
        """Run one action over HTTP, check the answer and remember that it was driven."""
        body = ok(post(client, slug, name, headers, args))
        assert body["replay"] is False
        versions.append(body["v"])
        done.add((role, name))
        return body["result"]

    run(c, "coordinator", "open")
    e1 = run(p1, "participant", "join", {"pseudonym": "One"})["entry"]
    e2 = run(p2, "participant", "join", {"pseudonym": "Two"})["entry"]
    run(c, "coordinator", "message", {"entry": e1, "text": "Wait by the tree"})
    run(p2, "participant", "running_late", {"minutes": 3})
    run(p1, "participant", "step_away")
    run(p1, "participant", "come_back")
    run(p1, "participant", "set_push", {"subscription": {
        "endpoint": "https://push.example/abc", "keys": {"p256dh": "p" * 20, "auth": "a" * 12}}})
    run(c, "coordinator", "start")
    run(c, "coordinator", "move", {"entry": e2, "to": 1})
    run(c, "coordinator", "skip", {"entry": e2})
    assert run(c, "coordinator", "call_next", {"spot": ev["spots"][0]})["entry"] == e1
    run(p1, "participant", "confirm_arrival")
    run(p1, "participant", "finish")
    run(p1, "participant", "rejoin")
    run(c, "coordinator", "call_next", {"entry": e2})
    run(c, "coordinator", "confirm_arrival", {"entry": e2})
    run(c, "coordinator", "finish", {"entry": e2})
    walk = run(c, "coordinator", "add_walk_in", {"pseudonym": "Walker", "to": 1})["entry"]
    removal = new_op()
    assert ok(post(client, slug, "remove", c, {"entry": walk}, op=removal))["result"]["undoable"] is True
    run(c, "coordinator", "undo", {"op": removal})
    run(c, "coordinator", "remove", {"entry": walk})
    run(c, "coordinator", "recall", {"entry": walk})
    assert run(c, "coordinator", "detain", {"entry": walk, "pause": True})["paused"] is True
    run(c, "coordinator", "pause")
    run(c, "coordinator", "resume")
    run(c, "coordinator", "broadcast", {"text": "Hello"})
    run(c, "coordinator", "settings", {"grace_ms": 60_000})
    run(c, "coordinator", "spots", {"spots": [{"id": ev["spots"][0], "label": "North"}]})
    helper = run(c, "coordinator", "invite", {"label": "Helper"})
    run(c, "coordinator", "revoke", {"coordinator": helper["coordinator"]})
    # gates and bulk removal (issue 8)
    run(c, "coordinator", "new_code")
    run(c, "coordinator", "settings", {"gate": "approval"})
    p3, p4 = par(new_token()), par(new_token())
    e3 = run(p3, "participant", "join", {"pseudonym": "Three"})["entry"]
    run(p4, "participant", "join", {"pseudonym": "Four"})
    run(c, "coordinator", "admit", {"entry": e3})
    run(c, "coordinator", "admit_all")
    batch = run(c, "coordinator", "remove_bulk", {"select": "never_live"})["batch"]
    run(c, "coordinator", "undo_bulk", {"batch": batch})
    run(p1, "participant", "leave")
    run(p2, "participant", "delete_me")
    run(c, "coordinator", "end")
    assert done == set(ACTIONS), f"not driven: {set(ACTIONS) - done}"
    assert versions == sorted(versions) and versions[-1] > versions[0]
    # The revoked helper's token no longer works.
    err(client.get(f"/api/events/{slug}/snapshot", headers={"X-Coordinator-Token": helper["token"]}),
        401, "unauthorized")
    # panic deletes everything.
    assert ok(post(client, slug, "panic", c))["result"] == {"purged": True}
    err(client.get(f"/api/events/{slug}"), 404, "not_found")


# ---------------------------------------------------------------- idempotency

def test_op_replay_returns_first_result(client, event):
    """The same op again returns the stored first answer (replay: true) and changes nothing."""
    token = new_token()
    op = new_op()
    first = ok(post(client, event["slug"], "join", par(token), {"pseudonym": "Tulip"}, op=op))
    before = observer_view(client, event["slug"])
    second = ok(post(client, event["slug"], "join", par(token), {"pseudonym": "Tulip"}, op=op))
    assert second["result"] == first["result"] and second["v"] == first["v"] and second["replay"] is True
    assert observer_view(client, event["slug"]) == before
    # The same op id from another actor is a different operation.
    other = ok(post(client, event["slug"], "join", par(new_token()), {"pseudonym": "Rose"}, op=op))
    assert other["replay"] is False and other["result"]["entry"] != first["result"]["entry"]


def test_idempotency_key_header(client, event):
    """Without `op` in the body, the Idempotency-Key header is the op id; a repeat replays the first answer."""
    key = new_op()
    url = f"/api/events/{event['slug']}/actions/broadcast"
    headers = {**crd(event), "Idempotency-Key": key}
    first = ok(client.post(url, json={"args": {"text": "Hello"}}, headers=headers))
    again = ok(client.post(url, json={"args": {"text": "Hello"}}, headers=headers))
    assert again["replay"] is True and again["result"] == first["result"] and again["v"] == first["v"]
    assert len(client.get(f"/api/events/{event['slug']}").json["data"]["announcements"]) == 1
    # An op in the body wins over the header.
    third = ok(client.post(url, json={"op": new_op(), "args": {"text": "Hello"}}, headers=headers))
    assert third["replay"] is False


# ---------------------------------------------------------------- errors change nothing

@pytest.mark.parametrize("who,name,body,status,code", [
    ("par", "join", {"op": "OPID", "args": {"pseudonym": 5}}, 400, "bad_request"),
    ("par", "join", {"op": "OPID", "args": {"pseudonym": "X", "x": 1}}, 400, "bad_request"),
    ("par", "join", {"op": "OPID", "args": {"pseudonym": "X"}, "extra": 1}, 400, "bad_request"),
    ("par", "join", {"args": {"pseudonym": "X"}}, 400, "bad_request"),
    ("par", "join", {"op": "bad op!", "args": {"pseudonym": "X"}}, 400, "bad_request"),
    ("par", "join", {"op": "OPID", "args": ["X"]}, 400, "bad_request"),
    ("par", "fly", {"op": "OPID"}, 400, "unknown_action"),
    ("par", "start", {"op": "OPID"}, 403, "forbidden"),
    ("par", "panic", {"op": "OPID"}, 403, "forbidden"),
    ("obs", "join", {"op": "OPID", "args": {"pseudonym": "X"}}, 403, "forbidden"),
    ("crd", "join", {"op": "OPID", "args": {"pseudonym": "X"}}, 403, "forbidden"),
    ("crd", "call_next", {"op": "OPID"}, 409, "invalid_state"),
    ("crd", "remove", {"op": "OPID", "args": {"entry": 424242}}, 404, "not_found"),
    ("crd", "settings", {"op": "OPID", "args": {"max_queue": 0}}, 400, "bad_request"),
    ("crd", "revoke", {"op": "OPID", "args": {"coordinator": 1}}, 403, "forbidden"),  # the owner
    ("par2", "leave", {"op": "OPID"}, 409, "not_in_line"),
    ("bad", "join", {"op": "OPID", "args": {"pseudonym": "X"}}, 401, "unauthorized"),
])
def test_action_errors(client, event, who, name, body, status, code):
    """Each bad call answers its status and code, and the event is exactly as before."""
    token = new_token()
    ok(post(client, event["slug"], "join", par(token), {"pseudonym": "Tulip"}))
    headers = {"par": par(token), "par2": par(new_token()), "crd": crd(event), "obs": {},
               "bad": {"X-Coordinator-Token": "Z" * 43}}[who]
    if body.get("op") == "OPID":
        body = {**body, "op": new_op()}
    before = observer_view(client, event["slug"])
    coord_before = client.get(f"/api/events/{event['slug']}/snapshot", headers=crd(event)).json["data"]
    r = client.post(f"/api/events/{event['slug']}/actions/{name}", json=body, headers=headers)
    err(r, status, code)
    assert observer_view(client, event["slug"]) == before
    coord_after = client.get(f"/api/events/{event['slug']}/snapshot", headers=crd(event)).json["data"]
    assert coord_after["v"] == coord_before["v"] and coord_after["line"] == coord_before["line"]


def test_full_line_is_queue_full(client):
    """Joining a full line answers 409 queue_full."""
    r = client.post("/api/events", json={"title": "Small", "max_queue": 1})
    slug = r.json["event"]["event"]["slug"]
    ok(post(client, slug, "join", par(new_token()), {"pseudonym": "First"}))
    err(post(client, slug, "join", par(new_token()), {"pseudonym": "Second"}), 409, "queue_full")


# ---------------------------------------------------------------- HTTP-level errors

def test_api_404_405_413_are_json(client, event):
    """Routing errors under /api answer JSON with a stable code, never HTML."""
    err(client.get("/api/nothing-here"), 404, "not_found")
    err(client.get("/api/events"), 405, "bad_request")
    err(client.delete(f"/api/events/{event['slug']}"), 405, "bad_request")
    err(client.get(f"/api/events/{event['slug']}/actions/join"), 405, "bad_request")
    big = b'{"title": "' + b"x" * 70_000 + b'"}'
    err(client.post("/api/events", data=big, content_type="application/json"), 413, "too_large")


def test_api_internal_error_is_generic_json(app, client, event, monkeypatch):
    """An unexpected exception in the API answers 500 {code: internal} without details."""
    def explode(*args, **kwargs):
        """Fail like a bug would."""
        raise RuntimeError("secret-internal-detail")

    monkeypatch.setattr(services(app).queue, "snapshot", explode)
    r = client.get(f"/api/events/{event['slug']}")
    err(r, 500, "internal")
    assert "secret-internal-detail" not in r.get_data(as_text=True)


def test_html_errors_without_traceback(app, client, event, monkeypatch):
    """Outside /api, errors render the HTML error page; a crash shows no traceback or exception text."""
    r = client.get("/no/such/page")
    assert r.status_code == 404 and r.content_type.startswith("text/html")
    assert "<html" in r.get_data(as_text=True).lower()
    r = client.get("/e/nonexistent")
    assert r.status_code == 404 and r.content_type.startswith("text/html")

    def explode(*args, **kwargs):
        """Fail like a bug would."""
        raise RuntimeError("secret-internal-detail")

    monkeypatch.setattr(services(app).queue, "snapshot", explode)
    r = client.get(f"/e/{event['slug']}")
    text = r.get_data(as_text=True)
    assert r.status_code == 500 and r.content_type.startswith("text/html")
    for leak in ("secret-internal-detail", "Traceback", "RuntimeError", 'File "'):
        assert leak not in text


# ---------------------------------------------------------------- tokens only in headers

@pytest.mark.parametrize("param", ["coordinator", "token", "X-Coordinator-Token", "coordinator_token"])
def test_tokens_never_accepted_from_query_string(client, event, param):
    """A token in the query string grants nothing: the caller stays an observer."""
    url = f"/api/events/{event['slug']}/snapshot?{param}={event['token']}"
    assert client.get(url).json["data"]["role"] == "observer"
    r = client.post(f"/api/events/{event['slug']}/actions/start?{param}={event['token']}", json={"op": new_op()})
    err(r, 403, "forbidden")
    assert client.get(f"/api/events/{event['slug']}").json["data"]["public"]["event"]["state"] == "open"


def test_participant_token_not_accepted_from_query_or_body(client, event):
    """A participant token in the query string or the body does not make the caller a participant."""
    token = new_token()
    r = client.post(f"/api/events/{event['slug']}/actions/join?participant={token}",
                    json={"op": new_op(), "args": {"pseudonym": "X"}})
    err(r, 403, "forbidden")
    r = client.post(f"/api/events/{event['slug']}/actions/join",
                    json={"op": new_op(), "participant": token, "args": {"pseudonym": "X"}})
    err(r, 400, "bad_request")
    assert client.get(f"/api/events/{event['slug']}").json["data"]["public"]["counts"]["line"] == 0


def test_healthz(client):
    """The health check answers when the database does."""
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json == {"ok": True}


def test_invite_token_is_shown_once(client, event):
    """A co-coordinator token is in the first answer only: a replay answers without it (it is never stored)."""
    op = new_op()
    first = ok(post(client, event["slug"], "invite", crd(event), {"label": "Helper"}, op=op))
    assert len(first["result"]["token"]) >= 43
    again = ok(post(client, event["slug"], "invite", crd(event), {"label": "Helper"}, op=op))
    assert again["replay"] is True and again["result"]["coordinator"] == first["result"]["coordinator"]
    assert "token" not in again["result"]


def test_http_actions_are_rate_limited(app, client, event):
    """Over ACTION_BURST per window: 429 rate_limited with Retry-After, and the refused action changes nothing."""
    services(app).action_limiter = ActionLimiter(burst=2, window=3600)
    v = [ok(post(client, event["slug"], "broadcast", crd(event), {"text": f"note {i}"}))["v"] for i in range(2)][-1]
    r = post(client, event["slug"], "broadcast", crd(event), {"text": "one too many"})
    err(r, 429, "rate_limited")
    assert int(r.headers["Retry-After"]) >= 1
    assert observer_view(client, event["slug"])["v"] == v
    # Another actor has its own budget.
    ok(post(client, event["slug"], "join", par(new_token()), {"pseudonym": "Wren"}))


def _locked():
    """The error SQLite raises when its write lock stayed taken past the busy timeout."""
    import sqlite3
    from sqlalchemy import exc
    return exc.OperationalError("BEGIN IMMEDIATE", {}, sqlite3.OperationalError("database is locked"))


def _pool_timeout():
    """The error SQLAlchemy raises when no pooled connection came free in time."""
    from sqlalchemy import exc
    return exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached, connection timed out, timeout 30.00")


@pytest.mark.parametrize("make_error", [_locked, _pool_timeout])
def test_busy_database_answers_503_busy(app, client, event, monkeypatch, make_error):
    """A database too busy to answer in time: 503 {code: busy} with Retry-After, no database details."""
    def busy(*args, **kwargs):
        """Fail like an overloaded database does."""
        raise make_error()

    monkeypatch.setattr(services(app).queue, "perform", busy)
    r = post(client, event["slug"], "start", crd(event))
    err(r, 503, "busy")
    assert int(r.headers["Retry-After"]) >= 1
    text = r.get_data(as_text=True)
    for leak in ("QueuePool", "locked", "BEGIN", "Traceback"):
        assert leak not in text


def test_other_database_errors_stay_internal(app, client, event, monkeypatch):
    """A database error that is not about load (here a missing table) is a generic 500 internal, not busy."""
    import sqlite3
    from sqlalchemy import exc

    def broken(*args, **kwargs):
        """Fail like a broken schema would."""
        raise exc.OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: secret_table"))

    monkeypatch.setattr(services(app).queue, "perform", broken)
    r = post(client, event["slug"], "start", crd(event))
    err(r, 500, "internal")
    assert "secret_table" not in r.get_data(as_text=True)


def test_failed_broadcast_does_not_fail_a_committed_http_action(client, event, monkeypatch):
    """When sending the messages fails after the commit, the HTTP answer is still 200 ok."""
    def fail(*args, **kwargs):
        """Fail like a busy database during the broadcast."""
        raise RuntimeError("broadcast failed")

    monkeypatch.setattr(services(client.application).effects, "publish", fail)
    body = ok(post(client, event["slug"], "start", crd(event)))
    assert observer_view(client, event["slug"])["v"] == body["v"]


def _db_gone() -> Exception:
    """What SQLAlchemy raises when PostgreSQL restarts under an open connection."""
    from sqlalchemy.exc import OperationalError
    return OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"),
                            connection_invalidated=True)


@pytest.mark.parametrize("via", ["http", "socket"])
def test_broadcast_meeting_a_restarting_database_logs_one_line(app, client, event, caplog, monkeypatch, via):
    """A change is committed, then its broadcast finds the database gone for a moment (a PostgreSQL restart): the
    action still answers ok, clients resync on the version gap, and the log has one line, not a traceback."""
    import logging

    from coordinator.extensions import socketio

    def gone(out):
        raise _db_gone()
    monkeypatch.setattr(services(app).effects, "publish", gone)
    caplog.set_level(logging.WARNING)
    if via == "http":
        r = client.post(f"/api/events/{event['slug']}/actions/broadcast", json={"op": new_op(), "args": {"text": "x"}},
                        headers={"X-Coordinator-Token": event["token"]})
        assert r.json["ok"], r.json
    else:
        sio = socketio.test_client(app, auth={"event": event["slug"], "coordinator": event["token"]},
                                   flask_test_client=client)
        ack = sio.emit("action", {"action": "broadcast", "op": new_op(), "args": {"text": "x"}}, callback=True)
        assert ack["ok"], ack
    lines = [r for r in caplog.records if "broadcast after a committed action" in r.getMessage()]
    assert len(lines) == 1 and lines[0].exc_info is None, [(r.getMessage(), r.exc_info) for r in lines]
