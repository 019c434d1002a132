/* The console's connection: the coordinator token (from the address bar into storage), the passphrase (memory
 * only), the gate shown without them, and the socket (PQNet from net.js: a snapshot after every reconnect and when
 * the page becomes visible again, actions re-sent with their op id until answered, the connection status).
 * Every `console` message gives the full coordinator view (whole, or as a patch that views.js applies), drawn
 * as it comes. */
import {T, S, $, slug, server} from "./state.js";
import {toast, ask, errorText} from "./ui.js";
import {draw} from "./draw.js";
import {ConsoleViews} from "./views.js";
import {refreshFind} from "./find.js";

var KEY = "pq:coordinator:" + slug;

function storageGet(store, key) { try { return store.getItem(key); } catch (e) { return null; } }
function storageSet(store, key, val) { try { store.setItem(key, val); } catch (e) { /* private mode */ } }
function storageDel(store, key) { try { store.removeItem(key); } catch (e) { /* private mode */ } }

/** Move a token from the address bar (#k=...) into storage and out of the history; or read a stored one. */
export function takeToken() {
  var m = /[#&]k=([A-Za-z0-9_-]{43,64})/.exec(location.hash);
  if (m) {
    S.token = m[1];
    storageSet(sessionStorage, KEY, S.token);
    if (storageGet(localStorage, KEY)) storageSet(localStorage, KEY, S.token);
    history.replaceState(null, "", location.pathname + location.search);
  } else {
    S.token = storageGet(sessionStorage, KEY) || storageGet(localStorage, KEY);
  }
  $("remember").checked = !!storageGet(localStorage, KEY);
}

function forgetToken() {
  storageDel(sessionStorage, KEY);
  storageDel(localStorage, KEY);
  S.token = null;
}

/** The end of this console's access (a `bye`, "Forget", the panic button): forget the token, close, say why. */
export function endAccess(message) {
  forgetToken();
  S.client.stop();
  showGate("bye", message);
}

function showApp() {
  $("gate").hidden = true;
  $("app").hidden = false;
}

/** Show the gate: no token, a passphrase to type, or the end of access (with a reason). */
export function showGate(mode, message) {
  $("app").hidden = true;
  $("gate").hidden = false;
  $("gate-no-token").hidden = mode !== "token";
  $("paste-form").hidden = mode !== "token";
  $("pass-form").hidden = mode !== "passphrase";
  $("gate-error").textContent = message || "";
  if (mode === "passphrase") $("pass-input").focus();
}

function setConn(status) {
  var el = $("conn");
  el.textContent = T.conn[status === "live" ? "online" : status === "offline" ? "offline" : "connecting"];
  el.className = "conn conn-" + status;
}

/** Open the socket with the token (and the passphrase, if one was typed). */
export function connect() {
  if (S.client) S.client.stop();
  S.client = new window.PQNet.Client({
    auth: function () {
      var a = {event: slug, coordinator: S.token};
      if (S.passphrase) a.passphrase = S.passphrase;
      return a;
    },
    onSnapshot: function (snap) { views.snapshot(snap); accept(snap); },
    onStatus: setConn,
    onAnnouncement: function (a) { toast(a.text, "info"); },
    onBye: function (err) { endAccess(T.bye[err && err.code] || errorText(err)); },
    onRefused: function (err) {
      if (err.code === "passphrase_required") {
        showGate("passphrase", S.passphrase ? T.w.pass_wrong : "");
        S.passphrase = null;
        return;
      }
      if (err.code === "unauthorized" || err.code === "not_found") forgetToken();
      showGate(err.code === "unauthorized" ? "token" : "bye", errorText(err));
    }
  });
  var views = new ConsoleViews(S.client);  // this connection's console views, the bases of patches
  S.client.start();
  S.client.socket.on("console", function (msg) { accept(views.take(msg)); });
}

/** Draw a coordinator view unless it is older than the one shown (presence updates keep the version). */
function accept(s) {
  if (!s || s.role !== "coordinator") return;
  if (S.snap && s.v < S.snap.v) return;
  if (!s.me && S.snap) s.me = S.snap.me;  // broadcasts to all coordinators do not say who "me" is
  server.learn(s.server_now);
  showApp();
  draw(s);
  refreshFind(s);
}

/** A new op id (16 random bytes, hex): a call, skip or removal gets its own, so that the engine can undo exactly
 * that action. Other actions get theirs from PQNet. */
export function newOp() {
  var bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
}

/** Wire the gate's forms, "Remember on this device" and "Forget". */
export function wireConnection() {
  $("pass-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    S.passphrase = $("pass-input").value;
    $("pass-input").value = "";
    $("gate-error").textContent = "";
    connect();
  });

  $("paste-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var m = /[#&]k=([A-Za-z0-9_-]{43,64})/.exec($("paste-link").value) ||
            /^([A-Za-z0-9_-]{43,64})$/.exec($("paste-link").value.trim());
    $("paste-link").value = "";
    if (!m) {
      $("gate-error").textContent = T.errors.unauthorized;
      return;
    }
    S.token = m[1];
    storageSet(sessionStorage, KEY, S.token);
    $("gate-error").textContent = "";
    connect();
  });

  $("remember").addEventListener("change", function () {
    if (this.checked && S.token) storageSet(localStorage, KEY, S.token);
    else storageDel(localStorage, KEY);
  });

  $("forget").addEventListener("click", function () {
    ask(T.confirm.forget).then(function (ok) {
      if (!ok) return;
      endAccess(T.bye.forgot);
    });
  });
}
