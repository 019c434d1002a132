"""Shared fixtures: the app, the engine without Flask, real PostgreSQL and Redis, Chromium, a real server process.

Suites that need PostgreSQL, Redis or Chromium skip with a loud reason when the machine lacks them, unless
PICKET_REQUIRE_SERVICES=1 (set by .ci/run), which turns every such skip into a failure.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REQUIRE = os.environ.get("PICKET_REQUIRE_SERVICES") == "1"
PG_ADMIN_URL = os.environ.get("PICKET_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("PICKET_TEST_REDIS", "redis://127.0.0.1:6379/0")
ARTIFACTS = ROOT / "test-artifacts"


def unavailable(what: str) -> None:
    """Skip, or fail when CI requires every service."""
    if REQUIRE:
        pytest.fail(f"{what} is required (PICKET_REQUIRE_SERVICES=1) but not available")
    pytest.skip(f"{what} not available on this machine")


def new_token() -> str:
    """A participant token as a browser makes it."""
    return secrets.token_urlsafe(32)


def new_op() -> str:
    """A client operation id."""
    return uuid.uuid4().hex


class HandClock:
    """A monotonic clock the test moves by hand (`clock.t += seconds`)."""

    def __init__(self):
        """Start at zero."""
        self.t = 0.0

    def __call__(self) -> float:
        """The current time in seconds."""
        return self.t


# ---------------------------------------------------------------- domain (no Flask)

@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """A fresh SQLite database file."""
    return f"sqlite:///{tmp_path}/picket.db"


def _make_queue(url: str):
    from coordinator.domain import FakeClock, Queue, Store, make_engine
    from coordinator.domain.models import Base
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    return Queue(Store(engine), FakeClock()), engine


@pytest.fixture
def queue(sqlite_url):
    """The engine on SQLite with a fake clock (`queue.clock.advance(ms)`)."""
    q, engine = _make_queue(sqlite_url)
    yield q
    engine.dispose()


@pytest.fixture(scope="session")
def pg_server():
    """The admin URL of a reachable PostgreSQL server."""
    try:
        import psycopg
        with psycopg.connect(PG_ADMIN_URL.replace("postgresql://", "postgresql://", 1), connect_timeout=3):
            pass
    except Exception as e:  # noqa: BLE001
        unavailable(f"PostgreSQL at {PG_ADMIN_URL} ({e.__class__.__name__})")
    return PG_ADMIN_URL


@pytest.fixture
def pg_url(pg_server):
    """A fresh, empty PostgreSQL database, dropped afterwards (SQLAlchemy URL with the psycopg 3 driver)."""
    import psycopg
    name = f"picket_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = pg_server.rsplit("/", 1)[0]
    yield f"{base.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db_url(request, tmp_path):
    """Run a test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/picket.db"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def any_queue(any_db_url):
    """The engine on SQLite and on PostgreSQL."""
    q, engine = _make_queue(any_db_url)
    yield q
    engine.dispose()


@pytest.fixture(scope="session")
def redis_url():
    """A reachable Redis server, or skip/fail."""
    try:
        import redis
        redis.Redis.from_url(REDIS_URL, socket_timeout=3).ping()
    except Exception as e:  # noqa: BLE001
        unavailable(f"Redis at {REDIS_URL} ({e.__class__.__name__})")
    return REDIS_URL


# ---------------------------------------------------------------- Flask app (threading mode, in-process)

@contextlib.contextmanager
def app_with(tmp_path, **overrides):
    """The app on a fresh SQLite file, in threading mode, with a fake clock and no ticker; `overrides` change settings
    (the proof-of-work and address-limit tests switch those on)."""
    from coordinator import create_app
    from coordinator.domain import FakeClock
    from coordinator.extensions import db
    app = create_app({
        "TESTING": True, "SECRET_KEY": "test", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/app.db",
        "ASYNC_MODE": "threading", "CLOCK": FakeClock(), "RUN_TICKER": False, "PUSH_ALLOW_INSECURE": True,
        "BROADCAST_WINDOW_MS": 0,  # every change sent at once, so tests can count messages
        # Joins without proof of work and no address limits (every test client is 127.0.0.1): the tests of those
        # (tests/test_pow.py, tests/test_privacy_joining.py) switch them on.
        "POW_REQUIRED": False, "ADDR_LIMITS": False, **overrides,
    })
    with app.app_context():
        db.create_all()
    try:
        yield app
    finally:
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def app(tmp_path):
    """The test app with default test settings."""
    with app_with(tmp_path) as app:
        yield app


@pytest.fixture
def client(app):
    """An HTTP test client."""
    return app.test_client()


@pytest.fixture
def event(client):
    """A created event: {'slug', 'token' (owner coordinator token), 'spots': [ids]}."""
    r = client.post("/api/events", json={"title": "Test picket", "location": "Square",
                                         "spots": [{"label": "A"}, {"label": "B"}]})
    assert r.status_code == 201, r.json
    return {"slug": r.json["event"]["event"]["slug"], "token": r.json["coordinator_token"],
            "spots": [s["id"] for s in r.json["event"]["spots"]]}


# ---------------------------------------------------------------- real server process

def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """`python wsgi.py` as a child process on its own port and instance folder."""

    def __init__(self, instance: Path, mode: str = "eventlet", db_url: str | None = None,
                 message_queue: str | None = None, extra_env: dict | None = None):
        self.instance, self.mode = instance, mode
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "PICKET_ASYNC_MODE": mode, "PICKET_PORT": str(self.port),
                    "PICKET_INSTANCE_PATH": str(instance), "PICKET_TICK_SECONDS": "0.2",
                    # Pages still solve a (cheap) proof of work; the server does not insist on it or on address
                    # limits unless a test says so (every client here is 127.0.0.1).
                    "PICKET_POW_REQUIRED": "false", "PICKET_POW_COST": "20", "PICKET_ADDR_LIMITS": "false",
                    "PYTHONUNBUFFERED": "1"}
        if db_url:
            self.env["PICKET_SQLALCHEMY_DATABASE_URI"] = db_url
        if message_queue:
            self.env["PICKET_MESSAGE_QUEUE"] = message_queue
        self.env.update(extra_env or {})
        self.proc: subprocess.Popen | None = None
        self.log = instance / f"server-{self.port}.log"

    def start(self, timeout: float = 30) -> "ServerProcess":
        """Start and wait until /healthz answers."""
        import requests
        self.instance.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "wsgi.py")], cwd=ROOT, env=self.env,
                                     stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-3000:]}")
            try:
                if requests.get(self.url + "/healthz", timeout=1).ok:
                    return self
            except requests.RequestException:
                time.sleep(0.2)
        self.kill9()  # not left running: no fixture stops a server whose start failed, and it would add to the load
        raise RuntimeError(f"server did not start: {self.log.read_text()[-3000:]}")

    def kill9(self) -> None:
        """Crash it (SIGKILL: no clean-up, no flush)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        """Stop it politely, then firmly."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill9()

    def output(self) -> str:
        """Everything the server printed."""
        return self.log.read_text() if self.log.exists() else ""


@pytest.fixture
def server_factory(tmp_path):
    """Start real servers: `server_factory(mode='eventlet', db_url=None, message_queue=None)`; all stopped after."""
    started = []

    def make(**kwargs) -> ServerProcess:
        srv = ServerProcess(tmp_path / "instance", **kwargs).start()
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.stop()


@pytest.fixture
def live_server(server_factory):
    """One real eventlet server on SQLite."""
    return server_factory()


# ---------------------------------------------------------------- browser

@pytest.fixture(scope="session")
def chromium_path():
    """Debian's Chromium (Playwright's own browser download does not work here)."""
    path = shutil.which("chromium")
    if not path:
        unavailable("chromium (apt-get install -y chromium)")
    return path


@pytest.fixture(scope="session")
def browser(chromium_path):
    """A headless Chromium driven by Playwright."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required"])
        yield b
        b.close()


@pytest.fixture
def phone(browser):
    """A new browser context with a phone viewport (360x740), Russian by default."""
    contexts = []

    def make(locale: str = "ru-RU", width: int = 360, height: int = 740):
        ctx = browser.new_context(viewport={"width": width, "height": height}, locale=locale,
                                  device_scale_factor=2, is_mobile=True, has_touch=True)
        contexts.append(ctx)
        return ctx

    yield make
    for ctx in contexts:
        ctx.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where tests keep screenshots."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
