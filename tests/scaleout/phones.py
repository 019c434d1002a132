"""Phones as the pages connect them through nginx: WebSocket, the event slug in the query, reconnecting on their own,
re-sending an unanswered action with the same op id (what static/js/net.js does)."""
from __future__ import annotations

import asyncio
import uuid

import requests
import socketio

from consolepatch import ConsoleFollower


class Phone:
    """One real Socket.IO client through the proxy that keeps the newest version it has seen."""

    def __init__(self, url: str, auth: dict):
        """Not connected yet."""
        self.url, self.auth = f"{url}/?event={auth['event']}", auth
        self.sio = socketio.AsyncClient(reconnection=True, reconnection_delay=0.5, reconnection_delay_max=2,
                                        ssl_verify=False)
        self.v, self.connects, self.console = 0, 0, None
        self.page = ConsoleFollower()
        for name in ("snapshot", "state", "me", "console"):
            self.sio.on(name, self._seen(name))
        self.sio.on("connect", self._connected)

    async def _connected(self):
        """Count (re)connections."""
        self.connects += 1

    def _seen(self, name: str):
        """A handler that keeps the newest version (and the coordinator's latest console view)."""
        async def seen(data=None):
            """Keep the version."""
            if isinstance(data, dict) and isinstance(data.get("v"), int):
                self.v = max(self.v, data["v"])
            if name == "console" or name == "snapshot" and isinstance(data, dict) and data.get("role") == "coordinator":
                self.console = self.page.take(data) or self.console  # a patch, followed as the console page does
        return seen

    async def connect(self) -> "Phone":
        """Connect over WebSocket (what phones use once upgraded)."""
        await self.sio.connect(self.url, auth=self.auth, transports=["websocket"], wait_timeout=60)
        return self

    async def act(self, action: str, args: dict | None = None, give_up: float = 120) -> dict:
        """Send an action until the server answers it (the same op id each time: never done twice)."""
        op, loop = uuid.uuid4().hex, asyncio.get_running_loop()
        deadline = loop.time() + give_up
        while True:
            try:
                if self.sio.connected:
                    ack = await self._call({"action": action, "op": op, "args": args or {}})
                    if ack is not None and (ack["ok"] or ack["error"]["code"] not in ("busy", "rate_limited")):
                        return ack
                    if ack is None:
                        continue  # reconnected: send again at once, as net.js does on connect
            except (socketio.exceptions.TimeoutError, socketio.exceptions.BadNamespaceError,
                    socketio.exceptions.DisconnectedError):
                pass
            if loop.time() > deadline:
                raise AssertionError(f"{action} was never answered")
            await asyncio.sleep(0.5)

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
