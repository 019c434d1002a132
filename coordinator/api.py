"""The HTTP JSON API: the same actions as the socket protocol, for bots and scripts."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import exc as sa_exc

from . import addrlimit, ratelimit
from .domain import DomainError
from .domain.errors import BadRequest
from .http_errors import database_error, domain_error
from .services import queue, services

bp = Blueprint("api", __name__, url_prefix="/api")
bp.register_error_handler(DomainError, domain_error)
bp.register_error_handler(sa_exc.TimeoutError, database_error)
bp.register_error_handler(sa_exc.OperationalError, database_error)


def body() -> dict:
    """The request's JSON object (empty body: {})."""
    if not request.get_data(cache=True):
        return {}
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # nested deeper than the JSON decoder goes: not a body this API takes
        data = None
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


def create_event(spec: dict, admit=None) -> tuple[dict, str]:
    """Create an event (from the API or the start page's form): a passphrase in the spec is hashed first. Returns
    the public block and the owner's coordinator token; `admit` as in Queue.create_event."""
    if "passphrase" in spec:
        spec = {**spec, "passphrase_hash": services().passphrases.hash(spec["passphrase"])}
        del spec["passphrase"]
    return queue().create_event(spec, admit=admit)


@bp.post("/events")
def create():
    """Create an event; the answer holds the owner's coordinator token, which is never shown again."""
    spec = body()  # junk (not a JSON object) is refused before it can count against anyone's budget
    public, token = create_event(spec, admit=_admit_creation)
    slug = public["event"]["slug"]
    resp = jsonify({"ok": True, "slug": slug, "event": public, "coordinator_token": token,
                    "links": {"join": f"/e/{slug}", "board": f"/e/{slug}/board", "console": f"/c/{slug}"}})
    resp.headers["Cache-Control"] = "no-store"
    return resp, 201


def _admit_creation() -> None:
    """Count a well-formed creation (called once the spec checked out, before anything is written): the address's
    budget, then the process-wide one."""
    if addrlimit.take(current_app, "create") > 1:
        raise ratelimit.RateLimited(60 / max(1, current_app.config["ADDR_PER_MINUTE"]))
    if not services().create_limiter.allow():
        raise ratelimit.RateLimited(60)  # the creation limit counts calls in the last minute


@bp.post("/events/<slug>/challenge")
def challenge(slug: str):
    """A proof-of-work challenge for joining this event (ALTCHA v2, PBKDF2/SHA-256), priced by the event's recent
    joins and by this address's recent challenges; see docs/protocol.md."""
    data = body()  # empty, {} or {"code"}
    unknown = set(data) - {"code"}
    if unknown:
        raise BadRequest(f"Unknown field(s): {', '.join(sorted(unknown))}.")
    # Someone holding the current on-site code is at the picket: many phones on one carrier address there must not
    # pay the address price (the event's price still applies, and the join checks the code again).
    on_site = "code" in data and queue().code_is_current(slug, data["code"])
    factor = 1.0 if on_site else addrlimit.take(current_app, "challenge")
    resp = jsonify({"ok": True, "challenge": queue().challenge(slug, factor)})
    resp.headers["Cache-Control"] = "no-store"
    return resp


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


@bp.post("/events/<slug>/find")
def find(slug: str):
    """Coordinators: the people in line whose ticket or pseudonym matches body {"q"} (a POST, so that no pseudonym
    lands in an access log's query string)."""
    data = body()
    unknown = set(data) - {"q"}
    if unknown:
        raise BadRequest(f"Unknown field(s): {', '.join(sorted(unknown))}.")
    resp = jsonify({"ok": True, "data": queue().find(principal(slug), data.get("q"))})
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
    who = principal(slug)
    ratelimit.check(current_app, who)  # the same budget as the actor's socket actions
    out = queue().perform(who, name, data.get("args"), op)
    services().effects.action(out)  # never raises: the change is committed
    return jsonify({"ok": True, "result": out.result, "v": out.v, "replay": out.replay, "server_now": out.server_now})


@bp.get("/openapi.json")
def openapi():
    """This API as an OpenAPI 3.1 document."""
    from .openapi import document
    return jsonify(document())
