"""Response headers, JSON errors for the API, and no tracebacks for anyone."""
from __future__ import annotations

import logging
import threading
import time

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'; "
       "manifest-src 'self'; worker-src 'self'")


class WindowLimiter:
    """At most `limit` calls per rolling minute in this process (for event creation)."""

    def __init__(self, limit: int):
        self.limit, self.calls, self.lock = limit, [], threading.Lock()

    def allow(self) -> bool:
        """Count a call; False when over the limit."""
        now = time.monotonic()
        with self.lock:
            self.calls = [t for t in self.calls if now - t < 60]
            if len(self.calls) >= self.limit:
                return False
            self.calls.append(now)
            return True


def init_app(app: Flask) -> None:
    """Install headers and error handlers."""
    app.extensions["create_limiter"] = WindowLimiter(app.config["CREATE_LIMIT_PER_MINUTE"])
    if str(app.config.get("PUBLIC_URL") or "").startswith("https://"):
        app.config["SESSION_COOKIE_SECURE"] = True  # served over https: the cookies never travel in clear

    @app.after_request
    def headers(resp):
        resp.headers.setdefault("Content-Security-Policy", CSP)
        resp.headers["Referrer-Policy"] = "no-referrer"
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        resp.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), interest-cohort=()"
        if request.path.startswith("/api/") or request.path.startswith("/c/"):
            resp.headers.setdefault("Cache-Control", "no-store")
        return resp

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException):
        code = {404: "not_found", 405: "bad_request", 413: "too_large", 429: "rate_limited"}.get(e.code, "bad_request")
        # A 405 names the methods the resource takes (RFC 9110), in JSON and HTML answers alike.
        allow = {"Allow": ", ".join(sorted(e.valid_methods))} if getattr(e, "valid_methods", None) else {}
        if request.path.startswith("/api/"):
            return jsonify({"ok": False, "error": {"code": code, "message": e.description or e.name}}), e.code, allow
        return render_template("error.html", code=e.code, message=e.name), e.code, allow

    @app.errorhandler(Exception)
    def crash(e: Exception):
        log.exception("request failed: %s %s", request.method, request.url_rule)
        if request.path.startswith("/api/"):
            return jsonify({"ok": False, "error": {"code": "internal",
                                                   "message": "Something went wrong; nothing was changed."}}), 500
        return render_template("error.html", code=500, message="Internal error"), 500
