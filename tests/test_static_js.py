"""The page scripts, read as text: checks that need no browser. A function declared twice at the same depth of one
file silently replaces the first (two branches merged with a `renderPending` each broke every participant page)."""
from __future__ import annotations

import collections
import re
from pathlib import Path

import pytest

SCRIPTS = sorted((Path(__file__).resolve().parent.parent / "static" / "js").glob("*.js"))
DECLARATION = re.compile(r"^([ \t]*)function (\w+)\s*\(", re.M)


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_no_function_is_declared_twice(path):
    """Every `function name(` at one indentation appears once per file."""
    counts = collections.Counter(DECLARATION.findall(path.read_text()))
    assert SCRIPTS and [name for (_, name), n in counts.items() if n > 1] == []
