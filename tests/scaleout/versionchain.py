"""Recording clients and the net.js replay, shared by the scale-out suites."""
from __future__ import annotations
import _paths  # noqa: F401 - first: puts tests/server on the path

import json
import shutil
import subprocess
import time
from pathlib import Path

from realclients import Peer

REPLAY = Path(__file__).resolve().parent / "replay.js"


class TimedPeer(Peer):
    """A Peer that also records when each `state` arrived (ms since `t0`) and the version of its first snapshot."""

    def __init__(self, url: str, auth: dict, t0: float, **kwargs):
        """As Peer; arrival times count from t0 (time.monotonic())."""
        super().__init__(url, auth, **kwargs)
        self.t0, self.arrivals = t0, []
        self.sio.on("state", self._timed)

    async def _timed(self, data=None):
        """Keep the message and its arrival time."""
        self.got["state"].append(data)
        self.arrivals.append([round((time.monotonic() - self.t0) * 1000), data["prev_v"], data["v"]])

    def record(self) -> dict:
        """What the replay needs: the version at connect and every `state` as it arrived."""
        return {"v": self.got["snapshot"][0]["v"] if self.got["snapshot"] else 0, "got": list(self.arrivals)}


def old_rule_gaps(rec: dict) -> int:
    """Snapshot requests the pages made before the reorder buffer: one for every `state` whose prev_v was not the
    version held (after which the snapshot brought the page to the newest version seen)."""
    v, seen, gaps = rec["v"], rec["v"], 0
    for _, prev, new in rec["got"]:
        seen = max(seen, new)
        if new <= v:
            continue
        if prev != v:
            gaps, v = gaps + 1, seen
        else:
            v = new
    return gaps


def replay(records: list[dict]) -> dict:
    """Run the recorded messages through static/js/net.js: {'refreshes': [...], 'final_v': [...]}."""
    node = shutil.which("node")
    assert node, "node is needed to run net.js"
    done = subprocess.run([node, str(REPLAY)], input=json.dumps({"clients": records}), capture_output=True,
                          text=True, timeout=120, check=True)
    return json.loads(done.stdout)
