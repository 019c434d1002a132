"""The real server's SQLite files: private (0600), and free of a panicked event's bytes within seconds (issue 9)."""
from __future__ import annotations

import os
import secrets
import stat
import time

import pytest
import requests

from realclients import create_event, http_action, new_op

pytestmark = pytest.mark.server


def test_panic_scrubs_the_files_of_a_running_server(server_factory):
    """Through the app as deployed (Flask-SQLAlchemy's engine, the ticker running): after a panic the pseudonym and
    the broadcast are gone from picket.db, -wal and -shm; all three files are 0600."""
    srv = server_factory()
    ev = create_event(srv.url)
    secret = "Wq8Lserver" + secrets.token_hex(3)
    r = requests.post(f"{srv.url}/api/events/{ev['slug']}/actions/join", json={"op": new_op(),
                      "args": {"pseudonym": secret}}, headers={"X-Participant-Token": secrets.token_urlsafe(32)},
                      timeout=20)
    assert r.json()["ok"], r.text
    assert http_action(srv.url, ev["slug"], ev["token"], "broadcast", {"text": "Meet " + secret})["ok"]
    db = srv.instance / "picket.db"
    files = [db, db.with_name("picket.db-wal"), db.with_name("picket.db-shm")]
    for f in files:
        assert stat.S_IMODE(os.stat(f).st_mode) == 0o600, f
    assert any(secret.encode() in f.read_bytes() for f in files)
    assert http_action(srv.url, ev["slug"], ev["token"], "panic")["ok"]
    deadline = time.monotonic() + 30
    while any(secret.encode() in f.read_bytes() for f in files if f.exists()):
        assert time.monotonic() < deadline, "the panicked event's bytes are still in the files"
        time.sleep(0.1)
