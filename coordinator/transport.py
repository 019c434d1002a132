"""The transport around Socket.IO: WebSocket settings Engine.IO does not expose, security headers on its HTTP answers,
and guards on what one socket may send (issue 9): a budget per socket, binary data refused, malformed frames ignored
with at most one short log line, and Socket.IO's reserved event names kept away from the server's handlers."""
from __future__ import annotations

import logging
import socket
import threading
import time

import engineio
import socketio
from engineio import exceptions as eio_exceptions
from engineio import socket as eio_socket
from socketio import packet as sio_packet


class NoWebSocketCompression:
    """WSGI middleware: hide the client's `Sec-WebSocket-Extensions` offer, so no permessage-deflate is negotiated.

    Browsers offer permessage-deflate on every WebSocket. Both servers we run (eventlet's websocket module and
    simple-websocket/wsproto in gevent and threading modes) accept it, and then keep a zlib compressor and
    decompressor per connection: about 100 KB of server memory per phone and CPU on every message, for messages of
    about 1 KB. The product's messages are small and a picket's server must hold thousands of phones, so by default
    the offer is removed and frames go uncompressed (WEBSOCKET_COMPRESSION = True keeps it).
    """

    def __init__(self, app):
        """Wrap the WSGI app (outside Flask-SocketIO's middleware, which handles the upgrade)."""
        self.app = app

    def __call__(self, environ, start_response):
        """Drop the extension offer, then pass the request on."""
        environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
        return self.app(environ, start_response)


class SocketHeaders:
    """WSGI middleware: the security headers of every other response on Engine.IO's own HTTP answers (polling and
    handshake), which are made by python-engineio and never pass through Flask's after_request."""

    HEADERS = (("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"),
               ("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer"),
               ("X-Frame-Options", "DENY"), ("Cache-Control", "no-store"))

    def __init__(self, app, path: str = "/socket.io"):
        self.app, self.path = app, path

    def __call__(self, environ, start_response):
        """Add the headers a Socket.IO answer lacks (never to a WebSocket upgrade's 101)."""
        if not environ.get("PATH_INFO", "").startswith(self.path):
            return self.app(environ, start_response)

        def with_headers(status, headers, exc_info=None):
            if not status.startswith("101"):
                have = {name.lower() for name, _ in headers}
                headers = list(headers) + [(n, v) for n, v in self.HEADERS if n.lower() not in have]
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)
        return self.app(environ, with_headers)


# ---------------------------------------------------------------------------------------------------------------
# Inbound guards: what one socket may send. python-engineio and python-socketio expose no hook before a frame is
# decoded, nor a per-socket budget, so the app's server objects get the small subclasses below (`guard`).

log = logging.getLogger(__name__)

# Event names a client may never send: python-socketio would hand them to the server's lifecycle handlers (a client
# sending `disconnect` ran the disconnect handler while its socket stayed open), or they are reserved by Socket.IO.
RESERVED_EVENTS = frozenset({"connect", "disconnect", "connect_error", "disconnecting", "message", "error",
                             "newListener", "removeListener", "ping", "pong", "*"})
ENGINEIO_TYPES = "0123456"  # the first character of every text frame of Engine.IO protocol 4


class InboundBudget:
    """What one socket may send: `messages` frames and `size` bytes per `window` seconds, as token buckets that
    refill evenly (a burst of the whole budget, then the steady rate). Charged per frame before it is decoded."""

    __slots__ = ("messages", "size", "at", "rate_m", "rate_b", "cap_m", "cap_b")

    def __init__(self, messages: int, size: int, window: float):
        self.cap_m, self.cap_b = float(messages), float(size)
        self.rate_m, self.rate_b = messages / window, size / window
        self.messages, self.size, self.at = self.cap_m, self.cap_b, time.monotonic()

    def charge(self, nbytes: int) -> bool:
        """Spend one frame of `nbytes`; False when the socket is over its budget."""
        now = time.monotonic()
        gap, self.at = now - self.at, now
        self.messages = min(self.cap_m, self.messages + gap * self.rate_m) - 1
        self.size = min(self.cap_b, self.size + gap * self.rate_b) - nbytes
        return self.messages >= 0 and self.size >= 0


class _LogGate:
    """At most one log line per socket, and at most `burst` lines a minute for all sockets together."""

    def __init__(self, burst: int = 20):
        self.burst, self.lines, self.lock = burst, [], threading.Lock()

    def note(self, sock, what: str) -> None:
        """Log `what` (a short fixed text, never the frame) unless this socket or the minute has said enough."""
        if getattr(sock, "_pq_logged", False):
            return
        sock._pq_logged = True
        now = time.monotonic()
        with self.lock:
            self.lines = [t for t in self.lines if now - t < 60]
            if len(self.lines) >= self.burst:
                return
            self.lines.append(now)
        log.warning("socket: %s", what)


GATE = _LogGate()


class GuardedSocket(eio_socket.Socket):
    """An Engine.IO socket whose every inbound frame is charged to its budget before it is decoded."""

    def admit(self, frame) -> bool:
        """Whether to decode this raw frame; closes the socket when it must not go on."""
        if isinstance(frame, (bytes, bytearray)):
            return self.refuse("binary frame refused, socket closed")
        return self.charge(len(frame))

    def charge(self, nbytes: int) -> bool:
        """Charge one frame of `nbytes` to the budget; over it, the socket is closed."""
        if not self._pq_budget.charge(nbytes):
            return self.refuse("inbound budget exceeded, socket closed")
        self.server.sleep(0)  # let every other connection and request run between two frames of one socket
        return True

    def refuse(self, why: str) -> bool:
        """Close this socket now (its place in line, if any, is kept) and say why once."""
        GATE.note(self, why)
        self.close(wait=False, abort=True)
        return False

    def receive(self, pkt):
        """Drop what a client may not send; binary payloads never reach the application."""
        if self.closed:
            return
        if pkt.packet_type == eio_socket.packet.MESSAGE and pkt.binary:
            self.refuse("binary frame refused, socket closed")
            return
        super().receive(pkt)

    def handle_post_request(self, environ):
        """Polling: the whole body is charged as one frame, and a malformed one closes the socket (a bad request)."""
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0 or not self.charge(length):
            self.refuse("bad length, socket closed")
            raise eio_exceptions.ContentTooLongError()
        try:
            return super().handle_post_request(environ)
        except eio_exceptions.EngineIOError:
            raise
        except Exception:  # noqa: BLE001 - a malformed payload: one line, and the socket is closed
            self.refuse("malformed polling payload, socket closed")
            raise eio_exceptions.UnknownPacketError()

    def _websocket_handler(self, ws):
        return super()._websocket_handler(_GuardedWebSocket(ws, self))

    def send(self, pkt):
        """Queue a packet for the client, as Engine.IO does, without its per-packet log call (an INFO line naming
        the packet and its data, which this server never logs: 2 % of its CPU per recipient went into the call)."""
        if self.check_ping_timeout():
            self.queue.put(pkt)

    def poll(self):
        """The packets to send next. Once the socket is a WebSocket, its writer waits for them without a timeout.

        Engine.IO's own poll() waits at most ping_interval + ping_timeout, which under eventlet starts and cancels
        a hub timer around every single frame the writer sends: a fifth of the server's CPU per recipient of a
        broadcast (docs/benchmarks.md, "A timer per frame"). The writer of a WebSocket needs no timeout: when the
        reader ends (the client closed, or its socket timed out after the same ping_interval + ping_timeout), and
        when the server closes the socket (a missed pong, a refusal), Engine.IO puts None in the queue, which ends
        the writer. A long-polling GET keeps the timeout (it must answer within it)."""
        if not self.upgraded:
            return super().poll()
        packets = [self.queue.get()]
        self.queue.task_done()
        if packets == [None]:
            return []
        while self.queue.qsize():  # then whatever else waits (one reader: the writer itself), without an exception
            pkt = self.queue.get(block=False)  # per frame for the usual empty queue
            self.queue.task_done()
            if pkt is None:
                self.queue.put(None)
                break
            packets.append(pkt)
        return packets


class _GuardedWebSocket:
    """The server's WebSocket as Engine.IO reads it: frames over budget end the socket, malformed text frames are
    skipped (charged to the budget, logged once), binary frames end the socket."""

    def __init__(self, ws, sock: GuardedSocket):
        self._ws, self._pq_sock = ws, sock
        self.send, self.close = ws.send, ws.close  # the writer's every frame: no __getattr__ detour

    def __getattr__(self, name):
        return getattr(self._ws, name)

    def wait(self):
        """The next well-formed text frame, or None (the socket is done)."""
        sock = self._pq_sock
        while True:
            frame = self._ws.wait()
            if frame is None or sock.closed:
                return None
            if not sock.admit(frame):
                return None
            if well_formed(frame):
                return frame
            GATE.note(sock, "malformed frame ignored")


def well_formed(frame: str) -> bool:
    """Whether a text frame can be an Engine.IO packet this server expects: a message carrying a Socket.IO packet
    (its type digit first), or a short control packet (ping, pong, upgrade, "probe"). Anything else would reach
    Engine.IO's decoder, which tries it as JSON (a deeply nested one raised out of the receive loop)."""
    if not frame or frame[0] not in ENGINEIO_TYPES:
        return False
    if frame[0] == "4":
        return len(frame) > 1 and frame[1] in "0123456"
    return len(frame) <= 8


class GuardedEngineIO(engineio.Server):
    """Engine.IO server whose sockets are GuardedSockets with an InboundBudget each."""

    pq_budget = (60, 128 * 1024, 10.0)  # messages, bytes, seconds: set from the app's settings by `guard`

    def _trigger_event(self, event, *args, **kwargs):
        if event == "connect" and args and args[0] in self.sockets:
            sock = self.sockets[args[0]]
            sock.__class__ = GuardedSocket
            sock._pq_budget = InboundBudget(*self.pq_budget)
        return super()._trigger_event(event, *args, **kwargs)


class TextPacket(sio_packet.Packet):
    """A Socket.IO packet that is always text. python-socketio walks every emitted payload, item by item, looking for
    bytes to send as binary attachments; this server sends only JSON (and refuses binary from clients), and the walk
    over a console view of a long line cost about a tenth of the server's CPU during a change (docs/benchmarks.md).
    Emitting bytes now fails loudly in the JSON encoder instead of going out as an attachment."""

    uses_binary_events = False


class GuardedServer(socketio.Server):
    """Socket.IO server that decodes each packet once, refuses binary packets and reserved event names, and answers
    malformed packets with one short log line instead of a traceback."""

    def _handle_eio_message(self, eio_sid, data):
        sock = self.eio.sockets.get(eio_sid)
        try:
            if not isinstance(data, str):
                raise _Refuse("binary data refused, socket closed")
            pkt = self.packet_class(encoded_packet=data)
            kind = pkt.packet_type
            if kind in (sio_packet.BINARY_EVENT, sio_packet.BINARY_ACK) or pkt.attachment_count:
                raise _Refuse("binary packet refused, socket closed")
            if kind == sio_packet.CONNECT:
                self._handle_connect(eio_sid, pkt.namespace, pkt.data)
            elif kind == sio_packet.DISCONNECT:
                self._handle_disconnect(eio_sid, pkt.namespace, self.reason.CLIENT_DISCONNECT)
            elif kind == sio_packet.EVENT:
                self._event(eio_sid, pkt)
            elif kind == sio_packet.ACK:
                pass  # this server never asks clients for acknowledgements
            else:
                raise ValueError("unexpected packet type")
        except _Refuse as e:
            if isinstance(sock, GuardedSocket):
                sock.refuse(str(e))
            elif sock is not None:
                self.eio.disconnect(eio_sid)
        except Exception:  # noqa: BLE001 - malformed input: one short line per socket, never a traceback
            GATE.note(sock if sock is not None else _NoSocket, "malformed packet ignored")

    def _event(self, eio_sid, pkt) -> None:
        """An event whose name is text and not reserved goes to the handlers; anything else is answered with an
        error (when the client asked for an answer) and reaches no handler."""
        data = pkt.data
        if not isinstance(data, list) or not data or not isinstance(data[0], str):
            raise ValueError("event without a name")
        if data[0] in RESERVED_EVENTS:
            if pkt.id is not None:
                self._send_packet(eio_sid, self.packet_class(sio_packet.ACK, namespace=pkt.namespace, id=pkt.id, data=[
                    {"ok": False, "error": {"code": "unknown_event",
                                            "message": f"'{data[0]}' is reserved: a client cannot send it."}}]))
            return
        self._handle_event(eio_sid, pkt.namespace, pkt.id, data)


class _Refuse(Exception):
    """The packet ends its socket."""


class _NoSocket:
    """Stands for a socket already gone when its packet is handled."""

    _pq_logged = False


MAX_QUEUED = 16  # frames a simple-websocket reader may hold that Engine.IO has not taken yet


def bounded_simple_websocket(base: type) -> type:
    """gevent and threading modes read WebSockets with simple-websocket, whose reader thread (a greenlet under gevent)
    reads as fast as the client sends, into an unbounded list, without yielding while data keeps coming, and without
    a message size limit (engineio's gevent driver passes none). This version of the driver's class gives it the
    size limit, yields after every read, and closes a socket whose unread frames pile up past MAX_QUEUED."""
    import simple_websocket

    class BoundedServer(simple_websocket.Server):
        def _handle_events(self):
            keep_going = super()._handle_events()
            if len(self.input_buffer) > MAX_QUEUED:
                self.event.set()
                return False  # the reader stops and closes the connection
            time.sleep(0)  # a green yield under gevent; lets other threads take the GIL in threading mode
            return keep_going

        def close(self, reason=None, message=None):
            """Send the close frame, then end the connection. simple-websocket's server would wait for the client's
            own close frame with its reader blocked in recv() for ever: a phone that vanished (a cut network, no
            FIN) kept its socket, and in threading mode a thread, after Engine.IO had closed it for missed pongs."""
            try:
                super().close(reason=reason, message=message)
            finally:
                try:
                    self.sock.shutdown(socket.SHUT_RD)  # the reader's recv() returns as at an EOF, and it closes
                except OSError:
                    pass

    class BoundedWebSocketWSGI(base):
        def __init__(self, handler, server, **kwargs):
            super().__init__(handler, server, **kwargs)
            self.server_args["max_message_size"] = int(server.max_http_buffer_size)

        def __call__(self, environ, start_response):
            """As SimpleWebSocketWSGI.__call__, with the bounded server."""
            self.ws = BoundedServer(environ, **self.server_args)
            ret = self.app(self)
            if self.ws.mode == "gunicorn":
                raise StopIteration()
            if self.ws.mode == "werkzeug":
                raise ConnectionError()
            return ret
    return BoundedWebSocketWSGI


def guard(server: socketio.Server, messages: int, size: int, window: float, queue: type | None = None) -> None:
    """Turn Flask-SocketIO's server objects into the guarded ones (Flask-SocketIO builds them itself and takes no
    server class, so their classes are swapped; the subclasses add no state of their own but the budget). `queue`:
    the class of each socket's packet queue, when the entry point gives one (wsgi.socket_queue)."""
    server.__class__ = GuardedServer
    server.packet_class = TextPacket
    server.eio.__class__ = GuardedEngineIO
    server.eio.on("message", server._handle_eio_message)  # registered as a bound method before the swap
    ws_class = server.eio._async.get("websocket")
    from engineio.async_drivers._websocket_wsgi import SimpleWebSocketWSGI
    if isinstance(ws_class, type) and issubclass(ws_class, SimpleWebSocketWSGI):
        server.eio._async = dict(server.eio._async, websocket=bounded_simple_websocket(ws_class))
    if queue is not None:
        server.eio._async = dict(server.eio._async, queue=queue)
    server.eio.pq_budget = (messages, size, window)
