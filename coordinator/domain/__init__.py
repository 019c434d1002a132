"""The queue engine: models, rules and time, with no Flask import (see docs/architecture.md)."""
from .clock import FakeClock, SystemClock
from .errors import DomainError
from .queue import Outcome, Queue
from .store import Store, make_engine

__all__ = ["DomainError", "FakeClock", "Outcome", "Queue", "Store", "SystemClock", "make_engine"]
