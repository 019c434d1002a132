"""Readiness in scale-out mode: a process serves clients only while its message queue works and reaches the rest of
the installation (docs/operations.md, "When Redis or PostgreSQL is away").

A process whose Redis is down, or that was given another Redis than the other processes ("split brain"), would
acknowledge changes that clients on the other processes never hear of. So each process checks its queue every
QUEUE_PROBE_SECONDS: it marks itself present on its Redis (a key that outlives its database heartbeat), publishes a
probe on the installation's channel (Redis answers how many listeners got it: at least this process's own), and
looks for the marks of the other processes the database knows as alive. While a check fails, /healthz answers 503,
new connections and every change are refused with `busy` (clients retry), the database heartbeat pauses (so the
others do not wait for this process's mark) and the log says so once; it says so again when the queue works.
"""
from __future__ import annotations

import json
import logging

from flask import Flask, request
from sqlalchemy import select

from .domain.errors import Busy
from .config import message_channel
from .domain.models import ServerProcess
from .extensions import socketio
from .services import services

log = logging.getLogger(__name__)
PROBE = json.dumps({"method": "picket_probe"})  # python-socketio's listeners ignore methods they do not know


class QueueWatch:
    """The state of this process's message queue, checked by `check()`."""

    def __init__(self, app: Flask):
        """Not ready until the first check passes."""
        import redis
        self.app, self.channel, self.process = app, message_channel(app.config), services(app).process
        self.client = redis.Redis.from_url(app.config["MESSAGE_QUEUE"], socket_connect_timeout=2, socket_timeout=2)
        beat = app.config["HEARTBEAT_SECONDS"]
        self.fresh_ms = int((2 * beat + 1) * 1000)  # a process heard from this recently in the database is alive
        self.mark_ttl = int(3 * beat + 5)  # ... and its mark on Redis lives longer than that
        self.ready, self.reason = False, "not checked yet"

    def _mark(self, process: str) -> str:
        """The Redis key that says a process uses this Redis."""
        return f"{self.channel}:process:{process}"

    def problem(self) -> str | None:
        """What is wrong with the queue now, or None."""
        import redis
        try:
            self.client.set(self._mark(self.process), "1", ex=self.mark_ttl)
            if self.client.publish(self.channel, PROBE) < 1:
                return "this process is not listening on its Redis channel yet"
            q = services(self.app).queue
            with q.store.read() as s:
                alive = set(s.scalars(select(ServerProcess.id).where(
                    ServerProcess.seen_at >= q.clock.now() - self.fresh_ms)))
            others = sorted(alive - {self.process})
            if others and not any(self.client.exists(self._mark(p)) for p in others):
                return (f"none of the {len(others)} other live process(es) uses this Redis: is MESSAGE_QUEUE the same "
                        "in every process?")
        except redis.RedisError as e:
            return f"Redis unreachable ({e.__class__.__name__})"
        return None

    def check(self) -> bool:
        """Check now; log a change of state in one line."""
        problem = self.problem()
        if problem is None and not self.ready:
            log.warning("message queue works: serving clients")
        elif problem is not None and (self.ready or self.reason == "not checked yet"):
            log.error("message queue not usable, refusing clients with `busy`: %s", problem)
        self.ready, self.reason = problem is None, problem
        return self.ready

    def run(self) -> None:
        """Check forever."""
        while True:
            socketio.sleep(self.app.config["QUEUE_PROBE_SECONDS"])
            try:
                with self.app.app_context():
                    self.check()
            except Exception as e:  # noqa: BLE001 - the database is away: the heartbeat says so; check again
                if self.ready:
                    log.error("message queue check failed: %s", e.__class__.__name__)
                self.ready, self.reason = False, "check failed"


def ready(app: Flask) -> bool:
    """Whether this process may serve clients (always, without a message queue or outside the entry point)."""
    watch = services(app).queue_watch
    return watch is None or watch.ready


def refuse_unless_ready(app: Flask) -> None:
    """Raise `busy` while the queue is not usable."""
    if not ready(app):
        raise Busy()


class QuietRedisErrors(logging.Filter):
    """python-socketio logs every failed publish and every reconnect attempt; the watch says it once instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Drop the Redis retry lines."""
        return not str(record.msg).startswith(("Cannot publish to redis", "Cannot receive from redis"))


def init_app(app: Flask) -> None:
    """Refuse changes over HTTP while not ready (sockets check in their handlers)."""

    @app.before_request
    def _refuse_changes():
        """Any POST to the API changes something."""
        if request.method == "POST" and request.blueprint == "api":
            refuse_unless_ready(app)


def start(app: Flask) -> None:
    """In the entry point, with a message queue: check once now (before the first heartbeat), then keep checking."""
    if not app.config.get("MESSAGE_QUEUE"):
        return
    for name in ("socketio.server", "socketio", "socketio.client_manager"):
        logging.getLogger(name).addFilter(QuietRedisErrors())
    server = socketio.server
    if not server.manager_initialized:  # start listening on the channel now, not at the first client's connect
        server.manager_initialized = True
        server.manager.initialize()
    watch = services(app).queue_watch = QueueWatch(app)
    with app.app_context():
        for _ in range(50):  # the listener subscribes in the background: give it a moment before judging
            if watch.problem() is None:
                break
            socketio.sleep(0.1)
        watch.check()
    socketio.start_background_task(watch.run)
