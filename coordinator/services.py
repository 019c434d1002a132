"""The app's services: one typed object that `create_app` builds, reached through `services()`."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from flask import Config, Flask, current_app

if TYPE_CHECKING:
    from .addrlimit import AddressLimiter
    from .broadcast import Outbox
    from .domain import Queue
    from .effects import Effects
    from .gcpolicy import QuietCollector
    from .passphrase import Passphrases
    from .push import PushKeys
    from .ratelimit import ActionLimiter
    from .readiness import QueueWatch
    from .security import WindowLimiter

KEY = "picket"  # the one key of app.extensions this app uses


@dataclass
class Services:
    """Everything one app holds besides its configuration (one per app, so apps in one process never share)."""

    config: Config
    queue: Queue
    process: str  # this server process's name in the `connections` table (random, new at every start)
    passphrases: Passphrases
    outbox: Outbox
    push: PushKeys
    create_limiter: WindowLimiter
    effects: Effects = field(init=False)  # built from the others (see create_app)
    # Set by the entry point only (wsgi.py): the message-queue check of scale-out mode, the quiet garbage collector.
    queue_watch: QueueWatch | None = None
    quiet_gc: QuietCollector | None = None

    # The two limiters are made from their settings at their first use (tests set them after create_app).
    @cached_property
    def action_limiter(self) -> ActionLimiter:
        """The action limit per actor (coordinator/ratelimit.py)."""
        from .ratelimit import ActionLimiter
        return ActionLimiter(self.config["ACTION_BURST"], self.config["ACTION_WINDOW_SECONDS"])

    @cached_property
    def address_limiter(self) -> AddressLimiter:
        """The limits by network address (coordinator/addrlimit.py)."""
        from .addrlimit import AddressLimiter
        c = self.config
        return AddressLimiter(c["ADDR_BURST"], c["ADDR_PER_MINUTE"], c["ADDR_MAX_DEBT"], c["ADDR_PRICE_STEP"])


def services(app: Flask | None = None) -> Services:
    """The services of `app`, or of the current app."""
    return (current_app if app is None else app).extensions[KEY]


def queue() -> Queue:
    """The engine bound to the current app."""
    return services().queue
