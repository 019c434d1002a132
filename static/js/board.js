/* The observer board (templates/board.html): spots and time left, the line in numbers, announcements, the join QR.
 *
 * Live over Socket.IO as an observer (PQNet from net.js: snapshot after every reconnect and when the page becomes
 * visible again, `state` messages applied by version). While the socket is not connected - websockets blocked by a
 * network, a proxy that drops Socket.IO - the board polls GET /api/events/<slug> every 10 seconds instead.
 * Countdowns run from the server's clock (`server_now` offset). Texts come translated from the page.
 * Also wires the print button of templates/print.html (the only script that page loads). Times are formatted by
 * format.js, shared with the other pages.
 */
import {fmt, clock, timeOfDay, serverClock} from "./format.js";

(function () {
  "use strict";

  var printBtn = document.getElementById("print-btn");
  if (printBtn) printBtn.addEventListener("click", function () { window.print(); });

  var root = document.getElementById("board");
  if (!root) return;

  var T = JSON.parse(document.getElementById("board-texts").textContent);
  var first = JSON.parse(document.getElementById("board-data").textContent);
  var slug = root.getAttribute("data-slug");
  var apiUrl = root.getAttribute("data-api");
  var pollMs = parseInt(root.getAttribute("data-poll-ms"), 10) || 10000;
  var $ = function (id) { return document.getElementById(id); };

  var v = 0;              // version shown
  var pub = null;         // the public block shown
  var base = 0;           // server time of `pub` (its estimates are relative to it)
  var server = serverClock();  // server time minus local time, from every payload
  var news = [];          // announcements, newest first
  var mode = "connecting";
  var lastUpdate = null;  // local time of the last successful update
  var pollTimer = null;
  var gone = false;
  var client = null;

  /** A text with {name} placeholders filled in. */
  function t(key, vars) { return fmt(T[key] || "", vars); }

  /** The server's current time, estimated. */
  function now() { return server.now(); }

  /** A new element with a class and text. */
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  // ------------------------------------------------------------ applying data

  /** A full snapshot (first paint, socket, or a poll). */
  function applySnapshot(snap) {
    if (!snap || !snap.public) return;
    server.learn(snap.server_now);
    v = snap.v;
    pub = snap.public;
    base = snap.server_now;
    news = (snap.announcements || []).slice(0, 5);
    lastUpdate = Date.now();
    render();
  }

  /** A `state` message: newer versions only (a poll may already have shown it). */
  function applyState(msg) {
    if (!msg || msg.v <= v) return true;
    server.learn(msg.server_now);
    v = msg.v;
    pub = msg.public;
    base = msg.server_now;
    lastUpdate = Date.now();
    render();
    return true;
  }

  function addNews(a) {
    if (!a || news.some(function (x) { return x.id === a.id; })) return;
    news.unshift(a);
    news = news.slice(0, 5);
    renderNews();
  }

  // ------------------------------------------------------------ rendering

  function render() {
    if (!pub) return;
    var ev = pub.event;
    root.setAttribute("data-v", String(v));
    root.setAttribute("data-state", ev.state);
    $("b-title").textContent = ev.title;
    $("b-where").textContent = ev.location || "";
    $("b-where").hidden = !ev.location;
    var st = $("b-state");
    st.setAttribute("data-state", ev.state);
    st.textContent = t("st_" + ev.state);
    st.hidden = !st.textContent;
    $("b-join").hidden = !ev.board_qr || ev.state === "ended";  // nobody can join an ended event
    $("b-waiting").textContent = String(pub.counts.line);
    $("b-held").textContent = String(pub.counts.held);
    $("b-detained").textContent = String(pub.counts.detained);
    $("b-detained").parentNode.classList.toggle("b-some", pub.counts.detained > 0);  // red only when there are any
    renderSpots();
    renderNext(ev);
    renderNews();
    tick();
  }

  /** "Next up": the tickets to be called next, as queue screens show them; when the whole line is through. */
  function renderNext(ev) {
    var list = $("b-next-list");
    var next = pub.next || [];
    list.textContent = "";
    next.forEach(function (ticket) { list.appendChild(el("li", "b-next-ticket", t("busy_ticket", {ticket: ticket}))); });
    $("b-nextup").hidden = !next.length || ev.state === "ended";
    $("b-through").textContent = pub.through_at ? t("through", {time: timeOfDay(pub.through_at, T.lang)}) : t("eta_none");
  }

  function renderSpots() {
    var list = $("b-spot-list");
    list.textContent = "";
    pub.spots.forEach(function (s) {
      var li = el("li", "b-spot");
      li.setAttribute("data-status", s.status);
      li.appendChild(el("h3", "b-spot-label", t("spot", {label: s.label})));
      if (s.status === "busy") {
        li.appendChild(el("p", "b-holder", s.name || t("busy_ticket", {ticket: s.ticket})));
        var left = el("p", "b-left");
        left.setAttribute("data-ends", String(s.ends_at));
        li.appendChild(left);
        if (s.called_ticket) {
          li.appendChild(el("p", "b-next", t(s.called_arrived ? "next_here" : "next_on_way",
                                              {ticket: s.called_ticket})));
        }
      } else if (s.status === "called") {
        li.appendChild(el("p", "b-holder b-free", t("free")));
        li.appendChild(el("p", "b-next", t(s.called_arrived ? "called_here" : "called_on_way",
                                            {ticket: s.called_ticket})));
      } else {
        li.appendChild(el("p", "b-holder b-free", t("free")));
      }
      list.appendChild(li);
    });
  }

  function renderNews() {
    var list = $("b-news");
    list.textContent = "";
    news.forEach(function (a) {
      var li = el("li", "b-news-item");
      var time = el("time", "b-news-time", timeOfDay(a.at, T.lang));
      time.setAttribute("datetime", new Date(a.at).toISOString());
      li.appendChild(time);
      li.appendChild(el("span", "b-news-text", a.text));
      list.appendChild(li);
    });
    $("b-news-none").hidden = news.length > 0;
  }

  /** Countdowns and the estimate, once a second from the server's clock. */
  function tick() {
    if (!pub) return;
    var ev = pub.event;
    var at = ev.state === "paused" && ev.paused_at ? ev.paused_at : now();
    var lefts = root.querySelectorAll(".b-left");
    for (var i = 0; i < lefts.length; i++) {
      var ms = parseInt(lefts[i].getAttribute("data-ends"), 10) - at;
      lefts[i].textContent = ms > 0 ? t("left", {time: clock(ms)}) : t("handing_over");
    }
    $("b-eta").textContent = etaText(ev);
    renderConn();
  }

  /** The estimated wait for someone joining now, counted down since the data arrived. */
  function etaText(ev) {
    if (ev.state === "paused") return t("eta_paused");
    if ((ev.state !== "live" && ev.state !== "open") || !pub.eta_new) return t("eta_none");
    // Before calls start the wait counts from the start, not from now (the phones say the same).
    var spent = ev.state === "open" ? 0 : Math.max(0, now() - base);
    var text = etaRange(spent);
    return ev.state === "open" && text !== t("eta_now") ? t("eta_after_start", {eta: text}) : text;
  }

  function etaRange(spent) {
    var lo = Math.ceil(Math.max(0, pub.eta_new.lo_ms - spent) / 60000);
    var mid = Math.ceil(Math.max(0, pub.eta_new.mid_ms - spent) / 60000);
    var hi = Math.ceil(Math.max(0, pub.eta_new.hi_ms - spent) / 60000);
    if (hi <= 0) return t("eta_now");
    if (lo === hi) return t("eta_one", {mid: mid});
    return t("eta_range", {lo: lo, hi: hi});
  }

  function renderConn() {
    var box = $("b-conn");
    var text;
    if (gone) text = t("gone");
    else if (mode === "live") text = t("live");
    else if (mode === "polling") text = t("polling");
    else if (mode === "offline") text = t("offline", {time: lastUpdate ? timeOfDay(lastUpdate + server.offset, T.lang) : "–"});
    else text = t(mode === "connecting" ? "connecting" : "reconnecting");
    box.setAttribute("data-status", gone ? "gone" : mode);
    root.setAttribute("data-mode", gone ? "gone" : mode);
    if ($("b-conn-text").textContent !== text) $("b-conn-text").textContent = text;
  }

  // ------------------------------------------------------------ polling fallback

  function poll() {
    if (gone) return;
    fetch(apiUrl, {headers: {"Accept": "application/json"}, cache: "no-store", credentials: "omit"})
      .then(function (r) {
        if (r.status === 404) { setGone(); return null; }
        return r.ok ? r.json() : null;
      })
      .then(function (body) {
        if (body && body.ok) {
          if (mode !== "live") mode = "polling";
          if (body.data.v >= v) applySnapshot(body.data);
        } else if (body !== null && mode !== "live") {
          mode = "offline";
        }
        renderConn();
      })
      .catch(function () {
        if (mode !== "live") mode = "offline";
        renderConn();
      });
  }

  function startPolling() {
    if (pollTimer || gone) return;
    pollTimer = setInterval(poll, pollMs);
  }

  function stopPolling() {
    clearInterval(pollTimer);
    pollTimer = null;
  }

  function setGone() {
    gone = true;
    stopPolling();
    if (client) client.stop();
    renderConn();
  }

  // ------------------------------------------------------------ big screen

  var bigBtn = $("b-big");
  var wakeLock = null;

  function setBig(on) {
    document.documentElement.classList.toggle("big", on);
    bigBtn.setAttribute("aria-pressed", on ? "true" : "false");
    bigBtn.textContent = on ? t("big_exit") : t("big");
    if (on && navigator.wakeLock) {
      navigator.wakeLock.request("screen").then(function (l) { wakeLock = l; }, function () {});
    } else if (!on && wakeLock) {
      wakeLock.release().catch(function () {});
      wakeLock = null;
    }
  }

  bigBtn.addEventListener("click", function () {
    var on = !document.documentElement.classList.contains("big");
    setBig(on);
    var de = document.documentElement;
    if (on && de.requestFullscreen && !document.fullscreenElement) {
      de.requestFullscreen().catch(function () {});  // refused (e.g. in a frame): the large layout still applies
    } else if (!on && document.fullscreenElement && document.exitFullscreen) {
      document.exitFullscreen().catch(function () {});
    }
  });
  document.addEventListener("fullscreenchange", function () {
    // Leaving full screen with Esc leaves the big-screen layout too.
    if (!document.fullscreenElement && document.documentElement.classList.contains("big")) setBig(false);
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState !== "visible") return;
    if (document.documentElement.classList.contains("big") && navigator.wakeLock) setBig(true);  // lock released
    if (mode !== "live") poll();
  });

  // ------------------------------------------------------------ start

  applySnapshot(first);
  setInterval(tick, 1000);
  if (window.PQNet && window.io) {
    client = new window.PQNet.Client({
      auth: function () { return {event: slug}; },
      onSnapshot: applySnapshot,
      onState: applyState,
      onAnnouncement: addNews,
      onServerTime: function (o) { server.offset = o; },
      onStatus: function (status) {
        if (status === "live") {
          mode = "live";
          stopPolling();
        } else {
          if (mode === "live") mode = "reconnecting";  // ("connecting" stays until a poll or the socket answers)
          startPolling();
        }
        renderConn();
      },
      onRefused: function (err) {
        if (err && err.code === "not_found") setGone();
        else { mode = "reconnecting"; startPolling(); renderConn(); }
      },
      onBye: function () { setGone(); }
    }).start();
  } else {
    mode = "reconnecting";  // the socket library did not load: polling only
    startPolling();
  }
})();
