"""Turns engine outcomes into Socket.IO messages: one message per room, personal messages only where data differs.

coordinator/effects.py decides what to send after a change; this module shapes and paces the `state`, `me` and
`console` messages (the Outbox).
"""
from __future__ import annotations

import bisect
import json
import logging
import threading
import time

from flask import Flask

from .domain.line import add_move
from .domain.store import is_busy
from .domain.views import DERIVED_FOR_PARTICIPANTS, console_message, public_patch
from .extensions import socketio
from .services import services

log = logging.getLogger(__name__)


# Why a socket is closed for good; the page stops reconnecting when it gets one of these.
BYE_DELETED = {"code": "not_found", "message": "This event was deleted."}
BYE_REVOKED = {"code": "unauthorized", "message": "Your coordinator access was revoked."}

def room(event_id: int, kind: str) -> str:
    """Room names: 'obs' observers, 'par' participants, 'crd' coordinators, 'all' everyone in the event."""
    return f"e{event_id}:{kind}"


def personal_room(participant_id: int) -> str:
    """Every tab of one participant."""
    return f"p{participant_id}"


def coordinator_room(coordinator_id: int) -> str:
    """Every tab of one coordinator."""
    return f"c{coordinator_id}"


def _send_console(app: Flask, event_id: int) -> float:
    """Build and send the console view now, as a patch against the view this process sent before when it has one
    (console_message); returns the seconds the build took."""
    t0 = time.monotonic()
    box = services(app).outbox
    with box.lock:
        public = box.events.get(event_id, {}).get("console_public")
    body = services(app).queue.console(event_id, public)
    if body is not None:
        # One at a time per process, so the order of the patches on the wire is the order of their bases.
        with box.console_lock:
            with box.lock:
                slot = box._slot(event_id)
                last, slot["console_last"] = slot.get("console_last"), body
            socketio.emit("console", console_message(last, body), to=room(event_id, "crd"))
    return time.monotonic() - t0


def _send_state(event_id: int, msg: dict, last: dict | None = None) -> None:
    """One `state` per room (the fresh `me` of each participant whose own entry changed follows: `_send_mes`).

    `last` holds the public blocks this process sent for version msg["prev_v"] ({"par", "obs"}; obs None: the same
    as par): then only what changed since travels (`patch`), else the whole block (`public`).
    """
    state = {k: msg[k] for k in ("v", "prev_v", "server_now", "gone", "moves")}
    last_par = last["par"] if last else None
    last_obs = (last["obs"] or last["par"]) if last else None
    par = state | _public_or_patch(msg["public"], last_par, DERIVED_FOR_PARTICIPANTS)
    obs = state | _public_or_patch(msg["observer_public"] or msg["public"], last_obs)
    if par == obs:
        socketio.emit("state", par, to=[room(event_id, "obs"), room(event_id, "par")])
    else:
        socketio.emit("state", par, to=room(event_id, "par"))
        socketio.emit("state", obs, to=room(event_id, "obs"))


def _send_mes(app: Flask, event_id: int, touched: set, est: tuple[int, int, dict] | None = None) -> None:
    """A fresh `me` to each participant whose own entry changed. Each is read from the database when sent (with the
    estimates `est` of the `state` just sent, if the event is still at its version): one that finds it busy is tried
    again a moment later with the rest (Outbox.again), since a phone that was just called learns it from its `me`
    and no later change may come to tell it."""
    q, left = services(app).queue, sorted(touched)
    while left:
        try:
            socketio.emit("me", q.me(event_id, left[0], est), to=personal_room(left[0]))
        except Exception as e:
            if not is_busy(e):
                raise
            services(app).outbox.again(app, "a participant's `me`", lambda: _send_mes(app, event_id, set(left)), e)
            return
        left.pop(0)


def _public_or_patch(block: dict, last: dict | None, skip: tuple = ()) -> dict:
    """{"patch": what changed since `last`} when that is known and smaller, else {"public": the whole block}."""
    patch = public_patch(last, block, skip) if last is not None else None
    if patch is None or len(json.dumps(patch)) >= len(json.dumps(block)):
        return {"public": block}
    return {"patch": patch}


def _shift(p: int, gone: set, los: list, moves: list) -> int | None:
    """Where old position p went by one `state` message (None: it left the line)."""
    if p in gone:
        return None
    i = bisect.bisect_right(los, p) - 1
    if i >= 0 and moves[i][0] <= p <= moves[i][1]:
        return p + moves[i][2]
    return p


def compose(first: tuple[list, list], then: tuple[list, list], bound: int) -> tuple[list, list]:
    """The (gone, moves) of two consecutive `state` messages as one, for old positions 1..bound."""
    (g1, m1), (g2, m2) = first, then
    g1, g2, m1, m2 = set(g1), set(g2), sorted(m1), sorted(m2)
    los1, los2 = [m[0] for m in m1], [m[0] for m in m2]
    gone, moves = [], []
    for p in range(1, bound + 1):
        p1 = _shift(p, g1, los1, m1)
        p2 = _shift(p1, g2, los2, m2) if p1 is not None else None
        if p2 is None:
            gone.append(p)
        else:
            add_move(moves, p, p, p2 - p)
    return gone, moves


BURST = 3  # changes an event may send back to back before coalescing starts
# A send that found the database busy (a console view, a `me`) is tried again 1, 2, ... AGAIN_TRIES seconds later:
# the consoles and phones would otherwise show the change only after the next one, which may never come.
AGAIN_TRIES = 5
COST_SHARE = 2  # a `state` waits at least this many times as long as sending the previous one took
# ... but never longer than this. A send's time is wall time, and it includes waiting for the CPU behind every other
# green thread that is ready to run: with hundreds of phones reconnecting after a process died, one send "took" 5 s,
# the next `state` of that event waited 10 s, and its phones missed the 10 s the issue allows.
MAX_GAP = 2.0


class Outbox:
    """Coalesces broadcasts per event, so a burst of changes does not cost (changes x clients) messages.

    Each event may send one `state` per BROADCAST_WINDOW_MS on average, with up to BURST back to back, so isolated
    changes (a call, then a skip) go out at once. When sending one `state` to everyone takes longer (thousands of
    phones), the window stretches to COST_SHARE times that, so a storm of joins cannot spend all the CPU on
    broadcasts and starve the joins themselves. Beyond that a change waits until a send is allowed again, merged
    with the changes after it into one `state` (versions prev_v..v, positions composed) and one `me` per touched
    participant. The console view is rebuilt at most once per window, and never more often than
    every 3x its own build time (a long line makes it expensive); the last one sent stays here ("console_last"), so
    the next goes out as a patch against it. Nothing here is queue state: it is a send buffer
    that is lost on a crash, and clients resynchronise with a snapshot after any gap. BROADCAST_WINDOW_MS = 0 sends
    every change at once (in-process tests that count messages).
    """

    def __init__(self):
        """Nothing waits yet."""
        self.lock = threading.Lock()  # green under eventlet/gevent monkey-patching
        self.console_lock = threading.Lock()  # held while a console patch is made and sent (_send_console)
        self.events: dict[int, dict] = {}

    def _slot(self, event_id: int) -> dict:
        """The bookkeeping of one event (created on first use)."""
        return self.events.setdefault(event_id, {"tokens": BURST, "filled_at": time.monotonic(), "sent_v": 0,
                                                 "pending": None, "touched": set(), "cost": 0.0,
                                                 "timer": False, "console_at": -1e9, "console_gap": 0.0,
                                                 "console_timer": False})

    def forget(self, event_id: int) -> None:
        """The event is gone: drop whatever waits for it."""
        with self.lock:
            self.events.pop(event_id, None)

    def state(self, app: Flask, out) -> None:
        """Send (or queue) the `state` and `me` messages of one committed change."""
        window = app.config.get("BROADCAST_WINDOW_MS", 0) / 1000
        msg = {"v": out.v, "prev_v": out.prev_v, "server_now": out.server_now, "public": out.public,
               "observer_public": out.observer_public, "gone": list(out.gone), "moves": [list(m) for m in out.moves],
               "bound": (out.public or {}).get("counts", {}).get("line", 0) + len(out.gone)}
        if window <= 0:
            self._send(app, out.event_id, msg, set(out.touched))
            return
        sends, wait = [], None
        with self.lock:
            slot, now = self._slot(out.event_id), time.monotonic()
            self._refill(slot, now, window)
            slot["touched"] |= set(out.touched)
            if out.v <= slot["sent_v"]:  # an older change published late (two greenlets): send it as it is, since
                sends.append((msg, set()))  # phones hold the newer one until it comes (net.js _hold); `me`s go later
                msg = None
            elif slot["pending"] is not None and out.prev_v == slot["pending"]["v"]:
                msg = self._merge(slot["pending"], msg)
            elif slot["pending"] is not None:  # a gap (another process changed the event): send what waits first
                sends.append((slot["pending"], set()))
                slot.update(sent_v=slot["pending"]["v"], pending=None)
            if msg is not None and slot["pending"] is None and not slot["timer"] and slot["tokens"] >= 1:
                sends.append((msg, slot["touched"]))
                slot.update(tokens=slot["tokens"] - 1, sent_v=msg["v"], touched=set(), pending=None)
            else:
                if msg is not None:
                    slot["pending"] = msg
                if not slot["timer"]:
                    slot["timer"], wait = True, max(0.0, (1 - slot["tokens"]) * self._gap(slot, window))
        for m, touched in sends:
            self._send(app, out.event_id, m, touched)
        if wait is not None:
            socketio.start_background_task(self._flush_later, app, out.event_id, wait)

    def _send(self, app: Flask, event_id: int, msg: dict, touched: set) -> None:
        """Send the `state` now, and remember how long that took (it sets the pace of the next sends); then the
        `me` of each touched participant."""
        t0 = time.monotonic()
        _send_state(event_id, msg, self._last_blocks(event_id, msg))
        # With eventlet or gevent an emit only queues a packet per socket: yield so that the sockets' writers put the
        # `state` on the wire now, before the slower work that follows (the `me` reads, the console view, push
        # alerts). The time taken counts those writers, not the `me` reads: a read that waited for the database
        # behind a rush of joins made one send "take" most of a second, and an isolated call after the rush then
        # waited twice that for its `state` (1.3-1.9 s on PostgreSQL in bench/run.py).
        socketio.sleep(0)
        took = time.monotonic() - t0
        with self.lock:
            slot = self.events.get(event_id)
            if slot is not None:
                slot["cost"] = took
        _send_mes(app, event_id, touched, (msg["v"], msg["server_now"], msg["public"]["est"]))

    def _last_blocks(self, event_id: int, msg: dict) -> dict | None:
        """The public blocks sent for msg's prev_v (None when this process did not send that version), and
        remember msg's blocks for the next change. Another process's change in between means a whole block."""
        with self.lock:
            slot = self._slot(event_id)
            last = slot.get("last")
            if last is None or msg["v"] > last["v"]:
                slot["last"] = {"v": msg["v"], "par": msg["public"], "obs": msg["observer_public"]}
        return last if last is not None and last["v"] == msg["prev_v"] else None

    @staticmethod
    def _gap(slot: dict, window: float) -> float:
        """The time one send token takes to come back."""
        return max(window, min(MAX_GAP, COST_SHARE * slot["cost"]))

    @classmethod
    def _refill(cls, slot: dict, now: float, window: float) -> None:
        """One send token per gap, at most BURST saved up (so isolated changes never wait)."""
        if window > 0:
            slot["tokens"] = min(BURST, slot["tokens"] + (now - slot["filled_at"]) / cls._gap(slot, window))
        slot["filled_at"] = now

    @staticmethod
    def _merge(old: dict, new: dict) -> dict:
        """Two consecutive changes as one message from old's prev_v to new's v."""
        gone, moves = compose((old["gone"], old["moves"]), (new["gone"], new["moves"]), old["bound"])
        return new | {"prev_v": old["prev_v"], "gone": gone, "moves": moves, "bound": old["bound"]}

    def _flush_later(self, app: Flask, event_id: int, wait: float) -> None:
        """At the end of the window, send what waited (always with the newest `me` of each touched participant)."""
        socketio.sleep(wait)
        with self.lock:
            slot = self.events.get(event_id)
            if slot is None:
                return
            msg, touched = slot["pending"], slot["touched"]
            self._refill(slot, time.monotonic(), app.config.get("BROADCAST_WINDOW_MS", 0) / 1000)
            slot.update(pending=None, touched=set(), timer=False, tokens=max(0.0, slot["tokens"] - 1))
            if msg is not None:
                slot["sent_v"] = max(slot["sent_v"], msg["v"])
        if msg is None and not touched:
            return
        try:
            with app.app_context():
                if msg is not None:
                    self._send(app, event_id, msg, touched)
                else:
                    _send_mes(app, event_id, touched)
        except Exception as e:  # a purged event: its clients get `bye`
            log_failure("delayed broadcast", e)

    def again(self, app: Flask, what: str, send, error: Exception, attempt: int = 1) -> None:
        """Run `send` again `attempt` seconds from now, after it found the database busy (`error`); up to AGAIN_TRIES
        times, then one log line (the next change or reconnect brings the client up to date)."""
        if attempt > AGAIN_TRIES:
            log_failure(what, error)
            return

        def later():
            """The next try."""
            socketio.sleep(attempt)
            try:
                with app.app_context():
                    send()
            except Exception as e:  # noqa: BLE001
                if is_busy(e):
                    self.again(app, what, send, e, attempt + 1)
                else:
                    log_failure(what, e)
        socketio.start_background_task(later)

    def _console_now(self, app: Flask, event_id: int) -> None:
        """Build and send the console view now (again later if the database is busy); never raises."""
        try:
            took = _send_console(app, event_id)
        except Exception as e:  # noqa: BLE001 - a purged event, or a database too busy right now
            if is_busy(e):
                self.again(app, "a console update", lambda: _send_console(app, event_id), e)
            else:
                log_failure("console update", e)
            return
        with self.lock:
            self._slot(event_id)["console_gap"] = 3 * took

    def console(self, app: Flask, event_id: int, public: tuple[int, int, dict] | None = None) -> None:
        """Rebuild the coordinators' view now, or once at the end of the current window (never raises: a database
        too busy to build it gets it built again a moment later). `public` = (version, when it was built, the named
        public block of a change): kept here, the newest one, for the view to take while it is current."""
        window = app.config.get("BROADCAST_WINDOW_MS", 0) / 1000
        with self.lock:
            slot, now = self._slot(event_id), time.monotonic()
            if public is not None and public[2] is not None and public[0] > slot.get("console_public", (0,))[0]:
                slot["console_public"] = public
            gap = max(window, min(MAX_GAP, slot["console_gap"]))
            if window > 0 and slot["console_timer"]:
                return
            if window > 0 and now - slot["console_at"] < gap:
                slot["console_timer"] = True
                wait = slot["console_at"] + gap - now
            else:
                slot["console_at"], wait = now, None
        if wait is None:
            self._console_now(app, event_id)
        else:
            socketio.start_background_task(self._console_later, app, event_id, wait)

    def _console_later(self, app: Flask, event_id: int, wait: float) -> None:
        """Send the console view at the end of the window."""
        socketio.sleep(wait)
        with self.lock:
            slot = self.events.get(event_id)
            if slot is None:
                return
            slot["console_timer"], slot["console_at"] = False, time.monotonic()
        with app.app_context():
            self._console_now(app, event_id)



def log_failure(what: str, e: Exception) -> None:
    """Log a send that failed after its change was committed: one line when the database was only busy or away for a
    moment (a restart), a traceback otherwise. Clients resync on the version gap either way."""
    if is_busy(e):
        log.warning("%s skipped, database busy: %s", what, e.__class__.__name__)
    else:
        log.exception("%s failed", what)
