"""The OpenAPI document: valid in itself, and true of the real routes (schemathesis against the Flask app)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings as hypothesis_settings
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from answer_server import create_app
from answer_server.openapi import OPENAPI
from tests.conftest import CREATE_CALL_URL, callback_path, plivo_accepts, send

KEY = "schema-test-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}
NUMBER = "+14155550123"
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance,
          response_headers_conformance]
OPERATIONS = [("POST", "/otp"), ("POST", "/otp/check"), ("GET", "/otp/{id}"), ("GET", "/openapi.json")]


def test_the_document_is_valid_openapi():
    validate(OPENAPI)


@pytest.fixture
def api_app(settings, plivo_api, fake_slack):
    plivo_accepts(plivo_api)  # every create-call succeeds
    app = create_app(replace(settings, api_keys=(KEY,), otp_audit_channel="C0AUDIT"))
    yield app
    app.extensions["voicebridge"]["close"]()


@pytest.fixture
def api_schema(api_app):
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", api_app)


def test_the_served_document_is_the_one_in_the_code(api_app):
    assert api_app.test_client().get("/api/v1/openapi.json").get_json() == OPENAPI


def test_every_route_under_the_api_is_documented(api_app):
    routes = {(method, rule.rule.removeprefix("/api/v1").replace("<code_id>", "{id}"))
              for rule in api_app.url_map.iter_rules() if rule.rule.startswith("/api/v1/")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(method.upper(), path) for path, item in OPENAPI["paths"].items() for method in item}
    assert routes == documented == set(OPERATIONS)


# One hypothesis run per operation and mode, built by hand: schemathesis's own
# pytest integration (schemathesis.pytest.from_fixture) fails under pytest 9
# ('Function' object has no attribute '_nodeid').
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_the_routes_answer_as_documented(api_schema, method, path, mode):
    operation = api_schema[path][method]
    if mode is GenerationMode.NEGATIVE and path == "/openapi.json":
        pytest.skip("nothing to get wrong: no parameters, no body")

    @hypothesis_settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def answers_as_documented(case):
        case.call_and_validate(headers=AUTH, checks=CHECKS)

    answers_as_documented()


def test_a_code_answers_as_documented_at_every_step(api_schema, plivo_api, fake_slack, plivo):
    """Random inputs rarely make a real code; this walks one through its life, checking every answer."""

    def call(method: str, path: str, headers=AUTH, **data):
        case = api_schema[path][method].Case(media_type="application/json" if "body" in data else None, **data)
        return case.call_and_validate(headers=headers, checks=CHECKS)

    example = OPENAPI["paths"]["/otp"]["post"]["requestBody"]["content"]["application/json"]["example"]
    assert call("POST", "/otp", body=example | {"code": "483920"}).status_code == 202
    code_id = call("POST", "/otp", body=example | {"code": "483920"}).json()["id"]
    status = lambda: call("GET", "/otp/{id}", path_parameters={"id": code_id}).json()  # noqa: E731
    assert status()["verification"] == "live"
    created = fake_slack.wait_for(lambda: [c for c in plivo_api.calls if c.request.url == CREATE_CALL_URL][1:])
    dialled = json.loads(created[0].request.body)
    send(api_schema.app.test_client(), plivo.answer(callback_path(dialled["answer_url"]), call_uuid="c2", to=NUMBER))
    assert status()["status"] == "answered"
    assert call("POST", "/otp/check", body={"to": NUMBER, "code": "111111"}).json() == {"valid": False,
                                                                                        "attempts_left": 4}
    assert call("POST", "/otp/check", body={"to": NUMBER, "code": "483920"}).json()["valid"] is True
    assert call("POST", "/otp/check", body={"to": NUMBER, "code": "483920"}).status_code == 409
    send(api_schema.app.test_client(), plivo.hangup(callback_path(dialled["hangup_url"]), call_uuid="c2", to=NUMBER))
    assert status()["status"] == "answered" and status()["ended"] is True  # no key was pressed
    assert call("POST", "/otp", body=example).status_code == 202
    limited = call("POST", "/otp", body=example)
    assert limited.status_code == 429 and int(limited.headers["retry-after"][0]) > 0
    assert call("POST", "/otp", headers={}, body=example).status_code == 401
    other = {"to": "+14155550124"}
    assert call("POST", "/otp", headers=AUTH | {"Idempotency-Key": "signup-1"}, body=other).status_code == 202
    assert call("POST", "/otp", headers=AUTH | {"Idempotency-Key": "signup-1"}, body=other).status_code == 409
