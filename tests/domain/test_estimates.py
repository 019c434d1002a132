"""Estimates: place, people ahead, and an ETA range that learns from this event's slots and no-shows."""
import heapq

from hypothesis import given, settings, strategies as st

from coordinator.domain import estimates

SLOT = 300_000


def test_turn_model_prior_only():
    """With no data the turn is the configured slot, with a range around it."""
    m = estimates.turn_model(SLOT, 120_000, [], 0, 0)
    assert m["turn_ms"] == SLOT and m["lo_ms"] < SLOT < m["hi_ms"] and m["noshow_rate"] == 0


def test_turn_model_learns_short_slots():
    """Several short slots pull the expected turn down, the more the more there are."""
    few = estimates.turn_model(SLOT, 120_000, [60_000] * 2, 2, 0)
    many = estimates.turn_model(SLOT, 120_000, [60_000] * 20, 20, 0)
    assert many["turn_ms"] < few["turn_ms"] < SLOT
    assert many["turn_ms"] < 100_000


def test_turn_model_counts_no_shows():
    """No-shows cost the grace time, not a slot: a high no-show rate shortens the turn."""
    none = estimates.turn_model(SLOT, 60_000, [], 10, 0)
    half = estimates.turn_model(SLOT, 60_000, [], 10, 5)
    assert half["noshow_rate"] > 0 and half["turn_ms"] < none["turn_ms"]


def test_time_to_call_uses_the_spot_that_frees_first():
    """Each person ahead takes the earliest free spot for one turn; the call comes lead_ms earlier."""
    now = 1_000_000
    free = [now + 50_000, now + 10_000]
    assert estimates.time_to_call(1, free, 100_000, 0, now) == 10_000
    assert estimates.time_to_call(2, free, 100_000, 0, now) == 50_000
    assert estimates.time_to_call(3, free, 100_000, 0, now) == 110_000
    assert estimates.time_to_call(3, free, 100_000, 30_000, now) == 80_000
    assert estimates.time_to_call(1, [now - 5_000], 100_000, 0, now) == 0  # overdue spot: now
    assert estimates.time_to_call(1, [], 100_000, 0, now) == 0


def test_eta_range_is_ordered():
    """lo <= mid <= hi for any place."""
    est = estimates.turn_model(SLOT, 120_000, [200_000, 400_000, 250_000, 310_000, 500_000], 5, 1) | {
        "lead_ms": 60_000, "free_at": [0, 100_000]}
    for pos in range(1, 30):
        e = estimates.eta(pos, est, 0)
        assert e["lo_ms"] <= e["mid_ms"] <= e["hi_ms"]


def test_event_estimate_drops_after_short_slots(make_picket):
    """After several short pickets, the estimate for the same place in line is lower than at the start."""
    p = make_picket(spots=("A",), auto_call=False, slot_ms=SLOT, lead_ms=0)
    p.start()
    people = [p.join(f"P{i}") for i in range(12)]
    third = people[7][0]
    first = p.snapshot(third)["me"]
    assert first["position"] == 8 and first["ahead"] == 7
    assert first["eta"]["mid_ms"] == 7 * SLOT
    for who, _ in people[:5]:
        p.c("call_next")
        p.act(who, "confirm_arrival")
        p.q.clock.advance(60_000)
        p.act(who, "finish")
    later = p.snapshot(third)["me"]
    assert later["position"] == 3 and later["ahead"] == 2
    public = p.snapshot(p.observer())["public"]
    assert public["est"]["turn_ms"] < SLOT
    # The same place in line now waits less than it did before the short slots.
    now = p.q.clock.now()
    assert estimates.eta(8, public["est"], now)["mid_ms"] < first["eta"]["mid_ms"]
    assert later["eta"] == estimates.eta(3, public["est"], now)
    assert public["eta_new"] == estimates.eta(public["counts"]["line"] + 1, public["est"], now)


def test_paused_estimate_is_frozen(make_picket):
    """While paused, the estimate does not count down."""
    p = make_picket(spots=("A",), slot_ms=SLOT)
    p.start()
    a, _ = p.join("A")
    b, _ = p.join("B")
    p.act(a, "confirm_arrival")
    p.c("pause")
    before = p.snapshot(b)["me"]["eta"]
    p.q.clock.advance(100_000)
    assert p.snapshot(b)["me"]["eta"] == before


def test_event_estimate_drops_after_no_shows(make_picket):
    """People who do not show up cost the grace time, not a slot: the turn estimate falls with the no-show rate."""
    p = make_picket(spots=("A",), slot_ms=SLOT, grace_ms=15_000)
    p.start()
    for i in range(8):
        p.join(f"P{i}")
    start = p.snapshot(p.observer())["public"]["est"]
    assert start["turn_ms"] == SLOT and start["noshow_rate"] == 0
    for _ in range(4):
        p.q.clock.advance(15_000)
        p.q.tick()
    est = p.snapshot(p.observer())["public"]["est"]
    assert p.event().noshows == 4 and est["noshow_rate"] > 0
    assert est["turn_ms"] < SLOT


def turn_by_turn(position, free_at, turn_ms, lead_ms, now):
    """The plain simulation (as static/js/eta.js runs it): one person ahead at a time."""
    if not free_at or position < 1:
        return 0
    heap = [max(t, now) for t in free_at]
    heapq.heapify(heap)
    for _ in range(position - 1):
        heapq.heappush(heap, heapq.heappop(heap) + turn_ms)
    return max(0, heap[0] - lead_ms - now)


@settings(max_examples=400, deadline=None)
@given(st.integers(0, 3000), st.lists(st.integers(900_000, 1_600_000), max_size=6), st.integers(0, 400_000),
       st.integers(0, 100_000))
def test_time_to_call_equals_the_turn_by_turn_simulation(position, free_at, turn_ms, lead_ms):
    """Skipping whole rounds gives exactly the turn-by-turn result, deep in line too."""
    now = 1_000_000
    assert estimates.time_to_call(position, free_at, turn_ms, lead_ms, now) == \
        turn_by_turn(position, free_at, turn_ms, lead_ms, now)
