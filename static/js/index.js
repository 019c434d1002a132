// The start page: creates an event through the JSON API when JavaScript runs (the form also works without it),
// then shows the secret coordinator link once, with a copy button.
import {errorText as errorTextOf} from "./format.js";

(function () {
  "use strict";
  var texts = JSON.parse(document.getElementById("texts").textContent);
  var form = document.getElementById("create");
  var created = document.getElementById("created");
  var linkInput = document.getElementById("console-link");
  var copyBtn = document.getElementById("copy-link");
  var copied = document.getElementById("copied");

  /** The translated text for an error code, naming the refused field when the server's message quotes it. */
  function errorText(err) { return errorTextOf(texts, err, "bad_request"); }

  /** Minutes typed in a field, as milliseconds. */
  function minutes(name) {
    var raw = (form.elements[name].value || "").replace(",", ".");
    return Math.round(parseFloat(raw) * 60000);
  }

  /** The same spec the server builds from the plain form (coordinator/pages.py event_spec). */
  function spec() {
    var el = form.elements;
    var labels = el.spots.value.replace(/,/g, "\n").split("\n").map(function (s) { return s.trim(); })
      .filter(Boolean);
    var body = {
      title: el.title.value, location: el.location.value,
      spots: (labels.length ? labels : ["A"]).map(function (l) { return {label: l}; }),
      slot_ms: minutes("slot_min"), grace_ms: minutes("grace_min"), lead_ms: minutes("lead_min"),
      max_queue: parseInt(el.max_queue.value, 10), show_pseudonyms: el.show_pseudonyms.checked,
      purge_after_ms: parseInt(el.purge_after_h.value, 10) * 3600000
    };
    if (el.label.value.trim()) body.label = el.label.value;
    if (el.passphrase.value) body.passphrase = el.passphrase.value;
    return body;
  }

  /** Show the coordinator link (only in this page; it is never stored by the start page). */
  function showCreated(slug, token) {
    var path = "/c/" + slug + "#k=" + token;
    linkInput.value = created.getAttribute("data-console-base") + slug + "#k=" + token;
    document.getElementById("open-console").setAttribute("href", path);
    form.hidden = true;
    created.hidden = false;
    document.getElementById("created-title").setAttribute("tabindex", "-1");
    document.getElementById("created-title").focus();
  }

  function copy() {
    linkInput.select();
    var done = function () { copied.textContent = texts.copied; };
    var fail = function () { copied.textContent = texts.copy_failed; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(linkInput.value).then(done, fail);
    } else {
      try { (document.execCommand("copy") ? done : fail)(); } catch (e) { fail(); }
    }
  }

  if (copyBtn) {
    copyBtn.hidden = false;
    copyBtn.addEventListener("click", copy);
  }

  if (!form) return;
  var errorBox = document.getElementById("form-error");
  var submit = document.getElementById("create-submit");
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    errorBox.textContent = "";
    if (!form.reportValidity()) return;
    submit.disabled = true;  // one event per press, however often it is tapped
    fetch("/api/events", {method: "POST", headers: {"Content-Type": "application/json"},
                          body: JSON.stringify(spec()), credentials: "same-origin", cache: "no-store"})
      .then(function (r) { return r.json(); })
      .then(function (data) {
        if (!data.ok) throw data.error;
        showCreated(data.event.event.slug, data.coordinator_token);
      })
      .catch(function (err) {
        errorBox.textContent = errorText(err && err.code ? err : {code: "timeout"});
        submit.disabled = false;
      });
  });
})();
