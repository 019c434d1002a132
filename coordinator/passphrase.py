"""Optional coordinator passphrases, hashed with Argon2id (argon2-cffi).

Argon2 is slow on purpose (tens of milliseconds). Under eventlet or gevent a plain call would stop every other
connection for that long, so the entry point hands in `offload`: a way to run a function in a real OS thread
(eventlet's tpool, gevent's threadpool) while the event loop goes on. argon2-cffi releases the GIL while it hashes.
"""
from __future__ import annotations

from typing import Callable

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError

from .domain.errors import BadRequest

_hasher = PasswordHasher()


def _direct(fn: Callable, *args):
    """Run in the calling thread (threading mode, tests, the command line)."""
    return fn(*args)


offload: Callable = _direct


def hash_passphrase(value: object) -> str | None:
    """Hash a passphrase of 8-200 characters (empty: none)."""
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not 8 <= len(value) <= 200:
        raise BadRequest("The passphrase must be 8 to 200 characters.")
    return offload(_hasher.hash, value)


def check_passphrase(stored: str | None, given: object) -> bool:
    """True when no passphrase is set or the given one matches."""
    if not stored:
        return True
    try:
        return isinstance(given, str) and offload(_hasher.verify, stored, given)
    except VerificationError:
        return False
