"""An action first applies what fell due, even if no ticker has run since (the server owns time)."""
import pytest

from coordinator.domain import DomainError
from tests.conftest import new_op, new_token


def _called_person(queue):
    public, token = queue.create_event({"title": "Due first", "spots": [{"label": "A"}], "grace_ms": 60_000,
                                        "unreachable_ms": 60_000})  # joined without live pages: the full grace
    slug = public["event"]["slug"]
    owner = queue.authenticate({"event": slug, "coordinator": token})
    people = [queue.authenticate({"event": slug, "participant": new_token()}) for _ in range(2)]
    for i, p in enumerate(people):
        queue.perform(p, "join", {"pseudonym": f"P{i}"}, new_op())
    queue.perform(owner, "start", {}, new_op())  # P0 is called at once, with 60 s to check in
    assert queue.snapshot(people[0])["me"]["state"] == "called"
    return owner, people


def test_a_check_in_after_the_deadline_finds_a_no_show_even_before_the_ticker_runs(queue):
    owner, (late, nxt) = _called_person(queue)
    queue.clock.advance(60_000)  # deadline reached; no tick
    with pytest.raises(DomainError) as err:
        queue.perform(late, "confirm_arrival", {}, new_op())
    assert err.value.code == "invalid_state"
    # The refused action changed nothing, so the no-show is still due and the ticker applies it once.
    assert queue.snapshot(late)["me"]["state"] == "called"
    outs = queue.tick()
    assert len(outs) == 1
    me = queue.snapshot(late)["me"]
    assert me["state"] == "waiting" and me["misses"] == 1
    assert queue.snapshot(nxt)["me"]["state"] == "called"
    assert [r["action"] for r in queue.snapshot(owner)["log"]].count("no_show") == 1


def test_an_action_applies_due_transitions_first_and_in_one_version(queue):
    owner, (late, nxt) = _called_person(queue)
    v = queue.snapshot(owner)["v"]
    queue.clock.advance(60_000)
    out = queue.perform(owner, "broadcast", {"text": "Still here"}, new_op())
    assert out.v == v + 1  # the no-show, the next call and the broadcast: one committed change
    assert queue.snapshot(late)["me"]["misses"] == 1
    assert queue.snapshot(nxt)["me"]["state"] == "called"
    log = [(r["actor"], r["action"]) for r in reversed(queue.snapshot(owner)["log"])][-3:]
    assert log == [("system", "no_show"), ("system", "call"), (owner.label, "broadcast")]
    assert queue.tick() == []  # nothing left due: it ran exactly once
