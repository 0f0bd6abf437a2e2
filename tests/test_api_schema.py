"""The OpenAPI document: valid in itself, and true of the real routes (schemathesis against the Flask app)."""

from __future__ import annotations

import ast
import inspect
import json
import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from jsonschema import Draft4Validator
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.generation.meta import CoverageScenario
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from answer_server import create_app
from answer_server.api import routes as api_module
from answer_server.api import values as api_values
from answer_server.api.openapi import OPENAPI
from answer_server.api.values import ApiError
from tests.conftest import (
    CREATE_CALL_URL,
    callback_path,
    plivo_accepts,
    running_app,
    send,
)
from voice.codes.service import Refused
from voice.routing.loading import parse_routing

KEY = "schema-test-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}
NUMBER = "+14155550123"
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance,
          response_headers_conformance]
OPERATIONS = [("POST", "/otp"), ("POST", "/otp/check"), ("GET", "/otp/{id}"), ("GET", "/schedules/{name}/oncall"),
              ("GET", "/openapi.json")]
AN_ID = "otp_Qm9uam91ciBsZSBtb25kZQ"

# What each route can answer besides success, read off answer_server/api/routes.py and values.py
# (not off the document, which is what this table checks). test_api.py makes each code happen.
_KEY = {401: {"unauthorized", "api_disabled"}}  # require_key; not the public document
_EVERY_ROUTE = {405: {"method_not_allowed"}, 500: {"internal"}}  # json_routing_errors, the errorhandler
_BODY = {400: {"invalid_json", "invalid_request"}, 413: {"too_large"}, 415: {"unsupported_media_type"}}
_FIELDS = {"missing_field", "unknown_field", "invalid_type", "invalid_number", "invalid_code"}
PRODUCED = {
    ("POST", "/otp"): _KEY | _EVERY_ROUTE | _BODY | {
        400: _BODY[400] | {"invalid_header"},  # parse_idempotency_key
        409: {"duplicate_request"},  # otp.request found the Idempotency-Key
        422: _FIELDS | {"invalid_lang", "destination_refused"},  # parse_otp_request, refusal_error
        429: {"rate_limited"},  # refusal_error
    },
    ("POST", "/otp/check"): _KEY | _EVERY_ROUTE | _BODY | {
        404: {"no_code"}, 409: {"expired", "already_verified"}, 429: {"too_many_attempts"},  # check_answer
        422: _FIELDS,  # parse_check_request
    },
    ("GET", "/otp/{id}"): _KEY | _EVERY_ROUTE | {404: {"not_found"}},  # code_status; routing for a non-id
    ("GET", "/schedules/{name}/oncall"): _KEY | _EVERY_ROUTE | {
        400: {"invalid_at", "unknown_parameter"},  # parse_oncall_query
        404: {"not_found", "unknown_schedule"},  # routing for a name with a "/"; unknown_schedule
    },
    ("GET", "/openapi.json"): _EVERY_ROUTE,
}


def test_the_document_is_valid_openapi():
    validate(OPENAPI)


@pytest.fixture
def api_app(settings, plivo_api, fake_slack):
    plivo_accepts(plivo_api)  # every create-call succeeds
    app = running_app(replace(settings, api_keys=(KEY,), otp_audit_channel="C0AUDIT"))
    yield app
    app.extensions["voicebridge"]["close"]()


@pytest.fixture
def api_schema(api_app):
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", api_app)


def test_the_served_document_is_the_one_in_the_code(api_app):
    assert api_app.test_client().get("/api/v1/openapi.json").get_json() == OPENAPI


def test_every_route_under_the_api_is_documented(api_app):
    routes = {(method, re.sub(r"<(\w+:)?name>", "{name}",
                              re.sub(r"<(\w+:)?code_id>", "{id}", rule.rule.removeprefix("/api/v1"))))
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
    def created_calls():
        return [c for c in plivo_api.calls if c.request.url == CREATE_CALL_URL]

    fake_slack.wait_for(lambda: len(created_calls()) >= 2)
    created = created_calls()
    # The worker places the two codes' calls in either order: answer both, as the phone would ring twice.
    dialled = [json.loads(c.request.body) for c in created]
    for n, leg in enumerate(dialled, start=1):
        send(api_schema.app.test_client(), plivo.answer(callback_path(leg["answer_url"]), call_uuid=f"c{n}", to=NUMBER))
    assert status()["status"] == "answered"
    assert call("POST", "/otp/check", body={"to": NUMBER, "code": "111111"}).json() == {"valid": False,
                                                                                        "attempts_left": 4}
    assert call("POST", "/otp/check", body={"to": NUMBER, "code": "483920"}).json()["valid"] is True
    assert call("POST", "/otp/check", body={"to": NUMBER, "code": "483920"}).status_code == 409
    for n, leg in enumerate(dialled, start=1):
        send(api_schema.app.test_client(), plivo.hangup(callback_path(leg["hangup_url"]), call_uuid=f"c{n}", to=NUMBER))
    assert status()["status"] == "answered" and status()["ended"] is True  # no key was pressed
    assert call("POST", "/otp", body=example).status_code == 202
    limited = call("POST", "/otp", body=example)
    assert limited.status_code == 429 and int(limited.headers["retry-after"][0]) > 0
    assert call("POST", "/otp", headers={}, body=example).status_code == 401
    other = {"to": "+14155550124"}
    assert call("POST", "/otp", headers=AUTH | {"Idempotency-Key": "signup-1"}, body=other).status_code == 202
    assert call("POST", "/otp", headers=AUTH | {"Idempotency-Key": "signup-1"}, body=other).status_code == 409


def test_who_is_on_call_answers_as_documented(settings, fake_slack):
    """Random names rarely hit a schedule: this asks one that exists, across a hand-off and an override."""
    routing = parse_routing("""
schedules:
  - {name: backend, time_zone: Europe/Berlin, rotation: [U0ALICE, U0BOB], shift: weekly, handoff: "monday 09:00",
     start: 2026-12-07}
""", {})
    app = create_app(replace(settings, api_keys=(KEY,), routing=routing))  # no workers: nothing to hand off
    try:
        schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)

        def on_call(name: str = "backend", **query):
            case = schema["/schedules/{name}/oncall"]["GET"].Case(path_parameters={"name": name}, query=query)
            return case.call_and_validate(headers=AUTH, checks=CHECKS)

        assert on_call(at="2026-12-07T07:59:59Z").json()["user"] is None  # not started yet
        assert on_call(at="2026-12-07T08:00:00Z").json()["user"] == "U0ALICE"
        assert on_call(at="2026-12-14T08:00:00Z").json()["user"] == "U0BOB"
        assert on_call().status_code == 200
        now = datetime.now(timezone.utc)
        app.extensions["voicebridge"]["services"].schedules.add_override(
            "backend", "U0CAROL", now + timedelta(days=1), now + timedelta(days=2), created_by="U0BOB")
        covered = on_call(at=(now + timedelta(days=1, hours=1)).isoformat()).json()
        assert (covered["user"], covered["override"]) == ("U0CAROL", True)
        assert on_call(at="monday").status_code == 400
        assert on_call(since="2026-12-07T08:00:00Z").status_code == 400
        assert on_call("frontend").status_code == 404
    finally:
        app.extensions["voicebridge"]["close"]()


# Schemathesis' coverage phase also sends each path the methods it does not document
# (DELETE, PATCH, PUT, QUERY, TRACE, …): the unsupported_method check wants 405 with Allow,
# and the other checks hold that 405 to the operation's documented one. OPTIONS is left out:
# Flask answers it itself (automatic OPTIONS), with Allow and an empty 200.
# https://schemathesis.readthedocs.io/en/stable/ (phases: examples, coverage, fuzzing, stateful)
@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_the_coverage_phase_including_undocumented_methods_answers_as_documented(api_schema, method, path):
    operation = api_schema[path][method]
    cases = list(api_schema.iter_coverage_cases(
        operation, generation_modes=list(GenerationMode),
        generation_config=api_schema.config.generation_for(operation=operation)))
    unexpected = [case for case in cases if case.meta.phase.data.scenario == CoverageScenario.UNSPECIFIED_HTTP_METHOD]
    assert {case.method for case in unexpected} >= {"DELETE", "PATCH", "PUT"}
    for case in cases:
        if case.method != "OPTIONS":
            case.call_and_validate(headers=AUTH, checks=[*CHECKS, unsupported_method])


# -- every response says exactly which error codes it carries ---------------------------------


def _resolved(response: dict) -> dict:
    if "$ref" in response:
        return OPENAPI["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    return response


def _code_schema(response: dict) -> dict:
    schema = _resolved(response)["content"]["application/json"]["schema"]
    return schema["properties"]["error"]["properties"]["code"]


def documented_errors() -> dict[tuple[str, str], dict[int, set[str]]]:
    """(METHOD, path) → status → the error.code values the document allows there."""
    return {
        (method.upper(), path): {int(status): set(_code_schema(response)["enum"])
                                 for status, response in operation["responses"].items() if int(status) >= 400}
        for path, item in OPENAPI["paths"].items() for method, operation in item.items()
    }


def test_each_operation_documents_exactly_the_codes_its_route_produces():
    assert documented_errors() == PRODUCED


def test_requesting_a_code_documents_only_its_own_codes():
    errors = documented_errors()[("POST", "/otp")]
    assert errors == {
        400: {"invalid_json", "invalid_request", "invalid_header"},
        401: {"unauthorized", "api_disabled"},
        405: {"method_not_allowed"},
        409: {"duplicate_request"},
        413: {"too_large"},
        415: {"unsupported_media_type"},
        422: {"missing_field", "unknown_field", "invalid_type", "invalid_number", "invalid_code", "invalid_lang",
              "destination_refused"},
        429: {"rate_limited"},
        500: {"internal"},
    }
    # Only a check can meet a code that expired, was verified or ran out of tries.
    assert not set().union(*errors.values()) & {"expired", "already_verified", "too_many_attempts", "no_code"}


def test_each_description_names_the_codes_its_schema_allows():
    for item in OPENAPI["paths"].values():
        for operation in item.values():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    codes = ", ".join(_code_schema(response)["enum"])
                    assert _resolved(response)["description"].endswith(f"(error.code: {codes})")


def test_the_shared_error_schema_is_every_documented_code():
    everything = set().union(*(codes for errors in PRODUCED.values() for codes in errors.values()))
    assert set(OPENAPI["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"]) == (
        everything)


def _errors_written_in(module) -> set[tuple[int, str]]:
    """(status, code) of every ApiError(status, "code", …) and _unauthorized("code", …) in a module."""
    found = set()
    for node in ast.walk(ast.parse(inspect.getsource(module))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            continue
        literal = [arg.value if isinstance(arg, ast.Constant) else None for arg in node.args]
        if node.func.id == "ApiError" and literal[1] is not None:
            assert literal[0] is not None, ast.unparse(node)  # a literal code with a computed status
            found.add((literal[0], literal[1]))
        elif node.func.id == "_unauthorized":
            found.add((401, literal[0]))
    return found


def test_the_table_holds_every_error_the_code_can_make_and_nothing_else():
    written = _errors_written_in(api_module) | _errors_written_in(api_values)
    # The errorhandler names Werkzeug's errors by status, and any other under 500 invalid_request;
    # the one that reaches a route is the 400 of a body the client never sent (ClientDisconnected).
    written |= set(api_module._HTTP_CODES.items()) | {(400, "invalid_request")}
    tabled = {(status, code) for errors in PRODUCED.values() for status, codes in errors.items() for code in codes}
    assert tabled == written


def test_every_operation_documents_405_with_the_allow_header_its_path_answers(api_app):
    client = api_app.test_client()
    for path, item in OPENAPI["paths"].items():
        for operation in item.values():
            response = operation["responses"]["405"]
            assert _code_schema(response)["enum"] == ["method_not_allowed"]
            allow = response["headers"]["Allow"]
            assert allow["required"] is True
            answer = client.delete("/api/v1" + path.replace("{id}", AN_ID).replace("{name}", "backend"))
            assert answer.status_code == 405
            assert allow["schema"]["enum"] == [answer.headers["Allow"]]


ELSEWHERE = [("POST", "/otp", 409, "expired"), ("POST", "/otp", 429, "too_many_attempts"),
             ("POST", "/otp", 409, "already_verified"), ("POST", "/otp/check", 422, "destination_refused"),
             ("POST", "/otp/check", 400, "invalid_header"), ("GET", "/otp/{id}", 404, "no_code"),
             ("GET", "/openapi.json", 500, "unauthorized"), ("GET", "/schedules/{name}/oncall", 404, "no_code"),
             ("POST", "/otp", 400, "invalid_at")]


@pytest.mark.parametrize(("method", "path", "status", "code"), ELSEWHERE)
def test_a_response_schema_refuses_a_code_of_another_route(method, path, status, code):
    response = OPENAPI["paths"][path][method.lower()]["responses"][str(status)]
    validator = Draft4Validator(_resolved(response)["content"]["application/json"]["schema"])
    assert not validator.is_valid({"error": {"code": code, "message": "A sentence."}})
    allowed = _code_schema(response)["enum"][0]
    assert validator.is_valid({"error": {"code": allowed, "message": "A sentence."}})


@pytest.mark.parametrize(("code", "conforms"), [("duplicate_request", True), ("expired", False)])
def test_schemathesis_fails_a_route_that_answers_a_code_it_does_not_document(api_schema, api_app, monkeypatch,
                                                                             code, conforms):
    def refuse(_order):
        raise Refused("destination", "Refused for the test.")

    monkeypatch.setattr(api_app.extensions["voicebridge"]["otp"], "request", refuse)
    monkeypatch.setattr(api_module, "refusal_error", lambda _refused, _now: ApiError(409, code, "A sentence."))
    case = api_schema["/otp"]["POST"].Case(body={"to": NUMBER}, media_type="application/json")
    if conforms:
        assert case.call_and_validate(headers=AUTH, checks=CHECKS).status_code == 409
        return
    with pytest.raises((Failure, FailureGroup)) as refused:
        case.call_and_validate(headers=AUTH, checks=CHECKS)
    assert '"expired" is not one of "duplicate_request"' in str(refused.value)
