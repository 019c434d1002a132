"""A Hypothesis state machine drives the engine against a simple in-memory model of the line.

Participants join (with retried op ids and double joins), leave, step away and come back, arrive and finish; the
coordinator calls, skips, moves, removes, adds walk-ins, recalls, detains, pauses and resumes, often with stale
arguments (entries in the wrong state); the fake clock advances and ticks; the engine restarts (a new Queue and a
new database engine over the same database). After every step the database must match the model exactly.
"""
from __future__ import annotations

import copy

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule, \
    run_state_machine_as_test
from sqlalchemy import select

from coordinator.domain import DomainError, FakeClock, Queue, Store
from coordinator.domain.line import line_ids
from coordinator.domain.models import Entry, Event

from . import naive_views as naive
from .harness import Picket, apply_moves, fresh_queue, new_op, new_token

SLOT, GRACE, LEAD, MISS_BACK = 60_000, 15_000, 10_000, 2
PEOPLE = 5
LINE, LIVE = ("waiting", "away"), ("waiting", "away", "called", "on_spot")


@dataclass(eq=False)
class M:
    """The model of one entry."""

    id: int | None
    person: int | None  # index of the phone, None for a walk-in
    state: str = "waiting"
    misses: int = 0
    spot: int | None = None
    deadline: int | None = None
    arrived: bool = False
    ends: int | None = None


class Expect(Exception):
    """The model says this action must fail with a code."""

    def __init__(self, code: str):
        """Remember the expected code."""
        super().__init__(code)
        self.code = code


# (prefer an entry that is still in play?, index): half the time a live entry, else any entry (often a stale one)
entry_pick = st.tuples(st.booleans(), st.integers(0, 40))
position = st.one_of(st.none(), st.integers(1, 8))


class LineMachine(RuleBasedStateMachine):
    """Engine vs model; `url` is set per database by the test functions below."""

    engine = None  # one engine per database for all examples (its compiled-statement cache stays warm)

    # ------------------------------------------------------------ setup

    @initialize(auto_call=st.booleans(), joins=st.integers(0, PEOPLE), walk_ins=st.integers(0, 2))
    def setup(self, auto_call, joins, walk_ins):
        """A live two-spot event with short times."""
        self.q = Queue(Store(self.engine), FakeClock())
        self.clock = self.q.clock
        self.auto = auto_call
        self.p = Picket(self.q, spots=("A", "B"), slot_ms=SLOT, grace_ms=GRACE, lead_ms=LEAD, miss_back=MISS_BACK,
                        auto_call=auto_call, max_queue=1000)
        self.p.c("start")
        self.spots = list(self.p.spot_ids)
        self.on = {s: None for s in self.spots}
        self.called = {s: None for s in self.spots}
        self.line: list[M] = []
        self.all: list[M] = []
        self.paused_at: int | None = None
        self.tokens = [new_token() for _ in range(PEOPLE)]
        self.who = [None] * PEOPLE
        self.joined = [False] * PEOPLE
        self.join_ops: dict[int, tuple[str, dict]] = {}  # person -> (op, first result) of a join
        self.last = None  # (principal, action, args, op, result) of the last successful action
        self.version = self.p.version()
        self.cfg = {"slot_ms": SLOT, "grace_ms": GRACE, "lead_ms": LEAD, "miss_back": MISS_BACK}
        for i in range(joins):
            self.join(i, False)
        for _ in range(walk_ins):
            self.walk_in(None)

    def teardown(self):
        """Delete the example's event so later examples tick only their own."""
        if getattr(self, "p", None) is not None:
            try:
                self.p.c("panic")
            finally:
                self.p = None

    # ------------------------------------------------------------ the model

    def now(self) -> int:
        """The fake clock's time."""
        return self.clock.now()

    def person(self, i: int):
        """The principal of phone i (authenticated afresh, as after a reconnect)."""
        if self.who[i] is None:
            self.who[i] = self.p.person(self.tokens[i])
        return self.who[i]

    def own(self, i: int) -> M | None:
        """Phone i's live entry, else its latest."""
        mine = [m for m in self.all if m.person == i]
        live = [m for m in mine if m.state in LIVE]
        return live[0] if live else (max(mine, key=lambda m: m.id) if mine else None)

    def pick(self, choice: tuple) -> M:
        """An entry of the event: a live one when asked and there is one, else any."""
        fresh, k = choice
        pool = [m for m in self.all if m.state in LIVE] if fresh else []
        pool = pool or self.all
        return pool[k % len(pool)]

    def insert(self, m: M, pos: int | None) -> None:
        """Place into the line at a 1-based position (None or beyond the end: at the end)."""
        if m in self.line:
            self.line.remove(m)
        if pos is None or pos > len(self.line):
            self.line.append(m)
        else:
            self.line.insert(pos - 1, m)

    def call(self, m: M, spot: int) -> None:
        """Call a person to a spot (grace counts from when the spot frees)."""
        cur = self.on[spot]
        now = self.now()
        m.state, m.spot, m.arrived = "called", spot, False
        m.deadline = max(now, cur.ends if cur else now) + self.cfg["grace_ms"]
        self.line.remove(m)
        self.called[spot] = m

    def start(self, m: M) -> None:
        """The called, arrived person's slot starts."""
        self.called[m.spot] = None
        self.on[m.spot] = m
        m.state, m.ends, m.deadline = "on_spot", self.now() + self.cfg["slot_ms"], None

    def finish(self, m: M, state: str) -> None:
        """Out of line or off the spot, into a final state."""
        if m in self.line:
            self.line.remove(m)
        if m.state == "on_spot":
            self.on[m.spot] = None
        elif m.state == "called":
            self.called[m.spot] = None
        m.state, m.deadline = state, None

    def no_show(self, m: M) -> None:
        """Grace ran out: back `miss_back` places the first time, missed the second."""
        m.misses += 1
        self.called[m.spot] = None
        m.spot, m.deadline, m.arrived = None, None, False
        if m.misses <= 1:
            m.state = "waiting"
            self.insert(m, self.cfg["miss_back"] + 1)
        else:
            m.state = "missed"

    def advance(self) -> bool:
        """What the engine does after every action and on a tick; True if anything changed."""
        if self.paused_at is not None:
            return False
        now, any_change = self.now(), False
        while True:
            progressed = False
            for s in self.spots:
                cur, nxt = self.on[s], self.called[s]
                if cur and cur.ends <= now:
                    self.finish(cur, "done")
                    cur, progressed = None, True
                if nxt and not nxt.arrived and nxt.deadline <= now:
                    self.no_show(nxt)
                    nxt, progressed = None, True
                if nxt and nxt.arrived and cur is None:
                    self.start(nxt)
                    cur, nxt, progressed = nxt, None, True
                if nxt is None and self.auto and (cur is None or cur.ends - self.cfg["lead_ms"] <= now):
                    first = next((m for m in self.line if m.state == "waiting"), None)
                    if first is not None:
                        self.call(first, s)
                        progressed = True
            any_change |= progressed
            if not progressed:
                return any_change

    # ------------------------------------------------------------ running one action on both

    def run(self, who, name: str, args: dict, model, op: str | None = None):
        """Check the model first (it raises Expect or changes itself), then the engine, then compare."""
        code, changed = None, False
        line_before = [m.id for m in self.line]
        # The engine first applies what fell due (in the action's transaction, so an error undoes it as well).
        saved = copy.deepcopy((self.on, self.called, self.line, self.all))
        due = self.advance()
        try:
            changed = model() or due
        except Expect as e:
            code = e.code
            self.on, self.called, self.line, self.all = saved
        if code is None:
            changed = self.advance() or changed
        before = self.p.dump() if code else None
        v0 = self.version
        op = op or new_op()
        try:
            out = self.q.perform(who, name, args, op)
        except DomainError as e:
            assert e.code == code, f"{name} {args}: engine said {e.code}, model expected {code}"
            assert self.p.dump() == before, "an error changed something"
            return None
        assert code is None, f"{name} {args}: engine succeeded, model expected {code}"
        assert not out.replay
        assert out.changed == changed, f"{name} {args}: changed={out.changed}, model {changed}"
        assert out.v == v0 + (1 if changed else 0)  # the invariant then checks the database holds out.v
        if changed:
            assert out.prev_v == v0
            self.version += 1
            self.check_moves(line_before, out)
        self.last = (who, name, args, op, out.result)
        return out

    def check_moves(self, line_before: list, out) -> None:
        """The change's (gone, moves) turn every old position into its new one (docs/protocol.md)."""
        after = [m.id for m in self.line]
        for old, eid in enumerate(line_before, start=1):
            expected = after.index(eid) + 1 if eid in after else None
            assert apply_moves(old, out.gone, out.moves) == expected, (line_before, after, out.gone, out.moves)

    # ------------------------------------------------------------ participants

    @rule(i=st.integers(0, PEOPLE - 1), retry=st.booleans())
    def join(self, i, retry):
        """Join; or retry an earlier join with the same op id (a lost ack)."""
        who = self.person(i)
        if retry and i in self.join_ops:
            op, first = self.join_ops[i]
            v0 = self.p.version()
            out = self.q.perform(who, "join", {"pseudonym": f"P{i}"}, op)
            assert out.replay and out.result == first and self.p.version() == v0
            return
        holder: list[M] = []

        def model():
            live = self.own(i)
            if live is not None and live.state in LIVE:
                return False
            m = M(None, i)
            self.all.append(m)
            self.line.append(m)
            holder.append(m)
            return True

        op = new_op()
        out = self.run(who, "join", {"pseudonym": f"P{i}"}, model, op)
        if holder:
            holder[0].id = out.result["entry"]
            assert "already" not in out.result
        else:
            assert out.result["already"] and out.result["entry"] == self.own(i).id
        self.joined[i] = True
        self.join_ops.setdefault(i, (op, out.result))

    def _own(self, i: int, states: tuple | None) -> M:
        """Phone i's entry for a participant action, or the error the engine must give."""
        if not self.joined[i]:
            raise Expect("not_in_line")
        m = self.own(i)
        if m is None:
            raise Expect("not_in_line")
        if states and m.state not in states:
            raise Expect("invalid_state")
        return m

    @rule(i=st.integers(0, PEOPLE - 1))
    def leave(self, i):
        """A participant leaves (a no-op when already out)."""
        def model():
            m = self._own(i, None)
            if m.state in LIVE:
                self.finish(m, "left")
                return True
            return False
        self.run(self.person(i), "leave", {}, model)

    @rule(i=st.integers(0, PEOPLE - 1), away=st.booleans())
    def away_or_back(self, i, away):
        """A participant steps away or comes back."""
        def model():
            m = self._own(i, LINE)
            target = "away" if away else "waiting"
            if m.state == target:
                return False
            m.state = target
            return True
        self.run(self.person(i), "step_away" if away else "come_back", {}, model)

    @rule(i=st.integers(0, PEOPLE - 1))
    def arrive(self, i):
        """A participant confirms arrival."""
        def model():
            m = self._own(i, ("called", "on_spot"))
            if m.state == "called" and not m.arrived:
                m.arrived = True
                return True
            return False
        self.run(self.person(i), "confirm_arrival", {}, model)

    @rule(i=st.integers(0, PEOPLE - 1))
    def finish_turn(self, i):
        """A participant hands over early."""
        def model():
            m = self._own(i, ("on_spot", "done"))
            if m.state == "on_spot":
                self.finish(m, "done")
                return True
            return False
        self.run(self.person(i), "finish", {}, model)

    @rule()
    def retry_last(self):
        """Resend the last successful action with its op id: the first result, and nothing changes."""
        if self.last is None:
            return
        who, name, args, op, result = self.last
        before = self.p.dump()
        out = self.q.perform(who, name, args, op)
        assert out.replay and out.result == result and not out.changed
        assert self.p.dump() == before

    # ------------------------------------------------------------ coordinator

    def live(self) -> None:
        """Refuse unless the event is live."""
        if self.paused_at is not None:
            raise Expect("invalid_state")

    def need(self, m: M, states: tuple) -> None:
        """Refuse (conflict) unless the entry is in one of the states."""
        if m.state not in states:
            raise Expect("conflict")

    @rule(spot=st.one_of(st.none(), st.integers(0, 2)), k=st.one_of(st.none(), entry_pick))
    def call_next(self, spot, k):
        """The coordinator calls, maybe with a spot and a (possibly stale) entry."""
        args = {}
        if spot is not None:
            args["spot"] = self.spots[spot % len(self.spots)]
        if k is not None and self.all:
            args["entry"] = self.pick(k).id
        chosen: list[M] = []

        def model():
            self.live()
            if "spot" in args:
                s = args["spot"]
                if self.called[s] is not None:
                    raise Expect("no_free_spot")
            else:
                free = [s for s in self.spots if self.called[s] is None]
                if not free:
                    raise Expect("no_free_spot")
                free.sort(key=lambda s: (self.on[s] is not None, self.on[s].ends if self.on[s] else 0))
                s = free[0]
            if "entry" in args:
                m = self.pick(k)
                self.need(m, LINE)
            else:
                m = next((m for m in self.line if m.state == "waiting"), None)
                if m is None:
                    raise Expect("not_in_line")
            self.call(m, s)
            chosen.append((m, s))
            return True

        out = self.run(self.p.coord, "call_next", args, model)
        if out is not None:
            m, s = chosen[0]
            assert out.result["entry"] == m.id and out.result["spot"]["id"] == s

    @precondition(lambda self: self.all)
    @rule(k=entry_pick)
    def skip(self, k):
        """The coordinator lets the next person go first."""
        m = self.pick(k)

        def model():
            self.need(m, ("waiting", "away", "called"))
            if m.state == "called":
                self.called[m.spot] = None
                m.state, m.spot, m.deadline, m.arrived = "waiting", None, None, False
                self.insert(m, 2)
            else:
                i = self.line.index(m)
                self.line.remove(m)
                self.insert(m, i + 2)
            return True
        self.run(self.p.coord, "skip", {"entry": m.id}, model)

    @precondition(lambda self: self.all)
    @rule(k=entry_pick, to=st.integers(1, 8))
    def move(self, k, to):
        """The coordinator moves someone in line."""
        m = self.pick(k)

        def model():
            self.need(m, LINE)
            self.insert(m, to)
            return True
        self.run(self.p.coord, "move", {"entry": m.id, "to": to}, model)

    @precondition(lambda self: self.all)
    @rule(k=entry_pick)
    def remove(self, k):
        """The coordinator removes someone."""
        m = self.pick(k)

        def model():
            self.need(m, LIVE)
            self.finish(m, "removed")
            return True
        self.run(self.p.coord, "remove", {"entry": m.id}, model)

    @rule(to=position)
    def walk_in(self, to):
        """The coordinator adds a person without a phone."""
        m = M(None, None)

        def model():
            self.all.append(m)
            self.insert(m, to)
            return True
        args = {"pseudonym": "Walker"} | ({"to": to} if to else {})
        out = self.run(self.p.coord, "add_walk_in", args, model)
        m.id = out.result["entry"]

    @precondition(lambda self: self.all)
    @rule(k=entry_pick, to=position)
    def recall(self, k, to):
        """The coordinator brings a missed/left/removed person back."""
        m = self.pick(k)

        def model():
            self.need(m, ("missed", "left", "removed"))
            if m.person is not None and any(o.person == m.person and o.state in LIVE for o in self.all):
                raise Expect("conflict")
            m.state, m.spot, m.deadline, m.arrived = "waiting", None, None, False
            self.insert(m, to or 1)
            return True
        self.run(self.p.coord, "recall", {"entry": m.id} | ({"to": to} if to else {}), model)

    @precondition(lambda self: self.all)
    @rule(k=entry_pick)
    def coordinator_confirms(self, k):
        """The coordinator confirms someone's arrival."""
        m = self.pick(k)

        def model():
            self.need(m, ("called", "on_spot"))
            if m.state == "called" and not m.arrived:
                m.arrived = True
                return True
            return False
        self.run(self.p.coord, "confirm_arrival", {"entry": m.id}, model)

    @precondition(lambda self: self.all)
    @rule(k=entry_pick, pause=st.one_of(st.none(), st.booleans()))
    def detain(self, k, pause):
        """The coordinator records a detention, maybe pausing."""
        m = self.pick(k)

        def model():
            self.need(m, LIVE + ("done",))
            if m.state == "done":
                m.state = "detained"
            else:
                self.finish(m, "detained")
            if pause and self.paused_at is None:
                self.paused_at = self.now()
            return True
        self.run(self.p.coord, "detain", {"entry": m.id} | ({"pause": pause} if pause is not None else {}), model)

    @rule(pause=st.booleans())
    def pause_or_resume(self, pause):
        """The coordinator pauses or resumes."""
        def model():
            if pause:
                if self.paused_at is not None:
                    return False
                self.paused_at = self.now()
                return True
            if self.paused_at is None:
                return False
            shift = self.now() - self.paused_at
            for m in self.all:
                if m.state in ("called", "on_spot"):
                    if m.deadline is not None:
                        m.deadline += shift
                    if m.ends is not None:
                        m.ends += shift
            self.paused_at = None
            return True
        self.run(self.p.coord, "pause" if pause else "resume", {}, model)

    @rule(key=st.sampled_from(["slot_ms", "grace_ms", "lead_ms", "miss_back"]), big=st.booleans())
    def settings(self, key, big):
        """Change a time setting live: it applies to calls and slots from now on."""
        value = {"slot_ms": (SLOT, 2 * SLOT), "grace_ms": (GRACE, 2 * GRACE), "lead_ms": (0, LEAD),
                 "miss_back": (0, MISS_BACK)}[key][big]

        def model():
            self.cfg[key] = value
            return True
        self.run(self.p.coord, "settings", {key: value}, model)

    @rule(add=st.booleans())
    def reshape_spots(self, add):
        """Add a spot at the end, or retire the last one (refused while someone holds or is called to it)."""
        wanted = [{"id": s, "label": f"S{s}"} for s in self.spots]
        if add:
            if len(self.spots) >= 3:
                return
            wanted.append({"label": "New"})
        else:
            if len(self.spots) <= 1:
                return
            wanted.pop()

        def model():
            if add:  # the database names the spot; until then the model calls it "new"
                self.spots.append("new")
                self.on["new"] = self.called["new"] = None
            else:
                gone = self.spots[-1]
                if self.on[gone] is not None or self.called[gone] is not None:
                    raise Expect("conflict")
                self.spots.pop()
            return True
        out = self.run(self.p.coord, "spots", {"spots": wanted}, model)
        if out is not None and add:
            real = out.public["spots"][-1]["id"]
            self.spots[-1] = real
            self.on[real], self.called[real] = self.on.pop("new"), self.called.pop("new")
            for m in self.all:
                if m.spot == "new":
                    m.spot = real
        if out is not None:
            assert [s["id"] for s in out.public["spots"]] == self.spots

    # ------------------------------------------------------------ time and restarts

    @rule(ms=st.sampled_from([1_000, LEAD, GRACE, GRACE + 1, SLOT - LEAD, SLOT, 3 * SLOT]))
    def tick(self, ms):
        """Time passes; the ticker applies what fell due."""
        self.clock.advance(ms)
        line_before = [m.id for m in self.line]
        outs = self.q.tick()
        changed = self.advance()
        assert [o.changed for o in outs] == ([True] if changed else [])
        if changed:
            assert outs[0].v == self.version + 1
            self.version += 1
            self.check_moves(line_before, outs[0])

    @rule(ms=st.sampled_from([LEAD, GRACE + 1, SLOT]))
    def time_passes_unticked(self, ms):
        """Time passes but no ticker has run yet: the next action (or tick) applies what fell due."""
        self.clock.advance(ms)

    @rule()
    def restart(self):
        """The process restarts: a new Queue and Store over the same database; principals reconnect.

        (A restart with a brand-new database engine is tested in test_time.py; here the engine is shared so the
        many short examples stay fast.)
        """
        self.q = Queue(Store(self.engine), self.clock)
        self.p.q = self.q
        self.who = [None] * PEOPLE

    # ------------------------------------------------------------ invariants

    @invariant()
    def matches_model(self):
        """Database == model: states, spots, times, line order; plus the structural rules."""
        if getattr(self, "p", None) is None:
            return
        with self.q.store.read() as s:
            rows = {e.id: e for e in s.scalars(select(Entry).where(Entry.event_id == self.p.event_id))}
            line = line_ids(s, self.p.event_id)
            version = s.get(Event, self.p.event_id).version
        assert set(rows) == {m.id for m in self.all}
        for m in self.all:
            e = rows[m.id]
            assert e.state == m.state, (m, e.state)
            assert e.misses == m.misses
            if m.state in ("called", "on_spot"):
                assert e.spot_id == m.spot
            if m.state == "called":
                assert e.deadline_at == m.deadline and (e.arrived_at is not None) == m.arrived
            if m.state == "on_spot":
                assert e.ends_at == m.ends
        # nobody loses their place: the whole line, in order
        assert line == [m.id for m in self.line]
        live = [e for e in rows.values() if e.state in ("called", "on_spot")]
        for state in ("called", "on_spot"):
            spots = [e.spot_id for e in live if e.state == state]
            assert len(spots) == len(set(spots)), f"two people {state} at one spot"
        owners = [e.participant_id for e in rows.values() if e.state in LIVE and e.participant_id]
        assert len(owners) == len(set(owners)), "a participant holds two live entries"
        assert version == self.version, "the version moved without a change (or did not move with one)"

    @rule(i=st.integers(0, PEOPLE - 1))
    def look(self, i):
        """Snapshots: the console numbers the line 1..N in model order; a participant sees their own place.

        Every payload also equals what the naive builders (tests/domain/naive_views.py) make of the database.
        """
        naive.same_payloads(self.p)
        snap = self.p.snapshot()
        assert [(r["position"], r["id"]) for r in snap["line"]] == [(n, m.id) for n, m in enumerate(self.line, 1)]
        assert (snap["public"]["event"]["state"] == "paused") == (self.paused_at is not None)
        assert snap["public"]["counts"]["line"] == len(self.line)
        me = self.p.snapshot(self.person(i))["me"]
        m = self.own(i) if self.joined[i] else None
        if m is None:
            assert me is None
        else:
            assert me["id"] == m.id and me["state"] == m.state
            assert me["position"] == (self.line.index(m) + 1 if m in self.line else None)


def run_machine(url: str, examples: int) -> None:
    """Run the machine on one database (each example makes its own event there)."""
    engine = fresh_queue(url).store.engine
    machine = type("LineMachineOn", (LineMachine,), {"engine": engine})
    try:
        run_state_machine_as_test(machine, settings=settings(
            max_examples=examples, stateful_step_count=30, deadline=None, database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))
    finally:
        engine.dispose()


def test_line_state_machine_sqlite(sqlite_url):
    """The engine against the model on SQLite."""
    run_machine(sqlite_url, 50)


@pytest.mark.postgres
def test_line_state_machine_postgres(pg_url):
    """The engine against the model on PostgreSQL (fewer examples: each step is slower)."""
    run_machine(pg_url, 15)
