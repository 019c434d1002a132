"""The street proxy itself: bytes pass, a cut holds them (or resets connections), WebSocket upgrades can be refused."""
from __future__ import annotations

import socket
import socketserver
import threading

import pytest

from network.proxy import PROFILES, StreetProxy, is_upgrade

UPGRADE = (b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
           b"Upgrade: websocket\r\n\r\n")


class Echo(socketserver.BaseRequestHandler):
    """Send back whatever arrives."""

    def handle(self):
        """Echo until the client closes."""
        while data := self.request.recv(4096):
            self.request.sendall(data)


@pytest.fixture
def echo_proxy():
    """An echo server on 127.0.0.1 and a street proxy in front of it."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    proxy = StreetProxy(server.server_address[1], PROFILES["loopback"]).start()
    yield proxy
    proxy.stop()
    server.shutdown()
    server.server_close()


def dial(proxy: StreetProxy) -> socket.socket:
    """A client connection through the proxy."""
    s = socket.create_connection(("127.0.0.1", proxy.port), timeout=10)
    return s


def test_bytes_pass_and_a_cut_holds_them_until_the_link_returns(echo_proxy):
    """During a cut nothing arrives; afterwards the held bytes arrive, in order, on the same connection."""
    s = dial(echo_proxy)
    s.sendall(b"hello")
    assert s.recv(100) == b"hello"
    echo_proxy.cut(600)
    s.sendall(b"one")
    s.sendall(b"two")
    s.settimeout(0.5)
    with pytest.raises(socket.timeout):
        s.recv(100)
    echo_proxy.restore()
    s.settimeout(10)
    got = b""
    while len(got) < 6:
        got += s.recv(100)
    assert got == b"onetwo"


def test_a_cut_with_reset_closes_connections_and_refuses_new_ones(echo_proxy):
    """reset=True: open connections end, new ones are closed at once, until the link returns."""
    s = dial(echo_proxy)
    s.sendall(b"x")
    assert s.recv(10) == b"x"
    echo_proxy.cut(600, reset=True)
    assert s.recv(10) == b""
    assert dial(echo_proxy).recv(10) == b""
    echo_proxy.restore()
    t = dial(echo_proxy)
    t.sendall(b"back")
    assert t.recv(10) == b"back"


def test_no_websocket_refuses_only_upgrade_requests(echo_proxy):
    """The 'no WebSocket' profile answers an upgrade with 403; other requests pass untouched."""
    echo_proxy.set_profile(PROFILES["no_websocket"].scaled(delay_ms=0, jitter_ms=0, rate_bps=0))
    s = dial(echo_proxy)
    s.sendall(UPGRADE)
    assert s.recv(100).startswith(b"HTTP/1.1 403")
    plain = b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n"
    t = dial(echo_proxy)
    t.sendall(plain)
    assert t.recv(200) == plain
    assert echo_proxy.stats["upgrades_refused"] == 1
    assert is_upgrade(UPGRADE) and not is_upgrade(plain) and not is_upgrade(b"POST / HTTP/1.1\r\nUpgrade: websocket")
