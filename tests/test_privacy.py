"""Privacy: no IP address, token or user agent in any log or in the database; tokens stored only as hashes;
privacy-relevant response headers on every page and API route."""
from __future__ import annotations

import hashlib
import logging
import re
import sqlite3
from pathlib import Path

import pytest
import requests

from conftest import new_op, new_token
from coordinator.extensions import socketio

USER_AGENT = "Mozilla/5.0 (PrivacyProbe; Android 14) UniqueAgentString/9.9"
FAKE_IP = "203.0.113.77"  # what the in-process client pretends to connect from
IP_RE = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")
# Columns whose names suggest they could hold who someone is or where they connect from.
SUSPECT_COLUMN = re.compile(r"(^|_)(ip|ips|addr|address|remote|agent|ua|user_agent|host|email|mail|phone|tel|"
                            r"name_real|real_name|device|fingerprint|geo|city|country)($|_)", re.I)


def run_picket(app, client, headers: dict) -> dict:
    """A small picket through HTTP and sockets: create, join, call, hold, detain, invite, revoke; returns secrets."""
    r = client.post("/api/events", json={"title": "Privacy", "spots": [{"label": "A"}]}, headers=headers)
    slug, owner = r.json["event"]["event"]["slug"], r.json["coordinator_token"]
    crd = {**headers, "X-Coordinator-Token": owner}
    tokens = [new_token() for _ in range(3)]
    socks = [socketio.test_client(app, auth={"event": slug, "participant": t}, flask_test_client=client,
                                  headers=headers) for t in tokens]
    crd_sock = socketio.test_client(app, auth={"event": slug, "coordinator": owner}, flask_test_client=client,
                                    headers=headers)
    assert all(s.is_connected() for s in socks) and crd_sock.is_connected()
    for s, name in zip(socks, ("Anna", "Boris", "Vera")):
        assert s.emit("action", {"action": "join", "op": new_op(), "args": {"pseudonym": name}},
                      callback=True)["ok"]
    assert socks[0].emit("action", {"action": "set_push", "op": new_op(), "args": {"subscription": {
        "endpoint": "https://push.example/sub", "keys": {"p256dh": "k" * 20, "auth": "a" * 12}}}},
        callback=True)["ok"]
    assert crd_sock.emit("action", {"action": "start", "op": new_op()}, callback=True)["ok"]
    assert socks[0].emit("action", {"action": "confirm_arrival", "op": new_op()}, callback=True)["ok"]
    line = client.get(f"/api/events/{slug}/snapshot", headers=crd).json["data"]
    anna = next(e for e in line["active"] if e["pseudonym"] == "Anna")["id"]
    assert client.post(f"/api/events/{slug}/actions/detain", json={"op": new_op(), "args": {"entry": anna}},
                       headers=crd).json["ok"]
    invite = client.post(f"/api/events/{slug}/actions/invite", json={"op": new_op(), "args": {"label": "Help"}},
                         headers=crd).json
    assert invite["ok"]
    helper = invite["result"]["token"]
    assert client.get(f"/api/events/{slug}/snapshot",
                      headers={**headers, "X-Coordinator-Token": helper}).json["ok"]
    assert socks[1].emit("action", {"action": "leave", "op": new_op()}, callback=True)["ok"]
    # A few failures: bad token, unknown event, bad input (error paths log too).
    client.get(f"/api/events/{slug}/snapshot", headers={**headers, "X-Coordinator-Token": "Q" * 43})
    client.post(f"/api/events/{slug}/actions/join", json={"op": new_op(), "args": {"pseudonym": 5}},
                headers={**headers, "X-Participant-Token": tokens[2]})
    socketio.test_client(app, auth={"event": slug, "coordinator": "R" * 43}, flask_test_client=client,
                         headers=headers)
    for s in [*socks, crd_sock]:
        s.disconnect()
    return {"slug": slug, "tokens": tokens + [owner, helper], "hashes": [hashlib.sha256(t.encode()).hexdigest()
                                                                         for t in tokens + [owner, helper]]}


def assert_clean(text: str, secrets: list[str], where: str, allow_ips: tuple = ()) -> None:
    """No token, user agent or IP address in the text."""
    for secret in secrets:
        assert secret not in text, f"a token appears in {where}"
    assert "UniqueAgentString" not in text and "PrivacyProbe" not in text, f"the user agent appears in {where}"
    ips = set(IP_RE.findall(text)) - set(allow_ips)
    assert not ips, f"IP-like strings in {where}: {ips}"


# ---------------------------------------------------------------- logs

def test_in_process_logs_hold_no_ip_token_or_agent(app, client, caplog, capsys):
    """Everything logged at DEBUG (all loggers) and printed during a picket is free of IPs, tokens, user agents."""
    caplog.set_level(logging.DEBUG)
    for name in ("werkzeug", "engineio", "socketio", "engineio.server", "socketio.server"):
        caplog.set_level(logging.DEBUG, logger=name)  # even if someone turns them up, nothing identifying
    client.environ_base.update({"REMOTE_ADDR": FAKE_IP, "HTTP_USER_AGENT": USER_AGENT})
    out = run_picket(app, client, {"User-Agent": USER_AGENT})
    printed = capsys.readouterr()
    text = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert_clean(text, out["tokens"], "log records")
    assert_clean(printed.out + printed.err, out["tokens"], "stdout/stderr")
    assert FAKE_IP not in text + printed.out + printed.err


@pytest.mark.server
def test_real_server_output_holds_no_ip_token_or_agent(live_server):
    """The eventlet server's whole stdout/stderr after a picket over HTTP and WebSocket: no IP, token or agent."""
    import socketio as sio_client

    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    url = live_server.url
    r = session.post(url + "/api/events", json={"title": "Live privacy", "spots": [{"label": "A"}]}, timeout=30)
    slug, owner = r.json()["event"]["event"]["slug"], r.json()["coordinator_token"]
    tokens = [owner]
    clients = []
    for name in ("Anna", "Boris"):
        token = new_token()
        tokens.append(token)
        c = sio_client.Client(reconnection=False)
        c.connect(url, auth={"event": slug, "participant": token}, headers={"User-Agent": USER_AGENT},
                  transports=["websocket"], wait_timeout=30)
        assert c.call("action", {"action": "join", "op": new_op(), "args": {"pseudonym": name}}, timeout=30)["ok"]
        clients.append(c)
    crd = {"X-Coordinator-Token": owner}
    assert session.post(f"{url}/api/events/{slug}/actions/start", json={"op": new_op()}, headers=crd,
                        timeout=30).json()["ok"]
    assert session.post(f"{url}/api/events/{slug}/actions/broadcast", json={"op": new_op(), "args": {"text": "hi"}},
                        headers=crd, timeout=30).json()["ok"]
    session.get(f"{url}/api/events/{slug}/snapshot", headers={"X-Coordinator-Token": "Q" * 43}, timeout=30)
    session.get(f"{url}/e/{slug}", timeout=30)
    session.get(f"{url}/no-such-page", timeout=30)
    # Long-polling too (the fallback transport goes through different code).
    poll = sio_client.Client(reconnection=False)
    poll.connect(url, auth={"event": slug}, headers={"User-Agent": USER_AGENT}, transports=["polling"],
                 wait_timeout=30)
    poll.disconnect()
    for c in clients:
        c.disconnect()
    live_server.stop()  # flush and close the log
    output = live_server.output()
    assert output.strip(), "the server printed nothing at all: is the output captured?"
    banner = f"Picket Queue on {url} "
    lines = [ln for ln in output.splitlines() if not ln.startswith(banner)]  # the bind address, not a client's
    assert_clean("\n".join(lines), tokens, "the real server's output")


# ---------------------------------------------------------------- the database

def db_path(app) -> Path:
    """The SQLite file of the test app."""
    return Path(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"))


def test_no_column_could_hold_ip_or_agent(app):
    """No table has a column meant for IPs, user agents, e-mails, phone numbers or device details."""
    from coordinator.domain.models import Base
    columns = [(t.name, c.name) for t in Base.metadata.sorted_tables for c in t.columns]
    assert columns
    assert [tc for tc in columns if SUSPECT_COLUMN.search(tc[1])] == []
    with sqlite3.connect(db_path(app)) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for col in conn.execute(f'PRAGMA table_info("{table}")'):
                assert not SUSPECT_COLUMN.search(col[1]), (table, col[1])


def test_suspect_pattern_catches_bad_names():
    """The column check would notice the usual names."""
    for name in ("ip", "remote_addr", "user_agent", "client_ip", "email", "phone"):
        assert SUSPECT_COLUMN.search(name), name
    for name in ("token_hash", "pseudonym", "joined_at", "push", "location"):
        assert not SUSPECT_COLUMN.search(name), name


def test_database_holds_only_token_hashes(app, client):
    """After a picket, no raw token, IP or user agent is anywhere in the database; tokens appear as SHA-256 only."""
    client.environ_base.update({"REMOTE_ADDR": FAKE_IP, "HTTP_USER_AGENT": USER_AGENT})
    out = run_picket(app, client, {"User-Agent": USER_AGENT})
    with sqlite3.connect(db_path(app)) as conn:
        conn.execute("PRAGMA wal_checkpoint(FULL)")
        dump = "\n".join(conn.iterdump())
        stored = {r[0] for r in conn.execute("SELECT token_hash FROM participants UNION "
                                             "SELECT token_hash FROM coordinators")}
    assert_clean(dump, out["tokens"], "the database")
    assert FAKE_IP not in dump
    # Every stored token is the SHA-256 of a token the clients hold (the one who left still has a row).
    assert stored <= set(out["hashes"]) and len(stored) >= 4
    assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in stored)
    raw = b"".join(p.read_bytes() for p in db_path(app).parent.glob(db_path(app).name + "*"))
    for token in out["tokens"]:
        assert token.encode() not in raw, "a raw token is in the database files (maybe in freed pages)"


# ---------------------------------------------------------------- headers

@pytest.mark.parametrize("path", ["/", "/e/SLUG", "/e/SLUG/board", "/c/SLUG", "/api/events/SLUG",
                                  "/api/events/SLUG/snapshot", "/api/openapi.json", "/healthz", "/nothing"])
def test_privacy_headers(client, event, path):
    """Strict CSP without 'unsafe-inline', no referrer, and no caching of console and API answers."""
    r = client.get(path.replace("SLUG", event["slug"]))
    csp = r.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp and "*" not in csp
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert r.headers["Referrer-Policy"] == "no-referrer"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    if path.startswith(("/api/", "/c/")):
        assert "no-store" in r.headers["Cache-Control"]


def test_no_store_on_api_post_and_errors(client, event):
    """Answers carrying tokens or private state are never cached, errors included."""
    r = client.post("/api/events", json={"title": "x"})
    assert "no-store" in r.headers["Cache-Control"]
    r = client.post(f"/api/events/{event['slug']}/actions/invite", json={"op": new_op(), "args": {"label": "H"}},
                    headers={"X-Coordinator-Token": event["token"]})
    assert r.json["ok"] and "no-store" in r.headers["Cache-Control"]
    r = client.get("/api/events/nonexistent")
    assert "no-store" in r.headers["Cache-Control"]


def test_pages_load_nothing_from_third_parties(client, event):
    """Pages reference only their own origin: no http(s):// URLs in src/href attributes."""
    for path in ("/", f"/e/{event['slug']}", f"/e/{event['slug']}/board", f"/c/{event['slug']}"):
        html = client.get(path).get_data(as_text=True)
        external = re.findall(r'(?:src|href)\s*=\s*"(?:https?:)?//[^"]*"', html)
        assert external == [], (path, external)
        assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", html), path
        assert " style=\"" not in html and not re.search(r"\son[a-z]+=\"", html), path
