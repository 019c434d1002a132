"""The documented scale-out deployment for real: nginx (from deploy/nginx-picket.conf.template) in front of 3 server
processes on PostgreSQL and Redis, phones spread over the processes by event as real ones are, and one process
killed with SIGKILL while changes are being made."""
from __future__ import annotations

import _paths  # noqa: F401 - first: puts tests/server on the path

import asyncio
import os
import re
import threading
import time
from collections import Counter
from pathlib import Path

import psycopg
import pytest
import realclients
from cluster import Cluster
from nginx import TEMPLATE
from phones import Phone, create_event, snapshot
from realclients import wait_for

from conftest import ROOT

pytestmark = [pytest.mark.server, pytest.mark.postgres, pytest.mark.redis]
# CI runs 120 phones (about 2 minutes on 2 cores); `make test-chaos` runs the 600 (docs/benchmarks.md).
PHONES = int(os.environ.get("PICKET_CHAOS_PHONES", "120"))
MIN_EVENTS = 6
RESERVE = 2  # phones per event that join while the process is killed
JOIN_BATCH = 5  # phones per event that join at once while setting up
DEADLINE = 10  # seconds from the kill until every client holds the current version (issue 13), reported always
# A wall-clock figure, like a benchmark's: CI reports it and asserts the behaviour (every client comes back to its
# event's current version, nothing acknowledged is lost, each due transition happens once); `make test-chaos` sets
# PICKET_CHAOS_DEADLINE=1 and then also fails when a client is later than DEADLINE (run it on a quiet machine).
ENFORCE_DEADLINE = os.environ.get("PICKET_CHAOS_DEADLINE", "") not in ("", "0")
GRACE_MS = 15_000  # the shortest grace a coordinator may set
NO_SHOW_AFTER_KILL = 3  # seconds: the called people's no-shows fall due this long after the kill


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
    """Phones of many events spread over 3 processes through nginx; one process is killed while phones join,
    coordinators act and the ticker's no-shows fall due. Every client comes back to its event's current version
    (within 10 s of the kill, issue 13, when PICKET_CHAOS_DEADLINE is set), every acknowledged join is in its line, each due no-show happens exactly once, and
    every coordinator carries on."""
    report = realclients.run(_chaos(cluster, pg_url))
    output = "\n".join(srv.output() for srv in cluster.servers[1:])
    # Hundreds of sockets closing at once make eventlet write "socket shutdown error" lines (with the client's
    # address before wsgi.py scrubbed them): none may name an address. The banner names the bind address only.
    report["eventlet shutdown lines"] = output.count("socket shutdown error")
    print(f"\nchaos: {report}")
    assert "Traceback" not in output, output[-3000:]
    lines = [ln for ln in output.splitlines() if not ln.startswith("Picket Queue on http://127.0.0.1:")]
    assert not re.findall(r"\b(?:\d{1,3}\.){3}\d{1,3}\b", "\n".join(lines)), output[-3000:]
    if ENFORCE_DEADLINE:
        assert report["late"] == [], f"clients without the current version {DEADLINE} s after the kill: {report['late']}"


def _db(pg_url: str, sql: str) -> list:
    """Rows of one query, straight from PostgreSQL (the server's truth, without loading the processes)."""
    with psycopg.connect(pg_url.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
        return conn.execute(sql).fetchall()


class CpuSampler:
    """The CPU share each process (servers, nginx, this test's clients) used, sampled every 0.5 s from /proc."""

    def __init__(self, pids: dict[str, int]):
        """Not started."""
        self.pids, self.samples, self.stop = pids, [], threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _stat(pid: int) -> tuple[int, bool]:
        """User + system clock ticks of a process so far, and whether it is runnable now ((0, False) once gone)."""
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            return int(fields[11]) + int(fields[12]), fields[0] == "R"
        except (OSError, IndexError, ValueError):
            return 0, False

    def _run(self) -> None:
        """Sample until stopped: (time, {name: (CPU share since the previous sample, runnable now)})."""
        hz, t_last = os.sysconf("SC_CLK_TCK"), time.monotonic()
        last = {n: self._stat(p)[0] for n, p in self.pids.items()}
        while not self.stop.wait(0.25):
            now, stat = time.monotonic(), {n: self._stat(p) for n, p in self.pids.items()}
            self.samples.append((now, {n: (max(0, stat[n][0] - last[n]) / hz / (now - t_last), stat[n][1])
                                       for n in stat}))
            last, t_last = {n: stat[n][0] for n in stat}, now

    def mean(self, t0: float, t1: float) -> dict:
        """Each process's mean CPU share between t0 and t1 (1.0 = one core), and how often it was runnable (waiting
        for a core rather than for I/O: on a busy machine that is where the time goes)."""
        inside = [s for t, s in self.samples if t0 < t <= t1]
        n = max(1, len(inside))
        return {name: {"cpu": round(sum(s[name][0] for s in inside) / n, 2),
                       "runnable": round(sum(s[name][1] for s in inside) / n, 2)} for name in self.pids}


def _figures(xs: list[float]) -> dict:
    """p50, p95 and max of a list of seconds."""
    if not xs:
        return {}
    xs = sorted(xs)
    return {"n": len(xs), "p50": round(xs[len(xs) // 2], 2), "p95": round(xs[min(len(xs) - 1, int(len(xs) * 0.95))], 2),
            "max": round(xs[-1], 2)}


async def _chaos(c: Cluster, pg_url: str) -> dict:
    """The scenario; returns figures for the report (progress printed, for the 600-phone run)."""
    t0 = time.monotonic()

    def progress(what: str) -> None:
        """Say how far the scenario got (seen with pytest -s)."""
        print(f"  chaos {time.monotonic() - t0:6.1f} s: {what}", flush=True)
    events, coords = [], []
    while len(events) < MIN_EVENTS or len(_per_process(pg_url)) < 3:  # until the events' sockets use all 3 processes
        assert len(events) < 40, f"events never spread over 3 processes: {_per_process(pg_url)}"
        ev = await asyncio.to_thread(create_event, c.url, auto_call=False, grace_ms=GRACE_MS)
        events.append(ev)
        coords.append(await Phone(c.url, {"event": ev["slug"], "coordinator": ev["token"]}).connect())
    spread = sorted(_per_process(pg_url).values())
    per_event = max(RESERVE + 2, PHONES // len(events))
    phones = [[Phone(c.url, {"event": ev["slug"], "participant": os.urandom(24).hex()}) for _ in range(per_event)]
              for ev in events]
    boards = [Phone(c.url, {"event": ev["slug"]}) for ev in events]
    everyone = [p for group in phones for p in group] + boards + coords
    cpu = CpuSampler({**{f"p{i}": s.proc.pid for i, s in enumerate(c.servers)}, "nginx": c.nginx.proc.pid,
                      "clients": os.getpid()})
    try:
        progress(f"{len(events)} events, sockets per process {spread}")
        fresh = everyone[:-len(coords)]  # the coordinators are connected already
        for i in range(0, len(fresh), 50):
            await asyncio.gather(*(p.connect() for p in fresh[i:i + 50]))
        progress(f"{len(fresh)} phones and boards connected")
        # The phones join a few at a time per event (the setting up is not what is tested: issue 13's join rush is).
        joined = []
        for j in range(RESERVE, per_event, JOIN_BATCH):
            joined += await asyncio.gather(*(p.act("join", {"pseudonym": f"P{k}"}) for group in phones
                                             for k, p in enumerate(group[j:j + JOIN_BATCH], j)))
        assert all(a["ok"] for a in joined), [a for a in joined if not a["ok"]][:3]
        acked = [a["result"]["entry"] for a in joined]
        progress(f"{len(acked)} joined")
        called, called_at = {}, time.monotonic()
        for ev, coord in zip(events, coords):
            assert (await coord.act("start"))["ok"]
            call = await coord.act("call_next")
            assert call["ok"], call
            called[ev["slug"]] = call["result"]["ticket"]
        # The kill comes a few seconds before the called people's no-shows fall due, so the ticker's transitions
        # happen while the phones reconnect (and on whichever process gets there first).
        await asyncio.sleep(max(0.0, called_at + GRACE_MS / 1000 - NO_SHOW_AFTER_KILL - time.monotonic()))

        async def late_joins(k: int) -> list:
            """The k-th reserve phone of every event joins (while a process dies)."""
            acks = await asyncio.gather(*(group[k].act("join", {"pseudonym": f"Late{k}"}) for group in phones))
            assert all(a["ok"] for a in acks), acks
            return [a["result"]["entry"] for a in acks]
        cpu.thread.start()
        first = asyncio.ensure_future(late_joins(0))
        killed = time.monotonic()
        await asyncio.to_thread(c.servers[0].kill9)
        progress(f"process 0 killed (load average {os.getloadavg()[0]:.2f})")
        acked += await first
        marks = {"first late joins": time.monotonic() - killed}
        acked += await late_joins(1)
        marks["second late joins"] = time.monotonic() - killed
        # The coordinators carry on (each at once, as people in different places do), wherever their sockets are now.
        acks = await asyncio.gather(*(coord.act("broadcast", {"text": "Still here"}) for coord in coords))
        assert all(a["ok"] for a in acks), acks
        marks["coordinators acted"] = time.monotonic() - killed
        slugs = "', '".join(ev["slug"] for ev in events)
        no_shows = f"SELECT count(*) FROM log JOIN events ON events.id = log.event_id " \
                   f"WHERE log.action = 'no_show' AND events.slug IN ('{slugs}')"
        while (await asyncio.to_thread(_db, pg_url, no_shows))[0][0] < len(events):
            assert time.monotonic() - killed < 120, "the due no-shows never happened"
            await asyncio.sleep(0.2)
        marks["no-shows done"] = time.monotonic() - killed
        # The current version: the server's, once the changes made around the kill are all done.
        current = dict(await asyncio.to_thread(_db, pg_url,
                                               f"SELECT slug, version FROM events WHERE slug IN ('{slugs}')"))
        progress(f"changes done {({k: round(v, 1) for k, v in marks.items()})}")
        groups = [(ev, group + [board, coord]) for ev, group, board, coord in zip(events, phones, boards, coords)]
        await wait_for(lambda: all(p.v >= current[ev["slug"]] for ev, g in groups for p in g), timeout=120,
                       what="every client to reach its event's version after the kill")
        progress("every client current")
        cpu.stop.set()
        when = [(next(t for t, v in p.versions if v >= current[ev["slug"]]) - killed, p) for ev, g in groups for p in g]
        moved = [p for _, p in when if p.connects > 1]
        snaps = [await asyncio.to_thread(snapshot, c.url, ev) for ev in events]
        line = {e["id"] for s in snaps for e in s["line"]}
        assert set(acked) <= line, set(acked) - line
        for ev, s in zip(events, snaps):
            log = Counter((r["action"], r["ticket"]) for r in s["log"])
            assert log[("call", called[ev["slug"]])] == 1 and log[("no_show", called[ev["slug"]])] == 1, s["log"]

        def after(times: list[float]) -> float | None:
            """The first moment after the kill, in seconds from it."""
            return next((t - killed for t in times if t > killed), None)
        return {"events": len(events), "phones": len(everyone) - 2 * len(events), "sockets per process": spread,
                "reconnected": len(moved),
                "kill to current version (s), every client": _figures([t for t, _ in when]),
                "... the reconnected ones": _figures([t for t, p in when if p.connects > 1]),
                "... the ones that stayed (the floor: they only wait for the changes)":
                    _figures([t for t, p in when if p.connects == 1]),
                "kill to connection lost (s)": _figures([after(p.lost) for p in moved]),
                "kill to first reconnect attempt (s)": _figures([after(p.attempts) for p in moved]),
                "kill to reconnect accepted (s)": _figures([after(p.accepted) for p in moved]),
                "kill to snapshot (s)": _figures([after(p.snapshots) for p in moved]),
                "attempts per reconnected phone": _figures([sum(t > killed for t in p.attempts) for p in moved]),
                "connect refusals": sum((p.refusals for p in everyone), Counter()),
                "actions sent again": sum((p.retried for p in everyone), Counter()),
                "CPU share in the 10 s after the kill": cpu.mean(killed, killed + DEADLINE),
                "load average": [round(x, 2) for x in os.getloadavg()],
                **{k: round(v, 1) for k, v in marks.items()},
                "late": sorted(round(t, 1) for t, _ in when if t > DEADLINE)}
    finally:
        cpu.stop.set()
        await asyncio.gather(*(p.close() for p in everyone))
