/* Feeds recorded `state` messages through the real static/js/net.js (PQNet.Client), on a virtual clock, and counts
 * the snapshot requests (refresh) it makes. Input on stdin (JSON): {"clients": [{"v": version at connect,
 * "got": [[arrival ms, prev_v, v], ...]}, ...]}. Output: {"refreshes": [...], "final_v": [...]}. A refresh is answered
 * at once with a snapshot at the newest version that client has seen (what the server would send at the latest). */
"use strict";
const fs = require("fs");
const path = require("path");
const vm = require("vm");

let now = 0;
let timers = [];
let nextId = 1;
const ctx = {
  setTimeout(fn, ms) { const id = nextId++; timers.push({id, at: now + (ms || 0), fn}); return id; },
  clearTimeout(id) { timers = timers.filter((t) => t.id !== id); },
  setInterval() { return 0; },
  Date: {now: () => now},
  Uint8Array, console,
};
ctx.window = ctx;
vm.createContext(ctx);
vm.runInContext(fs.readFileSync(path.join(__dirname, "../../static/js/net.js"), "utf8"), ctx);

function advance(t) {
  /** Run every timer due by t, in order. */
  for (;;) {
    timers.sort((a, b) => a.at - b.at);
    if (!timers.length || timers[0].at > t) break;
    const timer = timers.shift();
    now = timer.at;
    timer.fn();
  }
  now = Math.max(now, t);
}

const input = JSON.parse(fs.readFileSync(0, "utf8"));
const out = {refreshes: [], final_v: []};
for (const rec of input.clients) {
  now = 0; timers = [];
  let seen = rec.v;
  const client = new ctx.PQNet.Client({onState() { return true; }, onSnapshot() {}});
  let refreshes = 0;
  client.refresh = function () { refreshes += 1; client._snapshot({v: seen, server_now: now}); };
  client._snapshot({v: rec.v, server_now: 0});
  for (const [at, prev, v] of rec.got) {
    advance(at);
    seen = Math.max(seen, v);
    client._state({v, prev_v: prev, server_now: now, public: {}, gone: [], moves: []});
  }
  advance(now + 60000);
  out.refreshes.push(refreshes);
  out.final_v.push(client.v);
}
process.stdout.write(JSON.stringify(out));
