"""Join gates (open, on site, approval), paused joining, bulk removal with undo, and the short grace for people
nobody can reach (issue 8)."""
from __future__ import annotations

import pytest

from coordinator.domain import DomainError
from coordinator.domain import gate as gate_codes


def code_now(p) -> str:
    ev = p.event()
    return gate_codes.current(ev.gate_secret, ev.gate_epoch, p.q.clock.now())["code"]


def fails(code, fn, *a, **kw):
    with pytest.raises(DomainError) as e:
        fn(*a, **kw)
    assert e.value.code == code, e.value.message


def line_names(p) -> list[str]:
    return [r["pseudonym"] for r in p.snapshot()["line"]]


def test_open_gate_is_the_default_and_takes_the_link_alone(make_picket):
    p = make_picket()
    assert p.event().gate == "open"
    p.join("Anna")
    assert line_names(p) == ["Anna"]


def test_onsite_gate_needs_a_current_code(make_picket):
    p = make_picket(gate="onsite")
    fails("code_required", p.join, "Anna")
    fails("code_wrong", p.act, p.person(), "join", {"pseudonym": "Anna", "code": "12345"})
    good = code_now(p)
    wrong = str((int(good) + 1) % 10**6).zfill(6)
    fails("code_wrong", p.act, p.person(), "join", {"pseudonym": "Anna", "code": wrong})
    p.act(p.person(), "join", {"pseudonym": "Anna", "code": good})
    # still good three minutes later (read off the screen just before it changed), not after four
    p.q.clock.advance(3 * 60_000)
    p.act(p.person(), "join", {"pseudonym": "Boris", "code": good})
    p.q.clock.advance(60_000)
    fails("code_wrong", p.act, p.person(), "join", {"pseudonym": "Clara", "code": good})
    # a new code at once: the one shown a moment ago stops working
    fresh = code_now(p)
    p.c("new_code")
    fails("code_wrong", p.act, p.person(), "join", {"pseudonym": "Clara", "code": fresh})
    p.act(p.person(), "join", {"pseudonym": "Clara", "code": code_now(p)})
    assert line_names(p) == ["Anna", "Boris", "Clara"]
    assert "code" in p.snapshot()["joining"] and p.snapshot()["joining"]["gate"] == "onsite"


def test_approval_gate_waits_until_admitted(make_picket):
    p = make_picket(gate="approval")
    anna, a = p.join("Anna")
    boris, b = p.join("Boris")
    p.join("Clara")
    snap = p.snapshot()
    assert line_names(p) == [] and [r["pseudonym"] for r in snap["requests"]] == ["Anna", "Boris", "Clara"]
    assert p.q.snapshot(anna)["me"]["state"] == "pending"
    assert p.act(anna, "join", {"pseudonym": "Anna"}).result["already"] is True  # no second request
    p.c("admit", entry=b)
    assert line_names(p) == ["Boris"]
    out = p.c("admit_all")
    assert out.result == {"admitted": 2}
    assert line_names(p) == ["Boris", "Anna", "Clara"] and p.snapshot()["requests"] == []
    fails("conflict", p.c, "admit", entry=a)  # not pending any more
    # a request can be declined (removed), and the person can leave while waiting
    _, d = p.join("Dan")
    eve, _ = p.join("Eve")
    p.c("remove", entry=d)
    p.act(eve, "leave")
    assert p.snapshot()["requests"] == []


def test_paused_joining_refuses_joins_but_keeps_the_line(make_picket):
    p = make_picket()
    p.join("Anna")
    p.c("settings", joining_paused=True)
    fails("joining_paused", p.join, "Boris")
    assert p.q.snapshot(p.observer())["public"]["event"]["joining_paused"] is True
    p.c("settings", joining_paused=False)
    p.join("Boris")
    assert line_names(p) == ["Anna", "Boris"]


def test_gate_setting_is_checked(make_picket):
    p = make_picket()
    fails("bad_request", p.c, "settings", gate="closed")
    p.c("settings", gate="approval")
    assert p.event().gate == "approval"


def test_bulk_removal_by_time_window_counts_first_and_undoes_in_one_step(make_picket):
    p = make_picket()
    p.join("Anna")
    t0 = p.q.clock.advance(60_000)
    for i in range(30):
        p.join(f"Bot {i}", live=False)
    t1 = p.q.clock.now()
    p.q.clock.advance(1000)
    p.join("Boris")
    v = p.version()
    dry = p.c("remove_bulk", select="joined", since=t0, until=t1, dry_run=True)
    assert dry.result == {"count": 30, "dry_run": True} and p.version() == v  # counting changes nothing
    out = p.c("remove_bulk", select="joined", since=t0, until=t1)
    assert out.result["removed"] == 30
    assert line_names(p) == ["Anna", "Boris"]
    assert [r["action"] for r in p.snapshot()["log"]].count("remove_bulk") == 1  # one log line
    p.c("undo_bulk", batch=out.result["batch"])
    assert line_names(p) == ["Anna"] + [f"Bot {i}" for i in range(30)] + ["Boris"]  # their old places


def test_bulk_removal_of_never_live_and_offline(make_picket):
    p = make_picket()
    anna, _ = p.join("Anna")  # opened a live page, but it is closed now (no connection row)
    p.join("Bot", live=False)
    boris, _ = p.join("Boris")
    p.q.connected(boris, "sid-boris", "proc")
    p.c("add_walk_in", pseudonym="Walk-in")  # never taken by a bulk removal
    assert p.c("remove_bulk", select="never_live", dry_run=True).result["count"] == 1
    assert p.c("remove_bulk", select="offline", dry_run=True).result["count"] == 2  # Anna and the bot
    p.c("remove_bulk", select="never_live")
    assert line_names(p) == ["Anna", "Boris", "Walk-in"]
    fails("bad_request", p.c, "remove_bulk", select="everyone")


def test_unreachable_person_is_skipped_after_the_short_grace(make_picket):
    p = make_picket(auto_call=False, spots=("A",), grace_ms=300_000, unreachable_ms=20_000)
    p.start()
    _, bot = p.join("Bot", live=False)
    _, anna = p.join("Anna")
    p.c("call_next")
    called = p.entry(bot)
    assert called.deadline_at == called.called_at + 20_000
    why = p.snapshot()["log"][0]
    assert why["action"] == "unreachable" and why["detail"] == "20" and why["pseudonym"] == "Bot"  # the console says why
    p.q.clock.advance(20_001)
    p.q.tick()
    assert p.entry(bot).state == "waiting" and p.entry(bot).misses == 1  # a no-show, as after the full grace
    p.c("call_next")
    assert p.entry(anna).state == "called"
    assert p.entry(anna).deadline_at == p.entry(anna).called_at + 300_000  # reachable: the full grace
