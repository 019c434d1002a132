"""The app's services: one typed object that `create_app` builds, reached through `services()`.

This module sits below every module that uses it, so it imports none of them: the types of the fields are named
(where each lives is in its comment) and `create_app` fills them in.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

from flask import Flask, current_app

from .domain import Queue

KEY = "picket"  # the one key of app.extensions this app uses


@dataclass
class Services:
    """Everything one app holds besides its configuration (one per app, so apps in one process never share)."""

    queue: Queue
    process: str  # this server process's name in the `connections` table (random, new at every start)
    passphrases: Passphrases  # coordinator/passphrase.py: Argon2 through the offloader
    outbox: Outbox  # coordinator/broadcast.py: paces and merges the `state` and `console` messages
    push: PushKeys  # coordinator/push.py: the VAPID keys
    action_limiter: ActionLimiter  # coordinator/ratelimit.py
    address_limiter: AddressLimiter  # coordinator/addrlimit.py
    create_limiter: WindowLimiter  # coordinator/security.py
    effects: Effects = field(init=False)  # coordinator/effects.py, built over the others
    # The coordinators' rooms and events' rooms of everyone that sockets of this process entered (sockets.py): what
    # the ticker checks for revocations and deletions (close_gone), without walking every socket's own rooms.
    watched_rooms: set[str] = field(default_factory=set)
    watched_lock: threading.Lock = field(default_factory=threading.Lock)
    # Set by the entry point only (wsgi.py): the message-queue check of scale-out mode (readiness.py), and the quiet
    # garbage collector (gcpolicy.py).
    queue_watch: QueueWatch | None = None
    quiet_gc: QuietCollector | None = None


def services(app: Flask | None = None) -> Services:
    """The services of `app`, or of the current app."""
    return (current_app if app is None else app).extensions[KEY]


def queue() -> Queue:
    """The engine bound to the current app."""
    return services().queue
