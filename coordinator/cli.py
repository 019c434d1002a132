"""Background work (ticker, purge) and `flask` commands."""
from __future__ import annotations

import logging

import click
from flask import Flask

from .broadcast import publish
from .domain.store import is_busy
from .extensions import socketio
from .gcpolicy import QuietCollector

log = logging.getLogger(__name__)


def run_ticker(app: Flask) -> None:
    """Apply due transitions and purge expired events, forever. Every server process may run one."""
    q = app.extensions["queue"]
    interval, purge_every = app.config["TICK_SECONDS"], app.config["PURGE_SECONDS"]
    since_purge = purge_every  # purge once at start-up
    while True:
        try:
            with app.app_context():
                for out in q.tick():
                    publish(app, out)
                since_purge += interval
                if since_purge >= purge_every:
                    since_purge = 0
                    for out in q.end_stale():
                        publish(app, out)
                    for slug in q.purge_due():
                        log.info("purged an expired event")
            collector = app.extensions.get("quiet_gc")
            if collector is not None:
                collector.step()
        except Exception as e:
            if is_busy(e):  # the write lock or the pool stayed taken: nothing was applied, the next round retries
                log.warning("ticker round skipped, database busy: %s", e.__class__.__name__)
            else:
                log.exception("ticker round failed; retrying")
        socketio.sleep(interval)


def start_background(app: Flask) -> None:
    """Start the ticker in this process (called by the entry point, not by tests)."""
    app.extensions["queue"].reset_presence()
    if app.config["QUIET_GC"]:
        collector = app.extensions["quiet_gc"] = QuietCollector()
        collector.install()
    socketio.start_background_task(run_ticker, app)


def init_app(app: Flask) -> None:
    """Register commands."""

    @app.cli.command("purge")
    def purge_command():
        """End events past their maximum age, and delete events whose retention time has passed."""
        app.extensions["queue"].end_stale()
        slugs = app.extensions["queue"].purge_due()
        click.echo(f"purged {len(slugs)} event(s)")

    @app.cli.command("tick")
    def tick_command():
        """Apply due transitions once (for cron-style operation without a running server)."""
        outs = app.extensions["queue"].tick()
        click.echo(f"applied transitions in {len(outs)} event(s)")
