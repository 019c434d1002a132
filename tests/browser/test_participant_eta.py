"""static/js/eta.js computes exactly what coordinator/domain/estimates.py computes (same inputs, same numbers)."""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from coordinator.domain import estimates

pytestmark = pytest.mark.browser

ETA_JS = Path(__file__).resolve().parents[2] / "static" / "js" / "eta.js"


def test_js_estimate_matches_python(browser):
    """Random lines, spots and turn models: the phone's estimate equals the server's, to the millisecond."""
    page = browser.new_page()
    try:
        page.set_content("<!doctype html><title>eta</title>")
        page.add_script_tag(path=str(ETA_JS))
        rnd = random.Random(20261124)
        cases = []
        for _ in range(300):
            now = 1_790_000_000_000 + rnd.randrange(10**7)
            spots = rnd.randint(1, 4)
            free_at = [now + rnd.randint(-60_000, 600_000) for _ in range(spots)]
            turn = rnd.randint(60_000, 600_000)
            est = {"free_at": free_at, "turn_ms": turn, "lo_ms": int(turn * 0.8), "hi_ms": int(turn * 1.3),
                   "lead_ms": rnd.choice([0, 30_000, 60_000, 120_000])}
            cases.append({"position": rnd.randint(1, 60), "est": est, "now": now})
        js = page.evaluate("cases => cases.map(c => PQEta.eta(c.position, c.est, c.now, null))", cases)
        py = [estimates.eta(c["position"], c["est"], c["now"]) for c in cases]
        assert js == py, json.dumps([(c, j, p) for c, j, p in zip(cases, js, py) if j != p][:3])
        # Paused: time stands still at paused_at.
        c = cases[0]
        paused = {"state": "paused", "paused_at": c["now"] - 50_000}
        got = page.evaluate("c => PQEta.eta(c.position, c.est, c.now, c.ev)", {**c, "ev": paused})
        assert got == estimates.eta(c["position"], c["est"], paused["paused_at"])
    finally:
        page.close()
