"""Day-of-action benchmark: many events at once across several server processes behind nginx, on PostgreSQL and a
private Redis, against the same load on one process and against bare socket.io floors, in one run.

    .venv/bin/python bench/scaleout.py [--events 50] [--phones 100] [--changes 5] [--procs 3]
    .venv/bin/python bench/scaleout.py --one-event 5000 [--changes 10] [--procs 3]

Day of action (default): per event `--phones` participants (python-socketio clients in this process, over WebSocket
through nginx, `?event=SLUG` in the query as the pages send it, so nginx hashes each event to one process) who all
join, one board and a coordinator who moves someone to the front `--changes` times at a human pace (all events at
once, staggered). One event (`--one-event N`): N participants in one event, in Node.js processes (bench/clients.mjs,
the official socket.io-client) connected straight to the server processes in turn (phone i to process i mod N, as
tests/scaleout spreads clients), the coordinator and a board through nginx, calls and undos at the same pace.

Every configuration runs N processes, then 1 process (same load), then the floors: a bare python-socketio server
(bench/floor_server.py, eventlet) and, when bench/floor_node.mjs and the socket.io package are there, a bare Node.js
socket.io server, each sending one frame of the app's mean `state` size per change to the same clients. Before the
changes, an idle window of the same length (everyone connected, nothing changing) measures the fixed background work
(ticker, heartbeats, queue probes); it is subtracted from the CPU, Redis and PostgreSQL counts. See docs/benchmarks.md
("Scale-out").
"""
from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from pathlib import Path

import psutil
import psycopg
import requests
import socketio

ROOT = Path(__file__).resolve().parent.parent
for folder in (ROOT / "tests" / "scaleout", ROOT / "tests" / "server", ROOT / "tests", ROOT / "bench"):
    sys.path.insert(0, str(folder))

import nginx  # noqa: E402
from cluster import Cluster  # noqa: E402
import conftest  # noqa: E402
from conftest import free_port  # noqa: E402
from phones import Phone, create_event  # noqa: E402
from run import Clients  # noqa: E402
from services import PrivatePostgres, PrivateRedis  # noqa: E402

_start = conftest.ServerProcess.start
conftest.ServerProcess.start = lambda self, timeout=300: _start(self, timeout)  # a loaded machine starts slowly
PAUSE = 2.0  # seconds between one coordinator's changes: a brisk human
NODE_SHARE = 2500  # Node.js client processes: one per this many phones
CPU = "server CPU µs per delivered state (net of idle)"


def say(text: str) -> None:
    """Progress on stdout."""
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


class BenchPhone(Phone):
    """A phone, board or coordinator that records when it first held each version and counts what it received."""

    def __init__(self, url: str, auth: dict):
        """As Phone, with a log of arrivals and counters."""
        super().__init__(url, auth)
        self.sio.eio.request_timeout = 60  # Engine.IO's 5 s is too short for a handshake on a loaded shared machine
        self.reached: list[tuple[int, float]] = []
        self.frames = self.frame_bytes = self.messages = self.refused = 0
        for name in ("snapshot", "state", "me", "console"):
            self.sio.on(name, self._received(name))

    def _received(self, name: str):
        """A handler that keeps the version, its arrival time and the counts."""
        async def received(data=None):
            """Count it; keep the newest version."""
            self.messages += 1
            if name == "state":
                self.frames += 1
                self.frame_bytes += len(json.dumps(data, separators=(",", ":")))
            if name == "console":
                self.console = data
            if isinstance(data, dict) and isinstance(data.get("v"), int) and data["v"] > self.v:
                self.v = data["v"]
                self.reached.append((self.v, time.monotonic()))
        return received

    async def connect(self) -> "BenchPhone":
        """Connect; a refused attempt (`busy` when the server is overloaded) is tried again, as a page would."""
        for attempt in range(10):
            try:
                return await super().connect()
            except socketio.exceptions.ConnectionError:
                self.refused += 1
                if attempt == 9:
                    raise
                await asyncio.sleep(min(5, 1 + attempt))

    def holds(self, v: int) -> float | None:
        """When this phone first held version v or newer."""
        return next((t for got, t in self.reached if got >= v), None)


class NodeSwarm(Clients):
    """bench/clients.mjs processes, each with its own server URL (phones spread over the processes)."""

    def __init__(self, targets: list[tuple[str, int]], slug: str):
        """One Node.js process per (url, count)."""
        node = shutil.which("node")
        assert node, "Node.js is needed for the --one-event clients"
        self.procs = [subprocess.Popen([node, str(ROOT / "bench" / "clients.mjs"), url, slug, str(n)], cwd=ROOT,
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
                      for url, n in targets if n]

    def pids(self) -> list[int]:
        """The client processes."""
        return [p.pid for p in self.procs]

    def packets(self) -> int:
        """Engine.IO packets received so far (heartbeats included; the idle window takes them out)."""
        return sum(a["packets"] for a in self.ask("bytes"))

    def nbytes(self) -> int:
        """Bytes received so far."""
        return sum(a["bytes"] for a in self.ask("bytes"))


def spread(urls: list[str], total: int) -> list[tuple[str, int]]:
    """Phone i goes to process i mod len(urls), in Node.js processes of at most NODE_SHARE phones each."""
    targets = []
    for k, url in enumerate(urls):
        mine = total // len(urls) + (1 if k < total % len(urls) else 0)
        parts = max(1, math.ceil(mine / NODE_SHARE))
        targets += [(url, mine // parts + (1 if j < mine % parts else 0)) for j in range(parts)]
    return targets


# ---------------------------------------------------------------- counters


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes (and their threads) so far."""
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
    """Committed and rolled back transactions in the benchmark database (PostgreSQL's statistics lag up to ~1 s)."""
    with psycopg.connect(admin, autocommit=True) as conn:
        return sum(conn.execute("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s",
                                (name,)).fetchone())


class Meter:
    """Reads every counter at once: server and client CPU, delivered messages and frames, Redis, PostgreSQL."""

    def __init__(self, servers: list[int], clients: list[int], delivered, redis_port: int | None = None,
                 db: tuple[str, str] | None = None):
        """delivered() -> (messages, state frames, state bytes) the clients have received so far."""
        self.servers, self.clients, self.delivered, self.redis_port, self.db = servers, clients, delivered, redis_port, db

    def read(self) -> dict:
        """The counters now."""
        messages, frames, nbytes = self.delivered()
        out = {"t": time.monotonic(), "server_cpu": cpu_seconds(self.servers),
               "client_cpu": cpu_seconds(self.clients), "messages": messages, "frames": frames, "bytes": nbytes}
        if self.redis_port:
            out["publish"] = redis_publishes(self.redis_port)
        if self.db:
            out["tx"] = pg_transactions(*self.db)
        return out

    async def window(self, seconds: float) -> dict:
        """The counters' growth over an idle window of this many seconds."""
        a = await asyncio.to_thread(self.read)
        await asyncio.sleep(seconds)
        await asyncio.sleep(1.5)  # PostgreSQL's statistics trail by about a second; the change window waits too
        return diff(await asyncio.to_thread(self.read), a, settle=1.5)


def diff(b: dict, a: dict, settle: float = 0.0) -> dict:
    """b - a, key by key; `t` is the window's length without the settling pause."""
    out = {k: b[k] - a[k] for k in a}
    out["t"] -= settle
    return out


def net_figures(busy: dict, idle: dict, changes: int, phones: int, latencies: list[float]) -> dict:
    """The figures of a change window, with the idle window's rates subtracted (scaled to the same length)."""
    scale = busy["t"] / idle["t"]
    net = {k: busy[k] - idle[k] * scale for k in busy if k != "t"}
    frames = max(1.0, net["frames"])
    lat = sorted(latencies)
    out = {
        "p95 ms change -> every phone of its event": round(1000 * lat[max(0, math.ceil(0.95 * len(lat)) - 1)]),
        "median ms": round(1000 * statistics.median(lat)), "max ms": round(1000 * lat[-1]),
        "changes": changes, "state frames delivered (net)": round(net["frames"]),
        "messages delivered (net, all kinds)": round(net["messages"]),
        "mean state frame bytes": round(net["bytes"] / frames),
        CPU: round(1e6 * net["server_cpu"] / frames, 1),
        "server CPU µs per delivered message (net)": round(1e6 * net["server_cpu"] / max(1.0, net["messages"]), 1),
        "server CPU µs per delivered state (raw)": round(1e6 * busy["server_cpu"] / frames, 1),
        "idle server CPU, % of a core": round(100 * idle["server_cpu"] / idle["t"], 1),
        "change window s": round(busy["t"], 1),
        "server CPU in the change window, % of a core": round(100 * busy["server_cpu"] / busy["t"]),
        "client CPU in the change window, % of a core": round(100 * busy["client_cpu"] / busy["t"]),
    }
    if "publish" in net:
        out["Redis PUBLISH per change (net)"] = round(net["publish"] / changes, 1)
        out["Redis PUBLISH per change (raw)"] = round(busy["publish"] / changes, 1)
    if "tx" in net:
        out["PostgreSQL transactions per change (net)"] = round(net["tx"] / changes, 1)
        out["PostgreSQL transactions per change (raw)"] = round(busy["tx"] / changes, 1)
    return out


async def settle(pids: list[int], most: float = 90) -> None:
    """Wait until the after-work of the joins (presence, console rebuilds) is done: the servers' CPU over 2 s is
    below a third of a core and no longer falling, or `most` seconds have passed."""
    deadline, before = time.monotonic() + most, None
    while time.monotonic() < deadline:
        a = cpu_seconds(pids)
        await asyncio.sleep(2)
        rate = (cpu_seconds(pids) - a) / 2
        if before is not None and rate < 0.33 and rate >= 0.8 * before:
            return
        before = rate
    say("the servers did not settle; measuring anyway")


# ---------------------------------------------------------------- the app: many events, Python clients


async def day_of_action(url: str, pids: list[int], args, meter_kw: dict) -> dict:
    """Connect, join, an idle window, then the changes; returns the figures."""
    before_rss = rss(pids)
    events = [await asyncio.to_thread(create_event, url, auto_call=False) for _ in range(args.events)]
    coords = [BenchPhone(url, {"event": ev["slug"], "coordinator": ev["token"]}) for ev in events]
    boards = [BenchPhone(url, {"event": ev["slug"]}) for ev in events]
    phones = [[BenchPhone(url, {"event": ev["slug"], "participant": uuid.uuid4().hex + uuid.uuid4().hex})
               for _ in range(args.phones)] for ev in events]
    flat = [p for g in zip(*phones) for p in g]  # event by event in turn, so that every batch reaches every process
    everyone = coords + boards + flat
    t0 = time.monotonic()
    for i in range(0, len(everyone), 50):
        await asyncio.gather(*(p.connect() for p in everyone[i:i + 50]))
    connect_s = time.monotonic() - t0
    say(f"{len(everyone)} sockets connected in {connect_s:.0f} s ({sum(p.refused for p in everyone)} attempts refused)")
    t0, acks = time.monotonic(), []
    for i in range(0, len(flat), 200):
        acks += await asyncio.gather(*(p.act("join", {"pseudonym": f"P{i + j}"}, give_up=600)
                                       for j, p in enumerate(flat[i:i + 200])))
    failed = [a["error"]["code"] for a in acks if not a["ok"]]
    rates = {"connects/s": round(len(everyone) / connect_s, 1), "connect attempts refused": sum(p.refused for p in everyone),
             "joins/s": round(len(acks) / (time.monotonic() - t0), 1)}
    say(f"{len(flat) - len(failed)} joined in {time.monotonic() - t0:.0f} s ({len(failed)} failed: {set(failed)})")
    entries = [[a["result"]["entry"] for a in acks[k::len(events)] if a["ok"]] for k in range(len(events))]
    await settle(pids)
    per_phone = (rss(pids) - before_rss) / len(flat)

    def delivered():
        """What every client received so far."""
        return (sum(p.messages for p in everyone), sum(p.frames for p in flat), sum(p.frame_bytes for p in flat))
    meter = Meter(pids, [os.getpid()], delivered, **meter_kw)
    idle = await meter.window(PAUSE * (args.changes + 1))
    say(f"idle window: server CPU {100 * idle['server_cpu'] / idle['t']:.0f}% of a core")
    latencies, missed = [], []

    async def coordinator(k: int) -> None:
        """One event's coordinator: move someone to the front, wait for every phone, pause, again."""
        await asyncio.sleep(PAUSE * k / len(events))  # the events do not act in lockstep
        for c in range(args.changes):
            sent = time.monotonic()
            ack = await coords[k].act("move", {"entry": entries[k][-1 - c % len(entries[k])], "to": 1}, give_up=600)
            assert ack["ok"], ack
            deadline = time.monotonic() + 60
            while any(p.v < ack["v"] for p in phones[k]) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            missed.append(sum(p.holds(ack["v"]) is None for p in phones[k]))
            latencies.append(max(p.holds(ack["v"]) or deadline for p in phones[k]) - sent)
            await asyncio.sleep(PAUSE)
    start = await asyncio.to_thread(meter.read)
    await asyncio.gather(*(coordinator(k) for k in range(len(events))))
    await asyncio.sleep(1.5)
    busy = diff(await asyncio.to_thread(meter.read), start, settle=1.5)
    figures = {"phones": len(flat), **rates, "joins failed": len(failed),
               "changes missed by a phone (60 s)": sum(missed),
               **net_figures(busy, idle, len(events) * args.changes, len(flat), latencies),
               "server memory KB per phone": round(per_phone / 1024, 1)}
    await asyncio.gather(*(p.close() for p in everyone))
    return figures


# ---------------------------------------------------------------- the app: one large event, Node.js clients


async def one_event(url: str, direct: list[str], pids: list[int], args, meter_kw: dict) -> dict:
    """One event of args.one_event phones spread over the processes; calls and undos; returns the figures."""
    before_rss = rss(pids)
    ev = await asyncio.to_thread(create_event, url, auto_call=False, max_queue=min(10_000, args.one_event + 10))
    coord = await BenchPhone(url, {"event": ev["slug"], "coordinator": ev["token"]}).connect()
    board = await BenchPhone(url, {"event": ev["slug"]}).connect()
    swarm = NodeSwarm(spread(direct, args.one_event), ev["slug"])
    try:
        t0 = time.monotonic()
        answers = await asyncio.to_thread(swarm.ask, "connect", 50, timeout=max(600, args.one_event * 0.4))
        say(f"{sum(a['ok'] for a in answers)} phones connected in {time.monotonic() - t0:.0f} s "
            f"({len(swarm.procs)} Node.js processes; refused: {[a.get('refused') for a in answers]})")
        rates = {"connects/s": round(sum(a["ok"] for a in answers) / (time.monotonic() - t0))}
        t0 = time.monotonic()
        each = math.ceil((args.joiners or args.one_event) / len(swarm.procs))
        joined = await asyncio.to_thread(swarm.ask, "join", max(1, 200 // len(swarm.procs)), each,
                                         timeout=max(600, args.one_event * 0.5))
        rates["joins/s"] = round(sum(a["ok"] for a in joined) / (time.monotonic() - t0), 1)
        say(f"{sum(a['ok'] for a in joined)} joined in {time.monotonic() - t0:.0f} s "
            f"({sum(a['failed'] for a in joined)} failed: {[a['why'] for a in joined]})")
        ack = await coord.act("start")
        assert ack["ok"], ack
        await asyncio.to_thread(swarm.ask, "expect", ack["v"], 120)
        await settle(pids)
        per_phone = (rss(pids) - before_rss) / args.one_event

        def delivered():
            """Engine.IO packets and bytes of the phones (heartbeats included: the idle window takes them out)."""
            got = swarm.ask("bytes")
            return (sum(a["packets"] for a in got) + coord.messages + board.messages, sum(a["packets"] for a in got),
                    sum(a["bytes"] for a in got))
        meter = Meter(pids, [os.getpid(), *swarm.pids()], delivered, **meter_kw)
        idle = await meter.window(PAUSE * (args.changes + 1))
        say(f"idle window: server CPU {100 * idle['server_cpu'] / idle['t']:.0f}% of a core")
        latencies, entry, missed = [], None, 0
        start = await asyncio.to_thread(meter.read)
        for c in range(args.changes):
            sent = time.monotonic()
            if entry is None:
                ack = await coord.act("call_next")
                entry = ack["result"]["entry"]
            else:
                ack, entry = await coord.act("skip", {"entry": entry}), None
            assert ack["ok"], ack
            got = await asyncio.to_thread(swarm.ask, "expect", ack["v"], 60)
            times = [t for a in got for t in a["times"]]
            missed += sum(t is None for t in times)
            latencies.append(max((t for t in times if t is not None), default=sent + 60) - sent)
            await asyncio.sleep(PAUSE)
        await asyncio.sleep(1.5)
        busy = diff(await asyncio.to_thread(meter.read), start, settle=1.5)
        return {"phones": args.one_event, "phones connected": sum(a["ok"] for a in answers), **rates,
                "joins failed": sum(a["failed"] for a in joined), "changes missed by a phone (60 s)": missed,
                **net_figures(busy, idle, args.changes, args.one_event, latencies),
                "server memory KB per phone": round(per_phone / 1024, 1)}
    finally:
        await asyncio.to_thread(swarm.close)
        await coord.close()
        await board.close()


# ---------------------------------------------------------------- floors


def start_floor(kind: str) -> tuple[subprocess.Popen, str]:
    """A bare socket.io server ('python' or 'node') on a free port, answering /healthz."""
    port = free_port()
    cmd = ([sys.executable, str(ROOT / "bench" / "floor_server.py"), str(port)] if kind == "python" else
           [shutil.which("node") or "node", str(ROOT / "bench" / "floor_node.mjs"), str(port)])
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if requests.get(url + "/healthz", timeout=1).ok:
                return proc, url
        except requests.RequestException:
            time.sleep(0.1)
    proc.terminate()
    raise RuntimeError(f"the {kind} floor did not start")


def node_floor_available() -> bool:
    """bench/floor_node.mjs and the socket.io server package are both present."""
    return (ROOT / "bench" / "floor_node.mjs").exists() and (ROOT / "node_modules" / "socket.io").is_dir()


async def floor(kind: str, args, frame_bytes: int) -> dict:
    """The same clients in the same rooms, one frame of the app's size per change, at the same pace."""
    proc, url = start_floor(kind)
    pad = max(0, frame_bytes - 40)
    try:
        if args.one_event:
            return await _floor_one_event(proc, url, args, pad)
        rooms = [f"room{k}" for k in range(args.events)]
        phones = [[BenchPhone(url, {"event": r}) for _ in range(args.phones)] for r in rooms]
        flat = [p for g in phones for p in g]
        for i in range(0, len(flat), 100):
            await asyncio.gather(*(p.connect() for p in flat[i:i + 100]))
        meter = Meter([proc.pid], [os.getpid()], lambda: (sum(p.messages for p in flat), sum(p.frames for p in flat),
                                                          sum(p.frame_bytes for p in flat)))
        idle = await meter.window(PAUSE * (args.changes + 1))
        latencies = []

        async def sender(k: int) -> None:
            """One room's changes, at the same pace as the app's coordinators."""
            await asyncio.sleep(PAUSE * k / len(rooms))
            for c in range(1, args.changes + 1):
                sent = time.monotonic()
                await asyncio.to_thread(requests.post, f"{url}/go?room={rooms[k]}&size={pad}&v={c}", timeout=60)
                while any(p.v < c for p in phones[k]):
                    await asyncio.sleep(0.05)
                latencies.append(max(p.holds(c) for p in phones[k]) - sent)
                await asyncio.sleep(PAUSE)
        start = await asyncio.to_thread(meter.read)
        await asyncio.gather(*(sender(k) for k in range(len(rooms))))
        await asyncio.sleep(1.5)
        busy = diff(await asyncio.to_thread(meter.read), start, settle=1.5)
        await asyncio.gather(*(p.close() for p in flat))
        return net_figures(busy, idle, len(rooms) * args.changes, len(flat), latencies)
    finally:
        proc.terminate()
        proc.wait(10)


async def _floor_one_event(proc: subprocess.Popen, url: str, args, pad: int) -> dict:
    """The floor for --one-event: the same Node.js clients, all in one room."""
    swarm = NodeSwarm(spread([url + "/?event=room"], args.one_event), "room")
    try:
        await asyncio.to_thread(swarm.ask, "connect", 50, timeout=max(600, args.one_event * 0.4))

        def delivered():
            """Engine.IO packets and bytes."""
            got = swarm.ask("bytes")
            return (sum(a["packets"] for a in got), sum(a["packets"] for a in got), sum(a["bytes"] for a in got))
        meter = Meter([proc.pid], [os.getpid(), *swarm.pids()], delivered)
        idle = await meter.window(PAUSE * (args.changes + 1))
        latencies = []
        start = await asyncio.to_thread(meter.read)
        for c in range(1, args.changes + 1):
            sent = time.monotonic()
            await asyncio.to_thread(requests.post, f"{url}/go?room=room&size={pad}&v={c}", timeout=60)
            got = await asyncio.to_thread(swarm.ask, "expect", c, 120)
            times = [t for a in got for t in a["times"]]
            assert all(t is not None for t in times), "a floor client never got a frame"
            latencies.append(max(times) - sent)
            await asyncio.sleep(PAUSE)
        await asyncio.sleep(1.5)
        busy = diff(await asyncio.to_thread(meter.read), start, settle=1.5)
        return net_figures(busy, idle, args.changes, args.one_event, latencies)
    finally:
        await asyncio.to_thread(swarm.close)


# ---------------------------------------------------------------- one configuration of the app


class BenchPostgres(PrivatePostgres):
    """A PostgreSQL server of the benchmark's own (the shared one's 100 connections belong to everyone's tests), with
    PostgreSQL's defaults (max_connections 100, fsync on), as the operations guide assumes."""

    def start(self) -> "BenchPostgres":
        """Start, listening on 127.0.0.1 only."""
        self._ctl("-l", str(self.folder / "pg.log"), "-o",
                  f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1", "start")
        return self


def run_cluster(args, procs: int, folder: Path, pg: BenchPostgres) -> dict:
    """A fresh database and private Redis, `procs` processes behind nginx, the load; returns the figures."""
    name = f"picket_bench_{uuid.uuid4().hex[:10]}"
    admin = f"postgresql://postgres@127.0.0.1:{pg.port}/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    redis_server = PrivateRedis(folder / f"redis{procs}").start()
    db_url = f"postgresql+psycopg://postgres@127.0.0.1:{pg.port}/{name}"
    say(f"{procs} process(es): starting")
    nginx.WORKER_CONNECTIONS = max(4096, 2 * (args.one_event or args.events * (args.phones + 2)) + 1000)  # two each
    cluster = None
    try:
        cluster = Cluster(folder / f"c{procs}", db_url, redis_server.url, processes=procs,
                          extra_env={"PICKET_ACTION_BURST": "1000", "PICKET_MAX_CONNECTIONS": "12000",
                                     "PICKET_CREATE_LIMIT_PER_MINUTE": "1000",  # 50 events from one address at once
                                     "PICKET_TICK_SECONDS": "0.5"})  # the production tick (the tests use 0.2 s)
        pids = [s.proc.pid for s in cluster.servers]
        meter_kw = {"redis_port": redis_server.port, "db": (admin, name)}
        if args.one_event:
            return asyncio.run(one_event(cluster.url, [s.url for s in cluster.servers], pids, args, meter_kw))
        return asyncio.run(day_of_action(cluster.url, pids, args, meter_kw))
    finally:
        if cluster is not None:
            cluster.stop()
        redis_server.stop()  # also when the processes did not start
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    """Run N processes, 1 process and the floors; print one column each and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--phones", type=int, default=100)
    parser.add_argument("--changes", type=int, default=5)
    parser.add_argument("--procs", type=int, default=3)
    parser.add_argument("--one-event", type=int, default=0, help="one event of this many phones (Node.js clients)")
    parser.add_argument("--joiners", type=int, default=0,
                        help="with --one-event: how many of the phones join (default: all); the rest stay connected")
    parser.add_argument("--columns", default="many,one,python,node",
                        help="which columns: many (--procs processes), one (1 process), python and node (the floors)")
    parser.add_argument("--frame", type=int, default=0, help="the floors' frame size when the app columns are left out")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # every client socket is a file descriptor
    folder = Path(tempfile.mkdtemp(prefix="picket-bench-scaleout-"))
    load0 = os.getloadavg()
    what = (f"one event of {args.one_event} phones (Node.js clients spread over the processes)" if args.one_event
            else f"{args.events} events x {args.phones} phones (Python clients through nginx)")
    say(f"{what}, {args.changes} changes per event, {os.cpu_count()} cores, load average {load0[0]:.2f}")
    cols: dict[str, dict] = {}

    def column(name: str, run) -> None:
        """Run one column; a failure is reported and the others still run."""
        try:
            cols[name] = run()
        except Exception as e:  # noqa: BLE001 - keep what the other columns measure
            traceback.print_exc()
            cols[name] = {"error": f"{e.__class__.__name__}: {e}"[:200]}
        say(f"{name}: {json.dumps(cols[name], ensure_ascii=False)}")
        if args.json:
            Path(args.json).write_text(json.dumps({"args": vars(args), "columns": cols}, indent=2))
    wanted = args.columns.split(",")
    if "many" in wanted or "one" in wanted:
        pg = BenchPostgres().start()
        try:
            if "many" in wanted:
                column(f"{args.procs} processes", lambda: run_cluster(args, args.procs, folder, pg))
            if "one" in wanted:
                column("1 process", lambda: run_cluster(args, 1, folder, pg))
        finally:
            pg.remove()
    frame = args.frame or next((c["mean state frame bytes"] for c in cols.values() if "mean state frame bytes" in c),
                               300)
    if "python" in wanted:
        column("python-socketio floor", lambda: asyncio.run(floor("python", args, frame)))
    if "node" in wanted and node_floor_available():
        column("Node.js socket.io floor", lambda: asyncio.run(floor("node", args, frame)))
    elif "node" in wanted:
        say("no Node.js floor (bench/floor_node.mjs or node_modules/socket.io missing)")
    load1 = os.getloadavg()
    keys = list(dict.fromkeys(k for c in cols.values() for k in c))
    print(f"\n{what}, {args.changes} changes per event, {os.cpu_count()} cores, "
          f"load average {load0[0]:.2f} at the start, {load1[0]:.2f} at the end ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})")
    print(f"| {'':50} | " + " | ".join(f"{c:>24}" for c in cols) + " |")
    print("|---|" + "---:|" * len(cols))
    for k in keys:
        print(f"| {k:50} | " + " | ".join(f"{str(cols[c].get(k, '-')):>24}" for c in cols) + " |")
    many, one = cols.get(f"{args.procs} processes", {}).get(CPU), cols.get("1 process", {}).get(CPU)
    if many and one:
        print(f"\nserver CPU per delivered state, net of idle: {args.procs} processes / 1 process = {many / one:.2f}x "
              "(goal: at most 1.25x)")
    for c in ("python-socketio floor", "Node.js socket.io floor"):
        if cols.get(c, {}).get(CPU):
            bare = cols[c][CPU]
            print(f"  against the {c}: " + ", ".join(f"{name} {mine / bare:.2f}x" for name, mine in
                                                     ((f"{args.procs} processes", many), ("1 process", one)) if mine))
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "load": [load0, load1], "columns": cols}, indent=2))
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
