// One benchmark client process: COUNT participant clients, each the official socket.io-client (the library the
// browser pages use, from node_modules), over WebSocket. bench/run.py drives it: one JSON command per line on
// stdin, one JSON answer per line on stdout. Times are CLOCK_MONOTONIC seconds, the clock of Python's
// time.monotonic(), so the driver can compare them with its own.
//
//   node bench/clients.mjs URL SLUG COUNT
//
// Commands: ["connect", inFlight] ["join", inFlight, howMany] ["expect", version, timeoutSeconds]
//           ["expect_all", version, timeoutSeconds] ["bytes"] ["close"]
import { createInterface } from "node:readline";
import { randomBytes, randomUUID } from "node:crypto";
import { io } from "socket.io-client";

const [url, slug, count] = [process.argv[2], process.argv[3], Number(process.argv[4])];
// bench/street.py: PQ_TRANSPORTS=polling,websocket lets clients start on long-polling (and live on it when the
// network refuses WebSocket upgrades); PQ_RECONNECT=1 reconnects after a cut, as the pages do.
const TRANSPORTS = (process.env.PQ_TRANSPORTS || "websocket").split(",");
const RECONNECT = process.env.PQ_RECONNECT === "1";
const TIMEOUT_MS = 120_000;
const now = () => Number(process.hrtime.bigint()) / 1e9;
const received = { bytes: 0, packets: 0 };
const retried = { busy: 0 };
const refused = {}; // connect_error messages, counted (bench/scaleout.py prints them)

class Phone {
  constructor() {
    this.token = randomBytes(32).toString("base64url");
    this.v = 0;
    this.reached = []; // [version, monotonic seconds it first arrived]
    this.connected = false;
    this.socket = null;
    this.retries = 0;
  }

  seen(msg) {
    const v = msg && typeof msg.v === "number" ? msg.v : null;
    if (v !== null && v > this.v) {
      this.v = v;
      this.reached.push([v, now()]);
    }
  }

  timeOf(version) {
    const hit = this.reached.find(([v]) => v >= version);
    return hit ? hit[1] : null;
  }

  connect() {
    return new Promise((resolve) => {
      const s = io(url, {
        transports: TRANSPORTS, auth: { event: slug, participant: this.token }, reconnection: RECONNECT,
        reconnectionDelay: 500, reconnectionDelayMax: 1500, rememberUpgrade: true, // as static/js/net.js
        forceNew: true, timeout: TIMEOUT_MS,
      });
      this.socket = s;
      for (const name of ["snapshot", "state", "me"]) s.on(name, (m) => this.seen(m));
      s.io.on("open", () => {
        s.io.engine.on("packet", (p) => {
          received.packets += 1;
          const d = p.data;
          received.bytes += 1 + (typeof d === "string" ? Buffer.byteLength(d) : d ? d.byteLength || 0 : 0);
        });
      });
      s.once("connect", () => { this.connected = true; resolve(); });
      // a server that closes the socket before answering the namespace (overloaded) must not leave us waiting
      s.once("disconnect", () => resolve());
      s.once("connect_error", (e) => {
        refused[e.message] = (refused[e.message] || 0) + 1;
        this.connected = false;
        resolve();
      });
    });
  }

  async join(i) {
    // As static/js/net.js does: the same op id until answered; `busy` (the database's write lock was taken for
    // too long, nothing changed) is retried after a spread-out pause, and counted.
    const body = { action: "join", op: randomUUID().replaceAll("-", ""), args: { pseudonym: `Bench ${i}` } };
    for (;;) {
      let ack;
      try {
        ack = await this.socket.timeout(TIMEOUT_MS).emitWithAck("action", body);
      } catch (e) {
        return (e && e.message) || "error";
      }
      if (ack && ack.ok) return "ok";
      const code = (ack && ack.error && ack.error.code) || "bad_ack";
      if (code !== "busy" || this.retries >= 20) return code;
      this.retries += 1;
      retried.busy += 1;
      await sleep(500 + Math.random() * 1500);
    }
  }

  get live() { return this.connected && this.socket.connected; }
}

/** Run `fn` over `items` with at most `limit` promises in flight. */
async function gated(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  async function lane() {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, limit) }, lane));
  return out;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const phones = Array.from({ length: count }, () => new Phone());
const reply = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

async function handle([cmd, ...args]) {
  if (cmd === "connect") {
    const t0 = now();
    await gated(phones, args[0], (p) => p.connect());
    return { ok: phones.filter((p) => p.connected).length, t0, t1: now(), refused };
  }
  if (cmd === "join") {
    const t0 = now();
    const joiners = phones.filter((p) => p.connected).slice(0, args[1]);
    const outcomes = await gated(joiners, args[0], (p, i) => p.join(i));
    const why = {};
    for (const o of outcomes) if (o !== "ok") why[o] = (why[o] || 0) + 1;
    const ok = outcomes.filter((o) => o === "ok").length;
    return { ok, failed: outcomes.length - ok, t0, t1: now(), why, retried: retried.busy };
  }
  if (cmd === "expect") { // wait until every live client holds the version (or give up)
    const [version, timeout] = args;
    const deadline = now() + timeout;
    let live = phones.filter((p) => p.live);
    while (live.some((p) => p.v < version) && now() < deadline) {
      await sleep(2);
      live = phones.filter((p) => p.live);
    }
    return { times: live.map((p) => p.timeOf(version)),
             dropped: phones.filter((p) => p.connected && !p.socket.connected).length };
  }
  if (cmd === "expect_all") { // every client that ever connected (reconnecting ones too) holds the version
    const [version, timeout] = args;
    const deadline = now() + timeout;
    const all = phones.filter((p) => p.connected);
    while (all.some((p) => p.v < version) && now() < deadline) await sleep(5);
    return { times: all.map((p) => p.timeOf(version)), connected: all.filter((p) => p.socket.connected).length };
  }
  if (cmd === "bytes") return { ...received };
  if (cmd === "close") {
    for (const p of phones) if (p.socket) p.socket.disconnect();
    return { closed: true };
  }
  return { error: `unknown command ${cmd}` };
}

const lines = createInterface({ input: process.stdin });
lines.on("line", async (line) => {
  const answer = await handle(JSON.parse(line));
  reply(answer);
  if (answer.closed) setTimeout(() => process.exit(0), 100);
});
lines.on("close", () => process.exit(0));
