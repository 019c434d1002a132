/* static/js/net.js loaded into a node sandbox on a virtual clock, for the node harnesses (tests/js/watchdog.js,
 * tests/scaleout/replay.js): timers run only when the harness advances the clock. */
"use strict";
const fs = require("fs");
const path = require("path");
const vm = require("vm");

/** A sandbox with net.js loaded; `extra` adds or overrides globals (a fake `io`, `navigator`, ...). Returns
 * {PQNet, now(), advance(t), reset()}. */
function load(extra) {
  let now = 0, nextId = 1, timers = [];
  const ctx = Object.assign({
    setTimeout(fn, ms) { const id = nextId++; timers.push({id, at: now + (ms || 0), fn}); return id; },
    clearTimeout(id) { timers = timers.filter((t) => t.id !== id); },
    setInterval(fn, ms) { const id = nextId++; const run = () => { fn(); timers.push({id, at: now + ms, fn: run}); };
                          timers.push({id, at: now + ms, fn: run}); return id; },
    Date: {now: () => now}, performance: {now: () => now},
    Uint8Array, console,
  }, extra || {});
  ctx.window = ctx;
  vm.createContext(ctx);
  vm.runInContext(fs.readFileSync(path.join(__dirname, "../../static/js/net.js"), "utf8"), ctx);

  /** Run every timer due by t, in order. */
  function advance(t) {
    for (;;) {
      timers.sort((a, b) => a.at - b.at);
      if (!timers.length || timers[0].at > t) break;
      const timer = timers.shift();
      now = timer.at;
      timer.fn();
    }
    now = Math.max(now, t);
  }
  return {PQNet: ctx.PQNet, now: () => now, advance, reset() { now = 0; timers = []; }};
}

module.exports = {load};
