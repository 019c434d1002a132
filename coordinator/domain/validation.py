"""Checks for everything a client sends: types, lengths, unknown fields, and pseudonym normalisation."""
from __future__ import annotations

import re
import unicodedata

from .errors import BadRequest

OP_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
PSEUDONYM_MAX = 32
# Bidi overrides/isolates and other invisible format characters let a name pretend to be another one.
_FORBIDDEN_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def pseudonym(value: object) -> str:
    """Normalise a chosen name (NFC, single spaces) or refuse it."""
    if not isinstance(value, str):
        raise BadRequest("The pseudonym must be text.")
    text = unicodedata.normalize("NFKC", value)
    if any(unicodedata.category(ch) in _FORBIDDEN_CATEGORIES for ch in text):
        raise BadRequest("The pseudonym contains invisible or control characters.")
    text = " ".join(text.split())
    if not text:
        raise BadRequest("The pseudonym is empty.")
    if len(text) > PSEUDONYM_MAX:
        raise BadRequest(f"The pseudonym is longer than {PSEUDONYM_MAX} characters.")
    return text


def plain_text(value: object, name: str, max_len: int, allow_empty: bool = False) -> str:
    """A single-line or multi-line human text without control characters."""
    if not isinstance(value, str):
        raise BadRequest(f"'{name}' must be text.")
    text = unicodedata.normalize("NFC", value).strip()
    if any(unicodedata.category(ch) in _FORBIDDEN_CATEGORIES and ch != "\n" for ch in text):
        raise BadRequest(f"'{name}' contains control or invisible characters.")
    if not text and not allow_empty:
        raise BadRequest(f"'{name}' is empty.")
    if len(text) > max_len:
        raise BadRequest(f"'{name}' is longer than {max_len} characters.")
    return text


def integer(value: object, name: str, lo: int, hi: int) -> int:
    """An integer within bounds (booleans are not integers here)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"'{name}' must be a whole number.")
    if not lo <= value <= hi:
        raise BadRequest(f"'{name}' must be between {lo} and {hi}.")
    return value


def boolean(value: object, name: str) -> bool:
    """A JSON boolean."""
    if not isinstance(value, bool):
        raise BadRequest(f"'{name}' must be true or false.")
    return value


def number(value: object, name: str, lo: float, hi: float) -> float:
    """A finite number within bounds."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
        raise BadRequest(f"'{name}' must be a number between {lo} and {hi}.")
    return float(value)


def op_id(value: object) -> str:
    """A client operation id."""
    if not isinstance(value, str) or not OP_RE.fullmatch(value):
        raise BadRequest("'op' must be 8-64 characters of letters, digits, '-' or '_'.")
    return value


def only_fields(data: object, allowed: set[str], name: str = "args") -> dict:
    """A JSON object with no fields beyond the allowed ones."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise BadRequest(f"'{name}' must be an object.")
    unknown = set(data) - allowed
    if unknown:
        raise BadRequest(f"Unknown field(s) in '{name}': {', '.join(sorted(map(str, unknown)))}.")
    return data
