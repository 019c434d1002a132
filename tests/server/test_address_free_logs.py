"""Privacy of the server's own output: no client address reaches any log, in any async mode, even when clients reset
their connections (eventlet's WebSocket writes "client=IP:port socket shutdown error" lines to wsgi.errors)."""
from __future__ import annotations

import base64
import json
import os
import re
import socket
import struct
import subprocess
import sys
import time

import pytest
import requests
from realclients import create_event, http_action

from conftest import ROOT

pytestmark = pytest.mark.server
IP_RE = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")
PORT_RE = re.compile(r"client=\S*\d")  # eventlet's WebSocket context: "client=127.0.0.1:51234"


def _frame(text: str, opcode: int = 0x81) -> bytes:
    """A masked client WebSocket frame."""
    data, mask = text.encode(), os.urandom(4)
    size = bytes([0x80 | len(data)]) if len(data) < 126 else bytes([0x80 | 126]) + struct.pack("!H", len(data))
    return bytes([opcode]) + size + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data))


def _raw_socket(port: int, slug: str) -> socket.socket:
    """A WebSocket that joins the event's board as a Socket.IO client would, speaking the protocol by hand."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)  # a slow phone: the server's writes back up
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
               f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    assert s.recv(4096).startswith(b"HTTP/1.1 101")
    s.sendall(_frame("40" + json.dumps({"event": slug})))
    return s


def _reset(s: socket.socket) -> None:
    """Close with a TCP reset (SO_LINGER 0), as a phone that loses its network does from the server's view."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


@pytest.mark.parametrize("mode", ["eventlet", "gevent", "threading"])
def test_clients_that_reset_their_connections_leave_no_address_in_the_output(server_factory, mode):
    """Sockets reset before, during and after broadcasts, a close frame then a reset, a polling request cut off
    half-way and a garbage request line: the server's whole output holds no address."""
    srv = server_factory(mode=mode)
    ev = create_event(srv.url)
    socks = [_raw_socket(srv.port, ev["slug"]) for _ in range(12)]
    time.sleep(0.5)  # let the connects land (not an assertion: the resets must hit live sockets)
    for i, s in enumerate(socks[:4]):
        _reset(s)
    for n in range(3):  # broadcasts towards sockets that are gone or reading slowly
        assert http_action(srv.url, ev["slug"], ev["token"], "broadcast", {"text": "x" * 200})["ok"]
        for s in socks[4 + 2 * n:6 + 2 * n]:
            if n % 2:
                s.sendall(_frame("", 0x88))  # a close frame, then the reset
            _reset(s)
    for s in socks[10:]:
        _reset(s)
    with socket.create_connection(("127.0.0.1", srv.port), timeout=30) as s:  # polling cut off mid-request
        s.sendall(b"POST /socket.io/?EIO=4&transport=polling&sid=nope HTTP/1.1\r\nHost: x\r\nContent-Length: 99\r\n\r\n4")
        _reset(s)
    with socket.create_connection(("127.0.0.1", srv.port), timeout=30) as s:  # a malformed request line
        s.sendall(b"\x16\x03\x01 garbage\r\n\r\n")
        s.recv(1024)
    assert requests.get(srv.url + "/healthz", timeout=30).ok  # still serving
    srv.stop()
    banner = f"Picket Queue on {srv.url} "
    text = "\n".join(ln for ln in srv.output().splitlines() if not ln.startswith(banner))
    assert not IP_RE.findall(text), text[-3000:]
    assert not PORT_RE.findall(text), text[-3000:]


def test_eventlets_websocket_shutdown_line_is_written_without_the_address(tmp_path):
    """eventlet's own WebSocket.close(), failing on a socket that is already gone, writes its "socket shutdown
    error" line through the entry point's streams: the line is there, the address (client=IP:port) is not."""
    script = (
        "import wsgi, socket\n"
        "from eventlet.websocket import RFC6455WebSocket\n"
        "a, b = socket.socketpair()\n"
        "env = {'wsgi.errors': wsgi.sys.stderr, 'REMOTE_ADDR': '203.0.113.9', 'REMOTE_PORT': '51234',\n"
        "       'HTTP_HOST': 'picket.example', 'PATH_INFO': '/socket.io/'}\n"
        "ws = RFC6455WebSocket(a, env)\n"
        "a.close()\n"
        "ws.close()\n")
    env = {**os.environ, "PICKET_ASYNC_MODE": "eventlet", "PICKET_INSTANCE_PATH": str(tmp_path),
           "PICKET_RUN_TICKER": "false"}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "socket shutdown error" in done.stderr, done.stderr[-2000:]
    assert "203.0.113.9" not in done.stderr and "51234" not in done.stderr, done.stderr[-2000:]
