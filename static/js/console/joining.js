/* The joining section of the console (issue 8): the flood alarm, the gates and the on-site code, requests to
 * admit, and bulk removal with its undo. */
import {fmt, clock, hhmm} from "../format.js";
import {root, T, TJ, S, $, server} from "./state.js";
import {h, toast, ask, errorText} from "./ui.js";
import {editing} from "./draw.js";

var bulkCount = null;   // {args, n}: the last counted selection, what "Remove n" removes
var codeTimer = null;

function joiningAct(action, args, doneText, then) {
  return S.client.act(action, args || {}).then(function (res) {
    if (!res.ok) { toast(errorText(res.error), "error"); return res; }
    if (doneText) toast(fmt(doneText, res.result || {}), "ok");
    if (then) then(res.result || {});
    return res;
  });
}


/** A local time of day ("14:05") today, as server milliseconds. */
function atTime(value, end) {
  var p = (value || "").split(":");
  var d = new Date(server.now());
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
  return S.client.act("remove_bulk", args).then(function (res) {
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
    S.client.act("remove_bulk", chosen.args).then(function (res) {
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
  $("bulk-since").value = hhmm(S.snap.joining.flood_from || server.now());  // the server knows the whole line
  $("bulk-until").value = hhmm(server.now());
  box.scrollIntoView({block: "start"});
  countBulk();
}

var joiningNeeds = "";  // what the joining section last needed the coordinator for (see drawJoining)

export function drawJoining(s) {
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
    $("gate-next").textContent = fmt(TJ.next, {time: clock(Math.max(0, j.next_at - server.now()))});
    clearTimeout(codeTimer);
    codeTimer = setTimeout(function () { S.client.refresh(); }, Math.max(1000, j.next_at - server.now() + 500));
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
  if (!$("bulk-since").value) {
    $("bulk-since").value = hhmm(server.now() - 10 * 60000);
    $("bulk-until").value = hhmm(server.now());
  }
  var form = $("joining-form");
  if (!editing(form)) {
    $("s-flood").value = j.flood_per_min;
    $("s-unreachable").value = Math.round(j.unreachable_ms / 1000);
  }
}


/** Wire the section's buttons and forms, and the countdown to the next on-site code. */
export function wireJoining() {
  setInterval(function () {  // the countdown to the next on-site code
    var j = S.snap && S.snap.joining;
    var next = j && j.next_at ? fmt(TJ.next, {time: clock(Math.max(0, j.next_at - server.now()))}) : "";
    $("gate-next").textContent = next;
  }, 1000);

  $("flood-pause").addEventListener("click", function () { joiningAct("settings", {joining_paused: true}, TJ.paused); });
  $("flood-onsite").addEventListener("click", function () { joiningAct("settings", {gate: "onsite"}, TJ.gate_saved); });
  $("flood-approval").addEventListener("click", function () {
    joiningAct("settings", {gate: "approval"}, TJ.gate_saved);
  });
  $("flood-clear").addEventListener("click", clearFlood);
  $("joining-toggle").addEventListener("click", function () {
    var paused = S.snap && S.snap.joining && S.snap.joining.paused;
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
}
