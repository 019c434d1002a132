"""Optional coordinator passphrases, hashed with Argon2id (argon2-cffi)."""
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError

from .domain.errors import BadRequest

_hasher = PasswordHasher()


def hash_passphrase(value: object) -> str | None:
    """Hash a passphrase of 8-200 characters (empty: none)."""
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not 8 <= len(value) <= 200:
        raise BadRequest("The passphrase must be 8 to 200 characters.")
    return _hasher.hash(value)


def check_passphrase(stored: str | None, given: object) -> bool:
    """True when no passphrase is set or the given one matches."""
    if not stored:
        return True
    try:
        return isinstance(given, str) and _hasher.verify(stored, given)
    except VerificationError:
        return False
