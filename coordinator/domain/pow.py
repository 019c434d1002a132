"""Proof of work on every join: ALTCHA v2 challenges (PBKDF2/SHA-256), stateless to check, spent once.

A challenge is signed with a server secret (HMAC) and carries its event and its expiry, so checking one needs no
stored state; the key a solution derives is stored with the join (`PowSpent`, unique), so it cannot be used twice.
How much work a challenge asks for is its `cost` (PBKDF2 iterations per attempt) times 16 ** len(key prefix)
expected attempts; the price of the moment comes from `Pace` (this event's joins) and, in the web layer, from the
address limiter. Nothing here knows a network address.
"""
from __future__ import annotations

import base64
import json
import math
import threading
from collections import OrderedDict, deque

import altcha

from .errors import DomainError

ALGORITHM = "PBKDF2/SHA-256"
MAX_TRIES = 3                 # wrong solutions checked per challenge
MAX_FAILURES_KEPT = 100_000   # challenges with wrong solutions remembered (oldest forgotten first)
MAX_COST = 5_000_000  # iterations per attempt; a price factor beyond this is refused as rate_limited upstream


class PowError(DomainError):
    """A join without a valid, unspent proof of work."""

    def __init__(self, code: str, message: str):
        super().__init__(message, code)


def required() -> PowError:
    return PowError("pow_required", "Joining needs a solved challenge: get one from /api/events/<slug>/challenge.")


class ProofOfWork:
    """Makes and checks challenges. `cost` and `prefix` set the base price; `factor` multiplies the cost."""

    def __init__(self, secret: bytes | str, cost: int = 5000, prefix: str = "00", ttl_ms: int = 300_000,
                 required: bool = True, offload=None):
        self.secret = secret if isinstance(secret, bytes) else secret.encode()
        self.cost, self.prefix, self.ttl_ms, self.required = int(cost), prefix, int(ttl_ms), required
        # Wrong solutions per challenge (by signature): checking one costs the server a derivation, so a challenge
        # gets MAX_TRIES before it is refused unchecked; issuing challenges is what the address limits price.
        self.lock = threading.Lock()
        self.failures: OrderedDict[str, int] = OrderedDict()
        # How a derivation runs: here, or (eventlet) in an OS thread so the hub keeps serving everyone else.
        self.offload = offload or (lambda fn, *a: fn(*a))

    def price(self, factor: float) -> tuple[int, str]:
        """(cost, key prefix) for `factor` times the base price: the cost grows up to 16 times, then the prefix gets
        one more hex digit (16 times the attempts) and the cost starts again. So checking a solution (one
        derivation) never costs the server more than 16 base attempts, however high the price."""
        factor = max(1.0, factor)
        digits = 0
        while factor >= 16:
            factor /= 16
            digits += 1
        return max(1, min(MAX_COST, round(self.cost * factor))), self.prefix + "0" * digits

    def challenge(self, slug: str, now_ms: int, factor: float = 1.0) -> dict:
        """A signed challenge for joining this event, `factor` times the base price."""
        cost, prefix = self.price(factor)
        ch = altcha.create_challenge(ALGORITHM, cost, key_prefix=prefix,
                                     expires_at=(now_ms + self.ttl_ms) // 1000, data={"event": slug},
                                     hmac_secret=self.secret)
        return ch.to_dict()

    def expected_attempts(self) -> int:
        """How many attempts a solver makes on average (16 per hex digit of the key prefix)."""
        return 16 ** len(self.prefix)

    def verify(self, payload: object, slug: str, now_ms: int) -> tuple[str, int]:
        """Check a solution for this event; returns its derived key (what is stored to spend it) and when the
        challenge expires (ms), or raises PowError."""
        if payload is None:
            raise required()
        try:
            if isinstance(payload, str):
                if len(payload) > 4000:
                    raise ValueError
                payload = json.loads(base64.b64decode(payload, validate=True))
            if not isinstance(payload, dict) or set(payload) != {"challenge", "solution"}:
                raise ValueError
            ch, sol = payload["challenge"], payload["solution"]
            params = ch["parameters"]
            key = sol["derivedKey"]
            if (not isinstance(key, str) or len(key) != 64 or not isinstance(params, dict)
                    or params.get("algorithm") != ALGORITHM or not isinstance(sol.get("counter"), int)
                    or not isinstance(params.get("cost"), int) or not 1 <= params["cost"] <= 16 * self.cost
                    or params.get("keyLength", 32) != 32):
                raise ValueError
            pl = altcha.Payload.from_dict({"challenge": ch, "solution": sol})
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            raise PowError("pow_invalid", "The proof of work is malformed.") from None
        expires = params.get("expiresAt")
        data = params.get("data")
        if not isinstance(data, dict) or data.get("event") != slug:
            raise PowError("pow_invalid", "That challenge was made for another event.")
        if not isinstance(expires, int) or expires * 1000 < now_ms:
            raise PowError("pow_expired", "The challenge has expired; get a new one.")
        sig = str(ch.get("signature"))[:128]
        with self.lock:
            if self.failures.get(sig, 0) >= MAX_TRIES:
                raise PowError("pow_invalid", "Too many wrong solutions for this challenge; get a new one.")
        try:
            res = self.offload(altcha.verify_solution, pl, self.secret)
        except (ValueError, TypeError, KeyError):
            res = None
        if res is None or not res.verified:
            with self.lock:
                self.failures[sig] = self.failures.pop(sig, 0) + 1
                while len(self.failures) > MAX_FAILURES_KEPT:
                    self.failures.popitem(last=False)
            if res is not None and res.expired:
                raise PowError("pow_expired", "The challenge has expired; get a new one.")
            raise PowError("pow_invalid", "The proof of work does not check out.")
        return key.lower(), expires * 1000


class Pace:
    """How fast joins come into each event lately, in this process's memory: the event's price factor.

    Up to `calm` joins a minute (people arriving at a picket) cost the base price; every `step` joins more in the
    last minute double it, up to 2 ** `max_doublings`.
    """

    def __init__(self, calm: int = 20, step: int = 5, max_doublings: int = 8, window_ms: int = 60_000):
        self.calm, self.step, self.max_doublings, self.window_ms = calm, step, max_doublings, window_ms
        self.lock = threading.Lock()
        self.joins: dict[int, deque] = {}

    def joined(self, event_id: int, now_ms: int) -> None:
        """Count one join."""
        with self.lock:
            q = self.joins.setdefault(event_id, deque())
            q.append(now_ms)
            self._trim(q, now_ms)

    def recent(self, event_id: int, now_ms: int) -> int:
        """Joins in the last window."""
        with self.lock:
            q = self.joins.get(event_id)
            if not q:
                return 0
            self._trim(q, now_ms)
            if not q:
                del self.joins[event_id]
                return 0
            return len(q)

    def factor(self, event_id: int, now_ms: int) -> float:
        """The event's price factor now."""
        over = self.recent(event_id, now_ms) - self.calm
        return 1.0 if over < 0 else 2.0 ** min(self.max_doublings, over // self.step + 1)

    def _trim(self, q: deque, now_ms: int) -> None:
        while q and q[0] <= now_ms - self.window_ms:
            q.popleft()


def doublings(factor: float) -> int:
    """A price factor in doublings (for documentation and the console)."""
    return int(math.log2(max(1.0, factor)))
