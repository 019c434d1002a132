"""Response headers and the event-creation limit (errors as answers: coordinator/http_errors.py)."""
from __future__ import annotations

import threading
import time

from flask import Flask, request

from . import http_errors

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

    http_errors.init_app(app)
