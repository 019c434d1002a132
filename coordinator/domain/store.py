"""Database engines and transactions: SQLite in WAL mode with BEGIN IMMEDIATE writes, or PostgreSQL.

Every write transaction first locks its event (`lock_event`): on PostgreSQL with SELECT ... FOR UPDATE, on SQLite by
having started with BEGIN IMMEDIATE, which takes the database's single write lock. So all changes to one event are
serialised across threads, greenlets and processes, and each check-then-act runs atomically.
"""
from __future__ import annotations

import logging
import os
import sqlite3
import threading
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import bindparam, create_engine, event as sa_event, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from .models import Event

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",   # durable across process crashes in WAL mode (an OS crash may lose the last commit)
    "PRAGMA foreign_keys=ON",
    "PRAGMA secure_delete=ON",     # purged rows are overwritten, not just unlinked
    # After a checkpoint that empties the WAL, SQLite cuts it back to at most this size instead of keeping its
    # largest size forever (-1, the default). Deletions additionally truncate it to zero bytes (Store.scrub).
    "PRAGMA journal_size_limit=1048576",
)
SQLITE_FILE_MODE = 0o600  # the database; SQLite gives its -wal and -shm files the database file's mode
log = logging.getLogger(__name__)
# How long a SQLite writer waits for the database's single write lock before "database is locked" (then the caller
# answers `busy`). pysqlite's `timeout` connect argument sets it, so SQLALCHEMY_ENGINE_OPTIONS
# {"connect_args": {"timeout": 5}} or `?timeout=5` in the URL overrides this default.
SQLITE_BUSY_TIMEOUT_S = 30
# PostgreSQL states that mean "too busy right now": lock_not_available (lock_timeout), too_many_connections,
# query_canceled (statement_timeout; the transaction is rolled back, so nothing was written), and the server shutting
# down or starting up (admin_shutdown, crash_shutdown, cannot_connect_now); class 08 (connection exceptions) too.
PG_BUSY_STATES = {"55P03", "53300", "57014", "57P01", "57P02", "57P03"}
# An event by id, for a transaction that changes it (built once: every action runs one).
EVENT_BY_ID = select(Event).where(Event.id == bindparam("event_id"))
EVENT_FOR_UPDATE = EVENT_BY_ID.with_for_update()
SQLITE_BUSY = 5  # SQLITE_BUSY: the primary result code of "database is locked" (extended codes keep it in the low byte)


def configure_engine(engine: Engine) -> Engine:
    """Install SQLite pragmas and explicit BEGIN handling; a no-op for other databases."""
    if engine.dialect.name != "sqlite" or getattr(engine, "_pq_configured", False):
        return engine

    @sa_event.listens_for(engine, "do_connect")
    def _on_do_connect(_dialect, _record, _cargs, cparams):
        cparams.setdefault("timeout", SQLITE_BUSY_TIMEOUT_S)  # the busy timeout, unless the configuration set one
        private_files(sqlite_path(engine))

    @sa_event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # let us emit BEGIN ourselves (pysqlite would defer it)
        cur = dbapi_conn.cursor()
        for pragma in SQLITE_PRAGMAS:
            cur.execute(pragma)
        cur.close()

    @sa_event.listens_for(engine, "begin")
    def _on_begin(conn):
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    engine._pq_configured = True
    return engine


def sqlite_path(engine: Engine) -> str | None:
    """The database file of a SQLite engine (None: another database, or one in memory)."""
    name = engine.url.database if engine.dialect.name == "sqlite" else None
    if not name or name == ":memory:" or name.startswith("file:"):
        return None
    return name


def private_files(path: str | None) -> None:
    """Create the database file readable by this user only (0600) before SQLite does (it would use 0644 less the
    umask), and tighten the database, -wal and -shm files made by an older version. SQLite creates the -wal and
    -shm files with the database file's mode, so they are 0600 as well."""
    if path is None:
        return
    try:
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, SQLITE_FILE_MODE))
    except OSError:
        return  # a read-only or missing folder: SQLite reports it on connect
    for name in (path, path + "-wal", path + "-shm"):
        try:
            if os.stat(name).st_mode & 0o077:
                os.chmod(name, SQLITE_FILE_MODE)
        except OSError:
            pass


def make_engine(url: str, **kwargs) -> Engine:
    """An engine for the domain core outside Flask (tests, tools)."""
    return configure_engine(create_engine(url, **kwargs))


def is_busy(error: BaseException) -> bool:
    """Whether a database error means "too busy to answer in time", so the same request may succeed when retried.

    That is: no pooled connection came free within `pool_timeout` (many requests at once, each holding one while it
    waits for the write lock), SQLite's write lock stayed taken past the busy timeout ("database is locked"), or
    PostgreSQL refused a lock or a connection for load. Nothing was written in any of these cases.
    """
    if isinstance(error, sa_exc.TimeoutError):
        return True
    if not isinstance(error, sa_exc.OperationalError):
        return False
    orig = error.orig
    code = getattr(orig, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF == SQLITE_BUSY
    state = getattr(orig, "sqlstate", None)
    if error.connection_invalidated or (state is None and type(orig).__module__.startswith("psycopg")):
        return True  # PostgreSQL is restarting or unreachable: the transaction never committed
    return state in PG_BUSY_STATES or str(state).startswith("08") or "database is locked" in str(orig)


class Store:
    """Hands out read and write transactions on one engine."""

    def __init__(self, engine: Engine):
        self.engine = configure_engine(engine)
        writer = engine.execution_options(sqlite_begin="IMMEDIATE") if engine.dialect.name == "sqlite" else engine
        self._read = sessionmaker(engine, expire_on_commit=False)
        self._write = sessionmaker(writer, expire_on_commit=False)
        self.is_postgres = engine.dialect.name == "postgresql"
        self.path = sqlite_path(engine)
        self.scrub_due = False  # a deletion whose old bytes may still be in the WAL
        self._scrub_lock = threading.Lock()

    def scrub(self) -> bool:
        """After a deletion: leave no copy of the deleted rows in the files. secure_delete has zeroed them in the
        database's pages; older copies of those pages stay in the WAL until a checkpoint has copied the WAL into the
        database and cut the WAL to zero bytes (TRUNCATE). A reader in the middle of a transaction keeps the WAL in
        use: then False, and `scrub_due` stays set for the next try (the ticker tries every round). SQLite only;
        for PostgreSQL see docs/operations.md."""
        if self.path is None:
            return True
        self.scrub_due = True
        with self._scrub_lock:
            conn = None
            try:
                # Its own short-lived connection with a short busy timeout: never the pool's, never a long wait.
                conn = sqlite3.connect(self.path, timeout=0.05, isolation_level=None)
                busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            except sqlite3.Error as e:
                log.warning("WAL checkpoint after a deletion postponed: %s", e.__class__.__name__)
                return False
            finally:
                if conn is not None:
                    conn.close()
            if busy:
                return False
            self.scrub_due = False
            return True

    def scrub_if_due(self) -> bool:
        """Retry a scrub that a busy database postponed; True when nothing is left to do."""
        return self.scrub() if self.scrub_due else True

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction that may change data; commits on success, rolls back on any exception."""
        with self._write() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only transaction (a consistent snapshot on both databases in WAL / MVCC)."""
        with self._read() as session, session.begin():
            yield session

    def lock_event(self, session: Session, event_id: int) -> Event | None:
        """Load an event and hold its lock until the transaction ends (SQLite: the write transaction is the lock)."""
        return session.scalars(EVENT_FOR_UPDATE if self.is_postgres else EVENT_BY_ID, {"event_id": event_id}).first()
