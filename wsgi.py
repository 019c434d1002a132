"""Entry point. The only file that knows about eventlet (or gevent): it monkey-patches first, then builds the app.

Run `python wsgi.py` (what `make run` does). The async mode comes from PICKET_ASYNC_MODE
(eventlet by default; gevent or threading), because patching must happen before anything else is imported.
"""
import os

MODE = os.environ.get("PICKET_ASYNC_MODE", "eventlet")
if MODE == "eventlet":
    import eventlet

    eventlet.monkey_patch()
    # psycopg waits for the server in C unless it sees gevent's patching, which would stop every greenlet of this
    # process while one request waits on a row lock. Its select()-based wait goes through eventlet's green select.
    os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_select")
elif MODE == "gevent":
    from gevent import monkey

    monkey.patch_all()

import logging  # noqa: E402
import re  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402

# A client's address as servers print it: "('203.0.113.7', 51234)", a bare IPv4 address, or an IPv6 address.
ADDRESS = re.compile(r"\(\s*'[^']*'\s*,\s*\d+[^)]*\)|\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b"
                     r"|\b(?:[0-9a-fA-F]{1,4}:){3,7}[0-9a-fA-F]{1,4}\b|[0-9a-fA-F:]*::[0-9a-fA-F:]*")


def without_addresses(text: str) -> str:
    """Blank out client addresses: no log line may say who connected."""
    return ADDRESS.sub("[address removed]", text)


class AddressFreeStream:
    """A stream that drops client addresses from what is written to it. The process's stdout and stderr are wrapped
    before anything else is imported, so every log handler and every library that prints (eventlet's WebSocket writes
    "client=IP:port socket shutdown error" to wsgi.errors, gevent's error log names clients) goes through it."""

    def __init__(self, stream):
        """Wrap a stream."""
        self.stream = stream

    def write(self, text: str) -> int:
        """Write the text without addresses."""
        return self.stream.write(without_addresses(text))

    def writelines(self, lines) -> None:
        """Write each line without addresses."""
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        """Flush the underlying stream."""
        self.stream.flush()

    def __getattr__(self, name):
        """Everything else (fileno, isatty, encoding) as the underlying stream."""
        return getattr(self.stream, name)


BANNER_STREAM = sys.stdout  # the bind address in the start-up line is the operator's, not a client's
sys.stdout, sys.stderr = AddressFreeStream(sys.stdout), AddressFreeStream(sys.stderr)

from coordinator import create_app, readiness  # noqa: E402
from coordinator.cli import start_background  # noqa: E402
from coordinator.extensions import socketio  # noqa: E402



def blocking_work_offloader():
    """How Argon2 passphrase checks and the PBKDF2 check of a join's proof of work (1-20 ms of OpenSSL, which
    releases the GIL) run: in a real OS thread, so they do not stop the event loop and every other client meanwhile
    (None in threading mode: in the calling thread)."""
    if MODE == "eventlet":
        from eventlet import tpool
        return tpool.execute
    if MODE == "gevent":
        from gevent import get_hub
        return lambda fn, *args: get_hub().threadpool.apply(fn, args)
    return None


def socket_queue():
    """The queue class of each Engine.IO socket (None: the async mode's own).

    Under eventlet, putting a packet into a queue whose writer waits schedules a hub timer to wake that writer: a
    broadcast to 1,000 phones created, heap-sorted and fired 1,000 timers, about a seventh of the server's CPU per
    recipient (docs/benchmarks.md, "One wake-up per broadcast"). This queue class wakes the writers of every queue
    filled in the same turn of the event loop from one timer, in the order they were filled."""
    if MODE != "eventlet":
        return None
    from eventlet.hubs import get_hub
    from eventlet.queue import Queue

    filled = []  # queues with a waiting writer, filled since the last wake-up

    def wake_all():
        batch = filled[:]
        del filled[:]
        for q in batch:
            try:
                q._unlock()  # hands the packet to the writer; sets q._event_unlock back to None
            except Exception:  # noqa: BLE001 - one socket's failure must not leave the others asleep
                logging.getLogger(__name__).exception("waking a socket's writer failed")

    class SocketQueue(Queue):
        def _schedule_unlock(self):
            if self._event_unlock is None:
                self._event_unlock = True  # a wake-up is due (eventlet's own: the Timer)
                filled.append(self)
                if len(filled) == 1:
                    get_hub().schedule_call_global(0, wake_all)
    return SocketQueue


os.environ["PICKET_ASYNC_MODE"] = MODE
app = create_app(offload=blocking_work_offloader(), socket_queue=socket_queue())


def raise_fd_limit() -> None:
    """Each connection is a file descriptor; the usual soft limit of 1,024 is too low for thousands of phones."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class AddressFreeFilter(logging.Filter):
    """Werkzeug (threading mode) prefixes its error lines with the client address; drop it."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message without addresses."""
        record.msg, record.args = without_addresses(record.getMessage()), None
        return True


def eventlet_protocol():
    """eventlet's request handler, with small buffers and no client address in its bad-request lines."""
    from eventlet.wsgi import HttpProtocol

    class AddressFreeProtocol(HttpProtocol):
        # The buffers live as long as the connection, which for a WebSocket is the whole picket; after the upgrade
        # they are never used again. eventlet's defaults (8 KB read, 16 KB write) cost ~8 KB of memory per phone.
        rbufsize = 1024
        wbufsize = 1024

        def address_string(self) -> str:
            """Stands where the client's address would be printed."""
            return "-"

        def get_environ(self) -> dict:
            """The request's environment without the client's address: the app never needs it, and eventlet's
            WebSocket prints REMOTE_ADDR:REMOTE_PORT in its "socket shutdown error" lines."""
            env = super().get_environ()
            env["REMOTE_ADDR"], env["REMOTE_PORT"] = "", ""
            return env
    return AddressFreeProtocol


def gevent_handler():
    """gevent's request handler with a small read buffer (its default of 8 KB lives as long as each WebSocket)."""
    from gevent.pywsgi import WSGIHandler

    class SmallBufferHandler(WSGIHandler):
        def __init__(self, sock, address, server, rfile=None):
            """As WSGIHandler, reading through a 1 KB buffer."""
            super().__init__(sock, address, server, rfile if rfile is not None else sock.makefile("rb", 1024))
    return SmallBufferHandler


def main() -> None:
    """Bring the database up to date, start the ticker and serve."""
    raise_fd_limit()
    if app.config.get("AUTO_MIGRATE", True):
        from flask_migrate import upgrade
        with app.app_context():
            upgrade()
    readiness.start(app)  # with a message queue: serve clients only while it works
    start_background(app)
    kwargs = {}
    if MODE == "eventlet":
        kwargs = {"max_size": app.config["MAX_CONNECTIONS"], "socket_timeout": 120, "protocol": eventlet_protocol()}
    elif MODE == "gevent":
        # Flask-SocketIO already turns gevent's access log off (log=None); its error log names clients.
        kwargs = {"error_log": sys.stderr, "handler_class": gevent_handler()}  # stderr drops addresses
    elif MODE == "threading":
        logging.getLogger("werkzeug").addFilter(AddressFreeFilter())
        kwargs = {"allow_unsafe_werkzeug": True}
    print(f"Picket Queue on http://{app.config['HOST']}:{app.config['PORT']} ({MODE})", file=BANNER_STREAM, flush=True)
    socketio.run(app, host=app.config["HOST"], port=int(app.config["PORT"]), log_output=False, debug=False,
                 use_reloader=False, **kwargs)


if __name__ == "__main__":
    main()
