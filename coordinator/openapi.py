"""The OpenAPI 3.1 document, built from the action registry so it cannot drift from the code."""
from __future__ import annotations

from .domain.actions import ACTIONS

FIELD_SCHEMAS = {
    "pseudonym": {"type": "string", "maxLength": 32}, "entry": {"type": "integer"}, "spot": {"type": "integer"},
    "to": {"type": "integer", "minimum": 1}, "text": {"type": "string", "maxLength": 280},
    "note": {"type": "string", "maxLength": 200}, "pause": {"type": "boolean"},
    "label": {"type": "string", "maxLength": 40}, "coordinator": {"type": "integer"},
    "title": {"type": "string", "maxLength": 120}, "location": {"type": "string", "maxLength": 200},
    "subscription": {"type": ["object", "null"], "properties": {
        "endpoint": {"type": "string"}, "keys": {"type": "object", "properties": {
            "p256dh": {"type": "string"}, "auth": {"type": "string"}}}}},
    "spots": {"type": "array", "items": {"type": "object", "properties": {
        "id": {"type": "integer"}, "label": {"type": "string", "maxLength": 40}}, "required": ["label"]}},
}
for _k in ("show_pseudonyms", "auto_call", "pause_on_detain", "board_qr"):
    FIELD_SCHEMAS[_k] = {"type": "boolean"}
for _k in ("slot_ms", "grace_ms", "lead_ms", "max_queue", "ready_at", "miss_back", "purge_after_ms"):
    FIELD_SCHEMAS[_k] = {"type": "integer"}

ERROR = {"type": "object", "properties": {"ok": {"const": False}, "error": {
    "type": "object", "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
    "required": ["code", "message"]}}}
OP = {"type": "string", "pattern": "^[A-Za-z0-9_-]{8,64}$", "description": "client operation id (idempotency key)"}


def _share_paths() -> dict:
    """Statistics, charts and the CSV export (coordinator token in the header); see coordinator/share.py."""
    def get(op: str, summary: str, media: str, extra: list | None = None) -> dict:
        return {"get": {"operationId": op, "summary": summary, "security": [{"coordinator": []}],
                        "parameters": [{"$ref": "#/components/parameters/slug"}, *(extra or [])],
                        "responses": {"200": {"description": summary, "content": {media: {}}},
                                      "4XX": {"$ref": "#/components/responses/error"}}}}
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
        paths[f"/api/events/{{slug}}/actions/{name}"] = {"post": {
            "operationId": f"action_{name}",
            "summary": " / ".join(a.summary for a in acts),
            "description": f"Who: {roles} (token in the X-Participant-Token or X-Coordinator-Token header).",
            "parameters": [{"$ref": "#/components/parameters/slug"}],
            "security": [{"participant": []}, {"coordinator": []}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "additionalProperties": False, "required": ["op"],
                "properties": {"op": OP, "args": {"type": "object", "additionalProperties": False,
                                                  "properties": {f: FIELD_SCHEMAS.get(f, {}) for f in sorted(fields)}}},
            }}}},
            "responses": {"200": {"description": "done (or the stored answer to a repeated op)",
                                  "content": {"application/json": {"schema": {"type": "object", "properties": {
                                      "ok": {"const": True}, "result": {"type": "object"},
                                      "v": {"type": "integer"}, "replay": {"type": "boolean"}}}}}},
                          "4XX": {"$ref": "#/components/responses/error"},
                          "503": {"$ref": "#/components/responses/busy"}},
        }}
    paths["/api/events/{slug}/actions/panic"] = {"post": {
        "operationId": "action_panic", "summary": "End the event and delete all of its data now (coordinator).",
        "parameters": [{"$ref": "#/components/parameters/slug"}], "security": [{"coordinator": []}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "properties": {"op": OP}, "required": ["op"]}}}},
        "responses": {"200": {"description": "deleted"}, "4XX": {"$ref": "#/components/responses/error"}}}}
    return paths


def document() -> dict:
    """The whole document."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "Picket Queue API", "version": "1.0.0",
                 "description": "The same actions as the Socket.IO protocol (docs/protocol.md). Tokens travel in "
                                "headers, never in URLs. Every action takes a client operation id `op`."},
        "paths": {
            "/api/events": {"post": {
                "operationId": "create_event", "summary": "Create an event; answers the owner's coordinator token once.",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["title"], "properties": {
                        "title": FIELD_SCHEMAS["title"], "location": FIELD_SCHEMAS["location"],
                        "lat": {"type": "number"}, "lon": {"type": "number"}, "spots": FIELD_SCHEMAS["spots"],
                        "label": FIELD_SCHEMAS["label"], "state": {"enum": ["draft", "open"]},
                        "passphrase": {"type": "string", "minLength": 8, "maxLength": 200},
                        **{k: FIELD_SCHEMAS[k] for k in ("slot_ms", "grace_ms", "lead_ms", "max_queue", "ready_at",
                                                          "miss_back", "purge_after_ms", "show_pseudonyms",
                                                          "auto_call", "pause_on_detain", "board_qr")}}}}}},
                "responses": {"201": {"description": "created"}, "4XX": {"$ref": "#/components/responses/error"}}}},
            "/api/events/{slug}": {"get": {
                "operationId": "observer_snapshot", "summary": "The public snapshot of an event.",
                "parameters": [{"$ref": "#/components/parameters/slug"}],
                "responses": {"200": {"description": "snapshot"}, "404": {"$ref": "#/components/responses/error"}}}},
            "/api/events/{slug}/snapshot": {"get": {
                "operationId": "snapshot", "summary": "The snapshot for the caller's role.",
                "parameters": [{"$ref": "#/components/parameters/slug"}],
                "security": [{"participant": []}, {"coordinator": []}, {}],
                "responses": {"200": {"description": "snapshot"}, "4XX": {"$ref": "#/components/responses/error"}}}},
            "/healthz": {"get": {"operationId": "health",
                                 "summary": "Readiness: the database answers and the message queue (if any) works.",
                                 "responses": {"200": {"description": "ok"},
                                               "503": {"$ref": "#/components/responses/error"}}}},
            **_share_paths(),
            "/api/push/key": {"get": {
                "operationId": "push_key", "summary": "The server's VAPID public key for Web Push subscriptions.",
                "responses": {"200": {"description": "{ok, key}"}}}},
            "/api/events/{slug}/stats": {"get": {
                "operationId": "stats", "summary": "Statistics of the event so far (coordinator).",
                "parameters": [{"$ref": "#/components/parameters/slug"}], "security": [{"coordinator": []}],
                "responses": {"200": {"description": "{ok, data}"}, "4XX": {"$ref": "#/components/responses/error"}}}},
            "/api/events/{slug}/export.csv": {"get": {
                "operationId": "export_csv", "summary": "Every entry of the event as CSV (coordinator).",
                "parameters": [{"$ref": "#/components/parameters/slug"}], "security": [{"coordinator": []}],
                "responses": {"200": {"description": "CSV", "content": {"text/csv": {"schema": {"type": "string"}}}},
                              "4XX": {"$ref": "#/components/responses/error"}}}},
            "/api/events/{slug}/stats/chart/{name}.svg": {"get": {
                "operationId": "stats_chart", "summary": "An SVG chart: line length over time, or waits (coordinator).",
                "parameters": [{"$ref": "#/components/parameters/slug"},
                               {"name": "name", "in": "path", "required": True,
                                "schema": {"enum": ["line", "waits"]}}],
                "security": [{"coordinator": []}],
                "responses": {"200": {"description": "SVG",
                                      "content": {"image/svg+xml": {"schema": {"type": "string"}}}},
                              "4XX": {"$ref": "#/components/responses/error"}}}},
            **_action_paths(),
        },
        "components": {
            "parameters": {"slug": {"name": "slug", "in": "path", "required": True,
                                    "schema": {"type": "string", "minLength": 4, "maxLength": 16}}},
            "securitySchemes": {
                "participant": {"type": "apiKey", "in": "header", "name": "X-Participant-Token"},
                "coordinator": {"type": "apiKey", "in": "header", "name": "X-Coordinator-Token"}},
            "responses": {"error": {"description": "error with a stable code",
                                    "content": {"application/json": {"schema": ERROR}}},
                          "busy": {"description": "`busy`: the database stayed locked too long; nothing changed. Send the "
                                                  "same op again after Retry-After seconds",
                                   "headers": {"Retry-After": {"schema": {"type": "integer"}}},
                                   "content": {"application/json": {"schema": ERROR}}}},
        },
    }
