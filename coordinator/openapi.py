"""The OpenAPI 3.1 document, built from the action registry so it cannot drift from the code."""
from __future__ import annotations

from .domain.actions import ACTIONS, BULK_SELECTIONS, GATES, SETTINGS
from .domain.models import EVENT_STATES, FINAL_STATES, LIVE_STATES
from .domain.validation import PSEUDONYM_MAX
from .domain.views import FIND_LIMIT, LINE_WINDOW

FIELD_SCHEMAS = {
    "pseudonym": {"type": "string", "maxLength": 32}, "entry": {"type": "integer"}, "spot": {"type": "integer"},
    "to": {"type": "integer", "minimum": 1}, "text": {"type": "string", "maxLength": 280},
    "note": {"type": "string", "maxLength": 200}, "pause": {"type": "boolean"},
    "label": {"type": "string", "maxLength": 40}, "coordinator": {"type": "integer"},
    "title": {"type": "string", "maxLength": 120}, "location": {"type": "string", "maxLength": 200},
    "minutes": {"type": "integer", "minimum": 1, "maximum": 30},
    "op": {"type": "string", "pattern": "^[A-Za-z0-9_-]{8,64}$", "description": "the op id of the action to undo"},
    "subscription": {"type": ["object", "null"], "properties": {
        "endpoint": {"type": "string"}, "keys": {"type": "object", "properties": {
            "p256dh": {"type": "string"}, "auth": {"type": "string"}}}}},
    "spots": {"type": "array", "items": {"type": "object", "properties": {
        "id": {"type": "integer"}, "label": {"type": "string", "maxLength": 40}}, "required": ["label"]}},
}
FIELD_SCHEMAS["pow"] = {"type": ["object", "string"], "description": "a solved challenge: {challenge, solution} as "
                         "POST /api/events/{slug}/challenge gave it and the solver found it (or that JSON in base64)"}
FIELD_SCHEMAS["code"] = {"type": "string", "pattern": "^[0-9]{4,8}$",
                         "description": "the code shown at the picket, when the event's gate is `onsite`"}
FIELD_SCHEMAS["gate"] = {"enum": list(GATES), "description": "who may join: `open`, `onsite` (with the code shown "
                                                       "at the picket) or `approval` (a coordinator admits)"}
FIELD_SCHEMAS["select"] = {"enum": list(BULK_SELECTIONS), "description": "who a bulk removal takes: joined in "
                           "[since, until], never opened a live page, or offline now"}
FIELD_SCHEMAS["since"] = FIELD_SCHEMAS["until"] = {"type": "integer", "minimum": 0, "description": "server time, ms"}
FIELD_SCHEMAS["batch"] = {"type": "integer", "minimum": 0, "description": "the `batch` a bulk removal answered"}
for _k in ("show_pseudonyms", "auto_call", "pause_on_detain", "board_qr", "joining_paused", "dry_run"):
    FIELD_SCHEMAS[_k] = {"type": "boolean"}
for _k, (_lo, _hi) in SETTINGS.items():
    FIELD_SCHEMAS[_k] = {"type": "integer", "minimum": _lo, "maximum": _hi}

ERROR = {"type": "object", "required": ["ok", "error"], "properties": {"ok": {"const": False}, "error": {
    "type": "object", "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
    "required": ["code", "message"]}}}
ERRORS = {"400": {"$ref": "#/components/responses/bad_request"}, "4XX": {"$ref": "#/components/responses/error"}}
SLUG = [{"$ref": "#/components/parameters/slug"}]  # the path parameter of every /api/events/{slug}/... path
OP = {"type": "string", "pattern": "^[A-Za-z0-9_-]{8,64}$", "description": "client operation id (idempotency key)"}

# Arguments an action cannot do without (a missing one answers 400 bad_request). `confirm_arrival` and `finish`
# need `entry` only from a coordinator (a participant acts on their own entry), so it is not marked required there.
REQUIRED_ARGS = {
    "join": ["pseudonym"], "skip": ["entry"], "move": ["entry", "to"], "remove": ["entry"],
    "add_walk_in": ["pseudonym"], "recall": ["entry"], "detain": ["entry"], "broadcast": ["text"],
    "spots": ["spots"], "invite": ["label"], "revoke": ["coordinator"], "undo": ["op"],
    "message": ["entry", "text"], "running_late": ["minutes"], "admit": ["entry"], "remove_bulk": ["select"],
    "undo_bulk": ["batch"],
}
# Defaults of a new event (coordinator/domain/models.py); `settings` changes only the fields it is given.
DEFAULTS = {"slot_ms": 300_000, "grace_ms": 120_000, "lead_ms": 60_000, "max_queue": 200, "ready_at": 2,
            "miss_back": 3, "purge_after_ms": 12 * 3_600_000, "show_pseudonyms": False, "auto_call": True,
            "pause_on_detain": False, "board_qr": True}
# `pending`: asked to join an event with the `approval` gate, not admitted yet (not in line).
ENTRY_STATES = ("pending",) + LIVE_STATES + FINAL_STATES


def _obj(props: dict, required: list | tuple | None = None, extra: bool = True) -> dict:
    """An object schema; `required` defaults to every property."""
    out = {"type": "object", "properties": props, "required": list(props if required is None else required)}
    if not extra:
        out["additionalProperties"] = False
    return out


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


INT, STR, BOOL = {"type": "integer"}, {"type": "string"}, {"type": "boolean"}
INT_NULL, STR_NULL = {"type": ["integer", "null"]}, {"type": ["string", "null"]}
TIMES = ("joined_at", "called_at", "deadline_at", "arrived_at", "started_at", "ends_at", "finished_at")


def _schemas() -> dict:
    """The payloads of docs/protocol.md, one schema per thing (a spot is {id, label} wherever it is named)."""
    entry_result = {"entry": INT, "ticket": INT, "state": {"enum": list(ENTRY_STATES)}}
    return {
        "Error": ERROR,
        "SpotRef": _obj({"id": INT, "label": STR}),
        "Eta": _obj({"lo_ms": INT, "mid_ms": INT, "hi_ms": INT}),
        "Event": _obj({
            "slug": STR, "title": STR, "location": STR, "lat": {"type": ["number", "null"]},
            "lon": {"type": ["number", "null"]}, "state": {"enum": list(EVENT_STATES)},
            **{k: INT for k in ("slot_ms", "grace_ms", "lead_ms", "max_queue", "ready_at")},
            "show_pseudonyms": BOOL, "board_qr": BOOL,
            **{k: INT_NULL for k in ("paused_at", "ended_at", "purge_at")}}),
        "PublicSpot": _obj({
            "id": INT, "label": STR, "status": {"enum": ["free", "called", "busy"]}, "ticket": INT_NULL,
            "name": STR_NULL, "ends_at": INT_NULL, "called_ticket": INT_NULL, "called_until": INT_NULL,
            "called_arrived": BOOL}),
        "Public": _obj({
            "event": _ref("Event"), "spots": {"type": "array", "items": _ref("PublicSpot")},
            "counts": _obj({k: INT for k in ("line", "waiting", "away", "held", "detained", "noshow", "calls")}),
            "est": _obj({"turn_ms": INT, "lo_ms": INT, "hi_ms": INT, "lead_ms": INT,
                         "free_at": {"type": "array", "items": INT}}, ["turn_ms", "lo_ms", "hi_ms", "lead_ms",
                                                                       "free_at"]),
            "eta_new": _ref("Eta"),
            "next": {"type": "array", "items": INT, "maxItems": 3,
                     "description": "tickets of the next people to be called (stepped-away people are passed over)"},
            "through_at": {**INT_NULL, "description": "when the whole line is expected to be through (the last "
                                                      "person's turn over); null when nobody waits or stands"}}),
        "Announcement": _obj({"id": INT, "at": INT, "text": STR}),
        "Me": _obj({
            "id": INT, "ticket": INT, "pseudonym": STR, "state": {"enum": list(ENTRY_STATES)},
            "position": INT_NULL, "ahead": INT_NULL, "misses": INT,
            "spot": {"oneOf": [_ref("SpotRef"), {"type": "null"}]}, **{k: INT_NULL for k in TIMES},
            "eta": {"oneOf": [_ref("Eta"), {"type": "null"}]}, "push": BOOL,
            "message": {"oneOf": [_obj({"text": STR, "at": INT}), {"type": "null"}],
                        "description": "the latest message from a coordinator to this person only"},
            "late": {"oneOf": [_ref("Late"), {"type": "null"}]}}),
        "Late": _obj({"minutes": INT, "at": INT}),
        "Entry": _obj({
            "id": INT, "ticket": INT, "pseudonym": STR, "state": {"enum": list(ENTRY_STATES)},
            "position": INT_NULL, "spot": {"oneOf": [_ref("SpotRef"), {"type": "null"}]},
            **{k: INT_NULL for k in TIMES}, "misses": INT, "walk_in": BOOL, "note": STR_NULL, "online": BOOL,
            "last_seen_at": INT_NULL, "push": BOOL,
            "late": {"oneOf": [_ref("Late"), {"type": "null"}],
                     "description": "the person said they need this many more minutes, at `at`"}}),
        "ObserverSnapshot": _obj({"role": {"const": "observer"}, "v": INT, "server_now": INT,
                                  "public": _ref("Public"),
                                  "announcements": {"type": "array", "items": _ref("Announcement")}}),
        "ParticipantSnapshot": _obj({"role": {"const": "participant"}, "v": INT, "server_now": INT,
                                     "public": _ref("Public"),
                                     "announcements": {"type": "array", "items": _ref("Announcement")},
                                     "me": {"oneOf": [_ref("Me"), {"type": "null"}]}}),
        "CoordinatorSnapshot": _obj({
            "role": {"const": "coordinator"}, "v": INT, "server_now": INT, "public": _ref("Public"),
            "key": {"type": "string", "description": "identity of this view: a socket `console` patch whose `base` "
                                                     "is this key applies to it (docs/protocol.md)"},
            "announcements": {"type": "array", "items": _ref("Announcement")},
            "me": {"oneOf": [_obj({"id": INT, "label": STR, "owner": BOOL}), {"type": "null"}]},
            "settings": _obj({k: {"type": "boolean" if isinstance(x, bool) else "integer"}
                              for k, x in DEFAULTS.items() if k != "board_qr"}),
            "all_spots": {"type": "array", "items": _obj({"id": INT, "label": STR, "active": BOOL})},
            "line": {"type": "array", "items": _ref("Entry"), "maxItems": LINE_WINDOW,
                     "description": f"the first {LINE_WINDOW} people in line (all of them: public.counts.line; "
                                    "the others are found with `find`)"},
            "active": {"type": "array", "items": _ref("Entry")},
            "past": {"type": "array", "items": _ref("Entry")},
            "log": {"type": "array", "items": _obj({"id": INT, "at": INT, "actor": STR, "action": STR,
                                                    "ticket": INT_NULL, "pseudonym": STR_NULL,
                                                    "detail": STR_NULL})},
            "team": {"type": "array", "items": _obj({"id": INT, "label": STR, "owner": BOOL, "online": BOOL,
                                                     "revoked": BOOL, "last_seen_at": INT_NULL})}},
            ["role", "v", "server_now", "public", "announcements", "me", "line", "active", "past", "log"]),
        "Found": _obj({"v": INT, "q": STR,
                       "found": {**INT, "description": f"how many matched; `line` holds the first {FIND_LIMIT}"},
                       "line": {"type": "array", "items": _ref("Entry"), "maxItems": FIND_LIMIT,
                                "description": "in line order, each with its `position`"}}),
        "Snapshot": {"oneOf": [_ref("ObserverSnapshot"), _ref("ParticipantSnapshot"),
                               _ref("CoordinatorSnapshot")]},
        "EntryResult": _obj({**entry_result, "already": BOOL, "to": INT, "paused": BOOL, "undoable": BOOL,
                             "minutes": INT,
                             "undone": STR,
                             "spot": _ref("SpotRef")}, list(entry_result)),
        "ActionAnswer": _obj({"ok": {"const": True}, "result": {"type": "object"}, "v": INT, "replay": BOOL,
                              "server_now": INT}),
    }


def _result_schema(name: str) -> dict:
    """The `result` of one action's answer."""
    state = _obj({"state": {"enum": list(EVENT_STATES)}})
    special = {
        "delete_me": _obj({"deleted": {"const": True}}), "set_push": _obj({"push": BOOL}),
        "open": state, "start": state, "pause": state, "resume": state,
        "end": _obj({"state": {"const": "ended"}, "purge_at": INT_NULL}),
        "broadcast": _obj({"announcement": INT}), "settings": _obj({"changed": {"type": "array", "items": STR}}),
        "spots": _obj({"spots": INT}),
        "invite": _obj({"coordinator": INT, "token": {"type": "string", "description": "in the first answer only"}},
                       ["coordinator"]),
        "revoke": _obj({"coordinator": INT, "revoked": {"const": True}}),
        "admit_all": _obj({"admitted": INT}), "new_code": _obj({"epoch": INT}),
        "remove_bulk": _obj({"count": INT, "dry_run": {"const": True}, "removed": INT, "batch": INT}, ["count"]),
        "undo_bulk": _obj({"restored": INT}),
    }
    if name in special:
        return special[name]
    if name in ENTRY_ACTIONS:
        return _ref("EntryResult")
    return {"type": "object"}


ENTRY_ACTIONS = {"admit", "undo", "message", "running_late", "join", "rejoin", "leave", "step_away", "come_back",
                 "confirm_arrival", "finish", "call_next", "skip", "move", "remove", "add_walk_in", "recall",
                 "detain"}


def _share_paths() -> dict:
    """Statistics, charts and the CSV export (coordinator token in the header); see coordinator/share.py."""
    stats = _obj({"ok": {"const": True}, "data": _obj({
        **{k: INT for k in ("held", "total_on_spot_ms", "noshows", "detentions", "calls", "entries", "server_now")},
        "wait_median_ms": INT_NULL, "wait_p90_ms": INT_NULL, "noshow_rate": {"type": "number"},
        "line_over_time": {"type": "array", "items": {"type": "array", "items": INT, "minItems": 2, "maxItems": 2}},
        "started_at": INT_NULL, "ended_at": INT_NULL})})
    bodies = {"application/json": stats, "image/svg+xml": {"type": "string"}, "text/csv": {"type": "string"}}

    def get(op: str, summary: str, media: str, extra: list | None = None) -> dict:
        return {"get": {"operationId": op, "summary": summary, "security": [{"coordinator": []}],
                        "parameters": [*SLUG, *(extra or [])],
                        "responses": {"200": {"description": summary, "content": {media: {"schema": bodies[media]}}},
                                      **ERRORS}}}
    chart = {"name": "name", "in": "path", "required": True, "schema": {"enum": ["line", "waits"]}}
    return {
        "/api/events/{slug}/stats": get("stats", "Statistics of the event so far.", "application/json"),
        "/api/events/{slug}/stats/chart/{name}.svg": get("stats_chart", "A server-rendered SVG chart.",
                                                         "image/svg+xml", [chart]),
        "/api/events/{slug}/export.csv": get("export_csv", "Every entry of the event as CSV.", "text/csv"),
    }


def _action_paths() -> dict:
    paths = {}
    by_name: dict[str, list] = {}
    for (role, name), act in sorted(ACTIONS.items()):
        by_name.setdefault(name, []).append(act)
    for name, acts in sorted(by_name.items()):
        fields = set().union(*(a.fields for a in acts))
        roles = " or ".join(a.role for a in acts)
        required = REQUIRED_ARGS.get(name, [])
        paths[f"/api/events/{{slug}}/actions/{name}"] = {"post": {
            "operationId": f"action_{name}",
            "summary": " / ".join(a.summary for a in acts),
            "description": f"Who: {roles} (token in the X-Participant-Token or X-Coordinator-Token header; "
                           "both at once answer 400 bad_request)." + (
                               " A coordinator must name the `entry`." if name in ("confirm_arrival", "finish")
                               else ""),
            "parameters": SLUG,
            "security": [{"participant": []}, {"coordinator": []}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "additionalProperties": False, "required": ["op"] + (["args"] if required else []),
                "properties": {"op": OP, "args": {
                    "type": "object", "additionalProperties": False, "required": required,
                    "properties": {f: FIELD_SCHEMAS.get(f, {}) for f in sorted(fields)}}},
            }}}},
            "responses": {"200": {"description": "done (or, with `replay: true`, the stored first answer to a "
                                                 "repeated op, with the version that answer had)",
                                  "content": {"application/json": {"schema": {"allOf": [
                                      _ref("ActionAnswer"),
                                      {"properties": {"result": _result_schema(name)}}]}}}},
                          **ERRORS, "503": {"$ref": "#/components/responses/busy"}},
        }}
    paths["/api/events/{slug}/actions/panic"] = {"post": {
        "operationId": "action_panic", "summary": "End the event and delete all of its data now (the owner only).",
        "parameters": SLUG, "security": [{"coordinator": []}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "properties": {"op": OP}, "required": ["op"]}}}},
        "responses": {"200": {"description": "deleted; every client of the event gets `bye`",
                              "content": {"application/json": {"schema": {"allOf": [
                                  _ref("ActionAnswer"), {"properties": {"result": _obj({"purged": {"const": True}})}}]}}}},
                      **ERRORS}}}
    return paths


def _join_paths() -> dict:
    """Joining: the proof-of-work challenge (docs/protocol.md, "Joining: proof of work and gates")."""
    return {"/api/events/{slug}/challenge": {"post": {
        "operationId": "challenge",
        "summary": "A proof-of-work challenge for joining (ALTCHA v2, PBKDF2/SHA-256), signed, for this event only, "
                   "usable once within its expiry; solve it and send {challenge, solution} as the join's `pow`.",
        "parameters": SLUG,
        "responses": {"200": _json(_obj({"ok": {"const": True}, "challenge": _obj({
                          "parameters": {"type": "object", "description": "ALTCHA v2 parameters (algorithm, cost, "
                                                                          "keyPrefix, salt, expiresAt, data)"},
                          "signature": STR})}), "{ok, challenge: {parameters, signature}}"),
                      **ERRORS,
                      "429": {"description": "`rate_limited`: too many challenges from this network address just "
                                             "now; retry after Retry-After seconds",
                              "headers": {"Retry-After": {"schema": {"type": "integer"}}},
                              "content": {"application/json": {"schema": ERROR}}}}}},
        "/api/events/{slug}/code": {"get": {
            "operationId": "gate_code",
            "summary": "The current on-site join code, when it changes, and an SVG QR code of the join link with it, "
                       "for a big screen holding the event's display key (X-Display-Key header; the console gives it).",
            "parameters": SLUG,
            "responses": {"200": _json(_obj({"ok": {"const": True}, "gate": {"enum": list(GATES)},
                                             "code": {"type": "string", "pattern": "^[0-9]{4,8}$"},
                                             "next_at": INT, "server_now": INT, "qr": STR}, ["gate"]),
                                       "{ok, gate, code, next_at, qr}: code, next_at and qr only for the `onsite` "
                                       "gate"),
                          **ERRORS}}}}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def document() -> dict:
    """The whole document."""
    snapshot = _obj({"ok": {"const": True}, "data": _ref("Snapshot")})
    create_props = {
        "title": FIELD_SCHEMAS["title"], "location": FIELD_SCHEMAS["location"],
        "lat": {"type": "number"}, "lon": {"type": "number"}, "spots": FIELD_SCHEMAS["spots"],
        "label": {**FIELD_SCHEMAS["label"], "default": "owner",
                  "description": "the owner's name in the team list and the log"},
        "state": {"enum": ["draft", "open"], "default": "open"},
        "passphrase": {"type": "string", "minLength": 8, "maxLength": 200},
        **{k: {**FIELD_SCHEMAS[k], "default": x} for k, x in DEFAULTS.items()}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Picket Queue API", "version": "1.0.0",
                 "description": "The same actions as the Socket.IO protocol (docs/protocol.md). Tokens travel in "
                                "headers, never in URLs; send one of X-Participant-Token and X-Coordinator-Token "
                                "(both at once answer 400 bad_request). Every action takes a client operation id "
                                "`op`. Event states: " + ", ".join(EVENT_STATES) + " (draft: not open for "
                                "joining; open: joining, no calls yet; live: calling; paused: no calls, countdowns "
                                "stopped; ended: no more changes, data deleted at purge_at). A wrong method answers "
                                "405 bad_request with an Allow header."},
        "paths": {
            "/api/events": {"post": {
                "operationId": "create_event", "summary": "Create an event; answers the owner's coordinator token once.",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["title"], "additionalProperties": False,
                    "properties": create_props}}}},
                "responses": {"201": _json(_obj({
                    "ok": {"const": True}, "slug": STR, "event": _ref("Public"),
                    "coordinator_token": {"type": "string", "description": "shown only in this answer"},
                    "links": _obj({"join": STR, "board": STR, "console": STR})}),
                    "created; `slug` is also at `event.event.slug`"),
                    **ERRORS}}},
            "/api/events/{slug}": {"get": {
                "operationId": "observer_snapshot", "summary": "The public snapshot of an event.",
                "parameters": SLUG,
                "responses": {"200": _json(_obj({"ok": {"const": True}, "data": _ref("ObserverSnapshot")}),
                                           "the observer snapshot"), **ERRORS}}},
            "/api/events/{slug}/snapshot": {"get": {
                "operationId": "snapshot", "summary": "The snapshot for the caller's role.",
                "parameters": SLUG,
                "security": [{"participant": []}, {"coordinator": []}, {}],
                "responses": {"200": _json(snapshot, "the snapshot for the caller's role"), **ERRORS}}},
            "/api/events/{slug}/find": {"post": {
                "operationId": "find", "summary": "Coordinators: find people in line by ticket number or part of a "
                                                  "pseudonym (the console lists only the first "
                                                  f"{LINE_WINDOW} in line).",
                "parameters": SLUG,
                "security": [{"coordinator": []}],
                "requestBody": {"required": True, "content": {"application/json": {"schema": _obj(
                    {"q": {"type": "string", "minLength": 1, "maxLength": PSEUDONYM_MAX,
                           "description": "a ticket number (a leading # allowed) or part of a pseudonym, any case"}},
                    ["q"])}}},
                "responses": {"200": _json(_obj({"ok": {"const": True}, "data": _ref("Found")}),
                                           "the matching people"), **ERRORS}}},
            "/healthz": {"get": {"operationId": "health",
                                 "summary": "Readiness: the database answers and the message queue (if any) works.",
                                 "responses": {"200": _json(_obj({"ok": {"const": True}}), "ok"),
                                               "503": {"$ref": "#/components/responses/busy"}}}},
            **_share_paths(),
            "/api/push/key": {"get": {
                "operationId": "push_key", "summary": "The server's VAPID public key for Web Push subscriptions.",
                "responses": {"200": _json(_obj({"ok": {"const": True}, "key": STR}), "the key, base64url")}}},
            **_action_paths(),
            **_join_paths(),
        },
        "components": {
            "schemas": _schemas(),
            "parameters": {"slug": {"name": "slug", "in": "path", "required": True,
                                    "description": "the event's id; a malformed one answers 400 bad_request, an "
                                                   "unknown one 404 not_found",
                                    "schema": {"type": "string", "minLength": 4, "maxLength": 16}}},
            "securitySchemes": {
                "participant": {"type": "apiKey", "in": "header", "name": "X-Participant-Token",
                                "description": "the phone's own 43-character token (it creates the participant "
                                               "on `join`)"},
                "coordinator": {"type": "apiKey", "in": "header", "name": "X-Coordinator-Token",
                                "description": "with X-Coordinator-Passphrase when the link has a passphrase"}},
            "responses": {"error": {"description": "error with a stable code",
                                    "content": {"application/json": {"schema": ERROR}}},
                          "bad_request": {"description": "`bad_request` and kin: a malformed slug, body or argument, "
                                                         "both token headers at once, an unknown action",
                                          "content": {"application/json": {"schema": ERROR}}},
                          "busy": {"description": "`busy`: the database stayed locked too long; nothing changed. Send the "
                                                  "same op again after Retry-After seconds",
                                   "headers": {"Retry-After": {"schema": {"type": "integer"}}},
                                   "content": {"application/json": {"schema": ERROR}}}},
        },
    }
