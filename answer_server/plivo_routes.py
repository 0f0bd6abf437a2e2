"""Plivo's webhooks for voice codes: answer (the voicemail guard or the code),
key presses, machine detection, ring and hangup.

Each is signed by Plivo; answer_server/plivo_requests.py checks that first.
"""

from __future__ import annotations

import logging

from flask import Blueprint

from answer_server.plivo_requests import (
    add_progress_routes,
    call_uuid_of,
    digits_of,
    params,
    require_plivo_signature,
    says_machine,
    valid_token,
    xml_response,
)
from answer_server.plivo_xml import code_document, empty_document, goodbye_document, key_gate_document
from voice.calls import CallService

log = logging.getLogger(__name__)


def plivo_blueprint(calls: CallService, *, auth_token: str, public_url: str) -> Blueprint:
    bp = Blueprint("plivo", __name__, url_prefix="/plivo")
    require_plivo_signature(bp, auth_token=auth_token, public_url=public_url)

    @bp.route("/answer/<token>", methods=["GET", "POST"])
    def answer(token: str):
        """The voicemail guard (press a key), or the code itself when the guard is off."""
        call_uuid = call_uuid_of(params())
        if not valid_token(token) or not call_uuid:
            return xml_response(goodbye_document())
        try:
            answer = calls.answer(token, call_uuid)
        except Exception:
            log.exception("answering a call failed")
            return xml_response(goodbye_document(key="try_later"))
        if answer is None:
            return xml_response(goodbye_document())
        speech = calls.speech_for(answer.call)
        if calls.config.voicemail_guard:
            return xml_response(key_gate_document(speech, calls.urls(token).key))
        return xml_response(code_document(answer.code, speech, calls.urls(token).key, intro=True))

    @bp.route("/key/<token>", methods=["GET", "POST"])
    def key(token: str):
        """A key press (GetDigits action): read the code, or say goodbye."""
        fields = params()
        call_uuid, digits = call_uuid_of(fields), digits_of(fields) or ""
        if not valid_token(token) or not call_uuid:
            return xml_response(goodbye_document())
        try:
            answer = calls.key_pressed(token, call_uuid, digits)
        except Exception:
            log.exception("serving a key press failed")
            return xml_response(goodbye_document(key="try_later"))
        call = answer.call if answer else calls.get(token)
        speech = calls.speech_for(call)
        if answer is None:
            finished = call is None or call.ended or call.code_read_at is None
            return xml_response(goodbye_document(speech, "not_valid" if finished else "goodbye"))
        return xml_response(code_document(answer.code, speech, calls.urls(token).key))

    @bp.route("/machine/<token>", methods=["GET", "POST"])
    def machine(token: str):
        """Plivo's asynchronous machine detection: a machine never hears the code."""
        fields = params()
        call_uuid = call_uuid_of(fields)
        if valid_token(token) and call_uuid and says_machine(fields):
            calls.machine_detected(token, call_uuid)
        return xml_response(empty_document())

    add_progress_routes(bp, calls)
    return bp
