/* PQNet: a small reusable Socket.IO client for Picket Queue pages (participant, console, board).
 *
 * What it does for a page:
 * - connects with an `auth` payload (a function, so a changed token is used on the next reconnect);
 * - asks for an authoritative snapshot after every (re)connect and whenever the page becomes visible again
 *   (visibilitychange, pageshow): Socket.IO delivers at most once and keeps nothing for a disconnected client;
 * - keeps the event version `v`, applies `state` messages only when they follow the version it holds, holds one
 *   that comes early (another server process sent the one before it) for a moment, and asks for a snapshot on a gap;
 * - keeps the server clock offset from `server_now`, so countdowns are right on a phone with a wrong clock;
 * - sends actions with an operation id and re-sends the same id until the server acknowledges (never a double join);
 * - reports the connection status: "live", "reconnecting", "offline" (with the time the connection was lost).
 * No texts here: pages translate statuses and error codes themselves.
 */
(function (global) {
  "use strict";

  var ACK_TIMEOUT_MS = 8000;     // an unanswered action is re-sent after this long
  var OFFLINE_AFTER_MS = 10000;  // "reconnecting" turns into "offline since" after this long without a connection
  var TRANSIENT_REFUSALS = ["busy", "internal"];  // connect refusals worth another try

  /** Random bytes as base64url (no padding). */
  function randomId(bytes) {
    var a = new Uint8Array(bytes);
    global.crypto.getRandomValues(a);
    var s = "";
    for (var i = 0; i < a.length; i++) s += String.fromCharCode(a[i]);
    return global.btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  /** Monotonic milliseconds (never jumps with the phone's clock). */
  function mono() {
    return global.performance && global.performance.now ? global.performance.now() : Date.now();
  }

  /** New position of an entry that held `pos` before a `state` message; null when it left the line or is unknown. */
  function movePosition(pos, gone, moves) {
    if (!pos) return null;
    if (gone && gone.indexOf(pos) >= 0) return null;
    for (var i = 0; moves && i < moves.length; i++) {
      if (pos >= moves[i][0] && pos <= moves[i][1]) return pos + moves[i][2];
    }
    return pos;
  }

  /** The public block after a `state` patch ({"dotted.path": value}, see coordinator/domain/views.py public_patch),
   * as a new object: `pub` itself is left as it was. */
  function applyPatch(pub, patch) {
    var out = JSON.parse(JSON.stringify(pub));
    setPaths(out, patch, function (node) { return node; });
    return out;
  }

  /** Set each "dotted.path" of `patch` in `root`; `own(node)` gives the node on the way that may be changed. */
  function setPaths(root, patch, own) {
    Object.keys(patch).forEach(function (path) {
      var keys = path.split("."), node = root;
      for (var i = 0; i < keys.length - 1; i++) node = node[keys[i]] = own(node[keys[i]]);
      node[keys[keys.length - 1]] = patch[path];
    });
  }


  /**
   * Create a client. opts: {auth: function () -> object, onSnapshot(snap), onState(msg), onMe(msg),
   * onAnnouncement(a), onStatus(status, since), onBye(err), onRefused(err), onServerTime(offset),
   * onPending(count)}.
   * onState returns false when it cannot apply the message (the client then asks for a snapshot).
   */
  function Client(opts) {
    this.opts = opts;
    this.v = 0;            // the event version this page shows
    this.pub = null;       // the public block at version v (a `state` may carry only a patch to it)
    this.meV = 0;          // the version of the last `me` block applied
    this.offset = 0;       // server time minus local time, in ms
    this.pending = [];     // actions not yet acknowledged, in order
    this.status = "connecting";
    this.since = null;     // local time the connection was lost
    this.socket = null;
    this.closed = false;
    this._kicked = 0;      // local time of the last forced reconnect
    this._engineOpened = 0;  // local time the engine of the last connection opened (the server answered)
    this.heardAt = null;   // local time the last packet of any kind (a ping too) came from the server
    this._lo = null;       // clock: the largest server_now - (monotonic receive time) seen: <= the true offset
    this._hi = null;       // clock: the smallest server_now - (monotonic time asked) seen: >= the true offset
    this._hiAt = 0;        // monotonic time of that sample (old samples are replaced)
    this._skew = null;     // Date.now() - monotonic time when the samples were taken (a jump drops them)
    this._connecting = true;  // no snapshot yet on this connection (console/views.js)
  }

  Client.prototype.now = function () {
    /** The server's current time, estimated; never earlier than the truth by more than clock drift, so that a
     * countdown to a server deadline never shows more time than remains (see _clock). */
    this._checkSkew();
    var off = this._hi !== null ? this._hi : this._lo;
    return off !== null ? mono() + off : Date.now() + this.offset;
  };

  Client.prototype._clock = function (serverNow, askedAt) {
    /** Learn the server clock from a payload's `server_now`. A message that arrives late (a slow or stalled
     * network) says the server's time was `server_now` at some moment before it arrived: a lower bound of the offset,
     * which a late message makes too low (it would make countdowns too long), so the largest one is kept. An answer
     * to a request sent at `askedAt` (monotonic ms) was stamped after that moment: an upper bound of the offset, and
     * the smallest is kept. The clock uses the upper bound when it has one, so deadlines count from the server's
     * time, never from the arrival of a late message. */
    if (typeof serverNow !== "number") return;
    this._checkSkew();
    var t = mono(), lo = serverNow - t;
    if (this._lo === null || lo > this._lo) this._lo = lo;
    if (typeof askedAt === "number") {
      var hi = serverNow - askedAt;
      if (this._hi === null || hi < this._hi || t - this._hiAt > 600000) { this._hi = hi; this._hiAt = t; }
    }
    if (this._hi !== null && this._lo > this._hi) { this._hi = this._lo; this._hiAt = t; }  // the server's clock moved
    this.offset = this.now() - Date.now();
    if (this.opts.onServerTime) this.opts.onServerTime(this.offset);
  };

  Client.prototype._checkSkew = function () {
    /** The phone's clock was changed, or it slept (the monotonic clock may stop meanwhile): forget the samples. */
    var skew = Date.now() - mono();
    if (this._skew !== null && Math.abs(skew - this._skew) > 1000) this._lo = this._hi = null;
    this._skew = skew;
  };

  Client.prototype._heard = function () {
    /** Any packet from the server (a message, a ping): the link works, and the view held is current. */
    this.heardAt = Date.now();
  };

  Client.prototype.silentFor = function () {
    /** Milliseconds since the server was last heard from (null: never, on this page). */
    return this.heardAt === null ? null : Date.now() - this.heardAt;
  };

  Client.prototype.silentLimit = function () {
    /** How long a working link may stay quiet: the server pings every pingInterval (from the handshake). */
    var every = this._pingEvery || 25000;
    return every + Math.min(5000, every);
  };

  Client.prototype.isSilent = function () {
    /** Whether the server has been quiet for longer than a working link allows (or the socket is down). */
    var quiet = this.silentFor();
    return this.status !== "live" || quiet === null || quiet > this.silentLimit();
  };

  Client.prototype.pendingActions = function () {
    /** How many actions wait for the server's answer (tapped offline: they go out when the link is back). */
    return this.pending.length;
  };

  Client.prototype._pendingChanged = function () {
    /** Tell the page how many actions wait. */
    if (this.opts.onPending) this.opts.onPending(this.pending.length);
  };

  Client.prototype._setStatus = function (status) {
    /** Report the connection status to the page. A client closed for good reports nothing more: the page may have
     * replaced it (the console opens a new client for each passphrase tried), and its status is not the page's. */
    var self = this;
    if (this.closed) return;
    if (status === "live") this.since = null;
    else if (this.since === null) this.since = Date.now();
    this.status = status;
    clearTimeout(this._offlineTimer);
    if (status === "reconnecting") {
      this._offlineTimer = setTimeout(function () {
        if (self.status === "reconnecting") self._setStatus("offline");
      }, global.navigator.onLine === false ? 0 : OFFLINE_AFTER_MS);
    }
    if (this.opts.onStatus) this.opts.onStatus(status, this.since);
  };

  Client.prototype.start = function () {
    /** Connect and keep connected. */
    var self = this;
    var socket = global.io({
      auth: function (cb) { cb(self.opts.auth()); },
      // The public event slug (already in the page's address) lets a proxy send all of an event's sockets to one
      // server process (nginx `hash $arg_event`, docs/operations.md). Never a token: those stay in `auth`.
      query: {event: (self.opts.auth() || {}).event || ""},
      // At most 1.5 s (+-50 %) between attempts even after a long cut, so the page is back within ~3 s of the
      // network's return (docs/benchmarks.md, "Street networks"); each failed attempt costs a few hundred bytes.
      reconnectionDelay: 500, reconnectionDelayMax: 1500, timeout: 10000,
      // A reconnect goes straight to WebSocket when the last connection upgraded (one handshake instead of the
      // long-polling one plus the upgrade); after a failed WebSocket attempt Engine.IO starts on polling again.
      rememberUpgrade: true
    });
    this.socket = socket;
    global.PQNet.current = this;  // for debugging in the console and for tests
    socket.on("connect", function () {
      self._heard();
      self._setStatus("live");
      self._flush();
    });
    this._listenLink(socket);
    socket.on("disconnect", function (reason) {
      // Until the snapshot of the next connection (console/views.js). Not set on "connect": Socket.IO hands the page the
      // messages that came before its connect packet (the snapshot may) before it fires "connect".
      self._connecting = true;
      if (self.closed) return;
      self._setStatus(global.navigator.onLine === false ? "offline" : "reconnecting");
      // The server closed us on purpose (e.g. after `bye`): Socket.IO does not retry by itself then.
      if (reason === "io server disconnect" && !self.stopped) {
        setTimeout(function () { if (!self.stopped) socket.connect(); }, 1000);
      }
    });
    socket.on("connect_error", function (err) {
      // A refusal by the server carries {code, message}; network failures do not (Socket.IO retries those).
      // A passing server fault (too busy, or failed while starting up) is tried again; only a refusal that says the
      // credentials are wrong or the event is gone is final. Socket.IO does not retry a refusal by itself.
      if (err && err.data && TRANSIENT_REFUSALS.indexOf(err.data.code) >= 0) {
        self._setStatus("reconnecting");
        setTimeout(function () { if (!self.stopped) socket.connect(); }, 500 + Math.random() * 1500);
        return;
      }
      if (err && err.data && err.data.code) {
        self.stopped = true;
        if (self.opts.onRefused) self.opts.onRefused(err.data);
        return;
      }
      self._setStatus(global.navigator.onLine === false ? "offline" : "reconnecting");
    });
    socket.on("snapshot", function (snap) { self._snapshot(snap, self._openedAt); });
    socket.on("state", function (msg) { self._state(msg); });
    socket.on("me", function (msg) { self._me(msg); });
    socket.on("announcement", function (a) { if (self.opts.onAnnouncement) self.opts.onAnnouncement(a); });
    socket.on("bye", function (err) {
      self.stopped = true;
      if (self.opts.onBye) self.opts.onBye(err);
    });
    global.addEventListener("online", function () { self.refresh(); });
    global.addEventListener("offline", function () {
      // The browser knows the network is gone: do not wait for a ping timeout to say so.
      self._setStatus("offline");
      if (self.socket.connected) self.socket.disconnect();  // reconnects on "online" (refresh)
    });
    global.document.addEventListener("visibilitychange", function () {
      if (global.document.visibilityState === "visible") self.refresh();
    });
    global.addEventListener("pageshow", function (e) { if (e.persisted) self.refresh(); });
    // A watchdog: an "online" event can come before the network really works, and a manual disconnect (offline)
    // turns Socket.IO's own retries off. socket.connect() is a no-op while connected or already reconnecting.
    // Socket.IO's retry timer can also stall after the browser went offline and back: then start over. Not while
    // the server is answering, though: a connection whose engine just opened waits for a connect answer that a
    // loaded server can take seconds to send, and starting over would throw it away (and its handshake with it).
    setInterval(function () {
      if (!self.stopped && !socket.connected && global.navigator.onLine !== false &&
          Date.now() - Math.max(self._kicked, self.since || 0, self._engineOpened || 0) > 15000) self._kick();
    }, 2000);
    this._setStatus("reconnecting");
    return this;
  };

  Client.prototype._listenLink = function (socket) {
    /** Note every packet from the server (pings too), and when each connection opened: the snapshot the server
     * pushes on connect was stamped after that moment. */
    var self = this;
    socket.io.on("open", function () {
      self._openedAt = mono();
      self._engineOpened = Date.now();  // for the watchdog: a connection on its way
      self._heard();
      socket.io.engine.on("packet", function () { self._heard(); });
    });
    this._watchEngine();
    socket.io.on("reconnect_attempt", function () { self._watchEngine(); });
  };

  Client.prototype._watchEngine = function () {
    /** Learn the server's ping interval from the handshake of the connection being opened (each connection has a
     * new Engine.IO socket, created right after this is called: look at it once the current task is done). */
    var self = this;
    setTimeout(function () {
      var engine = self.socket && self.socket.io && self.socket.io.engine;
      if (!engine || engine.pqWatched) return;
      engine.pqWatched = true;
      engine.on("handshake", function (data) {
        if (data && data.pingInterval > 0) self._pingEvery = data.pingInterval;
      });
    }, 0);
  };

  Client.prototype._kick = function () {
    /** Start connecting afresh (a new handshake; the page asks for a snapshot once connected). Never once stopped:
     * an answer cut short by stop() (its ack fails at once) must not open a new connection, which would also make a
     * participant page store a fresh token after it forgot everything. */
    if (this.stopped) return;
    this._kicked = Date.now();
    this.socket.disconnect();
    this.socket.connect();
    this._watchEngine();
  };

  Client.prototype.refresh = function () {
    /** Fetch the truth now (page visible again, network back); a silent dead socket is replaced. */
    var self = this;
    if (this.stopped || !this.socket) return;
    if (!this.socket.connected) {
      this._kick();
      return;
    }
    var askedAt = mono();
    this.socket.timeout(ACK_TIMEOUT_MS).emit("snapshot", function (err, res) {
      if (err) {  // iOS can keep a dead WebSocket after sleep: start over
        self._kick();
        return;
      }
      if (res && res.ok) self._snapshot(res.data, askedAt);
    });
  };

  Client.prototype._snapshot = function (snap, askedAt) {
    /** A full view: always accepted (it is the truth now), even if older than a message seen before. */
    if (!snap) return;
    this._connecting = false;
    this._clock(snap.server_now, askedAt);
    this.v = snap.v;
    this.meV = snap.v;
    this.pub = snap.public || null;
    if (this.opts.onSnapshot) this.opts.onSnapshot(snap);
    this._release();
  };

  Client.prototype._state = function (msg) {
    /** Apply a change if it follows the version held; one from further ahead waits (_hold); else a snapshot. */
    if (!msg || msg.v <= this.v) return;
    this._clock(msg.server_now);
    if (msg.prev_v > this.v) return this._hold(msg);
    if (msg.prev_v !== this.v || !this._fullState(msg) ||
        (this.opts.onState && this.opts.onState(msg) === false)) {
      this.refresh();
      return;
    }
    this.v = msg.v;
    this.pub = msg.public;
    this._release();
  };

  Client.prototype._fullState = function (msg) {
    /** Give a `state` that follows the version held its whole public block (from the patch and the block held);
     * false when it cannot (no block held). Pages always see msg.public. */
    if (msg.public) return true;
    if (!msg.patch || !this.pub) return false;
    msg.public = applyPatch(this.pub, msg.patch);
    return true;
  };

  var REORDER_MS = 2000;  // how long a `state` from further ahead waits for the ones before it

  Client.prototype._hold = function (msg) {
    /** With several server processes, changes made on different processes can arrive out of version order: keep a
     * `state` whose prev_v is ahead for up to REORDER_MS, and ask for a snapshot only if the gap is still open then. */
    var self = this;
    this._held = this._held || {};
    this._held[msg.prev_v] = msg;
    if (!this._heldTimer) {
      this._heldTimer = setTimeout(function () {
        self._heldTimer = null;
        self._held = {};
        self.refresh();
      }, REORDER_MS);
    }
  };

  Client.prototype._release = function () {
    /** After the version moved (a change or a snapshot): drop held messages it covers, apply the one that follows. */
    var held = this._held || {}, waiting = false, next = held[this.v];
    for (var k in held) {
      if (held[k].v <= this.v || held[k] === next) delete held[k];
      else waiting = true;
    }
    if (!waiting && !next && this._heldTimer) {
      clearTimeout(this._heldTimer);
      this._heldTimer = null;
    }
    if (next) this._state(next);
  };

  Client.prototype._me = function (msg) {
    /** A participant's own entry changed. */
    if (!msg || !msg.v || msg.v < this.meV) return;
    this._clock(msg.server_now);
    this.meV = msg.v;
    if (this.opts.onMe) this.opts.onMe(msg);
  };

  Client.prototype.act = function (action, args, op) {
    /** Send an action; resolves with the ack ({ok, result|error}). The same op id is re-sent until answered. */
    var self = this;
    return new Promise(function (resolve) {
      var item = {action: action, op: op || randomId(18), args: args || {}, resolve: resolve, sending: false};
      self.pending.push(item);
      self._pendingChanged();
      self._send(item);
    });
  };

  Client.prototype._flush = function () {
    /** Re-send every unacknowledged action (after a reconnect). */
    for (var i = 0; i < this.pending.length; i++) this._send(this.pending[i]);
  };

  Client.prototype._send = function (item) {
    /** One attempt; a timeout or a lost connection leaves the item pending for the next attempt. */
    var self = this;
    if (!this.socket || !this.socket.connected || item.sending) return;
    item.sending = true;
    this.socket.timeout(ACK_TIMEOUT_MS).emit("action", {action: item.action, op: item.op, args: item.args},
      function (err, res) {
        item.sending = false;
        if (self.closed) return;  // closed for good: nothing more is sent
        if (err) {  // no answer: try again (same op id: the server answers the first result)
          setTimeout(function () { self._send(item); }, 500);
          return;
        }
        if (res && !res.ok && res.error && res.error.code === "rate_limited") {
          setTimeout(function () { self._send(item); }, 3000);
          return;
        }
        if (res && !res.ok && res.error && res.error.code === "busy") {  // nothing changed; retry, spread out
          setTimeout(function () { self._send(item); }, 500 + Math.random() * 1500);
          return;
        }
        self.pending.splice(self.pending.indexOf(item), 1);
        self._pendingChanged();
        item.resolve(res || {ok: false, error: {code: "internal"}});
      });
  };

  Client.prototype.reconnect = function () {
    /** Reconnect with fresh credentials (e.g. after the token changed). */
    this.stopped = false;
    if (this.socket) {
      this.socket.disconnect();
      this.socket.connect();
    }
  };

  Client.prototype.stop = function () {
    /** Close for good (a pending "offline" report too). */
    this.closed = this.stopped = true;
    clearTimeout(this._offlineTimer);
    if (this.socket) this.socket.disconnect();
  };

  global.PQNet = {Client: Client, randomId: randomId, movePosition: movePosition, applyPatch: applyPatch,
                  setPaths: setPaths, ACK_TIMEOUT_MS: ACK_TIMEOUT_MS};
})(window);
