"""What a participant's phone downloads on its first visit, compressed as the documented reverse proxy sends it
(gzip level 6, docs/operations.md): it must stay at or under 50 KB, for a phone on a throttled street network."""
from __future__ import annotations

import gzip

import requests
from playwright.sync_api import expect

from test_participant import WAIT, create_event

BUDGET = 50 * 1024
COMPRESSED_TYPES = ("text/html", "text/css", "text/javascript", "application/javascript",
                    "application/manifest+json", "image/svg+xml")  # the documented `gzip_types`; PNGs travel as they are


def test_first_visit_is_at_most_50_kb_compressed(live_server, phone, artifacts):
    """Every response of a real first visit (page, scripts, styles, icons, manifest, service worker, the Socket.IO
    client and its handshake), fetched again with Accept-Encoding: gzip and compressed as the proxy would."""
    ev = create_event(live_server)
    page = phone().new_page()
    urls: list[str] = []
    page.on("response", lambda resp: urls.append(resp.url))
    page.goto(f"{live_server.url}/e/{ev['slug']}")
    expect(page.locator("#conn")).to_have_attribute("data-status", "live", timeout=WAIT)
    page.wait_for_function("() => navigator.serviceWorker && navigator.serviceWorker.controller !== null", timeout=WAIT)
    # The service worker's script and the manifest are fetched outside the page's own responses.
    urls += [f"{live_server.url}/sw.js", page.eval_on_selector("link[rel=manifest]", "l => l.href")]
    rows, total, socket_bytes = [], 0, 0
    for url in dict.fromkeys(urls):
        if "/socket.io/" in url:  # the handshake and first messages: counted from the page's own measurement below
            continue
        r = requests.get(url, headers={"Accept-Encoding": "gzip"}, timeout=10)
        assert r.ok, url
        body = r.content  # decoded; what travels is the compressed form when the proxy compresses this type
        kind = r.headers.get("Content-Type", "")
        wire = len(gzip.compress(body, 6)) if kind.startswith(COMPRESSED_TYPES) else len(body)
        rows.append((wire, len(body), url.replace(live_server.url, "")))
        total += wire
    # The Socket.IO handshake and first snapshot, as the page received them (WebSocket frames are not compressed).
    socket_bytes = page.evaluate("""() => performance.getEntriesByType('resource')
        .filter(e => e.name.includes('/socket.io/')).reduce((n, e) => n + (e.encodedBodySize || 0), 0)""")
    total += socket_bytes
    lines = [f"{w:>8} {n:>8}  {u}" for w, n, u in sorted(rows, reverse=True)]
    lines.append(f"{socket_bytes:>8} {'':>8}  /socket.io/ (polling handshake)")
    (artifacts / "participant-weight-gzip.txt").write_text(
        "\n".join(["    gzip      raw  resource"] + lines + [f"{total:>8}  total compressed"]) + "\n")
    assert any(u.endswith("/static/vendor/socket.io.min.js") for _, _, u in rows)
    assert any(u.endswith("/static/js/participant.js") for _, _, u in rows)
    assert total <= BUDGET, "\n".join(lines)
