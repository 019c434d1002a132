"""coordinator/transport.py: how a WebSocket's writer waits for the frames it sends."""
from __future__ import annotations

import queue
import threading
import time
import types

from engineio import exceptions as eio_exceptions
from engineio import packet

from coordinator.transport import GuardedSocket


class _Server:
    """The little of an Engine.IO server that Socket.poll uses (threading mode), with a heartbeat deadline of 0.1 s."""

    ping_interval, ping_timeout = 0.05, 0.05

    @staticmethod
    def create_queue():
        return queue.Queue()

    @staticmethod
    def get_queue_empty_exception():
        return queue.Empty


def _socket(upgraded: bool) -> GuardedSocket:
    sock = GuardedSocket.__new__(GuardedSocket)
    sock.server, sock.queue, sock.upgraded = _Server(), queue.Queue(), upgraded
    return sock


def _later(sock: GuardedSocket, *items, after: float = 0.3) -> threading.Thread:
    def put():
        time.sleep(after)
        for item in items:
            sock.queue.put(item)
    t = threading.Thread(target=put)
    t.start()
    return t


def test_a_websocket_writer_waits_past_the_heartbeat_deadline_for_its_next_frame():
    """No timer per wait: a frame that comes after ping_interval + ping_timeout is still sent, with those queued
    behind it (Engine.IO's own poll gives up at the deadline, as the long-polling test below shows)."""
    sock = _socket(upgraded=True)
    first, second = packet.Packet(packet.MESSAGE, "a"), packet.Packet(packet.MESSAGE, "b")
    t = _later(sock, first, second)
    t0 = time.monotonic()
    got = sock.poll()
    t.join()
    assert time.monotonic() - t0 >= 0.25
    assert got[0] is first and got[1:] in ([], [second])  # the second may come after the writer woke


def test_a_closed_websocket_ends_its_writer():
    """None in the queue (the reader ended, or the server closed the socket) ends the writer: poll returns []; a
    None behind frames still to send is put back, so the writer sends them and then ends."""
    sock = _socket(upgraded=True)
    _later(sock, None, after=0.1).join()
    assert sock.poll() == []
    frame = packet.Packet(packet.MESSAGE, "last")
    sock.queue.put(frame)
    sock.queue.put(None)
    assert sock.poll() == [frame]
    assert sock.poll() == []


def test_long_polling_keeps_engineio_deadline():
    """A long-polling GET must be answered within ping_interval + ping_timeout: it still times out."""
    sock = _socket(upgraded=False)
    t0 = time.monotonic()
    try:
        sock.poll()
    except eio_exceptions.QueueEmpty:
        pass
    else:
        raise AssertionError("a long-polling poll waited for ever")
    assert time.monotonic() - t0 < 5


def test_frames_queued_at_once_are_all_sent_in_order():
    """The writer drains what waits behind its first frame, without waiting again, and in order."""
    sock = _socket(upgraded=True)
    frames = [packet.Packet(packet.MESSAGE, str(i)) for i in range(5)]
    for f in frames:
        sock.queue.put(f)
    assert sock.poll() == frames
    assert sock.queue.qsize() == 0


class _Logger:
    def __init__(self):
        self.lines = []

    def info(self, *args):
        self.lines.append(args)


def test_a_packet_is_queued_without_a_log_call_and_never_after_the_ping_deadline():
    """GuardedSocket.send queues as Engine.IO does, but makes no log call per packet (Engine.IO's would name the
    packet's data); a socket whose client stopped answering pings gets nothing more."""
    sock = _socket(upgraded=True)
    sock.server.logger, sock.server.reason = _Logger(), types.SimpleNamespace(PING_TIMEOUT="ping timeout")
    sock.closed, sock.last_ping, sock.sid = False, None, "s"
    frame = packet.Packet(packet.MESSAGE, "a")
    sock.send(frame)
    assert sock.queue.get_nowait() is frame
    assert sock.server.logger.lines == []
    sock.last_ping = time.time() - 10  # a ping sent 10 s ago and never answered: past ping_interval + ping_timeout
    sock.close = lambda **kw: setattr(sock, "closed", True)
    sock.send(frame)
    assert sock.queue.qsize() == 0
