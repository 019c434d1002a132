/* Small building blocks of the console: elements, names, error texts, toasts and dialogs. */
import {fmt, errorText as errorTextOf, timeOfDay} from "../format.js";
import {T, S, $, server, entryById} from "./state.js";

/** Create an element: h("li", {class: "x", "data-entry": 3}, [child, "text"]). */
export function h(tag, attrs, children) {
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

/** The translated text of an error, naming the refused field when the server's message quotes it. */
export function errorText(err) { return errorTextOf(T, err, "internal"); }

/** "Name (No. 3)" of an entry of the snapshot ("" when it is not there). */
export function nameOf(id) {
  var e = entryById(id);
  return e ? e.pseudonym + " (" + fmt(T.w.ticket, {n: e.ticket}) + ")" : "";
}

/** Show a short outcome message; errors are announced assertively. */
export function toast(text, kind, extra) {
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
export function ask(text) {
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
export function askDetention(entryId) {
  var dlg = $("detain-dialog");
  $("detain-who").textContent = nameOf(entryId) + " · " + timeOfDay(server.now(), T.locale);
  $("detain-note").value = "";
  $("detain-pause").checked = !!(S.snap && S.snap.settings.pause_on_detain);
  dlg.returnValue = "";
  if (!dlg.showModal) return Promise.resolve(window.confirm(nameOf(entryId)) ? {note: "", pause: false} : null);
  dlg.showModal();
  return new Promise(function (resolve) {
    dlg.addEventListener("close", function () {
      resolve(dlg.returnValue === "ok" ? {note: $("detain-note").value, pause: $("detain-pause").checked} : null);
    }, {once: true});
  });
}

/** The message dialog: resolves the text, or null when cancelled. */
export function askMessage(entryId) {
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
