/* Feeds recorded `state` messages through the real static/js/net.js (PQNet.Client), on a virtual clock, and counts
 * the snapshot requests (refresh) it makes. Input on stdin (JSON): {"clients": [{"v": version at connect,
 * "got": [[arrival ms, prev_v, v], ...]}, ...]}. Output: {"refreshes": [...], "final_v": [...]}. A refresh is answered
 * at once with a snapshot at the newest version that client has seen (what the server would send at the latest). */
"use strict";
const fs = require("fs");
const path = require("path");
const {load} = require(path.join(__dirname, "../js/netsandbox.js"));

const sandbox = load();
const advance = sandbox.advance;

const input = JSON.parse(fs.readFileSync(0, "utf8"));
const out = {refreshes: [], final_v: []};
for (const rec of input.clients) {
  sandbox.reset();
  let seen = rec.v;
  const client = new sandbox.PQNet.Client({onState() { return true; }, onSnapshot() {}});
  let refreshes = 0;
  client.refresh = function () { refreshes += 1; client._snapshot({v: seen, server_now: sandbox.now()}); };
  client._snapshot({v: rec.v, server_now: 0});
  for (const [at, prev, v] of rec.got) {
    advance(at);
    seen = Math.max(seen, v);
    client._state({v, prev_v: prev, server_now: sandbox.now(), public: {}, gone: [], moves: []});
  }
  advance(sandbox.now() + 60000);
  out.refreshes.push(refreshes);
  out.final_v.push(client.v);
}
process.stdout.write(JSON.stringify(out));
