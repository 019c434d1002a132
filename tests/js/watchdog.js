/* Runs static/js/net.js (PQNet.Client) against a fake Socket.IO client on a virtual clock and reports when its
 * watchdog starts a connection afresh (_kick: a disconnect then a connect). Input on stdin (JSON):
 * {"steps": [[ms, "connect" | "disconnect" | "open"], ...], "until": ms}. "open" is the engine opening (the server
 * answers; the namespace connect is still on its way). Output: {"kicks": [ms, ...]}. */
"use strict";
const fs = require("fs");
const path = require("path");
const vm = require("vm");

let now = 0, nextId = 1, timers = [];
const kicks = [];
const handlers = {}, ioHandlers = {};
const engine = {on() {}};
const socket = {
  connected: false,
  io: {engine, on(ev, fn) { (ioHandlers[ev] = ioHandlers[ev] || []).push(fn); }},
  on(ev, fn) { (handlers[ev] = handlers[ev] || []).push(fn); },
  connect() {},
  disconnect() { if (!this.connected) kicks.push(now); this.connected = false; },
  timeout() { return {emit() {}}; },
};
const fire = (table, ev, arg) => (table[ev] || []).forEach((fn) => fn(arg));
const ctx = {
  setTimeout(fn, ms) { const id = nextId++; timers.push({id, at: now + (ms || 0), fn}); return id; },
  clearTimeout(id) { timers = timers.filter((t) => t.id !== id); },
  setInterval(fn, ms) { const id = nextId++; const run = () => { fn(); timers.push({id, at: now + ms, fn: run}); };
                        timers.push({id, at: now + ms, fn: run}); return id; },
  Date: {now: () => now}, performance: {now: () => now},
  navigator: {onLine: true}, addEventListener() {},
  document: {addEventListener() {}, visibilityState: "visible"},
  io: () => socket, Uint8Array, console,
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
new ctx.PQNet.Client({auth: () => ({event: "e"})}).start();
for (const [at, what] of input.steps) {
  advance(at);
  if (what === "connect") { socket.connected = true; fire(handlers, "connect"); }
  if (what === "disconnect") { socket.connected = false; fire(handlers, "disconnect", "transport close"); }
  if (what === "open") fire(ioHandlers, "open");
}
advance(input.until);
process.stdout.write(JSON.stringify({kicks}));
