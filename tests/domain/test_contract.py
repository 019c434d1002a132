"""One shape per thing (issue 11): a spot is {id, label} wherever it appears; a replay answers the first answer's
version."""
from coordinator.domain.views import coordinator


def test_a_spot_has_one_shape_everywhere(picket):
    who, entry = picket.join("Tulip")
    called = picket.c("call_next").result
    spot = {"id": picket.spot_ids[0], "label": "A"}
    assert called["spot"] == spot
    me = picket.q.snapshot(who)["me"]
    assert me["spot"] == spot
    with picket.q.store.read() as s:
        snap = coordinator(s, picket.event(), picket.q.clock.now(), None)
    assert [e["spot"] for e in snap["active"]] == [spot]
    assert all("spot_label" not in e for e in snap["active"])
    picket.join("Rose")
    with picket.q.store.read() as s:
        snap = coordinator(s, picket.event(), picket.q.clock.now(), None)
    assert [e["spot"] for e in snap["line"]] == [None]


def test_a_replay_answers_the_first_version(picket):
    who = picket.person()
    first = picket.q.perform(who, "join", {"pseudonym": "Anna"}, "op-first-join")
    picket.join("Rose")
    picket.c("call_next")
    assert picket.version() > first.v
    again = picket.q.perform(who, "join", {"pseudonym": "Anna"}, "op-first-join")
    assert again.replay and again.result == first.result
    assert again.v == first.v and again.prev_v == first.v


def test_an_op_id_answers_only_its_own_action(picket):
    """An op id already used for one action is refused for another (it would answer the wrong result)."""
    import pytest

    from coordinator.domain import DomainError
    who, _ = picket.join("Anna")
    picket.q.perform(who, "step_away", {}, "op-shared-12")
    before = picket.dump()
    with pytest.raises(DomainError) as err:
        picket.q.perform(who, "leave", {}, "op-shared-12")
    assert err.value.code == "conflict"
    assert picket.dump() == before


def test_next_up_and_when_the_line_is_through(make_picket):
    """The public block names the next tickets (people who stepped away are passed over) and when the whole line is
    expected to be through."""
    p = make_picket(auto_call=False, spots=("A",), slot_ms=300_000, lead_ms=60_000)
    obs = p.observer()
    assert p.snapshot(obs)["public"]["next"] == [] and p.snapshot(obs)["public"]["through_at"] is None
    people = [p.join(f"P{i}") for i in range(5)]
    p.act(people[1][0], "step_away")
    pub = p.snapshot(obs)["public"]
    assert pub["next"] == [1, 3, 4]
    now = p.q.clock.now()
    # five people, one spot, five minutes each: the last one is through about 25 minutes from the start
    assert 5 * 300_000 - 60_000 <= pub["through_at"] - now <= 5 * 300_000 + 60_000
    p.start()
    p.c("call_next")
    assert p.snapshot(obs)["public"]["next"] == [3, 4, 5]
    p.c("end")
    assert p.snapshot(obs)["public"]["through_at"] is None


def test_a_message_to_one_person_reaches_only_them(picket):
    anna, a = picket.join("Anna")
    boris, _ = picket.join("Boris")
    out = picket.c("message", entry=a, text="Come to the left side of the door")
    assert out.touched == {anna.participant_id}  # only Anna's phone gets a fresh `me`
    assert picket.snapshot(anna)["me"]["message"]["text"] == "Come to the left side of the door"
    assert picket.snapshot(boris)["me"]["message"] is None
    assert "left side" not in str(picket.snapshot(picket.observer()))
    assert [r.detail for r in picket.log("message")] == [""]  # the log says a message went, not what it said
    walk_in = picket.c("add_walk_in", pseudonym="Walker").result["entry"]
    import pytest

    from coordinator.domain import DomainError
    with pytest.raises(DomainError) as err:
        picket.c("message", entry=walk_in, text="hi")
    assert err.value.code == "conflict"


def test_running_late_is_shown_to_the_coordinators(picket):
    anna, a = picket.join("Anna")
    picket.c("call_next")
    out = picket.act(anna, "running_late", {"minutes": 5})
    assert out.result["minutes"] == 5
    entry = next(e for e in picket.snapshot()["active"] if e["id"] == a)
    assert entry["late"] == {"minutes": 5, "at": picket.q.clock.now()}
    assert picket.snapshot(anna)["me"]["late"]["minutes"] == 5
    assert picket.snapshot(picket.observer())["public"]["spots"][0]["called_ticket"] == 1
    assert "late" not in str(picket.snapshot(picket.observer())["public"])
