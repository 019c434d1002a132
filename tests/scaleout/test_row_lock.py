"""A request that waits on a PostgreSQL row lock must not freeze its process (the driver's waits are green), and it
answers `busy` after PG_LOCK_TIMEOUT_MS instead of waiting for ever."""
from __future__ import annotations
import _paths  # noqa: F401 - first: puts tests/server on the path

import threading
import time

import psycopg
import pytest
import requests
from realclients import create_event, new_op

pytestmark = [pytest.mark.server, pytest.mark.postgres]


@pytest.mark.parametrize("mode", ["eventlet", "gevent"])
def test_a_request_waiting_on_a_row_lock_leaves_the_process_answering(server_factory, pg_url, mode):
    """The event's row is held locked from another connection; an action on it waits. Meanwhile /healthz answers
    while that action is still waiting; the action then answers `busy`; once the lock goes, it succeeds."""
    srv = server_factory(mode=mode, db_url=pg_url, extra_env={"PICKET_PG_LOCK_TIMEOUT_MS": "4000"})
    ev = create_event(srv.url)
    answers: list = []

    def act() -> None:
        """A coordinator action on the locked event (it locks the event's row first)."""
        r = requests.post(f"{srv.url}/api/events/{ev['slug']}/actions/broadcast", timeout=120,
                          json={"op": new_op(), "args": {"text": "hello"}}, headers={"X-Coordinator-Token": ev["token"]})
        answers.append((r.status_code, r.json()))

    plain = pg_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(plain) as holder, psycopg.connect(plain, autocommit=True) as watcher:
        holder.execute("SELECT id FROM events WHERE slug = %s FOR UPDATE", (ev["slug"],))
        waiting = threading.Thread(target=act)
        waiting.start()
        deadline = time.monotonic() + 60
        while not watcher.execute("SELECT count(*) FROM pg_locks WHERE NOT granted").fetchone()[0]:
            assert time.monotonic() < deadline, "the action never waited on the lock"
            time.sleep(0.05)
        health = requests.get(srv.url + "/healthz", timeout=120)
        still_waiting = waiting.is_alive()
        waiting.join(120)
        holder.rollback()
    assert health.status_code == 200 and still_waiting, "/healthz was answered only after the waiting action"
    status, body = answers[0]
    assert status == 503 and body["error"]["code"] == "busy", answers
    r = requests.post(f"{srv.url}/api/events/{ev['slug']}/actions/broadcast", timeout=120,
                      json={"op": new_op(), "args": {"text": "hello"}}, headers={"X-Coordinator-Token": ev["token"]})
    assert r.json()["ok"], r.text
    assert "Traceback" not in srv.output()


def test_pools_are_sized_for_the_processes():
    """3 processes x their pool stay under max_connections less the reserve; 1 process keeps the old 10 + 40."""
    from coordinator.config import Defaults, pg_engine_options
    base = {k: getattr(Defaults, k) for k in dir(Defaults) if k.isupper()}
    for n in (1, 2, 3, 4, 8):
        o = pg_engine_options({**base, "PROCESSES": n})
        assert n * (o["pool_size"] + o["max_overflow"]) <= 100 - 10
    assert pg_engine_options(base)["pool_size"] + pg_engine_options(base)["max_overflow"] == 50
    assert "lock_timeout=5000" in pg_engine_options(base)["connect_args"]["options"]
