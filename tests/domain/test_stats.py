"""Event statistics and the export rows, from a scripted picket on the engine with a fake clock."""
from __future__ import annotations

import secrets
import uuid

from coordinator.domain import stats

S = 1000  # one second in ms


def run_picket(q) -> dict:
    """A scripted one-spot picket: 4 join, one slot runs out, a no-show, a detention, an early finish, the end.

    Returns {"slug", "token", "t0"}. Times in seconds after t0: Alice/Bob/Carol/Dan join at 0/10/20/30; start at 60
    calls Alice; she arrives at 90 (slot to 390); Bob is called at 330, misses his call at 510 and goes back in line;
    Carol, called at 510, arrives at 540 and is detained at 600; Dan, called at 600, arrives at 620 and finishes at
    700; Bob is called again at 700; the event ends at 720 (Bob leaves).
    """
    clock = q.clock
    t0 = clock.now()
    body, token = q.create_event({"title": "Stats picket", "spots": [{"label": "A"}], "slot_ms": 300 * S,
                                  "grace_ms": 120 * S, "lead_ms": 60 * S, "miss_back": 3,
                                  "unreachable_ms": 120 * S})  # joined with no live page: the full grace anyway
    slug = body["event"]["slug"]
    coord = q.authenticate({"event": slug, "coordinator": token})
    people = {}

    def act(who, name, **args):
        """Perform an action with a fresh op id."""
        return q.perform(who, name, args, uuid.uuid4().hex)

    def at(sec):
        """Move the clock to t0 + sec and let due transitions happen."""
        clock.t = t0 + sec * S
        q.tick()

    for sec, name in ((0, "Alice"), (10, "Bob"), (20, "Carol"), (30, "Dan")):
        at(sec)
        people[name] = q.authenticate({"event": slug, "participant": secrets.token_urlsafe(32)})
        act(people[name], "join", pseudonym=name)
    at(60)
    act(coord, "start")
    at(90)
    act(people["Alice"], "confirm_arrival")
    at(330)
    at(390)
    at(510)
    at(540)
    act(people["Carol"], "confirm_arrival")
    at(600)
    carol = [e for e in q.snapshot(coord)["active"] if e["pseudonym"] == "Carol"][0]
    act(coord, "detain", entry=carol["id"], note="OVD Tverskoy", pause=False)
    at(620)
    act(people["Dan"], "confirm_arrival")
    at(700)
    act(people["Dan"], "finish")
    at(720)
    act(coord, "end")
    return {"slug": slug, "token": token, "t0": t0}


def _stats(q, slug):
    """The statistics and export rows of an event, read as the web layer does."""
    from coordinator.domain.models import Event
    from sqlalchemy import select
    with q.store.read() as s:
        ev = s.scalars(select(Event).where(Event.slug == slug)).one()
        entries, logs = stats.load(s, ev.id)
        return stats.summarize(ev, entries, logs, q.clock.now()), stats.export_rows(entries, q.clock.now())


def test_scripted_picket_statistics(any_queue):
    """Every number of the statistics block, worked out by hand from the script."""
    p = run_picket(any_queue)
    t0 = p["t0"]
    got, _ = _stats(any_queue, p["slug"])
    assert got["held"] == 2  # Alice (slot ran out) and Dan (finished early); Carol was detained
    assert got["calls"] == 5  # Alice, Bob, Carol, Dan, Bob again
    assert got["noshows"] == 1 and got["noshow_rate"] == 0.2
    assert got["detentions"] == 1
    assert got["total_on_spot_ms"] == (300 + 60 + 80) * S  # Alice 90-390, Carol 540-600, Dan 620-700
    # Waits (joined -> called): Alice 60, Carol 490, Dan 570, Bob 690 (his last call).
    assert got["wait_median_ms"] == 530 * S
    assert got["wait_p90_ms"] == 690 * S
    assert got["entries"] == 4
    assert got["line_over_time"] == [[t0 + sec * S, n] for sec, n in (
        (0, 1), (10, 2), (20, 3), (30, 4), (60, 3), (330, 2), (600, 1), (700, 0))]


def test_scripted_picket_export_rows(any_queue):
    """One row per entry with ISO times, waits and times on the spot in seconds, misses and the note."""
    p = run_picket(any_queue)
    _, rows = _stats(any_queue, p["slug"])
    day = "2027-01-15T08:"  # the fake clock starts at 2027-01-15T08:00:00Z
    assert rows == [
        ["1", "Alice", "done", day + "00:00Z", day + "01:00Z", day + "01:30Z", day + "06:30Z", "60", "300", "0", ""],
        ["2", "Bob", "left", day + "00:10Z", day + "11:40Z", "", day + "12:00Z", "690", "", "1", ""],
        ["3", "Carol", "detained", day + "00:20Z", day + "08:30Z", day + "09:00Z", day + "10:00Z", "490", "60", "0",
         "OVD Tverskoy"],
        ["4", "Dan", "done", day + "00:30Z", day + "10:00Z", day + "10:20Z", day + "11:40Z", "570", "80", "0", ""],
    ]


def test_percentile_and_empty_event():
    """Nearest-rank percentiles; an event with no calls has no waits and a zero no-show rate."""
    assert stats.percentile([], 90) is None
    assert stats.percentile([5], 90) == 5
    assert stats.percentile(list(range(1, 11)), 90) == 9
    assert stats.percentile(list(range(1, 11)), 50) == 5

    class Ev:
        held = calls = noshows = detained = 0
        started_at = ended_at = None
    got = stats.summarize(Ev(), [], [], 0)
    assert got["wait_median_ms"] is None and got["wait_p90_ms"] is None
    assert got["noshow_rate"] == 0.0 and got["line_over_time"] == [] and got["total_on_spot_ms"] == 0


def test_line_points_collapse_one_transaction_and_repeats():
    """Rows of one transaction count once (the length after it); unchanged lengths add no point."""
    class Row:
        def __init__(self, at, line):
            """A stand-in log row."""
            self.at, self.line = at, line
    rows = [Row(1, 1), Row(2, 2), Row(2, 2), Row(3, 2), Row(4, 1), Row(4, 0)]
    assert stats.line_points(rows) == [[1, 1], [2, 2], [4, 0]]
