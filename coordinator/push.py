"""Web Push (VAPID): the server's key pair, the public key for pages, and generic alerts sent in the background.

A push goes out when a participant is called and when they move up to the event's `ready_at` place (the engine
names them in `Outcome.alerts`; coordinator/effects.py calls `notify`). Payloads are
encrypted (aes128gcm) and generic ("Your turn is coming"): they pass through Google's, Apple's or Mozilla's servers.
Subscriptions that the push service reports as gone (404/410) are dropped.
"""
from __future__ import annotations

import base64
import json
import logging
import os
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from flask_babel import force_locale, gettext
from py_vapid import Vapid
from sqlalchemy import select, update

from .domain.models import Participant
from .extensions import socketio
from .services import services

log = logging.getLogger(__name__)

# Push services of the browsers in use; a subscription pointing anywhere else is not sent to (no requests to
# arbitrary hosts on a participant's say-so). PUSH_HOSTS in the config replaces this list.
PUSH_HOSTS = ("fcm.googleapis.com", "android.googleapis.com", "push.services.mozilla.com", "push.apple.com",
              "notify.windows.com")
TTL = {"called": 600, "ready": 900}  # seconds a push service keeps an undelivered alert


class PushKeys:
    """The VAPID key pair of this server."""

    def __init__(self, private_key: ec.EllipticCurvePrivateKey, subject: str):
        self.vapid = Vapid(private_key)
        self.subject = subject
        raw = private_key.public_key().public_bytes(serialization.Encoding.X962,
                                                    serialization.PublicFormat.UncompressedPoint)
        self.public_key = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()  # applicationServerKey for pages


def load_private_key(value: str) -> ec.EllipticCurvePrivateKey:
    """A configured key: PEM text, a path to a PEM file, or base64url of the raw 32-byte key (or DER)."""
    value = value.strip()
    if not value.startswith("-----BEGIN") and os.path.isfile(value):
        value = Path(value).read_text().strip()
    if value.startswith("-----BEGIN"):
        return serialization.load_pem_private_key(value.encode(), password=None)
    return Vapid.from_string(value).private_key


def instance_key(app: Flask) -> ec.EllipticCurvePrivateKey:
    """The key kept in the instance folder, generated on first start."""
    path = Path(app.instance_path) / "vapid_private.pem"
    if not path.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def keys(app: Flask) -> PushKeys:
    """The configured VAPID keys, or the instance folder's (made on first start)."""
    configured = app.config.get("VAPID_PRIVATE_KEY")
    key = load_private_key(configured) if configured else instance_key(app)
    return PushKeys(key, app.config.get("VAPID_SUBJECT") or "mailto:admin@localhost")


def notify(app: Flask, out) -> None:
    """Alert the phones the change names (`out.alerts`), in a background task so no request waits on push
    services."""
    socketio.start_background_task(run, app, out.slug, dict(out.alerts))


def run(app: Flask, slug: str, alerts: dict[int, str]) -> None:
    """Send the alerts of one change to those who gave a subscription (never raises: a failed push must not hurt
    anything else)."""
    try:
        with app.app_context():
            for pid, sub in services(app).queue.push_subscriptions(alerts):
                send(app, pid, alerts[pid], sub, slug)
    except Exception:  # noqa: BLE001
        log.exception("push round failed")


def allowed(app: Flask, endpoint: str) -> bool:
    """Only https endpoints of known push services (tests may allow http://127.0.0.1)."""
    parts = urlsplit(endpoint)
    host = (parts.hostname or "").lower()
    if app.config.get("PUSH_ALLOW_INSECURE") and parts.scheme == "http" and host in ("127.0.0.1", "localhost"):
        return True
    hosts = app.config.get("PUSH_HOSTS") or PUSH_HOSTS
    return parts.scheme == "https" and any(host == h or host.endswith("." + h) for h in hosts)


def texts() -> dict:
    """The generic notification texts in every language (the service worker picks the page's language)."""
    out = {}
    for lang in ("ru", "en"):
        with force_locale(lang):
            out[lang] = {"title": gettext("Picket Queue"), "body": gettext("Your turn is coming")}
    return out


def send(app: Flask, pid: int, kind: str, sub: dict, slug: str) -> bool:
    """One encrypted push; a subscription the push service no longer knows is dropped. True when delivered."""
    from pywebpush import WebPushException, webpush
    keys = services(app).push
    if not allowed(app, sub.get("endpoint", "")):
        log.warning("push skipped: endpoint not allowed")
        return False
    payload = json.dumps({"kind": kind, "url": f"/e/{slug}", "texts": texts()})
    try:
        webpush(sub, payload, vapid_private_key=keys.vapid, vapid_claims={"sub": keys.subject},
                content_encoding="aes128gcm", ttl=TTL[kind], timeout=10, headers={"Urgency": "high"})
        return True
    except WebPushException as e:
        status = e.response.status_code if e.response is not None else None
        if status in (404, 410):
            drop(app, pid, sub)
        else:
            log.warning("push failed (status %s)", status)  # never the endpoint: it identifies a phone
    except Exception as e:  # noqa: BLE001 (network errors of any kind)
        log.warning("push failed (%s)", e.__class__.__name__)
    return False


def drop(app: Flask, pid: int, sub: dict) -> None:
    """Forget a subscription the push service says is gone (unless the phone sent a new one meanwhile)."""
    with services(app).queue.store.write() as s:
        rows = s.execute(select(Participant.push).where(Participant.id == pid)).first()
        if rows and rows[0] and json.loads(rows[0]).get("endpoint") == sub.get("endpoint"):
            s.execute(update(Participant).where(Participant.id == pid).values(push=None))
