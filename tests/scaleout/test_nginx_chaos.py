"""The documented scale-out deployment for real: nginx (from deploy/nginx-picket.conf.template) in front of 3 server
processes on PostgreSQL and Redis, phones spread over the processes by event as real ones are, and one process
killed with SIGKILL while changes are being made."""
from __future__ import annotations

import _paths  # noqa: F401 - first: puts tests/server on the path

import asyncio
import os
import re
import time
from collections import Counter

import psycopg
import pytest
import realclients
from cluster import Cluster
from nginx import TEMPLATE
from phones import Phone, create_event, snapshot
from realclients import wait_for

from conftest import ROOT

pytestmark = [pytest.mark.server, pytest.mark.postgres, pytest.mark.redis]
PHONES = int(os.environ.get("PICKET_CHAOS_PHONES", "120"))  # the benchmark-sized run uses 600
MIN_EVENTS = 6
RESERVE = 2  # phones per event that join while the process is killed


def test_the_operations_guide_shows_the_tested_nginx_configuration():
    """docs/operations.md shows deploy/nginx-picket.conf.template verbatim, so the guide and the test cannot drift."""
    guide = (ROOT / "docs" / "operations.md").read_text()
    assert "```nginx\n" + TEMPLATE.read_text() + "```" in guide


@pytest.fixture
def cluster(tmp_path, pg_url, redis_url):
    """3 processes and nginx, as the operations guide sets them up."""
    c = Cluster(tmp_path, pg_url, redis_url)
    yield c
    c.stop()


def _per_process(pg_url: str) -> Counter:
    """How many participant and coordinator sockets each process holds (the `connections` table)."""
    with psycopg.connect(pg_url.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
        return Counter(dict(conn.execute("SELECT process, count(*) FROM connections GROUP BY process").fetchall()))


def test_kill_9_one_of_three_processes_behind_nginx(cluster, pg_url):
    """Phones of many events spread over 3 processes through nginx; one process is killed while phones join and
    coordinators act. Every client reconnects through nginx and reaches the current version, every acknowledged
    join is in its line, each due no-show happens exactly once, and every coordinator carries on."""
    report = realclients.run(_chaos(cluster, pg_url))
    output = "\n".join(srv.output() for srv in cluster.servers[1:])
    # Hundreds of sockets closing at once make eventlet write "socket shutdown error" lines (with the client's
    # address before wsgi.py scrubbed them): none may name an address. The banner names the bind address only.
    report["eventlet shutdown lines"] = output.count("socket shutdown error")
    print(f"\nchaos: {report}")
    assert "Traceback" not in output, output[-3000:]
    lines = [ln for ln in output.splitlines() if not ln.startswith("Picket Queue on http://127.0.0.1:")]
    assert not re.findall(r"\b(?:\d{1,3}\.){3}\d{1,3}\b", "\n".join(lines)), output[-3000:]


async def _chaos(c: Cluster, pg_url: str) -> dict:
    """The scenario; returns figures for the report (progress printed, for the 600-phone run)."""
    t0 = time.monotonic()

    def progress(what: str) -> None:
        """Say how far the scenario got (seen with pytest -s)."""
        print(f"  chaos {time.monotonic() - t0:6.1f} s: {what}", flush=True)
    events, coords = [], []
    while len(events) < MIN_EVENTS or len(_per_process(pg_url)) < 3:  # until the events' sockets use all 3 processes
        assert len(events) < 40, f"events never spread over 3 processes: {_per_process(pg_url)}"
        ev = await asyncio.to_thread(create_event, c.url, auto_call=False, grace_ms=15_000)
        events.append(ev)
        coords.append(await Phone(c.url, {"event": ev["slug"], "coordinator": ev["token"]}).connect())
    spread = sorted(_per_process(pg_url).values())
    per_event = max(RESERVE + 2, PHONES // len(events))
    phones = [[Phone(c.url, {"event": ev["slug"], "participant": os.urandom(24).hex()}) for _ in range(per_event)]
              for ev in events]
    boards = [Phone(c.url, {"event": ev["slug"]}) for ev in events]
    everyone = [p for group in phones for p in group] + boards + coords
    try:
        progress(f"{len(events)} events, sockets per process {spread}")
        fresh = everyone[:-len(coords)]  # the coordinators are connected already
        for i in range(0, len(fresh), 50):
            await asyncio.gather(*(p.connect() for p in fresh[i:i + 50]))
        progress(f"{len(fresh)} phones and boards connected")
        joined = await asyncio.gather(*(p.act("join", {"pseudonym": f"P{j}"}) for group in phones
                                        for j, p in enumerate(group[RESERVE:])))
        assert all(a["ok"] for a in joined), [a for a in joined if not a["ok"]][:3]
        acked = [a["result"]["entry"] for a in joined]
        progress(f"{len(acked)} joined")
        called = {}
        for ev, coord in zip(events, coords):
            assert (await coord.act("start"))["ok"]
            call = await coord.act("call_next")
            assert call["ok"], call
            called[ev["slug"]] = call["result"]["ticket"]

        async def late_joins(k: int) -> list:
            """The k-th reserve phone of every event joins (while a process dies)."""
            acks = await asyncio.gather(*(group[k].act("join", {"pseudonym": f"Late{k}"}) for group in phones))
            assert all(a["ok"] for a in acks), acks
            return [a["result"]["entry"] for a in acks]
        first = asyncio.ensure_future(late_joins(0))
        await asyncio.to_thread(c.servers[0].kill9)
        killed = time.monotonic()
        progress("process 0 killed")
        acked += await first
        marks = {"first late joins": time.monotonic() - killed}
        acked += await late_joins(1)
        marks["second late joins"] = time.monotonic() - killed
        for coord in coords:  # the coordinators carry on, wherever their sockets are now
            ack = await coord.act("broadcast", {"text": "Still here"})
            assert ack["ok"], ack
        marks["coordinators acted"] = time.monotonic() - killed
        groups = [group + [board, coord] for group, board, coord in zip(phones, boards, coords)]
        now = [await asyncio.to_thread(snapshot, c.url, ev) for ev in events]
        await wait_for(lambda: all(p.v >= s["v"] for s, g in zip(now, groups) for p in g), timeout=120,
                       what="every client to reach the version after the kill")
        caught_up = time.monotonic() - killed
        progress("every client current")

        def no_shows_done() -> bool:
            """Whether every called person's no-show was recorded."""
            return all(any(r["action"] == "no_show" for r in snapshot(c.url, ev)["log"]) for ev in events)
        await wait_for(no_shows_done, timeout=120, what="every due no-show")
        snaps = [await asyncio.to_thread(snapshot, c.url, ev) for ev in events]
        await wait_for(lambda: all(p.v >= s["v"] for s, g in zip(snaps, groups) for p in g), timeout=120,
                       what="every client to reach its event's version after the no-shows")
        line = {e["id"] for s in snaps for e in s["line"]}
        assert set(acked) <= line, set(acked) - line
        for ev, s in zip(events, snaps):
            log = Counter((r["action"], r["ticket"]) for r in s["log"])
            assert log[("call", called[ev["slug"]])] == 1 and log[("no_show", called[ev["slug"]])] == 1, s["log"]
        return {"events": len(events), "phones": len(everyone) - 2 * len(events), "sockets per process": spread,
                "reconnected": sum(p.connects > 1 for p in everyone),
                "seconds from kill to every client current": round(caught_up, 1),
                **{k: round(v, 1) for k, v in marks.items()}}
    finally:
        await asyncio.gather(*(p.close() for p in everyone))
