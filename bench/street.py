"""Street benchmark: the turn signal over street networks (issue 10), with a loopback floor in the same run.

    .venv/bin/python bench/street.py [--clients 50] [--pages 3] [--rounds 6] [--profiles loopback,3g,congested,cut,no_websocket]
                                     [--cut 30] [--cut-mode hold|reset] [--idle 30]

Per profile it starts the real server (`python wsgi.py`, eventlet, production heartbeats) and the street proxy
(tests/network/proxy.py) in front of it, then connects `--clients` participants (the official socket.io-client in
Node.js, bench/clients.mjs, starting on long-polling like the pages) and `--pages` real Chromium pages at 360x740,
all through the proxy. The coordinator acts over HTTP straight to the server (it is not on the street). It measures:

- call -> turn screen: from the coordinator's call to the called page showing "your turn" (p50/p95 over rounds);
- call -> every phone: until every client and page holds the call's version;
- for "cut": the link goes down for `--cut` seconds, a call is made meanwhile; the time from the link's return until
  the called page shows its turn and every phone holds the version, and how many connections were opened again;
- actions duplicated or lost: every tap of the pages (check in, join again) and every client's join, against the
  server's log and line (must be 0);
- bytes per phone: per change (during the rounds) and idle (heartbeats, `--idle` seconds), and from them an hour
  of a typical picket (60 changes an hour: one spot, 5-minute turns, call + check-in + finish, plus joins/leaves).

Figures go to stdout; see docs/benchmarks.md ("Street networks").
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "bench"), str(ROOT / "tests")]

from run import Clients, Server, http_action, pct, raise_fd_limit  # noqa: E402
from network.proxy import PROFILES, StreetProxy  # noqa: E402

CHANGES_PER_HOUR = 60
TURN_TARGET_MS = {"3g": 1500, "congested": 10_000}


def say(profile: str, text: str) -> None:
    """Progress on stdout."""
    print(f"  {profile}: {text}", flush=True)


def console(server: Server, slug: str, token: str) -> dict:
    """The coordinator's snapshot."""
    r = requests.get(f"{server.url}/api/events/{slug}/snapshot", headers={"X-Coordinator-Token": token}, timeout=60)
    return r.json()["data"]


def page_time(page, condition: str, timeout_s: float) -> float:
    """Date.now() (ms) of the moment a JS condition became true in the page (polled every animation frame)."""
    return page.wait_for_function(f"() => ({condition}) && Date.now()", timeout=timeout_s * 1000).json_value()


def run_profile(name: str, args, browser) -> dict:
    """Everything for one profile; returns the figures."""
    profile = PROFILES[name]
    server = Server("eventlet", args.clients + args.pages).start()
    proxy = StreetProxy(server.port, profile, seed=10).start()
    res: dict = {"profile": name}
    clients, contexts = None, []
    timeout = 120
    try:
        created = requests.post(server.url + "/api/events", json={
            "title": "Street", "spots": [{"label": "A"}], "auto_call": False, "ready_at": 2,
            "max_queue": args.clients + args.pages + 10}, timeout=60).json()
        slug, token = created["event"]["event"]["slug"], created["coordinator_token"]
        http_action(server.url, slug, token, "start")

        import os
        os.environ["PQ_TRANSPORTS"], os.environ["PQ_RECONNECT"] = "polling,websocket", "1"
        clients = Clients(proxy.url, slug, args.clients, 1)
        clients.ask("connect", 25, timeout=timeout * 3)
        joined = clients.ask("join", 25, args.clients, timeout=timeout * 3)[0]
        say(name, f"{joined['ok']} clients joined ({joined['failed']} failed)")

        pages, names = [], []
        t_load = []
        for i in range(args.pages):
            ctx = browser.new_context(viewport={"width": 360, "height": 740}, locale="ru-RU", is_mobile=True,
                                      has_touch=True, service_workers="block")
            contexts.append(ctx)
            page = ctx.new_page()
            t0 = time.monotonic()
            page.goto(f"{proxy.url}/e/{slug}", timeout=timeout * 1000)
            page.wait_for_selector("#s-join", state="visible", timeout=timeout * 1000)
            t_load.append(time.monotonic() - t0)
            names.append(f"Page {i}")
            page.fill("#pseudonym", names[-1])
            page.click("#btn-join")
            page.wait_for_selector("#s-wait", state="visible", timeout=timeout * 1000)
            pages.append(page)
        res["page_load_s"] = max(t_load)
        say(name, f"{len(pages)} pages joined (slowest page load {max(t_load):.1f} s)")
        taps = {"arrive": 0, "rejoin": 0}

        def entry_id(page_name: str) -> int:
            snap = console(server, slug, token)
            return next(e["id"] for e in snap["line"] + snap["active"] if e["pseudonym"] == page_name)

        def everyone(v: int, t_ref_mono: float, t_ref_ms: float) -> float:
            """Seconds from the reference until every client and page held version v."""
            got = clients.ask("expect_all", v, timeout, timeout=timeout * 2)[0]
            times = [t - t_ref_mono for t in got["times"] if t is not None]
            missing = sum(1 for t in got["times"] if t is None)
            for page in pages:
                times.append((page_time(page, f"window.PQNet && PQNet.current && PQNet.current.v >= {v}",
                                        timeout) - t_ref_ms) / 1000)
            res["missing_updates"] = res.get("missing_updates", 0) + missing
            return max(times)

        def turn(page, page_name: str, rejoin: bool = True) -> None:
            """The page checks in, the coordinator finishes the turn, the page joins the line again."""
            page.click("#btn-arrive")
            taps["arrive"] += 1
            page.wait_for_selector("#s-spot", state="visible", timeout=timeout * 1000)
            http_action(server.url, slug, token, "finish", {"entry": entry_id(page_name)})
            page.wait_for_selector("#s-after", state="visible", timeout=timeout * 1000)
            if rejoin:
                page.click("#btn-rejoin")
                taps["rejoin"] += 1
                page.wait_for_selector("#s-wait", state="visible", timeout=timeout * 1000)

        # Rounds: call one page by its entry; time its turn screen and every phone's version.
        turn_ms, all_s = [], []
        down0 = proxy.stats["bytes_down"]
        changes0 = console(server, slug, token)["v"]
        for r in range(args.rounds):
            page, page_name = pages[r % len(pages)], names[r % len(pages)]
            entry = entry_id(page_name)
            t_ms, t_mono = time.time() * 1000, time.monotonic()
            ack = http_action(server.url, slug, token, "call_next", {"entry": entry})
            turn_ms.append(page_time(page, "!document.getElementById('s-called').hidden", timeout) - t_ms)
            all_s.append(everyone(ack["v"], t_mono, t_ms))
            turn(page, page_name)
        changes = console(server, slug, token)["v"] - changes0
        phones = args.clients + args.pages
        res["bytes_per_change_per_phone"] = (proxy.stats["bytes_down"] - down0) / max(changes, 1) / phones
        res.update(turn_p50_ms=pct(turn_ms, 50), turn_p95_ms=pct(turn_ms, 95), turn_max_ms=max(turn_ms),
                   all_p50_s=pct(all_s, 50), all_p95_s=pct(all_s, 95))
        say(name, f"turn p50 {res['turn_p50_ms']:.0f} ms, p95 {res['turn_p95_ms']:.0f} ms; "
                  f"every phone p95 {res['all_p95_s']:.2f} s")

        # Idle: what the heartbeats cost.
        down0, t0 = proxy.stats["bytes_down"], time.monotonic()
        time.sleep(args.idle)
        idle_per_hour = (proxy.stats["bytes_down"] - down0) / phones / (time.monotonic() - t0) * 3600
        res["bytes_per_phone_hour"] = idle_per_hour + CHANGES_PER_HOUR * res["bytes_per_change_per_phone"]
        res["idle_bytes_per_phone_hour"] = idle_per_hour

        if name == "cut":  # the link goes down, a page is called meanwhile, the link comes back
            page, page_name = pages[0], names[0]
            entry = entry_id(page_name)
            conns0 = proxy.stats["connections"]
            proxy.cut(args.cut, reset=args.cut_mode == "reset")
            time.sleep(min(5, args.cut / 2))
            ack = http_action(server.url, slug, token, "call_next", {"entry": entry})
            while proxy.is_down():
                time.sleep(0.05)
            t_ms, t_mono = time.time() * 1000, time.monotonic()
            res["cut_turn_after_return_s"] = (page_time(page, "!document.getElementById('s-called').hidden",
                                                        timeout) - t_ms) / 1000
            res["cut_all_after_return_s"] = everyone(ack["v"], t_mono, t_ms)
            res["cut_reconnections"] = proxy.stats["connections"] - conns0
            say(name, f"after the cut: turn screen {res['cut_turn_after_return_s']:.2f} s, every phone "
                      f"{res['cut_all_after_return_s']:.2f} s, {res['cut_reconnections']} connections opened again")
            turn(page, page_name, rejoin=False)

        # Nothing lost, nothing twice: the pages' taps and the clients' joins against the server's records.
        snap = console(server, slug, token)
        logged = {"arrive": 0, "rejoin": 0}
        for row in snap["log"]:
            if row["action"] in ("arrive",) and (row["pseudonym"] or "").startswith("Page "):
                logged["arrive"] += 1
        people = snap["line"] + snap["active"] + snap["past"]
        page_entries = sum(1 for e in people if (e["pseudonym"] or "").startswith("Page "))
        logged["rejoin"] = page_entries - len(pages)  # each rejoin makes one new entry
        client_entries = sum(1 for e in people if (e["pseudonym"] or "").startswith("Bench "))
        res["actions_lost"] = (max(0, taps["arrive"] - logged["arrive"]) + max(0, taps["rejoin"] - logged["rejoin"])
                               + max(0, joined["ok"] - client_entries))
        res["actions_duplicated"] = (max(0, logged["arrive"] - taps["arrive"])
                                     + max(0, logged["rejoin"] - taps["rejoin"])
                                     + max(0, client_entries - joined["ok"]))
        res["upgrades_refused"] = proxy.stats["upgrades_refused"]
        res["transport"] = pages[0].evaluate("() => PQNet.current.socket.io.engine.transport.name")
    finally:
        for ctx in contexts:
            ctx.close()
        if clients:
            clients.close()
        proxy.stop()
        server.stop()
    return res


ROWS = [
    ("page_load_s", "first page load, slowest page (s)", "{:.1f}"),
    ("transport", "page transport at the end", "{}"),
    ("turn_p50_ms", "call -> turn screen p50 (ms)", "{:.0f}"),
    ("turn_p95_ms", "call -> turn screen p95 (ms)", "{:.0f}"),
    ("all_p50_s", "call -> every phone p50 (s)", "{:.2f}"),
    ("all_p95_s", "call -> every phone p95 (s)", "{:.2f}"),
    ("missing_updates", "updates never received", "{:.0f}"),
    ("cut_turn_after_return_s", "cut: turn screen after return (s)", "{:.3f}"),
    ("cut_all_after_return_s", "cut: every phone after return (s)", "{:.2f}"),
    ("cut_reconnections", "cut: connections opened again", "{:.0f}"),
    ("actions_lost", "actions lost", "{:.0f}"),
    ("actions_duplicated", "actions duplicated", "{:.0f}"),
    ("bytes_per_change_per_phone", "bytes per change per phone", "{:.0f}"),
    ("idle_bytes_per_phone_hour", "idle bytes per phone per hour", "{:.0f}"),
    ("bytes_per_phone_hour", f"bytes per phone per hour ({CHANGES_PER_HOUR} changes)", "{:.0f}"),
]


def report(results: list[dict]) -> None:
    """One column per profile, then the ratios to the loopback floor and the targets."""
    names = [r["profile"] for r in results]
    print("\n" + " " * 44 + "".join(f"{n:>14}" for n in names))
    for key, label, f in ROWS:
        cells = [(f.format(r[key]) if r.get(key) is not None else "-") for r in results]
        print(f"{label:<44}" + "".join(f"{c:>14}" for c in cells))
    floor = next((r for r in results if r["profile"] == "loopback"), None)
    if floor:
        print(f"{'turn p95 / loopback p95':<44}" + "".join(
            f"{r['turn_p95_ms'] / max(floor['turn_p95_ms'], 1):>14.1f}" for r in results))
    by = {r["profile"]: r for r in results}
    checks = []
    for p, limit in TURN_TARGET_MS.items():
        if p in by:
            checks.append(f"{p} turn p95 {by[p]['turn_p95_ms']:.0f} ms <= {limit} ms: "
                          f"{'met' if by[p]['turn_p95_ms'] <= limit else 'MISSED'}")
    if "cut" in by:
        t = by["cut"]["cut_all_after_return_s"]
        checks.append(f"cut: every phone correct {t:.2f} s after return <= 3 s: {'met' if t <= 3 else 'MISSED'}")
    if "no_websocket" in by and "3g" in by:
        ratio = by["no_websocket"]["turn_p95_ms"] / max(by["3g"]["turn_p95_ms"], 1)
        checks.append(f"no WebSocket turn p95 / 3G = {ratio:.2f} <= 2: {'met' if ratio <= 2 else 'MISSED'}")
    for r in results:
        if r.get("actions_lost") or r.get("actions_duplicated"):
            checks.append(f"{r['profile']}: actions lost/duplicated: MISSED")
    print("\nTargets:\n  " + "\n  ".join(checks))


def main() -> None:
    """Parse arguments, run each profile in turn, print the table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--pages", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--profiles", default="loopback,3g,congested,cut,no_websocket")
    ap.add_argument("--cut", type=float, default=30, help="seconds the link is down in the 'cut' profile")
    ap.add_argument("--cut-mode", choices=("hold", "reset"), default="hold",
                    help="hold: packets wait (the link is dead, connections hang); reset: connections are closed")
    ap.add_argument("--idle", type=float, default=30, help="seconds of quiet to measure the heartbeats' bytes")
    args = ap.parse_args()
    chromium = shutil.which("chromium")
    if not chromium:
        sys.exit("Debian's chromium is needed for the pages (apt-get install chromium)")
    raise_fd_limit()
    from playwright.sync_api import sync_playwright
    print(f"Street benchmark: {args.clients} clients + {args.pages} pages, {args.rounds} calls per profile, "
          f"cut {args.cut:.0f} s ({args.cut_mode})", flush=True)
    results = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking"])
        for name in args.profiles.split(","):
            t0 = time.monotonic()
            try:
                results.append(run_profile(name, args, browser))
            except Exception as e:  # noqa: BLE001 - report the others
                import traceback
                traceback.print_exc()
                results.append({"profile": name, "error": str(e)[:200]})
            say(name, f"done in {time.monotonic() - t0:.0f} s")
        browser.close()
    report([r for r in results if "error" not in r])
    for r in results:
        if "error" in r:
            print(f"{r['profile']}: FAILED ({r['error']})")


if __name__ == "__main__":
    main()
