"""The console for long lines over real sockets (issue 13, part 6): a coordinator's console, followed through the
`console` patches as the page applies them, stays the view a fresh snapshot gives, while each message stays small."""
from __future__ import annotations

import json

import pytest
import realclients
from realclients import (Peer, coordinator_auth, create_event, http_action, http_snapshot, participant_auth,
                         wait_for)

from conftest import new_token
from coordinator.domain.views import console_key

pytestmark = pytest.mark.server

PEOPLE = 300


def same_view(a: dict, b: dict) -> bool:
    """Two console views show the same thing (the clock's parts and `me` aside): same key, and the key is right."""
    return a["key"] == b["key"] == console_key(a) and a["line"] == b["line"] and a["log"] == b["log"]


def test_console_follows_changes_as_small_patches(server_factory):
    """Two coordinators (one from the start, one joining halfway) follow walk-ins, calls, moves to the front and the
    back, removals and a phone coming and going: after each change both show exactly what a snapshot shows, a patch
    names a base they do not hold at most once (at connect; they then resync as the page does), and each patch is a small fraction of the whole view."""
    url = server_factory(extra_env={"PICKET_ACTION_BURST": "100000"}).url  # one coordinator adds them all
    ev = create_event(url, max_queue=1000, auto_call=False)
    act = lambda name, **args: http_action(url, ev["slug"], ev["token"], name, args)  # noqa: E731
    assert act("start")["ok"]
    for i in range(PEOPLE):
        assert act("add_walk_in", pseudonym=f"W{i}")["ok"]
    realclients.run(_follow(url, ev, act))


async def _follow(url: str, ev: dict, act) -> None:
    """The changes, watched from two consoles."""
    first = await Peer(url, coordinator_auth(ev["slug"], ev["token"])).connect()
    second = phone = None

    async def check(answer: dict) -> None:
        """After one change: every console shows the snapshot's view."""
        assert answer["ok"], answer
        consoles = [c for c in (first, second) if c is not None]
        snap = http_snapshot(url, ev["slug"], ev["token"])
        await wait_for(lambda: all(c.page.shown and same_view(c.page.shown, snap) for c in consoles),
                       what=f"the consoles at version {snap['v']}")

    try:
        await check({"ok": True})
        line = lambda: first.page.shown["line"]  # noqa: E731
        await check(act("call_next"))
        await check(act("move", entry=line()[-1]["id"], to=1))
        await check(act("move", entry=line()[0]["id"], to=len(line())))
        await check(act("move", entry=line()[1]["id"], to=PEOPLE))  # out of the listed first ones (LINE_WINDOW)
        await check(act("remove", entry=line()[len(line()) // 2]["id"]))
        second = await Peer(url, coordinator_auth(ev["slug"], ev["token"])).connect()
        phone = await Peer(url, participant_auth(ev["slug"], new_token())).connect()
        await check(await phone.act("join", {"pseudonym": "Tulip"}))
        await phone.close()
        await check(act("add_walk_in", pseudonym="Late", to=2))
        await check(act("call_next"))
        await check(act("remove", entry=line()[0]["id"]))
    finally:
        for p in (first, second, phone):
            if p is not None:
                await p.close()
    for c in (first, second):
        # At most the connect moment: the presence update that follows a console's connect snapshot may be patched
        # against the view the process sent before (not the snapshot); the page then asks for a snapshot, as here.
        assert c.page.missed <= 1, [(m["v"], m.get("base"), m["key"]) for m in c.console_raw]
        patches = [m for m in c.console_raw if "patch" in m]
        whole = [m for m in c.console_raw if "patch" not in m]
        # Each got its first view in the snapshot on connect; the second console saw 4 changes, each awaited before the
        # next (the phone's going offline may travel with the next change: the outbox merges what comes meanwhile).
        assert len(patches) >= 4 and not whole
        biggest = max(len(json.dumps(m)) for m in patches)
        assert biggest * 10 < len(json.dumps(c.page.shown)), biggest
