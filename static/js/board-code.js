/* The on-site join code on the big screen (issue 8). Only a board opened from the console's "Big screen with the
 * code" link shows it: that link carries the event's display key in its fragment (never sent in a URL), which this
 * script moves to memory and sends in a header. The code changes every minute; the QR code holds the join link with
 * the code, so a phone that scans it needs no typing. A board opened without the key shows nothing of this.
 */
(function () {
  "use strict";
  var m = /[#&]d=([0-9a-f]{64})/.exec(location.hash);
  var box = document.getElementById("b-code");
  var root = document.getElementById("board");
  if (!m || !box) return;
  var key = m[1];
  history.replaceState(null, "", location.pathname + location.search);
  var slug = (root && root.getAttribute("data-slug")) || location.pathname.split("/")[2];
  var timer = null;

  function show(data) {
    var on = data && data.ok && data.code;
    box.hidden = !on;
    // The plain join QR would send people to a join page that then asks for the code: show only this one.
    document.documentElement.classList.toggle("has-code", !!on);
    if (!on) return;
    document.getElementById("b-code-digits").textContent = data.code.slice(0, 3) + " " + data.code.slice(3);
    var holder = document.getElementById("b-code-qr");
    var doc = new DOMParser().parseFromString(data.qr, "image/svg+xml");
    var svg = doc.documentElement;
    if (svg && svg.nodeName.toLowerCase() === "svg") {
      holder.textContent = "";
      holder.appendChild(document.importNode(svg, true));
    }
  }

  function poll() {
    clearTimeout(timer);
    fetch("/api/events/" + encodeURIComponent(slug) + "/code", {headers: {"X-Display-Key": key}, cache: "no-store"})
      .then(function (r) { return r.json(); })
      .then(function (data) {
        show(data);
        var wait = data && data.next_at ? Math.max(1000, data.next_at - (data.server_now || Date.now()) + 300) : 10000;
        timer = setTimeout(poll, Math.min(wait, 15000));
      }, function () { timer = setTimeout(poll, 5000); });
  }
  poll();
})();
