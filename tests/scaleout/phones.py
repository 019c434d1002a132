"""Phones as the pages connect them through nginx: WebSocket, the event slug in the query, reconnecting on their own,
re-sending an unanswered action with the same op id (what static/js/net.js does)."""
from __future__ import annotations

import asyncio
import random
import ssl
import time
import uuid
from collections import Counter

import requests
import socketio

from consolepatch import ConsoleFollower


# One TLS context for every phone (nginx's certificate is self-signed). With ssl_verify=False python-engineio builds
# a context per connection, loading the system's CA bundle each time: ~35 ms of this process's CPU per (re)connect,
# several seconds of delay for hundreds of phones reconnecting at once that real phones, each with its own CPU,
# never have.
TLS = ssl.create_default_context()
TLS.check_hostname, TLS.verify_mode = False, ssl.CERT_NONE
TRANSIENT_REFUSALS = ("busy", "internal")  # as in net.js
CONNECT_WAIT = 10  # seconds a (re)connect waits for the server's answer: net.js's `timeout` (10000 ms)


class _Client(socketio.AsyncClient):
    """python-socketio's client, noting when each connect attempt starts, and waiting for the server's answer to a
    reconnect as long as the pages do (its own reconnection gives up after 1 s and starts over, so a busy server
    would do the work of each connect again and again)."""

    def __init__(self, phone: "Phone", **kwargs):
        """As AsyncClient; attempts are noted on `phone`."""
        super().__init__(**kwargs)
        self.phone = phone

    async def connect(self, *args, **kwargs):
        """One attempt (the first connect, or one of the client's own reconnection attempts)."""
        self.phone.attempts.append(time.monotonic())
        kwargs.setdefault("wait_timeout", CONNECT_WAIT)
        return await super().connect(*args, **kwargs)


class Phone:
    """One real Socket.IO client through the proxy that keeps the newest version it has seen."""

    def __init__(self, url: str, auth: dict):
        """Not connected yet."""
        self.url, self.auth = f"{url}/?event={auth['event']}", auth
        self.sio = _Client(self, reconnection=True, reconnection_delay=0.5, reconnection_delay_max=2,
                           websocket_extra_options={"ssl": TLS})
        self.v, self.connects, self.console = 0, 0, None
        self.page = ConsoleFollower()
        # When things happened (time.monotonic()): every connect attempt, each loss and acceptance of the
        # connection, each snapshot, and every rise of the version held (for the chaos test's figures).
        self.attempts, self.lost, self.accepted, self.snapshots, self.versions = [], [], [], [], []
        for name in ("snapshot", "state", "me", "console"):
            self.sio.on(name, self._seen(name))
        self.sio.on("connect", self._connected)
        self.sio.on("disconnect", self._disconnected)
        self.retried = Counter()  # why an action was sent again
        self.refusals = Counter()  # connect refusals by code (a busy server refuses with `busy`; pages retry those)
        self.sio.on("connect_error", self._refused)

    async def _refused(self, data=None):
        """Count a refusal by its code (the server sends {"message", "data": {"code", "message"}})."""
        reason = data.get("data") if isinstance(data, dict) else None
        self.refusals[reason.get("code", "?") if isinstance(reason, dict) else "network"] += 1

    async def _connected(self):
        """Count (re)connections."""
        self.connects += 1
        self.accepted.append(time.monotonic())

    async def _disconnected(self, reason=None):
        """Note when the connection was lost."""
        self.lost.append(time.monotonic())

    def _seen(self, name: str):
        """A handler that keeps the newest version (and the coordinator's latest console view)."""
        async def seen(data=None):
            """Keep the version."""
            if name == "snapshot":
                self.snapshots.append(time.monotonic())
            if isinstance(data, dict) and isinstance(data.get("v"), int) and data["v"] > self.v:
                self.v = data["v"]
                self.versions.append((time.monotonic(), self.v))
            if name == "console" or name == "snapshot" and isinstance(data, dict) and data.get("role") == "coordinator":
                self.console = self.page.take(data) or self.console  # a patch, followed as the console page does
        return seen

    async def connect(self) -> "Phone":
        """Connect over WebSocket (what phones use once upgraded); a network failure or a transient refusal is tried
        again, spread out, as the pages do (Socket.IO's own retries; net.js's TRANSIENT_REFUSALS)."""
        for _ in range(20):
            try:
                await self.sio.connect(self.url, auth=self.auth, transports=["websocket"], wait_timeout=60)
                return self
            except socketio.exceptions.ConnectionError:
                if set(self.refusals) - {"network", *TRANSIENT_REFUSALS}:  # a refusal that is final
                    raise
            await asyncio.sleep(0.5 + random.random() * 1.5)
        raise AssertionError(f"never connected: {self.refusals}")

    async def act(self, action: str, args: dict | None = None, give_up: float = 120) -> dict:
        """Send an action until the server answers it (the same op id each time: never done twice)."""
        op, loop = uuid.uuid4().hex, asyncio.get_running_loop()
        deadline = loop.time() + give_up
        while True:
            pause = 0.5  # after no answer (net.js: 500 ms)
            try:
                if self.sio.connected:
                    ack = await self._call({"action": action, "op": op, "args": args or {}})
                    if ack is None:
                        continue  # reconnected: send again at once, as net.js does on connect
                    if ack["ok"] or ack["error"]["code"] not in ("busy", "rate_limited"):
                        return ack
                    self.retried[ack["error"]["code"]] += 1
                    # net.js: 3 s after rate_limited, 0.5-2 s after busy (spread, so retries do not come in waves)
                    pause = 3.0 if ack["error"]["code"] == "rate_limited" else 0.5 + random.random() * 1.5
                else:
                    self.retried["not connected"] += 1
            except (socketio.exceptions.TimeoutError, socketio.exceptions.BadNamespaceError,
                    socketio.exceptions.DisconnectedError):
                self.retried["no answer in 8 s"] += 1
            if loop.time() > deadline:
                raise AssertionError(f"{action} was never answered ({dict(self.retried)})")
            await asyncio.sleep(pause)

    async def _call(self, data: dict) -> dict | None:
        """One attempt (8 s, net.js's ACK_TIMEOUT_MS); None when the socket reconnected meanwhile."""
        before = self.connects
        call = asyncio.ensure_future(self.sio.call("action", data, timeout=8))
        while not call.done():
            if self.connects != before:
                call.cancel()
                return None
            await asyncio.sleep(0.05)
        return call.result()

    async def close(self) -> None:
        """Disconnect for good."""
        try:
            await self.sio.disconnect()
        except Exception:  # noqa: BLE001
            pass


def http(method: str, url: str, **kwargs) -> dict:
    """An HTTP call through the proxy (its certificate is self-signed)."""
    return requests.request(method, url, timeout=60, verify=False, **kwargs).json()


def create_event(url: str, **spec) -> dict:
    """Create an event: {'slug', 'token'}."""
    body = http("POST", url + "/api/events", json={"title": "Day of action", "location": "Square",
                                                     "spots": [{"label": "A"}], **spec})
    return {"slug": body["event"]["event"]["slug"], "token": body["coordinator_token"]}


def snapshot(url: str, ev: dict) -> dict:
    """The coordinator snapshot over HTTP."""
    return http("GET", f"{url}/api/events/{ev['slug']}/snapshot", headers={"X-Coordinator-Token": ev["token"]})["data"]
