"""Migrations: `upgrade head` on an empty SQLite or PostgreSQL database gives exactly the models' schema,
including the partial unique indexes that guard against double joins and double-booked spots."""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from coordinator import create_app
from coordinator.domain.models import Base

PARTIAL = {"uq_entry_live_participant": "participant_id", "uq_entry_spot_on": "spot_id",
           "uq_entry_spot_called": "spot_id"}


# Event 1 as raw SQL, valid at every revision since board_qr (these tests insert below the models, on purpose).
EVENT_ROW = text("INSERT INTO events (id, slug, title, location, state, version, slot_ms, grace_ms, lead_ms, "
                 "max_queue, ready_at, miss_back, show_pseudonyms, auto_call, pause_on_detain, purge_after_ms, "
                 "next_ticket, calls, noshows, held, detained, created_at, board_qr) VALUES (1, 'abcdefgh', 't', '', "
                 "'open', 1, 1, 1, 1, 1, 1, 1, false, false, false, 1, 1, 0, 0, 0, 0, 0, true)")


def migrated_app(url: str):
    """An app on an empty database brought to `head` by the migrations (not by create_all)."""
    from flask_migrate import upgrade
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "ASYNC_MODE": "threading", "RUN_TICKER": False,
                      "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade()
    return app


def schema(engine) -> dict:
    """Tables -> (columns with nullability, indexes with uniqueness and columns, unique constraints)."""
    insp = inspect(engine)
    out = {}
    for table in insp.get_table_names():
        if table == "alembic_version":
            continue
        cols = {c["name"]: bool(c["nullable"]) for c in insp.get_columns(table)}
        idx = {i["name"]: (bool(i["unique"]), tuple(i["column_names"])) for i in insp.get_indexes(table)}
        uqs = {u["name"]: tuple(u["column_names"]) for u in insp.get_unique_constraints(table)}
        out[table] = (cols, idx, uqs)
    return out


def partial_predicates(engine) -> dict:
    """Index name -> its SQL definition, for the partial unique indexes."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'index'"))
        else:
            rows = conn.execute(text("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"))
        return {name: sql for name, sql in rows if name in PARTIAL}


def check_head_matches_models(url: str, reference_url: str) -> None:
    """Migrated schema == create_all schema, no pending autogenerate diff, partial indexes with their WHERE."""
    app = migrated_app(url)
    migrated = create_engine(url)
    reference = create_engine(reference_url)
    try:
        Base.metadata.create_all(reference)
        assert schema(migrated) == schema(reference)
        with migrated.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True, "render_as_batch": True})
            diff = compare_metadata(ctx, Base.metadata)
        assert diff == [], f"models and migrations differ: {diff}"
        preds = partial_predicates(migrated)
        assert set(preds) == set(PARTIAL)
        for name, sql in preds.items():
            assert "UNIQUE" in sql.upper() and "WHERE" in sql.upper(), (name, sql)
            assert PARTIAL[name] in sql
        assert "'called'" in preds["uq_entry_spot_called"] and "'on_spot'" in preds["uq_entry_spot_on"]
        assert "'waiting'" in preds["uq_entry_live_participant"]
        # Same predicates as create_all would make (normalised: whitespace and casts differ by dialect).
        ref = partial_predicates(reference)
        norm = lambda s: "".join(s.lower().replace("::text", "").replace("::character varying", "").split())
        assert {k: norm(v) for k, v in preds.items()} == {k: norm(v) for k, v in ref.items()}
        # `flask db check`: no new upgrade operations.
        result = app.test_cli_runner().invoke(args=["db", "check"])
        assert result.exit_code == 0, result.output
    finally:
        migrated.dispose()
        reference.dispose()
        from coordinator.extensions import db
        with app.app_context():
            db.engine.dispose()


def test_sqlite_head_matches_models(tmp_path):
    """On a fresh SQLite file."""
    check_head_matches_models(f"sqlite:///{tmp_path}/migrated.db", f"sqlite:///{tmp_path}/reference.db")


@pytest.mark.postgres
def test_postgresql_head_matches_models(pg_url, pg_server):
    """On a fresh PostgreSQL database (the reference schema goes to a second fresh database)."""
    import uuid

    import psycopg
    name = f"picket_ref_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        check_head_matches_models(pg_url, pg_url.rsplit("/", 1)[0] + f"/{name}")
    finally:
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_partial_index_really_refuses_a_double_join(tmp_path):
    """The migrated partial index is not decoration: a second live entry for one participant is refused."""
    from sqlalchemy.exc import IntegrityError
    url = f"sqlite:///{tmp_path}/m.db"
    migrated_app(url)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(EVENT_ROW)
            conn.execute(text("INSERT INTO participants (id, event_id, token_hash, created_at) "
                              "VALUES (1, 1, 'h', 0)"))
            conn.execute(text("INSERT INTO entries (event_id, participant_id, ticket, pseudonym, state, rank, misses, "
                              "joined_at) VALUES (1, 1, 1, 'a', 'done', 0, 0, 0)"))
            conn.execute(text("INSERT INTO entries (event_id, participant_id, ticket, pseudonym, state, rank, misses, "
                              "joined_at) VALUES (1, 1, 2, 'a', 'waiting', 0, 0, 0)"))
        with pytest.raises(IntegrityError):
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO entries (event_id, participant_id, ticket, pseudonym, state, rank, "
                                  "misses, joined_at) VALUES (1, 1, 3, 'a', 'away', 0, 0, 0)"))
    finally:
        engine.dispose()


def upgrade_with_rows(url: str) -> dict:
    """Bring a database to the revision before presence-by-connection, fill it, upgrade to head; rows per table."""
    from flask_migrate import upgrade
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "ASYNC_MODE": "threading", "RUN_TICKER": False,
                      "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade(revision="91f516c34422")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(EVENT_ROW)
            conn.execute(text("INSERT INTO participants (id, event_id, token_hash, created_at, online) "
                              "VALUES (1, 1, 'h', 0, 2)"))
            conn.execute(text("INSERT INTO coordinators (id, event_id, label, token_hash, owner, created_at, online) "
                              "VALUES (1, 1, 'Owner', 'c', true, 0, 1)"))
            conn.execute(text("INSERT INTO entries (event_id, participant_id, ticket, pseudonym, state, rank, misses, "
                              "joined_at) VALUES (1, 1, 1, 'Anna', 'waiting', 0, 0, 0)"))
            conn.execute(text("INSERT INTO connections (sid, event_id, coordinator_id, created_at) "
                              "VALUES ('s', 1, 1, 0)"))
        with app.app_context():
            upgrade()
        with engine.connect() as conn:
            counts = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar()
                      for t in ("events", "participants", "coordinators", "entries", "connections")}
            if engine.dialect.name == "sqlite":  # the app's own connections get foreign keys back on
                from coordinator.extensions import db
                with app.app_context(), db.engine.connect() as own:
                    counts["foreign_keys"] = own.exec_driver_sql("PRAGMA foreign_keys").scalar()
        return counts
    finally:
        engine.dispose()
        from coordinator.extensions import db
        with app.app_context():
            db.engine.dispose()


def test_sqlite_upgrade_keeps_every_row(tmp_path):
    """Rebuilding `participants` to drop a column must not cascade-delete the entries that reference it (SQLite's
    DROP TABLE deletes referencing rows while foreign keys are on); open connections are not kept on purpose."""
    counts = upgrade_with_rows(f"sqlite:///{tmp_path}/old.db")
    assert counts == {"events": 1, "participants": 1, "coordinators": 1, "entries": 1, "connections": 0,
                      "foreign_keys": 1}


@pytest.mark.postgres
def test_postgresql_upgrade_keeps_every_row(pg_url):
    """The same upgrade on PostgreSQL."""
    assert upgrade_with_rows(pg_url) == {"events": 1, "participants": 1, "coordinators": 1, "entries": 1,
                                         "connections": 0}
