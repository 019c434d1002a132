"""Presence: the console's "online" dots come from open sockets recorded per server process, so a phone is online
from the moment its page connects (even before it joins), stays online while any tab is open, and goes offline when
the last one closes or when the process holding it dies."""
from .harness import Picket

STALE_MS = 20_000


def console_online(p: Picket) -> dict:
    """Entry id -> online, as the console shows it (line, spots and past)."""
    snap = p.snapshot()
    return {r["id"]: r["online"] for r in snap["line"] + snap["active"] + snap["past"]}


def team_online(p: Picket) -> dict:
    """Coordinator label -> online."""
    return {c["label"]: c["online"] for c in p.snapshot()["team"]}


def test_a_page_connected_before_joining_is_online_once_joined(make_picket):
    """A phone opens the page (a socket, no participant row yet), then joins on that socket: online at once."""
    p = make_picket(auto_call=False)
    who = p.person()
    assert p.q.connected(who, "s1", "proc-a") is False  # recorded, but no console shows it yet: nothing to push
    entry = p.act(who, "join", {"pseudonym": "Early"}).result["entry"]
    _, other = p.join("Elsewhere")  # joined without an open socket
    online = console_online(p)
    assert online[entry] is True and online[other] is False


def test_online_while_any_tab_is_open(make_picket):
    """Two tabs of one phone: closing one keeps it online; closing the other makes it offline and sets last seen."""
    p = make_picket(auto_call=False)
    who, entry = p.join("Two tabs")
    token = p.tokens[who.token_hash]
    tab2 = p.person(token)
    assert p.q.connected(who, "t1", "proc-a") is True  # listed: the consoles are told
    assert p.q.connected(tab2, "t2", "proc-b") is True
    p.q.clock.advance(5_000)
    p.q.disconnected(who, "t1")
    assert console_online(p)[entry] is True
    p.q.clock.advance(5_000)
    p.q.disconnected(tab2, "t2")
    row = next(r for r in p.snapshot()["line"] if r["id"] == entry)
    assert row["online"] is False
    assert row["last_seen_at"] == p.q.clock.now()


def test_observers_are_not_recorded(make_picket):
    """A board's socket is nobody's presence."""
    p = make_picket()
    assert p.q.connected(p.observer(), "o1", "proc-a") is False
    assert p.q.disconnected(p.observer(), "o1") is False


def test_coordinators_online_in_the_team_list(make_picket):
    """The team list shows which coordinators have the console open."""
    p = make_picket()
    helper_token = p.c("invite", label="Helper").result["token"]
    helper = p.q.authenticate({"event": p.slug, "coordinator": helper_token})
    p.q.connected(helper, "c1", "proc-a")
    online = team_online(p)
    assert online["Helper"] is True and [v for k, v in online.items() if k != "Helper"] == [False]
    assert p.q.coordinator_sids(helper.coordinator_id) == ["c1"]
    p.q.disconnected(helper, "c1")
    assert team_online(p)["Helper"] is False


def test_a_dead_process_takes_its_sockets_with_it(make_picket):
    """Process A stops saying it is alive (killed): after the stale time, B's heartbeat forgets A's sockets (and names
    the event so its console is refreshed); B's own sockets and a freshly started process's count are untouched."""
    p = make_picket(auto_call=False)
    on_a, entry_a = p.join("On A")
    on_b, entry_b = p.join("On B")
    assert p.q.heartbeat("A", STALE_MS) == set() and p.q.heartbeat("B", STALE_MS) == set()
    p.q.connected(on_a, "a1", "A")
    p.q.connected(on_b, "b1", "B")
    # A new process C starts: nobody else's phones go offline (a start no longer resets anything).
    assert p.q.heartbeat("C", STALE_MS) == set()
    assert console_online(p) == {entry_a: True, entry_b: True}
    # A goes silent; B and C keep beating. Not yet stale ...
    p.q.clock.advance(STALE_MS)
    assert p.q.heartbeat("B", STALE_MS) == set()
    assert console_online(p)[entry_a] is True
    # ... and then it is.
    p.q.clock.advance(1)
    assert p.q.heartbeat("C", STALE_MS) == {p.event_id}
    assert console_online(p) == {entry_a: False, entry_b: True}
    assert p.q.heartbeat("B", STALE_MS) == set()
