"""The payload builders as views.py first wrote them: ORM objects, the whole line in Python. Slow, plainly right.

coordinator/domain/views.py builds the same payloads with fewer and narrower queries; tests/domain/test_views.py
checks on constructed events that both give identical payloads (keys, values and order). Change both together.
"""
from __future__ import annotations

import json

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from coordinator.domain import estimates, gate, views
from coordinator.domain.models import (LINE_STATES, LIVE_STATES, Announcement, Connection, Coordinator, Entry, Event,
                                      LogRow, Participant, Spot)

EVENT_FIELDS = ("slug", "title", "location", "lat", "lon", "state", "slot_ms", "grace_ms", "lead_ms", "max_queue",
                "ready_at", "show_pseudonyms", "paused_at", "ended_at", "purge_at", "board_qr", "gate", "joining_paused")
ENTRY_TIMES = ("joined_at", "called_at", "deadline_at", "arrived_at", "started_at", "ends_at", "finished_at")


def own_entry(session: Session, participant_id: int) -> Entry | None:
    """A participant's live entry, else their latest one."""
    live_first = case((Entry.state.in_(LIVE_STATES), 0), else_=1)
    return session.scalars(select(Entry).where(Entry.participant_id == participant_id)
                           .order_by(live_first, Entry.id.desc()).limit(1)).first()


def _spots(session: Session, ev: Event) -> list[Spot]:
    """Active spots in display order."""
    return list(session.scalars(select(Spot).where(Spot.event_id == ev.id, Spot.active.is_(True))
                                .order_by(Spot.sort, Spot.id)))


def _holders(session: Session, ev: Event) -> tuple[dict, dict]:
    """Per spot id: the entry on it, and the entry called to it."""
    on, called = {}, {}
    for e in session.scalars(select(Entry).where(Entry.event_id == ev.id, Entry.state.in_(("called", "on_spot")))):
        (on if e.state == "on_spot" else called)[e.spot_id] = e
    return on, called


def estimate_params(session: Session, ev: Event, now: int, spots=None, on=None, called=None) -> dict:
    """What a client needs to estimate its own wait from its position."""
    observed = [f - s for s, f in session.execute(
        select(Entry.started_at, Entry.finished_at).where(
            Entry.event_id == ev.id, Entry.state == "done", Entry.started_at.is_not(None))
        .order_by(Entry.finished_at.desc()).limit(50)) if f is not None and f > s]
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


def public(session: Session, ev: Event, now: int, names: bool = False) -> dict:
    """The block everyone in the event may see."""
    spots = _spots(session, ev)
    on, called = _holders(session, ev)
    counts = {"waiting": 0, "away": 0}
    for state, n in session.execute(select(Entry.state, func.count(Entry.id)).where(
            Entry.event_id == ev.id, Entry.state.in_(LINE_STATES)).group_by(Entry.state)):
        counts[state] = n
    counts = {"line": counts["waiting"] + counts["away"], **counts, "held": ev.held, "detained": ev.detained,
              "noshow": ev.noshows, "calls": ev.calls}
    est = estimate_params(session, ev, now, spots, on, called)
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
        "counts": counts,
        "est": est,
        "eta_new": estimates.eta(counts["line"] + 1, est, base_now(ev, now)),
        "next": [e.ticket for e in sorted(session.scalars(select(Entry).where(
            Entry.event_id == ev.id, Entry.state == "waiting")), key=lambda e: (e.rank, e.id))][:3],
        "through_at": (estimates.through_at(counts["line"], est, base_now(ev, now))
                       if ev.state in ("open", "live", "paused") else None),
    }


def base_now(ev: Event, now: int) -> int:
    """A paused event's estimates are frozen at the moment it paused."""
    return ev.paused_at if ev.state == "paused" and ev.paused_at else now


def announcements(session: Session, ev: Event, limit: int = 5) -> list[dict]:
    """The latest announcements, newest first."""
    return [{"id": a.id, "at": a.at, "text": a.text} for a in session.scalars(
        select(Announcement).where(Announcement.event_id == ev.id).order_by(Announcement.id.desc()).limit(limit))]


def position_of(session: Session, ev: Event, entry: Entry) -> int | None:
    """1-based place in line, or None when not in line."""
    if entry.state not in LINE_STATES:
        return None
    ids = list(session.scalars(select(Entry.id).where(Entry.event_id == ev.id, Entry.state.in_(LINE_STATES))
                               .order_by(Entry.rank, Entry.id)))
    return ids.index(entry.id) + 1


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


def entry_row(e: Entry, position: int | None, spots: dict, participants: dict, sockets: list) -> dict:
    """A person as coordinators see them."""
    p = participants.get(e.participant_id)
    return {
        "id": e.id, "ticket": e.ticket, "pseudonym": e.pseudonym, "state": e.state, "position": position,
        "spot": {"id": e.spot_id, "label": spots[e.spot_id].label if e.spot_id in spots else None} if e.spot_id else None,
        **{k: getattr(e, k) for k in ENTRY_TIMES},
        "misses": e.misses, "walk_in": e.participant_id is None, "note": e.note,
        "online": bool(p and any(c.token_hash == p.token_hash for c in sockets)),
        "last_seen_at": p.last_seen_at if p else None,
        "push": bool(p and p.push),
        "late": {"minutes": e.late_min, "at": e.late_at} if e.late_min else None,
    }


def coordinator(session: Session, ev: Event, now: int, coordinator_id: int | None) -> dict:
    """Everything coordinators need to run the line."""
    spots = {s.id: s for s in session.scalars(select(Spot).where(Spot.event_id == ev.id))}
    participants = {p.id: p for p in session.scalars(select(Participant).where(Participant.event_id == ev.id))}
    sockets = list(session.scalars(select(Connection)))
    entries = list(session.scalars(select(Entry).where(Entry.event_id == ev.id).order_by(Entry.rank, Entry.id)))
    line, active, past = [], [], []
    for e in entries:
        if e.state in LINE_STATES:
            line.append(entry_row(e, len(line) + 1, spots, participants, sockets))
        elif e.state in ("called", "on_spot"):
            active.append(entry_row(e, None, spots, participants, sockets))
        elif e.state != "pending":
            past.append(entry_row(e, None, spots, participants, sockets))
    past.sort(key=lambda r: r["finished_at"] or 0, reverse=True)
    requests = sorted((e for e in entries if e.state == "pending"), key=lambda e: (e.joined_at, e.id))
    recent = sum(1 for e in entries if e.joined_at > now - 60_000 and e.participant_id is not None)
    joining = {"gate": ev.gate, "paused": ev.joining_paused, "unreachable_ms": ev.unreachable_ms,
               "flood_per_min": ev.flood_per_min, "joins_last_min": recent, "flood": recent >= ev.flood_per_min}
    if joining["flood"]:
        joining["flood_from"] = min((e.joined_at for e in entries if e.joined_at > now - 15 * 60_000
                                     and e.state in LINE_STATES + ("pending",)), default=None)
    if ev.gate == "onsite":
        window = now // 60_000
        joining |= {"code": gate.code(ev.gate_secret, ev.gate_epoch, window), "next_at": (window + 1) * 60_000,
                    "display_key": gate.display_key(ev.gate_secret)}
    names = {e.ticket: e.pseudonym for e in entries}
    log = [{"id": r.id, "at": r.at, "actor": r.actor, "action": r.action, "ticket": r.ticket,
            "pseudonym": names.get(r.ticket), "detail": r.detail}
           for r in session.scalars(select(LogRow).where(LogRow.event_id == ev.id)
                                    .order_by(LogRow.id.desc()).limit(100))]
    me_row = session.get(Coordinator, coordinator_id) if coordinator_id else None
    team = [{"id": c.id, "label": c.label, "owner": c.owner, "online": any(k.coordinator_id == c.id for k in sockets),
             "revoked": c.revoked_at is not None,
             "last_seen_at": c.last_seen_at}
            for c in session.scalars(select(Coordinator).where(Coordinator.event_id == ev.id).order_by(Coordinator.id))]
    view = {
        "role": "coordinator", "v": ev.version, "server_now": now,
        "public": public(session, ev, now, names=True),
        "announcements": announcements(session, ev),
        "me": {"id": me_row.id, "label": me_row.label, "owner": me_row.owner} if me_row else None,
        "settings": {k: getattr(ev, k) for k in ("slot_ms", "grace_ms", "lead_ms", "max_queue", "ready_at",
                                                  "miss_back", "show_pseudonyms", "auto_call", "pause_on_detain",
                                                  "purge_after_ms")},
        "all_spots": [{"id": s.id, "label": s.label, "active": s.active} for s in
                      sorted(spots.values(), key=lambda s: (s.sort, s.id))],
        "line": line[:views.LINE_WINDOW], "active": active, "past": past[:200], "log": log, "team": team,
        "joining": joining, "requests": [entry_row(e, None, spots, participants, sockets) for e in requests[:500]],
    }
    # The key names the view's database content for console patches; it is a digest of the view, not a builder of
    # its own (tests/test_console_patch.py checks what it covers).
    view["key"] = views.console_key(view)
    return view


def same_payloads(p, out=None) -> None:
    """Every payload of the event, from views.py and from naive_views.py, is the same JSON text (order included).

    With an Outcome `out` (and the clock not moved since), its public blocks are checked too.
    """
    now = p.q.clock.now()
    with p.q.store.read() as s:
        ev = s.get(Event, p.event_id)
        for cid in (None, p.coord.coordinator_id):
            assert json.dumps(views.coordinator(s, ev, now, cid)) == json.dumps(coordinator(s, ev, now, cid))
        for names in (False, True):
            assert json.dumps(views.public(s, ev, now, names)) == json.dumps(public(s, ev, now, names))
        for pid in [None, *s.scalars(select(Participant.id).where(Participant.event_id == ev.id))]:
            assert json.dumps(views.me(s, ev, pid, now)) == json.dumps(me(s, ev, pid, now))
        if out is not None and out.changed:
            assert json.dumps(out.public) == json.dumps(public(s, ev, now))
            named = public(s, ev, now, names=True) if ev.show_pseudonyms else None
            assert json.dumps(out.observer_public) == json.dumps(named)
            console = views.coordinator(s, ev, now, None, out.named_public)  # with the change's own named block
            assert json.dumps(console) == json.dumps(coordinator(s, ev, now, None))
            for pid in out.touched:  # a touched person's `me`, sent with the estimates of the change's own block
                sent = p.q.me(ev.id, pid, (out.v, out.server_now, out.public["est"]))["me"]
                assert json.dumps(sent) == json.dumps(me(s, ev, pid, now))
