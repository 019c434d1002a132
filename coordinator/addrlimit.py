"""Limits by network address, in this process's memory only: never stored, never logged, forgotten when idle.

An address is never kept as such: the key is an HMAC of it under a random key made at start and held only in memory,
so not even a memory dump lists the addresses seen. Each key has a bucket of `burst` uses refilled at `per_minute`.
A use beyond the bucket is not refused at once: it puts the bucket in debt, and the proof of work asked from that
address costs `step` times more per unit of debt (see `factor`). Past `max_debt` the address is refused with
`rate_limited` until the bucket refills. The numbers, and why they suit a mobile carrier's shared address, are in
docs/threat-model.md ("Floods").
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict

from flask import Flask, request

from .ratelimit import RateLimited
from .services import services

MAX_KEYS = 200_000  # about 40 MB at most; beyond it the least recently used address is forgotten


class AddressLimiter:
    """Leaky buckets by (address, purpose), allowed to go into debt."""

    def __init__(self, burst: float, per_minute: float, max_debt: float, step: float = 4.0,
                 max_keys: int = MAX_KEYS, clock=time.monotonic):
        self.burst, self.rate = float(burst), float(per_minute) / 60.0
        self.max_debt, self.step, self.max_keys, self.clock = float(max_debt), float(step), max_keys, clock
        self.key = secrets.token_bytes(32)  # in memory only: the address behind a bucket cannot be recovered
        self.lock = threading.Lock()
        self.buckets: OrderedDict[bytes, tuple[float, float]] = OrderedDict()  # key -> (tokens, when counted)

    def _key(self, purpose: str, address: str) -> bytes:
        return hmac.new(self.key, f"{purpose}\0{address}".encode(), hashlib.sha256).digest()[:16]

    def take(self, purpose: str, address: str | None) -> float:
        """Count one use; returns the price factor for it (1 while within the bucket). Raises RateLimited beyond
        `max_debt` (then nothing is counted)."""
        if not address:
            return 1.0
        k, now = self._key(purpose, address), self.clock()
        with self.lock:
            self._evict(now)
            tokens, at = self.buckets.pop(k, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            if tokens - 1 < -self.max_debt:
                self.buckets[k] = (tokens, now)
                raise RateLimited((1 - self.max_debt - tokens) / self.rate if self.rate else 60.0)
            tokens -= 1
            self.buckets[k] = (tokens, now)
        return self.step ** max(0, -tokens) if tokens < 0 else 1.0

    def _evict(self, now: float) -> None:
        """Forget buckets full again (idle long enough to refill), and the oldest beyond max_keys."""
        full_after = (self.burst + self.max_debt) / self.rate if self.rate else 3600
        while self.buckets:
            _, at = next(iter(self.buckets.values()))
            if now - at < full_after and len(self.buckets) < self.max_keys:
                return
            self.buckets.popitem(last=False)

    def __len__(self) -> int:
        return len(self.buckets)


def take(app: Flask, purpose: str) -> float:
    """Count one use of `purpose` by the current request's address; the price factor (or RateLimited)."""
    if not app.config["ADDR_LIMITS"]:
        return 1.0
    return services(app).address_limiter.take(purpose, request.remote_addr)
