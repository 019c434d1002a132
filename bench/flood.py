"""A join flood as an attacker would run it, against a real server with default settings (docs/benchmarks.md).

One process, one core, one network address (127.0.0.2 by default, so a phone on 127.0.0.1 is another address): it
uses only the documented API (docs/protocol.md), makes a fresh participant token for every join, and solves each
proof of work with Python's hashlib (PBKDF2-SHA-256, as ALTCHA defines it). It reports:

- the places it took in an `open` event in `--seconds` (goal: at most 5 % of max_queue), and the CPU seconds it paid
  per place; the same script without proof of work (goal: no place at all);
- the places it took in an `on site` event without a current code (goal: none), when the server has gates;
- a coordinator's action acknowledgement times (p50/p95) before the flood (the floor, same run) and during it;
- the taps a coordinator needs to clear every fake entry (bulk removal), when the server has it.

    .venv/bin/python bench/flood.py [--seconds 60] [--source 127.0.0.2]
"""
from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import secrets
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Api:
    """The documented HTTP API over one keep-alive connection from a chosen source address."""

    def __init__(self, port: int, source: str):
        self.port, self.source = port, source
        self.conn = None

    def call(self, method: str, path: str, body: dict | None = None, headers: dict | None = None):
        data = json.dumps(body).encode() if body is not None else b""
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30,
                                                       source_address=(self.source, 0))
            try:
                self.conn.request(method, path, body=data, headers=hdrs)
                r = self.conn.getresponse()
                return r.status, json.loads(r.read() or b"{}")
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise RuntimeError("unreachable")


def solve(challenge: dict, deadline: float = float("inf")) -> dict | None:
    """ALTCHA v2 with PBKDF2/SHA-256: find a counter whose derived key starts with the prefix (hashlib only);
    None when the deadline (time.monotonic) passes first."""
    p = challenge["parameters"]
    nonce, salt = bytes.fromhex(p["nonce"]), bytes.fromhex(p["salt"])
    prefix, cost, length = p["keyPrefix"], p["cost"], p.get("keyLength", 32)
    counter = 0
    while True:
        key = hashlib.pbkdf2_hmac("sha256", nonce + struct.pack(">I", counter), salt, cost, length).hex()
        if key.startswith(prefix):
            return {"challenge": challenge, "solution": {"counter": counter, "derivedKey": key}}
        counter += 1
        if counter % 16 == 0 and time.monotonic() > deadline:
            return None


def token() -> str:
    return secrets.token_urlsafe(32)


def flood(api: Api, slug: str, seconds: float, with_pow: bool = True, code: str | None = None) -> dict:
    """Join as fast as one core allows for `seconds`; returns places taken, CPU seconds and refusals by code."""
    out = {"places": 0, "cpu": 0.0, "refused": {}, "attempts": 0}
    cpu0, end = time.process_time(), time.monotonic() + seconds
    while time.monotonic() < end:
        args = {"pseudonym": f"Bot {out['attempts']}"}
        if code is not None:
            args["code"] = code
        if with_pow:
            status, body = api.call("POST", f"/api/events/{slug}/challenge")
            if not body.get("ok"):
                c = body["error"]["code"]
                out["refused"][c] = out["refused"].get(c, 0) + 1
                if c == "rate_limited":  # the attacker waits as little as it is told to
                    time.sleep(min(1.0, max(0.05, end - time.monotonic())))
                continue
            args["pow"] = solve(body["challenge"], end)
            if args["pow"] is None:
                break
        out["attempts"] += 1
        status, body = api.call("POST", f"/api/events/{slug}/actions/join",
                                {"op": secrets.token_urlsafe(12), "args": args}, {"X-Participant-Token": token()})
        if body.get("ok") and not body["result"].get("already"):
            out["places"] += 1
        elif not body.get("ok"):
            c = body["error"]["code"]
            out["refused"][c] = out["refused"].get(c, 0) + 1
    out["cpu"] = time.process_time() - cpu0
    return out


class Coordinator(threading.Thread):
    """A coordinator tapping a cheap action every `every` seconds over Socket.IO; records ack times (ms)."""

    def __init__(self, url: str, slug: str, tok: str, every: float = 0.5):
        super().__init__(daemon=True)
        import socketio
        self.sio = socketio.Client(reconnection=True)
        self.sio.connect(url, auth={"event": slug, "coordinator": tok}, transports=["websocket"], wait_timeout=20)
        self.every, self.acks, self.stop_at, self.running = every, [], None, True

    def run(self):
        i = 0
        while self.running:
            t = time.perf_counter()
            ack = self.sio.call("action", {"action": "settings", "op": secrets.token_urlsafe(12),
                                           "args": {"ready_at": 2 + i % 2}}, timeout=60)
            if ack and ack.get("ok"):
                self.acks.append((time.monotonic(), (time.perf_counter() - t) * 1000))
            i += 1
            time.sleep(self.every)

    def window(self, t0: float, t1: float) -> list[float]:
        return [ms for at, ms in self.acks if t0 <= at <= t1]


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--source", default="127.0.0.2", help="the attacker's address (the phones use 127.0.0.1)")
    ap.add_argument("--floor-seconds", type=float, default=10)
    a = ap.parse_args()

    inst = Path(tempfile.mkdtemp(prefix="picket-flood-"))
    port = free_port()
    env = {**os.environ, "PICKET_PORT": str(port), "PICKET_INSTANCE_PATH": str(inst), "PYTHONUNBUFFERED": "1"}
    for k in [k for k in env if k.startswith("PICKET_") and k not in ("PICKET_PORT", "PICKET_INSTANCE_PATH")]:
        del env[k]  # the defaults, nothing else
    server = subprocess.Popen([sys.executable, str(ROOT / "wsgi.py")], cwd=ROOT, env=env,
                              stdout=open(inst / "server.log", "ab"), stderr=subprocess.STDOUT)
    try:
        coord_api = Api(port, "127.0.0.1")
        for _ in range(100):
            try:
                if coord_api.call("GET", "/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        status, ev = coord_api.call("POST", "/api/events", {"title": "Flood test", "spots": [{"label": "A"}]})
        slug, ctok = ev["event"]["event"]["slug"], ev["coordinator_token"]
        max_queue = ev["event"]["event"].get("max_queue", 200)
        url = f"http://127.0.0.1:{port}"
        coord = Coordinator(url, slug, ctok)
        coord.start()
        print(f"server: defaults, eventlet, SQLite; event {slug}; max_queue {max_queue}; attacker from {a.source}")

        t0 = time.monotonic()
        time.sleep(a.floor_seconds)
        t1 = time.monotonic()
        floor = coord.window(t0, t1)

        attacker = Api(port, a.source)
        plain = flood(attacker, slug, 5, with_pow=False)
        print(f"without proof of work, 5 s: {plain['places']} places, {plain['attempts']} tries, "
              f"refused {plain['refused']}")

        t2 = time.monotonic()
        res = flood(attacker, slug, a.seconds)
        t3 = time.monotonic()
        during = coord.window(t2, t3)
        share = 100 * res["places"] / max_queue
        per = res["cpu"] / res["places"] if res["places"] else float("inf")
        print(f"open event, {a.seconds:.0f} s of one core: {res['places']} places of {max_queue} ({share:.1f} %), "
              f"{res['attempts']} joins tried, CPU {res['cpu']:.1f} s = {per:.1f} CPU s per place; "
              f"refused {res['refused']}")
        print(f"coordinator ack ms: floor p50 {pct(floor, .5):.0f} p95 {pct(floor, .95):.0f} (n={len(floor)}); "
              f"during the flood p50 {pct(during, .5):.0f} p95 {pct(during, .95):.0f} (n={len(during)}); "
              f"p95 ratio {pct(during, .95) / pct(floor, .95):.2f}")

        status, ev2 = coord_api.call("POST", "/api/events", {"title": "On site", "spots": [{"label": "A"}],
                                                             "gate": "onsite"})
        if status == 201:
            slug2 = ev2["event"]["event"]["slug"]
            res2 = flood(Api(port, "127.0.0.3"), slug2, min(20, a.seconds), code="000000")
            print(f"on-site event without a current code, {min(20, a.seconds):.0f} s: {res2['places']} places; "
                  f"refused {res2['refused']}")
        else:
            print("on-site gate: not available on this server")
        clear_taps(coord_api, slug, ctok, t2)
        coord.running = False
    finally:
        server.terminate()
        server.wait(10)


def clear_taps(api: Api, slug: str, tok: str, since_monotonic: float) -> None:
    """Clear the fake entries with the console's bulk removal (the same API calls as its taps), if present."""
    hdr = {"X-Coordinator-Token": tok}
    status, snap = api.call("GET", f"/api/events/{slug}/snapshot", headers=hdr)
    line = snap["data"]["line"]
    if not line:
        print("nothing to clear")
        return
    since = min(e["joined_at"] for e in line)
    until = max(e["joined_at"] for e in line)
    # tap 1: choose "joined between" (the console asks for the count), tap 2: confirm
    status, body = api.call("POST", f"/api/events/{slug}/actions/remove_bulk",
                            {"op": secrets.token_urlsafe(12),
                             "args": {"select": "joined", "since": since, "until": until, "dry_run": True}}, hdr)
    if not body.get("ok"):
        print(f"bulk removal: not available ({body.get('error', {}).get('code')})")
        return
    count = body["result"]["count"]
    status, body = api.call("POST", f"/api/events/{slug}/actions/remove_bulk",
                            {"op": secrets.token_urlsafe(12),
                             "args": {"select": "joined", "since": since, "until": until}}, hdr)
    status, snap = api.call("GET", f"/api/events/{slug}/snapshot", headers=hdr)
    print(f"bulk clearing: {count} shown, {body['result'].get('removed')} removed in 2 taps (choose, confirm); "
          f"line now {len(snap['data']['line'])}")


if __name__ == "__main__":
    main()
