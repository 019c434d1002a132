"""Estimated time to a person's call, learned from what this event has actually done so far.

A turn is how long one person in line occupies a spot. It starts at the configured slot length and moves towards the
observed slot lengths as pickets are held (the configured length counts as three observations). No-shows make the
line faster per person (a no-show costs the grace time, not a slot), so the expected time per person mixes both by the
observed no-show rate. The range widens when there is little data. The same simulation runs in `static/js/eta.js`.
"""
from __future__ import annotations

import heapq
from statistics import quantiles

PRIOR_WEIGHT = 3


def turn_model(slot_ms: int, grace_ms: int, observed: list[int], calls: int, noshows: int) -> dict:
    """Expected time per person in line, with a low and a high bound, in milliseconds."""
    n = len(observed)
    mid_slot = (PRIOR_WEIGHT * slot_ms + sum(observed)) / (PRIOR_WEIGHT + n)
    if n >= 4:
        q = quantiles(observed, n=10)
        spread = max(0.1 * mid_slot, (q[8] - q[0]) / 2)
    else:
        spread = max(0.1 * mid_slot, 0.25 * mid_slot * (PRIOR_WEIGHT / (PRIOR_WEIGHT + n)))
    rate = noshows / (calls + 2) if calls else 0.0  # +2: one no-show does not make everybody a no-show
    mix = lambda slot: (1 - rate) * slot + rate * grace_ms  # noqa: E731
    mid = mix(mid_slot)
    return {"turn_ms": int(mid), "lo_ms": int(max(mix(mid_slot - spread), 0.3 * mid)),
            "hi_ms": int(mix(mid_slot + spread)), "noshow_rate": round(rate, 3)}


def time_to_call(position: int, free_at: list[int], turn_ms: int, lead_ms: int, now: int) -> int:
    """Milliseconds until the person at `position` (1-based) is called, if every turn lasts `turn_ms`."""
    if not free_at or position < 1:
        return 0
    heap = [max(t, now) for t in free_at]
    heapq.heapify(heap)
    turns = position - 1  # each person ahead takes the spot that frees first, for one turn
    while turns and max(heap) - heap[0] > turn_ms:
        heapq.heappush(heap, heapq.heappop(heap) + turn_ms)
        turns -= 1
    # Once every spot frees within one turn of the first, the spots take turns in a fixed order: k more people
    # shift every free time by one turn. So whole rounds are added at once, and a place deep in line costs no
    # more than one near the front (the result is the same as turn-by-turn).
    rounds, turns = divmod(turns, len(heap))
    heap = [t + rounds * turn_ms for t in heap]
    for _ in range(turns):
        heapq.heappush(heap, heapq.heappop(heap) + turn_ms)
    return max(0, heap[0] - lead_ms - now)


def through_at(line: int, est: dict, now: int) -> int | None:
    """When the whole line is expected to be through (the last person's turn over), as a time; None when nobody is
    in line or on a spot."""
    free_at = est["free_at"]
    last = max(free_at, default=now)
    if line:
        last = max(last, now + time_to_call(line, free_at, est["turn_ms"], est["lead_ms"], now) + est["lead_ms"]
                   + est["turn_ms"])
    return last if last > now else None


def eta(position: int, est: dict, now: int) -> dict:
    """Low, middle and high estimate of the time to the call for a place in line."""
    free_at, lead = est["free_at"], est["lead_ms"]
    return {k: time_to_call(position, free_at, est[t], lead, now)
            for k, t in (("lo_ms", "lo_ms"), ("mid_ms", "turn_ms"), ("hi_ms", "hi_ms"))}
