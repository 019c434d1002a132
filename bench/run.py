"""Load benchmark: the real server (`python wsgi.py`) and N real Socket.IO clients in one event.

    .venv/bin/python bench/run.py --clients 1000 [--modes eventlet,gevent,threading] [--changes 20] [--procs 2]
                                 [--db sqlite,postgresql] [--floors python,node | --floors none]

For each async mode (and database) it starts a server on its own temporary instance (SQLite, or a fresh PostgreSQL
database on 127.0.0.1 dropped afterwards), connects N participant clients (the official socket.io-client, the library
the pages use, in Node.js processes: bench/clients.mjs), lets them all join, then has a coordinator call the next
person `--changes` times and measures how long it takes until EVERY client holds the new version. In the same run it
measures the floors with the same client swarm and the app's mean frame size: a bare python-socketio server in each
async mode (bench/floor_server.py) and a bare Node.js socket.io server (bench/floor_node.mjs), each sending the same
number of `state` frames at the same pace. It prints one column per server and the app's ratios to its floors.
See docs/benchmarks.md for what each figure means.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import resource
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from pathlib import Path

import psutil
import requests

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 120  # seconds; generous, the machine may be shared
THREADING_MAX = 2000  # clients; beyond this threading mode runs only when asked for
PAUSE = 0.3  # seconds between a coordinator's changes: quicker than a person, slower than the broadcast window


# ---------------------------------------------------------------- the server

def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`python wsgi.py` in one async mode, on a temporary instance folder and SQLite database."""

    def __init__(self, mode: str, clients: int, ping_timeout: int | None = None, db_url: str | None = None):
        """Prepare (not start) the server (on `db_url`, a PostgreSQL database, when given)."""
        self.mode = mode
        self.dir = Path(tempfile.mkdtemp(prefix=f"picket-bench-{mode}-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # The per-connection action limit (30 per 10 s) protects against floods; the benchmark's one coordinator
        # acts faster than a person would, so it is raised here and only here.
        self.env = {**os.environ, "PICKET_ASYNC_MODE": mode, "PICKET_PORT": str(self.port),
                    "PICKET_INSTANCE_PATH": str(self.dir), "PICKET_MAX_CONNECTIONS": str(max(6000, clients + 100)),
                    "PICKET_ACTION_BURST": "1000", "PYTHONUNBUFFERED": "1",
                    # this benchmark measures broadcasting, not joining (bench/flood.py measures that)
                    "PICKET_POW_REQUIRED": "false", "PICKET_ADDR_LIMITS": "false"}
        if ping_timeout:  # Engine.IO's heartbeat deadline (default 20 s); see docs/benchmarks.md
            self.env["PICKET_PING_TIMEOUT"] = str(ping_timeout)
        if db_url:
            self.env["PICKET_SQLALCHEMY_DATABASE_URI"] = db_url
        self.cmd = [sys.executable, str(ROOT / "wsgi.py")]

        self.proc: subprocess.Popen | None = None
        self.ps: psutil.Process | None = None

    def start(self) -> "Server":
        """Start and wait until /healthz answers."""
        log = open(self.dir / "server.log", "ab")
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=self.env,
                                     stdout=log, stderr=subprocess.STDOUT)
        self.ps = psutil.Process(self.proc.pid)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited:\n" + self.log()[-3000:])
            try:
                if requests.get(self.url + "/healthz", timeout=1).ok:
                    return self
            except requests.RequestException:
                time.sleep(0.2)
        raise RuntimeError("server did not start:\n" + self.log()[-3000:])

    def rss(self) -> int:
        """Resident memory of the server process, in bytes."""
        return self.ps.memory_info().rss

    def cpu(self) -> float:
        """CPU seconds (user + system) the server process has used so far."""
        t = self.ps.cpu_times()
        return t.user + t.system

    def threads(self) -> int:
        """OS threads of the server process."""
        return self.ps.num_threads()

    def log(self) -> str:
        """What the server printed."""
        path = self.dir / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self, keep: bool = False) -> None:
        """Stop the server and delete its instance folder (unless asked to keep it)."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)


def http_action(url: str, slug: str, token: str, name: str, args: dict | None = None) -> dict:
    """A coordinator action over HTTP."""
    r = requests.post(f"{url}/api/events/{slug}/actions/{name}", json={"op": uuid.uuid4().hex, "args": args or {}},
                      headers={"X-Coordinator-Token": token}, timeout=TIMEOUT)
    body = r.json()
    if not body.get("ok"):
        raise RuntimeError(f"{name} failed: {body}")
    return body


# ---------------------------------------------------------------- client processes

def raise_fd_limit() -> None:
    """Every client socket is a file descriptor: lift the soft limit to the hard one (inherited by children)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Clients:
    """The client processes (bench/clients.mjs: the official socket.io-client in Node.js), driven over pipes."""

    def __init__(self, url: str, slug: str, total: int, procs: int):
        """Start the client processes, each with its share of the clients."""
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("Node.js is needed for the benchmark clients (apt-get install nodejs npm)")
        if not (ROOT / "node_modules" / "socket.io-client").is_dir():
            raise RuntimeError("socket.io-client is not installed: run `make vendor` (npm ci) first")
        share = [total // procs + (1 if i < total % procs else 0) for i in range(procs)]
        self.procs = [subprocess.Popen([node, str(ROOT / "bench" / "clients.mjs"), url, slug, str(n)], cwd=ROOT,
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
                      for n in share if n]

    def ask(self, *cmd, timeout: float = TIMEOUT * 3) -> list[dict]:
        """Send a command to every client process and collect the answers."""
        for p in self.procs:
            p.stdin.write(json.dumps(cmd) + "\n")
            p.stdin.flush()
        out = []
        deadline = time.monotonic() + timeout
        for p in self.procs:
            ready, _, _ = select.select([p.stdout], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise RuntimeError(f"client process did not answer {cmd[0]!r}")
            line = p.stdout.readline()
            if not line:
                raise RuntimeError(f"client process exited during {cmd[0]!r}")
            out.append(json.loads(line))
        return out

    def close(self) -> None:
        """Disconnect every client and end the processes."""
        try:
            self.ask("close", timeout=60)
        except Exception:  # noqa: BLE001
            pass
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


# ---------------------------------------------------------------- one mode

async def coordinator_client(url: str, slug: str, token: str):
    """The coordinator's socket (it also receives the console view after every change)."""
    import socketio
    sio = socketio.AsyncClient(reconnection=False)
    await sio.connect(url, auth={"event": slug, "coordinator": token}, transports=["websocket"],
                      wait_timeout=TIMEOUT)
    return sio


async def act(sio, name: str, args: dict | None = None) -> dict:
    """A coordinator action over the socket; fails loudly."""
    ack = await sio.call("action", {"action": name, "op": uuid.uuid4().hex, "args": args or {}}, timeout=TIMEOUT)
    if not ack.get("ok"):
        raise RuntimeError(f"{name} failed: {ack}")
    return ack


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank)."""
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(q / 100 * len(s)) - 1))]


def say(mode: str, text: str) -> None:
    """Progress on stdout."""
    print(f"  {mode}: {text}", flush=True)


def run_mode(mode: str, n: int, changes: int, procs: int, keep: bool, ping_timeout: int | None = None,
             joiners: int | None = None, db: str = "sqlite", profile: Path | None = None) -> dict:
    """The whole load against one server in one async mode; returns the figures (partial ones if a phase fails)."""
    with database(db) as url:
        server = Server(mode, n, ping_timeout, url).start()
        res: dict = {"mode": f"{mode} {db}", "clients": n, "kind": "app", "async": mode, "db": db}
        try:
            _run_phases(server, res, mode, n, changes, procs, joiners, profile)
        finally:
            server.stop(keep=keep)
    return res


class database:
    """A fresh PostgreSQL database on 127.0.0.1 for one run, dropped afterwards (as tests/conftest.py's pg_url);
    None for SQLite (the server makes its own file in its instance folder)."""

    ADMIN = os.environ.get("PICKET_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")

    def __init__(self, kind: str):
        if kind not in ("sqlite", "postgresql"):
            raise ValueError(f"unknown database {kind!r}")
        self.kind, self.name = kind, f"picket_bench_{uuid.uuid4().hex[:12]}"

    def __enter__(self) -> str | None:
        if self.kind == "sqlite":
            return None
        import psycopg
        with psycopg.connect(self.ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        return f"{self.ADMIN.rsplit('/', 1)[0].replace('postgresql://', 'postgresql+psycopg://', 1)}/{self.name}"

    def __exit__(self, *exc) -> None:
        if self.kind == "postgresql":
            import psycopg
            with psycopg.connect(self.ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def _run_phases(server: Server, res: dict, mode: str, n: int, changes: int, procs: int, joiners: int | None,
                profile: Path | None) -> None:
    """The phases against a started server; failures are kept in `res`."""
    try:
        _phases(server, res, mode, n, changes, procs, joiners or n, profile)
    except Exception as e:  # noqa: BLE001 - keep what was measured before the failure
        traceback.print_exc()
        res["error"] = f"failed: {e.__class__.__name__}"
    finally:
        if res.get("_clients"):
            res.pop("_clients").close()


def _phases(server: Server, res: dict, mode: str, n: int, changes: int, procs: int, joiners: int,
            profile: Path | None = None) -> None:
    """Connect, join, then measure changes; fills `res` as it goes."""
    created = requests.post(server.url + "/api/events", json={
        "title": "Benchmark", "location": "Here", "spots": [{"label": "A"}, {"label": "B"}],
        "max_queue": min(10_000, n + 10), "auto_call": False}, timeout=TIMEOUT).json()
    slug, token = created["event"]["event"]["slug"], created["coordinator_token"]
    spot_a = created["event"]["spots"][0]["id"]
    rss0, threads0 = server.rss(), server.threads()

    clients = res["_clients"] = Clients(server.url, slug, n, procs)
    answers = clients.ask("connect", 50, timeout=max(TIMEOUT * 3, n * 0.15))
    ok = sum(a["ok"] for a in answers)
    t0, t1 = min(a["t0"] for a in answers), max(a["t1"] for a in answers)
    res.update(connected=ok, connect_rate=ok / (t1 - t0), rss_connected=server.rss())
    res["mem_per_conn_kb"] = (res["rss_connected"] - rss0) / max(ok, 1) / 1024
    say(mode, f"{ok} connected in {t1 - t0:.0f} s")

    answers = clients.ask("join", max(1, 200 // procs), math.ceil(joiners / procs),  # 200 in flight in all
                          timeout=max(TIMEOUT * 3, joiners * 0.5))
    joined = sum(a["ok"] for a in answers)
    t0, t1 = min(a["t0"] for a in answers), max(a["t1"] for a in answers)
    res.update(joined=joined, join_failed=sum(a["failed"] for a in answers), join_rate=joined / (t1 - t0),
               join_seconds=t1 - t0)
    why: dict = {}
    for a in answers:
        for k, count in a["why"].items():
            why[k] = why.get(k, 0) + count
    res["join_errors"] = why
    res["join_retries"] = sum(a.get("retried", 0) for a in answers)
    say(mode, f"{joined} joined in {t1 - t0:.0f} s ({res['join_failed']} failed: {why or 'none'})")
    http_action(server.url, slug, token, "start")
    v_now = requests.get(f"{server.url}/api/events/{slug}", timeout=TIMEOUT).json()["data"]["v"]
    t_catch = time.monotonic()
    caught = clients.ask("expect", v_now, TIMEOUT)
    res["dropped_in_joins"] = sum(a["dropped"] for a in caught)
    res["catch_up_after_joins_s"] = max((t for a in caught for t in a["times"] if t), default=t_catch) - t_catch
    res["rss_joined"] = server.rss()
    res["mem_per_client_kb"] = (res["rss_joined"] - rss0) / max(ok, 1) / 1024
    res["server_threads"] = server.threads() - threads0

    spy = Profiler(server.proc.pid, profile / f"{mode}-{res['db']}-{n}") if profile else None
    res.update(asyncio.run(measure_changes(server, clients, slug, token, spot_a, changes)))
    if spy:
        res["profile"] = spy.stop()
    res["server_log_tail"] = [line for line in server.log().splitlines()[-5:] if line]


async def measure_changes(server: Server, clients: Clients, slug: str, token: str, spot: int, changes: int) -> dict:
    """`changes` times: call_next, wait until every client has the new version, then skip (undo) and wait again."""
    loop = asyncio.get_running_loop()
    coord = await coordinator_client(server.url, slug, token)
    try:
        bytes0 = sum(a["bytes"] for a in await loop.run_in_executor(None, clients.ask, "bytes"))
        cpu0 = server.cpu()
        everyone, per_client, missing, dropped = [], [], 0, 0
        for _ in range(changes):
            t0 = time.monotonic()
            ack = await act(coord, "call_next", {"spot": spot})
            answers = await loop.run_in_executor(None, clients.ask, "expect", ack["v"], 30)
            times = [t for a in answers for t in a["times"]]
            got = [t - t0 for t in times if t is not None]
            missing += len(times) - len(got)
            dropped = max(dropped, sum(a["dropped"] for a in answers))
            per_client += got
            everyone.append(max(got) if got else float("nan"))
            await asyncio.sleep(PAUSE)
            undo = await act(coord, "skip", {"entry": ack["result"]["entry"]})
            await loop.run_in_executor(None, clients.ask, "expect", undo["v"], 30)
            await asyncio.sleep(PAUSE)
        cpu = server.cpu() - cpu0
        received = sum(a["bytes"] for a in await loop.run_in_executor(None, clients.ask, "bytes")) - bytes0
        receivers = len(per_client) / changes if changes else 0
    finally:
        await coord.disconnect()
    return {
        "all_p50_ms": pct(everyone, 50) * 1000, "all_p95_ms": pct(everyone, 95) * 1000,
        "all_max_ms": max(everyone) * 1000, "msg_p50_ms": pct(per_client, 50) * 1000,
        "msg_p95_ms": pct(per_client, 95) * 1000, "missed_updates": missing, "dropped": dropped,
        "cpu_ms_per_change": cpu / (2 * changes) * 1000,
        "cpu_us_per_recipient": cpu / (2 * changes) / max(receivers, 1) * 1e6,
        "bytes_per_change_per_client": received / (2 * changes) / max(receivers, 1),
    }


class Profiler:
    """py-spy sampling the server process while changes are measured (`--profile`): a flame graph (SVG) and the
    raw folded stacks, for bench/profile_summary.py. Sampling from outside does not slow the process down much."""

    def __init__(self, pid: int, stem: Path):
        spy = os.environ.get("PY_SPY") or shutil.which("py-spy")
        if spy is None:
            raise RuntimeError("--profile needs py-spy (pip install py-spy, or PY_SPY=/path/to/py-spy)")
        stem.parent.mkdir(parents=True, exist_ok=True)
        self.out = stem.with_suffix(".txt")
        self.proc = subprocess.Popen([spy, "record", "--pid", str(pid), "--rate", "250", "--nonblocking",
                                      "--format", "raw", "--output", str(self.out)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> str:
        """Stop sampling and write the file; returns its path."""
        self.proc.send_signal(2)  # SIGINT: py-spy writes what it has and exits
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        return str(self.out)


# ---------------------------------------------------------------- the floors

def floor_pad(app_bytes: float) -> int:
    """The `size` that makes the floor's `state` frame (as the clients count it) `app_bytes` long."""
    bare = 1 + len('2["state",{"v":10,"prev_v":9,"pad":""}]')  # Engine.IO type + Socket.IO packet, as clients.mjs
    return max(0, round(app_bytes) - bare)


def run_floor(kind: str, mode: str, n: int, changes: int, procs: int, size: int) -> dict:
    """A bare server (python-socketio in `mode`, or Node.js socket.io) with the same clients: 2 x `changes` `state`
    frames of `size` padding at the app's pace; the time until every client holds each, and the server's CPU."""
    label = f"{mode} bare" if kind == "python" else "node bare"
    res: dict = {"mode": label, "clients": n, "kind": kind, "async": mode, "frame_pad": size}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = ([sys.executable, str(ROOT / "bench" / "floor_server.py"), str(port), mode] if kind == "python"
           else [shutil.which("node"), str(ROOT / "bench" / "floor_node.mjs"), str(port)])
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    clients = None
    try:
        ps = psutil.Process(proc.pid)
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(url + "/healthz", timeout=1).ok:
                    break
            except requests.RequestException:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"{label} did not start")
                time.sleep(0.2)
        rss0 = ps.memory_info().rss
        clients = Clients(url, "floor", n, procs)
        answers = clients.ask("connect", 50, timeout=max(TIMEOUT * 3, n * 0.15))
        ok = sum(a["ok"] for a in answers)
        t0, t1 = min(a["t0"] for a in answers), max(a["t1"] for a in answers)
        res.update(connected=ok, connect_rate=ok / (t1 - t0),
                   mem_per_conn_kb=(ps.memory_info().rss - rss0) / max(ok, 1) / 1024)
        say(label, f"{ok} connected in {t1 - t0:.0f} s")
        bytes0 = sum(a["bytes"] for a in clients.ask("bytes"))
        cpu0 = sum(ps.cpu_times()[:2])
        everyone, per_client, missing = [], [], 0
        for v in range(1, 2 * changes + 1):
            t0 = time.monotonic()
            requests.post(f"{url}/go", params={"room": "all", "size": size, "v": v}, timeout=TIMEOUT)
            answers = clients.ask("expect", v, 30)
            times = [t for a in answers for t in a["times"]]
            got = [t - t0 for t in times if t is not None]
            missing += len(times) - len(got)
            per_client += got
            everyone.append(max(got) if got else float("nan"))
            time.sleep(PAUSE)
        cpu = sum(ps.cpu_times()[:2]) - cpu0
        received = sum(a["bytes"] for a in clients.ask("bytes")) - bytes0
        receivers = len(per_client) / (2 * changes)
        res.update({
            "all_p50_ms": pct(everyone, 50) * 1000, "all_p95_ms": pct(everyone, 95) * 1000,
            "all_max_ms": max(everyone) * 1000, "msg_p95_ms": pct(per_client, 95) * 1000,
            "missed_updates": missing, "cpu_ms_per_change": cpu / (2 * changes) * 1000,
            "cpu_us_per_recipient": cpu / (2 * changes) / max(receivers, 1) * 1e6,
            "bytes_per_change_per_client": received / (2 * changes) / max(receivers, 1),
            "dropped": sum(a["dropped"] for a in clients.ask("expect", 0, 1)),
        })
    except Exception as e:  # noqa: BLE001 - keep what was measured
        traceback.print_exc()
        res["error"] = f"failed: {e.__class__.__name__}"
    finally:
        if clients:
            clients.close()
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
    return res


# ---------------------------------------------------------------- report

ROWS = [
    ("connected", "clients connected", "{:.0f}"),
    ("connect_rate", "connects/s", "{:.0f}"),
    ("join_rate", "joins/s", "{:.0f}"),
    ("join_failed", "joins failed", "{:.0f}"),
    ("join_retries", "join retries after busy", "{:.0f}"),
    ("dropped_in_joins", "dropped during joins", "{:.0f}"),
    ("catch_up_after_joins_s", "catch-up after joins (s)", "{:.1f}"),
    ("all_p50_ms", "call->all clients p50 (ms)", "{:.0f}"),
    ("all_p95_ms", "call->all clients p95 (ms)", "{:.0f}"),
    ("all_max_ms", "call->all clients max (ms)", "{:.0f}"),
    ("msg_p95_ms", "per-client delivery p95 (ms)", "{:.0f}"),
    ("missed_updates", "updates not received", "{:.0f}"),
    ("dropped", "dropped by the end", "{:.0f}"),
    ("cpu_ms_per_change", "server CPU per change (ms)", "{:.1f}"),
    ("cpu_us_per_recipient", "server CPU per recipient (us)", "{:.1f}"),
    ("bytes_per_change_per_client", "bytes/change/client", "{:.0f}"),
    ("mem_per_conn_kb", "RSS/connection (KB)", "{:.1f}"),
    ("mem_per_client_kb", "RSS/client after join (KB)", "{:.1f}"),
    ("server_threads", "extra server threads", "{:.0f}"),
]


def table(results: list[dict]) -> str:
    """One column per mode."""
    head = ["", *[r["mode"] for r in results]]
    lines = [head]
    for key, label, fmt in ROWS:
        lines.append([label, *[fmt.format(r[key]) if isinstance(r.get(key), (int, float)) else r.get("error", "-")
                              for r in results]])
    widths = [max(len(str(row[i])) for row in lines) for i in range(len(head))]
    return "\n".join("  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(row, widths)))
                     for row in lines)


def ratios(results: list[dict]) -> list[str]:
    """Each app column against its floors: the python-socketio one of the same async mode, and Node.js."""
    lines = []
    node = next((r for r in results if r["kind"] == "node"), None)
    for app in (r for r in results if r["kind"] == "app"):
        floors = [r for r in results if r["kind"] == "python" and r["async"] == app["async"]] + ([node] if node else [])
        parts = []
        for f in floors:
            cpu = _ratio(app.get("cpu_us_per_recipient"), f.get("cpu_us_per_recipient"))
            p95 = _ratio(app.get("all_p95_ms"), f.get("all_p95_ms"))
            parts.append(f"{cpu} CPU/recipient and {p95} p95 of {f['mode']}")
        if parts:
            lines.append(f"{app['mode']}: " + "; ".join(parts))
    return lines


def _ratio(a, b) -> str:
    """a / b as "1.23x", or "-" when either is missing."""
    ok = isinstance(a, (int, float)) and isinstance(b, (int, float)) and b > 0 and not math.isnan(a / b)
    return f"{a / b:.2f}x" if ok else "-"


def main() -> None:
    """Parse arguments, run every mode, print the table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=1000, help="participant clients (up to 5,000)")
    ap.add_argument("--modes", help="comma-separated async modes (default: eventlet,gevent,threading; above "
                    f"{THREADING_MAX:,} clients eventlet,gevent)")
    ap.add_argument("--changes", type=int, default=20, help="measured call_next changes")
    ap.add_argument("--procs", type=int, default=0, help="client processes (default: one per 2,500 clients)")
    ap.add_argument("--json", help="also write the figures to this file")
    ap.add_argument("--keep", action="store_true", help="keep the servers' temporary instance folders")
    ap.add_argument("--joiners", type=int, help="how many of the clients join (default: all); the rest stay "
                    "connected and receive every update")
    ap.add_argument("--ping-timeout", type=int, help="the server's PING_TIMEOUT in seconds (default: its own, 20)")
    ap.add_argument("--db", default="sqlite", help="comma-separated databases: sqlite, postgresql (a fresh "
                    "database on 127.0.0.1 per run, dropped after; PICKET_TEST_PG names the server)")
    ap.add_argument("--floors", default="python,node", help="floors measured in the same run: python (bare "
                    "python-socketio in each async mode), node (bare Node.js socket.io), or none")
    ap.add_argument("--profile", type=Path, help="sample the app's server with py-spy while changes are measured; "
                    "raw stacks go to this folder (summarise with bench/profile_summary.py)")
    a = ap.parse_args()
    if not 1 <= a.clients <= 5000:
        ap.error("--clients must be between 1 and 5000")
    raise_fd_limit()
    if a.modes is None:
        a.modes = "eventlet,gevent,threading" if a.clients <= THREADING_MAX else "eventlet,gevent"
        if a.clients > THREADING_MAX:
            print(f"threading mode is left out above {THREADING_MAX:,} clients (a thread per connection: it did not "
                  "finish connecting 5,000 clients in 5 minutes); ask for it with --modes threading", flush=True)
    procs = a.procs or max(1, math.ceil(a.clients / 2500))
    print(f"Picket Queue benchmark: {a.clients} clients in {procs} client process(es), {a.changes} changes; "
          f"{platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
          f"{f', PING_TIMEOUT={a.ping_timeout}' if a.ping_timeout else ''}", flush=True)
    load0 = os.getloadavg()
    floors = {f.strip() for f in a.floors.split(",")} - {"none", ""}
    results, frame = [], None
    for mode in (m.strip() for m in a.modes.split(",")):
        for db in (d.strip() for d in a.db.split(",")):
            t = time.monotonic()
            try:
                results.append(run_mode(mode, a.clients, a.changes, procs, a.keep, a.ping_timeout, a.joiners, db,
                                        a.profile))
            except Exception as e:  # noqa: BLE001 - one failing mode must not hide the others
                traceback.print_exc()
                results.append({"mode": f"{mode} {db}", "clients": a.clients, "kind": "app", "async": mode,
                                "db": db, "error": f"failed: {e.__class__.__name__}"})
            print(f"  {mode} {db}: done in {time.monotonic() - t:.0f} s", flush=True)
            frame = frame or results[-1].get("bytes_per_change_per_client")
        if "python" in floors and frame:  # the app's mean frame, measured just now
            results.append(run_floor("python", mode, a.clients, a.changes, procs, floor_pad(frame)))
    if "node" in floors and frame:
        results.append(run_floor("node", "node", a.clients, a.changes, procs, floor_pad(frame)))
    if floors and not frame:
        print("  floors left out: the app measured no frame to match (its change phase failed)", flush=True)
    load1 = os.getloadavg()
    print()
    print(table(results))
    print()
    for line in ratios(results):
        print(line)
    load = f"load average {load0[0]:.2f} at the start, {load1[0]:.2f} at the end (1 min), {os.cpu_count()} CPUs"
    print(load)
    if a.json:
        Path(a.json).write_text(json.dumps({"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                                            "machine": platform.platform(), "cpus": os.cpu_count(),
                                            "ping_timeout": a.ping_timeout, "load": [load0, load1],
                                            "results": results}, indent=2))


if __name__ == "__main__":
    main()
