"""Entry point. The only file that knows about eventlet (or gevent): it monkey-patches first, then builds the app.

Run `python wsgi.py` (what `make run` does). The async mode comes from PICKET_ASYNC_MODE
(eventlet by default; gevent or threading), because patching must happen before anything else is imported.
"""
import os

MODE = os.environ.get("PICKET_ASYNC_MODE", "eventlet")
if MODE == "eventlet":
    import eventlet

    eventlet.monkey_patch()
elif MODE == "gevent":
    from gevent import monkey

    monkey.patch_all()

import resource  # noqa: E402

from coordinator import create_app  # noqa: E402
from coordinator.cli import start_background  # noqa: E402
from coordinator.extensions import socketio  # noqa: E402

os.environ["PICKET_ASYNC_MODE"] = MODE
app = create_app()


def raise_fd_limit() -> None:
    """Each connection is a file descriptor; the usual soft limit of 1,024 is too low for thousands of phones."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main() -> None:
    """Bring the database up to date, start the ticker and serve."""
    raise_fd_limit()
    if app.config.get("AUTO_MIGRATE", True):
        from flask_migrate import upgrade
        with app.app_context():
            upgrade()
    start_background(app)
    kwargs = {}
    if MODE == "eventlet":
        kwargs = {"max_size": app.config["MAX_CONNECTIONS"], "socket_timeout": 120}
    elif MODE == "threading":
        kwargs = {"allow_unsafe_werkzeug": True}
    print(f"Picket Queue on http://{app.config['HOST']}:{app.config['PORT']} ({MODE})", flush=True)
    socketio.run(app, host=app.config["HOST"], port=int(app.config["PORT"]), log_output=False, debug=False,
                 use_reloader=False, **kwargs)


if __name__ == "__main__":
    main()
