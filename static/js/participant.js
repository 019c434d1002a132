/* The participant's phone page: join, wait, get ready, your turn, on the spot, afterwards.
 * The server owns the truth: every screen is drawn from the last snapshot (plus `state`/`me` messages), and the
 * page asks for a fresh snapshot after every reconnect and whenever it becomes visible (see net.js). Times and
 * durations are formatted by format.js, shared with the other pages.
 */
import {fmt, clock, hhmm, duration} from "./format.js";

(function () {
  "use strict";

  var root = document.getElementById("pq");
  var T = JSON.parse(document.getElementById("pq-texts").textContent);
  var TJ = JSON.parse(document.getElementById("pq-join-texts").textContent);  // join checks and gates
  var slug = root.dataset.slug;
  var KEY = "pq:" + slug + ":";
  var IN_LINE = ["waiting", "away"];
  var LIVE = ["waiting", "away", "called", "on_spot"];
  var FINAL = ["done", "missed", "left", "removed", "detained"];

  var snap = null;          // the last known view: {v, server_now, public, announcements, me}
  var stale = false;        // true while the view comes from this phone's storage, not from the server
  var lastRx = null;        // local time of the last message from the server
  var status = "connecting";
  var joinOp = null;        // op id of the join in flight: a second tap re-sends the same id
  var alerted = {};         // alerts already given (by key), so a snapshot does not ring twice
  var wakeLock = null;
  var audio = null;
  var flashTimer = null;
  var baseTitle = document.title;
  var deleted = false;      // this phone just deleted its data: say so on the join screen

  // ------------------------------------------------------------ storage (per event; never in the URL)

  /** localStorage that tolerates private mode and full storage. */
  var store = {
    get: function (k) { try { return localStorage.getItem(KEY + k); } catch (e) { return null; } },
    set: function (k, v) { try { localStorage.setItem(KEY + k, v); } catch (e) { /* memory only */ } },
    del: function (k) { try { localStorage.removeItem(KEY + k); } catch (e) { /* nothing stored */ } }
  };

  /** This phone's token for this event (32 random bytes, base64url), made on first use. */
  function token() {
    var t = store.get("token");
    if (!t || t.length !== 43) {
      t = PQNet.randomId(32);
      store.set("token", t);
    }
    return t;
  }

  try { alerted = JSON.parse(store.get("alerted") || "{}") || {}; } catch (e) { alerted = {}; }

  // ------------------------------------------------------------ small helpers

  function $(id) { return document.getElementById(id); }

  function show(el, on) { if (el) el.hidden = !on; }

  function errorText(code) { return (TJ.errors && TJ.errors[code]) || (T.errors && T.errors[code]) || T.errors.internal; }

  function showError(code) {
    var el = $("error");
    el.textContent = code ? errorText(code) : "";
    show(el, !!code);
  }

  function serverNow() { return client.now(); }

  // ------------------------------------------------------------ connection

  var client = new PQNet.Client({
    auth: function () { return {event: slug, participant: token()}; },
    onSnapshot: function (s) {
      snap = s;
      stale = false;
      received();
      render();
    },
    onState: function (msg) {
      if (!snap) return false;
      snap.public = msg.public;
      var me = snap.me;
      if (me && IN_LINE.indexOf(me.state) >= 0) {
        var pos = PQNet.movePosition(me.position, msg.gone, msg.moves);
        if (!pos) return false;  // we left the line (called?): the `me` message or a snapshot tells how
        me.position = pos;
        me.ahead = pos - 1;
      }
      snap.v = msg.v;
      received();
      render();
      return true;
    },
    onMe: function (msg) {
      if (!snap) { client.refresh(); return; }
      snap.me = msg.me || null;
      received();
      render();
    },
    onAnnouncement: function (a) {
      if (!snap) return;
      snap.announcements = [a].concat((snap.announcements || []).filter(function (x) { return x.id !== a.id; }))
        .slice(0, 5);
      received();
      renderNews();
    },
    onStatus: function (s, since) {
      status = s;
      renderConn(since);
    },
    onBye: function () { closed(T.closed_deleted); },
    onRefused: function (err) {
      if (err.code === "not_found" || err.code === "unknown_event") closed(T.closed_deleted);
      else showError(err.code);
    },
    onServerTime: function (offset) { store.set("offset", String(offset)); },
    onPending: function () { renderUnsent(); }
  });

  /** Remember the latest view on this phone, so a reload without network shows it (marked as stale). */
  function received() {
    lastRx = Date.now();
    try {
      store.set("snap", JSON.stringify({at: lastRx, offset: client.offset, snap: snap}));
    } catch (e) { /* not important */ }
    renderConn(client.since);
  }

  function closed(text) {
    forget();
    client.stop();
    $("closed-text").textContent = text;
    snap = null;
    screen("s-closed");
  }

  /** Forget everything this phone stored about this event. */
  function forget() {
    ["token", "snap", "offset", "alerted", "name"].forEach(store.del);
    alerted = {};
    // The service worker's offline copy of this page holds the event's title and place: drop it too.
    var sw = navigator.serviceWorker && navigator.serviceWorker.controller;
    if (sw) sw.postMessage({forget: location.pathname});
  }

  // ------------------------------------------------------------ drawing

  function screen(id) {
    ["s-loading", "s-join", "s-pending", "s-wait", "s-called", "s-spot", "s-after", "s-closed"].forEach(function (s) {
      show($(s), s === id);
    });
    document.body.setAttribute("data-screen", id);
  }

  function renderConn(since) {
    var el = $("conn");
    var silent = status === "live" && client.isSilent();  // connected, yet nothing heard for too long
    el.setAttribute("data-status", silent ? "silent" : status);
    var quiet = client.silentFor();
    var text = quiet !== null && quiet > client.silentLimit() && (silent || status !== "live")
      ? fmt(T.no_contact, {time: hhmm(client.heardAt), ago: duration(quiet, T, true)})
      : status === "live" ? T.live
      : status === "offline" ? fmt(T.offline_since, {time: hhmm(since || Date.now())})
      : status === "reconnecting" ? T.reconnecting : T.connecting;
    setText($("conn-text"), text);
    var st = $("stale");
    var at = infoTime();
    var isStale = snap && (stale || status !== "live" || silent) && at;
    setText(st, isStale ? fmt(T.stale_ago, {time: hhmm(at), ago: duration(Date.now() - at, T)}) : "");
    show(st, !!isStale);
    document.body.classList.toggle("is-stale", !!isStale);
    renderUnsent();
  }

  /** When the view shown was last known to be current: the last message, or the last packet heard while the
   * socket was in step with the server (a ping says nothing changed since: changes come before it on the link). */
  function infoTime() {
    if (stale) return lastRx;
    return Math.max(lastRx || 0, client.heardAt || 0) || null;
  }

  /** Change a text only when it differs (a live region must not announce the same words every second). */
  function setText(el, text) {
    if (el.textContent !== text) el.textContent = text;
  }

  /** Actions tapped while the link is down wait in net.js and go out once it is back: say so. */
  function renderUnsent() {
    var el = $("pending");
    if (!el) return;
    var waiting = client.pendingActions() > 0 && (status !== "live" || client.isSilent());
    setText(el, waiting ? T.pending : "");
    show(el, waiting);
  }

  function render() {
    if (!snap) return;
    var ev = snap.public.event;
    var me = snap.me;
    $("ev-title").textContent = ev.title;
    var evText = ev.state === "ended" ? "" : T["ev_" + ev.state];  // the ended screens say it themselves
    $("ev-state").textContent = evText || "";
    show($("ev-state"), !!evText);
    document.body.classList.remove("is-ready", "is-turn", "is-spot");
    if (!me) {
      if (ev.state === "ended") { $("closed-text").textContent = T.closed_ended; screen("s-closed"); }
      else renderJoin(ev);
    } else if (me.state === "pending") {
      renderPending(me);
    } else if (IN_LINE.indexOf(me.state) >= 0) {
      renderWait(ev, me);
    } else if (me.state === "called") {
      renderCalled(ev, me);
    } else if (me.state === "on_spot") {
      renderSpot(ev, me);
    } else {
      renderAfter(ev, me);
    }
    renderPersonal(me);
    // "Legal help" once: the on-spot and detained screens have their own button.
    var ownHelp = me && (me.state === "on_spot" || me.state === "detained");
    show(document.querySelector(".help-link"), !ownHelp);
    renderSpots();
    renderNews();
    renderAlertsCard();
    alerts();
    wake();
    tick();
  }

  function renderJoin(ev) {
    screen("s-join");
    var input = $("pseudonym");
    if (!input.value) input.value = store.get("name") || suggestion();
    var e = joinEta(ev);
    $("join-eta").textContent = deleted ? T.deleted : (e && snap.public.counts.line ? etaText(e, ev) : "");
    renderGate(ev);
  }

  /** The estimate for someone joining now, from `est` as the server computes `eta_new` (which `state` patches to
   * participants leave out). */
  function joinEta(ev) {
    var pub = snap.public;
    return pub.est && pub.counts ? PQEta.eta(pub.counts.line + 1, pub.est, serverNow(), ev) : pub.eta_new;
  }

  function etaText(e, ev) {
    if (ev.state === "paused") return T.eta_paused;
    if (ev.state !== "live" && ev.state !== "open") return "";
    var lo = PQEta.minutes(e.lo_ms), mid = PQEta.minutes(e.mid_ms), hi = Math.max(PQEta.minutes(e.hi_ms), mid);
    lo = Math.min(lo, mid);
    if (hi <= 1) return ev.state === "live" ? T.eta_soon : T.eta_open_first;
    var one = lo === hi;  // "about 4 min", never "between 4 and 4 min"
    var text = ev.state === "open" ? (one ? T.eta_open_one : T.eta_open)
      : me() ? (one ? T.eta_one : T.eta) : (one ? T.eta_join_one : T.eta_join);
    return fmt(text, {lo: lo, mid: mid, hi: hi});
  }

  function me() { return snap && snap.me; }

  function ready(ev, m) {
    // Only once calls run: before the start nobody is about to be called.
    return m.state === "waiting" && m.position && m.position <= (ev.ready_at || 2) && ev.state === "live";
  }

  function renderWait(ev, m) {
    screen("s-wait");
    $("place").textContent = m.position || "–";
    $("ahead").textContent = m.ahead ? fmt(T.ahead, {n: m.ahead}) : T.ahead_none;
    $("wait-name").textContent = fmt(T.name, {name: m.pseudonym});
    var away = m.state === "away";
    show($("away-note"), away);
    show($("btn-away"), !away);
    show($("btn-back"), away);
    var r = ready(ev, m);
    show($("ready-banner"), r);
    document.body.classList.toggle("is-ready", r);
  }

  function renderCalled(ev, m) {
    screen("s-called");
    document.body.classList.add("is-turn");
    $("called-spot").textContent = m.spot ? m.spot.label : "";
    var arrived = !!m.arrived_at;
    show($("btn-arrive"), !arrived);
    show($("arrived-note"), arrived);
  }

  function renderSpot(ev, m) {
    screen("s-spot");
    document.body.classList.add("is-spot");
    $("spot-label").textContent = m.spot ? m.spot.label : "";
  }

  function renderAfter(ev, m) {
    screen("s-after");
    var kind = FINAL.indexOf(m.state) >= 0 ? m.state : "left";
    // Put out of line by the end of the event (also on the way to a spot): say so, not "you left".
    if (ev.state === "ended" && (kind === "left" || kind === "missed")) kind = "ended";
    $("after-title").textContent = T["after_" + kind];
    $("after-text").textContent = T["after_" + kind + "_text"];
    show($("btn-rejoin"), ev.state !== "ended" && ev.state !== "draft");
    show($("after-help"), kind === "detained");
  }

  /** A coordinator's message to this person only, and "running late" once sent. */
  function renderPersonal(m) {
    var live = m && LIVE.indexOf(m.state) >= 0;
    var msg = live && m.message;
    show($("dm-card"), !!msg);
    if (msg) {
      $("dm-text").textContent = msg.text;
      $("dm-time").textContent = fmt(T.dm_time, {time: hhmm(msg.at)});
    }
    var late = live && m.late;
    var notes = document.querySelectorAll(".late-note");
    for (var i = 0; i < notes.length; i++) {
      notes[i].textContent = late ? fmt(T.late_sent, {n: m.late.minutes}) : "";
      show(notes[i], !!late);
    }
    var btns = document.querySelectorAll(".btn-late");
    var calling = snap.public.event.state === "live" || snap.public.event.state === "paused";
    for (i = 0; i < btns.length; i++) show(btns[i], !late && calling && m && m.state !== "on_spot");
  }

  function renderSpots() {
    var list = $("spots");
    var spots = snap.public.spots || [];
    var m = me();
    list.textContent = "";
    spots.forEach(function (s) {
      var li = document.createElement("li");
      li.className = "spot spot-" + s.status;
      if (m && m.spot && m.spot.id === s.id && (m.state === "called" || m.state === "on_spot")) {
        li.classList.add("spot-mine");
      }
      var name = document.createElement("span");
      name.className = "spot-name";
      name.textContent = fmt(T.spot_name, {label: s.label});
      var st = document.createElement("span");
      st.className = "spot-status";
      st.setAttribute("data-ends", s.ends_at || "");
      st.textContent = spotStatus(s);
      li.appendChild(name);
      li.appendChild(st);
      list.appendChild(li);
    });
    show($("spots-card"), spots.length > 0 && snap.public.event.state !== "ended");
  }

  function spotStatus(s) {
    if (s.status === "busy") return fmt(T.spot_busy, {time: clock(s.ends_at - serverNow())});
    if (s.status === "called") return T.spot_called;
    return T.spot_free;
  }

  function renderNews() {
    var list = $("news");
    var items = (snap && snap.announcements) || [];
    list.textContent = "";
    items.forEach(function (a) {
      var li = document.createElement("li");
      var time = document.createElement("time");
      time.textContent = hhmm(a.at - client.offset);
      li.appendChild(time);
      li.appendChild(document.createTextNode(" " + a.text));
      list.appendChild(li);
    });
    show($("news-card"), items.length > 0);
  }

  /** Countdowns and estimates, once a second, from server time. */
  function tick() {
    renderConn(client.since);  // how long since the server was heard, how old the view is
    if (!snap) return;
    var ev = snap.public.event, m = snap.me, now = serverNow();
    if (m && IN_LINE.indexOf(m.state) >= 0 && m.position) {
      // Away: passed over until back, so no estimate would be honest.
      $("wait-eta").textContent = m.state === "away" ? ""
        : etaText(PQEta.eta(m.position, snap.public.est, now, ev), ev);
    }
    if (m && m.state === "called") {
      $("called-cd").textContent = clock(m.deadline_at - now);
      var spot = (snap.public.spots || []).filter(function (s) { return m.spot && s.id === m.spot.id; })[0];
      var busy = spot && spot.status === "busy" && spot.ends_at > now;
      $("called-wait").textContent = busy ? fmt(T.spot_busy_until, {time: clock(spot.ends_at - now)}) : "";
      show($("called-wait"), !!busy);
    }
    if (m && m.state === "on_spot") $("spot-cd").textContent = clock(m.ends_at - now);
    var st = document.querySelectorAll("#spots .spot-status");
    (snap.public.spots || []).forEach(function (s, i) { if (st[i]) st[i].textContent = spotStatus(s); });
  }

  // ------------------------------------------------------------ alerts: colour, sound, vibration, title, notification

  function alerts() {
    var ev = snap.public.event, m = snap.me;
    if (stale || !m) { stopFlash(); return; }
    if (m.state === "called" && !m.arrived_at) {
      fire("turn:" + m.id + ":" + m.called_at, T.title_turn, T.notify_turn, [400, 150, 400, 150, 400]);
    } else if (ready(ev, m)) {
      fire("ready:" + m.id, T.title_ready, T.notify_ready, [250, 100, 250]);
      stopFlash();
    } else {
      stopFlash();
    }
  }

  function fire(key, title, body, pattern) {
    if (alerted[key]) {
      if (key.indexOf("turn:") === 0) flash(title);
      return;
    }
    alerted[key] = Date.now();
    store.set("alerted", JSON.stringify(alerted));
    beep(key.indexOf("turn:") === 0 ? 3 : 1);
    if (navigator.vibrate) { try { navigator.vibrate(pattern); } catch (e) { /* no vibration */ } }
    flash(title);
    notify(body);
  }

  function flash(title) {
    if (flashTimer) return;
    var on = false;
    flashTimer = setInterval(function () {
      on = !on;
      document.title = on ? "⚠ " + title : baseTitle;
    }, 1000);
  }

  function stopFlash() {
    if (flashTimer) clearInterval(flashTimer);
    flashTimer = null;
    document.title = baseTitle;
  }

  /** Create or wake the audio context; must run inside a tap (browsers allow sound only after a gesture). */
  function unlockAudio() {
    var AC = window.AudioContext || window.webkitAudioContext;
    if (!AC) return;
    try {
      if (!audio) audio = new AC();
      if (audio.state === "suspended") audio.resume();
      var buf = audio.createBuffer(1, 1, 22050), src = audio.createBufferSource();  // silent: unlocks iOS
      src.buffer = buf;
      src.connect(audio.destination);
      src.start(0);
    } catch (e) { audio = null; }
  }

  /** A few loud beeps generated with WebAudio (no audio file). */
  function beep(times) {
    if (!audio) return;
    try {
      var t = audio.currentTime + 0.05;
      for (var i = 0; i < times; i++) {
        var osc = audio.createOscillator(), gain = audio.createGain();
        osc.type = "square";
        osc.frequency.value = i % 2 ? 660 : 880;
        gain.gain.setValueAtTime(0.0001, t);
        gain.gain.exponentialRampToValueAtTime(0.5, t + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.35);
        osc.connect(gain);
        gain.connect(audio.destination);
        osc.start(t);
        osc.stop(t + 0.4);
        t += 0.5;
      }
    } catch (e) { /* sound is a bonus */ }
  }

  /** A notification through the service worker (the only way on iOS), when the person allowed it. */
  function notify(body) {
    if (!("Notification" in window) || Notification.permission !== "granted" || !navigator.serviceWorker) return;
    navigator.serviceWorker.ready.then(function (reg) {
      // The same tag as the Web Push notification: the phone shows one, not two.
      return reg.showNotification(T.notify_title, {body: body, tag: "pq-alert", renotify: true,
        icon: "/static/icons/icon-192.png", data: {url: location.pathname}});
    }).catch(function () { /* the screen signal is enough */ });
  }

  // ------------------------------------------------------------ screen wake lock

  function wake() {
    var ev = snap && snap.public.event, m = snap && snap.me;
    var want = !!(m && (m.state === "called" || m.state === "on_spot" ||
      (m.state === "waiting" && m.position && m.position <= (ev.ready_at || 2) + 1)));
    if (want && !wakeLock && navigator.wakeLock && document.visibilityState === "visible") {
      navigator.wakeLock.request("screen").then(function (lock) {
        wakeLock = lock;
        lock.addEventListener("release", function () { wakeLock = null; });
      }).catch(function () { wakeLock = null; });
    } else if (!want && wakeLock) {
      wakeLock.release().catch(function () {});
      wakeLock = null;
    }
  }

  // The lock is dropped whenever the page is hidden: take it again when the person looks at the page.
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && snap) wake();
  });

  // ------------------------------------------------------------ service worker, background alerts (Web Push)

  function isIOS() {
    return /iPad|iPhone|iPod/.test(navigator.userAgent) ||
      (navigator.platform === "MacIntel" && navigator.maxTouchPoints > 1);  // iPadOS says it is a Mac
  }

  function standalone() {
    return navigator.standalone === true || (window.matchMedia && matchMedia("(display-mode: standalone)").matches);
  }

  function pushSupported() {
    return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
  }

  function renderAlertsCard() {
    var m = snap.me;
    var active = m && IN_LINE.indexOf(m.state) >= 0;  // not on the turn screen: nothing must distract there
    var granted = "Notification" in window && Notification.permission === "granted";
    var need = active && !(granted && m.push);
    show($("alerts"), !!need && !stale);
    show($("ios-hint"), isIOS() && !standalone());
    if (need && granted && !m.push && !subscribing) subscribePush(false);
  }

  var subscribing = false;

  /** Ask for permission (only from a tap, after the card explained why), then subscribe and tell the server. */
  function enableAlerts() {
    unlockAudio();
    var out = $("alerts-state");
    if (!pushSupported()) { out.textContent = T.alerts_unsupported; return; }
    Notification.requestPermission().then(function (p) {
      if (p !== "granted") { out.textContent = T.alerts_blocked; return; }
      subscribePush(true);
    });
  }

  function b64ToBytes(b64) {
    var s = atob(b64.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((b64.length + 3) % 4));
    var a = new Uint8Array(s.length);
    for (var i = 0; i < s.length; i++) a[i] = s.charCodeAt(i);
    return a;
  }

  function subscribePush(loud) {
    var out = $("alerts-state");
    if (!pushSupported()) { if (loud) out.textContent = T.alerts_unsupported; return; }
    subscribing = true;
    fetch(root.dataset.pushKey, {credentials: "same-origin"}).then(function (r) {
      return r.json();
    }).then(function (k) {
      return navigator.serviceWorker.ready.then(function (reg) {
        return reg.pushManager.getSubscription().then(function (sub) {
          return sub || reg.pushManager.subscribe({userVisibleOnly: true, applicationServerKey: b64ToBytes(k.key)});
        });
      });
    }).then(function (sub) {
      return client.act("set_push", {subscription: sub.toJSON()});
    }).then(function (res) {
      subscribing = false;
      if (res.ok) { out.textContent = T.alerts_on; if (snap && snap.me) snap.me.push = true; renderAlertsCard(); }
      else if (loud) out.textContent = errorText(res.error.code);
    }).catch(function () {
      subscribing = false;
      if (loud) out.textContent = T.alerts_failed;
    });
  }

  function registerWorker() {
    if (!("serviceWorker" in navigator)) return;
    navigator.serviceWorker.register(root.dataset.sw, {scope: "/"}).then(function () {
      return navigator.serviceWorker.ready;
    }).then(function (reg) {
      // The worker shows push notifications in the language this page was shown in.
      if (reg.active) reg.active.postMessage({lang: T.lang, page: location.pathname});
    }).catch(function () { /* the page works without it */ });
  }

  // ------------------------------------------------------------ actions

  /** Run an action with a button disabled while it is in flight (a double tap sends it once). */
  function act(name, args, btn, op) {
    if (btn) btn.disabled = true;
    showError(null);
    return client.act(name, args, op).then(function (res) {
      if (btn) btn.disabled = false;
      if (!res.ok) showError(res.error && res.error.code);
      return res;
    });
  }

  function suggestion() {
    var names = T.names || ["Swift"];
    var a = new Uint8Array(2);
    crypto.getRandomValues(a);
    return names[a[0] % names.length] + " " + (10 + (a[1] % 90));
  }

  function join(e) {
    if (e) e.preventDefault();
    unlockAudio();
    var btn = $("btn-join");
    if (btn.disabled) return;
    var name = $("pseudonym").value.replace(/\s+/g, " ").trim();
    if (!name || name.length > $("pseudonym").maxLength) { showError("bad_name"); $("pseudonym").focus(); return; }
    store.set("name", name);
    deleted = false;
    joinOp = joinOp || PQNet.randomId(18);
    joinWithProof("join", {pseudonym: name}, btn);
  }

  // ------------------------------------------------------------ joining: proof of work and gates (issue 8)

  var proof = null;  // {op, pow}: the solved proof of work of the join in flight; a retry of that op re-sends it

  /** Join (or rejoin) with a proof of work solved in a worker; a spent or expired one is solved again once. */
  function joinWithProof(name, args, btn, again) {
    var op = name === "join" ? joinOp : (proof && proof.name === name ? proof.op : PQNet.randomId(18));
    btn.disabled = true;
    showError(null);
    var codeRow = $("join-code-row");
    if (codeRow && !codeRow.hidden) args.code = $("join-code").value.replace(/\D/g, "");
    var ready = proof && proof.op === op ? Promise.resolve(proof.pow) : solveProof(args.code);
    ready.then(function (pow) {
      proof = {op: op, name: name, pow: pow};
      args.pow = pow;
      return act(name, args, btn, op);
    }).then(function (res) {
      var code = res.error && res.error.code;
      if (!res.ok && /^pow_/.test(code) && !again) {
        proof = null;  // a fresh challenge under a fresh op id
        if (name === "join") joinOp = PQNet.randomId(18);
        return joinWithProof(name, args, btn, true);
      }
      if (res.ok || !/^(pow_|busy|internal)/.test(code)) { proof = null; if (name === "join") joinOp = null; }
      if (res.ok) client.refresh();
    }, function (err) {
      btn.disabled = false;
      showSolving(false);
      showError(err && err.code || "offline");
    });
  }

  /** Get a challenge and solve it in the worker, showing progress; resolves with the join's `pow` argument. */
  function solveProof(code) {
    if (!window.Worker || !window.crypto || !window.crypto.subtle) return Promise.reject({code: "pow_unsupported"});
    showSolving(true, 0);
    // With the on-site code the server waives the price for a shared (carrier) address: the phone is at the picket.
    return fetch(root.dataset.challenge, {method: "POST", credentials: "same-origin", cache: "no-store",
                                          headers: {"Content-Type": "application/json"},
                                          body: JSON.stringify(code ? {code: code} : {})})
      .then(function (r) {
        return r.json().catch(function () { return {ok: false, error: {code: "internal"}}; });
      }, function () { throw {code: "offline"}; })
      .then(function (body) {
        if (!body.ok) throw {code: body.error && body.error.code};
        return new Promise(function (resolve, reject) {
          var w;
          try { w = new Worker(root.dataset.powWorker, {type: "module"}); } catch (e) { reject({code: "pow_unsupported"}); return; }
          w.onmessage = function (m) {
            var d = m.data || {};
            if (d.progress) { showSolving(true, d.progress / d.expected); return; }
            w.terminate();
            showSolving(false);
            if (d.done) resolve(d.done); else reject({code: "pow_unsupported"});
          };
          w.onerror = function () { w.terminate(); showSolving(false); reject({code: "pow_unsupported"}); };
          w.postMessage({challenge: body.challenge});
        });
      });
  }

  /** The join form under the event's gate: the on-site code field, or the "joining is paused" note. */
  function renderGate(ev) {
    var onsite = ev.gate === "onsite";
    show($("join-code-row"), onsite);
    var m = /[#&]c=(\d{6})/.exec(location.hash);  // scanned from the big screen's QR code: the code comes along
    if (m) {
      $("join-code").value = m[1];
      history.replaceState(null, "", location.pathname + location.search);
    }
    show($("join-paused"), !!ev.joining_paused);
    $("join-paused").textContent = ev.joining_paused ? TJ.paused : "";
    if (!proof) $("btn-join").disabled = !!ev.joining_paused;
  }

  function renderPending(me) {
    screen("s-pending");
    $("pending-name").textContent = fmt(T.name, {name: me.pseudonym});
  }

  /** The "checking…" state: `share` is attempts made / attempts expected (the bar creeps towards full). */
  function showSolving(on, share) {
    show($("join-solving"), on);
    if (!on) return;
    $("solving-text").textContent = share > 3 ? TJ.solving_slow : TJ.solving;
    $("solving-bar").value = Math.round(100 * (1 - Math.exp(-(share || 0) * 1.2)));
  }

  function confirmPair(openId, boxId, yesId, noId, onYes) {
    $(openId).addEventListener("click", function () {
      show($(boxId), true);
      $(yesId).focus();
    });
    $(noId).addEventListener("click", function () { show($(boxId), false); $(openId).focus(); });
    $(yesId).addEventListener("click", function () { show($(boxId), false); onYes($(yesId)); });
  }

  function bind() {
    $("join-form").addEventListener("submit", join);
    $("btn-suggest").addEventListener("click", function () { $("pseudonym").value = suggestion(); });
    $("btn-away").addEventListener("click", function () { act("step_away", {}, this); });
    Array.prototype.forEach.call(document.querySelectorAll(".btn-late"), function (b) {
      b.addEventListener("click", function () { act("running_late", {minutes: 5}, this); });
    });
    $("btn-back").addEventListener("click", function () { unlockAudio(); act("come_back", {}, this); });
    $("btn-arrive").addEventListener("click", function () { stopFlash(); act("confirm_arrival", {}, this); });
    $("btn-rejoin").addEventListener("click", function () { unlockAudio(); joinWithProof("rejoin", {}, this); });
    $("btn-pending-leave").addEventListener("click", function () { act("leave", {}, this); });
    confirmPair("btn-leave", "leave-confirm", "btn-leave-yes", "btn-leave-no", function (b) { act("leave", {}, b); });
    confirmPair("btn-cant", "cant-confirm", "btn-cant-yes", "btn-cant-no", function (b) { act("leave", {}, b); });
    confirmPair("btn-finish", "finish-confirm", "btn-finish-yes", "btn-finish-no", function (b) {
      act("finish", {}, b);
    });
    confirmPair("btn-delete", "delete-confirm", "btn-delete-yes", "btn-delete-no", function (b) {
      act("delete_me", {}, b).then(function (res) {
        if (!res.ok) return;
        unsubscribePush();
        forget();
        snap = null;
        $("pseudonym").value = "";
        client.reconnect();  // a fresh token for a possible new join; nothing links it to the old one
        deleted = true;
        screen("s-join");
        $("join-eta").textContent = T.deleted;
      });
    });
    $("btn-alerts").addEventListener("click", enableAlerts);
    Array.prototype.forEach.call(document.querySelectorAll(".js-help"), function (b) {
      b.addEventListener("click", openHelp);
    });
    $("btn-help-close").addEventListener("click", closeHelp);
    $("help").addEventListener("keydown", function (e) { if (e.key === "Escape") closeHelp(); });
    // Any tap keeps the audio unlocked (iOS may suspend it again) and stops the flashing title.
    document.addEventListener("pointerdown", function () { if (audio) unlockAudio(); }, {passive: true});
  }

  function unsubscribePush() {
    if (!navigator.serviceWorker) return;
    navigator.serviceWorker.ready.then(function (reg) { return reg.pushManager.getSubscription(); })
      .then(function (sub) { if (sub) sub.unsubscribe(); }).catch(function () {});
  }

  var helpFrom = null;

  function openHelp() {
    helpFrom = document.activeElement;
    show($("help"), true);
    document.body.classList.add("has-help");
    $("help").focus();
  }

  function closeHelp() {
    show($("help"), false);
    document.body.classList.remove("has-help");
    if (helpFrom) helpFrom.focus();
  }

  // ------------------------------------------------------------ start

  /** Show the last known state at once (marked stale) while connecting, e.g. after a reload without network. */
  function restore() {
    try {
      var saved = JSON.parse(store.get("snap") || "null");
      if (saved && saved.snap && saved.snap.public) {
        snap = saved.snap;
        client.offset = saved.offset || 0;
        lastRx = saved.at;
        stale = true;
        render();
        renderConn(null);
        return;
      }
    } catch (e) { /* start clean */ }
    screen("s-loading");
  }

  bind();
  restore();
  client.start();
  registerWorker();
  setInterval(tick, 1000);
})();
