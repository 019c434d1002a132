"""Time as integer milliseconds since the epoch; the fake clock drives tests."""
import time


class SystemClock:
    """Wall-clock time, optionally shifted (the shift is a test-only setting: PICKET_CLOCK_OFFSET_MS)."""

    def __init__(self, offset_ms: int = 0):
        self.offset_ms = int(offset_ms)

    def now(self) -> int:
        """Milliseconds since the Unix epoch (plus the test-only offset)."""
        return int(time.time() * 1000) + self.offset_ms


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, start: int = 1_800_000_000_000):
        self.t = start

    def now(self) -> int:
        """The current fake time."""
        return self.t

    def advance(self, ms: int) -> int:
        """Move time forward and return the new time."""
        self.t += ms
        return self.t
