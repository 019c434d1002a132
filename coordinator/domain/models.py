"""Typed SQLAlchemy models: the only place the schema is defined (migrations are generated from it)."""
from __future__ import annotations

from sqlalchemy import (BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false, text,
                        true)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Entry states that hold a place in line, and the ones that hold (or are about to hold) a spot.
LINE_STATES = ("waiting", "away")
SPOT_STATES = ("called", "on_spot")
LIVE_STATES = LINE_STATES + SPOT_STATES
FINAL_STATES = ("done", "missed", "left", "removed", "detained")
EVENT_STATES = ("draft", "open", "live", "paused", "ended")


def _in(states: tuple[str, ...]) -> str:
    """SQL text `state IN (...)` for a partial index predicate."""
    return "state IN (" + ", ".join(f"'{s}'" for s in states) + ")"


class Base(DeclarativeBase):
    """Declarative base shared by the domain core and Flask-SQLAlchemy."""


class Event(Base):
    """One picket: its settings, its state machine and its version counter."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(16), unique=True)
    title: Mapped[str] = mapped_column(String(120))
    location: Mapped[str] = mapped_column(String(200), default="")
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    state: Mapped[str] = mapped_column(String(8), default="draft")
    version: Mapped[int] = mapped_column(BigInteger, default=1)
    slot_ms: Mapped[int] = mapped_column(BigInteger, default=300_000)
    grace_ms: Mapped[int] = mapped_column(BigInteger, default=120_000)
    lead_ms: Mapped[int] = mapped_column(BigInteger, default=60_000)
    max_queue: Mapped[int] = mapped_column(Integer, default=200)
    ready_at: Mapped[int] = mapped_column(Integer, default=2)
    miss_back: Mapped[int] = mapped_column(Integer, default=3)
    show_pseudonyms: Mapped[bool] = mapped_column(Boolean, default=False)
    auto_call: Mapped[bool] = mapped_column(Boolean, default=True)
    pause_on_detain: Mapped[bool] = mapped_column(Boolean, default=False)
    board_qr: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())  # join QR on the board
    purge_after_ms: Mapped[int] = mapped_column(BigInteger, default=12 * 3600_000)
    # Who may join (docs/threat-model.md, "Floods"): open (the link), onsite (a rotating code shown at the picket),
    # approval (a coordinator admits each request). The on-site codes come from gate_secret and the time window.
    gate: Mapped[str] = mapped_column(String(8), default="open", server_default="open")
    gate_secret: Mapped[str | None] = mapped_column(String(64))
    gate_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # bumped: every code changes
    joining_paused: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    unreachable_ms: Mapped[int] = mapped_column(BigInteger, default=30_000, server_default="30000")
    flood_per_min: Mapped[int] = mapped_column(Integer, default=20, server_default="20")  # the console's alarm
    next_ticket: Mapped[int] = mapped_column(Integer, default=1)
    # Running counters: they survive a participant deleting their own data and feed estimates and statistics.
    calls: Mapped[int] = mapped_column(Integer, default=0)
    noshows: Mapped[int] = mapped_column(Integer, default=0)
    held: Mapped[int] = mapped_column(Integer, default=0)
    detained: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[int] = mapped_column(BigInteger)
    started_at: Mapped[int | None] = mapped_column(BigInteger)
    paused_at: Mapped[int | None] = mapped_column(BigInteger)
    ended_at: Mapped[int | None] = mapped_column(BigInteger)
    purge_at: Mapped[int | None] = mapped_column(BigInteger, index=True)
    # Earliest time the ticker has something to do for this event (null: nothing scheduled).
    next_due_at: Mapped[int | None] = mapped_column(BigInteger, index=True)


class Spot(Base):
    """A place where one picketer stands; spots of one location are far apart."""

    __tablename__ = "spots"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(40))
    sort: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Coordinator(Base):
    """A person allowed to run the line; known by a label they chose and a hashed token."""

    __tablename__ = "coordinators"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(40))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    owner: Mapped[bool] = mapped_column(Boolean, default=False)
    passphrase_hash: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[int] = mapped_column(BigInteger)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger)
    last_seen_at: Mapped[int | None] = mapped_column(BigInteger)


class Participant(Base):
    """A phone that joined an event: a hashed client-made token, and optionally a Web Push subscription."""

    __tablename__ = "participants"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    push: Mapped[str | None] = mapped_column(Text)
    last_seen_at: Mapped[int | None] = mapped_column(BigInteger)
    live_at: Mapped[int | None] = mapped_column(BigInteger)  # when this phone first opened a live page (a socket)


class Entry(Base):
    """A person's place in line and everything that happens to it."""

    __tablename__ = "entries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    participant_id: Mapped[int | None] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"))
    ticket: Mapped[int] = mapped_column(Integer)
    pseudonym: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(8), default="waiting")
    rank: Mapped[int] = mapped_column(BigInteger)
    spot_id: Mapped[int | None] = mapped_column(ForeignKey("spots.id", ondelete="CASCADE"))
    misses: Mapped[int] = mapped_column(Integer, default=0)
    joined_at: Mapped[int] = mapped_column(BigInteger)
    called_at: Mapped[int | None] = mapped_column(BigInteger)
    deadline_at: Mapped[int | None] = mapped_column(BigInteger)
    arrived_at: Mapped[int | None] = mapped_column(BigInteger)
    started_at: Mapped[int | None] = mapped_column(BigInteger)
    ends_at: Mapped[int | None] = mapped_column(BigInteger)
    finished_at: Mapped[int | None] = mapped_column(BigInteger)
    note: Mapped[str | None] = mapped_column(String(200))
    # The latest message from a coordinator to this person only, and "running late" from the person (minutes).
    message: Mapped[str | None] = mapped_column(String(280))
    message_at: Mapped[int | None] = mapped_column(BigInteger)
    late_min: Mapped[int | None] = mapped_column(Integer)
    late_at: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        UniqueConstraint("event_id", "ticket", name="uq_entry_ticket"),
        Index("ix_entries_event_state_rank", "event_id", "state", "rank"),
        # The console counts the joins of the last minute after every change (views.joining): a range, not a scan.
        Index("ix_entries_event_joined", "event_id", "joined_at"),
        # The last line of defence against a double join, and against two people on (or called to) one spot.
        Index("uq_entry_live_participant", "participant_id", unique=True,
              sqlite_where=text(_in(LIVE_STATES)), postgresql_where=text(_in(LIVE_STATES))),
        Index("uq_entry_spot_on", "spot_id", unique=True,
              sqlite_where=text("state = 'on_spot'"), postgresql_where=text("state = 'on_spot'")),
        Index("uq_entry_spot_called", "spot_id", unique=True,
              sqlite_where=text("state = 'called'"), postgresql_where=text("state = 'called'")),
    )


class Operation(Base):
    """A client operation id and the answer it got, written in the same transaction as the change."""

    __tablename__ = "operations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    actor: Mapped[str] = mapped_column(String(80))
    op: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(BigInteger)
    result: Mapped[str] = mapped_column(Text)
    __table_args__ = (UniqueConstraint("event_id", "actor", "op", name="uq_operation"),)


class LogRow(Base):
    """Who did what and when, with pseudonyms only; deleted with the event."""

    __tablename__ = "log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    at: Mapped[int] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(String(60))
    action: Mapped[str] = mapped_column(String(30))
    ticket: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[str] = mapped_column(Text, default="")
    line: Mapped[int] = mapped_column(Integer, default=0)  # line length after the action, for the chart


class Announcement(Base):
    """A short message from a coordinator to everyone in the event."""

    __tablename__ = "announcements"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    at: Mapped[int] = mapped_column(BigInteger)
    text: Mapped[str] = mapped_column(String(280))


class Connection(Base):
    """An open socket of a participant page or a coordinator: what the console's "online" dots are counted from, and
    how a revocation finds a coordinator's sockets on any server. It holds the Socket.IO session id, the server
    process that holds the socket, and whose socket it is (a participant by its token's hash, since a phone connects
    before it joins; a coordinator by id). Observers are not recorded."""

    __tablename__ = "connections"
    sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    process: Mapped[str] = mapped_column(String(32), index=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    coordinator_id: Mapped[int | None] = mapped_column(ForeignKey("coordinators.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[int] = mapped_column(BigInteger)


class ServerProcess(Base):
    """A running server process and when it last said so. Connections of a process that has stopped saying so (it
    crashed or was killed) are removed by any other process's ticker, so a crash never leaves phones "online"."""

    __tablename__ = "processes"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    seen_at: Mapped[int] = mapped_column(BigInteger, index=True)


class PowSpent(Base):
    """A proof of work used for a join (its derived key), so it cannot be used again; kept until it expires."""

    __tablename__ = "pow_spent"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    __table_args__ = (Index("ix_pow_spent_event_expires", "event_id", "expires_at"),)


PURGE_ORDER = (PowSpent, Connection, Operation, LogRow, Announcement, Entry, Participant, Coordinator, Spot, Event)
