/* The coordinator console (templates/console.html): live view of the line and every engine action, over Socket.IO.
 * The server owns time and truth: every view comes from the server and is drawn as it comes; countdowns use the
 * server clock. The parts: state.js (what they share), ui.js (elements, toasts, dialogs), connection.js (token,
 * gate, socket), draw.js (the view), actions.js (buttons and forms), find.js (searching a long line), joining.js (the
 * joining section), stats.js. */
import {root, S, $} from "./state.js";
import {tick} from "./draw.js";
import {wireActions} from "./actions.js";
import {wireJoining} from "./joining.js";
import {wireStats} from "./stats.js";
import {wireFind} from "./find.js";
import {takeToken, showGate, connect, wireConnection} from "./connection.js";

wireActions();
wireJoining();
wireStats();
wireFind();
wireConnection();

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
if (!S.token) {
  showGate("token");
} else {
  connect();
}
setInterval(tick, 1000);
