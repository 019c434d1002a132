"""Every action of the engine, without Flask, on SQLite and PostgreSQL."""
import pytest

from coordinator.domain import DomainError

from .harness import new_op, new_token


def code_of(fn, *args, **kwargs) -> str:
    """Run something that must fail with a DomainError; return the error code."""
    with pytest.raises(DomainError) as err:
        fn(*args, **kwargs)
    return err.value.code


# ---------------------------------------------------------------- participants

def test_join_appends_and_bumps_version(picket):
    """Each join adds an entry at the end of the line and bumps the version once."""
    v0 = picket.version()
    _, a = picket.join("Anna")
    _, b = picket.join("Boris")
    assert picket.line() == [a, b]
    assert picket.version() == v0 + 2
    assert picket.entry(b).pseudonym == "Boris" and picket.entry(b).state == "waiting"


def test_double_join_same_token_is_idempotent(picket):
    """Joining again with the same token (new op) returns the held place and changes nothing."""
    who, first = picket.join("Anna")
    picket.join("Boris")
    v = picket.version()
    out = picket.act(who, "join", {"pseudonym": "Other"})
    assert out.result == {"entry": first, "ticket": 1, "state": "waiting", "already": True}
    assert not out.changed and picket.version() == v
    assert len(picket.entries()) == 2


def test_replayed_op_returns_first_result(picket):
    """The same op id from the same token returns the first answer, even after the state moved on."""
    who = picket.person()
    op = new_op()
    first = picket.q.perform(who, "join", {"pseudonym": "Anna"}, op)
    picket.act(who, "leave")
    v = picket.version()
    again = picket.q.perform(picket.person(_token_of(picket, who)), "join", {"pseudonym": "Anna"}, op)
    assert again.replay and again.result == first.result and picket.version() == v
    assert picket.entry(first.result["entry"]).state == "left"


def _token_of(picket, who):
    """Principals keep only the hash of their token; the harness remembers the token for tests."""
    return picket.tokens[who.token_hash]


def test_rejoin_after_done_goes_to_end_with_same_name(picket):
    """After a turn, rejoin makes a new entry at the end with the last pseudonym."""
    a, ea = picket.join("Anna")
    _, eb = picket.join("Boris")
    picket.c("call_next")
    picket.act(a, "confirm_arrival")
    picket.act(a, "finish")
    assert picket.entry(ea).state == "done"
    out = picket.act(a, "rejoin")
    assert picket.line() == [eb, out.result["entry"]]
    assert picket.entry(out.result["entry"]).pseudonym == "Anna"
    again = picket.act(a, "rejoin")
    assert again.result["already"] and not again.changed


def test_leave_frees_a_called_spot(picket):
    """A called person who leaves frees the spot; leaving twice is fine and changes nothing."""
    a, ea = picket.join("Anna")
    picket.c("call_next")
    picket.act(a, "leave")
    assert picket.entry(ea).state == "left" and picket.entry(ea).spot_id is None or picket.entry(ea).state == "left"
    assert picket.snapshot()["public"]["spots"][0]["status"] == "free"
    v = picket.version()
    assert not picket.act(a, "leave").changed and picket.version() == v


def test_step_away_and_come_back_keep_place(picket):
    """An away person keeps the place but is passed over by call_next."""
    a, ea = picket.join("Anna")
    _, eb = picket.join("Boris")
    picket.act(a, "step_away")
    assert picket.entry(ea).state == "away" and picket.line() == [ea, eb]
    assert picket.c("call_next").result["entry"] == eb
    picket.act(a, "come_back")
    assert picket.entry(ea).state == "waiting" and picket.line() == [ea]
    v = picket.version()
    assert not picket.act(a, "come_back").changed and picket.version() == v


def test_step_away_when_called_is_invalid(picket):
    """Only people in line can step away."""
    a, _ = picket.join("Anna")
    picket.c("call_next")
    assert code_of(picket.act, a, "step_away") == "invalid_state"


def test_confirm_arrival_starts_slot_on_free_spot(picket):
    """Arriving at a free spot starts the slot at once; finishing hands over and counts a held picket."""
    a, ea = picket.join("Anna")
    picket.c("call_next")
    picket.act(a, "confirm_arrival")
    e = picket.entry(ea)
    assert e.state == "on_spot" and e.started_at == picket.q.clock.now()
    assert e.ends_at == e.started_at + picket.event().slot_ms
    picket.q.clock.advance(1000)
    picket.act(a, "finish")
    assert picket.entry(ea).state == "done" and picket.event().held == 1


def test_finish_needs_on_spot(picket):
    """Finishing while waiting is refused."""
    a, _ = picket.join("Anna")
    assert code_of(picket.act, a, "finish") == "invalid_state"


def test_delete_me_removes_rows_and_frees_spot(picket):
    """delete_me deletes the entries and the participant, frees a spot and scrubs tickets from the log."""
    a, ea = picket.join("Zebulon-unique")
    picket.c("call_next")
    picket.act(a, "confirm_arrival")
    picket.act(a, "delete_me")
    assert ea not in picket.entries()
    snap = picket.snapshot()
    assert snap["public"]["spots"][0]["status"] == "free"
    assert "Zebulon-unique" not in repr(snap)
    assert all(r.ticket is None for r in picket.log())
    assert picket.snapshot(a)["me"] is None


def test_delete_me_leaves_no_row_with_the_token_hash(picket):
    """Not even the row of the page's open socket keeps the token's hash after delete_me."""
    from sqlalchemy import select

    from coordinator.domain.models import Connection, Participant
    a, _ = picket.join("Anna")
    picket.q.connected(a, "sid-1", "proc")
    picket.act(a, "delete_me")
    with picket.q.store.read() as s:
        assert list(s.scalars(select(Participant).where(Participant.token_hash == a.token_hash))) == []
        assert list(s.scalars(select(Connection).where(Connection.token_hash == a.token_hash))) == []


def test_delete_me_forgets_stored_answers(picket):
    """After delete_me no stored operation answer ties the token to a ticket (only the delete_me answer stays)."""
    from sqlalchemy import select

    from coordinator.domain.models import Operation
    from coordinator.domain.queue import stored_answer
    a, _ = picket.join("Anna")
    picket.act(a, "step_away")
    actor = a.actor_key
    picket.act(a, "delete_me")
    with picket.q.store.read() as s:
        answers = [stored_answer(o.result, 0)[0]
                   for o in s.scalars(select(Operation).where(Operation.actor == actor))]
    assert answers == [{"deleted": True}]


def test_set_push_stores_and_forgets(picket):
    """A push subscription is stored, shown as a flag, and forgotten with null."""
    a, _ = picket.join("Anna")
    sub = {"endpoint": "https://push.example/abc", "keys": {"p256dh": "x" * 20, "auth": "y" * 10}}
    assert picket.act(a, "set_push", {"subscription": sub}).result == {"push": True}
    assert picket.snapshot(a)["me"]["push"] is True
    picket.act(a, "set_push", {"subscription": None})
    assert picket.snapshot(a)["me"]["push"] is False


@pytest.mark.parametrize("sub", [
    {"endpoint": "ftp://x", "keys": {"p256dh": "x" * 20, "auth": "y" * 10}},
    {"endpoint": "https://x", "keys": {"p256dh": "x", "auth": "y" * 10}},
    {"endpoint": "https://x", "keys": {"p256dh": "x" * 20, "auth": "y" * 10}, "extra": 1},
    "https://x",
])
def test_set_push_bad_subscription(picket, sub):
    """Malformed subscriptions are refused and change nothing."""
    a, _ = picket.join("Anna")
    before = picket.dump()
    assert code_of(picket.act, a, "set_push", {"subscription": sub}) == "bad_request"
    assert picket.dump() == before


def test_set_push_before_join(picket):
    """A token that never joined cannot store a subscription."""
    assert code_of(picket.act, picket.person(), "set_push", {"subscription": None}) == "not_in_line"


# ---------------------------------------------------------------- the event's life

def test_open_start_pause_resume_end(make_picket):
    """draft -> open -> live -> paused -> live -> ended; repeated transitions are no-ops."""
    p = make_picket(state="draft")
    assert p.event().state == "draft"
    assert code_of(p.c, "pause") == "invalid_state"
    assert p.c("open").result == {"state": "open"}
    assert not p.c("open").changed
    assert p.c("start").result == {"state": "live"}
    assert not p.c("start").changed
    assert code_of(p.c, "open") == "invalid_state"
    assert p.c("pause").result == {"state": "paused"}
    assert not p.c("pause").changed
    assert p.c("resume").result == {"state": "live"}
    out = p.c("end")
    assert out.result["state"] == "ended" and out.result["purge_at"] == p.event().ended_at + p.event().purge_after_ms


def test_end_finishes_everyone(picket):
    """Ending: the person on the spot is done, everyone else has left."""
    a, ea = picket.join("Anna")
    _, eb = picket.join("Boris")
    _, ec = picket.join("Clara")
    picket.c("call_next")
    picket.act(a, "confirm_arrival")
    picket.c("call_next")
    picket.c("end")
    states = {i: e.state for i, e in picket.entries().items()}
    assert states == {ea: "done", eb: "left", ec: "left"}
    assert picket.line() == []


def test_end_with_a_long_line(make_picket):
    """Ending an event with many people finishes every one of them (rows change while they are being read)."""
    p = make_picket()
    p.start()
    for i in range(40):
        p.join(f"P{i}")
    p.c("add_walk_in", pseudonym="W", to=3)
    p.c("end")
    states = [e.state for e in p.entries().values()]
    assert len(states) == 41 and states.count("left") == 41 and p.line() == []
    assert len(p.log("event_end")) == 41


def test_ended_event_refuses_actions(picket):
    """After the end only leave, delete_me, set_push and settings work."""
    a, _ = picket.join("Anna")
    picket.c("end")
    before = picket.dump()
    assert code_of(picket.act, picket.person(), "join", {"pseudonym": "Late"}) == "invalid_state"
    assert code_of(picket.c, "call_next") == "invalid_state"
    assert code_of(picket.c, "start") == "invalid_state"
    assert code_of(picket.c, "add_walk_in", pseudonym="W") == "invalid_state"
    assert picket.dump() == before
    out = picket.c("settings", purge_after_ms=60_000)
    assert picket.event().purge_at == picket.event().ended_at + 60_000 and out.changed
    picket.act(a, "leave")


# ---------------------------------------------------------------- calls

def test_call_next_fills_free_spots_then_refuses(picket):
    """Two spots: two calls succeed (to different spots), the third is no_free_spot and changes nothing."""
    for name in ("Anna", "Boris", "Clara"):
        picket.join(name)
    r1, r2 = picket.c("call_next").result, picket.c("call_next").result
    assert {r1["spot"]["id"], r2["spot"]["id"]} == set(picket.spot_ids)
    before = picket.dump()
    assert code_of(picket.c, "call_next") == "no_free_spot"
    assert picket.dump() == before


def test_call_next_with_spot_and_entry(picket):
    """A chosen person to a chosen spot; the same stale call again is refused."""
    _, ea = picket.join("Anna")
    _, eb = picket.join("Boris")
    spot_b = picket.spot_ids[1]
    out = picket.c("call_next", spot=spot_b, entry=eb)
    assert out.result == {"entry": eb, "ticket": 2, "state": "called", "spot": {"id": spot_b, "label": "B"},
                          "undoable": True}
    before = picket.dump()
    assert code_of(picket.c, "call_next", spot=spot_b, entry=ea) == "no_free_spot"
    assert code_of(picket.c, "call_next", entry=eb) == "conflict"  # already called
    assert code_of(picket.c, "call_next", spot=999999) == "not_found"
    assert code_of(picket.c, "call_next", entry=999999) == "not_found"
    assert picket.dump() == before


def test_call_next_nobody_waiting(picket):
    """Nothing to call: not_in_line; away people are passed over."""
    a, _ = picket.join("Anna")
    picket.act(a, "step_away")
    assert code_of(picket.c, "call_next") == "not_in_line"


def test_call_next_needs_live(make_picket):
    """An open (not started) event calls nobody."""
    p = make_picket(auto_call=False)
    p.join("Anna")
    assert code_of(p.c, "call_next") == "invalid_state"


def test_lead_call_prefers_free_spot_then_earliest_ending(make_picket):
    """Without a spot, call_next picks a free spot first, then the busy spot that frees first."""
    p = make_picket(auto_call=False)
    p.start()
    a, _ = p.join("Anna")
    b, _ = p.join("Boris")
    for _ in range(3):
        p.join("X")
    p.c("call_next", spot=p.spot_ids[1])
    p.act(a, "confirm_arrival")
    p.q.clock.advance(10_000)
    p.c("call_next", spot=p.spot_ids[0])
    p.act(b, "confirm_arrival")  # B's slot ends 10 s after A's
    first = p.c("call_next").result
    assert first["spot"]["id"] == p.spot_ids[1]
    deadline = p.entry(first["entry"]).deadline_at
    assert deadline == p.snapshot()["public"]["spots"][1]["ends_at"] + p.event().grace_ms


def test_skip_waiting_and_called(picket):
    """Skip moves a waiting person one place back, and a called person back to 2nd place."""
    _, ea = picket.join("Anna")
    _, eb = picket.join("Boris")
    _, ec = picket.join("Clara")
    picket.c("skip", entry=ea)
    assert picket.line() == [eb, ea, ec]
    picket.c("call_next", entry=eb)
    picket.c("skip", entry=eb)
    assert picket.line() == [ea, eb, ec]
    assert picket.entry(eb).spot_id is None and picket.entry(eb).state == "waiting"
    picket.c("skip", entry=ec)  # the last stays last
    assert picket.line() == [ea, eb, ec]


def test_move_to_positions(picket):
    """Move puts a person at a 1-based position (beyond the end: at the end)."""
    ids = [picket.join(n)[1] for n in "ABCDE"]
    picket.c("move", entry=ids[4], to=1)
    assert picket.line() == [ids[4]] + ids[:4]
    picket.c("move", entry=ids[4], to=3)
    assert picket.line() == [ids[0], ids[1], ids[4], ids[2], ids[3]]
    picket.c("move", entry=ids[0], to=99)
    assert picket.line() == [ids[1], ids[4], ids[2], ids[3], ids[0]]


def test_many_moves_renumber_without_losing_order(picket):
    """Repeated moves into the same gap exhaust it and renumber; the order is still exact."""
    ids = [picket.join(n)[1] for n in "ABC"]
    order = list(ids)
    for i in range(45):  # halving a 2^20 gap runs out after about 20 moves
        mover = order[2] if i % 2 == 0 else order[1]
        picket.c("move", entry=mover, to=2)
        order.remove(mover)
        order.insert(1, mover)
        assert picket.line() == order


def test_remove_from_line_and_spot(picket):
    """Remove works in line and on a spot (freeing it)."""
    a, ea = picket.join("Anna")
    _, eb = picket.join("Boris")
    picket.c("call_next")
    picket.act(a, "confirm_arrival")
    picket.c("remove", entry=ea)
    picket.c("remove", entry=eb)
    assert picket.entry(ea).state == picket.entry(eb).state == "removed"
    assert code_of(picket.c, "remove", entry=ea) == "conflict"
    assert all(s["status"] == "free" for s in picket.snapshot()["public"]["spots"])


def test_add_walk_in_at_position(picket):
    """A walk-in has no participant and can be placed anywhere."""
    _, ea = picket.join("Anna")
    w = picket.c("add_walk_in", pseudonym="Walker").result["entry"]
    w2 = picket.c("add_walk_in", pseudonym="Front", to=1).result["entry"]
    assert picket.line() == [w2, ea, w]
    row = next(r for r in picket.snapshot()["line"] if r["id"] == w)
    assert row["walk_in"] is True and row["pseudonym"] == "Walker"


def test_queue_full(make_picket):
    """max_queue people fit; the next join is queue_full and changes nothing (and can retry later)."""
    p = make_picket(max_queue=2)
    p.join("A")
    p.join("B")
    late = p.person()
    before = p.dump()
    assert code_of(p.act, late, "join", {"pseudonym": "C"}) == "queue_full"
    assert code_of(p.c, "add_walk_in", pseudonym="W") == "queue_full"
    assert p.dump() == before
    p.c("settings", max_queue=3)
    out = p.act(late, "join", {"pseudonym": "C"})  # the failed join left nothing behind
    assert p.entry(out.result["entry"]).state == "waiting" and len(p.line()) == 3


def test_recall_missed_person_to_front(picket):
    """Recall brings a removed/left person back (front by default); not if they are already in line again."""
    a, ea = picket.join("Anna")
    _, eb = picket.join("Boris")
    picket.c("remove", entry=ea)
    picket.c("recall", entry=ea)
    assert picket.line() == [ea, eb]
    assert code_of(picket.c, "recall", entry=eb) == "conflict"
    picket.act(a, "leave")
    picket.act(a, "join", {"pseudonym": "Anna"})
    assert code_of(picket.c, "recall", entry=ea) == "conflict"


def test_recalled_entry_is_the_participants_own(picket):
    """After a recall of an older entry, the participant acts on (and sees) that live entry, not the newer one."""
    a, ea = picket.join("Anna")
    _, eb = picket.join("Boris")
    picket.c("remove", entry=ea)
    new = picket.act(a, "join", {"pseudonym": "Anna"}).result["entry"]
    picket.act(a, "leave")
    picket.c("recall", entry=ea, to=2)
    assert picket.line() == [eb, ea]
    me = picket.snapshot(a)["me"]
    assert me["id"] == ea and me["state"] == "waiting" and me["position"] == 2
    picket.act(a, "step_away")
    assert picket.entry(ea).state == "away" and picket.entry(new).state == "left"
    picket.act(a, "leave")
    assert picket.entry(ea).state == "left"


def test_coordinator_confirm_and_finish(picket):
    """A coordinator confirms a walk-in's arrival and ends the slot."""
    w = picket.c("add_walk_in", pseudonym="Walker").result["entry"]
    picket.c("call_next")
    picket.c("confirm_arrival", entry=w)
    assert picket.entry(w).state == "on_spot"
    picket.c("finish", entry=w)
    assert picket.entry(w).state == "done"
    assert not picket.c("finish", entry=w).changed


def test_detain_frees_spot_at_once_and_calls_next(make_picket):
    """Detaining the person on the spot frees it; with auto-call the next person is called in the same change."""
    p = make_picket(spots=("A",))
    p.start()
    a, ea = p.join("Anna")
    _, eb = p.join("Boris")
    p.act(a, "confirm_arrival")
    out = p.c("detain", entry=ea, note="OVD Tverskoy")
    assert out.result["paused"] is False
    assert p.entry(ea).state == "detained" and p.entry(ea).note == "OVD Tverskoy"
    assert p.entry(eb).state == "called" and p.entry(eb).deadline_at == p.q.clock.now() + p.event().grace_ms
    assert p.event().detained == 1 and p.snapshot()["public"]["counts"]["detained"] == 1


def test_detain_with_pause(make_picket):
    """detain {pause: true} frees the spot and pauses; nobody is called."""
    p = make_picket(spots=("A",))
    p.start()
    a, ea = p.join("Anna")
    _, eb = p.join("Boris")
    p.act(a, "confirm_arrival")
    out = p.c("detain", entry=ea, pause=True)
    assert out.result["paused"] is True and p.event().state == "paused"
    assert p.entry(eb).state == "waiting"
    assert p.snapshot()["public"]["spots"][0]["status"] == "free"


def test_detain_after_handover(picket):
    """Someone detained right after finishing can still be recorded."""
    a, ea = picket.join("Anna")
    picket.c("call_next")
    picket.act(a, "confirm_arrival")
    picket.act(a, "finish")
    picket.c("detain", entry=ea)
    assert picket.entry(ea).state == "detained"
    assert code_of(picket.c, "detain", entry=ea) == "conflict"


def test_broadcast(picket):
    """An announcement is stored and shown newest first."""
    out = picket.c("broadcast", text="We move to the other side")
    assert out.announcement["text"] == "We move to the other side"
    picket.c("broadcast", text="Second")
    assert [a["text"] for a in picket.snapshot(picket.observer())["announcements"]] == [
        "Second", "We move to the other side"]


def test_settings_change_and_validate(picket):
    """Settings change live; out-of-range values are refused and change nothing."""
    out = picket.c("settings", slot_ms=120_000, show_pseudonyms=True, title="New")
    assert sorted(out.result["changed"]) == ["show_pseudonyms", "slot_ms", "title"]
    ev = picket.event()
    assert (ev.slot_ms, ev.show_pseudonyms, ev.title) == (120_000, True, "New")
    before = picket.dump()
    for bad in ({"slot_ms": 10}, {"slot_ms": "300000"}, {"auto_call": 1}, {"title": ""}, {"bogus": 1},
                {"max_queue": True}):
        assert code_of(picket.c, "settings", **bad) == "bad_request"
    assert picket.dump() == before


def test_spots_rename_add_retire(picket):
    """Spots can be renamed and added; a free spot retires, a busy one cannot."""
    a_id, b_id = picket.spot_ids
    picket.c("spots", spots=[{"id": a_id, "label": "North"}, {"id": b_id, "label": "B"}, {"label": "C"}])
    labels = [s["label"] for s in picket.snapshot()["public"]["spots"]]
    assert labels == ["North", "B", "C"]
    picket.join("Anna")
    picket.c("call_next", spot=b_id)
    before = picket.dump()
    assert code_of(picket.c, "spots", spots=[{"id": a_id, "label": "North"}]) == "conflict"
    assert picket.dump() == before
    picket.c("spots", spots=[{"id": b_id, "label": "B"}])
    assert [s["id"] for s in picket.snapshot()["public"]["spots"]] == [b_id]
    assert code_of(picket.c, "spots", spots=[{"id": 999999, "label": "X"}]) == "not_found"
    assert code_of(picket.c, "spots", spots=[]) == "bad_request"


def test_invite_and_revoke(picket):
    """The owner invites a co-coordinator, who can act but not invite; after revocation they cannot act."""
    out = picket.c("invite", label="Second")
    co = picket.q.authenticate({"event": picket.slug, "coordinator": out.result["token"]})
    assert co.role == "coordinator" and not co.owner
    picket.act(co, "broadcast", {"text": "hello"})
    assert code_of(picket.act, co, "invite", {"label": "Third"}) == "forbidden"
    assert code_of(picket.act, co, "revoke", {"coordinator": picket.coord.coordinator_id}) == "forbidden"
    assert code_of(picket.c, "revoke", coordinator=picket.coord.coordinator_id) == "forbidden"  # owner stays
    op = new_op()
    picket.q.perform(co, "broadcast", {"text": "before revocation"}, op)
    picket.c("revoke", coordinator=out.result["coordinator"])
    assert code_of(picket.act, co, "broadcast", {"text": "x"}) == "unauthorized"
    assert code_of(picket.q.perform, co, "broadcast", {"text": "before revocation"}, op) == "unauthorized"
    assert code_of(picket.q.authenticate, {"event": picket.slug, "coordinator": out.result["token"]}) == \
        "unauthorized"
    assert code_of(picket.q.snapshot, co) == "unauthorized"


def test_panic_deletes_everything(picket):
    """panic deletes the event and every row of it at once."""
    picket.join("Anna")
    out = picket.c("panic")
    assert out.purged
    assert picket.event() is None and picket.entries() == {} and picket.log() == []
    assert code_of(picket.q.authenticate, {"event": picket.slug}) == "not_found"


def test_panic_is_coordinator_only(picket):
    """Participants and observers cannot panic."""
    a, _ = picket.join("Anna")
    assert code_of(picket.act, a, "panic") == "forbidden"
    assert code_of(picket.act, picket.observer(), "panic") == "forbidden"
    assert picket.event() is not None


# ---------------------------------------------------------------- errors change nothing

@pytest.mark.parametrize("role, name, args, code", [
    ("participant", "call_next", {}, "forbidden"),
    ("participant", "end", {}, "forbidden"),
    ("participant", "remove", {"entry": 1}, "forbidden"),
    ("observer", "join", {"pseudonym": "x"}, "forbidden"),
    ("observer", "broadcast", {"text": "x"}, "forbidden"),
    ("coordinator", "join", {"pseudonym": "x"}, "forbidden"),
    ("coordinator", "step_away", {}, "forbidden"),
    ("coordinator", "fly", {}, "unknown_action"),
    ("participant", "fly", {}, "unknown_action"),
    ("participant", "join", {"pseudonym": "x", "admin": True}, "bad_request"),
    ("participant", "join", {"pseudonym": ""}, "bad_request"),
    ("participant", "join", {"pseudonym": "a\u202eb"}, "bad_request"),
    ("participant", "join", {"pseudonym": "x" * 33}, "bad_request"),
    ("participant", "join", {"pseudonym": 5}, "bad_request"),
    ("participant", "join", ["pseudonym"], "bad_request"),
    ("coordinator", "move", {"entry": "1", "to": 1}, "bad_request"),
    ("coordinator", "move", {"entry": 1, "to": 0}, "bad_request"),
    ("coordinator", "move", {"entry": True, "to": 1}, "bad_request"),
    ("coordinator", "skip", {"entry": 999999}, "not_found"),
    ("coordinator", "detain", {"entry": 1, "note": "x" * 201}, "bad_request"),
    ("coordinator", "detain", {"entry": 1, "pause": "yes"}, "bad_request"),
    ("coordinator", "broadcast", {"text": "x" * 281}, "bad_request"),
    ("coordinator", "call_next", {"spot": -1}, "bad_request"),
    ("coordinator", "revoke", {"coordinator": 999999}, "not_found"),
    ("participant", "leave", {}, "not_in_line"),
    ("participant", "confirm_arrival", {}, "not_in_line"),
])
def test_errors_change_nothing(picket, role, name, args, code):
    """Wrong role, unknown action, bad and unknown args: a clear code, and no row or version changes."""
    picket.join("Anna")
    who = {"participant": picket.person(), "observer": picket.observer(), "coordinator": picket.coord}[role]
    before = picket.dump()
    assert code_of(picket.q.perform, who, name, args, new_op()) == code
    assert picket.dump() == before


@pytest.mark.parametrize("op", [None, "", "short", "x" * 65, "bad op id!", 12345678, "../../etc"])
def test_bad_op_id(picket, op):
    """An action without a well-formed op id is refused before anything happens."""
    who = picket.person()
    before = picket.dump()
    assert code_of(picket.q.perform, who, "join", {"pseudonym": "Anna"}, op) == "bad_request"
    assert picket.dump() == before


def test_bad_action_name_type(picket):
    """A non-text action name is a bad request."""
    assert code_of(picket.q.perform, picket.coord, ["start"], {}, new_op()) == "bad_request"


def test_failed_join_leaves_principal_usable(make_picket):
    """A join that failed (line full) must not leave the caller pointing at a participant that was rolled back."""
    p = make_picket(max_queue=1)
    p.join("A")
    who = p.person()
    assert code_of(p.act, who, "join", {"pseudonym": "B"}) == "queue_full"
    assert who.participant_id is None
    p.c("settings", max_queue=5)
    out = p.act(who, "join", {"pseudonym": "B"})
    assert who.participant_id is None  # read-only: the new id comes back in the Outcome
    assert p.entry(out.result["entry"]).participant_id == out.participant_id


def test_stale_principal_after_delete_me_can_join_again(picket):
    """Two tabs of one phone: one deletes the data, the other (stale) joins again without a conflict."""
    tab1, _ = picket.join("Anna")
    tab2 = picket.person(_token_of(picket, tab1))
    assert tab2.participant_id == tab1.participant_id
    picket.act(tab1, "delete_me")
    out = picket.act(tab2, "join", {"pseudonym": "Anna"})
    assert picket.entry(out.result["entry"]).state == "waiting"


@pytest.mark.parametrize("auth, code", [
    ({}, "bad_request"),
    ({"event": "nope"}, "not_found"),
    ("event", "bad_request"),
    ({"event": "x" * 17}, "bad_request"),
    ({"event": "SLUG", "participant": "short"}, "unauthorized"),
    ({"event": "SLUG", "coordinator": "A" * 43}, "unauthorized"),
    ({"event": "SLUG", "coordinator": "A" * 43, "participant": "B" * 43}, "bad_request"),
    ({"event": "SLUG", "extra": 1}, "bad_request"),
])
def test_authenticate_refuses(picket, auth, code):
    """Malformed or wrong credentials are refused with a clear code."""
    if isinstance(auth, dict) and auth.get("event") == "SLUG":
        auth = {**auth, "event": picket.slug}
    assert code_of(picket.q.authenticate, auth) == code


def test_token_of_other_event_is_refused(make_picket):
    """A participant token that joined one event cannot be used in another."""
    p1, p2 = make_picket(), make_picket()
    token = new_token()
    p1.join("Anna", token=token)
    assert code_of(p2.q.authenticate, {"event": p2.slug, "participant": token}) == "unauthorized"


@pytest.mark.parametrize("spec", [
    {"title": ""},
    {"title": "T", "owner_token": "x"},
    {"title": "T", "state": "live"},
    {"title": "T", "lat": 91},
    {"title": "T", "lon": "east"},
    {"title": "T", "spots": []},
    {"title": "T", "spots": [{"label": str(i)} for i in range(21)]},
    {"title": "T", "spots": [{"label": "A", "color": "red"}]},
    {"title": "T", "slot_ms": 1},
    "title",
])
def test_create_event_refuses_bad_specs(any_queue, spec):
    """A malformed event spec is a bad request and creates nothing."""
    from sqlalchemy import func, select

    from coordinator.domain.models import Event
    with any_queue.store.read() as s:
        before = s.scalar(select(func.count(Event.id)))
    assert code_of(any_queue.create_event, spec) == "bad_request"
    with any_queue.store.read() as s:
        assert s.scalar(select(func.count(Event.id))) == before
