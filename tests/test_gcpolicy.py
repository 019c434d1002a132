"""The quiet collector: the oldest generation is collected when nothing is being broadcast, within bounds."""
from __future__ import annotations

import gc

from conftest import HandClock as Clock
from coordinator.gcpolicy import NEVER, QuietCollector


def test_install_takes_only_the_oldest_generation_off_the_schedule():
    before = gc.get_threshold()
    c = QuietCollector()
    c.install()
    try:
        assert gc.get_threshold() == (before[0], before[1], NEVER)
    finally:
        c.uninstall()
    assert gc.get_threshold() == before


def test_collects_when_quiet_but_not_more_often_than_min_gap():
    clock = Clock()
    c = QuietCollector(quiet=2, min_gap=60, max_gap=600, clock=clock)
    clock.t += 30
    assert not c.due(), "too soon after the last full collection"
    clock.t += 40  # 70 s since the last full collection, 70 s quiet
    assert c.due()
    assert c.step()
    assert not c.due(), "just collected"


def test_waits_while_changes_are_being_broadcast():
    clock = Clock()
    c = QuietCollector(quiet=2, min_gap=60, max_gap=600, clock=clock)
    for _ in range(100):  # a change every second for 100 s
        clock.t += 1
        c.busy()
        assert not c.due()
    clock.t += 2.5  # then a pause
    assert c.due()


def test_collects_after_max_gap_even_when_never_quiet():
    clock = Clock()
    c = QuietCollector(quiet=2, min_gap=60, max_gap=600, clock=clock)
    for _ in range(599):
        clock.t += 1
        c.busy()
    assert not c.due()
    clock.t += 1
    c.busy()
    assert c.due()


def test_step_really_collects_cycles_that_young_collections_leave():
    class Node:
        pass
    c = QuietCollector(quiet=0, min_gap=0, max_gap=0)
    c.install()
    try:
        a, b = Node(), Node()
        a.other, b.other = b, a
        gc.collect(1)  # they survive a young collection (still referenced) and move to the oldest generation
        del a, b
        gc.collect(0), gc.collect(1)  # young collections do not look at the oldest generation
        assert sum(1 for o in gc.get_objects() if isinstance(o, Node)) == 2
        assert c.step()
        assert sum(1 for o in gc.get_objects() if isinstance(o, Node)) == 0
    finally:
        c.uninstall()
