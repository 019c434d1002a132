"""A small driver over the engine for the domain tests: one event, its coordinator, and people by token."""
from __future__ import annotations

import json
import secrets
import uuid

from sqlalchemy import select

from coordinator.domain import FakeClock, Queue, Store, make_engine
from coordinator.domain.models import Base, Entry, Event, LogRow, Operation, Participant


def new_token() -> str:
    """A participant token as a browser makes it."""
    return secrets.token_urlsafe(32)


def new_op() -> str:
    """A fresh client operation id."""
    return uuid.uuid4().hex


def apply_moves(old_pos: int, gone: list, moves: list) -> int | None:
    """The client's algorithm from docs/protocol.md: the new position, or None when the entry left the line."""
    if old_pos in gone:
        return None
    for lo, hi, d in moves:
        if lo <= old_pos <= hi:
            return old_pos + d
    return old_pos


def fresh_queue(url: str, clock=None) -> Queue:
    """An engine (think: one server process) over a database, creating the schema if needed."""
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    return Queue(Store(engine), clock or FakeClock())


class Picket:
    """One event on a queue, with helpers to act as its owner or as participants."""

    def __init__(self, queue: Queue, spots=("A", "B"), **spec):
        """Create the event and authenticate as its owner."""
        self.q = queue
        spec = {"title": "Test picket", "spots": [{"label": s} for s in spots], **spec}
        body, self.token = queue.create_event(spec)
        self.slug = body["event"]["slug"]
        self.spot_ids = [s["id"] for s in body["spots"]]
        self.coord = queue.authenticate({"event": self.slug, "coordinator": self.token})
        self.event_id = self.coord.event_id
        self.tokens: dict[str, str] = {}  # token hash -> token, for tests that open a second "tab"

    # ------------------------------------------------------------ acting

    def person(self, token: str | None = None):
        """A participant principal (not joined yet unless the token already joined)."""
        token = token or new_token()
        who = self.q.authenticate({"event": self.slug, "participant": token})
        self.tokens[who.token_hash] = token
        return who

    def observer(self):
        """An observer principal."""
        return self.q.authenticate({"event": self.slug})

    def act(self, who, name: str, args: dict | None = None, op: str | None = None):
        """Perform an action with a fresh op id (unless given); returns the Outcome."""
        return self.q.perform(who, name, args or {}, op or new_op())

    def c(self, name: str, **args):
        """Perform a coordinator action as the owner."""
        return self.act(self.coord, name, args)

    def join(self, name: str = "Tulip", token: str | None = None, live: bool = True):
        """A new participant joins; returns (principal, entry id). `live`: as from a page that has opened its socket
        (reachable when called); else like a script over HTTP, which gets the short grace (see line.unreachable)."""
        who = self.person(token)
        out = self.act(who, "join", {"pseudonym": name})
        who = who.as_participant(out.participant_id)  # the Outcome carries the id the join made
        if live:
            self.mark_live(who)
        return who, out.result["entry"]

    def mark_live(self, who) -> None:
        """Record that this phone has opened a live page."""
        from sqlalchemy import update
        from coordinator.domain.models import Participant
        with self.q.store.write() as s:
            s.execute(update(Participant).where(Participant.token_hash == who.token_hash,
                                                Participant.live_at.is_(None)).values(live_at=self.q.clock.now()))

    def start(self):
        """Make the event live."""
        return self.c("start")

    # ------------------------------------------------------------ reading the database

    def event(self) -> Event:
        """The event row, read fresh."""
        with self.q.store.read() as s:
            return s.get(Event, self.event_id)

    def version(self) -> int:
        """The event's version."""
        return self.event().version

    def entry(self, entry_id: int) -> Entry:
        """One entry row, read fresh."""
        with self.q.store.read() as s:
            return s.get(Entry, entry_id)

    def entries(self) -> dict[int, Entry]:
        """All entry rows of the event by id."""
        with self.q.store.read() as s:
            return {e.id: e for e in s.scalars(select(Entry).where(Entry.event_id == self.event_id))}

    def line(self) -> list[int]:
        """Entry ids in line, in order."""
        from coordinator.domain.line import line_ids
        with self.q.store.read() as s:
            return line_ids(s, self.event_id)

    def log(self, action: str | None = None) -> list[LogRow]:
        """Log rows of the event (optionally one action), oldest first."""
        with self.q.store.read() as s:
            query = select(LogRow).where(LogRow.event_id == self.event_id).order_by(LogRow.id)
            if action:
                query = query.where(LogRow.action == action)
            return list(s.scalars(query))

    def dump(self) -> tuple:
        """Every row the event owns (for 'an error changes nothing')."""
        with self.q.store.read() as s:
            ev = s.get(Event, self.event_id)
            ev_row = tuple(getattr(ev, c.key) for c in Event.__table__.columns) if ev else None
            rows = []
            for model in (Entry, Participant, Operation, LogRow):
                rows.append(sorted(tuple(getattr(r, c.key) for c in model.__table__.columns)
                                   for r in s.scalars(select(model).where(model.event_id == self.event_id))))
            return ev_row, rows

    def snapshot(self, who=None) -> dict:
        """A role's snapshot."""
        return self.q.snapshot(who or self.coord)


def apply_patch(block: dict, patch: dict) -> dict:
    """What static/js/net.js applyPatch does: set each dotted path on a copy."""
    out = json.loads(json.dumps(block))
    for path, value in patch.items():
        *head, last = path.split(".")
        node = out
        for k in head:
            node = node[int(k)] if isinstance(node, list) else node[k]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return out
