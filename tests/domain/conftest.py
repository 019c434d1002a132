"""Fixtures for the engine tests: an event on the engine (SQLite and PostgreSQL) with a fake clock."""
import pytest

from .harness import Picket


@pytest.fixture
def make_picket(any_queue):
    """Create events on the engine (`make_picket(auto_call=False, spots=("A",))`), on SQLite and on PostgreSQL."""
    def make(spots=("A", "B"), **spec) -> Picket:
        """A new event on this test's database."""
        return Picket(any_queue, spots=spots, **spec)
    return make


@pytest.fixture
def picket(make_picket) -> Picket:
    """A live event with two spots and manual calls, on SQLite and on PostgreSQL."""
    p = make_picket(auto_call=False)
    p.start()
    return p
