"""The one family of errors the domain raises; each has a stable code and a human message."""


class DomainError(Exception):
    """An action that cannot be done; nothing was changed."""

    code = "bad_request"
    status = 400

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code

    def as_dict(self) -> dict:
        """The error as clients see it."""
        return {"code": self.code, "message": self.message}


class BadRequest(DomainError):
    code, status = "bad_request", 400


class Unauthorized(DomainError):
    code, status = "unauthorized", 401


class Forbidden(DomainError):
    code, status = "forbidden", 403


class NotFound(DomainError):
    code, status = "not_found", 404


class Conflict(DomainError):
    """The state changed under the caller (a stale or concurrent action)."""

    code, status = "conflict", 409


class InvalidState(DomainError):
    code, status = "invalid_state", 409


class Busy(DomainError):
    """The database was too busy to take the request in time; nothing was changed and the same request may be retried
    (with the same op id)."""

    code, status = "busy", 503

    def __init__(self, message: str = "The server is very busy right now; nothing was changed. Try again in a few "
                                      "seconds."):
        super().__init__(message)


STATUS_BY_CODE = {
    "bad_request": 400, "unknown_action": 400, "unknown_event": 400, "too_large": 413, "unauthorized": 401,
    "forbidden": 403, "not_found": 404, "invalid_state": 409, "conflict": 409, "queue_full": 409,
    "no_free_spot": 409, "not_in_line": 409, "rate_limited": 429, "internal": 500,
    "passphrase_required": 401, "busy": 503,
    # joins: proof of work and gates (docs/protocol.md, "Joining: proof of work and gates")
    "pow_required": 403, "pow_invalid": 403, "pow_expired": 403, "pow_replayed": 403,
    "joining_paused": 409, "code_required": 403, "code_wrong": 403,
}
