"""Web Push (VAPID): the server's key pair, the public key for pages, and generic alerts sent in the background.

A push goes out when a participant is called and when they move up to the event's `ready_at` place. Payloads are
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

from .domain.models import LINE_STATES, Entry, Participant
from .extensions import socketio

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


def init_app(app: Flask) -> None:
    """Load or create the VAPID keys and install the broadcast hook."""
    configured = app.config.get("VAPID_PRIVATE_KEY")
    key = load_private_key(configured) if configured else instance_key(app)
    app.extensions["push"] = PushKeys(key, app.config.get("VAPID_SUBJECT") or "mailto:admin@localhost")
    app.extensions["notify"] = notify


def public_key(app: Flask) -> str:
    """The applicationServerKey pages subscribe with."""
    return app.extensions["push"].public_key


def notify(app: Flask, out) -> None:
    """Broadcast hook: find whom to alert and send, in a background task so no request waits on push services."""
    event = (out.public or {}).get("event") or {}
    job = {"event_id": out.event_id, "slug": out.slug, "now": out.server_now, "touched": sorted(out.touched),
           "moves": [list(m) for m in out.moves], "ready_at": event.get("ready_at") or 2}
    socketio.start_background_task(run, app, job)


def run(app: Flask, job: dict) -> None:
    """Send the alerts of one change (never raises: a failed push must not hurt anything else)."""
    try:
        with app.app_context():
            for pid, kind, sub in targets(app.extensions["queue"], job):
                send(app, pid, kind, sub, job["slug"])
    except Exception:  # noqa: BLE001
        log.exception("push round failed")


def reached(moves: list, ready_at: int) -> set[int]:
    """New line positions (<= ready_at) of entries that moved up past the `ready_at` place in this change."""
    out = set()
    for lo, hi, d in moves:
        for p in range(max(lo, ready_at + 1), hi + 1):
            if p + d <= ready_at:
                out.add(p + d)
    return out


def targets(q, job: dict) -> list[tuple[int, str, dict]]:
    """(participant id, 'called' | 'ready', subscription) for everyone to alert about this change."""
    kinds: dict[int, str] = {}
    with q.store.read() as s:
        if job["touched"]:
            for pid, arrived, called_at in s.execute(select(Entry.participant_id, Entry.arrived_at, Entry.called_at)
                                                     .where(Entry.participant_id.in_(job["touched"]),
                                                            Entry.state == "called")):
                if arrived is None and called_at == job["now"]:  # called in this very change
                    kinds[pid] = "called"
        positions = reached(job["moves"], job["ready_at"])
        if positions:
            # only the first places matter: reading the whole line cost CPU per phone on every change
            line = list(s.execute(select(Entry.participant_id, Entry.state).where(
                Entry.event_id == job["event_id"], Entry.state.in_(LINE_STATES)).order_by(Entry.rank, Entry.id)
                .limit(max(positions))))
            for p in positions:
                if p <= len(line) and line[p - 1][0] and line[p - 1][1] == "waiting":
                    kinds.setdefault(line[p - 1][0], "ready")
        if not kinds:
            return []
        rows = list(s.execute(select(Participant.id, Participant.push).where(
            Participant.id.in_(list(kinds)), Participant.push.is_not(None))))
    return [(pid, kinds[pid], json.loads(sub)) for pid, sub in rows]


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
    keys = app.extensions["push"]
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
    q = app.extensions["queue"]
    with q.store.write() as s:
        rows = s.execute(select(Participant.push).where(Participant.id == pid)).first()
        if rows and rows[0] and json.loads(rows[0]).get("endpoint") == sub.get("endpoint"):
            s.execute(update(Participant).where(Participant.id == pid).values(push=None))
