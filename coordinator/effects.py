"""Every effect of a committed change goes out from here: the `state` and `me` messages, the console view, push
alerts, room moves, presence, and closing the sockets of revoked coordinators and deleted events.

The engine answers each change with a read-only `Outcome`; the handlers (sockets, the HTTP API, the ticker) hand it
to the app's one `Effects`, which `create_app` builds. docs/architecture.md follows one action through it.
"""
from __future__ import annotations

import logging

from flask import Flask

from . import push
from .broadcast import BYE_DELETED, BYE_REVOKED, coordinator_room, log_failure, personal_room, room
from .domain import Outcome
from .domain.store import is_busy
from .extensions import socketio
from .services import Services
from .sockets import close_gone

log = logging.getLogger(__name__)


class Effects:
    """The effects dispatcher of one app."""

    def __init__(self, app: Flask, services: Services):
        """Dispatch for `app`, through its services (outbox, push keys, the quiet collector when there is one)."""
        self.app, self.services = app, services

    def action(self, out: Outcome, sid: str | None = None) -> None:
        """After a committed action: move the caller's socket (`sid`) between personal rooms, then publish. Never
        raises: the change is committed, so the caller is answered ok and clients resync on the version gap."""
        if sid is not None:
            self.rooms(sid, out)
        try:
            self.publish(out)
        except Exception as e:  # noqa: BLE001
            log_failure("broadcast after a committed action", e)

    def rooms(self, sid: str, out: Outcome) -> None:
        """Move a participant's socket to the personal room of the id the change gave it (join, delete_me)."""
        for pid in out.leave_personal:
            socketio.server.leave_room(sid, personal_room(pid), namespace="/")
        for pid in out.join_personal:
            socketio.server.enter_room(sid, personal_room(pid), namespace="/")

    def publish(self, out: Outcome) -> None:
        """Send what changed to everyone who may see it: state and `me`s, announcement, revocations, the console
        view, push alerts. A purged event's clients get `bye` instead."""
        if out.purged:
            self.services.outbox.forget(out.event_id)
            socketio.emit("bye", BYE_DELETED, to=room(out.event_id, "all"))
            self._close_gone()  # this process's sockets of the event now; every other process's at its next tick
            return
        if not out.changed:
            return
        if self.services.quiet_gc is not None:
            self.services.quiet_gc.busy()
        self.services.outbox.state(self.app, out)
        if out.announcement:
            socketio.emit("announcement", out.announcement, to=room(out.event_id, "all"))
        for cid in out.revoked:
            self.revoke(cid)
        self.console(out.event_id, (out.v, out.server_now, out.named_public))
        if out.alerts:
            push.notify(self.app, out)

    def console(self, event_id: int, public: tuple[int, int, dict] | None = None) -> None:
        """Send coordinators a fresh console view (at once, or once at the end of the broadcast window); `public`:
        (version, when it was built, the change's named public block), which the view takes while it is current."""
        self.services.outbox.console(self.app, event_id, public)

    def presence(self, event_id: int, write) -> None:
        """Run a presence write, `write(retry)`, and tell the consoles. A busy database neither refuses a connection
        nor leaves a closed socket online: the write is tried again in the background (`Outbox.again`, the same
        retries as a console view or a `me` that found the database busy)."""
        def run(retry: bool) -> None:
            """The write, then the consoles' update if coordinators may see a change."""
            if write(retry):
                self.console(event_id)
        try:
            run(False)
        except Exception as e:  # noqa: BLE001
            if not is_busy(e):
                log.warning("presence update failed: %s", e.__class__.__name__)
                return
            self.services.outbox.again(self.app, "presence update", lambda: run(True), e)

    def revoke(self, coordinator_id: int) -> None:
        """Tell a revoked coordinator's tabs and close them (through the message queue when there are several
        servers)."""
        socketio.emit("bye", BYE_REVOKED, to=coordinator_room(coordinator_id))
        for sid in self.services.queue.coordinator_sids(coordinator_id):
            socketio.server.disconnect(sid, namespace="/")
        self._close_gone()  # also the sockets with no `connections` row, from this process's rooms (others: ticker)

    def _close_gone(self) -> None:
        """Close this process's sockets of revoked coordinators and deleted events (see sockets.close_gone). With a
        message queue the `bye` just emitted reaches even this process's sockets through the queue, a moment later:
        closing them now would lose it, so every process's ticker closes them (within a tick) instead."""
        if self.app.config.get("MESSAGE_QUEUE"):
            return
        close_gone(self.app)
