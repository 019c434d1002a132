"""The connection watchdog of static/js/net.js, run in node against a fake Socket.IO client (tests/js/watchdog.js):
it starts a connection afresh after 15 s without one, but never throws away one the server is answering."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

HARNESS = Path(__file__).resolve().parent / "js" / "watchdog.js"


def kicks(steps: list, until: int) -> list[int]:
    """When (virtual ms) the watchdog started over, for these link events."""
    node = shutil.which("node")
    if not node:
        pytest.fail("node is needed to run net.js")
    done = subprocess.run([node, str(HARNESS)], input=json.dumps({"steps": steps, "until": until}),
                          capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stdout)["kicks"]


def test_a_lost_connection_is_started_afresh_after_15_seconds():
    """Nothing heard from the server since the cut: a fresh start 15-17 s later (the check runs every 2 s)."""
    got = kicks([[500, "connect"], [1_000, "disconnect"]], until=20_000)
    assert len(got) == 1 and 16_000 < got[0] <= 18_000, got


def test_a_connection_the_server_answers_is_not_thrown_away():
    """The server came back and the engine opened 13 s after the cut; the connect answer is slow (a loaded server
    checking a passphrase): the watchdog waits 15 s from the opening instead of starting over at 16 s. If no answer
    comes by then, it starts over after all."""
    got = kicks([[500, "connect"], [1_000, "disconnect"], [14_000, "open"]], until=27_000)
    assert got == []
    assert len(kicks([[500, "connect"], [1_000, "disconnect"], [14_000, "open"]], until=35_000)) == 1
