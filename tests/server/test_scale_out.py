"""Two real server processes on one PostgreSQL database, joined by the Redis message queue."""
from __future__ import annotations

import asyncio
import secrets
from collections import Counter

import pytest
import realclients  # noqa: E402
from realclients import Peer, coordinator_auth, create_event, http_snapshot, participant_auth, wait_for

pytestmark = [pytest.mark.server, pytest.mark.postgres, pytest.mark.redis]


def test_two_processes_share_changes_and_run_a_due_transition_once(server_factory, pg_url, redis_url):
    """A change made through process B reaches clients on process A; both tickers run, the no-show happens once."""
    a = server_factory(db_url=pg_url, message_queue=redis_url)
    b = server_factory(db_url=pg_url, message_queue=redis_url)
    ev = create_event(a.url, auto_call=False, grace_ms=15_000)
    seen = realclients.run(_scenario(a.url, b.url, ev))

    snap = http_snapshot(b.url, ev["slug"], ev["token"])
    ticket = seen["ticket"]
    log = Counter((r["action"], r["ticket"]) for r in snap["log"])
    assert log[("call", ticket)] == 1
    assert log[("no_show", ticket)] == 1, snap["log"]
    assert snap["public"]["counts"]["noshow"] == 1
    # Each change was broadcast once: no client saw the same version twice (two tickers would double it).
    for name, versions in seen["versions"].items():
        dupes = [v for v, n in Counter(versions).items() if n > 1]
        assert not dupes, f"{name} got versions {dupes} twice"


async def _scenario(url_a: str, url_b: str, ev: dict) -> dict:
    """A participant and an observer on A, a coordinator and another participant on B."""
    slug = ev["slug"]
    mine = await Peer(url_a, participant_auth(slug, secrets.token_urlsafe(32))).connect()
    watcher = await Peer(url_a, {"event": slug}).connect()
    other = await Peer(url_b, participant_auth(slug, secrets.token_urlsafe(32))).connect()
    coord = await Peer(url_b, coordinator_auth(slug, ev["token"])).connect()
    try:
        joined = await mine.act("join", {"pseudonym": "On A"})
        assert joined["ok"], joined
        assert (await other.act("join", {"pseudonym": "On B"}))["ok"]
        # A join made on A reaches the coordinator on B ...
        await wait_for(lambda: any(len(c["line"]) == 2 for c in coord.got["console"]),
                       what="the coordinator on B to see both joins")
        assert (await coord.act("start"))["ok"]
        called = await coord.act("call_next")
        assert called["ok"] and called["result"]["entry"] == joined["result"]["entry"], called
        # ... and a call made on B reaches the called phone and the board on A.
        await wait_for(lambda: any(m["me"]["state"] == "called" for m in mine.got["me"]),
                       what="the phone on A to hear it was called")
        await wait_for(lambda: watcher.last_v() >= called["v"], what="the board on A to get the call's version")
        # (a `state` carries the whole public block, or only what changed: `patch`, see docs/protocol.md)
        assert any(s.get("public", {}).get("spots", [{}])[0].get("called_ticket") == joined["result"]["ticket"]
                   or s.get("patch", {}).get("spots.0.called_ticket") == joined["result"]["ticket"]
                   for s in watcher.got["state"])

        # Nobody checks in: after the 15 s grace one of the two tickers records the no-show.
        def missed() -> bool:
            """Whether the phone heard it was moved back after missing its call."""
            return any(m["me"]["state"] == "waiting" and m["me"]["misses"] == 1 for m in mine.got["me"])
        await wait_for(missed, timeout=90, what="the no-show to reach the phone on A")
        # Let every client catch up before counting what each received.
        target = max(mine.last_v(), coord.last_v())
        await wait_for(lambda: watcher.last_v() >= target and other.last_v() >= target,
                       what="every client to catch up")
        return {"ticket": joined["result"]["ticket"],
                "versions": {name: [m["v"] for m in p.got["state"]]
                             for name, p in (("watcher", watcher), ("other", other), ("mine", mine))}}
    finally:
        for p in (mine, watcher, other, coord):
            await p.close()


PRESENCE_ENV = {"PICKET_HEARTBEAT_SECONDS": "0.5", "PICKET_PROCESS_STALE_SECONDS": "3"}


def test_presence_survives_a_new_process_and_follows_a_dead_one(server_factory, pg_url, redis_url):
    """Phones on processes A and B are online; starting process C changes nothing (a start used to reset every
    process's counts); killing A with SIGKILL makes A's phone offline on the console within the stale time, while
    B's phone stays online."""
    a = server_factory(db_url=pg_url, message_queue=redis_url, extra_env=PRESENCE_ENV)
    b = server_factory(db_url=pg_url, message_queue=redis_url, extra_env=PRESENCE_ENV)
    ev = create_event(b.url, auto_call=False)
    realclients.run(_presence(a, b, ev, lambda: server_factory(db_url=pg_url, message_queue=redis_url,
                                                                 extra_env=PRESENCE_ENV)))


async def _presence(a, b, ev: dict, start_another) -> None:
    """The scenario above, watched through the coordinator's console on B."""
    slug = ev["slug"]
    on_a = await Peer(a.url, participant_auth(slug, secrets.token_urlsafe(32))).connect()
    on_b = await Peer(b.url, participant_auth(slug, secrets.token_urlsafe(32))).connect()
    coord = await Peer(b.url, coordinator_auth(slug, ev["token"])).connect()
    try:
        entry_a = (await on_a.act("join", {"pseudonym": "On A"}))["result"]["entry"]
        entry_b = (await on_b.act("join", {"pseudonym": "On B"}))["result"]["entry"]

        def online() -> dict:
            """Entry id -> online, from the console over HTTP."""
            return {r["id"]: r["online"] for r in http_snapshot(b.url, slug, ev["token"])["line"]}
        assert online() == {entry_a: True, entry_b: True}
        await asyncio.to_thread(start_another)
        assert online() == {entry_a: True, entry_b: True}

        await asyncio.to_thread(a.kill9)
        await wait_for(lambda: online() == {entry_a: False, entry_b: True}, timeout=30,
                       what="A's phone to show offline after A died")
        # The console open on B was told, without anyone asking.
        await wait_for(lambda: any([(r["id"], r["online"]) for r in c["line"]] == [(entry_a, False), (entry_b, True)]
                                   for c in coord.got["console"]), what="a console update on B")
    finally:
        for p in (on_a, on_b, coord):
            await p.close()


def _redis_db(url: str, n: int) -> str:
    """The same Redis server with another database number (which pub/sub ignores)."""
    return url.rsplit("/", 1)[0] + f"/{n}"


def test_a_second_installation_on_the_same_redis_hears_nothing(server_factory, tmp_path, redis_url):
    """Two installations (own instance folder, secret key and database) share one Redis server with different
    database numbers. Their events have the same id (1), so with a shared channel a board on B would get A's
    broadcasts. A's announcement must never reach B, while B's own does (which is also when we stop waiting)."""
    a = server_factory(message_queue=_redis_db(redis_url, 1), extra_env={"PICKET_INSTANCE_PATH": str(tmp_path / "a")})
    b = server_factory(message_queue=_redis_db(redis_url, 2), extra_env={"PICKET_INSTANCE_PATH": str(tmp_path / "b")})
    ev_a, ev_b = create_event(a.url), create_event(b.url)
    got = realclients.run(_two_installations(a.url, b.url, ev_a, ev_b))
    assert got["b"] == ["only B"], got
    assert got["a"] == ["only A"], got


async def _two_installations(url_a: str, url_b: str, ev_a: dict, ev_b: dict) -> dict:
    """A board on each installation; each coordinator announces once; returns what each board heard."""
    board_a = await Peer(url_a, {"event": ev_a["slug"]}).connect()
    board_b = await Peer(url_b, {"event": ev_b["slug"]}).connect()
    try:
        for url, ev, text in ((url_a, ev_a, "only A"), (url_b, ev_b, "only B")):
            ack = await asyncio.to_thread(realclients.http_action, url, ev["slug"], ev["token"], "broadcast",
                                          {"text": text})
            assert ack["ok"], ack
        for board in (board_a, board_b):
            await wait_for(lambda: board.got["announcement"], what="each board's own announcement")
        # A's announcement was published before B's was sent; on a shared channel B's process would read it first,
        # so by the time B's own arrives, A's would already be there.
        return {"a": [m["text"] for m in board_a.got["announcement"]],
                "b": [m["text"] for m in board_b.got["announcement"]]}
    finally:
        await board_a.close()
        await board_b.close()


def test_the_default_channel_follows_the_secret_key():
    """Processes sharing SECRET_KEY share the channel; another key gives another; the setting wins; the name does
    not contain the key."""
    from coordinator import message_channel
    one = message_channel({"SECRET_KEY": "k" * 64})
    assert one == message_channel({"SECRET_KEY": "k" * 64})
    assert one != message_channel({"SECRET_KEY": "j" * 64})
    assert "k" * 8 not in one and one.startswith("picket-")
    assert message_channel({"SECRET_KEY": "k" * 64, "MESSAGE_QUEUE_CHANNEL": "mine"}) == "mine"
