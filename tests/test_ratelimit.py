"""The action limiter: token buckets per actor, refill, bounded memory, and one budget across socket and HTTP."""
from __future__ import annotations

from pytest import approx

from coordinator.extensions import socketio
from coordinator.ratelimit import ActionLimiter, retry_after_header
from conftest import HandClock as Clock, new_op, new_token


def test_burst_then_refill_at_the_window_rate():
    """`burst` actions at once, then one more per window/burst seconds; the wait says exactly how long."""
    clock = Clock()
    lim = ActionLimiter(3, 30, clock=clock)  # one token every 10 s
    assert [lim.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert lim.take("a") == approx(10.0)
    clock.t = 4.0
    assert lim.take("a") == approx(6.0)  # refused attempts do not spend anything
    clock.t = 10.0
    assert lim.take("a") == 0.0
    assert lim.take("a") == approx(10.0)


def test_keys_do_not_share():
    """One key over its budget does not limit another."""
    lim = ActionLimiter(1, 10, clock=Clock())
    assert lim.take("t:one") == 0.0
    assert lim.take("t:one") > 0
    assert lim.take("t:two") == 0.0
    assert lim.take("c:7") == 0.0


def test_idle_buckets_are_evicted():
    """A bucket unused for a whole window is full again, so it is dropped; a busy one is kept."""
    clock = Clock()
    lim = ActionLimiter(2, 10, clock=clock)  # one token every 5 s
    for i in range(50):
        lim.take(f"idle{i}")
    lim.take("busy")
    lim.take("busy")
    assert len(lim) == 51
    clock.t = 5.0
    assert lim.take("busy") == 0.0  # one token came back; now empty again
    clock.t = 9.0
    lim.take("other")
    assert len(lim) == 52  # nothing is a full window old yet
    clock.t = 10.0
    assert lim.take("busy") == 0.0  # one more token in 5 s
    assert len(lim) == 2  # the 50 idle ones are gone; busy and other remain
    assert lim.take("busy") == approx(5.0)  # its state was kept


def test_memory_is_capped():
    """Beyond max_keys the least recently used bucket is forgotten, even within a window."""
    lim = ActionLimiter(1, 10, max_keys=3, clock=Clock())
    for key in ("a", "b", "c", "d"):
        lim.take(key)
    assert len(lim) == 3
    assert lim.take("a") == 0.0  # "a" was forgotten (a fresh budget), "d" was not
    assert lim.take("d") > 0


def test_retry_after_is_whole_seconds_at_least_one():
    """The header rounds up and never says 0."""
    assert [retry_after_header(s) for s in (0.01, 1.0, 1.2, 9.99)] == ["1", "1", "2", "10"]


def test_socket_and_http_share_one_budget(app, client, event):
    """Actions over the socket and over HTTP spend the same coordinator budget."""
    app.config["ACTION_BURST"] = 2
    app.config["ACTION_WINDOW_SECONDS"] = 3600
    sio = socketio.test_client(app, auth={"event": event["slug"], "coordinator": event["token"]},
                               flask_test_client=client)
    for i in range(2):
        ack = sio.emit("action", {"action": "broadcast", "op": new_op(), "args": {"text": f"note {i}"}},
                       callback=True)
        assert ack["ok"], ack
    r = client.post(f"/api/events/{event['slug']}/actions/broadcast", json={"op": new_op(), "args": {"text": "x"}},
                    headers={"X-Coordinator-Token": event["token"]})
    assert r.status_code == 429 and r.json["error"]["code"] == "rate_limited", r.json
    # A participant of the same event is not affected, over either protocol.
    r = client.post(f"/api/events/{event['slug']}/actions/join", json={"op": new_op(), "args": {"pseudonym": "Kite"}},
                    headers={"X-Participant-Token": new_token()})
    assert r.status_code == 200, r.json
