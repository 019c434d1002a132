"""Every action a participant or coordinator can take: argument checks, permissions and the change itself.

Each handler runs inside the event's locked write transaction (see `queue.Queue.perform`), gets a `Ctx`, the
caller and checked arguments, and returns a small JSON-able result. Handlers raise `DomainError`s; the caller
rolls back, so an error changes nothing.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Callable

from sqlalchemy import delete, func, select

from . import gate as gate_codes
from . import line as ln
from . import validation as v
from .errors import BadRequest, Conflict, DomainError, Forbidden, InvalidState, NotFound
from .models import (LINE_STATES, LIVE_STATES, Announcement, Connection, Coordinator, Entry, LogRow, Operation,
                     Participant, Spot)
from .tokens import hash_token, new_token


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is acting: an observer, a participant (by token) or a coordinator. Read-only: what an action changes about
    the caller (a join's new participant id) comes back in its `Outcome`."""

    role: str
    event_id: int
    slug: str
    token_hash: str | None = None
    participant_id: int | None = None
    coordinator_id: int | None = None
    label: str = ""
    owner: bool = False

    @property
    def actor_key(self) -> str:
        """The scope of this caller's operation ids."""
        if self.role == "coordinator":
            return f"c:{self.coordinator_id}"
        return f"t:{self.token_hash}"

    @property
    def actor_label(self) -> str:
        """How the event log names this caller."""
        return self.label if self.role == "coordinator" else "participant"

    def as_participant(self, participant_id: int | None) -> "Principal":
        """The same caller with another participant id (after a join or a deletion, or a fresher read)."""
        return replace(self, participant_id=participant_id)


@dataclass
class Action:
    """A registered action: who may call it, which arguments it takes, and the handler."""

    name: str
    role: str
    fields: set
    handler: Callable
    summary: str
    owner_only: bool = False


ACTIONS: dict[tuple[str, str], Action] = {}  # (role, name) -> action


def action(name: str, role: str, fields: tuple = (), summary: str = "", owner_only: bool = False):
    """Register a handler under an action name."""
    def register(fn):
        ACTIONS[(role, name)] = Action(name, role, set(fields), fn, summary or (fn.__doc__ or "").strip(), owner_only)
        return fn
    return register


# ---------------------------------------------------------------- helpers

def entry_arg(ctx: ln.Ctx, args: dict, states: tuple | None = None) -> Entry:
    """The entry named by args['entry'], in one of the given states."""
    entry_id = v.integer(args.get("entry"), "entry", 1, 2**62)
    entry = ctx.session.get(Entry, entry_id)
    if entry is None or entry.event_id != ctx.event.id:
        raise NotFound("No such person in this event.")
    if states and entry.state not in states:
        raise Conflict(f"That person is '{entry.state}' now; the action needs {' or '.join(states)}.")
    return entry


def own_entry(ctx: ln.Ctx, who: Principal, states: tuple | None = None) -> Entry:
    """The caller's live entry (else latest entry), optionally required to be in given states."""
    if who.participant_id is None:
        raise DomainError("You are not in this line.", "not_in_line")
    entry = ln.own_entry(ctx.session, who.participant_id)
    if entry is None:
        raise DomainError("You are not in this line.", "not_in_line")
    if states and entry.state not in states:
        raise InvalidState(f"You are '{entry.state}' now; this needs {' or '.join(states)}.")
    return entry


def need_state(ctx: ln.Ctx, *states: str) -> None:
    """Refuse unless the event is in one of the states."""
    if ctx.event.state not in states:
        raise InvalidState(f"The event is '{ctx.event.state}'; this needs it to be {' or '.join(states)}.")


def line_len(ctx: ln.Ctx) -> int:
    """How many hold a place in line."""
    return ctx.session.scalar(select(func.count(Entry.id)).where(
        Entry.event_id == ctx.event.id, Entry.state.in_(LINE_STATES))) or 0


def new_entry(ctx: ln.Ctx, name: str, participant_id: int | None, position: int | None = None) -> Entry:
    """Add a person to the line."""
    need_state(ctx, "open", "live", "paused")
    if line_len(ctx) >= ctx.event.max_queue:
        raise DomainError("The line is full.", "queue_full")
    entry = Entry(event_id=ctx.event.id, participant_id=participant_id, ticket=ctx.event.next_ticket,
                  pseudonym=name, state="waiting", rank=0, joined_at=ctx.now)
    ctx.event.next_ticket += 1
    ctx.session.add(entry)
    ctx.session.flush()
    ln.place(ctx, entry, position)
    ctx.session.flush()
    return entry


UNDO_FIELDS = ("state", "spot_id", "called_at", "deadline_at", "arrived_at", "started_at", "ends_at", "finished_at")


def remember_for_undo(ctx: ln.Ctx, entry: Entry) -> None:
    """Keep what `undo` needs to put this person back as they were (state, call, place in line, counters). The
    engine offers the undo only if the transaction changed nobody else (see `Queue._perform`)."""
    pos = (ln.count_ahead(ctx.session, ctx.event.id, (entry.rank, entry.id)) + 1
           if entry.state in LINE_STATES else None)
    ctx.undo = {"entry": entry.id, "ticket": entry.ticket, "position": pos,
                **{k: getattr(entry, k) for k in UNDO_FIELDS}, "calls": ctx.event.calls, "held": ctx.event.held}


def entry_result(entry: Entry) -> dict:
    """The small answer most actions give."""
    return {"entry": entry.id, "ticket": entry.ticket, "state": entry.state}


# ---------------------------------------------------------------- participant actions

@action("join", "participant", ("pseudonym", "pow", "code"), "Join the line at its end (needs a proof of work).")
def join(ctx, who: Principal, args):
    """Join the line; joining again with the same token returns the place already held."""
    name = v.pseudonym(args.get("pseudonym"))
    if who.participant_id is None:
        participant = Participant(event_id=ctx.event.id, token_hash=who.token_hash, created_at=ctx.now,
                                  last_seen_at=ctx.now)
        if ctx.session.scalar(select(Connection.sid).where(Connection.token_hash == who.token_hash).limit(1)):
            participant.live_at = ctx.now  # joined from an open live page (a script over HTTP has none)
        ctx.session.add(participant)
        ctx.session.flush()
        ctx.participant_id = participant.id  # the Outcome tells the caller
    live = ctx.session.scalars(select(Entry).where(Entry.participant_id == ctx.participant_id,
                                                   Entry.state.in_(LIVE_STATES + ("pending",)))).first()
    if live is not None:
        return entry_result(live) | {"already": True}
    return gated_entry(ctx, args, name, ctx.participant_id)


def gated_entry(ctx: ln.Ctx, args: dict, name: str, participant_id: int, detail: str = "") -> dict:
    """A join through the event's gate: refused while joining is paused or without the current on-site code; with
    the `approval` gate it waits in the requests list (state `pending`) until a coordinator admits it."""
    ev = ctx.event
    need_state(ctx, "open", "live", "paused")
    if ev.joining_paused:
        raise DomainError("The coordinators have paused joining for now.", "joining_paused")
    if ev.gate == "onsite":
        given = args.get("code")
        if given in (None, ""):
            raise DomainError("This event needs the code shown at the picket.", "code_required")
        if not gate_codes.valid(ev.gate_secret, ev.gate_epoch, ctx.now, given):
            raise DomainError("That code is wrong or too old.", "code_wrong")
    if ev.gate == "approval":
        waiting = ctx.session.scalar(select(func.count(Entry.id)).where(Entry.event_id == ev.id,
                                                                         Entry.state == "pending")) or 0
        if waiting >= ev.max_queue:
            raise DomainError("The list of requests is full.", "queue_full")
        entry = Entry(event_id=ev.id, participant_id=participant_id, ticket=ev.next_ticket, pseudonym=name,
                      state="pending", rank=0, joined_at=ctx.now)
        ev.next_ticket += 1
        ctx.session.add(entry)
        ctx.session.flush()
        ctx.touch(entry)
        ctx.log("request", entry, detail)
        return entry_result(entry)
    entry = new_entry(ctx, name, participant_id)
    ctx.touch(entry)
    ctx.log("join", entry, detail)
    return entry_result(entry)


@action("rejoin", "participant", ("pow", "code"),
        "Join again at the end of the line after your turn, with the same name (needs a proof of work).")
def rejoin(ctx, who, args):
    """Rejoin at the end with the last pseudonym."""
    last = own_entry(ctx, who)
    if last.state in LIVE_STATES + ("pending",):
        return entry_result(last) | {"already": True}
    return gated_entry(ctx, args, last.pseudonym, who.participant_id, "rejoin")


@action("leave", "participant", (), "Leave the line (frees your spot if you were called).")
def leave(ctx, who, args):
    """Leave for good; leaving twice is fine."""
    entry = own_entry(ctx, who)
    if entry.state in LIVE_STATES + ("pending",):
        ln.finish(ctx, entry, "left", "leave")
    return entry_result(entry)


@action("running_late", "participant", ("minutes",), "Tell the coordinators you need a few more minutes.")
def running_late(ctx, who, args):
    """Waiting, stepped away or called: the coordinators see how many more minutes the person needs (they decide
    what to do; nothing moves by itself)."""
    minutes = v.integer(args.get("minutes"), "minutes", 1, 30)
    entry = own_entry(ctx, who, ("waiting", "away", "called"))
    entry.late_min, entry.late_at = minutes, ctx.now
    ctx.touch(entry)
    ctx.log("late", entry, str(minutes))
    return entry_result(entry) | {"minutes": minutes}


@action("step_away", "participant", (), "Step away: keep the place but be passed over.")
def step_away(ctx, who, args):
    """Waiting to away."""
    entry = own_entry(ctx, who, ("waiting", "away"))
    if entry.state == "waiting":
        entry.state = "away"
        ctx.touch(entry)
        ctx.log("away", entry)
    return entry_result(entry)


@action("come_back", "participant", (), "Come back after stepping away.")
def come_back(ctx, who, args):
    """Away to waiting."""
    entry = own_entry(ctx, who, ("waiting", "away"))
    if entry.state == "away":
        entry.state = "waiting"
        ctx.touch(entry)
        ctx.log("back", entry)
    return entry_result(entry)


def _arrive(ctx, entry: Entry) -> dict:
    """Check in at the spot; the slot starts at once if the spot is free."""
    if entry.state == "called" and entry.arrived_at is None:
        entry.arrived_at = ctx.now
        ctx.touch(entry)
        ctx.log("arrive", entry)
    return entry_result(entry)


@action("confirm_arrival", "participant", (), "Confirm you are at your spot.")
def confirm_arrival(ctx, who, args):
    """The caller is at the spot."""
    return _arrive(ctx, own_entry(ctx, who, ("called", "on_spot")))


@action("finish", "participant", (), "Finish your turn early and hand over.")
def finish(ctx, who, args):
    """On the spot to done."""
    entry = own_entry(ctx, who, ("on_spot", "done"))
    if entry.state == "on_spot":
        ln.finish(ctx, entry, "done", "finish")
    return entry_result(entry)


@action("delete_me", "participant", (), "Delete everything stored about you now.")
def delete_me(ctx, who, args):
    """Remove the caller's entries and token; the spot is freed if they held one."""
    if who.participant_id is None:
        return {"deleted": True}
    entries = list(ctx.session.scalars(select(Entry).where(Entry.participant_id == who.participant_id)))
    tickets = [e.ticket for e in entries]
    for e in entries:
        if e.state in LIVE_STATES + ("pending",):
            ln.finish(ctx, e, "left", "leave")
    ctx.session.flush()
    if tickets:  # the log keeps that something happened, not to whom
        for row in ctx.logs:
            if row.ticket in tickets:
                row.ticket = None
        ctx.session.execute(LogRow.__table__.update().where(LogRow.event_id == ctx.event.id,
                                                            LogRow.ticket.in_(tickets)).values(ticket=None))
    ctx.session.execute(delete(Entry).where(Entry.participant_id == who.participant_id))
    ctx.session.execute(delete(Participant).where(Participant.id == who.participant_id))
    ctx.session.execute(delete(Connection).where(Connection.token_hash == who.token_hash))  # its open sockets' rows
    # Stored answers (tickets, entry ids) would tie this token to the scrubbed log: forget them too.
    ctx.session.execute(delete(Operation).where(Operation.event_id == ctx.event.id,
                                                Operation.actor == who.actor_key))
    ctx.touched.discard(who.participant_id)
    ctx.changed = True
    ctx.logs.append(LogRow(event_id=ctx.event.id, at=ctx.now, actor="participant", action="delete_me", detail=""))
    ctx.participant_id = None
    return {"deleted": True}


@action("set_push", "participant", ("subscription",), "Store (or with null, forget) this phone's Web Push subscription.")
def set_push(ctx, who, args):
    """Save a Web Push subscription for calls while the page is in the background."""
    if who.participant_id is None:
        raise DomainError("Join the line first.", "not_in_line")
    sub = args.get("subscription")
    participant = ctx.session.get(Participant, who.participant_id)
    if sub is None:
        participant.push = None
    else:
        sub = v.only_fields(sub, {"endpoint", "keys", "expirationTime"}, "subscription")
        endpoint = sub.get("endpoint")
        keys = v.only_fields(sub.get("keys"), {"p256dh", "auth"}, "keys")
        if not isinstance(endpoint, str) or not endpoint.startswith(("https://", "http://")) or len(endpoint) > 1000:
            raise BadRequest("'endpoint' must be an http(s) URL.")
        for k in ("p256dh", "auth"):
            if not isinstance(keys.get(k), str) or not 8 <= len(keys[k]) <= 200:
                raise BadRequest(f"'keys.{k}' is missing or malformed.")
        participant.push = json.dumps({"endpoint": endpoint, "keys": {"p256dh": keys["p256dh"], "auth": keys["auth"]}})
    ctx.changed = True
    return {"push": sub is not None}


# ---------------------------------------------------------------- coordinator actions: the event

@action("open", "coordinator", (), "Open the line for joining.")
def open_event(ctx, who, args):
    """Draft to open."""
    need_state(ctx, "draft", "open")
    if ctx.event.state == "draft":
        ctx.event.state = "open"
        ctx.log("open")
    return {"state": ctx.event.state}


@action("start", "coordinator", (), "Start calling people to the spots.")
def start(ctx, who, args):
    """Draft or open to live."""
    need_state(ctx, "draft", "open", "live")
    if ctx.event.state != "live":
        ctx.event.state, ctx.event.started_at = "live", ctx.event.started_at or ctx.now
        ctx.log("start_event")
    return {"state": ctx.event.state}


@action("pause", "coordinator", (), "Pause: no calls, and every countdown stops.")
def pause(ctx, who, args):
    """Live to paused; deadlines freeze."""
    need_state(ctx, "live", "paused")
    if ctx.event.state == "live":
        _pause(ctx)
    return {"state": ctx.event.state}


def _pause(ctx) -> None:
    """Freeze the event's clock."""
    ctx.event.state, ctx.event.paused_at = "paused", ctx.now
    ctx.log("pause")


@action("resume", "coordinator", (), "Resume after a pause; countdowns continue where they stopped.")
def resume(ctx, who, args):
    """Paused to live; every deadline moves by the length of the pause."""
    need_state(ctx, "paused", "live")
    if ctx.event.state == "paused":
        shift = ctx.now - (ctx.event.paused_at or ctx.now)
        for e in ctx.session.scalars(select(Entry).where(Entry.event_id == ctx.event.id,
                                                         Entry.state.in_(("called", "on_spot")))):
            if e.deadline_at is not None:
                e.deadline_at += shift
            if e.ends_at is not None:
                e.ends_at += shift
            ctx.touch(e)
        ctx.event.state, ctx.event.paused_at = "live", None
        ctx.log("resume")
    return {"state": ctx.event.state}


@action("end", "coordinator", (), "End the event; its data is deleted after the configured time.")
def end(ctx, who, args):
    """Any state to ended; people still in line leave, the one on a spot is done."""
    if ctx.event.state != "ended":
        with ctx.as_system():  # a consequence of the end, not something each person or the coordinator did
            for e in ctx.session.scalars(select(Entry).where(Entry.event_id == ctx.event.id,
                                                             Entry.state.in_(LIVE_STATES))):
                ln.finish(ctx, e, "done" if e.state == "on_spot" else "left", "event_end")
        ctx.event.state, ctx.event.ended_at, ctx.event.paused_at = "ended", ctx.now, None
        ctx.event.purge_at = ctx.now + ctx.event.purge_after_ms
        ctx.log("end")
    return {"state": "ended", "purge_at": ctx.event.purge_at}


# ---------------------------------------------------------------- coordinator actions: the line

@action("call_next", "coordinator", ("spot", "entry"), "Call the next person (or a chosen one) to a spot.")
def call_next(ctx, who, args):
    """Call someone to a spot that has nobody called to it; a stale call is refused, never doubled."""
    need_state(ctx, "live")
    on, called = ln.holders(ctx)
    spots = ln.active_spots(ctx)
    if "spot" in args:
        spot_id = v.integer(args["spot"], "spot", 1, 2**62)
        spot = next((s for s in spots if s.id == spot_id), None)
        if spot is None:
            raise NotFound("No such spot.")
        if spot.id in called:
            raise DomainError(f"Someone is already called to spot {spot.label}.", "no_free_spot")
    else:
        free = [s for s in spots if s.id not in called]
        free.sort(key=lambda s: (s.id in on, on[s.id].ends_at if s.id in on else 0))
        if not free:
            raise DomainError("Every spot already has someone called to it.", "no_free_spot")
        spot = free[0]
    if "entry" in args:
        entry = entry_arg(ctx, args, LINE_STATES)
    else:
        entry = ln.next_waiting(ctx)
        if entry is None:
            raise DomainError("Nobody is waiting.", "not_in_line")
    cur = on.get(spot.id)
    remember_for_undo(ctx, entry)
    ln.call(ctx, entry, spot, cur.ends_at if cur else None)
    return entry_result(entry) | {"spot": {"id": spot.id, "label": spot.label}}  # the one shape of a spot


@action("skip", "coordinator", ("entry",), "Let the next person go first (a called person goes back to 2nd place).")
def skip(ctx, who, args):
    """Move a person one place back, or uncall them."""
    entry = entry_arg(ctx, args, ("waiting", "away", "called"))
    remember_for_undo(ctx, entry)
    if entry.state == "called":
        ln.clear_call(entry)
        entry.state = "waiting"
        ctx.session.flush()
        ln.place(ctx, entry, 2)
    else:  # one place further back than where it stands now (a COUNT, not the whole line)
        ln.place(ctx, entry, ln.count_ahead(ctx.session, ctx.event.id, (entry.rank, entry.id)) + 2)
    ctx.touch(entry)
    ctx.log("skip", entry)
    return entry_result(entry)


@action("move", "coordinator", ("entry", "to"), "Move a person to a position in line (1 is the front).")
def move(ctx, who, args):
    """Reorder the line."""
    entry = entry_arg(ctx, args, LINE_STATES)
    to = v.integer(args.get("to"), "to", 1, 100_000)
    ln.place(ctx, entry, to)
    ctx.touch(entry)
    ctx.log("move", entry, str(to))
    return entry_result(entry) | {"to": to}


@action("remove", "coordinator", ("entry",), "Remove a person from the line or their spot.")
def remove(ctx, who, args):
    """Any live state (or a request waiting to be admitted) to removed."""
    entry = entry_arg(ctx, args, LIVE_STATES + ("pending",))
    remember_for_undo(ctx, entry)
    ln.finish(ctx, entry, "removed", "remove")
    return entry_result(entry)


@action("undo", "coordinator", ("op",), "Undo your own call, skip or removal (named by its op), if nothing changed "
                                        "since.")
def undo(ctx, who, args):
    """Put the person back exactly as they were before that action: guarded by the event's version, so an undo
    never overwrites a later change; idempotent through its own op."""
    op = v.op_id(args.get("op"))
    row = ctx.session.scalars(select(Operation).where(Operation.event_id == ctx.event.id,
                                                      Operation.actor == who.actor_key, Operation.op == op)).first()
    if row is None:
        raise NotFound("No such action of yours to undo.")
    data = json.loads(row.result)
    saved = data.get("undo") if isinstance(data, dict) else None
    if not saved:
        raise Conflict("That action cannot be undone here; put it right by hand.")
    if data.get("v") != ctx.event.version or ctx.changed:
        raise Conflict("Something changed since; that action cannot be undone any more. Put it right by hand.")
    entry = ctx.session.get(Entry, saved["entry"])
    if entry is None or entry.event_id != ctx.event.id:
        raise NotFound("That person's data was deleted.")
    for k in UNDO_FIELDS:
        setattr(entry, k, saved[k])
    ctx.event.calls, ctx.event.held = saved["calls"], saved["held"]
    ctx.session.flush()
    if saved["position"]:
        ln.place(ctx, entry, saved["position"])
    ctx.touch(entry)
    ctx.log("undo", entry, data.get("action", ""))
    return entry_result(entry) | {"undone": data.get("action")}


@action("add_walk_in", "coordinator", ("pseudonym", "to"), "Add a person without a phone.")
def add_walk_in(ctx, who, args):
    """A coordinator-managed entry, at the end or at a position."""
    name = v.pseudonym(args.get("pseudonym"))
    to = v.integer(args["to"], "to", 1, 100_000) if "to" in args else None
    entry = new_entry(ctx, name, None, to)
    ctx.log("walk_in", entry)
    return entry_result(entry)


@action("recall", "coordinator", ("entry", "to"), "Bring a person who missed their call back into line.")
def recall(ctx, who, args):
    """Missed (or left/removed) to waiting, at the front unless told otherwise."""
    entry = entry_arg(ctx, args, ("missed", "left", "removed"))
    need_state(ctx, "open", "live", "paused")
    to = v.integer(args["to"], "to", 1, 100_000) if "to" in args else 1
    if entry.participant_id and ctx.session.scalars(select(Entry).where(
            Entry.participant_id == entry.participant_id, Entry.state.in_(LIVE_STATES))).first():
        raise Conflict("That person is already in line again.")
    entry.state, entry.finished_at = "waiting", None
    ln.clear_call(entry)
    ctx.session.flush()
    ln.place(ctx, entry, to)
    ctx.touch(entry)
    ctx.log("recall", entry)
    return entry_result(entry)


@action("confirm_arrival", "coordinator", ("entry",), "Confirm that a called person is at their spot.")
def coord_arrive(ctx, who, args):
    """On behalf of a walk-in or a person without signal."""
    return _arrive(ctx, entry_arg(ctx, args, ("called", "on_spot")))


@action("finish", "coordinator", ("entry",), "End a person's slot now.")
def coord_finish(ctx, who, args):
    """On the spot to done."""
    entry = entry_arg(ctx, args, ("on_spot", "done"))
    if entry.state == "on_spot":
        ln.finish(ctx, entry, "done", "finish")
    return entry_result(entry)


@action("detain", "coordinator", ("entry", "note", "pause"), "Record a detention; frees the spot at once.")
def detain(ctx, who, args):
    """Any live state to detained, with the time and an optional note (e.g. the police station)."""
    entry = entry_arg(ctx, args, LIVE_STATES + ("done",))
    note = v.plain_text(args.get("note", ""), "note", 200, allow_empty=True)
    do_pause = v.boolean(args["pause"], "pause") if "pause" in args else ctx.event.pause_on_detain
    if entry.state == "done":  # detained right after handing over
        entry.state = "detained"
        ctx.touch(entry)
        ctx.log("detain", entry)
    else:
        ln.finish(ctx, entry, "detained", "detain")
    entry.note = note or None
    ctx.event.detained += 1
    if do_pause and ctx.event.state == "live":
        _pause(ctx)
    return entry_result(entry) | {"paused": ctx.event.state == "paused"}


@action("message", "coordinator", ("entry", "text"), "Send a short message to one person (shown on their phone).")
def message(ctx, who, args):
    """The latest message to this person replaces the one before; it reaches their phone only."""
    entry = entry_arg(ctx, args, LIVE_STATES)
    text = v.plain_text(args.get("text"), "text", 280)
    if entry.participant_id is None:
        raise Conflict("This person has no phone in the line (a walk-in); tell them in person.")
    entry.message, entry.message_at = text, ctx.now
    ctx.touch(entry)
    ctx.log("message", entry)  # that a message went, not what it said
    return entry_result(entry)


@action("broadcast", "coordinator", ("text",), "Send a short message to everyone in the event.")
def broadcast(ctx, who, args):
    """Store an announcement; it is pushed to every client."""
    text = v.plain_text(args.get("text"), "text", 280)
    row = Announcement(event_id=ctx.event.id, at=ctx.now, text=text)
    ctx.session.add(row)
    ctx.session.flush()
    ctx.announcement = {"id": row.id, "at": row.at, "text": row.text}
    ctx.log("broadcast", None, text[:80])
    return {"announcement": row.id}


SETTINGS = {
    "slot_ms": (60_000, 3_600_000), "grace_ms": (15_000, 1_800_000), "lead_ms": (0, 1_800_000),
    "max_queue": (1, 10_000), "ready_at": (1, 20), "miss_back": (0, 50), "purge_after_ms": (0, 7 * 86_400_000),
    "unreachable_ms": (10_000, 1_800_000), "flood_per_min": (3, 10_000),
}
FLAGS = ("show_pseudonyms", "auto_call", "pause_on_detain", "board_qr", "joining_paused")
GATES = ("open", "onsite", "approval")


def apply_settings(event, args: dict) -> list[str]:
    """Check and set event settings; returns the names changed."""
    changed = []
    for key, (lo, hi) in SETTINGS.items():
        if key in args:
            setattr(event, key, v.integer(args[key], key, lo, hi))
            changed.append(key)
    for key in FLAGS:
        if key in args:
            setattr(event, key, v.boolean(args[key], key))
            changed.append(key)
    if "gate" in args:
        if args["gate"] not in GATES:
            raise BadRequest("'gate' must be one of: " + ", ".join(GATES) + ".")
        event.gate = args["gate"]
        changed.append("gate")
    if "title" in args:
        event.title = v.plain_text(args["title"], "title", 120)
        changed.append("title")
    if "location" in args:
        event.location = v.plain_text(args["location"], "location", 200, allow_empty=True)
        changed.append("location")
    return changed


@action("settings", "coordinator", tuple(SETTINGS) + FLAGS + ("gate", "title", "location"),
        "Change settings live; a new slot length applies to slots that start afterwards.")
def settings(ctx, who, args):
    """Change event settings."""
    changed = apply_settings(ctx.event, args)
    if ctx.event.state == "ended" and "purge_after_ms" in changed:
        ctx.event.purge_at = ctx.event.ended_at + ctx.event.purge_after_ms
    if changed:
        ctx.log("settings", None, ",".join(changed))
    return {"changed": changed}


def spot_labels(value) -> list[dict]:
    """A list of spots: [{id?, label}]"""
    if not isinstance(value, list) or not 1 <= len(value) <= 20:
        raise BadRequest("'spots' must be a list of 1 to 20 spots.")
    out = []
    for item in value:
        item = v.only_fields(item, {"id", "label"}, "spot")
        out.append({"id": v.integer(item["id"], "id", 1, 2**62) if "id" in item else None,
                    "label": v.plain_text(item.get("label"), "label", 40)})
    return out


@action("spots", "coordinator", ("spots",), "Rename, add or retire spots (a busy spot cannot be retired).")
def spots(ctx, who, args):
    """Set the list of spots."""
    wanted = spot_labels(args.get("spots"))
    current = {s.id: s for s in ctx.session.scalars(select(Spot).where(Spot.event_id == ctx.event.id))}
    on, called = ln.holders(ctx)
    keep = {w["id"] for w in wanted if w["id"]}
    if keep - set(current):
        raise NotFound("No such spot.")
    for sid, spot in current.items():
        if sid not in keep and spot.active:
            if sid in on or sid in called:
                raise Conflict(f"Spot {spot.label} is busy; free it before retiring it.")
            spot.active = False
    for i, w in enumerate(wanted):
        spot = current[w["id"]] if w["id"] else Spot(event_id=ctx.event.id)
        spot.label, spot.sort, spot.active = w["label"], i, True
        ctx.session.add(spot)
    ctx.session.flush()
    ctx.spots = None  # what the rest of the transaction reads as the active spots
    ctx.log("spots", None, ",".join(w["label"] for w in wanted))
    return {"spots": len(wanted)}


# ---------------------------------------------------------------- coordinator actions: gates and floods (issue 8)

def _admit(ctx, entry: Entry) -> None:
    """A request into the line, at its end."""
    if ln.line_len_at_least(ctx, ctx.event.max_queue):
        raise DomainError("The line is full.", "queue_full")
    entry.state = "waiting"
    ctx.session.flush()
    ln.place(ctx, entry, None)
    ctx.touch(entry)


@action("admit", "coordinator", ("entry",), "Let a person waiting to be admitted into the line (at its end).")
def admit(ctx, who, args):
    """Pending to waiting."""
    need_state(ctx, "open", "live", "paused")
    entry = entry_arg(ctx, args, ("pending",))
    _admit(ctx, entry)
    ctx.log("admit", entry)
    return entry_result(entry)


@action("admit_all", "coordinator", (), "Let everyone waiting to be admitted into the line, in the order they asked.")
def admit_all(ctx, who, args):
    """Every pending request to waiting, oldest first; one log line."""
    need_state(ctx, "open", "live", "paused")
    pending = list(ctx.session.scalars(select(Entry).where(Entry.event_id == ctx.event.id, Entry.state == "pending")
                                       .order_by(Entry.joined_at, Entry.id)))
    for entry in pending:
        _admit(ctx, entry)
    if pending:
        ctx.log("admit_all", None, str(len(pending)))
    return {"admitted": len(pending)}


@action("new_code", "coordinator", (), "Change the on-site join code now; every earlier code stops working.")
def new_code(ctx, who, args):
    """Bump the gate epoch."""
    ctx.event.gate_epoch += 1
    ctx.log("new_code")
    return {"epoch": ctx.event.gate_epoch}


BULK_SELECTIONS = ("joined", "never_live", "offline")


def bulk_selection(ctx, args: dict) -> list[Entry]:
    """The people a bulk removal would take: in line or waiting to be admitted (never the ones called or on a spot,
    never walk-ins), chosen by when they joined, by never having opened a live page, or by being offline now."""
    sel = args.get("select")
    if sel not in BULK_SELECTIONS:
        raise BadRequest("'select' must be one of: " + ", ".join(BULK_SELECTIONS) + ".")
    q = (select(Entry).where(Entry.event_id == ctx.event.id, Entry.state.in_(LINE_STATES + ("pending",)),
                             Entry.participant_id.is_not(None)))
    if sel == "joined":
        since = v.integer(args.get("since"), "since", 0, 2**62)
        until = v.integer(args.get("until"), "until", since, 2**62)
        q = q.where(Entry.joined_at >= since, Entry.joined_at <= until)
    elif sel == "never_live":
        q = q.where(Entry.participant_id.in_(select(Participant.id).where(Participant.event_id == ctx.event.id,
                                                                          Participant.live_at.is_(None))))
    else:
        online = select(Participant.id).where(Participant.event_id == ctx.event.id, Participant.token_hash.in_(
            select(Connection.token_hash).where(Connection.event_id == ctx.event.id)))
        q = q.where(Entry.participant_id.not_in(online))
    return list(ctx.session.scalars(q.order_by(Entry.rank, Entry.id)))


@action("remove_bulk", "coordinator", ("select", "since", "until", "dry_run"),
        "Remove many at once: who joined in a time window, who never opened a live page, or who is offline now. "
        "With dry_run: only count them. One log line; undo_bulk brings them back.")
def remove_bulk(ctx, who, args):
    """Line or pending entries to removed, all at one time (that time names the batch for undo_bulk)."""
    entries = bulk_selection(ctx, args)
    if "dry_run" in args and v.boolean(args["dry_run"], "dry_run"):
        return {"count": len(entries), "dry_run": True}
    for e in entries:
        e.state, e.finished_at, e.deadline_at = "removed", ctx.now, None
        ctx.touch(e)
    if entries:
        ctx.log("remove_bulk", None, f"{args['select']}:{len(entries)}")
    return {"count": len(entries), "removed": len(entries), "batch": ctx.now}


@action("undo_bulk", "coordinator", ("batch",), "Bring back everyone a bulk removal took (its `batch`), in their "
        "old order, if they are not in line again.")
def undo_bulk(ctx, who, args):
    """Removed entries of one batch back to waiting, keeping their ranks (the order they had)."""
    need_state(ctx, "open", "live", "paused")
    batch = v.integer(args.get("batch"), "batch", 0, 2**62)
    entries = list(ctx.session.scalars(select(Entry).where(Entry.event_id == ctx.event.id, Entry.state == "removed",
                                                           Entry.finished_at == batch)))
    back = 0
    for e in entries:
        again = ctx.session.scalars(select(Entry.id).where(
            Entry.participant_id == e.participant_id, Entry.id != e.id,
            Entry.state.in_(LIVE_STATES + ("pending",)))).first()
        if again is None:
            e.state, e.finished_at = "waiting", None
            ctx.touch(e)
            back += 1
    if back:
        ctx.log("undo_bulk", None, str(back))
    return {"restored": back}


# ---------------------------------------------------------------- coordinator actions: the team

@action("invite", "coordinator", ("label",), "Create a co-coordinator link (owner only).", owner_only=True)
def invite(ctx, who, args):
    """A new coordinator token, shown once."""
    label = v.plain_text(args.get("label"), "label", 40)
    token = new_token()
    row = Coordinator(event_id=ctx.event.id, label=label, token_hash=hash_token(token), owner=False,
                      created_at=ctx.now)
    ctx.session.add(row)
    ctx.session.flush()
    ctx.log("invite", None, label)
    return {"coordinator": row.id, "token": token}


@action("revoke", "coordinator", ("coordinator",), "Revoke a co-coordinator (owner only).", owner_only=True)
def revoke(ctx, who, args):
    """The revoked coordinator loses access at once."""
    cid = v.integer(args.get("coordinator"), "coordinator", 1, 2**62)
    row = ctx.session.get(Coordinator, cid)
    if row is None or row.event_id != ctx.event.id:
        raise NotFound("No such coordinator.")
    if row.owner:
        raise Forbidden("The owner cannot be revoked.")
    if row.revoked_at is None:
        row.revoked_at = ctx.now
        ctx.log("revoke", None, row.label)
    return {"coordinator": cid, "revoked": True}
