/* Finding someone in a long line: the server lists only the first people in line in every view (views.LINE_WINDOW),
 * so the console asks for anyone else by ticket number or part of a name (the socket's `find` request) and shows
 * them with the same actions. The answer names the version it was read at; a newer view asks again, so the places
 * shown stay true while the line moves. */
import {T, S, $} from "./state.js";
import {errorText} from "./ui.js";
import {draw} from "./draw.js";

var TIMEOUT_MS = 10000;

/** Ask the server for the people matching `q`, then draw them. */
function ask(q) {
  if (!S.client || !S.client.socket) return;
  S.finding = {q: q};
  S.client.socket.timeout(TIMEOUT_MS).emit("find", {q: q}, function (err, ack) {
    if (!S.finding || S.finding.q !== q) return;  // a newer search was asked meanwhile
    S.finding = null;
    if (err || !ack || !ack.ok) {
      S.found = null;
      if (S.snap) draw(S.snap);
      $("find-status").textContent = errorText(err ? {code: "timeout"} : ack && ack.error);
      return;
    }
    S.found = ack.data;
    if (S.snap) draw(S.snap);
  });
  if (S.snap) draw(S.snap);
}

/** A new view arrived: the places in the last answer may have changed, so ask again (once at a time). */
export function refreshFind(s) {
  if (S.found && !S.finding && s.v !== S.found.v) ask(S.found.q);
}

/** Wire the search form; an emptied field clears the answer. */
export function wireFind() {
  $("find-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var q = $("find-q").value.trim();
    if (q) ask(q);
  });
  $("find-q").addEventListener("input", function () {
    if (this.value.trim()) return;
    S.found = null;
    S.finding = null;
    if (S.snap) draw(S.snap);
  });
}
