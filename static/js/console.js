// The coordinator console: live view of the line and every engine action, over Socket.IO (PQNet from net.js).
// The server owns time and truth: every `console` message gives the full coordinator view (whole, or as a patch that
// net.js applies), drawn as it comes;
// countdowns use the server clock offset. Texts come translated from the page (#texts); none are written here.
(function () {
  "use strict";
  var root = document.getElementById("console");
  var T = JSON.parse(document.getElementById("texts").textContent);
  var slug = root.getAttribute("data-slug");
  var KEY = "pq:coordinator:" + slug;
  var token = null;
  var passphrase = null;   // kept in memory only: a seized phone should not hand it over
  var client = null;
  var snap = null;         // the last coordinator snapshot drawn
  var offset = 0;          // server time minus local time
  var busy = {};           // "action:entry" keys with an action in flight (their buttons stay disabled)
  var $ = function (id) { return document.getElementById(id); };

  // ------------------------------------------------------------------ small helpers

  /** Create an element: h("li", {class: "x", "data-entry": 3}, [child, "text"]). */
  function h(tag, attrs, children) {
    var el = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var val = attrs[k];
      if (val === null || val === undefined || val === false) return;
      if (k === "text") el.textContent = val;
      else if (k === "disabled" || k === "hidden" || k === "checked") el[k] = !!val;
      else el.setAttribute(k, val === true ? "" : String(val));
    });
    (children || []).forEach(function (c) {
      if (c === null || c === undefined || c === false) return;
      el.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return el;
  }

  /** Fill {name}-style placeholders. */
  function fmt(text, values) {
    return String(text).replace(/\{(\w+)\}/g, function (m, k) {
      return values && values[k] !== undefined && values[k] !== null ? values[k] : m;
    });
  }

  function storageGet(store, key) { try { return store.getItem(key); } catch (e) { return null; } }
  function storageSet(store, key, val) { try { store.setItem(key, val); } catch (e) { /* private mode */ } }
  function storageDel(store, key) { try { store.removeItem(key); } catch (e) { /* private mode */ } }

  /** The server's clock now. */
  function now() { return Date.now() + offset; }

  /** "m:ss" for a countdown (or a time waited). */
  function clock(ms) {
    var s = Math.max(0, Math.round(ms / 1000));
    var m = Math.floor(s / 60);
    s = s % 60;
    return m + ":" + (s < 10 ? "0" : "") + s;
  }

  /** A time of day in the page's language. */
  function timeOfDay(ms) {
    return new Date(ms).toLocaleTimeString(T.locale, {hour: "2-digit", minute: "2-digit"});
  }

  /** The translated text of an error, naming the refused field when the server's message quotes it. */
  function errorText(err) {
    err = err || {code: "internal"};
    var text = T.errors[err.code] || T.errors.internal;
    var m = /'(\w+)'/.exec(err.message || "");
    if (m && T.fields[m[1]]) text += " (" + T.fields[m[1]] + ")";
    return text;
  }

  /** Every entry of the snapshot by id. */
  function entryById(id) {
    if (!snap) return null;
    var all = snap.line.concat(snap.active, snap.past);
    for (var i = 0; i < all.length; i++) if (all[i].id === id) return all[i];
    return null;
  }

  function nameOf(id) {
    var e = entryById(id);
    return e ? e.pseudonym + " (" + fmt(T.w.ticket, {n: e.ticket}) + ")" : "";
  }

  // ------------------------------------------------------------------ toasts and dialogs

  /** Show a short outcome message; errors are announced assertively. */
  function toast(text, kind, extra) {
    var box = $("toasts");
    var item = h("div", {class: "toast " + (kind || "ok")}, [h("span", {text: text})]);
    if (extra) item.appendChild(extra);
    var close = h("button", {type: "button", class: "btn small", "aria-label": T.btn.close, text: "×"});
    close.addEventListener("click", function () { item.remove(); });
    item.appendChild(close);
    box.appendChild(item);
    if (kind === "error") $("alerts").textContent = text;
    while (box.children.length > 2) box.removeChild(box.firstChild);  // at most two, never a wall over the page
    setTimeout(function () { item.remove(); }, extra ? 10000 : 4000);
  }

  /** Ask before a destructive action: a modal <dialog> (window.confirm where dialogs are missing). */
  function ask(text) {
    var dlg = $("confirm-dialog");
    if (!dlg.showModal) return Promise.resolve(window.confirm(text));
    $("confirm-text").textContent = text;
    dlg.returnValue = "";
    dlg.showModal();
    return new Promise(function (resolve) {
      dlg.addEventListener("close", function () { resolve(dlg.returnValue === "ok"); }, {once: true});
    });
  }

  /** The detention dialog: resolves {note, pause} or null when cancelled. */
  function askDetention(entryId) {
    var dlg = $("detain-dialog");
    $("detain-who").textContent = nameOf(entryId) + " · " + timeOfDay(now());
    $("detain-note").value = "";
    $("detain-pause").checked = !!(snap && snap.settings.pause_on_detain);
    dlg.returnValue = "";
    if (!dlg.showModal) return Promise.resolve(window.confirm(nameOf(entryId)) ? {note: "", pause: false} : null);
    dlg.showModal();
    return new Promise(function (resolve) {
      dlg.addEventListener("close", function () {
        resolve(dlg.returnValue === "ok" ? {note: $("detain-note").value, pause: $("detain-pause").checked} : null);
      }, {once: true});
    });
  }

  // ------------------------------------------------------------------ actions

  /** Run an engine action once (one op id, re-sent by PQNet until answered) and show its outcome. */
  function act(action, args, opts) {
    opts = opts || {};
    var key = action + ":" + (args && (args.entry || args.coordinator || args.spot) || "");
    if (busy[key]) return Promise.resolve(null);  // already in flight: a second press sends nothing
    busy[key] = true;
    if (opts.button) opts.button.disabled = true;
    var label = args && args.entry ? nameOf(args.entry) : "";
    if (!client.socket || !client.socket.connected) toast(T.errors.offline, "error");
    // A call, skip or removal gets its own op id, so that the engine can undo exactly that action.
    var op = UNDOABLE.indexOf(action) >= 0 ? newOp() : undefined;
    return client.act(action, args || {}, op).then(function (res) {
      delete busy[key];
      if (opts.button) opts.button.disabled = false;
      if (!res.ok) {
        toast(errorText(res.error), "error");
        drawButtons();  // the view that came meanwhile may say why the button stays off (it was just turned on)
        return res;
      }
      var r = res.result || {};
      var spot = r.spot ? r.spot.label : "";
      var name = label || (r.entry ? nameOf(r.entry) : (args && args.pseudonym) || "");
      var text = opts.doneText || T.done[action] || T.done.same;
      if (r.already) text = T.done.same;
      if (r.undoable && !res.replay) {  // Undo shows beside the person until anything else changes
        lastUndo = {op: op, entry: r.entry, v: res.v};
        opts.undo = null;
        if (snap) draw(snap);
      }
      toast(fmt(text, {name: name, spot: spot, to: args && args.to}), "ok", opts.undo ? undoButton(opts.undo) : null);
      if (opts.then) opts.then(r);
      drawButtons();
      return res;
    });
  }

  var UNDOABLE = ["call_next", "skip", "remove"];
  var lastUndo = null;  // {op, entry, v}: the latest call, skip or removal the engine can undo

  function newOp() {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  /** "✉": a message to this one person (not for walk-ins, who have no phone in the line). */
  function messageBtn(e) {
    if (e.walk_in) return null;
    return actBtn("message", "✉", {"data-entry": e.id, "aria-label": fmt(T.personal.message_to, {name: e.pseudonym}),
                                   title: T.personal.message});
  }

  /** The message dialog: resolves the text, or null when cancelled. */
  function askMessage(entryId) {
    var dlg = $("message-dialog");
    $("message-who").textContent = nameOf(entryId);
    $("message-text").value = "";
    dlg.returnValue = "";
    dlg.showModal();
    return new Promise(function (resolve) {
      dlg.addEventListener("close", function () {
        var text = $("message-text").value.trim();
        resolve(dlg.returnValue === "ok" && text ? text : null);
      }, {once: true});
    });
  }

  /** The Undo button beside a person, while their last call, skip or removal can still be undone. */
  function undoHere(s, entryId) {
    if (!lastUndo || lastUndo.entry !== entryId || lastUndo.v !== s.v) return null;
    return actBtn("undo", T.btn.undo, {"data-op": lastUndo.op, "data-entry": entryId, class: "btn undo"});
  }

  /** A person removed a moment ago is no longer in the line: their Undo stays where the line was. */
  function drawUndoBar(s) {
    var bar = $("undo-bar");
    bar.textContent = "";
    var gone = lastUndo && s.past.filter(function (e) { return e.id === lastUndo.entry; })[0];
    var btn = gone && undoHere(s, gone.id);
    bar.hidden = !btn;
    if (btn) bar.appendChild(h("span", {text: fmt(T.done.remove, {name: gone.pseudonym + " (" +
      fmt(T.w.ticket, {n: gone.ticket}) + ")"}) + " "}));
    if (btn) bar.appendChild(btn);
  }

  /** An Undo button that puts a person back where they were (a `move` to the remembered place). */
  function undoButton(prev) {
    var b = h("button", {type: "button", class: "btn small", text: T.btn.undo});
    b.addEventListener("click", function () {
      b.disabled = true;
      act("move", {entry: prev.entry, to: prev.position}, {doneText: T.done.undo});
    });
    return b;
  }

  /** What a click on a [data-act] button does. */
  function onAction(btn) {
    var action = btn.getAttribute("data-act");
    var entry = btn.hasAttribute("data-entry") ? parseInt(btn.getAttribute("data-entry"), 10) : null;
    var e = entry ? entryById(entry) : null;
    var args = entry ? {entry: entry} : {};
    if (btn.hasAttribute("data-spot")) args.spot = parseInt(btn.getAttribute("data-spot"), 10);
    var opts = {button: btn};
    if (action === "up" || action === "down") {
      var to = e.position + (action === "up" ? -1 : 1);
      if (to < 1 || to > snap.line.length) return;
      return act("move", {entry: entry, to: to}, {button: btn, undo: {entry: entry, position: e.position}});
    }
    if (action === "skip" && e && e.position) opts.undo = {entry: entry, position: e.position};
    if (action === "message") {
      return askMessage(entry).then(function (text) {
        if (text) act("message", {entry: entry, text: text}, {button: btn, doneText: T.personal.sent});
      });
    }
    if (action === "undo") {
      return act("undo", {op: btn.getAttribute("data-op")}, {button: btn, doneText: T.done.undo,
                                                              then: function () { lastUndo = null; }});
    }
    if (action === "detain") {
      return askDetention(entry).then(function (d) {
        if (!d) return;
        act("detain", {entry: entry, note: d.note, pause: d.pause}, opts);
      });
    }
    if (action === "remove") {
      return ask(fmt(T.confirm.remove, {name: nameOf(entry)})).then(function (ok) { if (ok) act(action, args, opts); });
    }
    if (action === "revoke") {
      var cid = parseInt(btn.getAttribute("data-coordinator"), 10);
      return ask(fmt(T.confirm.revoke, {name: btn.getAttribute("data-label")})).then(function (ok) {
        if (ok) act("revoke", {coordinator: cid}, opts);
      });
    }
    if (btn.hasAttribute("data-confirm")) {
      return ask(btn.getAttribute("data-confirm")).then(function (ok) { if (ok) act(action, args, opts); });
    }
    return act(action, args, opts);
  }

  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest("[data-act]");
    if (btn && root.contains(btn) && !btn.disabled) {
      ev.preventDefault();
      onAction(btn);
    }
  });

  // ------------------------------------------------------------------ drawing

  /** A button for an entry action. */
  function actBtn(action, text, attrs) {
    var a = Object.assign({type: "button", class: "btn", "data-act": action, text: text}, attrs || {});
    var key = action + ":" + (a["data-entry"] || a["data-coordinator"] || a["data-spot"] || "");
    if (action === "up" || action === "down") key = "move:" + a["data-entry"];
    a.disabled = !!busy[key] || a.disabled;
    return h("button", a);
  }

  /** Re-apply the disabled state of in-flight actions after an answer. */
  function drawButtons() {
    if (snap) draw(snap);
  }

  /** A countdown element: updated every second from the server clock. */
  function countdown(until, label) {
    return h("span", {class: "countdown", "data-until": until, "aria-label": label}, [clock(until - base())]);
  }

  /** The moment countdowns are measured from: a paused event's clock stands still. */
  function base() {
    var ev = snap && snap.public.event;
    return ev && ev.state === "paused" && ev.paused_at ? ev.paused_at : now();
  }

  function tick() {
    var b = base();
    var els = root.querySelectorAll("[data-until]");
    for (var i = 0; i < els.length; i++) els[i].textContent = clock(+els[i].getAttribute("data-until") - b);
    els = root.querySelectorAll("[data-since]");
    for (i = 0; i < els.length; i++) els[i].textContent = clock(b - +els[i].getAttribute("data-since"));
  }

  function drawHead(s) {
    var ev = s.public.event;
    $("ev-title").textContent = ev.title;
    document.title = ev.title;
    $("ev-state").textContent = T.event_states[ev.state] || ev.state;
    $("ev-state").className = "badge state-" + ev.state;
    $("who-am-i").textContent = s.me ? fmt(T.w.signed_in_as, {label: teamLabel(s.me)}) : "";
    var c = s.public.counts;
    $("c-waiting").textContent = c.waiting;
    $("c-away").textContent = c.away;
    $("c-held").textContent = c.held;
    $("c-detained").textContent = c.detained;
    $("c-noshow").textContent = c.noshow;
    $("c-through").textContent = s.public.through_at ? "≈ " + timeOfDay(s.public.through_at) : "–";
    var btns = $("ev-controls").querySelectorAll("[data-show]");
    for (var i = 0; i < btns.length; i++) {
      btns[i].hidden = btns[i].getAttribute("data-show").split(" ").indexOf(ev.state) < 0;
      btns[i].disabled = !!busy[btns[i].getAttribute("data-act") + ":"];
    }
    $("ended-note").hidden = ev.state !== "ended";
    if (ev.state === "ended" && ev.purge_at) $("ended-note").textContent = fmt(T.w.ended, {time: timeOfDay(ev.purge_at)});
    $("call-next").hidden = ev.state === "ended";
    var waiting = s.line.some(function (e) { return e.state === "waiting"; });
    var why = callBlocked(s, ev, waiting);
    $("call-next").disabled = !!why || !!busy["call_next:"];
    $("call-hint").textContent = why ? T.call_hint[why] : "";
    $("call-hint").hidden = !why || ev.state === "ended";
  }

  /** Why "Call next" cannot call now (a key of T.call_hint), or "" when it can. */
  function callBlocked(s, ev, waiting) {
    if (ev.state === "paused") return "paused";
    if (ev.state !== "live") return "not_live";
    if (!waiting) return "nobody";
    var spots = s.public.spots;
    if (spots.some(function (spot) { return spot.status === "free"; })) return "";
    return spots.every(function (spot) { return spot.called_ticket; }) ? "all_called" : "full";
  }

  function drawSpots(s) {
    var list = $("spots");
    list.textContent = "";
    var live = s.public.event.state === "live";
    s.public.spots.forEach(function (spot) {
      var on = s.active.filter(function (e) { return e.spot && e.spot.id === spot.id && e.state === "on_spot"; })[0];
      var called = s.active.filter(function (e) { return e.spot && e.spot.id === spot.id && e.state === "called"; })[0];
      var li = h("li", {class: "spot status-" + spot.status, "data-spot": spot.id}, [
        h("h3", {}, [fmt(T.w.spot, {label: spot.label}), " ",
                     h("span", {class: "badge", text: T.spot_status[spot.status] || spot.status})])]);
      if (on) {
        li.appendChild(h("div", {class: "holder"}, [
          h("strong", {text: on.pseudonym}), " ", h("span", {class: "muted", text: fmt(T.w.ticket, {n: on.ticket})}),
          " · " + T.w.time_left + " ", countdown(on.ends_at, T.w.time_left)]));
        li.appendChild(h("div", {class: "btns"}, [
          undoHere(s, on.id),
          actBtn("finish", T.btn.finish, {"data-entry": on.id}),
          actBtn("detain", T.btn.detain, {"data-entry": on.id, class: "btn warn"}),
          actBtn("remove", T.btn.remove, {"data-entry": on.id, class: "btn danger"})]));
      } else if (!called) {
        li.appendChild(h("div", {class: "holder muted", text: T.w.nobody}));
      }
      if (called) {
        li.appendChild(h("div", {class: "called"}, [
          fmt(T.w.called_to, {name: called.pseudonym}), " ",
          h("span", {class: "muted", text: fmt(T.w.ticket, {n: called.ticket})}), " · ",
          called.arrived_at ? h("span", {class: "badge ok", text: T.w.arrived})
            : h("span", {}, [T.w.check_in + " ", countdown(called.deadline_at, T.w.check_in)]),
          called.walk_in ? h("span", {class: "badge", text: T.w.walk_in}) : null,
          called.late ? h("span", {class: "badge warn late", text: fmt(T.personal.late,
            {n: called.late.minutes, time: timeOfDay(called.late.at)})}) : null]));
        li.appendChild(h("div", {class: "btns"}, [
          undoHere(s, called.id),
          called.arrived_at ? null : actBtn("confirm_arrival", T.btn.arrived, {"data-entry": called.id, class: "btn primary"}),
          actBtn("skip", T.btn.skip, {"data-entry": called.id}),
          actBtn("detain", T.btn.detain, {"data-entry": called.id, class: "btn warn"}),
          actBtn("remove", T.btn.remove, {"data-entry": called.id, class: "btn danger"}),
          messageBtn(called)]));
      } else {
        li.appendChild(h("div", {class: "btns"}, [actBtn("call_next", T.btn.call_here,
          {"data-spot": spot.id, class: "btn primary", disabled: !live || !s.line.length})]));
      }
      list.appendChild(li);
    });
  }

  /** The state badges of a person: away, missed calls, online / offline since, push. */
  function badges(e) {
    var out = [];
    if (e.state !== "waiting") out.push(h("span", {class: "badge state-" + e.state, text: T.states[e.state] || e.state}));
    if (e.misses) out.push(h("span", {class: "badge warn", text: fmt(T.w.misses, {n: e.misses})}));
    if (e.walk_in) out.push(h("span", {class: "badge", text: T.w.walk_in}));
    else if (e.online) out.push(h("span", {class: "badge ok", text: T.w.online}));
    else out.push(h("span", {class: "badge off", text: e.last_seen_at ? fmt(T.w.offline_since,
      {time: timeOfDay(e.last_seen_at)}) : T.w.offline}));
    if (e.push) out.push(h("span", {class: "badge", text: T.w.push}));
    if (e.late && ["waiting", "away", "called"].indexOf(e.state) >= 0) {
      out.push(h("span", {class: "badge warn late", text: fmt(T.personal.late,
        {n: e.late.minutes, time: timeOfDay(e.late.at)})}));
    }
    return out;
  }

  function drawLine(s) {
    var list = $("line");
    list.textContent = "";
    var live = s.public.event.state === "live";
    var n = s.line.length;
    $("line-count").textContent = "(" + n + ")";
    drawUndoBar(s);
    $("line-empty").hidden = n > 0;
    $("line-help").hidden = n < 2;
    s.line.forEach(function (e) {
      var li = h("li", {class: "person", draggable: "true", "data-entry": e.id, "data-position": e.position}, [
        h("span", {class: "pos", "aria-hidden": "true", text: e.position}),
        h("div", {class: "who"}, [
          h("strong", {text: e.pseudonym}), " ",
          h("span", {class: "muted", text: fmt(T.w.ticket, {n: e.ticket}) + " · " + T.w.waited + " "}),
          h("span", {class: "muted", "data-since": e.joined_at}, [clock(base() - e.joined_at)]),
          h("span", {class: "sr-only", text: " · " + fmt(T.w.pos_of, {n: e.position, total: n})}),
          h("div", {class: "badges"}, badges(e))]),
        h("div", {class: "btns"}, [
          undoHere(s, e.id),
          actBtn("call_next", T.btn.call, {"data-entry": e.id, class: "btn primary", disabled: !live}),
          actBtn("up", "↑", {"data-entry": e.id, "aria-label": T.btn.up + ": " + e.pseudonym, title: T.btn.up,
                             disabled: e.position === 1}),
          actBtn("down", "↓", {"data-entry": e.id, "aria-label": T.btn.down + ": " + e.pseudonym, title: T.btn.down,
                               disabled: e.position === n}),
          actBtn("skip", T.btn.skip, {"data-entry": e.id, disabled: e.position === n}),
          actBtn("detain", T.btn.detain, {"data-entry": e.id, class: "btn warn"}),
          actBtn("remove", T.btn.remove, {"data-entry": e.id, class: "btn danger"}),
          messageBtn(e)])]);
      list.appendChild(li);
    });
  }

  function drawPast(s) {
    var list = $("past");
    list.textContent = "";
    $("past-empty").hidden = s.past.length > 0;
    s.past.slice(0, 60).forEach(function (e) {
      var recall = ["missed", "left", "removed"].indexOf(e.state) >= 0 && s.public.event.state !== "ended";
      list.appendChild(h("li", {class: "person past-" + e.state}, [
        h("div", {class: "who"}, [
          h("strong", {text: e.pseudonym}), " ", h("span", {class: "muted", text: fmt(T.w.ticket, {n: e.ticket})}),
          " ", h("span", {class: "badge state-" + e.state, text: T.states[e.state] || e.state}),
          e.finished_at ? h("span", {class: "muted", text: " " + timeOfDay(e.finished_at)}) : null,
          e.note ? h("div", {class: "note", text: fmt(T.w.note, {note: e.note})}) : null]),
        h("div", {class: "btns"}, [
          undoHere(s, e.id),
          recall && !undoHere(s, e.id) ? actBtn("recall", T.btn.recall, {"data-entry": e.id}) : null,
          e.state === "done" ? actBtn("detain", T.btn.detain, {"data-entry": e.id, class: "btn warn"}) : null])]));
    });
  }

  function drawTeam(s) {
    var list = $("team");
    list.textContent = "";
    var owner = s.me && s.me.owner;
    (s.team || []).forEach(function (c) {
      list.appendChild(h("li", {class: c.revoked ? "revoked" : ""}, [
        h("strong", {text: teamLabel(c)}), " ",
        c.owner && teamLabel(c).toLowerCase() !== T.w.owner.toLowerCase() ? h("span", {class: "badge", text: T.w.owner}) : null,
        s.me && s.me.id === c.id ? h("span", {class: "badge", text: T.w.you}) : null,
        c.revoked ? h("span", {class: "badge off", text: T.w.revoked})
          : h("span", {class: "badge " + (c.online ? "ok" : "off"), text: c.online ? T.w.online : T.w.offline}),
        owner && !c.owner && !c.revoked ? actBtn("revoke", T.btn.revoke, {"data-coordinator": c.id,
          "data-label": c.label, class: "btn danger small"}) : null]));
    });
    $("invite-form").hidden = !owner;
  }

  /** A coordinator's name; the API's default name of the owner ("owner") in the reader's language. */
  function teamLabel(c) { return c.owner && c.label === "owner" ? T.w.owner : c.label; }

  function drawLog(s) {
    var list = $("log");
    list.textContent = "";
    s.log.forEach(function (r) {
      var detail = ["call", "move", "broadcast", "spots", "invite", "revoke"].indexOf(r.action) >= 0 ? r.detail : "";
      if (r.action === "late") detail = (r.detail || "") + " " + T.w.minutes;
      if (r.action === "undo") detail = T.log[{call_next: "call", skip: "skip", remove: "remove"}[r.detail]] || "";
      if (r.action === "settings") {  // setting names, translated
        detail = (r.detail || "").split(",").map(function (k) { return T.fields[k] || k; }).join(", ");
      }
      // A coordinator's name then what they did ("Masha: called up"); automatic steps and a person's own actions
      // name nobody (the person is named after the action).
      var actor = r.actor === "system" || r.actor === "participant" ? "" : r.actor;
      var what = r.action === "call" && r.actor === "system" ? T.log.auto_call : (T.log[r.action] || r.action);
      list.appendChild(h("li", {}, [
        h("time", {text: timeOfDay(r.at)}), " ", actor ? h("span", {class: "actor", text: actor + ":"}) : null,
        " " + what,
        r.ticket ? " · " + (r.pseudonym || "") + " (" + fmt(T.w.ticket, {n: r.ticket}) + ")" : "",
        detail ? " · " + detail : ""]));
    });
  }

  function drawAnnouncements(s) {
    var list = $("announcements");
    list.textContent = "";
    s.announcements.forEach(function (a) {
      list.appendChild(h("li", {}, [h("time", {text: timeOfDay(a.at)}), " ", a.text]));
    });
  }

  /** Is the person editing this form right now? Then a live update must not overwrite their input. */
  function editing(form) { return form.contains(document.activeElement) || form.getAttribute("data-dirty") === "1"; }

  /** The settings as the form shows them: the snapshot's settings plus what lives on the event. */
  function settingsNow(s) {
    var ev = s.public.event;
    var out = Object.assign({title: ev.title, location: ev.location}, s.settings);
    if ("board_qr" in ev) out.board_qr = ev.board_qr;
    return out;
  }

  function drawSettings(s) {
    var form = $("settings-form");
    if (editing(form)) return;
    var values = settingsNow(s);
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || !(el.name in values)) return;
      var val = values[el.name];
      if (el.type === "checkbox") el.checked = !!val;
      else if (el.getAttribute("data-unit") === "min") el.value = String(Math.round(val / 6000) / 10);
      else el.value = val === null ? "" : String(val);
    });
  }

  function spotRow(spot) {
    var li = h("li", {"data-id": spot ? spot.id : ""});
    var input = h("input", {type: "text", maxlength: 40, required: true, "aria-label": T.btn.spot_label,
                            value: spot ? spot.label : ""});
    var del = h("button", {type: "button", class: "btn small", text: T.btn.remove_spot});
    del.addEventListener("click", function () {
      $("spots-form").setAttribute("data-dirty", "1");
      li.remove();
    });
    li.appendChild(input);
    li.appendChild(del);
    return li;
  }

  function drawSpotsEditor(s) {
    var form = $("spots-form");
    if (editing(form)) return;
    var list = $("spots-edit");
    list.textContent = "";
    s.all_spots.filter(function (sp) { return sp.active; }).forEach(function (sp) { list.appendChild(spotRow(sp)); });
  }

  /** Draw a coordinator snapshot (the whole console: it is small). */
  function draw(s) {
    var focus = focusKey();
    snap = s;
    drawHead(s);
    drawSpots(s);
    drawLine(s);
    drawPast(s);
    drawTeam(s);
    drawLog(s);
    drawAnnouncements(s);
    drawSettings(s);
    drawSpotsEditor(s);
    drawJoining(s);
    restoreFocus(focus);
  }

  var FOCUS_ATTRS = ["data-act", "data-entry", "data-spot", "data-coordinator"];

  /** What identifies the focused action button, so a redraw does not throw keyboard users back to the top. */
  function focusKey() {
    var el = document.activeElement;
    if (!el || !el.hasAttribute || !el.hasAttribute("data-act") || !root.contains(el)) return null;
    return FOCUS_ATTRS.map(function (a) { return el.getAttribute(a); });
  }

  function restoreFocus(key) {
    if (!key || (document.activeElement && document.activeElement !== document.body)) return;
    var els = root.querySelectorAll("[data-act]");
    for (var i = 0; i < els.length; i++) {
      var match = FOCUS_ATTRS.every(function (a, j) { return els[i].getAttribute(a) === key[j]; });
      if (match && !els[i].hidden) {
        els[i].focus();
        return;
      }
    }
  }

  /** Accept a snapshot unless it is older than the one shown (presence updates keep the version). */
  function accept(s) {
    if (!s || s.role !== "coordinator") return;
    if (snap && s.v < snap.v) return;
    if (!s.me && snap) s.me = snap.me;  // broadcasts to all coordinators do not say who "me" is
    offset = s.server_now - Date.now();
    showApp();
    draw(s);
  }

  // ------------------------------------------------------------------ joining: flood alarm, gates, bulk removal (issue 8)

  var TJ = JSON.parse($("texts-joining").textContent);
  Object.keys(TJ.log).forEach(function (k) { if (!T.log[k]) T.log[k] = TJ.log[k]; });  // the new log lines
  var bulkCount = null;   // {args, n}: the last counted selection, what "Remove n" removes
  var codeTimer = null;

  function joiningAct(action, args, doneText, then) {
    return client.act(action, args || {}).then(function (res) {
      if (!res.ok) { toast(errorText(res.error), "error"); return res; }
      if (doneText) toast(fmt(doneText, res.result || {}), "ok");
      if (then) then(res.result || {});
      return res;
    });
  }

  function hhmm(ms) {
    var d = new Date(ms);
    return ("0" + d.getHours()).slice(-2) + ":" + ("0" + d.getMinutes()).slice(-2);
  }

  /** A local time of day ("14:05") today, as server milliseconds. */
  function atTime(value, end) {
    var p = (value || "").split(":");
    var d = new Date(now());
    d.setHours(parseInt(p[0], 10) || 0, parseInt(p[1], 10) || 0, end ? 59 : 0, end ? 999 : 0);
    return d.getTime();
  }

  function bulkArgs() {
    var sel = (root.querySelector("input[name=bulk-select]:checked") || {}).value || "joined";
    var args = {select: sel};
    if (sel === "joined") { args.since = atTime($("bulk-since").value); args.until = atTime($("bulk-until").value, true); }
    return args;
  }

  function countBulk() {
    var args = bulkArgs();
    args.dry_run = true;
    return client.act("remove_bulk", args).then(function (res) {
      if (!res.ok) { toast(errorText(res.error), "error"); return; }
      delete args.dry_run;
      bulkCount = {args: args, n: res.result.count};
      var btn = $("bulk-remove");
      btn.hidden = !bulkCount.n;
      btn.textContent = fmt(TJ.bulk_remove, {n: bulkCount.n});
      $("bulk-result").textContent = bulkCount.n ? fmt(TJ.bulk_count, {n: bulkCount.n}) : TJ.bulk_none;
      if (bulkCount.n) btn.focus();
    });
  }

  function removeBulk() {
    if (!bulkCount || !bulkCount.n) return;
    var chosen = bulkCount;
    ask(fmt(TJ.bulk_confirm, {n: chosen.n})).then(function (ok) {
      if (!ok) return;
      client.act("remove_bulk", chosen.args).then(function (res) {
        if (!res.ok) { toast(errorText(res.error), "error"); return; }
        bulkCount = null;
        $("bulk-remove").hidden = true;
        $("bulk-result").textContent = "";
        var undo = h("button", {type: "button", class: "btn small", text: T.btn.undo});
        undo.addEventListener("click", function () {
          undo.disabled = true;
          joiningAct("undo_bulk", {batch: res.result.batch}, TJ.bulk_undone.replace("{n}", "{restored}"));
        });
        toast(fmt(TJ.bulk_done, {n: res.result.removed}), "ok", undo);
      });
    });
  }

  /** The alarm's "Remove the flood…": choose everyone who joined since the joins sped up, count them, offer removal. */
  function clearFlood() {
    var box = $("bulk-box");
    $("joining-sec").querySelector("details.fold").open = true;  // folded below the line on a phone
    box.open = true;
    root.querySelector("input[name=bulk-select][value=joined]").checked = true;
    var recent = (snap.line || []).concat(snap.requests || []).map(function (e) { return e.joined_at; });
    var from = Math.min.apply(null, recent.filter(function (t) { return t >= now() - 15 * 60000; }).concat([now()]));
    $("bulk-since").value = hhmm(from);
    $("bulk-until").value = hhmm(now());
    box.scrollIntoView({block: "start"});
    countBulk();
  }

  var joiningNeeds = "";  // what the joining section last needed the coordinator for (see drawJoining)

  function drawJoining(s) {
    var j = s.joining;
    if (!j) return;
    var open = s.public.event.state !== "ended";
    $("joining-sec").hidden = !open;
    var alarm = $("flood-alarm");
    alarm.hidden = !j.flood || !open;
    if (j.flood) $("flood-text").textContent = fmt(TJ.alarm, {n: j.joins_last_min, max: j.flood_per_min});
    $("flood-pause").hidden = j.paused;
    $("flood-onsite").hidden = j.gate === "onsite";
    $("flood-approval").hidden = j.gate === "approval";
    $("joining-paused-note").hidden = !j.paused;
    if (document.activeElement !== $("gate-select")) $("gate-select").value = j.gate;
    var toggle = $("joining-toggle");
    toggle.textContent = j.paused ? TJ.resume : TJ.pause;
    toggle.className = j.paused ? "btn primary" : "btn";
    // the on-site code, fetched again with the snapshot when it changes
    $("gate-code-box").hidden = j.gate !== "onsite";
    if (j.gate === "onsite" && j.code) {
      $("gate-code").textContent = j.code.slice(0, 3) + " " + j.code.slice(3);
      $("gate-board").href = "/e/" + s.public.event.slug + "/board#d=" + j.display_key;
      $("gate-next").textContent = fmt(TJ.next, {time: clock(Math.max(0, j.next_at - now()))});
      clearTimeout(codeTimer);
      codeTimer = setTimeout(function () { client.refresh(); }, Math.max(1000, j.next_at - now() + 500));
    }
    // requests waiting to be admitted
    var reqs = s.requests || [];
    // The section is folded on a phone; it unfolds by itself when it starts to need the coordinator (a gate with a
    // code to show or requests to admit), and stays as the coordinator leaves it otherwise.
    var needs = (j.gate === "onsite" ? "code" : "") + (reqs.length ? "requests" : "");
    if (needs && needs !== joiningNeeds) $("joining-sec").querySelector("details.fold").open = true;
    joiningNeeds = needs;
    $("requests-box").hidden = !reqs.length && j.gate !== "approval";
    $("requests-count").textContent = "(" + reqs.length + ")";
    $("admit-all").hidden = !reqs.length;
    var list = $("requests");
    list.textContent = "";
    reqs.slice(0, 100).forEach(function (e) {
      var admit = h("button", {type: "button", class: "btn small primary", text: TJ.admit});
      admit.addEventListener("click", function () {
        admit.disabled = true;
        joiningAct("admit", {entry: e.id}, fmt(TJ.admitted, {name: e.pseudonym}));
      });
      var decline = h("button", {type: "button", class: "btn small danger", text: TJ.decline});
      decline.addEventListener("click", function () {
        decline.disabled = true;
        joiningAct("remove", {entry: e.id}, T.done.remove.replace("{name}", e.pseudonym));
      });
      list.appendChild(h("li", {}, [h("span", {class: "req-name", text: e.pseudonym + " · " + hhmm(e.joined_at)}),
                                    admit, decline]));
    });
    if (!$("bulk-since").value) { $("bulk-since").value = hhmm(now() - 10 * 60000); $("bulk-until").value = hhmm(now()); }
    var form = $("joining-form");
    if (!editing(form)) {
      $("s-flood").value = j.flood_per_min;
      $("s-unreachable").value = Math.round(j.unreachable_ms / 1000);
    }
  }

  setInterval(function () {  // the countdown to the next on-site code
    var j = snap && snap.joining;
    $("gate-next").textContent = j && j.next_at ? fmt(TJ.next, {time: clock(Math.max(0, j.next_at - now()))}) : "";
  }, 1000);

  $("flood-pause").addEventListener("click", function () { joiningAct("settings", {joining_paused: true}, TJ.paused); });
  $("flood-onsite").addEventListener("click", function () { joiningAct("settings", {gate: "onsite"}, TJ.gate_saved); });
  $("flood-approval").addEventListener("click", function () {
    joiningAct("settings", {gate: "approval"}, TJ.gate_saved);
  });
  $("flood-clear").addEventListener("click", clearFlood);
  $("joining-toggle").addEventListener("click", function () {
    var paused = snap && snap.joining && snap.joining.paused;
    joiningAct("settings", {joining_paused: !paused}, paused ? TJ.resumed : TJ.paused);
  });
  $("gate-select").addEventListener("change", function () {
    joiningAct("settings", {gate: this.value}, TJ.gate_saved);
  });
  $("gate-new").addEventListener("click", function () { joiningAct("new_code", {}, TJ.new_code); });
  $("admit-all").addEventListener("click", function () {
    joiningAct("admit_all", {}, TJ.admitted_all.replace("{n}", "{admitted}"));
  });
  $("bulk-count").addEventListener("click", countBulk);
  $("bulk-remove").addEventListener("click", removeBulk);
  root.querySelectorAll("input[name=bulk-select], #bulk-since, #bulk-until").forEach(function (el) {
    el.addEventListener("change", function () {
      bulkCount = null;
      $("bulk-remove").hidden = true;
      $("bulk-result").textContent = "";
    });
  });
  $("joining-form").addEventListener("input", function () { $("joining-form").setAttribute("data-dirty", "1"); });
  $("joining-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    joiningAct("settings", {flood_per_min: parseInt($("s-flood").value, 10),
                            unreachable_ms: Math.round(parseFloat($("s-unreachable").value) * 1000)}, TJ.saved,
      function () { $("joining-form").removeAttribute("data-dirty"); });
  });

  // ------------------------------------------------------------------ forms

  $("walkin-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var name = $("walkin-name").value;
    var args = {pseudonym: name};
    if ($("walkin-pos").value) args.to = parseInt($("walkin-pos").value, 10);
    act("add_walk_in", args, {button: ev.target.querySelector("button"), then: function () {
      $("walkin-name").value = "";
      $("walkin-pos").value = "";
    }});
  });

  $("broadcast-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    act("broadcast", {text: $("broadcast-text").value}, {button: ev.target.querySelector("button"),
      then: function () { $("broadcast-text").value = ""; }});
  });

  ["settings-form", "spots-form"].forEach(function (id) {
    $(id).addEventListener("input", function () { $(id).setAttribute("data-dirty", "1"); });
  });

  $("settings-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var form = ev.target;
    if (!form.reportValidity()) return;
    var current = settingsNow(snap);
    var args = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name) return;
      var val;
      if (el.type === "checkbox") val = el.checked;
      else if (el.getAttribute("data-unit") === "min") val = Math.round(parseFloat(el.value) * 60000);
      else if (el.type === "number" || el.tagName === "SELECT") val = parseInt(el.value, 10);
      else val = el.value;
      if (el.name in current && val !== current[el.name]) args[el.name] = val;
    });
    if (!Object.keys(args).length) {
      form.removeAttribute("data-dirty");
      toast(T.done.same, "ok");
      return;
    }
    act("settings", args, {button: form.querySelector("button[type=submit]"), then: function () {
      form.removeAttribute("data-dirty");
      document.activeElement.blur();
    }});
  });

  $("spot-add").addEventListener("click", function () {
    $("spots-form").setAttribute("data-dirty", "1");
    var row = spotRow(null);
    $("spots-edit").appendChild(row);
    row.querySelector("input").focus();
  });

  $("spots-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var form = ev.target;
    if (!form.reportValidity()) return;
    var spots = Array.prototype.map.call($("spots-edit").children, function (li) {
      var sp = {label: li.querySelector("input").value};
      if (li.getAttribute("data-id")) sp.id = parseInt(li.getAttribute("data-id"), 10);
      return sp;
    });
    act("spots", {spots: spots}, {button: form.querySelector("button[type=submit]"), then: function () {
      form.removeAttribute("data-dirty");
      document.activeElement.blur();
    }});
  });

  $("invite-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    act("invite", {label: $("invite-label").value}, {button: ev.target.querySelector("button"), then: function (r) {
      $("invite-label").value = "";
      $("invite-link").value = location.origin + "/c/" + slug + "#k=" + r.token;
      $("invite-out").hidden = false;
      $("invite-link").focus();
      $("invite-link").select();
    }});
  });

  /** Copy the value of the input a [data-copy] button names. */
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest("[data-copy]");
    if (!btn) return;
    var input = $(btn.getAttribute("data-copy"));
    input.select();
    var ok = function () { toast(T.w.copied, "ok"); };
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(input.value).then(ok, function () {});
    else try { document.execCommand("copy"); } catch (e) { /* the text stays selected for a manual copy */ }
  });

  // ------------------------------------------------------------------ drag and drop in the line

  var dragged = null;
  $("line").addEventListener("dragstart", function (ev) {
    var li = ev.target.closest("li[data-entry]");
    if (!li) return;
    dragged = parseInt(li.getAttribute("data-entry"), 10);
    ev.dataTransfer.effectAllowed = "move";
    ev.dataTransfer.setData("text/plain", String(dragged));
    li.classList.add("dragging");
  });
  $("line").addEventListener("dragover", function (ev) {
    if (dragged !== null && ev.target.closest("li[data-entry]")) ev.preventDefault();
  });
  $("line").addEventListener("drop", function (ev) {
    var li = ev.target.closest("li[data-entry]");
    if (!li || dragged === null) return;
    ev.preventDefault();
    var e = entryById(dragged);
    var to = parseInt(li.getAttribute("data-position"), 10);
    var id = dragged;
    dragged = null;
    if (e && e.position && to !== e.position) act("move", {entry: id, to: to}, {undo: {entry: id, position: e.position}});
  });
  $("line").addEventListener("dragend", function () {
    dragged = null;
    var d = root.querySelector(".dragging");
    if (d) d.classList.remove("dragging");
  });

  // ------------------------------------------------------------------ statistics (part B's endpoints)

  function authHeaders() {
    var hd = {"X-Coordinator-Token": token};
    if (passphrase) hd["X-Coordinator-Passphrase"] = passphrase;
    return hd;
  }

  function fetchAuthed(path) {
    return fetch(path, {headers: authHeaders(), cache: "no-store", credentials: "same-origin"}).then(function (r) {
      if (!r.ok) throw new Error(String(r.status));
      return r;
    });
  }

  function statValue(key, val) {
    if (typeof val !== "number") return null;
    if (/_ms$/.test(key)) return Math.round(val / 60000) + " " + T.w.minutes;
    if (/rate$/.test(key)) return Math.round(val * 100) + "%";
    return String(val);
  }

  $("stats-load").addEventListener("click", function () {
    var btn = this;
    btn.disabled = true;
    var dl = $("stats");
    var charts = $("charts");
    fetchAuthed("/api/events/" + slug + "/stats").then(function (r) { return r.json(); }).then(function (data) {
      dl.textContent = "";
      var stats = data.data || data;
      Object.keys(T.stats).forEach(function (k) {
        var val = statValue(k, stats[k]);
        if (val !== null) dl.appendChild(h("div", {}, [h("dt", {text: T.stats[k]}), h("dd", {text: val})]));
      });
      charts.textContent = "";
      Object.keys(T.charts).forEach(function (name) {
        // CSP allows data: images, not blob: ones: read the SVG into a data URL.
        fetchAuthed("/api/events/" + slug + "/stats/chart/" + name + ".svg").then(function (r) { return r.blob(); })
          .then(function (blob) {
            var reader = new FileReader();
            reader.onload = function () {
              charts.appendChild(h("figure", {}, [h("img", {src: reader.result, alt: T.charts[name]}),
                                                  h("figcaption", {text: T.charts[name]})]));
            };
            reader.readAsDataURL(blob);
          }).catch(function () { /* a chart that is not there is left out */ });
      });
    }).catch(function () {
      dl.textContent = "";
      dl.appendChild(h("div", {}, [h("dd", {text: T.w.no_stats})]));
    }).then(function () { btn.disabled = false; });
  });

  $("csv-export").addEventListener("click", function () {
    var btn = this;
    btn.disabled = true;
    fetchAuthed("/api/events/" + slug + "/export.csv").then(function (r) { return r.blob(); }).then(function (blob) {
      var url = URL.createObjectURL(blob);
      var a = h("a", {href: url, download: "picket-" + slug + ".csv", hidden: true});
      document.body.appendChild(a);
      a.click();
      setTimeout(function () { URL.revokeObjectURL(url); a.remove(); }, 1000);
    }).catch(function () { toast(T.w.no_stats, "error"); }).then(function () { btn.disabled = false; });
  });

  // ------------------------------------------------------------------ the token, the gate, the connection

  /** Move a token from the address bar (#k=...) into storage and out of the history; or read a stored one. */
  function takeToken() {
    var m = /[#&]k=([A-Za-z0-9_-]{43,64})/.exec(location.hash);
    if (m) {
      token = m[1];
      storageSet(sessionStorage, KEY, token);
      if (storageGet(localStorage, KEY)) storageSet(localStorage, KEY, token);
      history.replaceState(null, "", location.pathname + location.search);
    } else {
      token = storageGet(sessionStorage, KEY) || storageGet(localStorage, KEY);
    }
    $("remember").checked = !!storageGet(localStorage, KEY);
  }

  function forgetToken() {
    storageDel(sessionStorage, KEY);
    storageDel(localStorage, KEY);
    token = null;
  }

  function showApp() {
    $("gate").hidden = true;
    $("app").hidden = false;
  }

  /** Show the gate: no token, a passphrase to type, or the end of access (with a reason). */
  function showGate(mode, message) {
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

  function connect() {
    if (client) client.stop();
    client = new window.PQNet.Client({
      auth: function () {
        var a = {event: slug, coordinator: token};
        if (passphrase) a.passphrase = passphrase;
        return a;
      },
      onSnapshot: accept,
      onStatus: setConn,
      onAnnouncement: function (a) { toast(a.text, "info"); },
      onBye: function (err) {
        forgetToken();
        client.stop();
        showGate("bye", T.bye[err && err.code] || errorText(err));
      },
      onRefused: function (err) {
        if (err.code === "passphrase_required") {
          showGate("passphrase", passphrase ? T.w.pass_wrong : "");
          passphrase = null;
          return;
        }
        if (err.code === "unauthorized" || err.code === "not_found") forgetToken();
        showGate(err.code === "unauthorized" ? "token" : "bye", errorText(err));
      }
    });
    client.start();
    // A `console` message is the whole view or a patch to one held (net.js consoleView; it asks for a snapshot when
    // it cannot apply one).
    client.socket.on("console", function (msg) { accept(client.consoleView(msg)); });
  }

  $("pass-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    passphrase = $("pass-input").value;
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
    token = m[1];
    storageSet(sessionStorage, KEY, token);
    $("gate-error").textContent = "";
    connect();
  });

  $("remember").addEventListener("change", function () {
    if (this.checked && token) storageSet(localStorage, KEY, token);
    else storageDel(localStorage, KEY);
  });

  $("forget").addEventListener("click", function () {
    ask(T.confirm.forget).then(function (ok) {
      if (!ok) return;
      forgetToken();
      client.stop();
      showGate("bye", T.bye.forgot);
    });
  });

  $("panic").addEventListener("click", function () {
    var btn = this;
    ask(T.confirm.panic).then(function (ok) {
      if (!ok) return;
      act("panic", {}, {button: btn, doneText: T.bye.not_found, then: function () {
        forgetToken();
        client.stop();
        showGate("bye", T.bye.not_found);
      }});
    });
  });

  // On a phone the log, settings, team and statistics start folded: spots and the line come first. A section link
  // unfolds its section.
  var folds = root.querySelectorAll("details.fold");
  if (window.matchMedia && !window.matchMedia("(min-width: 960px)").matches) {
    for (var f = 0; f < folds.length; f++) folds[f].open = false;
  }
  root.querySelector(".jump").addEventListener("click", function (e) {
    var a = e.target.closest("a[href^='#']");
    var d = a && document.querySelector(a.getAttribute("href") + " details.fold");
    if (d) d.open = true;
  });

  var qr = $("qr");
  qr.addEventListener("error", function () { qr.hidden = true; });
  qr.setAttribute("src", root.getAttribute("data-qr-url"));

  takeToken();
  if (!token) {
    showGate("token");
  } else {
    connect();
  }
  setInterval(tick, 1000);
})();
