"""HTML pages: start page, participant page, observer board, coordinator console. Secrets never go in these URLs."""
from flask import Blueprint, abort, make_response, redirect, render_template, request

from . import queue
from .domain import DomainError

bp = Blueprint("pages", __name__)


def _event_or_404(slug: str) -> dict:
    try:
        return queue().snapshot(queue().authenticate({"event": slug}))["public"]["event"]
    except DomainError:
        abort(404)


@bp.get("/")
def index():
    """What the product is, and the form that creates an event."""
    return render_template("index.html")


@bp.get("/e/<slug>")
def participant(slug: str):
    """The participant's page (join, wait, get called)."""
    return render_template("participant.html", event=_event_or_404(slug))


@bp.get("/e/<slug>/board")
def board(slug: str):
    """The observer board."""
    return render_template("board.html", event=_event_or_404(slug))


@bp.get("/c/<slug>")
def console(slug: str):
    """The coordinator console; the token arrives in the URL fragment and is moved to storage by the page."""
    resp = make_response(render_template("console.html", event=_event_or_404(slug)))
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/lang/<code>")
def set_language(code: str):
    """Remember an explicit language choice and go back."""
    target = request.args.get("next", "/")
    if not target.startswith("/") or target.startswith("//"):
        target = "/"
    resp = redirect(target)
    if code in ("ru", "en"):
        resp.set_cookie("lang", code, max_age=365 * 86400, samesite="Lax", httponly=True)
    return resp


@bp.get("/healthz")
def healthz():
    """Liveness and database check."""
    from sqlalchemy import text
    with queue().store.read() as s:
        s.execute(text("SELECT 1"))
    return {"ok": True}
