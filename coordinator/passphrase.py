"""Optional coordinator passphrases, hashed with Argon2id (argon2-cffi).

Argon2 is slow on purpose (tens of milliseconds). Under eventlet or gevent a plain call would stop every other
connection for that long, so the entry point hands `create_app` an `offload`: a way to run a function in a real OS
thread (eventlet's tpool, gevent's threadpool) while the event loop goes on. argon2-cffi releases the GIL while it
hashes. The engine checks passphrases through a `Passphrases` given to it (coordinator/domain does not import this).
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Callable

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError

from .domain.errors import BadRequest, DomainError, PassphraseRequired

_hasher = PasswordHasher()


def direct(fn: Callable, *args):
    """Run in the calling thread (threading mode, tests, the command line)."""
    return fn(*args)


class Passphrases:
    """Hashing and checking coordinator passphrases, each Argon2 call run through `offload`."""

    def __init__(self, offload: Callable = direct):
        """`offload(fn, *args)` runs fn where it does not stop the event loop (see the module's docstring)."""
        self.offload = offload

    def hash(self, value: object) -> str | None:
        """Hash a passphrase of 8-200 characters (empty: none)."""
        if value in (None, ""):
            return None
        if not isinstance(value, str) or not 8 <= len(value) <= 200:
            raise BadRequest("'passphrase' must be 8 to 200 characters.")  # quoted: the form marks the field
        return self.offload(_hasher.hash, value)

    def matches(self, stored: str | None, given: object) -> bool:
        """True when no passphrase is set or the given one matches."""
        if not stored:
            return True
        try:
            return isinstance(given, str) and self.offload(_hasher.verify, stored, given)
        except VerificationError:
            return False

    def verify(self, stored: str, given: object, link: str) -> None:
        """Refuse a wrong passphrase; wrong guesses for one link (`link`: its token's hash) are slowed down."""
        GUESSES.check(link)
        if not self.matches(stored, given):
            GUESSES.failed(link)
            raise PassphraseRequired("The passphrase is wrong.")
        GUESSES.succeeded(link)


class TooManyGuesses(DomainError):
    """Too many wrong passphrases for this coordinator link lately; `retry_after` says in how many seconds to try."""

    code = "rate_limited"

    def __init__(self, retry_after: float):
        super().__init__("Too many wrong passphrases; wait a little and try again.")
        self.retry_after = retry_after


class GuessThrottle:
    """A slow-down for passphrase guesses, per coordinator link (its token's hash; never an address), in memory.

    The first FREE wrong guesses cost nothing (a typo on a phone); after that each wrong guess locks the link for
    1, 2, 4 ... up to MAX_WAIT seconds, during which every try, right or wrong, is answered `rate_limited` without
    checking. 200 guesses then take hours instead of half a minute. A right passphrase clears the count. Whoever holds
    the link can make its owner wait at most MAX_WAIT seconds; the link itself is the first secret (>= 128 bits).
    Like the action limit, each server process counts on its own and a restart forgets.
    """

    FREE, MAX_WAIT, MAX_KEYS, FORGET_AFTER = 5, 60.0, 10_000, 3600.0

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock, self.lock = clock, threading.Lock()
        self.fails: OrderedDict[str, tuple[int, float]] = OrderedDict()  # key -> (wrong guesses, locked until)

    def check(self, key: str) -> None:
        """Raise TooManyGuesses while the key is locked."""
        now = self.clock()
        with self.lock:
            count, until = self.fails.get(key, (0, 0.0))
            if count and now - until > self.FORGET_AFTER:
                self.fails.pop(key, None)
            elif until > now:
                raise TooManyGuesses(until - now)

    def failed(self, key: str) -> None:
        """Count a wrong guess, and lock the key when it is past the free ones."""
        now = self.clock()
        with self.lock:
            count, _ = self.fails.pop(key, (0, 0.0))
            count += 1
            wait = min(self.MAX_WAIT, 2.0 ** (count - self.FREE - 1)) if count > self.FREE else 0.0
            self.fails[key] = (count, now + wait)
            while len(self.fails) > self.MAX_KEYS:
                self.fails.popitem(last=False)

    def succeeded(self, key: str) -> None:
        """A right passphrase: start counting afresh."""
        with self.lock:
            self.fails.pop(key, None)


GUESSES = GuessThrottle()
