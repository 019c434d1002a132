"""Races: many threads and several engines (think: processes) acting on one event at the same moment."""
import threading

from sqlalchemy import select

from coordinator.domain import DomainError
from coordinator.domain.models import Entry, Participant

from .harness import Picket, fresh_queue, new_op, new_token

ENGINES = 3  # separate database engines (separate connection pools), as separate server processes would have


def race(queues, calls):
    """Run `calls[i](queues[i % len(queues)])` in threads released together; returns results (value or error)."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def worker(i):
        """Wait for the others, then act and keep the answer or the error."""
        barrier.wait()
        try:
            results[i] = calls[i](queues[i % len(queues)])
        except Exception as e:  # noqa: BLE001 - collected and checked by the test
            results[i] = e

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    return results


def setup(url, **spec):
    """Several engines over one database, and a live event with two spots and six people waiting."""
    queues = [fresh_queue(url) for _ in range(ENGINES)]
    p = Picket(queues[0], spots=("A", "B"), auto_call=False, **spec)
    p.start()
    ids = [p.join(f"P{i}")[1] for i in range(6)]
    return queues, p, ids


def dispose(queues):
    """Close every engine's connections."""
    for q in queues:
        q.store.engine.dispose()


def called_rows(p):
    """(entry id, spot id) of everyone called or on a spot."""
    with p.q.store.read() as s:
        return [(e.id, e.spot_id) for e in s.scalars(select(Entry).where(
            Entry.event_id == p.event_id, Entry.state.in_(("called", "on_spot"))))]


def test_concurrent_call_next(any_db_url):
    """Eight coordinators press 'call next' at once with two spots: two calls, to two spots, two people."""
    queues, p, ids = setup(any_db_url)
    v = p.version()
    results = race(queues, [lambda q: q.perform(p.coord, "call_next", {}, new_op())] * 8)
    ok = [r for r in results if not isinstance(r, Exception)]
    errors = [r for r in results if isinstance(r, Exception)]
    assert all(isinstance(e, DomainError) and e.code in ("no_free_spot", "conflict") for e in errors), errors
    assert len(ok) == 2
    rows = called_rows(p)
    assert sorted(e for e, _ in rows) == ids[:2]  # the first two in line, each called once
    assert sorted(s for _, s in rows) == sorted(p.spot_ids)  # one per spot
    assert p.version() == v + 2
    dispose(queues)


def test_concurrent_stale_calls_of_one_person(any_db_url):
    """Coordinators looking at the same screen all call the same person to a free spot: exactly one call."""
    queues, p, ids = setup(any_db_url)
    calls = [lambda q, s=spot: q.perform(p.coord, "call_next", {"spot": s, "entry": ids[3]}, new_op())
             for spot in p.spot_ids * 4]
    results = race(queues, calls)
    ok = [r for r in results if not isinstance(r, Exception)]
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(ok) == 1
    assert all(isinstance(e, DomainError) and e.code in ("no_free_spot", "conflict") for e in errors), errors
    assert called_rows(p) == [(ids[3], ok[0].result["spot"]["id"])]
    dispose(queues)


def test_concurrent_joins_same_token_same_op(any_db_url):
    """20 threads send the same join (same token, same op id): one entry, one answer for all."""
    queues, p, _ = setup(any_db_url)
    token, op = new_token(), new_op()
    whos = [q.authenticate({"event": p.slug, "participant": token}) for q in queues]
    results = race(queues, [lambda q, i=i: q.perform(whos[i % ENGINES], "join", {"pseudonym": "Same"}, op)
                            for i in range(20)])
    assert not [r for r in results if isinstance(r, Exception)], results
    assert len({r.result["entry"] for r in results}) == 1
    assert len({repr(r.result) for r in results}) == 1  # the replays return the very first answer
    assert sum(1 for r in results if r.changed) == 1
    assert_one_entry(p, token)
    dispose(queues)


def test_concurrent_joins_same_token_different_ops(any_db_url):
    """20 threads join with the same token and different op ids (double taps, two tabs): still one entry."""
    queues, p, _ = setup(any_db_url)
    token = new_token()
    results = race(queues, [
        lambda q: q.perform(q.authenticate({"event": p.slug, "participant": token}), "join",
                            {"pseudonym": "Same"}, new_op()) for _ in range(20)])
    assert not [r for r in results if isinstance(r, Exception)], results
    assert len({r.result["entry"] for r in results}) == 1
    assert sum(1 for r in results if not r.result.get("already")) == 1
    assert_one_entry(p, token)
    dispose(queues)


def test_concurrent_joins_different_tokens(any_db_url):
    """Many people join at once: every one gets a distinct ticket and the line has no gaps."""
    queues, p, ids = setup(any_db_url)
    results = race(queues, [
        lambda q: q.perform(q.authenticate({"event": p.slug, "participant": new_token()}), "join",
                            {"pseudonym": "Many"}, new_op()) for _ in range(12)])
    assert not [r for r in results if isinstance(r, Exception)], results
    tickets = sorted(r.result["ticket"] for r in results)
    assert tickets == list(range(7, 19))
    assert len(p.line()) == 18 and p.line()[:6] == ids
    dispose(queues)


def assert_one_entry(p, token):
    """The token has exactly one participant row and one entry."""
    from coordinator.domain.tokens import hash_token
    with p.q.store.read() as s:
        parts = list(s.scalars(select(Participant).where(Participant.token_hash == hash_token(token))))
        assert len(parts) == 1
        entries = list(s.scalars(select(Entry).where(Entry.participant_id == parts[0].id)))
        assert len(entries) == 1 and entries[0].state == "waiting"


def test_tick_and_coordinator_race(any_db_url):
    """A ticker's no-show and a coordinator's skip of the same person at once: each change gets its own version."""
    queues, p, ids = setup(any_db_url, grace_ms=15_000)
    p.c("call_next", entry=ids[0])
    v = p.version()
    p.q.clock.advance(15_000)
    for q in queues:
        q.clock = p.q.clock
    results = race(queues, [lambda q: q.tick(), lambda q: q.perform(p.coord, "skip", {"entry": ids[0]}, new_op())])
    assert not [r for r in results if isinstance(r, Exception)], results
    changes = [o for o in results[0] if o.changed] + [results[1]]
    assert sorted(o.v for o in changes) == list(range(v + 1, v + 1 + len(changes)))
    assert p.version() == v + len(changes)
    assert p.entry(ids[0]).state == "waiting" and p.line().count(ids[0]) == 1
    assert called_rows(p) == []
    dispose(queues)
