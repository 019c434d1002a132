"""Real Socket.IO clients (python-socketio AsyncClient over WebSocket) for tests against a real server process."""
from __future__ import annotations

import asyncio
import concurrent.futures
import time
import uuid

import requests
import socketio

from consolepatch import ConsoleFollower

TIMEOUT = 60  # generous: the machine is small and shared


def run(coro):
    """Run a coroutine to completion on a fresh event loop in its own thread.

    Playwright's sync API (the session-wide browser fixture) keeps an event loop running in the main thread once the
    browser suites have run, so asyncio.run() there would refuse; a worker thread has no running loop.
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def new_op() -> str:
    """A client operation id."""
    return uuid.uuid4().hex


def create_event(url: str, **spec) -> dict:
    """Create an event over HTTP: {'slug', 'token', 'spots': [ids]}."""
    body = {"title": "Server test", "location": "Square", "spots": [{"label": "A"}, {"label": "B"}], **spec}
    r = requests.post(url + "/api/events", json=body, timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    data = r.json()
    return {"slug": data["event"]["event"]["slug"], "token": data["coordinator_token"],
            "spots": [s["id"] for s in data["event"]["spots"]]}


def http_action(url: str, slug: str, token: str, name: str, args: dict | None = None, op: str | None = None) -> dict:
    """Run a coordinator action over HTTP and return the answer."""
    r = requests.post(f"{url}/api/events/{slug}/actions/{name}", json={"op": op or new_op(), "args": args or {}},
                      headers={"X-Coordinator-Token": token}, timeout=TIMEOUT)
    return r.json()


def http_snapshot(url: str, slug: str, token: str) -> dict:
    """The coordinator snapshot over HTTP."""
    r = requests.get(f"{url}/api/events/{slug}/snapshot", headers={"X-Coordinator-Token": token}, timeout=TIMEOUT)
    assert r.ok, r.text
    return r.json()["data"]


class Peer:
    """One real client that records every message the server pushes to it."""

    def __init__(self, url: str, auth: dict):
        """A client with empty message lists (not connected yet)."""
        self.url, self.auth = url, auth
        self.sio = socketio.AsyncClient(reconnection=False)
        self.got: dict[str, list] = {"snapshot": [], "state": [], "me": [], "console": [], "announcement": []}
        for name in self.got:
            self.sio.on(name, self._recorder(name))
        # `console` messages are mostly patches: got["console"] holds the whole views they give (as the console page
        # draws them), console_raw what came on the wire.
        self.console_raw: list = []
        self.page = ConsoleFollower()
        self.refusals: list = []  # what the server said when it refused to connect us
        self.sio.on("connect_error", self._refused)

    async def _refused(self, data=None):
        """Keep a refusal's data ({code, message} from this server)."""
        self.refusals.append(data)

    def _recorder(self, name: str):
        """A handler that appends the message to its list."""
        async def record(data=None):
            """Keep the message (a `console` message: the view it gives, when its base is held)."""
            if name == "console":
                self.console_raw.append(data)
                missed = self.page.missed
                data = self.page.take(data)
                if data is None:
                    if self.page.missed > missed:  # as the console page does: a patch it cannot apply asks for a snapshot
                        asyncio.ensure_future(self.snapshot())
                    return
            elif name == "snapshot" and isinstance(data, dict) and data.get("role") == "coordinator":
                self.page.take(data)
            self.got[name].append(data)
        return record

    async def connect(self) -> "Peer":
        """Connect over WebSocket only (what phones use once upgraded)."""
        await self.sio.connect(self.url, auth=self.auth, transports=["websocket"], wait_timeout=TIMEOUT)
        return self

    async def act(self, action: str, args: dict | None = None, op: str | None = None) -> dict:
        """Send an action and wait for its ack."""
        return await self.sio.call("action", {"action": action, "op": op or new_op(), "args": args or {}},
                                   timeout=TIMEOUT)

    async def snapshot(self) -> dict:
        """Ask for the snapshot and return its data."""
        ack = await self.sio.call("snapshot", timeout=TIMEOUT)
        assert ack["ok"], ack
        if ack["data"].get("role") == "coordinator":
            self.page.take(ack["data"])  # what the console page does after a gap: a base for the next patches
        return ack["data"]

    async def close(self) -> None:
        """Disconnect (ignoring a server that is already gone)."""
        try:
            await self.sio.disconnect()
        except Exception:  # noqa: BLE001
            pass

    def last_v(self) -> int:
        """The newest version this client has seen in any message, or shows (a console that got a patch it could
        not apply asked for a snapshot, as the page does: `page.shown`)."""
        vs = [m["v"] for k in ("snapshot", "state", "me", "console") for m in self.got[k] if m and "v" in m]
        if self.page.shown:
            vs.append(self.page.shown.get("v", 0))
        return max(vs, default=0)


async def wait_for(predicate, timeout: float = TIMEOUT, what: str = "condition") -> None:
    """Poll a condition until it holds (never a fixed sleep); fail with a clear message otherwise."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def participant_auth(slug: str, token: str) -> dict:
    """The auth payload of a participant."""
    return {"event": slug, "participant": token}


def coordinator_auth(slug: str, token: str) -> dict:
    """The auth payload of a coordinator."""
    return {"event": slug, "coordinator": token}
