"""`state` messages: a patch of the public block against the version before, small enough for a phone on a slow
cell, and chained so that a client holding the snapshot rebuilds every later public block exactly."""
from __future__ import annotations

import json

from domain.harness import apply_patch
from test_sockets import act, assert_ok, connect, make_event, snap
from conftest import new_token


def wire_bytes(name: str, data: dict) -> int:
    """The size of a Socket.IO event packet as python-socketio puts it on the wire (`42["name",{...}]`)."""
    return 2 + len(json.dumps([name, data], separators=(",", ":")).encode())


def states(sio) -> list[dict]:
    """The `state` messages received since the last call."""
    return [m["args"][0] for m in sio.get_received() if m["name"] == "state"]


def test_states_patch_the_public_block_and_chain_from_the_snapshot(app, client):
    """A participant and an observer rebuild each version's public block from the snapshot and the patches."""
    ev = make_event(client, auto_call=False)
    crd = connect(app, client, {"event": ev["slug"], "coordinator": ev["token"]})
    assert_ok(act(crd, "start"))
    people = []
    for i in range(8):
        p = connect(app, client, {"event": ev["slug"], "participant": new_token()})
        assert_ok(act(p, "join", {"pseudonym": f"Person {i}"}))
        people.append(p)
    par, obs = people[-1], connect(app, client, {"event": ev["slug"]})
    held = {"par": snap(par), "obs": snap(obs)}
    for sio in (par, obs):
        sio.get_received()
    sizes, patched = [], 0
    for step in range(4):
        called = act(crd, "call_next")
        if called["ok"]:
            assert_ok(act(crd, "skip", {"entry": called["result"]["entry"]}))
        else:  # both spots have someone called: move a person instead
            assert_ok(act(crd, "move", {"entry": snap(crd)["line"][-1]["id"], "to": 1}))
            assert_ok(act(crd, "move", {"entry": snap(crd)["line"][-1]["id"], "to": 1}))
        for who, sio in (("par", par), ("obs", obs)):
            for msg in states(sio):
                assert msg["prev_v"] == held[who]["v"], msg  # the chain holds: nothing missed, nothing re-sent
                assert ("patch" in msg) != ("public" in msg), msg
                if "patch" in msg:
                    patched += 1
                    public = apply_patch(held[who]["public"], msg["patch"])
                else:
                    public = msg["public"]
                held[who] = {"v": msg["v"], "public": public}
                if who == "par":
                    sizes.append(wire_bytes("state", msg))
    assert patched >= 14  # 8 changes x 2 clients, all patches once the first change was sent from this process
    for who, sio in (("par", par), ("obs", obs)):
        truth = snap(sio)
        assert held[who]["v"] == truth["v"]
        if who == "par":  # participants compute eta_new themselves (static/js/eta.js): their patches omit it
            truth["public"].pop("eta_new"), held[who]["public"].pop("eta_new")
        assert held[who]["public"] == truth["public"]  # server_now is not in the block: an exact match
    assert max(sizes) <= 300, sizes


def test_observer_with_names_gets_its_own_patch(app, client):
    """When the event shows pseudonyms to observers, their patch carries the name and the participants' does not."""
    ev = make_event(client, show_pseudonyms=True)
    crd = connect(app, client, {"event": ev["slug"], "coordinator": ev["token"]})
    assert_ok(act(crd, "start"))
    p = connect(app, client, {"event": ev["slug"], "participant": new_token()})
    assert_ok(act(p, "join", {"pseudonym": "Visible Name"}))
    obs = connect(app, client, {"event": ev["slug"]})
    if snap(p)["me"]["state"] != "called":  # the event calls the first free spot's next person by itself
        assert_ok(act(crd, "call_next", {"spot": ev["spots"][0]}))
    obs.get_received()
    p.get_received()
    assert_ok(act(p, "confirm_arrival"))
    got_obs, got_par = states(obs), states(p)
    assert got_obs and got_par
    assert "Visible Name" in json.dumps(got_obs[-1]) and "Visible Name" not in json.dumps(got_par[-1])


def test_the_pace_counts_the_broadcast_not_the_me_reads(app, monkeypatch):
    """A send's time, which sets how long the next `state` of the event waits (Outbox._gap), is the `state`'s
    emits and its writers, not the `me` reads that follow: a read that waited for a busy database made an isolated
    call after a rush of joins wait 1.3-1.9 s for its `state`. The `me`s still go, after the `state`."""
    import time

    from coordinator import broadcast
    calls = []
    monkeypatch.setattr(broadcast, "_send_state", lambda event_id, msg, last: calls.append("state"))

    def slow_mes(app_, event_id, touched, est):
        time.sleep(0.4)  # a `me` read waiting for the database
        calls.append(("me", sorted(touched)))
    monkeypatch.setattr(broadcast, "_send_mes", slow_mes)
    box = broadcast.Outbox()
    msg = {"v": 2, "prev_v": 1, "server_now": 0, "public": {"est": {}}, "observer_public": None, "gone": [],
           "moves": [], "bound": 0}
    box._send(app, 7, msg, {3})
    assert calls == ["state", ("me", [3])]
    assert box.events[7]["cost"] < 0.2, box.events[7]["cost"]
