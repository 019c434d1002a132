"""Errors as HTTP answers: one JSON shape, the status from the one table (domain/errors.STATUS_BY_CODE), no
traceback and no SQL for anyone."""
from __future__ import annotations

import logging

from flask import jsonify, render_template, request
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException

from .domain import DomainError
from .domain.errors import CODE_BY_HTTP_STATUS, INTERNAL, Busy, http_status
from .domain.store import is_busy
from .ratelimit import retry_after_header

log = logging.getLogger(__name__)
BUSY_RETRY_AFTER = 2  # seconds a client waits before it retries after `busy`


def fail(code: str, message: str, status: int | None = None):
    """A JSON error response (its status from the code unless given)."""
    return jsonify({"ok": False, "error": {"code": code, "message": message}}), status or http_status(code)


def domain_error(e: DomainError):
    """Domain errors keep their code and message; the retryable ones (rate_limited, busy) say when to retry."""
    resp, status = fail(e.code, e.message)
    if getattr(e, "retry_after", None) is not None:  # the action limit, the passphrase slow-down
        resp.headers["Retry-After"] = retry_after_header(e.retry_after)
    elif isinstance(e, Busy):
        resp.headers["Retry-After"] = str(BUSY_RETRY_AFTER)
    return resp, status


def database_error(e: sa_exc.SQLAlchemyError):
    """A database too busy to answer in time (no free pooled connection, a locked SQLite file): the retryable `busy`
    with 503 and Retry-After. Any other database failure is a crash: logged, and answered generically."""
    if is_busy(e):
        log.warning("database busy, answered `busy`: %s", e.__class__.__name__)
        return domain_error(Busy())
    return crash(e)


def http_error(e: HTTPException):
    """An HTTP error no handler raised on purpose: JSON under /api/, the error page elsewhere."""
    # A 405 names the methods the resource takes (RFC 9110), in JSON and HTML answers alike.
    allow = {"Allow": ", ".join(sorted(e.valid_methods))} if getattr(e, "valid_methods", None) else {}
    if request.path.startswith("/api/"):
        resp, _ = fail(CODE_BY_HTTP_STATUS.get(e.code, "bad_request"), e.description or e.name)
        return resp, e.code, allow
    return render_template("error.html", code=e.code), e.code, allow


def crash(e: Exception):
    """A bug or an unexpected failure: logged with its traceback, answered with the generic `internal` error."""
    log.exception("request failed: %s %s", request.method, request.url_rule)
    if request.path.startswith("/api/"):
        return fail(INTERNAL["code"], INTERNAL["message"])
    return render_template("error.html", code=500), 500


def init_app(app) -> None:
    """The app-wide handlers; the JSON blueprints register `domain_error` (the API `database_error` too)."""
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, crash)
