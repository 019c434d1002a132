/* What every part of the coordinator console shares: the page's root, its translated texts (#texts and
 * #texts-joining; none are written in the scripts), the server clock and the view shown. */
import {serverClock} from "../format.js";

export var root = document.getElementById("console");
export var T = JSON.parse(document.getElementById("texts").textContent);
export var TJ = JSON.parse(document.getElementById("texts-joining").textContent);
Object.keys(TJ.log).forEach(function (k) { if (!T.log[k]) T.log[k] = TJ.log[k]; });  // the joining log lines
export var slug = root.getAttribute("data-slug");
export var server = serverClock();  // from the `server_now` of each view accepted

/** The console's changing state, one object so that every module sees the same values. */
export var S = {
  client: null,      // the PQNet client (connection.js)
  snap: null,        // the last coordinator snapshot drawn
  token: null,
  passphrase: null,  // kept in memory only: a seized phone should not hand it over
  busy: {},          // "action:entry" keys with an action in flight (their buttons stay disabled)
  lastUndo: null,    // {op, entry, v}: the latest call, skip or removal the engine can undo
  found: null,       // the answer to the last search of the line (find.js): {v, q, found, line}
  finding: null      // the search being asked: {q}
};

export function $(id) { return document.getElementById(id); }

/** Every entry of the snapshot by id. */
export function entryById(id) {
  var snap = S.snap;
  if (!snap) return null;
  var all = snap.line.concat(snap.active, snap.past, S.found ? S.found.line : []);
  for (var i = 0; i < all.length; i++) if (all[i].id === id) return all[i];
  return null;
}
