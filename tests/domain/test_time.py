"""Time in the engine: no-shows, lead-time calls, slot ends, pauses, restarts and several tickers (fake clock)."""
import threading

from .harness import Picket, fresh_queue

SLOT, GRACE, LEAD = 60_000, 20_000, 15_000


def live(make_picket, **spec) -> Picket:
    """A live one-spot event with short, round times and automatic calls."""
    p = make_picket(spots=("A",), slot_ms=SLOT, grace_ms=GRACE, lead_ms=LEAD, **spec)
    p.start()
    return p


def test_no_show_moves_back_then_out(make_picket):
    """The first no-show puts a person `miss_back` places back; the second takes them out of the line."""
    p = live(make_picket, miss_back=2)
    ids = [p.join(n)[1] for n in "ABCD"]
    a = ids[0]
    assert p.entry(a).state == "called"  # automatic call on a free spot
    p.q.clock.advance(GRACE - 1)
    assert p.q.tick() == [] and p.entry(a).state == "called"
    p.q.clock.advance(1)
    outs = p.q.tick()
    assert len(outs) == 1 and outs[0].changed
    e = p.entry(a)
    assert e.state == "waiting" and e.misses == 1 and e.spot_id is None
    assert p.entry(ids[1]).state == "called"  # B is called in the same change
    assert p.line() == [ids[2], a, ids[3]]  # A is behind C: two places further back than the front (B, C)
    assert [r.detail for r in p.log("no_show")] == ["moved back"]
    assert p.event().noshows == 1


def test_second_no_show_is_missed(make_picket):
    """Alone in line, a no-show is called again at once and the second miss takes them out."""
    p = live(make_picket)
    _, a = p.join("A")
    p.q.clock.advance(GRACE)
    p.q.tick()
    assert p.entry(a).state == "called" and p.entry(a).misses == 1
    assert p.entry(a).deadline_at == p.q.clock.now() + GRACE
    p.q.clock.advance(GRACE)
    p.q.tick()
    assert p.entry(a).state == "missed" and p.entry(a).misses == 2
    assert [r.detail for r in p.log("no_show")] == ["moved back", "out"]
    assert p.event().next_due_at is None


def test_lead_call_and_slot_end(make_picket):
    """The next person is called `lead_ms` before the slot ends; an early arrival starts right at the end."""
    p = live(make_picket)
    a_who, a = p.join("A")
    b_who, b = p.join("B")
    p.act(a_who, "confirm_arrival")
    t0 = p.q.clock.now()
    assert p.entry(a).ends_at == t0 + SLOT and p.entry(b).state == "waiting"
    assert p.event().next_due_at == t0 + SLOT - LEAD
    p.q.clock.advance(SLOT - LEAD - 1)
    assert p.q.tick() == []
    p.q.clock.advance(1)
    p.q.tick()
    e = p.entry(b)
    assert e.state == "called" and e.deadline_at == t0 + SLOT + GRACE  # grace counts from when the spot frees
    p.act(b_who, "confirm_arrival")
    assert p.entry(b).state == "called" and p.entry(b).arrived_at is not None  # the spot is still busy
    p.q.clock.advance(LEAD)
    p.q.tick()
    assert p.entry(a).state == "done" and p.event().held == 1
    e = p.entry(b)
    assert e.state == "on_spot" and e.started_at == t0 + SLOT and e.ends_at == t0 + 2 * SLOT
    assert len(p.log("slot_end")) == 1 and len(p.log("start")) == 2


def test_slot_starts_when_spot_frees_early(make_picket):
    """An arrived person starts as soon as the one before finishes early."""
    p = live(make_picket, auto_call=False)
    a_who, a = p.join("A")
    b_who, b = p.join("B")
    p.c("call_next")
    p.act(a_who, "confirm_arrival")
    p.c("call_next")
    p.act(b_who, "confirm_arrival")
    p.q.clock.advance(5_000)
    p.act(a_who, "finish")
    assert p.entry(b).state == "on_spot" and p.entry(b).started_at == p.q.clock.now()


def test_arrival_after_deadline_race(make_picket):
    """A deadline that passed without a tick is applied before anything else can happen on the next tick."""
    p = live(make_picket, auto_call=False)
    _, a = p.join("A")
    p.c("call_next")
    p.q.clock.advance(GRACE + 1)
    p.q.tick()
    assert p.entry(a).state == "waiting" and p.entry(a).misses == 1


def test_pause_freezes_and_resume_shifts(make_picket):
    """Nothing happens while paused; resume moves every deadline and end by the length of the pause."""
    p = live(make_picket)
    a_who, a = p.join("A")
    _, b = p.join("B")
    p.act(a_who, "confirm_arrival")
    p.q.clock.advance(SLOT - LEAD)
    p.q.tick()
    ends, deadline = p.entry(a).ends_at, p.entry(b).deadline_at
    p.q.clock.advance(1_000)
    p.c("pause")
    assert p.event().next_due_at is None
    p.q.clock.advance(10 * SLOT)
    assert p.q.tick() == []
    assert (p.entry(a).state, p.entry(b).state) == ("on_spot", "called")
    public = p.snapshot(p.observer())["public"]
    assert public["event"]["paused_at"] is not None
    p.c("resume")
    assert p.entry(a).ends_at == ends + 10 * SLOT and p.entry(b).deadline_at == deadline + 10 * SLOT
    assert p.event().next_due_at == ends + 10 * SLOT
    p.q.clock.advance(LEAD - 1_000 - 1)
    p.q.tick()
    assert p.entry(a).state == "on_spot"  # the 1 s used before the pause still counts
    p.q.clock.advance(1)
    p.q.tick()
    assert p.entry(a).state == "done"


def test_restart_applies_overdue_transitions_once(any_db_url):
    """A new Queue over the same database (a restarted process) applies what fell due while it was down, once."""
    q1 = fresh_queue(any_db_url)
    p = Picket(q1, spots=("A",), slot_ms=SLOT, grace_ms=GRACE, lead_ms=LEAD)
    p.start()
    a_who, a = p.join("A")
    _, b = p.join("B")
    p.act(a_who, "confirm_arrival")
    v = p.version()
    q1.clock.advance(SLOT + 1)  # the process is down: nobody ticks
    q2 = fresh_queue(any_db_url, q1.clock)
    outs = q2.tick()
    assert len(outs) == 1 and outs[0].v == v + 1
    p2 = Picket.__new__(Picket)
    p2.__dict__.update(p.__dict__, q=q2)
    assert p2.entry(a).state == "done" and p2.entry(b).state == "called"
    assert q2.tick() == [] and q1.tick() == []
    assert len(p2.log("slot_end")) == 1 and p2.event().held == 1 and p2.event().calls == 2
    assert p2.version() == v + 1
    q1.store.engine.dispose()
    q2.store.engine.dispose()


def test_two_tickers_apply_each_transition_once(any_db_url):
    """Two processes ticking the same due event at the same moment: each transition happens exactly once."""
    q1 = fresh_queue(any_db_url)
    q2 = fresh_queue(any_db_url, q1.clock)
    p = Picket(q1, spots=("A", "B"), slot_ms=SLOT, grace_ms=GRACE, lead_ms=LEAD)
    p.start()
    people = [p.join(n) for n in "ABCDEF"]
    for who, _ in people[:2]:
        p.act(who, "confirm_arrival")
    v = p.version()
    q1.clock.advance(SLOT + GRACE + 1)
    results = {}
    barrier = threading.Barrier(2)

    def run(name, q):
        """Tick three times as one process."""
        barrier.wait()
        results[name] = [q.tick() for _ in range(3)]

    threads = [threading.Thread(target=run, args=(n, q)) for n, q in (("q1", q1), ("q2", q2))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    changes = [o for runs in results.values() for outs in runs for o in outs if o.changed]
    assert len(changes) == 1 and changes[0].v == v + 1 and p.version() == v + 1
    assert len(p.log("slot_end")) == 2 and p.event().held == 2
    states = sorted(e.state for e in p.entries().values())
    assert states == ["called", "called", "done", "done", "waiting", "waiting"]
    q1.store.engine.dispose()
    q2.store.engine.dispose()
