"""The HTTP API for apps: ask for a voice code, follow its call, check what the person typed; ask who
is on call for a schedule.

The same OtpService as /voiceotp behind it, so the same limits, refusals and
audit trail apply. Every answer is JSON; errors are {"error": {"code", "message"}}.
A code is accepted in a request body and never leaves again: not in a
response, a log line or a URL.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Callable

from flask import Blueprint, Response, g, jsonify, request
from flask.blueprints import BlueprintSetupState
from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestEntityTooLarge
from werkzeug.routing import BaseConverter, RequestRedirect

from answer_server.api.openapi import CODE_ID_PATTERN, OPENAPI
from answer_server.api.values import (
    MAX_BODY,
    PREFIX,
    ApiError,
    check_answer,
    iso,
    oncall_body,
    parse_check_request,
    parse_idempotency_key,
    parse_oncall_query,
    parse_otp_request,
    refusal_error,
    status_body,
    unknown_schedule,
)
from voice.calls.models import Requester
from voice.codes.service import API, CodeOrder, OtpService, Refused, code_owner
from voice.schedules.service import ScheduleService

log = logging.getLogger(__name__)

# -- keys ----------------------------------------------------------------------


def key_label(key: str) -> str:
    """A short, stable name for a key in limits and reports; the key cannot be read back from it."""
    return hashlib.sha256(key.encode()).hexdigest()[:8]


def matching_key(given: str, keys: tuple[str, ...]) -> str | None:
    # Every key is compared, in constant time each, so the timing says
    # neither which key nor how much of one matched.
    found = None
    for key in keys:
        if hmac.compare_digest(given.encode("utf-8", "replace"), key.encode()):
            found = key
    return found


def authenticate(header: str | None, keys: tuple[str, ...]) -> str | ApiError:
    """The configured key an Authorization header carries, or why it is refused."""
    if not keys:
        return _unauthorized("api_disabled", "The HTTP API is off: no API_KEYS are configured on this server.")
    scheme, _, given = (header or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return _unauthorized("unauthorized", "Send an API key as Authorization: Bearer <key>.")
    key = matching_key(given.strip(), keys)
    return key if key is not None else _unauthorized("unauthorized", "The API key is not valid.")


def _unauthorized(code: str, message: str) -> ApiError:
    return ApiError(401, code, message, (("WWW-Authenticate", "Bearer"),))


def requester_for(key: str, audit_channel: str) -> Requester:
    # The channel is where the reporter posts this key's calls; none means no report.
    return Requester(user_id="api:" + key_label(key), channel_id=audit_channel or "", reply_url=None)


# -- the routes ------------------------------------------------------------------


class CodeIdConverter(BaseConverter):
    """A path segment that is a code id, as the document's pattern says.

    With a plain <code_id>, /otp/check also matched the status route: GET /otp/check reached it
    and DELETE /otp/check answered 405 with that route's GET in Allow. Now a segment not of this
    shape matches no rule under /otp/ but /otp/check's own.
    https://werkzeug.palletsprojects.com/en/stable/routing/#custom-converters
    """

    regex = CODE_ID_PATTERN  # Werkzeug matches a converter's regex against the whole segment


def _add_converter(state: BlueprintSetupState) -> None:
    # A rule is compiled when it is added, so the converter must be known before the routes are.
    state.app.url_map.converters["code_id"] = CodeIdConverter


def api_blueprint(
    otp: OtpService,
    schedules: ScheduleService,
    *,
    api_keys: tuple[str, ...],
    audit_channel: str,
) -> Blueprint:
    bp = Blueprint("api", __name__, url_prefix=PREFIX)
    bp.record_once(_add_converter)  # before the routes: deferred functions run in order

    @bp.before_app_request
    def json_routing_errors():
        # Unknown paths and methods never reach a blueprint's handlers, so the
        # app would answer them in plain text; under the API prefix, answer JSON.
        failure = request.routing_exception
        if failure is None or isinstance(failure, RequestRedirect) or not _is_api_path(request.path):
            return None
        if isinstance(failure, MethodNotAllowed):
            allowed = sorted(failure.valid_methods or ())
            useful = ", ".join(m for m in allowed if m not in ("HEAD", "OPTIONS"))
            return error_response(ApiError(405, "method_not_allowed", f"Use {useful} here.",
                                           (("Allow", ", ".join(allowed)),)))
        return error_response(ApiError(404, "not_found", "There is no such API path. See /api/v1/openapi.json."))

    @bp.before_request
    def bound_body():
        # The API's bodies are small JSON documents: a tighter cap than the server's, by the same
        # mechanism (Werkzeug's, answered 413 before the body is read when its length says so).
        request.max_content_length = MAX_BODY

    @bp.before_request
    def require_key():
        if request.endpoint == "api.openapi":
            return None  # the description is public
        key = authenticate(request.headers.get("Authorization"), api_keys)
        if isinstance(key, ApiError):
            return error_response(key)
        g.api_requester = requester_for(key, audit_channel)
        return None

    @bp.get("/openapi.json")
    def openapi():
        """The OpenAPI description of this API."""
        return _json(OPENAPI, 200)

    @bp.post("/otp")
    def request_code():
        """Store a code for the number and call it; the call is placed after the answer."""
        parsed = _read_body(parse_otp_request)
        if isinstance(parsed, ApiError):
            return error_response(parsed)
        requester: Requester = g.api_requester
        request_id = parse_idempotency_key(request.headers.get("Idempotency-Key"),
                                           requester.user_id.removeprefix("api:"))
        if isinstance(request_id, ApiError):
            return error_response(request_id)
        order = CodeOrder(number=parsed.number, requester=requester, source=API, code=parsed.code,
                          language=parsed.language, request_id=request_id)
        try:
            opened = otp.request(order)
        except Refused as refused:
            return error_response(refusal_error(refused, otp.clock()))
        if opened is None:
            return error_response(ApiError(409, "duplicate_request",
                                           "A request with this Idempotency-Key was already accepted."))
        # Stored with the work of placing and reporting the call: it is placed after this answer.
        code, _ = opened
        log.info("API code %s requested by key %s", code.id, requester.user_id)
        response = _json({"id": code.id, "status": "queued", "expires_at": iso(code.expires_at)}, 202)
        response.headers["Location"] = f"{PREFIX}/otp/{code.id}"
        return response

    @bp.post("/otp/check")
    def check_code():
        """Check the code the person typed back; a wrong one spends a try."""
        parsed = _read_body(parse_check_request)
        if isinstance(parsed, ApiError):
            return error_response(parsed)
        # The key's own code: another key's code for the number is "no code" to it, costs it no try.
        answer = check_answer(otp.check(parsed.number, parsed.code, code_owner(g.api_requester, API)))
        return error_response(answer) if isinstance(answer, ApiError) else _json(answer, 200)

    @bp.get("/otp/<code_id:code_id>")
    def code_status(code_id: str):
        """Where the call is and whether the code was verified; only for the key that asked."""
        found = otp.get(code_id)
        # Another key's code is "not found", so ids say nothing across keys.
        if found is None or found[0].requester_id != g.api_requester.user_id:
            return error_response(ApiError(404, "not_found", "No code with this id was requested with this key."))
        code, call = found
        return _json(status_body(code, call, otp.clock()), 200)

    @bp.get("/schedules/<name>/oncall")
    def oncall(name: str):
        """Who is on call for the schedule at `at` (now), overrides applied; `user` null for nobody."""
        at = parse_oncall_query(request.args.to_dict(flat=False), schedules.clock())
        if isinstance(at, ApiError):
            return error_response(at)
        segment = schedules.on_call(name, at)
        if segment is None:
            return error_response(unknown_schedule(name, [known.name for known in schedules.listed()]))
        return _json(oncall_body(name, at, segment), 200)

    @bp.errorhandler(Exception)
    def unexpected(error: Exception):
        if isinstance(error, HTTPException) and error.code and error.code < 500:
            return error_response(ApiError(error.code, _HTTP_CODES.get(error.code, "invalid_request"),
                                           "The request could not be read."))
        # The path's rule, not the URL: the URL is fine, but keep the log to what we chose to write.
        log.exception("API request failed on %s %s", request.method, request.url_rule)
        return error_response(ApiError(500, "internal", "Something went wrong on our side. Please try again."))

    return bp


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "too_large", 415: "unsupported_media_type"}


def _read_body(parse: Callable[[object], object]):
    """The request's JSON body through `parse`, or why it cannot be read."""
    if request.mimetype != "application/json":
        return ApiError(415, "unsupported_media_type", "Send the body as JSON with Content-Type: application/json.")
    try:
        raw = request.get_data(cache=False)
    except RequestEntityTooLarge:
        return ApiError(413, "too_large", f"The body must be at most {MAX_BODY} bytes.")
    try:
        body = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except (ValueError, RecursionError):  # bad UTF-8 or JSON, NaN, or absurd nesting
        return ApiError(400, "invalid_json", "The body is not valid JSON.")
    return parse(body)


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _is_api_path(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def error_response(error: ApiError) -> Response:
    response = _json({"error": {"code": error.code, "message": error.message}}, error.status)
    for name, value in error.headers:
        response.headers[name] = value
    return response


def _json(body: dict, status: int) -> Response:
    response = jsonify(body)
    response.status_code = status
    # Verification state changes from one second to the next; no cache may keep it.
    response.headers["Cache-Control"] = "no-store"
    return response
