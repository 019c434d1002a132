"""The holes of issue 9, each as the attack that found it: lifecycle events sent by clients, revocation and panic
that left sockets open, open redirects, 500s on odd input, and the contract's small print (in-process; the real
server's transport guards are in tests/server/test_flood.py, the WAL's bytes in tests/test_wal_scrub.py)."""
from __future__ import annotations

import json
import os
import random
from urllib.parse import quote

import pytest
from sqlalchemy import delete, select

from coordinator.domain.models import Connection
from coordinator.extensions import socketio
from coordinator.services import services
from conftest import new_op, new_token


def connect(app, client, auth):
    """A connected test client with its connect messages drained."""
    sio = socketio.test_client(app, auth=auth, flask_test_client=client)
    assert sio.is_connected(), auth
    sio.get_received()
    return sio


def act(sio, action, args=None):
    """An action's acknowledgement."""
    return sio.emit("action", {"action": action, "op": new_op(), "args": args or {}}, callback=True)


def rows(app, **where) -> list:
    """The `connections` rows matching `where`."""
    with services(app).queue.store.read() as s:
        return list(s.scalars(select(Connection).filter_by(**where)))


def console_line(sio) -> list:
    """(pseudonym, online) of every entry in the console's line."""
    data = sio.emit("snapshot", callback=True)["data"]
    return [(r["pseudonym"], r["online"]) for r in data["line"]]


# ---------------------------------------------------------------- 1. lifecycle names and revocation

def test_client_cannot_trigger_lifecycle_handlers(app, client, event):
    """A phone that sends `disconnect` (or `connect`) as an event is answered `unknown_event`; it still counts as
    connected (before the fix the disconnect handler ran and the phone looked offline while it listened on)."""
    crd = connect(app, client, {"event": event["slug"], "coordinator": event["token"]})
    par = connect(app, client, {"event": event["slug"], "participant": new_token()})
    assert act(par, "join", {"pseudonym": "Tulip"})["ok"]
    assert console_line(crd) == [("Tulip", True)]
    for name in ("disconnect", "connect", "message", "connect_error"):
        ack = par.emit(name, callback=True)
        assert ack["ok"] is False and ack["error"]["code"] == "unknown_event", (name, ack)
    par.emit("disconnect")  # without an ack: ignored just the same
    assert console_line(crd) == [("Tulip", True)]
    assert len(rows(app, event_id=rows(app)[0].event_id, coordinator_id=None)) == 1
    assert par.is_connected()


def test_revocation_closes_sockets_without_a_row(app, client, event):
    """A co-coordinator whose `connections` row is gone (the old fake-disconnect trick, or a lost write) is still
    closed when the owner revokes it, and gets no console view afterwards."""
    owner = connect(app, client, {"event": event["slug"], "coordinator": event["token"]})
    inv = act(owner, "invite", {"label": "Helper"})["result"]
    helper = connect(app, client, {"event": event["slug"], "coordinator": inv["token"]})
    helper.emit("disconnect")  # refused now; delete the row by hand to stand for any way it could go missing
    with services(app).queue.store.write() as s:
        s.execute(delete(Connection).where(Connection.coordinator_id == inv["coordinator"]))
    assert act(owner, "revoke", {"coordinator": inv["coordinator"]})["ok"]
    assert not helper.is_connected()
    par = connect(app, client, {"event": event["slug"], "participant": new_token()})
    assert act(par, "join", {"pseudonym": "Secret"})["ok"]
    assert "Secret" not in str(list(helper.queue))


def test_panic_disconnects_every_client_of_the_event(app, client, event):
    """After the owner's panic every socket of the event is closed (they got `bye` first); another event's stay."""
    owner = connect(app, client, {"event": event["slug"], "coordinator": event["token"]})
    obs = connect(app, client, {"event": event["slug"]})
    par = connect(app, client, {"event": event["slug"], "participant": new_token()})
    other = client.post("/api/events", json={"title": "Other"}).json
    bystander = connect(app, client, {"event": other["event"]["event"]["slug"]})
    assert act(owner, "panic")["ok"]
    for sio in (owner, obs, par):
        assert not sio.is_connected()
        assert "bye" in [m["name"] for m in sio.queue]
    assert bystander.is_connected()



@pytest.mark.parametrize("gone", ["revoked", "panic"])
def test_a_socket_closed_by_the_ticker_is_told_why_first(app, event, gone):
    """The ticker may find a revoked coordinator (or a deleted event) between the commit and the acting process's own
    `bye`. The socket it closes gets its `bye` first, so the page shows the reason instead of reconnecting and being
    refused with a bare "invalid link" (a browser test met that race)."""
    from coordinator.sockets import close_gone
    q = services(app).queue
    owner_who = q.authenticate({"event": event["slug"], "coordinator": event["token"]})
    invited = q.perform(owner_who, "invite", {"label": "Helper"}, new_op()).result
    helper = socketio.test_client(app, auth={"event": event["slug"], "coordinator": invited["token"]})
    assert helper.is_connected()
    helper.get_received()
    # The change is committed, but nothing was published yet: only the ticker's sweep can reach the socket now.
    if gone == "revoked":
        q.perform(owner_who, "revoke", {"coordinator": invited["coordinator"]}, new_op())
    else:
        q.perform(owner_who, "panic", {}, new_op())
    with app.app_context():
        assert close_gone(app) == 1
    assert not helper.is_connected()
    byes = [m["args"][0] for m in helper.queue if m["name"] == "bye"]
    assert byes and byes[0]["code"] == ("unauthorized" if gone == "revoked" else "not_found"), byes


# ---------------------------------------------------------------- 4. open redirect

@pytest.mark.parametrize("target", [
    "/%09/evil.example", "/%0a/x", "/%0d%0aSet-Cookie:x=1", "//evil.example", "/\\evil.example", "\\\\evil.example",
    "https://evil.example", "javascript:alert(1)", "/%5C/evil.example".replace("%5C", "\\"), "/\t/evil.example",
    " /x", "/%00", "/" + "a" * 600, "//%09evil.example", "%2F%2Fevil.example", "http:/evil.example",
])
def test_language_switch_never_leaves_the_site(client, target):
    """Anything that is not a plain path on this site goes to "/"; a newline is not a 500."""
    r = client.get("/lang/en?next=" + (target if "%" in target else quote(target, safe="")))
    assert r.status_code == 302, r.status_code
    assert r.headers["Location"] == "/", r.headers["Location"]


@pytest.mark.parametrize("target", ["/", "/e/AbCd1234", "/e/AbCd1234/board", "/c/AbCd1234?x=1"])
def test_language_switch_keeps_same_site_paths(client, target):
    """A path on this site is kept as it was."""
    r = client.get("/lang/ru?next=" + quote(target, safe=""))
    assert r.status_code == 302 and r.headers["Location"] == target


# ---------------------------------------------------------------- 5. odd HTTP bodies: stable 400s, never 500

def nested(depth: int, leaf="x") -> str:
    """JSON nested `depth` levels deep, alternating lists and objects."""
    return "".join('{"a":' if i % 2 else "[" for i in range(depth)) + json.dumps(leaf) + \
        "".join("}" if i % 2 else "]" for i in reversed(range(depth)))


def odd_bodies(rng: random.Random, n: int) -> list[bytes]:
    """Request bodies a fuzzer would send: deep nesting, wrong types, broken encodings, huge numbers."""
    fixed = ['{"op":"abcdefgh","args":' + nested(5000) + "}", nested(5000), '{"args":' + nested(800) + "}",
             '{"op":"abcdefgh\\n"}', '{"op":' + "9" * 5000 + "}", '{"op":1e999}', '{"op":NaN}', "[]", "null",
             '"x"', "{", '{"op":"abcdefgh","args":{"pseudonym":' + nested(3000) + "}}", '{"\\ud800":1}',
             '{"op":"abcdefgh","args":{"pseudonym":"\\u0000"}}', '{"op":"abcdefgh","args":[]}']
    out = [b.encode() for b in fixed] + [b"\xff\xfe\x00", b"\x00" * 100]
    alphabet = '[]{}":,0123456789abc\\ '
    while len(out) < n:
        base = list(rng.choice(fixed)[:300])
        for _ in range(rng.randint(1, 6)):
            base.insert(rng.randint(0, len(base)), rng.choice(alphabet))
        out.append("".join(base).encode())
    return out


def test_http_fuzz_never_answers_500(client, event, caplog):
    """600 odd bodies to the action endpoint as the owner (and creation): every answer is a JSON error with a stable
    code and no traceback, nothing changes, and nothing is logged as a crash."""
    before = client.get(f"/api/events/{event['slug']}").json["data"]["v"]
    rng = random.Random(5)
    names = ["broadcast", "join", "settings", "detain", "panic", "nope"]
    codes = set()
    for body in odd_bodies(rng, 600):
        r = client.post(f"/api/events/{event['slug']}/actions/{rng.choice(names)}", data=body,
                        content_type="application/json", headers={"X-Coordinator-Token": event["token"]})
        assert r.status_code < 500, (r.status_code, body[:80])
        codes.add(r.json["error"]["code"])
        assert "Traceback" not in r.get_data(as_text=True)
    for body in odd_bodies(rng, 30):
        r = client.post("/api/events", data=body, content_type="application/json")
        assert r.status_code < 500 and r.json["ok"] is False, (r.status_code, body[:80])
    assert client.get(f"/api/events/{event['slug']}").json["data"]["v"] == before
    assert codes <= {"bad_request", "forbidden", "unknown_action", "rate_limited", "not_found", "too_large"}, codes
    assert not [rec for rec in caplog.records if rec.levelname in ("ERROR", "CRITICAL")]


# ---------------------------------------------------------------- 6. the contract: full matches

def test_op_and_tokens_with_a_trailing_newline_are_refused(app, client, event):
    """Python's `$` matches before a final newline: "abcdefgh\\n" was accepted as an op different from "abcdefgh"."""
    crd = connect(app, client, {"event": event["slug"], "coordinator": event["token"]})
    ack = crd.emit("action", {"action": "broadcast", "op": "abcdefgh\n", "args": {"text": "x"}}, callback=True)
    assert ack["ok"] is False and ack["error"]["code"] == "bad_request", ack
    assert not socketio.test_client(app, auth={"event": event["slug"], "coordinator": event["token"] + "\n"},
                                    flask_test_client=client).is_connected()
    assert not socketio.test_client(app, auth={"event": event["slug"], "participant": new_token() + "\n"},
                                    flask_test_client=client).is_connected()
    r = client.post(f"/api/events/{event['slug']}/actions/broadcast", json={"op": "abcdefgh\n", "args": {"text": "x"}},
                    headers={"X-Coordinator-Token": event["token"]})
    assert r.status_code == 400 and r.json["error"]["code"] == "bad_request"


# ---------------------------------------------------------------- 7. smaller holes

def test_only_the_owner_may_panic(app, client, event):
    """A co-coordinator's panic is refused over the socket and over HTTP, as the console offers it to the owner only;
    the event is still there afterwards."""
    owner = connect(app, client, {"event": event["slug"], "coordinator": event["token"]})
    inv = act(owner, "invite", {"label": "Helper"})["result"]
    helper = connect(app, client, {"event": event["slug"], "coordinator": inv["token"]})
    ack = act(helper, "panic")
    assert ack["ok"] is False and ack["error"]["code"] == "forbidden", ack
    r = client.post(f"/api/events/{event['slug']}/actions/panic", json={"op": new_op()},
                    headers={"X-Coordinator-Token": inv["token"]})
    assert r.status_code == 403 and r.json["error"]["code"] == "forbidden"
    assert client.get(f"/api/events/{event['slug']}").status_code == 200


def test_passphrase_guesses_are_slowed_down(client, monkeypatch):
    """Five wrong passphrases cost nothing; then each wrong one locks the link for 1, 2, 4 ... seconds, when even
    the right passphrase is answered `rate_limited` with Retry-After; afterwards the right one works and clears it."""
    from coordinator import passphrase
    now = [1000.0]
    throttle = passphrase.GuessThrottle(clock=lambda: now[0])
    monkeypatch.setattr(passphrase, "GUESSES", throttle)
    r = client.post("/api/events", json={"title": "Guarded", "passphrase": "correct horse"})
    slug, token = r.json["event"]["event"]["slug"], r.json["coordinator_token"]

    def snapshot(phrase: str):
        return client.get(f"/api/events/{slug}/snapshot",
                          headers={"X-Coordinator-Token": token, "X-Coordinator-Passphrase": phrase})

    assert [snapshot(f"wrong {i}").json["error"]["code"] for i in range(6)] == ["passphrase_required"] * 6
    locked = snapshot("correct horse")
    assert locked.status_code == 429 and locked.json["error"]["code"] == "rate_limited"
    assert locked.headers["Retry-After"] == "1"
    now[0] += 1
    assert snapshot("wrong 7").json["error"]["code"] == "passphrase_required"
    assert snapshot("wrong 8").headers["Retry-After"] == "2"  # locked again, for longer
    now[0] += 2
    assert snapshot("correct horse").status_code == 200
    assert throttle.fails == {}


def test_session_cookie_is_secure_behind_https(tmp_path):
    """With an https PUBLIC_URL every cookie the app sets is Secure (the session one had no Secure flag)."""
    from coordinator import create_app
    from coordinator.extensions import db
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/s.db",
                      "ASYNC_MODE": "threading", "RUN_TICKER": False, "PUBLIC_URL": "https://picket.example"})
    with app.app_context():
        db.create_all()
    web = app.test_client()
    cookies = web.get("/").headers.getlist("Set-Cookie") + web.get("/lang/en").headers.getlist("Set-Cookie")
    assert any(c.startswith("session=") for c in cookies), cookies
    assert all("; Secure" in c for c in cookies), cookies
    with app.app_context():
        db.engine.dispose()


def test_socketio_polling_answers_carry_a_csp(client):
    """Engine.IO's polling answers are made outside Flask: they get the same kind of security headers."""
    r = client.get("/socket.io/?EIO=4&transport=polling")
    assert r.status_code == 200 and r.get_data(as_text=True).startswith("0{")
    assert "default-src 'none'" in r.headers["Content-Security-Policy"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert len(r.headers.getlist("Content-Security-Policy")) == 1


def test_binary_event_header_keeps_nothing(app, client, event):
    """A binary event announcing a huge attachment count used to be parked in the server, waiting for attachments
    that were then all kept in memory; now it is refused and nothing is parked for any socket."""
    obs = connect(app, client, {"event": event["slug"]})
    socketio.server._handle_eio_message(obs.eio_sid, '45999999999-["action",{"_placeholder":true,"num":0}]')
    socketio.server._handle_eio_message(obs.eio_sid, b"\x00" * 1000)
    assert socketio.server._binary_packet == {}


def test_flask_purge_scrubs_the_files(app, client, event):
    """`flask purge` (cron) deletes an expired event and leaves none of its bytes in the database, -wal or -shm."""
    crd = connect(app, client, {"event": event["slug"], "coordinator": event["token"]})
    par = connect(app, client, {"event": event["slug"], "participant": new_token()})
    assert act(par, "join", {"pseudonym": "Cronpurge7Qx"})["ok"]
    assert act(crd, "settings", {"purge_after_ms": 0})["ok"] and act(crd, "end")["ok"]
    app.config["CLOCK"].advance(1)
    path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    files = [path, path + "-wal", path + "-shm"]
    assert any(b"Cronpurge7Qx" in open(f, "rb").read() for f in files)
    result = app.test_cli_runner().invoke(args=["purge"])
    assert "purged 1 event(s)" in result.output, result.output
    assert not any(b"Cronpurge7Qx" in open(f, "rb").read() for f in files if os.path.exists(f))
