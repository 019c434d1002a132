"""Web Push: VAPID keys, who gets a push and when, encryption a browser can decrypt, and dropping dead subscriptions.

A tiny HTTP server on 127.0.0.1 plays the push service (PUSH_ALLOW_INSECURE=True in the `app` fixture lets the
server post to http://127.0.0.1). The test holds the subscription's private key and auth secret, like a browser.
"""
from __future__ import annotations

import base64
import json
import os
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from coordinator import push
from coordinator.domain.line import reached
from coordinator.services import services
from conftest import new_token


def b64u(data: bytes) -> str:
    """base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text: str) -> bytes:
    """Decode base64url with or without padding."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class PushService:
    """Records every POST; answers with a configurable status."""

    def __init__(self):
        self.received: list[dict] = []
        self.status = 201
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                outer.received.append({"path": self.path, "headers": headers, "body": body})
                self.send_response(outer.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def wait(self, n: int, timeout: float = 15) -> list[dict]:
        """Wait until n pushes arrived."""
        deadline = time.monotonic() + timeout
        while len(self.received) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.received) >= n, f"expected {n} push(es), got {len(self.received)}"
        return self.received


class Phone:
    """A subscription as a browser makes it: an ECDH P-256 key pair and a 16-byte auth secret."""

    def __init__(self, service: PushService):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)
        self.path = "/push/" + uuid.uuid4().hex
        raw = self.key.public_key().public_bytes(serialization.Encoding.X962,
                                                 serialization.PublicFormat.UncompressedPoint)
        self.subscription = {"endpoint": service.url + self.path,
                             "keys": {"p256dh": b64u(raw), "auth": b64u(self.auth)}}
        self.token = new_token()

    def decrypt(self, body: bytes) -> dict:
        """What the service worker would get."""
        return json.loads(http_ece.decrypt(body, private_key=self.key, auth_secret=self.auth, version="aes128gcm"))


@pytest.fixture
def service():
    """A push service on 127.0.0.1."""
    s = PushService()
    yield s
    s.httpd.shutdown()


def act(client, slug: str, action: str, args: dict | None = None, *, participant=None, coordinator=None):
    """Run an action over HTTP."""
    headers = {"X-Participant-Token": participant} if participant else {"X-Coordinator-Token": coordinator}
    r = client.post(f"/api/events/{slug}/actions/{action}", json={"op": uuid.uuid4().hex, "args": args or {}},
                    headers=headers)
    assert r.status_code == 200 and r.json["ok"], r.json
    return r.json


@pytest.fixture
def live_event(client, event):
    """The `event` fixture, live, with automatic calls off (the test calls)."""
    act(client, event["slug"], "settings", {"auto_call": False}, coordinator=event["token"])
    act(client, event["slug"], "start", coordinator=event["token"])
    return event


def joined(client, event, service, name: str, subscribe: bool = True) -> Phone:
    """A participant in line, with a push subscription."""
    phone = Phone(service)
    act(client, event["slug"], "join", {"pseudonym": name}, participant=phone.token)
    if subscribe:
        act(client, event["slug"], "set_push", {"subscription": phone.subscription}, participant=phone.token)
    return phone


def verify_vapid(headers: dict, server_key_b64: str, audience: str) -> dict:
    """Check the Authorization header: `vapid t=<JWT>, k=<public key>`, signed ES256 by the server's key."""
    auth = headers["authorization"]
    assert auth.startswith("vapid ")
    parts = dict(p.strip().split("=", 1) for p in auth[len("vapid "):].split(","))
    assert parts["k"] == server_key_b64
    header_b64, claims_b64, sig_b64 = parts["t"].split(".")
    assert json.loads(unb64u(header_b64))["alg"] == "ES256"
    sig = unb64u(sig_b64)
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64u(server_key_b64))
    public.verify(der, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
    with pytest.raises(InvalidSignature):  # the check can fail: a changed claim breaks the signature
        public.verify(der, f"{header_b64}.{claims_b64}x".encode(), ec.ECDSA(hashes.SHA256()))
    claims = json.loads(unb64u(claims_b64))
    assert claims["aud"] == audience
    assert claims["exp"] > time.time()
    return claims


def test_public_key_endpoint_matches_the_instance_key(app, client):
    """The page subscribes with the key the server signs with."""
    r = client.get("/api/push/key")
    assert r.status_code == 200 and r.json["ok"]
    key = unb64u(r.json["key"])
    assert len(key) == 65 and key[0] == 4  # an uncompressed P-256 point
    assert r.json["key"] == services(app).push.public_key


def test_called_person_gets_an_encrypted_generic_push(app, client, live_event, service):
    """call_next sends one push to the called phone; it decrypts, and the VAPID JWT verifies."""
    first = joined(client, live_event, service, "Alpha")
    joined(client, live_event, service, "Bravo", subscribe=False)
    act(client, live_event["slug"], "call_next", coordinator=live_event["token"])
    got = service.wait(1)
    time.sleep(0.3)  # nothing else should arrive (Bravo has no subscription)
    assert len(got) == 1
    push_req = got[0]
    assert push_req["path"] == first.path
    assert push_req["headers"]["content-encoding"] == "aes128gcm"
    assert int(push_req["headers"]["ttl"]) > 0
    assert b"Your turn" not in push_req["body"]  # encrypted
    payload = first.decrypt(push_req["body"])
    assert payload["kind"] == "called"
    assert payload["url"] == f"/e/{live_event['slug']}"
    assert payload["texts"]["en"]["body"] == "Your turn is coming"
    assert payload["texts"]["ru"]["body"] == "Ваша очередь подходит"
    assert "Alpha" not in json.dumps(payload, ensure_ascii=False)  # generic: no name, no place, no spot
    claims = verify_vapid(push_req["headers"], services(app).push.public_key, service.url)
    assert claims["sub"] == app.config["VAPID_SUBJECT"]


def test_reaching_ready_at_sends_a_ready_push(client, live_event, service):
    """With ready_at 2: when the first is called, the third moves to 2nd place and gets a 'ready' push."""
    first = joined(client, live_event, service, "Alpha")
    second = joined(client, live_event, service, "Bravo")
    third = joined(client, live_event, service, "Charlie")
    assert service.received == []  # joining sends nothing
    act(client, live_event["slug"], "call_next", coordinator=live_event["token"])
    got = service.wait(2)
    time.sleep(0.3)
    kinds = {r["path"]: p["kind"] for r in got for p in [
        {first.path: first, second.path: second, third.path: third}[r["path"]].decrypt(r["body"])]}
    # Bravo was 2nd already (no new alert); Charlie just reached 2nd.
    assert kinds == {first.path: "called", third.path: "ready"}


def test_gone_subscription_is_dropped(client, live_event, service):
    """A 410 from the push service removes the subscription (coordinators then see push off)."""
    service.status = 410
    joined(client, live_event, service, "Alpha")
    snap = client.get(f"/api/events/{live_event['slug']}/snapshot",
                      headers={"X-Coordinator-Token": live_event["token"]}).json["data"]
    assert snap["line"][0]["push"] is True
    act(client, live_event["slug"], "call_next", coordinator=live_event["token"])
    service.wait(1)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        snap = client.get(f"/api/events/{live_event['slug']}/snapshot",
                          headers={"X-Coordinator-Token": live_event["token"]}).json["data"]
        if snap["active"][0]["push"] is False:
            break
        time.sleep(0.05)
    assert snap["active"][0]["push"] is False


def test_only_known_push_services_unless_insecure_tests(app):
    """No request to arbitrary hosts on a participant's say-so."""
    assert push.allowed(app, "http://127.0.0.1:9/x")  # the fixture sets PUSH_ALLOW_INSECURE
    assert push.allowed(app, "https://fcm.googleapis.com/fcm/send/abc")
    assert push.allowed(app, "https://web.push.apple.com/abc")
    assert push.allowed(app, "https://updates.push.services.mozilla.com/wpush/v2/abc")
    assert not push.allowed(app, "https://evil.example/abc")
    assert not push.allowed(app, "https://fcm.googleapis.com.evil.example/abc")
    assert not push.allowed(app, "http://fcm.googleapis.com/abc")
    app.config["PUSH_ALLOW_INSECURE"] = False
    assert not push.allowed(app, "http://127.0.0.1:9/x")


def test_reached_positions():
    """Which new places crossed the ready_at line in a change."""
    assert reached([[2, 5, -1]], 2) == {2}
    assert reached([[3, 5, -2]], 2) == {1, 2}
    assert reached([[1, 1, 1]], 2) == set()     # moved down
    assert reached([], 2) == set()
    assert reached([[4, 9, -1]], 3) == {3}


def test_keys_generated_once_into_the_instance_folder_or_taken_from_config(tmp_path, monkeypatch):
    """First start writes instance/vapid_private.pem (0600); later starts reuse it; a configured key wins."""
    from coordinator import create_app
    monkeypatch.setenv("PICKET_INSTANCE_PATH", str(tmp_path / "inst"))
    cfg = {"TESTING": True, "SECRET_KEY": "t", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/a.db",
           "ASYNC_MODE": "threading", "RUN_TICKER": False}
    a1 = create_app(dict(cfg))
    path = tmp_path / "inst" / "vapid_private.pem"
    assert path.exists() and (path.stat().st_mode & 0o777) == 0o600
    a2 = create_app(dict(cfg))
    assert services(a1).push.public_key == services(a2).push.public_key
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    a3 = create_app(dict(cfg, VAPID_PRIVATE_KEY=pem))
    raw = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    assert services(a3).push.public_key == b64u(raw)
    keyfile = tmp_path / "k.pem"
    keyfile.write_text(pem)
    a4 = create_app(dict(cfg, VAPID_PRIVATE_KEY=str(keyfile)))
    assert services(a4).push.public_key == b64u(raw)
    for a in (a1, a2, a3, a4):
        with a.app_context():
            from coordinator.extensions import db
            db.engine.dispose()
