"""Every async mode the entry point offers serves WebSockets and never logs a client's address."""
from __future__ import annotations

import asyncio
import re
import secrets
import socket

import pytest
import realclients  # noqa: E402
from realclients import Peer, create_event, participant_auth, wait_for

pytestmark = pytest.mark.server

# How servers print a peer: "('127.0.0.1', 51234)" or "127.0.0.1 - - [...]" at the start of an access line.
CLIENT_ADDRESS = re.compile(r"\('127\.0\.0\.1',\s*\d+\)|^127\.0\.0\.1 ", re.M)


@pytest.mark.parametrize("mode", ["eventlet", "gevent", "threading"])
def test_mode_serves_websockets_and_logs_no_addresses(server_factory, mode):
    """Join over a pure WebSocket connection, send a malformed request, and read the whole server log."""
    srv = server_factory(mode=mode)
    ev = create_event(srv.url)
    realclients.run(_join_over_websocket(srv.url, ev))

    # A malformed request makes servers write an error line, the kind that names the client.
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
        s.sendall(b"NONSENSE / HTTP/9.9\r\nHost: x\r\n\r\n")
        try:
            s.recv(1024)
        except OSError:
            pass
    log = srv.output()
    assert "Traceback" not in log, log[-3000:]
    assert not CLIENT_ADDRESS.search(log), log[-3000:]


async def _join_over_websocket(url: str, ev: dict) -> None:
    """One participant joins and hears about it in its own `me` message."""
    peer = await Peer(url, participant_auth(ev["slug"], secrets.token_urlsafe(32))).connect()
    try:
        assert peer.sio.transport() == "websocket"
        ack = await peer.act("join", {"pseudonym": "Mode test"})
        assert ack["ok"], ack
        await wait_for(lambda: any(m["me"] and m["me"]["ticket"] == ack["result"]["ticket"]
                                   for m in peer.got["me"]), what="the `me` message")
    finally:
        await peer.close()
