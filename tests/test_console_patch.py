"""The console for long lines (issue 13, part 6): a `console` message is a patch against the view sent before, and
applying it gives exactly the view built fresh, at a size that does not grow with the line."""
from __future__ import annotations

import json
import secrets

import pytest
from sqlalchemy import insert, update

from consolepatch import ConsoleFollower, apply_console
from coordinator.domain.line import GAP
from coordinator.domain.models import Entry, Event
from coordinator.domain.views import LINE_WINDOW, console_message

from conftest import new_op

LONG = 3000  # people in line


def wire(msg: dict) -> int:
    """Bytes of a message as Socket.IO sends it (compact JSON, UTF-8)."""
    return len(json.dumps(msg, separators=(",", ":"), ensure_ascii=False).encode())


@pytest.fixture
def long_line(queue):
    """A live event with a few participants who joined from phones, then LONG walk-ins written in one insert (joining
    them one by one through the engine would take minutes); returns (queue, coordinator, event id)."""
    body, token = queue.create_event({"title": "Long", "spots": [{"label": "A"}, {"label": "B"}],
                                      "auto_call": False, "max_queue": 10_000})
    slug = body["event"]["slug"]
    coord = queue.authenticate({"event": slug, "coordinator": token})
    queue.perform(coord, "start", {}, new_op())
    queue.phones = []
    for i in range(5):
        secret = secrets.token_urlsafe(32)
        who = queue.authenticate({"event": slug, "participant": secret})
        queue.perform(who, "join", {"pseudonym": f"Phone{i}"}, new_op())
        # The Principal is read-only: the joined phone is authenticated again, as its next connect would be.
        queue.phones.append(queue.authenticate({"event": slug, "participant": secret}))
    with queue.store.write() as s:
        ev = s.get(Event, coord.event_id)
        top = max(e.rank for e in s.query(Entry).filter(Entry.event_id == ev.id))
        now = queue.clock.now()
        s.execute(insert(Entry), [{"event_id": ev.id, "ticket": ev.next_ticket + i, "pseudonym": f"Walk{i}",
                                   "state": "waiting", "rank": top + (i + 1) * GAP, "joined_at": now, "misses": 0}
                                  for i in range(LONG)])
        s.execute(update(Event).where(Event.id == ev.id).values(next_ticket=ev.next_ticket + LONG,
                                                                 version=Event.version + 1))
    return queue, coord, coord.event_id


def test_patches_rebuild_the_view_exactly_and_stay_small(long_line):
    """Calls from the front, moves to the front and back, removals, a skip, a no-show and the end of a slot: after
    each, the patch against the view before gives exactly the view built fresh, and it is small; the whole view,
    what every change sent before, breaks the same bound."""
    q, coord, eid = long_line
    views = [q.console(eid)]
    assert len(views[0]["line"]) == LINE_WINDOW and views[0]["public"]["counts"]["line"] == LONG + 5
    sizes = []

    def change(action: str, **args):
        """One coordinator action, then the console message this process would send for it."""
        out = q.perform(coord, action, args, new_op())
        new = q.console(eid)
        msg = console_message(views[-1], new)
        assert "patch" in msg, action
        assert apply_console(views[-1], msg) == new, action
        sizes.append((action, wire(msg)))
        views.append(new)
        return out

    line = lambda: views[-1]["line"]  # noqa: E731 - the line as the console shows it now
    first = change("call_next").result["entry"]
    change("move", entry=line()[-1]["id"], to=1)
    change("move", entry=line()[0]["id"], to=len(line()))
    change("move", entry=line()[1]["id"], to=LONG)  # out of the listed window: the next person comes into it
    change("remove", entry=line()[LINE_WINDOW // 2]["id"])
    change("add_walk_in", pseudonym="Late", to=3)
    change("skip", entry=first)
    second = change("call_next").result["entry"]
    change("confirm_arrival", entry=second)
    q.clock.advance(400_000)
    q.perform(coord, "call_next", {}, new_op())  # a due slot end and a no-show, made by the next action
    change("remove", entry=line()[0]["id"])
    # The whole view lists LINE_WINDOW people however long the line is (it listed all 3,005 before: about 190 bytes
    # per person, 570 KB), and a change's patch is a small part of it.
    assert wire(views[-1]) < 300 * LINE_WINDOW + 60_000
    assert max(n for _, n in sizes) < 4_000, sizes
    # The same changes, followed as a page follows them: whole view, then patches only.
    page = ConsoleFollower()
    page.take(views[0])
    for old, new in zip(views, views[1:]):
        page.take(console_message(old, new))
    assert page.missed == 0 and page.shown == views[-1]


def test_a_patch_applies_to_a_snapshot_built_later_with_the_same_key(long_line):
    """A snapshot taken after a broadcast (another moment, so other clock fields) has the broadcast's key: the next
    patch applies to it, and gives the next view exactly."""
    q, coord, eid = long_line
    sent = q.console(eid)
    q.clock.advance(7_000)
    snapshot = q.snapshot(coord)
    assert snapshot["server_now"] != sent["server_now"] and snapshot["key"] == sent["key"]
    q.perform(coord, "call_next", {}, new_op())
    new = q.console(eid)
    got = apply_console(snapshot, console_message(sent, new))
    assert got["me"] == snapshot["me"] and got["me"] is not None  # this coordinator's own, kept from the snapshot
    assert got | {"me": None} == new


def test_a_patch_names_its_base_and_a_view_not_held_is_not_patched(long_line):
    """A patch against a view the page does not hold gives nothing (the page asks for a snapshot); the first view a
    process sends, with nothing before it, is whole."""
    q, coord, eid = long_line
    a = q.console(eid)
    assert console_message(None, a) is a
    q.perform(coord, "call_next", {}, new_op())
    b = q.console(eid)
    q.perform(coord, "call_next", {}, new_op())
    c = q.console(eid)
    page = ConsoleFollower()
    page.take(a)
    assert page.take(console_message(b, c)) is None and page.missed == 1
    assert page.take(console_message(a, b)) == b and page.take(console_message(b, c)) == c


def test_row_floor_is_below_the_smallest_row():
    """console_message skips measuring the whole view when the patch is under ROW_FLOOR bytes per row: an entry row
    with every value empty must take more than that, or a whole view could be shorter than the patch sent."""
    from coordinator.domain.views import ENTRY_COLUMNS, PARTICIPANT_FLAGS, ROW_FLOOR, entry_row
    empty = entry_row((None,) * (len(ENTRY_COLUMNS) + len(PARTICIPANT_FLAGS)), None, {})
    assert wire(empty) > ROW_FLOOR


def test_processes_that_take_turns_keep_every_console_on_the_chain(long_line):
    """Three server processes each send patches against the view they sent last (their own cache), in turns and
    with presence changes (no new version) in between: a console that keeps a few views follows every message,
    never needs a snapshot, and shows exactly the newest view."""
    q, coord, eid = long_line
    last: dict = {}  # per process: the view it sent last (Outbox slot "console_last")
    page = ConsoleFollower()
    page.take(q.snapshot(coord))
    phone = q.phones[0]
    steps = [("A", "call_next", {}), ("B", "online", {}), ("C", "move", {"to": 1}), ("A", "offline", {}),
             ("B", "remove", {}), ("B", "add_walk_in", {"pseudonym": "Late", "to": 2}), ("C", "online", {}),
             ("A", "call_next", {}), ("C", "offline", {}), ("B", "move", {"to": 7})]
    for process, what, args in steps:
        if what == "online":
            assert q.connected(phone, "sid-1", process)
        elif what == "offline":
            assert q.disconnected(phone, "sid-1")
        else:
            if what in ("move", "remove"):
                args = {**args, "entry": page.shown["line"][-1 if what == "move" else 10]["id"]}
            q.perform(coord, what, args, new_op())
        view = q.console(eid)
        msg = console_message(last.get(process), view)
        last[process] = view
        assert page.take(msg) == view, (process, what)
    assert page.missed == page.early == 0 and page.shown == q.console(eid) | {"server_now": page.shown["server_now"]}
