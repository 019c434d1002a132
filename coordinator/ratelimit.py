"""One action rate limit per actor, shared by socket and HTTP actions, kept in this process's memory.

Each actor (a participant by token hash, a coordinator by id; never an address) has a token bucket of ACTION_BURST
actions that refills evenly over ACTION_WINDOW_SECONDS. The bucket belongs to the actor, not to a connection, so
reconnecting, opening another tab or switching to HTTP does not refill it. A bucket left alone for a whole window is
full again, which is the same as having none, so it is dropped: memory holds only actors active in the last window,
and MAX_KEYS bounds even that. This is not queue state: a restart forgets the buckets, and with several server
processes each process counts on its own (see docs/threat-model.md).
"""
from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict

from flask import Flask

from .domain import DomainError

MAX_KEYS = 100_000  # about 30 MB of buckets at most; beyond it the least recently used bucket is forgotten


class RateLimited(DomainError):
    """Over the action budget; `retry_after` says in how many seconds one more action is allowed."""

    code, status = "rate_limited", 429

    def __init__(self, retry_after: float):
        super().__init__("Too many actions; wait a few seconds.")
        self.retry_after = retry_after


class ActionLimiter:
    """Token buckets by key, oldest use first, so idle ones are found and evicted at the front."""

    def __init__(self, burst: int, window: float, max_keys: int = MAX_KEYS, clock=time.monotonic):
        """`burst` actions at once, refilled over `window` seconds; at most `max_keys` buckets."""
        self.burst, self.window, self.max_keys, self.clock = float(burst), float(window), max_keys, clock
        self.rate = self.burst / self.window  # tokens per second
        self.lock = threading.Lock()  # green under eventlet/gevent monkey-patching
        self.buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, when counted)

    def take(self, key: str) -> float:
        """Spend one action of the key's budget: 0 when allowed, else the seconds until the next one is."""
        now = self.clock()
        with self.lock:
            self._evict(now)
            tokens, at = self.buckets.pop(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            allowed = tokens >= 1
            self.buckets[key] = (tokens - 1 if allowed else tokens, now)  # re-inserted last: the newest use
            return 0.0 if allowed else (1 - tokens) / self.rate

    def _evict(self, now: float) -> None:
        """Forget buckets idle for a whole window (full again), and the least recently used beyond max_keys."""
        while self.buckets:
            _, at = next(iter(self.buckets.values()))
            if now - at < self.window and len(self.buckets) < self.max_keys:
                return
            self.buckets.popitem(last=False)

    def __len__(self) -> int:
        """How many buckets are held."""
        return len(self.buckets)


def limiter(app: Flask) -> ActionLimiter:
    """The app's action limiter (one per app), made from its settings on first use."""
    box = app.extensions.get("action_limiter")
    if box is None:
        box = app.extensions.setdefault("action_limiter", ActionLimiter(
            app.config["ACTION_BURST"], app.config["ACTION_WINDOW_SECONDS"]))
    return box


def check(app: Flask, who) -> None:
    """Count one action of this caller; raise RateLimited when over the budget.

    Observers are not counted: they have no identity to key on, and every action they send is refused before the
    database is touched.
    """
    if who is None or who.role == "observer":
        return
    wait = limiter(app).take(who.actor_key)
    if wait:
        raise RateLimited(wait)


def retry_after_header(seconds: float) -> str:
    """A Retry-After value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))
