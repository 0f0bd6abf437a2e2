"""The OpenAPI 3.0 description of the HTTP API, served at /api/v1/openapi.json.

Written by hand next to answer_server/api/routes.py; tests/test_api_schema.py runs
schemathesis with it against the real routes, so the two cannot drift apart.
"""

from __future__ import annotations

E164 = "+14155550123"
#: A code id as voice/codes/store.py makes it ("otp_" and 24 URL-safe characters), with room to
#: change the length. answer_server/api/routes.py routes only this shape to GET /otp/{id}, so the
#: document's pattern and the router cannot disagree about what an id is.
CODE_ID_PATTERN = r"otp_[A-Za-z0-9_-]{16,40}"
_CODE_ID = {"type": "string", "pattern": f"^{CODE_ID_PATTERN}$", "example": "otp_Qm9uam91ciBsZSBtb25kZQ"}
_TIME = {"type": "string", "format": "date-time", "description": "UTC, ISO 8601, e.g. 2026-11-29T10:10:00Z"}

# -- errors ----------------------------------------------------------------------
#
# Each response lists the error.code values that its route can answer with its status, and
# no others, read off answer_server/api/routes.py and answer_server/api/values.py. The schema of
# each error response carries them as an enum, so schemathesis' response_schema_conformance
# refuses a route that answers a code its operation does not document.
# tests/test_api_schema.py holds its own table of what the code produces and compares.

#: require_key, on every route but this document.
_UNAUTHORIZED = ("unauthorized", "api_disabled")
#: The blueprint's errorhandler, for any failure in a route.
_INTERNAL = ("internal",)
#: _read_body and _fields: not JSON, or not an object; invalid_request when Werkzeug cannot
#: read the body at all (the client went away before sending it, ClientDisconnected).
_BODY_400 = ("invalid_json", "invalid_request")
#: _fields, _number and _code, shared by both bodies.
_FIELD_422 = ("missing_field", "unknown_field", "invalid_type", "invalid_number", "invalid_code")

# The Allow header of a 405, as json_routing_errors sends it: Werkzeug's MethodNotAllowed
# lists the methods of the rules matching the path, and Flask adds OPTIONS to every rule
# and HEAD to a GET rule. RFC 9110 requires Allow on a 405.
# https://werkzeug.palletsprojects.com/en/stable/routing/#werkzeug.routing.MapAdapter.match
# https://flask.palletsprojects.com/en/stable/api/#flask.Flask.add_url_rule
# https://www.rfc-editor.org/rfc/rfc9110#name-405-method-not-allowed
_ALLOW_POST = "OPTIONS, POST"
_ALLOW_GET = "GET, HEAD, OPTIONS"

_MESSAGE = {"type": "string", "description": "For a person; never contains a code."}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/responses/{name}"}


def _error_schema(codes: tuple[str, ...]) -> dict:
    """The error body, with error.code limited to `codes`.

    additionalProperties is false at both levels, so nothing else can hide in an error either.
    https://spec.openapis.org/oas/v3.0.3#schema-object
    """
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["error"],
        "properties": {"error": {
            "type": "object",
            "additionalProperties": False,
            "required": ["code", "message"],
            "properties": {"code": {"type": "string", "enum": list(codes)}, "message": _MESSAGE},
        }},
    }


def _error(description: str, codes: tuple[str, ...], headers: dict | None = None) -> dict:
    """An error response that says, in its text and in its schema, which codes it carries."""
    response = {
        "description": f"{description} (error.code: {', '.join(codes)})",
        "content": {"application/json": {"schema": _error_schema(codes)}},
    }
    if headers:
        response["headers"] = headers
    return response


def _not_allowed(allow: str) -> dict:
    """405 for an operation. OpenAPI describes responses per operation, not per path, so the
    answer to the methods a path does not have is written on each operation of that path.
    https://spec.openapis.org/oas/v3.0.3#responses-object
    """
    return _error(
        f"Any method this path does not have (it has {allow}); answered before the API key is read",
        ("method_not_allowed",),
        {"Allow": {"description": "The methods this path has.", "required": True,
                   "schema": {"type": "string", "enum": [allow]}}},
    )


def _body(schema: str, example: dict) -> dict:
    return {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}, "example": example}},
    }


def _ok(description: str, schema: str, headers: dict | None = None) -> dict:
    response = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }
    if headers:
        response["headers"] = headers
    return response


#: What reading any JSON body can answer besides 400 and 422, which differ by route.
_BODY_ERRORS = {"413": _ref("TooLarge"), "415": _ref("NotJson")}
_COMMON = {"401": _ref("Unauthorized"), "500": _ref("Internal")}

_REQUEST_CODE = {
    "operationId": "requestCode",
    "summary": "Call a number and read it a code",
    "description": (
        "Stores a code for the number (a new one replaces the live one this API key asked for; another key's "
        "code is left alone) and places the call after answering. "
        "The code is never returned: send your own in `code`, or let the server generate one and ask the "
        "person to type back what they heard. The same destination rules and rate limits apply as in Slack; "
        "a number's limits count the calls every key asked for. "
        "A repeated Idempotency-Key (per API key) is refused with 409 and places no call."
    ),
    "parameters": [{
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "description": "Any 1 to 100 printable ASCII characters; a retry with the same key places no second call.",
        "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,100}$"},
    }],
    "requestBody": _body("CodeRequest", {"to": E164, "lang": "es"}),
    "responses": {
        "202": {
            **_ok("Accepted: the call is being placed.", "CodeAccepted", {
                "Location": {"description": "The code's status URL.", "required": True, "schema": {"type": "string"}},
            }),
            "links": {"GetCode": {"operationId": "getCode", "parameters": {"id": "$response.body#/id"}}},
        },
        "400": _error("The body is not JSON or not a JSON object, or could not be read; or a bad Idempotency-Key",
                      (*_BODY_400, "invalid_header")),
        "405": _not_allowed(_ALLOW_POST),
        "409": _error("This Idempotency-Key was used before", ("duplicate_request",)),
        **_BODY_ERRORS,
        "422": _error("A field is missing, unknown or invalid, or the destination is refused by policy",
                      (*_FIELD_422, "invalid_lang", "destination_refused")),
        "429": _error("A rate limit is reached; Retry-After says when the next call is possible", ("rate_limited",), {
            "Retry-After": {"description": "Seconds until the next call is possible.", "required": True,
                            "schema": {"type": "integer", "minimum": 1}},
        }),
        **_COMMON,
    },
}

_CHECK_CODE = {
    "operationId": "checkCode",
    "summary": "Check the code the person typed back",
    "description": (
        "Checks the live code this API key asked for, for the number: a code belongs to the key that asked "
        "for it, and another key's code for the same number is not seen (404 no_code) and loses no try. "
        "A wrong code spends one of its tries; when none are left the code is dead (429 too_many_attempts). "
        "A verified code cannot be checked again."
    ),
    "requestBody": _body("CheckRequest", {"to": E164, "code": "123456"}),
    "responses": {
        "200": _ok("Checked: valid or not, and the tries left.", "CheckResult"),
        "400": _error("The body is not JSON or not a JSON object, or could not be read", _BODY_400),
        "404": _error("No code was requested for this number with this key", ("no_code",)),
        "405": _not_allowed(_ALLOW_POST),
        "409": _error("The code expired or was already verified", ("expired", "already_verified")),
        **_BODY_ERRORS,
        "422": _error("A field is missing, unknown or invalid", _FIELD_422),
        "429": _error("No tries are left: the code is dead", ("too_many_attempts",)),
        **_COMMON,
    },
}

_GET_CODE = {
    "operationId": "getCode",
    "summary": "The call's status and the code's verification",
    "description": (
        "Only the API key that requested the code can read it; for any other key it is 404. An id not of "
        "this shape is not routed here at all: it is 404 before the key is read, and /otp/check is its own path."
    ),
    "parameters": [{"name": "id", "in": "path", "required": True, "schema": _CODE_ID}],
    "responses": {
        "200": _ok("The code and its call.", "CodeStatus"),
        "404": _error("No such code for this key, or not an id", ("not_found",)),
        "405": _not_allowed(_ALLOW_GET),
        **_COMMON,
    },
}

#: A schedule's name, as the routing file and Slack's form allow it (voice/routing/schedules.py).
_SCHEDULE_NAME = {"type": "string", "pattern": "^[a-z0-9-]{1,40}$", "example": "backend"}

_GET_ONCALL = {
    "operationId": "getOnCall",
    "summary": "Who is on call for a schedule",
    "description": (
        "Who is on call at `at` (now when it is not given), computed from the schedule's rotation with its "
        "overrides applied (the later added wins where two overlap) and deactivated people passed over; "
        "`user` is null when nobody is (the rotation has not started, or nobody in it can be on call). "
        "`shift_start` and `shift_end` bound the stretch of time that person is on call in: their shift, or "
        "the part of it an override leaves them, or the override's, looked for up to a whole cycle of the rotation (at least a day, at most 120 days) either "
        "side of `at`. Every schedule is answered, the routing file's and those made in Slack."
    ),
    "parameters": [
        {"name": "name", "in": "path", "required": True, "schema": _SCHEDULE_NAME},
        {"name": "at", "in": "query", "required": False,
         "description": "ISO 8601 with an offset (Z or +01:00, written %2B01:00 in a URL), within 100 years "
                        "of now.",
         "schema": {"type": "string", "format": "date-time", "example": "2026-12-07T09:00:00Z"}},
    ],
    "responses": {
        "200": _ok("Who is on call then.", "OnCall"),
        "400": _error("at is not an ISO 8601 time with an offset, or too far off; or a query parameter "
                      "other than at", ("invalid_at", "unknown_parameter")),
        "404": _error("No schedule has this name, or the path is not one of this API's",
                      ("not_found", "unknown_schedule")),
        "405": _not_allowed(_ALLOW_GET),
        **_COMMON,
    },
}

_GET_OPENAPI = {
    "operationId": "getOpenApi",
    "summary": "This document",
    "security": [],
    "responses": {
        "200": {"description": "The OpenAPI description.",
                "content": {"application/json": {"schema": {"type": "object"}}}},
        # Public, so never 401; the blueprint's errorhandler covers it as it covers every route.
        "405": _not_allowed(_ALLOW_GET),
        "500": _ref("Internal"),
    },
}

_SCHEMAS = {
    "CodeRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["to"],
        "properties": {
            "to": {"type": "string", "description": "The number to call, with + and country code.",
                   "example": E164},
            "code": {"type": "string", "nullable": True, "pattern": "^[0-9]{4,10}$",
                     "description": "Your code, 4 to 10 digits; omit it (or null) to have one generated."},
            "lang": {"type": "string", "nullable": True, "example": "es",
                     "description": "The language of the call: en, es, fr, de, pt, it or hi, optionally with "
                                    "a region (es-MX). Default: the number's country's."},
        },
    },
    "CheckRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["to", "code"],
        "properties": {
            "to": {"type": "string", "example": E164},
            "code": {"type": "string", "pattern": "^[0-9]{4,10}$", "description": "What the person typed."},
        },
    },
    "CodeAccepted": {
        "type": "object",
        "additionalProperties": False,
        "required": ["id", "status", "expires_at"],
        "properties": {"id": _CODE_ID, "status": {"type": "string", "enum": ["queued"]}, "expires_at": _TIME},
    },
    "CheckResult": {
        "type": "object",
        "additionalProperties": False,
        "required": ["valid", "attempts_left"],
        "properties": {"valid": {"type": "boolean"}, "attempts_left": {"type": "integer", "minimum": 0}},
    },
    "CodeStatus": {
        "type": "object",
        "additionalProperties": False,
        "required": ["id", "to", "status", "ended", "code_read", "verified", "verification", "attempts_left",
                     "expires_at", "duration", "cost"],
        "properties": {
            "id": _CODE_ID,
            "to": {"type": "string", "description": "E.164", "example": E164},
            "status": {
                "type": "string",
                "enum": ["queued", "calling", "ringing", "answered", "completed", "busy", "no_answer", "failed",
                         "cancelled", "voicemail"],
                "description": (
                    "While the call lasts: queued, calling, ringing, answered. Once it ended: completed (the "
                    "code was read), answered (picked up, but no key was pressed so the code was not read), "
                    "busy, no_answer, failed, cancelled or voicemail (never read to a machine)."
                ),
            },
            "ended": {"type": "boolean", "description": "Whether the call is over; status no longer changes."},
            "code_read": {"type": "boolean", "description": "Whether the code was spoken to the callee."},
            "verified": {"type": "boolean"},
            "verification": {
                "type": "string",
                "enum": ["live", "verified", "dead", "expired", "replaced"],
                "description": "live: can be checked; dead: out of tries; replaced: a newer code was requested with this key.",
            },
            "attempts_left": {"type": "integer", "minimum": 0, "description": "0 unless the code is live."},
            "expires_at": _TIME,
            "duration": {"type": "integer", "nullable": True, "description": "Seconds, once an answered call ended."},
            "cost": {"type": "string", "nullable": True, "description": "USD as Plivo reports it, e.g. 0.00850."},
        },
    },
    "OnCall": {
        "type": "object",
        "additionalProperties": False,
        "required": ["schedule", "at", "user", "override", "shift_start", "shift_end"],
        "properties": {
            "schedule": {"type": "string", "example": "backend"},
            "at": {**_TIME, "description": "The moment asked about, UTC."},
            "user": {"type": "string", "nullable": True, "example": "U0ALICE",
                     "description": "The Slack user ID of who is on call; null: nobody is."},
            "override": {"type": "boolean", "description": "Whether an override put them on call."},
            "shift_start": {**_TIME, "description": "Since when they are on call (UTC)."},
            "shift_end": {**_TIME, "description": "Until when (UTC), as the schedule and its overrides are now."},
        },
    },
}

_RESPONSES = {
    "TooLarge": _error("The body is larger than 4096 bytes", ("too_large",)),
    "NotJson": _error("The Content-Type is not application/json", ("unsupported_media_type",)),
    "Unauthorized": _error("No valid API key; also when the API is off (no API_KEYS)", _UNAUTHORIZED, {
        "WWW-Authenticate": {"required": True, "schema": {"type": "string", "enum": ["Bearer"]}},
    }),
    "Internal": _error("Something went wrong on the server", _INTERNAL),
}

_PATHS = {
    "/otp": {"post": _REQUEST_CODE},
    "/otp/check": {"post": _CHECK_CODE},
    "/otp/{id}": {"get": _GET_CODE},
    "/schedules/{name}/oncall": {"get": _GET_ONCALL},
    "/openapi.json": {"get": _GET_OPENAPI},
}


def _codes_in(paths: dict, responses: dict) -> list[str]:
    """Every error.code the operations document, in one sorted list."""
    found = set()
    for item in paths.values():
        for operation in item.values():
            for response in operation["responses"].values():
                if "$ref" in response:
                    response = responses[response["$ref"].rsplit("/", 1)[1]]
                schema = response.get("content", {}).get("application/json", {}).get("schema", {})
                found.update(schema.get("properties", {}).get("error", {}).get("properties", {})
                             .get("code", {}).get("enum", ()))
    return sorted(found)


#: Any error this API answers, for a client that wants one type for all of them; each response
#: above narrows it to its own codes.
_SCHEMAS["Error"] = _error_schema(tuple(_codes_in(_PATHS, _RESPONSES)))

OPENAPI = {
    "openapi": "3.0.3",
    "info": {
        "title": "VoiceBridge voice codes and on-call",
        "version": "1.1.0",
        "description": (
            "Verify a phone number by calling it and reading a one-time code; ask who is on call for a "
            "schedule. Every call placed through the "
            "API is reported, with the number masked, in the audit channel when OTP_AUDIT_CHANNEL is set. "
            "Errors are JSON, and each response below lists every error.code it can carry. A method a path "
            "does not have answers 405 method_not_allowed with Allow, and a path not below answers 404 "
            "not_found; both before the API key is read."
        ),
    },
    "servers": [{"url": "/api/v1"}],
    "security": [{"bearerAuth": []}],
    "paths": _PATHS,
    "components": {
        "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                           "description": "One of the server's API_KEYS."}},
        "schemas": _SCHEMAS,
        "responses": _RESPONSES,
    },
}
