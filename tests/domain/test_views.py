"""What each role sees (no pseudonyms leak), and the position diffs sent with every change."""
import json

from hypothesis import given, settings, strategies as st

from coordinator.domain import views

from .harness import apply_moves

PUBLIC_KEYS = {"event", "spots", "counts", "est", "eta_new"}


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
