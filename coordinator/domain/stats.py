"""Statistics of one event from its stored rows: pickets held, waits, no-shows, detentions, the line over time.

Counters on the event (held, calls, no-shows, detentions) survive a participant deleting their own data; per-entry
figures (waits, time on the spot) cover the entries still stored. A wait is the time from joining to the (last)
call. No Flask here: the web layer passes a session and turns the results into JSON, SVG or CSV.
"""
from __future__ import annotations

import math
from datetime import datetime, timezone
from statistics import median

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import Entry, Event, LogRow

EXPORT_COLUMNS = ("ticket", "pseudonym", "state", "joined", "called", "started", "finished", "wait_s", "on_spot_s",
                  "misses", "note")


def percentile(values: list[int], p: float) -> int | None:
    """Nearest-rank percentile (p in 0..100) of a list of numbers; None for an empty list."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return int(ordered[rank - 1])


def wait_ms(entry: Entry) -> int | None:
    """Joined to called, for an entry that was called."""
    return entry.called_at - entry.joined_at if entry.called_at is not None else None


def on_spot_ms(entry: Entry, now: int) -> int | None:
    """How long the entry held a spot (so far, if it still does)."""
    if entry.started_at is None:
        return None
    if entry.state == "on_spot":
        return max(0, now - entry.started_at)
    if entry.finished_at is not None:
        return max(0, entry.finished_at - entry.started_at)
    return None


def line_points(logs: list[LogRow]) -> list[list[int]]:
    """[at_ms, line_length] whenever the line length changed, from log rows in commit order."""
    points: list[list[int]] = []
    for row in logs:
        if points and points[-1][0] == row.at:
            points[-1][1] = row.line  # one transaction: keep the length after it
        else:
            points.append([row.at, row.line])
    out: list[list[int]] = []
    for at, n in points:
        if not out or out[-1][1] != n:
            out.append([at, n])
    return out


def summarize(ev: Event, entries: list[Entry], logs: list[LogRow], now: int) -> dict:
    """The statistics block of an event."""
    waits = [w for w in (wait_ms(e) for e in entries) if w is not None]
    spots = [t for t in (on_spot_ms(e, now) for e in entries) if t is not None]
    return {
        "held": ev.held,
        "total_on_spot_ms": sum(spots),
        "wait_median_ms": int(median(waits)) if waits else None,
        "wait_p90_ms": percentile(waits, 90),
        "noshow_rate": round(ev.noshows / ev.calls, 3) if ev.calls else 0.0,
        "noshows": ev.noshows,
        "detentions": ev.detained,
        "calls": ev.calls,
        "entries": len(entries),
        "line_over_time": line_points(logs),
        "started_at": ev.started_at,
        "ended_at": ev.ended_at,
        "server_now": now,
    }


def load(session: Session, event_id: int) -> tuple[list[Entry], list[LogRow]]:
    """An event's entries (by ticket) and log rows (in commit order)."""
    entries = list(session.scalars(select(Entry).where(Entry.event_id == event_id).order_by(Entry.ticket)))
    logs = list(session.scalars(select(LogRow).where(LogRow.event_id == event_id).order_by(LogRow.id)))
    return entries, logs


def event_stats(session: Session, ev: Event, now: int) -> dict:
    """Load an event's rows and summarise them."""
    entries, logs = load(session, ev.id)
    return summarize(ev, entries, logs, now)


def waits_of(session: Session, ev: Event) -> list[int]:
    """Every stored wait of an event, in milliseconds (for the histogram)."""
    entries, _ = load(session, ev.id)
    return [w for w in (wait_ms(e) for e in entries) if w is not None]


def iso(ms: int | None) -> str:
    """Milliseconds since the epoch as ISO 8601 UTC to the second ('' for none)."""
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def seconds(ms: int | None) -> str:
    """Whole seconds ('' for none)."""
    return "" if ms is None else str(round(ms / 1000))


def export_rows(entries: list[Entry], now: int) -> list[list[str]]:
    """One row per entry, in EXPORT_COLUMNS order, as text."""
    return [[str(e.ticket), e.pseudonym, e.state, iso(e.joined_at), iso(e.called_at), iso(e.started_at),
             iso(e.finished_at), seconds(wait_ms(e)), seconds(on_spot_ms(e, now)), str(e.misses), e.note or ""]
            for e in entries]
