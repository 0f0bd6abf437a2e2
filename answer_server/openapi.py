"""The OpenAPI 3.0 description of the HTTP API, served at /api/v1/openapi.json.

Written by hand next to answer_server/api.py; tests/test_api_schema.py runs
schemathesis with it against the real routes, so the two cannot drift apart.
"""

from __future__ import annotations

E164 = "+14155550123"
_CODE_ID = {"type": "string", "pattern": "^otp_[A-Za-z0-9_-]{16,40}$", "example": "otp_Qm9uam91ciBsZSBtb25kZQ"}
_TIME = {"type": "string", "format": "date-time", "description": "UTC, ISO 8601, e.g. 2026-11-29T10:10:00Z"}

#: Every error code, by the status that carries it.
ERROR_CODES = {
    400: ("invalid_json", "invalid_header", "invalid_request"),
    401: ("unauthorized", "api_disabled"),
    404: ("not_found", "no_code"),
    405: ("method_not_allowed",),
    409: ("duplicate_request", "expired", "already_verified"),
    413: ("too_large",),
    415: ("unsupported_media_type",),
    422: ("missing_field", "unknown_field", "invalid_type", "invalid_number", "invalid_code", "invalid_lang",
          "destination_refused"),
    429: ("rate_limited", "too_many_attempts"),
    500: ("internal",),
}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/responses/{name}"}


def _error(description: str, status: int, headers: dict | None = None) -> dict:
    codes = ", ".join(ERROR_CODES[status])
    response = {
        "description": f"{description} (error.code: {codes})",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    if headers:
        response["headers"] = headers
    return response


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


_BODY_ERRORS = {"400": _ref("BadJson"), "413": _ref("TooLarge"), "415": _ref("NotJson"), "422": _ref("Invalid")}
_COMMON = {"401": _ref("Unauthorized"), "500": _ref("Internal")}

_REQUEST_CODE = {
    "operationId": "requestCode",
    "summary": "Call a number and read it a code",
    "description": (
        "Stores a code for the number (a new one replaces a live one) and places the call after answering. "
        "The code is never returned: send your own in `code`, or let the server generate one and ask the "
        "person to type back what they heard. The same destination rules and rate limits apply as in Slack. "
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
                "Location": {"description": "The code's status URL.", "schema": {"type": "string"}},
            }),
            "links": {"GetCode": {"operationId": "getCode", "parameters": {"id": "$response.body#/id"}}},
        },
        **_BODY_ERRORS,
        "400": _error("Not a JSON object, or a bad Idempotency-Key", 400),
        "409": _error("This Idempotency-Key was used before", 409),
        "422": _error("A field is missing, unknown or invalid, or the destination is refused by policy", 422),
        "429": _error("A rate limit is reached; Retry-After says when the next call is possible", 429, {
            "Retry-After": {"description": "Seconds until the next call is possible.",
                            "schema": {"type": "integer", "minimum": 1}},
        }),
        **_COMMON,
    },
}

_CHECK_CODE = {
    "operationId": "checkCode",
    "summary": "Check the code the person typed back",
    "description": (
        "Checks the live code for the number. A wrong code spends one of its tries; when none are left "
        "the code is dead (429 too_many_attempts). A verified code cannot be checked again."
    ),
    "requestBody": _body("CheckRequest", {"to": E164, "code": "123456"}),
    "responses": {
        "200": _ok("Checked: valid or not, and the tries left.", "CheckResult"),
        **_BODY_ERRORS,
        "404": _error("No code was requested for this number", 404),
        "409": _error("The code expired or was already verified", 409),
        "429": _error("No tries are left: the code is dead", 429),
        **_COMMON,
    },
}

_GET_CODE = {
    "operationId": "getCode",
    "summary": "The call's status and the code's verification",
    "description": "Only the API key that requested the code can read it; for any other key it is 404.",
    "parameters": [{"name": "id", "in": "path", "required": True, "schema": _CODE_ID}],
    "responses": {
        "200": _ok("The code and its call.", "CodeStatus"),
        "404": _error("No such code for this key", 404),
        **_COMMON,
    },
}

_GET_OPENAPI = {
    "operationId": "getOpenApi",
    "summary": "This document",
    "security": [],
    "responses": {"200": {"description": "The OpenAPI description.",
                          "content": {"application/json": {"schema": {"type": "object"}}}}},
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
                "description": "live: can be checked; dead: out of tries; replaced: a newer code was requested.",
            },
            "attempts_left": {"type": "integer", "minimum": 0, "description": "0 unless the code is live."},
            "expires_at": _TIME,
            "duration": {"type": "integer", "nullable": True, "description": "Seconds, once an answered call ended."},
            "cost": {"type": "string", "nullable": True, "description": "USD as Plivo reports it, e.g. 0.00850."},
        },
    },
    "Error": {
        "type": "object",
        "additionalProperties": False,
        "required": ["error"],
        "properties": {"error": {
            "type": "object",
            "additionalProperties": False,
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "enum": sorted({code for codes in ERROR_CODES.values() for code in codes})},
                "message": {"type": "string", "description": "For a person; never contains a code."},
            },
        }},
    },
}

_RESPONSES = {
    "BadJson": _error("The body is not JSON, or not a JSON object", 400),
    "TooLarge": _error("The body is larger than 4096 bytes", 413),
    "NotJson": _error("The Content-Type is not application/json", 415),
    "Invalid": _error("A field is missing, unknown or invalid", 422),
    "Unauthorized": _error("No valid API key; also when the API is off (no API_KEYS)", 401, {
        "WWW-Authenticate": {"schema": {"type": "string", "enum": ["Bearer"]}},
    }),
    "Internal": _error("Something went wrong on the server", 500),
}

OPENAPI = {
    "openapi": "3.0.3",
    "info": {
        "title": "VoiceBridge voice codes",
        "version": "1.0.0",
        "description": (
            "Verify a phone number by calling it and reading a one-time code. Every call placed through the "
            "API is reported, with the number masked, in the audit channel when OTP_AUDIT_CHANNEL is set."
        ),
    },
    "servers": [{"url": "/api/v1"}],
    "security": [{"bearerAuth": []}],
    "paths": {
        "/otp": {"post": _REQUEST_CODE},
        "/otp/check": {"post": _CHECK_CODE},
        "/otp/{id}": {"get": _GET_CODE},
        "/openapi.json": {"get": _GET_OPENAPI},
    },
    "components": {
        "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                           "description": "One of the server's API_KEYS."}},
        "schemas": _SCHEMAS,
        "responses": _RESPONSES,
    },
}
