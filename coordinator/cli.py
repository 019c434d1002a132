"""Background work (ticker, purge) and `flask` commands."""
from __future__ import annotations

import logging
import time

import click
from flask import Flask

from .domain.store import is_busy
from .extensions import socketio
from .gcpolicy import QuietCollector
from .readiness import ready
from .services import services
from .sockets import close_gone

log = logging.getLogger(__name__)


def run_ticker(app: Flask) -> None:
    """Say this process is alive and, unless RUN_TICKER is off, apply due transitions and purge expired events,
    forever. Every server process may run one."""
    svc = services(app)
    q, effects = svc.queue, svc.effects
    ticking = app.config["RUN_TICKER"]
    interval, purge_every = app.config["TICK_SECONDS"], app.config["PURGE_SECONDS"]
    beat_every, stale_ms = app.config["HEARTBEAT_SECONDS"], int(app.config["PROCESS_STALE_SECONDS"] * 1000)
    since_purge = purge_every  # purge once at start-up
    since_beat = 0.0
    busy = False  # the database was busy or away last round: say so once, not every round
    while True:
        try:
            with app.app_context():
                since_beat += interval
                if since_beat >= beat_every and ready(app):  # a process refusing clients does not say it is alive
                    since_beat = 0
                    for event_id in q.heartbeat(svc.process, stale_ms):
                        effects.console(event_id)  # a dead process's phones are offline now
                close_gone(app)  # revoked coordinators' and deleted events' sockets on this process
                q.store.scrub_if_due()  # a deletion's WAL checkpoint that a reader postponed
                for out in q.tick() if ticking else ():
                    effects.publish(out)
                since_purge += interval
                if ticking and since_purge >= purge_every:
                    since_purge = 0
                    for out in q.end_stale():
                        effects.publish(out)
                    for slug in q.purge_due():
                        log.info("purged an expired event")
            if svc.quiet_gc is not None:
                svc.quiet_gc.step()
            if busy:
                log.warning("ticker running again")
            busy = False
        except Exception as e:
            if is_busy(e):  # the write lock or the pool stayed taken: nothing was applied, the next round retries
                if not busy:
                    log.warning("ticker round skipped, database busy: %s", e.__class__.__name__)
                busy = True
            else:
                log.exception("ticker round failed; retrying")
        socketio.sleep(interval)


def start_background(app: Flask) -> None:
    """Start the ticker in this process (called by the entry point, not by tests)."""
    # Say this process is alive before it takes connections, so no other process's ticker takes them for a dead one's.
    svc = services(app)
    if ready(app):
        svc.queue.heartbeat(svc.process, int(app.config["PROCESS_STALE_SECONDS"] * 1000))
    if app.config["QUIET_GC"]:
        svc.quiet_gc = QuietCollector()
        svc.quiet_gc.install()
    socketio.start_background_task(run_ticker, app)


def init_app(app: Flask) -> None:
    """Register commands."""

    @app.cli.command("purge")
    def purge_command():
        """End events past their maximum age, and delete events whose retention time has passed."""
        q = services(app).queue
        q.end_stale()
        slugs = q.purge_due()
        click.echo(f"purged {len(slugs)} event(s)")
        for _ in range(40):  # a running server's readers may keep the WAL in use for a moment
            if q.store.scrub_if_due():
                return
            time.sleep(0.25)
        click.echo("the WAL could not be truncated yet; the running server's ticker will do it", err=True)

    @app.cli.command("tick")
    def tick_command():
        """Apply due transitions once (for cron-style operation without a running server)."""
        outs = services(app).queue.tick()
        click.echo(f"applied transitions in {len(outs)} event(s)")
