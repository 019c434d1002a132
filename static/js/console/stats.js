/* The statistics (part B's endpoints): figures and charts fetched with the token and the passphrase in headers,
 * and the CSV export. */
import {T, S, $, slug} from "./state.js";
import {h, toast} from "./ui.js";

function authHeaders() {
  var hd = {"X-Coordinator-Token": S.token};
  if (S.passphrase) hd["X-Coordinator-Passphrase"] = S.passphrase;
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

/** Wire "Show statistics" and "Export CSV". */
export function wireStats() {
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
}
