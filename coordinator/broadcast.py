"""Turns engine outcomes into Socket.IO messages: one message per room, personal messages only where data differs."""
from __future__ import annotations

import logging

from flask import Flask

from .extensions import socketio

log = logging.getLogger(__name__)


def room(event_id: int, kind: str) -> str:
    """Room names: 'obs' observers, 'par' participants, 'crd' coordinators, 'all' everyone in the event."""
    return f"e{event_id}:{kind}"


def personal_room(participant_id: int) -> str:
    """Every tab of one participant."""
    return f"p{participant_id}"


def coordinator_room(coordinator_id: int) -> str:
    """Every tab of one coordinator."""
    return f"c{coordinator_id}"


def publish(app: Flask, out) -> None:
    """Send what changed to everyone who may see it."""
    q = app.extensions["queue"]
    if out.purged:
        socketio.emit("bye", {"code": "not_found", "message": "This event was deleted."}, to=room(out.event_id, "all"))
        return
    if not out.changed:
        return
    state = {"v": out.v, "prev_v": out.prev_v, "server_now": out.server_now, "public": out.public,
             "gone": out.gone, "moves": out.moves}
    if out.observer_public is None:
        socketio.emit("state", state, to=[room(out.event_id, "obs"), room(out.event_id, "par")])
    else:
        socketio.emit("state", state, to=room(out.event_id, "par"))
        socketio.emit("state", state | {"public": out.observer_public}, to=room(out.event_id, "obs"))
    for pid in sorted(out.touched):
        socketio.emit("me", q.me(out.event_id, pid), to=personal_room(pid))
    if out.announcement:
        socketio.emit("announcement", out.announcement, to=room(out.event_id, "all"))
    for cid in out.revoked:
        revoke_connections(app, cid)
    push_console(app, out.event_id)
    notify = app.extensions.get("notify")
    if notify and out.touched:
        notify(app, out)


def push_console(app: Flask, event_id: int) -> None:
    """Send coordinators a fresh console snapshot (a handful of clients; the full view keeps them simple)."""
    body = app.extensions["queue"].console(event_id)
    if body is not None:
        socketio.emit("console", body, to=room(event_id, "crd"))


def revoke_connections(app: Flask, coordinator_id: int) -> None:
    """Tell a revoked coordinator's tabs and close them (through the message queue when there are several servers)."""
    socketio.emit("bye", {"code": "unauthorized", "message": "Your coordinator access was revoked."},
                  to=coordinator_room(coordinator_id))
    for sid in app.extensions["queue"].coordinator_sids(coordinator_id):
        socketio.server.disconnect(sid, namespace="/")
