"""The snapshot's public part is built once per event version and shared by the clients asking meanwhile (issue 13:
hundreds of phones reconnect at once when a process dies); a participant's own entry is never shared."""
from __future__ import annotations

import os
import uuid

from coordinator.domain.queue import SHARED_MS


def _event(queue, people: int = 3):
    """An event with `people` joined; returns (slug, coordinator principal, participant principals)."""
    ev, token = queue.create_event({"title": "T", "location": "L", "spots": [{"label": "A"}]})
    slug = ev["event"]["slug"]
    coord = queue.authenticate({"event": slug, "coordinator": token})
    who = []
    for i in range(people):
        p = queue.authenticate({"event": slug, "participant": os.urandom(24).hex()})
        assert queue.perform(p, "join", {"pseudonym": f"P{i}"}, uuid.uuid4().hex).v
        who.append(p)
    return slug, coord, who


def test_phones_at_one_version_share_the_public_part_but_not_their_own_entry(queue):
    """Two phones asking at one version get the same public block (built once) and each their own `me`."""
    _, _, (a, b, _) = _event(queue)
    sa, sb = queue.snapshot(a), queue.snapshot(b)
    assert sa["v"] == sb["v"] and sa["public"] is sb["public"]
    assert sa["me"]["id"] != sb["me"]["id"] and sa["me"]["position"] == 1 and sb["me"]["position"] == 2


def test_a_new_version_or_time_builds_the_public_part_again(queue):
    """A change makes a new public part at once; without a change it is rebuilt after SHARED_MS (fresh estimates)."""
    slug, coord, (a, b, c) = _event(queue)
    before = queue.snapshot(a)
    assert queue.perform(c, "leave", {}, uuid.uuid4().hex).v > before["v"]
    after = queue.snapshot(b)
    assert after["v"] > before["v"] and after["public"] is not before["public"]
    assert after["public"]["counts"]["line"] == before["public"]["counts"]["line"] - 1
    queue.clock.advance(SHARED_MS)
    later = queue.snapshot(a)
    assert later["v"] == after["v"] and later["public"] is not after["public"]
    assert later["server_now"] > after["server_now"]


def test_observers_with_pseudonyms_shown_never_share_the_participants_part(queue):
    """With pseudonyms shown on the board, the observers' part (with names) and the participants' are kept apart."""
    slug, coord, (a, _, _) = _event(queue)
    assert queue.perform(coord, "settings", {"show_pseudonyms": True}, uuid.uuid4().hex).v
    board = queue.snapshot(queue.authenticate({"event": slug}))
    phone = queue.snapshot(a)
    assert board["public"] is not phone["public"]
    assert {names for _, names in queue._shared_public} == {True, False}
