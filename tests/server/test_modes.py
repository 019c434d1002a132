"""Every async mode the entry point offers serves WebSockets and never logs a client's address."""
from __future__ import annotations

import asyncio
import re
import secrets
import socket
import time

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


def _websocket_handshake(port: int) -> str:
    """Open an Engine.IO WebSocket by hand, offering permessage-deflate as browsers do; the response head."""
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall((f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                   f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                   "Sec-WebSocket-Version: 13\r\n"
                   "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = s.recv(4096)
            if not chunk:
                break
            head += chunk
    return head.split(b"\r\n\r\n")[0].decode("latin-1")


@pytest.mark.parametrize("mode", ["eventlet", "gevent", "threading"])
def test_websockets_are_not_compressed(server_factory, mode):
    """A browser's permessage-deflate offer is declined: per-connection zlib state would cost ~100 KB a phone."""
    srv = server_factory(mode=mode)
    head = _websocket_handshake(srv.port)
    assert head.startswith("HTTP/1.1 101"), head
    assert "sec-websocket-extensions" not in head.lower(), head


def test_compression_can_be_switched_back_on(server_factory):
    """WEBSOCKET_COMPRESSION=1 leaves the offer alone (and shows the test above would see an accepted one)."""
    srv = server_factory(extra_env={"PICKET_WEBSOCKET_COMPRESSION": "true"})
    head = _websocket_handshake(srv.port)
    assert head.startswith("HTTP/1.1 101"), head
    assert "permessage-deflate" in head.lower(), head


@pytest.mark.parametrize("mode", ["eventlet", "gevent", "threading"])
def test_passphrase_checks_run_in_every_mode(server_factory, mode):
    """Argon2 runs off the event loop (eventlet's tpool, gevent's threadpool, or in place): a right passphrase lets
    the coordinator in, a wrong one is refused with its code."""
    srv = server_factory(mode=mode)
    ev = create_event(srv.url, passphrase="correct horse battery")
    realclients.run(_coordinator_with_passphrase(srv.url, ev))


async def _coordinator_with_passphrase(url: str, ev: dict) -> None:
    """Connect once with the right passphrase and once with a wrong one."""
    auth = {"event": ev["slug"], "coordinator": ev["token"]}
    peer = await Peer(url, auth | {"passphrase": "correct horse battery"}).connect()
    try:
        await wait_for(lambda: peer.got["snapshot"], what="the coordinator's snapshot")
        assert peer.got["snapshot"][-1]["role"] == "coordinator", peer.got["snapshot"][-1].keys()
    finally:
        await peer.close()
    import socketio
    wrong, errors = socketio.AsyncClient(reconnection=False), []
    wrong.on("connect_error", lambda data: errors.append(data))
    with pytest.raises(socketio.exceptions.ConnectionError):
        await wrong.connect(url, auth=auth | {"passphrase": "wrong horse battery"}, transports=["websocket"],
                            wait_timeout=10)
    assert errors and errors[0]["data"]["code"] == "passphrase_required", errors
    await wrong.disconnect()


def _ws_frame(text: str) -> bytes:
    """A masked client text frame (RFC 6455)."""
    data, mask = text.encode(), secrets.token_bytes(4)
    head = bytes([0x81, 0x80 | len(data)]) if len(data) < 126 else bytes([0x81, 0xFE]) + len(data).to_bytes(2, "big")
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data))


def _ws_frames(buf: bytes) -> tuple[list[bytes], bytes]:
    """The complete unmasked server frames at the start of `buf` (their payloads), and what is left."""
    out = []
    while len(buf) >= 2:
        n, at = buf[1] & 0x7F, 2
        if n == 126:
            if len(buf) < 4:
                break
            n, at = int.from_bytes(buf[2:4], "big"), 4
        elif n == 127:
            if len(buf) < 10:
                break
            n, at = int.from_bytes(buf[2:10], "big"), 10
        if len(buf) < at + n:
            break
        out.append(buf[at:at + n])
        buf = buf[at + n:]
    return out, buf


@pytest.mark.parametrize("mode", ["eventlet", "gevent", "threading"])
def test_a_client_that_stops_answering_pings_is_closed(server_factory, mode):
    """A phone that vanished without closing (it stops answering pings) has its socket closed by the server within
    ping_interval + ping_timeout, whatever the WebSocket's writer is waiting for (it waits without a timeout)."""
    srv = server_factory(mode=mode, extra_env={"PICKET_PING_INTERVAL": "1", "PICKET_PING_TIMEOUT": "2"})
    ev = create_event(srv.url)
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    with socket.create_connection(("127.0.0.1", srv.port), timeout=30) as s:
        s.sendall((f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\n"
                   f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += s.recv(4096)
        head, buf = buf.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head
        s.sendall(_ws_frame('40{"event":"%s"}' % ev["slug"]))  # an observer; then silence
        got, t0 = [], time.monotonic()
        while True:
            try:
                chunk = s.recv(4096)
            except TimeoutError:
                raise AssertionError("the server kept a silent client's socket open for 30 s") from None
            if not chunk:
                break
            frames, buf = _ws_frames(buf + chunk)
            got += frames
        took = time.monotonic() - t0
    texts = [f.decode(errors="replace") for f in got]
    assert any(t.startswith("42[\"snapshot\"") for t in texts), texts[:5]  # it was served
    assert "2" in texts, texts  # and pinged
    assert took < 20, f"the server kept a silent client's socket open for {took:.0f} s"
