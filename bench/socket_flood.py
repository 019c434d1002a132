"""Flood benchmark: can anonymous sockets stall the server? (issue 9, hole 3)

    .venv/bin/python bench/socket_flood.py [--seconds 10] [--flooders 4] [--mode eventlet]

Starts the real server (SQLite), creates one event, then measures /healthz (10 probes a second, each timing out
after 5 s, a timeout counted as 5 s) in three phases: with no flood (the floor, in the same run), with N observer
sockets flooding it, and after the flood. Half the flooders send unpaced 16 KB text frames (the largest the
transport accepts), half declare a binary event with a huge attachment count and stream binary frames after it.
Each flooder reconnects at once whenever the server closes its socket, as an attacker would. It prints p50/p95/max of
/healthz per phase, their ratio to the floor, the server's resident memory before, at its peak and after, and how
many sockets the server closed. See docs/benchmarks.md ("A flooding socket").
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import requests
import websocket

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import Server  # noqa: E402

PROBE_TIMEOUT = 5.0


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def probe(url: str, seconds: float, sampler) -> list[float]:
    """/healthz latencies in ms, 10 a second for `seconds`; `sampler()` is called between probes."""
    out, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.monotonic()
        try:
            requests.get(url + "/healthz", timeout=PROBE_TIMEOUT).raise_for_status()
            out.append((time.monotonic() - t0) * 1000)
        except requests.RequestException:
            out.append(PROBE_TIMEOUT * 1000)
        sampler()
        time.sleep(max(0.0, 0.1 - (time.monotonic() - t0)))
    return out


class Flooder(threading.Thread):
    """One attacker: connect as an observer, flood, reconnect when closed, until stopped."""

    def __init__(self, url: str, slug: str, binary: bool):
        super().__init__(daemon=True)
        self.url, self.slug, self.binary = url, slug, binary
        self.stop, self.sent, self.closed = threading.Event(), 0, 0

    def run(self) -> None:
        ws_url = self.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        text = '42["snapshot",' + json.dumps("x" * 16_000) + "]"
        blob = b"\x00" * 16_000
        while not self.stop.is_set():
            try:
                ws = websocket.create_connection(ws_url, timeout=10)
                ws.recv()
                ws.send("40" + json.dumps({"event": self.slug}))
                if self.binary:
                    ws.send('45999999999-["action",{"_placeholder":true,"num":0}]')
                while not self.stop.is_set():
                    (ws.send_binary(blob) if self.binary else ws.send(text))
                    self.sent += 16_000
            except Exception:  # noqa: BLE001 - the server closed us: count it and come back
                self.closed += 1
                time.sleep(0.01)
            finally:
                try:
                    ws.close()
                except Exception:  # noqa: BLE001
                    pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--flooders", type=int, default=4)
    ap.add_argument("--mode", default="eventlet")
    a = ap.parse_args()
    srv = Server(a.mode, clients=10).start()
    try:
        r = requests.post(srv.url + "/api/events", json={"title": "Flood"}, timeout=20)
        slug = r.json()["event"]["event"]["slug"]
        peak = [srv.rss()]

        def sample() -> None:
            peak[0] = max(peak[0], srv.rss())

        floor = probe(srv.url, a.seconds / 2, sample)
        rss_before = srv.rss()
        flooders = [Flooder(srv.url, slug, binary=i % 2 == 1) for i in range(a.flooders)]
        for f in flooders:
            f.start()
        time.sleep(1)  # let the flood build up
        peak[0] = srv.rss()
        flood = probe(srv.url, a.seconds, sample)
        for f in flooders:
            f.stop.set()
        for f in flooders:
            f.join(15)
        time.sleep(2)
        after = probe(srv.url, a.seconds / 2, sample)
        rss_after = srv.rss()
        print(f"mode {a.mode}, {a.flooders} flooders ({sum(not f.binary for f in flooders)} text, "
              f"{sum(f.binary for f in flooders)} binary), {a.seconds:g} s of flood")
        print(f"{'phase':<10}{'probes':>8}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}{'p95/floor':>11}")
        base = percentile(floor, 95)
        for name, xs in (("floor", floor), ("flood", flood), ("after", after)):
            print(f"{name:<10}{len(xs):>8}{statistics.median(xs):>10.1f}{percentile(xs, 95):>10.1f}"
                  f"{max(xs):>10.1f}{percentile(xs, 95) / base:>11.1f}")
        sent = sum(f.sent for f in flooders)
        print(f"flooders sent {sent / 1e6:.0f} MB; the server closed their sockets {sum(f.closed for f in flooders)}"
              f" times")
        print(f"server RSS: before {rss_before / 1e6:.1f} MB, peak {peak[0] / 1e6:.1f} MB, "
              f"after {rss_after / 1e6:.1f} MB (after/before {rss_after / rss_before:.2f})")
        print(f"target: flood p95 < 200 ms: {'met' if percentile(flood, 95) < 200 else 'MISSED'}")
        lines = srv.log().splitlines()
        kinds = Counter(re.sub(r"\d+", "N", line)[:100] for line in lines)
        print(f"server log lines: {len(lines)}; the most frequent:")
        for text, n in kinds.most_common(4):
            print(f"  {n:>5} x {text}")
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
