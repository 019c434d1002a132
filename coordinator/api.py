"""The HTTP JSON API: the same actions as the socket protocol, for bots and scripts."""
from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify, request

from . import queue
from .broadcast import publish
from .domain import DomainError
from .domain.errors import STATUS_BY_CODE, BadRequest

bp = Blueprint("api", __name__, url_prefix="/api")
log = logging.getLogger(__name__)


def fail(code: str, message: str, status: int | None = None):
    """A JSON error response."""
    return jsonify({"ok": False, "error": {"code": code, "message": message}}), status or STATUS_BY_CODE.get(code, 400)


def body() -> dict:
    """The request's JSON object (empty body: {})."""
    if not request.get_data(cache=True):
        return {}
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object.")
    return data


def principal(slug: str):
    """The caller, from the token headers (never from the URL)."""
    auth = {"event": slug}
    if "X-Participant-Token" in request.headers:
        auth["participant"] = request.headers["X-Participant-Token"]
    if "X-Coordinator-Token" in request.headers:
        auth["coordinator"] = request.headers["X-Coordinator-Token"]
    if "X-Coordinator-Passphrase" in request.headers:
        auth["passphrase"] = request.headers["X-Coordinator-Passphrase"]
    return queue().authenticate(auth)


@bp.errorhandler(DomainError)
def domain_error(e: DomainError):
    """Domain errors keep their code and message."""
    return fail(e.code, e.message, STATUS_BY_CODE.get(e.code, e.status))


@bp.post("/events")
def create_event():
    """Create an event; the answer holds the owner's coordinator token, which is never shown again."""
    limiter = current_app.extensions["create_limiter"]
    if not limiter.allow():
        return fail("rate_limited", "Too many events created just now; try again in a minute.")
    spec = body()
    if "passphrase" in spec:
        from .passphrase import hash_passphrase
        spec["passphrase_hash"] = hash_passphrase(spec.pop("passphrase"))
    public, token = queue().create_event(spec)
    slug = public["event"]["slug"]
    resp = jsonify({"ok": True, "event": public, "coordinator_token": token,
                    "links": {"join": f"/e/{slug}", "board": f"/e/{slug}/board", "console": f"/c/{slug}"}})
    resp.headers["Cache-Control"] = "no-store"
    return resp, 201


@bp.get("/events/<slug>")
def event(slug: str):
    """The public (observer) snapshot."""
    return jsonify({"ok": True, "data": queue().snapshot(queue().authenticate({"event": slug}))})


@bp.get("/events/<slug>/snapshot")
def snapshot(slug: str):
    """The snapshot for the caller's role."""
    resp = jsonify({"ok": True, "data": queue().snapshot(principal(slug))})
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.post("/events/<slug>/actions/<name>")
def act(slug: str, name: str):
    """Run an action: body {"op", "args"}; the op may also come in an Idempotency-Key header."""
    data = body()
    unknown = set(data) - {"op", "args"}
    if unknown:
        raise BadRequest(f"Unknown field(s): {', '.join(sorted(unknown))}.")
    op = data.get("op", request.headers.get("Idempotency-Key"))
    out = queue().perform(principal(slug), name, data.get("args"), op)
    publish(current_app._get_current_object(), out)
    return jsonify({"ok": True, "result": out.result, "v": out.v, "replay": out.replay})


@bp.get("/openapi.json")
def openapi():
    """This API as an OpenAPI 3.1 document."""
    from .openapi import document
    return jsonify(document())
