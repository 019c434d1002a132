"""The Socket.IO protocol with several clients in two events: rooms, roles, acks, snapshots, bad input, limits."""
from __future__ import annotations

import json
import time

import pytest

from coordinator.domain.actions import ACTIONS
from coordinator.domain.errors import STATUS_BY_CODE
from coordinator.extensions import socketio
from coordinator.ratelimit import ActionLimiter
from coordinator.services import services
from conftest import new_op, new_token
from consolepatch import ConsoleFollower

ERROR_CODES = set(STATUS_BY_CODE)


# ---------------------------------------------------------------- helpers

def make_event(client, **settings) -> dict:
    """Create an event over HTTP: {'slug', 'token', 'spots'}."""
    r = client.post("/api/events", json={"title": "Picket", "spots": [{"label": "A"}, {"label": "B"}], **settings})
    assert r.status_code == 201, r.json
    return {"slug": r.json["event"]["event"]["slug"], "token": r.json["coordinator_token"],
            "spots": [s["id"] for s in r.json["event"]["spots"]]}


def connect(app, client, auth):
    """A connected Socket.IO test client whose connect messages are already drained."""
    sio = socketio.test_client(app, auth=auth, flask_test_client=client)
    assert sio.is_connected(), auth
    sio.connect_messages = sio.get_received()
    return sio


def act(sio, action, args=None, op=None, **extra):
    """Send an action and return the ack."""
    data = {"action": action, "op": op or new_op(), **extra}
    if args is not None:
        data["args"] = args
    return sio.emit("action", data, callback=True)


def names(messages) -> list[str]:
    """Event names of received messages."""
    return [m["name"] for m in messages]


def snap(sio) -> dict:
    """The client's snapshot via the `snapshot` event."""
    ack = sio.emit("snapshot", callback=True)
    assert ack["ok"] is True, ack
    return ack["data"]


def assert_error(ack, code):
    """The standard error shape with the given code."""
    assert ack["ok"] is False, ack
    assert set(ack) == {"ok", "error"}
    assert set(ack["error"]) == {"code", "message"}
    assert ack["error"]["code"] == code, ack
    assert isinstance(ack["error"]["message"], str) and ack["error"]["message"]


def assert_ok(ack):
    """The standard success shape."""
    assert ack["ok"] is True, ack
    assert isinstance(ack["result"], dict) and isinstance(ack["v"], int), ack


def stable(snapshot: dict) -> dict:
    """A snapshot without its clock fields (identical when nothing changed)."""
    s = json.loads(json.dumps(snapshot))
    s.pop("server_now", None)
    return s


@pytest.fixture
def two_events(app, client):
    """Two events, each with a coordinator, an observer and two joined participants (Alice, Boris / Clara, Dmitri)."""
    out = {}
    for key, people in (("a", ("Alice", "Boris")), ("b", ("Clara", "Dmitri"))):
        ev = make_event(client)
        crd = connect(app, client, {"event": ev["slug"], "coordinator": ev["token"]})
        obs = connect(app, client, {"event": ev["slug"]})
        pars = []
        for name in people:
            p = connect(app, client, {"event": ev["slug"], "participant": new_token()})
            assert_ok(act(p, "join", {"pseudonym": name}))
            pars.append(p)
        for sio in [crd, obs, *pars]:
            sio.get_received()
        out[key] = {**ev, "crd": crd, "obs": obs, "pars": pars, "names": people}
    yield out
    for ev in out.values():
        for sio in [ev["crd"], ev["obs"], *ev["pars"]]:
            if sio.is_connected():
                sio.disconnect()


# ---------------------------------------------------------------- connect and snapshots

def test_connect_sends_role_snapshot(app, client, event):
    """Each role gets exactly one snapshot of its own shape right after connecting."""
    obs = connect(app, client, {"event": event["slug"]})
    par = connect(app, client, {"event": event["slug"], "participant": new_token()})
    crd = connect(app, client, {"event": event["slug"], "coordinator": event["token"]})
    for sio, role in ((obs, "observer"), (par, "participant"), (crd, "coordinator")):
        snaps = [m for m in sio.connect_messages if m["name"] == "snapshot"]
        assert len(snaps) == 1
        body = snaps[0]["args"][0]
        assert body["role"] == role
        assert isinstance(body["v"], int) and isinstance(body["server_now"], int)
        assert body["public"]["event"]["slug"] == event["slug"]
    par_snap = [m for m in par.connect_messages if m["name"] == "snapshot"][0]["args"][0]
    assert par_snap["me"] is None  # not joined yet
    assert "line" not in par_snap and "line" not in [m for m in obs.connect_messages][0]["args"][0]
    crd_snap = [m for m in crd.connect_messages if m["name"] == "snapshot"][0]["args"][0]
    assert crd_snap["line"] == [] and "log" in crd_snap


def test_find_in_line_for_coordinators_only(app, client, event):
    """`find` answers a coordinator with the matching people in line and their places; anyone else, or a bad query,
    gets a clear error; nothing is broadcast."""
    crd = connect(app, client, {"event": event["slug"], "coordinator": event["token"]})
    phones = [connect(app, client, {"event": event["slug"], "participant": new_token()}) for _ in range(3)]
    for sio, name in zip(phones, ("Alpha", "Лиса", "Bravo")):
        assert_ok(act(sio, "join", {"pseudonym": name}))
    for sio in [crd] + phones:
        sio.get_received()
    ack = crd.emit("find", {"q": "ЛИС"}, callback=True)
    assert ack["ok"] is True, ack
    assert ack["data"]["found"] == 1 and ack["data"]["v"] == snap(crd)["v"]
    assert [(r["pseudonym"], r["position"]) for r in ack["data"]["line"]] == [("Лиса", 2)]
    assert crd.get_received() == [] and phones[0].get_received() == []
    assert_error(phones[0].emit("find", {"q": "Alpha"}, callback=True), "forbidden")
    assert_error(connect(app, client, {"event": event["slug"]}).emit("find", {"q": "Alpha"}, callback=True),
                 "forbidden")
    for bad in ({"q": ""}, {"q": "x" * 33}, {"q": 7}, {}, {"q": "Alpha", "extra": 1}, "Alpha", [1]):
        assert_error(crd.emit("find", bad, callback=True), "bad_request")


def test_snapshot_after_reconnect_shows_changes(app, client, event):
    """Disconnect, change the state, reconnect: the new snapshot has the change and a higher version."""
    token = new_token()
    par = connect(app, client, {"event": event["slug"], "participant": token})
    assert_ok(act(par, "join", {"pseudonym": "Tulip"}))
    before = snap(par)
    par.disconnect()
    crd = connect(app, client, {"event": event["slug"], "coordinator": event["token"]})
    walk_in = act(crd, "add_walk_in", {"pseudonym": "Walker", "to": 1})
    assert_ok(walk_in)
    par = connect(app, client, {"event": event["slug"], "participant": token})
    after = [m for m in par.connect_messages if m["name"] == "snapshot"][0]["args"][0]
    assert after["v"] > before["v"]
    assert after["v"] == walk_in["v"]
    assert before["me"]["position"] == 1 and after["me"]["position"] == 2
    assert after["public"]["counts"]["line"] == 2
    assert snap(par)["v"] == after["v"]  # the snapshot event agrees with the connect snapshot


def test_console_sees_who_is_connected(app, client, event):
    """A phone that joins on its open socket is online at once; it goes offline (and the console is told) when that
    socket closes; the coordinator with the console open is online in the team list."""
    crd = connect(app, client, {"event": event["slug"], "coordinator": event["token"]})
    par = connect(app, client, {"event": event["slug"], "participant": new_token()})
    entry = act(par, "join", {"pseudonym": "Tulip"})["result"]["entry"]
    console = snap(crd)
    assert [(r["id"], r["online"]) for r in console["line"]] == [(entry, True)]
    assert [c["online"] for c in console["team"]] == [True]
    crd.get_received()
    par.disconnect()
    pushed = [m["args"][0] for m in crd.get_received() if m["name"] == "console"]
    page = ConsoleFollower()  # the pushes are patches: followed from the snapshot, as the console page does
    page.take(console)
    for m in pushed:
        page.take(m)
    assert pushed and page.missed == 0 and page.shown["line"][0]["online"] is False
    assert snap(crd)["line"][0]["online"] is False


@pytest.mark.parametrize("auth", [
    None, {}, "k3J9xq2LmP", ["event"], {"event": 5}, {"event": ""}, {"event": "x" * 40},
    {"event": "nonexistent"}, {"event": "SLUG", "extra": 1},
    {"event": "SLUG", "coordinator": "not-a-token"}, {"event": "SLUG", "coordinator": "A" * 43},
    {"event": "SLUG", "participant": "short"}, {"event": "SLUG", "participant": 12345},
    {"event": "SLUG", "participant": "P" * 43, "coordinator": "TOKEN"},
])
def test_refused_connections(app, client, event, auth):
    """Malformed auth, an unknown event or bad tokens never connect."""
    if isinstance(auth, dict):
        auth = {k: (event["slug"] if x == "SLUG" else event["token"] if x == "TOKEN" else x) for k, x in auth.items()}
    sio = socketio.test_client(app, auth=auth, flask_test_client=client)
    assert not sio.is_connected()


def test_token_of_other_event_refused(app, client, event):
    """A coordinator or participant token works only for its own event."""
    other = make_event(client)
    assert not socketio.test_client(app, auth={"event": other["slug"], "coordinator": event["token"]},
                                    flask_test_client=client).is_connected()
    token = new_token()
    par = connect(app, client, {"event": event["slug"], "participant": token})
    assert_ok(act(par, "join", {"pseudonym": "Tulip"}))
    assert not socketio.test_client(app, auth={"event": other["slug"], "participant": token},
                                    flask_test_client=client).is_connected()


def test_revoked_coordinator_refused_and_disconnected(app, client, event):
    """A revoked co-coordinator's open socket gets `bye` and is closed; it cannot connect again."""
    owner = connect(app, client, {"event": event["slug"], "coordinator": event["token"]})
    inv = act(owner, "invite", {"label": "Helper"})
    assert_ok(inv)
    helper_auth = {"event": event["slug"], "coordinator": inv["result"]["token"]}
    helper = connect(app, client, helper_auth)
    assert_ok(act(helper, "broadcast", {"text": "hello"}))
    helper.get_received()
    assert_ok(act(owner, "revoke", {"coordinator": inv["result"]["coordinator"]}))
    assert not helper.is_connected()
    got = list(helper.queue)  # get_received() refuses once disconnected; the messages are still there
    assert "bye" in names(got)
    bye = [m for m in got if m["name"] == "bye"][0]["args"][0]
    assert bye["code"] == "unauthorized"
    assert not socketio.test_client(app, auth=helper_auth, flask_test_client=client).is_connected()


def test_close_gone_watches_only_the_rooms_sockets_hold(app, client, event):
    """The ticker's sweep (close_gone) looks at the coordinators' and events' rooms that sockets entered, not at every
    socket's own rooms, and forgets a room once no socket holds it."""
    from coordinator.sockets import close_gone
    watched = services(app).watched_rooms
    owner = connect(app, client, {"event": event["slug"], "coordinator": event["token"]})
    coordinator_room = next(r for r in watched if r.startswith("c"))
    par = connect(app, client, {"event": event["slug"], "participant": new_token()})
    assert_ok(act(par, "join", {"pseudonym": "Tulip"}))
    assert {r[0] for r in watched} == {"c", "e"} and len(watched) == 2, watched  # no sid, personal or role rooms
    with app.app_context():
        assert close_gone(app) == 0
    owner.disconnect()
    with app.app_context():
        close_gone(app)
    assert coordinator_room not in watched and len(watched) == 1, watched  # the event's room: the phone holds it
    par.disconnect()
    with app.app_context():
        close_gone(app)
    assert not watched


# ---------------------------------------------------------------- rooms and roles

def test_room_isolation(two_events):
    """Event A's clients never receive anything caused by event B, and the other way round."""
    a, b = two_events["a"], two_events["b"]
    assert_ok(act(b["crd"], "start"))
    assert_ok(act(b["crd"], "broadcast", {"text": "Only for B"}))
    assert_ok(act(b["pars"][0], "confirm_arrival"))  # auto-call called both on start
    for sio in [a["crd"], a["obs"], *a["pars"]]:
        assert sio.get_received() == []
    for sio in [b["crd"], b["obs"], *b["pars"]]:
        got = sio.get_received()
        assert got, "event B's clients hear event B"
        assert a["slug"] not in json.dumps(got)
    assert_ok(act(a["crd"], "broadcast", {"text": "Only for A"}))
    for sio in [b["crd"], b["obs"], *b["pars"]]:
        assert sio.get_received() == []
    for sio in [a["crd"], a["obs"], *a["pars"]]:
        assert "announcement" in names(sio.get_received())


def test_role_isolation_pseudonyms_and_console(two_events):
    """Observers and participants never get others' pseudonyms or `console`; each participant only its own `me`."""
    a = two_events["a"]
    alice, boris = a["pars"]
    assert_ok(act(a["crd"], "start"))  # auto-call: Alice is called to a spot, Boris too (two spots)
    assert_ok(act(a["crd"], "add_walk_in", {"pseudonym": "Walker"}))
    assert_ok(act(alice, "confirm_arrival"))
    got = {"crd": a["crd"].get_received(), "obs": a["obs"].get_received(),
           "alice": alice.get_received(), "boris": boris.get_received()}
    assert "console" in names(got["crd"])
    for who in ("obs", "alice", "boris"):
        assert "console" not in names(got[who])
    text = {k: json.dumps(v, ensure_ascii=False) for k, v in got.items()}
    for pseudonym in ("Alice", "Boris", "Walker"):
        assert pseudonym in text["crd"]
        assert pseudonym not in text["obs"]
    assert "Boris" not in text["alice"] and "Walker" not in text["alice"]
    assert "Alice" not in text["boris"] and "Walker" not in text["boris"]
    mes_alice = [m["args"][0]["me"] for m in got["alice"] if m["name"] == "me"]
    assert mes_alice and all(me["pseudonym"] == "Alice" for me in mes_alice)
    assert all(m["args"][0]["me"]["pseudonym"] == "Boris" for m in got["boris"] if m["name"] == "me")
    # Their snapshots on request are as private as the broadcasts.
    assert "Boris" not in json.dumps(snap(alice), ensure_ascii=False)
    assert "Alice" not in json.dumps(snap(a["obs"]), ensure_ascii=False)
    assert "line" not in snap(a["obs"]) and "line" not in snap(alice)


def test_show_pseudonyms_reaches_observers_only(app, client):
    """With show_pseudonyms on, observers see the holder's name; participants still never see others' names."""
    ev = make_event(client, show_pseudonyms=True)
    crd = connect(app, client, {"event": ev["slug"], "coordinator": ev["token"]})
    obs = connect(app, client, {"event": ev["slug"]})
    holder = connect(app, client, {"event": ev["slug"], "participant": new_token()})
    other = connect(app, client, {"event": ev["slug"], "participant": new_token()})
    assert_ok(act(holder, "join", {"pseudonym": "Holder"}))
    assert_ok(act(other, "join", {"pseudonym": "Other"}))
    assert_ok(act(crd, "start"))
    assert_ok(act(holder, "confirm_arrival"))
    obs_text = json.dumps(obs.get_received(), ensure_ascii=False)
    assert "Holder" in obs_text
    assert "Holder" not in json.dumps(other.get_received(), ensure_ascii=False)
    assert "Holder" not in json.dumps(snap(other), ensure_ascii=False)
    assert "Holder" in json.dumps(snap(obs), ensure_ascii=False)


def test_change_is_broadcast_once_per_client(two_events):
    """One action: one `state` per observer/participant, one `console` per coordinator, `me` only to the touched."""
    a = two_events["a"]
    alice, boris = a["pars"]
    extra_obs = connect(alice.app, alice.flask_test_client, {"event": a["slug"]})
    ack = act(boris, "step_away")
    assert_ok(ack)
    got = {"crd": names(a["crd"].get_received()), "obs": names(a["obs"].get_received()),
           "obs2": names(extra_obs.get_received()), "alice": names(alice.get_received()),
           "boris": names(boris.get_received())}
    assert got["crd"] == ["console"]
    assert got["obs"] == ["state"] and got["obs2"] == ["state"]
    assert got["alice"] == ["state"]
    assert sorted(got["boris"]) == ["me", "state"]
    extra_obs.disconnect()


def test_state_message_shape_and_versions(two_events):
    """`state` carries v, prev_v and the position changes; `me` carries the same version."""
    a = two_events["a"]
    alice, boris = a["pars"]
    before = snap(a["obs"])["v"]
    assert_ok(act(alice, "leave"))
    state = [m for m in boris.get_received() if m["name"] == "state"][0]["args"][0]
    assert set(state) >= {"v", "prev_v", "server_now", "gone", "moves"}
    assert len({"public", "patch"} & set(state)) == 1  # the whole public block, or what changed in it
    assert state["prev_v"] == before and state["v"] == before + 1
    assert state["gone"] == [1]  # Alice was first
    assert state["moves"] == [[2, 2, -1]]  # Boris moved from 2 to 1
    me = [m for m in alice.get_received() if m["name"] == "me"][0]["args"][0]
    assert me["v"] == state["v"] and me["me"]["state"] == "left"


# ---------------------------------------------------------------- every action answers an ack

def test_every_action_acks_ok(app, client):
    """Drive every registered action over the socket; each answers {ok, result, v} and the version grows."""
    ev = make_event(client, auto_call=False, state="draft")
    crd = connect(app, client, {"event": ev["slug"], "coordinator": ev["token"]})
    p1 = connect(app, client, {"event": ev["slug"], "participant": new_token()})
    p2 = connect(app, client, {"event": ev["slug"], "participant": new_token()})
    done: set = set()
    last_v = 0

    def ok(sio, role, name, args=None):
        """Run one action, check its ack and remember that it was driven."""
        nonlocal last_v
        ack = act(sio, name, args)
        assert_ok(ack)
        assert ack["v"] >= last_v
        last_v = ack["v"]
        done.add((role, name))
        return ack["result"]

    ok(crd, "coordinator", "open")
    e1 = ok(p1, "participant", "join", {"pseudonym": "One"})["entry"]
    e2 = ok(p2, "participant", "join", {"pseudonym": "Two"})["entry"]
    ok(crd, "coordinator", "message", {"entry": e1, "text": "Wait by the tree"})
    ok(p2, "participant", "running_late", {"minutes": 3})
    ok(p1, "participant", "step_away")
    ok(p1, "participant", "come_back")
    ok(p1, "participant", "set_push", {"subscription": {
        "endpoint": "https://push.example/abc", "keys": {"p256dh": "p" * 20, "auth": "a" * 12}}})
    ok(crd, "coordinator", "start")
    ok(crd, "coordinator", "move", {"entry": e2, "to": 1})
    ok(crd, "coordinator", "skip", {"entry": e2})
    ok(crd, "coordinator", "call_next", {"spot": ev["spots"][0]})  # One
    ok(p1, "participant", "confirm_arrival")
    ok(p1, "participant", "finish")
    ok(p1, "participant", "rejoin")
    ok(crd, "coordinator", "call_next", {"entry": e2})
    ok(crd, "coordinator", "confirm_arrival", {"entry": e2})
    ok(crd, "coordinator", "finish", {"entry": e2})
    walk = ok(crd, "coordinator", "add_walk_in", {"pseudonym": "Walker", "to": 1})["entry"]
    removal = new_op()
    ack = act(crd, "remove", {"entry": walk}, op=removal)
    assert_ok(ack)
    assert ack["result"]["undoable"] is True
    ok(crd, "coordinator", "undo", {"op": removal})
    ok(crd, "coordinator", "remove", {"entry": walk})
    ok(crd, "coordinator", "recall", {"entry": walk})
    ok(crd, "coordinator", "detain", {"entry": walk, "note": "station 5", "pause": False})
    ok(crd, "coordinator", "pause")
    ok(crd, "coordinator", "resume")
    ok(crd, "coordinator", "broadcast", {"text": "Move to the other side"})
    ok(crd, "coordinator", "settings", {"slot_ms": 240_000, "title": "New title"})
    ok(crd, "coordinator", "spots", {"spots": [{"id": ev["spots"][0], "label": "North"}, {"label": "C"}]})
    helper = ok(crd, "coordinator", "invite", {"label": "Helper"})
    ok(crd, "coordinator", "revoke", {"coordinator": helper["coordinator"]})
    # gates and bulk removal (issue 8)
    ok(crd, "coordinator", "new_code")
    ok(crd, "coordinator", "settings", {"gate": "approval"})
    p3 = connect(app, client, {"event": ev["slug"], "participant": new_token()})
    e3 = ok(p3, "participant", "join", {"pseudonym": "Three"})["entry"]
    ok(crd, "coordinator", "admit", {"entry": e3})
    ok(crd, "coordinator", "admit_all")
    batch = ok(crd, "coordinator", "remove_bulk", {"select": "joined", "since": 0, "until": 2**60})["batch"]
    ok(crd, "coordinator", "undo_bulk", {"batch": batch})
    ok(p1, "participant", "leave")
    ok(p2, "participant", "delete_me")
    ok(crd, "coordinator", "end")
    assert done == set(ACTIONS), f"not driven: {set(ACTIONS) - done}"
    # panic is not in ACTIONS: it deletes the event and every client gets `bye`.
    obs = connect(app, client, {"event": ev["slug"]})
    ack = act(crd, "panic")
    assert ack["ok"] is True and ack["result"] == {"purged": True}
    assert "bye" in names(list(obs.queue))  # then the server closes the socket (get_received() refuses once closed)
    assert not obs.is_connected()
    assert not socketio.test_client(app, auth={"event": ev["slug"]}, flask_test_client=client).is_connected()


# ---------------------------------------------------------------- bad input changes nothing

BAD_CALLS = [
    # (who, event name, data, expected code)
    ("par", "nonsense", {"x": 1}, "unknown_event"),
    ("crd", "state", {}, "unknown_event"),
    ("par", "action", {"action": "join", "op": "OPID", "args": {"pseudonym": "X"}, "extra": 1}, "bad_request"),
    ("par", "action", {"action": "join", "op": "OPID", "args": {"pseudonym": "X", "admin": True}}, "bad_request"),
    ("par", "action", {"action": "join", "args": {"pseudonym": "X"}}, "bad_request"),  # missing op
    ("par", "action", {"action": "join", "op": "short", "args": {"pseudonym": "X"}}, "bad_request"),
    ("par", "action", {"action": "join", "op": 12345678, "args": {"pseudonym": "X"}}, "bad_request"),
    ("par", "action", {"action": "join", "op": "OPID", "args": {"pseudonym": 7}}, "bad_request"),
    ("par", "action", {"action": "join", "op": "OPID", "args": {"pseudonym": "x" * 100}}, "bad_request"),
    ("par", "action", {"action": "join", "op": "OPID", "args": {"pseudonym": "a\u202eb"}}, "bad_request"),
    ("par", "action", {"action": "join", "op": "OPID", "args": "Tulip"}, "bad_request"),
    ("par", "action", "join", "bad_request"),
    ("par", "action", ["join"], "bad_request"),
    ("par", "action", None, "bad_request"),
    ("par", "action", {"action": 5, "op": "OPID"}, "bad_request"),
    ("par", "action", {"action": "fly", "op": "OPID"}, "unknown_action"),
    ("par", "action", {"action": "call_next", "op": "OPID"}, "forbidden"),
    ("par", "action", {"action": "panic", "op": "OPID"}, "forbidden"),
    ("obs", "action", {"action": "join", "op": "OPID", "args": {"pseudonym": "X"}}, "forbidden"),
    ("obs", "action", {"action": "start", "op": "OPID"}, "forbidden"),
    ("crd", "action", {"action": "join", "op": "OPID", "args": {"pseudonym": "X"}}, "forbidden"),
    ("crd", "action", {"action": "move", "op": "OPID", "args": {"entry": "1", "to": 1}}, "bad_request"),
    ("crd", "action", {"action": "move", "op": "OPID", "args": {"entry": 1, "to": True}}, "bad_request"),
    ("crd", "action", {"action": "move", "op": "OPID", "args": {"entry": 999, "to": 1}}, "not_found"),
    ("crd", "action", {"action": "settings", "op": "OPID", "args": {"slot_ms": 1}}, "bad_request"),
    ("crd", "action", {"action": "settings", "op": "OPID", "args": {"slot_ms": "300000"}}, "bad_request"),
    ("crd", "action", {"action": "call_next", "op": "OPID"}, "invalid_state"),  # not live yet
    ("crd", "action", {"action": "pause", "op": "OPID"}, "invalid_state"),
    ("crd", "action", {"action": "invite", "op": "OPID", "args": {"label": ""}}, "bad_request"),
    ("crd", "action", {"action": "broadcast", "op": "OPID", "args": {"text": "x" * 281}}, "bad_request"),
    ("par2", "action", {"action": "leave", "op": "OPID"}, "not_in_line"),
    ("par2", "action", {"action": "step_away", "op": "OPID"}, "not_in_line"),
    ("par", "action", {"action": "finish", "op": "OPID"}, "invalid_state"),
]


@pytest.mark.parametrize("who,name,data,code", BAD_CALLS, ids=[f"{c[0]}-{c[1]}-{c[3]}-{i}"
                                                               for i, c in enumerate(BAD_CALLS)])
def test_bad_input_answers_error_and_changes_nothing(app, client, event, who, name, data, code):
    """Every bad call gets {ok: false, error: {code, message}}; version and snapshot stay identical."""
    clients = {
        "crd": connect(app, client, {"event": event["slug"], "coordinator": event["token"]}),
        "obs": connect(app, client, {"event": event["slug"]}),
        "par": connect(app, client, {"event": event["slug"], "participant": new_token()}),
        "par2": connect(app, client, {"event": event["slug"], "participant": new_token()}),
    }
    assert_ok(act(clients["par"], "join", {"pseudonym": "Tulip"}))
    for sio in clients.values():
        sio.get_received()
    before = stable(snap(clients["crd"]))
    if isinstance(data, dict) and data.get("op") == "OPID":
        data = {**data, "op": new_op()}
    ack = clients[who].emit(name, data, callback=True)
    assert_error(ack, code)
    assert stable(snap(clients["crd"])) == before
    for sio in clients.values():
        assert "state" not in names(sio.get_received())


def test_snapshot_event_without_ack_is_harmless(app, client, event):
    """An unknown event sent without asking for an ack gets no answer and keeps the connection."""
    par = connect(app, client, {"event": event["slug"], "participant": new_token()})
    par.emit("nonsense", {"a": 1})
    assert par.is_connected()
    assert snap(par)["role"] == "participant"


def test_op_replay_returns_first_answer(app, client, event):
    """The same op twice: the second ack repeats the first and nothing is broadcast again."""
    par = connect(app, client, {"event": event["slug"], "participant": new_token()})
    obs = connect(app, client, {"event": event["slug"]})
    op = new_op()
    first = act(par, "join", {"pseudonym": "Tulip"}, op=op)
    assert_ok(first)
    assert "state" in names(obs.get_received())
    second = act(par, "join", {"pseudonym": "Tulip"}, op=op)
    assert first["replay"] is False and second["replay"] is True  # as over HTTP
    assert {k: x for k, x in second.items() if k not in ("replay", "server_now")} == \
        {k: x for k, x in first.items() if k not in ("replay", "server_now")}
    assert isinstance(second["server_now"], int)
    assert obs.get_received() == []
    assert snap(obs)["v"] == first["v"]


def test_rate_limited(app, client, event):
    """More than ACTION_BURST actions in a burst: rate_limited, and the refused ones change nothing."""
    services(app).action_limiter = ActionLimiter(burst=3, window=3600)
    crd = connect(app, client, {"event": event["slug"], "coordinator": event["token"]})
    acks = [act(crd, "broadcast", {"text": f"message {i}"}) for i in range(5)]
    for ack in acks[:3]:
        assert_ok(ack)
    v = snap(crd)["v"]
    for ack in acks[3:]:
        assert_error(ack, "rate_limited")
    assert v == acks[2]["v"]
    assert len(snap(crd)["announcements"]) == 3
    # The budget is the coordinator's, not the connection's: another tab of the same coordinator is limited too.
    other = connect(app, client, {"event": event["slug"], "coordinator": event["token"]})
    assert_error(act(other, "broadcast", {"text": "from the other tab"}), "rate_limited")


def test_rate_limit_survives_a_reconnect(app, client, event):
    """A participant who spends the budget and reconnects (same token) is still limited; the refusal changes nothing."""
    services(app).action_limiter = ActionLimiter(burst=2, window=3600)
    token = new_token()
    par = connect(app, client, {"event": event["slug"], "participant": token})
    assert_ok(act(par, "join", {"pseudonym": "Lark"}))
    assert_ok(act(par, "set_push", {"subscription": None}))
    par.disconnect()
    again = connect(app, client, {"event": event["slug"], "participant": token})
    ack = act(again, "leave")
    assert_error(ack, "rate_limited")
    assert snap(again)["me"] is not None  # still in line: the refused `leave` did nothing


def test_rate_limits_are_per_actor(app, client, event):
    """One participant over the budget does not limit another participant, nor the coordinator."""
    services(app).action_limiter = ActionLimiter(burst=1, window=3600)
    first = connect(app, client, {"event": event["slug"], "participant": new_token()})
    second = connect(app, client, {"event": event["slug"], "participant": new_token()})
    crd = connect(app, client, {"event": event["slug"], "coordinator": event["token"]})
    assert_ok(act(first, "join", {"pseudonym": "First"}))
    assert_error(act(first, "leave"), "rate_limited")
    assert_ok(act(second, "join", {"pseudonym": "Second"}))
    assert_ok(act(crd, "broadcast", {"text": "hello"}))


def test_internal_error_has_no_traceback(app, client, event, monkeypatch):
    """An unexpected exception in the engine answers {code: internal} with no traceback text."""
    crd = connect(app, client, {"event": event["slug"], "coordinator": event["token"]})
    before = stable(snap(crd))
    secret_detail = "boom-secret-detail"

    def explode(*args, **kwargs):
        """Fail like a bug would."""
        raise RuntimeError(secret_detail)

    monkeypatch.setattr(services(app).queue, "perform", explode)
    ack = act(crd, "start")
    assert_error(ack, "internal")
    text = json.dumps(ack)
    for leak in (secret_detail, "Traceback", "RuntimeError", ".py", "line "):
        assert leak not in text
    monkeypatch.undo()
    assert stable(snap(crd)) == before
    assert crd.is_connected()


def test_busy_database_answers_busy(app, client, event, monkeypatch):
    """An action that finds the database too busy (no pooled connection in time) gets the retryable `busy`."""
    from sqlalchemy import exc
    crd = connect(app, client, {"event": event["slug"], "coordinator": event["token"]})

    def busy(*args, **kwargs):
        """Fail like an exhausted connection pool does."""
        raise exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached, connection timed out, timeout 30.00")

    monkeypatch.setattr(services(app).queue, "perform", busy)
    ack = act(crd, "start")
    assert_error(ack, "busy")
    assert "QueuePool" not in json.dumps(ack)
    monkeypatch.undo()
    assert_ok(act(crd, "start"))  # the retry goes through
    assert crd.is_connected()


def test_presence_write_meeting_a_busy_database_is_retried(app, client, event, monkeypatch):
    """Recording a socket, or forgetting it, that finds the database busy neither refuses the connection nor leaves a
    closed phone online: the write is tried again in the background."""
    failures = busy_at_first(monkeypatch, services(app).queue, {"connected": 1, "disconnected": 2})
    crd = connect(app, client, {"event": event["slug"], "coordinator": event["token"]})  # its first write is busy
    assert any(m["name"] == "snapshot" for m in crd.connect_messages)  # connected all the same
    par = connect(app, client, {"event": event["slug"], "participant": new_token()})
    assert_ok(act(par, "join", {"pseudonym": "Tulip"}))
    until(lambda: snap(crd)["team"][0]["online"] is True, "the retried write to record the console's socket")
    assert snap(crd)["line"][0]["online"] is True
    par.disconnect()  # the first two attempts to forget it are busy
    until(lambda: snap(crd)["line"][0]["online"] is False, "the retried write to forget the phone's socket")
    assert failures == {"connected": 0, "disconnected": 0}


def test_console_and_me_meeting_a_busy_database_are_sent_again(app, client, monkeypatch):
    """A console view or a `me` that finds the database busy after a committed change is built and sent again a
    moment later: the coordinator and the person called see the change without waiting for the next one (which, at
    the end of a burst, may never come)."""
    event = make_event(client, auto_call=False)
    crd = connect(app, client, {"event": event["slug"], "coordinator": event["token"]})
    par = connect(app, client, {"event": event["slug"], "participant": new_token()})
    assert_ok(act(par, "join", {"pseudonym": "Tulip"}))
    assert_ok(act(crd, "start"))
    crd.get_received(), par.get_received()
    failures = busy_at_first(monkeypatch, services(app).queue, {"console": 2, "me": 1})
    ack = act(crd, "call_next")
    assert_ok(ack)
    got = {"console": [], "me": []}

    def arrived(name: str, sio) -> bool:
        """Whether a `name` message of the call's version (or newer) has come."""
        got[name] += [m["args"][0] for m in sio.get_received() if m["name"] == name]
        return any(m.get("v", 0) >= ack["v"] for m in got[name])
    until(lambda: arrived("console", crd), "the console view, built again after two busy tries")
    until(lambda: arrived("me", par), "the called person's `me`, sent again after a busy try")
    assert [m for m in got["me"] if m.get("v", 0) >= ack["v"]][-1]["me"]["state"] == "called"
    assert failures == {"console": 0, "me": 0}


def busy_at_first(monkeypatch, queue, failures: dict) -> dict:
    """Make each named Queue method fail like an exhausted pool as many times as `failures` says, then work; returns
    the counts left (all 0 once every failure happened)."""
    from sqlalchemy import exc

    def flaky(name, real):
        def call(*args):
            """Busy the first time(s), then the real call."""
            if failures[name]:
                failures[name] -= 1
                raise exc.TimeoutError("QueuePool limit of size 1 overflow 0 reached")
            return real(*args)
        return call
    for name in failures:
        monkeypatch.setattr(queue, name, flaky(name, getattr(queue, name)))
    return failures


def until(predicate, what: str, timeout: float = 15) -> None:
    """Poll a condition (the retries sleep 1 s, then 2 s)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_failed_broadcast_does_not_fail_a_committed_action(app, client, event, monkeypatch):
    """When sending the messages fails after the commit (e.g. no pooled connection for a `me`), the ack is still ok."""
    crd = connect(app, client, {"event": event["slug"], "coordinator": event["token"]})

    def fail(*args, **kwargs):
        """Fail like a busy database during the broadcast."""
        raise RuntimeError("broadcast failed")

    monkeypatch.setattr(services(app).effects, "publish", fail)
    ack = act(crd, "start")
    assert_ok(ack)
    assert snap(crd)["v"] == ack["v"]

def test_connect_failure_refuses_the_connection(app, client, event, monkeypatch):
    """A connect that fails (here: the database is busy) is refused, never accepted without an identity."""
    from sqlalchemy import exc

    def busy(*args, **kwargs):
        """Fail like an exhausted connection pool does."""
        raise exc.TimeoutError("QueuePool limit reached")

    monkeypatch.setattr(services(app).queue, "authenticate", busy)
    sio = socketio.test_client(app, auth={"event": event["slug"], "coordinator": event["token"]},
                               flask_test_client=client)
    assert not sio.is_connected()


@pytest.mark.server
def test_oversized_message_drops_connection(live_server):
    """A message over MAX_HTTP_BUFFER_SIZE (16 KB) is refused by the transport; nothing changes."""
    import requests
    import socketio as sio_client

    r = requests.post(live_server.url + "/api/events", json={"title": "Big"}, timeout=10)
    assert r.status_code == 201
    slug, token = r.json()["event"]["event"]["slug"], r.json()["coordinator_token"]
    v_before = requests.get(f"{live_server.url}/api/events/{slug}", timeout=10).json()["data"]["v"]

    client = sio_client.Client(reconnection=False)
    client.connect(live_server.url, auth={"event": slug, "coordinator": token}, transports=["websocket"],
                   wait_timeout=10)
    assert client.connected
    # A valid action whose text is far too long for the transport limit.
    client.emit("action", {"action": "broadcast", "op": new_op(), "args": {"text": "x" * 20_000}})
    deadline = time.monotonic() + 20
    while client.connected and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not client.connected, "the server should drop a connection that sends > 16 KB"
    client.disconnect()
    data = requests.get(f"{live_server.url}/api/events/{slug}", timeout=10).json()["data"]
    assert data["v"] == v_before and data["announcements"] == []
    # A normal-sized message on a new connection still works.
    client = sio_client.Client(reconnection=False)
    client.connect(live_server.url, auth={"event": slug, "coordinator": token}, transports=["websocket"],
                   wait_timeout=10)
    ack = client.call("action", {"action": "broadcast", "op": new_op(), "args": {"text": "ok"}}, timeout=10)
    assert ack["ok"] is True
    client.disconnect()


@pytest.mark.server
def test_connect_error_payload_on_real_server(live_server):
    """A refused connection tells the client why, as {code, message}, without a traceback."""
    import requests
    import socketio as sio_client

    r = requests.post(live_server.url + "/api/events", json={"title": "Refuse"}, timeout=10)
    slug = r.json()["event"]["event"]["slug"]
    client = sio_client.Client(reconnection=False)
    errors = []
    client.on("connect_error", lambda data: errors.append(data))
    with pytest.raises(sio_client.exceptions.ConnectionError):
        client.connect(live_server.url, auth={"event": slug, "coordinator": "A" * 43}, transports=["websocket"],
                       wait_timeout=10)
    assert errors and errors[0]["data"]["code"] == "unauthorized" and errors[0]["data"]["message"]
    assert "Traceback" not in json.dumps(errors)
    client.disconnect()


@pytest.mark.server
def test_foreign_origin_refused_on_real_server(live_server):
    """Browsers on another site cannot open a socket: Engine.IO checks Origin against the Host (same origin only)."""
    import requests
    import websocket

    url = live_server.url + "/socket.io/?EIO=4&transport=polling"
    assert requests.get(url, timeout=10).status_code == 200  # no Origin: scripts, authenticated by token
    assert requests.get(url, headers={"Origin": live_server.url}, timeout=10).status_code == 200
    refused = requests.get(url, headers={"Origin": "https://evil.example"}, timeout=10)
    assert refused.status_code == 400
    ws_url = live_server.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    ok = websocket.create_connection(ws_url, origin=live_server.url, timeout=10)
    assert ok.recv().startswith("0{")  # the Engine.IO open packet
    ok.close()
    with pytest.raises(websocket.WebSocketBadStatusException):
        websocket.create_connection(ws_url, origin="https://evil.example", timeout=10)
