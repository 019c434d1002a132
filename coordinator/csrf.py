"""CSRF protection for the HTML forms, with Flask-WTF's signed, session-bound, expiring tokens.

Only the form posts of the pages use it: the JSON API is not reachable cross-site (it needs a JSON body, which a
foreign page cannot send without a CORS preflight, and the coordinator token travels in a header). So the check is
called explicitly by each form handler instead of guarding every POST of the app.
"""
from flask import Flask, request
from flask_wtf.csrf import generate_csrf, validate_csrf
from wtforms.validators import ValidationError

FIELD = "csrf_token"


def valid_form_token() -> bool:
    """True when the posted form carries a valid CSRF token for this browser session."""
    try:
        validate_csrf(request.form.get(FIELD))
    except ValidationError:
        return False
    return True


def init_app(app: Flask) -> None:
    """Templates get `csrf_token()` to put in a hidden field."""
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", 4 * 3600)  # a long form filled in on a phone outdoors
    app.jinja_env.globals["csrf_token"] = generate_csrf
