"""Every event's data is deleted on a schedule, including events nobody ends."""
from sqlalchemy import func, select

from coordinator.domain.models import Entry, Event
from tests.conftest import new_op, new_token

HOUR = 3600_000


def _event(queue, **spec):
    public, token = queue.create_event({"title": "Retention", **spec})
    slug = public["event"]["slug"]
    owner = queue.authenticate({"event": slug, "coordinator": token})
    person = queue.authenticate({"event": slug, "participant": new_token()})
    queue.perform(person, "join", {"pseudonym": "Forgotten"}, new_op())
    return slug, owner


def _rows(queue, slug):
    with queue.store.read() as s:
        ev = s.scalars(select(Event).where(Event.slug == slug)).first()
        if ev is None:
            return None
        return ev.state, ev.purge_at, s.scalar(select(func.count(Entry.id)).where(Entry.event_id == ev.id))


def test_an_event_nobody_ends_is_ended_after_its_maximum_age_then_purged(queue):
    slug, _ = _event(queue, purge_after_ms=2 * HOUR)
    queue.clock.advance(queue.max_event_ms - 1)
    assert queue.end_stale() == []
    assert _rows(queue, slug)[0] == "open"

    queue.clock.advance(1)
    outs = queue.end_stale()
    assert [o.slug for o in outs] == [slug] and outs[0].changed
    state, purge_at, entries = _rows(queue, slug)
    assert state == "ended" and purge_at == queue.clock.now() + 2 * HOUR and entries == 1
    assert queue.end_stale() == []  # ended once, not again

    queue.clock.advance(2 * HOUR - 1)
    assert queue.purge_due() == [] and _rows(queue, slug) is not None
    queue.clock.advance(1)
    assert queue.purge_due() == [slug]
    assert _rows(queue, slug) is None


def test_an_ended_event_keeps_its_own_purge_time(queue):
    slug, owner = _event(queue, purge_after_ms=0)
    queue.perform(owner, "end", {}, new_op())
    assert queue.purge_due() == [slug]
    assert _rows(queue, slug) is None


def test_young_events_are_left_alone(queue):
    slug, _ = _event(queue)
    queue.clock.advance(HOUR)
    assert queue.end_stale() == [] and queue.purge_due() == []
    assert _rows(queue, slug)[0] == "open"
