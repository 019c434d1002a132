"""A street network between real clients and the real server: a userspace TCP proxy on 127.0.0.1.

It adds one-way delay with jitter (order kept, as TCP keeps it), caps the bandwidth of each connection and direction,
stalls connections at random (data held, then delivered, as on an overloaded cell), cuts the link for N seconds
(everything held, new connections wait, then the link comes back; or `reset=True`: every connection is closed and new
ones are refused meanwhile), and can refuse WebSocket upgrades so that clients live on long-polling.

Why not a library: `tc netem` is missing on this kind of machine; Toxiproxy (a Go server, not packaged in Debian 12)
and the Python chaos/latency proxies on PyPI work on TCP bytes and cannot refuse only the HTTP upgrade requests of
the "no WebSocket" profile. This is one asyncio file with no dependency (docs/libraries.md).

    proxy = StreetProxy(upstream_port, PROFILES["3g"]).start()   # proxy.url -> give it to the clients
    proxy.cut(30)                                                # the link down for 30 s, then back
    proxy.stop()
"""
from __future__ import annotations

import asyncio
import random
import threading
import time
from dataclasses import dataclass, replace

CHUNK = 16384


@dataclass(frozen=True)
class Profile:
    """What the network does. Delays are one-way (half a round trip); rates in bits per second (0: no cap)."""

    name: str
    delay_ms: float = 0
    jitter_ms: float = 0
    rate_bps: int = 0
    stall_every_s: float = 0  # mean time between random stalls of a connection (0: none)
    stall_min_s: float = 0
    stall_max_s: float = 0
    no_websocket: bool = False

    def scaled(self, **changes) -> "Profile":
        """The same profile with some parameters changed (e.g. shorter stalls in tests)."""
        return replace(self, **changes)


# The street profiles of issue 10 (round trip = 2 x delay). Tests shorten stalls through `scaled`.
PROFILES = {
    "loopback": Profile("loopback"),
    "3g": Profile("3g", delay_ms=150, jitter_ms=50, rate_bps=1_000_000),
    "congested": Profile("congested", delay_ms=400, jitter_ms=200, rate_bps=128_000, stall_every_s=60,
                         stall_min_s=5, stall_max_s=20),
    "cut": Profile("cut", delay_ms=150, jitter_ms=50, rate_bps=1_000_000),  # 3G, plus proxy.cut(30)
    "no_websocket": Profile("no_websocket", delay_ms=150, jitter_ms=50, rate_bps=1_000_000, no_websocket=True),
}


def is_upgrade(head: bytes) -> bool:
    """Whether a chunk from a client starts an HTTP request that asks for a WebSocket upgrade."""
    if not head.startswith(b"GET "):
        return False
    end = head.find(b"\r\n\r\n")
    headers = (head if end < 0 else head[:end]).lower()
    return b"\r\nupgrade: websocket" in headers


class StreetProxy:
    """The proxy, running its own asyncio loop in a daemon thread; its settings may change while it runs."""

    def __init__(self, upstream_port: int, profile: Profile = PROFILES["loopback"], seed: int | None = None):
        """Prepare (not start) a proxy to 127.0.0.1:upstream_port."""
        self.upstream_port = upstream_port
        self.profile = profile
        self.rng = random.Random(seed)
        self.down_until = 0.0      # monotonic time the link comes back (cut)
        self.refuse_until = 0.0    # monotonic time new connections are accepted again (cut with reset)
        self.port = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self.server: asyncio.AbstractServer | None = None
        self.conns: set = set()
        self.stats = {"connections": 0, "upgrades_refused": 0, "stalls": 0, "bytes_down": 0, "bytes_up": 0}
        self._ready = threading.Event()
        self._serving: asyncio.Task | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Where clients connect."""
        return f"http://127.0.0.1:{self.port}"

    # ------------------------------------------------------------ control (from any thread)

    def start(self) -> "StreetProxy":
        """Listen on a free port; returns once it accepts connections."""
        self._thread = threading.Thread(target=self._run, name="street-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the street proxy did not start")
        return self

    def stop(self) -> None:
        """Close everything."""
        if self.loop and self.loop.is_running():
            self.loop.call_soon_threadsafe(self._shutdown)
        if self._thread:
            self._thread.join(10)

    def set_profile(self, profile: Profile) -> None:
        """Change the network's behaviour from now on (existing connections too)."""
        self.profile = profile

    def cut(self, seconds: float, reset: bool = False) -> None:
        """The link goes down for `seconds`: data in flight and new connections wait (reset: all are closed and new
        ones refused meanwhile), then everything flows again."""
        until = time.monotonic() + seconds
        self.down_until = until
        if reset:
            self.refuse_until = until
            if self.loop:
                self.loop.call_soon_threadsafe(self._reset_all)

    def restore(self) -> None:
        """The link is back now (ends a cut early)."""
        self.down_until = self.refuse_until = 0.0

    def is_down(self) -> bool:
        """Whether the link is cut right now."""
        return time.monotonic() < self.down_until

    # ------------------------------------------------------------ the loop

    def _run(self) -> None:
        """The proxy's thread."""
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)

        async def serve():
            self._serving = asyncio.current_task()
            self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
            self.port = self.server.sockets[0].getsockname()[1]
            self._ready.set()
            async with self.server:
                try:
                    await self.server.serve_forever()
                except asyncio.CancelledError:
                    pass

        try:
            self.loop.run_until_complete(serve())
            rest = asyncio.all_tasks(self.loop)
            for task in rest:
                task.cancel()
            self.loop.run_until_complete(asyncio.gather(*rest, return_exceptions=True))
        finally:
            self.loop.close()

    def _shutdown(self) -> None:
        """Stop listening and drop every connection (the loop's thread then ends)."""
        self._reset_all()
        if self.server:
            self.server.close()
        if self._serving is not None:
            self._serving.cancel()

    def _reset_all(self) -> None:
        """Close every open connection (both sides)."""
        for conn in list(self.conns):
            conn.close()

    async def _wait_link(self, conn: "Conn | None" = None) -> None:
        """Return once the link is up (and this connection is not stalled)."""
        while True:
            now = time.monotonic()
            until = max(self.down_until, conn.stalled_until if conn else 0.0)
            if now >= until:
                return
            await asyncio.sleep(min(0.05, until - now))

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One client connection: wait for the link, connect upstream, pump both ways."""
        if time.monotonic() < self.refuse_until:
            writer.close()
            return
        conn = Conn(self, writer)
        self.conns.add(conn)
        self.stats["connections"] += 1
        try:
            await self._wait_link()
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
            conn.upstream = up_writer
            stalls = asyncio.ensure_future(self._stalls(conn))
            await asyncio.gather(self._pump(conn, reader, up_writer, "up"),
                                 self._pump(conn, up_reader, writer, "down"), return_exceptions=True)
            stalls.cancel()
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass  # a closed connection, or the proxy stopping
        finally:
            conn.close()
            self.conns.discard(conn)

    async def _stalls(self, conn: "Conn") -> None:
        """Stall this connection now and then (the congested cell), for the profile's stall lengths."""
        while not conn.closed:
            p = self.profile
            if not p.stall_every_s:
                await asyncio.sleep(0.5)
                continue
            await asyncio.sleep(self.rng.expovariate(1 / p.stall_every_s))
            if conn.closed or not self.profile.stall_every_s:
                continue
            conn.stalled_until = time.monotonic() + self.rng.uniform(p.stall_min_s, p.stall_max_s)
            self.stats["stalls"] += 1

    async def _pump(self, conn: "Conn", reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    direction: str) -> None:
        """Copy one direction: each chunk waits for the link's bandwidth, then the delay (order kept)."""
        queue: asyncio.Queue = asyncio.Queue()
        sender = asyncio.ensure_future(self._send(conn, queue, writer, direction))
        link_free, last_due = 0.0, 0.0
        try:
            while True:
                data = await reader.read(CHUNK)
                if not data:
                    break
                p = self.profile
                if direction == "up" and p.no_websocket and is_upgrade(data):
                    self.stats["upgrades_refused"] += 1
                    conn.writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    await queue.put((last_due, None))
                    await asyncio.sleep(0.05)
                    conn.close()
                    return
                now = time.monotonic()
                link_free = max(link_free, now) + (len(data) * 8 / p.rate_bps if p.rate_bps else 0.0)
                delay = max(0.0, p.delay_ms + self.rng.uniform(-p.jitter_ms, p.jitter_ms)) / 1000
                last_due = max(last_due, link_free + delay)
                await queue.put((last_due, data))
        except (ConnectionError, OSError):
            pass
        finally:
            await queue.put((last_due, None))
            await asyncio.gather(sender, return_exceptions=True)

    async def _send(self, conn: "Conn", queue: asyncio.Queue, writer: asyncio.StreamWriter, direction: str) -> None:
        """Deliver chunks when they are due and the link is up; close the far side after the last one."""
        try:
            while True:
                due, data = await queue.get()
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                await self._wait_link(conn)
                if data is None:
                    break
                writer.write(data)
                self.stats["bytes_" + direction] += len(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            try:
                writer.close()
            except (ConnectionError, OSError, RuntimeError):
                pass
            if direction == "down":
                conn.close()


class Conn:
    """One proxied connection: its client side, its upstream side, and when a stall ends."""

    def __init__(self, proxy: StreetProxy, writer: asyncio.StreamWriter):
        """A connection just accepted."""
        self.proxy, self.writer = proxy, writer
        self.upstream: asyncio.StreamWriter | None = None
        self.stalled_until = 0.0
        self.closed = False

    def close(self) -> None:
        """Close both sides (idempotent)."""
        if self.closed:
            return
        self.closed = True
        for w in (self.writer, self.upstream):
            if w is not None:
                try:
                    w.close()
                except (ConnectionError, OSError, RuntimeError):
                    pass
