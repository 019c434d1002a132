"""HTML pages: start page, participant page, observer board, coordinator console. Secrets never go in these URLs."""
import json
import re

from flask import Blueprint, current_app, make_response, redirect, render_template, request

from . import csrf
from .api import create_event
from .domain import DomainError
from .domain.errors import http_status
from .services import queue, services
from .share import board_context, join_url, observer_snapshot

bp = Blueprint("pages", __name__)
bp.record_once(lambda state: csrf.init_app(state.app))
PURGE_CHOICES_H = (0, 1, 3, 6, 12, 24, 48, 72)  # hours after the end until every row of the event is deleted


@bp.get("/")
def index():
    """What the product is, and the form that creates an event."""
    return render_template("index.html", form={}, purge_choices=PURGE_CHOICES_H)


def _minutes(form, name: str, default: int) -> int | str:
    """A whole number of minutes from a form field, in milliseconds (text passes through for the engine to refuse)."""
    raw = form.get(name, "").strip()
    if not raw:
        return default * 60_000
    try:
        return round(float(raw.replace(",", ".")) * 60_000)
    except ValueError:
        return raw


def event_spec(form) -> dict:
    """Turn the start page's form into the spec `create_event` takes (the engine checks every value)."""
    labels = [x.strip() for x in form.get("spots", "").replace(",", "\n").splitlines() if x.strip()]
    spec = {
        "title": form.get("title", ""), "location": form.get("location", ""),
        "spots": [{"label": x} for x in labels] or [{"label": "A"}],
        "slot_ms": _minutes(form, "slot_min", 5), "grace_ms": _minutes(form, "grace_min", 2),
        "lead_ms": _minutes(form, "lead_min", 1), "show_pseudonyms": form.get("show_pseudonyms") == "on",
    }
    if form.get("max_queue", "").strip():
        spec["max_queue"] = int(form["max_queue"]) if form["max_queue"].strip().isdigit() else form["max_queue"]
    hours = form.get("purge_after_h", "12")
    spec["purge_after_ms"] = int(hours) * 3_600_000 if hours.isdigit() else hours
    if form.get("label", "").strip():
        spec["label"] = form["label"]
    return spec


@bp.post("/", endpoint="create_event")
def create_from_form():
    """The start page's form without JavaScript: create the event and show the secret console link once."""
    form = request.form
    page = {"form": form, "purge_choices": PURGE_CHOICES_H}
    if not csrf.valid_form_token():
        return render_template("index.html", error="csrf", **page), 400
    if not services().create_limiter.allow():
        return render_template("index.html", error="rate_limited", **page), http_status("rate_limited")
    try:
        spec = event_spec(form)
        if form.get("passphrase"):
            spec["passphrase"] = form["passphrase"]
        public, token = create_event(spec)
    except DomainError as e:
        field = re.search(r"'(\w+)'", e.message)  # domain messages quote the field they refuse
        return render_template("index.html", error=e.code, error_field=field and field.group(1), **page), 400
    slug = public["event"]["slug"]
    resp = make_response(render_template("index.html", created={"slug": slug, "token": token,
                                                                 "title": public["event"]["title"]}, **page))
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/e/<slug>")
def participant(slug: str):
    """The participant's page (join, wait, get called)."""
    return render_template("participant.html", event=observer_snapshot(slug)["public"]["event"])


@bp.get("/sw.js")
def service_worker():
    """The participant page's service worker, served from the root so that its scope is the whole site."""
    resp = current_app.send_static_file("sw.js")
    resp.headers["Cache-Control"] = "no-cache"  # browsers must see a new worker soon after a deploy
    resp.headers["Service-Worker-Allowed"] = "/"
    return resp


@bp.get("/favicon.ico")
def favicon():
    """Browsers and tools that ask for /favicon.ico get the SVG icon every page links (no 404 in any log)."""
    resp = current_app.send_static_file("favicon.svg")
    resp.headers["Cache-Control"] = "public, max-age=86400"
    return resp


@bp.get("/manifest.webmanifest")
def manifest():
    """The installable app's manifest; `?start=/e/<slug>` makes the installed app open that event."""
    from flask_babel import gettext
    start = request.args.get("start", "/")
    if not re.fullmatch(r"/e/[A-Za-z0-9_-]{1,16}", start):
        start = "/"
    icons = [{"src": f"/static/icons/icon-{n}.png", "sizes": f"{n}x{n}", "type": "image/png", "purpose": "any"}
             for n in (192, 512)]
    icons.append({"src": "/static/icons/icon-maskable-512.png", "sizes": "512x512", "type": "image/png",
                  "purpose": "maskable"})
    body = {"name": gettext("Picket Queue"), "short_name": gettext("Picket Queue"), "id": start,
            "start_url": start, "scope": "/", "display": "standalone", "background_color": "#ffffff",
            "theme_color": "#1b3a5c", "icons": icons}
    return current_app.response_class(json.dumps(body, ensure_ascii=False), mimetype="application/manifest+json")


@bp.get("/api/push/key")
def push_key():
    """The server's VAPID public key (applicationServerKey) for Web Push subscriptions."""
    return {"ok": True, "key": services().push.public_key}


@bp.get("/e/<slug>/board")
def board(slug: str):
    """The observer board: first painted from the observer snapshot, then live (see coordinator/share.py)."""
    return render_template("board.html", **board_context(slug))


@bp.get("/c/<slug>")
def console(slug: str):
    """The coordinator console; the token arrives in the URL fragment and is moved to storage by the page."""
    event = observer_snapshot(slug)["public"]["event"]
    resp = make_response(render_template("console.html", event=event, join_url=join_url(slug),
                                         purge_choices=PURGE_CHOICES_H))
    resp.headers["Cache-Control"] = "no-store"
    return resp


# A path on this site: printable ASCII URL characters only (no backslash, no control or blank characters, which
# browsers drop or turn into "/"), starting with one "/" (not "//", which names another host).
SAME_SITE_PATH = re.compile(r"/(?![/\\])[A-Za-z0-9._~!$&'()*+,;=:@%/?-]{0,500}")


def same_site_path(target: object) -> str:
    """The redirect target if it is a path on this site, else "/"."""
    if not isinstance(target, str) or not SAME_SITE_PATH.fullmatch(target):
        return "/"
    return target


@bp.get("/lang/<code>")
def set_language(code: str):
    """Remember an explicit language choice and go back."""
    resp = redirect(same_site_path(request.args.get("next", "/")))
    if code in ("ru", "en"):
        resp.set_cookie("lang", code, max_age=365 * 86400, samesite="Lax", httponly=True,
                        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")))
    return resp


@bp.get("/healthz")
def healthz():
    """Readiness: the database answers and, in scale-out mode, the message queue works (503 `busy` otherwise)."""
    from sqlalchemy import text

    from .domain.errors import Busy
    from .readiness import ready
    if not ready(current_app):
        return {"ok": False, "error": Busy().as_dict()}, http_status(Busy.code), {"Retry-After": "5"}
    with queue().store.read() as s:
        s.execute(text("SELECT 1"))
    return {"ok": True}
