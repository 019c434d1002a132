"""One action rate limit per actor, shared by socket and HTTP actions, kept in this process's memory.

Each actor (a participant by token hash, a coordinator by id; never an address) may do at most ACTION_BURST actions in
any ACTION_WINDOW_SECONDS (a rolling window: 30 in any 10 s by default, exactly as docs/protocol.md says). The limiter
keeps the times of the actor's last ACTION_BURST allowed actions; one more is allowed once the oldest of them is a
whole window old. (A token bucket, used before, let a burst of 30 and then 3 a second through: 59 in 10 s.) The
record belongs to the actor, not to a connection, so reconnecting, opening another tab or switching to HTTP does not
reset it. A record whose newest action is a whole window old limits nothing, so it is dropped: memory holds only
actors active in the last window, and MAX_KEYS bounds even that. This is not queue state: a restart forgets the buckets, and with several server
processes each process counts on its own (see docs/threat-model.md).
"""
from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque

from flask import Flask

from .domain import DomainError
from .services import services

MAX_KEYS = 50_000  # at most about 60 MB of records (30 times each); beyond it the least recently used is forgotten


class RateLimited(DomainError):
    """Over the action budget; `retry_after` says in how many seconds one more action is allowed."""

    code = "rate_limited"

    def __init__(self, retry_after: float):
        super().__init__("Too many actions; wait a few seconds.")
        self.retry_after = retry_after


class ActionLimiter:
    """The times of each key's last `burst` allowed actions, least recently used key first (evicted at the front)."""

    def __init__(self, burst: int, window: float, max_keys: int = MAX_KEYS, clock=time.monotonic):
        """At most `burst` actions in any `window` seconds per key; at most `max_keys` keys."""
        self.burst, self.window, self.max_keys, self.clock = int(burst), float(window), max_keys, clock
        self.lock = threading.Lock()  # green under eventlet/gevent monkey-patching
        self.buckets: OrderedDict[str, deque] = OrderedDict()  # key -> times of its last `burst` allowed actions

    def take(self, key: str) -> float:
        """Spend one action of the key's budget: 0 when allowed, else the seconds until the next one is."""
        now = self.clock()
        with self.lock:
            self._evict(now)
            times = self.buckets.pop(key, None)
            if times is None:
                times = deque(maxlen=self.burst)
            self.buckets[key] = times  # re-inserted last: the newest use
            if len(times) >= self.burst and now - times[0] < self.window:
                return times[0] + self.window - now  # refused attempts do not count
            times.append(now)
            return 0.0

    def _evict(self, now: float) -> None:
        """Forget keys whose newest action is a whole window old, and the least recently used beyond max_keys."""
        while self.buckets:
            times = next(iter(self.buckets.values()))
            if times and now - times[-1] < self.window and len(self.buckets) < self.max_keys:
                return
            self.buckets.popitem(last=False)

    def __len__(self) -> int:
        """How many buckets are held."""
        return len(self.buckets)


def check(app: Flask, who) -> None:
    """Count one action of this caller; raise RateLimited when over the budget.

    Observers are not counted: they have no identity to key on, and every action they send is refused before the
    database is touched.
    """
    if who is None or who.role == "observer":
        return
    wait = services(app).action_limiter.take(who.actor_key)
    if wait:
        raise RateLimited(wait)


def retry_after_header(seconds: float) -> str:
    """A Retry-After value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))
