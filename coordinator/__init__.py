"""Picket Queue: the app factory."""
from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from typing import Callable

from flask import Flask

from .config import Defaults, message_channel, pg_engine_options  # noqa: F401 - message_channel: also for tests
from .domain import Queue, Store, SystemClock
from .domain.store import configure_engine
from .extensions import babel, db, migrate, socketio
from .services import KEY, Services

ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict | None = None, offload: Callable | None = None,
               socket_queue: type | None = None) -> Flask:
    """Build the app: defaults, then instance/config.py, then PICKET_* environment variables, then test_config.

    `offload(fn, *args)` runs slow OpenSSL and Argon2 work (a join's proof of work, passphrases) where it does not
    stop the event loop; the entry point passes eventlet's or gevent's thread pool (default: in the calling thread).
    `socket_queue`: the queue class of each Engine.IO socket, when the entry point has a cheaper one for its async
    mode (default: the mode's own).
    """
    app = Flask(__name__, instance_relative_config=True, template_folder=str(ROOT / "templates"),
                static_folder=str(ROOT / "static"), instance_path=os.environ.get("PICKET_INSTANCE_PATH") or None)
    app.config.from_object(Defaults)
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env("PICKET")
    else:
        app.config.update(test_config)
    os.makedirs(app.instance_path, exist_ok=True)
    _secret_key(app)
    _quiet_logs(app)
    _engine_options(app)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    from .i18n import init_app as init_i18n
    init_i18n(app)
    socketio.init_app(
        app, async_mode=app.config["ASYNC_MODE"], message_queue=app.config["MESSAGE_QUEUE"],
        channel=message_channel(app.config),
        # None means "same origin only"; an empty list would switch python-engineio's Origin check off entirely.
        cors_allowed_origins=app.config["CORS_ALLOWED_ORIGINS"] or None,
        max_http_buffer_size=app.config["MAX_HTTP_BUFFER_SIZE"], ping_interval=app.config["PING_INTERVAL"],
        ping_timeout=app.config["PING_TIMEOUT"], logger=False, engineio_logger=False,
        json=None, always_connect=False, manage_session=True)
    from .transport import SocketHeaders, guard
    app.wsgi_app = SocketHeaders(app.wsgi_app)  # CSP and friends on Engine.IO's polling answers too
    # Binary refused, lifecycle names refused, a budget per socket; the entry point's queue class, if any.
    guard(socketio.server, app.config["SOCKET_INBOUND_MESSAGES"], app.config["SOCKET_INBOUND_BYTES"],
          app.config["SOCKET_INBOUND_WINDOW_SECONDS"], socket_queue)
    if app.config["PROXY_FIX_X_FOR"]:  # the address limits need the phone's address, not the proxy's
        from werkzeug.middleware.proxy_fix import ProxyFix
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=int(app.config["PROXY_FIX_X_FOR"]))
    if not app.config["WEBSOCKET_COMPRESSION"]:
        from .transport import NoWebSocketCompression
        app.wsgi_app = NoWebSocketCompression(app.wsgi_app)
    _services(app, offload)

    from . import api, pages, readiness, security, share, sockets
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(share.bp)
    from . import joingate  # the on-site join code for a big screen (issue 8)
    app.register_blueprint(joingate.bp)
    security.init_app(app)
    sockets.init_app(app)
    readiness.init_app(app)
    from . import cli
    cli.init_app(app)
    return app


def _services(app: Flask, offload: Callable | None) -> Services:
    """Build the app's services (coordinator/services.py) and the effects dispatcher over them."""
    from . import push
    from .addrlimit import AddressLimiter
    from .broadcast import Outbox
    from .effects import Effects
    from .passphrase import Passphrases, direct
    from .ratelimit import ActionLimiter
    from .security import WindowLimiter
    c, offload = app.config, offload or direct
    passphrases = Passphrases(offload)
    with app.app_context():
        engine = configure_engine(db.engine)
        clock = c.get("CLOCK") or SystemClock(c.get("CLOCK_OFFSET_MS", 0))
        engine_queue = Queue(Store(engine), clock, max_event_ms=int(c["MAX_EVENT_HOURS"] * 3600_000),
                             pow=_proof_of_work(app, offload), pace=_pace(app), passphrases=passphrases)
    svc = app.extensions[KEY] = Services(
        queue=engine_queue,
        # This server process's name in the `connections` table (random, new at every start: nothing about the host).
        process=secrets.token_hex(8),
        passphrases=passphrases,
        outbox=Outbox(),  # one per app, so apps in one process (as in tests) never share versions
        push=push.keys(app),  # Web Push: the VAPID keys
        action_limiter=ActionLimiter(c["ACTION_BURST"], c["ACTION_WINDOW_SECONDS"]),
        address_limiter=AddressLimiter(c["ADDR_BURST"], c["ADDR_PER_MINUTE"], c["ADDR_MAX_DEBT"],
                                       c["ADDR_PRICE_STEP"]),
        create_limiter=WindowLimiter(c["CREATE_LIMIT_PER_MINUTE"]))
    svc.effects = Effects(app, svc)
    return svc


def _proof_of_work(app: Flask, offload: Callable):
    """The join proof of work, keyed by a secret derived from the app's secret key."""
    import hashlib
    import hmac
    from .domain.pow import ProofOfWork
    secret = hmac.new(str(app.config["SECRET_KEY"]).encode(), b"picket-pow", hashlib.sha256).digest()
    c = app.config
    return ProofOfWork(secret, c["POW_COST"], c["POW_PREFIX"], int(c["POW_TTL_SECONDS"] * 1000), c["POW_REQUIRED"],
                       offload=offload)


def _pace(app: Flask):
    from .domain.pow import Pace
    c = app.config
    return Pace(c["POW_CALM_PER_MINUTE"], c["POW_STEP"], c["POW_MAX_DOUBLINGS"])


def _engine_options(app: Flask) -> None:
    """On PostgreSQL, size the pool for the processes and set the timeouts, under what the configuration sets."""
    if not str(app.config["SQLALCHEMY_DATABASE_URI"]).startswith("postgresql"):
        return
    configured = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    options = pg_engine_options(app.config)
    options["connect_args"] = {**options["connect_args"], **configured.pop("connect_args", {})}
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {**options, **configured}


def _secret_key(app: Flask) -> None:
    """Use the configured secret key, or one generated once and kept in the instance folder."""
    if app.config.get("SECRET_KEY"):
        return
    path = Path(app.instance_path) / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    app.config["SECRET_KEY"] = path.read_text().strip()


def _quiet_logs(app: Flask) -> None:
    """No request lines (they start with the client's IP) and no payload dumps in any log."""
    for name in ("werkzeug", "engineio", "socketio", "engineio.server", "socketio.server", "eventlet.wsgi",
                 "geventwebsocket.handler"):
        logging.getLogger(name).setLevel(logging.ERROR)
