"""Socket.IO handlers: thin, over the engine. Each docstring says who sends the event and what is broadcast."""
from __future__ import annotations

import logging
import re

from flask import current_app, request, session
from flask_socketio import join_room
from socketio.exceptions import ConnectionRefusedError as Refused

from . import ratelimit, readiness
from .broadcast import BYE_DELETED, BYE_REVOKED, coordinator_room, personal_room, room
from .domain import DomainError
from .domain.errors import INTERNAL, Busy
from .domain.store import is_busy
from .domain.validation import only_fields
from .extensions import socketio
from .services import queue, services

log = logging.getLogger(__name__)


def error(e: DomainError) -> dict:
    """An error acknowledgement."""
    return {"ok": False, "error": e.as_dict()}


def _rooms_for(who) -> list[str]:
    rooms = [room(who.event_id, "all")]
    if who.role == "observer":
        rooms.append(room(who.event_id, "obs"))
    elif who.role == "participant":
        rooms.append(room(who.event_id, "par"))
        if who.participant_id:
            rooms.append(personal_room(who.participant_id))
    else:
        rooms += [room(who.event_id, "crd"), coordinator_room(who.coordinator_id)]
    return rooms


def on_connect(auth=None):
    """Any client connects with `auth` naming the event and maybe a token; it gets its role's snapshot."""
    q = queue()
    try:
        readiness.refuse_unless_ready(current_app)  # split brain: never serve as if this process were alone
        who = q.authenticate(auth if auth is not None else {})
    except DomainError as e:
        # python-socketio's own exception sends {"message", "data": {code, message}} in connect_error; the
        # built-in ConnectionRefusedError would lose the reason ("Connection refused by server").
        raise Refused(e.message, e.as_dict())
    session["who"] = who
    rooms, svc = _rooms_for(who), services()
    with svc.watched_lock:  # never between close_gone's look at a room and its forgetting it
        for r in rooms:
            join_room(r)
        svc.watched_rooms.update(r for r in rooms if _GONE_ROOMS.fullmatch(r))
    app, sid = current_app._get_current_object(), request.sid

    def record(retry: bool) -> bool:
        """Record the socket (a retry is skipped if the socket closed while it waited)."""
        if retry and not socketio.server.manager.is_connected(sid, "/"):
            return False
        return q.connected(who, sid, services(app).process)
    # The snapshot first: it is what the phone waits for (after a process died, hundreds of them at once); the
    # presence row and the consoles' update do not change what the snapshot holds.
    socketio.emit("snapshot", q.snapshot(who), to=sid)
    services(app).effects.presence(who.event_id, record)


def on_disconnect(reason=None):
    """A client went away: its place in line is kept; coordinators see it as offline."""
    who = session.get("who")
    if who is None:
        return
    q, sid = queue(), request.sid
    services().effects.presence(who.event_id, lambda retry: q.disconnected(who, sid))


def on_snapshot(data=None):
    """Any client asks for the authoritative state (after a reconnect or when the page becomes visible)."""
    who = session.get("who")
    try:
        return {"ok": True, "data": queue().snapshot(who)}
    except DomainError as e:
        return error(e)


def on_find(data=None):
    """A coordinator looks for someone in a line longer than the console lists: {"q": ticket number or part of a
    pseudonym}; the ack holds the matching people with their places (nothing is broadcast)."""
    who = session.get("who")
    try:
        data = only_fields(data, {"q"}, "data")
        return {"ok": True, "data": queue().find(who, data.get("q"))}
    except DomainError as e:
        return error(e)


def on_action(data=None):
    """A participant or coordinator acts; the ack carries the result, and the change is broadcast to the rooms."""
    who = session.get("who")
    app = current_app._get_current_object()
    try:
        data = only_fields(data, {"action", "op", "args"}, "data")
        readiness.refuse_unless_ready(app)
        ratelimit.check(app, who)  # the actor's budget, shared with its other tabs and HTTP, kept across reconnects
        out = queue().perform(who, data.get("action"), data.get("args"), data.get("op"))
    except DomainError as e:
        return error(e)
    if out.leave_personal or out.join_personal:  # a join or a deletion: this socket's personal room follows it
        session["who"] = who.as_participant(out.participant_id)
    services(app).effects.action(out, request.sid)  # never raises: the change is committed
    return {"ok": True, "result": out.result, "v": out.v, "replay": out.replay, "server_now": out.server_now}


def on_other(event, data=None):
    """Any event name the protocol does not know."""
    return {"ok": False, "error": {"code": "unknown_event", "message": f"Unknown event '{str(event)[:40]}'."}}


def on_error(e):
    """Never let a traceback reach a client: a database too busy to answer in time gets the retryable `busy`;
    anything else is logged (without payloads) and answered with a generic error. A failed connect is refused."""
    if isinstance(e, (ConnectionRefusedError, Refused)):
        raise e  # a refused connection, not a failure: python-socketio turns it into connect_error
    if is_busy(e):
        log.warning("database busy, answered `busy`: %s", _busy_reason(e))
        body = Busy().as_dict()
    else:
        log.exception("socket handler failed")
        body = INTERNAL
    if getattr(request, "event", {}).get("message") == "connect":
        # Returning anything but False would accept a connection that has no identity in its session.
        raise Refused(body["message"], body)
    return {"ok": False, "error": body}


def _busy_reason(e: Exception) -> str:
    """What made the database busy, in words without SQL or parameters."""
    return str(getattr(e, "orig", None) or e).splitlines()[0][:200]


def init_app(app) -> None:
    """Register the handlers on the default namespace."""
    socketio.on_event("connect", on_connect)
    socketio.on_event("disconnect", on_disconnect)
    socketio.on_event("snapshot", on_snapshot)
    socketio.on_event("action", on_action)
    socketio.on_event("find", on_find)
    socketio.on_event("*", on_other)
    socketio.on_error_default(on_error)


_GONE_ROOMS = re.compile(r"c(\d+)|e(\d+):all")  # a coordinator's room, an event's room of everyone (broadcast.py)


def close_gone(app) -> int:
    """Close this process's sockets that must not stay open: a revoked coordinator's, and every socket of an event
    that no longer exists (panic, purge). Found from this process's rooms, not from the `connections` table, so a
    socket whose row is missing is closed too; every process runs it from its ticker, and revocation and panic run it
    at once. Returns how many sockets were closed."""
    manager = socketio.server.manager
    present = manager.rooms.get("/", {})
    svc, coordinators, events = services(app), {}, {}
    # Only the rooms on_connect noted (every socket is a room of its own too: with 5,000 phones, walking all the
    # names twice a second was a few per cent of the server's CPU). A room no socket holds any more is forgotten.
    with svc.watched_lock:
        watched = svc.watched_rooms
        watched -= {r for r in watched if r not in present}
        for r in watched:
            m = _GONE_ROOMS.fullmatch(r)
            if m[1]:
                coordinators[int(m[1])] = r
            else:
                events[int(m[2])] = r
    if not coordinators and not events:
        return 0
    revoked, deleted = svc.queue.gone(list(coordinators), list(events))
    doomed = [(coordinators[c], BYE_REVOKED) for c in revoked] + [(events[e], BYE_DELETED) for e in deleted]
    reasons = {sid: bye for r, bye in doomed for sid, _ in manager.get_participants("/", r)}
    for sid, bye in reasons.items():
        # The reason goes first, on the same socket: this may run (from the ticker) before the action that revoked
        # or deleted sent its own `bye`, and a page that is closed without one would reconnect and be refused.
        socketio.server.emit("bye", bye, to=sid, namespace="/", ignore_queue=True)
        socketio.server.disconnect(sid, namespace="/", ignore_queue=True)
    return len(reasons)
