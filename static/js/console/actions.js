/* Buttons and forms to engine actions: one action per press (its buttons stay disabled while it is in flight),
 * its outcome in a toast, Undo where the engine can undo; walk-ins, announcements, settings, spots, invitations,
 * moving people by drag and drop, and the panic button. */
import {fmt} from "../format.js";
import {root, T, S, $, slug, entryById} from "./state.js";
import {h, toast, ask, askDetention, askMessage, errorText, nameOf} from "./ui.js";
import {draw, drawButtons, settingsNow, spotRow} from "./draw.js";
import {newOp, endAccess} from "./connection.js";

/** Run an engine action once (one op id, re-sent by PQNet until answered) and show its outcome. */
function act(action, args, opts) {
  opts = opts || {};
  var key = action + ":" + (args && (args.entry || args.coordinator || args.spot) || "");
  if (S.busy[key]) return Promise.resolve(null);  // already in flight: a second press sends nothing
  S.busy[key] = true;
  if (opts.button) opts.button.disabled = true;
  var label = args && args.entry ? nameOf(args.entry) : "";
  if (!S.client.socket || !S.client.socket.connected) toast(T.errors.offline, "error");
  // A call, skip or removal gets its own op id, so that the engine can undo exactly that action.
  var op = UNDOABLE.indexOf(action) >= 0 ? newOp() : undefined;
  return S.client.act(action, args || {}, op).then(function (res) {
    delete S.busy[key];
    if (opts.button) opts.button.disabled = false;
    if (!res.ok) {
      toast(errorText(res.error), "error");
      drawButtons();  // the view may have changed meanwhile (another coordinator called): its state, not "enabled"
      return res;
    }
    var r = res.result || {};
    var spot = r.spot ? r.spot.label : "";
    var name = label || (r.entry ? nameOf(r.entry) : (args && args.pseudonym) || "");
    var text = opts.doneText || T.done[action] || T.done.same;
    if (r.already) text = T.done.same;
    if (r.undoable && !res.replay) {  // Undo shows beside the person until anything else changes
      S.lastUndo = {op: op, entry: r.entry, v: res.v};
      opts.undo = null;
      if (S.snap) draw(S.snap);
    }
    toast(fmt(text, {name: name, spot: spot, to: args && args.to}), "ok", opts.undo ? undoButton(opts.undo) : null);
    if (opts.then) opts.then(r);
    drawButtons();
    return res;
  });
}

var UNDOABLE = ["call_next", "skip", "remove"];

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
    if (to < 1 || to > S.snap.public.counts.line) return;
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
                                                            then: function () { S.lastUndo = null; }});
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

/** Wire the action buttons (by their data-act), the forms, copying, drag and drop, and the panic button. */
export function wireActions() {
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest("[data-act]");
    if (btn && root.contains(btn) && !btn.disabled) {
      ev.preventDefault();
      onAction(btn);
    }
  });

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
    var current = settingsNow(S.snap);
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

  $("panic").addEventListener("click", function () {
    var btn = this;
    ask(T.confirm.panic).then(function (ok) {
      if (!ok) return;
      act("panic", {}, {button: btn, doneText: T.bye.not_found, then: function () {
        endAccess(T.bye.not_found);
      }});
    });
  });
}
