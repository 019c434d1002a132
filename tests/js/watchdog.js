/* Runs static/js/net.js (PQNet.Client) against a fake Socket.IO client on a virtual clock and reports when its
 * watchdog starts a connection afresh (_kick: a disconnect then a connect). Input on stdin (JSON):
 * {"steps": [[ms, "connect" | "disconnect" | "open"], ...], "until": ms}. "open" is the engine opening (the server
 * answers; the namespace connect is still on its way). Output: {"kicks": [ms, ...]}. */
"use strict";
const fs = require("fs");
const {load} = require("./netsandbox.js");

const kicks = [];
const handlers = {}, ioHandlers = {};
const engine = {on() {}};
const socket = {
  connected: false,
  io: {engine, on(ev, fn) { (ioHandlers[ev] = ioHandlers[ev] || []).push(fn); }},
  on(ev, fn) { (handlers[ev] = handlers[ev] || []).push(fn); },
  connect() {},
  disconnect() { if (!this.connected) kicks.push(sandbox.now()); this.connected = false; },
  timeout() { return {emit() {}}; },
};
const fire = (table, ev, arg) => (table[ev] || []).forEach((fn) => fn(arg));
const sandbox = load({
  navigator: {onLine: true}, addEventListener() {},
  document: {addEventListener() {}, visibilityState: "visible"},
  io: () => socket,
});
const advance = sandbox.advance;

const input = JSON.parse(fs.readFileSync(0, "utf8"));
new sandbox.PQNet.Client({auth: () => ({event: "e"})}).start();
for (const [at, what] of input.steps) {
  advance(at);
  if (what === "connect") { socket.connected = true; fire(handlers, "connect"); }
  if (what === "disconnect") { socket.connected = false; fire(handlers, "disconnect", "transport close"); }
  if (what === "open") fire(ioHandlers, "open");
}
advance(input.until);
process.stdout.write(JSON.stringify({kicks}));
