"""Day-of-action benchmark: many events at once across several server processes behind nginx, on PostgreSQL and a
private Redis, against the same load on one process and against a bare python-socketio floor, in one run.

    .venv/bin/python bench/scaleout.py [--events 50] [--phones 100] [--changes 5] [--procs 3]

Per event: `--phones` participants (real Socket.IO clients over WebSocket through nginx, `?event=SLUG` in the query as
the pages send it) who all join, one board, and a coordinator who moves someone to the front `--changes` times at a
human pace (all events at once). Reported for N processes and for 1 process: p95 and max of the time from a change's
request to the moment EVERY phone of that event holds its version; server CPU per delivered `state`; Redis PUBLISH
commands and PostgreSQL transactions per change; server memory per phone. The floor is a bare python-socketio server
on eventlet (bench/floor_server.py) sending the same number of frames of the same size to the same clients.
See docs/benchmarks.md ("Scale-out").
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psutil
import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent
for folder in (ROOT / "tests" / "scaleout", ROOT / "tests" / "server", ROOT / "tests"):
    sys.path.insert(0, str(folder))

from cluster import Cluster  # noqa: E402
from conftest import PG_ADMIN_URL, free_port  # noqa: E402
from phones import Phone, create_event, http  # noqa: E402
from services import PrivateRedis  # noqa: E402

PAUSE = 2.0  # seconds between one coordinator's changes: a brisk human


class BenchPhone(Phone):
    """A phone that records when each version arrived and how many `state` frames (and bytes) it got."""

    def __init__(self, url: str, auth: dict):
        """As Phone, with a log of arrivals."""
        super().__init__(url, auth)
        self.arrived: dict[int, float] = {}
        self.frames = self.frame_bytes = 0
        self.sio.on("state", self._state)

    async def _state(self, data=None):
        """Keep the arrival time of each version."""
        self.frames += 1
        self.frame_bytes += len(json.dumps(data))
        self.v = max(self.v, data["v"])
        self.arrived.setdefault(data["v"], time.monotonic())

    def holds(self, v: int) -> float | None:
        """When this phone first held version v or newer."""
        times = [t for got, t in self.arrived.items() if got >= v]
        return min(times) if times else None


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes so far."""
    total = 0.0
    for pid in pids:
        t = psutil.Process(pid).cpu_times()
        total += t.user + t.system
    return total


def rss(pids: list[int]) -> int:
    """Resident memory of these processes, bytes."""
    return sum(psutil.Process(pid).memory_info().rss for pid in pids)


def redis_publishes(port: int) -> int:
    """PUBLISH commands the private Redis has served."""
    import redis
    stats = redis.Redis(port=port).info("commandstats")
    return int(stats.get("cmdstat_publish", {}).get("calls", 0))


def pg_transactions(admin: str, name: str) -> int:
    """Committed and rolled back transactions in the benchmark database."""
    with psycopg.connect(admin, autocommit=True) as conn:
        return sum(conn.execute("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s",
                                (name,)).fetchone())


async def day_of_action(url: str, pids: list[int], args, redis_port: int | None, db: tuple[str, str] | None) -> dict:
    """Connect, join, then the changes; returns the figures."""
    before_rss = rss(pids)
    events = [await asyncio.to_thread(create_event, url, auto_call=False) for _ in range(args.events)]
    coords = [await Phone(url, {"event": ev["slug"], "coordinator": ev["token"]}).connect() for ev in events]
    phones = [[BenchPhone(url, {"event": ev["slug"], "participant": uuid.uuid4().hex + uuid.uuid4().hex})
               for _ in range(args.phones)] for ev in events]
    flat = [p for g in phones for p in g]
    for i in range(0, len(flat), 100):
        await asyncio.gather(*(p.connect() for p in flat[i:i + 100]))
    acks = []
    for i in range(0, len(flat), 200):
        acks += await asyncio.gather(*(p.act("join", {"pseudonym": f"P{i + j}"}) for j, p in enumerate(flat[i:i + 200])))
    assert all(a["ok"] for a in acks), [a for a in acks if not a["ok"]][:3]
    entries = [[a["result"]["entry"] for a in acks[k * args.phones:(k + 1) * args.phones]] for k in range(len(events))]
    await asyncio.sleep(3)  # let presence and console updates settle before measuring
    per_phone = (rss(pids) - before_rss) / len(flat)
    frames0, bytes0 = sum(p.frames for p in flat), sum(p.frame_bytes for p in flat)
    cpu0 = cpu_seconds(pids)
    pub0 = redis_publishes(redis_port) if redis_port else 0
    tx0 = pg_transactions(*db) if db else 0
    latencies = []

    async def coordinator(k: int) -> None:
        """One event's coordinator: move someone to the front, wait for every phone, pause, again."""
        await asyncio.sleep(PAUSE * k / len(events))  # the events do not act in lockstep
        for c in range(args.changes):
            sent = time.monotonic()
            ack = await coords[k].act("move", {"entry": entries[k][-1 - c], "to": 1})
            assert ack["ok"], ack
            deadline = time.monotonic() + 120
            while any(p.holds(ack["v"]) is None for p in phones[k]):
                assert time.monotonic() < deadline, "a phone never got a change"
                await asyncio.sleep(0.02)
            latencies.append(max(p.holds(ack["v"]) for p in phones[k]) - sent)
            await asyncio.sleep(PAUSE)
    await asyncio.gather(*(coordinator(k) for k in range(len(events))))
    cpu = cpu_seconds(pids) - cpu0
    frames = sum(p.frames for p in flat) - frames0
    changes = len(events) * args.changes
    figures = {
        "phones": len(flat), "changes": changes,
        "p95 ms change -> every phone of its event": round(1000 * sorted(latencies)[int(0.95 * (len(latencies) - 1))]),
        "max ms": round(1000 * max(latencies)), "median ms": round(1000 * statistics.median(latencies)),
        "server CPU us per delivered state": round(1e6 * cpu / max(1, frames), 1),
        "state frames delivered": frames,
        "mean state frame bytes": round((sum(p.frame_bytes for p in flat) - bytes0) / max(1, frames)),
        "server memory KB per phone": round(per_phone / 1024, 1),
    }
    if redis_port:
        figures["Redis PUBLISH per change"] = round((redis_publishes(redis_port) - pub0) / changes, 1)
    if db:
        figures["PostgreSQL transactions per change"] = round((pg_transactions(*db) - tx0) / changes, 1)
    await asyncio.gather(*(p.close() for p in flat + coords))
    return figures


async def floor(args, frame_bytes: int, folder: Path) -> dict:
    """The bare python-socketio server: the same clients in the same rooms, the same number of frames."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / "floor_server.py"), str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                requests.get(url + "/healthz", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.1)
        rooms = [f"room{k}" for k in range(args.events)]
        phones = [[BenchPhone(url, {"event": r}) for _ in range(args.phones)] for r in rooms]
        flat = [p for g in phones for p in g]
        for p in flat:
            p.url = p.url.replace("https://", "http://")
        for i in range(0, len(flat), 100):
            await asyncio.gather(*(p.connect() for p in flat[i:i + 100]))
        cpu0 = cpu_seconds([proc.pid])
        latencies = []
        pad = max(0, frame_bytes - 40)

        async def sender(k: int) -> None:
            """One room's changes, at the same pace as the app's coordinators."""
            await asyncio.sleep(PAUSE * k / len(rooms))
            for c in range(1, args.changes + 1):
                sent = time.monotonic()
                await asyncio.to_thread(requests.post, f"{url}/go?room={rooms[k]}&size={pad}&v={c}", timeout=60)
                while any(p.holds(c) is None for p in phones[k]):
                    await asyncio.sleep(0.02)
                latencies.append(max(p.holds(c) for p in phones[k]) - sent)
                await asyncio.sleep(PAUSE)
        await asyncio.gather(*(sender(k) for k in range(len(rooms))))
        frames = sum(p.frames for p in flat)
        cpu = cpu_seconds([proc.pid]) - cpu0
        await asyncio.gather(*(p.close() for p in flat))
        return {"p95 ms change -> every phone of its event": round(1000 * sorted(latencies)[int(0.95 * (len(latencies) - 1))]),
                "server CPU us per delivered state": round(1e6 * cpu / max(1, frames), 1),
                "state frames delivered": frames}
    finally:
        proc.terminate()
        proc.wait(10)


def run_cluster(args, procs: int, folder: Path) -> dict:
    """One configuration: a fresh database and private Redis, `procs` processes behind nginx."""
    name = f"picket_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    redis_server = PrivateRedis(folder / f"redis{procs}").start()
    db_url = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + "/" + name
    cluster = Cluster(folder / f"c{procs}", db_url, redis_server.url, processes=procs,
                      extra_env={"PICKET_ACTION_BURST": "1000", "PICKET_MAX_CONNECTIONS": "12000"})
    try:
        pids = [s.proc.pid for s in cluster.servers]
        return asyncio.run(day_of_action(cluster.url, pids, args, redis_server.port,
                                         (PG_ADMIN_URL.rsplit("/", 1)[0] + "/postgres", name)))
    finally:
        cluster.stop()
        redis_server.stop()
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    """Run N processes, 1 process and the floor; print one column each and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--phones", type=int, default=100)
    parser.add_argument("--changes", type=int, default=5)
    parser.add_argument("--procs", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="picket-bench-scaleout-"))
    cols = {f"{args.procs} processes": run_cluster(args, args.procs, folder), "1 process": run_cluster(args, 1, folder)}
    frame = cols["1 process"]["mean state frame bytes"]
    cols["python-socketio floor"] = asyncio.run(floor(args, frame, folder))
    keys = list(cols[f"{args.procs} processes"])
    print(f"\n{args.events} events x {args.phones} phones, {args.changes} changes each, {os.cpu_count()} cores")
    print(f"{'':45}" + "".join(f"{c:>24}" for c in cols))
    for k in keys:
        print(f"{k:45}" + "".join(f"{str(cols[c].get(k, '-')):>24}" for c in cols))
    cpu = "server CPU us per delivered state"
    many, one, bare = (cols[c][cpu] for c in cols)
    print(f"\nCPU per delivered state: {args.procs} processes / 1 process = {many / one:.2f}x; "
          f"1 process / floor = {one / bare:.2f}x; {args.procs} processes / floor = {many / bare:.2f}x")


if __name__ == "__main__":
    main()
