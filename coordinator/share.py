"""Sharing an event and looking back at it: the join QR code, the printable page, statistics, charts, CSV export.

The QR code and the printable page are public (they hold only the public join link). Statistics, charts and the
export need the coordinator token in the X-Coordinator-Token header; no secret ever travels in these URLs.
"""
from __future__ import annotations

import csv
import io
from contextlib import contextmanager
import math
from statistics import median

import segno
from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request, url_for
from flask_babel import force_locale, gettext as _

from .api import principal
from .domain import DomainError
from .domain import stats
from .domain.errors import Forbidden, NotFound, Unauthorized
from .domain.models import Event
from .http_errors import domain_error
from .services import queue

bp = Blueprint("share", __name__)
bp.register_error_handler(DomainError, domain_error)
CHARTS = ("line", "waits")


def absolute(endpoint: str, **values) -> str:
    """An absolute link: PUBLIC_URL when configured (e.g. behind a proxy), else this request's host."""
    base = current_app.config.get("PUBLIC_URL") or request.host_url
    return base.rstrip("/") + url_for(endpoint, **values)


def join_url(slug: str) -> str:
    """The absolute join link that the QR codes hold."""
    return absolute("pages.participant", slug=slug)


def observer_snapshot(slug: str) -> dict:
    """The public snapshot of an event, or a 404 page (every page of an event starts here)."""
    try:
        return queue().snapshot(queue().authenticate({"event": slug}))
    except DomainError:
        abort(404)


def board_context(slug: str) -> dict:
    """What the board template needs: the observer snapshot (for the first paint) and the join link."""
    snap = observer_snapshot(slug)
    return {"event": snap["public"]["event"], "snapshot": snap, "join_url": join_url(slug)}


@bp.get("/e/<slug>/qr.svg")
def qr_svg(slug: str):
    """The join link as an SVG QR code (public: the link is what people scan anyway)."""
    observer_snapshot(slug)
    link = join_url(slug)
    out = io.BytesIO()
    segno.make(link, error="m").save(out, kind="svg", scale=1, border=4, omitsize=True, light="#fff", dark="#000",
                                     title=_("QR code: join the line"), desc=link)
    resp = Response(out.getvalue(), mimetype="image/svg+xml")
    # Private: without PUBLIC_URL the link follows the Host header, so no shared cache may keep one answer for all.
    resp.headers["Cache-Control"] = "private, max-age=300"
    return resp


def _print_texts() -> dict:
    """The printable page's texts in the current locale (the catalogue is the one source of both languages)."""
    # Spelled out so that pybabel finds every string.
    return {"heading": _("Join the picket line"),
            "scan": _("Scan the code with your phone's camera, or open the link:"),
            "step_name": _("Pick any nickname: no real name, no phone number, no account."),
            "step_wait": _("Keep the page open. It tells you when to get ready and which spot to go to."),
            "step_go": _("When you are called, go to your spot and tap \u201cI'm at the spot\u201d."),
            "step_leave": _("You can step away or leave the line at any time."),
            "board": _("Live board for everyone:")}


@bp.get("/e/<slug>/print")
def print_page(slug: str):
    """An A4 poster: a large QR code, the title and place, and short instructions in Russian and English."""
    event = observer_snapshot(slug)["public"]["event"]
    blocks = []
    for code in current_app.config["LANGUAGES"]:  # Russian first
        with force_locale(code):
            blocks.append({"lang": code, **_print_texts(),
                           # the `on site` gate (issue 8): where the code is
                           "onsite": _("To join you also need the code on the big screen at the picket, next to "
                                       "the coordinators: scan the QR code there, or type its six digits.")})
    return render_template("print.html", event=event, join_url=join_url(slug),
                           board_url=absolute("pages.board", slug=slug), blocks=blocks)


# ---------------------------------------------------------------- coordinator-only: statistics and export

def _coordinator_event(slug: str):
    """The caller, who must be a coordinator of this event (token in the header, never in the URL)."""
    who = principal(slug)
    if who.role == "observer":
        raise Unauthorized("This needs the coordinator token in the X-Coordinator-Token header.")
    if who.role != "coordinator":
        raise Forbidden("Only coordinators may see statistics and export the event.")
    return who


@contextmanager
def _coordinator_read(slug: str):
    """A read transaction on the caller's event, for coordinators only: yields (session, event, now)."""
    who = _coordinator_event(slug)
    q = queue()
    with q.store.read() as s:
        ev = s.get(Event, who.event_id)
        if ev is None:
            raise NotFound("No such event (it may have ended and been deleted).")
        yield s, ev, q.clock.now()


def _no_store(resp: Response) -> Response:
    """Statistics and exports must not stay in any cache."""
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/api/events/<slug>/stats")
def stats_json(slug: str):
    """Statistics of the event so far."""
    with _coordinator_read(slug) as (s, ev, now):
        data = stats.event_stats(s, ev, now)
    return _no_store(jsonify({"ok": True, "data": data}))


@bp.get("/api/events/<slug>/export.csv")
def export_csv(slug: str):
    """Every entry of the event as CSV (times ISO 8601 UTC, durations in seconds), as a download."""
    with _coordinator_read(slug) as (s, ev, now):
        entries, _logs = stats.load(s, ev.id)
        rows = stats.export_rows(entries, now)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(stats.EXPORT_COLUMNS)
    for row in rows:
        writer.writerow([_cell(c) for c in row])
    # A byte-order mark so that spreadsheet programs read Cyrillic pseudonyms as UTF-8.
    resp = Response("\ufeff" + out.getvalue(), mimetype="text/csv")
    resp.headers["Content-Disposition"] = f'attachment; filename="picket-{slug}.csv"'
    return _no_store(resp)


def _cell(value: str) -> str:
    """Defuse spreadsheet formulas in free text (a pseudonym like '=HYPERLINK(...)')."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@bp.get("/api/events/<slug>/stats/chart/<name>.svg")
def chart_svg(slug: str, name: str):
    """A server-rendered SVG chart: `line` (line length over time) or `waits` (histogram of waits)."""
    with _coordinator_read(slug) as (s, ev, now):
        if name not in CHARTS:
            raise NotFound(f"No chart '{name[:20]}'; charts: {', '.join(CHARTS)}.")
        if name == "line":
            data = stats.event_stats(s, ev, now)
            end = ev.ended_at or now
            svg = line_chart(data["line_over_time"], ev.started_at or ev.created_at, end)
        else:
            svg = waits_chart(stats.waits_of(s, ev))
    return _no_store(Response(svg, mimetype="image/svg+xml"))


# ---------------------------------------------------------------- SVG charts (no library; presentation attributes
# only, so they pass the strict CSP and can be inlined or shown as images)

W, H = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 16, 44


def _esc(text: str) -> str:
    """Escape text for XML."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _nice_step(span: float, ticks: int = 6) -> float:
    """A round tick step (1, 2, 5 x 10^k) that gives about `ticks` ticks over `span`."""
    if span <= 0:
        return 1
    raw = span / ticks
    mag = 10 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)


def _frame(title: str, desc: str, body: list[str], x_label: str, y_label: str) -> str:
    """The SVG document around a chart body, with accessible title and description."""
    return "".join([
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" role="img" '
        f'aria-labelledby="t d" font-family="system-ui, sans-serif" font-size="13">',
        f'<title id="t">{_esc(title)}</title><desc id="d">{_esc(desc)}</desc>',
        f'<rect width="{W}" height="{H}" fill="#fff"/>',
        *body,
        f'<line x1="{LEFT}" y1="{H - BOTTOM}" x2="{W - RIGHT}" y2="{H - BOTTOM}" stroke="#222"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{H - BOTTOM}" stroke="#222"/>',
        f'<text x="{(LEFT + W - RIGHT) / 2}" y="{H - 6}" text-anchor="middle" fill="#222">{_esc(x_label)}</text>',
        f'<text x="12" y="{(TOP + H - BOTTOM) / 2}" text-anchor="middle" fill="#222" '
        f'transform="rotate(-90 12 {(TOP + H - BOTTOM) / 2})">{_esc(y_label)}</text>',
        "</svg>"])


def _axes(x_max: float, y_max: float, x_fmt=lambda v: f"{v:g}") -> tuple[list[str], callable, callable]:
    """Grid lines and tick labels; returns them and the x, y scale functions."""
    sx = lambda v: LEFT + (W - LEFT - RIGHT) * (v / x_max if x_max else 0)  # noqa: E731
    sy = lambda v: H - BOTTOM - (H - TOP - BOTTOM) * (v / y_max if y_max else 0)  # noqa: E731
    out = []
    step = max(1, _nice_step(y_max, 5))
    v = 0
    while v <= y_max + 1e-9:
        y = sy(v)
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{W - RIGHT}" y2="{y:.1f}" stroke="#ddd"/>'
                   f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#222">{v:g}</text>')
        v += step
    step = _nice_step(x_max, 8)
    v = 0
    while v <= x_max + 1e-9:
        out.append(f'<text x="{sx(v):.1f}" y="{H - BOTTOM + 16}" text-anchor="middle" fill="#222">'
                   f'{_esc(x_fmt(v))}</text>')
        v += step
    return out, sx, sy


def line_chart(points: list[list[int]], start: int, end: int) -> str:
    """Line length over time as a step chart; x in minutes since the start."""
    title = _("Line length over time")
    x_label, y_label = _("minutes since the start"), _("people in line")
    if not points:
        return _frame(title, _("No data yet."), [], x_label, y_label)
    start = min(start, points[0][0])
    end = max(end, points[-1][0])
    x_max = max((end - start) / 60000, 1)
    y_max = max(max(n for _, n in points), 1)
    body, sx, sy = _axes(x_max, y_max)
    path, prev = [], None
    for at, n in points:
        x, y = sx((at - start) / 60000), sy(n)
        path.append(f"M{x:.1f},{y:.1f}" if prev is None else f"H{x:.1f}V{y:.1f}")
        prev = n
    path.append(f"H{sx(x_max):.1f}")
    body.append(f'<path d="{"".join(path)}" fill="none" stroke="#0a5c36" stroke-width="2.5"/>')
    peak = max(n for _, n in points)
    desc = _("Over %(minutes)s minutes the line was at most %(peak)s people long; it is %(now)s now.",
             minutes=round(x_max), peak=peak, now=points[-1][1])
    return _frame(title, desc, body, x_label, y_label)


def waits_chart(waits_ms: list[int]) -> str:
    """A histogram of waits (joined to called) in minute bins."""
    title = _("Waiting times")
    x_label, y_label = _("wait in minutes"), _("people")
    if not waits_ms:
        return _frame(title, _("No data yet."), [], x_label, y_label)
    minutes = [w / 60000 for w in waits_ms]
    width = _nice_step(max(max(minutes), 1), 10)
    bins = [0] * (int(max(minutes) // width) + 1)
    for m in minutes:
        bins[int(m // width)] += 1
    x_max, y_max = len(bins) * width, max(bins)
    body, sx, sy = _axes(x_max, y_max)
    for i, count in enumerate(bins):
        x0, x1 = sx(i * width), sx((i + 1) * width)
        tip = _("%(lo)s to %(hi)s min: %(n)s", lo=f"{i * width:g}", hi=f"{(i + 1) * width:g}", n=count)
        body.append(f'<rect x="{x0 + 1:.1f}" y="{sy(count):.1f}" width="{max(x1 - x0 - 2, 1):.1f}" '
                    f'height="{sy(0) - sy(count):.1f}" fill="#0a5c36"><title>{_esc(tip)}</title></rect>')
    med = median(waits_ms) / 60000
    desc = _("%(n)s people waited; the median wait was %(median)s minutes, the longest %(longest)s minutes.",
             n=len(waits_ms), median=round(med, 1), longest=round(max(minutes), 1))
    return _frame(title, desc, body, x_label, y_label)
