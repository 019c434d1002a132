"""Load benchmark: the real server (`python wsgi.py`) and N real Socket.IO clients in one event.

    .venv/bin/python bench/run.py --clients 1000 [--modes eventlet,gevent,threading] [--changes 20] [--procs 2]

For each async mode it starts a server on its own temporary instance (SQLite), connects N participant clients
(the official socket.io-client, the library the pages use, in Node.js processes: bench/clients.mjs), lets them all join,
then has a coordinator call the next person `--changes` times and measures how long it takes until EVERY client
holds the new version. It prints one column per mode. See docs/benchmarks.md for what each figure means.
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

    def __init__(self, mode: str, clients: int, ping_timeout: int | None = None):
        """Prepare (not start) the server."""
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
             joiners: int | None = None) -> dict:
    """The whole load against one server in one async mode; returns the figures (partial ones if a phase fails)."""
    server = Server(mode, n, ping_timeout).start()
    res: dict = {"mode": mode, "clients": n}
    try:
        _phases(server, res, mode, n, changes, procs, joiners or n)
    except Exception as e:  # noqa: BLE001 - keep what was measured before the failure
        traceback.print_exc()
        res["error"] = f"failed: {e.__class__.__name__}"
    finally:
        if res.get("_clients"):
            res.pop("_clients").close()
        server.stop(keep=keep)
    return res


def _phases(server: Server, res: dict, mode: str, n: int, changes: int, procs: int, joiners: int) -> None:
    """Connect, join, then measure changes; fills `res` as it goes."""
    created = requests.post(server.url + "/api/events", json={
        "title": "Benchmark", "location": "Here", "spots": [{"label": "A"}, {"label": "B"}],
        "max_queue": min(10_000, n + 10), "auto_call": False}, timeout=TIMEOUT).json()
    slug, token = created["event"]["event"]["slug"], created["coordinator_token"]
    spot_a = created["event"]["spots"][0]["id"]
    rss0, threads0 = server.rss(), server.threads()

    clients = res["_clients"] = Clients(server.url, slug, n, procs)
    answers = clients.ask("connect", 50)
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

    res.update(asyncio.run(measure_changes(server, clients, slug, token, spot_a, changes)))
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
        "bytes_per_change_per_client": received / (2 * changes) / max(receivers, 1),
    }


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
    results = []
    for mode in a.modes.split(","):
        t = time.monotonic()
        try:
            results.append(run_mode(mode.strip(), a.clients, a.changes, procs, a.keep, a.ping_timeout,
                                    a.joiners))
        except Exception as e:  # noqa: BLE001 - one failing mode must not hide the others
            traceback.print_exc()
            results.append({"mode": mode, "clients": a.clients, "error": f"failed: {e.__class__.__name__}"})
        print(f"  {mode}: done in {time.monotonic() - t:.0f} s", flush=True)
    print()
    print(table(results))
    if a.json:
        Path(a.json).write_text(json.dumps({"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                                            "machine": platform.platform(), "cpus": os.cpu_count(),
                                            "ping_timeout": a.ping_timeout,
                                            "results": results}, indent=2))


if __name__ == "__main__":
    main()
