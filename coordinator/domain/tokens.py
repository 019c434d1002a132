"""Secrets: generation, validation and hashing (only hashes are stored)."""
import hashlib
import re
import secrets

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{43,64}$")  # >= 32 random bytes as base64url
SLUG_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_token() -> str:
    """A fresh 256-bit secret as base64url text."""
    return secrets.token_urlsafe(32)


def new_slug(length: int = 10) -> str:
    """A public, unguessable-enough event id for links (about 58 bits)."""
    return "".join(secrets.choice(SLUG_ALPHABET) for _ in range(length))


def valid_token(token: object) -> bool:
    """True when the value looks like a token this product accepts."""
    return isinstance(token, str) and bool(TOKEN_RE.fullmatch(token))


def hash_token(token: str) -> str:
    """SHA-256 of a high-entropy token; slow hashing is not needed for 256 random bits."""
    return hashlib.sha256(token.encode()).hexdigest()
