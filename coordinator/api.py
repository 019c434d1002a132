"""The HTTP JSON API: the same actions as the socket protocol, for bots and scripts."""
from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import exc as sa_exc

from . import addrlimit, queue, ratelimit
from .broadcast import log_failure, publish
from .domain import DomainError
from .domain.errors import STATUS_BY_CODE, BadRequest, Busy
from .domain.store import is_busy

bp = Blueprint("api", __name__, url_prefix="/api")
log = logging.getLogger(__name__)
BUSY_RETRY_AFTER = 2  # seconds a client waits before it retries after `busy`


def fail(code: str, message: str, status: int | None = None):
    """A JSON error response."""
    return jsonify({"ok": False, "error": {"code": code, "message": message}}), status or STATUS_BY_CODE.get(code, 400)


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


@bp.errorhandler(DomainError)
def domain_error(e: DomainError):
    """Domain errors keep their code and message; the retryable ones (rate_limited, busy) say when to retry."""
    resp, status = fail(e.code, e.message, STATUS_BY_CODE.get(e.code, e.status))
    if getattr(e, "retry_after", None) is not None:  # the action limit, the passphrase slow-down
        resp.headers["Retry-After"] = ratelimit.retry_after_header(e.retry_after)
    elif isinstance(e, Busy):
        resp.headers["Retry-After"] = str(BUSY_RETRY_AFTER)
    return resp, status


@bp.errorhandler(sa_exc.TimeoutError)
@bp.errorhandler(sa_exc.OperationalError)
def database_error(e: sa_exc.SQLAlchemyError):
    """A database too busy to answer in time (no free pooled connection, a locked SQLite file): the retryable `busy`
    with 503 and Retry-After. Any other database failure is a crash: logged, and answered generically."""
    if is_busy(e):
        log.warning("database busy, answered `busy`: %s", e.__class__.__name__)
        return domain_error(Busy())
    log.exception("request failed: %s %s", request.method, request.url_rule)
    return fail("internal", "Something went wrong; nothing was changed.", 500)


@bp.post("/events")
def create_event():
    """Create an event; the answer holds the owner's coordinator token, which is never shown again."""
    spec = body()  # junk (not a JSON object) is refused before it can count against anyone's budget
    if "passphrase" in spec:
        from .passphrase import hash_passphrase
        spec["passphrase_hash"] = hash_passphrase(spec.pop("passphrase"))
    public, token = queue().create_event(spec, admit=_admit_creation)
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
    if not current_app.extensions["create_limiter"].allow():
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
    try:
        publish(current_app._get_current_object(), out)
    except Exception as e:  # noqa: BLE001 - the change is committed: answer ok; clients resync on the version gap
        log_failure("broadcast after a committed action", e)
    return jsonify({"ok": True, "result": out.result, "v": out.v, "replay": out.replay, "server_now": out.server_now})


@bp.get("/openapi.json")
def openapi():
    """This API as an OpenAPI 3.1 document."""
    from .openapi import document
    return jsonify(document())
