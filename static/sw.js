/* Picket Queue service worker (scope "/"): keeps the participant page's app shell for reloads without network, and
 * shows Web Push alerts. It never caches the socket, the API or the coordinator console. A cached event page (its
 * title and place) is dropped as soon as the server answers it with 404 (the event was purged), and when the page says
 * so ({forget: path}) after a `bye`, a refusal as not found, or the person deleting their data.
 */
"use strict";

var SHELL_CACHE = "pq-shell-v1";
var SETTINGS_CACHE = "pq-settings";
var SHELL = ["/static/css/base.css", "/static/css/participant.css", "/static/js/net.js", "/static/js/eta.js",
  "/static/js/participant.js", "/static/js/format.js", "/static/vendor/socket.io.min.js", "/static/favicon.svg",
  "/static/icons/icon-192.png"];

self.addEventListener("install", function (event) {
  // Each file on its own: one missing file must not stop the worker from installing.
  event.waitUntil(caches.open(SHELL_CACHE).then(function (cache) {
    return Promise.all(SHELL.map(function (url) { return cache.add(url).catch(function () {}); }));
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k !== SHELL_CACHE && k !== SETTINGS_CACHE; })
      .map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});

/** The participant page of an event (not the board, not the console). */
function isParticipantPage(url) {
  return /^\/e\/[A-Za-z0-9_-]+\/?$/.test(url.pathname);
}

self.addEventListener("fetch", function (event) {
  var req = event.request;
  var url = new URL(req.url);
  if (req.method !== "GET" || url.origin !== self.location.origin) return;
  if (isParticipantPage(url)) {
    // Network first (the page carries fresh texts and settings); the last copy when the network is gone.
    event.respondWith(fetch(req).then(function (resp) {
      if (resp.ok) {
        var copy = resp.clone();
        caches.open(SHELL_CACHE).then(function (cache) { cache.put(url.pathname, copy); });
      } else if (resp.status === 404 || resp.status === 410) {
        forgetPage(url.pathname);  // the event is gone: so is our copy of its page
      }
      return resp;
    }).catch(function () {
      return caches.match(url.pathname).then(function (hit) { return hit || Response.error(); });
    }));
    return;
  }
  if (url.pathname.indexOf("/static/") === 0) {
    // Network first as well (the browser's HTTP cache revalidates cheaply): a page and its script must come from
    // the same deploy. The copy in the cache is for when there is no network at all.
    event.respondWith(fetch(req).then(function (resp) {
      if (resp.ok) {
        var copy = resp.clone();
        caches.open(SHELL_CACHE).then(function (cache) { cache.put(req, copy); });
      }
      return resp;
    }).catch(function () {
      return caches.match(req).then(function (hit) { return hit || Response.error(); });
    }));
  }
});

/** The language the participant page was last shown in (the page tells us). */
function pageLanguage() {
  return caches.open(SETTINGS_CACHE).then(function (cache) { return cache.match("/__pq_lang"); })
    .then(function (r) { return r ? r.text() : "ru"; }).catch(function () { return "ru"; });
}

/** Drop the cached copy of an event page. */
function forgetPage(path) {
  return caches.open(SHELL_CACHE).then(function (cache) { return cache.delete(path); }).catch(function () {});
}

self.addEventListener("message", function (event) {
  var data = event.data || {};
  if (typeof data.forget === "string" && isParticipantPage(new URL(data.forget, self.location.origin))) {
    event.waitUntil(forgetPage(new URL(data.forget, self.location.origin).pathname));
    return;
  }
  if (data.lang === "ru" || data.lang === "en") {
    caches.open(SETTINGS_CACHE).then(function (cache) { return cache.put("/__pq_lang", new Response(data.lang)); });
  }
  // The page that registered the worker was loaded before the worker existed: keep a copy of it now.
  if (typeof data.page === "string" && isParticipantPage(new URL(data.page, self.location.origin))) {
    caches.open(SHELL_CACHE).then(function (cache) { return cache.add(data.page); }).catch(function () {});
  }
});

self.addEventListener("push", function (event) {
  var data = {};
  try { data = event.data ? event.data.json() : {}; } catch (e) { data = {}; }
  event.waitUntil(pageLanguage().then(function (lang) {
    var texts = (data.texts && (data.texts[lang] || data.texts.ru)) || {title: "Picket Queue", body: ""};
    // Safari revokes the permission if a push shows nothing: always show a notification.
    return self.registration.showNotification(texts.title, {body: texts.body, tag: "pq-alert", renotify: true,
      requireInteraction: data.kind === "called", icon: "/static/icons/icon-192.png",
      data: {url: data.url || "/"}});
  }));
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var target = (event.notification.data && event.notification.data.url) || "/";
  event.waitUntil(self.clients.matchAll({type: "window", includeUncontrolled: true}).then(function (list) {
    for (var i = 0; i < list.length; i++) {
      if (new URL(list[i].url).pathname === target && "focus" in list[i]) return list[i].focus();
    }
    return self.clients.openWindow ? self.clients.openWindow(target) : null;
  }));
});
