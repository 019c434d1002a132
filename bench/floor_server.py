"""The floor for bench/scaleout.py: a bare python-socketio server on eventlet, no app, no database.

Clients connect (any auth) and join one room; `POST /go?room=R&size=N&v=V` emits one `state` frame of about N bytes
to room R. The benchmark drives it with the same clients and frame size as the app, so its CPU per delivered message
is what python-socketio itself costs.
"""
import eventlet

eventlet.monkey_patch()

import os  # noqa: E402
import sys  # noqa: E402
from urllib.parse import parse_qs  # noqa: E402

import socketio  # noqa: E402

sio = socketio.Server(async_mode="eventlet", logger=False, engineio_logger=False, cors_allowed_origins=None)


@sio.event
def connect(sid, environ, auth=None):
    """Every client joins the room named in its query (the event slug, as the pages send it)."""
    room = parse_qs(environ.get("QUERY_STRING", "")).get("event", ["all"])[0]
    sio.enter_room(sid, room)
    sio.emit("snapshot", {"v": 0}, to=sid)


def http(environ, start_response):
    """POST /go: one broadcast; GET /healthz: alive."""
    if environ["PATH_INFO"] == "/go":
        q = parse_qs(environ.get("QUERY_STRING", ""))
        v = int(q["v"][0])
        sio.emit("state", {"v": v, "prev_v": v - 1, "pad": "x" * int(q["size"][0])}, to=q["room"][0])
    start_response("200 OK", [("Content-Type", "application/json")])
    return [b'{"ok": true}']


if __name__ == "__main__":
    from eventlet import wsgi
    app = socketio.WSGIApp(sio, http)
    wsgi.server(eventlet.listen(("127.0.0.1", int(sys.argv[1]))), app, log_output=False,
                max_size=int(os.environ.get("MAX", "12000")))
