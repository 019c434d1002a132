"""The one family of errors the domain raises; each has a stable code and a human message."""


class DomainError(Exception):
    """An action that cannot be done; nothing was changed. Its HTTP status comes from STATUS_BY_CODE (`http_status`)."""

    code = "bad_request"

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code

    def as_dict(self) -> dict:
        """The error as clients see it."""
        return {"code": self.code, "message": self.message}


class BadRequest(DomainError):
    code = "bad_request"


class Unauthorized(DomainError):
    code = "unauthorized"


class Forbidden(DomainError):
    code = "forbidden"


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    """The state changed under the caller (a stale or concurrent action)."""

    code = "conflict"


class InvalidState(DomainError):
    code = "invalid_state"


class Busy(DomainError):
    """The database was too busy to take the request in time; nothing was changed and the same request may be retried
    (with the same op id)."""

    code = "busy"

    def __init__(self, message: str = "The server is very busy right now; nothing was changed. Try again in a few "
                                      "seconds."):
        super().__init__(message)


class PassphraseRequired(Unauthorized):
    """The coordinator link is right, but its owner also set a passphrase that was missing or wrong."""

    code = "passphrase_required"


# The one mapping from error codes to HTTP statuses (the API, the share and join-code endpoints, the pages' forms).
STATUS_BY_CODE = {
    "bad_request": 400, "unknown_action": 400, "unknown_event": 400, "too_large": 413, "unauthorized": 401,
    "forbidden": 403, "not_found": 404, "invalid_state": 409, "conflict": 409, "queue_full": 409,
    "no_free_spot": 409, "not_in_line": 409, "rate_limited": 429, "internal": 500,
    "passphrase_required": 401, "busy": 503,
    # joins: proof of work and gates (docs/protocol.md, "Joining: proof of work and gates")
    "pow_required": 403, "pow_invalid": 403, "pow_expired": 403, "pow_replayed": 403,
    "joining_paused": 409, "code_required": 403, "code_wrong": 403,
}

# The code of an HTTP error that no DomainError raised (an unknown URL, a wrong method, a body too large).
CODE_BY_HTTP_STATUS = {404: "not_found", 405: "bad_request", 413: "too_large", 429: "rate_limited"}

# What a client is told when the server failed (a bug or an unexpected database error): logged, never shown.
INTERNAL = {"code": "internal", "message": "Something went wrong on the server; nothing was changed. Try again."}


def http_status(code: str) -> int:
    """The HTTP status of an error code (400 for a code the table does not know)."""
    return STATUS_BY_CODE.get(code, 400)
