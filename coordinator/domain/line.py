"""The line: ordering by rank, inserting at a position, and the due transitions of a live event.

The line is the entries in LINE_STATES ordered by (rank, id): their key. Positions are counted, not listed: a COUNT of
the keys below an entry's key is its place, so a join or a position in a line of thousands reads no rows into Python.
"""
from __future__ import annotations

from bisect import bisect_left
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import and_, bindparam, case, event as sa_event, func, or_, select
from sqlalchemy.orm import Session, object_session

from .models import LINE_STATES, LIVE_STATES, SPOT_STATES, Entry, Event, LogRow, Participant, Spot

GAP = 1 << 20  # room between ranks, so a move rarely renumbers the line
E = Entry.__table__.c
SEEN = "picket.line_before"  # Session.info key: entry id -> its key before this transaction (None: not in line)
FEW = 50  # up to this many entries seen by a transaction, `line_change` counts; beyond, it reads the line's keys


@dataclass
class Ctx:
    """Everything one transaction on one event needs, and what it changed."""

    session: Session
    event: Event
    now: int
    actor: str = "system"
    changed: bool = False
    touched: set = field(default_factory=set)   # participant ids whose own view changed
    announcement: dict | None = None
    logs: list = field(default_factory=list)
    undo: dict | None = None  # how to put back the one person this action changed (see actions.remember_for_undo)
    participant_id: int | None = None  # the calling participant's id as this transaction leaves it (join, delete_me)
    called: list = field(default_factory=list)  # entries called in this transaction (their phones get an alert)
    spots: list | None = None  # the active spots, read once per transaction (`active_spots`; `spots` resets it)

    def log(self, action: str, entry: Entry | None = None, detail: str = "") -> None:
        """Record an action for the event log (pseudonyms are joined in only when the log is shown)."""
        self.changed = True
        self.logs.append(LogRow(event_id=self.event.id, at=self.now, actor=self.actor[:60], action=action,
                                ticket=entry.ticket if entry else None, detail=detail[:500]))

    @contextmanager
    def as_system(self):
        """Log what happens inside as automatic (actor "system")."""
        actor, self.actor = self.actor, "system"
        try:
            yield
        finally:
            self.actor = actor

    def touch(self, entry: Entry) -> None:
        """Mark an entry's owner as needing a fresh personal view."""
        self.changed = True
        if entry.participant_id:
            self.touched.add(entry.participant_id)


def line(ctx: Ctx) -> list[Entry]:
    """Entries holding a place in line, in order."""
    return list(ctx.session.scalars(
        select(Entry).where(Entry.event_id == ctx.event.id, Entry.state.in_(LINE_STATES))
        .order_by(Entry.rank, Entry.id)))


def line_ids(session: Session, event_id: int) -> list[int]:
    """Ids of the entries in line, in order."""
    return list(session.scalars(select(E.id).where(in_line(event_id)).order_by(E.rank, E.id)))


def in_line(event_id):
    """SQL condition: the entry holds a place in this event's line (`event_id`: a value or a bound parameter)."""
    return and_(E.event_id == event_id, E.state.in_(LINE_STATES))


def key_below(key: tuple):
    """SQL condition: the entry's (rank, id) sorts before `key` (values or bound parameters)."""
    rank, entry_id = key
    return or_(E.rank < rank, and_(E.rank == rank, E.id < entry_id))


AHEAD = select(func.count()).where(in_line(bindparam("event_id")),
                                   key_below((bindparam("rank"), bindparam("entry_id"))))


def count_ahead(session: Session, event_id: int, key: tuple[int, int]) -> int:
    """How many in line sort before the key (rank, id): the 0-based position of an entry with that key."""
    return session.scalar(AHEAD, {"event_id": event_id, "rank": key[0], "entry_id": key[1]}) or 0


def own_entry(session: Session, participant_id: int) -> Entry | None:
    """A participant's live entry, else their latest one (a recall can make an older entry live again)."""
    live_first = case((Entry.state.in_(LIVE_STATES + ("pending",)), 0), else_=1)
    return session.scalars(select(Entry).where(Entry.participant_id == participant_id)
                           .order_by(live_first, Entry.id.desc()).limit(1)).first()


# Selects that every change runs several times, built once.
ACTIVE_SPOTS = (select(Spot).where(Spot.event_id == bindparam("event_id"), Spot.active.is_(True))
                .order_by(Spot.sort, Spot.id))
HOLDERS = select(Entry).where(Entry.event_id == bindparam("event_id"), Entry.state.in_(SPOT_STATES))
NEXT_WAITING = (select(Entry).where(Entry.event_id == bindparam("event_id"), Entry.state == "waiting")
                .order_by(Entry.rank, Entry.id).limit(1))


def active_spots(ctx: Ctx) -> list[Spot]:
    """Spots in use, in display order: read once per transaction (a change asked for them three times), since only
    the `spots` action changes them, and it forgets them (`ctx.spots = None`)."""
    if ctx.spots is None:
        ctx.spots = list(ctx.session.scalars(ACTIVE_SPOTS, {"event_id": ctx.event.id}))
    return list(ctx.spots)


def holders(ctx: Ctx) -> tuple[dict, dict]:
    """Per spot id: the entry on it, and the entry called to it."""
    on, called = {}, {}
    for e in ctx.session.scalars(HOLDERS, {"event_id": ctx.event.id}):
        (on if e.state == "on_spot" else called)[e.spot_id] = e
    return on, called


def place(ctx: Ctx, entry: Entry, position: int | None) -> None:
    """Put an entry into the line at a 1-based position (None: at the end)."""
    # Only the ranks of the two neighbours at the target position are read (or the highest rank, to append): joins
    # and moves stay cheap in a long line. Renumbering, when two neighbours have no room left, loads the line.
    neighbours = []
    if position is not None:
        position = max(1, position)
        neighbours = list(ctx.session.scalars(
            select(E.rank).where(in_line(ctx.event.id), E.id != entry.id).order_by(E.rank, E.id)
            .offset(max(position - 2, 0)).limit(2 if position >= 2 else 1)))
    if position is None or len(neighbours) < min(position, 2):  # fewer people in line than the position
        top = ctx.session.scalar(select(func.max(Entry.rank)).where(Entry.event_id == ctx.event.id)) or 0
        entry.rank = top + GAP
        return
    before, after = (neighbours[0], neighbours[1]) if position >= 2 else (neighbours[0] - 2 * GAP, neighbours[0])
    if after - before < 2:  # no room left: renumber the line
        others = [e for e in line(ctx) if e.id != entry.id]
        for i, e in enumerate(others, start=1):
            e.rank = i * GAP * 2
        before = others[position - 2].rank if position >= 2 else 0
        after = others[position - 1].rank
    entry.rank = (before + after) // 2


def clear_call(entry: Entry) -> None:
    """Forget the spot and times of a call."""
    entry.spot_id = None
    entry.called_at = entry.deadline_at = entry.arrived_at = None


def unreachable(ctx: Ctx, entry: Entry) -> bool:
    """A person nobody can tell they are called: their phone never opened a live page and has no push subscription
    (walk-ins are the coordinators' to fetch, so never)."""
    if entry.participant_id is None:
        return False
    row = ctx.session.execute(select(Participant.live_at, Participant.push).where(
        Participant.id == entry.participant_id)).first()
    return row is not None and row.live_at is None and not row.push


def call(ctx: Ctx, entry: Entry, spot: Spot, busy_until: int | None) -> None:
    """Call a person to a spot; they must check in within the grace time after the spot frees (the short
    `unreachable_ms` instead when nothing can reach them: see `unreachable`)."""
    lost = ctx.event.unreachable_ms < ctx.event.grace_ms and unreachable(ctx, entry)  # before the entry changes:
    grace = ctx.event.unreachable_ms if lost else ctx.event.grace_ms  # its query would flush it, a 2nd UPDATE
    entry.state, entry.spot_id, entry.called_at, entry.arrived_at = "called", spot.id, ctx.now, None
    entry.deadline_at = max(ctx.now, busy_until or ctx.now) + grace
    ctx.event.calls += 1
    ctx.session.flush()
    ctx.touch(entry)
    ctx.called.append(entry)
    ctx.log("call", entry, spot.label)
    if lost:  # the console says why this call will be short
        ctx.log("unreachable", entry, str(grace // 1000))


def reached(moves: list, ready_at: int) -> set[int]:
    """New line positions (<= ready_at) of entries that moved up past the `ready_at` place in this change."""
    out = set()
    for lo, hi, d in moves:
        for p in range(max(lo, ready_at + 1), hi + 1):
            if p + d <= ready_at:
                out.add(p + d)
    return out


def alerts(ctx: Ctx, moves: list) -> dict[int, str]:
    """Whose phone to alert about this change: participant id -> "called" (called in this very change and still
    called) or "ready" (moved up to the event's `ready_at` place and waiting). Read inside the transaction, so the
    answer is what the change did, not what the database says a moment later."""
    kinds = {e.participant_id: "called" for e in ctx.called
             if e.participant_id and e.state == "called" and e.arrived_at is None and e.called_at == ctx.now}
    positions = reached(moves, ctx.event.ready_at)
    if positions:
        front = ctx.session.execute(select(E.participant_id, E.state).where(in_line(ctx.event.id))
                                    .order_by(E.rank, E.id).limit(max(positions))).all()
        for p in sorted(positions):
            if p <= len(front) and front[p - 1][0] and front[p - 1][1] == "waiting":
                kinds.setdefault(front[p - 1][0], "ready")
    return kinds


def line_len_at_least(ctx: Ctx, n: int) -> bool:
    """Whether the line holds n people or more."""
    return (ctx.session.scalar(select(func.count(E.id)).where(in_line(ctx.event.id))) or 0) >= n


def start_slot(ctx: Ctx, entry: Entry) -> None:
    """The called person is at the free spot: their slot starts now."""
    entry.state, entry.started_at = "on_spot", ctx.now
    entry.ends_at = ctx.now + ctx.event.slot_ms
    entry.deadline_at = None
    ctx.session.flush()
    ctx.touch(entry)
    ctx.log("start", entry)


def finish(ctx: Ctx, entry: Entry, state: str = "done", action: str = "finish") -> None:
    """End an entry's time in line or on the spot, freeing the spot."""
    was_on_spot = entry.state == "on_spot"
    entry.state, entry.finished_at = state, ctx.now
    if state == "done" and was_on_spot:
        ctx.event.held += 1
    entry.deadline_at = None
    ctx.session.flush()
    ctx.touch(entry)
    ctx.log(action, entry)


def no_show(ctx: Ctx, entry: Entry) -> None:
    """Grace ran out: back into line a few places down the first time, out of the line the second time."""
    entry.misses += 1
    ctx.event.noshows += 1
    clear_call(entry)
    if entry.misses <= 1:
        entry.state = "waiting"
        ctx.session.flush()
        place(ctx, entry, ctx.event.miss_back + 1)
        ctx.touch(entry)
        ctx.log("no_show", entry, "moved back")
    else:
        entry.state, entry.finished_at = "missed", ctx.now
        ctx.touch(entry)
        ctx.log("no_show", entry, "out")
    ctx.session.flush()


def next_waiting(ctx: Ctx) -> Entry | None:
    """The first person in line who is not away."""
    return ctx.session.scalars(NEXT_WAITING, {"event_id": ctx.event.id}).first()


def advance(ctx: Ctx) -> tuple[dict, dict] | None:
    """Apply every transition that is due now, until none is (slot ends, no-shows, starts, automatic calls).
    Returns the spots' holders as it leaves them (as `holders` would read them now; None when the event is not live),
    for a caller that goes on to `next_due` or the public block without changing anything in between.

    The log names no actor for them: they are automatic, whoever's action made them due (a call after a
    participant's Finish is not the participant's)."""
    with ctx.as_system():
        return _advance(ctx)


def _advance(ctx: Ctx) -> tuple[dict, dict] | None:
    """`advance` itself."""
    ev = ctx.event
    if ev.state != "live":
        return None
    for _ in range(1000):  # each round changes something or stops; the bound only guards against a bug
        progressed = False
        on, called = holders(ctx)
        for spot in active_spots(ctx):
            cur, nxt = on.get(spot.id), called.get(spot.id)
            if cur and cur.ends_at <= ctx.now:
                finish(ctx, cur, "done", "slot_end")
                cur, progressed = None, True
            if nxt and nxt.arrived_at is None and nxt.deadline_at <= ctx.now:
                no_show(ctx, nxt)
                nxt, progressed = None, True
            if nxt and nxt.arrived_at is not None and cur is None:
                start_slot(ctx, nxt)
                cur, nxt, progressed = nxt, None, True
            if nxt is None and ev.auto_call and (cur is None or cur.ends_at - ev.lead_ms <= ctx.now):
                person = next_waiting(ctx)
                if person is not None:
                    call(ctx, person, spot, cur.ends_at if cur else None)
                    progressed = True
        if not progressed:  # this round changed nothing: the holders it read are the current ones
            return on, called
    return None


def next_due(ctx: Ctx, spots: list[Spot] | None = None, held: tuple[dict, dict] | None = None) -> int | None:
    """When the ticker must next look at this event (None: nothing scheduled).

    `spots` and `held` (as `active_spots` and `holders` return them now) may be given by a caller that has them.
    """
    ev = ctx.event
    if ev.state != "live":
        return None
    on, called = holders(ctx) if held is None else held
    has_waiting = None  # asked only when an automatic call could depend on it
    times = []
    for spot in active_spots(ctx) if spots is None else spots:
        cur, nxt = on.get(spot.id), called.get(spot.id)
        if cur:
            times.append(cur.ends_at)
            if nxt is None and ev.auto_call:
                if has_waiting is None:
                    has_waiting = next_waiting(ctx) is not None
                if has_waiting:
                    times.append(cur.ends_at - ev.lead_ms)
        if nxt and nxt.arrived_at is None:
            times.append(nxt.deadline_at)
    return min(times) if times else None


# ---------------------------------------------------------------- how a transaction moved the line

def watch(session: Session) -> None:
    """Start remembering, for `line_change`, where each entry this transaction reads or adds stood before it.

    Every change to an entry's state or rank goes through an ORM object, which this transaction loaded (the `load`
    event below records its key then) or inserted (recorded as not in line before). A bulk UPDATE of states or ranks
    would escape this: keep such changes on ORM objects.
    """
    session.info[SEEN] = {obj.id: _key(obj) for obj in session.identity_map.values() if isinstance(obj, Entry)}


def _key(entry: Entry) -> tuple[int, int] | None:
    """An entry's place in the ordering, or None when it is not in line."""
    return (entry.rank, entry.id) if entry.state in LINE_STATES else None


@sa_event.listens_for(Entry, "load")
def _loaded(entry: Entry, context) -> None:
    """A watched transaction read an entry: remember where it stood (the first time only)."""
    seen = context.session.info.get(SEEN) if context.session is not None else None
    if seen is not None:
        seen.setdefault(entry.id, _key(entry))


@sa_event.listens_for(Entry, "after_insert")
def _inserted(_mapper, _connection, entry: Entry) -> None:
    """A watched transaction added an entry: it was not in line before."""
    session = object_session(entry)
    seen = session.info.get(SEEN) if session is not None else None
    if seen is not None:
        seen[entry.id] = None


def line_change(session: Session, event_id: int) -> tuple[list[int], list[list[int]], dict]:
    """How the watched transaction moved the line: (gone, moves) as `views.moves` describes them, and the counts.

    The counts are {"waiting": n, "away": n} now. Only the entries the transaction read or added can have moved on
    their own; everyone else keeps their order and shifts by how many of those went ahead of or behind them. So a
    few COUNTs answer (one query), not two listings of the line; a transaction that read many entries (a renumbered
    line, the end of the event) reads the line's keys once instead.
    """
    seen = session.info.pop(SEEN, None)
    if seen is None:
        raise RuntimeError("line_change needs line.watch at the start of the transaction")
    session.flush()
    many = len(seen) > FEW
    if many:
        rows = session.execute(select(E.id, E.rank, E.state).where(in_line(event_id)).order_by(E.rank, E.id)).all()
        keys = [(r.rank, r.id) for r in rows]
        where = dict(zip((r.id for r in rows), keys))
        now = {entry_id: where.get(entry_id) for entry_id in seen}
    else:
        now = dict.fromkeys(seen)
        if seen:
            for r in session.execute(select(E.id, E.rank, E.state).where(E.id.in_(list(seen)))):
                now[r.id] = (r.rank, r.id) if r.state in LINE_STATES else None
    changed = [(old, now[entry_id]) for entry_id, old in seen.items() if old != now[entry_id]]
    probes = sorted({k for pair in changed for k in pair if k is not None})
    if many:
        waiting = sum(r.state == "waiting" for r in rows)
        counts = {"waiting": waiting, "away": len(rows) - waiting}
        below = [bisect_left(keys, k) for k in probes]
    else:
        def n(*where):
            """COUNT of the line with more conditions, as a scalar subquery."""
            return select(func.count()).where(in_line(event_id), *where).scalar_subquery()
        waiting, away, *below = session.execute(select(
            n(E.state == "waiting"), n(E.state == "away"), *(n(key_below(k)) for k in probes))).one()
        counts = {"waiting": waiting, "away": away}
    gone, moves = shifts(changed, dict(zip(probes, below)), counts["waiting"] + counts["away"])
    return gone, moves, counts


def shifts(changed: list[tuple], below: dict, length: int) -> tuple[list[int], list[list[int]]]:
    """(gone, moves) in the format of `views.moves`, from the entries whose key changed and COUNTs of the line now.

    `changed` holds (old key, new key) pairs (None: not in line); `below[k]` is how many in line now sort before
    key k, for every key in `changed`; `length` is the line's length now. The others ("untouched") kept their keys,
    so they keep their order too, and each one's shift depends only on how many changed entries are ahead of it.
    """
    old_keys = sorted(o for o, _ in changed if o is not None)
    new_keys = sorted(n for _, n in changed if n is not None)
    # untouched entries ahead of each changed key: those now in line before it, less the changed ones among them
    ahead = {k: b - bisect_left(new_keys, k) for k, b in below.items()}
    u_old, u_new = [ahead[k] for k in old_keys], [ahead[k] for k in new_keys]
    old_pos = {k[1]: ahead[k] + i for i, k in enumerate(old_keys, start=1)}
    new_pos = {k[1]: ahead[k] + i for i, k in enumerate(new_keys, start=1)}
    gone, spans = [], []  # spans: (first old position, last old position, shift)
    for entry_id, p in old_pos.items():
        if entry_id in new_pos:
            spans.append((p, p, new_pos[entry_id] - p))
        else:
            gone.append(p)
    # The untouched, numbered 1..n in their (unchanged) order, shift by the same amount between two cuts.
    n = length - len(new_keys)
    cuts = sorted({1, n + 1} | {u + 1 for u in u_old + u_new if u < n})
    for lo, hi in zip(cuts, cuts[1:]):
        ahead_old = bisect_left(u_old, lo)  # changed entries ahead of them in the old line, and in the new one
        spans.append((lo + ahead_old, hi - 1 + ahead_old, bisect_left(u_new, lo) - ahead_old))
    moves: list[list[int]] = []
    for lo, hi, d in sorted(spans):
        add_move(moves, lo, hi, d)
    return sorted(gone), moves


def add_move(moves: list[list[int]], lo: int, hi: int, d: int) -> None:
    """Append the old positions lo..hi moving by d to sorted `moves`, merged into the last range when it continues it."""
    if d == 0:
        return
    if moves and moves[-1][1] == lo - 1 and moves[-1][2] == d:
        moves[-1][1] = hi
    else:
        moves.append([lo, hi, d])
