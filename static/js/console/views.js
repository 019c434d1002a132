/* The console's side of the `console` message: the whole coordinator view, or a patch against a view held
 * (coordinator/domain/views.py console_message; docs/protocol.md, "Console patches"). Only the console loads this:
 * participants and boards never get `console` messages, so their pages do not carry it. */

var KEEP = 4;  // console views kept as bases for patches: one per server process that sends them, and more

/** The console view a `console` patch gives from the view it names as its base (views.py console_patch): `lists`
 * first (rows kept as [first old index, count] ranges, new rows whole, then `position` renumbered), then `patch`.
 * Only what changes is copied: rows kept are shared with `view`, left as it was. */
export function applyConsole(view, msg) {
  var copies = [];
  function own(node) {
    if (node === null || typeof node !== "object" || copies.indexOf(node) >= 0) return node;
    var copy = Array.isArray(node) ? node.slice() : Object.assign({}, node);
    copies.push(copy);
    return copy;
  }
  var out = own(view), lists = msg.lists || {};
  Object.keys(lists).forEach(function (path) {
    var keys = path.split("."), old = out, rows = [], op = lists[path], f = op.renumber;
    for (var i = 0; i < keys.length; i++) old = old[keys[i]];
    op.rows.forEach(function (r) {
      if (Array.isArray(r)) rows.push.apply(rows, old.slice(r[0], r[0] + r[1]));
      else rows.push(r);
    });
    for (var j = 0; f && j < rows.length; j++) {
      if (rows[j][f] !== j + 1) { rows[j] = Object.assign({}, rows[j]); rows[j][f] = j + 1; }
    }
    copies.push(rows);
    var set = {};
    set[path] = rows;
    window.PQNet.setPaths(out, set, own);
  });
  window.PQNet.setPaths(out, msg.patch || {}, own);
  out.v = msg.v;
  out.key = msg.key;
  return out;
}

/** The views one console connection (a PQNet client) holds as bases for patches. */
export function ConsoleViews(client) {
  this.client = client;
  this.views = [];
  this.missed = null;  // a patch that could not be applied while a snapshot was on its way
  this.resyncAt = 0;
}

/** The whole view a `console` message gives (null: nothing to draw). A patch applies to the view it names as its
 * base, kept from an earlier message or snapshot; several server processes each send patches against the last view
 * they sent, so a few are kept. A patch against a view not held asks for a snapshot, unless one is on its way (the
 * server sends one on every connect, sometimes just after the patch its own connection caused), the view it gives
 * is held already (a snapshot taken after it was made), or it is older than the newest view held (a late message
 * from another process). */
ConsoleViews.prototype.take = function (msg) {
  if (!msg) return null;
  var view = msg, views = this.views, client = this.client;
  if (msg.patch) {
    var base = views.filter(function (w) { return w.key === msg.base; })[0];
    if (!base && views.some(function (w) { return w.key === msg.key; })) return null;  // held already (a snapshot)
    if (!base) {
      var newest = views.length ? Math.max.apply(null, views.map(function (w) { return w.v; })) : 0;
      if (msg.v < newest) return null;
      this.missed = msg;  // the snapshot asked for (or on its way) may be older: snapshot() looks again
      if (!client._connecting && (!this.resyncAt || Date.now() - this.resyncAt > window.PQNet.ACK_TIMEOUT_MS)) {
        this.resyncAt = Date.now();
        client.refresh();
      }
      return null;
    }
    view = applyConsole(base, msg);
  }
  this.keep(view);
  return view;
};

/** Keep a console view as the base of later patches (the newest KEEP by arrival). */
ConsoleViews.prototype.keep = function (view) {
  if (!view || typeof view.key !== "string") return;
  var views = this.views = this.views.filter(function (w) { return w.key !== view.key; });
  views.push(view);
  if (views.length > KEEP) views.shift();
};

/** A snapshot came (the truth now): keep it, and ask again if a patch missed while it was on its way is newer than
 * it (the snapshot may not include that change). */
ConsoleViews.prototype.snapshot = function (snap) {
  if (!snap) return;
  var missed = this.missed;
  this.missed = null;
  this.resyncAt = 0;
  this.keep(snap);
  if (missed && snap.key && missed.key !== snap.key && missed.v >= snap.v) this.client.refresh();
};
