"""wsgi.socket_queue: under eventlet, the writers of every socket queue filled in one turn of the event loop are woken
by one hub timer, not one each (docs/benchmarks.md, "One wake-up per broadcast"). Run in a child process, since the
entry point monkey-patches the interpreter that imports it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.server  # a child process that imports the entry point
ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import json, wsgi, eventlet
from eventlet.hubs import get_hub

Q = wsgi.socket_queue()


class Broken(Q):
    def _unlock(self):
        raise RuntimeError("this writer cannot be woken")


def writer(i, q, got):
    while True:
        item = q.get()
        if item is None:
            return
        got.append([i, item])


def timers():
    hub = get_hub()
    return len(hub.timers) + len(hub.next_timers)


def broadcast(queues, got, item):
    before = timers()
    for q in queues:
        q.put(item)
    added = timers() - before
    eventlet.sleep(0.05)  # the wake-up runs: every writer takes its packet
    return added


queues, got = [Q() for _ in range(50)], []
threads = [eventlet.spawn(writer, i, q, got) for i, q in enumerate(queues)]
eventlet.sleep(0.05)  # every writer waits on its empty queue
first = broadcast(queues, got, "a")
first_got, got[:] = list(got), []
second = broadcast(queues, got, "b")  # a queue is woken again after its first wake-up
second_got, got[:] = list(got), []
broken = Broken()
eventlet.spawn(writer, -1, broken, got)
eventlet.sleep(0.05)
third = broadcast([broken] + queues, got, "c")  # one writer that cannot be woken leaves the others awake
third_got, got[:] = list(got), []
for t in threads:
    t.kill()
no_waiter = Q()
before = timers()
no_waiter.put("d")  # nobody waits: nothing is scheduled
print(json.dumps({"mode": wsgi.MODE, "timers": [first, second, third, timers() - before],
                  "got": [first_got, second_got, third_got]}))
"""


def test_one_timer_wakes_every_writer_of_a_broadcast_in_order(tmp_path):
    """50 queues filled in one turn: one timer, every writer woken in the order its queue was filled, again on the
    next broadcast, and even when one writer's wake-up fails (logged, not raised into the hub)."""
    env = {**os.environ, "PICKET_ASYNC_MODE": "eventlet", "PICKET_INSTANCE_PATH": str(tmp_path),
           "PICKET_RUN_TICKER": "false"}
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["mode"] == "eventlet"
    assert out["timers"] == [1, 1, 1, 0], out["timers"]  # eventlet's own Queue: [50, 50, 51, 0]
    first, second, third = out["got"]
    assert first == [[i, "a"] for i in range(50)]
    assert second == [[i, "b"] for i in range(50)]
    assert third == [[i, "c"] for i in range(50)]
    assert "waking a socket's writer failed" in done.stderr and "RuntimeError" in done.stderr


def test_other_modes_keep_their_own_queue(tmp_path):
    """gevent wakes a queue's reader with a cheap loop callback, threading with a condition: no class of ours."""
    for mode in ("gevent", "threading"):
        env = {**os.environ, "PICKET_ASYNC_MODE": mode, "PICKET_INSTANCE_PATH": str(tmp_path),
               "PICKET_RUN_TICKER": "false"}
        done = subprocess.run([sys.executable, "-c", "import wsgi; print(wsgi.socket_queue())"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        assert done.stdout.strip().splitlines()[-1] == "None", done.stdout
