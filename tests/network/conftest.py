"""Fixtures of the street test bed: a real server with quick heartbeats, and the proxy in front of it."""
from __future__ import annotations

import pytest

from network.proxy import PROFILES, StreetProxy

# Heartbeats every 2 s, declared dead after 3 s more: a cut is noticed in seconds, so the tests can use short cuts
# (the benchmark, bench/street.py, uses the production defaults and full lengths).
QUICK_PINGS = {"PICKET_PING_INTERVAL": "2", "PICKET_PING_TIMEOUT": "3"}


@pytest.fixture
def street_server(server_factory):
    """One real eventlet server on SQLite with quick heartbeats."""
    return server_factory(extra_env=QUICK_PINGS)


@pytest.fixture
def street(street_server):
    """Start proxies in front of the server: `street(profile)`; all stopped after the test."""
    started = []

    def make(profile=PROFILES["loopback"]) -> StreetProxy:
        proxy = StreetProxy(street_server.port, profile, seed=10).start()
        started.append(proxy)
        return proxy

    yield make
    for proxy in started:
        proxy.stop()
