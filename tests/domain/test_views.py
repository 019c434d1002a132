"""What each role sees (no pseudonyms leak), and the position diffs sent with every change."""
import json
from bisect import bisect_left

import pytest
from hypothesis import given, settings, strategies as st

from coordinator.domain import views
from coordinator.domain.errors import BadRequest, Forbidden
from coordinator.domain.line import FEW, shifts
from coordinator.domain.queue import SHARED_MS

from . import naive_views as naive
from .harness import apply_moves, apply_patch

PUBLIC_KEYS = {"event", "spots", "counts", "est", "eta_new", "next", "through_at"}


def crowd(p, names):
    """Join people with the given names; returns [(principal, entry id)]."""
    return [p.join(n) for n in names]


def test_public_block_has_no_pseudonyms(make_picket):
    """Observers and participants see tickets and counts, never names, by default."""
    p = make_picket(auto_call=False)
    p.start()
    people = crowd(p, ["Qwertyname", "Asdfname", "Zxcvname"])
    p.c("call_next")
    p.act(people[0][0], "confirm_arrival")
    p.c("call_next")
    obs = p.snapshot(p.observer())
    me = p.snapshot(people[2][0])
    for body, allowed in ((obs, set()), (me, {"Zxcvname"})):
        text = json.dumps(body)
        for name in {"Qwertyname", "Asdfname", "Zxcvname"} - allowed:
            assert name not in text
    assert set(obs["public"]) == set(me["public"]) == PUBLIC_KEYS
    assert set(me) == {"role", "v", "server_now", "public", "announcements", "me"}
    assert me["me"]["pseudonym"] == "Zxcvname" and me["me"]["position"] == 1
    spot = obs["public"]["spots"][0]
    assert spot["status"] == "busy" and spot["ticket"] == 1 and spot["name"] is None
    assert obs["public"]["counts"]["line"] == 1


def test_show_pseudonyms_only_for_observers(make_picket):
    """With show_pseudonyms, observers see the name on the spot; participants still see no other names."""
    p = make_picket(auto_call=False, show_pseudonyms=True)
    p.start()
    people = crowd(p, ["Holdername", "Waitername"])
    p.c("call_next")
    out = p.act(people[0][0], "confirm_arrival")
    assert out.observer_public["spots"][0]["name"] == "Holdername"
    assert "Holdername" not in json.dumps(out.public)
    assert p.snapshot(p.observer())["public"]["spots"][0]["name"] == "Holdername"
    assert "Holdername" not in json.dumps(p.snapshot(people[1][0]))
    assert "Waitername" not in json.dumps(p.snapshot(p.observer()))  # people in line are never listed


def test_coordinator_sees_everyone(make_picket):
    """The console view names everyone, with positions 1..N in line order."""
    p = make_picket(auto_call=False)
    p.start()
    ids = [e for _, e in crowd(p, ["One", "Two", "Three"])]
    p.c("move", entry=ids[2], to=1)
    snap = p.snapshot()
    assert [(r["id"], r["position"], r["pseudonym"]) for r in snap["line"]] == [
        (ids[2], 1, "Three"), (ids[0], 2, "One"), (ids[1], 3, "Two")]


def test_participant_without_entry(make_picket):
    """A token that has not joined sees the public block and me: null."""
    p = make_picket()
    snap = p.snapshot(p.person())
    assert snap["role"] == "participant" and snap["me"] is None


@st.composite
def line_change(draw):
    """An old line, and a new line made of survivors in any order plus newcomers anywhere."""
    before = draw(st.lists(st.integers(1, 60), unique=True, max_size=25))
    survivors = draw(st.permutations([e for e in before if draw(st.booleans())]))
    newcomers = draw(st.lists(st.integers(100, 160), unique=True, max_size=5))
    after = list(survivors)
    for n in newcomers:
        after.insert(draw(st.integers(0, len(after))), n)
    return before, after


@settings(max_examples=300, deadline=None)
@given(line_change())
def test_moves_reconstruct_new_positions(change):
    """Applying (gone, moves) to each old position gives exactly the new position of that entry."""
    before, after = change
    gone, moves = views.moves(before, after)
    for old, eid in enumerate(before, start=1):
        expected = after.index(eid) + 1 if eid in after else None
        assert apply_moves(old, gone, moves) == expected
    for lo, hi, d in moves:  # ranges are well-formed and disjoint
        assert lo <= hi and d != 0
    covered = [x for lo, hi, _ in moves for x in range(lo, hi + 1)]
    assert len(covered) == len(set(covered))


def test_outcome_moves_match_the_line(make_picket):
    """The gone/moves an action reports turn the line before it into the line after it."""
    p = make_picket(auto_call=False)
    p.start()
    ids = [e for _, e in crowd(p, "ABCDEF")]
    for action, args in (("move", {"entry": ids[5], "to": 2}), ("remove", {"entry": ids[1]}),
                         ("skip", {"entry": ids[0]}), ("call_next", {})):
        before = p.line()
        out = p.c(action, **args)
        after = p.line()
        for old, eid in enumerate(before, start=1):
            new = apply_moves(old, out.gone, out.moves)
            assert new == (after.index(eid) + 1 if eid in after else None)


@st.composite
def keyed_change(draw):
    """Entries with a key (rank, id) before and after a transaction; untouched ones keep theirs (ranks may tie)."""
    n = draw(st.integers(0, 30))
    rank = st.one_of(st.none(), st.integers(0, 12))
    old = {i: draw(rank) for i in range(1, n + 1)}
    new = {i: draw(rank) if draw(st.booleans()) else r for i, r in old.items()}
    for i in range(n + 1, n + 1 + draw(st.integers(0, 4))):  # added by the transaction
        old[i], new[i] = None, draw(rank)
    key = lambda i, r: None if r is None else (r, i)  # noqa: E731
    return {i: (key(i, old[i]), key(i, new[i])) for i in old}


@settings(max_examples=500, deadline=None)
@given(keyed_change())
def test_shifts_from_changed_keys_equal_moves_of_whole_lines(entries):
    """`line.shifts` (changed entries + COUNTs) gives exactly what `views.moves` gives from both whole lines."""
    before = [i for i, (o, _) in sorted(entries.items(), key=lambda x: x[1][0] or ()) if o is not None]
    after_keys = sorted(n for _, n in entries.values() if n is not None)
    changed = [(o, n) for o, n in entries.values() if o != n]
    below = {k: bisect_left(after_keys, k) for pair in changed for k in pair if k is not None}
    assert shifts(changed, below, len(after_keys)) == views.moves(before, [k[1] for k in after_keys])



def test_outcome_moves_match_a_long_renumbered_line(make_picket):
    """In a line longer than `line.FEW`, through a renumbering of ranks and the end, moves still match the line."""
    p = make_picket(auto_call=False, max_queue=1000)
    p.start()
    ids = [e for _, e in crowd(p, [f"P{i}" for i in range(FEW + 10)])]
    first_rank, renumbered = p.entry(ids[2]).rank, False
    steps = [("skip", {"entry": ids[10]}), ("call_next", {}), ("remove", {"entry": ids[3]}),
             ("add_walk_in", {"pseudonym": "Walker", "to": 5})]
    steps += [("move", {"entry": ids[-1 - i], "to": 2}) for i in range(25)]  # halves one gap until none is left
    for action, args in steps + [("end", {})]:
        before = p.line()
        out = p.c(action, **args)
        after = p.line()
        assert (out.gone, out.moves) == views.moves(before, after), action
        if action == "move" and p.entry(ids[2]).rank != first_rank:
            renumbered = True
    assert renumbered and p.line() == []

# ---------------------------------------------------------------- views.py == the naive builders

def test_payloads_equal_naive_builders_through_an_event(make_picket):
    """Console, public blocks and `me` equal the naive builders' at every step of a busy event."""
    crowd(make_picket(), ["Other", "Event"])  # so that entry ids and tickets differ
    p = make_picket(spots=("A", "B", "C"), auto_call=False, show_pseudonyms=True, grace_ms=30_000)
    checked = lambda out: naive.same_payloads(p, out)  # noqa: E731
    checked(p.start())
    people = crowd(p, ["Anna", "Boris", "Chen", "Dina", "Emil", "Fay", "Gus", "Hana"])
    checked(p.c("add_walk_in", pseudonym="Walker", to=2))
    sub = {"endpoint": "https://push.example/abc", "keys": {"p256dh": "x" * 20, "auth": "y" * 10}}
    checked(p.act(people[1][0], "set_push", {"subscription": sub}))
    p.q.connected(people[2][0], "sid-1", "proc")
    p.q.connected(p.coord, "sid-2", "proc")
    checked(p.c("invite", label="Helper"))
    helper = p.c("invite", label="Gone").result["coordinator"]
    checked(p.c("revoke", coordinator=helper))
    checked(p.c("broadcast", text="Water at the corner"))
    checked(p.c("call_next"))
    checked(p.act(people[0][0], "confirm_arrival"))
    checked(p.c("call_next"))
    checked(p.act(people[3][0], "step_away"))
    checked(p.c("move", entry=people[6][1], to=1))
    checked(p.c("skip", entry=people[4][1]))
    p.q.clock.advance(40_000)
    outs = p.q.tick()  # the called walk-in did not come: a no-show, back into line
    assert [o.changed for o in outs] == [True] and p.log("no_show")
    checked(outs[0])
    checked(p.c("finish", entry=people[0][1]))
    checked(p.c("call_next"))
    for i in (5, 7):  # two leave at the same moment: equal finished_at, so line order decides in `past`
        checked(p.c("remove", entry=people[i][1]))
    checked(p.c("detain", entry=people[2][1], note="Station 4", pause=False))
    checked(p.act(people[6][0], "delete_me"))
    checked(p.c("spots", spots=[{"id": p.spot_ids[0], "label": "A"}, {"id": p.spot_ids[1], "label": "B2"}]))
    checked(p.c("recall", entry=people[5][1], to=2))
    p.q.clock.advance(5_000)
    checked(p.c("pause"))
    naive.same_payloads(p)
    p.q.clock.advance(60_000)
    checked(p.c("resume"))
    checked(p.c("end"))
    naive.same_payloads(p)


def test_payloads_equal_naive_builders_past_and_log_limits(make_picket):
    """Beyond 200 done and 100 log rows (all ended at one moment), the console still equals the naive one."""
    p = make_picket(spots=("A",), auto_call=False, max_queue=1000)
    p.start()
    people = crowd(p, [f"P{i}" for i in range(206)])
    p.c("move", entry=people[-1][1], to=1)
    p.c("call_next")
    naive.same_payloads(p)
    naive.same_payloads(p, p.c("end"))


def test_console_lists_the_first_people_and_finds_anyone(make_picket):
    """The console view lists the first LINE_WINDOW people in line and counts all; `find` looks anyone up by ticket
    number or part of a name (any case, Cyrillic included), with their place now, in line order, at most
    FIND_LIMIT of them, and the same rows as the console shows."""
    p = make_picket(spots=("A",), auto_call=False, max_queue=1000)
    p.start()
    n = views.LINE_WINDOW + 25
    people = crowd(p, [f"Person{i:03d}" for i in range(n - 1)] + ["Ёжик Последний"])
    view = p.snapshot()
    assert [r["id"] for r in view["line"]] == [e for _, e in people[:views.LINE_WINDOW]]
    assert [r["position"] for r in view["line"]] == list(range(1, views.LINE_WINDOW + 1))
    assert view["public"]["counts"]["line"] == n

    last = p.q.find(p.coord, "  ёЖИК ")  # SQLite's LIKE folds only ASCII: matched in Python
    assert (last["found"], [r["id"] for r in last["line"]]) == (1, [people[-1][1]])
    assert last["line"][0]["position"] == n and last["line"][0]["pseudonym"] == "Ёжик Последний"
    assert last["v"] == view["v"] and last["q"] == "ёЖИК"

    deep = people[110][1]
    by_ticket = p.q.find(p.coord, f"#{p.entry(deep).ticket}")
    assert {r["id"]: r["position"] for r in by_ticket["line"]}[deep] == 111

    many = p.q.find(p.coord, "person")
    assert many["found"] == n - 1 and len(many["line"]) == views.FIND_LIMIT
    assert many["line"] == view["line"][:views.FIND_LIMIT]  # the console's own rows, places included
    assert p.q.find(p.coord, "nobody-has-this")["found"] == 0

    p.c("call_next")  # the first person leaves the line: everyone behind moves up one place
    assert p.q.find(p.coord, "ёжик")["line"][0]["position"] == n - 1
    assert p.q.find(p.coord, "Person000")["found"] == 0  # called: no longer in line

    with pytest.raises(Forbidden):
        p.q.find(people[0][0], "Person")
    with pytest.raises(Forbidden):
        p.q.find(p.observer(), "Person")
    for bad in ("", "   ", "x" * 33, 5, None, ["Person"], "a\u0000b"):
        with pytest.raises(BadRequest):
            p.q.find(p.coord, bad)


# ---------------------------------------------------------------- patches of the public block (`state` messages)

json_leaf = st.none() | st.booleans() | st.integers(-5, 5) | st.sampled_from(["a", "b"])
json_tree = st.recursive(json_leaf, lambda kids: st.lists(kids, max_size=3) | st.dictionaries(
    st.sampled_from(["x", "y", "z"]), kids, max_size=3), max_leaves=12)


@given(st.dictionaries(st.sampled_from(["event", "spots", "counts"]), json_tree),
       st.dictionaries(st.sampled_from(["event", "spots", "counts"]), json_tree))
@settings(max_examples=300, deadline=None)
def test_patch_applied_to_the_old_block_gives_the_new_one(old, new):
    """Whatever changed (values, types, lengths, keys), the patch rebuilds the new block exactly, or says 'whole'."""
    patch = views.public_patch(old, new)
    if patch is None:
        assert old.keys() != new.keys()
    else:
        assert apply_patch(old, patch) == new


def test_patch_of_a_call_is_small(make_picket):
    """A call changes a few fields of the public block: the patch holds those and nothing else."""
    p = make_picket(auto_call=False)
    p.start()
    crowd(p, [f"Person {i}" for i in range(12)])
    before = p.snapshot(p.observer())["public"]
    p.c("call_next")
    after = p.snapshot(p.observer())["public"]
    patch = views.public_patch(before, after)
    assert apply_patch(before, patch) == after
    assert patch["spots.0.status"] == "called" and patch["counts.line"] == 11
    assert not any(k.startswith("event") for k in patch)  # the event did not change
    assert len(json.dumps(patch, separators=(",", ":"))) < len(json.dumps(after, separators=(",", ":"))) / 3
    assert views.public_patch(after, after) == {}
    assert views.public_patch(None, after) is None


def test_a_list_sent_whole_when_that_is_shorter():
    """The next tickets all move on a call: the list whole is fewer bytes than three index paths. A long member
    with one changed field still goes by its path."""
    assert views.public_patch({"next": [1, 2, 3]}, {"next": [2, 3, 4]}) == {"next": [2, 3, 4]}
    old = {"spots": [{"label": "The long label of a spot", "status": "free"}]}
    new = {"spots": [{"label": "The long label of a spot", "status": "called"}]}
    assert views.public_patch(old, new) == {"spots.0.status": "called"}


def test_a_me_ignores_estimates_of_another_version_or_too_old(make_picket):
    """`Queue.me` takes the estimates of the `state` being sent only while the event is still at that version and
    for SHARED_MS after they were built (as snapshots share theirs); else it reads them again."""
    p = make_picket(spots=("A",), auto_call=False)
    p.start()
    crowd(p, ["Anna", "Boris"])
    chen, _ = p.join("Chen")
    out = p.c("call_next")
    stale = out.public["est"] | {"free_at": [0 for _ in out.public["est"]["free_at"]], "turn_ms": 1}
    shared = (out.v, out.server_now, stale)
    fresh = p.q.me(p.event_id, chen.participant_id)
    assert fresh["me"]["position"] == 2 and fresh["me"]["eta"]["mid_ms"] > 0, fresh
    # at its version, and fresh, the given estimates are used
    assert p.q.me(p.event_id, chen.participant_id, shared)["me"]["eta"] != fresh["me"]["eta"]
    p.q.clock.advance(SHARED_MS)
    assert p.q.me(p.event_id, chen.participant_id, shared) == p.q.me(p.event_id, chen.participant_id)
    shared = (out.v, p.q.clock.now(), stale)
    p.c("broadcast", text="A newer version")
    assert p.q.me(p.event_id, chen.participant_id, shared) == p.q.me(p.event_id, chen.participant_id)


def test_a_console_takes_the_public_block_of_its_own_version_only(make_picket):
    """`Queue.console` takes the named public block a change made only while the event is still at that version and
    for SHARED_MS after it was built."""
    p = make_picket(auto_call=False)
    p.start()
    crowd(p, ["Anna", "Boris"])
    out = p.c("call_next")
    marked = out.named_public | {"next": ["marked"]}
    assert p.q.console(p.event_id, (out.v, out.server_now, marked))["public"]["next"] == ["marked"]
    p.q.clock.advance(SHARED_MS)
    assert p.q.console(p.event_id, (out.v, out.server_now, marked)) == p.q.console(p.event_id)
    now = p.q.clock.now()
    p.c("broadcast", text="A newer version")
    assert p.q.console(p.event_id, (out.v, now, marked)) == p.q.console(p.event_id)
