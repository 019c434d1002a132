"""Deleted data leaves the SQLite files themselves: the database, its WAL and its shared-memory index, read as raw
bytes with no checkpoint run by the test (issue 9, hole 2). And those files are readable by their owner only."""
from __future__ import annotations

import os
import sqlite3
import stat

import pytest

from .harness import Picket
from .test_purge import busy_event


def raw(db_path: str) -> bytes:
    """The bytes of the database, -wal and -shm files as they are on disk right now."""
    data = b""
    for name in (db_path, db_path + "-wal", db_path + "-shm"):
        if os.path.exists(name):
            data += open(name, "rb").read()
    return data


@pytest.fixture
def db_path(sqlite_url) -> str:
    """The database file of the `queue` fixture."""
    return sqlite_url.removeprefix("sqlite:///")


def test_panic_leaves_no_bytes_in_db_wal_or_shm(queue, db_path):
    """Before the fix every pseudonym was still in picket.db-wal after a panic (many copies each)."""
    secret = "Pq7Zwal9panic"
    p = Picket(queue)
    busy_event(p, secret)
    assert raw(db_path).count(secret.encode()) >= 4  # the test can see the bytes when they are there
    p.c("panic")
    data = raw(db_path)
    assert secret.encode() not in data and b"Helper" not in data
    assert os.path.getsize(db_path + "-wal") == 0  # truncated, not just rewound


def test_retention_purge_leaves_no_bytes(queue, db_path):
    """The ticker's (and `flask purge`'s) retention purge scrubs the WAL the same way."""
    secret = "Pq7Zwal9purge"
    p = Picket(queue, purge_after_ms=0)
    busy_event(p, secret)
    queue.clock.advance(1)
    assert queue.purge_due() == [p.slug]
    assert secret.encode() not in raw(db_path)


def test_delete_me_leaves_no_bytes(queue, db_path):
    """A participant's delete_me takes its pseudonym and push endpoint out of every file; the event goes on."""
    p = Picket(queue)
    p.start()
    who, _ = p.join("Pq7Zwal9me")
    p.act(who, "set_push", {"subscription": {"endpoint": "https://push.example/Pq7Zwal9push",
                                             "keys": {"p256dh": "k" * 20, "auth": "a" * 10}}})
    p.join("Stays")
    assert b"Pq7Zwal9me" in raw(db_path)
    p.act(who, "delete_me")
    data = raw(db_path)
    assert b"Pq7Zwal9me" not in data and b"Pq7Zwal9push" not in data
    assert b"Stays" in data


def test_a_reader_postpones_the_scrub_until_the_next_try(queue, db_path):
    """A reader in the middle of a transaction keeps the WAL in use; the next try (the ticker's) finishes the job."""
    secret = "Pq7Zwal9reader"
    p = Picket(queue)
    busy_event(p, secret)
    reader = sqlite3.connect(db_path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM events").fetchone()
    p.c("panic")
    assert queue.store.scrub_due
    reader.execute("COMMIT")
    reader.close()
    assert queue.store.scrub_if_due() and not queue.store.scrub_due
    assert secret.encode() not in raw(db_path)


def test_database_files_are_private(queue, db_path):
    """The database, -wal and -shm files are created with mode 0600 (0644 before), whatever the umask."""
    Picket(queue).join("Anyone")
    for name in (db_path, db_path + "-wal", db_path + "-shm"):
        assert stat.S_IMODE(os.stat(name).st_mode) == 0o600, name


def test_existing_loose_files_are_tightened(tmp_path):
    """A database made by an older version with mode 0644 is made private on the next connection."""
    from coordinator.domain import make_engine
    path = tmp_path / "old.db"
    sqlite3.connect(path).close()
    os.chmod(path, 0o644)
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect():
        pass
    engine.dispose()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_journal_size_limit_is_set(queue):
    """The WAL does not keep its largest size forever."""
    with queue.store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_size_limit").scalar() == 1048576
