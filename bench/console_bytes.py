"""Bytes per change per coordinator of the `console` message, before and after patches (issue 13, part 6).

    .venv/bin/python bench/console_bytes.py --sizes 100,1000,5000

For each line size it builds one live event on a fresh temporary SQLite file (the engine alone, as bench/domain.py),
with a few participants who joined from phones and the rest written in as walk-ins in one insert, then makes a fixed
series of changes as a coordinator: call the first, move the last to the front, move the first to the back, remove
one from the middle, add a walk-in at place 2, skip the called person back into line, call again. After each it
builds the console view (`Queue.console`, what `_send_console` builds) and measures, in compact UTF-8 JSON as
Socket.IO sends it:

- whole: the whole view, what every change sent to every coordinator before (the floor this work is measured from);
- patch: `views.console_message(previous view, view)`, what a coordinator gets now;

and the server time of the view (build) and of the key and patch on top of it; "old ms" is what one console update
cost before (build + serialising the whole view for the emit), "new ms" what it costs now (build + key + patch +
serialising the patch). It prints medians (bytes: also the largest) per size, and the ratio whole / patch. Bytes do
not depend on the machine; times do (compare old and new of one run, and note the load average).
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import insert, update

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from coordinator.domain import FakeClock, Queue, Store, make_engine  # noqa: E402
from coordinator.domain import views  # noqa: E402
from coordinator.domain.line import GAP  # noqa: E402
from coordinator.domain.models import Base, Entry, Event  # noqa: E402

PHONES = 5  # people who joined from a phone (the rest are walk-ins: same rows on the console)


def wire(msg: dict) -> int:
    """Bytes of a message as Socket.IO sends it."""
    return len(json.dumps(msg, separators=(",", ":"), ensure_ascii=False).encode())


def op() -> str:
    """A fresh client operation id."""
    return uuid.uuid4().hex


def build(path: str, size: int):
    """A live event with `size` people in line; returns (queue, coordinator principal, event id)."""
    engine = make_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    q = Queue(Store(engine), FakeClock())
    body, token = q.create_event({"title": "Bench", "spots": [{"label": "A"}, {"label": "B"}],
                                  "auto_call": False, "max_queue": 10_000})
    slug = body["event"]["slug"]
    coord = q.authenticate({"event": slug, "coordinator": token})
    q.perform(coord, "start", {}, op())
    for i in range(PHONES):
        who = q.authenticate({"event": slug, "participant": secrets.token_urlsafe(32)})
        q.perform(who, "join", {"pseudonym": f"Phone{i}"}, op())
    walk = size - PHONES
    with q.store.write() as s:
        ev = s.get(Event, coord.event_id)
        top = max(e.rank for e in s.query(Entry).filter(Entry.event_id == ev.id))
        s.execute(insert(Entry), [{"event_id": ev.id, "ticket": ev.next_ticket + i, "pseudonym": f"Walk-in {i}",
                                   "state": "waiting", "rank": top + (i + 1) * GAP, "joined_at": q.clock.now(),
                                   "misses": 0} for i in range(walk)])
        s.execute(update(Event).where(Event.id == ev.id).values(next_ticket=ev.next_ticket + walk,
                                                                 version=Event.version + 1))
    return q, coord, coord.event_id


def measure(size: int) -> dict:
    """Whole and patch bytes, and server times, over the series of changes at one line size."""
    with tempfile.TemporaryDirectory() as tmp:
        q, coord, eid = build(os.path.join(tmp, "bench.db"), size)
        last = q.console(eid)
        rows = []

        def change(action: str, **args):
            """One change, then the console message for it."""
            nonlocal last
            out = q.perform(coord, action, args, op())
            q.clock.advance(1_000)
            t0 = time.perf_counter()
            view = q.console(eid)  # the view with its key, as _send_console gets it
            t1 = time.perf_counter()
            msg = views.console_message(last, view)
            t2 = time.perf_counter()
            key_ms = _time(lambda: views.console_key(view))
            old_emit_ms = _time(lambda: json.dumps(view))  # what the emit of the whole view serialised before
            new_emit_ms = _time(lambda: json.dumps(msg))
            rows.append({"action": action, "whole": wire(view), "patch": wire(msg), "is_patch": "patch" in msg,
                         "build_ms": (t1 - t0) * 1000 - key_ms, "key_ms": key_ms, "patch_ms": (t2 - t1) * 1000,
                         "old_ms": (t1 - t0) * 1000 - key_ms + old_emit_ms,
                         "new_ms": (t2 - t0) * 1000 + new_emit_ms})
            last = view
            return out

        line = lambda: last["line"]  # noqa: E731
        first = change("call_next").result["entry"]
        change("move", entry=line()[-1]["id"], to=1)
        change("move", entry=line()[0]["id"], to=len(line()))
        change("remove", entry=line()[len(line()) // 2]["id"])
        change("add_walk_in", pseudonym="Late", to=2)
        change("skip", entry=first)
        change("call_next")
    return {"size": size, "rows": rows}


def _time(fn) -> float:
    """Milliseconds of one call."""
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def main() -> None:
    """Print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100,1000,5000")
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}, {os.cpu_count()} cores")
    print(f"{'people':>7} {'whole B (floor)':>16} {'patch B med':>12} {'patch B max':>12} {'whole/patch':>12} "
          f"{'build ms':>9} {'+key ms':>8} {'+patch ms':>10} {'old ms':>7} {'new ms':>7}")
    for size in (int(s) for s in args.sizes.split(",")):
        r = measure(size)["rows"]
        assert all(x["is_patch"] for x in r), "a change went out whole"
        whole = statistics.median(x["whole"] for x in r)
        med, big = statistics.median(x["patch"] for x in r), max(x["patch"] for x in r)
        print(f"{size:>7} {whole:>16,.0f} {med:>12,.0f} {big:>12,} {whole / med:>11.0f}x "
              f"{statistics.median(x['build_ms'] for x in r):>9.1f} {statistics.median(x['key_ms'] for x in r):>8.1f} "
              f"{statistics.median(x['patch_ms'] for x in r):>10.1f} {statistics.median(x['old_ms'] for x in r):>7.1f} "
              f"{statistics.median(x['new_ms'] for x in r):>7.1f}")
        for x in r:
            print(f"{'':>7}   {x['action']:<12} whole {x['whole']:>9,}  patch {x['patch']:>6,}")


if __name__ == "__main__":
    main()
