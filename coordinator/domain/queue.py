"""The queue engine's entry points: create, authenticate, perform an action, tick, snapshot, purge.

This module and the rest of `coordinator.domain` import no Flask; the web layers call these methods and turn the
returned `Outcome`s into broadcasts.
"""
from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field, replace
from typing import Mapping, Protocol

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from . import line as ln
from . import validation as v
from . import views
from .actions import ACTIONS, Principal, apply_settings, spot_labels
from .errors import BadRequest, Conflict, DomainError, Forbidden, NotFound, PassphraseRequired, Unauthorized
from .models import (PURGE_ORDER, Connection, Coordinator, Event, Operation, Participant, PowSpent, ServerProcess,
                     Spot)
from .pow import Pace, PowError, ProofOfWork
from .store import Store
from .tokens import hash_token, new_slug, new_token, valid_token

SHARED_MS = 1000  # how long a snapshot's public part may be shared by clients of the same event version


POW_ACTIONS = ("join", "rejoin")  # the actions that add a place in line, and so need a proof of work


@dataclass(frozen=True)
class Outcome:
    """The engine's whole answer to one transaction, read-only: the caller's answer, what to broadcast, whom to alert,
    which coordinators lost access, and what changed about the caller. The web layer only reads it
    (coordinator/effects.py turns it into every effect)."""

    event_id: int
    slug: str
    result: dict = field(default_factory=dict)
    v: int = 0
    prev_v: int = 0
    changed: bool = False
    replay: bool = False
    purged: bool = False
    public: dict | None = None
    observer_public: dict | None = None
    named_public: dict | None = None  # the public block with the pseudonyms on the spots: the console's (never sent)
    gone: list = field(default_factory=list)
    moves: list = field(default_factory=list)
    touched: frozenset = frozenset()  # participants whose own view changed (each gets a fresh `me`)
    announcement: dict | None = None
    server_now: int = 0
    revoked: tuple = ()  # coordinator ids whose access this change revoked (their sockets are closed)
    # Push targets: participant id -> "called" (called in this very change) or "ready" (moved up to `ready_at`).
    alerts: Mapping[int, str] = field(default_factory=dict)
    # The calling participant's id as the change left it (a join creates it, delete_me removes it), and the personal
    # rooms (by participant id) the caller's connection leaves and joins because of that.
    participant_id: int | None = None
    leave_personal: tuple = ()
    join_personal: tuple = ()


class Passphrases(Protocol):
    """How the engine checks a coordinator passphrase (coordinator/passphrase.py: Argon2 and a guess throttle)."""

    def verify(self, stored: str, given: object, link: str) -> None:
        """Return if `given` matches `stored`; raise PassphraseRequired or a rate limit otherwise."""


# Actions that delete personal data (a person's rows; a push subscription): their old bytes are scrubbed from the
# SQLite WAL at once (Store.scrub), as after a panic or a purge.
SCRUB_AFTER = {"delete_me", "set_push"}

# What every server process's ticker asks twice a second, built once: live events with a transition due, and of the
# coordinators and events that have sockets on the process, those revoked and those that still exist (`gone`).
DUE_EVENTS = select(Event.id).where(Event.state == "live", Event.next_due_at <= bindparam("now"))
REVOKED_AMONG = select(Coordinator.id).where(Coordinator.id.in_(bindparam("ids", expanding=True)),
                                             Coordinator.revoked_at.is_not(None))
EVENTS_AMONG = select(Event.id).where(Event.id.in_(bindparam("ids", expanding=True)))


def stored_answer(text: str, current_v: int) -> tuple[dict, int, str | None]:
    """A stored answer: its result, the version it made and the action it answered. Rows stored before these were
    kept hold the bare result; they answer with the current version, for any action."""
    data = json.loads(text)
    if isinstance(data, dict) and {"result", "v", "action"} <= set(data) <= {"result", "v", "action", "undo"}:
        return data["result"], data["v"], data["action"]
    return data, current_v, None

def _current(shared: tuple[int, int, dict] | None, ev: Event, now: int) -> dict | None:
    """What `shared` = (version, built at, a part of a view) holds, if it is still current: built at the event's
    version, less than SHARED_MS ago (its estimates depend on the time). Snapshots share their public part by this
    rule, and the console and the `me`s take a change's own public block by it."""
    if shared is None or shared[0] != ev.version or not 0 <= now - shared[1] < SHARED_MS:
        return None
    return shared[2]


class Queue:
    """The engine over one database."""

    def __init__(self, store: Store, clock, max_event_ms: int = 48 * 3600_000, pow: ProofOfWork | None = None,
                 pace: Pace | None = None, passphrases: Passphrases | None = None):
        self.store = store
        self.clock = clock
        # Coordinator passphrases (None: none can be checked, so a link that has one is refused).
        self.passphrases = passphrases
        # Proof of work on joins (None: not asked, as in most engine tests) and how fast each event gets joins.
        self.pow = pow
        self.pace = pace or Pace()
        # An event nobody ends is ended this long after its creation, so its data gets a purge time too.
        self.max_event_ms = max_event_ms
        # (event id, names shown) -> (version, built at, (public block, announcements)): see snapshot()
        self._shared_public: dict[tuple, tuple] = {}

    # ------------------------------------------------------------ events

    def create_event(self, spec: dict, admit=None) -> tuple[dict, str]:
        """Create an event from a spec; returns its public block and the owner's coordinator token (shown once).
        `admit()`, when given, is called once the spec checked out and before anything is written (a rate limit
        that must count only well-formed creations); it raises to refuse."""
        spec = v.only_fields(spec, {"title", "location", "lat", "lon", "spots", "label", "state", "passphrase_hash",
                                    *ACTIONS[("coordinator", "settings")].fields}, "event")
        now = self.clock.now()
        title = v.plain_text(spec.get("title"), "title", 120)
        ev = Event(slug=new_slug(), title=title, state="open", created_at=now, version=1,
                   gate_secret=secrets.token_hex(32))
        apply_settings(ev, {k: x for k, x in spec.items() if k != "title"})
        if spec.get("state", "open") not in ("draft", "open"):
            raise BadRequest("'state' must be 'draft' or 'open'.")
        ev.state = spec.get("state", "open")
        ev.lat = v.number(spec["lat"], "lat", -90, 90) if spec.get("lat") is not None else None
        ev.lon = v.number(spec["lon"], "lon", -180, 180) if spec.get("lon") is not None else None
        spots = spot_labels(spec.get("spots", [{"label": "A"}]))
        label = v.plain_text(spec.get("label", "owner"), "label", 40)
        if admit is not None:
            admit()
        token = new_token()
        with self.store.write() as s:
            s.add(ev)
            s.flush()
            for i, sp in enumerate(spots):
                s.add(Spot(event_id=ev.id, label=sp["label"], sort=i))
            s.add(Coordinator(event_id=ev.id, label=label, token_hash=hash_token(token), owner=True,
                              created_at=now, passphrase_hash=spec.get("passphrase_hash")))
            s.flush()
            body = views.public(s, ev, now)
        return body, token

    def authenticate(self, auth: object) -> Principal:
        """Who a connecting client is, from its `auth` payload; refuses bad or revoked credentials."""
        auth = v.only_fields(auth, {"event", "participant", "coordinator", "passphrase"}, "auth")
        slug = auth.get("event")
        if not isinstance(slug, str) or not 4 <= len(slug) <= 16:
            raise BadRequest("'event' is missing or malformed.")
        if "participant" in auth and "coordinator" in auth:
            raise BadRequest("Use either a participant or a coordinator token.")
        with self.store.read() as s:
            ev = s.scalars(select(Event).where(Event.slug == slug)).first()
            if ev is None:
                raise NotFound("No such event (it may have ended and been deleted).")
            if "coordinator" in auth:
                token = auth["coordinator"]
                row = s.scalars(select(Coordinator).where(
                    Coordinator.token_hash == hash_token(token))).first() if valid_token(token) else None
                if row is None or row.event_id != ev.id or row.revoked_at is not None:
                    raise Unauthorized("This coordinator link is not valid (or was revoked).")
                who = Principal("coordinator", ev.id, ev.slug, row.token_hash, coordinator_id=row.id,
                                label=row.label, owner=row.owner)
                stored = row.passphrase_hash
            if "participant" in auth:
                token = auth["participant"]
                if not valid_token(token):
                    raise Unauthorized("The participant token is malformed.")
                th = hash_token(token)
                row = s.scalars(select(Participant).where(Participant.token_hash == th)).first()
                if row is not None and row.event_id != ev.id:
                    raise Unauthorized("This token belongs to another event.")
                return Principal("participant", ev.id, ev.slug, th, participant_id=row.id if row else None)
            if "coordinator" not in auth:
                if "passphrase" in auth:
                    raise BadRequest("A passphrase goes with a coordinator token.")
                return Principal("observer", ev.id, ev.slug)
        # Argon2 is slow on purpose: verify after the read transaction has ended.
        self._check_passphrase(stored, auth.get("passphrase"), who.token_hash)
        return who

    def _check_passphrase(self, stored: str | None, given: object, link: str) -> None:
        """Refuse a coordinator whose passphrase (when one was set) is missing or wrong; `link` (its token's hash)
        keys the slow-down of wrong guesses."""
        if not stored:
            return
        if given in (None, ""):
            raise PassphraseRequired("This coordinator link also needs its passphrase.")
        if self.passphrases is None:
            raise PassphraseRequired("The passphrase is wrong.")
        self.passphrases.verify(stored, given, link)

    # ------------------------------------------------------------ actions

    def perform(self, who: Principal, name: object, args: object, op: object) -> Outcome:
        """Run one action atomically and idempotently; raises DomainError (nothing changed) when it cannot."""
        if not isinstance(name, str):
            raise BadRequest("'action' must be text.")
        act = ACTIONS.get((who.role, name))
        if act is None:
            if any(n == name for _, n in ACTIONS) or name == "panic":
                if not (name == "panic" and who.role == "coordinator"):
                    raise Forbidden(f"A {who.role} may not '{name}'.")
            else:
                raise DomainError(f"Unknown action '{name}'.", "unknown_action")
        op = v.op_id(op)
        if name == "panic":
            v.only_fields(args, set())
            return self.panic(who)
        args = v.only_fields(args, act.fields)
        spend = self._check_pow(who, act, args, op)
        try:
            out = self._perform(who, act, args, op, spend)
        except IntegrityError:
            # A constraint caught a race the locks should have prevented (or a duplicate op id): nothing changed.
            raise Conflict("Someone else changed this at the same moment; look again and retry.")
        if act.name in SCRUB_AFTER and out.changed:
            self.store.scrub()  # the deleted data's old copies leave the WAL now
        if act.name in POW_ACTIONS and not out.replay and out.changed and not out.result.get("already"):
            self.pace.joined(who.event_id, out.server_now)
        return out

    def challenge(self, slug: str, factor: float = 1.0) -> dict:
        """A proof-of-work challenge for joining an event, priced by its recent joins times `factor` (the caller's
        address price, from the web layer)."""
        if self.pow is None:
            raise NotFound("This server asks no proof of work.")
        now = self.clock.now()
        with self.store.read() as s:
            ev = s.scalars(select(Event).where(Event.slug == slug)).first()
            if ev is None:
                raise NotFound("No such event (it may have ended and been deleted).")
            event_id = ev.id
        return self.pow.challenge(slug, now, factor * self.pace.factor(event_id, now))

    def code_is_current(self, slug: str, given: object) -> bool:
        """Whether the event's gate is `onsite` and `given` is one of its current codes."""
        from . import gate as gate_codes
        with self.store.read() as s:
            ev = s.scalars(select(Event).where(Event.slug == slug)).first()
            return bool(ev is not None and ev.gate == "onsite" and ev.gate_secret
                        and gate_codes.valid(ev.gate_secret, ev.gate_epoch, self.clock.now(), given))

    def gate_code(self, slug: str, display_key: object) -> dict:
        """The on-site code for a big screen that holds the event's display key (see gate.display_key)."""
        from . import gate as gate_codes
        import hmac as _hmac
        now = self.clock.now()
        with self.store.read() as s:
            ev = s.scalars(select(Event).where(Event.slug == slug)).first()
            if ev is None:
                raise NotFound("No such event (it may have ended and been deleted).")
            if not isinstance(display_key, str) or not ev.gate_secret or not _hmac.compare_digest(
                    display_key, gate_codes.display_key(ev.gate_secret)):
                raise Unauthorized("This display link is not valid.")
            if ev.gate != "onsite":
                return {"gate": ev.gate}
            return {"gate": ev.gate, "server_now": now, **gate_codes.current(ev.gate_secret, ev.gate_epoch, now)}

    def _check_pow(self, who: Principal, act, args: dict, op: str) -> tuple[str, int] | None:
        """A join's proof of work, checked before the event is locked (a derivation is slow). None when none is
        asked, or when this op id already has an answer (a retry is answered from it, even after the expiry)."""
        if act.name not in POW_ACTIONS or who.role != "participant":
            return None
        payload = args.pop("pow", None)
        if self.pow is None or not self.pow.required:
            return None
        with self.store.read() as s:
            if s.scalar(select(Operation.id).where(Operation.event_id == who.event_id,
                                                   Operation.actor == who.actor_key, Operation.op == op)):
                return None
        return self.pow.verify(payload, who.slug, self.clock.now())

    def _perform(self, asked: Principal, act, args: dict, op: str, spend: tuple[str, int] | None = None) -> Outcome:
        now = self.clock.now()
        with self.store.write() as s:
            ev = self.store.lock_event(s, asked.event_id)
            if ev is None:
                raise NotFound("No such event (it may have ended and been deleted).")
            who = self._recheck(s, asked)  # before a replay too: a revoked link gets no answers at all
            done = s.scalars(select(Operation).where(Operation.event_id == ev.id, Operation.actor == who.actor_key,
                                                     Operation.op == op)).first()
            if done is not None:  # the first answer, with the version it made (not the current one)
                result, v_first, first_action = stored_answer(done.result, ev.version)
                if first_action not in (None, act.name):
                    raise Conflict(f"This op id was already used for '{first_action}'; use a new one.")
                return Outcome(ev.id, ev.slug, result, v_first, v_first, replay=True, server_now=now,
                               **self._caller(asked, who.participant_id))
            if act.owner_only and not who.owner:
                raise Forbidden("Only the event's owner may do this.")
            if spend is not None:
                self._spend(s, ev.id, spend, now)
            if ev.state == "ended" and act.name not in ("settings", "leave", "delete_me", "set_push"):
                raise DomainError("The event has ended.", "invalid_state")
            ctx = ln.Ctx(s, ev, now, actor="system", participant_id=who.participant_id)
            ln.watch(s)
            if ev.next_due_at is not None and ev.next_due_at <= now:
                # The server owns time: what fell due before this action happens first, even if the ticker has not
                # run yet (a check-in after the deadline finds a no-show). An error below rolls this back too.
                ln.advance(ctx)
            ctx.actor = who.actor_label
            result = act.handler(ctx, who, args)
            out = self._finish(ctx, ln.advance(ctx))
            # An undo is offered only when this transaction changed nobody but that one person (no automatic call
            # of someone else came with it); the undo itself checks that nothing changed since.
            undo = ctx.undo if ctx.undo and all(r.ticket == ctx.undo["ticket"] for r in ctx.logs) else None
            if undo:
                result = result | {"undoable": True}
            # A secret in a result (invite's token) is shown once and never stored: a replay answers without it.
            stored = {k: x for k, x in result.items() if k != "token"}
            s.add(Operation(event_id=ev.id, actor=who.actor_key, op=op, created_at=now, result=json.dumps(
                {"result": stored, "v": out.v, "action": act.name, **({"undo": undo} if undo else {})})))
            revoked = (result["coordinator"],) if act.name == "revoke" and result.get("revoked") else ()
            return replace(out, result=result, revoked=revoked, **self._caller(asked, ctx.participant_id))

    @staticmethod
    def _caller(asked: Principal, participant_id: int | None) -> dict:
        """What an action changed about a calling participant: its id now, and the personal rooms to move from the
        id the caller came with (a join, a deletion, another tab's join or deletion seen here first)."""
        if asked.role != "participant":
            return {}
        had = asked.participant_id
        return {"participant_id": participant_id,
                "leave_personal": (had,) if had and had != participant_id else (),
                "join_personal": (participant_id,) if participant_id and participant_id != had else ()}

    @staticmethod
    def _spend(s: Session, event_id: int, spend: tuple[str, int], now: int) -> None:
        """Record a join's proof of work as used (and forget this event's expired ones); a second use is refused."""
        key, expires_at = spend
        if s.scalar(select(PowSpent.id).where(PowSpent.key == key)):
            raise PowError("pow_replayed", "This solution was used already; get a new challenge.")
        s.execute(delete(PowSpent).where(PowSpent.event_id == event_id, PowSpent.expires_at < now))
        s.add(PowSpent(event_id=event_id, key=key, expires_at=expires_at))

    def _recheck(self, s, who: Principal) -> Principal:
        """Credentials can be revoked while a socket stays open: check them inside the transaction. Returns the
        caller as the database knows it now."""
        if who.role == "coordinator":
            row = s.get(Coordinator, who.coordinator_id)
            if row is None or row.revoked_at is not None:
                raise Unauthorized("This coordinator link was revoked.")
        elif who.role == "participant":
            # Always from the database: another tab of the same phone may have joined or deleted its data.
            row = s.scalars(select(Participant).where(Participant.token_hash == who.token_hash)).first()
            return who.as_participant(row.id if row else None)
        return who

    def _finish(self, ctx: ln.Ctx, held: tuple[dict, dict] | None = None) -> Outcome:
        """Bump the version (guarded), schedule the ticker and build the shared broadcast, inside the transaction.

        The transaction must have called `ln.watch` before it changed anything (for the position moves). `held`: the
        spots' holders as `ln.advance` just left them, when it was the last thing to run (else they are read here).
        """
        s, ev = ctx.session, ctx.event
        if not ctx.changed:
            return Outcome(ev.id, ev.slug, v=ev.version, prev_v=ev.version, server_now=ctx.now)
        gone, moves, counts = ln.line_change(s, ev.id)
        for row in ctx.logs:
            row.line = counts["waiting"] + counts["away"]
        s.add_all(ctx.logs)
        old = ev.version
        spots, held = ln.active_spots(ctx), held or ln.holders(ctx)  # for the schedule and the public block alike
        due = ln.next_due(ctx, spots, held)
        res = s.execute(update(Event).where(Event.id == ev.id, Event.version == old)
                        .values(version=old + 1, next_due_at=due).execution_options(synchronize_session=False))
        if res.rowcount != 1:
            raise Conflict("The event changed under this action; retry.")
        # What the UPDATE wrote, without reading the row back.
        set_committed_value(ev, "version", old + 1)
        set_committed_value(ev, "next_due_at", due)
        public, named = views.public_blocks(s, ev, ctx.now, counts, spots, held)
        # Nobody's own view changed, nobody is alerted (as before the alerts moved into the engine).
        alerts = ln.alerts(ctx, moves) if ctx.touched else {}
        return Outcome(ev.id, ev.slug, v=ev.version, prev_v=old, changed=True, server_now=ctx.now, public=public,
                       observer_public=named if ev.show_pseudonyms else None, named_public=named, gone=gone,
                       moves=moves,
                       touched=frozenset(ctx.touched), announcement=ctx.announcement, alerts=alerts)

    def panic(self, who: Principal) -> Outcome:
        """End the event and delete every row of it now."""
        with self.store.write() as s:
            ev = self.store.lock_event(s, who.event_id)
            if ev is None:
                raise NotFound("No such event.")
            self._recheck(s, who)
            if not who.owner:  # as the console offers it: the owner only
                raise Forbidden("Only the event's owner may do this.")
            out = Outcome(ev.id, ev.slug, {"purged": True}, purged=True, changed=True, server_now=self.clock.now())
            self._delete_event(s, ev.id)
        self.store.scrub()
        return out

    # ------------------------------------------------------------ time

    def tick(self) -> list[Outcome]:
        """Apply due transitions of every live event; safe to run in any number of processes at once."""
        now = self.clock.now()
        with self.store.read() as s:
            ids = list(s.scalars(DUE_EVENTS, {"now": now}))
        outs = []
        for event_id in ids:
            with self.store.write() as s:
                ev = self.store.lock_event(s, event_id)
                # Re-check under the lock: another process may have applied these transitions already.
                if ev is None or ev.state != "live" or ev.next_due_at is None or ev.next_due_at > now:
                    continue
                ctx = ln.Ctx(s, ev, now)
                ln.watch(s)
                held = ln.advance(ctx)
                if not ctx.changed:  # nothing was really due: just reschedule
                    ev.next_due_at = ln.next_due(ctx, held=held)
                    continue
                outs.append(self._finish(ctx, held))
        return outs

    def end_stale(self) -> list[Outcome]:
        """End events that were never ended once they are `max_event_ms` old; their purge time then starts."""
        now = self.clock.now()
        with self.store.read() as s:
            ids = list(s.scalars(select(Event.id).where(Event.state != "ended",
                                                        Event.created_at <= now - self.max_event_ms)))
        outs = []
        for event_id in ids:
            with self.store.write() as s:
                ev = self.store.lock_event(s, event_id)
                if ev is None or ev.state == "ended":
                    continue
                ctx = ln.Ctx(s, ev, now, actor="system")
                ln.watch(s)
                ACTIONS[("coordinator", "end")].handler(ctx, None, {})
                outs.append(self._finish(ctx))
        return outs

    def purge_due(self) -> list[str]:
        """Delete every row of events whose retention time has passed; returns their slugs."""
        now = self.clock.now()
        with self.store.read() as s:
            due = list(s.execute(select(Event.id, Event.slug).where(Event.purge_at.is_not(None),
                                                                   Event.purge_at <= now)))
        for event_id, _ in due:
            with self.store.write() as s:
                if self.store.lock_event(s, event_id) is not None:
                    self._delete_event(s, event_id)
        if due:
            self.store.scrub()
        return [slug for _, slug in due]

    def _delete_event(self, s, event_id: int) -> None:
        for model in PURGE_ORDER:
            column = model.id if model is Event else model.event_id
            s.execute(delete(model).where(column == event_id))

    # ------------------------------------------------------------ reads

    def snapshot(self, who: Principal) -> dict:
        """The full view for a caller's role, at one version."""
        now = self.clock.now()
        with self.store.read() as s:
            ev = s.get(Event, who.event_id)
            if ev is None:
                raise NotFound("No such event (it may have ended and been deleted).")
            if who.role == "coordinator":
                row = s.get(Coordinator, who.coordinator_id)
                if row is None or row.revoked_at is not None:
                    raise Unauthorized("This coordinator link was revoked.")
                return views.coordinator(s, ev, now, who.coordinator_id)
            # The public part is the same for every phone and board of the event at one version: built once and
            # shared by the clients asking meanwhile (hundreds reconnect at once when a process dies), for at most
            # SHARED_MS so its estimates stay fresh. Only a participant's own entry is read per client.
            names = who.role == "observer" and ev.show_pseudonyms
            key, shared = (ev.id, names), self._shared_public
            part = _current(shared.get(key), ev, now)
            if part is None:
                if len(shared) > 10_000:  # events come and go: never let the table grow without bound
                    shared.clear()
                part = (views.public(s, ev, now, names=names), views.announcements(s, ev))
                shared[key] = (ev.version, now, part)
            body = {"role": who.role, "v": ev.version, "server_now": now, "public": part[0], "announcements": part[1]}
            if who.role == "participant":
                pid = who.participant_id
                if pid is None:  # another tab may have joined since this caller was authenticated
                    row = s.scalars(select(Participant).where(Participant.token_hash == who.token_hash)).first()
                    pid = row.id if row else None
                body["me"] = views.me(s, ev, pid, now, body["public"]["est"])
            return body

    def find(self, who: Principal, query: object) -> dict:
        """Coordinators: the people in line whose ticket number or pseudonym matches `query` (views.find_in_line),
        for the console, which lists only the first views.LINE_WINDOW of a long line."""
        if who is None or who.role != "coordinator":
            raise Forbidden("Only coordinators can search the line.")
        needle = v.plain_text(query, "q", v.PSEUDONYM_MAX)
        with self.store.read() as s:
            ev = s.get(Event, who.event_id)
            if ev is None:
                raise NotFound("No such event (it may have ended and been deleted).")
            row = s.get(Coordinator, who.coordinator_id)
            if row is None or row.revoked_at is not None:
                raise Unauthorized("This coordinator link was revoked.")
            return views.find_in_line(s, ev, needle)

    def me(self, event_id: int, participant_id: int, est: tuple[int, int, dict] | None = None) -> dict:
        """One participant's `me` message. `est` = (version, when it was built, the public block's estimates): used
        while the event is still at that version and for SHARED_MS after (as a snapshot shares them), instead of
        reading them again."""
        now = self.clock.now()
        with self.store.read() as s:
            ev = s.get(Event, event_id)
            if ev is None:
                return {}
            me = views.me(s, ev, participant_id, now, _current(est, ev, now))
            return {"v": ev.version, "server_now": now, "me": me}

    def connected(self, who: Principal, sid: str, process: str) -> bool:
        """Record an open socket of a participant page or a coordinator (what 'online' is counted from, and how a
        revocation finds a coordinator's sockets); no version bump. True if coordinators may see a change (not for
        a phone that has not joined: it is in no list yet)."""
        if who.role not in ("participant", "coordinator"):
            return False
        now = self.clock.now()
        with self.store.write() as s:
            s.execute(insert(Connection).values(
                sid=sid, process=process, event_id=who.event_id, created_at=now,
                token_hash=who.token_hash if who.role == "participant" else None,
                coordinator_id=who.coordinator_id if who.role == "coordinator" else None))
            self._seen(s, who, now)
        return self._listed(who)

    def disconnected(self, who: Principal, sid: str) -> bool:
        """Forget a socket that closed (the place in line stays); True if coordinators may see a change."""
        if who.role not in ("participant", "coordinator"):
            return False
        with self.store.write() as s:
            s.execute(delete(Connection).where(Connection.sid == sid))
            self._seen(s, who, self.clock.now())
        return self._listed(who)

    @staticmethod
    def _listed(who: Principal) -> bool:
        """Whether the console lists this person (a coordinator, or a phone that has joined)."""
        return who.role == "coordinator" or who.participant_id is not None

    @staticmethod
    def _seen(s: Session, who: Principal, now: int) -> None:
        """'Last seen' for the console (a phone that has not joined yet has no row to update)."""
        if who.role == "participant":
            if who.participant_id is not None:
                s.execute(update(Participant).where(Participant.id == who.participant_id).values(last_seen_at=now))
                s.execute(update(Participant).where(Participant.id == who.participant_id,
                                                    Participant.live_at.is_(None)).values(live_at=now))
        else:
            s.execute(update(Coordinator).where(Coordinator.id == who.coordinator_id).values(last_seen_at=now))

    def heartbeat(self, process: str, stale_ms: int) -> set[int]:
        """Say this server process is alive, and forget the sockets of every process that has not said so for
        `stale_ms` (it crashed or was killed: its sockets are gone). Returns the events whose presence changed."""
        now = self.clock.now()
        with self.store.write() as s:
            row = s.get(ServerProcess, process)
            if row is None:
                s.add(ServerProcess(id=process, seen_at=now))
            else:
                row.seen_at = now
            s.flush()
            alive = select(ServerProcess.id).where(ServerProcess.seen_at >= now - stale_ms)
            gone = Connection.process.not_in(alive)
            events = set(s.scalars(select(Connection.event_id).where(gone).distinct()))
            if events:
                s.execute(delete(Connection).where(gone))
            s.execute(delete(ServerProcess).where(ServerProcess.seen_at < now - stale_ms))
        return events

    def push_subscriptions(self, participant_ids) -> list[tuple[int, dict]]:
        """(participant id, Web Push subscription) of those of these participants who gave one."""
        if not participant_ids:
            return []
        with self.store.read() as s:
            rows = list(s.execute(select(Participant.id, Participant.push).where(
                Participant.id.in_(list(participant_ids)), Participant.push.is_not(None))))
        return [(pid, json.loads(sub)) for pid, sub in rows]

    def console(self, event_id: int, public: tuple[int, int, dict] | None = None) -> dict | None:
        """The coordinators' shared view of an event (None once it is deleted). `public` = (version, when it was
        built, the named public block a change made: Outcome.named_public): used while the event is still at that
        version and for SHARED_MS after (as a snapshot shares its public block), instead of building it again."""
        now = self.clock.now()
        with self.store.read() as s:
            ev = s.get(Event, event_id)
            return views.coordinator(s, ev, now, None, _current(public, ev, now)) if ev else None

    def coordinator_sids(self, coordinator_id: int) -> list[str]:
        """Open sockets of one coordinator, on any server process."""
        with self.store.read() as s:
            return list(s.scalars(select(Connection.sid).where(Connection.coordinator_id == coordinator_id)))

    def gone(self, coordinator_ids: list[int], event_ids: list[int]) -> tuple[list[int], list[int]]:
        """Of these coordinators, those revoked; of these events, those that no longer exist (purged). One read
        transaction: every server process asks twice a second (sockets.close_gone)."""
        with self.store.read() as s:
            revoked = list(s.scalars(REVOKED_AMONG, {"ids": coordinator_ids})) if coordinator_ids else []
            alive = set(s.scalars(EVENTS_AMONG, {"ids": event_ids})) if event_ids else set()
        return revoked, [e for e in event_ids if e not in alive]
