"""The real eventlet server as a process, driven by real Socket.IO clients over WebSocket.

Retried joins, two coordinators calling at once, a crash (kill -9) in the middle of an event, and reconnects.
"""
from __future__ import annotations

import asyncio
import secrets
from collections import Counter

import pytest
import realclients  # noqa: E402
from realclients import (Peer, coordinator_auth, create_event, http_action, http_snapshot, new_op,
                         participant_auth, wait_for)

pytestmark = pytest.mark.server


def new_token() -> str:
    """A participant token as a browser makes it."""
    return secrets.token_urlsafe(32)


def every_entry(snap: dict) -> list[dict]:
    """Everyone the coordinator snapshot knows about: in line, called or on a spot, and past."""
    return snap["line"] + snap["active"] + snap["past"]


# ---------------------------------------------------------------- 100 joins, 30 % retried

def test_hundred_joins_with_retries_make_exactly_hundred_entries(live_server):
    """100 phones join at once and 30 of them retry (same op, or a new op): 100 entries, tickets 1..100."""
    ev = create_event(live_server.url, max_queue=500)
    acks, peers = realclients.run(_hundred_joins(live_server.url, ev))

    tickets = []
    for i, per_client in enumerate(acks):
        assert all(a["ok"] for a in per_client), per_client
        # Every answer to one client names the same entry: a retry never creates a second one.
        assert len({(a["result"]["entry"], a["result"]["ticket"]) for a in per_client}) == 1, per_client
        tickets.append(per_client[0]["result"]["ticket"])
    assert sorted(tickets) == list(range(1, 101))

    snap = http_snapshot(live_server.url, ev["slug"], ev["token"])
    assert len(snap["line"]) == 100
    assert sorted(e["ticket"] for e in every_entry(snap)) == list(range(1, 101))
    assert snap["public"]["counts"]["line"] == 100
    # Each client got its own `me` naming its own ticket.
    for ticket, peer in zip(tickets, peers):
        assert any(m["me"] and m["me"]["ticket"] == ticket for m in peer.got["me"]), peer.got["me"]


async def _hundred_joins(url: str, ev: dict):
    """Connect 100 participants, join all at once with retries; returns the acks per client and the clients."""
    peers = [Peer(url, participant_auth(ev["slug"], new_token())) for _ in range(100)]
    await asyncio.gather(*(p.connect() for p in peers))
    try:
        await wait_for(lambda: all(p.got["snapshot"] for p in peers), what="a snapshot on every connect")

        async def join(i: int, peer: Peer) -> list[dict]:
            """One client's join, with its kind of retry."""
            op, args = new_op(), {"pseudonym": f"Person {i}"}
            if i % 10 >= 3:  # 70 %: one join
                return [await peer.act("join", args, op)]
            if i % 3 == 0:  # a retry racing the first attempt, same op id
                return list(await asyncio.gather(peer.act("join", args, op), peer.act("join", args, op)))
            if i % 3 == 1:  # the answer was lost: retry with the same op id after it
                first = await peer.act("join", args, op)
                return [first, await peer.act("join", args, op)]
            # a double tap: a second join with a new op id, racing the first
            return list(await asyncio.gather(peer.act("join", args, op), peer.act("join", args, new_op())))

        acks = await asyncio.gather(*(join(i, p) for i, p in enumerate(peers)))
        await wait_for(lambda: all(p.got["me"] for p in peers), what="a `me` message for every client")
        return acks, peers
    finally:
        await asyncio.gather(*(p.close() for p in peers))


# ---------------------------------------------------------------- two coordinators call at once

def test_two_coordinators_calling_at_once_never_double_book(server_factory):
    """Concurrent call_next from two coordinators: one person per spot, nobody called twice, losers get no_free_spot."""
    # The owner adds 30 walk-ins in a burst, faster than a person would: lift the per-actor action limit here.
    url = server_factory(extra_env={"PICKET_ACTION_BURST": "100"}).url
    ev = create_event(url, auto_call=False, max_queue=500)
    second = http_action(url, ev["slug"], ev["token"], "invite", {"label": "second"})
    assert second["ok"], second
    for i in range(30):
        assert http_action(url, ev["slug"], ev["token"], "add_walk_in", {"pseudonym": f"Walk-in {i}"})["ok"]
    assert http_action(url, ev["slug"], ev["token"], "start")["ok"]
    rounds = realclients.run(_call_rounds(url, ev, second["result"]["token"]))

    called_entries = []
    for kind, acks in rounds:
        won = [a for a in acks if a["ok"]]
        lost = [a for a in acks if not a["ok"]]
        assert all(a["error"]["code"] == "no_free_spot" for a in lost), lost
        spots = [a["result"]["spot"]["id"] for a in won]
        assert len(spots) == len(set(spots)), f"two people called to one spot: {acks}"
        assert len(won) == (1 if kind == "same spot" else 2), (kind, acks)
        called_entries += [a["result"]["entry"] for a in won]
    assert len(called_entries) == len(set(called_entries)), "someone was called twice"

    snap = http_snapshot(url, ev["slug"], ev["token"])
    call_rows = [r for r in snap["log"] if r["action"] == "call"]
    assert len(call_rows) == len(called_entries)
    assert len({r["ticket"] for r in call_rows}) == len(call_rows)


async def _call_rounds(url: str, ev: dict, second_token: str) -> list[tuple[str, list[dict]]]:
    """Several rounds of simultaneous calls; after each, the called people are checked in and finished over HTTP."""
    a = await Peer(url, coordinator_auth(ev["slug"], ev["token"])).connect()
    b = await Peer(url, coordinator_auth(ev["slug"], second_token)).connect()
    rounds = []
    try:
        for r in range(6):
            if r % 3 == 0:  # both spots free, one call each
                kind, calls = "one each", [a.act("call_next"), b.act("call_next")]
            elif r % 3 == 1:  # four calls for two spots
                kind, calls = "two each", [a.act("call_next"), b.act("call_next"), a.act("call_next"),
                                           b.act("call_next")]
            else:  # both name the same spot
                spot = {"spot": ev["spots"][0]}
                kind, calls = "same spot", [a.act("call_next", spot), b.act("call_next", spot)]
            acks = list(await asyncio.gather(*calls))
            rounds.append((kind, acks))
            for ack in acks:  # free the spots for the next round
                if ack["ok"]:
                    entry = {"entry": ack["result"]["entry"]}
                    assert http_action(url, ev["slug"], ev["token"], "confirm_arrival", entry)["ok"]
                    assert http_action(url, ev["slug"], ev["token"], "finish", entry)["ok"]
    finally:
        await a.close()
        await b.close()
    return rounds


# ---------------------------------------------------------------- kill -9 in the middle of an event

def test_kill9_keeps_every_acknowledged_action_and_runs_overdue_transitions_once(server_factory):
    """Crash the server during a burst of joins; after restarts (with the clock jumped ahead) nothing acked is lost
    and the overdue slot end and no-show each happen exactly once."""
    srv = server_factory()
    ev = create_event(srv.url, auto_call=False, slot_ms=60_000, grace_ms=15_000, max_queue=500)
    before = realclients.run(_before_crash(srv, ev))

    # The clock jumps two minutes: A's slot (60 s) and B's grace (15 s) are both overdue on restart.
    srv2 = server_factory(extra_env={"PICKET_CLOCK_OFFSET_MS": "120000"})
    snap = realclients.run(_wait_transitions(srv2.url, ev, before))
    _check_survivors(snap, before)

    # Crash and restart once more, later still: the transitions must not run again.
    srv2.kill9()
    srv3 = server_factory(extra_env={"PICKET_CLOCK_OFFSET_MS": "240000"})
    snap = http_snapshot(srv3.url, ev["slug"], ev["token"])
    _check_survivors(snap, before)


async def _before_crash(srv, ev: dict) -> dict:
    """Two people called (one checks in), then 40 joins; kill -9 once 20 are acknowledged. Returns what was acked."""
    url = srv.url
    coord = await Peer(url, coordinator_auth(ev["slug"], ev["token"])).connect()
    first = [await Peer(url, participant_auth(ev["slug"], new_token())).connect() for _ in range(2)]
    for i, p in enumerate(first):
        assert (await p.act("join", {"pseudonym": f"First {i}"}))["ok"]
    assert (await coord.act("start"))["ok"]
    call_a = await coord.act("call_next", {"spot": ev["spots"][0]})
    call_b = await coord.act("call_next", {"spot": ev["spots"][1]})
    assert call_a["ok"] and call_b["ok"], (call_a, call_b)
    arrive = await first[0].act("confirm_arrival")
    assert arrive["ok"], arrive

    burst = [await Peer(url, participant_auth(ev["slug"], new_token())).connect() for _ in range(40)]
    tasks = [asyncio.ensure_future(p.act("join", {"pseudonym": f"Burst {i}"})) for i, p in enumerate(burst)]
    await wait_for(lambda: sum(t.done() for t in tasks) >= 20, what="20 acknowledged joins")
    srv.kill9()
    await asyncio.sleep(0)  # let the event loop deliver any ack that arrived before the crash
    acked = [t.result()["result"]["ticket"] for t in tasks
             if t.done() and not t.cancelled() and t.exception() is None and t.result().get("ok")]
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for p in [coord, *first, *burst]:
        await p.close()
    assert len(acked) >= 20
    return {"acked": acked, "a": call_a["result"]["ticket"], "b": call_b["result"]["ticket"],
            "first": [call_a["result"]["ticket"], call_b["result"]["ticket"]]}


async def _wait_transitions(url: str, ev: dict, before: dict) -> dict:
    """A coordinator connects to the restarted server and waits for the ticker to apply the overdue transitions."""
    coord = await Peer(url, coordinator_auth(ev["slug"], ev["token"])).connect()
    try:
        def settled() -> bool:
            """Whether the newest coordinator view logs both transitions."""
            views = coord.got["snapshot"] + coord.got["console"]
            return bool(views) and {"slot_end", "no_show"} <= {r["action"] for r in views[-1]["log"]}
        await wait_for(settled, what="the overdue slot end and no-show")
        return await coord.snapshot()
    finally:
        await coord.close()


def _check_survivors(snap: dict, before: dict) -> None:
    """Every acked join, both calls and the arrival are there; each overdue transition is logged exactly once."""
    by_ticket = {e["ticket"]: e for e in every_entry(snap)}
    missing = [t for t in before["acked"] if t not in by_ticket]
    assert not missing, f"acknowledged joins lost in the crash: {missing}"
    log = Counter((r["action"], r["ticket"]) for r in snap["log"])
    assert log[("call", before["a"])] == 1 and log[("call", before["b"])] == 1
    assert log[("arrive", before["a"])] == 1 and log[("start", before["a"])] == 1
    assert log[("slot_end", before["a"])] == 1, snap["log"]
    assert log[("no_show", before["b"])] == 1, snap["log"]
    assert by_ticket[before["a"]]["state"] == "done"
    assert by_ticket[before["b"]]["state"] == "waiting" and by_ticket[before["b"]]["misses"] == 1
    assert sum(n for (action, _), n in log.items() if action in ("slot_end", "no_show")) == 2
    assert snap["public"]["counts"]["held"] == 1 and snap["public"]["counts"]["noshow"] == 1


# ---------------------------------------------------------------- reconnect

def test_reconnecting_participant_keeps_its_place_and_gets_a_snapshot(live_server):
    """A phone loses its connection and comes back: same entry, same place, a fresh snapshot on connect."""
    url = live_server.url
    ev = create_event(url, auto_call=False)
    realclients.run(_reconnect(url, ev))


async def _reconnect(url: str, ev: dict) -> None:
    """Join three people, drop the middle one, let the line change, reconnect with the same token."""
    tokens = [new_token() for _ in range(3)]
    peers = [await Peer(url, participant_auth(ev["slug"], t)).connect() for t in tokens]
    for i, p in enumerate(peers):
        assert (await p.act("join", {"pseudonym": f"Person {i}"}))["ok"]
    mine = (await peers[1].snapshot())["me"]
    assert mine["position"] == 2
    await peers[1].close()

    def online(entry_id: int) -> bool:
        """Whether the coordinator sees this entry's phone as connected."""
        return next(e for e in http_snapshot(url, ev["slug"], ev["token"])["line"] if e["id"] == entry_id)["online"]
    await wait_for(lambda: not online(mine["id"]), what="the coordinator to see the phone offline")
    # While it is gone the line changes: the first person leaves, a newcomer joins behind.
    assert (await peers[0].act("leave"))["ok"]
    late = await Peer(url, participant_auth(ev["slug"], new_token())).connect()
    assert (await late.act("join", {"pseudonym": "Late"}))["ok"]

    back = await Peer(url, participant_auth(ev["slug"], tokens[1])).connect()
    try:
        await wait_for(lambda: back.got["snapshot"], what="a snapshot right after reconnecting")
        snap = back.got["snapshot"][0]
        assert snap["role"] == "participant"
        assert snap["me"]["id"] == mine["id"] and snap["me"]["ticket"] == mine["ticket"]
        assert snap["me"]["state"] == "waiting" and snap["me"]["position"] == 1
        assert snap["v"] >= (await late.snapshot())["v"]
        await wait_for(lambda: online(mine["id"]), what="the coordinator to see the phone online again")
    finally:
        for p in (*peers, late, back):
            await p.close()
