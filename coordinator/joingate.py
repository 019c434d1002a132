"""The on-site join code for a big screen (the observer board in big-screen mode, opened from the console with the
event's display key in the link fragment): the code, when it changes, and a QR code of the join link with the code."""
from __future__ import annotations

import io

import segno
from flask import Blueprint, jsonify, request
from flask_babel import gettext as _

from .domain import DomainError
from .http_errors import domain_error
from .services import queue
from .share import join_url

bp = Blueprint("joingate", __name__)
bp.register_error_handler(DomainError, domain_error)


@bp.get("/api/events/<slug>/code")
def code(slug: str):
    """{ok, gate, code, next_at, qr}: the current code (X-Display-Key header), and the join link with it as an SVG QR
    code. Without the display key: 401."""
    out = queue().gate_code(slug, request.headers.get("X-Display-Key"))
    if "code" in out:
        link = f"{join_url(slug)}#c={out['code']}"  # the fragment never reaches a server
        buf = io.BytesIO()
        segno.make(link, error="m").save(buf, kind="svg", scale=1, border=4, omitsize=True, light="#fff",
                                         dark="#000", title=_("QR code: join the line"))
        out["qr"] = buf.getvalue().decode()
    resp = jsonify({"ok": True, **out})
    resp.headers["Cache-Control"] = "no-store"
    return resp
