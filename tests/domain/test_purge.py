"""Retention: an ended event's rows are deleted after purge_after_ms, and on SQLite their bytes are gone too."""
import sqlite3

from sqlalchemy import func, select

from coordinator.domain.models import PURGE_ORDER

from .harness import Picket


def rows_of(p: Picket) -> dict:
    """How many rows each table holds for the event."""
    with p.q.store.read() as s:
        out = {}
        for model in PURGE_ORDER:
            column = model.id if model.__tablename__ == "events" else model.event_id
            out[model.__tablename__] = s.scalar(select(func.count()).select_from(model).where(
                column == p.event_id))
        return out


def busy_event(p: Picket, secret: str) -> None:
    """Fill an event with every kind of row, the secret in the places people type into."""
    p.start()
    a, entry = p.join(secret)
    p.join("Other")
    p.act(a, "confirm_arrival")
    p.act(a, "set_push", {"subscription": {"endpoint": "https://push.example/" + secret,
                                           "keys": {"p256dh": "k" * 20, "auth": "a" * 10}}})
    p.c("add_walk_in", pseudonym=secret + "-walk")
    p.c("broadcast", text="Meet at " + secret)
    p.c("detain", entry=entry, note="Station " + secret)
    p.c("invite", label="Helper")
    p.q.connected(a, "sid-" + secret, "proc")  # an open socket of the phone
    p.c("end")


def test_purge_after_retention(make_picket):
    """purge_due deletes nothing early, then every row of the ended event, and leaves other events alone."""
    p = make_picket(purge_after_ms=3_600_000)
    other = make_picket()
    other.join("Stays")
    busy_event(p, "Purgename")
    counts = rows_of(p)
    assert all(counts[t] > 0 for t in ("events", "entries", "participants", "log", "announcements", "operations",
                                       "coordinators", "spots", "connections"))
    p.q.clock.advance(3_600_000 - 1)
    assert p.q.purge_due() == [] and rows_of(p) == counts
    p.q.clock.advance(1)
    assert p.q.purge_due() == [p.slug]
    assert set(rows_of(p).values()) == {0}
    assert other.event() is not None and len(other.entries()) == 1
    assert p.q.purge_due() == []


def test_live_event_is_never_purged(make_picket):
    """Only ended events have a purge time."""
    p = make_picket(purge_after_ms=0)
    p.start()
    p.join("A")
    p.q.clock.advance(10**9)
    assert p.q.purge_due() == [] and p.event() is not None


def file_bytes(db_path: str) -> bytes:
    """The database file and its WAL as bytes, after folding the WAL into the file."""
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        assert busy == 0, "the checkpoint could not run"
    finally:
        conn.close()
    data = open(db_path, "rb").read()
    try:
        data += open(db_path + "-wal", "rb").read()
    except FileNotFoundError:
        pass
    return data


def test_purged_bytes_are_gone_from_sqlite_file(queue, sqlite_url):
    """With secure_delete, a purged pseudonym, note, announcement and push endpoint leave no bytes behind."""
    db_path = sqlite_url.removeprefix("sqlite:///")
    secret = "Xq9Kzv7Wunique"
    p = Picket(queue, purge_after_ms=0)
    busy_event(p, secret)
    before = file_bytes(db_path)
    assert before.count(secret.encode()) >= 4  # name, walk-in, note, announcement, push endpoint
    queue.clock.advance(1)
    assert queue.purge_due() == [p.slug]
    after = file_bytes(db_path)
    assert secret.encode() not in after
    assert b"Helper" not in after
