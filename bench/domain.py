"""Micro-benchmark of the domain core alone (no Flask, no sockets): milliseconds per operation by line size.

    .venv/bin/python bench/domain.py --sizes 100,1000,5000

For each size it builds one live event on a fresh temporary SQLite file (the engine as tests/domain/harness.py makes
it), fills the line through `Queue.perform` (plus a short history of finished turns, so the console has past rows
and a log), then times each operation `--reps` times with time.perf_counter and prints the median, and the number
of SQL statements the operation ran. The operations:

- join: one more participant joins at the end of the line (the whole action, `_finish` included);
- call_next + skip: the coordinator calls the first person, then skips them back to 2nd place (two actions);
- move: the coordinator moves the last person to the middle of the line;
- console: `Queue.console`, the coordinators' view that is rebuilt after changes;
- snapshot obs / snapshot part: `Queue.snapshot` for an observer and for the last participant in line;
- me: `Queue.me` for the last participant in line.

The machine is shared: compare figures of one run, or runs made minutes apart, not across days.
"""
from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import event as sa_event

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from coordinator.domain import FakeClock, Queue, Store, make_engine  # noqa: E402
from coordinator.domain.models import Base  # noqa: E402

OPS = ("join", "call_next + skip", "move", "console", "snapshot obs", "snapshot part", "me")
HISTORY = 30  # finished turns before the measurement: past rows and log rows in the console


class Counter:
    """Counts the SQL statements an engine runs."""

    def __init__(self, engine):
        self.n = 0
        sa_event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, *_args):
        """One more statement."""
        self.n += 1


def op_id() -> str:
    """A fresh client operation id."""
    return uuid.uuid4().hex


class Bench:
    """One live event with a line of a given size, and the operations to time on it."""

    def __init__(self, path: str, size: int):
        """Create the event and fill its line with `size` people (after a short history of finished turns)."""
        engine = make_engine(f"sqlite:///{path}")
        Base.metadata.create_all(engine)
        self.engine, self.counter = engine, Counter(engine)
        self.clock = FakeClock()
        self.q = Queue(Store(engine), self.clock)
        body, token = self.q.create_event({"title": "Bench", "spots": [{"label": "A"}, {"label": "B"}],
                                           "auto_call": False, "max_queue": 10_000})
        self.slug = body["event"]["slug"]
        self.coord = self.q.authenticate({"event": self.slug, "coordinator": token})
        self.event_id = self.coord.event_id
        self.c("start")
        for _ in range(HISTORY):  # joined, called, on the spot, done
            who, _entry = self.join()
            self.c("call_next")
            self.q.perform(who, "confirm_arrival", {}, op_id())
            self.clock.advance(60_000)
            self.q.perform(who, "finish", {}, op_id())
        self.people = [self.join() for _ in range(size)]

    def c(self, name: str, **args):
        """A coordinator action."""
        return self.q.perform(self.coord, name, args, op_id())

    def join(self):
        """A new participant joins; returns (principal, entry id)."""
        who = self.q.authenticate({"event": self.slug, "participant": secrets.token_urlsafe(32)})
        out = self.q.perform(who, "join", {"pseudonym": f"P{secrets.token_hex(3)}"}, op_id())
        return who.as_participant(out.participant_id), out.result["entry"]

    def call_skip(self):
        """Call the first person, then skip them back to 2nd place: the line keeps its length."""
        out = self.c("call_next")
        self.c("skip", entry=out.result["entry"])

    def move(self):
        """Move the last person in line to the middle."""
        line = self.q.console(self.event_id)["line"]
        entry = line[-1]["id"]
        return lambda: self.c("move", entry=entry, to=len(line) // 2)

    def ops(self):
        """(name, setup) pairs: setup returns the function to time (so per-run preparation is not timed)."""
        last = self.people[-1][0]
        observer = self.q.authenticate({"event": self.slug})
        return (
            ("join", lambda: self.join),
            ("call_next + skip", lambda: self.call_skip),
            ("move", self.move),
            ("console", lambda: lambda: self.q.console(self.event_id)),
            ("snapshot obs", lambda: lambda: self.q.snapshot(observer)),
            ("snapshot part", lambda: lambda: self.q.snapshot(last)),
            ("me", lambda: lambda: self.q.me(self.event_id, last.participant_id)),
        )

    def run(self, reps: int) -> dict:
        """Median milliseconds and statements per operation."""
        results = {}
        for name, setup in self.ops():
            times, statements = [], []
            setup()()  # once untimed: the first run of an operation in a process also warms caches
            for _ in range(reps):
                fn = setup()
                self.clock.advance(1000)
                n0, t0 = self.counter.n, time.perf_counter()
                fn()
                times.append((time.perf_counter() - t0) * 1000)
                statements.append(self.counter.n - n0)
            results[name] = (statistics.median(times), statistics.median(statements))
        return results


def main() -> None:
    """Parse arguments, run every size, print one table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100,1000,5000", help="line sizes, comma-separated")
    parser.add_argument("--reps", type=int, default=9, help="repetitions per operation (the median is shown)")
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    columns = []
    with tempfile.TemporaryDirectory(prefix="pq-bench-") as tmp:
        for i, size in enumerate(sizes):
            t0 = time.perf_counter()
            bench = Bench(os.path.join(tmp, f"bench-{i}.db"), size)
            fill = time.perf_counter() - t0
            columns.append(bench.run(args.reps))
            bench.engine.dispose()
            print(f"line {size}: filled in {fill:.1f} s", file=sys.stderr)
    head = f"| ms per operation (median of {args.reps}), SQL statements |"
    print(head + "".join(f" line {s:,} |" for s in sizes))
    print("|---|" + "---|" * len(sizes))
    for op in OPS:
        print(f"| {op} |" + "".join(f" {c[op][0]:.2f} ({c[op][1]:.0f}) |" for c in columns))


if __name__ == "__main__":
    main()
