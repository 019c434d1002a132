/* PQEta: a participant's estimated wait, computed from the public `est` block and the own place in line.
 * The same simulation as coordinator/domain/estimates.py (keep the two in step): each person ahead takes the spot
 * that frees first and holds it for one turn; the call comes `lead_ms` before that spot frees.
 */
(function (global) {
  "use strict";

  /** Milliseconds until the person at `position` (1-based) is called, if every turn lasts `turnMs`. */
  function timeToCall(position, freeAt, turnMs, leadMs, now) {
    if (!freeAt || !freeAt.length || position < 1) return 0;
    var heap = freeAt.map(function (t) { return Math.max(t, now); });
    for (var i = 0; i < position - 1; i++) {
      var k = 0;
      for (var j = 1; j < heap.length; j++) if (heap[j] < heap[k]) k = j;
      heap[k] += turnMs;
    }
    return Math.max(0, Math.min.apply(null, heap) - leadMs - now);
  }

  /** Low, middle and high estimate of the time to the call (ms); `event` freezes time while it is paused. */
  function eta(position, est, now, event) {
    if (event && event.state === "paused" && event.paused_at) now = event.paused_at;
    return {
      lo_ms: timeToCall(position, est.free_at, est.lo_ms, est.lead_ms, now),
      mid_ms: timeToCall(position, est.free_at, est.turn_ms, est.lead_ms, now),
      hi_ms: timeToCall(position, est.free_at, est.hi_ms, est.lead_ms, now)
    };
  }

  /** Whole minutes, rounded up (a wait is never shown shorter than it is). */
  function minutes(ms) {
    return Math.ceil(ms / 60000);
  }

  global.PQEta = {timeToCall: timeToCall, eta: eta, minutes: minutes};
})(window);
