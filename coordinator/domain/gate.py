"""The on-site join code: a few digits derived from the event's secret, its epoch and the minute, so nothing is
stored per code. A code is shown for one window (a minute) and accepted for `VALID_WINDOWS` windows from the one it
was shown in, so someone who read it just before it changed still has a few minutes; bumping the epoch (the
coordinator's "new code now") makes every earlier code invalid at once."""
from __future__ import annotations

import hashlib
import hmac

WINDOW_MS = 60_000
VALID_WINDOWS = 4   # the window it was shown in and the next 3: a code works for 3 to 4 minutes
DIGITS = 6


def code(secret: str, epoch: int, window: int) -> str:
    """The code of one window."""
    mac = hmac.new(bytes.fromhex(secret), f"{epoch}:{window}".encode(), hashlib.sha256).digest()
    return str(int.from_bytes(mac[:8], "big") % 10 ** DIGITS).zfill(DIGITS)


def current(secret: str, epoch: int, now: int) -> dict:
    """The code to show now, and when the next one replaces it (ms)."""
    window = now // WINDOW_MS
    return {"code": code(secret, epoch, window), "next_at": (window + 1) * WINDOW_MS}


def valid(secret: str, epoch: int, now: int, given: object) -> bool:
    """Whether a code someone typed or scanned is current (shown in one of the last VALID_WINDOWS windows)."""
    if not isinstance(given, str) or len(given) != DIGITS or not given.isdigit():
        return False
    window = now // WINDOW_MS
    return any(hmac.compare_digest(code(secret, epoch, w), given) for w in range(window - VALID_WINDOWS + 1, window + 1))


def display_key(secret: str) -> str:
    """The capability a big screen needs to show the codes (the console hands it to the board in a link fragment);
    derived from the event's secret, so nothing more is stored."""
    return hmac.new(bytes.fromhex(secret), b"display", hashlib.sha256).hexdigest()
