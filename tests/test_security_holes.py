"""The holes of issue 9, each as the attack that found it: lifecycle events sent by clients, revocation and panic
that left sockets open, open redirects, 500s on odd input, and the contract's small print (in-process; the real
server's transport guards are in tests/server/test_flood.py, the WAL's bytes in tests/test_wal_scrub.py)."""
from __future__ import annotations

from sqlalchemy import delete, select

from coordinator.domain.models import Connection
from coordinator.extensions import socketio
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
    with app.extensions["queue"].store.read() as s:
        return list(s.scalars(select(Connection).filter_by(**where)))


def console_line(sio) -> list:
    """(pseudonym, online) of every entry in the console's line."""
    data = sio.emit("snapshot", callback=True)["data"]
    return [(r["pseudonym"], r["online"]) for r in data["line"]]


# ---------------------------------------------------------------- 1. lifecycle names and revocation

def test_client_cannot_trigger_lifecycle_handlers(app, client, event):
    """A phone that sends `disconnect` (or `connect`) as an event is answered `reserved_event`; it still counts as
    connected (before the fix the disconnect handler ran and the phone looked offline while it listened on)."""
    crd = connect(app, client, {"event": event["slug"], "coordinator": event["token"]})
    par = connect(app, client, {"event": event["slug"], "participant": new_token()})
    assert act(par, "join", {"pseudonym": "Tulip"})["ok"]
    assert console_line(crd) == [("Tulip", True)]
    for name in ("disconnect", "connect", "message", "connect_error"):
        ack = par.emit(name, callback=True)
        assert ack["ok"] is False and ack["error"]["code"] == "reserved_event", (name, ack)
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
    with app.extensions["queue"].store.write() as s:
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
