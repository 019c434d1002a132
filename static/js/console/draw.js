/* Drawing the console from a coordinator snapshot: the event's head and counts, the spots, the line, the past,
 * the team, the log, announcements, the settings and spots forms (left alone while being edited), and the joining
 * section (joining.js). The whole console is drawn again for every view: it is small. Countdowns tick every second
 * from the server clock. */
import {fmt, clock, timeOfDay} from "../format.js";
import {root, T, S, $, server} from "./state.js";
import {h} from "./ui.js";
import {drawJoining} from "./joining.js";

/** A button for an entry action. */
function actBtn(action, text, attrs) {
  var a = Object.assign({type: "button", class: "btn", "data-act": action, text: text}, attrs || {});
  var key = action + ":" + (a["data-entry"] || a["data-coordinator"] || a["data-spot"] || "");
  if (action === "up" || action === "down") key = "move:" + a["data-entry"];
  a.disabled = !!S.busy[key] || a.disabled;
  return h("button", a);
}

/** Re-apply the disabled state of in-flight actions after an answer. */
export function drawButtons() {
  if (S.snap) draw(S.snap);
}

/** A countdown element: updated every second from the server clock. */
function countdown(until, label) {
  return h("span", {class: "countdown", "data-until": until, "aria-label": label}, [clock(until - base())]);
}

/** The moment countdowns are measured from: a paused event's clock stands still. */
function base() {
  var ev = S.snap && S.snap.public.event;
  return ev && ev.state === "paused" && ev.paused_at ? ev.paused_at : server.now();
}

export function tick() {
  var b = base();
  var els = root.querySelectorAll("[data-until]");
  for (var i = 0; i < els.length; i++) els[i].textContent = clock(+els[i].getAttribute("data-until") - b);
  els = root.querySelectorAll("[data-since]");
  for (i = 0; i < els.length; i++) els[i].textContent = clock(b - +els[i].getAttribute("data-since"));
}

function messageBtn(e) {
  if (e.walk_in) return null;
  return actBtn("message", "✉", {"data-entry": e.id, "aria-label": fmt(T.personal.message_to, {name: e.pseudonym}),
                                 title: T.personal.message});
}


/** The Undo button beside a person, while their last call, skip or removal can still be undone. */
function undoHere(s, entryId) {
  if (!S.lastUndo || S.lastUndo.entry !== entryId || S.lastUndo.v !== s.v) return null;
  return actBtn("undo", T.btn.undo, {"data-op": S.lastUndo.op, "data-entry": entryId, class: "btn undo"});
}

/** A person removed a moment ago is no longer in the line: their Undo stays where the line was. */
function drawUndoBar(s) {
  var bar = $("undo-bar");
  bar.textContent = "";
  var gone = S.lastUndo && s.past.filter(function (e) { return e.id === S.lastUndo.entry; })[0];
  var btn = gone && undoHere(s, gone.id);
  bar.hidden = !btn;
  if (btn) bar.appendChild(h("span", {text: fmt(T.done.remove, {name: gone.pseudonym + " (" +
    fmt(T.w.ticket, {n: gone.ticket}) + ")"}) + " "}));
  if (btn) bar.appendChild(btn);
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
  $("c-through").textContent = s.public.through_at ? "≈ " + timeOfDay(s.public.through_at, T.locale) : "–";
  var btns = $("ev-controls").querySelectorAll("[data-show]");
  for (var i = 0; i < btns.length; i++) {
    btns[i].hidden = btns[i].getAttribute("data-show").split(" ").indexOf(ev.state) < 0;
    btns[i].disabled = !!S.busy[btns[i].getAttribute("data-act") + ":"];
  }
  $("ended-note").hidden = ev.state !== "ended";
  if (ev.state === "ended" && ev.purge_at) {
    $("ended-note").textContent = fmt(T.w.ended, {time: timeOfDay(ev.purge_at, T.locale)});
  }
  $("call-next").hidden = ev.state === "ended";
  var waiting = s.public.counts.waiting > 0;
  var why = callBlocked(s, ev, waiting);
  $("call-next").disabled = !!why || !!S.busy["call_next:"];
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
          {n: called.late.minutes, time: timeOfDay(called.late.at, T.locale)})}) : null]));
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
    {time: timeOfDay(e.last_seen_at, T.locale)}) : T.w.offline}));
  if (e.push) out.push(h("span", {class: "badge", text: T.w.push}));
  if (e.late && ["waiting", "away", "called"].indexOf(e.state) >= 0) {
    out.push(h("span", {class: "badge warn late", text: fmt(T.personal.late,
      {n: e.late.minutes, time: timeOfDay(e.late.at, T.locale)})}));
  }
  return out;
}

/** One person in line, with the actions on them (`total`: how many are in line in all; only the listed line
 * reorders by drag and drop, not the search results). */
function personRow(s, e, total, draggable) {
  var live = s.public.event.state === "live";
  return h("li", {class: "person", draggable: draggable ? "true" : null, "data-entry": e.id,
                  "data-position": e.position}, [
    h("span", {class: "pos", "aria-hidden": "true", text: e.position}),
    h("div", {class: "who"}, [
      h("strong", {text: e.pseudonym}), " ",
      h("span", {class: "muted", text: fmt(T.w.ticket, {n: e.ticket}) + " · " + T.w.waited + " "}),
      h("span", {class: "muted", "data-since": e.joined_at}, [clock(base() - e.joined_at)]),
      h("span", {class: "sr-only", text: " · " + fmt(T.w.pos_of, {n: e.position, total: total})}),
      h("div", {class: "badges"}, badges(e))]),
    h("div", {class: "btns"}, [
      undoHere(s, e.id),
      actBtn("call_next", T.btn.call, {"data-entry": e.id, class: "btn primary", disabled: !live}),
      actBtn("up", "↑", {"data-entry": e.id, "aria-label": T.btn.up + ": " + e.pseudonym, title: T.btn.up,
                         disabled: e.position === 1}),
      actBtn("down", "↓", {"data-entry": e.id, "aria-label": T.btn.down + ": " + e.pseudonym, title: T.btn.down,
                           disabled: e.position === total}),
      actBtn("skip", T.btn.skip, {"data-entry": e.id, disabled: e.position === total}),
      actBtn("detain", T.btn.detain, {"data-entry": e.id, class: "btn warn"}),
      actBtn("remove", T.btn.remove, {"data-entry": e.id, class: "btn danger"}),
      messageBtn(e)])]);
}

/** The listed line (the server lists the first people of a long line), then "more in line" and the search. */
function drawLine(s) {
  var list = $("line");
  list.textContent = "";
  var total = s.public.counts.line;
  $("line-count").textContent = "(" + total + ")";
  drawUndoBar(s);
  $("line-empty").hidden = total > 0;
  $("line-help").hidden = s.line.length < 2;
  s.line.forEach(function (e) { list.appendChild(personRow(s, e, total, true)); });
  var more = total - s.line.length;
  $("line-more").hidden = more <= 0 && !S.found;
  $("line-more-text").textContent = more > 0 ? fmt(T.find.more, {n: more}) : "";
  drawFound(s, total);
}

/** The answer to the last search of the line (find.js), refreshed by find.js when the line changes. */
function drawFound(s, total) {
  var list = $("found");
  list.textContent = "";
  var f = S.found;
  if (!f) {
    $("find-status").textContent = S.finding ? T.find.searching : "";
    return;
  }
  $("find-status").textContent = !f.found ? fmt(T.find.none, {q: f.q})
    : f.found > f.line.length ? fmt(T.find.first, {n: f.found, shown: f.line.length}) : fmt(T.find.found, {n: f.found});
  f.line.forEach(function (e) { list.appendChild(personRow(s, e, total, false)); });
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
        e.finished_at ? h("span", {class: "muted", text: " " + timeOfDay(e.finished_at, T.locale)}) : null,
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
      h("time", {text: timeOfDay(r.at, T.locale)}), " ", actor ? h("span", {class: "actor", text: actor + ":"}) : null,
      " " + what,
      r.ticket ? " · " + (r.pseudonym || "") + " (" + fmt(T.w.ticket, {n: r.ticket}) + ")" : "",
      detail ? " · " + detail : ""]));
  });
}

function drawAnnouncements(s) {
  var list = $("announcements");
  list.textContent = "";
  s.announcements.forEach(function (a) {
    list.appendChild(h("li", {}, [h("time", {text: timeOfDay(a.at, T.locale)}), " ", a.text]));
  });
}

/** Is the person editing this form right now? Then a live update must not overwrite their input. */
export function editing(form) { return form.contains(document.activeElement) || form.getAttribute("data-dirty") === "1"; }

/** The settings as the form shows them: the snapshot's settings plus what lives on the event. */
export function settingsNow(s) {
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

export function spotRow(spot) {
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
export function draw(s) {
  var focus = focusKey();
  S.snap = s;
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
