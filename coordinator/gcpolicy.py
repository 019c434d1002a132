"""Full garbage collections at quiet moments, not in the middle of delivering a call.

With thousands of open WebSockets the heap holds millions of objects, and CPython's full (oldest-generation)
collection then stops the whole server for most of a second: the benchmark measured 0.6-0.9 s at 5,000
connections, four times in twenty calls, each time delaying a call to every phone. The young generations are cheap
and keep their automatic schedule; the oldest one is taken off it and collected by the ticker when no change has
been broadcast for a moment, at most once per `min_gap` and at least once per `max_gap` whatever happens.
"""
from __future__ import annotations

import gc
import time

NEVER = 1_000_000_000  # an oldest-generation threshold no process reaches


class QuietCollector:
    """Decides when the next full collection may run; the entry point installs one per server process."""

    def __init__(self, quiet: float = 2.0, min_gap: float = 60.0, max_gap: float = 600.0, clock=time.monotonic):
        """Collect after `quiet` seconds without a broadcast, at most every `min_gap`, at least every `max_gap`."""
        self.quiet, self.min_gap, self.max_gap, self.clock = quiet, min_gap, max_gap, clock
        self.last_busy = self.last_full = clock()
        self.saved: tuple[int, int, int] | None = None

    def install(self) -> None:
        """Take the oldest generation off CPython's automatic schedule."""
        self.saved = gc.get_threshold()
        gc.set_threshold(self.saved[0], self.saved[1], NEVER)

    def uninstall(self) -> None:
        """Give the automatic schedule back."""
        if self.saved is not None:
            gc.set_threshold(*self.saved)
            self.saved = None

    def busy(self) -> None:
        """A change was just broadcast."""
        self.last_busy = self.clock()

    def due(self) -> bool:
        """Whether a full collection should run now."""
        now = self.clock()
        since_full = now - self.last_full
        return since_full >= self.max_gap or (since_full >= self.min_gap and now - self.last_busy >= self.quiet)

    def step(self) -> bool:
        """Run a full collection if one is due; True if it ran."""
        if not self.due():
            return False
        gc.collect()
        self.last_full = self.clock()
        return True
