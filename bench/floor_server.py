"""The floor for bench/scaleout.py and bench/run.py: a bare python-socketio server, no app, no database.

    python bench/floor_server.py PORT [eventlet|gevent|threading]

Clients connect (any auth) and join one room; `POST /go?room=R&size=N&v=V` emits one `state` frame of about N bytes
to room R. The benchmark drives it with the same clients and frame size as the app, so its CPU per delivered message
is what python-socketio itself costs. The async mode (eventlet by default) is served the way wsgi.py serves the app,
with the app's heartbeat (PING_INTERVAL 20 s, PING_TIMEOUT 60 s) and, as the app by default, no WebSocket compression.
"""
import sys

MODE = sys.argv[2] if len(sys.argv) > 2 else "eventlet"
if MODE == "eventlet":
    import eventlet

    eventlet.monkey_patch()
elif MODE == "gevent":
    from gevent import monkey

    monkey.patch_all()

import os  # noqa: E402
from urllib.parse import parse_qs  # noqa: E402

import socketio  # noqa: E402

sio = socketio.Server(async_mode=MODE, logger=False, engineio_logger=False, cors_allowed_origins=None,
                      ping_interval=20, ping_timeout=60)


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
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    wsgi_app = socketio.WSGIApp(sio, http)

    def app(environ, start_response):
        """No permessage-deflate, as the app by default (coordinator/transport.py NoWebSocketCompression): the
        Node.js clients offer it, eventlet accepts it, and a zlib stream per socket is not what is being measured."""
        environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
        return wsgi_app(environ, start_response)
    port = int(sys.argv[1])
    if MODE == "eventlet":
        from eventlet import wsgi
        wsgi.server(eventlet.listen(("127.0.0.1", port)), app, log_output=False,
                    max_size=int(os.environ.get("MAX", "12000")))
    elif MODE == "gevent":
        from gevent import pywsgi
        pywsgi.WSGIServer(("127.0.0.1", port), app, log=None).serve_forever()
    else:
        import logging
        from werkzeug.serving import run_simple
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log (it would name the client address)
        run_simple("127.0.0.1", port, app, threaded=True)
