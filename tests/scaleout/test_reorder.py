"""net.js's reorder buffer, fed crafted message orders on a virtual clock (the real file, run by node)."""
import _paths  # noqa: F401 - first: puts tests/server on the path
from versionchain import old_rule_gaps, replay


def test_a_change_that_comes_early_waits_for_the_one_before_it():
    """5 arrives before 4 (another process sent 4): no snapshot, and the page ends on 7."""
    rec = {"v": 3, "got": [[10, 4, 5], [40, 3, 4], [60, 6, 7], [900, 5, 6]]}
    assert old_rule_gaps(rec) == 2  # what the pages did before
    assert replay([rec]) == {"refreshes": [0], "final_v": [7]}


def test_a_gap_that_stays_open_asks_for_one_snapshot():
    """4 never comes: after the hold, one snapshot; the late 3->4 that follows it is ignored."""
    rec = {"v": 3, "got": [[10, 4, 5], [20, 5, 6], [5000, 3, 4]]}
    assert replay([rec]) == {"refreshes": [1], "final_v": [6]}


def test_older_and_repeated_versions_are_ignored():
    """A version already held, or older, changes nothing and asks for nothing."""
    rec = {"v": 5, "got": [[10, 4, 5], [20, 3, 4], [30, 5, 6], [40, 5, 6]]}
    assert replay([rec]) == {"refreshes": [0], "final_v": [6]}
