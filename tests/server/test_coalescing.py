"""Broadcast coalescing: merged `state` messages must move every position exactly as the separate ones would."""
from __future__ import annotations

import asyncio
import random
import secrets

import pytest
import realclients  # noqa: E402
from realclients import Peer, create_event, http_action, http_snapshot, participant_auth, wait_for

from coordinator.broadcast import BURST, COST_SHARE, MAX_GAP, Outbox, compose
from coordinator.domain.views import moves


def where(p: int, gone: list, ranges: list) -> int | None:
    """Apply one (gone, moves) pair to an old position, as docs/protocol.md tells clients to."""
    if p in gone:
        return None
    for lo, hi, d in ranges:
        if lo <= p <= hi:
            return p + d
    return p


def change(line: list[int], rng: random.Random, fresh: list[int]) -> list[int]:
    """One random change to a line of ids: someone leaves, joins (anywhere) or moves."""
    line = list(line)
    kind = rng.choice(["leave", "join", "move", "front"])
    if kind == "leave" and line:
        line.pop(rng.randrange(len(line)))
    elif kind == "join":
        fresh[0] += 1
        line.insert(rng.randint(0, len(line)), fresh[0])
    elif kind in ("move", "front") and line:
        x = line.pop(rng.randrange(len(line)))
        line.insert(0 if kind == "front" else rng.randint(0, len(line)), x)
    return line


@pytest.mark.parametrize("seed", range(40))
def test_composed_changes_move_positions_like_the_separate_ones(seed):
    """Random chains of changes: composing their messages gives every old position the same fate."""
    rng = random.Random(seed)
    fresh = [100]
    line0 = list(range(1, rng.randint(0, 30) + 1))
    lines = [line0]
    for _ in range(rng.randint(2, 8)):
        lines.append(change(lines[-1], rng, fresh))
    gone, ranges = moves(lines[0], lines[1])
    bound = len(lines[1]) + len(gone)  # what the outbox knows: the line after the first change plus who left
    for a, b in zip(lines[1:], lines[2:]):
        gone, ranges = compose((gone, ranges), moves(a, b), bound)
    for p, eid in enumerate(line0, start=1):
        expected = lines[-1].index(eid) + 1 if eid in lines[-1] else None
        assert where(p, gone, ranges) == expected, (seed, p, lines)


def test_send_tokens_come_back_per_window_or_per_twice_the_last_send_time():
    """Cheap sends refill one token per window; a send that took long (thousands of phones) stretches the gap, so a
    storm of changes cannot keep the server busy broadcasting all the time."""
    slot = Outbox()._slot(1)
    assert slot["tokens"] == BURST and Outbox._gap(slot, 0.25) == 0.25
    slot.update(tokens=0.0, filled_at=100.0, cost=0.05)
    Outbox._refill(slot, 100.25, 0.25)
    assert slot["tokens"] == pytest.approx(1.0)
    slot.update(tokens=0.0, filled_at=200.0, cost=0.4)
    assert Outbox._gap(slot, 0.25) == pytest.approx(COST_SHARE * 0.4)
    Outbox._refill(slot, 200.4, 0.25)
    assert slot["tokens"] == pytest.approx(0.4 / (COST_SHARE * 0.4))
    Outbox._refill(slot, 300.0, 0.25)
    assert slot["tokens"] == BURST, "never more than a burst saved up"


def test_a_send_that_seemed_slow_never_holds_the_next_state_back_more_than_max_gap():
    """A send's wall time includes waiting behind other green threads (a reconnect storm made one "take" 5 s): the
    next `state` of that event waits at most MAX_GAP, not twice that."""
    slot = Outbox()._slot(1)
    slot.update(cost=5.0, console_gap=15.0)
    assert Outbox._gap(slot, 0.25) == MAX_GAP < COST_SHARE * 5.0


@pytest.mark.server
def test_burst_of_changes_reaches_clients_coalesced_and_consistent(server_factory):
    """A long window merges a burst of coordinator actions; each phone's position, followed from the `state`
    messages alone, ends where the server says it is."""
    srv = server_factory(extra_env={"PICKET_BROADCAST_WINDOW_MS": "1000"})
    ev = create_event(srv.url, auto_call=False)
    tracked, final, n_changes = realclients.run(_burst(srv.url, ev))

    by_id = {e["id"]: e for e in final["line"] + final["active"] + final["past"]}
    states_seen = []
    for entry_id, (pos, n_states) in tracked.items():
        states_seen.append(n_states)
        assert pos == by_id[entry_id]["position"], (entry_id, pos, by_id[entry_id])
    assert max(states_seen) < n_changes, "the burst was not coalesced at all"


def last_state_v(peer: Peer) -> int:
    """The newest version in a phone's `state` chain (a `me` is built when sent and may be newer already)."""
    return max((st["v"] for st in peer.got["state"]), default=0)


async def _burst(url: str, ev: dict):
    """12 phones join; then a quick burst of calls, skips, moves, removals and walk-ins over HTTP."""
    peers = [await Peer(url, participant_auth(ev["slug"], secrets.token_urlsafe(32))).connect() for _ in range(12)]
    try:
        entries = []
        for i, p in enumerate(peers):
            ack = await p.act("join", {"pseudonym": f"Person {i}"})
            assert ack["ok"], ack
            entries.append(ack["result"]["entry"])
        v_joined = http_snapshot(url, ev["slug"], ev["token"])["v"]
        await wait_for(lambda: all(last_state_v(p) >= v_joined for p in peers), what="every phone to see all joins")
        starts = []
        for p in peers:
            snap = await p.snapshot()
            starts.append((snap["v"], snap["me"]["position"]))
            p.got["state"].clear()

        token, slug = ev["token"], ev["slug"]
        burst = [("start", {}), ("call_next", {}), ("move", {"entry": entries[8], "to": 1}),
                 ("remove", {"entry": entries[3]}), ("add_walk_in", {"pseudonym": "Walk-in", "to": 2}),
                 ("call_next", {}), ("skip", {"entry": entries[5]}), ("move", {"entry": entries[11], "to": 3}),
                 ("remove", {"entry": entries[6]}), ("skip", {"entry": entries[0]})]
        for name, args in burst:
            ack = http_action(url, slug, token, name, args)
            assert ack["ok"], (name, ack)
        final = http_snapshot(url, slug, token)
        # Wait for the `state` chain itself: a `me` is built when it is sent and may already carry a newer version
        # than the merged `state` still waiting in the outbox.
        await wait_for(lambda: all(last_state_v(p) >= final["v"] for p in peers),
                       what="every phone's state chain to catch up")
        # A `me` goes out right after its `state` but may arrive in a later read: one round trip per phone, asked
        # after the `state` came, is answered after everything the server had already queued for that socket.
        for p in peers:
            await p.snapshot()

        tracked = {}
        for entry_id, p, (v, pos) in zip(entries, peers, starts):
            for st in p.got["state"]:
                if st["v"] <= v:
                    continue
                assert st["prev_v"] == v, f"a gap in one process: {v} then {st['prev_v']}->{st['v']}"
                pos, v = where(pos, st["gone"], st["moves"]) if pos is not None else None, st["v"]
            if pos is None and p.got["me"]:  # out of the line (called): its own `me` says where it is now
                pos = p.got["me"][-1]["me"]["position"]
            tracked[entry_id] = (pos, len(p.got["state"]))
        return tracked, final, len(burst)
    finally:
        for p in peers:
            await p.close()


def test_a_background_send_that_finds_the_database_busy_logs_one_line(caplog):
    """A delayed broadcast or console update that meets a busy database (the pool or the write lock) is skipped with
    one warning line; any other failure keeps its traceback for the operator."""
    import logging

    from sqlalchemy.exc import TimeoutError as PoolTimeout

    from coordinator.broadcast import log_failure
    with caplog.at_level(logging.WARNING, logger="coordinator.broadcast"):
        try:
            raise PoolTimeout("QueuePool limit of size 1 overflow 0 reached")
        except PoolTimeout as e:
            log_failure("delayed console update", e)
        try:
            raise RuntimeError("a bug")
        except RuntimeError as e:
            log_failure("delayed broadcast", e)
    busy, bug = caplog.records
    assert (busy.levelname, busy.exc_info) == ("WARNING", None)
    assert busy.getMessage() == "delayed console update skipped, database busy: TimeoutError"
    assert bug.levelname == "ERROR" and bug.exc_info is not None
