"""Plivo's webhooks: answer (serves the call script), key presses, machine
detection, ring and hangup.

Every request is checked against X-Plivo-Signature-V3 before anything is read
or written, over the URL as Plivo called it: PUBLIC_URL + path + query, not
the Host header a proxy or tunnel may rewrite.
"""

from __future__ import annotations

import logging
import re

from flask import Blueprint, Response, request

from answer_server.plivo_xml import code_document, empty_document, goodbye_document, key_gate_document
from voice.calls import CallService
from voice.models import HangupReport
from voice.signature import is_valid_signature

log = logging.getLogger(__name__)

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def plivo_blueprint(calls: CallService, *, auth_token: str, public_url: str) -> Blueprint:
    bp = Blueprint("plivo", __name__, url_prefix="/plivo")

    @bp.before_request
    def verify_signature():
        if not _signed_by_plivo(auth_token, public_url):
            log.warning("refused an unsigned or forged request to %s", request.path.rsplit("/", 1)[0])
            return Response("invalid signature\n", status=403, mimetype="text/plain")
        return None

    @bp.route("/answer/<token>", methods=["GET", "POST"])
    def answer(token: str):
        """The voicemail guard (press a key), or the code itself when the guard is off."""
        call_uuid = _params().get("CallUUID", "")
        if not _TOKEN.match(token) or not call_uuid:
            return _xml(goodbye_document())
        try:
            answer = calls.answer(token, call_uuid)
        except Exception:
            log.exception("answering a call failed")
            return _xml(goodbye_document(key="try_later"))
        if answer is None:
            return _xml(goodbye_document())
        speech = calls.speech_for(answer.call)
        if calls.config.voicemail_guard:
            return _xml(key_gate_document(speech, calls.urls(token).key))
        return _xml(code_document(answer.code, speech, calls.urls(token).key, intro=True))

    @bp.route("/key/<token>", methods=["GET", "POST"])
    def key(token: str):
        """A key press (GetDigits action): read the code, or say goodbye."""
        params = _params()
        call_uuid, digits = params.get("CallUUID", ""), params.get("Digits", "")
        if not _TOKEN.match(token) or not call_uuid:
            return _xml(goodbye_document())
        try:
            answer = calls.key_pressed(token, call_uuid, digits)
        except Exception:
            log.exception("serving a key press failed")
            return _xml(goodbye_document(key="try_later"))
        call = answer.call if answer else calls.get(token)
        speech = calls.speech_for(call)
        if answer is None:
            finished = call is None or call.ended or call.code_read_at is None
            return _xml(goodbye_document(speech, "not_valid" if finished else "goodbye"))
        return _xml(code_document(answer.code, speech, calls.urls(token).key))

    @bp.route("/machine/<token>", methods=["GET", "POST"])
    def machine(token: str):
        """Plivo's asynchronous machine detection: a machine never hears the code."""
        if _TOKEN.match(token) and _params().get("Machine", "").lower() == "true":
            calls.machine_detected(token)
        return _xml(empty_document())

    @bp.route("/ring/<token>", methods=["GET", "POST"])
    def ring(token: str):
        call_uuid = _params().get("CallUUID", "")
        if _TOKEN.match(token) and call_uuid:
            calls.ringing(token, call_uuid)
        return _xml(empty_document())

    @bp.route("/hangup/<token>", methods=["GET", "POST"])
    def hangup(token: str):
        """Record the outcome once; a retried delivery changes nothing."""
        report = parse_hangup(_params())
        if _TOKEN.match(token) and report:
            calls.hangup(token, report)
        # 200 even for unknown calls, so Plivo does not retry them over and over.
        return _xml(empty_document())

    return bp


def parse_hangup(params: dict[str, str]) -> HangupReport | None:
    """The fields we use from Plivo's hangup callback; None without a call UUID."""
    call_uuid = params.get("CallUUID", "")
    if not call_uuid:
        return None
    return HangupReport(
        call_uuid=call_uuid,
        call_status=params.get("CallStatus", ""),
        cause_code=_int(params.get("HangupCauseCode")),
        cause_name=params.get("HangupCauseName") or params.get("HangupCause"),
        duration=_int(params.get("Duration")),
        total_cost=params.get("TotalCost") or None,
    )


def _signed_by_plivo(auth_token: str, public_url: str) -> bool:
    url = public_url.rstrip("/") + request.path
    if request.query_string:
        url += "?" + request.query_string.decode("utf-8", "replace")
    params = request.form.to_dict(flat=False) if request.method == "POST" else {}
    nonce = request.headers.get("X-Plivo-Signature-V3-Nonce")
    return any(
        is_valid_signature(auth_token, request.method, url, params, nonce, request.headers.get(header))
        # The main-account signature also counts when a subaccount owns the call.
        for header in ("X-Plivo-Signature-V3", "X-Plivo-Signature-Ma-V3")
    )


def _params() -> dict[str, str]:
    source = request.form if request.method == "POST" else request.args
    return source.to_dict(flat=True)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def _xml(document: bytes) -> Response:
    response = Response(document, status=200, mimetype="text/xml")
    # The answer document may hold a code: no cache may keep it.
    response.headers["Cache-Control"] = "no-store"
    return response
