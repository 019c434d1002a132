"""Clients spread over 3 real server processes (PostgreSQL + Redis) see one unbroken version chain.

Joins made on different processes are published by different processes, so a phone may get version 6 (from B)
before version 5 (from A). The pages used to ask for a snapshot at every such gap (thousands per minute in an outside
run: the "snapshot storm"). The recorded arrival order of every client is replayed through the real net.js."""
from __future__ import annotations
import _paths  # noqa: F401 - first: puts tests/server on the path

import asyncio
import secrets
import time

import pytest
import realclients
from realclients import coordinator_auth, create_event, participant_auth, wait_for
from versionchain import TimedPeer, old_rule_gaps, replay

pytestmark = [pytest.mark.server, pytest.mark.postgres, pytest.mark.redis]
PHONES_PER_PROCESS = 10
BOARDS_PER_PROCESS = 3


def test_spread_clients_see_one_version_chain(server_factory, pg_url, redis_url):
    """30 phones and 9 boards over 3 processes; every phone joins (all processes at once), then calls: replayed
    through net.js no client asks for a snapshot, and every client ends on the last version."""
    servers = [server_factory(db_url=pg_url, message_queue=redis_url) for _ in range(3)]
    ev = create_event(servers[0].url, auto_call=False, spots=[{"label": s} for s in "ABCD"])
    records, last_v = realclients.run(_spread([s.url for s in servers], ev))
    old = sum(old_rule_gaps(r) for r in records)
    result = replay(records)
    print(f"\n{len(records)} clients, last version {last_v}: old rule {old} snapshot requests, "
          f"with the reorder buffer {sum(result['refreshes'])}")
    assert result["final_v"] == [last_v] * len(records)
    assert result["refreshes"] == [0] * len(records)


def chained(record: dict, last_v: int) -> bool:
    """Whether the `state` messages a client got link its first snapshot's version to last_v, in any order."""
    links = {prev: v for _, prev, v in record["got"]}
    v = record["v"]
    while v < last_v and v in links:
        v = max(v, links[v])
    return v >= last_v


async def _spread(urls: list[str], ev: dict) -> tuple[list[dict], int]:
    """Connect, join everyone at once, call a few; return each client's record and the last version."""
    t0, slug = time.monotonic(), ev["slug"]
    phones = [TimedPeer(urls[i % 3], participant_auth(slug, secrets.token_urlsafe(32)), t0)
              for i in range(3 * PHONES_PER_PROCESS)]
    boards = [TimedPeer(urls[i % 3], {"event": slug}, t0) for i in range(3 * BOARDS_PER_PROCESS)]
    coord = TimedPeer(urls[1], coordinator_auth(slug, ev["token"]), t0)
    everyone = phones + boards + [coord]
    try:
        await asyncio.gather(*(p.connect() for p in everyone))
        acks = await asyncio.gather(*(p.act("join", {"pseudonym": f"P{i}"}) for i, p in enumerate(phones)))
        assert all(a["ok"] for a in acks), [a for a in acks if not a["ok"]][:3]
        acks.append(await coord.act("start"))
        for _ in range(3):
            acks.append(await coord.act("call_next"))
            assert acks[-1]["ok"], acks[-1]
        last_v = max(a["v"] for a in acks)
        await wait_for(lambda: all(p.last_v() >= last_v for p in everyone), what="every client to get the last version")
        # ... and every `state` on the way there: a process's outbox may send an older version after another process
        # sent a newer one (its arrival time decides whether the page would have asked for a snapshot meanwhile).
        await wait_for(lambda: all(chained(p.record(), last_v) for p in phones + boards),
                       what="every client to get every version up to the last")
        return [p.record() for p in phones + boards], last_v
    finally:
        await asyncio.gather(*(p.close() for p in everyone))
