"""The one place that turns database rows into the payloads clients see, per role.

Observers and participants get the same public block (never a pseudonym unless the event shows them to observers,
and then only observers get them); a participant additionally gets its own `me` block; coordinators get everything.
"""
from __future__ import annotations

import hashlib

import orjson
from sqlalchemy import and_, bindparam, exists, func, select
from sqlalchemy.orm import Session

from . import estimates
from .line import ACTIVE_SPOTS, add_move, count_ahead, own_entry
from .models import (LINE_STATES, LIVE_STATES, SPOT_STATES, Announcement, Connection, Coordinator, Entry, Event,
                     LogRow, Participant, Spot)

EVENT_FIELDS = ("slug", "title", "location", "lat", "lon", "state", "slot_ms", "grace_ms", "lead_ms", "max_queue",
                "ready_at", "show_pseudonyms", "paused_at", "ended_at", "purge_at", "board_qr", "gate", "joining_paused")
ENTRY_TIMES = ("joined_at", "called_at", "deadline_at", "arrived_at", "started_at", "ends_at", "finished_at")

# Payloads read plain rows of the columns they show (Core selects): no ORM objects, no identity map, which matters
# when the console lists a line of thousands after every change.
E, P = Entry.__table__.c, Participant.__table__.c
EVENT_ID = bindparam("event_id")
ENTRY_COLUMNS = (E.id, E.ticket, E.pseudonym, E.state, E.spot_id, *(E[k] for k in ENTRY_TIMES), E.misses,
                 E.participant_id, E.note, E.late_min, E.late_at)
# A participant's flags as the console shows them, on each entry row (a LEFT JOIN: walk-ins have no participant).
# Online: some server process holds an open socket of this phone (any tab).
C = Connection.__table__.c
PARTICIPANT_FLAGS = (exists().where(C.token_hash == P.token_hash).label("online"),
                     P.last_seen_at.label("last_seen_at"),
                     and_(P.push.is_not(None), P.push != "").label("push"))


# Selects that every change runs (for the public block), built once.
HOLDER_ROWS = select(E.spot_id, E.state, E.ticket, E.pseudonym, E.deadline_at, E.arrived_at, E.ends_at).where(
    E.event_id == EVENT_ID, E.state.in_(SPOT_STATES))
OBSERVED = (select(E.started_at, E.finished_at)
            .where(E.event_id == EVENT_ID, E.state == "done", E.started_at.is_not(None))
            .order_by(E.finished_at.desc()).limit(50))  # the latest 50 slots held
LINE_COUNTS = select(E.state, func.count()).where(E.event_id == EVENT_ID,
                                                  E.state.in_(LINE_STATES)).group_by(E.state)
NEXT_UP = 3  # tickets the board shows as "next up"
NEXT_TICKETS = (select(E.ticket).where(E.event_id == EVENT_ID, E.state == "waiting")
                .order_by(E.rank, E.id).limit(NEXT_UP))


def _spots(session: Session, ev: Event) -> list[Spot]:
    """Active spots in display order."""
    return list(session.scalars(ACTIVE_SPOTS, {"event_id": ev.id}))


def _holders(session: Session, ev: Event, rows=None) -> tuple[dict, dict]:
    """Per spot id: the entry row on it, and the entry row called to it (from `rows` of SPOT_STATES when given)."""
    if rows is None:
        rows = session.execute(HOLDER_ROWS, {"event_id": ev.id})
    on, called = {}, {}
    for e in rows:
        (on if e.state == "on_spot" else called)[e.spot_id] = e
    return on, called


def estimate_params(session: Session, ev: Event, now: int, spots=None, on=None, called=None) -> dict:
    """What a client needs to estimate its own wait from its position."""
    observed = [f - s for s, f in session.execute(OBSERVED, {"event_id": ev.id}) if f is not None and f > s]
    model = estimates.turn_model(ev.slot_ms, ev.grace_ms, observed, ev.calls, ev.noshows)
    if spots is None:
        spots = _spots(session, ev)
        on, called = _holders(session, ev)
    free_at = []
    base = ev.paused_at if ev.state == "paused" and ev.paused_at else now
    for spot in spots:
        cur, nxt = on.get(spot.id), called.get(spot.id)
        t = max(cur.ends_at, base) if cur else base
        if nxt:
            t += model["turn_ms"]
        free_at.append(t)
    return model | {"lead_ms": ev.lead_ms, "free_at": free_at}


def line_counts(session: Session, ev: Event) -> dict:
    """How many wait in line, and how many of them stepped away."""
    counts = {"waiting": 0, "away": 0}
    for state, n in session.execute(LINE_COUNTS, {"event_id": ev.id}):
        counts[state] = n
    return counts


def public(session: Session, ev: Event, now: int, names: bool = False) -> dict:
    """The block everyone in the event may see (`names`: with the pseudonyms of the people on the spots)."""
    plain, named = public_blocks(session, ev, now)
    return named if names else plain


def public_blocks(session: Session, ev: Event, now: int, counts: dict | None = None, spots=None,
                  holders=None) -> tuple[dict, dict]:
    """The public block without and with pseudonyms on the spots, from one set of queries.

    `counts` ({"waiting", "away"}), `spots` (active, in order) and `holders` (as `_holders` returns them) may be
    given by a caller that already has them.
    """
    spots = _spots(session, ev) if spots is None else spots
    on, called = _holders(session, ev) if holders is None else holders
    counts = line_counts(session, ev) if counts is None else counts
    est = estimate_params(session, ev, now, spots, on, called)
    line = counts["waiting"] + counts["away"]
    eta_new = estimates.eta(line + 1, est, base_now(ev, now))
    through = estimates.through_at(line, est, base_now(ev, now)) if ev.state in ("open", "live", "paused") else None
    next_up = list(session.scalars(NEXT_TICKETS, {"event_id": ev.id})) if counts["waiting"] else []

    def block(names: bool) -> dict:
        """One variant; each gets its own dicts, so a caller may change one without touching the other."""
        spot_rows = []
        for s in spots:
            cur, nxt = on.get(s.id), called.get(s.id)
            spot_rows.append({
                "id": s.id, "label": s.label, "status": "busy" if cur else ("called" if nxt else "free"),
                "ticket": cur.ticket if cur else None, "name": cur.pseudonym if cur and names else None,
                "ends_at": cur.ends_at if cur else None,
                "called_ticket": nxt.ticket if nxt else None, "called_until": nxt.deadline_at if nxt else None,
                "called_arrived": bool(nxt and nxt.arrived_at),
            })
        return {
            "event": {k: getattr(ev, k) for k in EVENT_FIELDS},
            "spots": spot_rows,
            "counts": {"line": line, "waiting": counts["waiting"], "away": counts["away"], "held": ev.held,
                       "detained": ev.detained, "noshow": ev.noshows, "calls": ev.calls},
            "est": est | {"free_at": list(est["free_at"])},
            "eta_new": dict(eta_new),
            "next": list(next_up), "through_at": through,
        }

    return block(False), block(True)


def base_now(ev: Event, now: int) -> int:
    """A paused event's estimates are frozen at the moment it paused."""
    return ev.paused_at if ev.state == "paused" and ev.paused_at else now


_A = Announcement.__table__.c
LATEST_ANNOUNCEMENTS = select(_A.id, _A.at, _A.text).where(_A.event_id == EVENT_ID).order_by(_A.id.desc()).limit(5)


def announcements(session: Session, ev: Event) -> list[dict]:
    """The latest 5 announcements, newest first."""
    return [{"id": i, "at": at, "text": text}
            for i, at, text in session.execute(LATEST_ANNOUNCEMENTS, {"event_id": ev.id})]


def position_of(session: Session, ev: Event, entry: Entry) -> int | None:
    """1-based place in line, or None when not in line (a COUNT of those ahead, not a walk through the line)."""
    if entry.state not in LINE_STATES:
        return None
    return count_ahead(session, ev.id, (entry.rank, entry.id)) + 1


def me(session: Session, ev: Event, participant_id: int | None, now: int, est: dict | None = None) -> dict | None:
    """A participant's own view of their live (else latest) entry."""
    if participant_id is None:
        return None
    entry = own_entry(session, participant_id)
    if entry is None:
        return None
    participant = session.get(Participant, participant_id)
    pos = position_of(session, ev, entry)
    spot = session.get(Spot, entry.spot_id) if entry.spot_id else None
    if est is None:
        est = estimate_params(session, ev, now)
    return {
        "id": entry.id, "ticket": entry.ticket, "pseudonym": entry.pseudonym, "state": entry.state,
        "position": pos, "ahead": pos - 1 if pos else None, "misses": entry.misses,
        "spot": {"id": spot.id, "label": spot.label} if spot else None,
        **{k: getattr(entry, k) for k in ENTRY_TIMES},
        "eta": estimates.eta(pos, est, base_now(ev, now)) if pos else None,
        "push": bool(participant and participant.push),
        "message": {"text": entry.message, "at": entry.message_at} if entry.message else None,
        "late": {"minutes": entry.late_min, "at": entry.late_at} if entry.late_min else None,
    }


def entry_row(e: tuple, position: int | None, spot_labels: dict) -> dict:
    """A person as coordinators see them, from a row of ENTRY_COLUMNS + PARTICIPANT_FLAGS (unpacked: it is the
    console's inner loop, and a row's attributes cost more than its items)."""
    (entry_id, ticket, pseudonym, state, spot_id, joined_at, called_at, deadline_at, arrived_at, started_at, ends_at,
     finished_at, misses, participant_id, note, late_min, late_at, online, last_seen_at, push) = e
    return {
        "id": entry_id, "ticket": ticket, "pseudonym": pseudonym, "state": state, "position": position,
        "spot": {"id": spot_id, "label": spot_labels.get(spot_id)} if spot_id else None,
        "joined_at": joined_at, "called_at": called_at, "deadline_at": deadline_at, "arrived_at": arrived_at,
        "started_at": started_at, "ends_at": ends_at, "finished_at": finished_at,
        "misses": misses, "walk_in": participant_id is None, "note": note,
        "online": bool(online), "last_seen_at": last_seen_at, "push": bool(push),
        "late": {"minutes": late_min, "at": late_at} if late_min else None,
    }


def _entry_rows(*where):
    """Entry rows with their participant's flags (a Core select)."""
    return (select(*ENTRY_COLUMNS, *PARTICIPANT_FLAGS)
            .select_from(Entry.__table__.outerjoin(Participant.__table__, P.id == E.participant_id)).where(*where))


# The console lists the first LINE_WINDOW people in line; the rest are counted (public.counts.line) and found by
# ticket or name (`find_in_line`). A view of the whole line cost the server more per change than sending the change
# to every phone did (27 % of its CPU at 1,000 people, docs/benchmarks.md), and a coordinator's phone cannot show
# thousands of rows anyway.
LINE_WINDOW = 100

# The console's selects, built once (they run after every change): the first LINE_WINDOW people in line, and the
# people called to or on a spot, each in line order; the latest 200 who are done (equal times: in line order, as a
# stable sort of the line would leave them); the log with the pseudonym of each row's ticket (null once its owner
# deleted their data).
LINE_ROWS = _entry_rows(E.event_id == EVENT_ID, E.state.in_(LINE_STATES)).order_by(E.rank, E.id).limit(LINE_WINDOW)
SPOT_ROWS = _entry_rows(E.event_id == EVENT_ID, E.state.in_(SPOT_STATES)).order_by(E.rank, E.id)
REQUEST_ROWS = _entry_rows(E.event_id == EVENT_ID, E.state == "pending").order_by(E.joined_at, E.id).limit(500)
PAST_ROWS = (_entry_rows(E.event_id == EVENT_ID, E.state.not_in(LIVE_STATES + ("pending",)))
             .order_by(func.coalesce(E.finished_at, 0).desc(), E.rank, E.id).limit(200))
_named = Entry.__table__.alias("named")
LOG_ROWS = (select(LogRow.id, LogRow.at, LogRow.actor, LogRow.action, LogRow.ticket, _named.c.pseudonym, LogRow.detail)
            .select_from(LogRow.__table__.outerjoin(_named, and_(_named.c.event_id == LogRow.event_id,
                                                                 _named.c.ticket == LogRow.ticket)))
            .where(LogRow.event_id == EVENT_ID).order_by(LogRow.id.desc()).limit(100))

_S = Spot.__table__.c
ALL_SPOTS = select(_S.id, _S.label, _S.active).where(_S.event_id == EVENT_ID).order_by(_S.sort, _S.id)
# Joins by phone in the last minute (the flood alarm), from the (event_id, joined_at) index.
RECENT_JOINS = select(func.count(E.id)).where(E.event_id == EVENT_ID, E.joined_at > bindparam("since"),
                                              E.participant_id.is_not(None))
# Where "Remove the flood…" starts: the first join since `since` still in line or waiting to be admitted.
FLOOD_FROM = select(func.min(E.joined_at)).where(E.event_id == EVENT_ID, E.joined_at > bindparam("since"),
                                                 E.state.in_(LINE_STATES + ("pending",)))

_K = Coordinator.__table__.c
# The event's coordinators, each online when some server process holds an open socket of theirs.
TEAM_ROWS = (select(_K.id, _K.label, _K.owner, _K.revoked_at, _K.last_seen_at,
                    exists().where(C.coordinator_id == _K.id).label("online"))
             .where(_K.event_id == EVENT_ID).order_by(_K.id))


def coordinator(session: Session, ev: Event, now: int, coordinator_id: int | None, public: dict | None = None) -> dict:
    """Everything coordinators need to run the line. `public`: the event's public block with the pseudonyms on the
    spots, when the caller has it at the event's current version (else it is built here)."""
    all_spots = session.execute(ALL_SPOTS, {"event_id": ev.id}).all()
    labels = {s.id: s.label for s in all_spots}
    line = [entry_row(e, i, labels) for i, e in enumerate(session.execute(LINE_ROWS, {"event_id": ev.id}), start=1)]
    at_spots = session.execute(SPOT_ROWS, {"event_id": ev.id}).all()
    active = [entry_row(e, None, labels) for e in at_spots]
    past = session.execute(PAST_ROWS, {"event_id": ev.id})
    log = [{"id": i, "at": at, "actor": actor, "action": action, "ticket": ticket, "pseudonym": pseudonym,
            "detail": detail}
           for i, at, actor, action, ticket, pseudonym, detail in session.execute(LOG_ROWS, {"event_id": ev.id})]
    me_row = session.get(Coordinator, coordinator_id) if coordinator_id else None
    team = [{"id": c.id, "label": c.label, "owner": c.owner, "online": bool(c.online),
             "revoked": c.revoked_at is not None, "last_seen_at": c.last_seen_at}
            for c in session.execute(TEAM_ROWS, {"event_id": ev.id})]
    if public is None:
        _, public = public_blocks(session, ev, now, None, [s for s in all_spots if s.active],
                                  _holders(session, ev, at_spots))
    view = {
        "role": "coordinator", "v": ev.version, "server_now": now,
        "public": public,
        "announcements": announcements(session, ev),
        "me": {"id": me_row.id, "label": me_row.label, "owner": me_row.owner} if me_row else None,
        "settings": {k: getattr(ev, k) for k in ("slot_ms", "grace_ms", "lead_ms", "max_queue", "ready_at",
                                                  "miss_back", "show_pseudonyms", "auto_call", "pause_on_detain",
                                                  "purge_after_ms")},
        "all_spots": [{"id": s.id, "label": s.label, "active": s.active} for s in all_spots],
        "line": line, "active": active, "past": [entry_row(e, None, labels) for e in past], "log": log, "team": team,
        **joining(session, ev, now, labels),
    }
    view["key"] = console_key(view)  # what a `console` patch names as its base (console_message)
    return view


LINE_NAMES = (select(E.id, E.ticket, E.pseudonym).where(E.event_id == EVENT_ID, E.state.in_(LINE_STATES))
              .order_by(E.rank, E.id))
FIND_LIMIT = 20  # people a search of the line returns at most


def find_in_line(session: Session, ev: Event, needle: str) -> dict:
    """People in line beyond the console's window or not: those whose ticket number is `needle` (a leading # or №
    allowed) or whose pseudonym contains it, ignoring case in any script (matched here, not in SQL: SQLite's LIKE
    folds only ASCII). At most FIND_LIMIT rows as the console shows them, with their places, in line order."""
    folded = needle.lstrip("#№ ").casefold() or needle.casefold()
    ticket = int(folded) if folded.isdigit() and len(folded) < 10 else None
    hits, found = {}, 0
    for position, (entry_id, number, pseudonym) in enumerate(session.execute(LINE_NAMES, {"event_id": ev.id}),
                                                             start=1):
        if number == ticket or folded in (pseudonym or "").casefold():
            found += 1
            if len(hits) < FIND_LIMIT:
                hits[entry_id] = position
    labels = {s.id: s.label for s in session.execute(ALL_SPOTS, {"event_id": ev.id})}
    rows = session.execute(_entry_rows(E.id.in_(list(hits)))).all() if hits else []
    people = sorted((entry_row(e, hits[e[0]], labels) for e in rows), key=lambda r: r["position"])
    return {"v": ev.version, "q": needle, "found": found, "line": people}


def joining(session: Session, ev: Event, now: int, labels: dict) -> dict:
    """The console's joining block (issue 8): the gate and its current code, requests waiting to be admitted, how
    many joined in the last minute against the flood alarm's threshold. Never in an observer's or a phone's view."""
    from . import gate as gate_codes
    recent = session.scalar(RECENT_JOINS, {"event_id": ev.id, "since": now - 60_000}) or 0
    block = {"gate": ev.gate, "paused": ev.joining_paused, "unreachable_ms": ev.unreachable_ms,
             "flood_per_min": ev.flood_per_min, "joins_last_min": recent, "flood": recent >= ev.flood_per_min}
    if block["flood"]:  # the first join of the last 15 minutes still in line
        block["flood_from"] = session.scalar(FLOOD_FROM, {"event_id": ev.id, "since": now - 15 * 60_000})
    if ev.gate == "onsite" and ev.gate_secret:
        block |= gate_codes.current(ev.gate_secret, ev.gate_epoch, now)
        block["display_key"] = gate_codes.display_key(ev.gate_secret)
    return {"joining": block,
            "requests": [entry_row(e, None, labels) for e in session.execute(REQUEST_ROWS, {"event_id": ev.id})]}


def moves(before: list[int], after: list[int]) -> tuple[list[int], list[list[int]]]:
    """How line positions changed: old positions that left, and ranges [lo, hi, d] of old positions that moved by d."""
    new_pos = {eid: i for i, eid in enumerate(after, start=1)}
    gone, ranges = [], []
    for old, eid in enumerate(before, start=1):
        if eid not in new_pos:
            gone.append(old)
            continue
        add_move(ranges, old, old, new_pos[eid] - old)
    return gone, ranges


# Parts of the public block that a participant's page computes itself (eta_new: from `est` and `counts.line`, with
# static/js/eta.js), so patches sent to participants leave them out.
DERIVED_FOR_PARTICIPANTS = ("eta_new",)


def _wire_len(part: dict) -> int:
    """The bytes a piece of a patch takes in the JSON sent (compact separators, as Socket.IO sends it)."""
    return len(orjson.dumps(part))


def public_patch(old: dict | None, new: dict, skip: tuple = ()) -> dict | None:
    """What changed from one public block to the next, as {"dotted.path": new value} (None: send the whole block).

    Dicts with the same keys and lists of the same length are compared member by member (list members by index:
    "spots.0.status"), unless the list sent whole is shorter; anything else that differs is replaced whole. Applying the patch to `old` gives exactly `new`
    (static/js/net.js, applyPatch), except the top-level keys in `skip`, left out. Keys never contain a dot.
    """
    if not isinstance(old, dict) or not isinstance(new, dict):
        return None
    out: dict = {}
    old, new = {k: v for k, v in old.items() if k not in skip}, {k: v for k, v in new.items() if k not in skip}

    def walk(a, b, path: str, into: dict) -> None:
        """Record the differences of a and b under `path` into `into`."""
        if a == b:
            return
        if isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys():
            for k in b:
                walk(a[k], b[k], f"{path}.{k}" if path else k, into)
        elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b) and path:
            members: dict = {}
            for i, (x, y) in enumerate(zip(a, b)):
                walk(x, y, f"{path}.{i}", members)
            # A list of small values that all moved (the next tickets) is shorter sent whole than index by index.
            into.update(members if _wire_len(members) <= _wire_len({path: b}) else {path: b})
        else:
            into[path] = b

    walk(old, new, "", out)
    return None if "" in out else out


# ---------------------------------------------------------------- the console as small changes (issue 13, part 6)

# Parts of the console view that follow the clock, not the database: every patch carries them whole, and the view's
# key leaves them out, so a snapshot built a moment later than a broadcast has the same key.
CONSOLE_CLOCK = ("server_now", "joining")
PUBLIC_CLOCK = ("est", "eta_new", "through_at")
CONSOLE_OWN = ("me", "key")  # per coordinator (`me`), or the key itself: never diffed


def console_key(view: dict) -> str:
    """The identity of a console view: a hash of its version and everything in it that comes from the database.

    Two views with the same key differ only in CONSOLE_CLOCK/PUBLIC_CLOCK and `me`, which a patch sends whole or
    leaves alone, so a patch made against one applies exactly to the other (a snapshot, another process's build)."""
    skip = CONSOLE_CLOCK + CONSOLE_OWN
    body = {k: v for k, v in view.items() if k not in skip}
    if isinstance(body.get("public"), dict):
        body["public"] = {k: v for k, v in body["public"].items() if k not in PUBLIC_CLOCK}
    # orjson: the same compact JSON as the json module's, about ten times faster; this dump of the whole view was
    # 2.6 % of the server's CPU at 1,000 phones (docs/benchmarks.md, "One wake-up per broadcast").
    return hashlib.blake2b(orjson.dumps(body), digest_size=9).hexdigest()


def console_message(old: dict | None, new: dict) -> dict:
    """The `console` message that turns `old` (the view sent before, None: not known) into `new`: the whole view, or
    {"role", "v", "key", "base", "patch", "lists"} when that is shorter (docs/protocol.md, "console")."""
    if old is None or not isinstance(new.get("key"), str) or not isinstance(old.get("key"), str):
        return new
    patch, lists = console_patch(old, new)
    small = {"role": new["role"], "v": new["v"], "key": new["key"], "base": old["key"], "patch": patch, "lists": lists}
    size = _wire_len(small)
    # Serialising a long line's whole view only to compare costs as much as building it: every row takes more than
    # ROW_FLOOR bytes, so a patch below that many bytes per row is shorter without asking.
    rows = sum(len(new[k]) for k in ("line", "active", "past", "requests") if isinstance(new.get(k), list))
    return small if size < rows * ROW_FLOOR or size < _wire_len(new) else new


ROW_FLOOR = 150  # bytes: the field names of one `entry_row` alone take more


def console_patch(old: dict, new: dict) -> tuple[dict, dict]:
    """(patch, lists) from one console view to the next: applying `lists`, then `patch`, to any view with old's key
    gives exactly `new`, except `me` (static/js/net.js, applyPatch).

    `patch` is {"dotted.path": new value} as in `public_patch`, with the clock's parts always whole. `lists` holds,
    per path, a list of people or rows (dicts with an "id") that changed other than field by field:
    {"rows": [[first old index, count] or a new row, ...]} in the new order, with "renumber": "position" when every
    row's `position` is its 1-based index (the line), so that someone called from the front is one range of rows,
    not a new `position` on each of 5,000 rows. Patch paths under such a list use the new indices.
    """
    patch: dict = {k: new[k] for k in CONSOLE_CLOCK if k in new}
    lists: dict = {}
    for k, b in new.items():
        if k in CONSOLE_CLOCK or k in CONSOLE_OWN or k in ("role", "v"):  # the message carries role and v itself
            continue
        a = old.get(k)
        if k == "public" and isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys():
            patch.update({f"public.{c}": b[c] for c in PUBLIC_CLOCK if c in b})
            for c in b:
                if c not in PUBLIC_CLOCK:
                    _walk(a[c], b[c], f"public.{c}", patch, lists)
        else:
            _walk(a, b, k, patch, lists)
    return patch, lists


def _keyed(rows) -> bool:
    """Whether a list holds rows with distinct ids (people, log lines, spots), diffed by id rather than by index."""
    if not isinstance(rows, list) or not all(isinstance(r, dict) and "id" in r for r in rows):
        return False
    return len({r["id"] for r in rows}) == len(rows)


def _walk(a, b, path: str, patch: dict, lists: dict) -> None:
    """Record how `a` became `b` at `path` (as `public_patch` does, with lists of rows diffed by id)."""
    if a == b:
        return
    if isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys():
        for k in b:
            _walk(a[k], b[k], f"{path}.{k}", patch, lists)
    elif _keyed(a) and _keyed(b):
        _rows(a, b, path, patch, lists)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        members: dict = {}
        for i, (x, y) in enumerate(zip(a, b)):
            _walk(x, y, f"{path}.{i}", members, lists)
        patch.update(members if _wire_len(members) <= _wire_len({path: b}) else {path: b})
    else:
        patch[path] = b


def _rows(a: list, b: list, path: str, patch: dict, lists: dict) -> None:
    """A list of rows by id: the rows kept as ranges of old indices, the new rows whole, then field changes."""
    at = {r["id"]: i for i, r in enumerate(a)}
    renumber = bool(b) and all(r.get("position") == j for j, r in enumerate(b, start=1))
    spans: list = []
    changes: list = []  # (new index, old row, new row) of the rows kept
    for j, r in enumerate(b):
        i = at.get(r["id"])
        if i is None:
            spans.append(r)
            continue
        if spans and isinstance(spans[-1], list) and spans[-1][0] + spans[-1][1] == i:
            spans[-1][1] += 1
        else:
            spans.append([i, 1])
        was = a[i]
        if was == r:  # most rows of a long line (compared in C: this loop runs for every person)
            continue
        if renumber and was.get("position") != j + 1 and "position" in was:
            was = was | {"position": j + 1}
            if was == r:
                continue
        changes.append((j, was, r))
    if spans != [[0, len(a)]] or len(a) != len(b) or renumber and any(
            r.get("position") != j for j, r in enumerate(a, start=1)):
        lists[path] = {"rows": spans, **({"renumber": "position"} if renumber else {})}
    for j, was, r in changes:
        _walk(was, r, f"{path}.{j}", patch, lists)
