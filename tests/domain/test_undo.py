"""Undo of a mistaken call, skip or removal (issue 11, D10): the person is put back exactly as they were, only if
nothing changed since (guarded by the event's version), idempotently."""
import pytest

from coordinator.domain import DomainError

from .harness import new_op


def undo(p, op, undo_op=None):
    """Undo the owner's action `op`."""
    return p.act(p.coord, "undo", {"op": op}, undo_op)


def code(fn, *a) -> str:
    with pytest.raises(DomainError) as err:
        fn(*a)
    return err.value.code


@pytest.mark.parametrize("action", ["call_next", "skip", "remove"])
def test_undo_puts_a_waiting_person_back(picket, action):
    people = [picket.join(f"P{i}")[1] for i in range(3)]
    before = picket.dump()
    line = picket.line()
    op = new_op()
    out = picket.act(picket.coord, action, {} if action == "call_next" else {"entry": people[0]}, op)
    assert out.result["undoable"] is True
    assert picket.line() != line
    u = undo(picket, op)
    assert u.result["undone"] == action and picket.line() == line
    entries = picket.entries()
    assert entries[people[0]].state == "waiting" and entries[people[0]].spot_id is None
    assert picket.event().calls == 0
    assert picket.log("undo")[-1].detail == action
    assert len(before) and picket.line() == line


def test_undo_a_removal_from_the_spot_and_of_a_called_person(picket):
    who, first = picket.join("Anna")
    _, second = picket.join("Boris")
    picket.c("call_next")
    picket.act(who, "confirm_arrival")
    picket.c("call_next")  # Boris to spot B
    on_spot = picket.entry(first)
    op = new_op()
    picket.act(picket.coord, "remove", {"entry": first}, op)
    undo(picket, op)
    again = picket.entry(first)
    assert (again.state, again.spot_id, again.started_at, again.ends_at, again.finished_at) == \
        (on_spot.state, on_spot.spot_id, on_spot.started_at, on_spot.ends_at, None)
    called = picket.entry(second)
    op = new_op()
    picket.act(picket.coord, "skip", {"entry": second}, op)
    assert picket.entry(second).state == "waiting"
    undo(picket, op)
    back = picket.entry(second)
    assert (back.state, back.spot_id, back.deadline_at) == (called.state, called.spot_id, called.deadline_at)


def test_undo_refuses_after_another_change_and_twice(picket):
    people = [picket.join(f"P{i}")[1] for i in range(3)]
    op = new_op()
    picket.act(picket.coord, "remove", {"entry": people[1]}, op)
    picket.join("Later")
    dump = picket.dump()
    assert code(undo, picket, op) == "conflict"
    assert picket.dump() == dump
    op = new_op()
    picket.act(picket.coord, "remove", {"entry": people[2]}, op)
    undo_op = new_op()
    first = undo(picket, op, undo_op)
    assert undo(picket, op, undo_op).replay  # the same undo again: its stored answer, nothing changes
    assert undo(picket, op, undo_op).result == first.result
    assert code(undo, picket, op) == "conflict"  # a new undo of the same action: already changed since
    assert code(undo, picket, "no-such-op-123") == "not_found"


def test_no_undo_when_someone_else_changed_with_it(make_picket):
    """Removing the person on the spot calls the next one automatically: that cannot be undone by one click."""
    p = make_picket(auto_call=True, spots=("A",))
    p.start()
    who, first = p.join("Anna")
    p.join("Boris")
    p.act(who, "confirm_arrival")
    op = new_op()
    out = p.act(p.coord, "remove", {"entry": first}, op)
    assert "undoable" not in out.result
    assert code(undo, p, op) == "conflict"


def test_only_your_own_action(picket):
    """A co-coordinator cannot undo the owner's action (op ids are per actor)."""
    _, anna = picket.join("Anna")
    token = picket.c("invite", label="Bob").result["token"]
    bob = picket.q.authenticate({"event": picket.slug, "coordinator": token})
    op = new_op()
    picket.act(picket.coord, "call_next", {}, op)
    assert code(picket.act, bob, "undo", {"op": op}) == "not_found"
    assert picket.entry(anna).state == "called"
