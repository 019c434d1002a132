"""Split brain and a Redis outage, on a private redis-server that the test stops and starts again."""
from __future__ import annotations
import _paths  # noqa: F401 - first: puts tests/server on the path

import contextlib
import secrets
import time

import pytest
import realclients
import requests
from realclients import Peer, coordinator_auth, create_event, http_snapshot, new_op, participant_auth, wait_for
from services import PrivateRedis, StartingServer

pytestmark = [pytest.mark.server, pytest.mark.postgres, pytest.mark.redis]
OUTAGE_SECONDS = 20


@pytest.fixture
def private_redis(tmp_path):
    """A redis-server of our own, stopped after the test."""
    servers = []

    def make() -> PrivateRedis:
        r = PrivateRedis(tmp_path / f"redis{len(servers)}").start()
        servers.append(r)
        return r
    yield make
    for r in servers:
        r.stop()


@pytest.fixture
def start_server(tmp_path):
    """Start StartingServer processes (each its own instance folder, one shared SECRET_KEY); stopped after."""
    started = []

    def make(**kwargs) -> StartingServer:
        extra = {"PICKET_SECRET_KEY": "s" * 64, **kwargs.pop("extra_env", {})}
        srv = StartingServer(tmp_path / f"instance{len(started)}", extra_env=extra, **kwargs)
        started.append(srv)  # before start(): stopped after the test even if it never answered
        return srv.start()
    yield make
    for srv in started:
        srv.stop()


def _until(predicate, what: str, timeout: float = 60) -> None:
    """Poll a condition (never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_a_process_on_another_redis_or_none_refuses_clients(start_server, private_redis, pg_url, tmp_path):
    """A and B share a Redis; W was given another Redis, U one that does not answer: W and U are not ready and
    refuse connections and changes with `busy`, while A and B serve."""
    good, other = private_redis(), private_redis()
    a = start_server(db_url=pg_url, message_queue=good.url)
    b = start_server(db_url=pg_url, message_queue=good.url)
    _until(lambda: a.health() == 200 and b.health() == 200, "A and B ready")
    w = start_server(db_url=pg_url, message_queue=other.url)
    u = start_server(db_url=pg_url, message_queue="redis://127.0.0.1:1/0")
    ev = create_event(a.url)
    for srv in (w, u):
        assert srv.health() == 503
        r = requests.post(f"{srv.url}/api/events/{ev['slug']}/actions/broadcast", timeout=30,
                          json={"op": new_op(), "args": {"text": "x"}}, headers={"X-Coordinator-Token": ev["token"]})
        assert r.status_code == 503 and r.json()["error"]["code"] == "busy", r.text
        refused = realclients.run(_refused(srv.url, ev["slug"]))
        assert refused and refused[0]["data"]["code"] == "busy", refused
    assert a.health() == 200 and b.health() == 200
    assert "other live process" in w.output() and "Redis unreachable" in u.output()
    for srv in (a, b, w, u):
        assert "Traceback" not in srv.output()


async def _refused(url: str, slug: str) -> list:
    """Try to connect a board; return what the server said when it refused."""
    peer = Peer(url, {"event": slug})
    try:
        await peer.connect()
    except Exception:  # noqa: BLE001 - refused, as expected; the reason is in peer.refusals
        pass
    await peer.close()
    return peer.refusals


def test_redis_away_for_20_seconds(start_server, private_redis, pg_url):
    """Redis stops for 20 s under two processes with phones on both. Meanwhile both answer `busy` (one log line
    each), nothing acknowledged is lost, and once Redis is back the retried actions succeed and every client gets
    the changes made after it."""
    r = private_redis()
    a = start_server(db_url=pg_url, message_queue=r.url)
    b = start_server(db_url=pg_url, message_queue=r.url)
    _until(lambda: a.health() == 200 and b.health() == 200, "A and B ready")
    ev = create_event(a.url, auto_call=False)
    realclients.run(_outage(a, b, r, ev))
    for srv in (a, b):
        out = srv.output()
        assert out.count("message queue not usable") == 1, out[-3000:]
        assert out.count("message queue works") == 2, out[-3000:]  # at start, and when Redis came back
        assert "Traceback" not in out and "Cannot publish" not in out, out[-3000:]


@contextlib.asynccontextmanager
async def _picket(a, b, ev: dict):
    """Four phones (on A and B in turn) and a coordinator (on B); the first two phones have joined. Yields
    (phones, coordinator, acknowledged entry ids); every client is closed afterwards."""
    slug = ev["slug"]
    phones = [await Peer(srv.url, participant_auth(slug, secrets.token_urlsafe(32))).connect() for srv in (a, b, a, b)]
    coord = await Peer(b.url, coordinator_auth(slug, ev["token"])).connect()
    acked = []
    try:
        for i, p in enumerate(phones[:2]):
            ack = await p.act("join", {"pseudonym": f"Before{i}"})
            assert ack["ok"], ack
            acked.append(ack["result"]["entry"])
        yield phones, coord, acked
    finally:
        for p in phones + [coord]:
            await p.close()


async def _everyone_sees_it(a, ev: dict, phones: list, coord, acked: list) -> None:
    """The coordinator starts the line: every client catches up with that version, and every acknowledged join is in
    the line."""
    import asyncio
    started = await coord.act("start")
    assert started["ok"], started
    await wait_for(lambda: all(p.last_v() >= started["v"] for p in phones + [coord]), what="every client to catch up")
    line = {e["id"] for e in (await asyncio.to_thread(http_snapshot, a.url, ev["slug"], ev["token"]))["line"]}
    assert set(acked) <= line, (acked, line)


async def _outage(a, b, redis_server, ev: dict) -> None:
    """The scenario of the test above."""
    import asyncio
    async with _picket(a, b, ev) as (phones, coord, acked):
        await asyncio.to_thread(redis_server.stop)
        stopped = time.monotonic()
        await wait_for(lambda: a.health() == 503 and b.health() == 503, what="both processes to say not ready")
        ops = [new_op(), new_op()]
        for p, op in zip(phones[2:], ops):  # refused while Redis is away: nothing acknowledged, nothing changed
            ack = await p.act("join", {"pseudonym": "During"}, op=op)
            assert not ack["ok"] and ack["error"]["code"] == "busy", ack
        await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - stopped)))  # the outage lasts 20 s
        await asyncio.to_thread(redis_server.start)
        await wait_for(lambda: a.health() == 200 and b.health() == 200, what="both processes ready again")
        for p, op in zip(phones[2:], ops):  # the pages retry with the same op id
            ack = await p.act("join", {"pseudonym": "After"}, op=op)
            assert ack["ok"], ack
            acked.append(ack["result"]["entry"])
        await _everyone_sees_it(a, ev, phones, coord, acked)


@pytest.fixture
def private_pg():
    """A PostgreSQL cluster of our own, removed after the test."""
    from services import PrivatePostgres
    pg = PrivatePostgres().start()
    yield pg
    pg.remove()


def test_postgresql_restarted(start_server, private_redis, private_pg):
    """PostgreSQL restarts under two processes with phones on both: changes meanwhile answer `busy` (the pages
    retry with the same op id), nothing acknowledged is lost, clients catch up, and the log has no traceback."""
    r = private_redis()
    a = start_server(db_url=private_pg.url, message_queue=r.url)
    b = start_server(db_url=private_pg.url, message_queue=r.url)
    _until(lambda: a.health() == 200 and b.health() == 200, "A and B ready")
    ev = create_event(a.url, auto_call=False)
    realclients.run(_pg_restart(a, b, private_pg, ev))
    for srv in (a, b):
        out = srv.output()
        assert "Traceback" not in out, out[-3000:]
        assert out.count("ticker round skipped") <= 2, out[-3000:]  # one line per outage, not one per round


async def _pg_restart(a, b, pg, ev: dict) -> None:
    """Join two, restart PostgreSQL, join two more with retries, start the line: everyone sees it."""
    import asyncio
    async with _picket(a, b, ev) as (phones, coord, acked):
        await asyncio.to_thread(pg.stop)
        down = [await p.act("join", {"pseudonym": "During"}) for p in phones[2:]]
        assert all(not d["ok"] and d["error"]["code"] == "busy" for d in down), down
        await asyncio.to_thread(pg.start)
        for p in phones[2:]:
            op = new_op()
            while True:  # what net.js does with `busy`: the same op id again, a little later
                ack = await p.act("join", {"pseudonym": "After"}, op=op)
                if ack["ok"] or ack["error"]["code"] != "busy":
                    break
                await asyncio.sleep(0.5)
            assert ack["ok"], ack
            acked.append(ack["result"]["entry"])
        await _everyone_sees_it(a, ev, phones, coord, acked)
