"""Privacy of the join defences (issue 8): proof of work, address limits, gates and bulk removal store and log
nothing about a person or their network: no address in the database, in any log, or in the limiter's memory."""
from __future__ import annotations

import ipaddress
import logging
from pathlib import Path

import altcha
import pytest

from conftest import new_op, new_token, app_with
from coordinator.services import services

FAKE_IP = "198.51.100.23"
USER_AGENT = "Mozilla/5.0 (FloodProbe) UniqueAgentString/1.2"


@pytest.fixture
def app(tmp_path):
    with app_with(tmp_path, POW_REQUIRED=True, POW_COST=1, POW_PREFIX="0", ADDR_LIMITS=True,
                  ADDR_BURST=2, ADDR_PER_MINUTE=1, ADDR_MAX_DEBT=1) as app:
        yield app


def test_join_defences_keep_no_address(app, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    client = app.test_client()
    client.environ_base.update({"REMOTE_ADDR": FAKE_IP, "HTTP_USER_AGENT": USER_AGENT})
    r = client.post("/api/events", json={"title": "Privacy", "gate": "approval"})
    slug, tok = r.json["event"]["event"]["slug"], r.json["coordinator_token"]
    crd = {"X-Coordinator-Token": tok}
    codes = []
    for i in range(5):  # up to and past the address limit
        r = client.post(f"/api/events/{slug}/challenge")
        if r.status_code != 200:
            codes.append(r.json["error"]["code"])
            continue
        ch = r.json["challenge"]
        pow_ = {"challenge": ch, "solution": altcha.solve_challenge(altcha.Challenge.from_dict(ch)).to_dict()}
        r = client.post(f"/api/events/{slug}/actions/join", json={"op": new_op(), "args": {"pseudonym": f"P{i}",
                                                                                           "pow": pow_}},
                        headers={"X-Participant-Token": new_token()})
        assert r.json["ok"], r.json
    assert codes == ["rate_limited", "rate_limited"]  # the limiter did count this address
    assert client.post(f"/api/events/{slug}/actions/admit_all", json={"op": new_op()}, headers=crd).json["ok"]
    assert client.post(f"/api/events/{slug}/actions/remove_bulk", json={"op": new_op(), "args": {
        "select": "never_live"}}, headers=crd).json["ok"]

    # the database file (and its WAL) holds no address, as text or as 4 bytes
    packed = ipaddress.ip_address(FAKE_IP).packed
    db_file = Path(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"))
    for f in db_file.parent.glob(db_file.name + "*"):
        data = f.read_bytes()
        assert FAKE_IP.encode() not in data and packed not in data, f
        assert b"UniqueAgentString" not in data, f
    # no log line or output names it
    printed = capsys.readouterr()
    text = "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records) + printed.out + printed.err
    assert FAKE_IP not in text and "UniqueAgentString" not in text
    # the limiter's memory holds keyed hashes, not addresses
    limiter = services(app).address_limiter
    assert len(limiter) >= 1
    for key in limiter.buckets:
        assert isinstance(key, bytes) and len(key) == 16
        assert FAKE_IP.encode() not in key and packed not in key
