"""/api/openapi.json is a valid OpenAPI 3.1 document that describes every action the engine knows."""
from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from conftest import new_op, new_token
from coordinator.domain.actions import ACTIONS


@pytest.fixture
def spec(client) -> dict:
    """The served document."""
    r = client.get("/api/openapi.json")
    assert r.status_code == 200 and r.is_json
    return r.json


def test_is_valid_openapi_31(spec):
    """The document passes the OpenAPI 3.1 validator."""
    assert spec["openapi"].startswith("3.1")
    validate(spec)  # raises on any violation


def test_validator_catches_a_broken_document(spec):
    """The validator really checks (a broken copy is refused)."""
    broken = {**spec, "paths": {"/x": {"get": {"responses": {"200": {"description": 5}}}}}}
    with pytest.raises(OpenAPIValidationError):
        validate(broken)


def test_every_action_is_listed(spec):
    """Each action in ACTIONS has its POST route, with the union of its arguments, and panic is there too."""
    for (role, name), act in ACTIONS.items():
        path = f"/api/events/{{slug}}/actions/{name}"
        assert path in spec["paths"], name
        op = spec["paths"][path]["post"]
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        assert "op" in schema["required"]
        assert set(act.fields) <= set(schema["properties"]["args"]["properties"]), name
        assert role in op["description"]
    assert "/api/events/{slug}/actions/panic" in spec["paths"]
    documented = {m.group(1) for p in spec["paths"] if (m := re.fullmatch(r"/api/events/\{slug\}/actions/(\w+)", p))}
    assert documented == {name for _, name in ACTIONS} | {"panic"}


def test_every_route_of_the_api_is_documented(app, spec):
    """Every /api route of the Flask app appears in the document (except the document itself)."""
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.rule == "/api/openapi.json":
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        if path == "/api/events/{slug}/actions/{name}":
            continue  # one documented path per action name
        assert path in spec["paths"], path
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert method.lower() in spec["paths"][path], (method, path)


def test_tokens_are_headers_not_query(spec):
    """The security schemes put tokens in headers; no parameter anywhere is a query-string token."""
    schemes = spec["components"]["securitySchemes"]
    assert all(s["in"] == "header" for s in schemes.values())
    for path, item in spec["paths"].items():
        for op in item.values():
            for p in op.get("parameters", []):
                if "$ref" not in p:
                    assert p["in"] != "query", (path, p)


def test_documented_request_schema_accepts_a_real_call(client, event, spec):
    """A request built from the documented schema works against the app (the schema is not fiction)."""
    from jsonschema import Draft202012Validator
    schema = spec["paths"]["/api/events/{slug}/actions/join"]["post"]["requestBody"]["content"][
        "application/json"]["schema"]
    body = {"op": new_op(), "args": {"pseudonym": "Tulip"}}
    Draft202012Validator(schema).validate(body)
    r = client.post(f"/api/events/{event['slug']}/actions/join", json=body,
                    headers={"X-Participant-Token": new_token()})
    assert r.status_code == 200 and r.json["ok"] is True
    assert not Draft202012Validator(schema).is_valid({"op": new_op(), "args": {"pseudonym": "T", "x": 1}})


# Fuzzing from the document (schemathesis, with its response-conformance checks) is in tests/test_api_contract.py.
